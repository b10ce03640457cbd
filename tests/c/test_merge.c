/*
 * test_merge.c: the iterator's read path (tl_merge.c) without a log: the
 * k-way merge over source cursors (tl_kmerge_*), and range iterators over
 * hand-built snapshots (read_fixture.h) whose sources overlap, repeat
 * timestamps across sources and carry tombstones older and newer than their
 * sequences, checked against the fixture's naive visibility oracle.
 */
#include <stdio.h>

#include "read_fixture.h"

/* A plain source over test arrays (no pages, one watermark). */
static tl_src_t plain_src(const tl_ts_t *ts, const tl_handle_t *h, size_t n, tl_seq_t wm) {
    tl_src_t s;
    memset(&s, 0, sizeof s);
    s.ts = ts;
    s.h = h;
    s.wm = wm;
    s.n = n;
    s.min = n ? ts[0] : 0;
    s.max = n ? ts[n - 1] : 0;
    s.level = TL_SRC_MEMRUN;
    return s;
}

Test(merge, kmerge_orders_by_timestamp_then_cursor_index) {
    const tl_ts_t a[] = {1, 3, 3, 9}, b[] = {0, 3, 9, 9, 12}, c[] = {3};
    const tl_handle_t ha[] = {10, 11, 12, 13}, hb[] = {20, 21, 22, 23, 24}, hc[] = {30};
    tl_cur_t cur[3];
    memset(cur, 0, sizeof cur);
    cur[0].s = plain_src(a, ha, 4, 5);
    cur[1].s = plain_src(b, hb, 5, 6);
    cur[2].s = plain_src(c, hc, 1, 7);
    for (int i = 0; i < 3; i++) {
        cur[i].pos = 0;
        cur[i].end = cur[i].s.n;
    }
    uint32_t heap[3];
    tl_kmerge_t km;
    tl_kmerge_init(&km, cur, heap, 3, tl_range_closed(TL_TS_MIN, TL_TS_MAX));
    /* Equal timestamps come out in cursor order, each cursor's own records
     * in their stored order: the stable order duplicates rely on. */
    const tl_ts_t want_ts[] = {0, 1, 3, 3, 3, 3, 9, 9, 9, 12};
    const tl_handle_t want_h[] = {20, 10, 11, 12, 21, 30, 13, 22, 23, 24};
    const tl_seq_t want_seq[] = {6, 5, 5, 5, 6, 7, 5, 6, 6, 6};
    size_t n = 0;
    while (km.heap_n > 0) {
        tl_ts_t t;
        tl_handle_t h;
        tl_seq_t s;
        uint32_t src;
        cr_assert_lt(n, 10, "more records than the sources hold");
        tl_kmerge_take(&km, &t, &h, &s, &src);
        cr_assert(t == want_ts[n] && h == want_h[n] && s == want_seq[n],
                  "record %zu: (%lld, %llu, seq %llu), want (%lld, %llu, seq %llu)", n,
                  (long long)t, (unsigned long long)h, (unsigned long long)s, (long long)want_ts[n],
                  (unsigned long long)want_h[n], (unsigned long long)want_seq[n]);
        cr_assert_eq(src, (uint32_t)(h / 10 - 1), "record %zu attributed to cursor %u", n, src);
        n++;
    }
    cr_assert_eq(n, 10);
}

Test(merge, kmerge_of_a_single_cursor_and_of_none) {
    const tl_ts_t a[] = {INT64_MIN, -1, INT64_MAX};
    const tl_handle_t ha[] = {1, 2, 3};
    tl_cur_t cur[1];
    memset(cur, 0, sizeof cur);
    cur[0].s = plain_src(a, ha, 3, 0);
    cur[0].end = 3;
    uint32_t heap[1];
    tl_kmerge_t km;
    tl_kmerge_init(&km, cur, heap, 1, tl_range_closed(TL_TS_MIN, TL_TS_MAX));
    for (size_t i = 0; i < 3; i++) {
        tl_ts_t t;
        tl_handle_t h;
        tl_seq_t s;
        uint32_t src;
        cr_assert_eq(km.heap_n, 1);
        tl_kmerge_take(&km, &t, &h, &s, &src);
        cr_assert(t == a[i] && h == ha[i] && src == 0);
    }
    cr_assert_eq(km.heap_n, 0);
    tl_kmerge_init(&km, cur, heap, 0, tl_range_closed(TL_TS_MIN, TL_TS_MAX));
    cr_assert_eq(km.heap_n, 0, "no cursors: nothing to take");
}

