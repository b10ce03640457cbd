/*
 * tl_state.h: one engine instance (struct tl_log) and everything that changes
 * what readers can see: publishing (manifest swaps, sequence, epoch), pins of
 * the current state, the snapshot registry, the retired-handle release rule,
 * and teardown when the last reference goes. Every other component reaches
 * the instance through the functions and accessors here; the facade
 * (tl_log.c), maintenance (tl_maint.c, tl_flush.c, tl_reclaim.c), snapshots
 * (tl_snapshot.c) and stats (tl_stats.c) include this header.
 *
 * State and threads:
 *  - writer (caller-serialized): appends, deletes, flush, compact, maint_step,
 *    close. In-order appends touch no lock (tl_mt_append_fast + release
 *    stores of the run length and of the sequence).
 *  - readers (any thread): snapshot acquire/release take the lock briefly.
 *  - lifetime: `refs` counts the open handle plus every live snapshot; the
 *    last one out tears the instance down (tl_state_unref) and hands every
 *    remaining handle to on_drop, so a snapshot (and any NumPy array over its
 *    pages) stays valid after tl_close.
 *  - retired handles carry the epoch of the publish that dropped them and are
 *    released only when no older snapshot is alive (tl_retire.h).
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
#ifndef TL_STATE_H
#define TL_STATE_H

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
    atomic_uint_fast64_t seq;             /* last sequence issued, release-stored */
    atomic_uint_fast64_t epoch;           /* bumped by every publish (under the lock); read
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
    atomic_uint_fast64_t covered_drops; /* sources dropped whole (tl_reclaim.c) */
    tl_adaptive_t adapt;                /* window width state: changed with maint_mu and lock
                          * held, so either one suffices to read it */
    /* Policy compactions compaction_max_windows cut short (tl_maint.c). */
    atomic_uint_fast64_t compactions_bounded;
};

/* ---------------------------------------------------------------- lifecycle */

/* Builds an instance from a checked config (defaults resolved here), with
 * one reference (the open handle) and no worker. On failure nothing is left. */
TL_NODISCARD tl_status_t tl_state_open(const tl_config_t *cfg, tl_log_t **out);

/* Drops one reference; the last one hands every handle still held to
 * on_drop exactly once and frees the instance. */
void tl_state_unref(tl_log_t *log);

static inline bool tl_state_closed(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->closed, memory_order_acquire);
}

/* ---------------------------------------------------------------- sequence and epoch */

/* The last sequence published, for any thread. */
static inline tl_seq_t tl_state_seq(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->seq, memory_order_acquire);
}

/* The writer's own view: only it issues sequences, so it reads them relaxed. */
static inline tl_seq_t tl_state_cur_seq(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->seq, memory_order_relaxed);
}

/* Release: a snapshot that reads this sequence sees every record under it. */
static inline void tl_state_publish_seq(tl_log_t *log, tl_seq_t seq) {
    atomic_store_explicit(&log->seq, seq, memory_order_release);
}

static inline uint64_t tl_state_epoch(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->epoch, memory_order_acquire);
}

/* Caller holds the publish lock (the only writer of epoch). Release: a
 * reader that sees the new epoch (tl_snapshot_current) also sees what was
 * published with it. */
static inline uint64_t tl_state_bump_epoch(tl_log_t *log) {
    uint64_t e = atomic_load_explicit(&log->epoch, memory_order_relaxed) + 1;
    atomic_store_explicit(&log->epoch, e, memory_order_release);
    return e;
}

/* Statistics counters: relaxed, they order nothing. */
static inline void tl_state_count(atomic_uint_fast64_t *c, uint64_t n) {
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---------------------------------------------------------------- publishing and pins */

/* Publishes cur-with-edit as the new manifest (derived under the lock from
 * whatever is current then) and retires `dropped` (space already reserved)
 * with the new epoch. A non-NULL `sealed` (the live memtable or the frozen
 * one) is emptied in the same critical section (a seal). On TL_ENOMEM
 * nothing changed. */
TL_NODISCARD tl_status_t tl_state_publish(tl_log_t *log, const tl_manifest_edit_t *edit,
                                          tl_memtable_t *sealed, const tl_hlist_t *dropped);

/* Publishes memrun mr (the caller keeps its reference) and sequence seq
 * together: a direct batch becomes visible in one step. */
TL_NODISCARD tl_status_t tl_state_publish_memrun(tl_log_t *log, tl_memrun_t *mr, tl_seq_t seq);

/* Pins of the current state, taken under the lock. */
tl_manifest_t *tl_state_pin_manifest(tl_log_t *log);
void tl_state_pin_tombs(tl_log_t *log, tl_tombs_t **tombs, tl_seq_t *seq);

/* ---------------------------------------------------------------- writes */

/* The locked append paths: the record goes into the live memtable under
 * sequence seq, published in the same critical section (a snapshot that
 * sees a record also sees its sequence). A small batch (n > 0) is sorted
 * into scratch first unless it already is, then stored atomically under
 * the next sequence. The writer only; the caller checks the memtable fill. */
TL_NODISCARD tl_status_t tl_state_append_locked(tl_log_t *log, tl_ts_t ts, tl_handle_t h,
                                                tl_seq_t seq);
TL_NODISCARD tl_status_t tl_state_append_batch(tl_log_t *log, const tl_ts_t *ts,
                                               const tl_handle_t *h, size_t n);

/* Adds the tombstone [lo, hi] (lo <= hi) under the next sequence. */
TL_NODISCARD tl_status_t tl_state_delete(tl_log_t *log, tl_ts_t lo, tl_ts_t hi);

/* ---------------------------------------------------------------- snapshot registry */

/* Pins the current state into a snapshot and registers it (the log gains a
 * reference). storage NULL: a struct from the registry's free list, or a new
 * one (heap); else the caller's storage. TL_ENOMEM leaves nothing. */
TL_NODISCARD tl_status_t tl_state_snapshot_register(tl_log_t *log, tl_snapshot_t *storage,
                                                    tl_snapshot_t **out);

/* Unregisters a snapshot whose pins are already dropped, recycles or frees
 * its struct and drops its log reference (which may tear the log down). */
void tl_state_snapshot_unregister(tl_log_t *log, tl_snapshot_t *snap);

/* ---------------------------------------------------------------- retired handles, ownership, fork */

/* The public calls of the same names (timelog.h), arguments checked. */
tl_status_t tl_state_drain_retired(tl_log_t *log, size_t limit, size_t *n_out);
int tl_state_visit_handles(tl_log_t *log, tl_visit_fn visit, void *ctx);
void tl_state_fork_prepare(tl_log_t *log);
void tl_state_fork_parent(tl_log_t *log);
void tl_state_fork_child(tl_log_t *log);

#endif /* TL_STATE_H */
