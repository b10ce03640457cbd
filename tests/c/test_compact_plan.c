/*
 * test_compact_plan.c: tl_compact_plan (tl_compact.h) under
 * compaction_max_windows (issue 17), against the scenarios and reference
 * outcome of compact_scenario.h.
 */
#include "compact_scenario.h"

/* ---------------------------------------------------------------- plan
 * tl_compact_plan under compaction_max_windows (issue 17): the oldest L0
 * segments whose windows fit, at least one; then debt in the lowest L1
 * windows. The reference counts windows by brute force: distinct grid
 * windows (oracle_window) of every record of the prefix; L1 windows in
 * these scenarios are grid windows too, so the engine's placement agrees. */

static size_t ref_prefix_windows(const scen_t *sc, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += tl_segment_n(sc->l0[i]);
    tl_ts_t *lo = tc_xcalloc(total + 1, sizeof *lo);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < tl_segment_n(sc->l0[i]); j++)
            lo[k++] =
                oracle_window(sc->l0[i]->recs->ts[j], sc->in.window_size, sc->in.window_origin).lo;
    qsort(lo, k, sizeof *lo, tc_cmp_ts);
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++) distinct += i == 0 || lo[i] != lo[i - 1];
    free(lo);
    return distinct;
}

/* The L0 prefix the bounds allow, by the definition. */
static size_t ref_plan_l0(const scen_t *sc, size_t max_inputs, size_t max_windows) {
    size_t n = sc->n_l0;
    if (max_inputs != 0 && n > max_inputs) n = max_inputs;
    if (max_windows == 0) return n;
    size_t take = 0;
    while (take < n && ref_prefix_windows(sc, take + 1) <= max_windows) take++;
    return take == 0 && n > 0 ? 1 : take;
}

/* Distinct windows of the segments compaction wrote (the survivors are the
 * input pointers). */
static size_t written_windows(const scen_t *sc, const tl_compact_out_t *out) {
    size_t n = 0;
    bool have = false;
    tl_ts_t last = 0;
    for (size_t k = 0; k < out->n_l1; k++) {
        const tl_segment_t *s = out->l1[k];
        bool input = false;
        for (size_t i = 0; i < sc->n_l1; i++) input = input || sc->l1[i] == s;
        if (input || (have && s->window.lo == last)) continue;
        have = true;
        last = s->window.lo;
        n++;
    }
    return n;
}

static tl_compact_plan_t plan_of(scen_t *sc, size_t max_inputs, size_t max_windows) {
    finalize_in(sc);
    tl_compact_plan_t p;
    tl_compact_plan(&sc->in, max_inputs, max_windows, &p);
    return p;
}

/* Ten L0 segments, one per window but in the order 3 3 0 5 1 9 ...:
 * oldest first, as many as fit. A segment in a window already taken is
 * free; the first one that would add a window past the bound ends the
 * prefix (no skipping ahead: L0 leaves in age order). */
Test(compact, plan_takes_the_oldest_l0_segments_whose_windows_fit) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    static const int order[] = {3, 3, 0, 5, 1, 9, 2, 2, 7, 4};
    for (int i = 0; i < 10; i++) {
        tl_ts_t ts[5];
        for (int j = 0; j < 5; j++) ts[j] = order[i] * 100 + 10 * j + i;
        add_seg(&sc, TL_LEVEL_L0, ts, 5, 0);
    }
    static const struct {
        size_t max_inputs, max_windows, n_l0, windows;
        bool bounded;
    } rows[] = {
        {0, 0, 10, 0, false},  /* no bound: everything */
        {4, 0, 4, 0, false},   /* max_inputs alone */
        {0, 1, 2, 1, true},    /* 3, 3 */
        {0, 2, 3, 2, true},    /* 3, 3, 0 */
        {0, 3, 4, 3, true},    /* + 5 */
        {0, 6, 8, 6, true},    /* + 1, 9, 2, 2 */
        {0, 8, 10, 8, false},  /* all ten fit in eight windows */
        {0, 99, 10, 8, false}, /* a loose bound changes nothing */
        {2, 3, 2, 1, false},   /* max_inputs binds first */
        {5, 3, 4, 3, true},    /* the window bound binds first */
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        uint64_t calls = t.a.calls;
        tl_compact_plan_t p = plan_of(&sc, rows[r].max_inputs, rows[r].max_windows);
        cr_assert_eq(t.a.calls, calls, "row %zu: planning allocated", r);
        cr_assert_eq(p.n_l0, rows[r].n_l0, "row %zu: n_l0 %zu", r, p.n_l0);
        cr_assert_eq(p.windows, rows[r].windows, "row %zu: windows %zu", r, p.windows);
        cr_assert_eq(p.bounded, rows[r].bounded, "row %zu", r);
        cr_assert_eq(p.n_l0, ref_plan_l0(&sc, rows[r].max_inputs, rows[r].max_windows));
        /* The planned compaction writes exactly the planned windows. */
        sc.in.n_l0 = p.n_l0;
        tl_compact_out_t out;
        TLT_OK(tl_compact_run(&sc.in, &out));
        if (rows[r].max_windows != 0)
            cr_assert_eq(written_windows(&sc, &out), p.windows, "row %zu", r);
        tl_compact_out_free(&t.m, &out);
    }
    scen_free(&sc);
    tc_end(&t);
}

