/*
 * test_compact.c: L0 (+ touched L1) -> windowed L1 (tl_compact.h), checked
 * against the reference outcome of compact_scenario.h: hand-built cases,
 * random scenarios (also at the int64 extremes), and every allocation
 * failing in turn. The bounded plan is in test_compact_plan.c.
 */
#include "compact_scenario.h"

/* ---------------------------------------------------------------- cases */

Test(compact, empty_input_gives_an_empty_list) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    outcome_t oc = run_and_check(&sc);
    cr_assert_eq(oc.n_made, 0);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, l0_only_output_is_sorted_windowed_and_complete) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    sc.in.target_recs = 30;
    tl_ts_t a[80], b[60], c[40];
    for (int i = 0; i < 80; i++) a[i] = (i * 37) % 400 - 100;
    for (int i = 0; i < 60; i++) b[i] = (i * 11) % 300;
    for (int i = 0; i < 40; i++) c[i] = 150;
    add_seg(&sc, TL_LEVEL_L0, a, 80, 0);
    add_seg(&sc, TL_LEVEL_L0, b, 60, 0);
    add_seg(&sc, TL_LEVEL_L0, c, 40, 0);
    outcome_t oc = run_and_check(&sc);
    cr_assert_geq(oc.n_made, 5, "4 windows and a size target of 30");
    scen_free(&sc);
    tc_end(&t);
}

/* A lone L0 segment that the merge would leave unchanged is promoted to L1
 * sharing its record block: no record is copied. Anything that would change
 * it (a second window, a hiding tombstone, a survivor inside its span, the
 * size target) makes it go through the merge instead. */
Test(compact, lone_clean_l0_segment_is_promoted_without_copying) {
    TC_MEM(t);
    tl_ts_t a[50];
    for (int i = 0; i < 50; i++) a[i] = 200 + i;
    for (int variant = 0; variant < 5; variant++) {
        scen_t sc;
        scen_init(&sc, &t, 100, 0);
        tl_segment_t *s = add_seg(&sc, TL_LEVEL_L0, a, 50, 3);
        if (variant == 1) sc.in.target_recs = 20;     /* too big */
        if (variant == 2) add_tomb(&sc, 210, 212, 4); /* hides records */
        if (variant == 3) add_tomb(&sc, 210, 212, 2); /* older: hides nothing */
        if (variant == 4) {
            tl_ts_t w[1] = {299}; /* a survivor nowhere near */
            add_seg(&sc, TL_LEVEL_L1, w, 1, 1);
        }
        sc.in.wm = 9;
        finalize_in(&sc);
        tl_compact_out_t out;
        TLT_OK(tl_compact_run(&sc.in, &out));
        const tl_segment_t *o = NULL;
        for (size_t i = 0; i < out.n_l1; i++) {
            if (out.l1[i]->recs == s->recs) o = out.l1[i];
        }
        cr_assert_eq(o != NULL, variant != 1 && variant != 2, "variant %d", variant);
        if (o != NULL) {
            cr_assert_eq(out.n_outputs, 1);
            cr_assert_eq(o->level, TL_LEVEL_L1);
            cr_assert_eq(o->wm, 9);
            const char *why = NULL;
            cr_assert(tl_segment_validate(o, &why), "%s", why);
        }
        tl_compact_out_free(&t.m, &out);
        scen_free(&sc);
    }
    tc_end(&t);
}

