/*
 * test_log_snapshot.c: behaviour tests of the public API (timelog.h), one Test per
 * behaviour: snapshot isolation and pins, close with outstanding pins, concurrent readers, and frozen memtables.
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

/* ---------------------------------------------------------------- snapshots */

/* Builds a mixed state, pins a snapshot and an iterator, runs `mutate`,
 * then checks that both still see exactly the old state. */
static void isolation_case(void (*mutate)(fx_t *)) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_seq_t seq = tl_snapshot_seq(snap);
    tl_iter_t *early = NULL, *half = NULL;
    TLT_OK(tl_iter_all(snap, &early));
    TLT_OK(tl_iter_range(snap, 0, 1000, &half));
    /* Consume part of one iterator before the mutation. */
    size_t i0, i1;
    tlt_model_slice(&old, 0, 1000, &i0, &i1);
    tl_ts_t *got_ts = ts_array(i1 - i0 + 1); /* +1: room to see an overrun */
    tl_handle_t *got_h = malloc((i1 - i0 + 1) * sizeof *got_h);
    size_t first = (i1 - i0) / 3, n = 0;
    TLT_OK(tl_iter_next_batch(half, got_ts, got_h, first, &n));
    cr_assert_eq(n, first);

    mutate(&f);
    fx_check(&f);

    cr_assert_eq(tl_snapshot_seq(snap), seq);
    tlt_expect_iter(early, old.r, old.n, "iterator opened before the mutation");
    tl_iter_close(early);
    size_t rest = 0;
    tl_status_t st =
        tl_iter_next_batch(half, got_ts + first, got_h + first, i1 - i0 - first + 1, &rest);
    cr_assert(st == TL_OK || st == TL_EOF);
    tlt_expect_same(got_ts, got_h, first + rest, old.r + i0, i1 - i0,
                    "iterator half consumed across the mutation");
    tl_iter_close(half);
    free(got_ts);
    free(got_h);
    /* New reads on the old snapshot see the old state as well. */
    tl_iter_t *late = NULL;
    TLT_OK(tl_iter_all(snap, &late));
    tlt_expect_iter(late, old.r, old.n, "iterator opened on the old snapshot afterwards");
    tl_iter_close(late);
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, old.n);
    TLT_OK(tl_count_range(snap, 100, 600, &c));
    cr_assert_eq(c, tlt_model_count(&old, 100, 600));
    tl_ts_t t;
    TLT_OK(tl_min_ts(snap, &t));
    cr_assert_eq(t, old.r[0].ts);
    TLT_OK(tl_max_ts(snap, &t));
    cr_assert_eq(t, old.r[old.n - 1].ts);
    for (size_t i = 0; i < old.n; i += 7) {
        tl_ts_t want;
        if (tlt_model_next(&old, old.r[i].ts, &want)) {
            TLT_OK(tl_next_ts(snap, old.r[i].ts, &t));
            cr_assert_eq(t, want);
        }
    }
    /* Spans of the old snapshot hold only old records. */
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    tl_span_t span;
    while (tl_spans_next(sp, &span) == TL_OK) {
        for (size_t i = 0; i < span.n; i++) {
            size_t lo = tlt_model_lower(&old, span.ts[i]), hi = tlt_model_upper(&old, span.ts[i]);
            bool found = false;
            for (size_t k = lo; k < hi && !found; k++) found = old.r[k].h == span.h[i];
            cr_assert(found, "span of the old snapshot has (%lld, %llu), not in the old state",
                      (long long)span.ts[i], (unsigned long long)span.h[i]);
        }
    }
    tl_spans_close(sp);
    tl_snapshot_release(snap);
    tlt_model_free(&old);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

static void mutate_appends(fx_t *f) {
    for (int i = 0; i < 1500; i++) /* enough to seal the memtable several times */
        fx_append(f, (tl_ts_t)((i * 13) % 1100) - 50);
    fx_append(f, INT64_MAX);
    fx_append(f, INT64_MIN);
}

static void mutate_deletes(fx_t *f) {
    fx_delete_range(f, 0, 500);
    fx_delete_ts(f, 777);
    fx_delete_since(f, 990);
    fx_delete_before(f, -3);
    fx_delete_all(f);
    fx_append(f, 5);
}

