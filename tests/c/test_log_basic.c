/*
 * test_log_basic.c: behaviour tests of the public API (timelog.h), one Test per
 * behaviour: lifecycle, configuration checking, empty logs, half-open ranges, duplicates, out-of-order appends and batches.
 * Split from test_log.c by section (suite and test names unchanged); the
 * shared fixture and its rules are in log_fixture.h.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log_fixture.h"

/* ---------------------------------------------------------------- lifecycle */

Test(log, strerror_names_every_status) {
    const tl_status_t all[] = {TL_OK,     TL_EOF,    TL_EBUSY,    TL_ENOMEM,
                               TL_EINVAL, TL_ESTATE, TL_EINTERNAL};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = tl_strerror(all[i]);
        cr_assert(s != NULL && s[0] != '\0', "tl_strerror(%d) is empty", (int)all[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert(strcmp(s, tl_strerror(all[j])) != 0, "codes %d and %d share '%s'",
                      (int)all[i], (int)all[j], s);
    }
    const char *unknown = tl_strerror((tl_status_t)999);
    cr_assert(unknown != NULL && unknown[0] != '\0');
    unknown = tl_strerror((tl_status_t)-1);
    cr_assert(unknown != NULL && unknown[0] != '\0');
}

Test(log, destructors_accept_null) {
    tl_close(NULL);
    tl_snapshot_release(NULL);
    tl_iter_close(NULL);
    tl_spans_close(NULL);
}

Test(log, config_init_fills_size_and_defaults) {
    tl_config_t cfg;
    memset(&cfg, 0xA5, sizeof cfg);
    tl_config_init(&cfg);
    cr_assert_eq(cfg.size, sizeof(tl_config_t));
    cr_assert_eq(cfg.time_unit, TL_UNIT_MS);
    cr_assert_eq(cfg.maintenance, TL_MAINT_BACKGROUND);
    cr_assert_eq(cfg.memtable_max_bytes, 0);
    cr_assert_eq(cfg.target_page_bytes, 0);
    cr_assert_eq(cfg.sealed_max_runs, 0);
    cr_assert_eq(cfg.max_delta_segments, 0);
    cr_assert_eq(cfg.window_size, 0);
    cr_assert_eq(cfg.window_origin, 0);
    cr_assert(cfg.delete_debt_threshold == 0.0);
    cr_assert_null(cfg.alloc.malloc_fn);
    cr_assert_null(cfg.alloc.realloc_fn);
    cr_assert_null(cfg.alloc.free_fn);
    cr_assert_null(cfg.on_drop);
    TLT_OK(tl_config_check(&cfg, NULL));
    const char *why = NULL;
    TLT_OK(tl_config_check(&cfg, &why));
}

Test(log, open_close_with_defaults) {
    TLT_ENV(env);
    tl_log_t *log = NULL;
    TLT_OK(tlt_open(&env, NULL, &log));
    TLT_VALID(log);
    TLT_W(tl_append(log, 5, 1));
    TLT_W(tl_append(log, 3, 2));
    TLT_VALID(log);
    tl_stats_t st;
    TLT_OK(tl_stats(log, &st));
    cr_assert_eq(st.records, 2);
    tlt_close(&env);
    tlt_drops_assert_range_once(&env.drops, 1, 3);
    tlt_env_teardown(&env);
}

Test(log, open_close_with_libc_allocator) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.maintenance = TL_MAINT_DISABLED;
    tl_log_t *log = NULL;
    TLT_OK(tl_open(&cfg, &log));
    for (int i = 0; i < 1000; i++) TLT_W(tl_append(log, 1000 - i, (tl_handle_t)i));
    TLT_OK(tl_compact(log));
    TLT_VALID(log);
    tl_close(log);
}

