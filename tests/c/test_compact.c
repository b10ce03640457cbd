/*
 * test_compact.c: L0 (+ touched L1) -> windowed L1 (tl_compact.h).
 *
 * Inputs are built directly (tl_recs_create + tl_segment_create). Every
 * handle is unique and remembers its timestamp and its source, so the
 * reference outcome of a compaction follows from the header alone:
 * - an L1 segment is touched when an L0 record lies in its [min, max], or,
 *   with fold_debt, when a delete newer than its watermark meets it;
 * - a record of an L0 input or a touched L1 segment is dropped (handle in
 *   out.dropped, once) iff a delete newer than its source's watermark covers
 *   it, and is written to exactly one output segment otherwise;
 * - an untouched L1 segment survives as the same pointer.
 * The output list must be sorted and disjoint, each new segment inside one
 * window, cut for size only where the timestamp changes. Only the first
 * in.n_l0 L0 inputs and, with fold_l1_end, only l1[0, fold_l1_end) for debt
 * take part (what a bounded plan selects, tl_compact_plan, checked below).
 */
#include <stdio.h>

#include "comp_fixture.h"
#include "tl_compact.h"

__extension__ typedef __int128 i128;

/* Exact window arithmetic (the reference of test_window.c). */
static tl_window_t oracle_window(tl_ts_t ts, tl_ts_t size, tl_ts_t origin) {
    i128 d = (i128)ts - (i128)origin;
    i128 k = d / size;
    if (d % size < 0) k--;
    i128 lo = (i128)origin + k * (i128)size;
    i128 hi = lo + (i128)size - 1;
    if (lo < (i128)TL_TS_MIN) lo = TL_TS_MIN;
    if (hi > (i128)TL_TS_MAX) hi = TL_TS_MAX;
    tl_window_t w = {(tl_ts_t)lo, (tl_ts_t)hi};
    return w;
}

typedef struct add {
    tl_ts_t lo, hi;
    tl_seq_t seq;
} add_t;

typedef struct rinfo {
    tl_ts_t ts;
    bool l1;    /* from an L1 input (else L0) */
    size_t src; /* index in the L0 or L1 input list */
} rinfo_t;

typedef struct scen {
    tc_t *t;
    tl_segment_t **l0, **l1;
    size_t n_l0, n_l1, cap_l0, cap_l1;
    add_t adds[64];
    size_t n_adds;
    tl_tombs_t *tombs;
    rinfo_t *info; /* by handle */
    size_t n_h, cap_h;
    tl_compact_in_t in;
} scen_t;

static void scen_init(scen_t *sc, tc_t *t, tl_ts_t window_size, tl_ts_t origin) {
    memset(sc, 0, sizeof *sc);
    sc->t = t;
    sc->cap_l0 = sc->cap_l1 = 512;
    sc->l0 = tc_xcalloc(sc->cap_l0, sizeof *sc->l0);
    sc->l1 = tc_xcalloc(sc->cap_l1, sizeof *sc->l1);
    sc->cap_h = 1 << 16;
    sc->info = tc_xcalloc(sc->cap_h, sizeof *sc->info);
    sc->in.mem = &t->m;
    sc->in.window_size = window_size;
    sc->in.window_origin = origin;
    sc->in.page_recs = 4;
    sc->in.target_recs = 1000;
    sc->in.wm = 0;
}

static void scen_free(scen_t *sc) {
    for (size_t i = 0; i < sc->n_l0; i++) tl_segment_release(&sc->t->m, sc->l0[i]);
    for (size_t i = 0; i < sc->n_l1; i++) tl_segment_release(&sc->t->m, sc->l1[i]);
    tl_tombs_release(&sc->t->m, sc->tombs);
    free(sc->l0);
    free(sc->l1);
    free(sc->info);
}

/* Adds a segment over ts[0..n) (any order) with fresh handles. L1 segments
 * get the window of their first timestamp. */
