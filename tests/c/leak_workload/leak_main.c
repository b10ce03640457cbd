/*
 * leak_main.c: a long mixed C workload for valgrind memcheck (make leakcheck).
 *
 * A standalone program (this directory is outside the glob of tests/c sources that
 * builds the Criterion binary). It drives the engine through every public
 * call in several configurations, each on its own log:
 *   1. maintenance disabled, explicit flush/compact/maint_step, counting
 *      allocator;
 *   2. the background worker (started and stopped along the way), closed
 *      while snapshots are still pinned, then read and released;
 *   3. the libc allocator (cfg.alloc zeroed) with the worker, so valgrind
 *      sees the engine's own malloc/free directly;
 *   4. injected allocation failures (every n-th allocation), TL_ENOMEM
 *      tolerated everywhere;
 *   5. many short-lived logs, including tl_open failing at each allocation.
 * Reads are compared with the shared model (tests/c/support/) now and then. After
 * every tl_close it checks that the counting allocator has no live byte and
 * saw no misuse, and that every appended handle was dropped exactly once
 * (never a handle whose write failed). Any failure prints a message and
 * exits non-zero; valgrind (--error-exitcode=1) adds leaks and memory
 * errors of its own.
 *
 * Usage: leak_main [scale]   (default 1; the op count of each phase scales)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "criterion_shim.h"

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "leak_main: %s:%d: check failed: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fputc('\n', stderr);                                                                  \
            exit(2);                                                                              \
        }                                                                                         \
    } while (0)

typedef struct wl {
    const char *name;
    tlt_alloc_t alloc;
    bool counting; /* the counting allocator is installed */
    tlt_drops_t drops;
    tl_log_t *log;
    tlt_model_t m;
    bool model_ok;   /* false once an injected failure makes the model unreliable */
    uint8_t *stored; /* stored[h]: the engine accepted the handle */
    tl_handle_t next_h;
    tlt_rng_t rng;
    tl_ts_t last_ts;
    size_t cap; /* handles the trackers have room for */
    tl_snapshot_t *snaps[3];
    tl_iter_t *iters[3];
    bool inject; /* TL_ENOMEM is allowed */
    uint64_t ops, busy, enomem;
} wl_t;

static void wl_open(wl_t *w, const char *name, tl_config_t *cfg, bool counting, uint64_t seed,
                    uint64_t ops) {
    memset(w, 0, sizeof *w);
    /* An operation appends at most 500 handles, on average about 6. */
    w->cap = (size_t)(ops * 16 + 4096);
    w->name = name;
    w->counting = counting;
    tlt_alloc_init(&w->alloc);
    tlt_drops_init(&w->drops, w->cap);
    tlt_model_init(&w->m);
    w->model_ok = true;
    w->stored = calloc(w->cap, 1);
    CHECK(w->stored != NULL, "calloc");
    w->next_h = 1;
    tlt_rng_seed(&w->rng, seed);
    if (counting)
        cfg->alloc = tlt_alloc_table(&w->alloc);
    else
        memset(&cfg->alloc, 0, sizeof cfg->alloc);
    cfg->on_drop = tlt_on_drop;
    cfg->on_drop_ctx = &w->drops;
    tl_status_t st = tl_open(cfg, &w->log);
    CHECK(st == TL_OK, "%s: tl_open -> %s", name, tl_strerror(st));
}

static void status_ok(wl_t *w, tl_status_t st, unsigned extra, const char *what) {
    bool ok = st == TL_OK || ((extra & 1) && st == TL_EBUSY) || ((extra & 2) && st == TL_EOF) ||
              (w->inject && st == TL_ENOMEM);
    CHECK(ok, "%s: %s -> %s", w->name, what, tl_strerror(st));
    if (st == TL_EBUSY) w->busy++;
    if (st == TL_ENOMEM) w->enomem++;
}