/* Every iterator kind over [t1, t2) (and the closed forms) against the
 * model, by single records and by batches, with remaining(). */
static void check_iterators(tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2) {
    char what[96];
    size_t i0, i1;
    tl_iter_t *it = NULL;
    tlt_model_slice(m, t1, t2, &i0, &i1);
    snprintf(what, sizeof what, "iter_range [%lld, %lld)", (long long)t1, (long long)t2);
    TLT_OK(tl_iter_range(snap, t1, t2, &it));
    uint64_t rem = 0;
    TLT_OK(tl_iter_remaining(it, &rem));
    cr_assert_eq(rem, i1 - i0, "%s: remaining %llu, want %zu", what, (unsigned long long)rem,
                 i1 - i0);
    tlt_expect_iter(it, m->r + i0, i1 - i0, what);
    TLT_OK(tl_iter_remaining(it, &rem));
    cr_assert_eq(rem, 0, "%s: remaining after EOF", what);
    tl_iter_close(it);

    /* Batches of 7: the same records (the one-cursor fast path included). */
    TLT_OK(tl_iter_range(snap, t1, t2, &it));
    size_t cap = i1 - i0 + 8, got = 0;
    tl_ts_t *ts = tc_xmalloc(cap * sizeof *ts);
    tl_handle_t *h = tc_xmalloc(cap * sizeof *h);
    for (;;) {
        size_t k = 0;
        TLT_OK(tl_iter_next_batch(it, ts + got, h + got, TL_MIN((size_t)7, cap - got), &k));
        if (k == 0) break;
        got += k;
        cr_assert_leq(got, i1 - i0, "%s: batches return too many records", what);
    }
    tl_iter_close(it);
    tlt_expect_same(ts, h, got, m->r + i0, i1 - i0, "next_batch");
    free(ts);
    free(h);

    TLT_OK(tl_iter_since(snap, t1, &it));
    tlt_expect_iter(it, m->r + tlt_model_lower(m, t1), m->n - tlt_model_lower(m, t1), "iter_since");
    tl_iter_close(it);
    TLT_OK(tl_iter_until(snap, t2, &it));
    tlt_expect_iter(it, m->r, tlt_model_lower(m, t2), "iter_until");
    tl_iter_close(it);
    TLT_OK(tl_iter_point(snap, t1, &it));
    size_t p0 = tlt_model_lower(m, t1), p1 = tlt_model_upper(m, t1);
    tlt_expect_iter(it, m->r + p0, p1 - p0, "iter_point");
    tl_iter_close(it);
}

static void random_round(uint64_t seed, tl_ts_t lo, tl_ts_t hi) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, seed);
    tl_snapshot_t *snap = rf_random(f, &rng, lo, hi);
    tlt_model_t m;
    rf_model(f, &m);
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tlt_expect_iter(it, m.r, m.n, "iter_all");
    tl_iter_close(it);
    const tl_ts_t fixed[] = {INT64_MIN, lo, hi, INT64_MAX};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) check_iterators(snap, &m, fixed[i], fixed[j]);
    for (int k = 0; k < 25; k++) {
        tl_ts_t a = tlt_rng_range(&rng, lo, hi), b = tlt_rng_range(&rng, lo, hi);
        if (k % 5 == 0 && m.n > 0)
            a = m.r[tlt_rng_below(&rng, m.n)].ts; /* on a record: point reads hit */
        check_iterators(snap, &m, a, b);
    }
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(merge, iterators_match_the_model_on_random_snapshots, .timeout = 120) {
    for (uint64_t seed = 1; seed <= 40; seed++) random_round(seed, -500, 500);
}

Test(merge, iterators_match_the_model_across_the_whole_int64_domain, .timeout = 120) {
    for (uint64_t seed = 100; seed <= 120; seed++) random_round(seed, INT64_MIN, INT64_MAX);
}

/* A tombstone hides a record only when its sequence exceeds the record's
 * (an immutable source's watermark, a memtable record's own sequence). */