static tl_segment_t *add_seg(scen_t *sc, int level, const tl_ts_t *ts, size_t n, tl_seq_t wm) {
    cr_assert_gt(n, 0);
    cr_assert_leq(sc->n_h + n, sc->cap_h);
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&sc->t->m, n, &r));
    for (size_t i = 0; i < n; i++) {
        r->ts[i] = ts[i];
        r->h[i] = sc->n_h + i;
    }
    tlt_sort_pairs(r->ts, r->h, n);
    r->n = n;
    bool l1 = level == TL_LEVEL_L1;
    tl_window_t w = {0, 0};
    if (l1) w = oracle_window(r->ts[0], sc->in.window_size, sc->in.window_origin);
    tl_segment_t *s = NULL;
    TLT_OK(tl_segment_create(&sc->t->m, level, r, 1 + n % 5, wm, w, &s));
    tl_recs_release(&sc->t->m, r);
    size_t idx = l1 ? sc->n_l1 : sc->n_l0;
    for (size_t i = 0; i < n; i++) {
        sc->info[sc->n_h + i].ts = ts[i];
        sc->info[sc->n_h + i].l1 = l1;
        sc->info[sc->n_h + i].src = idx;
    }
    sc->n_h += n;
    if (l1) {
        cr_assert_lt(sc->n_l1, sc->cap_l1);
        cr_assert(sc->n_l1 == 0 || sc->l1[sc->n_l1 - 1]->max < s->min, "test builds bad L1");
        sc->l1[sc->n_l1++] = s;
    } else {
        cr_assert_lt(sc->n_l0, sc->cap_l0);
        sc->l0[sc->n_l0++] = s;
    }
    return s;
}

static void add_tomb(scen_t *sc, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq) {
    cr_assert_lt(sc->n_adds, 64);
    tl_tombs_t *next = NULL;
    TLT_OK(tl_tombs_add(&sc->t->m, sc->tombs, lo, hi, seq, &next));
    tl_tombs_release(&sc->t->m, sc->tombs);
    sc->tombs = next;
    sc->adds[sc->n_adds].lo = lo;
    sc->adds[sc->n_adds].hi = hi;
    sc->adds[sc->n_adds].seq = seq;
    sc->n_adds++;
    if (seq > sc->in.wm) sc->in.wm = seq;
}

/* f(ts) from the raw deletes: the newest delete covering ts. */
static tl_seq_t model_f(const scen_t *sc, tl_ts_t ts) {
    tl_seq_t best = 0;
    for (size_t i = 0; i < sc->n_adds; i++)
        if (sc->adds[i].lo <= ts && ts <= sc->adds[i].hi && sc->adds[i].seq > best)
            best = sc->adds[i].seq;
    return best;
}

static tl_seq_t model_max_in(const scen_t *sc, tl_ts_t lo, tl_ts_t hi) {
    tl_seq_t best = 0;
    for (size_t i = 0; i < sc->n_adds; i++)
        if (sc->adds[i].lo <= hi && sc->adds[i].hi >= lo && sc->adds[i].seq > best)
            best = sc->adds[i].seq;
    return best;
}

static void finalize_in(scen_t *sc) {
    sc->in.l0 = sc->l0;
    sc->in.n_l0 = sc->n_l0;
    sc->in.l1 = sc->l1;
    sc->in.n_l1 = sc->n_l1;
    sc->in.tombs = sc->tombs;
}

/* Which L1 inputs the reference says compaction must rewrite. */
static bool *reference_touched(const scen_t *sc) {
    bool *touched = tc_xcalloc(sc->n_l1 + 1, sizeof *touched);
    for (size_t i = 0; i < sc->n_l1; i++) {
        const tl_segment_t *s = sc->l1[i];
        for (size_t h = 0; h < sc->n_h && !touched[i]; h++)
            if (!sc->info[h].l1 && sc->info[h].src < sc->in.n_l0 && sc->info[h].ts >= s->min &&
                sc->info[h].ts <= s->max)
                touched[i] = true;
        bool fold = sc->in.fold_debt && (sc->in.fold_l1_end == 0 || i < sc->in.fold_l1_end);
        if (fold && model_max_in(sc, s->min, s->max) > s->wm) touched[i] = true;
    }
    return touched;
}

typedef struct outcome {
    size_t n_touched, n_made;
} outcome_t;