Test(compact, untouched_l1_segments_survive_as_the_same_pointers) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    tl_ts_t s1[] = {10, 15, 20}, s2[] = {110, 150}, s3[] = {320, 330, 399};
    tl_segment_t *a = add_seg(&sc, TL_LEVEL_L1, s1, 3, 0);
    tl_segment_t *b = add_seg(&sc, TL_LEVEL_L1, s2, 2, 0);
    tl_segment_t *c = add_seg(&sc, TL_LEVEL_L1, s3, 3, 0);
    tl_ts_t l0[] = {200, 250, 299, 400, 401};
    add_seg(&sc, TL_LEVEL_L0, l0, 5, 0);
    finalize_in(&sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc.in, &out));
    check_outcome(&sc, &out);
    cr_assert_eq(out.n_rewritten, 0);
    cr_assert_eq(out.n_outputs, 2, "window [200, 299] and window [400, 499]");
    size_t ia = out_index_of(&out, a), ib = out_index_of(&out, b), ic = out_index_of(&out, c);
    cr_assert(ia == 0 && ib == 1 && ic == 3, "survivors in time order among the outputs");
    tl_compact_out_free(&t.m, &out);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, l0_record_inside_an_l1_segment_rewrites_it) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    tl_ts_t s1[] = {10, 20, 30, 40}, s2[] = {50, 60};
    tl_segment_t *a = add_seg(&sc, TL_LEVEL_L1, s1, 4, 0);
    tl_segment_t *b = add_seg(&sc, TL_LEVEL_L1, s2, 2, 0);
    tl_ts_t l0[] = {25}; /* strictly inside a, outside b */
    add_seg(&sc, TL_LEVEL_L0, l0, 1, 0);
    finalize_in(&sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc.in, &out));
    check_outcome(&sc, &out);
    cr_assert_eq(out.n_rewritten, 1);
    cr_assert_eq(out_index_of(&out, a), SIZE_MAX);
    cr_assert_neq(out_index_of(&out, b), SIZE_MAX);
    cr_assert_eq(out.n_l1, 2);
    cr_assert_eq(tl_segment_n(out.l1[0]), 5);
    tl_compact_out_free(&t.m, &out);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, l0_records_between_two_l1_segments_slot_in_between) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    sc.in.target_recs = 1000;
    tl_ts_t s1[] = {10, 20}, s2[] = {60, 70};
    tl_segment_t *a = add_seg(&sc, TL_LEVEL_L1, s1, 2, 0);
    tl_segment_t *b = add_seg(&sc, TL_LEVEL_L1, s2, 2, 0);
    tl_ts_t l0[] = {5, 30, 40, 50, 59, 71, 99}; /* gaps around and between, same window */
    add_seg(&sc, TL_LEVEL_L0, l0, 7, 0);
    finalize_in(&sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc.in, &out));
    check_outcome(&sc, &out);
    cr_assert_eq(out.n_rewritten, 0, "no L0 record lies inside [10, 20] or [60, 70]");
    cr_assert_eq(out.n_l1, 5);
    cr_assert_eq(out.l1[1], a);
    cr_assert_eq(out.l1[3], b);
    cr_assert(out.l1[2]->min == 30 && out.l1[2]->max == 59);
    tl_compact_out_free(&t.m, &out);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, fold_debt_rewrites_segments_that_newer_tombstones_meet) {
    TC_MEM(t);
    for (int fold = 0; fold < 2; fold++) {
        scen_t sc;
        scen_init(&sc, &t, 100, 0);
        tl_ts_t s1[] = {10, 20, 30}, s2[] = {40, 50}, s3[] = {110, 120};
        add_seg(&sc, TL_LEVEL_L1, s1, 3, 5); /* wm 5 */
        add_seg(&sc, TL_LEVEL_L1, s2, 2, 7); /* wm 7: the delete @6 is already applied */
        add_seg(&sc, TL_LEVEL_L1, s3, 2, 1);
        add_tomb(&sc, 20, 45, 6);
        sc.in.fold_debt = fold;
        finalize_in(&sc);
        tl_compact_out_t out;
        TLT_OK(tl_compact_run(&sc.in, &out));
        check_outcome(&sc, &out);
        if (fold) {
            cr_assert_eq(out.n_rewritten, 1, "only [10, 30] carries debt");
            cr_assert_eq(out.dropped.n, 2, "20 and 30 are hidden");
            cr_assert_eq(out_index_of(&out, sc.l1[0]), SIZE_MAX);
        } else {
            cr_assert_eq(out.n_rewritten, 0);
            cr_assert_eq(out.dropped.n, 0);
            cr_assert_eq(out.n_l1, 3);
        }
        cr_assert_neq(out_index_of(&out, sc.l1[1]), SIZE_MAX);
        cr_assert_neq(out_index_of(&out, sc.l1[2]), SIZE_MAX);
        tl_compact_out_free(&t.m, &out);
        scen_free(&sc);
    }
    tc_end(&t);
}

