/*
 * test_tombstone.c: the immutable sequenced interval set (tl_tombstone.h).
 *
 * The reference model is the header's own definition: f(ts) is the highest
 * sequence of any delete covering ts (0 if none). Random sequences of adds are
 * checked against it point by point, on a small dense domain and with
 * intervals touching INT64_MIN / INT64_MAX. tl_tombs_validate then proves the
 * representation is canonical (sorted, disjoint, touching neighbours differ
 * in sequence), so equal functions have equal representations.
 */
#include "comp_fixture.h"
#include "tl_tombstone.h"

typedef struct add {
    tl_ts_t lo, hi;
    tl_seq_t seq;
} add_t;

static tl_seq_t model_f(const add_t *adds, size_t k, tl_ts_t x) {
    tl_seq_t best = 0;
    for (size_t i = 0; i < k; i++) {
        if (adds[i].lo <= x && x <= adds[i].hi && adds[i].seq > best) best = adds[i].seq;
    }
    return best;
}

static void assert_valid(const tl_tombs_t *t) {
    const char *why = NULL;
    cr_assert(tl_tombs_validate(t, &why), "tl_tombs_validate: %s", why ? why : "?");
}

/* The points where f can change: every endpoint and its neighbours, plus the
 * extremes. f is constant between consecutive probes. */
static size_t probes_of(const add_t *adds, size_t k, tl_ts_t *out) {
    size_t n = 0;
    out[n++] = TL_TS_MIN;
    out[n++] = TL_TS_MIN + 1;
    out[n++] = 0;
    out[n++] = TL_TS_MAX - 1;
    out[n++] = TL_TS_MAX;
    for (size_t i = 0; i < k; i++) {
        tl_ts_t e[2] = {adds[i].lo, adds[i].hi};
        for (int j = 0; j < 2; j++) {
            out[n++] = tlt_sat_add(e[j], -1);
            out[n++] = e[j];
            out[n++] = tlt_sat_add(e[j], 1);
        }
    }
    qsort(out, n, sizeof *out, tc_cmp_ts);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w == 0 || out[w - 1] != out[i]) out[w++] = out[i];
    }
    return w;
}

/* Checks set t against the model of adds[0..k): f at every probe, the
 * interval bound, max_seq, max_seq_in on probe pairs, and the cursor. */
static void check_against_model(const tl_tombs_t *t, const add_t *adds, size_t k, tlt_rng_t *rng) {
    assert_valid(t);
    tl_ts_t *pr = tc_xmalloc((6 * k + 5) * sizeof *pr);
    size_t np = probes_of(adds, k, pr);
    tl_seq_t top = 0;
    for (size_t i = 0; i < np; i++) {
        tl_seq_t want = model_f(adds, k, pr[i]);
        cr_assert_eq(tl_tombs_seq_at(t, pr[i]), want, "f(%lld): got %llu want %llu (k=%zu)",
                     (long long)pr[i], (unsigned long long)tl_tombs_seq_at(t, pr[i]),
                     (unsigned long long)want, k);
        if (want > top) top = want;
    }
    cr_assert_leq(tl_tombs_count(t), 2 * k, "more than 2 intervals per delete");
    if (k == 0) cr_assert_null(t);
    if (t != NULL) cr_assert_eq(t->max_seq, top);
    /* max_seq_in over random probe ranges: the max of f at the probes inside
     * (f is constant between probes, and lo itself is included). */
    for (int q = 0; q < 20 && np > 0; q++) {
        size_t a = (size_t)tlt_rng_below(rng, np), b = (size_t)tlt_rng_below(rng, np);
        if (a > b) {
            size_t s = a;
            a = b;
            b = s;
        }
        tl_seq_t want = 0;
        for (size_t i = a; i <= b; i++) {
            tl_seq_t f = model_f(adds, k, pr[i]);
            if (f > want) want = f;
        }
        cr_assert_eq(tl_tombs_max_seq_in(t, pr[a], pr[b]), want, "max_seq_in [%lld, %lld]",
                     (long long)pr[a], (long long)pr[b]);
    }
    /* The forward cursor, started at a random probe, visiting later probes. */
    size_t start = np == 0 ? 0 : (size_t)tlt_rng_below(rng, np);
    tl_tomb_cursor_t c;
    tl_tomb_cursor_init(&c, t, pr[start]);
    for (size_t i = start; i < np; i++) {
        if (tlt_rng_below(rng, 3) == 0) continue; /* skip some: the cursor must jump */
        cr_assert_eq(tl_tomb_cursor_seq(&c, pr[i]), model_f(adds, k, pr[i]), "cursor at %lld",
                     (long long)pr[i]);
    }
    free(pr);
}

/* A frozen copy of a set's contents, to prove old versions never change. */
typedef struct frozen {
    size_t n;
    tl_seq_t max_seq;
    tl_tomb_t *v;
} frozen_t;

static frozen_t freeze(const tl_tombs_t *t) {
    frozen_t f = {tl_tombs_count(t), t ? t->max_seq : 0, NULL};
    f.v = tc_xmalloc((f.n + 1) * sizeof *f.v);
    for (size_t i = 0; i < f.n; i++) f.v[i] = *tl_tombs_get(t, i);
    return f;
}

