/*
 * tl_maint.h: maintenance: the policy (given the shape of a log, which single
 * piece of work comes next), the explicit flush/compact/step calls behind
 * the public ones, the worker thread, and what the write path calls after a
 * write filled the memtable or deleted. The decision is separate from the
 * doing so every caller (tl_maint_step, the worker) agrees on it.
 *
 * Reclaiming deletes (bounded memory under retention, tl_reclaim.h): a
 * source that deletes hide entirely is dropped whole, ahead of everything
 * but the seals; a source hidden only in part waits until the hidden share
 * of all immutable records reaches delete_debt_threshold (default 0.5), then
 * one compaction folds the deletes.
 *
 * Layering: the facade (tl_log.c) calls down into this file; this file calls
 * the units (tl_flush.c, tl_compact.c, tl_reclaim.c) and tl_state.c, never
 * back up.
 */
#ifndef TL_MAINT_H
#define TL_MAINT_H

#include "tl_state.h"

typedef enum tl_maint_action {
    TL_MA_NONE = 0,
    TL_MA_SEAL_FROZEN,  /* a frozen memtable waits to become a memrun */
    TL_MA_SEAL,         /* the memtable is over its size or out-of-order budget */
    TL_MA_DROP_COVERED, /* sources whose every record a delete hides: drop them whole */
    TL_MA_FLUSH,        /* memruns wait to become L0 segments */
    TL_MA_COMPACT_L0,   /* L0 fan-out reached max_delta_segments */
    TL_MA_COMPACT_DEBT, /* deletes hide too large a share of stored records */
    TL_MA_FORGET        /* the tombstone set grew: forget what nothing needs */
} tl_maint_action_t;

typedef struct tl_maint_shape {
    bool memtable_full;
    size_t memruns;
    size_t l0_segments;
    size_t max_delta_segments;
    double delete_debt;           /* hidden / physical records in immutable sources */
    double delete_debt_threshold; /* 0 = off */
    bool frozen;                  /* a frozen memtable awaits its seal */
    size_t covered;               /* immutable sources every record of which a delete
                                   * newer than their watermark hides */
    bool forget_due;              /* the tombstone set doubled since the last forget */
} tl_maint_shape_t;

tl_maint_action_t tl_maint_next(const tl_maint_shape_t *s);

/* ---------------------------------------------------------------- the worker */

/* Starts the worker thread (no-op if running). TL_ENOMEM if no thread. */
TL_NODISCARD tl_status_t tl_maint__worker_start(tl_log_t *log);
/* Stops and joins the worker (no-op if stopped); wakes writers waiting on
 * backpressure. */
void tl_maint__worker_stop(tl_log_t *log);

/* ---------------------------------------------------------------- behind the public calls */

/* tl_flush, tl_compact, tl_maint_step, tl_maint_stop (timelog.h); the
 * facade has checked the log is open. Each takes maint_mu itself. */
TL_NODISCARD tl_status_t tl_maint__flush(tl_log_t *log);
TL_NODISCARD tl_status_t tl_maint__compact(tl_log_t *log);
TL_NODISCARD tl_status_t tl_maint__step(tl_log_t *log);
void tl_maint__stop(tl_log_t *log);

/* ---------------------------------------------------------------- after writes */

/* A write filled the memtable: freeze it for the worker or seal it here,
 * then tl_maint__after_seal. The write itself is already stored. */
TL_NODISCARD tl_status_t tl_maint__after_full(tl_log_t *log);
/* After a write that sealed: wakes the worker and applies backpressure.
 * Returns TL_EBUSY (the write stays stored) past the bounds. */
TL_NODISCARD tl_status_t tl_maint__after_seal(tl_log_t *log);
/* After a delete: lets the worker weigh delete debt. */
void tl_maint__after_delete(tl_log_t *log);

#endif /* TL_MAINT_H */
