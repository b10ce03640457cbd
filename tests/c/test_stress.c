/*
 * test_stress.c: background maintenance, backpressure and concurrent
 * snapshot readers (issue 4), run plain and under ASan+UBSan.
 *
 * The scenarios live in stress_core.c, shared with the ThreadSanitizer
 * program tests/c/tsan/stress_main.c (make ctest-tsan): each returns 0 or a
 * description of the first check that failed. Here they run on the counting
 * allocator and behind the Criterion drop tracker (test_util.h), so on top
 * of the core's own checks every test also fails on a leaked byte, an
 * allocator misuse, a handle dropped twice or dropped from a thread other
 * than the test's (the writer). Each stress run is bounded by wall-clock
 * time (about a second) and by an operation count; nothing asserts timing
 * beyond what always holds (a busy write waits at most sealed_wait_ms plus
 * seconds of slack).
 */
#include <stdio.h>

#include "stress_core.h"
#include "test_util.h"

/* Enough for the stress scenario's handle space (2^21). */
#define STRESS_DROP_CAP ((size_t)1 << 21)

static sc_hooks_t hooks_of(tlt_env_t *env) {
    sc_hooks_t h;
    h.alloc = &env->alloc;
    h.on_drop = tlt_on_drop;
    h.on_drop_ctx = &env->drops;
    return h;
}

/* The core checked each handle was dropped exactly once; the independent
 * Criterion tracker must agree on the total. */
static void finish(tlt_env_t *env, int rc, const sc_report_t *rep, const char *name) {
    cr_assert_eq(rc, 0, "%s: %s", name, rep->why);
    cr_assert_eq(tlt_drops_total(&env->drops), rep->records,
                 "%s: the Criterion tracker saw %llu drops for %llu records", name,
                 (unsigned long long)tlt_drops_total(&env->drops),
                 (unsigned long long)rep->records);
    tlt_env_teardown(env);
}

static void log_stress(const char *name, const sc_report_t *r) {
    cr_log_info("%s: %llu ops (%llu records, %llu deletes, %llu busy) in %.2f s; readers: "
                "%llu snapshots, %llu range + %llu full + %llu span + %llu held checks, "
                "%llu records compared; worker allocations %llu; max memruns %llu, max L0 %llu",
                name, (unsigned long long)r->ops, (unsigned long long)r->records,
                (unsigned long long)r->deletes, (unsigned long long)r->busy, r->seconds,
                (unsigned long long)r->snapshots, (unsigned long long)r->range_checks,
                (unsigned long long)r->full_checks, (unsigned long long)r->span_checks,
                (unsigned long long)r->held_checks, (unsigned long long)r->reader_records,
                (unsigned long long)r->worker_allocs, (unsigned long long)r->max_memruns,
                (unsigned long long)r->max_l0);
}

static void run_stress(sc_params_t *p, const char *name) {
    tlt_env_t env;
    tlt_env_setup(&env, STRESS_DROP_CAP);
    sc_hooks_t h = hooks_of(&env);
    sc_report_t rep;
    int rc = sc_stress(&h, p, &rep);
    log_stress(name, &rep);
    /* What always holds, whatever the scheduling: every reader checks at
     * least one snapshot, and the writer runs at least min_ops operations. */
    if (rc == 0) {
        cr_assert_geq(rep.snapshots, p->readers, "%s: %llu reader snapshots", name,
                      (unsigned long long)rep.snapshots);
        cr_assert_geq(rep.ops, p->min_ops, "%s: only %llu writer operations", name,
                      (unsigned long long)rep.ops);
    }
    finish(&env, rc, &rep, name);
}

Test(stress, writer_readers_and_worker_agree_with_the_model, .timeout = 120) {
    sc_params_t p;
    sc_default_params(&p, 1);
    run_stress(&p, "default");
}

Test(stress, explicit_maintenance_worker_toggles_and_delete_debt, .timeout = 120) {
    sc_params_t p;
    sc_default_params(&p, 2);
    p.explicit_maint = true;
    p.toggle_maint = true;
    p.cfg.delete_debt_threshold = 0.2;
    p.cfg.drain_batch_limit = 64;
    run_stress(&p, "explicit+toggles+debt");
}

Test(stress, tight_bounds_with_backpressure_waits, .timeout = 120) {
    sc_params_t p;
    sc_default_params(&p, 3);
    p.readers = 2;
    p.cfg.sealed_max_runs = 1;
    p.cfg.sealed_wait_ms = 1;
    p.cfg.max_delta_segments = 1;
    p.cfg.compaction_max_inputs = 2;
    p.cfg.target_page_bytes = 64;
    p.cfg.window_size = 97;
    run_stress(&p, "tight bounds");
}