static void assert_unchanged(const tl_tombs_t *t, const frozen_t *f) {
    cr_assert_eq(tl_tombs_count(t), f->n, "an old set changed size");
    if (t == NULL) return;
    cr_assert_eq(t->max_seq, f->max_seq);
    for (size_t i = 0; i < f->n; i++) {
        cr_assert(memcmp(tl_tombs_get(t, i), &f->v[i], sizeof *f->v) == 0,
                  "an old set changed contents");
    }
}

/* Runs `adds` random adds with endpoints from gen; keeps every version alive
 * to the end and checks each one against its own prefix of the model. */
static void run_random(tc_t *tc, tlt_rng_t *rng, size_t n_adds, tl_ts_t (*gen)(tlt_rng_t *rng)) {
    add_t *adds = tc_xmalloc(n_adds * sizeof *adds);
    tl_tombs_t **ver = tc_xcalloc(n_adds + 1, sizeof *ver);
    frozen_t *fz = tc_xmalloc((n_adds + 1) * sizeof *fz);
    fz[0] = freeze(NULL);
    tl_seq_t seq = 0;
    for (size_t k = 0; k < n_adds; k++) {
        tl_ts_t a = gen(rng), b = gen(rng);
        adds[k].lo = a < b ? a : b;
        adds[k].hi = a < b ? b : a;
        seq += 1 + tlt_rng_below(rng, 3); /* gaps: sequences are shared with writes */
        adds[k].seq = seq;
        TLT_OK(tl_tombs_add(&tc->m, ver[k], adds[k].lo, adds[k].hi, seq, &ver[k + 1]));
        fz[k + 1] = freeze(ver[k + 1]);
        check_against_model(ver[k + 1], adds, k + 1, rng);
    }
    for (size_t k = 0; k <= n_adds; k++) {
        assert_unchanged(ver[k], &fz[k]);
        check_against_model(ver[k], adds, k, rng);
        tl_tombs_release(&tc->m, ver[k]);
        free(fz[k].v);
    }
    free(fz);
    free(ver);
    free(adds);
}

static tl_ts_t gen_small(tlt_rng_t *rng) { return tlt_rng_range(rng, -12, 12); }

static tl_ts_t gen_extreme(tlt_rng_t *rng) {
    static const tl_ts_t pool[] = {TL_TS_MIN, TL_TS_MIN + 1, TL_TS_MIN + 2, -2,       -1, 0, 1,
                                   2,         TL_TS_MAX - 2, TL_TS_MAX - 1, TL_TS_MAX};
    if (tlt_rng_below(rng, 4) == 0) return (tl_ts_t)tlt_rng_next(rng);
    return pool[tlt_rng_below(rng, sizeof pool / sizeof pool[0])];
}

Test(tombstone, add_matches_step_function_model_on_a_small_domain) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 11);
    for (int round = 0; round < 150; round++) run_random(&t, &rng, 1 + round % 25, gen_small);
    tc_end(&t);
}

Test(tombstone, add_matches_model_on_every_point_of_a_dense_domain) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 12);
    for (int round = 0; round < 60; round++) {
        tl_seq_t f[41] = {0}; /* f on [-20, 20] */
        tl_tombs_t *cur = NULL;
        for (tl_seq_t seq = 1; seq <= 30; seq++) {
            tl_ts_t a = tlt_rng_range(&rng, -16, 16), b = tlt_rng_range(&rng, -16, 16);
            tl_ts_t lo = a < b ? a : b, hi = a < b ? b : a;
            tl_tombs_t *next = NULL;
            TLT_OK(tl_tombs_add(&t.m, cur, lo, hi, seq, &next));
            tl_tombs_release(&t.m, cur);
            cur = next;
            for (tl_ts_t x = lo; x <= hi; x++) f[x + 20] = seq;
            assert_valid(cur);
            for (tl_ts_t x = -20; x <= 20; x++)
                cr_assert_eq(tl_tombs_seq_at(cur, x), f[x + 20], "x=%lld", (long long)x);
            for (int q = 0; q < 10; q++) {
                tl_ts_t ql = tlt_rng_range(&rng, -20, 20), qh = tlt_rng_range(&rng, ql, 20);
                tl_seq_t want = 0;
                for (tl_ts_t x = ql; x <= qh; x++)
                    if (f[x + 20] > want) want = f[x + 20];
                cr_assert_eq(tl_tombs_max_seq_in(cur, ql, qh), want);
            }
            /* Count the maximal constant non-zero runs: the canonical size. */
            size_t runs = 0;
            for (int i = 0; i < 41; i++)
                if (f[i] != 0 && (i == 0 || f[i - 1] != f[i])) runs++;
            cr_assert_eq(tl_tombs_count(cur), runs, "set is not coalesced");
        }
        tl_tombs_release(&t.m, cur);
    }
    tc_end(&t);
}

Test(tombstone, add_matches_model_with_intervals_touching_int64_extremes) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 13);
    for (int round = 0; round < 150; round++) run_random(&t, &rng, 1 + round % 20, gen_extreme);
    tc_end(&t);
}

static void expect_intervals(const tl_tombs_t *t, const tl_tomb_t *want, size_t n) {
    assert_valid(t);
    cr_assert_eq(tl_tombs_count(t), n, "got %zu intervals, want %zu", tl_tombs_count(t), n);
    for (size_t i = 0; i < n; i++) {
        cr_assert(tl_tombs_get(t, i)[0].lo == want[i].lo &&
                      tl_tombs_get(t, i)[0].hi == want[i].hi &&
                      tl_tombs_get(t, i)[0].seq == want[i].seq,
                  "interval %zu: got [%lld, %lld]@%llu want [%lld, %lld]@%llu", i,
                  (long long)tl_tombs_get(t, i)[0].lo, (long long)tl_tombs_get(t, i)[0].hi,
                  (unsigned long long)tl_tombs_get(t, i)[0].seq, (long long)want[i].lo,
                  (long long)want[i].hi, (unsigned long long)want[i].seq);
    }
}

