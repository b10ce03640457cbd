/*
 * tl_snapshot.h: a snapshot pins one consistent state of a log: the manifest
 * of immutable sources, a view of the memtable, the tombstone set and the
 * sequence number. Everything a snapshot points to is immutable (or, for the
 * memtable run, an immutable prefix), so reads need no lock.
 *
 * Threads: a snapshot may be used from any thread; its reference count is
 * atomic. tl_snapshot_acquire pins the state under the log's publish lock
 * and registers the snapshot in the log's registry (tl_state.c), so retired
 * handles it can still see are not released; the last release drops the
 * pins and unregisters it, which may tear a closed log down. The read path
 * sees a snapshot's sources through tl_source.h.
 */
#ifndef TL_SNAPSHOT_H
#define TL_SNAPSHOT_H

#include "tl_manifest.h"
#include "tl_memtable.h"
#include "tl_tombstone.h"

struct tl_snapshot {
    tl_refcnt_t refs; /* the acquirer, plus one per iterator */
    tl_log_t *log;    /* a counted reference: keeps the engine alive */
    tl_mem_t *mem;    /* the log's allocator */
    tl_manifest_t *man;
    tl_mtview_t mv; /* run_n already trimmed to records with seq <= seq */
    tl_mtview_t fv; /* the frozen memtable awaiting its seal (often empty) */
    tl_tombs_t *tombs;
    tl_seq_t seq;
    uint64_t epoch;
    bool heap; /* allocated by tl_snapshot_acquire (else caller storage) */
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

#endif /* TL_SNAPSHOT_H */
