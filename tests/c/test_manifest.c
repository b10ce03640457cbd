/*
 * test_manifest.c: immutable, reference-counted source sets
 * (tl_manifest.h): every source retained by each manifest that lists it and
 * freed with the last one, tl_manifest_l1_seek against a scan, validation of
 * L1 order and levels, OOM during creation.
 */
#include "comp_fixture.h"
#include "tl_manifest.h"

static tl_recs_t *make_recs(tc_t *t, const tl_ts_t *ts, size_t n) {
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t->m, n, &r));
    for (size_t i = 0; i < n; i++) {
        r->ts[i] = ts[i];
        r->h[i] = 1 + i;
    }
    r->n = n;
    return r;
}

/* A segment of the given level over ts[0..n); L1 gets the window [lo, hi]
 * of its own bounds. */
static tl_segment_t *make_seg(tc_t *t, int level, const tl_ts_t *ts, size_t n) {
    tl_recs_t *r = make_recs(t, ts, n);
    tl_window_t w = {ts[0], ts[n - 1]};
    tl_segment_t *s = NULL;
    TLT_OK(tl_segment_create(&t->m, level, r, 4, 1, w, &s));
    tl_recs_release(&t->m, r);
    return s;
}

static tl_segment_t *make_range_seg(tc_t *t, int level, tl_ts_t lo, tl_ts_t hi) {
    tl_ts_t mid = (tl_ts_t)((uint64_t)lo + ((uint64_t)hi - (uint64_t)lo) / 2); /* no overflow */
    tl_ts_t ts[3] = {lo, mid, hi};
    return make_seg(t, level, ts, 3);
}

static tl_memrun_t *make_memrun(tc_t *t, tl_ts_t lo, tl_ts_t hi) {
    tl_ts_t ts[2] = {lo, hi};
    tl_memrun_t *mr = NULL;
    TLT_OK(tl_memrun_create(&t->m, make_recs(t, ts, 2), 1, &mr));
    return mr;
}

static void assert_valid(const tl_manifest_t *man) {
    const char *why = NULL;
    cr_assert(tl_manifest_validate(man, &why), "tl_manifest_validate: %s", why ? why : "?");
}

Test(manifest, create_retains_every_source_and_the_last_release_frees_them) {
    TC_MEM(t);
    tl_memrun_t *mr[2] = {make_memrun(&t, 0, 10), make_memrun(&t, 5, 15)};
    tl_segment_t *l0[2] = {make_range_seg(&t, TL_LEVEL_L0, 0, 100),
                           make_range_seg(&t, TL_LEVEL_L0, 50, 150)};
    tl_segment_t *l1[3] = {make_range_seg(&t, TL_LEVEL_L1, 0, 9),
                           make_range_seg(&t, TL_LEVEL_L1, 10, 19),
                           make_range_seg(&t, TL_LEVEL_L1, 100, 200)};
    size_t sources = tl_mem_live(&t.m);
    tl_manifest_t *a = NULL, *b = NULL;
    TLT_OK(tl_manifest_create(&t.m, mr, 2, l0, 2, l1, 3, &a));
    assert_valid(a);
    cr_assert_eq(a->n_mr, 2);
    cr_assert_eq(a->n_l0, 2);
    cr_assert_eq(a->n_l1, 3);
    for (int i = 0; i < 2; i++) cr_assert_eq(a->mr[i], mr[i]);
    for (int i = 0; i < 2; i++) cr_assert_eq(a->l0[i], l0[i]);
    for (int i = 0; i < 3; i++) cr_assert_eq(a->l1[i], l1[i]);
    cr_assert_eq(tl_ref_get(&mr[0]->refs), 2);
    cr_assert_eq(tl_ref_get(&l0[1]->refs), 2);
    cr_assert_eq(tl_ref_get(&l1[2]->refs), 2);
    cr_assert_eq(tl_mem_live(&t.m), sources + tl_manifest_own_bytes(a));
    /* A second manifest sharing some sources (a later version). */
    TLT_OK(tl_manifest_create(&t.m, NULL, 0, l0, 1, l1, 3, &b));
    cr_assert_eq(tl_ref_get(&l1[0]->refs), 3);
    cr_assert_eq(tl_ref_get(&l0[0]->refs), 3);
    cr_assert_eq(tl_ref_get(&l0[1]->refs), 2);
    /* The creators let go of their own references. */
    for (int i = 0; i < 2; i++) tl_memrun_release(&t.m, mr[i]);
    for (int i = 0; i < 2; i++) tl_segment_release(&t.m, l0[i]);
    for (int i = 0; i < 3; i++) tl_segment_release(&t.m, l1[i]);
    assert_valid(a);
    assert_valid(b);
    /* A snapshot pins a. */
    tl_manifest_retain(a);
    tl_manifest_release(&t.m, a);
    cr_assert_eq(tl_ref_get(&a->refs), 1);
    cr_assert_eq(tl_ref_get(&l1[0]->refs), 2);
    tl_manifest_release(&t.m, a);
    /* Only what b still lists is alive. */
    cr_assert_eq(tl_ref_get(&l1[0]->refs), 1);
    cr_assert_eq(tl_ref_get(&l0[0]->refs), 1);
    assert_valid(b);
    cr_assert_eq(tl_mem_live(&t.m), tl_manifest_own_bytes(b) + tl_segment_own_bytes(l0[0]) +
                                        tl_recs_bytes(l0[0]->recs) + tl_segment_own_bytes(l1[0]) +
                                        tl_recs_bytes(l1[0]->recs) + tl_segment_own_bytes(l1[1]) +
                                        tl_recs_bytes(l1[1]->recs) + tl_segment_own_bytes(l1[2]) +
                                        tl_recs_bytes(l1[2]->recs));
    tl_manifest_release(&t.m, b);
    tl_manifest_release(&t.m, NULL);
    tc_end(&t);
}

