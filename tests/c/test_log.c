/*
 * test_log.c: behaviour tests of the public API (timelog.h), one Test per
 * behaviour. Every test that opens a log runs it on the counting allocator
 * (test_util.h) and ends with tlt_env_teardown, which fails on a live byte,
 * an allocator error or a handle dropped twice; fx_finish also checks that
 * every handle ever stored was passed to on_drop exactly once. Small
 * memtables, pages and windows make seals, flushes and compactions happen
 * within a few hundred records. Maintenance is disabled (deterministic)
 * unless a test is about the background worker.
 *
 * The model (tlt_model_t) applies each delete to the records present when
 * it runs, which is the sequenced-tombstone rule; see test_model.c.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

/* ---------------------------------------------------------------- fixture */

/* A log plus the reference model of what it must contain. Handles are
 * 1, 2, 3, ... in append order; dead[h] marks records a delete removed
 * (their handles must be dropped by flush + compact + drain). */
typedef struct fx {
    tlt_env_t env;
    tl_log_t *log;
    tlt_model_t m;
    tl_handle_t next_h;
    uint8_t *dead;
    tlt_rng_t rng;
} fx_t;

#define FX_CAP ((size_t)1 << 16)

static void fx_open(fx_t *f, tl_config_t *cfg_or_null) {
    tlt_env_setup(&f->env, FX_CAP);
    tlt_model_init(&f->m);
    f->next_h = 1;
    f->dead = calloc(FX_CAP, 1);
    cr_assert_not_null(f->dead);
    tlt_rng_seed(&f->rng, 42);
    tl_config_t cfg;
    if (cfg_or_null == NULL) {
        tlt_small_config(&f->env, &cfg);
        cfg_or_null = &cfg;
    }
    TLT_OK(tlt_open_cfg(&f->env, cfg_or_null, &f->log));
    TLT_VALID(f->log);
}

/* Closes the log, checks that every handle ever appended was dropped
 * exactly once, then the env teardown (no leak). */
static void fx_finish(fx_t *f) {
    tlt_close(&f->env);
    f->log = NULL;
    tlt_drops_assert_range_once(&f->env.drops, 1, f->next_h);
    cr_assert_eq(tlt_drops_total(&f->env.drops), f->next_h - 1,
                 "on_drop called %llu times for %llu handles",
                 (unsigned long long)tlt_drops_total(&f->env.drops),
                 (unsigned long long)(f->next_h - 1));
    tlt_env_teardown(&f->env);
    tlt_model_free(&f->m);
    free(f->dead);
}

static void mark_dead(void *ctx, tl_handle_t h) {
    ((fx_t *)ctx)->dead[h] = 1;
}

static tl_handle_t fx_append(fx_t *f, tl_ts_t ts) {
    tl_handle_t h = f->next_h++;
    cr_assert_lt(h, FX_CAP);
    TLT_W(tl_append(f->log, ts, h));
    tlt_model_add(&f->m, ts, h);
    return h;
}

/* Appends n records with the given timestamps through tl_append_batch. */
static void fx_batch(fx_t *f, const tl_ts_t *ts, size_t n) {
    tl_handle_t *h = malloc((n ? n : 1) * sizeof *h);
    cr_assert_not_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = f->next_h++;
    cr_assert_lt(f->next_h, FX_CAP);
    TLT_W(tl_append_batch(f->log, ts, h, n));
    tlt_model_add_batch(&f->m, ts, h, n);
    free(h);
}

static void fx_delete_range(fx_t *f, tl_ts_t t1, tl_ts_t t2) {
    TLT_W(tl_delete_range(f->log, t1, t2));
    if (t1 < t2)
        tlt_model_delete_incl(&f->m, t1, t2 - 1, mark_dead, f);
}

static void fx_delete_since(fx_t *f, tl_ts_t t1) {
    TLT_W(tl_delete_since(f->log, t1));
    tlt_model_delete_incl(&f->m, t1, INT64_MAX, mark_dead, f);
}

static void fx_delete_before(fx_t *f, tl_ts_t t2) {
    TLT_W(tl_delete_before(f->log, t2));
    if (t2 > INT64_MIN)
        tlt_model_delete_incl(&f->m, INT64_MIN, t2 - 1, mark_dead, f);
}

static void fx_delete_ts(fx_t *f, tl_ts_t ts) {
    TLT_W(tl_delete_ts(f->log, ts));
    tlt_model_delete_incl(&f->m, ts, ts, mark_dead, f);
}

static void fx_delete_all(fx_t *f) {
    TLT_W(tl_delete_all(f->log));
    tlt_model_delete_incl(&f->m, INT64_MIN, INT64_MAX, mark_dead, f);
}

/* validate + full comparison against the model. */
static void fx_check(fx_t *f) {
    tlt_alloc_check(&f->env.alloc); /* guard words, sizes passed to free */
    TLT_VALID(f->log);
    tlt_expect_model(f->log, &f->m);
}

/* flush + compact + drain: afterwards exactly the dead handles were dropped. */
static void fx_settle_drops(fx_t *f) {
    TLT_OK(tl_flush(f->log));
    TLT_OK(tl_compact(f->log));
    tlt_drain_all(f->log);
    for (tl_handle_t h = 1; h < f->next_h; h++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, h), (uint32_t)f->dead[h],
                     "after flush+compact+drain handle %llu dropped %u times, want %u",
                     (unsigned long long)h, tlt_drops_of(&f->env.drops, h), f->dead[h]);
}

/* Records in every layer, tombstones over every layer, both int64 ends. */
static void fx_mixed_state(fx_t *f) {
    for (int i = 0; i < 300; i++)
        fx_append(f, (tl_ts_t)((i * 37) % 1000));
    fx_append(f, INT64_MIN);
    fx_append(f, INT64_MAX);
    TLT_OK(tl_compact(f->log));                    /* -> L1 */
    fx_delete_range(f, 100, 200);                  /* over L1 */
    for (int i = 0; i < 200; i++)
        fx_append(f, tlt_rng_range(&f->rng, 0, 999));
    fx_append(f, INT64_MAX);
    TLT_OK(tl_flush(f->log));                      /* -> L0 */
    fx_delete_range(f, 500, 520);                  /* over L1 + L0 */
    fx_delete_ts(f, 37);
    for (int i = 0; i < 60; i++)
        fx_append(f, tlt_rng_range(&f->rng, 0, 999)); /* memtable */
    fx_append(f, INT64_MIN);
    fx_delete_range(f, 900, 950);                  /* over every layer */
    for (int i = 0; i < 10; i++)
        fx_append(f, 900 + i);                     /* written after: visible */
}

/* Query points around every record plus the extremes. */
static void neighbour_probe(tlt_model_t *m, tl_snapshot_t *snap, tl_ts_t q) {
    tl_ts_t want, got = 0x5EED;
    bool has = tlt_model_next(m, q, &want);
    tl_status_t st = tl_next_ts(snap, q, &got);
    if (has) {
        cr_assert_eq(st, TL_OK, "next_ts(%lld) -> %s", (long long)q, tl_strerror(st));
        cr_assert_eq(got, want, "next_ts(%lld) = %lld, want %lld", (long long)q,
                     (long long)got, (long long)want);
    } else {
        cr_assert_eq(st, TL_EOF, "next_ts(%lld) -> %s (got %lld), want TL_EOF", (long long)q,
                     tl_strerror(st), (long long)got);
        cr_assert_eq(got, 0x5EED, "next_ts wrote *out on TL_EOF");
    }
    got = 0x5EED;
    has = tlt_model_prev(m, q, &want);
    st = tl_prev_ts(snap, q, &got);
    if (has) {
        cr_assert_eq(st, TL_OK, "prev_ts(%lld) -> %s", (long long)q, tl_strerror(st));
        cr_assert_eq(got, want, "prev_ts(%lld) = %lld, want %lld", (long long)q,
                     (long long)got, (long long)want);
    } else {
        cr_assert_eq(st, TL_EOF, "prev_ts(%lld) -> %s (got %lld), want TL_EOF", (long long)q,
                     tl_strerror(st), (long long)got);
        cr_assert_eq(got, 0x5EED, "prev_ts wrote *out on TL_EOF");
    }
}

static void check_neighbours(tl_log_t *log, tlt_model_t *m) {
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(log, &snap));
    const tl_ts_t fixed[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, 99, 100, 500, 999, 1000,
                             INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        neighbour_probe(m, snap, fixed[i]);
    for (size_t i = 0; i < m->n; i += 3) {
        neighbour_probe(m, snap, m->r[i].ts);
        neighbour_probe(m, snap, tlt_sat_add(m->r[i].ts, -1));
        neighbour_probe(m, snap, tlt_sat_add(m->r[i].ts, 1));
    }
    tl_snapshot_release(snap);
}

/* Ranges worth checking against the model. */
static void check_ranges(fx_t *f) {
    const tl_ts_t edges[] = {INT64_MIN, INT64_MIN + 1, -5, 0, 37, 100, 199, 200, 500,
                             521, 900, 950, 999, 1000, INT64_MAX - 1, INT64_MAX};
    size_t ne = sizeof edges / sizeof edges[0];
    for (size_t i = 0; i < ne; i++)
        for (size_t j = 0; j < ne; j += 2)
            tlt_expect_range(f->log, &f->m, edges[i], edges[j]);
    for (int k = 0; k < 40; k++) {
        tl_ts_t a = tlt_rng_range(&f->rng, -10, 1010);
        tl_ts_t b = tlt_rng_range(&f->rng, -10, 1010);
        tlt_expect_range(f->log, &f->m, a, b);
    }
}

static tl_ts_t *ts_array(size_t n) {
    tl_ts_t *ts = malloc((n ? n : 1) * sizeof *ts);
    cr_assert_not_null(ts);
    return ts;
}

/* ---------------------------------------------------------------- lifecycle */

Test(log, strerror_names_every_status) {
    const tl_status_t all[] = {TL_OK, TL_EOF, TL_EBUSY, TL_ENOMEM, TL_EINVAL, TL_ESTATE,
                               TL_EINTERNAL};
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
    for (int i = 0; i < 1000; i++)
        TLT_W(tl_append(log, 1000 - i, (tl_handle_t)i));
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
            for (int i = 0; i < 3000; i++)
                fx_append(&f, (tl_ts_t)((i * 7919) % 5000));
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

static bool names_field(const char *why, const char *field) {
    if (strstr(why, field) != NULL)
        return true;
    char spaced[64];
    snprintf(spaced, sizeof spaced, "%s", field);
    for (char *p = spaced; *p; p++)
        if (*p == '_')
            *p = ' ';
    return strstr(why, spaced) != NULL;
}

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

Test(log, config_check_rejects_negative_window_size) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.window_size = -1;
    expect_invalid(&cfg, "window_size");
    cfg.window_size = INT64_MIN;
    expect_invalid(&cfg, "window_size");
    cfg.window_size = 1;
    expect_valid(&cfg);
    cfg.window_size = INT64_MAX;
    expect_valid(&cfg);
}

Test(log, config_check_accepts_any_window_origin) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    const tl_ts_t origins[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < sizeof origins / sizeof origins[0]; i++) {
        cfg.window_origin = origins[i];
        expect_valid(&cfg);
    }
}

Test(log, config_check_rejects_delete_debt_threshold_outside_unit_interval) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    const double bad[] = {-0.01, -1.0, 1.0001, 2.0, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.delete_debt_threshold = bad[i];
        expect_invalid(&cfg, "delete_debt_threshold");
    }
    const double good[] = {0.0, 0.5, 1.0};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cfg.delete_debt_threshold = good[i];
        expect_valid(&cfg);
    }
}

Test(log, config_check_rejects_nan_threshold) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.delete_debt_threshold = NAN;
    expect_invalid(&cfg, "delete_debt_threshold");
    cfg.delete_debt_threshold = -NAN;
    expect_invalid(&cfg, "delete_debt_threshold");
}

Test(log, config_check_rejects_bad_time_unit) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.time_unit = (tl_time_unit_t)4;
    expect_invalid(&cfg, "time_unit");
    cfg.time_unit = (tl_time_unit_t)-1;
    expect_invalid(&cfg, "time_unit");
    cfg.time_unit = TL_UNIT_NS;
    expect_valid(&cfg);
}

Test(log, config_check_rejects_bad_maintenance) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.maintenance = (tl_maintenance_t)2;
    expect_invalid(&cfg, "maintenance");
    cfg.maintenance = (tl_maintenance_t)-1;
    expect_invalid(&cfg, "maintenance");
    cfg.maintenance = TL_MAINT_DISABLED;
    expect_valid(&cfg);
}

