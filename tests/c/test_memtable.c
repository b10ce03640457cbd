/*
 * test_memtable.c: the mutable ingest layer (tl_memtable.h): the in-order
 * fast path, the sorted stage for late records, late runs and their
 * logarithmic count, seal thresholds, batch atomicity under OOM, sealing
 * against tombstones, and copy-free views that stay fixed while the writer
 * goes on.
 *
 * The model is the multiset of (ts, h, seq) appended so far; the memtable's
 * buffers are read directly (white-box) and compared with it as multisets.
 */
#include <stdio.h>

#include "comp_fixture.h"
#include "tl_memtable.h"

typedef struct rec3 {
    tl_ts_t ts;
    tl_handle_t h;
    tl_seq_t seq;
} rec3_t;

static int rec3_cmp(const void *x, const void *y) {
    const rec3_t *a = x, *b = y;
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

typedef struct recs3 {
    rec3_t *v;
    size_t n, cap;
} recs3_t;

static void r3_push(recs3_t *l, tl_ts_t ts, tl_handle_t h, tl_seq_t seq) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        cr_assert_not_null(l->v);
    }
    l->v[l->n].ts = ts;
    l->v[l->n].h = h;
    l->v[l->n].seq = seq;
    l->n++;
}

static void r3_push_buf(recs3_t *l, const tl_mtbuf_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) r3_push(l, b->ts[i], b->h[i], b->seq[i]);
}

/* Everything the memtable holds, sorted for multiset comparison. */
static recs3_t collect(const tl_memtable_t *mt) {
    recs3_t l = {0};
    if (mt->run) r3_push_buf(&l, mt->run, tl_mtbuf_len(mt->run));
    if (mt->stage) r3_push_buf(&l, mt->stage, tl_mtbuf_len(mt->stage));
    for (size_t i = 0; i < mt->n_ooo; i++) r3_push_buf(&l, mt->ooo[i], tl_mtbuf_len(mt->ooo[i]));
    if (l.n) qsort(l.v, l.n, sizeof *l.v, rec3_cmp);
    return l;
}

static recs3_t collect_view(const tl_mtview_t *v) {
    recs3_t l = {0};
    if (v->run) r3_push_buf(&l, v->run, v->run_n);
    if (v->stage) r3_push_buf(&l, v->stage, v->stage_n);
    for (size_t i = 0; i < v->n_ooo; i++) r3_push_buf(&l, v->ooo[i], tl_mtbuf_len(v->ooo[i]));
    if (l.n) qsort(l.v, l.n, sizeof *l.v, rec3_cmp);
    return l;
}

static void assert_same(recs3_t *got, recs3_t *want, const char *what) {
    if (want->n) qsort(want->v, want->n, sizeof *want->v, rec3_cmp);
    cr_assert_eq(got->n, want->n, "%s: %zu records, want %zu", what, got->n, want->n);
    for (size_t i = 0; i < got->n; i++) {
        cr_assert(rec3_cmp(&got->v[i], &want->v[i]) == 0,
                  "%s: record %zu is (%lld, %llu, %llu), want (%lld, %llu, %llu)", what, i,
                  (long long)got->v[i].ts, (unsigned long long)got->v[i].h,
                  (unsigned long long)got->v[i].seq, (long long)want->v[i].ts,
                  (unsigned long long)want->v[i].h, (unsigned long long)want->v[i].seq);
    }
}

static void assert_valid(const tl_memtable_t *mt) {
    const char *why = NULL;
    cr_assert(tl_mt_validate(mt, &why), "tl_mt_validate: %s", why ? why : "?");
}

/* The log's write path: fast path first, slow path when it declines. */
static void put(tc_t *t, tl_memtable_t *mt, recs3_t *model, tl_ts_t ts, tl_handle_t h,
                tl_seq_t seq) {
    cr_assert_not(tl_mt_full(mt), "test appends to a full memtable");
    if (!tl_mt_append_fast(mt, ts, h, seq)) TLT_OK(tl_mt_append_slow(mt, &t->m, ts, h, seq));
    if (model) r3_push(model, ts, h, seq);
}

/* Everything observable about a memtable, to prove an operation changed
 * nothing. */
typedef struct fp {
    size_t records, ooo_records, n_ooo, bytes, run_n, stage_n;
    tl_ts_t run_last;
    tl_seq_t min_seq;
    const void *run, *stage;
    recs3_t all;
} fp_t;

static fp_t fingerprint(const tl_memtable_t *mt) {
    fp_t f = {mt->records,
              mt->ooo_records,
              mt->n_ooo,
              tl_mt_bytes(mt),
              tl_mtbuf_len(mt->run),
              tl_mtbuf_len(mt->stage),
              mt->run_last,
              mt->min_seq,
              mt->run,
              mt->stage,
              collect(mt)};
    return f;
}