static tl_ts_t gen_ts(wl_t *w) {
    uint64_t r = tlt_rng_below(&w->rng, 100);
    if (r < 60)
        w->last_ts = tlt_sat_add(w->last_ts, (tl_ts_t)tlt_rng_below(&w->rng, 4));
    else if (r < 85)
        return tlt_sat_add(w->last_ts, -(tl_ts_t)tlt_rng_below(&w->rng, 200));
    else if (r < 95)
        return (tl_ts_t)tlt_rng_below(&w->rng, 5000);
    else if (r < 98)
        return tlt_rng_below(&w->rng, 2) ? INT64_MAX - (tl_ts_t)tlt_rng_below(&w->rng, 3)
                                         : INT64_MIN + (tl_ts_t)tlt_rng_below(&w->rng, 3);
    else
        return (tl_ts_t)tlt_rng_next(&w->rng);
    return w->last_ts;
}

static void mark_deleted(void *ctx, tl_handle_t h) {
    (void)ctx;
    (void)h;
}

static void model_delete(wl_t *w, tl_status_t st, tl_ts_t lo, tl_ts_t hi) {
    if (st == TL_OK && lo <= hi) tlt_model_delete_incl(&w->m, lo, hi, mark_deleted, w);
}

static void verify(wl_t *w) {
    if (w->counting) tlt_alloc_suspend(&w->alloc);
    const char *why = NULL;
    tl_status_t st = tl_validate(w->log, &why);
    CHECK(st == TL_OK, "%s: tl_validate -> %s: %s", w->name, tl_strerror(st), why ? why : "?");
    if (w->model_ok) tlt_expect_model(w->log, &w->m);
    if (w->counting) tlt_alloc_resume(&w->alloc);
}

