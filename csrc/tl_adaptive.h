/*
 * tl_adaptive.h: adaptive L1 window width. The log keeps an EWMA of record
 * density (records per tick, one sample per flushed memrun) and derives the
 * width new L1 windows get so one window holds about target_records:
 *
 *   raw = target_records / density            (after warmup_flushes samples)
 *   raw *= (1 - failure_backoff_pct/100)^k    (k = failures past the threshold)
 *   snap raw to the nearest multiple of window_quantum (at least one quantum)
 *   clamp to [min_window, max_window]         (the bounds win over the quantum)
 *   keep the current width unless the result differs by > hysteresis_pct %
 *
 * A sample more than 8x off the estimate (either way) replaces it instead
 * of being averaged in: a change of regime, not noise.
 *
 * Pure functions over a caller-owned state: no locking, no allocation. The
 * log updates its state with maint_mu and the publish lock held and reads it
 * under either (see tl_state.h). Published windows never change: the
 * width only decides the windows compaction creates from now on.
 */
#ifndef TL_ADAPTIVE_H
#define TL_ADAPTIVE_H

#include "tl_internal.h"

typedef struct tl_adaptive {
    double density;        /* EWMA of records per tick; 0 = no estimate */
    uint64_t samples;      /* samples folded into density since the last reset */
    uint64_t since_sample; /* flushes in a row that gave no sample */
    uint64_t resizes;      /* times width changed */
    uint64_t failures;     /* compactions failed in a row */
    tl_ts_t width;         /* width of new L1 windows, > 0 */
} tl_adaptive_t;

/* Starts at the fixed width (window_size), no estimate. */
void tl_adaptive_init(tl_adaptive_t *a, tl_ts_t width);

/* Folds in one flushed run of n records spanning [min, max]. A run of fewer
 * than 2 records or a single timestamp says nothing about density: it counts
 * towards stale_flushes instead. */
void tl_adaptive_observe(tl_adaptive_t *a, const tl_adaptive_config_t *c, uint64_t n, tl_ts_t min,
                         tl_ts_t max);

/* The width the rules above give now (a->width when adaptation is off or
 * still warming up). Always > 0. */
tl_ts_t tl_adaptive_candidate(const tl_adaptive_t *a, const tl_adaptive_config_t *c);

/* Adopts the candidate; true if the width changed. */
bool tl_adaptive_update(tl_adaptive_t *a, const tl_adaptive_config_t *c);

/* Compaction feedback: failures in a row drive the backoff; a success resets. */
void tl_adaptive_feedback(tl_adaptive_t *a, bool ok);

/* NULL if c is valid, else a static string naming the field. */
const char *tl_adaptive_config_why(const tl_adaptive_config_t *c);

#endif /* TL_ADAPTIVE_H */
