/*
 * test_sort.c: sorting (timestamp, handle) pairs (tl_sort.h). Inputs use
 * handle i for input position i, so "the output is a permutation of the input
 * pairs" is checked exactly: every handle appears once and still carries its
 * own timestamp (which is the multiset of handles per timestamp).
 */
#include <stdio.h>

#include "comp_fixture.h"
#include "tl_sort.h"

typedef enum shape {
    SH_SORTED,
    SH_REVERSE,
    SH_RANDOM_WIDE,   /* full int64 range: every radix digit matters */
    SH_RANDOM_NARROW, /* few distinct values: heavy duplicates */
    SH_LATE_5PCT,     /* ascending stream with 5% late records */
    SH_ALL_EQUAL,
    SH_EXTREMES, /* only INT64_MIN, -1, 0, INT64_MAX */
    SH_SAWTOOTH, /* several ascending runs */
    SH_COUNT
} shape_t;

static const char *shape_name(shape_t s) {
    static const char *names[] = {"sorted",  "reverse",   "random-wide", "random-narrow",
                                  "5%-late", "all-equal", "extremes",    "sawtooth"};
    return names[s];
}

static void make_input(tlt_rng_t *rng, shape_t sh, size_t n, tl_ts_t *ts, tl_handle_t *h) {
    static const tl_ts_t ext[] = {TL_TS_MIN, -1, 0, TL_TS_MAX};
    tl_ts_t base = 1700000000000;
    for (size_t i = 0; i < n; i++) {
        h[i] = i;
        switch (sh) {
        case SH_SORTED: ts[i] = base + (tl_ts_t)(i / 3); break;
        case SH_REVERSE: ts[i] = base - (tl_ts_t)i; break;
        case SH_RANDOM_WIDE: ts[i] = (tl_ts_t)tlt_rng_next(rng); break;
        case SH_RANDOM_NARROW: ts[i] = tlt_rng_range(rng, -3, 3); break;
        case SH_LATE_5PCT:
            ts[i] = base + (tl_ts_t)i * 10;
            if (tlt_rng_below(rng, 100) < 5) ts[i] -= tlt_rng_range(rng, 1, 5000);
            break;
        case SH_ALL_EQUAL: ts[i] = 42; break;
        case SH_EXTREMES: ts[i] = ext[tlt_rng_below(rng, 4)]; break;
        case SH_SAWTOOTH: ts[i] = (tl_ts_t)(i % 97) * 1000 - (tl_ts_t)(i / 97); break;
        default: cr_assert_fail("bad shape");
        }
    }
}

/* out is sorted and a permutation of the input (h[i] == i, ts = in_ts[h]). */
static void check_sorted_permutation(const tl_ts_t *in_ts, size_t n, const tl_ts_t *ts,
                                     const tl_handle_t *h, const char *what) {
    unsigned char *seen = tc_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert(i == 0 || ts[i - 1] <= ts[i], "%s: not sorted at %zu (n=%zu)", what, i, n);
        cr_assert_lt(h[i], n, "%s: unknown handle %llu", what, (unsigned long long)h[i]);
        cr_assert_eq(seen[h[i]], 0, "%s: handle %llu twice", what, (unsigned long long)h[i]);
        seen[h[i]] = 1;
        cr_assert_eq(ts[i], in_ts[h[i]], "%s: handle %llu moved to timestamp %lld", what,
                     (unsigned long long)h[i], (long long)ts[i]);
    }
    free(seen);
}