Test(log, open_close_with_every_knob) {
    const tl_maintenance_t modes[] = {TL_MAINT_DISABLED, TL_MAINT_BACKGROUND};
    const tl_time_unit_t units[] = {TL_UNIT_S, TL_UNIT_MS, TL_UNIT_US, TL_UNIT_NS};
    for (size_t mi = 0; mi < 2; mi++) {
        for (size_t ui = 0; ui < 4; ui++) {
            fx_t f;
            tl_config_t cfg;
            tl_config_init(&cfg);
            cfg.time_unit = units[ui];
            cfg.maintenance = modes[mi];
            cfg.memtable_max_bytes = 8192;
            cfg.target_page_bytes = 512;
            cfg.sealed_max_runs = 3;
            cfg.ooo_budget_bytes = 2048;
            cfg.sealed_wait_ms = 1;
            cfg.maintenance_wakeup_ms = 1;
            cfg.drain_batch_limit = 5;
            cfg.max_delta_segments = 3;
            cfg.window_size = 1000;
            cfg.window_origin = -17;
            cfg.delete_debt_threshold = 0.25;
            cfg.compaction_target_bytes = 4096;
            cfg.compaction_max_inputs = 2;
            cfg.compaction_max_windows = 3;
            TLT_OK(tl_config_check(&cfg, NULL));
            fx_open(&f, &cfg);
            for (int i = 0; i < 3000; i++) fx_append(&f, (tl_ts_t)((i * 7919) % 5000));
            fx_delete_range(&f, 1000, 2000);
            fx_check(&f);
            TLT_OK(tl_flush(f.log));
            TLT_OK(tl_compact(f.log));
            fx_check(&f);
            /* drain_batch_limit = 5 bounds a limit-0 drain. */
            size_t n = 99;
            TLT_OK(tl_drain_retired(f.log, 0, &n));
            cr_assert_leq(n, 5, "drain with limit 0 released %zu > drain_batch_limit 5", n);
            fx_settle_drops(&f);
            fx_finish(&f);
        }
    }
}

/* ---------------------------------------------------------------- config */

static void expect_invalid(const tl_config_t *cfg, const char *field) {
    const char *why = NULL;
    TLT_ST(tl_config_check(cfg, &why), TL_EINVAL);
    cr_assert(why != NULL && why[0] != '\0', "no why for invalid %s", field);
    cr_assert(names_field(why, field), "why '%s' does not name %s", why, field);
    TLT_ST(tl_config_check(cfg, NULL), TL_EINVAL);
    tl_log_t *log = (tl_log_t *)(uintptr_t)1;
    TLT_ST(tl_open(cfg, &log), TL_EINVAL);
    cr_assert_null(log, "tl_open left *out set on TL_EINVAL");
}

static void expect_valid(const tl_config_t *cfg) {
    const char *why = NULL;
    tl_status_t st = tl_config_check(cfg, &why);
    cr_assert_eq(st, TL_OK, "config rejected: %s", why ? why : "?");
}

/* The config checks as one table: each row sets one field of a default
 * config to one value, and says whether tl_config_check (and tl_open) must
 * accept it; a rejection must name the field. Each Test below runs the rows
 * of its field(s). */
typedef enum {
    CF_WINDOW_SIZE,
    CF_WINDOW_ORIGIN,
    CF_DEBT,
    CF_TIME_UNIT,
    CF_MAINTENANCE,
    CF_SIZE
} cfg_field_t;

typedef struct cfg_row {
    cfg_field_t field;
    bool valid;
    int64_t i; /* the value, for integer and enum fields */
    double d;  /* the value, for delete_debt_threshold */
} cfg_row_t;

static const char *const k_cfg_names[] = {
    [CF_WINDOW_SIZE] = "window_size",    [CF_WINDOW_ORIGIN] = "window_origin",
    [CF_DEBT] = "delete_debt_threshold", [CF_TIME_UNIT] = "time_unit",
    [CF_MAINTENANCE] = "maintenance",    [CF_SIZE] = "size",
};

#define BAD_I(f, v) \
    { f, false, (v), 0.0 }
#define OK_I(f, v) \
    { f, true, (v), 0.0 }
#define BAD_D(v) \
    { CF_DEBT, false, 0, (v) }
#define OK_D(v) \
    { CF_DEBT, true, 0, (v) }

