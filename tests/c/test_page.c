/*
 * test_page.c: record blocks, flat and paged binary searches, fence keys
 * (tl_page.h). Searches are checked against a linear scan on random sorted
 * arrays with heavy duplicates, at the tiny sizes where binary searches go
 * wrong, and with keys at the int64 extremes.
 */
#include "comp_fixture.h"
#include "tl_page.h"

/* Keys worth asking about for array a: every element, its neighbours
 * (saturating), and both extremes. */
static void check_flat_all_keys(const tl_ts_t *a, size_t n) {
    tl_ts_t fixed[] = {TL_TS_MIN, TL_TS_MIN + 1, -1, 0, 1, TL_TS_MAX - 1, TL_TS_MAX};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        tl_ts_t x = fixed[i];
        cr_assert_eq(tl_lower_bound(a, n, x), tc_lower_scan(a, n, x), "lower n=%zu x=%lld", n,
                     (long long)x);
        cr_assert_eq(tl_upper_bound(a, n, x), tc_upper_scan(a, n, x), "upper n=%zu x=%lld", n,
                     (long long)x);
    }
    for (size_t i = 0; i < n; i++) {
        tl_ts_t keys[3] = {a[i], tlt_sat_add(a[i], -1), tlt_sat_add(a[i], 1)};
        for (int k = 0; k < 3; k++) {
            tl_ts_t x = keys[k];
            cr_assert_eq(tl_lower_bound(a, n, x), tc_lower_scan(a, n, x), "lower n=%zu x=%lld", n,
                         (long long)x);
            cr_assert_eq(tl_upper_bound(a, n, x), tc_upper_scan(a, n, x), "upper n=%zu x=%lld", n,
                         (long long)x);
        }
    }
}

Test(page, lower_bound_lands_on_first_duplicate) {
    TC_MEM(t);
    tl_ts_t a[] = {1, 3, 3, 3, 3, 7, 7, 9};
    size_t n = sizeof a / sizeof a[0];
    cr_assert_eq(tl_lower_bound(a, n, 3), 1);
    cr_assert_eq(tl_upper_bound(a, n, 3), 5);
    cr_assert_eq(tl_lower_bound(a, n, 7), 5);
    cr_assert_eq(tl_upper_bound(a, n, 7), 7);
    cr_assert_eq(tl_lower_bound(a, n, 4), 5);
    cr_assert_eq(tl_upper_bound(a, n, 4), 5);
    cr_assert_eq(tl_lower_bound(a, n, 0), 0);
    cr_assert_eq(tl_upper_bound(a, n, 9), n);
    tc_end(&t);
}

Test(page, searches_on_tiny_arrays_match_a_scan) {
    TC_MEM(t);
    /* Every sorted array of length 0..6 over the alphabet {MIN, -1, 0, 1, MAX}. */
    const tl_ts_t alpha[] = {TL_TS_MIN, -1, 0, 1, TL_TS_MAX};
    tl_ts_t a[6];
    for (size_t n = 0; n <= 6; n++) {
        size_t combos = 1;
        for (size_t i = 0; i < n; i++) combos *= 5;
        for (size_t c = 0; c < combos; c++) {
            size_t x = c;
            for (size_t i = 0; i < n; i++) {
                a[i] = alpha[x % 5];
                x /= 5;
            }
            if (!tl_ts_sorted(a, n)) continue;
            check_flat_all_keys(a, n);
        }
    }
    tc_end(&t);
}

Test(page, searches_on_empty_array_return_zero) {
    TC_MEM(t);
    tl_ts_t dummy = 5;
    cr_assert_eq(tl_lower_bound(&dummy, 0, 5), 0);
    cr_assert_eq(tl_upper_bound(&dummy, 0, 5), 0);
    cr_assert_eq(tl_lower_bound(NULL, 0, TL_TS_MIN), 0);
    cr_assert_eq(tl_upper_bound(NULL, 0, TL_TS_MAX), 0);
    tc_end(&t);
}

