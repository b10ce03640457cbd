/*
 * test_maint.c: the maintenance policy's decision table (tl_maint.h).
 * Priority: a frozen memtable (seal it) beats a full memtable (seal), which
 * beats sources deletes hide entirely (drop them whole), which beat waiting
 * memruns (flush), which beat L0 fan-out (compact), which beats delete debt
 * (compact), which beats a grown tombstone set (forget); a zero debt
 * threshold (never the resolved default) turns debt compaction off. The
 * policy allocates nothing. Below the table, the issue 15 tests run the
 * policy on real logs (retention by default); the issue 17 bound on each
 * policy compaction is in test_maint_bounded.c.
 */
#include <time.h>

#include "comp_fixture.h"
#include "log_fixture.h"
#include "tl_maint.h"

static tl_maint_shape_t shape(bool full, size_t memruns, size_t l0, size_t max_delta, double debt,
                              double threshold) {
    tl_maint_shape_t s = {full, memruns, l0, max_delta, debt, threshold, false, 0, false};
    return s;
}

Test(maint, next_action_follows_the_priority_table) {
    TC_MEM(t);
    struct {
        tl_maint_shape_t s;
        tl_maint_action_t want;
        const char *why;
    } rows[] = {
        {shape(false, 0, 0, 4, 0.0, 0.0), TL_MA_NONE, "idle log"},
        {shape(true, 0, 0, 4, 0.0, 0.0), TL_MA_SEAL, "full memtable"},
        {shape(true, 3, 9, 4, 0.9, 0.1), TL_MA_SEAL, "a full memtable comes first"},
        {shape(false, 1, 0, 4, 0.0, 0.0), TL_MA_FLUSH, "a waiting memrun"},
        {shape(false, 2, 9, 4, 0.9, 0.1), TL_MA_FLUSH, "flush before compaction"},
        {shape(false, 0, 3, 4, 0.0, 0.0), TL_MA_NONE, "L0 below max_delta_segments"},
        {shape(false, 0, 4, 4, 0.0, 0.0), TL_MA_COMPACT_L0, "L0 at max_delta_segments"},
        {shape(false, 0, 5, 4, 0.0, 0.0), TL_MA_COMPACT_L0, "L0 past max_delta_segments"},
        {shape(false, 0, 4, 4, 0.9, 0.1), TL_MA_COMPACT_L0, "L0 fan-out before debt"},
        {shape(false, 0, 0, 0, 0.0, 0.0), TL_MA_NONE, "no L0 segment with max_delta 0"},
        {shape(false, 0, 1, 1, 0.0, 0.0), TL_MA_COMPACT_L0, "one L0 segment, max_delta 1"},
        {shape(false, 0, 0, 4, 0.5, 0.5), TL_MA_COMPACT_DEBT, "debt at the threshold"},
        {shape(false, 0, 2, 4, 0.6, 0.5), TL_MA_COMPACT_DEBT, "debt past the threshold"},
        {shape(false, 0, 0, 4, 0.49, 0.5), TL_MA_NONE, "debt below the threshold"},
        {shape(false, 0, 0, 4, 1.0, 0.0), TL_MA_NONE, "threshold 0 turns debt off"},
        {shape(false, 0, 0, 4, 1.0, 1.0), TL_MA_COMPACT_DEBT, "everything hidden, threshold 1"},
    };
    /* Wholly hidden sources: dropped before anything but the seals. */
    tl_maint_shape_t cov = shape(false, 3, 9, 4, 0.9, 0.1);
    cov.covered = 1;
    cr_assert_eq(tl_maint_next(&cov), TL_MA_DROP_COVERED, "covered before flush and compaction");
    cov.memtable_full = true;
    cr_assert_eq(tl_maint_next(&cov), TL_MA_SEAL, "a full memtable before covered sources");
    /* A grown tombstone set: forgotten only when nothing else is due. */
    tl_maint_shape_t fg = shape(false, 0, 0, 4, 0.0, 0.5);
    fg.forget_due = true;
    cr_assert_eq(tl_maint_next(&fg), TL_MA_FORGET, "forget when idle");
    fg.delete_debt = 0.6;
    cr_assert_eq(tl_maint_next(&fg), TL_MA_COMPACT_DEBT, "debt compaction forgets too");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tl_maint_action_t got = tl_maint_next(&rows[i].s);
        cr_assert_eq(got, rows[i].want, "%s: got %d want %d", rows[i].why, (int)got,
                     (int)rows[i].want);
        /* A frozen memtable (older data) is sealed before anything else. */
        tl_maint_shape_t f = rows[i].s;
        f.frozen = true;
        cr_assert_eq(tl_maint_next(&f), TL_MA_SEAL_FROZEN, "%s, with a frozen memtable",
                     rows[i].why);
    }
    cr_assert_eq(t.a.calls, 0);
    tc_end(&t);
}