static void assert_fp_equal(const tl_memtable_t *mt, fp_t *before, const char *what) {
    fp_t now = fingerprint(mt);
    cr_assert_eq(now.records, before->records, "%s: records changed", what);
    cr_assert_eq(now.ooo_records, before->ooo_records, "%s: ooo_records changed", what);
    cr_assert_eq(now.n_ooo, before->n_ooo, "%s: late run count changed", what);
    cr_assert_eq(now.bytes, before->bytes, "%s: bytes changed", what);
    cr_assert_eq(now.run_n, before->run_n, "%s: run length changed", what);
    cr_assert_eq(now.stage_n, before->stage_n, "%s: stage length changed", what);
    cr_assert_eq(now.run_last, before->run_last, "%s: run_last changed", what);
    cr_assert_eq(now.min_seq, before->min_seq, "%s: min_seq changed", what);
    cr_assert_eq(now.run, before->run, "%s: run buffer replaced", what);
    cr_assert_eq(now.stage, before->stage, "%s: stage buffer replaced", what);
    assert_same(&now.all, &before->all, what);
    free(now.all.v);
    assert_valid(mt);
}

static size_t floor_log2(size_t x) {
    size_t r = 0;
    while (x > 1) {
        x >>= 1;
        r++;
    }
    return r;
}

/* Late runs form a geometric sequence, so there are O(log n) of them. */
static void assert_late_runs_logarithmic(const tl_memtable_t *mt, size_t min_run) {
    size_t late = 0;
    for (size_t i = 0; i < mt->n_ooo; i++) late += tl_mtbuf_len(mt->ooo[i]);
    if (mt->n_ooo == 0) return;
    cr_assert_leq(mt->n_ooo, 1 + floor_log2(late / min_run), "%zu late runs hold %zu records",
                  mt->n_ooo, late);
    for (size_t i = 0; i + 1 < mt->n_ooo; i++) {
        cr_assert_gt(tl_mtbuf_len(mt->ooo[i]), 2 * tl_mtbuf_len(mt->ooo[i + 1]),
                     "late run %zu (%zu) is not more than twice run %zu (%zu)", i,
                     tl_mtbuf_len(mt->ooo[i]), i + 1, tl_mtbuf_len(mt->ooo[i + 1]));
    }
}

/* ---------------------------------------------------------------- appends */

Test(memtable, in_order_appends_take_the_fast_path_until_the_run_is_full) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 100000, 100000);
    cr_assert(tl_mt_empty(&mt));
    cr_assert_not(tl_mt_append_fast(&mt, 10, 1, 5), "no run yet: the slow path creates it");
    TLT_OK(tl_mt_append_slow(&mt, &t.m, 10, 1, 5));
    cr_assert_eq(mt.min_seq, 5);
    size_t cap = mt.run->cap;
    cr_assert_geq(cap, 2);
    /* Equal timestamps are in order too. */
    for (size_t i = 1; i < cap; i++)
        cr_assert(tl_mt_append_fast(&mt, 10 + (tl_ts_t)(i / 2), 1 + i, 5 + i), "record %zu", i);
    cr_assert_eq(tl_mtbuf_len(mt.run), cap);
    cr_assert_not(tl_mt_append_fast(&mt, 100000, 9999, 9999), "a full run declines");
    tl_mtbuf_t *old = mt.run;
    TLT_OK(tl_mt_append_slow(&mt, &t.m, 100000, 9999, 9999));
    cr_assert_neq(mt.run, old, "the run grew into a new buffer");
    cr_assert_gt(mt.run->cap, cap);
    cr_assert(tl_mt_append_fast(&mt, 100001, 10000, 10000));
    cr_assert_null(mt.stage, "no late record: no stage");
    cr_assert_eq(mt.ooo_records, 0);
    cr_assert_eq(mt.records, cap + 2);
    cr_assert_eq(mt.run_last, 100001);
    cr_assert_eq(mt.min_seq, 5);
    assert_valid(&mt);
    tl_mt_reset(&mt, &t.m, NULL);
    cr_assert(tl_mt_empty(&mt));
    tc_end(&t);
}

