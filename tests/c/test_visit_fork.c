/*
 * test_visit_fork.c: tl_visit_handles (what a cycle collector traverses) and
 * the per-instance fork hooks (tl_fork_prepare/parent/child).
 *
 * Handles are 1..N in append order. A visit must report each handle the
 * engine still owns exactly once, wherever it lives (memtable, memrun, L0,
 * L1, retired queue), and never one it has released; the Python binding's
 * tp_traverse relies on that (an extra visit would let CPython's collector
 * free a live object). A forked child must find fresh locks, no worker, and
 * a log it can write and close.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if !defined(_WIN32) /* fork() is POSIX: the fork tests below are too */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "test_util.h"

#define N_MAX 4096

typedef struct counts {
    uint32_t c[N_MAX + 1];
    uint64_t total;
    int stop_after; /* > 0: return 1 at this visit */
} counts_t;

static int count_visit(tl_handle_t h, void *ctx) {
    counts_t *k = ctx;
    cr_assert(h >= 1 && h <= N_MAX, "visited a handle never stored: %llu", (unsigned long long)h);
    k->c[h]++;
    k->total++;
    return k->stop_after > 0 && k->total == (uint64_t)k->stop_after ? 1 : 0;
}

static counts_t *visit_all(tl_log_t *log) {
    counts_t *k = calloc(1, sizeof(*k));
    cr_assert_not_null(k);
    cr_assert_eq(tl_visit_handles(log, count_visit, k), 0);
    return k;
}

/* Each of 1..n visited exactly `want(h)` times. */
static void expect_counts(const counts_t *k, uint32_t n, const uint8_t *dropped) {
    for (uint32_t h = 1; h <= n; h++) {
        uint32_t want = dropped != NULL && dropped[h] ? 0 : 1;
        cr_assert_eq(k->c[h], want, "handle %u visited %u times, want %u", h, k->c[h], want);
    }
}

Test(visit, every_owned_handle_once_in_every_layer) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.sealed_max_runs = 64;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    uint32_t n = 0;
    /* Memtable with late records, then memruns (seals on the way). */
    for (int i = 0; i < 600; i++) {
        n++;
        TLT_W(tl_append(log, (i * 37) % 500, n));
    }
    counts_t *k = visit_all(log);
    expect_counts(k, n, NULL);
    free(k);
    TLT_OK(tl_flush(log)); /* L0 */
    for (int i = 0; i < 100; i++) {
        n++;
        TLT_W(tl_append(log, 1000 + i, n));
    }
    k = visit_all(log);
    expect_counts(k, n, NULL);
    free(k);
    TLT_OK(tl_compact(log)); /* L1 */
    /* Deleted but pinned: compaction moves them to the retired queue, which
     * still owns them. */
    TLT_OK(tl_delete_range(log, 0, 100));
    tl_snapshot_t *s;
    TLT_OK(tl_snapshot_acquire(log, &s));
    TLT_OK(tl_compact(log));
    cr_assert_gt(tl_retired_len(log), 0);
    k = visit_all(log);
    expect_counts(k, n, NULL);
    free(k);
    /* Released: the dropped handles are gone from the visit. */
    tl_snapshot_release(s);
    TLT_OK(tl_drain_retired(log, 0, NULL));
    cr_assert_eq(tl_retired_len(log), 0);
    uint8_t dropped[N_MAX + 1] = {0};
    for (uint32_t h = 1; h <= n; h++) dropped[h] = tlt_drops_of(&env.drops, h) > 0;
    k = visit_all(log);
    expect_counts(k, n, dropped);
    cr_assert_gt(k->total, 0);
    cr_assert_lt(k->total, (uint64_t)n);
    free(k);
    TLT_VALID(log);
    tlt_env_teardown(&env);
}

Test(visit, stops_at_the_first_non_zero_result) {
    TLT_ENV(env);
    tl_log_t *log;
    TLT_OK(tlt_open(&env, NULL, &log));
    for (int i = 0; i < 50; i++) TLT_W(tl_append(log, i, (tl_handle_t)(i + 1)));
    TLT_OK(tl_flush(log));
    for (int i = 0; i < 50; i++) TLT_W(tl_append(log, 100 + i, (tl_handle_t)(i + 51)));
    counts_t *k = calloc(1, sizeof(*k));
    k->stop_after = 70;
    cr_assert_eq(tl_visit_handles(log, count_visit, k), 1);
    cr_assert_eq(k->total, 70);
    free(k);
    tlt_env_teardown(&env);
}