/* Replaces *t by *t + [lo, hi]@seq. */
static void add_to(tc_t *tc, tl_tombs_t **t, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq) {
    tl_tombs_t *next = NULL;
    TLT_OK(tl_tombs_add(&tc->m, *t, lo, hi, seq, &next));
    tl_tombs_release(&tc->m, *t);
    *t = next;
}

Test(tombstone, splitting_the_whole_range_at_both_extremes) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, TL_TS_MIN, TL_TS_MAX, 1);
    expect_intervals(s, (tl_tomb_t[]){{TL_TS_MIN, TL_TS_MAX, 1}}, 1);
    add_to(&t, &s, TL_TS_MIN, TL_TS_MIN, 2);
    expect_intervals(s, (tl_tomb_t[]){{TL_TS_MIN, TL_TS_MIN, 2}, {TL_TS_MIN + 1, TL_TS_MAX, 1}}, 2);
    add_to(&t, &s, TL_TS_MAX, TL_TS_MAX, 3);
    expect_intervals(s,
                     (tl_tomb_t[]){{TL_TS_MIN, TL_TS_MIN, 2},
                                   {TL_TS_MIN + 1, TL_TS_MAX - 1, 1},
                                   {TL_TS_MAX, TL_TS_MAX, 3}},
                     3);
    add_to(&t, &s, 0, 0, 4);
    expect_intervals(s,
                     (tl_tomb_t[]){{TL_TS_MIN, TL_TS_MIN, 2},
                                   {TL_TS_MIN + 1, -1, 1},
                                   {0, 0, 4},
                                   {1, TL_TS_MAX - 1, 1},
                                   {TL_TS_MAX, TL_TS_MAX, 3}},
                     5);
    cr_assert_eq(tl_tombs_seq_at(s, TL_TS_MIN), 2);
    cr_assert_eq(tl_tombs_seq_at(s, TL_TS_MAX), 3);
    cr_assert_eq(tl_tombs_seq_at(s, TL_TS_MAX - 1), 1);
    cr_assert_eq(tl_tombs_max_seq_in(s, TL_TS_MIN, TL_TS_MAX), 4);
    cr_assert_eq(tl_tombs_max_seq_in(s, 1, TL_TS_MAX), 3);
    cr_assert_eq(tl_tombs_max_seq_in(s, TL_TS_MIN + 1, -1), 1);
    add_to(&t, &s, TL_TS_MIN, TL_TS_MAX, 5);
    expect_intervals(s, (tl_tomb_t[]){{TL_TS_MIN, TL_TS_MAX, 5}}, 1);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, repeated_cutoffs_collapse_to_one_interval) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    tl_seq_t seq = 0;
    /* delete_before(t) with a growing t: [MIN, t - 1]. */
    for (tl_ts_t c = -1000; c <= 1000; c += 7) {
        add_to(&t, &s, TL_TS_MIN, c - 1, ++seq);
        cr_assert_eq(tl_tombs_count(s), 1);
        assert_valid(s);
    }
    cr_assert_eq(tl_tombs_get(s, 0)[0].hi, 994);
    cr_assert_eq(tl_tombs_get(s, 0)[0].seq, seq);
    tl_tombs_release(&t.m, s);
    s = NULL;
    /* delete_since(t) with a shrinking t: [t, MAX]. */
    for (tl_ts_t c = 1000; c >= -1000; c -= 13) {
        add_to(&t, &s, c, TL_TS_MAX, ++seq);
        cr_assert_eq(tl_tombs_count(s), 1);
    }
    /* delete_all repeatedly. */
    for (int i = 0; i < 50; i++) {
        add_to(&t, &s, TL_TS_MIN, TL_TS_MAX, ++seq);
        expect_intervals(s, (tl_tomb_t[]){{TL_TS_MIN, TL_TS_MAX, seq}}, 1);
    }
    /* The set's memory does not grow with the number of cutoffs: it is what
     * a set of one fresh interval takes (one root, one leaf). */
    tl_tombs_t *one = NULL;
    TLT_OK(tl_tombs_add(&t.m, NULL, 0, 0, 1, &one));
    cr_assert_leq(tl_tombs_bytes(s), tl_tombs_bytes(one));
    tl_tombs_release(&t.m, one);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, touching_intervals_with_different_sequences_stay_separate) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 4, 1);
    add_to(&t, &s, 5, 9, 2);
    expect_intervals(s, (tl_tomb_t[]){{0, 4, 1}, {5, 9, 2}}, 2);
    add_to(&t, &s, -5, -1, 3);
    expect_intervals(s, (tl_tomb_t[]){{-5, -1, 3}, {0, 4, 1}, {5, 9, 2}}, 3);
    /* Overwriting a middle part leaves the remainders of the straddlers. */
    add_to(&t, &s, -2, 6, 4);
    expect_intervals(s, (tl_tomb_t[]){{-5, -3, 3}, {-2, 6, 4}, {7, 9, 2}}, 3);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, old_sets_are_unchanged_after_add) {
    TC_MEM(t);
    tl_tombs_t *a = NULL, *b = NULL, *c = NULL;
    TLT_OK(tl_tombs_add(&t.m, NULL, 0, 100, 1, &a));
    frozen_t fa = freeze(a);
    TLT_OK(tl_tombs_add(&t.m, a, 50, 60, 2, &b));
    frozen_t fb = freeze(b);
    TLT_OK(tl_tombs_add(&t.m, b, TL_TS_MIN, TL_TS_MAX, 3, &c));
    cr_assert(a != b && b != c);
    assert_unchanged(a, &fa);
    assert_unchanged(b, &fb);
    cr_assert_eq(tl_tombs_seq_at(a, 55), 1, "a pinned set still answers with its own f");
    cr_assert_eq(tl_tombs_seq_at(b, 55), 2);
    cr_assert_eq(tl_tombs_seq_at(c, 55), 3);
    cr_assert_eq(tl_ref_get(&a->refs), 1, "add does not take a reference to old");
    tl_tombs_release(&t.m, c);
    tl_tombs_release(&t.m, a);
    assert_unchanged(b, &fb);
    tl_tombs_release(&t.m, b);
    free(fa.v);
    free(fb.v);
    tc_end(&t);
}

