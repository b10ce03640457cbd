/*
 * tl_snapshot.h: a snapshot pins one consistent state of a log: the manifest
 * of immutable sources, a view of the memtable, the tombstone set and the
 * sequence number. Everything a snapshot points to is immutable (or, for the
 * memtable run, an immutable prefix), so reads need no lock.
 *
 * This header also defines the read path's uniform view of a source
 * (tl_src_t): a sorted timestamp array with handles and either per-record
 * sequences (memtable) or a watermark (immutable sources).
 *
 * Threads: a snapshot may be used from any thread; its reference count is
 * atomic. It is acquired by tl_snapshot_acquire (tl_log.c) under the log's
 * publish lock and registered there so retired handles it can still see are
 * not released.
 */
#ifndef TL_SNAPSHOT_H
#define TL_SNAPSHOT_H

#include "tl_manifest.h"
#include "tl_memtable.h"
#include "tl_tombstone.h"

struct tl_snapshot {
    tl_refcnt_t refs;       /* the acquirer, plus one per iterator */
    tl_log_t *log;          /* a counted reference: keeps the engine alive */
    tl_mem_t *mem;          /* the log's allocator */
    tl_manifest_t *man;
    tl_mtview_t mv;         /* run_n already trimmed to records with seq <= seq */
    tl_mtview_t fv;         /* the frozen memtable awaiting its seal (often empty) */
    tl_tombs_t *tombs;
    tl_seq_t seq;
    uint64_t epoch;
    bool heap;              /* allocated by tl_snapshot_acquire (else caller storage) */
    /* The memory of the last iterator closed on this snapshot, kept for the
     * next one (a reader slicing one pin opens many: each then skips an
     * allocation and its accounting). Its first field is its size in bytes.
     * Exchanged atomically (iterators of one snapshot may live on several
     * threads); freed with the snapshot. */
    _Atomic(void *) spare_iter;
    struct tl_snapshot *prev, *next; /* the log's registry, under its publish lock */
};

void tl_snapshot_retain(tl_snapshot_t *snap);

/* Pins the log's current state into caller-provided storage (a short-lived
 * read on the stack: no allocation). Release with tl_snapshot_release as
 * usual. TL_ESTATE after close. */
TL_NODISCARD tl_status_t tl_snapshot_pin_local(tl_log_t *log, tl_snapshot_t *storage);

/* Called by tl_snapshot_release when the last reference goes: unregisters
 * the snapshot and drops its log reference (which may tear the log down). */
void tl_log__snapshot_gone(tl_log_t *log, tl_snapshot_t *snap);

/* ---------------------------------------------------------------- sources */

typedef struct tl_src {
    const tl_ts_t *ts;
    const tl_handle_t *h;
    const tl_seq_t *seq;    /* per-record sequences, or NULL: use wm */
    tl_seq_t wm;
    size_t n;
    tl_ts_t min, max;        /* ts[0] and ts[n - 1] (when n > 0), kept apart so
                              * pruning a source touches none of its records */
    const tl_pages_t *pages; /* fence keys, or NULL */
    int level;               /* -1 memtable, 0 memrun, 1 L0, 2 L1 */
} tl_src_t;

enum { TL_SRC_MEMTABLE = -1, TL_SRC_MEMRUN = 0, TL_SRC_L0 = 1, TL_SRC_L1 = 2 };

static inline size_t tl_src_lb(const tl_src_t *s, tl_ts_t x) {
    return s->pages ? tl_pages_lower_bound(s->pages, s->ts, s->n, x) : tl_lower_bound(s->ts, s->n, x);
}

/* tl_src_lb for a reader of the handles from there (see tl_pages_lower_bound_h). */
static inline size_t tl_src_lb_h(const tl_src_t *s, tl_ts_t x) {
    return s->pages ? tl_pages_lower_bound_h(s->pages, s->ts, s->h, s->n, x)
                    : tl_lower_bound(s->ts, s->n, x);
}

static inline size_t tl_src_ub(const tl_src_t *s, tl_ts_t x) {
    return s->pages ? tl_pages_upper_bound(s->pages, s->ts, s->n, x) : tl_upper_bound(s->ts, s->n, x);
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

#endif /* TL_SNAPSHOT_H */
