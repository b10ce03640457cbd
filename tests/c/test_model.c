/*
 * test_model.c: randomized engine-level test against a reference model.
 *
 * The reference (tlt_model_t) keeps the visible records sorted by (ts, h).
 * The contract's model is "records with sequence numbers plus sequenced
 * tombstones; a record is visible iff no tombstone with a larger sequence
 * covers it". Applying each delete eagerly to the records present at that
 * moment is the same relation: every record present was written before the
 * delete (smaller sequence, so hidden), every later record has a larger
 * sequence (never hidden by it). Keeping only the visible set makes every
 * model query a binary search, which keeps the test fast under ASan.
 *
 * Each seed is its own Test (Criterion runs them in parallel processes):
 * weighted random operations (in-order, out-of-order and duplicate appends,
 * sorted/unsorted batches of 0..300, small/large/open-ended/point deletes,
 * delete_all, flush, compact, maint_step, drain) interleaved with reads
 * compared to the model: range iteration (timestamps exactly, handles as a
 * multiset per timestamp), counts, min/max/next/prev, iterators and
 * snapshots opened at one point and read many operations later (compared to
 * a copy of the model taken when they were opened). tl_validate runs every
 * VALIDATE_EVERY operations; every CHECKPOINT_EVERY operations all pins are
 * released and flush + compact + drain must have dropped exactly the
 * deleted handles. After close every handle must be dropped exactly once.
 *
 * Deterministic: a xorshift PRNG per seed, no libc rand, no wall clock
 * (tl_append_now is not used). With TL_MAINT_BACKGROUND the worker's timing
 * varies between runs but no assertion depends on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define VALIDATE_EVERY 250
#define CHECKPOINT_EVERY 2500
#define MAX_PENDING_ITERS 4
#define MAX_PENDING_SNAPS 2
#define MODEL_SOFT_CAP 30000 /* beyond this, deletes are favoured */
#define HANDLE_CAP ((size_t)1 << 18)

typedef enum domain { DOM_SMALL, DOM_MEDIUM, DOM_FULL } domain_t;

typedef struct seed_cfg {
    uint64_t seed;
    domain_t domain;
    tl_maintenance_t maint;
    size_t ops;
    size_t memtable_max_bytes;
    size_t target_page_bytes;
    size_t max_delta_segments;
    tl_ts_t window_size;
    tl_ts_t window_origin;
    double delete_debt_threshold;
    size_t compaction_max_inputs;
    size_t compaction_max_windows;
    size_t compaction_target_bytes;
    size_t sealed_max_runs;
    size_t drain_batch_limit;
} seed_cfg_t;

typedef struct pending_iter {
    tl_iter_t *it;
    tlt_rec_t *want; /* copy of the model slice when opened */
    size_t want_n;
    tl_ts_t *got_ts;
    tl_handle_t *got_h;
    size_t got_n;
} pending_iter_t;

typedef struct pending_snap {
    tl_snapshot_t *snap;
    tlt_model_t m; /* copy of the model when acquired */
} pending_snap_t;

enum {
    K_APPEND_INORDER,
    K_APPEND_OOO,
    K_APPEND_DUP,
    K_BATCH_SORTED,
    K_BATCH_UNSORTED,
    K_DEL_SMALL,
    K_DEL_LARGE,
    K_DEL_SINCE,
    K_DEL_BEFORE,
    K_DEL_TS,
    K_DEL_ALL,
    K_FLUSH,
    K_COMPACT,
    K_MAINT,
    K_DRAIN,
    K_READ_RANGE,
    K_COUNT,
    K_NEIGHBOURS,
    K_POINT,
    K_ITER_OPEN,
    K_ITER_STEP,
    K_SNAP_OPEN,
    K_SNAP_QUERY,
    K_SNAP_CLOSE,
    K_STATS,
    K_COUNT_KINDS
};

/* Weights per 10000. Deletes are tuned so the model settles in the
 * thousands of records (multi-page segments, many windows) rather than
 * being emptied every few hundred operations. */
static const unsigned k_weight[K_COUNT_KINDS] = {
    [K_APPEND_INORDER] = 2800,
    [K_APPEND_OOO] = 1400,
    [K_APPEND_DUP] = 700,
    [K_BATCH_SORTED] = 120,
    [K_BATCH_UNSORTED] = 120,
    [K_DEL_SMALL] = 400,
    [K_DEL_LARGE] = 30,
    [K_DEL_SINCE] = 25,
    [K_DEL_BEFORE] = 25,
    [K_DEL_TS] = 140,
    [K_DEL_ALL] = 3,
    [K_FLUSH] = 150,
    [K_COMPACT] = 50,
    [K_MAINT] = 300,
    [K_DRAIN] = 150,
    [K_READ_RANGE] = 600,
    [K_COUNT] = 600,
    [K_NEIGHBOURS] = 600,
    [K_POINT] = 200,
    [K_ITER_OPEN] = 150,
    [K_ITER_STEP] = 400,
    [K_SNAP_OPEN] = 40,
    [K_SNAP_QUERY] = 200,
    [K_SNAP_CLOSE] = 40,
    [K_STATS] = 50,
};

typedef struct mt {
    const seed_cfg_t *cfg;
    tlt_env_t env;
    tl_log_t *log;
    tlt_model_t m;
    tlt_rng_t rng;
    tl_handle_t next_h; /* handles 1, 2, ... */
    uint8_t *dead;      /* dead[h] = 1: a delete removed it (must be dropped) */
    tl_ts_t last_ts;    /* cursor of the in-order stream */
    pending_iter_t pit[MAX_PENDING_ITERS];
    pending_snap_t psnap[MAX_PENDING_SNAPS];
    uint64_t done[K_COUNT_KINDS];
    uint64_t busy, records_appended, checkpoints;
    uint64_t model_sum, model_max; /* visible records, summed per op / peak */
    unsigned weight_total;
} mt_t;