static void run_both(tc_t *t, tlt_rng_t *rng, shape_t sh, size_t n) {
    tl_ts_t *ts = tc_xmalloc(n * sizeof *ts), *in_copy = tc_xmalloc(n * sizeof *ts);
    tl_handle_t *h = tc_xmalloc(n * sizeof *h), *h_copy = tc_xmalloc(n * sizeof *h);
    tl_ts_t *dts = tc_xmalloc(n * sizeof *dts);
    tl_handle_t *dh = tc_xmalloc(n * sizeof *dh);
    make_input(rng, sh, n, ts, h);
    memcpy(in_copy, ts, n * sizeof *ts);
    memcpy(h_copy, h, n * sizeof *h);
    char what[64];
    snprintf(what, sizeof what, "sort_pairs_into %s n=%zu", shape_name(sh), n);
    TLT_OK(tl_sort_pairs_into(&t->m, ts, h, n, dts, dh));
    cr_assert(memcmp(ts, in_copy, n * sizeof *ts) == 0, "%s: source modified", what);
    cr_assert(memcmp(h, h_copy, n * sizeof *h) == 0, "%s: source modified", what);
    check_sorted_permutation(in_copy, n, dts, dh, what);
    cr_assert_eq(tl_mem_live(&t->m), 0, "%s: scratch not freed", what);

    snprintf(what, sizeof what, "sort_pairs %s n=%zu", shape_name(sh), n);
    TLT_OK(tl_sort_pairs(&t->m, ts, h, n));
    check_sorted_permutation(in_copy, n, ts, h, what);
    cr_assert_eq(tl_mem_live(&t->m), 0, "%s: scratch not freed", what);
    free(ts);
    free(in_copy);
    free(h);
    free(h_copy);
    free(dts);
    free(dh);
}

Test(sort, small_inputs_of_every_shape_come_out_sorted) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 31);
    for (int sh = 0; sh < SH_COUNT; sh++)
        for (size_t n = 0; n <= 40; n++)
            for (int rep = 0; rep < 3; rep++) run_both(&t, &rng, (shape_t)sh, n);
    tc_end(&t);
}

Test(sort, medium_inputs_of_every_shape_come_out_sorted) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 32);
    size_t sizes[] = {63, 64, 65, 255, 256, 257, 1000, 4099};
    for (int sh = 0; sh < SH_COUNT; sh++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            run_both(&t, &rng, (shape_t)sh, sizes[i]);
    tc_end(&t);
}

Test(sort, large_inputs_come_out_sorted) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 33);
    shape_t shapes[] = {SH_SORTED,    SH_REVERSE,   SH_RANDOM_WIDE,
                        SH_LATE_5PCT, SH_ALL_EQUAL, SH_EXTREMES};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        run_both(&t, &rng, shapes[i], 100000);
    tc_end(&t);
}

/* The late-record count sizes the scratch: 5% late input needs scratch for
 * the late records only, not for the whole batch. */
Test(sort, mostly_ordered_input_needs_scratch_for_late_records_only) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 34);
    size_t n = 20000;
    tl_ts_t *ts = tc_xmalloc(n * sizeof *ts), *dts = tc_xmalloc(n * sizeof *dts);
    tl_handle_t *h = tc_xmalloc(n * sizeof *h), *dh = tc_xmalloc(n * sizeof *dh);
    make_input(&rng, SH_LATE_5PCT, n, ts, h);
    TLT_OK(tl_sort_pairs_into(&t.m, ts, h, n, dts, dh));
    check_sorted_permutation(ts, n, dts, dh, "5%-late");
    cr_assert_leq(tl_mem_peak(&t.m), n * 16 / 4, "peak scratch %zu bytes for %zu records",
                  tl_mem_peak(&t.m), n);
    free(ts);
    free(dts);
    free(h);
    free(dh);
    tc_end(&t);
}

Test(sort, sorted_and_tiny_inputs_allocate_nothing) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 35);
    tl_ts_t ts[32], dts[32];
    tl_handle_t h[32], dh[32];
    tlt_alloc_arm(&t.a, 0, 1, 0); /* every allocation would fail */
    make_input(&rng, SH_REVERSE, 32, ts, h);
    TLT_OK(tl_sort_pairs_into(&t.m, ts, h, 32, dts, dh));
    check_sorted_permutation(ts, 32, dts, dh, "reverse 32 into");
    TLT_OK(tl_sort_pairs(&t.m, ts, h, 32));
    tl_ts_t big[1000], bigd[1000];
    tl_handle_t bh[1000], bhd[1000];
    make_input(&rng, SH_SORTED, 1000, big, bh);
    TLT_OK(tl_sort_pairs_into(&t.m, big, bh, 1000, bigd, bhd));
    TLT_OK(tl_sort_pairs(&t.m, big, bh, 1000));
    TLT_OK(tl_sort_pairs_into(&t.m, NULL, NULL, 0, NULL, NULL));
    TLT_OK(tl_sort_pairs(&t.m, NULL, NULL, 0));
    cr_assert_eq(tlt_alloc_injected(&t.a), 0, "no allocation was attempted");
    tc_end(&t);
}