/* The same rule written out independently, over a grid of shapes. */
static tl_maint_action_t reference(const tl_maint_shape_t *s) {
    if (s->frozen) return TL_MA_SEAL_FROZEN;
    if (s->memtable_full) return TL_MA_SEAL;
    if (s->covered != 0) return TL_MA_DROP_COVERED;
    if (s->memruns != 0) return TL_MA_FLUSH;
    bool fanout = s->l0_segments != 0 && s->l0_segments >= s->max_delta_segments;
    if (fanout) return TL_MA_COMPACT_L0;
    bool debt = s->delete_debt_threshold > 0.0 && s->delete_debt >= s->delete_debt_threshold;
    if (debt) return TL_MA_COMPACT_DEBT;
    return s->forget_due ? TL_MA_FORGET : TL_MA_NONE;
}

Test(maint, grid_agrees_with_the_priority_order) {
    TC_MEM(t);
    double debts[] = {0.0, 0.25, 0.5, 1.0};
    double thresholds[] = {0.0, 0.25, 0.5, 1.0};
    size_t counts[] = {0, 1, 2, 3, 8};
    size_t n = 0;
    for (int full = 0; full < 16; full++)
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 5; b++)
                for (size_t c = 0; c < 5; c++)
                    for (size_t d = 0; d < 4; d++)
                        for (size_t e = 0; e < 4; e++) {
                            tl_maint_shape_t s = shape(full & 1, counts[a], counts[b], counts[c],
                                                       debts[d], thresholds[e]);
                            s.frozen = (full & 2) != 0;
                            s.covered = (full & 4) != 0 ? 2 : 0;
                            s.forget_due = (full & 8) != 0;
                            cr_assert_eq(tl_maint_next(&s), reference(&s),
                                         "full|frozen|covered|forget=%d memruns=%zu l0=%zu "
                                         "max_delta=%zu debt=%g "
                                         "threshold=%g",
                                         full, counts[a], counts[b], counts[c], debts[d],
                                         thresholds[e]);
                            n++;
                        }
    cr_assert_eq(n, 16 * 5 * 5 * 5 * 4 * 4);
    tc_end(&t);
}

/* ---------------------------------------------------------------- issue 15
 * Maintenance reclaims what deletes hide, by default: memruns, L0 and L1
 * segments that deletes hide entirely are dropped whole (no flush, no
 * compaction: the counters say so), their handles released exactly once;
 * partly hidden sources are compacted once their debt passes the default
 * threshold; tombstones nothing needs are forgotten, also in a retention
 * loop run by the background worker. */

#define MAX_U64(a, b) ((a) > (b) ? (a) : (b))

/* Appends handles h = ts + 1 for ts in [lo, hi) as one batch. */
static void append_range(tl_log_t *log, tl_ts_t lo, tl_ts_t hi) {
    size_t n = (size_t)(hi - lo);
    tl_ts_t *ts = malloc(n * sizeof(*ts));
    tl_handle_t *h = malloc(n * sizeof(*h));
    cr_assert(ts != NULL && h != NULL);
    for (size_t i = 0; i < n; i++) {
        ts[i] = lo + (tl_ts_t)i;
        h[i] = (tl_handle_t)(lo + (tl_ts_t)i + 1);
    }
    TLT_W(tl_append_batch(log, ts, h, n));
    free(ts);
    free(h);
}