Test(log, config_check_rejects_small_size_field) {
    tl_config_t cfg;
    tl_config_init(&cfg);
    cfg.size = sizeof(tl_config_t) - 1;
    expect_invalid(&cfg, "size");
    cfg.size = 0;
    expect_invalid(&cfg, "size");
    cfg.size = 8;
    expect_invalid(&cfg, "size");
}

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
    for (int i = 0; i < 50; i++)
        fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    fx_append(&f, 7);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    const tl_ts_t pairs[][2] = {{5, 5}, {6, 5}, {INT64_MAX, INT64_MIN}, {INT64_MAX, INT64_MAX},
                                {INT64_MIN, INT64_MIN}, {49, 0}};
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
            cr_assert_eq(span.n, 0, "empty range [%lld, %lld) produced a span of %zu",
                         (long long)a, (long long)b, span.n);
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
    for (int i = 0; i < 5; i++)
        fx_append(&f, 5);
    fx_append(&f, 4);
    TLT_OK(tl_flush(f.log));
    for (int i = 0; i < 3; i++)
        fx_append(&f, 5);
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
    for (int i = 0; i < 2000; i++)
        fx_append(&f, (tl_ts_t)((i * 7919) % 1000) - 500);
    fx_check(&f);
    check_ranges(&f);
    TLT_OK(tl_flush(f.log));
    fx_check(&f);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_ranges(&f);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- deletes */

Test(log, delete_hides_only_earlier_writes) {
    /* append(10, A); delete [5, 15); append(10, B) -> only B, with a flush
     * (or not) after each step and a compaction (or not) at the end. */
    for (int mask = 0; mask < 16; mask++) {
        fx_t f;
        fx_open(&f, NULL);
        fx_append(&f, 10);
        if (mask & 1)
            TLT_OK(tl_flush(f.log));
        fx_delete_range(&f, 5, 15);
        if (mask & 2)
            TLT_OK(tl_flush(f.log));
        tl_handle_t b = fx_append(&f, 10);
        if (mask & 4)
            TLT_OK(tl_flush(f.log));
        if (mask & 8)
            TLT_OK(tl_compact(f.log));
        cr_assert_eq(f.m.n, 1);
        cr_assert_eq(f.m.r[0].h, b);
        fx_check(&f);
        TLT_OK(tl_compact(f.log));
        fx_check(&f);
        fx_settle_drops(&f);
        fx_finish(&f);
    }
}

Test(log, delete_range_then_append_into_it) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 100; i++)
        fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    fx_delete_range(&f, 20, 60);
    fx_append(&f, 30);
    fx_append(&f, 40);
    fx_append(&f, 20);
    fx_append(&f, 59);
    fx_check(&f);
    tlt_expect_range(f.log, &f.m, 15, 65);
    TLT_OK(tl_flush(f.log));
    fx_delete_range(&f, 40, 41); /* hides the new 40 too */
    fx_append(&f, 40);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    tlt_expect_range(f.log, &f.m, 15, 65);
    cr_assert_eq(tlt_model_count(&f.m, 20, 60), 4);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, delete_since_reaches_int64_max) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, 0);
    fx_append(&f, INT64_MAX - 1);
    fx_append(&f, INT64_MAX);
    fx_append(&f, INT64_MAX);
    TLT_OK(tl_flush(f.log));
    fx_append(&f, INT64_MAX);
    fx_delete_since(&f, INT64_MAX);
    cr_assert_eq(f.m.n, 2);
    fx_check(&f);
    fx_delete_since(&f, INT64_MAX - 1);
    cr_assert_eq(f.m.n, 1);
    fx_check(&f);
    fx_append(&f, INT64_MAX);
    fx_delete_since(&f, INT64_MIN);
    cr_assert_eq(f.m.n, 0);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, delete_before_starts_at_int64_min) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, INT64_MIN);
    fx_append(&f, INT64_MIN);
    fx_append(&f, INT64_MIN + 1);
    fx_append(&f, 0);
    TLT_OK(tl_compact(f.log));
    fx_delete_before(&f, INT64_MIN); /* empty range */
    cr_assert_eq(f.m.n, 4);
    fx_check(&f);
    fx_delete_before(&f, INT64_MIN + 1);
    cr_assert_eq(f.m.n, 2);
    fx_check(&f);
    fx_delete_before(&f, INT64_MAX); /* everything but INT64_MAX */
    fx_append(&f, INT64_MAX);
    fx_append(&f, INT64_MIN);
    fx_delete_before(&f, INT64_MAX);
    cr_assert_eq(f.m.n, 1);
    cr_assert_eq(f.m.r[0].ts, INT64_MAX);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, delete_ts_at_int64_extremes) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, INT64_MIN);
    fx_append(&f, INT64_MIN + 1);
    fx_append(&f, INT64_MAX - 1);
    fx_append(&f, INT64_MAX);
    TLT_OK(tl_flush(f.log));
    fx_append(&f, INT64_MAX);
    fx_append(&f, INT64_MIN);
    fx_delete_ts(&f, INT64_MAX);
    fx_check(&f);
    cr_assert_eq(f.m.n, 4);
    fx_delete_ts(&f, INT64_MIN);
    fx_check(&f);
    cr_assert_eq(f.m.n, 2);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, delete_range_min_to_max_keeps_int64_max) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, INT64_MIN);
    fx_append(&f, 0);
    fx_append(&f, INT64_MAX);
    fx_delete_range(&f, INT64_MIN, INT64_MAX);
    cr_assert_eq(f.m.n, 1);
    fx_check(&f);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    fx_finish(&f);
}

Test(log, delete_all_empties_every_layer) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    fx_check(&f);
    fx_delete_all(&f);
    fx_check(&f);
    tl_handle_t h = fx_append(&f, 123);
    fx_check(&f);
    fx_settle_drops(&f);
    cr_assert_eq(tlt_drops_of(&f.env.drops, h), 0);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, iter_since_reaches_int64_max) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, INT64_MAX);
    fx_append(&f, INT64_MAX);
    fx_append(&f, INT64_MIN);
    fx_append(&f, 0);
    for (int step = 0; step < 3; step++) {
        tl_snapshot_t *snap = NULL;
        TLT_OK(tl_snapshot_acquire(f.log, &snap));
        tl_iter_t *it = NULL;
        TLT_OK(tl_iter_since(snap, INT64_MAX, &it));
        tlt_expect_iter(it, f.m.r + 2, 2, "since(MAX)");
        tl_iter_close(it);
        TLT_OK(tl_iter_since(snap, 1, &it));
        tlt_expect_iter(it, f.m.r + 2, 2, "since(1)");
        tl_iter_close(it);
        TLT_OK(tl_iter_point(snap, INT64_MAX, &it));
        tlt_expect_iter(it, f.m.r + 2, 2, "point(MAX)");
        tl_iter_close(it);
        TLT_OK(tl_iter_point(snap, INT64_MIN, &it));
        tlt_expect_iter(it, f.m.r, 1, "point(MIN)");
        tl_iter_close(it);
        TLT_OK(tl_iter_until(snap, INT64_MIN, &it));
        tlt_expect_iter(it, NULL, 0, "until(MIN)");
        tl_iter_close(it);
        TLT_OK(tl_iter_until(snap, INT64_MIN + 1, &it));
        tlt_expect_iter(it, f.m.r, 1, "until(MIN+1)");
        tl_iter_close(it);
        TLT_OK(tl_iter_until(snap, INT64_MAX, &it));
        tlt_expect_iter(it, f.m.r, 2, "until(MAX)");
        tl_iter_close(it);
        uint64_t c;
        TLT_OK(tl_count_since(snap, INT64_MAX, &c));
        cr_assert_eq(c, 2);
        TLT_OK(tl_count_range(snap, INT64_MIN, INT64_MAX, &c));
        cr_assert_eq(c, 2);
        tl_span_iter_t *sp = NULL;
        TLT_OK(tl_spans_since(snap, INT64_MAX, &sp));
        tl_span_t span;
        size_t total = 0;
        while (tl_spans_next(sp, &span) == TL_OK) {
            for (size_t i = 0; i < span.n; i++)
                cr_assert_eq(span.ts[i], INT64_MAX);
            total += span.n;
        }
        tl_spans_close(sp);
        cr_assert_eq(total, step == 0 ? 0 : 2, "spans_since(MAX) gave %zu records", total);
        tl_snapshot_release(snap);
        if (step == 0)
            TLT_OK(tl_flush(f.log));
        else if (step == 1)
            TLT_OK(tl_compact(f.log));
    }
    fx_finish(&f);
}

/* ---------------------------------------------------------------- extremes */

static const tl_ts_t k_extremes[] = {INT64_MIN,      INT64_MIN + 1, INT64_MIN + 99,
                                     INT64_MIN + 100, -101,         -1,
                                     0,              1,             99,
                                     100,            INT64_MAX - 100, INT64_MAX - 1,
                                     INT64_MAX};
#define N_EXTREMES (sizeof k_extremes / sizeof k_extremes[0])

static void extremes_round(tl_ts_t size, tl_ts_t origin) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg); /* fx_open installs the hooks */
    cfg.window_size = size;
    cfg.window_origin = origin;
    fx_open(&f, &cfg);
    for (size_t i = 0; i < N_EXTREMES; i++)
        fx_append(&f, k_extremes[(i * 5) % N_EXTREMES]);
    fx_batch(&f, k_extremes, N_EXTREMES);
    fx_check(&f);
    check_neighbours(f.log, &f.m);
    TLT_OK(tl_flush(f.log));
    fx_check(&f);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_neighbours(f.log, &f.m);
    for (size_t i = 0; i < N_EXTREMES; i++)
        for (size_t j = 0; j < N_EXTREMES; j++)
            tlt_expect_range(f.log, &f.m, k_extremes[i], k_extremes[j]);
    fx_delete_range(&f, INT64_MIN + 1, -1);
    fx_delete_ts(&f, INT64_MAX);
    for (size_t i = 0; i < N_EXTREMES; i++)
        fx_append(&f, k_extremes[i]);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_neighbours(f.log, &f.m);
    tlt_expect_range(f.log, &f.m, INT64_MIN, INT64_MAX);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, int64_extremes_survive_every_layer) {
    extremes_round(100, 0);
}

Test(log, window_arithmetic_does_not_overflow_at_int64_ends) {
    const tl_ts_t cases[][2] = {
        {1, 0},
        {100, INT64_MAX},
        {100, INT64_MIN},
        {100, INT64_MAX - 1},
        {7, INT64_MIN + 3},
        {INT64_MAX, 0},
        {INT64_MAX, INT64_MIN},
        {INT64_MAX, INT64_MAX},
        {INT64_MAX - 1, -1},
        {(tl_ts_t)1 << 62, INT64_MIN + 5},
        {3, INT64_MAX - 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        extremes_round(cases[i][0], cases[i][1]);
}

/* Window index of ts as (negative?, magnitude), computed without overflow. */
static void window_of(tl_ts_t ts, tl_ts_t origin, tl_ts_t size, int *neg, uint64_t *mag) {
    uint64_t usize = (uint64_t)size;
    if (ts >= origin) {
        *neg = 0;
        *mag = ((uint64_t)ts - (uint64_t)origin) / usize;
    } else {
        uint64_t d = (uint64_t)origin - (uint64_t)ts; /* >= 1 */
        *neg = 1;
        *mag = (d - 1) / usize + 1;
    }
}

static size_t l1_segments_for(tl_ts_t origin) {
    fx_t g;
    tl_config_t c2;
    tlt_small_config(NULL, &c2); /* window_size 100 */
    c2.window_origin = origin;
    fx_open(&g, &c2);
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++)
        ts[i] = 999 - i;
    fx_batch(&g, ts, 1000);
    free(ts);
    TLT_OK(tl_compact(g.log));
    fx_check(&g);
    tl_stats_t st;
    TLT_OK(tl_stats(g.log, &st));
    cr_assert_eq(st.l0_segments, 0);
    cr_assert_eq(st.l1_records, 1000);
    /* Every L1 span lies inside one window. */
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(g.log, &snap));
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    tl_span_t span;
    while (tl_spans_next(sp, &span) == TL_OK) {
        if (span.n == 0)
            continue;
        cr_assert_eq(span.level, 2);
        int n0, n1;
        uint64_t m0, m1;
        window_of(span.ts[0], origin, 100, &n0, &m0);
        window_of(span.ts[span.n - 1], origin, 100, &n1, &m1);
        cr_assert(n0 == n1 && m0 == m1, "span [%lld..%lld] crosses a window (origin %lld)",
                  (long long)span.ts[0], (long long)span.ts[span.n - 1], (long long)origin);
    }
    tl_spans_close(sp);
    tl_snapshot_release(snap);
    fx_finish(&g);
    return (size_t)st.l1_segments;
}

Test(log, l1_segments_follow_window_size_and_origin) {
    /* ts 0..999, windows of 100: origin 0 -> 10 windows; 50 -> 11;
     * INT64_MAX (== 7 mod 100) -> 11; INT64_MIN (== 92 mod 100) -> 11;
     * -1000 -> 10. */
    cr_assert_eq(l1_segments_for(0), 10);
    cr_assert_eq(l1_segments_for(50), 11);
    cr_assert_eq(l1_segments_for(INT64_MAX), 11);
    cr_assert_eq(l1_segments_for(INT64_MIN), 11);
    cr_assert_eq(l1_segments_for(-1000), 10);
}