static void one_op(wl_t *w, bool worker_toggles) {
    tl_status_t st;
    uint64_t r = tlt_rng_below(&w->rng, 1000);
    w->ops++;
    if (w->next_h + 600 >= w->cap) r = 600 + r % 400; /* out of handle room: no more appends */
    if (r < 550) {
        tl_ts_t ts = gen_ts(w);
        tl_handle_t h = w->next_h++;
        st = tl_append(w->log, ts, h);
        status_ok(w, st, 1, "tl_append");
        if (st != TL_ENOMEM) {
            w->stored[h] = 1;
            tlt_model_add(&w->m, ts, h);
        }
    } else if (r < 600) {
        size_t n = tlt_rng_below(&w->rng, 4) == 0 ? 200 + tlt_rng_below(&w->rng, 300)
                                                  : tlt_rng_below(&w->rng, 40);
        tl_ts_t *ts = malloc((n + 1) * sizeof *ts);
        tl_handle_t *hs = malloc((n + 1) * sizeof *hs);
        CHECK(ts && hs, "malloc");
        for (size_t i = 0; i < n; i++) {
            ts[i] = gen_ts(w);
            hs[i] = w->next_h++;
        }
        if (tlt_rng_below(&w->rng, 2)) tlt_sort_pairs(ts, hs, n);
        st = tl_append_batch(w->log, ts, hs, n);
        status_ok(w, st, 1, "tl_append_batch");
        if (st != TL_ENOMEM) {
            for (size_t i = 0; i < n; i++) w->stored[hs[i]] = 1;
            tlt_model_add_batch(&w->m, ts, hs, n);
        }
        free(ts);
        free(hs);
    } else if (r < 640) {
        tl_ts_t a = gen_ts(w), b = tlt_sat_add(a, (tl_ts_t)tlt_rng_below(&w->rng, 300));
        st = tl_delete_range(w->log, a, b);
        status_ok(w, st, 0, "tl_delete_range");
        if (a < b) model_delete(w, st, a, b - 1);
    } else if (r < 645) {
        tl_ts_t a = gen_ts(w);
        st = tl_delete_since(w->log, a);
        status_ok(w, st, 0, "tl_delete_since");
        model_delete(w, st, a, INT64_MAX);
    } else if (r < 650) {
        tl_ts_t a = gen_ts(w);
        st = tl_delete_before(w->log, a);
        status_ok(w, st, 0, "tl_delete_before");
        if (a > INT64_MIN) model_delete(w, st, INT64_MIN, a - 1);
    } else if (r < 670) {
        tl_ts_t a = gen_ts(w);
        st = tl_delete_ts(w->log, a);
        status_ok(w, st, 0, "tl_delete_ts");
        model_delete(w, st, a, a);
    } else if (r < 672) {
        st = tl_delete_all(w->log);
        status_ok(w, st, 0, "tl_delete_all");
        model_delete(w, st, INT64_MIN, INT64_MAX);
    } else if (r < 700) {
        st = tl_flush(w->log);
        status_ok(w, st, 0, "tl_flush");
    } else if (r < 710) {
        st = tl_compact(w->log);
        status_ok(w, st, 0, "tl_compact");
    } else if (r < 760) {
        st = tl_maint_step(w->log);
        status_ok(w, st, 2, "tl_maint_step");
    } else if (r < 800) {
        size_t n = 0;
        st = tl_drain_retired(w->log, tlt_rng_below(&w->rng, 3) * 50, &n);
        status_ok(w, st, 0, "tl_drain_retired");
    } else if (r < 830) {
        size_t i = tlt_rng_below(&w->rng, 3);
        tl_snapshot_release(w->snaps[i]);
        w->snaps[i] = NULL;
        st = tl_snapshot_acquire(w->log, &w->snaps[i]);
        status_ok(w, st, 0, "tl_snapshot_acquire");
    } else if (r < 860) {
        size_t i = tlt_rng_below(&w->rng, 3);
        tl_iter_close(w->iters[i]);
        w->iters[i] = NULL;
        tl_snapshot_t *s = NULL;
        st = tl_snapshot_acquire(w->log, &s);
        status_ok(w, st, 0, "tl_snapshot_acquire");
        if (st == TL_OK) {
            tl_ts_t a = gen_ts(w);
            st = tl_iter_range(s, a, tlt_sat_add(a, 1000), &w->iters[i]);
            status_ok(w, st, 0, "tl_iter_range");
            tl_snapshot_release(s);
        }
    } else if (r < 900) {
        /* Read a little from a held iterator (it outlives writes). */
        size_t i = tlt_rng_below(&w->rng, 3);
        for (int k = 0; w->iters[i] != NULL && k < 50; k++) {
            tl_ts_t ts;
            tl_handle_t h;
            st = tl_iter_next(w->iters[i], &ts, &h);
            if (st == TL_EOF) {
                tl_iter_close(w->iters[i]);
                w->iters[i] = NULL;
                break;
            }
            CHECK(st == TL_OK, "tl_iter_next -> %s", tl_strerror(st));
        }
    } else if (r < 930) {
        /* Spans, counts and neighbours of a held or fresh snapshot. */
        tl_snapshot_t *s = w->snaps[tlt_rng_below(&w->rng, 3)], *fresh = NULL;
        if (s == NULL) {
            st = tl_snapshot_acquire(w->log, &fresh);
            status_ok(w, st, 0, "tl_snapshot_acquire");
            s = fresh;
        }
        if (s != NULL) {
            tl_span_iter_t *si = NULL;
            st = tl_spans_all(s, &si);
            status_ok(w, st, 0, "tl_spans_all");
            tl_span_t sp;
            while (si != NULL && (st = tl_spans_next(si, &sp)) == TL_OK) {
            }
            tl_spans_close(si);
            uint64_t c;
            tl_ts_t edges[4] = {INT64_MIN, 0, 1000, INT64_MAX}, t;
            uint64_t out[3];
            status_ok(w, tl_count_all(s, &c), 0, "tl_count_all");
            status_ok(w, tl_count_buckets(s, edges, 4, out), 0, "tl_count_buckets");
            status_ok(w, tl_next_ts(s, w->last_ts, &t), 2, "tl_next_ts");
            status_ok(w, tl_prev_ts(s, w->last_ts, &t), 2, "tl_prev_ts");
            tl_stats_t stats;
            status_ok(w, tl_stats(w->log, &stats), 0, "tl_stats");
        }
        tl_snapshot_release(fresh);
    } else if (r < 935 && worker_toggles) {
        if (tl_maint_running(w->log))
            st = tl_maint_stop(w->log);
        else
            st = tl_maint_start(w->log);
        status_ok(w, st, 0, "tl_maint_start/stop");
    } else if (r < 940) {
        verify(w);
    }
    /* Keep the model small enough for cheap comparisons. */
    if (w->m.n > 20000) {
        st = tl_delete_before(w->log, w->m.r[w->m.n / 2].ts);
        status_ok(w, st, 0, "tl_delete_before");
        model_delete(w, st, INT64_MIN, w->m.r[w->m.n / 2].ts - 1);
    }
}