Test(memtable, fast_path_declines_late_records) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 1000, 1000);
    TLT_OK(tl_mt_append_slow(&mt, &t.m, 100, 1, 1));
    cr_assert_not(tl_mt_append_fast(&mt, 99, 2, 2));
    cr_assert_eq(mt.records, 1);
    cr_assert_eq(tl_mtbuf_len(mt.run), 1);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, late_appends_land_sorted_in_the_stage) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tl_mt_init(&mt, 1000, 1000);
    put(&t, &mt, &model, 100, 1, 1);
    put(&t, &mt, &model, 200, 2, 2);
    tl_ts_t late[] = {150, 120, 199, TL_TS_MIN, 101, 150};
    for (size_t i = 0; i < 6; i++) put(&t, &mt, &model, late[i], 10 + i, 3 + i);
    cr_assert_not_null(mt.stage);
    cr_assert_eq(tl_mtbuf_len(mt.stage), 6);
    cr_assert_eq(mt.ooo_records, 6);
    cr_assert_eq(tl_mtbuf_len(mt.run), 2, "the run is untouched by late records");
    cr_assert_eq(mt.run_last, 200);
    tl_ts_t want[] = {TL_TS_MIN, 101, 120, 150, 150, 199};
    for (size_t i = 0; i < 6; i++) cr_assert_eq(mt.stage->ts[i], want[i], "stage[%zu]", i);
    assert_valid(&mt);
    recs3_t got = collect(&mt);
    assert_same(&got, &model, "contents");
    free(got.v);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, late_duplicates_keep_arrival_order_in_the_stage) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 1000, 1000);
    put(&t, &mt, NULL, 100, 0, 1);
    for (tl_handle_t h = 1; h <= 20; h++) put(&t, &mt, NULL, h % 2 ? 5 : 7, h, 1 + h);
    size_t n = tl_mtbuf_len(mt.stage);
    cr_assert_eq(n, 20);
    tl_handle_t prev5 = 0, prev7 = 0;
    for (size_t i = 0; i < n; i++) {
        tl_handle_t *prev = mt.stage->ts[i] == 5 ? &prev5 : &prev7;
        cr_assert_gt(mt.stage->h[i], *prev, "duplicates out of arrival order");
        *prev = mt.stage->h[i];
    }
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, stage_overflow_becomes_late_runs_whose_count_stays_logarithmic) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 41);
    tl_mt_init(&mt, 1 << 20, 1 << 20);
    put(&t, &mt, &model, TL_TS_MAX, 0, 1);
    size_t n_late = TL_MT_STAGE_CAP * 700 + 17;
    size_t max_runs_seen = 0;
    for (size_t i = 0; i < n_late; i++) {
        put(&t, &mt, &model, tlt_rng_range(&rng, TL_TS_MIN, 1000000), 1 + i, 2 + i);
        if (mt.n_ooo > max_runs_seen) max_runs_seen = mt.n_ooo;
        if (i % 61 == 0) {
            assert_late_runs_logarithmic(&mt, TL_MT_STAGE_CAP);
            cr_assert_leq(tl_mtbuf_len(mt.stage), TL_MT_STAGE_CAP);
        }
    }
    assert_late_runs_logarithmic(&mt, TL_MT_STAGE_CAP);
    cr_assert_geq(max_runs_seen, 2, "late runs were created and merged");
    cr_assert_leq(max_runs_seen, 1 + floor_log2(n_late / TL_MT_STAGE_CAP));
    cr_assert_eq(mt.ooo_records, n_late);
    cr_assert_eq(mt.records, n_late + 1);
    assert_valid(&mt);
    recs3_t got = collect(&mt);
    assert_same(&got, &model, "after many late records");
    cr_assert_eq(tl_mt_bytes(&mt), tl_mem_live(&t.m));
    free(got.v);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, full_at_the_record_threshold_or_the_late_budget) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 10, 3);
    for (tl_ts_t i = 0; i < 10; i++) {
        cr_assert_not(tl_mt_full(&mt), "full after %lld in-order records", (long long)i);
        put(&t, &mt, NULL, i, (tl_handle_t)i, (tl_seq_t)i + 1);
    }
    cr_assert(tl_mt_full(&mt), "max_records reached");
    tl_mt_reset(&mt, &t.m, NULL);
    cr_assert_not(tl_mt_full(&mt));
    cr_assert_eq(mt.max_records, 10, "reset keeps the thresholds");
    cr_assert_eq(mt.ooo_budget, 3);

    put(&t, &mt, NULL, 100, 0, 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_not(tl_mt_full(&mt), "full after %d late records", i);
        put(&t, &mt, NULL, 50 - i, 1 + (tl_handle_t)i, 2 + (tl_seq_t)i);
    }
    cr_assert(tl_mt_full(&mt), "ooo budget reached with 4 of 10 records");
    tl_mt_reset(&mt, &t.m, NULL);

    tl_mt_init(&mt, 0, 0);
    cr_assert_eq(mt.max_records, 1, "zero thresholds are clamped to 1");
    cr_assert_eq(mt.ooo_budget, 1);
    cr_assert_not(tl_mt_full(&mt));
    put(&t, &mt, NULL, 1, 1, 1);
    cr_assert(tl_mt_full(&mt));
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, run_capacity_grows_up_to_the_seal_threshold_only) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 300, 300);
    for (tl_ts_t i = 0; i < 300; i++) put(&t, &mt, NULL, i, (tl_handle_t)i, (tl_seq_t)i + 1);
    cr_assert_eq(mt.run->cap, 300, "the run never grows past max_records");
    cr_assert(tl_mt_full(&mt));
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

/* ---------------------------------------------------------------- batches */