Test(tombstone, add_rejects_stale_sequence_inverted_interval_and_seq_zero) {
    TC_MEM(t);
    tl_tombs_t *s = NULL, *out = (tl_tombs_t *)(uintptr_t)1;
    TLT_OK(tl_tombs_add(&t.m, NULL, 0, 10, 5, &s));
    size_t live = tl_mem_live(&t.m);
    TLT_ST(tl_tombs_add(&t.m, s, 20, 30, 5, &out), TL_EINVAL);
    cr_assert_null(out);
    out = (tl_tombs_t *)(uintptr_t)1;
    TLT_ST(tl_tombs_add(&t.m, s, 20, 30, 4, &out), TL_EINVAL);
    cr_assert_null(out);
    TLT_ST(tl_tombs_add(&t.m, s, 30, 20, 6, &out), TL_EINVAL);
    TLT_ST(tl_tombs_add(&t.m, s, TL_TS_MAX, TL_TS_MIN, 6, &out), TL_EINVAL);
    TLT_ST(tl_tombs_add(&t.m, NULL, 0, 0, 0, &out), TL_EINVAL);
    cr_assert_null(out);
    cr_assert_eq(tl_mem_live(&t.m), live, "rejected adds allocate nothing");
    /* The single point and the next sequence are fine. */
    TLT_OK(tl_tombs_add(&t.m, s, 30, 30, 6, &out));
    tl_tombs_release(&t.m, out);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, add_oom_returns_enomem_and_keeps_the_old_set) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 10, 1);
    add_to(&t, &s, 20, 30, 2);
    frozen_t f = freeze(s);
    size_t live = tl_mem_live(&t.m);
    tl_tombs_t *out = (tl_tombs_t *)(uintptr_t)1;
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_tombs_add(&t.m, s, 5, 25, 3, &out), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_null(out);
    cr_assert_eq(tl_mem_live(&t.m), live);
    assert_unchanged(s, &f);
    add_to(&t, &s, 5, 25, 3);
    expect_intervals(s, (tl_tomb_t[]){{0, 4, 1}, {5, 25, 3}, {26, 30, 2}}, 3);
    tl_tombs_release(&t.m, s);
    free(f.v);
    tc_end(&t);
}

/* ---------------------------------------------------------------- filter */

static bool forget_upto(void *ctx, const tl_tomb_t *tb) { return tb->seq <= *(tl_seq_t *)ctx; }

Test(tombstone, filter_drops_intervals_the_predicate_forgets) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 2);
    add_to(&t, &s, 40, 49, 3);
    add_to(&t, &s, 25, 44, 4);
    /* [0,9]@1 [20,24]@2 [25,44]@4 [45,49]@3 */
    tl_seq_t w = 2;
    tl_tombs_t *out = NULL;
    bool changed = false;
    TLT_OK(tl_tombs_filter(&t.m, s, forget_upto, &w, &out, &changed));
    cr_assert(changed);
    expect_intervals(out, (tl_tomb_t[]){{25, 44, 4}, {45, 49, 3}}, 2);
    cr_assert_eq(out->max_seq, 4);
    cr_assert_eq(tl_tombs_count(s), 4, "the input set is unchanged");
    tl_tombs_release(&t.m, out);

    w = 0;
    TLT_OK(tl_tombs_filter(&t.m, s, forget_upto, &w, &out, &changed));
    cr_assert_not(changed);
    cr_assert_eq(out, s, "nothing dropped: the same set, retained");
    cr_assert_eq(tl_ref_get(&s->refs), 2);
    tl_tombs_release(&t.m, out);

    w = 100;
    out = (tl_tombs_t *)(uintptr_t)1;
    TLT_OK(tl_tombs_filter(&t.m, s, forget_upto, &w, &out, &changed));
    cr_assert(changed);
    cr_assert_null(out, "everything forgotten is the empty set, NULL");

    TLT_OK(tl_tombs_filter(&t.m, NULL, forget_upto, &w, &out, &changed));
    cr_assert_null(out);
    cr_assert_not(changed);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, filter_keeps_max_seq_of_what_is_left) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 5);
    tl_seq_t w = 4; /* forget seq <= 4 */
    tl_tombs_t *out = NULL;
    bool changed;
    TLT_OK(tl_tombs_filter(&t.m, s, forget_upto, &w, &out, &changed));
    expect_intervals(out, (tl_tomb_t[]){{20, 29, 5}}, 1);
    tl_tombs_release(&t.m, out);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