/* ---------------------------------------------------------------- timestamps */

static tl_ts_t full_anchor(mt_t *t) {
    static const tl_ts_t anchors[] = {INT64_MIN, -1000000000000000LL, -1000,    0,
                                      1000,      1000000000000000LL,  INT64_MAX};
    return anchors[tlt_rng_below(&t->rng, sizeof anchors / sizeof anchors[0])];
}

/* A timestamp anywhere in the seed's domain. */
static tl_ts_t gen_ts(mt_t *t) {
    switch (t->cfg->domain) {
    case DOM_SMALL: return (tl_ts_t)tlt_rng_below(&t->rng, 200);
    case DOM_MEDIUM: return tlt_rng_range(&t->rng, -1000000, 1000000);
    case DOM_FULL:
    default: {
        uint64_t r = tlt_rng_below(&t->rng, 20);
        if (r == 0) return INT64_MIN + (tl_ts_t)tlt_rng_below(&t->rng, 3);
        if (r == 1) return INT64_MAX - (tl_ts_t)tlt_rng_below(&t->rng, 3);
        if (r == 2) return (tl_ts_t)tlt_rng_next(&t->rng); /* anywhere */
        if (r < 10) return tlt_sat_add(full_anchor(t), tlt_rng_range(&t->rng, -2000, 2000));
        return tlt_sat_add(t->last_ts, tlt_rng_range(&t->rng, -5000, 5000));
    }
    }
}

static tl_ts_t gen_inorder(mt_t *t) {
    switch (t->cfg->domain) {
    case DOM_SMALL:
        t->last_ts += (tl_ts_t)tlt_rng_below(&t->rng, 3);
        if (t->last_ts >= 200) t->last_ts = 0;
        break;
    case DOM_MEDIUM:
        t->last_ts = tlt_sat_add(t->last_ts, (tl_ts_t)tlt_rng_below(&t->rng, 10));
        if (t->last_ts > 1000000) t->last_ts = -1000000;
        break;
    case DOM_FULL:
    default:
        if (tlt_rng_below(&t->rng, 50) == 0) /* the stream jumps elsewhere */
            t->last_ts = gen_ts(t);
        else
            t->last_ts = tlt_sat_add(t->last_ts, (tl_ts_t)tlt_rng_below(&t->rng, 4));
        break;
    }
    return t->last_ts;
}

static tl_ts_t gen_ooo(mt_t *t) {
    tl_ts_t back = t->cfg->domain == DOM_SMALL    ? (tl_ts_t)tlt_rng_range(&t->rng, 1, 20)
                   : t->cfg->domain == DOM_MEDIUM ? (tl_ts_t)tlt_rng_range(&t->rng, 1, 1000)
                                                  : (tl_ts_t)tlt_rng_range(&t->rng, 1, 50);
    tl_ts_t ts = tlt_sat_add(t->last_ts, -back);
    if (t->cfg->domain == DOM_SMALL && ts < 0) ts = 0;
    return ts;
}

/* A timestamp that already has records (heavy duplicates), else any. */
static tl_ts_t gen_existing(mt_t *t) {
    if (t->m.n == 0) return gen_ts(t);
    return t->m.r[tlt_rng_below(&t->rng, t->m.n)].ts;
}

/* A query bound: an existing timestamp, a neighbour of one, or anything. */
static tl_ts_t gen_bound(mt_t *t) {
    uint64_t r = tlt_rng_below(&t->rng, 10);
    if (r < 5) return gen_existing(t);
    if (r < 7) return tlt_sat_add(gen_existing(t), tlt_rng_below(&t->rng, 2) ? 1 : -1);
    if (r == 7) return tlt_rng_below(&t->rng, 2) ? INT64_MIN : INT64_MAX;
    return gen_ts(t);
}

/* A range holding at most about `span` visible records, so comparisons stay
 * cheap however large the model grows. */
static void gen_range(mt_t *t, size_t span, tl_ts_t *t1, tl_ts_t *t2) {
    if (t->m.n == 0 || tlt_rng_below(&t->rng, 8) == 0) {
        *t1 = gen_bound(t);
        *t2 = gen_bound(t);
        if (t->m.n > 4 * span) { /* keep it bounded: collapse a wide range */
            size_t i0, i1;
            tlt_model_slice(&t->m, *t1, *t2, &i0, &i1);
            if (i1 - i0 > span) *t2 = t->m.r[i0 + span].ts;
        }
        return;
    }
    size_t i = tlt_rng_below(&t->rng, t->m.n);
    size_t j = i + tlt_rng_below(&t->rng, span + 1);
    *t1 = tlt_rng_below(&t->rng, 4) == 0 ? tlt_sat_add(t->m.r[i].ts, -1) : t->m.r[i].ts;
    *t2 = j < t->m.n ? t->m.r[j].ts : INT64_MAX;
    if (tlt_rng_below(&t->rng, 4) == 0) *t2 = tlt_sat_add(*t2, 1);
}

/* A bound for delete_since (tail) or delete_before (head): usually a
 * timestamp among the last/first few hundred records, sometimes anything. */
static tl_ts_t near_end(mt_t *t, bool tail) {
    if (t->m.n == 0 || tlt_rng_below(&t->rng, 4) == 0) return gen_bound(t);
    size_t k = tlt_rng_below(&t->rng, (t->m.n < 300 ? t->m.n : 300));
    return tail ? t->m.r[t->m.n - 1 - k].ts : t->m.r[k].ts;
}