Test(page, searches_on_random_arrays_with_heavy_duplicates_match_a_scan) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 1);
    for (size_t n = 0; n <= 130; n++) {
        for (int rep = 0; rep < 4; rep++) {
            /* rep 0: few distinct values; 1: wide; 2: near MIN; 3: near MAX */
            tl_ts_t lo = -4, hi = 4;
            if (rep == 1) lo = -1000000, hi = 1000000;
            if (rep == 2) lo = TL_TS_MIN, hi = TL_TS_MIN + 3;
            if (rep == 3) lo = TL_TS_MAX - 3, hi = TL_TS_MAX;
            tl_ts_t *a = tc_sorted_random(&rng, n, lo, hi);
            check_flat_all_keys(a, n);
            free(a);
        }
    }
    tc_end(&t);
}

Test(page, searches_on_all_equal_arrays_span_the_whole_array) {
    TC_MEM(t);
    tl_ts_t vals[] = {TL_TS_MIN, 0, TL_TS_MAX};
    tl_ts_t a[33];
    for (size_t v = 0; v < 3; v++) {
        for (size_t n = 1; n <= 33; n++) {
            for (size_t i = 0; i < n; i++) a[i] = vals[v];
            cr_assert_eq(tl_lower_bound(a, n, vals[v]), 0);
            cr_assert_eq(tl_upper_bound(a, n, vals[v]), n);
            check_flat_all_keys(a, n);
        }
    }
    tc_end(&t);
}

/* ---------------------------------------------------------------- pages */

static void check_paged(tc_t *t, const tl_ts_t *a, size_t n, size_t page_recs) {
    tl_pages_t p;
    TLT_OK(tl_pages_build(&t->m, a, n, page_recs, &p));
    const char *why = NULL;
    cr_assert(tl_pages_validate(&p, a, n, &why), "validate: %s", why);
    tl_ts_t fixed[] = {TL_TS_MIN, TL_TS_MIN + 1, -1, 0, 1, TL_TS_MAX - 1, TL_TS_MAX};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        cr_assert_eq(tl_pages_lower_bound(&p, a, n, fixed[i]), tl_lower_bound(a, n, fixed[i]));
        cr_assert_eq(tl_pages_upper_bound(&p, a, n, fixed[i]), tl_upper_bound(a, n, fixed[i]));
    }
    for (size_t i = 0; i < n; i++) {
        tl_ts_t keys[3] = {a[i], tlt_sat_add(a[i], -1), tlt_sat_add(a[i], 1)};
        for (int k = 0; k < 3; k++) {
            size_t lb = tl_pages_lower_bound(&p, a, n, keys[k]);
            size_t ub = tl_pages_upper_bound(&p, a, n, keys[k]);
            cr_assert_eq(lb, tc_lower_scan(a, n, keys[k]), "paged lower n=%zu P=%zu x=%lld", n,
                         page_recs, (long long)keys[k]);
            cr_assert_eq(ub, tc_upper_scan(a, n, keys[k]), "paged upper n=%zu P=%zu x=%lld", n,
                         page_recs, (long long)keys[k]);
        }
    }
    tl_pages_free(&t->m, &p);
}

Test(page, paged_searches_agree_with_flat_ones_for_many_page_sizes) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 2);
    size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 32, 33, 64, 100, 257};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int rep = 0; rep < 3; rep++) {
            tl_ts_t lo = rep == 0 ? -3 : rep == 1 ? TL_TS_MIN : TL_TS_MAX - 5;
            tl_ts_t hi = rep == 0 ? 3 : rep == 1 ? TL_TS_MIN + 5 : TL_TS_MAX;
            tl_ts_t *a = tc_sorted_random(&rng, n, lo, hi);
            size_t pages[] = {1, 2, 3, 4, 5, 7, 8, 16, 64, 1000};
            for (size_t pi = 0; pi < sizeof pages / sizeof pages[0]; pi++)
                check_paged(&t, a, n, pages[pi]);
            if (n > 0) check_paged(&t, a, n, n);
            free(a);
        }
    }
    tc_end(&t);
}

/* Sizes that give the fence index one, two, three and four levels, with keys
 * dense (heavy duplicates) and sparse; every answer is checked against the
 * flat search (itself checked against a scan above). */