static const cfg_row_t k_cfg_rows[] = {
    BAD_I(CF_WINDOW_SIZE, -1),
    BAD_I(CF_WINDOW_SIZE, INT64_MIN),
    OK_I(CF_WINDOW_SIZE, 1),
    OK_I(CF_WINDOW_SIZE, INT64_MAX),
    OK_I(CF_WINDOW_ORIGIN, INT64_MIN),
    OK_I(CF_WINDOW_ORIGIN, INT64_MIN + 1),
    OK_I(CF_WINDOW_ORIGIN, -1),
    OK_I(CF_WINDOW_ORIGIN, 0),
    OK_I(CF_WINDOW_ORIGIN, 1),
    OK_I(CF_WINDOW_ORIGIN, INT64_MAX - 1),
    OK_I(CF_WINDOW_ORIGIN, INT64_MAX),
    BAD_D(-0.01),
    BAD_D(-1.0),
    BAD_D(1.0001),
    BAD_D(2.0),
    BAD_D(INFINITY),
    BAD_D(-INFINITY),
    BAD_D(NAN),
    BAD_D(-NAN),
    OK_D(0.0),
    OK_D(0.5),
    OK_D(1.0),
    BAD_I(CF_TIME_UNIT, 4),
    BAD_I(CF_TIME_UNIT, -1),
    OK_I(CF_TIME_UNIT, TL_UNIT_NS),
    BAD_I(CF_MAINTENANCE, 2),
    BAD_I(CF_MAINTENANCE, -1),
    OK_I(CF_MAINTENANCE, TL_MAINT_DISABLED),
    BAD_I(CF_SIZE, (int64_t)sizeof(tl_config_t) - 1),
    BAD_I(CF_SIZE, 0),
    BAD_I(CF_SIZE, 8),
};

static void cfg_apply(tl_config_t *cfg, const cfg_row_t *r) {
    switch (r->field) {
    case CF_WINDOW_SIZE: cfg->window_size = r->i; break;
    case CF_WINDOW_ORIGIN: cfg->window_origin = r->i; break;
    case CF_DEBT: cfg->delete_debt_threshold = r->d; break;
    case CF_TIME_UNIT: cfg->time_unit = (tl_time_unit_t)r->i; break;
    case CF_MAINTENANCE: cfg->maintenance = (tl_maintenance_t)r->i; break;
    case CF_SIZE: cfg->size = (size_t)r->i; break;
    }
}

/* Runs every row of `field`; fails if the table has none (a typo in a
 * Test must not pass by checking nothing). */
static void run_cfg_rows(cfg_field_t field, bool want_bad, bool want_good) {
    size_t bad = 0, good = 0;
    for (size_t k = 0; k < sizeof k_cfg_rows / sizeof k_cfg_rows[0]; k++) {
        const cfg_row_t *r = &k_cfg_rows[k];
        if (r->field != field) continue;
        tl_config_t cfg;
        tl_config_init(&cfg);
        cfg_apply(&cfg, r);
        if (r->valid) {
            expect_valid(&cfg);
            good++;
        } else {
            expect_invalid(&cfg, k_cfg_names[field]);
            bad++;
        }
    }
    cr_assert(bad > 0 || !want_bad, "no rejected value of %s in the table", k_cfg_names[field]);
    cr_assert(good > 0 || !want_good, "no accepted value of %s in the table", k_cfg_names[field]);
}

Test(log, config_check_rejects_negative_window_size) { run_cfg_rows(CF_WINDOW_SIZE, true, true); }

Test(log, config_check_accepts_any_window_origin) { run_cfg_rows(CF_WINDOW_ORIGIN, false, true); }

Test(log, config_check_rejects_delete_debt_threshold_outside_unit_interval) {
    run_cfg_rows(CF_DEBT, true, true);
}

/* NaN compares false with everything, so a range check written as two
 * comparisons lets it through; the rows hold both signs of NaN. */
