/*
 * read_fixture.h: a hand-built snapshot for the read-path unit suites
 * (test_merge.c, test_query.c, test_span.c, test_snapshot.c), which test the
 * iterator's k-way merge and tombstone filter, the counting and neighbour
 * queries and the zero-copy spans without a tl_log_t in between.
 *
 * rf_t owns a tc_t (the counting allocator, checked for leaks by rf_end)
 * and a tl_snapshot_t in its own storage, filled the way tl_snapshot_acquire
 * fills one: a manifest built with tl_manifest_create from memruns, L0 and
 * L1 segments made with the component APIs; a tombstone set made with
 * tl_tombs_add; memtable parts (per-record sequences) as tl_mtbuf_t over
 * test arrays in the view. There is no log: the snapshot starts with one
 * reference that the fixture keeps, so the iterators' own pins never drop it
 * to zero (tl_snapshot_release would call into the log) and rf_end releases
 * what the snapshot holds by hand.
 *
 * The oracle is deliberately naive and independent of the read path: every
 * physical record with its sequence (a memtable record's own, an immutable
 * source's watermark) and every tombstone; a record is visible iff no
 * tombstone covering its timestamp has a larger sequence. rf_model builds
 * the expected visible set (tl_test_model.h) by checking each record
 * against each tombstone.
 *
 * Everything is static inline so the header adds no symbols.
 */
#ifndef TLT_READ_FIXTURE_H
#define TLT_READ_FIXTURE_H

#include "comp_fixture.h"
#include "tl_manifest.h"
#include "tl_memrun.h"
#include "tl_merge.h"
#include "tl_query.h"
#include "tl_segment.h"
#include "tl_snapshot.h"
#include "tl_source.h"
#include "tl_span.h"
#include "tl_tombstone.h"

#define RF_MAX_SRC 8
#define RF_MAX_MT 4 /* run, stage, then late runs */
#define RF_MAX_RECS 4096
#define RF_MAX_TOMBS 64

typedef struct rf_rec {
    tl_ts_t ts;
    tl_handle_t h;
    tl_seq_t seq; /* the sequence a tombstone must exceed to hide it */
} rf_rec_t;

typedef struct rf_tomb {
    tl_ts_t lo, hi; /* inclusive */
    tl_seq_t seq;
} rf_tomb_t;

/* One memtable part: test-side arrays behind a tl_mtbuf_t. */
typedef struct rf_mt {
    tl_mtbuf_t buf;
    tl_ts_t ts[256];
    tl_handle_t h[256];
    tl_seq_t seq[256];
} rf_mt_t;

typedef struct rf {
    tc_t t;
    tl_snapshot_t snap;
    bool published;
    tl_memrun_t *mr[RF_MAX_SRC];
    tl_segment_t *l0[RF_MAX_SRC], *l1[RF_MAX_SRC];
    size_t n_mr, n_l0, n_l1;
    rf_mt_t mt[RF_MAX_MT];
    size_t n_mt;
    tl_tombs_t *tombs;
    tl_handle_t next_h; /* 1, 2, ...: records are told apart by handle */
    rf_rec_t recs[RF_MAX_RECS];
    size_t n_recs;
    rf_tomb_t tl[RF_MAX_TOMBS];
    size_t n_tombs;
} rf_t;

static inline void rf_begin(rf_t *f) {
    memset(f, 0, sizeof *f);
    tc_begin(&f->t);
    f->next_h = 1;
}

static inline void rf_note(rf_t *f, tl_ts_t ts, tl_handle_t h, tl_seq_t seq) {
    cr_assert_lt(f->n_recs, RF_MAX_RECS);
    f->recs[f->n_recs++] = (rf_rec_t){ts, h, seq};
}

/* A record block over ts[0..n) (sorted), handles from next_h. */
static inline tl_recs_t *rf_recs(rf_t *f, const tl_ts_t *ts, size_t n, tl_seq_t seq) {
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&f->t.m, n, &r));
    for (size_t i = 0; i < n; i++) {
        if (i > 0) cr_assert_geq(ts[i], ts[i - 1], "rf: source timestamps must be sorted");
        r->ts[i] = ts[i];
        r->h[i] = f->next_h++;
        rf_note(f, ts[i], r->h[i], seq);
    }
    r->n = n;
    return r;
}

/* A memrun sealed at sequence wm. */
static inline void rf_memrun(rf_t *f, const tl_ts_t *ts, size_t n, tl_seq_t wm) {
    cr_assert_lt(f->n_mr, RF_MAX_SRC);
    tl_recs_t *r = rf_recs(f, ts, n, wm);
    TLT_OK(tl_memrun_create(&f->t.m, r, wm, &f->mr[f->n_mr++]));
}

