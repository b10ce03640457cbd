/*
 * tl_adaptive.c: the adaptive window width rules (see tl_adaptive.h).
 *
 * Arithmetic is done in double and converted back only after clamping to
 * [1, INT64_MAX], so no density (tiny or huge) and no bound can overflow.
 */
#include "tl_adaptive.h"

#include <math.h>

#define DEFAULT_ALPHA 0.2
#define JUMP 8.0 /* density ratio taken as a change of regime (see observe) */

void tl_adaptive_init(tl_adaptive_t *a, tl_ts_t width) {
    memset(a, 0, sizeof(*a));
    a->width = width > 0 ? width : 1;
}

void tl_adaptive_observe(tl_adaptive_t *a, const tl_adaptive_config_t *c, uint64_t n, tl_ts_t min,
                         tl_ts_t max) {
    if (c->target_records == 0) return;
    if (n < 2 || max <= min) {
        a->since_sample++;
        if (c->stale_flushes != 0 && a->since_sample >= c->stale_flushes) {
            /* The estimate no longer describes the stream: forget it and
             * warm up again rather than resize on old evidence. */
            a->density = 0.0;
            a->samples = 0;
            a->since_sample = 0;
        }
        return;
    }
    /* Span in ticks, exact in unsigned space (max > min, so no wrap). */
    double span = (double)((uint64_t)max - (uint64_t)min) + 1.0;
    double d = (double)n / span;
    double alpha = c->alpha > 0.0 ? c->alpha : DEFAULT_ALPHA;
    /* The EWMA smooths noise between flushes; a sample JUMP times off the
     * estimate (either way) is a change of regime, not noise: averaging it
     * in would take ~1/alpha flushes of ever-resized windows (hundreds of
     * slivers after a 100x change), so it replaces the estimate. */
    bool jump = a->samples > 0 && (d > JUMP * a->density || d * JUMP < a->density);
    a->density = a->samples == 0 || jump ? d : alpha * d + (1.0 - alpha) * a->density;
    a->samples++;
    a->since_sample = 0;
}

static double clamp_d(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

tl_ts_t tl_adaptive_candidate(const tl_adaptive_t *a, const tl_adaptive_config_t *c) {
    uint64_t warmup = c->warmup_flushes == 0 ? 1 : c->warmup_flushes;
    if (c->target_records == 0 || a->samples < warmup || !(a->density > 0.0)) return a->width;
    double raw = (double)c->target_records / a->density;
    if (c->failure_backoff_threshold != 0 && a->failures >= c->failure_backoff_threshold) {
        /* Smaller windows make smaller compactions: shrink per failure. The
         * loop is bounded: past 64 halvings-or-less nothing changes anyway
         * once the lower bound is reached. */
        uint64_t k = TL_MIN(a->failures - c->failure_backoff_threshold + 1, (uint64_t)64);
        for (uint64_t i = 0; i < k; i++) raw *= 1.0 - c->failure_backoff_pct / 100.0;
    }
    /* Below 2^63 and exactly representable, so the casts are defined. */
    const double top = 9223372036854774784.0;
    uint64_t q = c->window_quantum > 0 ? (uint64_t)c->window_quantum : 1;
    uint64_t lo = c->min_window > 0 ? (uint64_t)c->min_window : q;
    uint64_t hi = c->max_window > 0 ? (uint64_t)c->max_window : (uint64_t)top;
    double units = clamp_d(raw / (double)q + 0.5, 1.0, top / (double)q); /* nearest multiple */
    uint64_t w = (uint64_t)units * q;
    w = w < lo ? lo : w > hi ? hi : w;
    tl_ts_t cand = (tl_ts_t)w;
    double diff = fabs((double)cand - (double)a->width);
    if (diff <= (double)a->width * (c->hysteresis_pct / 100.0)) return a->width;
    return cand;
}

bool tl_adaptive_update(tl_adaptive_t *a, const tl_adaptive_config_t *c) {
    tl_ts_t w = tl_adaptive_candidate(a, c);
    if (w == a->width) return false;
    a->width = w;
    a->resizes++;
    return true;
}

void tl_adaptive_feedback(tl_adaptive_t *a, bool ok) { a->failures = ok ? 0 : a->failures + 1; }

static bool finite_in(double x, double lo, double hi) { return isfinite(x) && x >= lo && x <= hi; }

const char *tl_adaptive_config_why(const tl_adaptive_config_t *c) {
    if (c->min_window < 0) return "adaptive.min_window: must be 0 (default) or positive";
    if (c->max_window < 0) return "adaptive.max_window: must be 0 (no bound) or positive";
    if (c->window_quantum < 0) return "adaptive.window_quantum: must be 0 (default) or positive";
    if (c->min_window > 0 && c->max_window > 0 && c->min_window > c->max_window) {
        return "adaptive.min_window: must not exceed max_window";
    }
    if (!finite_in(c->hysteresis_pct, 0.0, 100.0)) {
        return "adaptive.hysteresis_pct: must be within [0, 100]";
    }
    if (!finite_in(c->alpha, 0.0, 1.0))
        return "adaptive.alpha: must be within (0, 1] (0 = default)";
    if (!finite_in(c->failure_backoff_pct, 0.0, 100.0) || c->failure_backoff_pct >= 100.0) {
        return "adaptive.failure_backoff_pct: must be within [0, 100)";
    }
    return NULL;
}