static void mutate_flush_compact(fx_t *f) {
    TLT_OK(tl_flush(f->log));
    TLT_OK(tl_compact(f->log));
    fx_delete_range(f, 300, 700);
    TLT_OK(tl_compact(f->log));
    for (int i = 0; i < 10000 && tl_maint_step(f->log) == TL_OK; i++) {
    }
    tlt_drain_all(f->log);
}

static void mutate_everything(fx_t *f) {
    mutate_appends(f);
    mutate_flush_compact(f);
    mutate_deletes(f);
    mutate_flush_compact(f);
}

Test(log, snapshot_isolated_from_later_appends) { isolation_case(mutate_appends); }

Test(log, snapshot_isolated_from_later_deletes) { isolation_case(mutate_deletes); }

Test(log, snapshot_isolated_from_flush_and_compact) { isolation_case(mutate_flush_compact); }

Test(log, snapshot_isolated_from_everything) { isolation_case(mutate_everything); }

Test(log, iterator_keeps_its_own_pin) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tl_snapshot_release(snap);
    mutate_everything(&f);
    tlt_expect_iter(it, old.r, old.n, "iterator whose snapshot was released");
    tl_iter_close(it);
    tlt_model_free(&old);
    fx_settle_drops(&f);
    fx_finish(&f);
}

Test(log, snapshot_seq_tracks_writes) {
    fx_t f;
    fx_open(&f, NULL);
    tl_snapshot_t *s0 = NULL, *s1 = NULL, *s2 = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &s0));
    fx_append(&f, 1);
    TLT_OK(tl_snapshot_acquire(f.log, &s1));
    fx_delete_ts(&f, 1);
    TLT_OK(tl_snapshot_acquire(f.log, &s2));
    cr_assert_lt(tl_snapshot_seq(s0), tl_snapshot_seq(s1));
    cr_assert_lt(tl_snapshot_seq(s1), tl_snapshot_seq(s2));
    tl_stats_t st;
    TLT_OK(tl_stats(f.log, &st));
    cr_assert_eq(st.seq, tl_snapshot_seq(s2));
    cr_assert_eq(st.snapshots, 3);
    uint64_t c;
    TLT_OK(tl_count_all(s1, &c));
    cr_assert_eq(c, 1);
    TLT_OK(tl_count_all(s2, &c));
    cr_assert_eq(c, 0);
    tl_snapshot_release(s0);
    tl_snapshot_release(s1);
    tl_snapshot_release(s2);
    TLT_OK(tl_stats(f.log, &st));
    cr_assert_eq(st.snapshots, 0);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- close */

Test(log, close_with_outstanding_snapshot_defers_teardown) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tlt_close(&f.env);
    /* No visible handle may be released while the snapshot can read it. */
    for (size_t i = 0; i < old.n; i++)
        cr_assert_eq(tlt_drops_of(&f.env.drops, old.r[i].h), 0,
                     "handle %llu released while a snapshot still sees it",
                     (unsigned long long)old.r[i].h);
    cr_assert_gt(tlt_alloc_live_bytes(&f.env.alloc), 0);
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tlt_expect_iter(it, old.r, old.n, "snapshot after close");
    tl_iter_close(it);
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, old.n);
    tl_snapshot_release(snap); /* last pin: teardown happens here */
    cr_assert_eq(tlt_alloc_live_bytes(&f.env.alloc), 0, "teardown left %llu bytes",
                 (unsigned long long)tlt_alloc_live_bytes(&f.env.alloc));
    tlt_model_free(&old);
    fx_finish(&f);
}

Test(log, close_with_outstanding_iterator_defers_teardown) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tlt_model_t old;
    tlt_model_copy(&old, &f.m);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    tl_snapshot_release(snap);
    tlt_close(&f.env);
    for (size_t i = 0; i < old.n; i++) cr_assert_eq(tlt_drops_of(&f.env.drops, old.r[i].h), 0);
    tlt_expect_iter(it, old.r, old.n, "iterator after close");
    tl_iter_close(it);
    cr_assert_gt(tlt_alloc_live_bytes(&f.env.alloc), 0, "span iterator lost its pin");
    tl_span_t span;
    while (tl_spans_next(sp, &span) == TL_OK)
        for (size_t i = 1; i < span.n; i++) cr_assert_leq(span.ts[i - 1], span.ts[i]);
    tl_spans_close(sp);
    cr_assert_eq(tlt_alloc_live_bytes(&f.env.alloc), 0);
    tlt_model_free(&old);
    fx_finish(&f);
}