/* Closes the log (optionally while snapshots are pinned) and checks that
 * everything was released: each stored handle dropped once, nothing else
 * dropped, no live byte in the counting allocator. */
static void wl_close(wl_t *w, bool close_pinned) {
    for (int i = 0; i < 3; i++) {
        tl_iter_close(w->iters[i]);
        w->iters[i] = NULL;
    }
    verify(w);
    if (close_pinned) {
        tl_log_t *log = w->log;
        bool pinned = false;
        for (int i = 0; i < 3; i++) pinned |= w->snaps[i] != NULL;
        tl_close(log);
        for (int i = 0; i < 3; i++) {
            if (w->snaps[i] == NULL) continue;
            uint64_t c = 0;
            tl_status_t st = tl_count_all(w->snaps[i], &c);
            CHECK(st == TL_OK, "count on a snapshot of a closed log -> %s", tl_strerror(st));
            tl_iter_t *it = NULL;
            st = tl_iter_all(w->snaps[i], &it);
            CHECK(st == TL_OK, "iter on a snapshot of a closed log -> %s", tl_strerror(st));
            uint64_t n = 0;
            tl_ts_t ts;
            tl_handle_t h;
            while (tl_iter_next(it, &ts, &h) == TL_OK) n++;
            tl_iter_close(it);
            CHECK(n == c, "a snapshot of a closed log iterates %llu records, counts %llu",
                  (unsigned long long)n, (unsigned long long)c);
        }
        if (pinned) {
            size_t n = 0;
            CHECK(tl_drain_retired(log, 0, &n) == TL_OK, "drain after close");
        }
        for (int i = 0; i < 3; i++) {
            tl_snapshot_release(w->snaps[i]);
            w->snaps[i] = NULL;
        }
    } else {
        for (int i = 0; i < 3; i++) {
            tl_snapshot_release(w->snaps[i]);
            w->snaps[i] = NULL;
        }
        tl_close(w->log);
    }
    w->log = NULL;
    for (tl_handle_t h = 1; h < w->next_h; h++) {
        uint32_t d = tlt_drops_of(&w->drops, h);
        CHECK(d == (w->stored[h] ? 1u : 0u), "%s: handle %llu (stored %d) dropped %u times",
              w->name, (unsigned long long)h, w->stored[h], d);
    }
    CHECK(w->drops.out_of_range == 0 && w->drops.foreign_thread_calls == 0,
          "%s: on_drop out of range %llu, from a foreign thread %llu", w->name,
          (unsigned long long)w->drops.out_of_range,
          (unsigned long long)w->drops.foreign_thread_calls);
    if (w->counting) {
        CHECK(tlt_alloc_live_bytes(&w->alloc) == 0 && tlt_alloc_live_blocks(&w->alloc) == 0,
              "%s: %llu bytes in %llu blocks live after close", w->name,
              (unsigned long long)tlt_alloc_live_bytes(&w->alloc),
              (unsigned long long)tlt_alloc_live_blocks(&w->alloc));
        CHECK(tlt_alloc_errors(&w->alloc) == 0, "%s: allocator misuse: %s", w->name,
              w->alloc.first_error);
    }
    printf("leak_main: %-28s %7llu ops, %7llu handles, %5llu busy, %5llu enomem: ok\n", w->name,
           (unsigned long long)w->ops, (unsigned long long)(w->next_h - 1),
           (unsigned long long)w->busy, (unsigned long long)w->enomem);
    tlt_alloc_destroy(&w->alloc);
    tlt_drops_destroy(&w->drops);
    tlt_model_free(&w->m);
    free(w->stored);
}