Test(page, fence_index_searches_agree_with_flat_ones_across_levels) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 7);
    size_t sizes[] = {17, 255, 256, 257, 4095, 4096, 4097, 65535, 65536, 65537, 70001};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int rep = 0; rep < 2; rep++) {
            tl_ts_t span = rep == 0 ? (tl_ts_t)(n / 8 + 1) : TL_TS_MAX;
            tl_ts_t *a = tc_sorted_random(&rng, n, rep == 0 ? 0 : TL_TS_MIN, span);
            tl_pages_t p;
            TLT_OK(tl_pages_build(&t.m, a, n, 64, &p));
            const char *why = NULL;
            cr_assert(tl_pages_validate(&p, a, n, &why), "validate: %s", why);
            for (int q = 0; q < 4000; q++) {
                tl_ts_t x = q % 2 == 0 ? a[tlt_rng_below(&rng, n)] : (tl_ts_t)tlt_rng_next(&rng);
                if (q % 7 == 0) x = tlt_sat_add(x, (q % 3) - 1);
                cr_assert_eq(tl_pages_lower_bound(&p, a, n, x), tl_lower_bound(a, n, x),
                             "fence lower n=%zu x=%lld", n, (long long)x);
                /* The variant that prefetches handles answers the same. */
                cr_assert_eq(tl_pages_lower_bound_h(&p, a, (const tl_handle_t *)a, n, x),
                             tl_lower_bound(a, n, x), "fence lower_h n=%zu", n);
                cr_assert_eq(tl_pages_upper_bound(&p, a, n, x), tl_upper_bound(a, n, x),
                             "fence upper n=%zu x=%lld", n, (long long)x);
            }
            tl_pages_free(&t.m, &p);
            free(a);
        }
    }
    tc_end(&t);
}

Test(page, fence_index_validate_catches_a_wrong_sample) {
    TC_MEM(t);
    tl_ts_t *a = malloc(5000 * sizeof(tl_ts_t));
    for (size_t i = 0; i < 5000; i++) a[i] = (tl_ts_t)i;
    tl_pages_t p;
    TLT_OK(tl_pages_build(&t.m, a, 5000, 100, &p));
    cr_assert(p.n_levels >= 2);
    p.lvl[1][3]++;
    const char *why = NULL;
    cr_assert_not(tl_pages_validate(&p, a, 5000, &why));
    cr_assert_not_null(why);
    tl_pages_free(&t.m, &p);
    free(a);
    tc_end(&t);
}

Test(page, gallop_upper_matches_upper_bound_from_any_start) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 11);
    size_t sizes[] = {0, 1, 2, 3, 5, 8, 33, 1000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        tl_ts_t *a = tc_sorted_random(&rng, n, -20, 20);
        for (size_t from = 0; from <= n; from++) {
            for (tl_ts_t x = -22; x <= 22; x++) {
                size_t want = tl_upper_bound(a, n, x);
                if (want < from) want = from;
                cr_assert_eq(tl_gallop_upper(a, from, n, x), want, "n=%zu from=%zu x=%lld", n, from,
                             (long long)x);
            }
        }
        free(a);
    }
    tc_end(&t);
}

/* tl_upper_from: the same answer as a flat upper bound clamped to `from`,
 * whether it gallops (answer near) or searches afresh (far), with and
 * without a fence index; tl_pages_bounds: both ends at once, equal to two
 * flat searches, across fence depths and densities. */
Test(page, upper_from_and_lockstep_bounds_match_flat_searches) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 13);
    size_t sizes[] = {1, 2, 17, 64, 65, 129, 300, 4097, 70001};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int rep = 0; rep < 2; rep++) {
            /* Dense (heavy duplicates) or sparse keys. */
            tl_ts_t hi = rep == 0 ? (tl_ts_t)(n / 8 + 1) : (tl_ts_t)n * 1000;
            tl_ts_t *a = tc_sorted_random(&rng, n, rep == 0 ? -5 : -(tl_ts_t)n * 1000, hi);
            tl_pages_t p;
            TLT_OK(tl_pages_build(&t.m, a, n, 64, &p));
            for (int q = 0; q < 3000; q++) {
                size_t from = tlt_rng_below(&rng, n + 1);
                tl_ts_t x = tlt_sat_add(a[tlt_rng_below(&rng, n)], (q % 3) - 1);
                size_t want = tl_upper_bound(a, n, x);
                if (want < from) want = from;
                cr_assert_eq(tl_upper_from(&p, a, from, n, x), want, "paged n=%zu from=%zu", n,
                             from);
                cr_assert_eq(tl_upper_from(NULL, a, from, n, x), want, "flat n=%zu from=%zu", n,
                             from);
                tl_ts_t x2 = x;
                tl_ts_t x1 = tlt_sat_add(a[tlt_rng_below(&rng, n)], -(tl_ts_t)(q % 4));
                if (x1 > x2) {
                    tl_ts_t tmp = x1;
                    x1 = x2;
                    x2 = tmp;
                }
                size_t lo = 99, hi = 99;
                tl_pages_bounds(&p, a, n, x1, x2, &lo, &hi);
                cr_assert_eq(lo, tl_lower_bound(a, n, x1), "bounds lo n=%zu", n);
                cr_assert_eq(hi, tl_upper_bound(a, n, x2), "bounds hi n=%zu", n);
            }
            tl_pages_free(&t.m, &p);
            free(a);
        }
    }
    tc_end(&t);
}