Test(manifest, empty_manifest_is_valid_and_owns_only_itself) {
    TC_MEM(t);
    tl_manifest_t *m = NULL;
    TLT_OK(tl_manifest_create(&t.m, NULL, 0, NULL, 0, NULL, 0, &m));
    assert_valid(m);
    cr_assert_eq(tl_mem_live(&t.m), tl_manifest_own_bytes(m));
    cr_assert_eq(tl_manifest_l1_seek(m, 0), 0);
    tl_manifest_release(&t.m, m);
    tc_end(&t);
}

Test(manifest, create_oom_returns_enomem_and_takes_no_reference) {
    TC_MEM(t);
    tl_segment_t *s = make_range_seg(&t, TL_LEVEL_L1, 0, 10);
    tl_memrun_t *mr = make_memrun(&t, 0, 1);
    size_t live = tl_mem_live(&t.m);
    tl_manifest_t *m = (tl_manifest_t *)(uintptr_t)1;
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_manifest_create(&t.m, &mr, 1, NULL, 0, &s, 1, &m), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_null(m);
    cr_assert_eq(tl_mem_live(&t.m), live);
    cr_assert_eq(tl_ref_get(&s->refs), 1);
    cr_assert_eq(tl_ref_get(&mr->refs), 1);
    tl_segment_release(&t.m, s);
    tl_memrun_release(&t.m, mr);
    tc_end(&t);
}

Test(manifest, l1_seek_finds_the_first_segment_ending_at_or_after_ts) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 61);
    for (int round = 0; round < 30; round++) {
        size_t n = (size_t)round % 9;
        tl_segment_t *l1[8];
        tl_ts_t edge = round % 3 == 0 ? TL_TS_MIN : -1000;
        for (size_t i = 0; i < n; i++) {
            tl_ts_t lo = tlt_sat_add(edge, (tl_ts_t)tlt_rng_below(&rng, 20));
            tl_ts_t hi = tlt_sat_add(lo, (tl_ts_t)tlt_rng_below(&rng, 20));
            if (round % 3 == 1 && i == n - 1) hi = TL_TS_MAX;
            l1[i] = make_range_seg(&t, TL_LEVEL_L1, lo, hi);
            edge = tlt_sat_add(hi, 1);
        }
        tl_manifest_t *m = NULL;
        TLT_OK(tl_manifest_create(&t.m, NULL, 0, NULL, 0, l1, n, &m));
        assert_valid(m);
        for (size_t i = 0; i < n; i++) tl_segment_release(&t.m, l1[i]);
        /* Probe every bound, its neighbours and the extremes. */
        for (size_t i = 0; i <= 2 * n + 1; i++) {
            tl_ts_t base = i == 2 * n       ? TL_TS_MIN
                           : i == 2 * n + 1 ? TL_TS_MAX
                           : i % 2          ? m->l1[i / 2]->max
                                            : m->l1[i / 2]->min;
            for (int d = -1; d <= 1; d++) {
                tl_ts_t x = tlt_sat_add(base, d);
                size_t want = 0;
                while (want < n && m->l1[want]->max < x) want++;
                cr_assert_eq(tl_manifest_l1_seek(m, x), want, "x=%lld", (long long)x);
            }
        }
        tl_manifest_release(&t.m, m);
    }
    tc_end(&t);
}