/* Through the platform layer: the same tests run on Windows (make test-windows). */
static void sleep_ms(long ms) { tl_sleep_us((uint32_t)(ms * 1000)); }

Test(maint, issue_15_wholly_hidden_l1_segments_are_dropped_without_a_rewrite) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg); /* windows of 100, maintenance disabled */
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    append_range(log, 0, 1000);
    TLT_OK(tl_compact(log));
    tlt_drain_all(log);
    tl_stats_t before = stats_of(log);
    cr_assert_eq(before.l1_segments, 10, "one L1 segment per window of 100");
    TLT_OK(tl_delete_before(log, 500)); /* hides windows 0..4 entirely */
    cr_assert_gt(steps_until_idle(log), 0);
    tl_stats_t after = stats_of(log);
    cr_assert_eq(after.covered_drops, 5, "the five hidden windows are dropped whole");
    cr_assert_eq(after.compactions, before.compactions, "no compaction: nothing rewritten");
    cr_assert_eq(after.flushes, before.flushes);
    cr_assert_eq(after.l1_segments, 5);
    cr_assert_eq(after.physical_records, 500, "the hidden records are gone from storage");
    cr_assert_eq(after.tombstones, 0, "nothing needs the cutoff any more: forgotten");
    cr_assert_eq(tlt_drops_total(&env.drops), 0, "handles wait for a drain");
    tlt_drain_all(log);
    tlt_drops_assert_range_once(&env.drops, 1, 501);
    tlt_drops_assert_range_none(&env.drops, 501, 1001);
    TLT_VALID(log);
    tlt_close(&env);
    tlt_drops_assert_range_once(&env.drops, 1, 1001); /* the rest at close, once */
    tlt_env_teardown(&env);
}

Test(maint, issue_15_wholly_hidden_memruns_and_l0_segments_are_dropped) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.max_delta_segments = 8; /* keep the L0 segment in L0 */
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    append_range(log, 0, 150);   /* a batch past half a memtable: a memrun */
    TLT_OK(tl_flush(log));       /* -> L0 */
    append_range(log, 150, 300); /* another memrun, left unflushed */
    tl_stats_t before = stats_of(log);
    cr_assert_eq(before.l0_segments, 1);
    cr_assert_eq(before.memruns, 1);
    TLT_OK(tl_delete_range(log, 0, 300));
    TLT_OK(tl_maint_step(log)); /* the first unit: the drop, before any flush */
    tl_stats_t after = stats_of(log);
    cr_assert_eq(after.covered_drops, 2);
    cr_assert_eq(after.memruns, 0, "the memrun was dropped, not flushed");
    cr_assert_eq(after.l0_segments, 0);
    cr_assert_eq(after.flushes, before.flushes);
    cr_assert_eq(after.compactions, before.compactions);
    cr_assert_eq(after.physical_records, 0);
    tlt_drain_all(log);
    tlt_drops_assert_range_once(&env.drops, 1, 301);
    TLT_VALID(log);
    tlt_env_teardown(&env);
}

