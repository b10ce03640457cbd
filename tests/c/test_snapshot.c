/*
 * test_snapshot.c: the snapshot's source view (tl_snapshot.c) on hand-built
 * snapshots (read_fixture.h): the uniform tl_src_t of memruns, segments and
 * memtable parts, the flat source list the read path plans from, the range
 * clipping (tl_src_bounds) against a scan on paged and unpaged sources, and
 * the pins iterators take and the spare iterator memory they hand on.
 */
#include "read_fixture.h"

Test(snapshot, sources_carry_bounds_watermark_level_and_pages) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {-7, -7, 0, 3, 90};
    rf_memrun(f, ts, 5, 11);
    rf_l0(f, ts, 5, 12, 2);
    rf_l1(f, ts, 5, 13, 2);
    tl_src_t s;
    tl_src_of_memrun(&s, f->mr[0]);
    cr_assert(s.n == 5 && s.min == -7 && s.max == 90 && s.wm == 11 && s.seq == NULL);
    cr_assert(s.level == TL_SRC_MEMRUN && s.pages == NULL && s.ts == f->mr[0]->recs->ts);
    cr_assert_eq(tl_src_seq(&s, 3), 11);
    tl_src_of_segment(&s, f->l0[0]);
    cr_assert(s.n == 5 && s.min == -7 && s.max == 90 && s.wm == 12 && s.level == TL_SRC_L0);
    cr_assert_not_null(s.pages, "segments are paged");
    tl_src_of_segment(&s, f->l1[0]);
    cr_assert(s.wm == 13 && s.level == TL_SRC_L1);
    rf_end(f);
    free(f);
}

Test(snapshot, flat_sources_are_memtable_memruns_and_l0_never_l1) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {1, 2};
    const tl_seq_t seq[] = {30, 31};
    rf_l1(f, ts, 2, 1, 1);
    rf_l0(f, ts, 2, 2, 1);
    rf_memrun(f, ts, 2, 3);
    rf_memrun(f, ts, 2, 4);
    rf_memtable(f, ts, seq, 2); /* the run */
    rf_memtable(f, ts, seq, 2); /* the stage */
    rf_memtable(f, ts, seq, 2); /* a late run */
    tl_snapshot_t *snap = rf_publish(f, 40);
    size_t max = tl_snapshot_max_flat_sources(snap);
    tl_src_t *out = tc_xmalloc(max * sizeof *out);
    size_t n = tl_snapshot_flat_sources(snap, out);
    cr_assert_eq(n, 6, "3 memtable parts + 2 memruns + 1 L0, got %zu", n);
    cr_assert_leq(n, max);
    const int want_level[] = {TL_SRC_MEMTABLE, TL_SRC_MEMTABLE, TL_SRC_MEMTABLE,
                              TL_SRC_MEMRUN,   TL_SRC_MEMRUN,   TL_SRC_L0};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].level, want_level[i], "source %zu has level %d", i, out[i].level);
        cr_assert_eq(out[i].n, 2);
    }
    cr_assert(out[0].seq != NULL && tl_src_seq(&out[0], 1) == 31, "memtable: per-record seq");
    cr_assert_eq(tl_src_seq(&out[3], 0), 3, "memruns in age order");
    cr_assert_eq(tl_src_seq(&out[4], 0), 4);
    cr_assert_eq(tl_snapshot_seq(snap), 40);
    free(out);
    rf_end(f);
    free(f);
}

/* tl_src_bounds against a scan, on paged sources of several page sizes and
 * an unpaged one, for narrow and wide ranges (the wide ones take the
 * lockstep fence descent), duplicates and both int64 ends included. */
Test(snapshot, src_bounds_match_a_scan) {
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 77);
    const size_t n = 3000;
    tl_ts_t *ts = tc_sorted_random(&rng, n, -2000, 2000);
    ts[0] = INT64_MIN;
    ts[n - 1] = INT64_MAX;
    const size_t pages[] = {1, 3, 64, 5000};
    for (size_t p = 0; p < 5; p++) {
        rf_t *f = tc_xmalloc(sizeof *f);
        rf_begin(f);
        tl_src_t s;
        if (p < 4) {
            rf_l0(f, ts, n, 1, pages[p]);
            tl_src_of_segment(&s, f->l0[0]);
        } else {
            rf_memrun(f, ts, n, 1);
            tl_src_of_memrun(&s, f->mr[0]);
        }
        for (int k = 0; k < 400; k++) {
            tl_ts_t a = tlt_rng_range(&rng, -2100, 2100), b = tlt_rng_range(&rng, -2100, 2100);
            if (k % 7 == 0) a = INT64_MIN + (k % 2);
            if (k % 11 == 0) b = INT64_MAX - (k % 2);
            if (a > b) {
                tl_ts_t x = a;
                a = b;
                b = x;
            }
            size_t lo = 0, hi = 0;
            tl_src_bounds(&s, tl_range_closed(a, b), &lo, &hi);
            size_t want_lo = tc_lower_scan(ts, n, a), want_hi = tc_upper_scan(ts, n, b);
            cr_assert(lo == want_lo && hi == want_hi,
                      "pages %zu, [%lld, %lld]: [%zu, %zu), want [%zu, %zu)", p < 4 ? pages[p] : 0,
                      (long long)a, (long long)b, lo, hi, want_lo, want_hi);
        }
        rf_end(f);
        free(f);
    }
    free(ts);
}

/* Each iterator pins the snapshot until closed; a closed iterator's memory
 * is kept for the next one, which then allocates nothing. */
Test(snapshot, iterators_pin_it_and_hand_on_their_memory) {
    rf_t *f = tc_xmalloc(sizeof *f);
    rf_begin(f);
    const tl_ts_t ts[] = {1, 2, 3};
    rf_l0(f, ts, 3, 1, 2);
    rf_memrun(f, ts, 3, 2);
    tl_snapshot_t *snap = rf_publish(f, 2);
    cr_assert_eq(tl_snapshot_pins(snap), 1);
    tl_iter_t *a = NULL, *b = NULL;
    TLT_OK(tl_iter_all(snap, &a));
    TLT_OK(tl_iter_range(snap, 2, 3, &b));
    cr_assert_eq(tl_snapshot_pins(snap), 3);
    tl_iter_close(a);
    cr_assert_eq(tl_snapshot_pins(snap), 2);
    uint64_t calls = f->t.a.calls;
    TLT_OK(tl_iter_all(snap, &a));
    cr_assert_eq(f->t.a.calls, calls, "the spare iterator memory was not reused");
    tl_iter_close(a);
    tl_iter_close(b);
    cr_assert_eq(tl_snapshot_pins(snap), 1);
    tl_span_iter_t *sp = NULL;
    TLT_OK(tl_spans_all(snap, &sp));
    cr_assert_eq(tl_snapshot_pins(snap), 2, "span iterators pin too");
    tl_spans_close(sp);
    cr_assert_eq(tl_snapshot_pins(snap), 1);
    rf_end(f);
    free(f);
}