/* ---------------------------------------------------------------- writes */

static void mark_dead(void *ctx, tl_handle_t h) { ((mt_t *)ctx)->dead[h] = 1; }

static void write_status(mt_t *t, tl_status_t st, const char *what) {
    cr_assert(st == TL_OK || st == TL_EBUSY, "seed %llu: %s -> %s",
              (unsigned long long)t->cfg->seed, what, tl_strerror(st));
    if (st == TL_EBUSY) {
        t->busy++;
        /* The write was stored; in disabled mode nothing drains the
         * memruns unless we flush. */
        if (t->cfg->maint == TL_MAINT_DISABLED) TLT_OK(tl_flush(t->log));
    }
}

static void do_append(mt_t *t, tl_ts_t ts) {
    tl_handle_t h = t->next_h++;
    cr_assert_lt(h, HANDLE_CAP, "handle space exhausted");
    tl_status_t st = tl_append(t->log, ts, h);
    tlt_model_add(&t->m, ts, h);
    t->records_appended++;
    write_status(t, st, "tl_append");
}

static void do_batch(mt_t *t, bool sorted) {
    size_t n = tlt_rng_below(&t->rng, 301);
    if (t->next_h + n + 1 >= HANDLE_CAP) n = 0;
    tl_ts_t *ts = malloc((n + 1) * sizeof *ts);
    tl_handle_t *h = malloc((n + 1) * sizeof *h);
    cr_assert(ts != NULL && h != NULL);
    uint64_t style = tlt_rng_below(&t->rng, 4);
    for (size_t i = 0; i < n; i++) {
        h[i] = t->next_h++;
        if (style == 0)
            ts[i] = gen_inorder(t);
        else if (style == 1)
            ts[i] = gen_existing(t); /* duplicate-heavy */
        else
            ts[i] = gen_ts(t);
    }
    if (sorted) {
        tlt_sort_pairs(ts, h, n);
        if (tlt_rng_below(&t->rng, 3) == 0) /* reverse-sorted */
            for (size_t i = 0; i < n / 2; i++) {
                tl_ts_t a = ts[i];
                ts[i] = ts[n - 1 - i];
                ts[n - 1 - i] = a;
                tl_handle_t b = h[i];
                h[i] = h[n - 1 - i];
                h[n - 1 - i] = b;
            }
    }
    tl_status_t st = tl_append_batch(t->log, ts, h, n);
    tlt_model_add_batch(&t->m, ts, h, n);
    t->records_appended += n;
    write_status(t, st, "tl_append_batch");
    free(ts);
    free(h);
}

static void do_delete_range(mt_t *t, tl_ts_t t1, tl_ts_t t2) {
    tl_status_t st = tl_delete_range(t->log, t1, t2);
    if (t1 < t2) tlt_model_delete_incl(&t->m, t1, t2 - 1, mark_dead, t);
    write_status(t, st, "tl_delete_range");
}

/* Deletes a range covering up to ~1000 visible records (more when the
 * model is over its soft cap). */
static void do_delete_large(mt_t *t) {
    if (t->m.n == 0) return;
    size_t i = tlt_rng_below(&t->rng, t->m.n);
    size_t most = t->m.n > MODEL_SOFT_CAP ? t->m.n / 2 : 1000;
    size_t left = t->m.n - i;
    size_t j = i + tlt_rng_below(&t->rng, (left < most ? left : most) + 1);
    tl_ts_t t1 = t->m.r[i].ts;
    tl_ts_t t2 = j < t->m.n ? t->m.r[j].ts : INT64_MAX;
    do_delete_range(t, t1, t2);
}

static void do_delete_since(mt_t *t, tl_ts_t t1) {
    tl_status_t st = tl_delete_since(t->log, t1);
    tlt_model_delete_incl(&t->m, t1, INT64_MAX, mark_dead, t);
    write_status(t, st, "tl_delete_since");
}

static void do_delete_before(mt_t *t, tl_ts_t t2) {
    tl_status_t st = tl_delete_before(t->log, t2);
    if (t2 > INT64_MIN) tlt_model_delete_incl(&t->m, INT64_MIN, t2 - 1, mark_dead, t);
    write_status(t, st, "tl_delete_before");
}

static void do_delete_ts(mt_t *t, tl_ts_t ts) {
    tl_status_t st = tl_delete_ts(t->log, ts);
    tlt_model_delete_incl(&t->m, ts, ts, mark_dead, t);
    write_status(t, st, "tl_delete_ts");
}

static void do_delete_all(mt_t *t) {
    tl_status_t st = tl_delete_all(t->log);
    tlt_model_delete_incl(&t->m, INT64_MIN, INT64_MAX, mark_dead, t);
    write_status(t, st, "tl_delete_all");
}

/* ---------------------------------------------------------------- reads */

/* A handle a read returned must still be held by the engine: its snapshot
 * can see it, so tl_drain_retired must not have released it yet. */
static void assert_not_dropped(mt_t *t, const tl_handle_t *h, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = tlt_drops_of(&t->env.drops, h[i]);
        cr_assert_eq(c, 0, "seed %llu: %s returned handle %llu, already passed to on_drop",
                     (unsigned long long)t->cfg->seed, what, (unsigned long long)h[i]);
    }
}

static void assert_recs_not_dropped(mt_t *t, const tlt_rec_t *r, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = tlt_drops_of(&t->env.drops, r[i].h);
        cr_assert_eq(c, 0, "seed %llu: %s can see handle %llu, already passed to on_drop",
                     (unsigned long long)t->cfg->seed, what, (unsigned long long)r[i].h);
    }
}