Test(log, writes_after_close_return_estate) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tl_log_t *log = f.log;
    tlt_close(&f.env); /* the pin keeps the log object alive until release */
    const tl_ts_t ts[2] = {1, 2};
    const tl_handle_t hs[2] = {FX_CAP - 2, FX_CAP - 1};
    tl_ts_t now = 5;
    TLT_ST(tl_append(log, 1, FX_CAP - 3), TL_ESTATE);
    TLT_ST(tl_append_now(log, FX_CAP - 4, &now), TL_ESTATE);
    TLT_ST(tl_append_batch(log, ts, hs, 2), TL_ESTATE);
    TLT_ST(tl_delete_range(log, 0, 10), TL_ESTATE);
    TLT_ST(tl_delete_since(log, 0), TL_ESTATE);
    TLT_ST(tl_delete_before(log, 0), TL_ESTATE);
    TLT_ST(tl_delete_ts(log, 0), TL_ESTATE);
    TLT_ST(tl_delete_all(log), TL_ESTATE);
    TLT_ST(tl_flush(log), TL_ESTATE);
    TLT_ST(tl_compact(log), TL_ESTATE);
    TLT_ST(tl_maint_step(log), TL_ESTATE);
    tl_snapshot_t *s2 = (tl_snapshot_t *)(uintptr_t)1;
    TLT_ST(tl_snapshot_acquire(log, &s2), TL_ESTATE);
    cr_assert_null(s2);
    TLT_OK(tl_drain_retired(log, 0, NULL)); /* works until teardown */
    uint64_t c;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, f.m.n);
    tl_snapshot_release(snap);
    for (tl_handle_t h = FX_CAP - 4; h < FX_CAP; h++)
        cr_assert_eq(tlt_drops_of(&f.env.drops, h), 0, "a rejected write's handle was kept");
    fx_finish(&f);
}

typedef struct release_arg {
    tl_snapshot_t *snap;
    tlt_drops_t *drops;
} release_arg_t;

static void *release_in_thread(void *p) {
    release_arg_t *a = p;
    tl_mutex_lock(&a->drops->mu);
    a->drops->owner = tl_thread_id_self(); /* on_drop is expected in this thread now */
    tl_mutex_unlock(&a->drops->mu);
    tl_snapshot_release(a->snap);
    return NULL;
}

Test(log, last_snapshot_release_tears_down_in_its_own_thread) {
    fx_t f;
    fx_open(&f, NULL);
    fx_mixed_state(&f);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(f.log, &snap));
    tlt_close(&f.env);
    release_arg_t a = {snap, &f.env.drops};
    tl_thread_t th;
    cr_assert(tl_thread_start(&th, release_in_thread, &a));
    tl_thread_join(th);
    cr_assert_eq(tlt_alloc_live_bytes(&f.env.alloc), 0);
    f.env.drops.owner = tl_thread_id_self();
    fx_finish(&f); /* every handle dropped once, by the releasing thread */
}

/* ---------------------------------------------------------------- concurrency */

/* Records carry ts = conc_ts(h), so a reader in another thread can check
 * every record it sees without sharing a model with the writer. */
static tl_ts_t conc_ts(tl_handle_t h) { return (tl_ts_t)((h * 7919u) % 100000u) - 50000; }

typedef struct conc {
    tl_log_t *log;
    tlt_drops_t *drops;
    atomic_int stop;
    atomic_int failed;
    char why[160];
    uint64_t scans;
} conc_t;

static void conc_fail(conc_t *c, const char *msg, long long a, long long b) {
    if (atomic_exchange(&c->failed, 1) == 0)
        snprintf(c->why, sizeof c->why, "%s (%lld, %lld)", msg, a, b);
}

/* Reader thread: repeatedly pins a snapshot and checks it is internally
 * consistent while the writer appends, deletes, compacts and drains. No
 * Criterion assertion here (it cannot unwind from another thread). */