/* ---------------------------------------------------------------- snapshots */

/* Builds a mixed state, pins a snapshot and an iterator, runs `mutate`,
 * then checks that both still see exactly the old state. */
static void isolation_case(void (*mutate)(fx_t *)) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_seq_t seq = tl_snapshot_seq(snap);
    tl_iter_t *early = NULL, *half = NULL;
    TLT_OK(tl_iter_all(snap, &early));
    TLT_OK(tl_iter_range(snap, 0, 1000, &half));
    /* Consume part of one iterator before the mutation. */
    size_t i0, i1;
    tlt_model_slice(&old, 0, 1000, &i0, &i1);
    tl_ts_t *got_ts = ts_array(i1 - i0 + 1); /* +1: room to see an overrun */
    tl_handle_t *got_h = malloc((i1 - i0 + 1) * sizeof *got_h);
    size_t first = (i1 - i0) / 3, n = 0;
    TLT_OK(tl_iter_next_batch(half, got_ts, got_h, first, &n));
    cr_assert_eq(n, first);

    mutate(&f);
    fx_check(&f);

    cr_assert_eq(tl_snapshot_seq(snap), seq);
    tlt_expect_iter(early, old.r, old.n, "iterator opened before the mutation");
    tl_iter_close(early);
    size_t rest = 0;
    tl_status_t st = tl_iter_next_batch(half, got_ts + first, got_h + first,
                                        i1 - i0 - first + 1, &rest);
    cr_assert(st == TL_OK || st == TL_EOF);
    tlt_expect_same(got_ts, got_h, first + rest, old.r + i0, i1 - i0,
                    "iterator half consumed across the mutation");
    tl_iter_close(half);
    free(got_ts);
    free(got_h);
    /* New reads on the old snapshot see the old state as well. */
    tl_iter_t *late = NULL;
    TLT_OK(tl_iter_all(snap, &late));
    tlt_expect_iter(late, old.r, old.n, "iterator opened on the old snapshot afterwards");
    tl_iter_close(late);
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, old.n);
    TLT_OK(tl_count_range(snap, 100, 600, &c));
    cr_assert_eq(c, tlt_model_count(&old, 100, 600));
    tl_ts_t t;
    TLT_OK(tl_min_ts(snap, &t));
    cr_assert_eq(t, old.r[0].ts);
    TLT_OK(tl_max_ts(snap, &t));
    cr_assert_eq(t, old.r[old.n - 1].ts);
    for (size_t i = 0; i < old.n; i += 7) {
        tl_ts_t want;
        if (tlt_model_next(&old, old.r[i].ts, &want)) {
            TLT_OK(tl_next_ts(snap, old.r[i].ts, &t));
            cr_assert_eq(t, want);
        }
    }
    /* Spans of the old snapshot hold only old records. */
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    tl_span_t span;
    while (tl_spans_next(sp, &span) == TL_OK) {
        for (size_t i = 0; i < span.n; i++) {
            size_t lo = tlt_model_lower(&old, span.ts[i]), hi = tlt_model_upper(&old, span.ts[i]);
            bool found = false;
            for (size_t k = lo; k < hi && !found; k++)
                found = old.r[k].h == span.h[i];
            cr_assert(found, "span of the old snapshot has (%lld, %llu), not in the old state",
                      (long long)span.ts[i], (unsigned long long)span.h[i]);
        }
    }
    tl_spans_close(sp);
    tl_snapshot_release(snap);
    tlt_model_free(&old);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

static void mutate_appends(fx_t *f) {
    for (int i = 0; i < 1500; i++) /* enough to seal the memtable several times */
        fx_append(f, (tl_ts_t)((i * 13) % 1100) - 50);
    fx_append(f, INT64_MAX);
    fx_append(f, INT64_MIN);
}

static void mutate_deletes(fx_t *f) {
    fx_delete_range(f, 0, 500);
    fx_delete_ts(f, 777);
    fx_delete_since(f, 990);
    fx_delete_before(f, -3);
    fx_delete_all(f);
    fx_append(f, 5);
}

static void mutate_flush_compact(fx_t *f) {
    TLT_OK(tl_flush(f->log));
    TLT_OK(tl_compact(f->log));
    fx_delete_range(f, 300, 700);
    TLT_OK(tl_compact(f->log));
    for (int i = 0; i < 10000 && tl_maint_step(f->log) == TL_OK; i++) {
    }
    tlt_drain_all(f->log);
}

static void mutate_everything(fx_t *f) {
    mutate_appends(f);
    mutate_flush_compact(f);
    mutate_deletes(f);
    mutate_flush_compact(f);
}

Test(log, snapshot_isolated_from_later_appends) {
    isolation_case(mutate_appends);
}

Test(log, snapshot_isolated_from_later_deletes) {
    isolation_case(mutate_deletes);
}

Test(log, snapshot_isolated_from_flush_and_compact) {
    isolation_case(mutate_flush_compact);
}

Test(log, snapshot_isolated_from_everything) {
    isolation_case(mutate_everything);
}

Test(log, iterator_keeps_its_own_pin) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tl_snapshot_release(snap);
    mutate_everything(&f);
    tlt_expect_iter(it, old.r, old.n, "iterator whose snapshot was released");
    tl_iter_close(it);
    tlt_model_free(&old);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, snapshot_seq_tracks_writes) {
    fx_t f;
    fx_open(&f, NULL);
    tl_snapshot_t *s0 = NULL, *s1 = NULL, *s2 = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &s0));
    fx_append(&f, 1);
    TLT_OK(tl_snapshot_acquire(f.log, &s1));
    fx_delete_ts(&f, 1);
    TLT_OK(tl_snapshot_acquire(f.log, &s2));
    cr_assert_lt(tl_snapshot_seq(s0), tl_snapshot_seq(s1));
    cr_assert_lt(tl_snapshot_seq(s1), tl_snapshot_seq(s2));
    tl_stats_t st;
    TLT_OK(tl_stats(f.log, &st));
    cr_assert_eq(st.seq, tl_snapshot_seq(s2));
    cr_assert_eq(st.snapshots, 3);
    uint64_t c;
    TLT_OK(tl_count_all(s1, &c));
    cr_assert_eq(c, 1);
    TLT_OK(tl_count_all(s2, &c));
    cr_assert_eq(c, 0);
    tl_snapshot_release(s0);
    tl_snapshot_release(s1);
    tl_snapshot_release(s2);
    TLT_OK(tl_stats(f.log, &st));
    cr_assert_eq(st.snapshots, 0);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- stats */

static tl_stats_t stats_of(tl_log_t *log) {
    tl_stats_t st;
    TLT_OK(tl_stats(log, &st));
    return st;
}

Test(log, stats_follow_appends_flushes_and_compactions) {
    fx_t f;
    fx_open(&f, NULL);
    tl_stats_t st = stats_of(f.log);
    cr_assert_eq(st.records, 0);
    uint64_t seq = st.seq;
    for (int i = 0; i < 100; i++) {
        fx_append(&f, i);
        st = stats_of(f.log);
        cr_assert_gt(st.seq, seq, "seq did not advance on append");
        seq = st.seq;
    }
    cr_assert_eq(st.records, 100);
    cr_assert_eq(st.physical_records, 100);
    cr_assert_eq(st.memtable_records, 100);
    cr_assert_eq(st.memtable_ooo_records, 0);
    cr_assert_eq(st.memruns, 0);
    cr_assert_eq(st.l0_segments, 0);
    cr_assert_eq(st.l1_segments, 0);
    cr_assert_eq(st.min_ts, 0);
    cr_assert_eq(st.max_ts, 99);
    cr_assert_eq(st.engine_bytes, tlt_alloc_live_bytes(&f.env.alloc),
                 "stats.engine_bytes %llu != allocator live bytes %llu",
                 (unsigned long long)st.engine_bytes,
                 (unsigned long long)tlt_alloc_live_bytes(&f.env.alloc));
    cr_assert_geq(st.peak_bytes, st.engine_bytes);
    cr_assert_gt(st.alloc_calls, 0);
    fx_append(&f, 50); /* out of order */
    st = stats_of(f.log);
    cr_assert_eq(st.memtable_records, 101);
    cr_assert_geq(st.memtable_ooo_records, 1);

    TLT_OK(tl_flush(f.log));
    st = stats_of(f.log);
    cr_assert_eq(st.memtable_records, 0);
    cr_assert_eq(st.memruns, 0);
    cr_assert_geq(st.l0_segments, 1);
    cr_assert_eq(st.l0_records, 101);
    cr_assert_geq(st.flushes, 1);
    cr_assert_geq(st.pages, 1);
    uint64_t l0 = st.l0_segments, flushes = st.flushes;

    for (int i = 100; i < 150; i++)
        fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    st = stats_of(f.log);
    cr_assert_gt(st.l0_segments, l0, "a second flush added no L0 segment");
    cr_assert_gt(st.flushes, flushes);
    cr_assert_eq(st.l0_records, 151);
    cr_assert_eq(st.records, 151);

    TLT_OK(tl_compact(f.log));
    st = stats_of(f.log);
    cr_assert_eq(st.l0_segments, 0);
    cr_assert_eq(st.l0_records, 0);
    cr_assert_eq(st.l1_segments, 2, "ts 0..149 in windows of 100 -> 2 L1 segments, got %llu",
                 (unsigned long long)st.l1_segments);
    cr_assert_eq(st.l1_records, 151);
    cr_assert_geq(st.compactions, 1);
    cr_assert_geq(st.pages, st.l1_segments);

    fx_delete_range(&f, 10, 20);
    st = stats_of(f.log);
    cr_assert_eq(st.records, 141);
    cr_assert_eq(st.physical_records, 151, "a logical delete dropped records early");
    cr_assert_geq(st.tombstones, 1);
    TLT_OK(tl_compact(f.log));
    st = stats_of(f.log);
    cr_assert_eq(st.records, 141);
    cr_assert_eq(st.physical_records, 141);
    cr_assert_eq(st.l1_records, 141);
    cr_assert_eq(st.tombstones, 0, "compaction left %llu tombstones behind",
                 (unsigned long long)st.tombstones);
    cr_assert_eq(st.retired_len, tl_retired_len(f.log));
    cr_assert_eq(st.retired_len, 10);
    size_t n = 0;
    TLT_OK(tl_drain_retired(f.log, 0, &n));
    cr_assert_eq(n, 10);
    st = stats_of(f.log);
    cr_assert_eq(st.retired_len, 0);
    cr_assert_eq(st.dropped_handles, 10);
    cr_assert_eq(tlt_drops_total(&f.env.drops), 10);
    cr_assert_eq(st.engine_bytes, tlt_alloc_live_bytes(&f.env.alloc));
    fx_check(&f);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- drops */

Test(log, deleted_handles_dropped_once_after_flush_compact_drain) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    fx_settle_drops(&f);
    fx_check(&f);
    /* Again, with deletes landing on L1 only. */
    fx_delete_range(&f, 0, 50);
    fx_delete_ts(&f, INT64_MAX);
    fx_settle_drops(&f);
    fx_check(&f);
    fx_finish(&f); /* the survivors are dropped exactly once, at close */
}

Test(log, memtable_deletes_release_handles_at_next_flush) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 40; i++)
        fx_append(&f, i);
    fx_delete_range(&f, 10, 20);
    cr_assert_eq(tlt_drops_total(&f.env.drops), 0, "on_drop ran outside drain/teardown");
    TLT_OK(tl_flush(f.log));
    cr_assert_eq(tlt_drops_total(&f.env.drops), 0, "on_drop ran outside drain/teardown");
    tlt_drain_all(f.log);
    for (tl_handle_t h = 1; h < f.next_h; h++)
        cr_assert_eq(tlt_drops_of(&f.env.drops, h), (uint32_t)f.dead[h],
                     "after flush+drain, handle %llu dropped %u times, want %u",
                     (unsigned long long)h, tlt_drops_of(&f.env.drops, h), f.dead[h]);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, drain_waits_for_snapshots_that_see_the_records) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 100; i++)
        fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_snapshot_t *snap2 = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap2));
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_range(snap2, 0, 50, &it));
    tl_snapshot_release(snap2); /* the iterator keeps its own pin */
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    fx_delete_range(&f, 0, 50);
    TLT_OK(tl_flush(f.log));
    TLT_OK(tl_compact(f.log));
    tlt_drain_all(f.log);
    tlt_drops_assert_range_none(&f.env.drops, 1, 101);
    cr_assert_geq(tl_retired_len(f.log), 50, "retired queue holds %zu, want >= 50",
                  tl_retired_len(f.log));
    /* The pinned snapshot still reads the records and their handles. */
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, 100);
    tl_iter_t *all = NULL;
    TLT_OK(tl_iter_all(snap, &all));
    tlt_expect_iter(all, old.r, old.n, "pinned snapshot after compaction");
    tl_iter_close(all);
    tl_snapshot_release(snap);
    tlt_drain_all(f.log);
    tlt_drops_assert_range_none(&f.env.drops, 1, 101); /* the iterator still pins */
    tlt_expect_iter(it, old.r, 50, "iterator pinning retired records");
    tl_iter_close(it);
    tlt_drain_all(f.log);
    tlt_drops_assert_range_once(&f.env.drops, 1, 51);
    tlt_drops_assert_range_none(&f.env.drops, 51, 101);
    cr_assert_eq(tl_retired_len(f.log), 0);
    tlt_model_free(&old);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, drain_respects_its_limit) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 60; i++)
        fx_append(&f, i);
    fx_delete_range(&f, 0, 50);
    TLT_OK(tl_compact(f.log));
    cr_assert_eq(tl_retired_len(f.log), 50);
    size_t n = 0, total = 0;
    TLT_OK(tl_drain_retired(f.log, 7, &n));
    cr_assert(n >= 1 && n <= 7, "drain(limit 7) released %zu", n);
    total += n;
    cr_assert_eq(tlt_drops_total(&f.env.drops), total);
    cr_assert_eq(tl_retired_len(f.log), 50 - total);
    TLT_OK(tl_drain_retired(f.log, 1, NULL));
    total += 1;
    cr_assert_eq(tlt_drops_total(&f.env.drops), total);
    total += tlt_drain_all(f.log);
    cr_assert_eq(total, 50);
    fx_settle_drops(&f);
    fx_finish(&f);
}