/* An L0 segment (watermark wm) with page_recs records per page. */
static inline void rf_l0(rf_t *f, const tl_ts_t *ts, size_t n, tl_seq_t wm, size_t page_recs) {
    cr_assert_lt(f->n_l0, RF_MAX_SRC);
    tl_recs_t *r = rf_recs(f, ts, n, wm);
    tl_window_t none = {0, 0};
    TLT_OK(tl_segment_create(&f->t.m, TL_LEVEL_L0, r, page_recs, wm, none, &f->l0[f->n_l0++]));
    tl_recs_release(&f->t.m, r);
}

/* An L1 segment in the window [ts[0], ts[n-1]]; calls must come in time
 * order with disjoint bounds, as L1 requires. */
static inline void rf_l1(rf_t *f, const tl_ts_t *ts, size_t n, tl_seq_t wm, size_t page_recs) {
    cr_assert_lt(f->n_l1, RF_MAX_SRC);
    if (f->n_l1 > 0)
        cr_assert_lt(f->l1[f->n_l1 - 1]->max, ts[0], "rf: L1 segments must be disjoint, in order");
    tl_recs_t *r = rf_recs(f, ts, n, wm);
    tl_window_t w = {ts[0], ts[n - 1]};
    TLT_OK(tl_segment_create(&f->t.m, TL_LEVEL_L1, r, page_recs, wm, w, &f->l1[f->n_l1++]));
    tl_recs_release(&f->t.m, r);
}

/* A memtable part: ts sorted, each record with its own sequence. */
static inline void rf_memtable(rf_t *f, const tl_ts_t *ts, const tl_seq_t *seq, size_t n) {
    cr_assert_lt(f->n_mt, RF_MAX_MT);
    rf_mt_t *p = &f->mt[f->n_mt++];
    cr_assert_leq(n, sizeof p->ts / sizeof p->ts[0]);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) cr_assert_geq(ts[i], ts[i - 1], "rf: memtable parts must be sorted");
        p->ts[i] = ts[i];
        p->h[i] = f->next_h++;
        p->seq[i] = seq[i];
        rf_note(f, ts[i], p->h[i], seq[i]);
    }
    tl_ref_init(&p->buf.refs);
    p->buf.cap = n;
    atomic_init(&p->buf.n, n);
    p->buf.ts = p->ts;
    p->buf.h = p->h;
    p->buf.seq = p->seq;
}

/* A delete of [lo, hi] (inclusive) at sequence seq, larger than every
 * earlier delete's. */
static inline void rf_delete(rf_t *f, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq) {
    cr_assert_lt(f->n_tombs, RF_MAX_TOMBS);
    tl_tombs_t *next = NULL;
    TLT_OK(tl_tombs_add(&f->t.m, f->tombs, lo, hi, seq, &next));
    tl_tombs_release(&f->t.m, f->tombs);
    f->tombs = next;
    f->tl[f->n_tombs++] = (rf_tomb_t){lo, hi, seq};
}

/* Fills the snapshot: the manifest of every source added so far, the
 * tombstones, the memtable parts as the view (run, stage, late runs). */
static inline tl_snapshot_t *rf_publish(rf_t *f, tl_seq_t seq) {
    cr_assert(!f->published);
    tl_snapshot_t *s = &f->snap;
    memset(s, 0, sizeof *s);
    tl_ref_init(&s->refs);
    s->mem = &f->t.m;
    TLT_OK(tl_manifest_create(&f->t.m, f->mr, f->n_mr, f->l0, f->n_l0, f->l1, f->n_l1, &s->man));
    const char *why = NULL;
    cr_assert(tl_manifest_validate(s->man, &why), "rf: manifest: %s", why ? why : "?");
    for (size_t i = 0; i < f->n_mt; i++) {
        tl_mtbuf_t *b = &f->mt[i].buf;
        if (i == 0) {
            s->mv.run = b;
            s->mv.run_n = b->cap;
        } else if (i == 1) {
            s->mv.stage = b;
            s->mv.stage_n = b->cap;
        } else {
            s->mv.ooo[s->mv.n_ooo++] = b;
        }
    }
    s->tombs = f->tombs;
    s->seq = seq;
    atomic_init(&s->spare_iter, NULL);
    f->published = true;
    return s;
}

/* Releases the snapshot's holdings and the fixture's sources, then checks
 * that nothing leaked. */
static inline void rf_end(rf_t *f) {
    if (f->published) {
        tl_snapshot_t *s = &f->snap;
        cr_assert_eq(tl_ref_get(&s->refs), 1, "an iterator still pins the snapshot");
        void *spare = atomic_exchange(&s->spare_iter, NULL);
        if (spare != NULL) tl_mem_free(&f->t.m, spare, *(const size_t *)spare);
        tl_manifest_release(&f->t.m, s->man);
    }
    for (size_t i = 0; i < f->n_mr; i++) tl_memrun_release(&f->t.m, f->mr[i]);
    for (size_t i = 0; i < f->n_l0; i++) tl_segment_release(&f->t.m, f->l0[i]);
    for (size_t i = 0; i < f->n_l1; i++) tl_segment_release(&f->t.m, f->l1[i]);
    tl_tombs_release(&f->t.m, f->tombs);
    tc_end(&f->t);
}