Test(memtable, sorted_batch_extends_the_run_and_turns_older_records_into_a_late_run) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tl_mt_init(&mt, 100000, 100000);
    tl_ts_t b0[] = {10, 20, 30};
    tl_handle_t h0[] = {1, 2, 3};
    TLT_OK(tl_mt_append_sorted_batch(&mt, &t.m, b0, h0, 3, 4));
    cr_assert_eq(mt.min_seq, 4);
    cr_assert_eq(mt.n_ooo, 0);
    cr_assert_eq(mt.run_last, 30);
    for (int i = 0; i < 3; i++) r3_push(&model, b0[i], h0[i], 4);

    tl_ts_t b1[] = {5, 15, 30, 40, 50};
    tl_handle_t h1[] = {4, 5, 6, 7, 8};
    TLT_OK(tl_mt_append_sorted_batch(&mt, &t.m, b1, h1, 5, 7));
    for (int i = 0; i < 5; i++) r3_push(&model, b1[i], h1[i], 7);
    cr_assert_eq(mt.n_ooo, 1, "records below the run's tail form one late run");
    cr_assert_eq(tl_mtbuf_len(mt.ooo[0]), 2);
    cr_assert_eq(tl_mtbuf_len(mt.run), 6, "30 (== run_last), 40 and 50 extend the run");
    cr_assert_eq(mt.run_last, 50);
    cr_assert_eq(mt.records, 8);
    cr_assert_eq(mt.ooo_records, 2);
    cr_assert_eq(mt.min_seq, 4);
    assert_valid(&mt);
    recs3_t got = collect(&mt);
    assert_same(&got, &model, "after batches");
    free(got.v);

    /* A batch bigger than the run's capacity grows it once. */
    size_t n = 5000;
    tl_ts_t *ts = tc_xmalloc(n * sizeof *ts);
    tl_handle_t *h = tc_xmalloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        ts[i] = 50 + (tl_ts_t)i;
        h[i] = 100 + i;
        r3_push(&model, ts[i], h[i], 9);
    }
    TLT_OK(tl_mt_append_sorted_batch(&mt, &t.m, ts, h, n, 9));
    cr_assert_eq(mt.records, 8 + n);
    cr_assert_eq(mt.run_last, 50 + (tl_ts_t)n - 1);
    assert_valid(&mt);
    got = collect(&mt);
    assert_same(&got, &model, "after a big batch");
    free(got.v);
    TLT_OK(tl_mt_append_sorted_batch(&mt, &t.m, ts, h, 0, 10)); /* empty batch: no-op */
    cr_assert_eq(mt.records, 8 + n);
    free(ts);
    free(h);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, many_late_batches_keep_the_late_run_count_logarithmic) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 42);
    tl_mt_init(&mt, 1 << 20, 1 << 20);
    put(&t, &mt, &model, 1000000, 0, 1);
    tl_seq_t seq = 2;
    for (int b = 0; b < 3000; b++) {
        tl_ts_t ts[3];
        tl_handle_t h[3];
        for (int i = 0; i < 3; i++) ts[i] = tlt_rng_range(&rng, 0, 999999);
        qsort(ts, 3, sizeof ts[0], tc_cmp_ts);
        for (int i = 0; i < 3; i++) {
            h[i] = 1 + (tl_handle_t)(3 * b + i);
            r3_push(&model, ts[i], h[i], seq);
        }
        TLT_OK(tl_mt_append_sorted_batch(&mt, &t.m, ts, h, 3, seq++));
        cr_assert_leq(mt.n_ooo, TL_MT_MAX_RUNS);
        if (b % 97 == 0) assert_late_runs_logarithmic(&mt, 3);
    }
    assert_late_runs_logarithmic(&mt, 3);
    assert_valid(&mt);
    recs3_t got = collect(&mt);
    assert_same(&got, &model, "after many late batches");
    free(got.v);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

/* Builds a memtable with a grown run, a stage and two late runs. */
static void build_busy(tc_t *t, tl_memtable_t *mt, recs3_t *model, tl_seq_t *seq) {
    tl_mt_init(mt, 1 << 20, 1 << 20);
    for (tl_ts_t i = 0; i < 300; i++) put(t, mt, model, 1000 + i, (tl_handle_t)i, (*seq)++);
    for (int i = 0; i < 2 * TL_MT_STAGE_CAP + 10; i++)
        put(t, mt, model, 500 + (i * 37) % 400, 1000 + (tl_handle_t)i, (*seq)++);
    cr_assert_geq(mt->n_ooo, 1);
    cr_assert_gt(tl_mtbuf_len(mt->stage), 0);
}

