/*
 * test_span.c: zero-copy spans (tl_span.c) over hand-built snapshots
 * (read_fixture.h), without a log: spans point into the immutable sources'
 * own memory (never the memtable), come source by source in manifest order
 * (memruns, L0, L1), are clipped to the range and cut around what
 * tombstones newer than the source hide, and together hold exactly the
 * visible immutable records.
 */
#include <stdio.h>

#include "read_fixture.h"

/* The source (0..n_mr+n_l0+n_l1, manifest order) whose block holds p. */
static size_t source_of(const rf_t *f, const tl_ts_t *p, size_t n, int *level) {
    size_t k = 0;
    for (size_t i = 0; i < f->n_mr; i++, k++) {
        const tl_recs_t *r = f->mr[i]->recs;
        if (p >= r->ts && p + n <= r->ts + r->n) {
            *level = 0;
            return k;
        }
    }
    for (size_t i = 0; i < f->n_l0; i++, k++) {
        const tl_recs_t *r = f->l0[i]->recs;
        if (p >= r->ts && p + n <= r->ts + r->n) {
            *level = 1;
            return k;
        }
    }
    for (size_t i = 0; i < f->n_l1; i++, k++) {
        const tl_recs_t *r = f->l1[i]->recs;
        if (p >= r->ts && p + n <= r->ts + r->n) {
            *level = 2;
            return k;
        }
    }
    cr_assert_fail("a span of %zu records points outside every immutable source", n);
    return SIZE_MAX;
}

/* The handles that live in memtable parts (never in a span). */
static bool in_memtable(const rf_t *f, tl_handle_t h) {
    for (size_t i = 0; i < f->n_mt; i++)
        for (size_t j = 0; j < f->mt[i].buf.cap; j++)
            if (f->mt[i].h[j] == h) return true;
    return false;
}

/* Reads every span of [t1, t2) and checks them against the model. */
static void expect_spans(rf_t *f, tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t t1,
                         tl_ts_t t2) {
    tl_span_iter_t *it = NULL;
    TLT_OK(tl_spans_range(snap, t1, t2, &it));
    size_t cap = m->n + 1, n = 0;
    tl_ts_t *ts = tc_xmalloc(cap * sizeof *ts);
    tl_handle_t *h = tc_xmalloc(cap * sizeof *h);
    size_t last_src = 0;
    const tl_ts_t *last_end = NULL;
    tl_span_t sp;
    tl_status_t st;
    while ((st = tl_spans_next(it, &sp)) == TL_OK) {
        cr_assert_gt(sp.n, 0, "an empty span");
        int level = -1;
        size_t src = source_of(f, sp.ts, sp.n, &level);
        cr_assert_eq(sp.level, level, "span level %d, its source is level %d", sp.level, level);
        cr_assert_geq(src, last_src, "spans out of manifest order");
        if (src == last_src && last_end != NULL)
            cr_assert_geq(sp.ts, last_end, "spans of one source overlap or go backwards");
        last_src = src;
        last_end = sp.ts + sp.n;
        for (size_t i = 0; i < sp.n; i++) {
            cr_assert(sp.ts[i] >= t1 && sp.ts[i] < t2, "span record %lld outside [%lld, %lld)",
                      (long long)sp.ts[i], (long long)t1, (long long)t2);
            cr_assert_lt(n, cap, "spans hold more records than are visible");
            ts[n] = sp.ts[i];
            h[n] = sp.h[i];
            n++;
        }
    }
    cr_assert_eq(st, TL_EOF);
    cr_assert_eq(tl_spans_next(it, &sp), TL_EOF, "EOF is sticky");
    tl_spans_close(it);
    /* Want: the model's records in range that live in immutable sources. */
    size_t i0, i1, wn = 0;
    tlt_model_slice(m, t1, t2, &i0, &i1);
    tlt_rec_t *want = tc_xmalloc((i1 - i0 + 1) * sizeof *want);
    for (size_t i = i0; i < i1; i++)
        if (!in_memtable(f, m->r[i].h)) want[wn++] = m->r[i];
    tlt_sort_pairs(ts, h, n);
    char what[96];
    snprintf(what, sizeof what, "spans [%lld, %lld)", (long long)t1, (long long)t2);
    tlt_expect_same(ts, h, n, want, wn, what);
    free(want);
    free(ts);
    free(h);
}