static void do_read_range(mt_t *t) {
    tl_ts_t t1, t2;
    gen_range(t, 400, &t1, &t2);
    tl_snapshot_t *snap = NULL;
    tl_iter_t *it = NULL;
    TLT_OK(tl_snapshot_acquire(t->log, &snap));
    uint64_t form = tlt_rng_below(&t->rng, 4);
    size_t i0, i1;
    if (form == 0 && t1 != INT64_MIN) {
        /* iter_since, bounded by the model's size */
        TLT_OK(tl_iter_since(snap, t1, &it));
        i0 = tlt_model_lower(&t->m, t1);
        i1 = t->m.n;
    } else if (form == 1) {
        TLT_OK(tl_iter_until(snap, t2, &it));
        i0 = 0;
        i1 = tlt_model_lower(&t->m, t2);
    } else {
        TLT_OK(tl_iter_range(snap, t1, t2, &it));
        tlt_model_slice(&t->m, t1, t2, &i0, &i1);
    }
    tl_snapshot_release(snap);
    if (i1 - i0 > 5000 && form < 2) { /* too long to compare cheaply: spot-check */
        uint64_t rem = 0;
        TLT_OK(tl_iter_remaining(it, &rem));
        cr_assert_eq(rem, i1 - i0);
        tl_iter_close(it);
        return;
    }
    char what[128];
    snprintf(what, sizeof what, "seed %llu: read form %d [%lld, %lld)",
             (unsigned long long)t->cfg->seed, (int)form, (long long)t1, (long long)t2);
    tlt_expect_iter(it, t->m.r + i0, i1 - i0, what);
    tl_iter_close(it);
    assert_recs_not_dropped(t, t->m.r + i0, i1 - i0, "a fresh snapshot");
}

static void do_count(mt_t *t, tl_snapshot_t *snap, const tlt_model_t *m) {
    tl_ts_t t1 = gen_bound(t), t2 = gen_bound(t);
    uint64_t c = 0;
    TLT_OK(tl_count_range(snap, t1, t2, &c));
    cr_assert_eq(c, tlt_model_count(m, t1, t2),
                 "seed %llu: count_range [%lld, %lld) = %llu, want %llu",
                 (unsigned long long)t->cfg->seed, (long long)t1, (long long)t2,
                 (unsigned long long)c, (unsigned long long)tlt_model_count(m, t1, t2));
    TLT_OK(tl_count_since(snap, t1, &c));
    cr_assert_eq(c, m->n - tlt_model_lower(m, t1), "seed %llu: count_since(%lld)",
                 (unsigned long long)t->cfg->seed, (long long)t1);
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, m->n, "seed %llu: count_all %llu, want %zu", (unsigned long long)t->cfg->seed,
                 (unsigned long long)c, m->n);
    /* Buckets over sorted random edges (duplicates allowed). */
    tl_ts_t edges[10];
    uint64_t got[10];
    size_t ne = 2 + tlt_rng_below(&t->rng, 9);
    for (size_t i = 0; i < ne; i++) edges[i] = gen_bound(t);
    for (size_t i = 1; i < ne; i++) /* insertion sort */
        for (size_t j = i; j > 0 && edges[j - 1] > edges[j]; j--) {
            tl_ts_t x = edges[j];
            edges[j] = edges[j - 1];
            edges[j - 1] = x;
        }
    TLT_OK(tl_count_buckets(snap, edges, ne, got));
    for (size_t i = 0; i + 1 < ne; i++)
        cr_assert_eq(got[i], tlt_model_count(m, edges[i], edges[i + 1]),
                     "seed %llu: count_buckets bucket %zu [%lld, %lld) = %llu, want %llu",
                     (unsigned long long)t->cfg->seed, i, (long long)edges[i],
                     (long long)edges[i + 1], (unsigned long long)got[i],
                     (unsigned long long)tlt_model_count(m, edges[i], edges[i + 1]));
}

static void do_neighbours(mt_t *t, tl_snapshot_t *snap, const tlt_model_t *m) {
    for (int k = 0; k < 4; k++) {
        tl_ts_t q = gen_bound(t), want, got = 0x5EED;
        tl_status_t st = tl_next_ts(snap, q, &got);
        if (tlt_model_next(m, q, &want)) {
            cr_assert(st == TL_OK && got == want, "seed %llu: next_ts(%lld) -> %s %lld, want %lld",
                      (unsigned long long)t->cfg->seed, (long long)q, tl_strerror(st),
                      (long long)got, (long long)want);
        } else {
            cr_assert(st == TL_EOF && got == 0x5EED,
                      "seed %llu: next_ts(%lld) -> %s %lld, want EOF",
                      (unsigned long long)t->cfg->seed, (long long)q, tl_strerror(st),
                      (long long)got);
        }
        got = 0x5EED;
        st = tl_prev_ts(snap, q, &got);
        if (tlt_model_prev(m, q, &want)) {
            cr_assert(st == TL_OK && got == want, "seed %llu: prev_ts(%lld) -> %s %lld, want %lld",
                      (unsigned long long)t->cfg->seed, (long long)q, tl_strerror(st),
                      (long long)got, (long long)want);
        } else {
            cr_assert(st == TL_EOF && got == 0x5EED,
                      "seed %llu: prev_ts(%lld) -> %s %lld, want EOF",
                      (unsigned long long)t->cfg->seed, (long long)q, tl_strerror(st),
                      (long long)got);
        }
    }
    tl_ts_t lo = 0x5EED, hi = 0x5EED;
    tl_status_t s1 = tl_min_ts(snap, &lo), s2 = tl_max_ts(snap, &hi);
    if (m->n == 0) {
        cr_assert(s1 == TL_EOF && s2 == TL_EOF, "seed %llu: min/max on empty -> %s/%s",
                  (unsigned long long)t->cfg->seed, tl_strerror(s1), tl_strerror(s2));
    } else {
        cr_assert(s1 == TL_OK && lo == m->r[0].ts, "seed %llu: min_ts -> %s %lld, want %lld",
                  (unsigned long long)t->cfg->seed, tl_strerror(s1), (long long)lo,
                  (long long)m->r[0].ts);
        cr_assert(s2 == TL_OK && hi == m->r[m->n - 1].ts, "seed %llu: max_ts -> %s %lld, want %lld",
                  (unsigned long long)t->cfg->seed, tl_strerror(s2), (long long)hi,
                  (long long)m->r[m->n - 1].ts);
    }
}

