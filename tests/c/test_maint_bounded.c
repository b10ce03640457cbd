/*
 * test_maint_bounded.c: compaction_max_windows (issue 17) on real logs.
 * Policy compactions (tl_maint_step, the worker) are bounded to the L1
 * windows of the oldest L0 segments that fit; tl_compact is not. The plan
 * itself is unit-tested in test_compact_plan.c.
 */
#include "log_fixture.h"
#include "tl_manifest.h"
#include "tl_state.h"

/* ---------------------------------------------------------------- issue 17
 * compaction_max_windows bounds each policy compaction (tl_maint_step, the
 * worker) to the L1 windows of the oldest L0 segments that fit; an L0
 * segment wider than the bound is compacted alone, so L0 always drains;
 * debt compactions fold the lowest windows first; tl_compact ignores the
 * bound. Observed through the manifest (maintenance is disabled, so this
 * thread is the only one touching it) and compared with the model record
 * by record after every step. */

/* One batch of n records at lo, lo + step, ... flushed into its own L0
 * segment, handles from *h, mirrored in the model. */
static void l0_batch(tl_log_t *log, tlt_model_t *m, tl_ts_t lo, tl_ts_t step, size_t n,
                     tl_handle_t *h) {
    for (size_t i = 0; i < n; i++) {
        tl_ts_t ts = lo + (tl_ts_t)i * step;
        TLT_W(tl_append(log, ts, *h));
        tlt_model_add(m, ts, *h);
        (*h)++;
    }
    TLT_OK(tl_flush(log));
}

static void model_delete(tl_log_t *log, tlt_model_t *m, tl_ts_t t1, tl_ts_t t2) {
    TLT_OK(tl_delete_range(log, t1, t2));
    tlt_model_delete_incl(m, t1, t2 - 1, NULL, NULL);
}

/* Distinct windows of the L1 segments in after that before did not hold. */
static size_t windows_written(const tl_manifest_t *before, const tl_manifest_t *after) {
    size_t n = 0;
    bool have = false;
    tl_ts_t last = 0;
    for (size_t k = 0; k < after->n_l1; k++) {
        const tl_segment_t *s = after->l1[k];
        bool old = false;
        for (size_t i = 0; i < before->n_l1; i++) old = old || before->l1[i] == s;
        if (old || (have && s->window.lo == last)) continue;
        have = true;
        last = s->window.lo;
        n++;
    }
    return n;
}

/* One policy step; returns the windows it wrote and checks that the L0
 * segments it retired are the oldest ones. */
static size_t step_and_observe(tl_log_t *log, size_t *l0_retired) {
    tl_manifest_t *before = tl_state_pin_manifest(log);
    TLT_OK(tl_maint_step(log));
    tl_manifest_t *after = tl_state_pin_manifest(log);
    cr_assert_leq(after->n_l0, before->n_l0);
    size_t gone = before->n_l0 - after->n_l0;
    for (size_t i = 0; i < after->n_l0; i++)
        cr_assert_eq(after->l0[i], before->l0[gone + i], "L0 leaves oldest first");
    size_t w = windows_written(before, after);
    tl_manifest_release(&log->mem, after);
    tl_manifest_release(&log->mem, before);
    *l0_retired = gone;
    return w;
}

/* A log whose policy compactions write at most max_windows windows of 100
 * (maintenance disabled, any L0 segment due), and an empty model beside it. */
static tl_log_t *open_bounded(tlt_env_t *env, size_t max_windows, tlt_model_t *m) {
    tl_config_t cfg;
    tlt_small_config(env, &cfg); /* windows of 100, maintenance disabled */
    cfg.max_delta_segments = 1;  /* any L0 segment is due: steps drain L0 */
    cfg.compaction_max_windows = max_windows;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(env, &cfg, &log));
    tlt_model_init(m);
    return log;
}