typedef struct reenter_ctx {
    tl_log_t *log;
    int depth, max_depth;
    tl_status_t worst;
} reenter_ctx_t;

static void reenter_hook(void *ctx, tl_handle_t h) {
    (void)h;
    reenter_ctx_t *r = ctx;
    if (r->depth >= 3)
        return;
    r->depth++;
    if (r->depth > r->max_depth)
        r->max_depth = r->depth;
    size_t n = 0;
    tl_status_t st = tl_drain_retired(r->log, 2, &n);
    if (st != TL_OK)
        r->worst = st;
    r->depth--;
}

Test(log, drain_may_be_reentered_from_on_drop) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 200; i++)
        fx_append(&f, i);
    fx_delete_range(&f, 0, 150);
    TLT_OK(tl_compact(f.log));
    reenter_ctx_t r = {f.log, 0, 0, TL_OK};
    f.env.drops.hook = reenter_hook;
    f.env.drops.hook_ctx = &r;
    TLT_OK(tl_drain_retired(f.log, 3, NULL));
    cr_assert_eq(r.worst, TL_OK, "re-entered drain -> %s", tl_strerror(r.worst));
    cr_assert_geq(r.max_depth, 1);
    tlt_drain_all(f.log);
    f.env.drops.hook = NULL;
    fx_settle_drops(&f);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- close */

Test(log, close_with_outstanding_snapshot_defers_teardown) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tlt_close(&f.env);
    /* No visible handle may be released while the snapshot can read it. */
    for (size_t i = 0; i < old.n; i++)
        cr_assert_eq(tlt_drops_of(&f.env.drops, old.r[i].h), 0,
                     "handle %llu released while a snapshot still sees it",
                     (unsigned long long)old.r[i].h);
    cr_assert_gt(tlt_alloc_live_bytes(&f.env.alloc), 0);
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tlt_expect_iter(it, old.r, old.n, "snapshot after close");
    tl_iter_close(it);
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, old.n);
    tl_snapshot_release(snap); /* last pin: teardown happens here */
    cr_assert_eq(tlt_alloc_live_bytes(&f.env.alloc), 0, "teardown left %llu bytes",
                 (unsigned long long)tlt_alloc_live_bytes(&f.env.alloc));
    tlt_model_free(&old);
    fx_finish(&f);
}

Test(log, close_with_outstanding_iterator_defers_teardown) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    tl_snapshot_release(snap);
    tlt_close(&f.env);
    for (size_t i = 0; i < old.n; i++)
        cr_assert_eq(tlt_drops_of(&f.env.drops, old.r[i].h), 0);
    tlt_expect_iter(it, old.r, old.n, "iterator after close");
    tl_iter_close(it);
    cr_assert_gt(tlt_alloc_live_bytes(&f.env.alloc), 0, "span iterator lost its pin");
    tl_span_t span;
    while (tl_spans_next(sp, &span) == TL_OK)
        for (size_t i = 1; i < span.n; i++)
            cr_assert_leq(span.ts[i - 1], span.ts[i]);
    tl_spans_close(sp);
    cr_assert_eq(tlt_alloc_live_bytes(&f.env.alloc), 0);
    tlt_model_free(&old);
    fx_finish(&f);
}

Test(log, writes_after_close_return_estate) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_log_t *log = f.log;
    tlt_close(&f.env); /* the pin keeps the log object alive until release */
    const tl_ts_t ts[2] = {1, 2};
    const tl_handle_t hs[2] = {FX_CAP - 2, FX_CAP - 1};
    tl_ts_t now = 5;
    TLT_ST(tl_append(log, 1, FX_CAP - 3), TL_ESTATE);
    TLT_ST(tl_append_now(log, FX_CAP - 4, &now), TL_ESTATE);
    TLT_ST(tl_append_batch(log, ts, hs, 2), TL_ESTATE);
    TLT_ST(tl_delete_range(log, 0, 10), TL_ESTATE);
    TLT_ST(tl_delete_since(log, 0), TL_ESTATE);
    TLT_ST(tl_delete_before(log, 0), TL_ESTATE);
    TLT_ST(tl_delete_ts(log, 0), TL_ESTATE);
    TLT_ST(tl_delete_all(log), TL_ESTATE);
    TLT_ST(tl_flush(log), TL_ESTATE);
    TLT_ST(tl_compact(log), TL_ESTATE);
    TLT_ST(tl_maint_step(log), TL_ESTATE);
    tl_snapshot_t *s2 = (tl_snapshot_t *)(uintptr_t)1;
    TLT_ST(tl_snapshot_acquire(log, &s2), TL_ESTATE);
    cr_assert_null(s2);
    TLT_OK(tl_drain_retired(log, 0, NULL)); /* works until teardown */
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, f.m.n);
    tl_snapshot_release(snap);
    for (tl_handle_t h = FX_CAP - 4; h < FX_CAP; h++)
        cr_assert_eq(tlt_drops_of(&f.env.drops, h), 0, "a rejected write's handle was kept");
    fx_finish(&f);
}

typedef struct release_arg {
    tl_snapshot_t *snap;
    tlt_drops_t *drops;
} release_arg_t;

static void *release_in_thread(void *p) {
    release_arg_t *a = p;
    tl_mutex_lock(&a->drops->mu);
    a->drops->owner = tl_thread_id_self(); /* on_drop is expected in this thread now */
    tl_mutex_unlock(&a->drops->mu);
    tl_snapshot_release(a->snap);
    return NULL;
}

Test(log, last_snapshot_release_tears_down_in_its_own_thread) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tlt_close(&f.env);
    release_arg_t a = {snap, &f.env.drops};
    tl_thread_t th;
    cr_assert(tl_thread_start(&th, release_in_thread, &a));
    tl_thread_join(th);
    cr_assert_eq(tlt_alloc_live_bytes(&f.env.alloc), 0);
    f.env.drops.owner = tl_thread_id_self();
    fx_finish(&f); /* every handle dropped once, by the releasing thread */
}

/* ---------------------------------------------------------------- concurrency */

/* Records carry ts = conc_ts(h), so a reader in another thread can check
 * every record it sees without sharing a model with the writer. */
static tl_ts_t conc_ts(tl_handle_t h) {
    return (tl_ts_t)((h * 7919u) % 100000u) - 50000;
}

typedef struct conc {
    tl_log_t *log;
    tlt_drops_t *drops;
    atomic_int stop;
    atomic_int failed;
    char why[160];
    uint64_t scans;
} conc_t;

static void conc_fail(conc_t *c, const char *msg, long long a, long long b) {
    if (atomic_exchange(&c->failed, 1) == 0)
        snprintf(c->why, sizeof c->why, "%s (%lld, %lld)", msg, a, b);
}

/* Reader thread: repeatedly pins a snapshot and checks it is internally
 * consistent while the writer appends, deletes, compacts and drains. No
 * Criterion assertion here (it cannot unwind from another thread). */
static void *conc_reader(void *p) {
    conc_t *c = p;
    tl_ts_t ts[256];
    tl_handle_t h[256];
    while (!atomic_load(&c->stop) && !atomic_load(&c->failed)) {
        tl_snapshot_t *snap = NULL;
        if (tl_snapshot_acquire(c->log, &snap) != TL_OK) {
            conc_fail(c, "snapshot_acquire failed", 0, 0);
            break;
        }
        uint64_t count = 0, seen = 0;
        if (tl_count_all(snap, &count) != TL_OK)
            conc_fail(c, "count_all failed", 0, 0);
        tl_iter_t *it = NULL;
        if (tl_iter_all(snap, &it) != TL_OK) {
            conc_fail(c, "iter_all failed", 0, 0);
            tl_snapshot_release(snap);
            break;
        }
        tl_ts_t last = INT64_MIN;
        for (;;) {
            size_t n = 0;
            tl_status_t st = tl_iter_next_batch(it, ts, h, 256, &n);
            if (st != TL_OK && st != TL_EOF) {
                conc_fail(c, "next_batch failed", st, 0);
                break;
            }
            for (size_t i = 0; i < n; i++) {
                if (ts[i] < last)
                    conc_fail(c, "records out of order", last, ts[i]);
                if (ts[i] != conc_ts(h[i]))
                    conc_fail(c, "record with a foreign timestamp", ts[i], (long long)h[i]);
                if (tlt_drops_of(c->drops, h[i]) != 0)
                    conc_fail(c, "pinned handle already passed to on_drop", (long long)h[i], 0);
                last = ts[i];
            }
            seen += n;
            if (n < 256)
                break;
        }
        tl_iter_close(it);
        if (seen != count)
            conc_fail(c, "count_all disagrees with iteration", (long long)count, (long long)seen);
        /* Spans of the same snapshot: immutable memory, read while the
         * writer compacts (ASan catches a page freed under a pin). */
        tl_span_iter_t *sp = NULL;
        if (tl_spans_all(snap, &sp) == TL_OK) {
            tl_span_t span;
            uint64_t in_spans = 0;
            while (tl_spans_next(sp, &span) == TL_OK) {
                for (size_t i = 0; i < span.n; i++)
                    if (span.ts[i] != conc_ts(span.h[i]))
                        conc_fail(c, "span record with a foreign timestamp", span.ts[i],
                                  (long long)span.h[i]);
                in_spans += span.n;
            }
            tl_spans_close(sp);
            if (in_spans > count)
                conc_fail(c, "spans hold more than the visible records", (long long)in_spans,
                          (long long)count);
        } else {
            conc_fail(c, "spans_all failed", 0, 0);
        }
        tl_snapshot_release(snap);
        c->scans++;
    }
    return NULL;
}

Test(log, concurrent_readers_see_consistent_snapshots, .timeout = 60) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 1;
    fx_open(&f, &cfg);
    conc_t c = {.log = f.log, .drops = &f.env.drops}, c2 = {.log = f.log, .drops = &f.env.drops};
    atomic_init(&c.stop, 0);
    atomic_init(&c.failed, 0);
    atomic_init(&c2.stop, 0);
    atomic_init(&c2.failed, 0);
    tl_thread_t r1, r2;
    cr_assert(tl_thread_start(&r1, conc_reader, &c));
    cr_assert(tl_thread_start(&r2, conc_reader, &c2));
    for (int i = 0; i < 30000 && !atomic_load(&c.failed) && !atomic_load(&c2.failed); i++) {
        tl_handle_t h = f.next_h;
        fx_append(&f, conc_ts(h));
        if (i % 500 == 499) {
            tl_ts_t a = tlt_rng_range(&f.rng, -50000, 49000);
            fx_delete_range(&f, a, a + 1000);
        }
        if (i % 3000 == 2999)
            TLT_OK(tl_compact(f.log));
        if (i % 700 == 0)
            tlt_drain_all(f.log);
    }
    atomic_store(&c.stop, 1);
    atomic_store(&c2.stop, 1);
    tl_thread_join(r1);
    tl_thread_join(r2);
    cr_assert_eq(atomic_load(&c.failed), 0, "reader 1: %s", c.why);
    cr_assert_eq(atomic_load(&c2.failed), 0, "reader 2: %s", c2.why);
    cr_assert_gt(c.scans + c2.scans, 0);
    cr_log_info("concurrent readers: %llu + %llu snapshot scans",
                (unsigned long long)c.scans, (unsigned long long)c2.scans);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- batches */

