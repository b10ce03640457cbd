/*
 * tl_source.h: the read path's uniform view of one source (tl_src_t): a
 * sorted timestamp array with handles and either per-record sequences (a
 * memtable part) or a watermark (a memrun, an L0 or L1 segment), with its
 * bounds kept apart so pruning touches no record. The iterator (tl_merge.c),
 * the counting and neighbour queries (tl_query.c), the spans (tl_span.c) and
 * compaction (tl_compact.c) all read sources through this header.
 *
 * The searches are static inline: they sit on every read's hot path.
 */
#ifndef TL_SOURCE_H
#define TL_SOURCE_H

#include "tl_snapshot.h"

typedef struct tl_src {
    const tl_ts_t *ts;
    const tl_handle_t *h;
    const tl_seq_t *seq; /* per-record sequences, or NULL: use wm */
    tl_seq_t wm;
    size_t n;
    tl_ts_t min, max;        /* ts[0] and ts[n - 1] (when n > 0), kept apart so
                              * pruning a source touches none of its records */
    const tl_pages_t *pages; /* fence keys, or NULL */
    int level;               /* -1 memtable, 0 memrun, 1 L0, 2 L1 */
} tl_src_t;

enum { TL_SRC_MEMTABLE = -1, TL_SRC_MEMRUN = 0, TL_SRC_L0 = 1, TL_SRC_L1 = 2 };

static inline size_t tl_src_lb(const tl_src_t *s, tl_ts_t x) {
    return s->pages ? tl_pages_lower_bound(s->pages, s->ts, s->n, x)
                    : tl_lower_bound(s->ts, s->n, x);
}

/* tl_src_lb for a reader of the handles from there (see tl_pages_lower_bound_h). */
static inline size_t tl_src_lb_h(const tl_src_t *s, tl_ts_t x) {
    return s->pages ? tl_pages_lower_bound_h(s->pages, s->ts, s->h, s->n, x)
                    : tl_lower_bound(s->ts, s->n, x);
}

static inline size_t tl_src_ub(const tl_src_t *s, tl_ts_t x) {
    return s->pages ? tl_pages_upper_bound(s->pages, s->ts, s->n, x)
                    : tl_upper_bound(s->ts, s->n, x);
}

/* [*a, *b): the records of s inside r, for a source whose bounds meet r.
 * An end inside the source is searched; a range likely to hold more than a
 * few cache lines of records gets both ends from one lockstep descent of
 * the fence index (tl_pages_bounds), a short one a search for the start and
 * a gallop to the end through the lines that search loaded. */
void tl_src_bounds(const tl_src_t *s, tl_range_t r, size_t *a, size_t *b);

/* The sequence a tombstone must exceed to hide record i. */
static inline tl_seq_t tl_src_seq(const tl_src_t *s, size_t i) {
    return s->seq != NULL ? s->seq[i] : s->wm;
}

void tl_src_of_segment(tl_src_t *s, const tl_segment_t *seg);
void tl_src_of_memrun(tl_src_t *s, const tl_memrun_t *mr);

/* Every source of the snapshot except L1 (memtable parts, memruns, L0) that
 * is non-empty, written to out (capacity tl_snapshot_max_flat_sources). */
size_t tl_snapshot_flat_sources(const tl_snapshot_t *snap, tl_src_t *out);
size_t tl_snapshot_max_flat_sources(const tl_snapshot_t *snap);

#endif /* TL_SOURCE_H */
