/*
 * test_adaptive.c: adaptive L1 window widths. The pure rules of
 * tl_adaptive.h (EWMA, warmup, snap, clamp, hysteresis, staleness, backoff)
 * table-driven; window placement around published windows of other widths
 * (tl_window_place); and whole logs whose density changes between
 * compactions: tl_validate passes after every step (it checks that L1
 * windows never overlap), every L1 segment lies in one window, and the
 * width follows the density.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"
#include "tl_adaptive.h"
#include "tl_state.h"
#include "tl_window.h"

static tl_adaptive_config_t on(uint64_t target) {
    tl_adaptive_config_t c;
    memset(&c, 0, sizeof c);
    c.target_records = target;
    c.alpha = 1.0; /* the last sample only: expected widths are exact */
    return c;
}

/* n records over span ticks, folded in once. */
static void sample(tl_adaptive_t *a, const tl_adaptive_config_t *c, uint64_t n, tl_ts_t span) {
    tl_adaptive_observe(a, c, n, 1000, 1000 + span - 1);
}

Test(adaptive, off_keeps_the_fixed_width) {
    tl_adaptive_config_t c = on(0);
    tl_adaptive_t a;
    tl_adaptive_init(&a, 3600);
    sample(&a, &c, 1000, 10);
    cr_assert_eq(a.samples, 0);
    cr_assert_not(tl_adaptive_update(&a, &c));
    cr_assert_eq(a.width, 3600);
}

typedef struct row {
    const char *what;
    uint64_t target;
    tl_ts_t min_w, max_w, quantum;
    double hyst;
    tl_ts_t start; /* current width */
    uint64_t n;    /* one sample: n records ... */
    tl_ts_t span;  /* ... over span ticks */
    tl_ts_t want;
} row_t;