Test(memtable, sorted_batch_is_atomic_under_oom) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tl_seq_t seq = 1;
    build_busy(&t, &mt, &model, &seq);
    /* Half late, half in order, and more than the run has room for. */
    size_t n = 2000;
    tl_ts_t *ts = tc_xmalloc(n * sizeof *ts);
    tl_handle_t *h = tc_xmalloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        ts[i] = 300 + (tl_ts_t)i;
        h[i] = 5000 + i;
    }
    fp_t before = fingerprint(&mt);
    size_t live = tl_mem_live(&t.m);
    uint64_t k;
    for (k = 1;; k++) {
        tlt_alloc_arm(&t.a, k, 0, 0);
        tl_status_t st = tl_mt_append_sorted_batch(&mt, &t.m, ts, h, n, seq);
        tlt_alloc_disarm(&t.a);
        if (st == TL_OK) break;
        cr_assert_eq(st, TL_ENOMEM, "k=%llu", (unsigned long long)k);
        char what[64];
        snprintf(what, sizeof what, "batch failing at allocation %llu", (unsigned long long)k);
        assert_fp_equal(&mt, &before, what);
        cr_assert_eq(tl_mem_live(&t.m), live, "%s leaked", what);
        cr_assert_lt(k, 100);
    }
    cr_assert_gt(k, 2, "the batch needed a late run and a bigger run");
    for (size_t i = 0; i < n; i++) r3_push(&model, ts[i], h[i], seq);
    recs3_t got = collect(&mt);
    assert_same(&got, &model, "after the successful retry");
    assert_valid(&mt);
    free(got.v);
    free(before.all.v);
    free(ts);
    free(h);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, single_appends_leave_the_memtable_unchanged_on_oom) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 1 << 20, 1 << 20);
    /* First record: the run cannot be created. */
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_mt_append_slow(&mt, &t.m, 10, 1, 1), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert(tl_mt_empty(&mt));
    cr_assert_null(mt.run);
    cr_assert_eq(tl_mem_live(&t.m), 0);

    recs3_t model = {0};
    tl_seq_t seq = 1;
    for (tl_ts_t i = 0; i < 256; i++) put(&t, &mt, &model, 100 + i, (tl_handle_t)i, seq++);
    cr_assert_eq(tl_mtbuf_len(mt.run), mt.run->cap, "the run is full");
    struct {
        tl_ts_t ts;
        const char *what;
    } cases[] = {
        {1000, "run growth"},
        {5, "stage creation"},
    };
    for (size_t c = 0; c < 2; c++) {
        fp_t before = fingerprint(&mt);
        tlt_alloc_arm(&t.a, 1, 0, 0);
        TLT_ST(tl_mt_append_slow(&mt, &t.m, cases[c].ts, 999, seq), TL_ENOMEM);
        tlt_alloc_disarm(&t.a);
        assert_fp_equal(&mt, &before, cases[c].what);
        free(before.all.v);
        put(&t, &mt, &model, cases[c].ts, 999, seq++);
    }
    /* Fill the stage, then fail the fresh stage that would replace it. */
    while (tl_mtbuf_len(mt.stage) < TL_MT_STAGE_CAP) put(&t, &mt, &model, 7, 998, seq++);
    fp_t before = fingerprint(&mt);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_mt_append_slow(&mt, &t.m, 8, 997, seq), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    assert_fp_equal(&mt, &before, "stage rollover");
    free(before.all.v);
    put(&t, &mt, &model, 8, 997, seq++);
    /* Pin the stage, then fail its copy on write. */
    tl_mtview_t v;
    tl_mt_view_capture(&mt, &v);
    before = fingerprint(&mt);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_mt_append_slow(&mt, &t.m, 9, 996, seq), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    assert_fp_equal(&mt, &before, "copy on write of a pinned stage");
    free(before.all.v);
    put(&t, &mt, &model, 9, 996, seq++);
    tl_mt_view_release(&v, &t.m);
    recs3_t got = collect(&mt);
    assert_same(&got, &model, "after the OOM retries");
    free(got.v);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

/* ---------------------------------------------------------------- seal */

typedef struct seal_case {
    recs3_t model; /* every record appended */
    tl_tombs_t *tombs;
    tl_memtable_t mt;
} seal_case_t;

/* Random appends (in order and late, extremes included) interleaved with
 * deletes, every operation taking the next sequence number. */
static void build_seal_case(tc_t *t, tlt_rng_t *rng, seal_case_t *sc, size_t n_ops) {
    memset(sc, 0, sizeof *sc);
    tl_mt_init(&sc->mt, 1 << 20, 1 << 20);
    tl_seq_t seq = 0;
    tl_ts_t clock = -500;
    tl_handle_t h = 1;
    for (size_t i = 0; i < n_ops; i++) {
        uint64_t r = tlt_rng_below(rng, 100);
        ++seq;
        if (r < 8) {
            tl_ts_t a = tlt_rng_range(rng, -600, 600), b = tlt_rng_range(rng, -600, 600);
            tl_ts_t lo = a < b ? a : b, hi = a < b ? b : a;
            if (r == 0) lo = TL_TS_MIN;
            if (r == 1) hi = TL_TS_MAX;
            tl_tombs_t *next = NULL;
            TLT_OK(tl_tombs_add(&t->m, sc->tombs, lo, hi, seq, &next));
            tl_tombs_release(&t->m, sc->tombs);
            sc->tombs = next;
            continue;
        }
        tl_ts_t ts;
        if (r < 60) {
            clock += (tl_ts_t)tlt_rng_below(rng, 3);
            ts = clock;
        } else if (r < 62) {
            ts = r == 60 ? TL_TS_MIN : TL_TS_MAX;
        } else {
            ts = tlt_rng_range(rng, -600, clock);
        }
        put(t, &sc->mt, &sc->model, ts, h++, seq);
    }
}

static void free_seal_case(tc_t *t, seal_case_t *sc) {
    tl_mt_reset(&sc->mt, &t->m, NULL);
    tl_tombs_release(&t->m, sc->tombs);
    free(sc->model.v);
}

/* Seals and checks: output sorted, = records not hidden (f(ts) <= seq),
 * dropped = handles of the hidden ones, exactly once; memtable unchanged. */