static bool forget_high(void *ctx, const tl_tomb_t *tb) { return tb->seq > *(tl_seq_t *)ctx; }

Test(tombstone, filter_recomputes_max_seq_when_the_newest_goes) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 5);
    tl_seq_t w = 4;
    tl_tombs_t *out = NULL;
    bool changed;
    TLT_OK(tl_tombs_filter(&t.m, s, forget_high, &w, &out, &changed));
    expect_intervals(out, (tl_tomb_t[]){{0, 9, 1}}, 1);
    cr_assert_eq(out->max_seq, 1);
    tl_tombs_release(&t.m, out);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, filter_oom_returns_enomem_and_reports_no_change) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 2);
    tl_seq_t w = 1;
    tl_tombs_t *out = (tl_tombs_t *)(uintptr_t)1;
    bool changed = true;
    size_t live = tl_mem_live(&t.m);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_tombs_filter(&t.m, s, forget_upto, &w, &out, &changed), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_null(out);
    cr_assert_not(changed);
    cr_assert_eq(tl_mem_live(&t.m), live);
    cr_assert_eq(tl_ref_get(&s->refs), 1);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

/* ---------------------------------------------------------------- queries */

Test(tombstone, queries_on_the_empty_set_report_nothing) {
    TC_MEM(t);
    cr_assert_eq(tl_tombs_count(NULL), 0);
    cr_assert_eq(tl_tombs_seq_at(NULL, 0), 0);
    cr_assert_eq(tl_tombs_max_seq_in(NULL, TL_TS_MIN, TL_TS_MAX), 0);
    cr_assert_eq(tl_tombs_seek(NULL, 0), 0);
    cr_assert_eq(tl_tombs_bytes(NULL), 0);
    tl_tomb_cursor_t c;
    tl_tomb_cursor_init(&c, NULL, TL_TS_MIN);
    cr_assert_eq(tl_tomb_cursor_seq(&c, TL_TS_MIN), 0);
    cr_assert_eq(tl_tomb_cursor_seq(&c, TL_TS_MAX), 0);
    tl_tombs_retain(NULL);
    tl_tombs_release(&t.m, NULL);
    const char *why = NULL;
    cr_assert(tl_tombs_validate(NULL, &why));
    tc_end(&t);
}

Test(tombstone, seek_finds_first_interval_ending_at_or_after_ts) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 2);
    add_to(&t, &s, 40, 49, 3);
    cr_assert_eq(tl_tombs_seek(s, TL_TS_MIN), 0);
    cr_assert_eq(tl_tombs_seek(s, 9), 0);
    cr_assert_eq(tl_tombs_seek(s, 10), 1);
    cr_assert_eq(tl_tombs_seek(s, 29), 1);
    cr_assert_eq(tl_tombs_seek(s, 30), 2);
    cr_assert_eq(tl_tombs_seek(s, 50), 3);
    cr_assert_eq(tl_tombs_seek(s, TL_TS_MAX), 3);
    cr_assert_eq(tl_tombs_seq_at(s, 15), 0, "gaps are not deleted");
    cr_assert_eq(tl_tombs_max_seq_in(s, 10, 19), 0);
    cr_assert_eq(tl_tombs_max_seq_in(s, 10, 20), 2);
    cr_assert_eq(tl_tombs_max_seq_in(s, 9, 9), 1);
    cr_assert_eq(tl_tombs_max_seq_in(s, 0, 49), 3);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, cursor_walks_forward_across_gaps_and_intervals) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 2);
    add_to(&t, &s, 40, TL_TS_MAX, 3);
    tl_tomb_cursor_t c;
    tl_tomb_cursor_init(&c, s, TL_TS_MIN);
    for (tl_ts_t x = -5; x <= 60; x++)
        cr_assert_eq(tl_tomb_cursor_seq(&c, x), tl_tombs_seq_at(s, x), "x=%lld", (long long)x);
    cr_assert_eq(tl_tomb_cursor_seq(&c, TL_TS_MAX), 3);
    /* Started in the middle, it never looks back. */
    tl_tomb_cursor_init(&c, s, 25);
    cr_assert_eq(c.i, 1);
    cr_assert_eq(tl_tomb_cursor_seq(&c, 25), 2);
    cr_assert_eq(tl_tomb_cursor_seq(&c, 35), 0);
    cr_assert_eq(tl_tomb_cursor_seq(&c, 40), 3);
    /* Repeated queries at the same timestamp give the same answer. */
    cr_assert_eq(tl_tomb_cursor_seq(&c, 40), 3);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

Test(tombstone, bytes_match_the_allocation_and_release_returns_them) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    cr_assert_eq(tl_mem_live(&t.m), tl_tombs_bytes(s));
    tc_assert_accounting(&t);
    tl_tombs_retain(s);
    tl_tombs_release(&t.m, s);
    cr_assert_eq(tl_mem_live(&t.m), tl_tombs_bytes(s), "one reference left");
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

/* ---------------------------------------------------------------- validate */

/* A set this small is one leaf: its root. */
#define LEAF0(s) (((tl_tomb_leaf_t *)(s)->root)->v)

Test(tombstone, validate_rejects_malformed_sets) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    add_to(&t, &s, 0, 9, 1);
    add_to(&t, &s, 20, 29, 2);
    add_to(&t, &s, 40, 49, 3);
    assert_valid(s);
    const tl_tomb_t good[3] = {LEAF0(s)[0], LEAF0(s)[1], LEAF0(s)[2]};
    const char *why;