static void with_fresh_snapshot(mt_t *t, void (*fn)(mt_t *, tl_snapshot_t *, const tlt_model_t *)) {
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(t->log, &snap));
    fn(t, snap, &t->m);
    tl_snapshot_release(snap);
}

static void do_point(mt_t *t) {
    tl_ts_t ts = gen_existing(t);
    tl_snapshot_t *snap = NULL;
    tl_iter_t *it = NULL;
    TLT_OK(tl_snapshot_acquire(t->log, &snap));
    TLT_OK(tl_iter_point(snap, ts, &it));
    tl_snapshot_release(snap);
    size_t i0 = tlt_model_lower(&t->m, ts), i1 = tlt_model_upper(&t->m, ts);
    tlt_expect_iter(it, t->m.r + i0, i1 - i0, "point");
    tl_iter_close(it);
}

/* ---------------------------------------------------------------- pending */

static void iter_finish(mt_t *t, pending_iter_t *p) {
    char what[96];
    snprintf(what, sizeof what, "seed %llu: iterator read across later operations",
             (unsigned long long)t->cfg->seed);
    tlt_expect_same(p->got_ts, p->got_h, p->got_n, p->want, p->want_n, what);
    assert_not_dropped(t, p->got_h, p->got_n, "a pending iterator");
    tl_iter_close(p->it);
    free(p->want);
    free(p->got_ts);
    free(p->got_h);
    memset(p, 0, sizeof *p);
}

/* Reads up to a random number of records; finishes the iterator at EOF. */
static void iter_step(mt_t *t, pending_iter_t *p, bool to_end) {
    for (;;) {
        uint64_t rem = 0;
        TLT_OK(tl_iter_remaining(p->it, &rem));
        cr_assert_eq(rem, p->want_n - (p->got_n < p->want_n ? p->got_n : p->want_n),
                     "seed %llu: pending iterator remaining %llu, want %zu",
                     (unsigned long long)t->cfg->seed, (unsigned long long)rem,
                     p->want_n - p->got_n);
        size_t cap = 1 + tlt_rng_below(&t->rng, 64);
        size_t room = p->want_n - p->got_n + 1; /* +1 so an overrun is seen */
        if (cap > room) cap = room;
        size_t n = 0;
        tl_status_t st =
            tl_iter_next_batch(p->it, p->got_ts + p->got_n, p->got_h + p->got_n, cap, &n);
        cr_assert(st == TL_OK || st == TL_EOF, "seed %llu: next_batch -> %s",
                  (unsigned long long)t->cfg->seed, tl_strerror(st));
        cr_assert_leq(n, cap);
        p->got_n += n;
        if (n < cap) {
            iter_finish(t, p);
            return;
        }
        cr_assert_leq(p->got_n, p->want_n, "seed %llu: pending iterator returned too many",
                      (unsigned long long)t->cfg->seed);
        if (!to_end) return;
    }
}

static void do_iter_open(mt_t *t) {
    pending_iter_t *p = NULL;
    for (int i = 0; i < MAX_PENDING_ITERS && p == NULL; i++)
        if (t->pit[i].it == NULL) p = &t->pit[i];
    if (p == NULL) {
        p = &t->pit[tlt_rng_below(&t->rng, MAX_PENDING_ITERS)];
        iter_step(t, p, true);
    }
    tl_ts_t t1, t2;
    bool all = t->m.n < 2000 && tlt_rng_below(&t->rng, 4) == 0;
    gen_range(t, 1500, &t1, &t2);
    tl_snapshot_t *snap = NULL;
    TLT_OK(tl_snapshot_acquire(t->log, &snap));
    size_t i0 = 0, i1 = t->m.n;
    if (all)
        TLT_OK(tl_iter_all(snap, &p->it));
    else {
        TLT_OK(tl_iter_range(snap, t1, t2, &p->it));
        tlt_model_slice(&t->m, t1, t2, &i0, &i1);
    }
    tl_snapshot_release(snap); /* the iterator holds its own pin */
    p->want_n = i1 - i0;
    p->want = malloc((p->want_n + 1) * sizeof *p->want);
    p->got_ts = malloc((p->want_n + 1) * sizeof *p->got_ts);
    p->got_h = malloc((p->want_n + 1) * sizeof *p->got_h);
    cr_assert(p->want != NULL && p->got_ts != NULL && p->got_h != NULL);
    if (p->want_n) memcpy(p->want, t->m.r + i0, p->want_n * sizeof *p->want);
    p->got_n = 0;
    if (tlt_rng_below(&t->rng, 2) == 0) iter_step(t, p, false); /* consume a little right away */
}

