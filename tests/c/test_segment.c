/*
 * test_segment.c: immutable paged segments (tl_segment.h): the shared record
 * block and its reference count, bounds and fences, searches against a
 * linear scan, validation, and OOM during creation.
 */
#include "comp_fixture.h"
#include "tl_segment.h"

/* A block holding sorted ts[0..n) with handles 1000 + i. */
static tl_recs_t *make_recs(tc_t *t, const tl_ts_t *ts, size_t n) {
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t->m, n, &r));
    for (size_t i = 0; i < n; i++) {
        r->ts[i] = ts[i];
        r->h[i] = 1000 + i;
    }
    r->n = n;
    return r;
}

static void assert_valid(const tl_segment_t *s) {
    const char *why = NULL;
    cr_assert(tl_segment_validate(s, &why), "tl_segment_validate: %s", why ? why : "?");
}

static const tl_window_t NO_WINDOW = {0, 0};

Test(segment, creation_shares_the_block_and_counts_a_reference) {
    TC_MEM(t);
    tl_ts_t ts[] = {3, 5, 5, 9, 12};
    tl_recs_t *r = make_recs(&t, ts, 5);
    size_t block = tl_mem_live(&t.m);
    tl_segment_t *s = NULL;
    TLT_OK(tl_segment_create(&t.m, TL_LEVEL_L0, r, 2, 17, NO_WINDOW, &s));
    cr_assert_eq(s->recs, r, "the segment uses the caller's block, no copy");
    cr_assert_eq(tl_ref_get(&r->refs), 2);
    cr_assert_eq(tl_segment_n(s), 5);
    cr_assert_eq(tl_mem_live(&t.m), block + tl_segment_own_bytes(s),
                 "the segment owns only its struct and fences");
    tc_assert_accounting(&t);
    tl_recs_release(&t.m, r); /* the caller's reference */
    cr_assert_eq(tl_ref_get(&s->recs->refs), 1);
    cr_assert_eq(s->recs->ts[4], 12, "the block lives on in the segment");
    tl_segment_retain(s);
    tl_segment_release(&t.m, s);
    cr_assert_eq(tl_mem_live(&t.m), block + tl_segment_own_bytes(s));
    tl_segment_release(&t.m, s);
    tl_segment_release(&t.m, NULL);
    tc_end(&t);
}

Test(segment, bounds_fences_watermark_and_window_are_recorded) {
    TC_MEM(t);
    tl_ts_t ts[] = {TL_TS_MIN, -4, 0, 0, 0, 7, 8, TL_TS_MAX};
    tl_recs_t *r = make_recs(&t, ts, 8);
    tl_window_t win = {TL_TS_MIN, TL_TS_MAX};
    tl_segment_t *s = NULL;
    TLT_OK(tl_segment_create(&t.m, TL_LEVEL_L1, r, 3, 99, win, &s));
    tl_recs_release(&t.m, r);
    cr_assert_eq(s->level, TL_LEVEL_L1);
    cr_assert_eq(s->min, TL_TS_MIN);
    cr_assert_eq(s->max, TL_TS_MAX);
    cr_assert_eq(s->wm, 99);
    cr_assert(s->window.lo == win.lo && s->window.hi == win.hi);
    cr_assert_eq(s->pages.page_recs, 3);
    cr_assert_eq(s->pages.n_pages, 3);
    tl_ts_t want_min[] = {TL_TS_MIN, 0, 8}, want_max[] = {0, 7, TL_TS_MAX};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s->pages.min[i], want_min[i], "page %d min", i);
        cr_assert_eq(s->pages.max[i], want_max[i], "page %d max", i);
    }
    assert_valid(s);
    tl_segment_release(&t.m, s);
    tc_end(&t);
}

Test(segment, create_rejects_empty_blocks_and_zero_page_size) {
    TC_MEM(t);
    tl_recs_t *empty = NULL;
    TLT_OK(tl_recs_create(&t.m, 4, &empty));
    tl_ts_t ts[] = {1};
    tl_recs_t *one = make_recs(&t, ts, 1);
    size_t live = tl_mem_live(&t.m);
    tl_segment_t *s = (tl_segment_t *)(uintptr_t)1;
    TLT_ST(tl_segment_create(&t.m, TL_LEVEL_L0, NULL, 4, 0, NO_WINDOW, &s), TL_EINVAL);
    cr_assert_null(s);
    TLT_ST(tl_segment_create(&t.m, TL_LEVEL_L0, empty, 4, 0, NO_WINDOW, &s), TL_EINVAL);
    TLT_ST(tl_segment_create(&t.m, TL_LEVEL_L0, one, 0, 0, NO_WINDOW, &s), TL_EINVAL);
    cr_assert_eq(tl_mem_live(&t.m), live);
    cr_assert_eq(tl_ref_get(&one->refs), 1);
    tl_recs_release(&t.m, empty);
    tl_recs_release(&t.m, one);
    tc_end(&t);
}

