/*
 * test_query.c: counting, point and neighbour queries (tl_query.c) over
 * hand-built snapshots (read_fixture.h), without a log: exact counts with
 * sequenced tombstones subtracted per source, buckets, the physical count,
 * point collection with its cap, min/max/next/prev jumping hidden
 * intervals, at the int64 ends and on empty snapshots, checked against the
 * fixture's naive oracle.
 */
#include <stdio.h>

#include "read_fixture.h"

static void expect_neighbours(tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t q) {
    tl_ts_t want, got = 0x5EED;
    if (tlt_model_next(m, q, &want)) {
        TLT_OK(tl_next_ts(snap, q, &got));
        cr_assert_eq(got, want, "next_ts(%lld) = %lld, want %lld", (long long)q, (long long)got,
                     (long long)want);
    } else {
        TLT_ST(tl_next_ts(snap, q, &got), TL_EOF);
        cr_assert_eq(got, 0x5EED, "next_ts wrote *out on TL_EOF");
    }
    got = 0x5EED;
    if (tlt_model_prev(m, q, &want)) {
        TLT_OK(tl_prev_ts(snap, q, &got));
        cr_assert_eq(got, want, "prev_ts(%lld) = %lld, want %lld", (long long)q, (long long)got,
                     (long long)want);
    } else {
        TLT_ST(tl_prev_ts(snap, q, &got), TL_EOF);
        cr_assert_eq(got, 0x5EED, "prev_ts wrote *out on TL_EOF");
    }
}

static void expect_point(tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t ts) {
    size_t p0 = tlt_model_lower(m, ts), p1 = tlt_model_upper(m, ts);
    tl_handle_t out[64];
    size_t total = 0;
    TLT_OK(tl_point_collect(snap, ts, out, 64, &total));
    cr_assert_eq(total, p1 - p0, "point(%lld): %zu handles, want %zu", (long long)ts, total,
                 p1 - p0);
    tl_ts_t *tss = tc_xmalloc((total + 1) * sizeof *tss);
    for (size_t i = 0; i < total && i < 64; i++) tss[i] = ts;
    if (total <= 64) tlt_expect_same(tss, out, total, m->r + p0, p1 - p0, "point_collect");
    free(tss);
    /* A cap of 1 still counts them all. */
    size_t again = 0;
    TLT_OK(tl_point_collect(snap, ts, out, 1, &again));
    cr_assert_eq(again, total);
}

static void expect_counts(rf_t *f, tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t t1,
                          tl_ts_t t2) {
    uint64_t c = 0;
    TLT_OK(tl_count_range(snap, t1, t2, &c));
    cr_assert_eq(c, tlt_model_count(m, t1, t2), "count_range [%lld, %lld) = %llu, want %llu",
                 (long long)t1, (long long)t2, (unsigned long long)c,
                 (unsigned long long)tlt_model_count(m, t1, t2));
    TLT_OK(tl_count_since(snap, t1, &c));
    cr_assert_eq(c, m->n - tlt_model_lower(m, t1), "count_since(%lld)", (long long)t1);
    uint64_t phys = 0;
    TLT_OK(tl_count_physical_in(snap, tl_range_halfopen(t1, t2), &phys));
    uint64_t want_phys = t1 < t2 ? rf_physical(f, t1, t2 - 1) : 0;
    cr_assert_eq(phys, want_phys, "physical [%lld, %lld) = %llu, want %llu", (long long)t1,
                 (long long)t2, (unsigned long long)phys, (unsigned long long)want_phys);
}

static void random_round(uint64_t seed, tl_ts_t lo, tl_ts_t hi) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, seed);
    tl_snapshot_t *snap = rf_random(f, &rng, lo, hi);
    tlt_model_t m;
    rf_model(f, &m);
    uint64_t c = 0;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, m.n, "seed %llu: count_all %llu, want %zu", (unsigned long long)seed,
                 (unsigned long long)c, m.n);
    tl_ts_t x = 0x5EED;
    if (m.n == 0) {
        TLT_ST(tl_min_ts(snap, &x), TL_EOF);
        TLT_ST(tl_max_ts(snap, &x), TL_EOF);
    } else {
        TLT_OK(tl_min_ts(snap, &x));
        cr_assert_eq(x, m.r[0].ts);
        TLT_OK(tl_max_ts(snap, &x));
        cr_assert_eq(x, m.r[m.n - 1].ts);
    }
    const tl_ts_t fixed[] = {INT64_MIN, INT64_MIN + 1, lo, 0, hi, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < 7; i++) {
        expect_neighbours(snap, &m, fixed[i]);
        expect_point(snap, &m, fixed[i]);
        for (size_t j = 0; j < 7; j++) expect_counts(f, snap, &m, fixed[i], fixed[j]);
    }
    /* Around every stored record, visible or hidden: the neighbour search
     * must step over hidden ones and whole hidden intervals. */
    for (size_t i = 0; i < f->n_recs; i += 2) {
        tl_ts_t t = f->recs[i].ts;
        expect_neighbours(snap, &m, t);
        expect_neighbours(snap, &m, tlt_sat_add(t, -1));
        expect_neighbours(snap, &m, tlt_sat_add(t, 1));
        expect_point(snap, &m, t);
    }
    for (int k = 0; k < 30; k++) {
        tl_ts_t a = tlt_rng_range(&rng, lo, hi), b = tlt_rng_range(&rng, lo, hi);
        expect_counts(f, snap, &m, a, b);
    }
    /* Buckets: sorted random edges, equal edges included. */
    tl_ts_t edges[9];
    uint64_t got[8];
    for (int k = 0; k < 10; k++) {
        for (size_t i = 0; i < 9; i++) edges[i] = tlt_rng_range(&rng, lo, hi);
        if (k == 0) {
            edges[0] = INT64_MIN;
            edges[8] = INT64_MAX;
        }
        qsort(edges, 9, sizeof edges[0], tc_cmp_ts);
        edges[4] = edges[3];
        TLT_OK(tl_count_buckets(snap, edges, 9, got));
        for (size_t i = 0; i < 8; i++)
            cr_assert_eq(got[i], tlt_model_count(&m, edges[i], edges[i + 1]),
                         "bucket %zu [%lld, %lld): %llu, want %llu", i, (long long)edges[i],
                         (long long)edges[i + 1], (unsigned long long)got[i],
                         (unsigned long long)tlt_model_count(&m, edges[i], edges[i + 1]));
    }
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(query, counts_points_and_neighbours_match_the_model, .timeout = 120) {
    for (uint64_t seed = 1; seed <= 40; seed++) random_round(seed, -500, 500);
}

