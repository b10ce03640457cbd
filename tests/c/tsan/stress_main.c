/*
 * stress_main.c: the concurrency scenarios of tests/c/stress_core.c as a
 * standalone program, for ThreadSanitizer (make ctest-tsan). Criterion's
 * runtime does not start under TSan ("Could not initialize inheritable
 * arena"), so this file has no Criterion and lives in a subdirectory, out
 * of the tests/c/ glob the Criterion binary is built from.
 *
 * Usage: stress_main [seconds-per-stress-run]   (default 1.5; make ctest-tsan passes 2)
 * Exit status: 0 when every scenario's checks held, 1 otherwise. TSan itself
 * (TSAN_OPTIONS=halt_on_error=1) exits non-zero on the first data race.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress_core.h"

static int failures;

static void report(const char *name, int rc, const sc_report_t *r) {
    if (rc != 0) {
        failures++;
        printf("FAIL %s: %s\n", name, r->why);
    } else {
        printf("ok   %s: %llu ops, %llu records, %llu deletes, %llu busy, %llu snapshots, "
               "%llu checks, %llu toggles\n",
               name, (unsigned long long)r->ops, (unsigned long long)r->records,
               (unsigned long long)r->deletes, (unsigned long long)r->busy,
               (unsigned long long)r->snapshots,
               (unsigned long long)(r->range_checks + r->full_checks + r->span_checks +
                                    r->held_checks),
               (unsigned long long)r->toggles);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.5;
    if (!(seconds > 0)) seconds = 1.5;
    sc_hooks_t hooks;
    memset(&hooks, 0, sizeof hooks); /* the plain (libc) test allocator, no extra tracker */
    sc_report_t rep;

    sc_params_t p;
    sc_default_params(&p, 101);
    p.seconds = seconds;
    p.readers = 3;
    report("stress (background worker, 3 readers)", sc_stress(&hooks, &p, &rep), &rep);

    sc_default_params(&p, 102);
    p.seconds = seconds;
    p.readers = 2;
    p.explicit_maint = true;
    p.toggle_maint = true;
    p.cfg.delete_debt_threshold = 0.2;
    p.cfg.sealed_max_runs = 1;
    p.cfg.sealed_wait_ms = 1;
    p.cfg.max_delta_segments = 1;
    report("stress (explicit maintenance, stop/start, delete debt, tight bounds)",
           sc_stress(&hooks, &p, &rep), &rep);

    report("stop/start while writing", sc_stop_start(&hooks, &rep), &rep);

    uint64_t n_allocs = 0;
    int rc = sc_close_during_compaction(&hooks, 0, true, false, &n_allocs, &rep);
    report("close after the worker's compaction", rc, &rep);
    if (rc == 0 && n_allocs > 0) {
        uint64_t points[] = {1, n_allocs / 2, n_allocs};
        for (int hold = 0; hold < 2; hold++) {
            for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
                char name[128];
                snprintf(name, sizeof name, "close with the worker stuck at allocation %llu/%llu%s",
                         (unsigned long long)points[i], (unsigned long long)n_allocs,
                         hold ? ", snapshot pinned" : "");
                report(name, sc_close_during_compaction(&hooks, points[i], true, hold, NULL, &rep),
                       &rep);
            }
        }
    }

    report("backpressure, sealed_wait_ms 0", sc_backpressure(&hooks, 0, &rep), &rep);
    report("backpressure, sealed_wait_ms 20", sc_backpressure(&hooks, 20, &rep), &rep);
    report("backpressure through the L0 bound", sc_backpressure_l0(&hooks, &rep), &rep);
    report("waiting writer released by worker progress", sc_wait_relieved(&hooks, &rep), &rep);

    printf("%s: %d failure(s)\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
