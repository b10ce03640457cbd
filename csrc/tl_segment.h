/*
 * tl_segment.h: immutable, paged segments of L0 (flushed memruns, may overlap
 * each other) and L1 (compaction output: each inside one time window, and no
 * two L1 segments overlap).
 *
 * A segment is a shared record block plus its page index (fence keys), its
 * bounds, the watermark below which deletes are already applied, and for L1
 * the window it lives in.
 */
#ifndef TL_SEGMENT_H
#define TL_SEGMENT_H

#include "tl_page.h"
#include "tl_window.h"

enum { TL_LEVEL_L0 = 0, TL_LEVEL_L1 = 1 };

typedef struct tl_segment {
    tl_refcnt_t refs;
    int level;
    tl_recs_t *recs; /* sorted, n >= 1 */
    tl_pages_t pages;
    tl_seq_t wm;
    tl_ts_t min, max;
    tl_window_t window; /* L1 only: the window holding every record */
    tl_ts_t width;      /* L0 only: width of new L1 windows for its records, fixed
                         * at its flush (0 = the compaction's); set before publish */
} tl_segment_t;

/* Retains recs (the caller keeps its own reference). page_recs > 0. */
TL_NODISCARD tl_status_t tl_segment_create(tl_mem_t *m, int level, tl_recs_t *recs,
                                           size_t page_recs, tl_seq_t wm, tl_window_t window,
                                           tl_segment_t **out);
void tl_segment_retain(tl_segment_t *s);
void tl_segment_release(tl_mem_t *m, tl_segment_t *s); /* accepts NULL */
/* Bytes this segment owns (struct + fences), and those of its block. */
size_t tl_segment_own_bytes(const tl_segment_t *s);

static inline size_t tl_segment_n(const tl_segment_t *s) { return s->recs->n; }
size_t tl_segment_lower_bound(const tl_segment_t *s, tl_ts_t x);
size_t tl_segment_upper_bound(const tl_segment_t *s, tl_ts_t x);

bool tl_segment_validate(const tl_segment_t *s, const char **why);

/* Records and pages of the segment; bytes it owns with its block. */
static inline size_t tl_segment_len(const tl_segment_t *sg) { return sg->recs->n; }
static inline size_t tl_segment_pages(const tl_segment_t *sg) { return sg->pages.n_pages; }
static inline size_t tl_segment_bytes(const tl_segment_t *sg) {
    return tl_segment_own_bytes(sg) + tl_recs_bytes(sg->recs);
}

#endif /* TL_SEGMENT_H */