#define EXPECT_INVALID(what)                                                      \
    do {                                                                          \
        why = NULL;                                                               \
        cr_assert_not(tl_tombs_validate(s, &why), "validate accepted: %s", what); \
        cr_assert_not_null(why);                                                  \
        memcpy(LEAF0(s), good, sizeof good);                                      \
        s->n = 3;                                                                 \
        s->max_seq = 3;                                                           \
        assert_valid(s);                                                          \
    } while (0)

    s->n = 0;
    EXPECT_INVALID("an empty non-NULL set");
    LEAF0(s)[1].lo = 30;
    EXPECT_INVALID("lo > hi");
    LEAF0(s)[1].seq = 0;
    EXPECT_INVALID("sequence 0");
    LEAF0(s)[0].hi = 20;
    EXPECT_INVALID("overlapping intervals");
    LEAF0(s)[0] = good[2];
    LEAF0(s)[2] = good[0];
    EXPECT_INVALID("unsorted intervals");
    LEAF0(s)[0].hi = 19;
    LEAF0(s)[1].seq = 1;
    LEAF0(s)[2].seq = 1;
    s->max_seq = 1;
    EXPECT_INVALID("touching intervals with equal sequence");
    s->max_seq = 7;
    EXPECT_INVALID("stale max_seq");
    LEAF0(s)[2].seq = 9; /* max_seq still 3 */
    EXPECT_INVALID("max_seq below an interval's sequence");
#undef EXPECT_INVALID
    /* Touching with equal sequence only matters when they touch. */
    LEAF0(s)[1].seq = 1;
    s->max_seq = 3;
    assert_valid(s);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

/* Inner nodes keep each kid's key and pointer twice (k[j] and the contiguous
 * key[] / kid[] that descents search): validate must catch them disagreeing,
 * and point deletes on a prefetching-size set (in place, and on a pinned
 * version, through copies) must keep them in step. */
Test(tombstone, validate_rejects_stale_inner_keys_and_adds_keep_them_in_step) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    tl_seq_t seq = 0;
    for (tl_ts_t i = 0; i < 20000; i++) add_to(&t, &s, 4 * i, 4 * i, ++seq);
    cr_assert_geq(s->root->level, 2);
    tl_tomb_inner_t *root = (tl_tomb_inner_t *)s->root;
    const char *why = NULL;
    root->key[1]--;
    cr_assert_not(tl_tombs_validate(s, &why), "validate accepted a stale key[]");
    root->key[1]++;
    tl_tomb_node_t *kid = root->kid[1];
    root->kid[1] = root->kid[0];
    cr_assert_not(tl_tombs_validate(s, &why), "validate accepted a stale kid[]");
    root->kid[1] = kid;
    assert_valid(s);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 77);
    tl_ts_t top = 4 * 19999;
    for (int k = 0; k < 3000; k++) {
        /* Some past the end: they move the last key of every node on the
         * rightmost path. */
        bool past = k % 7 == 0;
        tl_ts_t x = past ? (top += 3) : 4 * tlt_rng_range(&rng, 0, 19999) + 2;
        tl_tombs_t *pin = NULL, *next = NULL;
        tl_seq_t before = tl_tombs_seq_at(s, x);
        if (k % 500 == 0) {
            pin = s; /* a pinned version: the add must copy the path */
            tl_tombs_retain(pin);
            TLT_OK(tl_tombs_add(&t.m, s, x, x, ++seq, &next));
            tl_tombs_release(&t.m, s);
        } else {
            TLT_OK(tl_tombs_replace(&t.m, s, x, x, ++seq, &next)); /* in place, mostly */
        }
        s = next;
        cr_assert_eq(tl_tombs_seq_at(s, x), seq);
        cr_assert_eq(tl_tombs_seq_at(s, x + 1), 0);
        if (k % 100 == 0) assert_valid(s);
        if (!past) cr_assert_neq(tl_tombs_seq_at(s, x - 2), 0);
        if (pin != NULL) {
            cr_assert_eq(tl_tombs_seq_at(pin, x), before, "the pinned version changed");
            assert_valid(pin);
            tl_tombs_release(&t.m, pin);
        }
    }
    assert_valid(s);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

/* Thousands of intervals: adds split leaves, wide deletes drop whole leaves
 * and rebuild the two at their ends, and old versions sharing leaves with
 * new ones stay intact. Checked point by point against f on [0, 20000). */
