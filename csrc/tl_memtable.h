/*
 * tl_memtable.h: the mutable ingest layer.
 *
 * In-order records (ts >= the last in-order ts) are appended to the run, a
 * reference-counted buffer whose prefix never changes once written: readers
 * pin it and remember its length, so an in-order append needs no lock, only a
 * release store of the new length. Late records go to a small sorted stage
 * (copied on write when a reader pins it); a full stage becomes an immutable
 * sorted run, and runs are merged binary-counter style so there are
 * O(log n) of them. A snapshot of the memtable is therefore a handful of
 * reference increments, never a copy or a sort of the data.
 *
 * Every record keeps its own sequence number: deletes hide memtable records
 * written before them. Sealing merges everything into one sorted block,
 * drops the records deletes hid, and leaves an empty memtable.
 *
 * Threads: the writer owns the memtable. Structural changes (new buffers,
 * stage inserts, resets) happen with the log's publish lock held so that a
 * reader capturing a view under the same lock sees a consistent set.
 */
#ifndef TL_MEMTABLE_H
#define TL_MEMTABLE_H

#include "tl_alloc.h"
#include "tl_page.h"
#include "tl_tombstone.h"

#define TL_MT_STAGE_CAP 64
#define TL_MT_MAX_RUNS 24

typedef struct tl_mtbuf {
    tl_refcnt_t refs;
    size_t cap;
    atomic_size_t n; /* published length: release-stored by the writer */
    tl_ts_t *ts;
    tl_handle_t *h;
    tl_seq_t *seq;
} tl_mtbuf_t;

typedef struct tl_memtable {
    tl_mtbuf_t *run;                 /* in-order records, NULL when none */
    tl_ts_t run_last;                /* last timestamp of run */
    tl_mtbuf_t *stage;               /* sorted late records, NULL when none */
    tl_mtbuf_t *ooo[TL_MT_MAX_RUNS]; /* sorted immutable late runs, oldest/largest first */
    size_t n_ooo;
    size_t records;     /* everything held */
    size_t ooo_records; /* stage + late runs */
    tl_seq_t min_seq;   /* smallest sequence held, UINT64_MAX when empty; written
                         * only under the publish lock (the worker reads it) */
    size_t max_records; /* seal threshold */
    size_t ooo_budget;  /* late records before an early seal */
    tl_mtbuf_t *spare;  /* a sealed run nobody pins, reused by the next run
                         * (never in a view: readers cannot see it) */
} tl_memtable_t;

/* What a snapshot pins of the memtable. */
typedef struct tl_mtview {
    tl_mtbuf_t *run;
    size_t run_n;
    tl_mtbuf_t *stage;
    size_t stage_n;
    tl_mtbuf_t *ooo[TL_MT_MAX_RUNS];
    size_t n_ooo;
} tl_mtview_t;

void tl_mt_init(tl_memtable_t *mt, size_t max_records, size_t ooo_budget);

/* The lock-free in-order path: true when the record was stored. */
static inline bool tl_mt_append_fast(tl_memtable_t *mt, tl_ts_t ts, tl_handle_t h, tl_seq_t seq) {
    tl_mtbuf_t *r = mt->run;
    if (r == NULL || ts < mt->run_last) return false;
    size_t n = atomic_load_explicit(&r->n, memory_order_relaxed); /* writer's own store */
    if (n == r->cap) return false;
    r->ts[n] = ts;
    r->h[n] = h;
    r->seq[n] = seq;
    /* Release: a reader that loads the new length also sees the record. */
    atomic_store_explicit(&r->n, n + 1, memory_order_release);
    mt->run_last = ts;
    mt->records++;
    return true;
}

/* Every other append (first record, growth, late records). Caller holds the
 * publish lock. TL_ENOMEM leaves the memtable unchanged. The caller must seal
 * first when tl_mt_full() says so. */
TL_NODISCARD tl_status_t tl_mt_append_slow(tl_memtable_t *mt, tl_mem_t *m, tl_ts_t ts,
                                           tl_handle_t h, tl_seq_t seq);

/* Appends n records sorted by timestamp, all with sequence seq, atomically:
 * on TL_ENOMEM nothing was stored. Records older than the run's tail become
 * one new late run. May overshoot the seal threshold: the caller seals after.
 * Caller holds the publish lock. */
TL_NODISCARD tl_status_t tl_mt_append_sorted_batch(tl_memtable_t *mt, tl_mem_t *m,
                                                   const tl_ts_t *ts, const tl_handle_t *h,
                                                   size_t n, tl_seq_t seq);

/* The smallest timestamp held (TL_TS_MAX when empty). Every record it could
 * miss was appended after the call, with a later sequence. Caller holds the
 * publish lock (the maintenance worker asks, to forget tombstones). */
tl_ts_t tl_mt_min_ts(const tl_memtable_t *mt);

/* True when the memtable must be sealed before it accepts another record. */
bool tl_mt_full(const tl_memtable_t *mt);
static inline bool tl_mt_empty(const tl_memtable_t *mt) { return mt->records == 0; }

/* Builds the sealed, sorted block without changing the memtable: records
 * hidden by tombs are left out and their handles appended to *dropped.
 * *out is NULL when nothing survives. On TL_ENOMEM nothing is built and
 * *dropped is as it was. */
TL_NODISCARD tl_status_t tl_mt_seal_build(const tl_memtable_t *mt, tl_mem_t *m,
                                          const tl_tombs_t *tombs, tl_recs_t **out,
                                          tl_hlist_t *dropped);

/* Empties the memtable (its buffers are released: snapshots may keep them).
 * A run no snapshot pins becomes `recycle`'s spare (when it has none; mt
 * itself for the live memtable, the live one for the frozen one): the next
 * run then starts at full size in warm memory instead of growing by
 * doubling, whose copies and page faults were the writer's longest stalls.
 * mt's own spare is kept. Caller holds the publish lock. */
void tl_mt_reset(tl_memtable_t *mt, tl_mem_t *m, tl_memtable_t *recycle);

/* Frees the spare run (an explicit flush or compaction gives memory back;
 * teardown). Caller holds the publish lock or owns mt outright. */
void tl_mt_drop_spare(tl_memtable_t *mt, tl_mem_t *m);

/* Pins the current contents. Caller holds the publish lock. */
void tl_mt_view_capture(const tl_memtable_t *mt, tl_mtview_t *v);
void tl_mt_view_release(tl_mtview_t *v, tl_mem_t *m);
/* Records a view holds; *ooo gets how many of them are out of order. */
size_t tl_mt_view_records(const tl_mtview_t *v, size_t *ooo);

/* Calls fn for every handle held (teardown). */
void tl_mt_for_each_handle(const tl_memtable_t *mt, void (*fn)(void *ctx, tl_handle_t h),
                           void *ctx);

size_t tl_mt_bytes(const tl_memtable_t *mt);
size_t tl_mtbuf_len(const tl_mtbuf_t *b);
bool tl_mt_validate(const tl_memtable_t *mt, const char **why);

#endif /* TL_MEMTABLE_H */