Test(sort, oom_returns_enomem_and_frees_scratch) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 36);
    size_t n = 5000;
    tl_ts_t *ts = tc_xmalloc(n * sizeof *ts), *dts = tc_xmalloc(n * sizeof *dts);
    tl_handle_t *h = tc_xmalloc(n * sizeof *h), *dh = tc_xmalloc(n * sizeof *dh);
    tl_ts_t *orig = tc_xmalloc(n * sizeof *orig);
    shape_t shapes[] = {SH_RANDOM_WIDE, SH_LATE_5PCT, SH_REVERSE};
    for (size_t s = 0; s < 3; s++) {
        make_input(&rng, shapes[s], n, ts, h);
        memcpy(orig, ts, n * sizeof *ts);
        tlt_alloc_arm(&t.a, 1, 0, 0);
        TLT_ST(tl_sort_pairs_into(&t.m, ts, h, n, dts, dh), TL_ENOMEM);
        cr_assert_eq(tl_mem_live(&t.m), 0);
        /* In place: fail the copy, then the scratch of the inner sort. */
        for (uint64_t k = 1;; k++) {
            tlt_alloc_arm(&t.a, k, 0, 0);
            tl_status_t st = tl_sort_pairs(&t.m, ts, h, n);
            cr_assert_eq(tl_mem_live(&t.m), 0, "k=%llu: scratch leaked", (unsigned long long)k);
            if (st == TL_OK) {
                cr_assert_gt(k, 1);
                break;
            }
            cr_assert_eq(st, TL_ENOMEM);
            /* On failure the pairs are still a permutation of the input. */
            unsigned char *seen = tc_xcalloc(n, 1);
            for (size_t i = 0; i < n; i++) {
                cr_assert(h[i] < n && !seen[h[i]] && ts[i] == orig[h[i]],
                          "k=%llu: failed in-place sort lost a pair", (unsigned long long)k);
                seen[h[i]] = 1;
            }
            free(seen);
            cr_assert_lt(k, 10);
        }
        tlt_alloc_disarm(&t.a);
        check_sorted_permutation(orig, n, ts, h, "after OOM retries");
    }
    free(ts);
    free(dts);
    free(h);
    free(dh);
    free(orig);
    tc_end(&t);
}

Test(sort, merge_pairs_keeps_first_input_first_among_equal_timestamps) {
    TC_MEM(t);
    tl_ts_t a_ts[] = {1, 3, 3, 7}, b_ts[] = {0, 3, 8, 9, 10};
    tl_handle_t a_h[] = {100, 101, 102, 103}, b_h[] = {200, 201, 202, 203, 204};
    tl_ts_t d_ts[9];
    tl_handle_t d_h[9];
    tl_merge_pairs(a_ts, a_h, 4, b_ts, b_h, 5, d_ts, d_h);
    tl_ts_t want_ts[] = {0, 1, 3, 3, 3, 7, 8, 9, 10};
    tl_handle_t want_h[] = {200, 100, 101, 102, 201, 103, 202, 203, 204};
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(d_ts[i], want_ts[i], "ts[%d]", i);
        cr_assert_eq(d_h[i], want_h[i], "h[%d]", i);
    }
    tl_merge_pairs(a_ts, a_h, 4, NULL, NULL, 0, d_ts, d_h);
    cr_assert(memcmp(d_ts, a_ts, sizeof a_ts) == 0 && memcmp(d_h, a_h, sizeof a_h) == 0);
    tl_merge_pairs(NULL, NULL, 0, b_ts, b_h, 5, d_ts, d_h);
    cr_assert(memcmp(d_ts, b_ts, sizeof b_ts) == 0 && memcmp(d_h, b_h, sizeof b_h) == 0);
    tc_end(&t);
}
