/*
 * tl_log_internal.h: the engine instance, shared by the two halves of the
 * facade: tl_log.c (lifecycle, writes, snapshots, stats) and tl_maint.c
 * (flush, compaction, the maintenance worker). No other component includes
 * this header.
 *
 * Locks, in the only order they are ever nested:
 *   maint_mu  serializes units of maintenance work (the worker's and the
 *             writer's explicit flush/compact/maint_step); held for a whole
 *             flush or compaction, never by readers.
 *   lock      the publish lock: every pointer readers follow (manifest,
 *             tombstones, memtable buffers, the sequence visible to
 *             snapshots, the snapshot registry, epoch, worker flags) changes
 *             only under it; held for pointer swaps and O(sources) manifest
 *             edits, never for work proportional to records.
 *   retire.mu the retired-handle queue's own short lock.
 * tl_fork_prepare takes all three in this order (and so waits for a unit of
 * maintenance in progress); tl_visit_handles takes lock then retire.mu, never
 * maint_mu, so a cycle collector never waits for a compaction.
 *
 * Ownership: the memtable belongs to the writer. The worker never reads it,
 * except mt.min_seq under the lock (written only under the lock).
 * In background mode a full memtable is frozen, not sealed, by the writer:
 * its buffers move (under the lock) to `frozen`, an immutable memtable that
 * snapshots read like the live one, and the worker seals it into a memrun.
 * `frozen` is set only by the writer and only when empty, and emptied only
 * by a seal of it, which runs with maint_mu held; so a maint_mu holder reads
 * its buffers without the lock.
 * L0 and L1 change only under maint_mu; memruns are added by the writer
 * (under the lock) and removed by flushes (under maint_mu + lock), so every
 * publish re-derives its manifest from the current one under the lock.
 */
#ifndef TL_LOG_INTERNAL_H
#define TL_LOG_INTERNAL_H

#include "tl_adaptive.h"
#include "tl_manifest.h"
#include "tl_memtable.h"
#include "tl_retire.h"
#include "tl_snapshot.h"
#include "tl_sync.h"
#include "tl_tombstone.h"

struct tl_log {
    tl_mem_t mem;
    tl_config_t cfg; /* defaults resolved */
    size_t page_recs, target_recs;
    size_t batch_direct_min; /* batches this large become a memrun directly */
    tl_refcnt_t refs;        /* the open handle + each live snapshot */
    atomic_bool closed;

    tl_mutex_t lock;     /* the publish lock (see above) */
    tl_cond_t wake;      /* worker: work may be pending (waited with lock) */
    tl_cond_t progress;  /* writers: maintenance published something (with lock) */
    tl_mutex_t maint_mu; /* one unit of maintenance at a time */

    tl_manifest_t *man;
    tl_memtable_t mt;
    tl_memtable_t frozen; /* a full memtable awaiting the worker's seal (see above) */
    tl_tombs_t *tombs;
    atomic_uint_fast64_t seq; /* last sequence issued, release-stored */
    atomic_uint_fast64_t epoch; /* bumped by every publish (under the lock); read
                                 * lock-free by tl_snapshot_current */
    tl_snapshot_t *snap_head, *snap_tail; /* live snapshots, oldest first */
    size_t n_snaps;
    tl_snapshot_t *snap_free; /* released snapshot structs kept for reuse (via next) */
    size_t n_snap_free;
    tl_retire_t retire;

    tl_thread_t worker;
    bool worker_running; /* changed only by the writer (start/stop/close) */
    bool worker_stop;    /* under lock */
    bool work_hint;      /* under lock: the writer sealed or deleted */
    bool worker_resume;  /* a fork child whose parent ran the worker: start a
                          * new one on demand (changed only by the writer) */

    atomic_uint_fast64_t seals, flushes, compactions, busy_events, dropped;
    atomic_uint_fast64_t covered_drops; /* sources dropped whole (tl_maint.c) */
    tl_adaptive_t adapt; /* window width state: changed with maint_mu and lock
                          * held, so either one suffices to read it */
};

/* Publishes cur-with-edit as the new manifest (derived under the lock from
 * whatever is current then) and retires `dropped` (space already reserved)
 * with the new epoch. A non-NULL `sealed` (the live memtable or the frozen
 * one) is emptied in the same critical section (a seal). On TL_ENOMEM
 * nothing changed. */
TL_NODISCARD tl_status_t tl_log__publish(tl_log_t *log, const tl_manifest_edit_t *edit,
                                         tl_memtable_t *sealed, const tl_hlist_t *dropped);

/* Pins of the current state, taken under the lock. */
tl_manifest_t *tl_log__pin_manifest(tl_log_t *log);
void tl_log__pin_tombs(tl_log_t *log, tl_tombs_t **tombs, tl_seq_t *seq);

/* The writer's seal (memtable -> memrun); tl_flush needs it. */
TL_NODISCARD tl_status_t tl_log__seal(tl_log_t *log);

/* Seals the frozen memtable, if any, into a memrun. Caller holds maint_mu. */
TL_NODISCARD tl_status_t tl_log__seal_frozen(tl_log_t *log);

/* True when a frozen memtable awaits its seal (reads under the lock). */
bool tl_log__frozen_pending(tl_log_t *log);

/* Maintenance entry points used by the facade (tl_maint.c). */
TL_NODISCARD tl_status_t tl_maint__worker_start(tl_log_t *log);
void tl_maint__worker_stop(tl_log_t *log);
/* After a write that sealed: wakes the worker and applies backpressure.
 * Returns TL_EBUSY (the write stays stored) past the bounds. */
TL_NODISCARD tl_status_t tl_maint__after_seal(tl_log_t *log);
/* After a delete: lets the worker weigh delete debt. */
void tl_maint__after_delete(tl_log_t *log);

static inline tl_seq_t tl_log__seq(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->seq, memory_order_acquire);
}

static inline void tl_log__count(atomic_uint_fast64_t *c, uint64_t n) {
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

#endif /* TL_LOG_INTERNAL_H */