/* One L0 segment over six windows with max_windows 2: it is taken alone
 * (the bound is exceeded rather than L0 never draining), and nothing
 * after it rides along. */
Test(compact, plan_takes_an_l0_segment_wider_than_the_bound_alone) {
    TC_MEM(t);
    scen_t sc;
    scen_init(&sc, &t, 100, 0);
    tl_ts_t wide[12], narrow[] = {50, 51};
    for (int i = 0; i < 12; i++) wide[i] = 50 * i; /* windows 0..5 */
    add_seg(&sc, TL_LEVEL_L0, wide, 12, 0);
    add_seg(&sc, TL_LEVEL_L0, narrow, 2, 0); /* inside window 0: would be free */
    tl_compact_plan_t p = plan_of(&sc, 0, 2);
    cr_assert_eq(p.n_l0, 1);
    cr_assert(p.bounded);
    cr_assert_gt(p.windows, 2, "counted past the bound, then stopped");
    p = plan_of(&sc, 1, 2);
    cr_assert_eq(p.n_l0, 1);
    cr_assert_not(p.bounded, "max_inputs already said one");
    scen_free(&sc);
    tc_end(&t);
}

/* Debt under the bound: L1 windows 0..7 each carry delete debt; with no
 * L0 the lowest max_windows of them are folded. With an L0 segment in
 * window 6, that window is written anyway (its records lie inside both
 * of its segments) and the rest of the bound goes to the lowest windows.
 * fold_l1_end is honoured by tl_compact_run. */
Test(compact, plan_folds_debt_in_the_lowest_windows_first) {
    TC_MEM(t);
    for (int with_l0 = 0; with_l0 < 2; with_l0++) {
        scen_t sc;
        scen_init(&sc, &t, 100, 0);
        for (int w = 0; w < 8; w++) {
            tl_ts_t a[] = {w * 100 + 10, w * 100 + 20}, b[] = {w * 100 + 60, w * 100 + 70};
            add_seg(&sc, TL_LEVEL_L1, a, 2, 1);
            add_seg(&sc, TL_LEVEL_L1, b, 2, 1); /* two segments share each window */
        }
        add_tomb(&sc, 15, 765, 5); /* debt in every window */
        if (with_l0) {
            tl_ts_t l0[] = {615, 665};
            add_seg(&sc, TL_LEVEL_L0, l0, 2, 0);
        }
        sc.in.fold_debt = true;
        tl_compact_plan_t p = plan_of(&sc, 0, 3);
        cr_assert(p.bounded);
        cr_assert_eq(p.windows, 3);
        cr_assert(p.fold_debt);
        /* No L0: windows 0, 1, 2 (six segments). With L0 in window 6:
         * windows 6, 0, 1 (window 6 lies beyond fold_l1_end, but the L0
         * records inside its segments rewrite them anyway). */
        cr_assert_eq(p.fold_l1_end, with_l0 ? 4 : 6, "fold_l1_end %zu", p.fold_l1_end);
        sc.in.n_l0 = p.n_l0;
        sc.in.fold_debt = p.fold_debt;
        sc.in.fold_l1_end = p.fold_l1_end;
        outcome_t oc = run_and_check(&sc);
        cr_assert_eq(oc.n_touched, 6);
        /* Unbounded, the same inputs fold every window. */
        sc.in.fold_l1_end = 0;
        p = plan_of(&sc, 0, 0);
        cr_assert_eq(p.fold_l1_end, 0);
        cr_assert_not(p.bounded);
        scen_free(&sc);
    }
    tc_end(&t);
}

/* Random scenarios and bounds: the L0 prefix is the reference's, the
 * compaction it plans writes no more windows than planned (so at most
 * max_windows unless one L0 segment alone is wider), and the outcome is
 * exact (check_outcome honours fold_l1_end). */
Test(compact, random_plans_match_the_reference_and_bound_the_windows) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 74);
    for (int round = 0; round < 300; round++) {
        scen_t sc;
        scen_init(&sc, &t, SIZES[round % 5], ORIGINS_INNER[(round / 5) % 4]);
        gen_random(&sc, &rng, round % 3 == 0);
        sc.in.fold_l1_end = 0;
        size_t max_inputs = (size_t)tlt_rng_below(&rng, 4);
        size_t max_windows = (size_t)tlt_rng_below(&rng, 5);
        tl_compact_plan_t p = plan_of(&sc, max_inputs, max_windows);
        cr_assert_eq(p.n_l0, ref_plan_l0(&sc, max_inputs, max_windows), "round %d", round);
        sc.in.n_l0 = p.n_l0;
        sc.in.fold_debt = p.fold_debt;
        sc.in.fold_l1_end = p.fold_l1_end;
        tl_compact_out_t out;
        TLT_OK(tl_compact_run(&sc.in, &out));
        check_outcome(&sc, &out);
        if (max_windows != 0) {
            size_t w = written_windows(&sc, &out);
            if (p.windows <= max_windows) {
                cr_assert_leq(w, p.windows, "round %d: wrote %zu windows, planned %zu", round, w,
                              p.windows);
            } else {
                cr_assert_eq(p.n_l0, 1, "round %d: over the bound only alone", round);
            }
        }
        tl_compact_out_free(&t.m, &out);
        scen_free(&sc);
    }
    tc_end(&t);
}
