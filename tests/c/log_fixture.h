/*
 * log_fixture.h: the fixture shared by the behaviour tests of the public API
 * (tests/c/test_log_*.c): a log on the counting allocator plus the reference
 * model of what it must contain, and the comparisons every suite uses.
 *
 * Every test that opens a log runs it on the counting allocator
 * (test_util.h) and ends with tlt_env_teardown, which fails on a live byte,
 * an allocator error or a handle dropped twice; fx_finish also checks that
 * every handle ever stored was passed to on_drop exactly once. Small
 * memtables, pages and windows make seals, flushes and compactions happen
 * within a few hundred records. Maintenance is disabled (deterministic)
 * unless a test is about the background worker.
 *
 * The model (tlt_model_t) applies each delete to the records present when
 * it runs, which is the sequenced-tombstone rule; see tl_test_model.h.
 *
 * Everything here is static inline so the header adds no symbols: each
 * suite stays a self-contained .c file (as with comp_fixture.h).
 */
#ifndef TLT_LOG_FIXTURE_H
#define TLT_LOG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static inline void fx_open(fx_t *f, tl_config_t *cfg_or_null) {
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
static inline void fx_finish(fx_t *f) {
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

static inline void mark_dead(void *ctx, tl_handle_t h) { ((fx_t *)ctx)->dead[h] = 1; }

static inline tl_handle_t fx_append(fx_t *f, tl_ts_t ts) {
    tl_handle_t h = f->next_h++;
    cr_assert_lt(h, FX_CAP);
    TLT_W(tl_append(f->log, ts, h));
    tlt_model_add(&f->m, ts, h);
    return h;
}

/* Appends n records with the given timestamps through tl_append_batch. */
static inline void fx_batch(fx_t *f, const tl_ts_t *ts, size_t n) {
    tl_handle_t *h = malloc((n ? n : 1) * sizeof *h);
    cr_assert_not_null(h);
    for (size_t i = 0; i < n; i++) h[i] = f->next_h++;
    cr_assert_lt(f->next_h, FX_CAP);
    TLT_W(tl_append_batch(f->log, ts, h, n));
    tlt_model_add_batch(&f->m, ts, h, n);
    free(h);
}

static inline void fx_delete_range(fx_t *f, tl_ts_t t1, tl_ts_t t2) {
    TLT_W(tl_delete_range(f->log, t1, t2));
    if (t1 < t2) tlt_model_delete_incl(&f->m, t1, t2 - 1, mark_dead, f);
}

static inline void fx_delete_since(fx_t *f, tl_ts_t t1) {
    TLT_W(tl_delete_since(f->log, t1));
    tlt_model_delete_incl(&f->m, t1, INT64_MAX, mark_dead, f);
}

static inline void fx_delete_before(fx_t *f, tl_ts_t t2) {
    TLT_W(tl_delete_before(f->log, t2));
    if (t2 > INT64_MIN) tlt_model_delete_incl(&f->m, INT64_MIN, t2 - 1, mark_dead, f);
}

static inline void fx_delete_ts(fx_t *f, tl_ts_t ts) {
    TLT_W(tl_delete_ts(f->log, ts));
    tlt_model_delete_incl(&f->m, ts, ts, mark_dead, f);
}

static inline void fx_delete_all(fx_t *f) {
    TLT_W(tl_delete_all(f->log));
    tlt_model_delete_incl(&f->m, INT64_MIN, INT64_MAX, mark_dead, f);
}

/* validate + full comparison against the model. */
static inline void fx_check(fx_t *f) {
    tlt_alloc_check(&f->env.alloc); /* guard words, sizes passed to free */
    TLT_VALID(f->log);
    tlt_expect_model(f->log, &f->m);
}

/* flush + compact + drain: afterwards exactly the dead handles were dropped. */
static inline void fx_settle_drops(fx_t *f) {
    TLT_OK(tl_flush(f->log));
    TLT_OK(tl_compact(f->log));
    tlt_drain_all(f->log);
    for (tl_handle_t h = 1; h < f->next_h; h++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, h), (uint32_t)f->dead[h],
                     "after flush+compact+drain handle %llu dropped %u times, want %u",
                     (unsigned long long)h, tlt_drops_of(&f->env.drops, h), f->dead[h]);
}

/* Records in every layer, tombstones over every layer, both int64 ends. */
static inline void fx_mixed_state(fx_t *f) {
    for (int i = 0; i < 300; i++) fx_append(f, (tl_ts_t)((i * 37) % 1000));
    fx_append(f, INT64_MIN);
    fx_append(f, INT64_MAX);
    TLT_OK(tl_compact(f->log));   /* -> L1 */
    fx_delete_range(f, 100, 200); /* over L1 */
    for (int i = 0; i < 200; i++) fx_append(f, tlt_rng_range(&f->rng, 0, 999));
    fx_append(f, INT64_MAX);
    TLT_OK(tl_flush(f->log));     /* -> L0 */
    fx_delete_range(f, 500, 520); /* over L1 + L0 */
    fx_delete_ts(f, 37);
    for (int i = 0; i < 60; i++) fx_append(f, tlt_rng_range(&f->rng, 0, 999)); /* memtable */
    fx_append(f, INT64_MIN);
    fx_delete_range(f, 900, 950);                       /* over every layer */
    for (int i = 0; i < 10; i++) fx_append(f, 900 + i); /* written after: visible */
}