Test(tombstone, many_intervals_across_many_leaves_match_the_model) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 31);
    enum { D = 20000 };
    tl_seq_t *f = tc_xcalloc(D, sizeof *f);
    tl_seq_t *f_old = tc_xcalloc(D, sizeof *f_old);
    tl_tombs_t *cur = NULL, *old = NULL;
    for (tl_seq_t seq = 1; seq <= 3000; seq++) {
        tl_ts_t lo = tlt_rng_range(&rng, 0, D - 1);
        tl_ts_t len = seq % 97 == 0 ? tlt_rng_range(&rng, 500, 4000) : tlt_rng_range(&rng, 0, 4);
        tl_ts_t hi = lo + len < D ? lo + len : D - 1;
        tl_tombs_t *next = NULL;
        if (seq == 1500) {
            TLT_OK(tl_tombs_add(&t.m, cur, lo, hi, seq, &next));
            old = cur; /* keep one version alive across 1500 later adds */
            memcpy(f_old, f, D * sizeof *f);
        } else if (seq % 2 == 0) {
            /* Sole owner: the new set takes the old one's nodes over. */
            TLT_OK(tl_tombs_replace(&t.m, cur, lo, hi, seq, &next));
        } else {
            TLT_OK(tl_tombs_add(&t.m, cur, lo, hi, seq, &next));
            tl_tombs_release(&t.m, cur);
        }
        cur = next;
        for (tl_ts_t x = lo; x <= hi; x++) f[x] = seq;
        if (seq % 250 == 0) {
            assert_valid(cur);
            cr_assert_gt(cur->root->level, 0);
            for (tl_ts_t x = 0; x < D; x++)
                cr_assert_eq(tl_tombs_seq_at(cur, x), f[x], "seq %llu x=%lld",
                             (unsigned long long)seq, (long long)x);
            tl_tomb_cursor_t c;
            tl_tomb_cursor_init(&c, cur, 0);
            for (tl_ts_t x = 0; x < D; x += 1 + (x % 7))
                cr_assert_eq(tl_tomb_cursor_seq(&c, x), f[x], "cursor x=%lld", (long long)x);
        }
    }
    assert_valid(old);
    for (tl_ts_t x = 0; x < D; x++)
        cr_assert_eq(tl_tombs_seq_at(old, x), f_old[x], "old x=%lld", (long long)x);
    tl_tombs_release(&t.m, old);
    tl_tombs_release(&t.m, cur);
    free(f);
    free(f_old);
    tc_end(&t);
}

Test(tombstone, replace_refuses_a_shared_set_and_leaves_it_intact) {
    TC_MEM(t);
    tl_tombs_t *a = NULL, *b = NULL, *c = NULL;
    TLT_OK(tl_tombs_add(&t.m, NULL, 0, 9, 1, &a));
    tl_tombs_retain(a); /* a pinned copy */
    TLT_ST(tl_tombs_replace(&t.m, a, 20, 29, 2, &b), TL_EINVAL);
    cr_assert_null(b);
    tl_tombs_release(&t.m, a);
    TLT_OK(tl_tombs_replace(&t.m, a, 20, 29, 2, &c)); /* a is consumed */
    cr_assert_eq(tl_tombs_count(c), 2);
    cr_assert_eq(tl_tombs_seq_at(c, 5), 1);
    cr_assert_eq(tl_tombs_seq_at(c, 25), 2);
    tl_tombs_release(&t.m, c);
    tc_end(&t);
}

/* ---------------------------------------------------------------- deep trees */

/* Checks every interval of t against f on [0, D): walking f's runs gives the
 * exact interval list (f's runs of equal nonzero value are split only where
 * the set keeps touching intervals of different sequence, which the model
 * cannot see, so compare f point by point through the cursor instead). */
static void check_dense(const tl_tombs_t *t, const tl_seq_t *f, tl_ts_t D) {
    assert_valid(t);
    tl_tomb_cursor_t c;
    tl_tomb_cursor_init(&c, t, 0);
    for (tl_ts_t x = 0; x < D; x++)
        cr_assert_eq(tl_tomb_cursor_seq(&c, x), f[x], "cursor x=%lld", (long long)x);
    for (tl_ts_t x = 0; x < D; x += 97)
        cr_assert_eq(tl_tombs_seq_at(t, x), f[x], "seq_at x=%lld", (long long)x);
    /* get(i) and seek agree with the in-order walk. */
    for (size_t i = 0; i < tl_tombs_count(t); i += 1 + i / 50) {
        const tl_tomb_t *v = tl_tombs_get(t, i);
        cr_assert_eq(tl_tombs_seek(t, v->lo), i);
        cr_assert_eq(tl_tombs_seek(t, v->hi), i);
    }
}

/* Tens of thousands of point and short deletes grow the tree to three levels;
 * occasional wide deletes drop whole subtrees and merge what is left at their
 * ends. Sole-owner replaces (in place where the change stays in one leaf)
 * alternate with adds that must leave a pinned version untouched. */