Test(adaptive, candidate_table) {
    static const row_t rows[] = {
        {"target / density", 1000, 0, 0, 0, 0, 50, 100, 100, 1000},
        {"sparser stream, wider windows", 1000, 0, 0, 0, 0, 50, 10, 1000, 100000},
        {"snapped to the nearest quantum", 1000, 0, 0, 60, 0, 50, 3, 10, 3360},
        {"at least one quantum", 10, 0, 0, 100, 0, 5000, 1000, 10, 100},
        {"clamped to max_window", 1000, 0, 5000, 0, 0, 50, 2, 100, 5000},
        {"clamped to min_window", 1000, 700, 0, 0, 0, 50, 1000, 100, 700},
        {"bounds win over the quantum", 1000, 0, 4990, 100, 0, 50, 2, 100, 4990},
        {"within hysteresis: kept", 1000, 0, 0, 0, 10, 1050, 100, 100, 1050},
        {"past hysteresis: adopted", 1000, 0, 0, 0, 10, 1200, 100, 100, 1000},
        {"hysteresis 0 adopts any change", 1000, 0, 0, 0, 0, 1001, 100, 100, 1000},
        /* want 0: "some width near the top of the int64 range" */
        {"huge width stays below int64 max", UINT64_MAX, 0, 0, 0, 0, 1, 2, (tl_ts_t)1 << 62, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *r = &rows[i];
        tl_adaptive_config_t c = on(r->target);
        c.min_window = r->min_w;
        c.max_window = r->max_w;
        c.window_quantum = r->quantum;
        c.hysteresis_pct = r->hyst;
        cr_assert_null(tl_adaptive_config_why(&c), "%s: config rejected", r->what);
        tl_adaptive_t a;
        tl_adaptive_init(&a, r->start);
        sample(&a, &c, r->n, r->span);
        tl_ts_t got = tl_adaptive_candidate(&a, &c);
        if (r->want == 0) {
            cr_assert_gt(got, (tl_ts_t)1 << 62, "%s: got %lld", r->what, (long long)got);
        } else {
            cr_assert_eq(got, r->want, "%s: got %lld, want %lld", r->what, (long long)got,
                         (long long)r->want);
        }
    }
}

Test(adaptive, ewma_weights_new_samples_by_alpha) {
    tl_adaptive_config_t c = on(100);
    c.alpha = 0.25;
    tl_adaptive_t a;
    tl_adaptive_init(&a, 10);
    sample(&a, &c, 100, 100); /* 1.0 per tick: the first sample is taken as is */
    cr_assert_float_eq(a.density, 1.0, 1e-12);
    sample(&a, &c, 500, 100); /* 5.0: 0.25 * 5 + 0.75 * 1 = 2 */
    cr_assert_float_eq(a.density, 2.0, 1e-12);
    cr_assert_eq(a.samples, 2);
    cr_assert_eq(tl_adaptive_candidate(&a, &c), 50);
}

Test(adaptive, a_change_of_regime_replaces_the_estimate) {
    tl_adaptive_config_t c = on(100);
    c.alpha = 0.25;
    tl_adaptive_t a;
    tl_adaptive_init(&a, 10);
    sample(&a, &c, 100, 100);   /* 1.0 */
    sample(&a, &c, 100, 10000); /* 0.01: 100x sparser, taken as is */
    cr_assert_float_eq(a.density, 0.01, 1e-12);
    sample(&a, &c, 100, 1250); /* 0.08: exactly 8x, still averaged */
    cr_assert_float_eq(a.density, 0.25 * 0.08 + 0.75 * 0.01, 1e-12);
    sample(&a, &c, 1000, 100); /* 10.0: > 8x denser, taken as is */
    cr_assert_float_eq(a.density, 10.0, 1e-12);
}

Test(adaptive, warmup_defers_the_first_resize) {
    tl_adaptive_config_t c = on(100);
    c.warmup_flushes = 3;
    tl_adaptive_t a;
    tl_adaptive_init(&a, 7);
    for (int i = 0; i < 2; i++) {
        sample(&a, &c, 100, 10);
        cr_assert_not(tl_adaptive_update(&a, &c));
        cr_assert_eq(a.width, 7);
    }
    sample(&a, &c, 100, 10);
    cr_assert(tl_adaptive_update(&a, &c));
    cr_assert_eq(a.width, 10);
    cr_assert_eq(a.resizes, 1);
}

Test(adaptive, runs_without_a_span_are_no_sample_and_go_stale) {
    tl_adaptive_config_t c = on(100);
    c.stale_flushes = 2;
    tl_adaptive_t a;
    tl_adaptive_init(&a, 7);
    sample(&a, &c, 100, 10);
    cr_assert_eq(a.samples, 1);
    tl_adaptive_observe(&a, &c, 50, 5, 5); /* one timestamp */
    cr_assert_eq(a.samples, 1);
    tl_adaptive_observe(&a, &c, 1, 5, 5); /* one record: stale now */
    cr_assert_eq(a.samples, 0);
    cr_assert_float_eq(a.density, 0.0, 0.0);
    cr_assert_eq(tl_adaptive_candidate(&a, &c), 7, "no estimate: keep the width");
}

Test(adaptive, repeated_failures_shrink_the_width) {
    tl_adaptive_config_t c = on(1000);
    c.failure_backoff_threshold = 2;
    c.failure_backoff_pct = 50;
    tl_adaptive_t a;
    tl_adaptive_init(&a, 1000);
    sample(&a, &c, 100, 100);
    tl_adaptive_feedback(&a, false);
    cr_assert_eq(tl_adaptive_candidate(&a, &c), 1000, "below the threshold");
    tl_adaptive_feedback(&a, false);
    cr_assert_eq(tl_adaptive_candidate(&a, &c), 500);
    tl_adaptive_feedback(&a, false);
    cr_assert_eq(tl_adaptive_candidate(&a, &c), 250);
    tl_adaptive_feedback(&a, true);
    cr_assert_eq(a.failures, 0);
    cr_assert_eq(tl_adaptive_candidate(&a, &c), 1000);
}

/* One row per rejected value: which field it sets (from a valid on(10)) and
 * the name the message must contain. */
typedef enum { AF_MIN_OVER_MAX, AF_ALPHA, AF_HYSTERESIS, AF_BACKOFF, AF_QUANTUM } adaptive_field_t;

static const struct {
    adaptive_field_t field;
    double d;
    tl_ts_t i;
    const char *name;
} k_bad_adaptive[] = {
    {AF_MIN_OVER_MAX, 0, 5, "min_window"}, /* min_window 10 > max_window 5 */
    {AF_ALPHA, 1.5, 0, "alpha"},
    {AF_HYSTERESIS, NAN, 0, "hysteresis_pct"},
    {AF_BACKOFF, 100.0, 0, "failure_backoff_pct"},
    {AF_QUANTUM, 0, -1, "window_quantum"},
};

Test(adaptive, bad_configs_are_named) {
    tl_adaptive_config_t c = on(10);
    cr_assert_null(tl_adaptive_config_why(&c), "the base config of the rows must be valid");
    for (size_t k = 0; k < sizeof k_bad_adaptive / sizeof k_bad_adaptive[0]; k++) {
        c = on(10);
        switch (k_bad_adaptive[k].field) {
        case AF_MIN_OVER_MAX:
            c.min_window = 10;
            c.max_window = k_bad_adaptive[k].i;
            break;
        case AF_ALPHA: c.alpha = k_bad_adaptive[k].d; break;
        case AF_HYSTERESIS: c.hysteresis_pct = k_bad_adaptive[k].d; break;
        case AF_BACKOFF: c.failure_backoff_pct = k_bad_adaptive[k].d; break;
        case AF_QUANTUM: c.window_quantum = k_bad_adaptive[k].i; break;
        }
        const char *why = tl_adaptive_config_why(&c);
        cr_assert(why != NULL && strstr(why, k_bad_adaptive[k].name) != NULL,
                  "row %zu: why '%s' does not name %s", k, why ? why : "(accepted)",
                  k_bad_adaptive[k].name);
    }
    /* And through the engine's config check. */
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.adaptive.max_window = -3;
    const char *why = NULL;
    cr_assert_eq(tl_config_check(&cfg, &why), TL_EINVAL);
    cr_assert_not_null(strstr(why, "max_window"));
}

/* ---------------------------------------------------------------- placement */

static tl_window_t arr_get(const void *pub, size_t i) { return ((const tl_window_t *)pub)[i]; }

Test(adaptive, place_reuses_published_windows_and_clips_new_ones) {
    /* Published: [100, 199] (twice: two segments share it) and [1000, 1049]. */
    const tl_window_t pub[] = {{100, 199}, {100, 199}, {1000, 1049}};
    struct {
        tl_ts_t ts, size;
        tl_window_t want;
    } rows[] = {
        {150, 1000, {100, 199}},                           /* inside a published window: that one */
        {1049, 7, {1000, 1049}},  {250, 1000, {200, 999}}, /* cell [0, 999] clipped on both sides */
        {50, 1000, {0, 99}},                               /* cell [0, 999] clipped above */
        {-5, 1000, {-1000, -1}},                           /* a whole cell below everything */
        {1060, 40, {1050, 1079}},                          /* cell [1040, 1079] clipped below */
        {2000, 40, {2000, 2039}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tl_window_t w = tl_window_place(rows[i].ts, rows[i].size, 0, pub, 3, arr_get);
        cr_assert(w.lo == rows[i].want.lo && w.hi == rows[i].want.hi,
                  "ts %lld size %lld: got [%lld, %lld]", (long long)rows[i].ts,
                  (long long)rows[i].size, (long long)w.lo, (long long)w.hi);
        cr_assert(w.lo <= rows[i].ts && rows[i].ts <= w.hi);
    }
    tl_window_t w = tl_window_place(TL_TS_MAX, 10, 0, NULL, 0, arr_get);
    cr_assert_eq(w.hi, TL_TS_MAX);
}

/* ---------------------------------------------------------------- whole logs */

static void check_l1(tl_log_t *log) {
    const char *why = NULL;
    cr_assert_eq(tl_validate(log, &why), TL_OK, "validate: %s", why ? why : "");
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_l1; i++) {
        const tl_segment_t *s = man->l1[i];
        cr_assert(s->window.lo <= s->min && s->max <= s->window.hi);
        if (i > 0) {
            tl_window_t p = man->l1[i - 1]->window;
            cr_assert((p.lo == s->window.lo && p.hi == s->window.hi) || p.hi < s->window.lo,
                      "windows [%lld, %lld] and [%lld, %lld] overlap", (long long)p.lo,
                      (long long)p.hi, (long long)s->window.lo, (long long)s->window.hi);
        }
    }
}

/* Appends n records at ts0, ts0 + step, ... then flushes and compacts. */
static void batch(tl_log_t *log, tl_ts_t ts0, tl_ts_t step, size_t n, tl_handle_t *h) {
    for (size_t i = 0; i < n; i++) TLT_W(tl_append(log, ts0 + (tl_ts_t)i * step, (*h)++));
    TLT_OK(tl_flush(log));
    tl_status_t st = tl_compact(log);
    cr_assert(st == TL_OK || st == TL_EOF);
    check_l1(log);
}

Test(adaptive, width_follows_density_and_windows_never_overlap) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.maintenance = TL_MAINT_DISABLED;
    cfg.window_size = 1000;
    cfg.adaptive = on(100);
    /* alpha 1: the width follows the last sample exactly (the EWMA itself
     * is checked above). */
    cfg.adaptive.hysteresis_pct = 10;
    cfg.adaptive.window_quantum = 10;
    tl_log_t *log = NULL;
    TLT_OK(tl_open(&cfg, &log));
    tl_handle_t h = 1;
    tl_ts_t t = 0;
    /* Dense (1 per tick), then 100x sparser, then dense again; each batch
     * overlaps the previous one's tail so old windows are rewritten too. */
    for (int round = 0; round < 12; round++) {
        tl_ts_t step = round < 4 ? 1 : round < 8 ? 100 : 1;
        batch(log, t - 5 * step, step, 400, &h);
        t += 400 * step;
        tl_stats_t st;
        TLT_OK(tl_stats(log, &st));
        cr_assert_eq(st.window_width, log->adapt.width);
        if (round == 3)
            cr_assert_eq(st.window_width, 100, "dense: %lld", (long long)st.window_width);
        /* 400 records over 39901 ticks: 9975 ticks, snapped to 9980. */
        if (round == 7)
            cr_assert_eq(st.window_width, 9980, "sparse: %lld", (long long)st.window_width);
    }
    tl_stats_t st;
    TLT_OK(tl_stats(log, &st));
    cr_assert_eq(st.window_width, 100);
    cr_assert_geq(st.adaptive_resizes, 2);
    cr_assert_eq(st.adaptive_samples, 12);
    /* Records older than every window and inside old ones still place. */
    batch(log, -50000, 37, 2000, &h);
    uint64_t before = st.records;
    TLT_OK(tl_stats(log, &st));
    cr_assert_eq(st.records, before + 2000);
    tl_close(log);
}