Test(maint, issue_17_max_windows_bounds_each_policy_compaction) {
    TLT_ENV(env);
    tlt_model_t m;
    tl_log_t *log = open_bounded(&env, 2, &m);
    tl_handle_t h = 1;
    /* L1 over windows 0..9 first (an explicit compact: unbounded). */
    for (int i = 0; i < 100; i++) {
        TLT_W(tl_append(log, i * 10, h));
        tlt_model_add(&m, i * 10, h++);
    }
    TLT_OK(tl_compact(log));
    tl_stats_t s0 = stats_of(log);
    cr_assert_eq(s0.l1_segments, 10, "tl_compact wrote all ten windows at once");
    cr_assert_eq(s0.compactions_bounded, 0);
    /* Ten L0 segments, one window each, oldest not lowest. */
    static const int order[] = {3, 7, 1, 9, 0, 5, 2, 8, 4, 6};
    for (int i = 0; i < 10; i++) l0_batch(log, &m, order[i] * 100 + 1 + i, 3, 30, &h);
    model_delete(log, &m, 430, 560); /* over L0 and L1 of windows 4 and 5 */
    model_delete(log, &m, 905, 906);
    tl_stats_t s1 = stats_of(log);
    cr_assert_eq(s1.l0_segments, 10);
    size_t steps = 0;
    while (stats_of(log).l0_segments > 0) {
        size_t gone;
        size_t w = step_and_observe(log, &gone);
        cr_assert_leq(w, 2, "step %zu wrote %zu windows", steps, w);
        cr_assert_eq(gone, 2, "two one-window segments fit in two windows");
        TLT_VALID(log);
        tlt_expect_model(log, &m);
        cr_assert_lt(++steps, 100);
    }
    cr_assert_eq(steps, 5);
    tl_stats_t s2 = stats_of(log);
    cr_assert_eq(s2.compactions - s1.compactions, 5);
    cr_assert_eq(s2.compactions_bounded, 4, "the last step took all that was left");
    steps_until_idle(log);
    tlt_expect_model(log, &m);
    /* Deleted records are gone after the steps: exactly their handles drop. */
    TLT_OK(tl_compact(log));
    tlt_drain_all(log);
    cr_assert_eq(tlt_drops_total(&env.drops), (uint64_t)(h - 1) - m.n);
    TLT_VALID(log);
    tlt_close(&env);
    tlt_drops_assert_range_once(&env.drops, 1, h);
    tlt_model_free(&m);
    tlt_env_teardown(&env);
}

/* The livelock case: the oldest L0 segment spans six windows, more than
 * max_windows = 2. It is compacted alone (the bound is a target for it),
 * then the rest go within the bound; L0 drains and the policy goes idle. */
Test(maint, issue_17_a_segment_wider_than_max_windows_is_compacted_alone) {
    TLT_ENV(env);
    tlt_model_t m;
    tl_log_t *log = open_bounded(&env, 2, &m);
    tl_handle_t h = 1;
    l0_batch(log, &m, 0, 20, 30, &h);  /* [0, 580]: windows 0..5 */
    l0_batch(log, &m, 50, 1, 10, &h);  /* window 0 */
    l0_batch(log, &m, 750, 1, 10, &h); /* window 7 */
    l0_batch(log, &m, 950, 1, 10, &h); /* window 9 */
    model_delete(log, &m, 100, 120);
    size_t gone;
    size_t w = step_and_observe(log, &gone);
    cr_assert_eq(gone, 1, "the wide segment alone");
    cr_assert_eq(w, 6, "over the bound, once");
    tlt_expect_model(log, &m);
    w = step_and_observe(log, &gone);
    cr_assert_eq(gone, 2, "window 0 and window 7 fit");
    cr_assert_eq(w, 2);
    w = step_and_observe(log, &gone);
    cr_assert_eq(gone, 1);
    cr_assert_eq(w, 1);
    tl_stats_t s = stats_of(log);
    cr_assert_eq(s.l0_segments, 0);
    cr_assert_eq(s.compactions_bounded, 2);
    cr_assert_lt(steps_until_idle(log), 10);
    TLT_VALID(log);
    tlt_expect_model(log, &m);
    tlt_model_free(&m);
    tlt_env_teardown(&env);
}

/* Delete debt over ten compacted windows, 60% hidden in each: each debt
 * step folds at most max_windows = 3 windows, the lowest ones first, until
 * debt falls under the threshold; the explicit compact folds the rest. */