Test(compact, segment_fully_covered_by_a_newer_tombstone_is_dropped_whole) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 1000, 0);
    tl_ts_t s1[] = {100, 150, 150, 200}, s2[] = {300, 400}, s3[] = {500, 600};
    add_seg(&sc, TL_LEVEL_L1, s1, 4, 2);
    add_seg(&sc, TL_LEVEL_L1, s2, 2, 9); /* covered, but the delete is older than wm */
    add_seg(&sc, TL_LEVEL_L1, s3, 2, 2);
    add_tomb(&sc, 50, 450, 8);
    sc.in.fold_debt = true;
    finalize_in(&sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc.in, &out));
    check_outcome(&sc, &out);
    cr_assert_eq(out.n_rewritten, 1);
    cr_assert_eq(out.n_outputs, 0, "nothing of the covered segment is written");
    cr_assert_eq(out.dropped.n, 4);
    cr_assert_eq(out.n_l1, 2);
    cr_assert_eq(out.l1[0], sc.l1[1]);
    cr_assert_eq(out.l1[1], sc.l1[2]);
    tl_compact_out_free(&t.m, &out);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, hidden_l0_records_are_dropped_once_and_older_deletes_do_not_hide) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    tl_ts_t a[] = {1, 2, 3, 4, 5}, b[] = {3, 4, 5, 6, 7};
    add_seg(&sc, TL_LEVEL_L0, a, 5, 1); /* sealed before the delete */
    add_seg(&sc, TL_LEVEL_L0, b, 5, 4); /* sealed after it: already applied */
    add_tomb(&sc, 2, 4, 3);
    finalize_in(&sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc.in, &out));
    check_outcome(&sc, &out);
    cr_assert_eq(out.dropped.n, 3, "2, 3, 4 of the first segment");
    cr_assert_eq(out.n_l1, 1);
    cr_assert_eq(tl_segment_n(out.l1[0]), 7);
    tl_compact_out_free(&t.m, &out);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, target_size_cuts_only_where_the_timestamp_changes) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 1000000, 0);
    sc.in.target_recs = 10;
    tl_ts_t a[300];
    for (int i = 0; i < 300; i++)
        a[i] = i < 5 ? i : i < 205 ? 7 : i < 215 ? 8 + (i - 205) / 3 : 100 + i;
    add_seg(&sc, TL_LEVEL_L0, a, 150, 0);
    add_seg(&sc, TL_LEVEL_L0, a + 150, 150, 0);
    finalize_in(&sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc.in, &out));
    check_outcome(&sc, &out);
    bool big = false;
    for (size_t i = 0; i < out.n_l1; i++) {
        const tl_segment_t *s = out.l1[i];
        if (tl_segment_n(s) > 10) {
            big = true;
            cr_assert_eq(s->max, 7, "only the run of 7s may exceed the target");
        }
        cr_assert(i == 0 || out.l1[i - 1]->max < s->min);
    }
    cr_assert(big, "200 duplicates stay in one segment");
    tl_compact_out_free(&t.m, &out);
    scen_free(&sc);
    tc_end(&t);
}

/* Windows clipped at both int64 ends, with an origin that is not aligned
 * with either end (so the first window is shorter than size). */
Test(compact, records_at_int64_extremes_land_in_their_own_windows) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 50);
    /* Windows: [MIN, MIN + 57], [MIN + 58, MIN + 157], ..., [MAX - 57, MAX]. */
    tl_ts_t a[] = {TL_TS_MIN,       TL_TS_MIN + 57, TL_TS_MIN + 58, TL_TS_MIN + 99,
                   TL_TS_MIN + 100, TL_TS_MAX - 58, TL_TS_MAX - 57, TL_TS_MAX};
    add_seg(&sc, TL_LEVEL_L0, a, 8, 0);
    add_tomb(&sc, TL_TS_MIN, TL_TS_MIN, 1);
    add_tomb(&sc, TL_TS_MAX, TL_TS_MAX, 2);
    outcome_t oc = run_and_check(&sc);
    cr_assert_eq(oc.n_made, 4);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, extreme_windows_with_an_aligned_origin) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, (tl_ts_t)1 << 62, 0);
    /* Windows of 2^62 from origin 0 tile the line exactly: four of them. */
    tl_ts_t a[] = {TL_TS_MIN, -((tl_ts_t)1 << 62) - 1, -((tl_ts_t)1 << 62), -1,
                   0,         ((tl_ts_t)1 << 62) - 1,  (tl_ts_t)1 << 62,    TL_TS_MAX};
    add_seg(&sc, TL_LEVEL_L0, a, 8, 0);
    tl_ts_t b[] = {TL_TS_MIN + 5, TL_TS_MAX - 5};
    add_seg(&sc, TL_LEVEL_L0, b, 2, 0);
    outcome_t oc = run_and_check(&sc);
    cr_assert_eq(oc.n_made, 4);
    scen_free(&sc);
    tc_end(&t);
}

