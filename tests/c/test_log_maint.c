/*
 * test_log_maint.c: behaviour tests of the public API (timelog.h), one Test per
 * behaviour: maintenance steps and the background worker, allocation-failure sweeps, in-place batches and iterator memory reuse.
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
        if (i % 100 == 0) fx_check(&f);
    }
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, maint_step_reports_eof_when_idle) {
    fx_t f;
    fx_open(&f, NULL);
    TLT_ST(tl_maint_step(f.log), TL_EOF);
    for (int i = 0; i < 2000; i++) fx_append(&f, (tl_ts_t)((i * 31) % 3000));
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
    OP_APPEND,
    OP_BATCH,
    OP_DEL_RANGE,
    OP_DEL_SINCE,
    OP_DEL_BEFORE,
    OP_DEL_TS,
    OP_DEL_ALL,
    OP_FLUSH,
    OP_COMPACT,
    OP_MAINT,
    OP_DRAIN,
    OP_READ
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
#define PUSH(K, A, B, N)                       \
    do {                                       \
        cr_assert_lt(n, cap);                  \
        ops[n++] = (op_t){(K), (A), (B), (N)}; \
    } while (0)
    for (int i = 0; i < 40; i++) PUSH(OP_APPEND, i * 5, 0, 0);
    for (int i = 0; i < 15; i++) PUSH(OP_APPEND, tlt_rng_range(&r, 0, 200), 0, 0);
    PUSH(OP_APPEND, INT64_MAX, 0, 0);
    PUSH(OP_APPEND, INT64_MIN, 0, 0);
    PUSH(OP_READ, 0, 0, 0);
    PUSH(OP_BATCH, 0, 0, 60);
    PUSH(OP_DEL_RANGE, 20, 60, 0);
    PUSH(OP_FLUSH, 0, 0, 0);
    for (int i = 0; i < 30; i++) PUSH(OP_APPEND, 200 + tlt_rng_range(&r, -20, 40), 0, 0);
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
    for (int i = 0; i < 20; i++) PUSH(OP_APPEND, tlt_rng_range(&r, 0, 400), 0, 0);
    PUSH(OP_FLUSH, 0, 0, 0);
    PUSH(OP_DEL_RANGE, 150, 350, 0);
    PUSH(OP_MAINT, 0, 0, 0);
    PUSH(OP_COMPACT, 0, 0, 0);
    PUSH(OP_DRAIN, 0, 0, 0);
    PUSH(OP_DEL_ALL, 0, 0, 0);
    for (int i = 0; i < 10; i++) PUSH(OP_APPEND, i, 0, 0);
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
        case OP_APPEND: st = tl_append(f->log, op->a, h); break;
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
            bool may_absorb =
                op->k == OP_APPEND || op->k == OP_BATCH || op->k == OP_COMPACT || op->k == OP_MAINT;
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
                if (op->a < op->b) tlt_model_delete_incl(&f->m, op->a, op->b - 1, mark_dead, f);
                break;
            case OP_DEL_SINCE: tlt_model_delete_incl(&f->m, op->a, INT64_MAX, mark_dead, f); break;
            case OP_DEL_BEFORE:
                if (op->a > INT64_MIN)
                    tlt_model_delete_incl(&f->m, INT64_MIN, op->a - 1, mark_dead, f);
                break;
            case OP_DEL_TS: tlt_model_delete_incl(&f->m, op->a, op->a, mark_dead, f); break;
            case OP_DEL_ALL:
                tlt_model_delete_incl(&f->m, INT64_MIN, INT64_MAX, mark_dead, f);
                break;
            default: break;
            }
        }
        if (st == TL_ENOMEM && (op->k == OP_APPEND || op->k == OP_BATCH)) {
            /* The handles were not taken: the engine must never drop them. */
            f->next_h += op->k == OP_BATCH ? (tl_handle_t)op->n : 1;
            for (tl_handle_t x = h; x < f->next_h; x++) f->dead[x] = 2; /* never stored */
        }
        if (verify) oom_verify(f);
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
        if (pinned) TLT_OK(tl_snapshot_acquire(f.log, &snap));
        tlt_alloc_arm(&f.env.alloc, 0, 1, 0); /* every allocation fails */
        tlt_close(&f.env);
        tl_snapshot_release(snap);
        tlt_alloc_disarm(&f.env.alloc);
        fx_finish(&f);
    }
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
    } cases[] = {{10, 10, true},   {10, 7, false},   {200, 200, false},
                 {200, 150, true}, {300, 300, true}, {0, 0, true}};
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
