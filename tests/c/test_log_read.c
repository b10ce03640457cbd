/*
 * test_log_read.c: behaviour tests of the public API (timelog.h), one Test per
 * behaviour: stats, counts, buckets, neighbours, batched iteration and zero-copy spans.
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

/* ---------------------------------------------------------------- stats */

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

    for (int i = 100; i < 150; i++) fx_append(&f, i);
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

/* ---------------------------------------------------------------- reads */

Test(log, counts_equal_iteration) {
    fx_t f;
    fx_open(&f, NULL);
    for (int phase = 0; phase < 3; phase++) {
        fx_mixed_state(&f);
        if (phase == 1) TLT_OK(tl_flush(f.log));
        if (phase == 2) TLT_OK(tl_compact(f.log));
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
    const tl_ts_t edges[] = {INT64_MIN,     INT64_MIN, -1,       0,   0,   37,  100,
                             150,           200,       505,      520, 900, 999, 1000,
                             INT64_MAX - 1, INT64_MAX, INT64_MAX};
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
                if (st == TL_EOF) cr_assert(n < cap, "TL_EOF with a full batch");
                total += n;
                cr_assert_leq(total, f.m.n);
                if (n < cap) done = true;
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
                for (size_t i = 0; i < total; i++) cr_assert_eq(ts[i], f.m.r[i].ts);
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
        if (st == TL_EOF) break;
        TLT_OK(st);
        total++;
        size_t n = 0;
        st = tl_iter_next_batch(it, ts + total, h + total, 5, &n);
        cr_assert(st == TL_OK || st == TL_EOF);
        total += n;
        if (n < 5) break;
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
            if (i > 0) cr_assert_leq(span.ts[i - 1], span.ts[i], "span not sorted");
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
    if (!all) tlt_model_slice(&f->m, t1, t2, &i0, &i1);
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
    const tl_ts_t edges[] = {INT64_MIN, -1, 0, 1, 100, 255, 260, 500, 710, 999, 1000, INT64_MAX};
    size_t ne = sizeof edges / sizeof edges[0];
    for (int phase = 0; phase < 2; phase++) {
        check_spans(&f, 0, 0, true);
        for (size_t i = 0; i < ne; i++)
            for (size_t j = 0; j < ne; j++) check_spans(&f, edges[i], edges[j], false);
        TLT_OK(tl_compact(f.log));
    }
    fx_finish(&f);
}

Test(log, spans_exclude_records_hidden_by_tombstones) {
    fx_t f;
    fx_open(&f, NULL);
    for (int i = 0; i < 100; i++) fx_append(&f, i);
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
    for (int i = 0; i < 10; i++) fx_append(&f, i);
    tl_snapshot_t *snap = NULL;
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    TLT_OK(tl_spans_all(snap, &sp));
    tl_span_t span;
    size_t total = 0;
    while (tl_spans_next(sp, &span) == TL_OK) total += span.n;
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
            if (st == TL_OK) break;
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
        if (i % 40 == 39) fx_delete_range(&f, i % 50, i % 50 + 5);
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
    for (int i = 0; i < 50; i++) fx_append(&f, i);
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