static void do_iter_step(mt_t *t) {
    pending_iter_t *p = &t->pit[tlt_rng_below(&t->rng, MAX_PENDING_ITERS)];
    if (p->it != NULL) iter_step(t, p, tlt_rng_below(&t->rng, 8) == 0);
}

static void do_snap_open(mt_t *t) {
    pending_snap_t *p = &t->psnap[tlt_rng_below(&t->rng, MAX_PENDING_SNAPS)];
    if (p->snap != NULL) {
        tl_snapshot_release(p->snap);
        tlt_model_free(&p->m);
        p->snap = NULL;
    }
    TLT_OK(tl_snapshot_acquire(t->log, &p->snap));
    tlt_model_copy(&p->m, &t->m);
}

static void do_snap_query(mt_t *t) {
    pending_snap_t *p = &t->psnap[tlt_rng_below(&t->rng, MAX_PENDING_SNAPS)];
    if (p->snap == NULL) return;
    do_count(t, p->snap, &p->m);
    do_neighbours(t, p->snap, &p->m);
    /* A short range read on the old snapshot. */
    if (p->m.n == 0) return;
    size_t i = tlt_rng_below(&t->rng, p->m.n);
    size_t j = i + tlt_rng_below(&t->rng, 200);
    tl_ts_t t1 = p->m.r[i].ts, t2 = j < p->m.n ? p->m.r[j].ts : INT64_MAX;
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_range(p->snap, t1, t2, &it));
    size_t i0, i1;
    tlt_model_slice(&p->m, t1, t2, &i0, &i1);
    tlt_expect_iter(it, p->m.r + i0, i1 - i0, "range on a snapshot taken earlier");
    tl_iter_close(it);
}

static void do_snap_close(mt_t *t) {
    pending_snap_t *p = &t->psnap[tlt_rng_below(&t->rng, MAX_PENDING_SNAPS)];
    if (p->snap == NULL) return;
    do_snap_query(t);
    /* Nothing this snapshot can see may have been released while pinned. */
    assert_recs_not_dropped(t, p->m.r, p->m.n, "a pinned snapshot");
    tl_snapshot_release(p->snap);
    tlt_model_free(&p->m);
    p->snap = NULL;
}

static void release_all_pins(mt_t *t) {
    for (int i = 0; i < MAX_PENDING_ITERS; i++)
        if (t->pit[i].it != NULL) iter_step(t, &t->pit[i], true);
    for (int i = 0; i < MAX_PENDING_SNAPS; i++) {
        if (t->psnap[i].snap != NULL) {
            tl_snapshot_release(t->psnap[i].snap);
            tlt_model_free(&t->psnap[i].m);
            t->psnap[i].snap = NULL;
        }
    }
}

/* ---------------------------------------------------------------- checks */

static void do_stats(mt_t *t) {
    tl_stats_t st;
    TLT_OK(tl_stats(t->log, &st));
    cr_assert_eq(st.records, t->m.n, "seed %llu: stats.records %llu, want %zu",
                 (unsigned long long)t->cfg->seed, (unsigned long long)st.records, t->m.n);
    cr_assert_geq(st.physical_records, st.records);
    if (t->cfg->maint == TL_MAINT_DISABLED) /* no worker allocating concurrently */
        cr_assert_eq(st.engine_bytes, tlt_alloc_live_bytes(&t->env.alloc),
                     "seed %llu: stats.engine_bytes %llu, allocator live bytes %llu",
                     (unsigned long long)t->cfg->seed, (unsigned long long)st.engine_bytes,
                     (unsigned long long)tlt_alloc_live_bytes(&t->env.alloc));
    if (t->m.n > 0) {
        cr_assert_eq(st.min_ts, t->m.r[0].ts);
        cr_assert_eq(st.max_ts, t->m.r[t->m.n - 1].ts);
    } else {
        cr_assert(st.min_ts > st.max_ts);
    }
}

static void validate(mt_t *t) {
    tlt_alloc_check(&t->env.alloc); /* guard words, sizes passed to free */
    const char *why = NULL;
    tl_status_t st = tl_validate(t->log, &why);
    cr_assert_eq(st, TL_OK, "seed %llu: tl_validate -> %s: %s", (unsigned long long)t->cfg->seed,
                 tl_strerror(st), why ? why : "?");
}

/* No pins: after flush + compact + drain exactly the deleted handles have
 * been dropped, once each. */
static void checkpoint(mt_t *t) {
    release_all_pins(t);
    TLT_OK(tl_flush(t->log));
    TLT_OK(tl_compact(t->log));
    tlt_drain_all(t->log);
    validate(t);
    tlt_expect_model(t->log, &t->m);
    for (tl_handle_t h = 1; h < t->next_h; h++) {
        uint32_t c = tlt_drops_of(&t->env.drops, h);
        cr_assert_eq(c, (uint32_t)t->dead[h],
                     "seed %llu, checkpoint %llu: handle %llu dropped %u times, want %u (%s)",
                     (unsigned long long)t->cfg->seed, (unsigned long long)t->checkpoints,
                     (unsigned long long)h, c, t->dead[h], t->dead[h] ? "deleted" : "visible");
    }
    tlt_drops_check(&t->env.drops);
    t->checkpoints++;
}

/* ---------------------------------------------------------------- driver */

static int pick_kind(mt_t *t) {
    unsigned r = (unsigned)tlt_rng_below(&t->rng, t->weight_total);
    for (int k = 0; k < K_COUNT_KINDS; k++) {
        if (r < k_weight[k]) return k;
        r -= k_weight[k];
    }
    return K_APPEND_INORDER;
}