Test(log, config_check_rejects_nan_threshold) {
    size_t nans = 0;
    for (size_t k = 0; k < sizeof k_cfg_rows / sizeof k_cfg_rows[0]; k++) {
        const cfg_row_t *r = &k_cfg_rows[k];
        if (r->field != CF_DEBT || !isnan(r->d)) continue;
        cr_assert(!r->valid);
        tl_config_t cfg;
        tl_config_init(&cfg);
        cfg_apply(&cfg, r);
        expect_invalid(&cfg, "delete_debt_threshold");
        nans++;
    }
    cr_assert_eq(nans, 2);
}

Test(log, config_check_rejects_bad_time_unit) { run_cfg_rows(CF_TIME_UNIT, true, true); }

Test(log, config_check_rejects_bad_maintenance) { run_cfg_rows(CF_MAINTENANCE, true, true); }

Test(log, config_check_rejects_small_size_field) { run_cfg_rows(CF_SIZE, true, false); }

Test(log, open_rejects_invalid_config_without_allocating) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_config(&env, &cfg);
    cfg.window_size = -5;
    tl_log_t *log = (tl_log_t *)(uintptr_t)1;
    TLT_ST(tl_open(&cfg, &log), TL_EINVAL);
    cr_assert_null(log);
    cr_assert_eq(tlt_alloc_live_bytes(&env.alloc), 0);
    tlt_env_teardown(&env);
}

/* ---------------------------------------------------------------- empty */

static void expect_empty_snapshot(tl_log_t *log) {
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(log, &snap));
    cr_assert_not_null(snap);
    uint64_t c = 77;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, 0);
    TLT_OK(tl_count_range(snap, INT64_MIN, INT64_MAX, &c));
    cr_assert_eq(c, 0);
    TLT_OK(tl_count_since(snap, INT64_MIN, &c));
    cr_assert_eq(c, 0);
    tl_ts_t t = 0x5EED;
    TLT_ST(tl_min_ts(snap, &t), TL_EOF);
    TLT_ST(tl_max_ts(snap, &t), TL_EOF);
    TLT_ST(tl_next_ts(snap, INT64_MIN, &t), TL_EOF);
    TLT_ST(tl_prev_ts(snap, INT64_MAX, &t), TL_EOF);
    TLT_ST(tl_next_ts(snap, 0, &t), TL_EOF);
    TLT_ST(tl_prev_ts(snap, 0, &t), TL_EOF);
    cr_assert_eq(t, 0x5EED, "a TL_EOF neighbour query wrote *out");
    tl_iter_t *its[5] = {NULL};
    TLT_OK(tl_iter_all(snap, &its[0]));
    TLT_OK(tl_iter_range(snap, INT64_MIN, INT64_MAX, &its[1]));
    TLT_OK(tl_iter_since(snap, INT64_MIN, &its[2]));
    TLT_OK(tl_iter_until(snap, INT64_MAX, &its[3]));
    TLT_OK(tl_iter_point(snap, 0, &its[4]));
    for (int i = 0; i < 5; i++) {
        tl_ts_t ts;
        tl_handle_t h;
        uint64_t rem = 9;
        TLT_OK(tl_iter_remaining(its[i], &rem));
        cr_assert_eq(rem, 0);
        TLT_ST(tl_iter_next(its[i], &ts, &h), TL_EOF);
        TLT_ST(tl_iter_next(its[i], &ts, &h), TL_EOF); /* stays exhausted */
        tl_iter_close(its[i]);
    }
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    tl_span_t span;
    TLT_ST(tl_spans_next(sp, &span), TL_EOF);
    tl_spans_close(sp);
    tl_snapshot_release(snap);
    tl_stats_t st;
    TLT_OK(tl_stats(log, &st));
    cr_assert_eq(st.records, 0);
    cr_assert(st.min_ts > st.max_ts, "empty stats: min_ts %lld <= max_ts %lld",
              (long long)st.min_ts, (long long)st.max_ts);
}