Test(stress, maint_stop_start_while_writing_loses_nothing, .timeout = 120) {
    tlt_env_t env;
    tlt_env_setup(&env, STRESS_DROP_CAP);
    sc_hooks_t h = hooks_of(&env);
    sc_report_t rep;
    int rc = sc_stop_start(&h, &rep);
    cr_log_info("stop/start: %llu records, %llu busy, %llu toggles",
                (unsigned long long)rep.records, (unsigned long long)rep.busy,
                (unsigned long long)rep.toggles);
    finish(&env, rc, &rep, "stop/start");
}

/* Calibrates how many allocations the worker's compaction makes, then
 * closes the log with the worker stuck at different points of it (first
 * allocation, last, and in between), with and without deletes (so the
 * compaction retires handles) and with a snapshot pinned across the close. */
Test(stress, close_while_the_worker_compacts, .timeout = 120) {
    for (int variant = 0; variant < 4; variant++) {
        bool deletes = variant & 1, hold = variant & 2;
        uint64_t n_allocs = 0;
        {
            tlt_env_t env;
            tlt_env_setup(&env, STRESS_DROP_CAP);
            sc_hooks_t h = hooks_of(&env);
            sc_report_t rep;
            int rc = sc_close_during_compaction(&h, 0, deletes, hold, &n_allocs, &rep);
            finish(&env, rc, &rep, "close after the worker's compaction");
        }
        cr_assert_gt(n_allocs, 0, "the worker's compaction made no allocation");
        uint64_t points[] = {1, 2, n_allocs / 3, n_allocs / 2, n_allocs - 1, n_allocs};
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
            uint64_t k = points[i];
            if (k == 0 || k > n_allocs) continue;
            tlt_env_t env;
            tlt_env_setup(&env, STRESS_DROP_CAP);
            sc_hooks_t h = hooks_of(&env);
            sc_report_t rep;
            int rc = sc_close_during_compaction(&h, k, deletes, hold, NULL, &rep);
            char name[128];
            snprintf(name, sizeof name,
                     "close with the worker stuck at allocation %llu/%llu "
                     "(deletes %d, snapshot %d)",
                     (unsigned long long)k, (unsigned long long)n_allocs, deletes, hold);
            finish(&env, rc, &rep, name);
        }
        cr_log_info("close during compaction (deletes %d, snapshot %d): %llu worker allocations",
                    deletes, hold, (unsigned long long)n_allocs);
    }
}

static void run_backpressure(uint32_t wait_ms) {
    tlt_env_t env;
    tlt_env_setup(&env, STRESS_DROP_CAP);
    sc_hooks_t h = hooks_of(&env);
    sc_report_t rep;
    int rc = sc_backpressure(&h, wait_ms, &rep);
    cr_log_info("backpressure (sealed_wait_ms %u): %llu records, %llu busy, longest busy write "
                "%llu ms",
                wait_ms, (unsigned long long)rep.records, (unsigned long long)rep.busy,
                (unsigned long long)rep.max_wait_ms);
    finish(&env, rc, &rep, "backpressure");
}

Test(stress, backpressure_reports_busy_and_keeps_every_record, .timeout = 120) {
    run_backpressure(0);
}

Test(stress, sealed_wait_bounds_how_long_a_busy_write_waits, .timeout = 120) {
    run_backpressure(30);
}

Test(stress, l0_past_twice_max_delta_reports_busy, .timeout = 120) {
    tlt_env_t env;
    tlt_env_setup(&env, STRESS_DROP_CAP);
    sc_hooks_t h = hooks_of(&env);
    sc_report_t rep;
    int rc = sc_backpressure_l0(&h, &rep);
    finish(&env, rc, &rep, "L0 backpressure");
}

Test(stress, waiting_writer_is_released_by_worker_progress, .timeout = 120) {
    tlt_env_t env;
    tlt_env_setup(&env, STRESS_DROP_CAP);
    sc_hooks_t h = hooks_of(&env);
    sc_report_t rep;
    int rc = sc_wait_relieved(&h, &rep);
    cr_log_info("wait relieved: longest write %llu ms", (unsigned long long)rep.max_wait_ms);
    finish(&env, rc, &rep, "wait relieved");
}