/* Query points around every record plus the extremes. */
static inline void neighbour_probe(tlt_model_t *m, tl_snapshot_t *snap, tl_ts_t q) {
    tl_ts_t want, got = 0x5EED;
    bool has = tlt_model_next(m, q, &want);
    tl_status_t st = tl_next_ts(snap, q, &got);
    if (has) {
        cr_assert_eq(st, TL_OK, "next_ts(%lld) -> %s", (long long)q, tl_strerror(st));
        cr_assert_eq(got, want, "next_ts(%lld) = %lld, want %lld", (long long)q, (long long)got,
                     (long long)want);
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
        cr_assert_eq(got, want, "prev_ts(%lld) = %lld, want %lld", (long long)q, (long long)got,
                     (long long)want);
    } else {
        cr_assert_eq(st, TL_EOF, "prev_ts(%lld) -> %s (got %lld), want TL_EOF", (long long)q,
                     tl_strerror(st), (long long)got);
        cr_assert_eq(got, 0x5EED, "prev_ts wrote *out on TL_EOF");
    }
}

static inline void check_neighbours(tl_log_t *log, tlt_model_t *m) {
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(log, &snap));
    const tl_ts_t fixed[] = {INT64_MIN, INT64_MIN + 1, -1,       0, 1, 99, 100, 500, 999,
                             1000,      INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) neighbour_probe(m, snap, fixed[i]);
    for (size_t i = 0; i < m->n; i += 3) {
        neighbour_probe(m, snap, m->r[i].ts);
        neighbour_probe(m, snap, tlt_sat_add(m->r[i].ts, -1));
        neighbour_probe(m, snap, tlt_sat_add(m->r[i].ts, 1));
    }
    tl_snapshot_release(snap);
}

/* Ranges worth checking against the model. */
static inline void check_ranges(fx_t *f) {
    const tl_ts_t edges[] = {INT64_MIN,     INT64_MIN + 1, -5,  0,   37,  100, 199,
                             200,           500,           521, 900, 950, 999, 1000,
                             INT64_MAX - 1, INT64_MAX};
    size_t ne = sizeof edges / sizeof edges[0];
    for (size_t i = 0; i < ne; i++)
        for (size_t j = 0; j < ne; j += 2) tlt_expect_range(f->log, &f->m, edges[i], edges[j]);
    for (int k = 0; k < 40; k++) {
        tl_ts_t a = tlt_rng_range(&f->rng, -10, 1010);
        tl_ts_t b = tlt_rng_range(&f->rng, -10, 1010);
        tlt_expect_range(f->log, &f->m, a, b);
    }
}

static inline tl_ts_t *ts_array(size_t n) {
    tl_ts_t *ts = malloc((n ? n : 1) * sizeof *ts);
    cr_assert_not_null(ts);
    return ts;
}

/* An error message names a config field, as written or with spaces. */
static inline bool names_field(const char *why, const char *field) {
    if (strstr(why, field) != NULL) return true;
    char spaced[64];
    snprintf(spaced, sizeof spaced, "%s", field);
    for (char *p = spaced; *p; p++)
        if (*p == '_') *p = ' ';
    return strstr(why, spaced) != NULL;
}

static inline tl_stats_t stats_of(tl_log_t *log) {
    tl_stats_t st;
    TLT_OK(tl_stats(log, &st));
    return st;
}

/* Runs policy steps until the policy has nothing left (TL_EOF); returns how
 * many it took (TL_EBUSY counts as a step: the worker may hold the turn). */
static inline size_t steps_until_idle(tl_log_t *log) {
    size_t n = 0;
    for (;;) {
        tl_status_t st = tl_maint_step(log);
        if (st == TL_EOF) return n;
        cr_assert(st == TL_OK || st == TL_EBUSY, "maint_step -> %s", tl_strerror(st));
        cr_assert_lt(++n, 10000, "maint_step never went idle");
    }
}

/* Timestamps at and near both int64 ends and around 0, as an initializer
 * (a static array here would be unused, hence a warning, in some suites). */
#define TLT_EXTREMES                                                                        \
    {                                                                                       \
        INT64_MIN, INT64_MIN + 1, INT64_MIN + 99, INT64_MIN + 100, -101, -1, 0, 1, 99, 100, \
            INT64_MAX - 100, INT64_MAX - 1, INT64_MAX                                       \
    }

#endif /* TLT_LOG_FIXTURE_H */