/* ---------------------------------------------------------------- the oracle */

static inline bool rf_hidden(const rf_t *f, tl_ts_t ts, tl_seq_t seq) {
    for (size_t k = 0; k < f->n_tombs; k++)
        if (f->tl[k].lo <= ts && ts <= f->tl[k].hi && f->tl[k].seq > seq) return true;
    return false;
}

/* The visible records (a fresh model; free with tlt_model_free). */
static inline void rf_model(const rf_t *f, tlt_model_t *m) {
    tlt_model_init(m);
    for (size_t i = 0; i < f->n_recs; i++)
        if (!rf_hidden(f, f->recs[i].ts, f->recs[i].seq))
            tlt_model_add(m, f->recs[i].ts, f->recs[i].h);
}

/* Physical records in [lo, hi] (inclusive), hidden ones included. */
static inline uint64_t rf_physical(const rf_t *f, tl_ts_t lo, tl_ts_t hi) {
    uint64_t k = 0;
    for (size_t i = 0; i < f->n_recs; i++) k += lo <= f->recs[i].ts && f->recs[i].ts <= hi;
    return k;
}

/* ---------------------------------------------------------------- random snapshots */

/* Sorted random timestamps, near each other (so sources overlap and
 * duplicates are common), into out[0..n). */
static inline void rf_random_ts(tlt_rng_t *rng, tl_ts_t lo, tl_ts_t hi, tl_ts_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tlt_rng_range(rng, lo, hi);
    qsort(out, n, sizeof *out, tc_cmp_ts);
}

/* A random snapshot over [lo, hi]: memtable parts, memruns, L0 and disjoint
 * L1 segments (some sources empty of visible records), then deletes whose
 * sequences fall before, between and after the sources' watermarks. */
static inline tl_snapshot_t *rf_random(rf_t *f, tlt_rng_t *rng, tl_ts_t lo, tl_ts_t hi) {
    tl_ts_t ts[200];
    tl_seq_t seq[200];
    /* L1: cut [lo, hi] into disjoint slices, oldest data (wm 10). */
    size_t n_l1 = (size_t)tlt_rng_below(rng, 4);
    uint64_t width = ((uint64_t)hi - (uint64_t)lo) / (n_l1 + 1);
    for (size_t k = 0; k < n_l1; k++) {
        tl_ts_t a = (tl_ts_t)((uint64_t)lo + k * width), b = (tl_ts_t)((uint64_t)a + width / 2);
        size_t n = 1 + (size_t)tlt_rng_below(rng, 120);
        rf_random_ts(rng, a, b, ts, n);
        rf_l1(f, ts, n, 10, 1 + (size_t)tlt_rng_below(rng, 16));
    }
    size_t n_l0 = (size_t)tlt_rng_below(rng, 3);
    for (size_t k = 0; k < n_l0; k++) {
        size_t n = 1 + (size_t)tlt_rng_below(rng, 120);
        rf_random_ts(rng, lo, hi, ts, n);
        rf_l0(f, ts, n, 20 + 5 * k, 1 + (size_t)tlt_rng_below(rng, 16));
    }
    size_t n_mr = (size_t)tlt_rng_below(rng, 3);
    for (size_t k = 0; k < n_mr; k++) {
        size_t n = 1 + (size_t)tlt_rng_below(rng, 80);
        rf_random_ts(rng, lo, hi, ts, n);
        rf_memrun(f, ts, n, 40 + 5 * k);
    }
    size_t n_mt = (size_t)tlt_rng_below(rng, 4);
    for (size_t k = 0; k < n_mt; k++) {
        size_t n = 1 + (size_t)tlt_rng_below(rng, 60);
        rf_random_ts(rng, lo, hi, ts, n);
        /* Per-record sequences across the deletes' (a delete at a record's
         * own sequence does not hide it: only a larger one does). */
        for (size_t i = 0; i < n; i++) seq[i] = 1 + tlt_rng_below(rng, 110);
        rf_memtable(f, ts, seq, n);
    }
    /* Deletes at increasing sequences from 5 to 105: some older than every
     * source (hide nothing), some between watermarks, some newer. */
    size_t n_del = (size_t)tlt_rng_below(rng, 8);
    tl_seq_t s = 0;
    for (size_t k = 0; k < n_del; k++) {
        s += 1 + tlt_rng_below(rng, 100 / (n_del + 1));
        tl_ts_t a = tlt_rng_range(rng, lo, hi), b = tlt_rng_range(rng, lo, hi);
        if (a > b) {
            tl_ts_t x = a;
            a = b;
            b = x;
        }
        if (tlt_rng_below(rng, 4) == 0) b = a; /* a point delete */
        rf_delete(f, a, b, s);
    }
    return rf_publish(f, 200);
}

#endif /* TLT_READ_FIXTURE_H */