Test(maint, issue_15_point_deletes_covering_a_segment_drop_it_and_a_gap_keeps_it) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    append_range(log, 0, 300);
    TLT_OK(tl_compact(log));
    tlt_drain_all(log);
    tl_stats_t before = stats_of(log);
    cr_assert_eq(before.l1_segments, 3);
    /* Window [0, 100): one delete per record, each its own sequence, so
     * no single tombstone covers the segment. Window [100, 200): all but
     * ts 150. */
    for (tl_ts_t t = 0; t < 200; t++) {
        if (t != 150) TLT_OK(tl_delete_ts(log, t));
    }
    /* Debt is (100 + 99) / 300 > 0.5, so after the drop the policy also
     * compacts the partly hidden window; count drops separately. */
    TLT_OK(tl_maint_step(log));
    tl_stats_t after = stats_of(log);
    cr_assert_eq(after.covered_drops, 1, "only the wholly hidden window is dropped whole");
    cr_assert_eq(after.l1_segments, 2);
    cr_assert_eq(after.compactions, before.compactions);
    tlt_drain_all(log);
    tlt_drops_assert_range_once(&env.drops, 1, 101);
    tlt_drops_assert_range_none(&env.drops, 101, 301);
    TLT_VALID(log);
    tlt_env_teardown(&env);
}

Test(maint, issue_15_debt_compaction_runs_by_default) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cr_assert(cfg.delete_debt_threshold == 0.0, "the config leaves the default to the engine");
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    append_range(log, 0, 400);
    TLT_OK(tl_compact(log));
    tlt_drain_all(log);
    tl_stats_t before = stats_of(log);
    /* 60% of every window hidden, no window entirely. */
    for (tl_ts_t w = 0; w < 400; w += 100) TLT_OK(tl_delete_range(log, w + 20, w + 80));
    cr_assert_gt(steps_until_idle(log), 0);
    tl_stats_t after = stats_of(log);
    cr_assert_eq(after.covered_drops, 0);
    cr_assert_gt(after.compactions, before.compactions, "debt past 0.5 compacts");
    cr_assert_eq(after.physical_records, 160);
    cr_assert_eq(after.records, 160);
    cr_assert_eq(after.tombstones, 0, "the folded deletes are forgotten");
    tlt_drain_all(log);
    for (tl_ts_t w = 0; w < 400; w += 100) {
        tlt_drops_assert_range_once(&env.drops, (tl_handle_t)(w + 21), (tl_handle_t)(w + 81));
        tlt_drops_assert_range_none(&env.drops, (tl_handle_t)(w + 1), (tl_handle_t)(w + 21));
    }
    TLT_VALID(log);
    tlt_env_teardown(&env);
}

Test(maint, issue_15_debt_below_the_threshold_waits) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    append_range(log, 0, 400);
    TLT_OK(tl_compact(log));
    tl_stats_t before = stats_of(log);
    for (tl_ts_t w = 0; w < 400; w += 100) TLT_OK(tl_delete_range(log, w + 20, w + 40));
    cr_assert_eq(steps_until_idle(log), 0, "20%% debt: nothing to do");
    tl_stats_t after = stats_of(log);
    cr_assert_eq(after.compactions, before.compactions);
    cr_assert_eq(after.physical_records, 400);
    cr_assert_eq(after.records, 320);
    TLT_VALID(log);
    tlt_env_teardown(&env);
}

/* The background worker in a retention loop: append a batch, cut off what
 * fell out of a window of 1000 records, sometimes by point deletes. Storage
 * and the tombstone set stay bounded without a single explicit call, and
 * every handle is released exactly once by the end. */