static void batch_case(const tl_ts_t *ts, size_t n) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 20; i++)
        fx_append(&f, i * 10);
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
    for (int i = 0; i < 1000; i++)
        ts[i] = i - 10;
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_reverse_sorted) {
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++)
        ts[i] = 1000 - i;
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_random) {
    tlt_rng_t r;
    tlt_rng_seed(&r, 7);
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++)
        ts[i] = tlt_rng_range(&r, -100, 1100);
    batch_case(ts, 1000);
    free(ts);
}

Test(log, append_batch_duplicate_heavy) {
    tlt_rng_t r;
    tlt_rng_seed(&r, 8);
    tl_ts_t *ts = ts_array(1000);
    for (int i = 0; i < 1000; i++)
        ts[i] = tlt_rng_range(&r, 0, 3) * 100;
    batch_case(ts, 1000);
    for (int i = 0; i < 1000; i++)
        ts[i] = 500;
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

/* ---------------------------------------------------------------- reads */

Test(log, counts_equal_iteration) {
    fx_t f;
    fx_open(&f, NULL);
    for (int phase = 0; phase < 3; phase++) {
        fx_mixed_state(&f);
        if (phase == 1)
            TLT_OK(tl_flush(f.log));
        if (phase == 2)
            TLT_OK(tl_compact(f.log));
        check_ranges(&f); /* iteration and count_range against the model */
        tl_snapshot_t *snap = NULL;
        TLT_OK(tl_snapshot_acquire(f.log, &snap));
        const tl_ts_t since[] = {INT64_MIN, -1, 0, 150, 510, 940, 999, 1000, INT64_MAX};
        for (size_t i = 0; i < sizeof since / sizeof since[0]; i++) {
            uint64_t c;
            TLT_OK(tl_count_since(snap, since[i], &c));
            size_t i0 = tlt_model_lower(&f.m, since[i]);
            cr_assert_eq(c, f.m.n - i0, "count_since(%lld)", (long long)since[i]);
            tl_iter_t *it = NULL;
            TLT_OK(tl_iter_since(snap, since[i], &it));
            tlt_expect_iter(it, f.m.r + i0, f.m.n - i0, "iter_since");
            tl_iter_close(it);
        }
        uint64_t all;
        TLT_OK(tl_count_all(snap, &all));
        cr_assert_eq(all, f.m.n);
        tl_snapshot_release(snap);
    }
    fx_finish(&f);
}

Test(log, count_buckets_match_count_range) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    const tl_ts_t edges[] = {INT64_MIN, INT64_MIN, -1, 0, 0, 37, 100, 150, 200, 505, 520,
                             900, 999, 1000, INT64_MAX - 1, INT64_MAX, INT64_MAX};
    size_t ne = sizeof edges / sizeof edges[0];
    uint64_t out[sizeof edges / sizeof edges[0]];
    for (int phase = 0; phase < 3; phase++) {
        tl_snapshot_t *snap = NULL;
        TLT_OK(tl_snapshot_acquire(f.log, &snap));
        for (size_t start = 0; start + 1 < ne; start += 3) {
            memset(out, 0xEE, sizeof out);
            TLT_OK(tl_count_buckets(snap, edges + start, ne - start, out));
            for (size_t i = 0; i + 1 < ne - start; i++) {
                uint64_t want = tlt_model_count(&f.m, edges[start + i], edges[start + i + 1]);
                cr_assert_eq(out[i], want, "bucket [%lld, %lld) = %llu, want %llu",
                             (long long)edges[start + i], (long long)edges[start + i + 1],
                             (unsigned long long)out[i], (unsigned long long)want);
            }
            cr_assert_eq(out[ne - start - 1], 0xEEEEEEEEEEEEEEEEull,
                         "count_buckets wrote past n_edges - 1 buckets");
        }
        tl_snapshot_release(snap);
        if (phase == 0)
            TLT_OK(tl_flush(f.log));
        else
            TLT_OK(tl_compact(f.log));
    }
    fx_finish(&f);
}

Test(log, count_buckets_rejects_decreasing_edges_and_ignores_short_input) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, 1);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    const tl_ts_t bad[] = {0, 10, 5};
    uint64_t out[3] = {7, 7, 7};
    TLT_ST(tl_count_buckets(snap, bad, 3, out), TL_EINVAL);
    const tl_ts_t one[] = {0};
    TLT_OK(tl_count_buckets(snap, one, 1, out));
    TLT_OK(tl_count_buckets(snap, one, 0, out));
    cr_assert(out[0] == 7 && out[1] == 7 && out[2] == 7, "n_edges < 2 wrote buckets");
    tl_snapshot_release(snap);
    fx_finish(&f);
}

Test(log, neighbours_match_brute_force) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    check_neighbours(f.log, &f.m);
    /* Tombstones hide whole runs: the neighbours must skip them. */
    fx_delete_range(&f, 0, 400);
    fx_delete_ts(&f, INT64_MIN);
    check_neighbours(f.log, &f.m);
    TLT_OK(tl_flush(f.log));
    check_neighbours(f.log, &f.m);
    fx_delete_range(&f, 600, 1000);
    check_neighbours(f.log, &f.m);
    TLT_OK(tl_compact(f.log));
    check_neighbours(f.log, &f.m);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, iter_next_batch_honours_cap) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    const size_t caps[] = {1, 2, 3, 7, 64, 257, 1000, 5000};
    tl_ts_t *ts = ts_array(6000);
    tl_handle_t *h = malloc(6000 * sizeof *h);
    for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
        for (int with_h = 0; with_h < 2; with_h++) {
            size_t cap = caps[ci];
            tl_snapshot_t *snap = NULL;
            tl_iter_t *it = NULL;
            TLT_OK(tl_snapshot_acquire(f.log, &snap));
            TLT_OK(tl_iter_all(snap, &it));
            tl_snapshot_release(snap);
            size_t total = 0;
            bool done = false;
            while (!done) {
                size_t n = 99999;
                tl_status_t st =
                    tl_iter_next_batch(it, ts + total, with_h ? h + total : NULL, cap, &n);
                cr_assert(st == TL_OK || st == TL_EOF, "next_batch -> %s", tl_strerror(st));
                cr_assert_leq(n, cap);
                if (st == TL_EOF)
                    cr_assert(n < cap, "TL_EOF with a full batch");
                total += n;
                cr_assert_leq(total, f.m.n);
                if (n < cap)
                    done = true;
            }
            cr_assert_eq(total, f.m.n, "cap %zu: %zu records, want %zu", cap, total, f.m.n);
            size_t n = 9;
            tl_status_t st = tl_iter_next_batch(it, ts, h, cap, &n);
            cr_assert(st == TL_OK || st == TL_EOF);
            cr_assert_eq(n, 0, "exhausted iterator returned %zu more", n);
            tl_iter_close(it);
            if (with_h) {
                tlt_expect_same(ts, h, total, f.m.r, f.m.n, "next_batch");
            } else {
                for (size_t i = 0; i < total; i++)
                    cr_assert_eq(ts[i], f.m.r[i].ts);
            }
        }
    }
    /* Mixing next and next_batch. */
    tl_snapshot_t *snap = NULL;
    tl_iter_t *it = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    TLT_OK(tl_iter_all(snap, &it));
    tl_snapshot_release(snap);
    size_t total = 0;
    for (;;) {
        tl_status_t st = tl_iter_next(it, ts + total, h + total);
        if (st == TL_EOF)
            break;
        TLT_OK(st);
        total++;
        size_t n = 0;
        st = tl_iter_next_batch(it, ts + total, h + total, 5, &n);
        cr_assert(st == TL_OK || st == TL_EOF);
        total += n;
        if (n < 5)
            break;
    }
    tl_iter_close(it);
    tlt_expect_same(ts, h, total, f.m.r, f.m.n, "next mixed with next_batch");
    free(ts);
    free(h);
    fx_finish(&f);
}

Test(log, iter_remaining_decreases_as_records_are_consumed) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    for (int phase = 0; phase < 2; phase++) {
        tl_snapshot_t *snap = NULL;
        tl_iter_t *it = NULL;
        TLT_OK(tl_snapshot_acquire(f.log, &snap));
        TLT_OK(tl_iter_range(snap, 50, 960, &it));
        tl_snapshot_release(snap);
        uint64_t want = tlt_model_count(&f.m, 50, 960), rem = 0;
        TLT_OK(tl_iter_remaining(it, &rem));
        cr_assert_eq(rem, want);
        tl_ts_t ts[16];
        tl_handle_t h[16];
        int k = 0;
        while (want > 0) {
            if (k++ % 2 == 0) {
                TLT_OK(tl_iter_next(it, ts, h));
                want--;
            } else {
                size_t n = 0;
                tl_status_t st = tl_iter_next_batch(it, ts, h, 16, &n);
                cr_assert(st == TL_OK || st == TL_EOF);
                cr_assert_eq(n, want < 16 ? want : 16);
                want -= n;
            }
            TLT_OK(tl_iter_remaining(it, &rem));
            cr_assert_eq(rem, want, "remaining %llu, want %llu", (unsigned long long)rem,
                         (unsigned long long)want);
        }
        TLT_ST(tl_iter_next(it, ts, h), TL_EOF);
        TLT_OK(tl_iter_remaining(it, &rem));
        cr_assert_eq(rem, 0);
        tl_iter_close(it);
        TLT_OK(tl_compact(f.log));
    }
    fx_finish(&f);
}

/* ---------------------------------------------------------------- spans */

/* Collects spans_range(t1, t2) (or spans_all when all) and checks them. */
static void check_spans(fx_t *f, tl_ts_t t1, tl_ts_t t2, bool all) {
    tl_snapshot_t *snap = NULL;
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_snapshot_acquire(f->log, &snap));
    if (all)
        TLT_OK(tl_spans_all(snap, &sp));
    else
        TLT_OK(tl_spans_range(snap, t1, t2, &sp));
    tl_snapshot_release(snap); /* the span iterator holds its own pin */
    size_t cap = f->m.n + 1, n = 0;
    tl_ts_t *ts = ts_array(cap);
    tl_handle_t *h = malloc(cap * sizeof *h);
    tl_span_t span;
    tl_status_t st;
    while ((st = tl_spans_next(sp, &span)) == TL_OK) {
        cr_assert(span.level >= 0 && span.level <= 2, "span level %d", span.level);
        cr_assert(span.n == 0 || (span.ts != NULL && span.h != NULL));
        for (size_t i = 0; i < span.n; i++) {
            if (i > 0)
                cr_assert_leq(span.ts[i - 1], span.ts[i], "span not sorted");
            if (!all)
                cr_assert(span.ts[i] >= t1 && span.ts[i] < t2,
                          "span record %lld outside [%lld, %lld)", (long long)span.ts[i],
                          (long long)t1, (long long)t2);
        }
        cr_assert_leq(n + span.n, f->m.n, "spans hold more records than are visible");
        memcpy(ts + n, span.ts, span.n * sizeof *ts);
        memcpy(h + n, span.h, span.n * sizeof *h);
        n += span.n;
    }
    cr_assert_eq(st, TL_EOF);
    tl_spans_close(sp);
    size_t i0 = 0, i1 = f->m.n;
    if (!all)
        tlt_model_slice(&f->m, t1, t2, &i0, &i1);
    tlt_sort_pairs(ts, h, n);
    tlt_expect_same(ts, h, n, f->m.r + i0, i1 - i0, "spans (sorted together)");
    free(ts);
    free(h);
}

Test(log, spans_after_flush_equal_iteration) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    TLT_OK(tl_flush(f.log));
    /* Tombstones above the sources' watermarks must be cut out of spans. */
    fx_delete_range(&f, 250, 260);
    fx_delete_ts(&f, 0);
    fx_delete_range(&f, 700, 720);
    const tl_ts_t edges[] = {INT64_MIN, -1, 0, 1, 100, 255, 260, 500, 710, 999, 1000,
                             INT64_MAX};
    size_t ne = sizeof edges / sizeof edges[0];
    for (int phase = 0; phase < 2; phase++) {
        check_spans(&f, 0, 0, true);
        for (size_t i = 0; i < ne; i++)
            for (size_t j = 0; j < ne; j++)
                check_spans(&f, edges[i], edges[j], false);
        TLT_OK(tl_compact(f.log));
    }
    fx_finish(&f);
}

Test(log, spans_exclude_records_hidden_by_tombstones) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 100; i++)
        fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    fx_delete_range(&f, 20, 40);
    TLT_OK(tl_flush(f.log));
    check_spans(&f, 0, 0, true);
    check_spans(&f, 10, 50, false);
    check_spans(&f, 20, 40, false);
    fx_finish(&f);
}

Test(log, spans_never_expose_the_memtable) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 10; i++)
        fx_append(&f, i);
    tl_snapshot_t *snap = NULL;
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    TLT_OK(tl_spans_all(snap, &sp));
    tl_span_t span;
    size_t total = 0;
    while (tl_spans_next(sp, &span) == TL_OK)
        total += span.n;
    tl_spans_close(sp);
    tl_snapshot_release(snap);
    cr_assert_eq(total, 0, "spans exposed %zu memtable records", total);
    TLT_OK(tl_flush(f.log));
    check_spans(&f, 0, 0, true);
    fx_finish(&f);
}