Test(maint, issue_17_debt_compactions_fold_the_lowest_windows_first) {
    TLT_ENV(env);
    tlt_model_t m;
    tl_log_t *log = open_bounded(&env, 3, &m);
    for (tl_ts_t ts = 0; ts < 1000; ts++) {
        TLT_W(tl_append(log, ts, (tl_handle_t)ts + 1));
        tlt_model_add(&m, ts, (tl_handle_t)ts + 1);
    }
    TLT_OK(tl_compact(log));
    for (tl_ts_t w = 0; w < 1000; w += 100) model_delete(log, &m, w + 20, w + 80);
    tl_ts_t folded_below = 0; /* windows under this one were folded */
    size_t steps = 0;
    for (;;) {
        tl_stats_t s = stats_of(log);
        if ((double)(s.physical_records - s.records) < 0.5 * (double)s.physical_records) break;
        size_t gone;
        tl_manifest_t *before = tl_state_pin_manifest(log);
        size_t w = step_and_observe(log, &gone);
        tl_manifest_t *after = tl_state_pin_manifest(log);
        cr_assert_leq(w, 3);
        /* Lowest first: the segments written are the next three windows;
         * every window above them still holds its 100 unfolded records. */
        for (size_t i = 0; i < after->n_l1; i++) {
            const tl_segment_t *seg = after->l1[i];
            bool old = false;
            for (size_t j = 0; j < before->n_l1; j++) old = old || before->l1[j] == seg;
            if (!old) {
                cr_assert(seg->window.lo >= folded_below && seg->window.lo < folded_below + 300,
                          "step %zu folded window %lld", steps, (long long)seg->window.lo);
            } else if (seg->window.lo >= folded_below + 300) {
                cr_assert_eq(tl_segment_n(seg), 100, "window %lld folded too early",
                             (long long)seg->window.lo);
            }
        }
        folded_below += 300;
        tl_manifest_release(&log->mem, after);
        tl_manifest_release(&log->mem, before);
        tlt_expect_model(log, &m);
        cr_assert_lt(++steps, 20);
    }
    cr_assert_eq(steps, 2, "0.6 -> 0.51 -> 0.375");
    cr_assert_eq(stats_of(log).compactions_bounded, 2);
    cr_assert_eq(stats_of(log).physical_records, 640);
    TLT_OK(tl_compact(log));
    cr_assert_eq(stats_of(log).physical_records, 400, "tl_compact folds every window");
    tlt_expect_model(log, &m);
    TLT_VALID(log);
    tlt_model_free(&m);
    tlt_env_teardown(&env);
}

/* A bounded step under allocation failure: TL_ENOMEM leaves a valid log
 * equal to the model, later steps finish, no handle lost or dropped twice,
 * no byte leaked (the plan itself allocates nothing). */
Test(maint, issue_17_bounded_step_survives_every_allocation_failure) {
    bool succeeded = false;
    for (uint64_t k = 1; k < 200 && !succeeded; k++) {
        TLT_ENV(env);
        tlt_model_t m;
        tl_log_t *log = open_bounded(&env, 2, &m);
        tl_handle_t h = 1;
        for (int i = 0; i < 5; i++) l0_batch(log, &m, (4 - i) * 100 + 3, 7, 12, &h);
        model_delete(log, &m, 310, 330);
        tlt_alloc_arm(&env.alloc, k, 0, 0);
        tl_status_t st = tl_maint_step(log);
        tlt_alloc_disarm(&env.alloc);
        cr_assert(st == TL_OK || st == TL_ENOMEM, "k=%llu: %s", (unsigned long long)k,
                  tl_strerror(st));
        succeeded = st == TL_OK && tlt_alloc_injected(&env.alloc) == 0;
        TLT_VALID(log);
        tlt_expect_model(log, &m);
        steps_until_idle(log);
        cr_assert_eq(stats_of(log).l0_segments, 0, "k=%llu", (unsigned long long)k);
        tlt_expect_model(log, &m);
        tlt_drain_all(log);
        cr_assert_eq(tlt_drops_total(&env.drops), (uint64_t)(h - 1) - m.n, "k=%llu",
                     (unsigned long long)k);
        tlt_close(&env);
        tlt_drops_assert_range_once(&env.drops, 1, h);
        tlt_model_free(&m);
        tlt_env_teardown(&env);
    }
    cr_assert(succeeded, "the step never ran without an injected failure");
}