static void random_round(uint64_t seed, tl_ts_t lo, tl_ts_t hi) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, seed);
    tl_snapshot_t *snap = rf_random(f, &rng, lo, hi);
    tlt_model_t m;
    rf_model(f, &m);
    const tl_ts_t fixed[] = {INT64_MIN, lo, 0, hi, INT64_MAX};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++) expect_spans(f, snap, &m, fixed[i], fixed[j]);
    for (int k = 0; k < 20; k++)
        expect_spans(f, snap, &m, tlt_rng_range(&rng, lo, hi), tlt_rng_range(&rng, lo, hi));
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(span, spans_hold_exactly_the_visible_immutable_records, .timeout = 120) {
    for (uint64_t seed = 1; seed <= 40; seed++) random_round(seed, -500, 500);
    for (uint64_t seed = 300; seed <= 315; seed++) random_round(seed, INT64_MIN, INT64_MAX);
}

Test(span, a_newer_tombstone_cuts_a_source_an_older_one_does_not) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    rf_l0(f, ts, 10, 5, 3);  /* wm 5 */
    rf_l0(f, ts, 10, 20, 4); /* wm 20 */
    rf_delete(f, 4, 6, 10);
    tl_snapshot_t *snap = rf_publish(f, 20);
    tl_span_iter_t *it = NULL;
    TLT_OK(tl_spans_all(snap, &it));
    tl_span_t sp;
    const struct {
        tl_ts_t first;
        size_t n;
    } want[] = {{1, 3}, {7, 4}, {1, 10}};
    for (size_t i = 0; i < 3; i++) {
        TLT_OK(tl_spans_next(it, &sp));
        cr_assert(sp.ts[0] == want[i].first && sp.n == want[i].n,
                  "span %zu: [%lld x %zu], want [%lld x %zu]", i, (long long)sp.ts[0], sp.n,
                  (long long)want[i].first, want[i].n);
        cr_assert_eq(sp.level, 1);
    }
    TLT_ST(tl_spans_next(it, &sp), TL_EOF);
    tl_spans_close(it);
    tlt_model_t m;
    rf_model(f, &m);
    expect_spans(f, snap, &m, 3, 8);
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(span, a_tombstone_to_int64_max_ends_the_source) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {INT64_MIN, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
    rf_memrun(f, ts, 6, 1);
    rf_delete(f, 0, INT64_MAX, 2);
    tl_snapshot_t *snap = rf_publish(f, 2);
    tl_span_iter_t *it = NULL;
    TLT_OK(tl_spans_since(snap, INT64_MIN, &it));
    tl_span_t sp;
    TLT_OK(tl_spans_next(it, &sp));
    cr_assert(sp.n == 2 && sp.ts[0] == INT64_MIN && sp.ts[1] == -1 && sp.level == 0);
    TLT_ST(tl_spans_next(it, &sp), TL_EOF);
    tl_spans_close(it);
    tlt_model_t m;
    rf_model(f, &m);
    expect_spans(f, snap, &m, INT64_MIN, INT64_MAX);
    expect_spans(f, snap, &m, 0, INT64_MAX);
    expect_spans(f, snap, &m, 5, -5); /* empty range */
    tlt_model_free(&m);
    rf_end(f);
    free(f);
}

Test(span, the_memtable_is_never_exposed) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {1, 2, 3};
    const tl_seq_t seq[] = {1, 2, 3};
    rf_memtable(f, ts, seq, 3);
    tl_snapshot_t *snap = rf_publish(f, 3);
    tl_span_iter_t *it = NULL;
    TLT_OK(tl_spans_all(snap, &it));
    tl_span_t sp;
    TLT_ST(tl_spans_next(it, &sp), TL_EOF);
    tl_spans_close(it);
    rf_end(f);
    free(f);
}