Test(log, spans_expose_memruns_at_level_0) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.sealed_max_runs = 64; /* let memruns pile up without backpressure */
    fx_open(&f, &cfg);
    for (int i = 0; i < 2000; i++) /* in order: the memtable holds the newest records */
        fx_append(&f, i);
    tl_stats_t st;
    TLT_OK(tl_stats(f.log, &st));
    cr_assert_gt(st.memruns, 0, "2000 records over a 4 KiB memtable sealed no memrun");
    cr_assert_eq(st.l0_segments + st.l1_segments, 0);
    size_t exposed = f.m.n - (size_t)st.memtable_records;
    tl_snapshot_t *snap = NULL;
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    TLT_OK(tl_spans_all(snap, &sp));
    tl_snapshot_release(snap);
    tl_ts_t *ts = ts_array(f.m.n);
    tl_handle_t *h = malloc(f.m.n * sizeof *h);
    size_t n = 0;
    tl_span_t span;
    while (tl_spans_next(sp, &span) == TL_OK) {
        cr_assert(span.n == 0 || span.level == 0, "level %d before any flush", span.level);
        cr_assert_leq(n + span.n, f.m.n);
        memcpy(ts + n, span.ts, span.n * sizeof *ts);
        memcpy(h + n, span.h, span.n * sizeof *h);
        n += span.n;
    }
    tl_spans_close(sp);
    tlt_sort_pairs(ts, h, n);
    tlt_expect_same(ts, h, n, f.m.r, exposed, "memrun spans");
    free(ts);
    free(h);
    fx_finish(&f);
}

/* Every size knob at the smallest value tl_config_check accepts (found by
 * doubling from 1; a rejection must name the field). */
Test(log, tiny_knobs_still_give_exact_results) {
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    struct {
        size_t *p;
        const char *name;
    } knobs[] = {
        {&cfg.memtable_max_bytes, "memtable_max_bytes"},
        {&cfg.target_page_bytes, "target_page_bytes"},
        {&cfg.sealed_max_runs, "sealed_max_runs"},
        {&cfg.ooo_budget_bytes, "ooo_budget_bytes"},
        {&cfg.drain_batch_limit, "drain_batch_limit"},
        {&cfg.max_delta_segments, "max_delta_segments"},
        {&cfg.compaction_target_bytes, "compaction_target_bytes"},
        {&cfg.compaction_max_inputs, "compaction_max_inputs"},
        {&cfg.compaction_max_windows, "compaction_max_windows"},
    };
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        size_t saved = *knobs[k].p;
        size_t v = 1;
        for (;;) {
            *knobs[k].p = v;
            const char *why = NULL;
            tl_status_t st = tl_config_check(&cfg, &why);
            if (st == TL_OK)
                break;
            cr_assert_eq(st, TL_EINVAL);
            cr_assert(why != NULL && names_field(why, knobs[k].name), "%s = %zu rejected: %s",
                      knobs[k].name, v, why ? why : "(no why)");
            cr_assert_lt(v, (size_t)1 << 40, "%s: no small value accepted", knobs[k].name);
            v *= 2;
        }
        cr_log_info("smallest accepted %s: %zu (default %zu in this test)", knobs[k].name, v,
                    saved);
    }
    cfg.window_size = 1;
    TLT_OK(tl_config_check(&cfg, NULL));
    fx_t f;
    fx_open(&f, &cfg);
    for (int i = 0; i < 300; i++) {
        fx_append(&f, (tl_ts_t)((i * 37) % 50));
        if (i % 40 == 39)
            fx_delete_range(&f, i % 50, i % 50 + 5);
        if (i % 60 == 59) {
            for (int k = 0; k < 1000 && tl_maint_step(f.log) == TL_OK; k++) {
            }
        }
    }
    fx_check(&f);
    check_neighbours(f.log, &f.m);
    TLT_OK(tl_flush(f.log));
    check_spans(&f, 0, 0, true);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_spans(&f, 10, 30, false);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, span_levels_name_their_layer) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 50; i++)
        fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    for (int step = 0; step < 2; step++) {
        tl_snapshot_t *snap = NULL;
        tl_span_iter_t *sp = NULL;
        TLT_OK(tl_snapshot_acquire(f.log, &snap));
        TLT_OK(tl_spans_all(snap, &sp));
        tl_span_t span;
        while (tl_spans_next(sp, &span) == TL_OK)
            if (span.n > 0)
                cr_assert_eq(span.level, step == 0 ? 1 : 2, "level %d after %s", span.level,
                             step == 0 ? "flush" : "compact");
        tl_spans_close(sp);
        tl_snapshot_release(snap);
        TLT_OK(tl_compact(f.log));
    }
    fx_finish(&f);
}

/* ---------------------------------------------------------------- maintenance */

Test(log, validate_ok_after_every_step) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 3000; i++) {
        uint64_t op = tlt_rng_below(&f.rng, 100);
        if (op < 70) {
            fx_append(&f, tlt_rng_range(&f.rng, 0, 2000));
        } else if (op < 80) {
            tl_ts_t a = tlt_rng_range(&f.rng, 0, 2000);
            fx_delete_range(&f, a, a + (tl_ts_t)tlt_rng_below(&f.rng, 50));
        } else if (op < 87) {
            TLT_OK(tl_flush(f.log));
        } else if (op < 90) {
            TLT_OK(tl_compact(f.log));
        } else if (op < 97) {
            tl_status_t st = tl_maint_step(f.log);
            cr_assert(st == TL_OK || st == TL_EOF);
        } else {
            tlt_drain_all(f.log);
        }
        TLT_VALID(f.log);
        if (i % 100 == 0)
            fx_check(&f);
    }
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, maint_step_reports_eof_when_idle) {
    fx_t f;
    fx_open(&f, NULL);
    TLT_ST(tl_maint_step(f.log), TL_EOF);
    for (int i = 0; i < 2000; i++)
        fx_append(&f, (tl_ts_t)((i * 31) % 3000));
    int steps = 0;
    tl_status_t st;
    while ((st = tl_maint_step(f.log)) == TL_OK) {
        TLT_VALID(f.log);
        cr_assert_lt(++steps, 10000, "maint_step never runs out of work");
    }
    cr_assert_eq(st, TL_EOF);
    cr_assert_gt(steps, 0);
    tl_stats_t s = stats_of(f.log);
    cr_assert_eq(s.memruns, 0, "idle maintenance left %llu memruns", (unsigned long long)s.memruns);
    cr_assert_leq(s.l0_segments, 2, "idle maintenance left %llu L0 segments (max_delta 2)",
                  (unsigned long long)s.l0_segments);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, disabled_maintenance_reports_busy_but_keeps_the_write) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.sealed_max_runs = 1;
    fx_open(&f, &cfg);
    int busy = 0;
    for (int i = 0; i < 3000; i++) {
        tl_handle_t h = f.next_h++;
        tl_status_t st = tl_append(f.log, i, h);
        cr_assert(st == TL_OK || st == TL_EBUSY, "append -> %s", tl_strerror(st));
        tlt_model_add(&f.m, i, h);
        busy += st == TL_EBUSY;
    }
    cr_assert_gt(busy, 0, "3000 appends over a 4 KiB memtable and one memrun never got EBUSY");
    tl_stats_t s = stats_of(f.log);
    cr_assert_geq(s.busy_events, 1);
    fx_check(&f);
    TLT_OK(tl_flush(f.log));
    TLT_OK(tl_append(f.log, 5, f.next_h));
    tlt_model_add(&f.m, 5, f.next_h++);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, background_maintenance_keeps_reads_exact) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 2;
    fx_open(&f, &cfg);
    for (int i = 0; i < 20000; i++) {
        fx_append(&f, i - (tl_ts_t)tlt_rng_below(&f.rng, 30));
        if (i % 1000 == 999) {
            tl_ts_t a = tlt_rng_range(&f.rng, 0, i);
            fx_delete_range(&f, a, a + 100);
            fx_check(&f);
            tlt_expect_range(f.log, &f.m, a - 200, a + 300);
        }
    }
    fx_check(&f);
    fx_settle_drops(&f);
    fx_check(&f);
    fx_finish(&f);
}

Test(log, logs_are_independent) {
    fx_t a, b;
    fx_open(&a, NULL);
    fx_open(&b, NULL);
    for (int i = 0; i < 500; i++) {
        fx_append(&a, i);
        fx_append(&b, -i);
        if (i == 250) {
            TLT_OK(tl_flush(a.log));
            fx_delete_range(&b, -100, 0);
        }
    }
    TLT_OK(tl_compact(b.log));
    fx_check(&a);
    fx_check(&b);
    tl_stats_t sa = stats_of(a.log), sb = stats_of(b.log);
    cr_assert_eq(sa.records, 500);
    cr_assert_eq(sb.records, 400);
    cr_assert_eq(sa.engine_bytes, tlt_alloc_live_bytes(&a.env.alloc));
    cr_assert_eq(sb.engine_bytes, tlt_alloc_live_bytes(&b.env.alloc));
    fx_finish(&a);
    fx_settle_drops(&b);
    fx_finish(&b);
}

/* The test's own reading of the wall clock (not the engine's tl_wall_clock),
 * as a bound in unit u: timespec_get where the C library has it (C17);
 * whole seconds from time() where it does not (mingw-w64's msvcrt), widened
 * to the end of the second for the upper bound. */
static int64_t wall_bound(int64_t per_s, bool upper) {
#if defined(TIME_UTC)
    (void)upper;
    struct timespec t;
    timespec_get(&t, TIME_UTC); /* CLOCK_REALTIME, in C17 */
    return (int64_t)t.tv_sec * per_s + t.tv_nsec / (1000000000 / per_s);
#else
    int64_t s = (int64_t)time(NULL);
    return upper ? (s + 1) * per_s - 1 : s * per_s;
#endif
}

Test(log, append_now_uses_the_wall_clock_in_the_time_unit) {
    const tl_time_unit_t units[] = {TL_UNIT_S, TL_UNIT_MS, TL_UNIT_US, TL_UNIT_NS};
    const int64_t per_s[] = {1, 1000, 1000000, 1000000000};
    for (int u = 0; u < 4; u++) {
        fx_t f;
        tl_config_t cfg;
        tlt_small_config(NULL, &cfg);
        cfg.time_unit = units[u];
        fx_open(&f, &cfg);
        int64_t lo = wall_bound(per_s[u], false);
        tl_ts_t ts = 0;
        tl_handle_t h = f.next_h++;
        TLT_W(tl_append_now(f.log, h, &ts));
        int64_t hi = wall_bound(per_s[u], true);
        tlt_model_add(&f.m, ts, h);
        cr_assert(ts >= lo && ts <= hi, "unit %d: append_now ts %lld outside [%lld, %lld]", u,
                  (long long)ts, (long long)lo, (long long)hi);
        fx_check(&f);
        fx_finish(&f);
    }
}

/* ---------------------------------------------------------------- OOM */

/* A deterministic mixed workload replayed with the k-th allocation failing.
 * After every call: TL_ENOMEM if and only if an allocation failed during
 * it; on TL_ENOMEM nothing changed; tl_validate is OK; the log holds
 * exactly the model's records. */
typedef enum {
    OP_APPEND, OP_BATCH, OP_DEL_RANGE, OP_DEL_SINCE, OP_DEL_BEFORE, OP_DEL_TS, OP_DEL_ALL,
    OP_FLUSH, OP_COMPACT, OP_MAINT, OP_DRAIN, OP_READ
} op_kind_t;

typedef struct op {
    op_kind_t k;
    tl_ts_t a, b;
    int n;
} op_t;

static size_t build_program(op_t *ops, size_t cap) {
    tlt_rng_t r;
    tlt_rng_seed(&r, 1234);
    size_t n = 0;
#define PUSH(K, A, B, N) \
    do {                 \
        cr_assert_lt(n, cap); \
        ops[n++] = (op_t){(K), (A), (B), (N)}; \
    } while (0)
    for (int i = 0; i < 40; i++)
        PUSH(OP_APPEND, i * 5, 0, 0);
    for (int i = 0; i < 15; i++)
        PUSH(OP_APPEND, tlt_rng_range(&r, 0, 200), 0, 0);
    PUSH(OP_APPEND, INT64_MAX, 0, 0);
    PUSH(OP_APPEND, INT64_MIN, 0, 0);
    PUSH(OP_READ, 0, 0, 0);
    PUSH(OP_BATCH, 0, 0, 60);
    PUSH(OP_DEL_RANGE, 20, 60, 0);
    PUSH(OP_FLUSH, 0, 0, 0);
    for (int i = 0; i < 30; i++)
        PUSH(OP_APPEND, 200 + tlt_rng_range(&r, -20, 40), 0, 0);
    PUSH(OP_READ, 0, 0, 0);
    PUSH(OP_DEL_SINCE, 230, 0, 0);
    PUSH(OP_MAINT, 0, 0, 0);
    PUSH(OP_MAINT, 0, 0, 0);
    PUSH(OP_FLUSH, 0, 0, 0);
    PUSH(OP_COMPACT, 0, 0, 0);
    PUSH(OP_DRAIN, 0, 0, 0);
    PUSH(OP_BATCH, 0, 0, 25);
    PUSH(OP_DEL_TS, 100, 0, 0);
    PUSH(OP_DEL_BEFORE, 10, 0, 0);
    PUSH(OP_READ, 0, 0, 0);
    for (int i = 0; i < 20; i++)
        PUSH(OP_APPEND, tlt_rng_range(&r, 0, 400), 0, 0);
    PUSH(OP_FLUSH, 0, 0, 0);
    PUSH(OP_DEL_RANGE, 150, 350, 0);
    PUSH(OP_MAINT, 0, 0, 0);
    PUSH(OP_COMPACT, 0, 0, 0);
    PUSH(OP_DRAIN, 0, 0, 0);
    PUSH(OP_DEL_ALL, 0, 0, 0);
    for (int i = 0; i < 10; i++)
        PUSH(OP_APPEND, i, 0, 0);
    PUSH(OP_COMPACT, 0, 0, 0);
    PUSH(OP_READ, 0, 0, 0);
#undef PUSH
    return n;
}

