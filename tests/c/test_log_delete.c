/*
 * test_log_delete.c: behaviour tests of the public API (timelog.h), one Test per
 * behaviour: deletes (sequenced range tombstones) at every layer and at the int64 extremes, window arithmetic, and when deleted handles are dropped.
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

/* ---------------------------------------------------------------- deletes */

Test(log, delete_hides_only_earlier_writes) {
    /* append(10, A); delete [5, 15); append(10, B) -> only B, with a flush
     * (or not) after each step and a compaction (or not) at the end. */
    for (int mask = 0; mask < 16; mask++) {
        fx_t f;
        fx_open(&f, NULL);
        fx_append(&f, 10);
        if (mask & 1) TLT_OK(tl_flush(f.log));
        fx_delete_range(&f, 5, 15);
        if (mask & 2) TLT_OK(tl_flush(f.log));
        tl_handle_t b = fx_append(&f, 10);
        if (mask & 4) TLT_OK(tl_flush(f.log));
        if (mask & 8) TLT_OK(tl_compact(f.log));
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
    for (int i = 0; i < 100; i++) fx_append(&f, i);
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
            for (size_t i = 0; i < span.n; i++) cr_assert_eq(span.ts[i], INT64_MAX);
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

static const tl_ts_t k_extremes[] = TLT_EXTREMES;
#define N_EXTREMES (sizeof k_extremes / sizeof k_extremes[0])

static void extremes_round(tl_ts_t size, tl_ts_t origin) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg); /* fx_open installs the hooks */
    cfg.window_size = size;
    cfg.window_origin = origin;
    fx_open(&f, &cfg);
    for (size_t i = 0; i < N_EXTREMES; i++) fx_append(&f, k_extremes[(i * 5) % N_EXTREMES]);
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
    for (size_t i = 0; i < N_EXTREMES; i++) fx_append(&f, k_extremes[i]);
    TLT_OK(tl_compact(f.log));
    fx_check(&f);
    check_neighbours(f.log, &f.m);
    tlt_expect_range(f.log, &f.m, INT64_MIN, INT64_MAX);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, int64_extremes_survive_every_layer) { extremes_round(100, 0); }

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
    for (int i = 0; i < 1000; i++) ts[i] = 999 - i;
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
        if (span.n == 0) continue;
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
    for (int i = 0; i < 40; i++) fx_append(&f, i);
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
    for (int i = 0; i < 100; i++) fx_append(&f, i);
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
    for (int i = 0; i < 60; i++) fx_append(&f, i);
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
    if (r->depth >= 3) return;
    r->depth++;
    if (r->depth > r->max_depth) r->max_depth = r->depth;
    size_t n = 0;
    tl_status_t st = tl_drain_retired(r->log, 2, &n);
    if (st != TL_OK) r->worst = st;
    r->depth--;
}

Test(log, drain_may_be_reentered_from_on_drop) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 200; i++) fx_append(&f, i);
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