Test(adaptive, late_compaction_uses_the_width_each_run_was_flushed_at) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.maintenance = TL_MAINT_DISABLED;
    cfg.window_size = 1000000;
    cfg.adaptive = on(100);
    tl_log_t *log = NULL;
    TLT_OK(tl_open(&cfg, &log));
    tl_handle_t h = 1;
    /* Dense run (width 100), sparse run (width 10000), dense again, with
     * a small overlap; flushed separately, compacted once at the end. */
    const struct { tl_ts_t t0, step; } runs[] = {{0, 1}, {990, 100}, {200000, 1}};
    for (size_t r = 0; r < 3; r++) {
        for (tl_ts_t i = 0; i < 1000; i++)
            TLT_W(tl_append(log, runs[r].t0 + i * runs[r].step, h++));
        TLT_OK(tl_flush(log));
    }
    cr_assert_eq(log->adapt.width, 100);
    TLT_OK(tl_compact(log));
    check_l1(log);
    const tl_manifest_t *man = log->man;
    size_t narrow = 0, wide = 0;
    for (size_t i = 0; i < man->n_l1; i++) {
        const tl_window_t w = man->l1[i]->window;
        uint64_t width = (uint64_t)w.hi - (uint64_t)w.lo + 1;
        cr_assert_leq(width, 10000);
        if (width <= 100) narrow++;
        if (width > 100) wide++;
    }
    cr_assert_geq(narrow, 19, "dense runs keep their narrow windows (%zu)", narrow);
    cr_assert_geq(wide, 5, "the sparse run gets wide windows (%zu)", wide);
    tl_close(log);
}