static void *conc_reader(void *p) {
    conc_t *c = p;
    tl_ts_t ts[256];
    tl_handle_t h[256];
    while (!atomic_load(&c->stop) && !atomic_load(&c->failed)) {
        tl_snapshot_t *snap = NULL;
        if (tl_snapshot_acquire(c->log, &snap) != TL_OK) {
            conc_fail(c, "snapshot_acquire failed", 0, 0);
            break;
        }
        uint64_t count = 0, seen = 0;
        if (tl_count_all(snap, &count) != TL_OK) conc_fail(c, "count_all failed", 0, 0);
        tl_iter_t *it = NULL;
        if (tl_iter_all(snap, &it) != TL_OK) {
            conc_fail(c, "iter_all failed", 0, 0);
            tl_snapshot_release(snap);
            break;
        }
        tl_ts_t last = INT64_MIN;
        for (;;) {
            size_t n = 0;
            tl_status_t st = tl_iter_next_batch(it, ts, h, 256, &n);
            if (st != TL_OK && st != TL_EOF) {
                conc_fail(c, "next_batch failed", st, 0);
                break;
            }
            for (size_t i = 0; i < n; i++) {
                if (ts[i] < last) conc_fail(c, "records out of order", last, ts[i]);
                if (ts[i] != conc_ts(h[i]))
                    conc_fail(c, "record with a foreign timestamp", ts[i], (long long)h[i]);
                if (tlt_drops_of(c->drops, h[i]) != 0)
                    conc_fail(c, "pinned handle already passed to on_drop", (long long)h[i], 0);
                last = ts[i];
            }
            seen += n;
            if (n < 256) break;
        }
        tl_iter_close(it);
        if (seen != count)
            conc_fail(c, "count_all disagrees with iteration", (long long)count, (long long)seen);
        /* Spans of the same snapshot: immutable memory, read while the
         * writer compacts (ASan catches a page freed under a pin). */
        tl_span_iter_t *sp = NULL;
        if (tl_spans_all(snap, &sp) == TL_OK) {
            tl_span_t span;
            uint64_t in_spans = 0;
            while (tl_spans_next(sp, &span) == TL_OK) {
                for (size_t i = 0; i < span.n; i++)
                    if (span.ts[i] != conc_ts(span.h[i]))
                        conc_fail(c, "span record with a foreign timestamp", span.ts[i],
                                  (long long)span.h[i]);
                in_spans += span.n;
            }
            tl_spans_close(sp);
            if (in_spans > count)
                conc_fail(c, "spans hold more than the visible records", (long long)in_spans,
                          (long long)count);
        } else {
            conc_fail(c, "spans_all failed", 0, 0);
        }
        tl_snapshot_release(snap);
        c->scans++;
    }
    return NULL;
}

Test(log, concurrent_readers_see_consistent_snapshots, .timeout = 60) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_wait_ms = 1;
    fx_open(&f, &cfg);
    conc_t c = {.log = f.log, .drops = &f.env.drops}, c2 = {.log = f.log, .drops = &f.env.drops};
    atomic_init(&c.stop, 0);
    atomic_init(&c.failed, 0);
    atomic_init(&c2.stop, 0);
    atomic_init(&c2.failed, 0);
    tl_thread_t r1, r2;
    cr_assert(tl_thread_start(&r1, conc_reader, &c));
    cr_assert(tl_thread_start(&r2, conc_reader, &c2));
    for (int i = 0; i < 30000 && !atomic_load(&c.failed) && !atomic_load(&c2.failed); i++) {
        tl_handle_t h = f.next_h;
        fx_append(&f, conc_ts(h));
        if (i % 500 == 499) {
            tl_ts_t a = tlt_rng_range(&f.rng, -50000, 49000);
            fx_delete_range(&f, a, a + 1000);
        }
        if (i % 3000 == 2999) TLT_OK(tl_compact(f.log));
        if (i % 700 == 0) tlt_drain_all(f.log);
    }
    atomic_store(&c.stop, 1);
    atomic_store(&c2.stop, 1);
    tl_thread_join(r1);
    tl_thread_join(r2);
    cr_assert_eq(atomic_load(&c.failed), 0, "reader 1: %s", c.why);
    cr_assert_eq(atomic_load(&c2.failed), 0, "reader 2: %s", c2.why);
    cr_assert_gt(c.scans + c2.scans, 0);
    cr_log_info("concurrent readers: %llu + %llu snapshot scans", (unsigned long long)c.scans,
                (unsigned long long)c2.scans);
    fx_check(&f);
    fx_settle_drops(&f);
    fx_finish(&f);
}

/* ---------------------------------------------------------------- frozen memtable */

/* Background mode: a write that fills the memtable freezes it for the worker.
 * Whatever the worker has done by then, every read sees the model, deletes
 * hide frozen records, the spare run is accounted, and stop_maintenance
 * leaves no frozen memtable behind. */