/* Checks out against the reference; returns counts for extra assertions. */
static outcome_t check_outcome(const scen_t *sc, const tl_compact_out_t *out) {
    const tl_compact_in_t *in = &sc->in;
    bool *touched = reference_touched(sc);
    uint32_t *in_out = tc_xcalloc(sc->n_h + 1, sizeof *in_out);
    uint32_t *dropped = tc_xcalloc(sc->n_h + 1, sizeof *dropped);
    uint32_t *surv_seen = tc_xcalloc(sc->n_l1 + 1, sizeof *surv_seen);
    outcome_t oc = {0, 0};
    for (size_t i = 0; i < sc->n_l1; i++) oc.n_touched += touched[i];

    for (size_t i = 0; i < out->dropped.n; i++) {
        tl_handle_t h = out->dropped.v[i];
        cr_assert_lt(h, sc->n_h, "dropped an unknown handle %llu", (unsigned long long)h);
        dropped[h]++;
    }
    const tl_segment_t *prev = NULL, *prev_made = NULL;
    for (size_t k = 0; k < out->n_l1; k++) {
        const tl_segment_t *s = out->l1[k];
        const char *why = NULL;
        cr_assert(tl_segment_validate(s, &why), "output %zu: %s", k, why ? why : "?");
        cr_assert_eq(s->level, TL_LEVEL_L1, "output %zu is not L1", k);
        if (prev != NULL)
            cr_assert_lt(prev->max, s->min,
                         "outputs %zu and %zu overlap or are unsorted: "
                         "[%lld, %lld] then [%lld, %lld]",
                         k - 1, k, (long long)prev->min, (long long)prev->max, (long long)s->min,
                         (long long)s->max);
        size_t in_idx = SIZE_MAX;
        for (size_t i = 0; i < sc->n_l1; i++)
            if (sc->l1[i] == s) in_idx = i;
        if (in_idx != SIZE_MAX) {
            cr_assert_not(touched[in_idx],
                          "L1 input %zu [%lld, %lld] must be rewritten, but "
                          "survived",
                          in_idx, (long long)s->min, (long long)s->max);
            surv_seen[in_idx]++;
            cr_assert_eq(tl_ref_get(&s->refs), 2, "a survivor is retained by the new list");
            prev_made = NULL;
        } else {
            oc.n_made++;
            cr_assert_eq(s->wm, in->wm, "output %zu watermark", k);
            cr_assert_eq(s->pages.page_recs, in->page_recs);
            cr_assert_eq(tl_ref_get(&s->refs), 1);
            tl_window_t wmin = oracle_window(s->min, in->window_size, in->window_origin);
            tl_window_t wmax = oracle_window(s->max, in->window_size, in->window_origin);
            cr_assert(wmin.lo == wmax.lo,
                      "output %zu [%lld, %lld] crosses the window boundary at %lld", k,
                      (long long)s->min, (long long)s->max, (long long)wmax.lo);
            cr_assert(s->window.lo == wmin.lo && s->window.hi == wmin.hi,
                      "output %zu [%lld, %lld] records window [%lld, %lld], want [%lld, %lld]", k,
                      (long long)s->min, (long long)s->max, (long long)s->window.lo,
                      (long long)s->window.hi, (long long)wmin.lo, (long long)wmin.hi);
            tl_window_t wo = tl_window_of(s->min, in->window_size, in->window_origin);
            cr_assert(wo.lo == s->window.lo && wo.hi == s->window.hi);
            size_t n = tl_segment_n(s);
            if (n > in->target_recs)
                cr_assert_eq(s->recs->ts[in->target_recs - 1], s->recs->ts[n - 1],
                             "output %zu has %zu records (target %zu) past a timestamp change", k,
                             n, in->target_recs);
            if (prev_made != NULL) {
                tl_window_t pw = oracle_window(prev_made->min, in->window_size, in->window_origin);
                if (pw.lo == wmin.lo)
                    cr_assert_geq(tl_segment_n(prev_made), in->target_recs,
                                  "output %zu was cut below target with nothing in the way", k - 1);
            }
            prev_made = s;
        }
        for (size_t i = 0; i < tl_segment_n(s); i++) {
            tl_handle_t h = s->recs->h[i];
            cr_assert_lt(h, sc->n_h, "output holds an unknown handle");
            cr_assert_eq(s->recs->ts[i], sc->info[h].ts, "handle %llu moved timestamp",
                         (unsigned long long)h);
            in_out[h]++;
        }
        prev = s;
    }
    for (size_t i = 0; i < sc->n_l1; i++)
        if (!touched[i])
            cr_assert_eq(surv_seen[i], 1, "untouched L1 input %zu [%lld, %lld] is missing", i,
                         (long long)sc->l1[i]->min, (long long)sc->l1[i]->max);
    for (tl_handle_t h = 0; h < sc->n_h; h++) {
        const rinfo_t *ri = &sc->info[h];
        tl_seq_t wm = ri->l1 ? sc->l1[ri->src]->wm : sc->l0[ri->src]->wm;
        /* L0 inputs past in->n_l0 (left out by a plan) stay where they are. */
        bool rewritten = ri->l1 ? touched[ri->src] : ri->src < in->n_l0;
        bool hidden = rewritten && model_f(sc, ri->ts) > wm;
        bool left = !ri->l1 && !rewritten;
        cr_assert_eq(dropped[h], hidden ? 1 : 0,
                     "handle %llu (ts %lld, %s %zu, wm %llu, f %llu) dropped %u times",
                     (unsigned long long)h, (long long)ri->ts, ri->l1 ? "L1" : "L0", ri->src,
                     (unsigned long long)wm, (unsigned long long)model_f(sc, ri->ts), dropped[h]);
        cr_assert_eq(in_out[h], hidden || left ? 0 : 1,
                     "handle %llu (ts %lld, %s %zu) appears %u times in the output",
                     (unsigned long long)h, (long long)ri->ts, ri->l1 ? "L1" : "L0", ri->src,
                     in_out[h]);
    }
    cr_assert_eq(out->n_rewritten, oc.n_touched);
    cr_assert_eq(out->n_outputs, oc.n_made);
    cr_assert_eq(out->n_l1, sc->n_l1 - oc.n_touched + oc.n_made);
    free(touched);
    free(in_out);
    free(dropped);
    free(surv_seen);
    return oc;
}

