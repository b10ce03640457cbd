/*
 * tl_snapshot.c: a snapshot's whole lifetime (see tl_snapshot.h): acquire
 * (the state is pinned and the snapshot registered by tl_state.c, under the
 * publish lock), retain, release (drop the pins, then unregister, which may
 * tear a closed log down: the call goes down into tl_state.c, never back up
 * into the facade), and the lock-free "still current?" test.
 */
#include "tl_state.h"

tl_status_t tl_snapshot_acquire(tl_log_t *log, tl_snapshot_t **out) {
    *out = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    return tl_state_snapshot_register(log, NULL, out);
}

tl_status_t tl_snapshot_pin_local(tl_log_t *log, tl_snapshot_t *storage) {
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    tl_snapshot_t *s;
    return tl_state_snapshot_register(log, storage, &s);
}

int tl_snapshot_current(tl_log_t *log, const tl_snapshot_t *snap) {
    if (log == NULL || snap == NULL || snap->log != log || tl_state_closed(log)) return 0;
    /* Every write and delete takes a sequence; every publish (seal, freeze,
     * flush, compaction, direct batch) bumps the epoch. Both unchanged: a
     * snapshot taken now would pin the very same state. */
    return tl_state_seq(log) == snap->seq && tl_state_epoch(log) == snap->epoch ? 1 : 0;
}

void tl_snapshot_retain(tl_snapshot_t *snap) { tl_ref_inc(&snap->refs); }

void tl_snapshot_release(tl_snapshot_t *snap) {
    if (snap == NULL || !tl_ref_dec(&snap->refs)) return;
    tl_mem_t *m = snap->mem;
    void *spare = atomic_exchange_explicit(&snap->spare_iter, NULL, memory_order_acquire);
    if (spare != NULL) tl_mem_free(m, spare, *(const size_t *)spare);
    tl_manifest_release(m, snap->man);
    tl_mt_view_release(&snap->mv, m);
    tl_mt_view_release(&snap->fv, m);
    tl_tombs_release(m, snap->tombs);
    tl_log_t *log = snap->log;
    /* Unregistering may free the whole engine (closed log, last pin), so the
     * snapshot's own memory is returned by the log, inside that call. */
    tl_state_snapshot_unregister(log, snap);
}

tl_seq_t tl_snapshot_seq(const tl_snapshot_t *snap) { return snap->seq; }

uint32_t tl_snapshot_pins(const tl_snapshot_t *snap) { return tl_ref_get(&snap->refs); }