static void seal_and_check(tc_t *t, seal_case_t *sc) {
    fp_t before = fingerprint(&sc->mt);
    tl_recs_t *out = NULL;
    tl_hlist_t dropped = {0};
    TLT_OK(tl_hlist_push(&t->m, &dropped, 123456789)); /* pre-existing entry stays */
    TLT_OK(tl_mt_seal_build(&sc->mt, &t->m, sc->tombs, &out, &dropped));
    assert_fp_equal(&sc->mt, &before, "seal_build");
    free(before.all.v);
    recs3_t want = {0}, want_drop = {0};
    for (size_t i = 0; i < sc->model.n; i++) {
        rec3_t r = sc->model.v[i];
        if (tl_tombs_seq_at(sc->tombs, r.ts) > r.seq)
            r3_push(&want_drop, 0, r.h, 0);
        else
            r3_push(&want, r.ts, r.h, 0);
    }
    recs3_t got = {0};
    if (out != NULL) {
        cr_assert_gt(out->n, 0);
        cr_assert(tl_ts_sorted(out->ts, out->n), "sealed block is not sorted");
        cr_assert_eq(out->cap, out->n, "sealed block is shrunk to fit");
        for (size_t i = 0; i < out->n; i++) r3_push(&got, out->ts[i], out->h[i], 0);
        qsort(got.v, got.n, sizeof *got.v, rec3_cmp);
    }
    assert_same(&got, &want, "sealed records");
    cr_assert_eq(dropped.v[0], 123456789);
    recs3_t gd = {0};
    for (size_t i = 1; i < dropped.n; i++) r3_push(&gd, 0, dropped.v[i], 0);
    if (gd.n) qsort(gd.v, gd.n, sizeof *gd.v, rec3_cmp);
    assert_same(&gd, &want_drop, "dropped handles");
    free(got.v);
    free(gd.v);
    free(want.v);
    free(want_drop.v);
    tl_recs_release(&t->m, out);
    tl_hlist_free(&t->m, &dropped);
}

Test(memtable, seal_drops_records_hidden_by_newer_tombstones_and_keeps_the_rest) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 43);
    for (int round = 0; round < 40; round++) {
        seal_case_t sc;
        build_seal_case(&t, &rng, &sc, 50 + 40 * (size_t)round);
        seal_and_check(&t, &sc);
        free_seal_case(&t, &sc);
    }
    tc_end(&t);
}

Test(memtable, record_written_after_a_delete_survives_the_seal) {
    TC_MEM(t);
    seal_case_t sc;
    memset(&sc, 0, sizeof sc);
    tl_mt_init(&sc.mt, 100, 100);
    put(&t, &sc.mt, &sc.model, 10, 1, 1);                  /* log[10] = A */
    TLT_OK(tl_tombs_add(&t.m, NULL, 5, 14, 2, &sc.tombs)); /* del log[5:15] */
    put(&t, &sc.mt, &sc.model, 10, 2, 3);                  /* log[10] = B */
    put(&t, &sc.mt, &sc.model, 3, 3, 4);                   /* late, outside the delete */
    put(&t, &sc.mt, &sc.model, 7, 4, 5);                   /* late, after the delete */
    tl_recs_t *out = NULL;
    tl_hlist_t dropped = {0};
    TLT_OK(tl_mt_seal_build(&sc.mt, &t.m, sc.tombs, &out, &dropped));
    cr_assert_eq(dropped.n, 1);
    cr_assert_eq(dropped.v[0], 1);
    cr_assert_eq(out->n, 3);
    tl_ts_t want_ts[] = {3, 7, 10};
    tl_handle_t want_h[] = {3, 4, 2};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(out->ts[i], want_ts[i]);
        cr_assert_eq(out->h[i], want_h[i]);
    }
    seal_and_check(&t, &sc);
    tl_recs_release(&t.m, out);
    tl_hlist_free(&t.m, &dropped);
    free_seal_case(&t, &sc);
    tc_end(&t);
}

Test(memtable, seal_of_an_empty_memtable_builds_nothing) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 100, 100);
    tl_recs_t *out = (tl_recs_t *)(uintptr_t)1;
    tl_hlist_t dropped = {0};
    TLT_OK(tl_mt_seal_build(&mt, &t.m, NULL, &out, &dropped));
    cr_assert_null(out);
    cr_assert_eq(dropped.n, 0);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tc_end(&t);
}

Test(memtable, seal_where_everything_is_hidden_returns_null_and_drops_all) {
    TC_MEM(t);
    seal_case_t sc;
    memset(&sc, 0, sizeof sc);
    tl_mt_init(&sc.mt, 1000, 1000);
    tl_seq_t seq = 1;
    for (tl_ts_t i = 0; i < 200; i++)
        put(&t, &sc.mt, &sc.model, (i * 7) % 50, (tl_handle_t)i + 1, seq++);
    put(&t, &sc.mt, &sc.model, TL_TS_MAX, 500, seq++);
    put(&t, &sc.mt, &sc.model, TL_TS_MIN, 501, seq++);
    TLT_OK(tl_tombs_add(&t.m, NULL, TL_TS_MIN, TL_TS_MAX, seq++, &sc.tombs));
    tl_recs_t *out = (tl_recs_t *)(uintptr_t)1;
    tl_hlist_t dropped = {0};
    TLT_OK(tl_mt_seal_build(&sc.mt, &t.m, sc.tombs, &out, &dropped));
    cr_assert_null(out);
    cr_assert_eq(dropped.n, 202);
    tl_hlist_free(&t.m, &dropped);
    seal_and_check(&t, &sc);
    free_seal_case(&t, &sc);
    tc_end(&t);
}