Test(log, empty_log_reads_report_nothing) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    tl_log_t *log = NULL;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    expect_empty_snapshot(log);
    TLT_OK(tl_flush(log));
    TLT_OK(tl_compact(log));
    TLT_ST(tl_maint_step(log), TL_EOF);
    size_t n = 9;
    TLT_OK(tl_drain_retired(log, 0, &n));
    cr_assert_eq(n, 0);
    cr_assert_eq(tl_retired_len(log), 0);
    TLT_VALID(log);
    expect_empty_snapshot(log);
    tlt_env_teardown(&env);
}

Test(log, log_emptied_by_deletes_reads_like_an_empty_log) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    fx_delete_all(&f);
    expect_empty_snapshot(f.log);
    TLT_OK(tl_flush(f.log));
    expect_empty_snapshot(f.log);
    TLT_OK(tl_compact(f.log));
    expect_empty_snapshot(f.log);
    fx_settle_drops(&f);
    tl_stats_t st;
    TLT_OK(tl_stats(f.log, &st));
    cr_assert_eq(st.physical_records, 0, "compaction kept %llu deleted records",
                 (unsigned long long)st.physical_records);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- ranges */

Test(log, ranges_are_half_open) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, 10);
    fx_append(&f, 20);
    fx_append(&f, 30);
    for (int layer = 0; layer < 3; layer++) {
        tlt_expect_range(f.log, &f.m, 10, 30); /* 10, 20 */
        tlt_expect_range(f.log, &f.m, 11, 30); /* 20 */
        tlt_expect_range(f.log, &f.m, 10, 31); /* all */
        tlt_expect_range(f.log, &f.m, 20, 21); /* 20 */
        tlt_expect_range(f.log, &f.m, 20, 20); /* empty */
        tl_snapshot_t *snap = NULL;
        TLT_OK(tl_snapshot_acquire(f.log, &snap));
        uint64_t c;
        TLT_OK(tl_count_range(snap, 10, 30, &c));
        cr_assert_eq(c, 2);
        TLT_OK(tl_count_since(snap, 20, &c));
        cr_assert_eq(c, 2);
        tl_iter_t *it = NULL;
        TLT_OK(tl_iter_until(snap, 20, &it));
        tlt_expect_iter(it, f.m.r, 1, "until(20)");
        tl_iter_close(it);
        TLT_OK(tl_iter_since(snap, 20, &it));
        tlt_expect_iter(it, f.m.r + 1, 2, "since(20)");
        tl_iter_close(it);
        TLT_OK(tl_iter_point(snap, 20, &it));
        tlt_expect_iter(it, f.m.r + 1, 1, "point(20)");
        tl_iter_close(it);
        tl_snapshot_release(snap);
        if (layer == 0)
            TLT_OK(tl_flush(f.log));
        else if (layer == 1)
            TLT_OK(tl_compact(f.log));
    }
    fx_delete_range(&f, 20, 30); /* removes 20 only */
    cr_assert_eq(f.m.n, 2);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, empty_range_is_not_an_error) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 50; i++) fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    fx_append(&f, 7);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    const tl_ts_t pairs[][2] = {
        {5, 5}, {6, 5}, {INT64_MAX, INT64_MIN}, {INT64_MAX, INT64_MAX}, {INT64_MIN, INT64_MIN},
        {49, 0}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        tl_ts_t a = pairs[i][0], b = pairs[i][1];
        uint64_t c = 9;
        TLT_OK(tl_count_range(snap, a, b, &c));
        cr_assert_eq(c, 0);
        tl_iter_t *it = NULL;
        TLT_OK(tl_iter_range(snap, a, b, &it));
        tlt_expect_iter(it, NULL, 0, "empty range");
        tl_iter_close(it);
        tl_span_iter_t *sp = NULL;
        TLT_OK(tl_spans_range(snap, a, b, &sp));
        tl_span_t span;
        tl_status_t st;
        while ((st = tl_spans_next(sp, &span)) == TL_OK)
            cr_assert_eq(span.n, 0, "empty range [%lld, %lld) produced a span of %zu", (long long)a,
                         (long long)b, span.n);
        cr_assert_eq(st, TL_EOF);
        tl_spans_close(sp);
        fx_delete_range(&f, a, b); /* a no-op, not an error */
    }
    tl_snapshot_release(snap);
    cr_assert_eq(f.m.n, 51);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, duplicates_are_kept) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 5; i++) fx_append(&f, 5);
    fx_append(&f, 4);
    TLT_OK(tl_flush(f.log));
    for (int i = 0; i < 3; i++) fx_append(&f, 5);
    TLT_OK(tl_compact(f.log));
    for (int i = 0; i < 400; i++) /* a run of duplicates across pages and a seal */
        fx_append(&f, 5);
    fx_append(&f, 6);
    fx_check(&f);
    tlt_expect_range(f.log, &f.m, 5, 6);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_point(snap, 5, &it));
    size_t i0 = tlt_model_lower(&f.m, 5), i1 = tlt_model_upper(&f.m, 5);
    cr_assert_eq(i1 - i0, 408);
    tlt_expect_iter(it, f.m.r + i0, i1 - i0, "point(5)");
    tl_iter_close(it);
    tl_snapshot_release(snap);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    tlt_expect_range(f.log, &f.m, 5, 6);
    fx_finish(&f);
}