static outcome_t run_and_check(scen_t *sc) {
    finalize_in(sc);
    tl_compact_out_t out;
    TLT_OK(tl_compact_run(&sc->in, &out));
    outcome_t oc = check_outcome(sc, &out);
    tl_compact_out_free(&sc->t->m, &out);
    cr_assert_eq(out.n_l1, 0);
    cr_assert_null(out.l1);
    for (size_t i = 0; i < sc->n_l1; i++)
        cr_assert_eq(tl_ref_get(&sc->l1[i]->refs), 1, "input L1 %zu keeps an extra reference", i);
    for (size_t i = 0; i < sc->n_l0; i++) cr_assert_eq(tl_ref_get(&sc->l0[i]->refs), 1);
    return oc;
}

static size_t out_index_of(const tl_compact_out_t *out, const tl_segment_t *s) {
    for (size_t i = 0; i < out->n_l1; i++)
        if (out->l1[i] == s) return i;
    return SIZE_MAX;
}

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

/* ---------------------------------------------------------------- random */

static tl_ts_t pick_ts(tlt_rng_t *rng, bool extremes) {
    if (extremes && tlt_rng_below(rng, 8) == 0) {
        static const tl_ts_t ext[] = {TL_TS_MIN, TL_TS_MIN + 1, TL_TS_MAX - 1, TL_TS_MAX};
        return ext[tlt_rng_below(rng, 4)];
    }
    if (tlt_rng_below(rng, 4) == 0) return tlt_rng_range(rng, -20, 20); /* duplicates */
    return tlt_rng_range(rng, -500, 500);
}

/* Builds a random scenario: L1 segments in random windows of the domain
 * (and at the extremes), L0 segments across it, deletes, watermarks. */