Test(page, paged_searches_handle_duplicates_straddling_page_edges) {
    TC_MEM(t);
    /* A run of one value covering several whole pages and page edges. */
    tl_ts_t a[40];
    for (size_t i = 0; i < 40; i++) a[i] = i < 3 ? 1 : i < 37 ? 5 : 9;
    for (size_t p = 1; p <= 41; p++) check_paged(&t, a, 40, p);
    tc_end(&t);
}

Test(page, build_records_first_and_last_key_of_every_page) {
    TC_MEM(t);
    tl_ts_t a[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    tl_pages_t p;
    TLT_OK(tl_pages_build(&t.m, a, 10, 4, &p));
    cr_assert_eq(p.page_recs, 4);
    cr_assert_eq(p.n_pages, 3);
    tl_ts_t want_min[] = {0, 4, 8}, want_max[] = {3, 7, 9};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(p.min[i], want_min[i]);
        cr_assert_eq(p.max[i], want_max[i]);
    }
    cr_assert_eq(tl_pages_bytes(&p), 3 * 2 * sizeof(tl_ts_t));
    cr_assert_eq(tl_mem_live(&t.m), tl_pages_bytes(&p));
    tl_pages_free(&t.m, &p);
    cr_assert(p.min == NULL && p.max == NULL && p.n_pages == 0);
    tl_pages_free(&t.m, &p); /* freeing twice is harmless */
    tc_end(&t);
}

Test(page, build_of_zero_records_allocates_nothing) {
    TC_MEM(t);
    tl_pages_t p;
    TLT_OK(tl_pages_build(&t.m, NULL, 0, 8, &p));
    cr_assert_eq(p.n_pages, 0);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    const char *why = NULL;
    cr_assert(tl_pages_validate(&p, NULL, 0, &why));
    cr_assert_eq(tl_pages_lower_bound(&p, NULL, 0, 3), 0);
    cr_assert_eq(tl_pages_upper_bound(&p, NULL, 0, 3), 0);
    tl_pages_free(&t.m, &p);
    tc_end(&t);
}

Test(page, build_rejects_zero_page_size) {
    TC_MEM(t);
    tl_ts_t a[2] = {1, 2};
    tl_pages_t p;
    TLT_ST(tl_pages_build(&t.m, a, 2, 0, &p), TL_EINVAL);
    cr_assert_eq(p.n_pages, 0);
    cr_assert_null(p.min);
    tc_end(&t);
}

Test(page, build_oom_returns_enomem_and_leaves_nothing) {
    TC_MEM(t);
    tl_ts_t a[5] = {1, 2, 3, 4, 5};
    tl_pages_t p;
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_pages_build(&t.m, a, 5, 2, &p), TL_ENOMEM);
    cr_assert_eq(p.n_pages, 0);
    cr_assert_null(p.min);
    tl_pages_free(&t.m, &p);
    tc_end(&t);
}