static void small_config(tl_config_t *cfg) {
    tl_config_init(cfg);
    cfg->maintenance = TL_MAINT_DISABLED;
    cfg->memtable_max_bytes = 24 * 256;
    cfg->target_page_bytes = 16 * 32;
    cfg->ooo_budget_bytes = 24 * 64;
    cfg->max_delta_segments = 3;
    cfg->window_size = 500;
    cfg->window_origin = -3;
    cfg->delete_debt_threshold = 0.3;
    cfg->compaction_target_bytes = 16 * 400;
    cfg->sealed_max_runs = 6;
}

int main(int argc, char **argv) {
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
    if (scale < 1) scale = 1;
    const uint64_t n = 6000 * (uint64_t)scale;
    wl_t w;
    tl_config_t cfg;

    small_config(&cfg);
    wl_open(&w, "disabled, counting", &cfg, true, 1, n);
    for (uint64_t i = 0; i < n; i++) one_op(&w, false);
    wl_close(&w, false);

    small_config(&cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 1;
    wl_open(&w, "background, closed pinned", &cfg, true, 2, n);
    for (uint64_t i = 0; i < n; i++) one_op(&w, true);
    if (w.snaps[0] == NULL) CHECK(tl_snapshot_acquire(w.log, &w.snaps[0]) == TL_OK, "acquire");
    wl_close(&w, true);

    small_config(&cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.drain_batch_limit = 7;
    wl_open(&w, "background, libc allocator", &cfg, false, 3, n);
    for (uint64_t i = 0; i < n; i++) one_op(&w, true);
    wl_close(&w, false);

    const uint64_t every[] = {5, 13, 31};
    for (size_t e = 0; e < sizeof every / sizeof every[0]; e++) {
        small_config(&cfg);
        char name[48];
        snprintf(name, sizeof name, "fail every %llu allocs", (unsigned long long)every[e]);
        wl_open(&w, name, &cfg, true, 10 + e, n / 3);
        w.inject = true; /* TL_ENOMEM changes nothing, so the model stays exact */
        tlt_alloc_arm(&w.alloc, 0, every[e], 0);
        for (uint64_t i = 0; i < n / 3; i++) one_op(&w, false);
        tlt_alloc_disarm(&w.alloc);
        w.inject = false;
        /* Still consistent, and everything still closes cleanly. */
        const char *why = NULL;
        CHECK(tl_validate(w.log, &why) == TL_OK, "%s: tl_validate: %s", name, why ? why : "?");
        CHECK(tl_compact(w.log) == TL_OK, "%s: compact after the failures", name);
        wl_close(&w, e == 1);
    }

    /* Many short-lived logs, tl_open failing at each of its allocations. */
    for (uint64_t k = 1; k < 64; k++) {
        tlt_alloc_t a;
        tlt_alloc_init(&a);
        small_config(&cfg);
        cfg.maintenance = k % 2 ? TL_MAINT_BACKGROUND : TL_MAINT_DISABLED;
        cfg.alloc = tlt_alloc_table(&a);
        tlt_alloc_arm(&a, k, 0, 0);
        tl_log_t *log = NULL;
        tl_status_t st = tl_open(&cfg, &log);
        tlt_alloc_disarm(&a);
        if (st == TL_OK) {
            CHECK(tl_append(log, (tl_ts_t)k, 0) == TL_OK, "append");
            tl_close(log);
        } else {
            CHECK(st == TL_ENOMEM && log == NULL, "tl_open -> %s", tl_strerror(st));
        }
        CHECK(tlt_alloc_live_bytes(&a) == 0, "open/close %llu leaked %llu bytes",
              (unsigned long long)k, (unsigned long long)tlt_alloc_live_bytes(&a));
        tlt_alloc_destroy(&a);
    }
    printf("leak_main: 63 open/close cycles (tl_open failing at each allocation): ok\n");
    return 0;
}
