/*
 * compact_scenario.h: compaction scenarios and their reference outcome,
 * shared by test_compact.c (the merge) and test_compact_plan.c (the
 * bounded plan, issue 17).
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
 * take part (what a bounded plan selects: tl_compact_plan, test_compact_plan.c).
 *
 * Everything is static inline (as in comp_fixture.h), so each suite stays
 * one self-contained .c file and an unused helper is no warning.
 */
#ifndef TLT_COMPACT_SCENARIO_H
#define TLT_COMPACT_SCENARIO_H

#include <stdio.h>

#include "comp_fixture.h"
#include "tl_compact.h"

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

static inline void scen_init(scen_t *sc, tc_t *t, tl_ts_t window_size, tl_ts_t origin) {
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

static inline void scen_free(scen_t *sc) {
    for (size_t i = 0; i < sc->n_l0; i++) tl_segment_release(&sc->t->m, sc->l0[i]);
    for (size_t i = 0; i < sc->n_l1; i++) tl_segment_release(&sc->t->m, sc->l1[i]);
    tl_tombs_release(&sc->t->m, sc->tombs);
    free(sc->l0);
    free(sc->l1);
    free(sc->info);
}

/* Adds a segment over ts[0..n) (any order) with fresh handles. L1 segments
 * get the window of their first timestamp. */
static inline tl_segment_t *add_seg(scen_t *sc, int level, const tl_ts_t *ts, size_t n,
                                    tl_seq_t wm) {
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

static inline void add_tomb(scen_t *sc, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq) {
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
static inline tl_seq_t model_f(const scen_t *sc, tl_ts_t ts) {
    tl_seq_t best = 0;
    for (size_t i = 0; i < sc->n_adds; i++)
        if (sc->adds[i].lo <= ts && ts <= sc->adds[i].hi && sc->adds[i].seq > best)
            best = sc->adds[i].seq;
    return best;
}

static inline tl_seq_t model_max_in(const scen_t *sc, tl_ts_t lo, tl_ts_t hi) {
    tl_seq_t best = 0;
    for (size_t i = 0; i < sc->n_adds; i++)
        if (sc->adds[i].lo <= hi && sc->adds[i].hi >= lo && sc->adds[i].seq > best)
            best = sc->adds[i].seq;
    return best;
}

static inline void finalize_in(scen_t *sc) {
    sc->in.l0 = sc->l0;
    sc->in.n_l0 = sc->n_l0;
    sc->in.l1 = sc->l1;
    sc->in.n_l1 = sc->n_l1;
    sc->in.tombs = sc->tombs;
}

/* Which L1 inputs the reference says compaction must rewrite. */
static inline bool *reference_touched(const scen_t *sc) {
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
static inline outcome_t check_outcome(const scen_t *sc, const tl_compact_out_t *out) {
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

static inline outcome_t run_and_check(scen_t *sc) {
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

static inline size_t out_index_of(const tl_compact_out_t *out, const tl_segment_t *s) {
    for (size_t i = 0; i < out->n_l1; i++)
        if (out->l1[i] == s) return i;
    return SIZE_MAX;
}

/* ---------------------------------------------------------------- random */

static inline tl_ts_t pick_ts(tlt_rng_t *rng, bool extremes) {
    if (extremes && tlt_rng_below(rng, 8) == 0) {
        static const tl_ts_t ext[] = {TL_TS_MIN, TL_TS_MIN + 1, TL_TS_MAX - 1, TL_TS_MAX};
        return ext[tlt_rng_below(rng, 4)];
    }
    if (tlt_rng_below(rng, 4) == 0) return tlt_rng_range(rng, -20, 20); /* duplicates */
    return tlt_rng_range(rng, -500, 500);
}

/* Builds a random scenario: L1 segments in random windows of the domain
 * (and at the extremes), L0 segments across it, deletes, watermarks. */
static inline void gen_random(scen_t *sc, tlt_rng_t *rng, bool extremes) {
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

#endif /* TLT_COMPACT_SCENARIO_H */