Test(query, whole_int64_domain_matches_the_model, .timeout = 120) {
    for (uint64_t seed = 200; seed <= 220; seed++) random_round(seed, INT64_MIN, INT64_MAX);
}

/* Counting subtracts what each tombstone hides per source: a tombstone
 * newer than one source and older than another, over a memtable part with
 * mixed sequences, and two adjacent tombstones (each timestamp is counted
 * against one interval only). */
Test(query, count_subtracts_only_what_newer_tombstones_hide) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t a[] = {10, 20, 30, 40, 50};
    const tl_ts_t mt[] = {20, 30, 30, 30, 40};
    const tl_seq_t mts[] = {7, 8, 12, 10, 9}; /* 30 @10: the delete's own sequence */
    rf_l0(f, a, 5, 5, 2);                     /* older than both deletes */
    rf_memrun(f, a, 5, 11); /* newer than the first delete, older than the second */
    rf_memtable(f, mt, mts, 5);
    rf_delete(f, 15, 35, 10);
    rf_delete(f, 36, 45, 13);
    tl_snapshot_t *snap = rf_publish(f, 20);
    uint64_t c = 0;
    /* L0: 10, 50 visible; memrun: 10, 20, 30, 50; memtable: 30 @12, 30 @10. */
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, 8);
    TLT_OK(tl_count_range(snap, 15, 36, &c));
    cr_assert_eq(c, 4, "memrun 20, 30 and memtable 30 @12, 30 @10");
    TLT_OK(tl_count_range(snap, 36, 46, &c));
    cr_assert_eq(c, 0, "the second delete hides every 40");
    tl_ts_t x;
    TLT_OK(tl_next_ts(snap, 30, &x));
    cr_assert_eq(x, 50, "40 is hidden everywhere: next after 30 is 50");
    TLT_OK(tl_prev_ts(snap, 50, &x));
    cr_assert_eq(x, 30);
    tlt_model_t m;
    rf_model(f, &m);
    cr_assert_eq(m.n, 8);
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(query, empty_snapshot_counts_nothing_and_has_no_neighbours) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    rf_delete(f, INT64_MIN, INT64_MAX, 1); /* tombstones, no records */
    tl_snapshot_t *snap = rf_publish(f, 1);
    uint64_t c = 99;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, 0);
    TLT_OK(tl_count_range(snap, 5, 1, &c));
    cr_assert_eq(c, 0, "t1 >= t2 counts nothing");
    tl_ts_t x = 0x5EED;
    TLT_ST(tl_min_ts(snap, &x), TL_EOF);
    TLT_ST(tl_max_ts(snap, &x), TL_EOF);
    TLT_ST(tl_next_ts(snap, INT64_MIN, &x), TL_EOF);
    TLT_ST(tl_prev_ts(snap, INT64_MAX, &x), TL_EOF);
    cr_assert_eq(x, 0x5EED);
    size_t n = 1;
    TLT_OK(tl_point_collect(snap, 0, NULL, 0, &n));
    cr_assert_eq(n, 0);
    rf_end(f);
    free(f);
}

Test(query, neighbours_stop_at_the_int64_ends) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX};
    rf_l0(f, ts, 4, 1, 2);
    tl_snapshot_t *snap = rf_publish(f, 1);
    tl_ts_t x = 0x5EED;
    TLT_ST(tl_next_ts(snap, INT64_MAX, &x), TL_EOF);
    TLT_ST(tl_prev_ts(snap, INT64_MIN, &x), TL_EOF);
    TLT_OK(tl_next_ts(snap, INT64_MAX - 1, &x));
    cr_assert_eq(x, INT64_MAX);
    TLT_OK(tl_prev_ts(snap, INT64_MIN + 1, &x));
    cr_assert_eq(x, INT64_MIN);
    uint64_t c = 0;
    TLT_OK(tl_count_since(snap, INT64_MAX, &c));
    cr_assert_eq(c, 1, "count_since reaches INT64_MAX");
    TLT_OK(tl_count_range(snap, INT64_MIN, INT64_MAX, &c));
    cr_assert_eq(c, 3, "[MIN, MAX) leaves INT64_MAX out");
    rf_end(f);
    free(f);
}