Test(manifest, validate_rejects_overlapping_or_unsorted_l1) {
    TC_MEM(t);
    tl_segment_t *a = make_range_seg(&t, TL_LEVEL_L1, 0, 10);
    tl_segment_t *b = make_range_seg(&t, TL_LEVEL_L1, 10, 20); /* shares ts 10 with a */
    tl_segment_t *c = make_range_seg(&t, TL_LEVEL_L1, 5, 7);   /* inside a */
    tl_segment_t *d = make_range_seg(&t, TL_LEVEL_L1, 11, 20); /* touches a, fine */
    const char *why;
    tl_manifest_t *m;
    struct {
        tl_segment_t *l1[2];
        bool ok;
        const char *what;
    } cases[] = {
        {{a, d}, true, "adjacent segments"},
        {{a, b}, false, "segments sharing a timestamp"},
        {{a, c}, false, "a segment inside another"},
        {{d, a}, false, "unsorted segments"},
        {{a, a}, false, "the same segment twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TLT_OK(tl_manifest_create(&t.m, NULL, 0, NULL, 0, cases[i].l1, 2, &m));
        why = NULL;
        bool ok = tl_manifest_validate(m, &why);
        cr_assert_eq(ok, cases[i].ok, "%s: validate said %d (%s)", cases[i].what, ok,
                     why ? why : "");
        if (!ok) cr_assert_not_null(why);
        tl_manifest_release(&t.m, m);
    }
    tl_segment_release(&t.m, a);
    tl_segment_release(&t.m, b);
    tl_segment_release(&t.m, c);
    tl_segment_release(&t.m, d);
    tc_end(&t);
}

Test(manifest, validate_rejects_sources_in_the_wrong_level_list) {
    TC_MEM(t);
    tl_segment_t *l0 = make_range_seg(&t, TL_LEVEL_L0, 0, 10);
    tl_segment_t *l1 = make_range_seg(&t, TL_LEVEL_L1, 20, 30);
    const char *why;
    tl_manifest_t *m;
    TLT_OK(tl_manifest_create(&t.m, NULL, 0, NULL, 0, &l0, 1, &m));
    why = NULL;
    cr_assert_not(tl_manifest_validate(m, &why), "an L0 segment in the L1 list passed");
    cr_assert_not_null(why);
    tl_manifest_release(&t.m, m);
    TLT_OK(tl_manifest_create(&t.m, NULL, 0, &l1, 1, NULL, 0, &m));
    why = NULL;
    cr_assert_not(tl_manifest_validate(m, &why), "an L1 segment in the L0 list passed");
    cr_assert_not_null(why);
    tl_manifest_release(&t.m, m);
    TLT_OK(tl_manifest_create(&t.m, NULL, 0, &l0, 1, &l1, 1, &m));
    assert_valid(m);
    tl_manifest_release(&t.m, m);
    tl_segment_release(&t.m, l0);
    tl_segment_release(&t.m, l1);
    tc_end(&t);
}

Test(manifest, validate_checks_every_source) {
    TC_MEM(t);
    tl_memrun_t *mr = make_memrun(&t, 0, 10);
    tl_segment_t *l0 = make_range_seg(&t, TL_LEVEL_L0, 0, 10);
    tl_segment_t *l1 = make_range_seg(&t, TL_LEVEL_L1, 20, 30);
    tl_manifest_t *m;
    TLT_OK(tl_manifest_create(&t.m, &mr, 1, &l0, 1, &l1, 1, &m));
    assert_valid(m);
    const char *why;
    mr->min = -1;
    cr_assert_not(tl_manifest_validate(m, &why), "a broken memrun passed");
    mr->min = 0;
    l0->max = 11;
    cr_assert_not(tl_manifest_validate(m, &why), "a broken L0 segment passed");
    l0->max = 10;
    l1->window.hi = 25;
    cr_assert_not(tl_manifest_validate(m, &why), "an L1 segment crossing its window passed");
    l1->window.hi = 30;
    assert_valid(m);
    tl_manifest_release(&t.m, m);
    tl_memrun_release(&t.m, mr);
    tl_segment_release(&t.m, l0);
    tl_segment_release(&t.m, l1);
    tc_end(&t);
}
