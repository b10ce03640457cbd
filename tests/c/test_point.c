/*
 * test_point.c: tl_point, the allocation-free point read, against the
 * iterator over the same timestamp: same handles in the same order, across
 * every layer, duplicates, tombstones and the int64 extremes.
 */
#include <criterion/criterion.h>

#include "test_util.h"

/* Handles an iterator over exactly ts yields (in order) into out; returns n. */
static size_t iter_point_handles(tl_log_t *log, tl_ts_t ts, tl_handle_t *out, size_t cap) {
    tl_snapshot_t *s;
    tl_iter_t *it;
    TLT_OK(tl_snapshot_acquire(log, &s));
    TLT_OK(tl_iter_point(s, ts, &it));
    tl_snapshot_release(s);
    size_t n = 0;
    tl_ts_t t;
    tl_handle_t h;
    while (tl_iter_next(it, &t, &h) == TL_OK) {
        cr_assert_eq(t, ts);
        if (n < cap) out[n] = h;
        n++;
    }
    tl_iter_close(it);
    return n;
}

static void check_points(tl_log_t *log, const tl_ts_t *keys, size_t n_keys) {
    tl_handle_t a[64], b[64];
    for (size_t k = 0; k < n_keys; k++) {
        size_t want = iter_point_handles(log, keys[k], a, 64);
        size_t got = 0;
        TLT_OK(tl_point(log, keys[k], b, 64, &got));
        cr_assert_eq(got, want, "ts=%lld: tl_point counted %zu, iterator %zu", (long long)keys[k],
                     got, want);
        for (size_t i = 0; i < (got < 64 ? got : 64); i++) {
            cr_assert_eq(b[i], a[i], "ts=%lld: handle %zu differs", (long long)keys[k], i);
        }
        /* A short buffer still reports the full count. */
        size_t got2 = 0;
        TLT_OK(tl_point(log, keys[k], b, 1, &got2));
        cr_assert_eq(got2, want);
    }
}

Test(point, matches_the_iterator_in_every_layer_with_tombstones) {
    TLT_ENV(env);
    tl_log_t *log;
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 5);
    tl_handle_t next = 1;
    tl_ts_t keys[40];
    for (size_t i = 0; i < 40; i++) keys[i] = (tl_ts_t)i;
    keys[38] = TL_TS_MIN;
    keys[39] = TL_TS_MAX;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 300; i++) {
            tl_ts_t ts = (tl_ts_t)tlt_rng_below(&rng, 38);
            if (i % 50 == 0) ts = (i % 100 == 0) ? TL_TS_MIN : TL_TS_MAX;
            TLT_W(tl_append(log, ts, next++));
        }
        if (round % 2 == 1) TLT_OK(tl_delete_range(log, (tl_ts_t)round, (tl_ts_t)round + 5));
        if (round == 3) TLT_OK(tl_delete_ts(log, TL_TS_MAX));
        check_points(log, keys, 40);
        if (round % 3 == 0) TLT_OK(tl_flush(log));
        if (round % 3 == 1) TLT_OK(tl_compact(log));
        check_points(log, keys, 40);
        TLT_VALID(log);
    }
    tlt_env_teardown(&env);
}

Test(point, closed_log_reports_estate_while_pinned) {
    TLT_ENV(env);
    tl_log_t *log;
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    TLT_W(tl_append(log, 1, 1));
    tl_snapshot_t *s;
    TLT_OK(tl_snapshot_acquire(log, &s));
    tlt_close(&env);
    tl_handle_t h;
    size_t n = 7;
    TLT_ST(tl_point(log, 1, &h, 1, &n), TL_ESTATE);
    cr_assert_eq(n, 0);
    tl_snapshot_release(s);
    tlt_env_teardown(&env);
}