Test(maint, issue_15_background_retention_loop_stays_bounded, .timeout = 60) {
    TLT_ENV(env); /* 50,000 handles: within the tracker's default range */
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 100;
    cfg.window_size = 200;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    const tl_ts_t window = 1000, batch = 100;
    uint64_t max_phys = 0, max_tombs = 0;
    tl_ts_t t = 0;
    for (int k = 0; k < 500; k++) {
        append_range(log, t, t + batch);
        t += batch;
        if (k % 3 == 2) {
            for (tl_ts_t x = t - window - batch; x < t - window; x++) {
                if (x >= 0) TLT_OK(tl_delete_ts(log, x));
            }
        } else {
            TLT_OK(tl_delete_before(log, t - window));
        }
        tlt_drain_all(log);
        if (k >= 100) {
            tl_stats_t s = stats_of(log);
            max_phys = MAX_U64(max_phys, s.physical_records);
            max_tombs = MAX_U64(max_tombs, s.tombstones);
        }
        sleep_ms(k % 10 == 0 ? 2 : 0);
    }
    /* 2x the window + a memtable (170 records) + a batch, with slack for
     * the worker running behind a writer that never waits. */
    cr_assert_leq(max_phys, 2 * window + 170 + batch + 1500, "physical records peaked at %llu",
                  (unsigned long long)max_phys);
    cr_assert_leq(max_tombs, window + 170 + 4 * batch, "tombstones peaked at %llu",
                  (unsigned long long)max_tombs);
    /* Idle: the worker finishes; nothing hidden stays stored. */
    tl_stats_t s;
    for (int i = 0; i < 2000; i++) {
        s = stats_of(log);
        if (s.physical_records == s.records && s.tombstones <= 1) break;
        sleep_ms(1);
    }
    cr_assert_eq(s.physical_records, s.records, "hidden records left stored: %llu of %llu",
                 (unsigned long long)(s.physical_records - s.records),
                 (unsigned long long)s.physical_records);
    cr_assert_leq(s.tombstones, 1);
    tlt_close(&env);
    tlt_drops_assert_range_once(&env.drops, 1, (tl_handle_t)t + 1);
    tlt_env_teardown(&env);
}

/* Deletes that meet no stored record never cause a flush or compaction;
 * the worker forgets them anyway once the set has grown. */
Test(maint, issue_15_worker_forgets_deletes_of_empty_ranges) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    append_range(log, 0, 10);
    TLT_OK(tl_flush(log));
    for (tl_ts_t x = 1000; x < 3000; x += 2) TLT_OK(tl_delete_ts(log, x));
    tl_stats_t s;
    for (int i = 0; i < 2000; i++) {
        s = stats_of(log);
        if (s.tombstones < 64) break;
        sleep_ms(1);
    }
    cr_assert_lt(s.tombstones, 64, "%llu tombstones nothing needs are still kept",
                 (unsigned long long)s.tombstones);
    cr_assert_eq(s.records, 10);
    tlt_env_teardown(&env);
}

/* The drop under allocation failure: each failed step reports TL_ENOMEM and
 * leaves a valid log that a later step finishes; no handle is lost or
 * dropped twice, no byte leaks. */
Test(maint, issue_15_drop_of_hidden_sources_survives_every_allocation_failure) {
    bool succeeded = false;
    for (uint64_t k = 1; k < 64 && !succeeded; k++) {
        TLT_ENV(env);
        tl_config_t cfg;
        tlt_small_config(&env, &cfg);
        tl_log_t *log;
        TLT_OK(tlt_open_cfg(&env, &cfg, &log));
        append_range(log, 0, 300);
        TLT_OK(tl_compact(log));
        append_range(log, 300, 400); /* a memrun, hidden too */
        TLT_OK(tl_delete_before(log, 200));
        TLT_OK(tl_delete_range(log, 300, 400));
        tlt_alloc_arm(&env.alloc, k, 0, 0);
        tl_status_t st = tl_maint_step(log);
        tlt_alloc_disarm(&env.alloc);
        cr_assert(st == TL_OK || st == TL_ENOMEM, "k=%llu: %s", (unsigned long long)k,
                  tl_strerror(st));
        succeeded = st == TL_OK && tlt_alloc_injected(&env.alloc) == 0;
        TLT_VALID(log);
        steps_until_idle(log);
        tl_stats_t s = stats_of(log);
        cr_assert_eq(s.physical_records, 100, "k=%llu", (unsigned long long)k);
        tlt_drain_all(log);
        tlt_drops_assert_range_once(&env.drops, 1, 201);
        tlt_drops_assert_range_once(&env.drops, 301, 401);
        tlt_drops_assert_range_none(&env.drops, 201, 301);
        tlt_env_teardown(&env);
    }
    cr_assert(succeeded, "the step never ran without an injected failure");
}
