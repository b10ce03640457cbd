/*
 * tl_flush.h: the write side of maintenance.
 *
 *   seal    memtable -> memrun: merge its sorted parts, drop what deletes
 *           hid (their handles are retired), stamp the run with the current
 *           sequence (its watermark). O(memtable).
 *   freeze  background mode: a full memtable's buffers move, untouched and
 *           under the publish lock, to the frozen slot that snapshots read
 *           like the live one; the worker seals it later.
 *   flush   memruns -> L0 segments. A memrun's block is already sorted and
 *           immutable, so flushing builds only the page index and shares the
 *           block: no record is copied. Each flushed run is one density
 *           sample for adaptive windows.
 *   batch   a batch of at least half a memtable is sorted into a block of
 *           its own and published as a memrun at once.
 *
 * Who calls: the writer (seal, freeze, batch; flush through the explicit
 * tl_flush/tl_compact) and the worker (seal of the frozen memtable, flush),
 * always through tl_maint.c or the facade. Seal of the frozen memtable and
 * flush need maint_mu held; everything publishes through tl_state.
 */
#ifndef TL_FLUSH_H
#define TL_FLUSH_H

#include "tl_state.h"

/* Seals the live memtable (the writer only). */
TL_NODISCARD tl_status_t tl_flush__seal(tl_log_t *log);

/* True when a frozen memtable awaits its seal (reads under the lock). */
bool tl_flush__frozen_pending(tl_log_t *log);

/* Seals the frozen memtable, if any, into a memrun. Caller holds maint_mu. */
TL_NODISCARD tl_status_t tl_flush__seal_frozen(tl_log_t *log);

/* Moves the full live memtable to the frozen slot (the writer only). False
 * when the previous frozen memtable still waits: the caller then seals. */
bool tl_flush__freeze(tl_log_t *log);

/* Turns every memrun of the current manifest into an L0 segment and commits
 * the adaptive width state they sampled. Caller holds maint_mu. */
TL_NODISCARD tl_status_t tl_flush__memruns(tl_log_t *log);

/* Sorts n caller records into a block of their own and publishes it as a
 * memrun under the next sequence (the writer only). */
TL_NODISCARD tl_status_t tl_flush__batch(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h,
                                         size_t n);

/* Publishes a sorted block (recs->n records, the caller's reference) as a
 * memrun under the next sequence. On failure nothing changed and the caller
 * still owns recs. */
TL_NODISCARD tl_status_t tl_flush__block(tl_log_t *log, tl_recs_t *recs);

#endif /* TL_FLUSH_H */