static void run_op(mt_t *t, int kind) {
    switch (kind) {
    case K_APPEND_INORDER: do_append(t, gen_inorder(t)); break;
    case K_APPEND_OOO: do_append(t, gen_ooo(t)); break;
    case K_APPEND_DUP:
        do_append(t, tlt_rng_below(&t->rng, 2) ? gen_existing(t) : t->last_ts);
        break;
    case K_BATCH_SORTED: do_batch(t, true); break;
    case K_BATCH_UNSORTED: do_batch(t, false); break;
    case K_DEL_SMALL: {
        tl_ts_t a = gen_bound(t);
        tl_ts_t w = t->cfg->domain == DOM_SMALL ? (tl_ts_t)tlt_rng_below(&t->rng, 5)
                                                : (tl_ts_t)tlt_rng_below(&t->rng, 200);
        do_delete_range(t, a, tlt_sat_add(a, w));
        break;
    }
    case K_DEL_LARGE: do_delete_large(t); break;
    case K_DEL_SINCE: do_delete_since(t, near_end(t, true)); break;
    case K_DEL_BEFORE: do_delete_before(t, near_end(t, false)); break;
    case K_DEL_TS: do_delete_ts(t, gen_bound(t)); break;
    case K_DEL_ALL: do_delete_all(t); break;
    case K_FLUSH: TLT_OK(tl_flush(t->log)); break;
    case K_COMPACT: TLT_OK(tl_compact(t->log)); break;
    case K_MAINT: {
        tl_status_t st = tl_maint_step(t->log);
        cr_assert(st == TL_OK || st == TL_EOF, "seed %llu: maint_step -> %s",
                  (unsigned long long)t->cfg->seed, tl_strerror(st));
        break;
    }
    case K_DRAIN: {
        size_t n = 0;
        TLT_OK(tl_drain_retired(t->log, tlt_rng_below(&t->rng, 3) * 16, &n));
        /* Records pending iterators have yet to return are still pinned. */
        for (int i = 0; i < MAX_PENDING_ITERS; i++)
            if (t->pit[i].it != NULL && t->pit[i].got_n < t->pit[i].want_n)
                assert_recs_not_dropped(t, t->pit[i].want + t->pit[i].got_n,
                                        t->pit[i].want_n - t->pit[i].got_n, "a pending iterator");
        break;
    }
    case K_READ_RANGE: do_read_range(t); break;
    case K_COUNT: with_fresh_snapshot(t, do_count); break;
    case K_NEIGHBOURS: with_fresh_snapshot(t, do_neighbours); break;
    case K_POINT: do_point(t); break;
    case K_ITER_OPEN: do_iter_open(t); break;
    case K_ITER_STEP: do_iter_step(t); break;
    case K_SNAP_OPEN: do_snap_open(t); break;
    case K_SNAP_QUERY: do_snap_query(t); break;
    case K_SNAP_CLOSE: do_snap_close(t); break;
    case K_STATS: do_stats(t); break;
    default: break;
    }
}

static void run_seed(const seed_cfg_t *cfg) {
    mt_t *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    t->cfg = cfg;
    tlt_env_setup(&t->env, HANDLE_CAP);
    tlt_model_init(&t->m);
    tlt_rng_seed(&t->rng, cfg->seed);
    t->next_h = 1;
    t->dead = calloc(HANDLE_CAP, 1);
    cr_assert_not_null(t->dead);
    t->last_ts = cfg->domain == DOM_SMALL    ? 0
                 : cfg->domain == DOM_MEDIUM ? -1000000
                                             : INT64_MAX - 5000;
    for (int k = 0; k < K_COUNT_KINDS; k++) t->weight_total += k_weight[k];

    tl_config_t c;
    tlt_config(&t->env, &c);
    c.maintenance = cfg->maint;
    c.memtable_max_bytes = cfg->memtable_max_bytes;
    c.target_page_bytes = cfg->target_page_bytes;
    c.max_delta_segments = cfg->max_delta_segments;
    c.window_size = cfg->window_size;
    c.window_origin = cfg->window_origin;
    c.delete_debt_threshold = cfg->delete_debt_threshold;
    c.compaction_max_inputs = cfg->compaction_max_inputs;
    c.compaction_max_windows = cfg->compaction_max_windows;
    c.compaction_target_bytes = cfg->compaction_target_bytes;
    c.sealed_max_runs = cfg->sealed_max_runs;
    c.drain_batch_limit = cfg->drain_batch_limit;
    c.sealed_wait_ms = 1;
    c.maintenance_wakeup_ms = 1;
    c.ooo_budget_bytes = 2048;
    TLT_OK(tlt_open_cfg(&t->env, &c, &t->log));

    for (size_t i = 0; i < cfg->ops; i++) {
        int kind = pick_kind(t);
        if (t->m.n > MODEL_SOFT_CAP && kind <= K_APPEND_DUP)
            kind = K_DEL_LARGE; /* keep the model (and the run time) bounded */
        run_op(t, kind);
        t->done[kind]++;
        t->model_sum += t->m.n;
        if (t->m.n > t->model_max) t->model_max = t->m.n;
        if ((i + 1) % VALIDATE_EVERY == 0) validate(t);
        if ((i + 1) % CHECKPOINT_EVERY == 0) checkpoint(t);
    }
    checkpoint(t);

    /* Close with a pinned snapshot now and then: teardown happens at its
     * release. Either way every handle is dropped exactly once. */
    tl_snapshot_t *last = NULL;
    if (cfg->seed % 2 == 1) TLT_OK(tl_snapshot_acquire(t->log, &last));
    tlt_close(&t->env);
    t->log = NULL;
    if (last != NULL) {
        uint64_t cnt = 0;
        TLT_OK(tl_count_all(last, &cnt));
        cr_assert_eq(cnt, t->m.n);
        tl_snapshot_release(last);
    }
    tlt_drops_assert_range_once(&t->env.drops, 1, t->next_h);
    cr_assert_eq(tlt_drops_total(&t->env.drops), t->next_h - 1);

    uint64_t ops = 0;
    for (int k = 0; k < K_COUNT_KINDS; k++) ops += t->done[k];
    cr_log_info("seed %llu: %llu ops, %llu records appended, visible records mean %llu "
                "max %llu end %zu, %llu busy, %llu checkpoints",
                (unsigned long long)cfg->seed, (unsigned long long)ops,
                (unsigned long long)t->records_appended,
                (unsigned long long)(t->model_sum / (ops ? ops : 1)),
                (unsigned long long)t->model_max, t->m.n, (unsigned long long)t->busy,
                (unsigned long long)t->checkpoints);
    cr_assert_eq(ops, cfg->ops);
    tlt_env_teardown(&t->env);
    tlt_model_free(&t->m);
    free(t->dead);
    free(t);
}