Test(page, validate_catches_broken_fences_and_unsorted_data) {
    TC_MEM(t);
    tl_ts_t a[9] = {1, 2, 2, 4, 5, 6, 7, 8, 9};
    tl_pages_t p;
    TLT_OK(tl_pages_build(&t.m, a, 9, 3, &p));
    const char *why = NULL;
    cr_assert(tl_pages_validate(&p, a, 9, &why));

    p.min[1] = 3; /* page 1 starts at a[3] == 4 */
    why = NULL;
    cr_assert_not(tl_pages_validate(&p, a, 9, &why), "a wrong min fence passed");
    cr_assert_not_null(why);
    p.min[1] = 4;

    p.max[2] = 10;
    why = NULL;
    cr_assert_not(tl_pages_validate(&p, a, 9, &why), "a wrong max fence passed");
    cr_assert_not_null(why);
    p.max[2] = 9;
    cr_assert(tl_pages_validate(&p, a, 9, &why));

    tl_ts_t b[9];
    memcpy(b, a, sizeof b);
    b[4] = 3; /* 4, 3: out of order inside a page, fences still match */
    why = NULL;
    cr_assert_not(tl_pages_validate(&p, b, 9, &why), "unsorted data passed");
    cr_assert_not_null(why);

    why = NULL;
    cr_assert_not(tl_pages_validate(&p, a, 6, &why), "page count mismatch passed");
    why = NULL;
    size_t keep = p.page_recs;
    p.page_recs = 0;
    cr_assert_not(tl_pages_validate(&p, a, 9, &why), "zero page size passed");
    p.page_recs = keep;
    tl_pages_free(&t.m, &p);
    tc_end(&t);
}

Test(page, ts_sorted_accepts_duplicates_and_rejects_a_descent) {
    TC_MEM(t);
    tl_ts_t a[] = {TL_TS_MIN, TL_TS_MIN, 0, 0, TL_TS_MAX, TL_TS_MAX};
    cr_assert(tl_ts_sorted(a, 6));
    cr_assert(tl_ts_sorted(a, 0));
    cr_assert(tl_ts_sorted(a + 4, 1));
    tl_ts_t b[] = {0, TL_TS_MAX, TL_TS_MIN};
    cr_assert_not(tl_ts_sorted(b, 3));
    tc_end(&t);
}

/* ---------------------------------------------------------------- recs */

Test(page, recs_create_accounts_its_bytes_and_release_returns_them) {
    TC_MEM(t);
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t.m, 100, &r));
    cr_assert_not_null(r);
    cr_assert_eq(r->n, 0);
    cr_assert_eq(r->cap, 100);
    cr_assert_geq(tl_recs_bytes(r), sizeof(tl_recs_t) + 100 * 16);
    cr_assert_eq(tl_mem_live(&t.m), tl_recs_bytes(r));
    tc_assert_accounting(&t);
    /* ts and h are separate contiguous arrays inside the one allocation. */
    cr_assert_eq((char *)r->h, (char *)(r->ts + r->cap));
    cr_assert_leq((char *)(r->h + r->cap), (char *)r + tl_recs_bytes(r));
    for (size_t i = 0; i < 100; i++) {
        r->ts[i] = (tl_ts_t)i;
        r->h[i] = 1000 + i;
    }
    r->n = 100;
    tl_recs_release(&t.m, r);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tl_recs_release(&t.m, NULL);
    tc_end(&t);
}

Test(page, recs_ts_array_is_cache_line_aligned_within_the_block) {
    TC_MEM(t);
    size_t caps[] = {0, 1, 3, 8, 1000};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        tl_recs_t *r = NULL;
        TLT_OK(tl_recs_create(&t.m, caps[i], &r));
        size_t off = (size_t)((char *)r->ts - (char *)r);
        cr_assert_eq(off % 64, 0, "ts at offset %zu from the block", off);
        cr_assert_geq(off, sizeof(tl_recs_t));
        cr_assert_eq((uintptr_t)r->ts % 8, 0);
        cr_assert_eq((uintptr_t)r->h % 8, 0);
        tl_recs_release(&t.m, r);
    }
    tc_end(&t);
}

Test(page, recs_create_of_zero_capacity_holds_one_record) {
    TC_MEM(t);
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t.m, 0, &r));
    cr_assert_eq(r->cap, 1);
    r->ts[0] = TL_TS_MAX;
    r->h[0] = 1;
    r->n = 1;
    tl_recs_release(&t.m, r);
    tc_end(&t);
}

Test(page, recs_create_oom_and_overflow_return_enomem) {
    TC_MEM(t);
    tl_recs_t *r = (tl_recs_t *)(uintptr_t)1;
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_recs_create(&t.m, 10, &r), TL_ENOMEM);
    cr_assert_null(r);
    tlt_alloc_disarm(&t.a);
    r = (tl_recs_t *)(uintptr_t)1;
    TLT_ST(tl_recs_create(&t.m, SIZE_MAX / 8, &r), TL_ENOMEM);
    cr_assert_null(r);
    TLT_ST(tl_recs_create(&t.m, SIZE_MAX, &r), TL_ENOMEM);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tc_end(&t);
}