Test(merge, tombstone_hides_only_records_with_older_sequences) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t mr[] = {1, 2, 3, 4, 5}; /* handles 1..5, wm 10 */
    const tl_ts_t l0[] = {3, 4, 5, 6, 7}; /* handles 6..10, wm 20 */
    const tl_ts_t mt[] = {4, 5, 5, 6};    /* handles 11..14 */
    const tl_seq_t mts[] = {14, 16, 15, 30};
    rf_memrun(f, mr, 5, 10);
    rf_l0(f, l0, 5, 20, 2);
    rf_memtable(f, mt, mts, 4);
    rf_delete(f, 4, 6, 15); /* newer than the memrun, older than the L0 */
    tl_snapshot_t *snap = rf_publish(f, 40);
    /* Hidden: memrun 4, 5 (handles 4, 5); memtable 4 @14 (11). Kept: 5 @16
     * (12) and 5 @15 (13: not newer), 6 @30 (14), every L0 record. */
    const tlt_rec_t want[] = {{1, 1},  {2, 2},  {3, 3}, {3, 6},  {4, 7}, {5, 8},
                              {5, 12}, {5, 13}, {6, 9}, {6, 14}, {7, 10}};
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(snap, &it));
    tlt_expect_iter(it, want, sizeof want / sizeof want[0], "sequenced tombstone");
    tl_iter_close(it);
    tlt_model_t m;
    rf_model(f, &m); /* the oracle agrees with the hand-written answer */
    cr_assert_eq(m.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < m.n; i++) cr_assert(m.r[i].ts == want[i].ts && m.r[i].h == want[i].h);
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(merge, duplicates_across_every_kind_of_source_are_all_returned) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t seven[] = {7, 7, 7};
    const tl_seq_t s[] = {50, 51, 52};
    rf_l1(f, seven, 3, 1, 1); /* one record per page: duplicates straddle fences */
    rf_l0(f, seven, 3, 2, 2);
    rf_memrun(f, seven, 3, 3);
    rf_memtable(f, seven, s, 3);
    rf_memtable(f, seven, s, 3);
    tl_snapshot_t *snap = rf_publish(f, 60);
    tlt_model_t m;
    rf_model(f, &m);
    cr_assert_eq(m.n, 15);
    check_iterators(snap, &m, 7, 8);
    check_iterators(snap, &m, 6, 7);
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(merge, records_and_tombstones_at_the_int64_ends) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t lo[] = {INT64_MIN, INT64_MIN, INT64_MIN + 1};
    const tl_ts_t hi[] = {INT64_MAX - 1, INT64_MAX, INT64_MAX};
    const tl_ts_t both[] = {INT64_MIN, 0, INT64_MAX};
    rf_l1(f, lo, 3, 1, 2);
    rf_l1(f, hi, 3, 1, 2);
    rf_l0(f, both, 3, 2, 1);
    rf_delete(f, INT64_MAX, INT64_MAX, 3); /* the very last timestamp */
    rf_delete(f, INT64_MIN, INT64_MIN, 4); /* the very first */
    tl_snapshot_t *snap = rf_publish(f, 10);
    tlt_model_t m;
    rf_model(f, &m);
    cr_assert_eq(m.n, 3, "kept: MIN+1, 0, MAX-1; got %zu", m.n);
    const tl_ts_t edges[] = {INT64_MIN, INT64_MIN + 1, INT64_MIN + 2, 0, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 6; j++) check_iterators(snap, &m, edges[i], edges[j]);
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(merge, empty_snapshot_and_empty_ranges_end_at_once) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    tl_snapshot_t *snap = rf_publish(f, 0);
    tlt_model_t m;
    rf_model(f, &m);
    check_iterators(snap, &m, INT64_MIN, INT64_MAX);
    check_iterators(snap, &m, 5, 5);
    tlt_model_free(&m);
    rf_end(f);
    /* A source whose records a tombstone hides entirely. */
    rf_begin(f);
    const tl_ts_t ts[] = {10, 11, 12};
    rf_l0(f, ts, 3, 1, 2);
    rf_delete(f, 0, 100, 2);
    snap = rf_publish(f, 2);
    rf_model(f, &m);
    cr_assert_eq(m.n, 0);
    check_iterators(snap, &m, INT64_MIN, INT64_MAX);
    check_iterators(snap, &m, 11, 12);
    check_iterators(snap, &m, 12, 11); /* t1 >= t2: empty, not an error */
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}