Test(tombstone, deep_tree_point_and_wide_deletes_match_the_model) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 77);
    enum { D = 400000 };
    tl_seq_t *f = tc_xcalloc(D, sizeof *f);
    tl_tombs_t *cur = NULL;
    tl_tombs_t *pinned = NULL;
    frozen_t fz = {0, 0, NULL};
    unsigned deepest = 0;
    for (tl_seq_t seq = 1; seq <= 60000; seq++) {
        tl_ts_t lo = 4 * tlt_rng_range(&rng, 0, D / 4 - 1);
        tl_ts_t len =
            seq % 5000 == 0 ? tlt_rng_range(&rng, 1000, 60000) : tlt_rng_range(&rng, 0, 2);
        tl_ts_t hi = lo + len < D ? lo + len : D - 1;
        tl_tombs_t *next = NULL;
        if (seq % 7000 == 0) {
            /* Pin this version across the following adds. */
            if (pinned != NULL) {
                assert_unchanged(pinned, &fz);
                tl_tombs_release(&t.m, pinned);
                free(fz.v);
            }
            tl_tombs_retain(cur);
            pinned = cur;
            fz = freeze(pinned);
        }
        if (cur != NULL && tl_ref_get(&cur->refs) == 1 && seq % 3 != 0) {
            TLT_OK(tl_tombs_replace(&t.m, cur, lo, hi, seq, &next));
        } else {
            TLT_OK(tl_tombs_add(&t.m, cur, lo, hi, seq, &next));
            tl_tombs_release(&t.m, cur);
        }
        cur = next;
        for (tl_ts_t x = lo; x <= hi; x++) f[x] = seq;
        if (cur->root->level > deepest) deepest = cur->root->level;
        if (seq % 20000 == 0 || seq % 5000 == 1) check_dense(cur, f, D);
    }
    cr_assert_geq(deepest, 2, "the workload reaches a three-level tree (got %u)", deepest);
    check_dense(cur, f, D);
    /* max_seq_in answers from subtree summaries: compare with a scan. */
    for (int q = 0; q < 300; q++) {
        tl_ts_t a = tlt_rng_range(&rng, 0, D - 1), b = tlt_rng_range(&rng, 0, D - 1);
        if (a > b) {
            tl_ts_t s = a;
            a = b;
            b = s;
        }
        if (q % 3 == 0)
            b = a + tlt_rng_range(&rng, 0, 50) < D ? a + tlt_rng_range(&rng, 0, 50) : D - 1;
        tl_seq_t want = 0;
        for (tl_ts_t x = a; x <= b; x++) want = f[x] > want ? f[x] : want;
        cr_assert_eq(tl_tombs_max_seq_in(cur, a, b), want, "max_seq_in [%lld, %lld]", (long long)a,
                     (long long)b);
    }
    assert_unchanged(pinned, &fz);
    tl_tombs_release(&t.m, pinned);
    free(fz.v);
    tl_tombs_release(&t.m, cur);
    cr_assert_eq(tl_mem_live(&t.m), 0, "every node freed");
    free(f);
    tc_end(&t);
}

/* On a three-level tree, failing each allocation of an add in turn (shared
 * set: the functional path; sole owner: replace, whose split path allocates)
 * reports ENOMEM, frees what it built and leaves the set exactly as it was. */
Test(tombstone, oom_at_each_allocation_on_a_deep_tree_keeps_the_set) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    tl_seq_t seq = 0;
    for (tl_ts_t i = 0; i < 150000; i++) add_to(&t, &s, 4 * i, 4 * i, ++seq);
    cr_assert_geq(s->root->level, 2);
    const tl_ts_t shapes[][2] = {{401, 402},
                                 {0, 599999},
                                 {1000, 300001},
                                 {4 * 149999 + 2, 4 * 149999 + 2}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        for (int replace = 0; replace < 2; replace++) {
            frozen_t f = freeze(s);
            for (uint64_t at = 1;; at++) {
                size_t live = tl_mem_live(&t.m);
                tl_tombs_t *out = NULL;
                tlt_alloc_arm(&t.a, at, 0, 0);
                uint64_t inj0 = tlt_alloc_injected(&t.a);
                tl_status_t st =
                    replace ? tl_tombs_replace(&t.m, s, shapes[k][0], shapes[k][1], seq + 1, &out)
                            : tl_tombs_add(&t.m, s, shapes[k][0], shapes[k][1], seq + 1, &out);
                bool injected = tlt_alloc_injected(&t.a) > inj0;
                tlt_alloc_disarm(&t.a);
                if (!injected) {
                    /* Every allocation of this add has been failed once:
                     * undo the successful one on a copy of the old set. */
                    TLT_OK(st);
                    assert_valid(out);
                    cr_assert_eq(tl_tombs_seq_at(out, shapes[k][0]), seq + 1);
                    tl_tombs_release(&t.m, out);
                    if (replace) {
                        s = NULL; /* consumed: rebuild the original */
                        for (size_t i = 0; i < f.n; i++)
                            add_to(&t, &s, f.v[i].lo, f.v[i].hi, f.v[i].seq);
                    }
                    break;
                }
                TLT_ST(st, TL_ENOMEM);
                cr_assert_null(out);
                cr_assert_eq(tl_mem_live(&t.m), live, "nothing leaked at allocation %llu",
                             (unsigned long long)at);
                assert_valid(s);
                assert_unchanged(s, &f);
            }
            free(f.v);
        }
    }
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}

static size_t count_leaves(const tl_tomb_node_t *x) {
    if (x->level == 0) return 1;
    const tl_tomb_inner_t *in = (const tl_tomb_inner_t *)x;
    size_t n = 0;
    for (size_t j = 0; j < x->n; j++) n += count_leaves(in->k[j].node);
    return n;
}

/* Deletes in time order (retention) append at the end of the set: each
 * overflowing leaf keeps 3/4 of its intervals instead of half, so the set
 * takes ~1/3 less memory than an even split would leave behind. */
Test(tombstone, deletes_in_time_order_leave_leaves_three_quarters_full) {
    TC_MEM(t);
    tl_tombs_t *s = NULL;
    enum { N = 20000 };
    for (tl_ts_t i = 0; i < N; i++) {
        tl_tombs_t *next = NULL;
        TLT_OK(tl_tombs_replace(&t.m, s, 3 * i, 3 * i + 1, (tl_seq_t)i + 1, &next));
        s = next;
    }
    assert_valid(s);
    cr_assert_eq(tl_tombs_count(s), N);
    size_t leaves = count_leaves(s->root);
    cr_assert_leq(leaves, N / (TL_TOMB_LEAF_CAP * 3 / 4) + 2, "%zu leaves for %d intervals", leaves,
                  N);
    tl_tombs_release(&t.m, s);
    tc_end(&t);
}