Test(page, recs_refcount_frees_on_last_release) {
    TC_MEM(t);
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t.m, 4, &r));
    tl_recs_retain(r);
    tl_recs_retain(r);
    cr_assert_eq(tl_ref_get(&r->refs), 3);
    tl_recs_release(&t.m, r);
    tl_recs_release(&t.m, r);
    cr_assert_eq(tl_mem_live(&t.m), tl_recs_bytes(r), "still held once");
    tl_recs_release(&t.m, r);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tc_end(&t);
}

static void fill_recs(tl_recs_t *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        r->ts[i] = (tl_ts_t)(i * 3) - 50;
        r->h[i] = 7000 + i;
    }
    r->n = n;
}

static void check_recs(const tl_recs_t *r, size_t n) {
    cr_assert_eq(r->n, n);
    cr_assert_eq((char *)r->h, (char *)(r->ts + r->cap));
    cr_assert_eq((size_t)((char *)r->ts - (char *)r) % 64, 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(r->ts[i], (tl_ts_t)(i * 3) - 50, "ts[%zu]", i);
        cr_assert_eq(r->h[i], 7000 + i, "h[%zu]", i);
    }
}

Test(page, shrink_to_fit_keeps_records_and_returns_bytes) {
    TC_MEM(t);
    size_t ns[] = {1, 2, 37, 499};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        tl_recs_t *r = NULL;
        TLT_OK(tl_recs_create(&t.m, 500, &r));
        fill_recs(r, ns[k]);
        size_t before = tl_mem_live(&t.m);
        tl_recs_shrink_to_fit(&t.m, &r);
        cr_assert_eq(r->cap, ns[k]);
        cr_assert_lt(tl_mem_live(&t.m), before);
        cr_assert_eq(tl_mem_live(&t.m), tl_recs_bytes(r));
        tc_assert_accounting(&t);
        check_recs(r, ns[k]);
        tl_recs_release(&t.m, r);
        cr_assert_eq(tl_mem_live(&t.m), 0);
    }
    tc_end(&t);
}

Test(page, shrink_to_fit_of_a_full_or_empty_block) {
    TC_MEM(t);
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t.m, 8, &r));
    fill_recs(r, 8);
    tl_recs_t *same = r;
    tl_recs_shrink_to_fit(&t.m, &r);
    cr_assert_eq(r, same, "a full block is left alone");
    check_recs(r, 8);
    tl_recs_release(&t.m, r);

    TLT_OK(tl_recs_create(&t.m, 8, &r));
    tl_recs_shrink_to_fit(&t.m, &r);
    cr_assert_eq(r->cap, 1, "an empty block keeps room for one record");
    cr_assert_eq(r->n, 0);
    cr_assert_eq(tl_mem_live(&t.m), tl_recs_bytes(r));
    tl_recs_release(&t.m, r);
    tc_end(&t);
}

/* An allocator whose realloc always refuses, to reach shrink's fallback. */
static void *refusing_realloc(void *ctx, void *p, size_t old_n, size_t new_n) {
    (void)ctx;
    (void)p;
    (void)old_n;
    (void)new_n;
    return NULL;
}

Test(page, shrink_to_fit_keeps_the_block_intact_when_realloc_refuses) {
    TC_MEM(t);
    tl_allocator_t tab = tlt_alloc_table(&t.a);
    tab.realloc_fn = refusing_realloc;
    tl_mem_t m;
    tl_mem_init(&m, &tab);
    /* More than half full: the handles' move down overlaps their old place. */
    size_t ns[] = {1, 123, 250, 299};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        tl_recs_t *r = NULL;
        TLT_OK(tl_recs_create(&m, 300, &r));
        fill_recs(r, ns[k]);
        tl_recs_t *same = r;
        size_t bytes = tl_mem_live(&m);
        tl_recs_shrink_to_fit(&m, &r);
        cr_assert_eq(r, same);
        cr_assert_eq(r->cap, 300);
        cr_assert_eq(tl_mem_live(&m), bytes);
        check_recs(r, ns[k]);
        tl_recs_release(&m, r);
    }
    cr_assert_eq(tl_mem_live(&m), 0);
    tc_end(&t);
}