static void gen_random(scen_t *sc, tlt_rng_t *rng, bool extremes) {
    tl_seq_t S = 30;
    /* Deletes first (the L1 layout does not depend on them). */
    size_t n_adds = (size_t)tlt_rng_below(rng, 6);
    tl_seq_t seq = 0;
    for (size_t i = 0; i < n_adds; i++) {
        seq += 1 + tlt_rng_below(rng, 5);
        tl_ts_t x = pick_ts(rng, extremes), y = pick_ts(rng, extremes);
        tl_ts_t lo = x < y ? x : y, hi = x < y ? y : x;
        if (tlt_rng_below(rng, 6) == 0) lo = TL_TS_MIN;
        if (tlt_rng_below(rng, 6) == 0) hi = TL_TS_MAX;
        if (tlt_rng_below(rng, 3) == 0 && (uint64_t)hi - (uint64_t)lo > 100)
            hi = lo + (tl_ts_t)tlt_rng_below(rng, 60);
        add_tomb(sc, lo, hi, seq);
    }
    sc->in.wm = S;
    /* L1: walk the windows of [-500, 500]. */
    tl_ts_t size = sc->in.window_size, origin = sc->in.window_origin;
    if (extremes && tlt_rng_below(rng, 2)) {
        tl_window_t w = oracle_window(TL_TS_MIN, size, origin);
        tl_ts_t hi = w.hi < TL_TS_MIN + 3 ? w.hi : TL_TS_MIN + 3;
        tl_ts_t ts[] = {TL_TS_MIN, hi, hi};
        add_seg(sc, TL_LEVEL_L1, ts, 3, (tl_seq_t)tlt_rng_below(rng, S + 1));
    }
    tl_window_t w = oracle_window(-500, size, origin);
    while (w.lo <= 500) {
        tl_ts_t lo = w.lo < -500 ? -500 : w.lo, hi = w.hi > 500 ? 500 : w.hi;
        uint64_t k = tlt_rng_below(rng, 3);
        if (k > 0 && (uint64_t)(hi - lo) >= 4) {
            tl_ts_t p[4];
            for (;;) {
                for (int i = 0; i < 4; i++) p[i] = tlt_rng_range(rng, lo, hi);
                qsort(p, 4, sizeof p[0], tc_cmp_ts);
                if (p[0] < p[1] && p[1] < p[2] && p[2] < p[3]) break;
            }
            for (uint64_t s = 0; s < k; s++) {
                tl_ts_t a = p[2 * s], b = p[2 * s + 1];
                tl_ts_t ts[12];
                size_t n = 2 + (size_t)tlt_rng_below(rng, 10);
                ts[0] = a;
                ts[1] = b;
                for (size_t i = 2; i < n; i++) ts[i] = tlt_rng_range(rng, a, b);
                add_seg(sc, TL_LEVEL_L1, ts, n, (tl_seq_t)tlt_rng_below(rng, S + 1));
            }
        }
        if (w.hi == TL_TS_MAX) break;
        w = oracle_window(w.hi + 1, size, origin);
    }
    if (extremes && tlt_rng_below(rng, 2)) {
        tl_window_t wm = oracle_window(TL_TS_MAX, size, origin);
        tl_ts_t lo = wm.lo > TL_TS_MAX - 3 ? wm.lo : TL_TS_MAX - 3;
        if (sc->n_l1 == 0 || sc->l1[sc->n_l1 - 1]->max < lo) {
            tl_ts_t ts[] = {lo, TL_TS_MAX};
            add_seg(sc, TL_LEVEL_L1, ts, 2, (tl_seq_t)tlt_rng_below(rng, S + 1));
        }
    }
    /* L0 segments. */
    size_t n_l0 = (size_t)tlt_rng_below(rng, 4);
    for (size_t i = 0; i < n_l0; i++) {
        tl_ts_t ts[40];
        size_t n = 1 + (size_t)tlt_rng_below(rng, 40);
        for (size_t j = 0; j < n; j++) ts[j] = pick_ts(rng, extremes);
        add_seg(sc, TL_LEVEL_L0, ts, n, (tl_seq_t)tlt_rng_below(rng, S + 1));
    }
    static const size_t targets[] = {1, 2, 3, 8, 1000};
    static const size_t pages[] = {1, 3, 8};
    sc->in.target_recs = targets[tlt_rng_below(rng, 5)];
    sc->in.page_recs = pages[tlt_rng_below(rng, 3)];
    sc->in.fold_debt = tlt_rng_below(rng, 2);
    /* Sometimes only a prefix of L1 folds debt (a plan bounded by windows). */
    if (tlt_rng_below(rng, 3) == 0) sc->in.fold_l1_end = (size_t)tlt_rng_below(rng, sc->n_l1 + 1);
}

static const tl_ts_t SIZES[] = {7, 10, 64, 100, 333};
static const tl_ts_t ORIGINS_INNER[] = {0, 3, -7, 123456789};

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