Test(log, full_memtables_freeze_for_the_worker_and_stay_readable, .timeout = 60) {
    fx_t f;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg); /* fx_open installs the hooks */
    cfg.maintenance = TL_MAINT_BACKGROUND;
    cfg.memtable_max_bytes = 384; /* 16 records */
    cfg.maintenance_wakeup_ms = 1;
    cfg.sealed_max_runs = 64;
    fx_open(&f, &cfg);
    cr_assert(tl_maint_running(f.log));
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 16; i++)
            fx_append(&f, (tl_ts_t)(round * 16 + i) * (i % 5 == 4 ? -1 : 1));
        if (round % 7 == 3) fx_delete_range(&f, round * 16 - 40, round * 16 - 20);
        if (round % 10 == 0) fx_check(&f);
    }
    fx_check(&f);
    TLT_OK(tl_maint_stop(f.log));
    tl_stats_t st = stats_of(f.log);
    cr_assert_eq(st.memtable_records, 0,
                 "stop_maintenance seals what the worker left frozen "
                 "(the last write filled the memtable)");
    cr_assert_eq(st.memrun_records + st.l0_records + st.l1_records, st.physical_records);
    fx_check(&f);
    TLT_OK(tl_flush(f.log));
    st = stats_of(f.log);
    cr_assert_eq(st.engine_bytes, tlt_alloc_live_bytes(&f.env.alloc));
    fx_settle_drops(&f);
    fx_finish(&f);
}

/* tl_snapshot_current: a kept snapshot is reusable exactly until something
 * is written or published; tl_point_in reads it like tl_point reads a fresh
 * pin. */
Test(log, snapshot_current_until_a_write_or_publish) {
    fx_t f;
    fx_open(&f, NULL);
    fx_append(&f, 5);
    fx_append(&f, 5);
    tl_snapshot_t *s;
    TLT_OK(tl_snapshot_acquire(f.log, &s));
    cr_assert_eq(tl_snapshot_current(f.log, s), 1);
    cr_assert_eq(tl_snapshot_current(f.log, s), 1, "reading does not change it");
    tl_handle_t out[4];
    size_t n = 0, m = 0;
    TLT_OK(tl_point_in(s, 5, out, 4, &n));
    tl_handle_t out2[4];
    TLT_OK(tl_point(f.log, 5, out2, 4, &m));
    cr_assert_eq(n, 2);
    cr_assert_eq(m, 2);
    cr_assert_arr_eq(out, out2, 2 * sizeof out[0]);

    fx_append(&f, 6); /* a write */
    cr_assert_eq(tl_snapshot_current(f.log, s), 0);
    TLT_OK(tl_point_in(s, 6, out, 4, &n));
    cr_assert_eq(n, 0, "the old snapshot still shows the old state");
    tl_snapshot_release(s);

    TLT_OK(tl_snapshot_acquire(f.log, &s));
    cr_assert_eq(tl_snapshot_current(f.log, s), 1);
    fx_delete_ts(&f, 6); /* a delete */
    cr_assert_eq(tl_snapshot_current(f.log, s), 0);
    tl_snapshot_release(s);

    TLT_OK(tl_snapshot_acquire(f.log, &s));
    TLT_OK(tl_flush(f.log)); /* a publish that changes no visible record */
    cr_assert_eq(tl_snapshot_current(f.log, s), 0, "a publish retires what it pins");
    tl_snapshot_release(s);

    tl_log_t *other;
    tl_config_t cfg;
    tlt_small_config(NULL, &cfg);
    cfg.alloc = (tl_allocator_t){0};
    cfg.on_drop = NULL;
    TLT_OK(tl_open(&cfg, &other));
    TLT_OK(tl_snapshot_acquire(f.log, &s));
    cr_assert_eq(tl_snapshot_current(other, s), 0, "another log's snapshot");
    cr_assert_eq(tl_snapshot_current(NULL, s), 0);
    cr_assert_eq(tl_snapshot_current(f.log, NULL), 0);
    cr_assert_eq(tl_point_in(NULL, 5, out, 4, &n), TL_EINVAL);
    tl_close(other);
    tl_snapshot_retain(s);
    tl_snapshot_release(s);
    cr_assert_eq(tl_snapshot_current(f.log, s), 1, "retain/release of a pin changes nothing");
    tl_snapshot_release(s);
    fx_check(&f);
    fx_finish(&f);
}