/* ---------------------------------------------------------------- seeds */

/* Heavy duplicates in [0, 200), explicit maintenance only. */
Test(model, seed1_small_domain_disabled, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 1,
                            .domain = DOM_SMALL,
                            .maint = TL_MAINT_DISABLED,
                            .ops = 40000,
                            .memtable_max_bytes = 4096,
                            .target_page_bytes = 256,
                            .max_delta_segments = 2,
                            .window_size = 50};
    run_seed(&cfg);
}

/* Every int64 value, both extremes, explicit maintenance only. */
Test(model, seed2_full_int64_disabled, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 2,
                            .domain = DOM_FULL,
                            .maint = TL_MAINT_DISABLED,
                            .ops = 40000,
                            .memtable_max_bytes = 4096,
                            .target_page_bytes = 256,
                            .max_delta_segments = 3,
                            .window_size = 1000,
                            .window_origin = INT64_MAX - 3};
    run_seed(&cfg);
}

/* Heavy duplicates with the background worker. */
Test(model, seed3_small_domain_background, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 3,
                            .domain = DOM_SMALL,
                            .maint = TL_MAINT_BACKGROUND,
                            .ops = 30000,
                            .memtable_max_bytes = 4096,
                            .target_page_bytes = 256,
                            .max_delta_segments = 2,
                            .window_size = 64,
                            .delete_debt_threshold = 0.2};
    run_seed(&cfg);
}

/* Every int64 value with the background worker. */
Test(model, seed4_full_int64_background, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 4,
                            .domain = DOM_FULL,
                            .maint = TL_MAINT_BACKGROUND,
                            .ops = 30000,
                            .memtable_max_bytes = 8192,
                            .target_page_bytes = 512,
                            .max_delta_segments = 2,
                            .window_size = (tl_ts_t)1 << 40,
                            .window_origin = INT64_MIN};
    run_seed(&cfg);
}

/* A mostly in-order stream with partial (policy) compactions and delete debt. */
Test(model, seed5_medium_domain_policy_compaction, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 5,
                            .domain = DOM_MEDIUM,
                            .maint = TL_MAINT_DISABLED,
                            .ops = 40000,
                            .memtable_max_bytes = 4096,
                            .target_page_bytes = 256,
                            .max_delta_segments = 2,
                            .window_size = 5000,
                            .delete_debt_threshold = 0.3,
                            .compaction_max_inputs = 2,
                            .compaction_max_windows = 2};
    run_seed(&cfg);
}

/* One window as wide as int64 allows, origin at INT64_MIN: the first and
 * last windows are clipped. */
Test(model, seed6_full_int64_widest_window, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 6,
                            .domain = DOM_FULL,
                            .maint = TL_MAINT_DISABLED,
                            .ops = 20000,
                            .memtable_max_bytes = 2048,
                            .target_page_bytes = 128,
                            .max_delta_segments = 2,
                            .window_size = INT64_MAX,
                            .window_origin = INT64_MIN};
    run_seed(&cfg);
}

/* Window of 1 (every timestamp its own window) over heavy duplicates. */
Test(model, seed7_small_domain_unit_windows, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 7,
                            .domain = DOM_SMALL,
                            .maint = TL_MAINT_DISABLED,
                            .ops = 20000,
                            .memtable_max_bytes = 4096,
                            .target_page_bytes = 256,
                            .max_delta_segments = 4,
                            .window_size = 1,
                            .compaction_max_windows = 3};
    run_seed(&cfg);
}

/* The smallest sizes the config accepts: many tiny pages, memruns, L0 and
 * L1 segments; one-segment compaction steps; one-handle drains. */
Test(model, seed8_medium_domain_tiny_structures_background, .timeout = 60) {
    const seed_cfg_t cfg = {.seed = 8,
                            .domain = DOM_MEDIUM,
                            .maint = TL_MAINT_BACKGROUND,
                            .ops = 15000,
                            .memtable_max_bytes = 512,
                            .target_page_bytes = 16,
                            .max_delta_segments = 1,
                            .window_size = 1000,
                            .compaction_target_bytes = 64,
                            .compaction_max_inputs = 1,
                            .compaction_max_windows = 1,
                            .sealed_max_runs = 1,
                            .drain_batch_limit = 1,
                            .delete_debt_threshold = 0.05};
    run_seed(&cfg);
}