static void oom_verify(fx_t *f) {
    tlt_alloc_suspend(&f->env.alloc);
    fx_check(f);
    tlt_alloc_resume(&f->env.alloc);
}

/* Runs the program; returns the failable allocation calls it made. */
static uint64_t run_program(fx_t *f, const op_t *ops, size_t nops, bool verify) {
    tlt_rng_t r;
    tlt_rng_seed(&r, 99);
    uint64_t calls = 0;
    for (size_t i = 0; i < nops; i++) {
        const op_t *op = &ops[i];
        uint64_t inj0 = tlt_alloc_injected(&f->env.alloc);
        uint64_t calls0 = tlt_alloc_armed_calls(&f->env.alloc);
        tl_status_t st = TL_OK;
        tl_handle_t h = f->next_h;
        tl_ts_t bts[64];
        tl_handle_t bh[64];
        switch (op->k) {
        case OP_APPEND:
            st = tl_append(f->log, op->a, h);
            break;
        case OP_BATCH:
            for (int j = 0; j < op->n; j++) {
                bts[j] = tlt_rng_range(&r, 0, 300);
                bh[j] = h + (tl_handle_t)j;
            }
            st = tl_append_batch(f->log, bts, bh, (size_t)op->n);
            break;
        case OP_DEL_RANGE: st = tl_delete_range(f->log, op->a, op->b); break;
        case OP_DEL_SINCE: st = tl_delete_since(f->log, op->a); break;
        case OP_DEL_BEFORE: st = tl_delete_before(f->log, op->a); break;
        case OP_DEL_TS: st = tl_delete_ts(f->log, op->a); break;
        case OP_DEL_ALL: st = tl_delete_all(f->log); break;
        case OP_FLUSH: st = tl_flush(f->log); break;
        case OP_COMPACT: st = tl_compact(f->log); break;
        case OP_MAINT: st = tl_maint_step(f->log); break;
        case OP_DRAIN: st = tl_drain_retired(f->log, 0, NULL); break;
        case OP_READ: {
            tl_snapshot_t *snap = NULL;
            tl_iter_t *it = NULL;
            st = tl_snapshot_acquire(f->log, &snap);
            if (st == TL_OK) {
                st = tl_iter_all(snap, &it);
                tl_snapshot_release(snap);
            } else {
                cr_assert_null(snap, "failed acquire left *out set");
            }
            if (st == TL_OK) {
                tlt_alloc_suspend(&f->env.alloc);
                tlt_expect_iter(it, f->m.r, f->m.n, "read under OOM");
                tlt_alloc_resume(&f->env.alloc);
                tl_iter_close(it);
            } else {
                cr_assert_null(it, "failed iter open left *out set");
            }
            break;
        }
        }
        calls += tlt_alloc_armed_calls(&f->env.alloc) - calls0;
        bool failed = tlt_alloc_injected(&f->env.alloc) > inj0;
        if (st == TL_ENOMEM) {
            cr_assert(failed, "op %zu (kind %d): TL_ENOMEM with no failed allocation", i,
                      (int)op->k);
        } else {
            cr_assert(st == TL_OK || st == TL_EBUSY || (st == TL_EOF && op->k == OP_MAINT),
                      "op %zu (kind %d) -> %s", i, (int)op->k, tl_strerror(st));
            /* Only work that is optional for the call may absorb a failed
             * allocation: the seal a stored write triggers (retried on the
             * next write) and the tombstone clean-up after a compaction
             * (retried after the next one). */
            bool may_absorb = op->k == OP_APPEND || op->k == OP_BATCH || op->k == OP_COMPACT ||
                              op->k == OP_MAINT;
            cr_assert(!failed || may_absorb,
                      "op %zu (kind %d): an allocation failed but it returned %s", i, (int)op->k,
                      tl_strerror(st));
            /* The write happened: mirror it. */
            switch (op->k) {
            case OP_APPEND:
                tlt_model_add(&f->m, op->a, h);
                f->next_h++;
                break;
            case OP_BATCH:
                tlt_model_add_batch(&f->m, bts, bh, (size_t)op->n);
                f->next_h += (tl_handle_t)op->n;
                break;
            case OP_DEL_RANGE:
                if (op->a < op->b)
                    tlt_model_delete_incl(&f->m, op->a, op->b - 1, mark_dead, f);
                break;
            case OP_DEL_SINCE:
                tlt_model_delete_incl(&f->m, op->a, INT64_MAX, mark_dead, f);
                break;
            case OP_DEL_BEFORE:
                if (op->a > INT64_MIN)
                    tlt_model_delete_incl(&f->m, INT64_MIN, op->a - 1, mark_dead, f);
                break;
            case OP_DEL_TS:
                tlt_model_delete_incl(&f->m, op->a, op->a, mark_dead, f);
                break;
            case OP_DEL_ALL:
                tlt_model_delete_incl(&f->m, INT64_MIN, INT64_MAX, mark_dead, f);
                break;
            default:
                break;
            }
        }
        if (st == TL_ENOMEM && (op->k == OP_APPEND || op->k == OP_BATCH)) {
            /* The handles were not taken: the engine must never drop them. */
            f->next_h += op->k == OP_BATCH ? (tl_handle_t)op->n : 1;
            for (tl_handle_t x = h; x < f->next_h; x++)
                f->dead[x] = 2; /* never stored */
        }
        if (verify)
            oom_verify(f);
    }
    return calls;
}

/* fx_finish, minus handles that were never stored (dead == 2). */
static void oom_finish(fx_t *f) {
    tlt_close(&f->env);
    f->log = NULL;
    for (tl_handle_t h = 1; h < f->next_h; h++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, h), f->dead[h] == 2 ? 0u : 1u,
                     "handle %llu dropped %u times (stored: %d)", (unsigned long long)h,
                     tlt_drops_of(&f->env.drops, h), f->dead[h] != 2);
    tlt_env_teardown(&f->env);
    tlt_model_free(&f->m);
    free(f->dead);
}

Test(log, oom_sweep_every_allocation_of_a_mixed_workload, .timeout = 120) {
    op_t ops[256];
    size_t nops = build_program(ops, 256);
    fx_t f;
    fx_open(&f, NULL);
    tlt_alloc_arm(&f.env.alloc, 0, 0, 0);
    uint64_t total = run_program(&f, ops, nops, true);
    oom_finish(&f);
    cr_assert_gt(total, 0);
    cr_log_info("OOM sweep: %zu operations, %llu failable allocations, %llu replays", nops,
                (unsigned long long)total, (unsigned long long)total + 1);
    for (uint64_t k = 1; k <= total + 1; k++) {
        fx_open(&f, NULL);
        tlt_alloc_arm(&f.env.alloc, k, 0, 0);
        run_program(&f, ops, nops, true);
        cr_assert_eq(tlt_alloc_injected(&f.env.alloc), k <= total ? 1u : 0u,
                     "k = %llu: the replay diverged", (unsigned long long)k);
        oom_finish(&f);
    }
}

Test(log, oom_repeated_failures_keep_the_log_consistent) {
    op_t ops[256];
    size_t nops = build_program(ops, 256);
    const uint64_t every[] = {2, 3, 5, 11};
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
        fx_t f;
        fx_open(&f, NULL);
        tlt_alloc_arm(&f.env.alloc, 0, every[i], 0);
        run_program(&f, ops, nops, true);
        tlt_alloc_disarm(&f.env.alloc);
        fx_check(&f);
        oom_finish(&f);
    }
    for (uint64_t after = 0; after < 200; after += 13) {
        fx_t f;
        fx_open(&f, NULL);
        tlt_alloc_arm(&f.env.alloc, 0, 0, after + 1);
        run_program(&f, ops, nops, true);
        oom_finish(&f);
    }
}

Test(log, oom_during_open_leaks_nothing) {
    for (uint64_t k = 1; k < 1000; k++) {
        TLT_ENV(env);
        tl_config_t cfg;
        tlt_small_config(&env, &cfg);
        tlt_alloc_arm(&env.alloc, k, 0, 0);
        tl_log_t *log = NULL;
        tl_status_t st = tlt_open_cfg(&env, &cfg, &log);
        bool failed = tlt_alloc_injected(&env.alloc) > 0;
        tlt_alloc_disarm(&env.alloc);
        if (st == TL_ENOMEM) {
            cr_assert(failed);
            cr_assert_null(log);
            cr_assert_eq(tlt_alloc_live_bytes(&env.alloc), 0, "failed open leaked %llu bytes",
                         (unsigned long long)tlt_alloc_live_bytes(&env.alloc));
            tlt_env_teardown(&env);
            continue;
        }
        TLT_OK(st);
        cr_assert(!failed, "tl_open swallowed an allocation failure");
        TLT_VALID(log);
        TLT_W(tl_append(log, 1, 1));
        tlt_env_teardown(&env);
        cr_assert_gt(k, 1, "tl_open made no allocation at all?");
        return;
    }
    cr_assert_fail("tl_open kept failing");
}

Test(log, close_and_teardown_need_no_allocation) {
    for (int pinned = 0; pinned < 2; pinned++) {
        fx_t f;
        fx_open(&f, NULL);
        fx_mixed_state(&f);
        tl_snapshot_t *snap = NULL;
        if (pinned)
            TLT_OK(tl_snapshot_acquire(f.log, &snap));
        tlt_alloc_arm(&f.env.alloc, 0, 1, 0); /* every allocation fails */
        tlt_close(&f.env);
        tl_snapshot_release(snap);
        tlt_alloc_disarm(&f.env.alloc);
        fx_finish(&f);
    }
}

/* ---------------------------------------------------------------- the test allocator itself */

/* The fixtures are only as good as their checks: make sure the counting
 * allocator really catches what it claims to. */

Test(test_util, allocator_counts_and_detects_a_size_mismatch) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    void *p = tlt_malloc(&a, 24);
    void *q = tlt_malloc(&a, 0);
    cr_assert(p != NULL && q != NULL);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 24);
    cr_assert_eq(tlt_alloc_live_blocks(&a), 2);
    tlt_free(&a, q, 0);
    tlt_free(&a, p, 16); /* wrong size */
    cr_assert_eq(tlt_alloc_errors(&a), 1);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 0);
    a.errors = 0;
    tlt_alloc_destroy(&a);
}

Test(test_util, allocator_detects_overrun_and_underrun) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    unsigned char *p = tlt_malloc(&a, 10);
    p[10] = 0; /* one past the end: lands on the trailing guard */
    tlt_free(&a, p, 10);
    cr_assert_eq(tlt_alloc_errors(&a), 1);
    p = tlt_malloc(&a, 10);
    p[-1] ^= 0x40; /* the front guard */
    tlt_free(&a, p, 10);
    cr_assert_eq(tlt_alloc_errors(&a), 2);
    a.errors = 0;
    tlt_alloc_destroy(&a);
}

Test(test_util, allocator_realloc_moves_keeps_content_and_checks_old_size) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    unsigned char *p = tlt_malloc(&a, 8);
    memcpy(p, "abcdefgh", 8);
    unsigned char *q = tlt_realloc(&a, p, 8, 100);
    cr_assert(q != NULL && q != p);
    cr_assert(memcmp(q, "abcdefgh", 8) == 0);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 100);
    q = tlt_realloc(&a, q, 100, 4);
    cr_assert(memcmp(q, "abcd", 4) == 0);
    cr_assert_eq(tlt_alloc_errors(&a), 0);
    q = tlt_realloc(&a, q, 5, 8); /* wrong old size */
    cr_assert_eq(tlt_alloc_errors(&a), 1);
    tlt_free(&a, q, 8);
    void *r = tlt_realloc(&a, NULL, 0, 32);
    cr_assert_not_null(r);
    tlt_free(&a, r, 32);
    a.errors = 0;
    tlt_alloc_destroy(&a);
}