Test(log, out_of_order_appends_come_back_sorted) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 2000; i++) fx_append(&f, (tl_ts_t)((i * 7919) % 1000) - 500);
    fx_check(&f);
    check_ranges(&f);
    TLT_OK(tl_flush(f.log));
    fx_check(&f);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_ranges(&f);
    fx_finish(&f);
}

static const tl_ts_t k_extremes[] = TLT_EXTREMES;
#define N_EXTREMES (sizeof k_extremes / sizeof k_extremes[0])

/* ---------------------------------------------------------------- batches */

static void batch_case(const tl_ts_t *ts, size_t n) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 20; i++) fx_append(&f, i * 10);
    fx_batch(&f, ts, n);
    fx_check(&f);
    check_ranges(&f);
    TLT_OK(tl_flush(f.log));
    fx_batch(&f, ts, n); /* the same batch again: duplicates of every record */
    fx_check(&f);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_ranges(&f);
    fx_finish(&f);
}

Test(log, append_batch_sorted) {
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++) ts[i] = i - 10;
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_reverse_sorted) {
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++) ts[i] = 1000 - i;
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_random) {
    tlt_rng_t r;
    tlt_rng_seed(&r, 7);
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++) ts[i] = tlt_rng_range(&r, -100, 1100);
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_duplicate_heavy) {
    tlt_rng_t r;
    tlt_rng_seed(&r, 8);
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++) ts[i] = tlt_rng_range(&r, 0, 3) * 100;
    batch_case(ts, 1000);
    for (int i = 0; i < 1000; i++) ts[i] = 500;
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_with_int64_extremes) {
    tl_ts_t ts[2 * N_EXTREMES];
    for (size_t i = 0; i < N_EXTREMES; i++) {
        ts[i] = k_extremes[N_EXTREMES - 1 - i];
        ts[N_EXTREMES + i] = k_extremes[i];
    }
    batch_case(ts, 2 * N_EXTREMES);
}

Test(log, append_batch_of_zero_records_is_a_no_op) {
    fx_t f;
    fx_open(&f, NULL);
    tl_ts_t ts[1] = {5};
    tl_handle_t h[1] = {FX_CAP - 1};
    TLT_OK(tl_append_batch(f.log, ts, h, 0));
    fx_check(&f);
    fx_append(&f, 3);
    TLT_OK(tl_append_batch(f.log, ts, h, 0));
    TLT_OK(tl_flush(f.log));
    TLT_OK(tl_append_batch(f.log, ts, h, 0));
    fx_check(&f);
    cr_assert_eq(f.m.n, 1);
    fx_finish(&f);
}

Test(log, append_batch_of_zero_records_accepts_null_arrays) {
    fx_t f;
    fx_open(&f, NULL);
    TLT_OK(tl_append_batch(f.log, NULL, NULL, 0));
    fx_check(&f);
    fx_finish(&f);
}