Test(memtable, seal_oom_at_every_allocation_builds_nothing_and_keeps_dropped) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 44);
    seal_case_t sc;
    build_seal_case(&t, &rng, &sc, 800);
    /* Make sure some 100+ records are hidden so the dropped list grows. */
    tl_tombs_t *next = NULL;
    TLT_OK(tl_tombs_add(&t.m, sc.tombs, -600, 0, 100000, &next));
    tl_tombs_release(&t.m, sc.tombs);
    sc.tombs = next;
    fp_t before = fingerprint(&sc.mt);
    size_t live = tl_mem_live(&t.m);
    uint64_t k;
    for (k = 1;; k++) {
        tl_recs_t *out = (tl_recs_t *)(uintptr_t)1;
        tl_hlist_t dropped = {0};
        TLT_OK(tl_hlist_push(&t.m, &dropped, 42));
        tlt_alloc_arm(&t.a, k, 0, 0);
        tl_status_t st = tl_mt_seal_build(&sc.mt, &t.m, sc.tombs, &out, &dropped);
        tlt_alloc_disarm(&t.a);
        if (st == TL_OK) {
            tl_recs_release(&t.m, out);
            tl_hlist_free(&t.m, &dropped);
            break;
        }
        cr_assert_eq(st, TL_ENOMEM, "k=%llu", (unsigned long long)k);
        cr_assert_null(out, "k=%llu: a block escaped a failed seal", (unsigned long long)k);
        cr_assert_eq(dropped.n, 1, "k=%llu: dropped list not restored", (unsigned long long)k);
        cr_assert_eq(dropped.v[0], 42);
        tl_hlist_free(&t.m, &dropped);
        cr_assert_eq(tl_mem_live(&t.m), live, "k=%llu: leak", (unsigned long long)k);
        char what[64];
        snprintf(what, sizeof what, "seal failing at allocation %llu", (unsigned long long)k);
        assert_fp_equal(&sc.mt, &before, what);
        cr_assert_lt(k, 100);
    }
    cr_assert_geq(k, 4, "late buffers, block and dropped list growth were all exercised");
    free(before.all.v);
    seal_and_check(&t, &sc);
    free_seal_case(&t, &sc);
    tc_end(&t);
}

/* ---------------------------------------------------------------- views */

Test(memtable, view_stays_fixed_while_the_writer_appends) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tl_seq_t seq = 1;
    build_busy(&t, &mt, &model, &seq);
    tl_mtview_t v;
    tl_mt_view_capture(&mt, &v);
    cr_assert_eq(v.run, mt.run, "a view shares the run, it does not copy it");
    cr_assert_eq(v.stage, mt.stage);
    cr_assert_eq(tl_ref_get(&mt.stage->refs), 2);
    recs3_t at_capture = collect_view(&v);
    assert_same(&at_capture, &model, "view at capture");

    /* In-order appends write past the view's run length, in place. */
    put(&t, &mt, NULL, 5000, 7000, seq++);
    cr_assert_eq(mt.run, v.run, "appending in place within capacity");
    /* A late append must not touch the pinned stage. */
    tl_mtbuf_t *pinned = mt.stage;
    put(&t, &mt, NULL, 600, 7001, seq++);
    cr_assert_neq(mt.stage, pinned, "a pinned stage is copied on write");
    cr_assert_eq(tl_ref_get(&pinned->refs), 1, "the writer let go of the old stage");
    /* Many more: stage rollovers, late-run merges, run growth. */
    for (int i = 0; i < 5 * TL_MT_STAGE_CAP; i++)
        put(&t, &mt, NULL, 550 + i % 300, 8000 + i, seq++);
    for (int i = 0; i < 2000; i++) put(&t, &mt, NULL, 6000 + i, 20000 + i, seq++);
    cr_assert_neq(mt.run, v.run, "the run grew into a new buffer");
    recs3_t now = collect_view(&v);
    assert_same(&now, &at_capture, "view after later appends");
    free(now.v);
    /* The view outlives a reset (a seal) of the memtable. */
    tl_mt_reset(&mt, &t.m, NULL);
    now = collect_view(&v);
    assert_same(&now, &at_capture, "view after reset");
    free(now.v);
    tl_mt_view_release(&v, &t.m);
    cr_assert_null(v.run);
    free(at_capture.v);
    free(model.v);
    tc_end(&t);
}

Test(memtable, unpinned_stage_is_updated_in_place) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 1000, 1000);
    put(&t, &mt, NULL, 100, 0, 1);
    put(&t, &mt, NULL, 50, 1, 2);
    tl_mtbuf_t *stage = mt.stage;
    for (int i = 0; i < 10; i++) put(&t, &mt, NULL, 40 + i, 2 + i, 3 + i);
    cr_assert_eq(mt.stage, stage, "no reader: no copy");
    tl_mtview_t v;
    tl_mt_view_capture(&mt, &v);
    tl_mt_view_release(&v, &t.m);
    put(&t, &mt, NULL, 30, 50, 50);
    cr_assert_eq(mt.stage, stage, "a released view does not force a copy");
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

Test(memtable, view_of_an_empty_memtable_pins_nothing) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 1000, 1000);
    tl_mtview_t v;
    tl_mt_view_capture(&mt, &v);
    cr_assert(v.run == NULL && v.stage == NULL && v.n_ooo == 0 && v.run_n == 0);
    tl_mt_view_release(&v, &t.m);
    tc_end(&t);
}

/* ---------------------------------------------------------------- misc */

static void count_handle(void *ctx, tl_handle_t h) { ((uint32_t *)ctx)[h]++; }