Test(test_util, allocator_fails_exactly_the_armed_calls) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    void *keep = tlt_malloc(&a, 64);
    tlt_alloc_arm(&a, 3, 0, 0);
    void *p1 = tlt_malloc(&a, 8);               /* 1 */
    void *p2 = tlt_realloc(&a, keep, 64, 32);   /* shrinking: not counted */
    void *p3 = tlt_realloc(&a, p2, 32, 128);    /* 2 */
    void *p4 = tlt_malloc(&a, 8);               /* 3: fails */
    void *p5 = tlt_malloc(&a, 8);               /* 4 */
    cr_assert(p1 && p2 && p3 && p5);
    cr_assert_null(p4);
    cr_assert_eq(tlt_alloc_injected(&a), 1);
    cr_assert_eq(tlt_alloc_armed_calls(&a), 4);
    /* A failed growing realloc leaves the old block alone. */
    tlt_alloc_arm(&a, 1, 0, 0);
    cr_assert_null(tlt_realloc(&a, p3, 128, 256));
    cr_assert_eq(tlt_alloc_live_bytes(&a), 8 + 128 + 8);
    /* fail_every / fail_after, and suspension. */
    tlt_alloc_arm(&a, 0, 2, 0);
    void *e1 = tlt_malloc(&a, 1), *e2 = tlt_malloc(&a, 1);
    cr_assert(e1 != NULL && e2 == NULL);
    tlt_alloc_arm(&a, 0, 0, 1);
    void *f1 = tlt_malloc(&a, 1), *f2 = tlt_malloc(&a, 1);
    tlt_alloc_suspend(&a);
    void *f3 = tlt_malloc(&a, 1);
    tlt_alloc_resume(&a);
    cr_assert(f1 != NULL && f2 == NULL && f3 != NULL);
    tlt_alloc_disarm(&a);
    tlt_free(&a, p1, 8);
    tlt_free(&a, p3, 128);
    tlt_free(&a, p5, 8);
    tlt_free(&a, e1, 1);
    tlt_free(&a, f1, 1);
    tlt_free(&a, f3, 1);
    tlt_alloc_destroy(&a);
}

Test(test_util, drop_tracker_counts_per_handle) {
    tlt_drops_t d;
    tlt_drops_init(&d, 16);
    tlt_on_drop(&d, 3);
    tlt_on_drop(&d, 5);
    cr_assert_eq(tlt_drops_of(&d, 3), 1);
    cr_assert_eq(tlt_drops_of(&d, 4), 0);
    cr_assert_eq(tlt_drops_total(&d), 2);
    tlt_drops_assert_range_once(&d, 3, 4);
    tlt_drops_check(&d);
    tlt_on_drop(&d, 3);
    cr_assert_eq(tlt_drops_of(&d, 3), 2);
    tlt_on_drop(&d, 99); /* out of range */
    cr_assert_eq(d.out_of_range, 1);
    tlt_drops_destroy(&d);
}

Test(test_util, model_applies_deletes_inclusively) {
    tlt_model_t m;
    tlt_model_init(&m);
    const tl_ts_t ts[] = {5, INT64_MAX, 1, 5, INT64_MIN};
    const tl_handle_t h[] = {10, 11, 12, 13, 14};
    tlt_model_add_batch(&m, ts, h, 5);
    tlt_model_add(&m, 5, 9);
    cr_assert_eq(m.n, 6);
    cr_assert(m.r[0].ts == INT64_MIN && m.r[5].ts == INT64_MAX);
    cr_assert(m.r[2].h == 9 && m.r[3].h == 10 && m.r[4].h == 13);
    cr_assert_eq(tlt_model_count(&m, 5, 6), 3);
    cr_assert_eq(tlt_model_count(&m, INT64_MIN, INT64_MAX), 5);
    tl_ts_t x;
    cr_assert(tlt_model_next(&m, 5, &x) && x == INT64_MAX);
    cr_assert(!tlt_model_next(&m, INT64_MAX, &x));
    cr_assert(tlt_model_prev(&m, 5, &x) && x == 1);
    cr_assert(!tlt_model_prev(&m, INT64_MIN, &x));
    cr_assert_eq(tlt_model_delete_incl(&m, INT64_MAX, INT64_MAX, NULL, NULL), 1);
    cr_assert_eq(tlt_model_delete_incl(&m, 2, 5, NULL, NULL), 3);
    cr_assert_eq(m.n, 2);
    tlt_model_free(&m);
}

/* ---------------------------------------------------------------- frozen memtable */

/* Background mode: a write that fills the memtable freezes it for the worker.
 * Whatever the worker has done by then, every read sees the model, deletes
 * hide frozen records, the spare run is accounted, and stop_maintenance
 * leaves no frozen memtable behind. */
Test(log, full_memtables_freeze_for_the_worker_and_stay_readable, .timeout = 60) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg); /* fx_open installs the hooks */
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.memtable_max_bytes = 384; /* 16 records */
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_max_runs = 64;
    fx_open(&f, &cfg);
    cr_assert(tl_maint_running(f.log));
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 16; i++) fx_append(&f, (tl_ts_t)(round * 16 + i) * (i % 5 == 4 ? -1 : 1));
        if (round % 7 == 3) fx_delete_range(&f, round * 16 - 40, round * 16 - 20);
        if (round % 10 == 0) fx_check(&f);
    }
    fx_check(&f);
    TLT_OK(tl_maint_stop(f.log));
    tl_stats_t st = stats_of(f.log);
    cr_assert_eq(st.memtable_records, 0, "stop_maintenance seals what the worker left frozen "
                 "(the last write filled the memtable)");
    cr_assert_eq(st.memrun_records + st.l0_records + st.l1_records, st.physical_records);
    fx_check(&f);
    TLT_OK(tl_flush(f.log));
    st = stats_of(f.log);
    cr_assert_eq(st.engine_bytes, tlt_alloc_live_bytes(&f.env.alloc));
    fx_settle_drops(&f);
    fx_finish(&f);
}

/* tl_snapshot_current: a kept snapshot is reusable exactly until something
 * is written or published; tl_point_in reads it like tl_point reads a fresh
 * pin. */
Test(log, snapshot_current_until_a_write_or_publish) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, 5);
    fx_append(&f, 5);
    tl_snapshot_t *s;
    TLT_OK(tl_snapshot_acquire(f.log, &s));
    cr_assert_eq(tl_snapshot_current(f.log, s), 1);
    cr_assert_eq(tl_snapshot_current(f.log, s), 1, "reading does not change it");
    tl_handle_t out[4];
    size_t n = 0, m = 0;
    TLT_OK(tl_point_in(s, 5, out, 4, &n));
    tl_handle_t out2[4];
    TLT_OK(tl_point(f.log, 5, out2, 4, &m));
    cr_assert_eq(n, 2);
    cr_assert_eq(m, 2);
    cr_assert_arr_eq(out, out2, 2 * sizeof out[0]);

    fx_append(&f, 6); /* a write */
    cr_assert_eq(tl_snapshot_current(f.log, s), 0);
    TLT_OK(tl_point_in(s, 6, out, 4, &n));
    cr_assert_eq(n, 0, "the old snapshot still shows the old state");
    tl_snapshot_release(s);

    TLT_OK(tl_snapshot_acquire(f.log, &s));
    cr_assert_eq(tl_snapshot_current(f.log, s), 1);
    fx_delete_ts(&f, 6); /* a delete */
    cr_assert_eq(tl_snapshot_current(f.log, s), 0);
    tl_snapshot_release(s);

    TLT_OK(tl_snapshot_acquire(f.log, &s));
    TLT_OK(tl_flush(f.log)); /* a publish that changes no visible record */
    cr_assert_eq(tl_snapshot_current(f.log, s), 0, "a publish retires what it pins");
    tl_snapshot_release(s);

    tl_log_t *other;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.alloc = (tl_allocator_t){0};
    cfg.on_drop = NULL;
    TLT_OK(tl_open(&cfg, &other));
    TLT_OK(tl_snapshot_acquire(f.log, &s));
    cr_assert_eq(tl_snapshot_current(other, s), 0, "another log's snapshot");
    cr_assert_eq(tl_snapshot_current(NULL, s), 0);
    cr_assert_eq(tl_snapshot_current(f.log, NULL), 0);
    cr_assert_eq(tl_point_in(NULL, 5, out, 4, &n), TL_EINVAL);
    tl_close(other);
    tl_snapshot_retain(s);
    tl_snapshot_release(s);
    cr_assert_eq(tl_snapshot_current(f.log, s), 1, "retain/release of a pin changes nothing");
    tl_snapshot_release(s);
    fx_check(&f);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- in-place batches */

static void fill_batch(fx_t *f, tl_ts_t *ts, tl_handle_t *h, size_t n, tl_ts_t base, bool sorted) {
    for (size_t i = 0; i < n; i++) {
        ts[i] = sorted ? base + (tl_ts_t)i : base + (tl_ts_t)((i * 7919) % n);
        h[i] = f->next_h + i;
    }
}

Test(log, in_place_batches_store_like_append_batch) {
    fx_t f;
    fx_open(&f, NULL); /* memtable 4096 bytes: 170 records, direct from 85 */
    tl_batch_t *b;
    tl_ts_t *ts;
    tl_handle_t *h;
    static tl_ts_t mts[300];
    static tl_handle_t mh[300];
    const struct {
        size_t cap, used;
        bool sorted;
    } cases[] = {{10, 10, true}, {10, 7, false}, {200, 200, false}, {200, 150, true},
                 {300, 300, true}, {0, 0, true}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        TLT_OK(tl_batch_open(f.log, cases[c].cap, &b, &ts, &h));
        fill_batch(&f, ts, h, cases[c].cap, (tl_ts_t)c * 1000, cases[c].sorted);
        memcpy(mts, ts, cases[c].cap * sizeof *ts); /* the batch is the engine's after commit */
        memcpy(mh, h, cases[c].cap * sizeof *h);
        tl_stats_t before = stats_of(f.log);
        TLT_W(tl_batch_commit(f.log, b, cases[c].used));
        tlt_model_add_batch(&f.m, mts, mh, cases[c].used);
        f.next_h += cases[c].used; /* the unused tail's handles were never stored */
        tl_stats_t after = stats_of(f.log);
        cr_assert_eq(after.records, before.records + cases[c].used, "case %zu", c);
        if (cases[c].used == cases[c].cap && cases[c].sorted && cases[c].used >= 85)
            cr_assert_eq(after.memruns, before.memruns + 1, "a full sorted batch is a memrun");
        fx_check(&f);
    }

    /* Misuse and abandonment store nothing and leak nothing. */
    TLT_OK(tl_batch_open(f.log, 5, &b, &ts, &h));
    fill_batch(&f, ts, h, 5, 9000, true);
    cr_assert_eq(tl_batch_commit(f.log, b, 6), TL_EINVAL, "more records than room");
    cr_assert_eq(tl_batch_commit(NULL, b, 1), TL_EINVAL);
    cr_assert_eq(tl_batch_commit(f.log, NULL, 1), TL_EINVAL);
    cr_assert_eq(h[4], f.next_h + 4, "a refused commit leaves the batch as written");
    tl_batch_abandon(f.log, b);
    tl_batch_abandon(f.log, NULL);
    cr_assert_eq(tl_batch_open(NULL, 5, &b, &ts, &h), TL_EINVAL);
    cr_assert_null(b);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

/* An iterator closed on a snapshot leaves its memory for the snapshot's next
 * iterator: the second open allocates nothing; the spare goes with the
 * snapshot's last pin (fx_finish checks that no byte is left). */
Test(log, iterators_reuse_the_memory_of_the_last_closed_one) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 500; i++) fx_append(&f, i);
    TLT_OK(tl_flush(f.log));
    fx_append(&f, 1000); /* a memtable source too */
    tl_snapshot_t *s;
    TLT_OK(tl_snapshot_acquire(f.log, &s));
    tl_iter_t *it;
    TLT_OK(tl_iter_range(s, 10, 20, &it));
    tl_iter_close(it);
    uint64_t calls = f.env.alloc.calls;
    for (int round = 0; round < 3; round++) {
        TLT_OK(tl_iter_range(s, 100 + round, 400, &it));
        tl_ts_t ts;
        tl_handle_t h;
        size_t n = 0;
        while (tl_iter_next(it, &ts, &h) == TL_OK) n++;
        cr_assert_eq(n, (size_t)(300 - round));
        tl_iter_close(it);
    }
    cr_assert_eq(f.env.alloc.calls, calls, "reopening on the same snapshot allocated");
    /* Two at once: the second one allocates, both close cleanly. */
    tl_iter_t *a, *b;
    TLT_OK(tl_iter_all(s, &a));
    TLT_OK(tl_iter_all(s, &b));
    tl_iter_close(a);
    tl_iter_close(b);
    tl_snapshot_release(s);
    fx_check(&f);
    fx_finish(&f);
}