/* With the worker sealing, flushing and compacting, a visit may miss a
 * handle in transit but never reports one twice, and when maintenance is
 * stopped it is exact. */
Test(visit, never_counts_twice_while_the_worker_runs) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 1000;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    uint32_t n = 0;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 100; i++) {
            n++;
            TLT_W(tl_append(log, (n * 7919) % 3000, n));
        }
        counts_t *k = visit_all(log);
        for (uint32_t h = 1; h <= n; h++) cr_assert_leq(k->c[h], 1, "handle %u visited twice", h);
        free(k);
    }
    TLT_OK(tl_maint_stop(log));
    TLT_OK(tl_flush(log));
    counts_t *k = visit_all(log);
    expect_counts(k, n, NULL);
    free(k);
    tlt_env_teardown(&env);
}

Test(visit, accepts_null) {
    counts_t k = {0};
    cr_assert_eq(tl_visit_handles(NULL, count_visit, &k), 0);
}

/* ---------------------------------------------------------------- fork */

#if !defined(_WIN32)

/* Waits for pid at most timeout_s seconds; kills it and fails on a hang. */
static int wait_child(pid_t pid, int timeout_s) {
    struct timespec nap = {0, 5 * 1000 * 1000};
    for (int i = 0; i < timeout_s * 200; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    cr_assert_fail("forked child still running after %d s (hang)", timeout_s);
    return -1;
}

/* In the child: no assert (Criterion's reporting belongs to the parent);
 * exit codes say what failed. */
static int child_work(tl_log_t *log, uint32_t first) {
    if (tl_maint_running(log)) return 10; /* the worker thread was not cloned */
    uint64_t before;
    tl_snapshot_t *s;
    if (tl_snapshot_acquire(log, &s) != TL_OK) return 11;
    if (tl_count_all(s, &before) != TL_OK) return 12;
    tl_snapshot_release(s);
    for (uint32_t i = 0; i < 2000; i++) {
        tl_status_t st = tl_append(log, 100000 + i, first + i);
        if (st != TL_OK && st != TL_EBUSY) return 13;
    }
    if (!tl_maint_running(log)) return 14; /* restarted by a sealing write */
    if (tl_compact(log) != TL_OK) return 15;
    uint64_t after;
    if (tl_snapshot_acquire(log, &s) != TL_OK) return 16;
    if (tl_count_all(s, &after) != TL_OK) return 17;
    tl_snapshot_release(s);
    if (after != before + 2000) return 18;
    const char *why;
    if (tl_validate(log, &why) != TL_OK) return 19;
    tl_close(log); /* joins the new worker, never the parent's */
    return 0;
}

Test(fork, child_writes_and_closes_a_background_log) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 1000;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    uint32_t n = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 200; i++) {
            n++;
            TLT_W(tl_append(log, (tl_ts_t)n, n));
        }
        /* Fork while the worker is busy with what was just written. */
        tl_fork_prepare(log);
        pid_t pid = fork();
        if (pid == 0) {
            tl_fork_child(log);
            _exit(child_work(log, 1000000));
        }
        tl_fork_parent(log);
        cr_assert_neq(pid, -1);
        cr_assert_eq(wait_child(pid, 30), 0, "child failed (see child_work's codes)");
    }
    cr_assert(tl_maint_running(log), "the parent's worker survives its children");
    TLT_OK(tl_flush(log));
    tlt_env_teardown(&env);
}

Test(fork, stopped_maintenance_stays_stopped_in_the_child) {
    TLT_ENV(env);
    tl_config_t cfg;
    tlt_small_config(&env, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    tl_log_t *log;
    TLT_OK(tlt_open_cfg(&env, &cfg, &log));
    TLT_OK(tl_maint_stop(log));
    tl_fork_prepare(log);
    pid_t pid = fork();
    if (pid == 0) {
        tl_fork_child(log);
        for (int i = 0; i < 1000; i++) {
            tl_status_t st = tl_append(log, i, (tl_handle_t)(i + 1));
            if (st != TL_OK && st != TL_EBUSY) _exit(2);
        }
        _exit(tl_maint_running(log) ? 1 : 0);
    }
    tl_fork_parent(log);
    cr_assert_eq(wait_child(pid, 30), 0);
    tlt_env_teardown(&env);
}

#endif /* !_WIN32 */