Test(memtable, for_each_handle_visits_every_record_once) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tl_seq_t seq = 1;
    build_busy(&t, &mt, &model, &seq);
    uint32_t *seen = tc_xcalloc(2000, sizeof *seen);
    tl_mt_for_each_handle(&mt, count_handle, seen);
    for (size_t i = 0; i < model.n; i++) cr_assert_eq(seen[model.v[i].h], 1);
    size_t total = 0;
    for (size_t i = 0; i < 2000; i++) total += seen[i];
    cr_assert_eq(total, model.n);
    cr_assert_eq(tl_mt_bytes(&mt), tl_mem_live(&t.m), "tl_mt_bytes is what the memtable holds");
    free(seen);
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    cr_assert_eq(tl_mt_bytes(&mt), 0);
    tc_end(&t);
}

Test(memtable, validate_catches_unsorted_buffers_and_stale_counters) {
    TC_MEM(t);
    tl_memtable_t mt;
    recs3_t model = {0};
    tl_seq_t seq = 1;
    build_busy(&t, &mt, &model, &seq);
    assert_valid(&mt);
    const char *why;
#define EXPECT_INVALID(what)                                                    \
    do {                                                                        \
        why = NULL;                                                             \
        cr_assert_not(tl_mt_validate(&mt, &why), "validate accepted %s", what); \
        cr_assert_not_null(why);                                                \
    } while (0)

    tl_ts_t keep = mt.stage->ts[0];
    mt.stage->ts[0] = TL_TS_MAX;
    EXPECT_INVALID("an unsorted stage");
    mt.stage->ts[0] = keep;
    keep = mt.run->ts[0];
    mt.run->ts[0] = TL_TS_MAX;
    EXPECT_INVALID("an unsorted run");
    mt.run->ts[0] = keep;
    keep = mt.ooo[0]->ts[0];
    mt.ooo[0]->ts[0] = TL_TS_MAX;
    EXPECT_INVALID("an unsorted late run");
    mt.ooo[0]->ts[0] = keep;
    mt.run_last++;
    EXPECT_INVALID("a stale run_last");
    mt.run_last--;
    mt.records++;
    EXPECT_INVALID("a record count off by one");
    mt.records--;
    mt.ooo_records--;
    EXPECT_INVALID("a late count off by one");
    mt.ooo_records++;
    assert_valid(&mt);
#undef EXPECT_INVALID
    free(model.v);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}

/* ---------------------------------------------------------------- spare run */

Test(memtable, an_unpinned_sealed_run_is_reused_at_full_size) {
    TC_MEM(t);
    tl_memtable_t mt;
    tl_mt_init(&mt, 100000, 100000);
    for (tl_ts_t i = 0; i < 5000; i++)
        TLT_OK(tl_mt_append_slow(&mt, &t.m, i, (tl_handle_t)i + 1, (tl_seq_t)i + 1));
    tl_mtbuf_t *run = mt.run;
    size_t cap = run->cap;
    size_t live = tl_mem_live(&t.m);
    tl_mt_reset(&mt, &t.m, &mt);
    cr_assert(tl_mt_empty(&mt));
    cr_assert_eq(mt.spare, run, "nobody pinned the run: it is kept as the spare");
    cr_assert_eq(tl_mem_live(&t.m), live, "the spare is still allocated (and accounted)");
    cr_assert_eq(tl_mt_bytes(&mt), sizeof(tl_mtbuf_t) + cap * 24);
    /* The next run starts in the spare, at its full capacity, empty. */
    TLT_OK(tl_mt_append_slow(&mt, &t.m, 7, 70, 9000));
    cr_assert_eq(mt.run, run);
    cr_assert_null(mt.spare);
    cr_assert_eq(mt.run->cap, cap);
    cr_assert_eq(tl_mtbuf_len(mt.run), 1);
    cr_assert_eq(mt.run->ts[0], 7);
    assert_valid(&mt);

    /* A pinned run is released to its readers, never recycled. */
    tl_mtview_t v;
    tl_mt_view_capture(&mt, &v);
    tl_mt_reset(&mt, &t.m, &mt);
    cr_assert_null(mt.spare, "a reader holds the run: it must not be rewritten");
    cr_assert_eq(v.run->ts[0], 7, "the reader still sees its record");
    tl_mt_view_release(&v, &t.m);

    /* Into another memtable (the frozen one hands its run to the live one),
     * only when that one has no spare yet; drop_spare frees it. */
    tl_memtable_t frozen;
    tl_mt_init(&frozen, 100000, 100000);
    TLT_OK(tl_mt_append_slow(&frozen, &t.m, 1, 1, 1));
    tl_mtbuf_t *frun = frozen.run;
    tl_mt_reset(&frozen, &t.m, &mt);
    cr_assert_eq(mt.spare, frun);
    cr_assert_null(frozen.spare);
    TLT_OK(tl_mt_append_slow(&frozen, &t.m, 2, 2, 2));
    tl_mt_reset(&frozen, &t.m, &mt);
    cr_assert_eq(mt.spare, frun, "an existing spare is kept; the second run is freed");
    tl_mt_drop_spare(&mt, &t.m);
    cr_assert_null(mt.spare);
    tl_mt_reset(&mt, &t.m, NULL);
    tc_end(&t);
}