Test(segment, create_oom_at_each_allocation_leaves_the_block_alone) {
    TC_MEM(t);
    tl_ts_t ts[] = {1, 2, 3, 4, 5, 6, 7};
    tl_recs_t *r = make_recs(&t, ts, 7);
    size_t live = tl_mem_live(&t.m);
    uint64_t k;
    for (k = 1;; k++) {
        tl_segment_t *s = (tl_segment_t *)(uintptr_t)1;
        tlt_alloc_arm(&t.a, k, 0, 0);
        tl_status_t st = tl_segment_create(&t.m, TL_LEVEL_L0, r, 2, 0, NO_WINDOW, &s);
        tlt_alloc_disarm(&t.a);
        if (st == TL_OK) {
            assert_valid(s);
            tl_segment_release(&t.m, s);
            break;
        }
        cr_assert_eq(st, TL_ENOMEM);
        cr_assert_null(s);
        cr_assert_eq(tl_mem_live(&t.m), live, "k=%llu leaked", (unsigned long long)k);
        cr_assert_eq(tl_ref_get(&r->refs), 1, "k=%llu kept a reference", (unsigned long long)k);
    }
    cr_assert_eq(k, 3, "struct and fences: two allocations");
    tl_recs_release(&t.m, r);
    tc_end(&t);
}

Test(segment, lower_and_upper_bound_match_a_scan) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 51);
    size_t sizes[] = {1, 2, 3, 5, 8, 17, 64, 200};
    size_t pages[] = {1, 2, 3, 4, 7, 16, 256};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int rep = 0; rep < 4; rep++) {
            size_t n = sizes[si];
            tl_ts_t lo = rep == 0 ? -5 : rep == 1 ? TL_TS_MIN : rep == 2 ? TL_TS_MAX - 5 : -1000;
            tl_ts_t hi = rep == 0 ? 5 : rep == 1 ? TL_TS_MIN + 5 : rep == 2 ? TL_TS_MAX : 1000;
            tl_ts_t *a = tc_sorted_random(&rng, n, lo, hi);
            tl_recs_t *r = make_recs(&t, a, n);
            for (size_t pi = 0; pi < sizeof pages / sizeof pages[0]; pi++) {
                tl_segment_t *s = NULL;
                TLT_OK(tl_segment_create(&t.m, TL_LEVEL_L0, r, pages[pi], 1, NO_WINDOW, &s));
                assert_valid(s);
                tl_ts_t keys[] = {TL_TS_MIN,
                                  TL_TS_MIN + 1,
                                  -1,
                                  0,
                                  1,
                                  TL_TS_MAX - 1,
                                  TL_TS_MAX,
                                  tlt_sat_add(s->min, -1),
                                  s->min,
                                  s->max,
                                  tlt_sat_add(s->max, 1)};
                for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                    cr_assert_eq(tl_segment_lower_bound(s, keys[k]), tc_lower_scan(a, n, keys[k]));
                    cr_assert_eq(tl_segment_upper_bound(s, keys[k]), tc_upper_scan(a, n, keys[k]));
                }
                for (size_t i = 0; i < n; i++) {
                    tl_ts_t ks[3] = {a[i], tlt_sat_add(a[i], -1), tlt_sat_add(a[i], 1)};
                    for (int k = 0; k < 3; k++) {
                        cr_assert_eq(tl_segment_lower_bound(s, ks[k]), tc_lower_scan(a, n, ks[k]),
                                     "lower n=%zu P=%zu x=%lld", n, pages[pi], (long long)ks[k]);
                        cr_assert_eq(tl_segment_upper_bound(s, ks[k]), tc_upper_scan(a, n, ks[k]),
                                     "upper n=%zu P=%zu x=%lld", n, pages[pi], (long long)ks[k]);
                    }
                }
                tl_segment_release(&t.m, s);
            }
            tl_recs_release(&t.m, r);
            free(a);
        }
    }
    tc_end(&t);
}

Test(segment, validate_rejects_broken_segments) {
    TC_MEM(t);
    tl_ts_t ts[] = {10, 20, 30, 40};
    tl_recs_t *r = make_recs(&t, ts, 4);
    tl_window_t win = {0, 99};
    tl_segment_t *s = NULL;
    TLT_OK(tl_segment_create(&t.m, TL_LEVEL_L1, r, 2, 5, win, &s));
    tl_recs_release(&t.m, r);
    assert_valid(s);
    const char *why;
#define EXPECT_INVALID(what)                                                       \
    do {                                                                           \
        why = NULL;                                                                \
        cr_assert_not(tl_segment_validate(s, &why), "validate accepted %s", what); \
        cr_assert_not_null(why);                                                   \
    } while (0)
    s->window.hi = 35;
    EXPECT_INVALID("an L1 segment crossing its window on the right");
    s->window.hi = 99;
    s->window.lo = 11;
    EXPECT_INVALID("an L1 segment crossing its window on the left");
    s->window.lo = 0;
    s->min = 11;
    EXPECT_INVALID("a wrong min");
    s->min = 10;
    s->max = 41;
    EXPECT_INVALID("a wrong max");
    s->max = 40;
    s->pages.max[0] = 21;
    EXPECT_INVALID("a wrong page fence");
    s->pages.max[0] = 20;
    s->level = 7;
    EXPECT_INVALID("an unknown level");
    s->level = TL_LEVEL_L1;
    s->recs->ts[1] = 5;
    EXPECT_INVALID("unsorted records");
    s->recs->ts[1] = 20;
    assert_valid(s);
    /* An L0 segment has no window to respect. */
    s->level = TL_LEVEL_L0;
    s->window.lo = s->window.hi = 0;
    assert_valid(s);
#undef EXPECT_INVALID
    tl_segment_release(&t.m, s);
    tc_end(&t);
}