Test(compact, random_compactions_match_the_reference) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 71);
    for (int round = 0; round < 300; round++) {
        scen_t sc;
        scen_init(&sc, &t, SIZES[round % 5], ORIGINS_INNER[(round / 5) % 4]);
        gen_random(&sc, &rng, false);
        run_and_check(&sc);
        scen_free(&sc);
    }
    tc_end(&t);
}

/* The same with records, deletes and L1 segments at the int64 extremes and
 * origins at the extremes too. */
Test(compact, random_compactions_with_int64_extremes_match_the_reference) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 72);
    static const tl_ts_t origins[] = {0, 50, TL_TS_MIN, TL_TS_MAX, -7};
    for (int round = 0; round < 200; round++) {
        scen_t sc;
        scen_init(&sc, &t, SIZES[round % 5], origins[(round / 5) % 5]);
        gen_random(&sc, &rng, true);
        run_and_check(&sc);
        scen_free(&sc);
    }
    tc_end(&t);
}

/* ---------------------------------------------------------------- OOM */

Test(compact, oom_at_every_allocation_returns_enomem_without_leaking) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 73);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    /* Enough of everything to need every allocation site: scratch, output
     * blocks (including growth past the target by duplicates), fences,
     * segments, the made list past 8 entries, the dropped list past 64, the
     * final list. */
    tl_ts_t l1a[] = {-480, -470, -460}, l1b[] = {-300, -250}, l1c[] = {410, 420};
    add_seg(&sc, TL_LEVEL_L1, l1a, 3, 0);
    add_seg(&sc, TL_LEVEL_L1, l1b, 2, 0);
    add_seg(&sc, TL_LEVEL_L1, l1c, 2, 0);
    for (int s = 0; s < 3; s++) {
        tl_ts_t ts[200];
        for (int i = 0; i < 200; i++) ts[i] = i % 4 == 0 ? 0 : tlt_rng_range(&rng, -490, 490);
        add_seg(&sc, TL_LEVEL_L0, ts, 200, 0);
    }
    add_tomb(&sc, -470, -100, 1);
    sc.in.target_recs = 16;
    sc.in.fold_debt = true;
    finalize_in(&sc);
    size_t live = tl_mem_live(&t.m);
    uint64_t k;
    for (k = 1;; k++) {
        tl_compact_out_t out;
        tlt_alloc_arm(&t.a, k, 0, 0);
        tl_status_t st = tl_compact_run(&sc.in, &out);
        tlt_alloc_disarm(&t.a);
        if (st == TL_OK) {
            check_outcome(&sc, &out);
            tl_compact_out_free(&t.m, &out);
            break;
        }
        cr_assert_eq(st, TL_ENOMEM, "k=%llu: %s", (unsigned long long)k, tl_strerror(st));
        cr_assert(out.l1 == NULL && out.n_l1 == 0 && out.dropped.v == NULL && out.dropped.n == 0 &&
                      out.n_outputs == 0,
                  "k=%llu: a failed compaction left something in out", (unsigned long long)k);
        cr_assert_eq(tl_mem_live(&t.m), live, "k=%llu: %zu bytes leaked", (unsigned long long)k,
                     tl_mem_live(&t.m) - live);
        for (size_t i = 0; i < sc.n_l1; i++)
            cr_assert_eq(tl_ref_get(&sc.l1[i]->refs), 1, "k=%llu: L1 %zu reference leaked",
                         (unsigned long long)k, i);
        cr_assert_lt(k, 10000);
    }
    cr_assert_gt(k, 20, "the walk covered many allocation sites (%llu)", (unsigned long long)k);
    tc_assert_accounting(&t);
    scen_free(&sc);
    tc_end(&t);
}
