/*
 * tl_query.c: counting and timestamp-neighbour queries over a snapshot,
 * answered by binary searches per source instead of scans.
 *
 * count: per source, upper_bound - lower_bound; then, for each tombstone
 * interval meeting the range, subtract what it hides: a whole searched
 * sub-range for immutable sources whose watermark is below the tombstone,
 * and a scan of the (small, bounded) memtable sub-range otherwise. The
 * tombstone set is a step function (each timestamp lies in at most one
 * interval), so nothing is subtracted twice.
 *
 * neighbours: per source, search for the nearest record and, when a
 * tombstone hides it, jump over the whole hiding interval at once.
 *
 * Threads: pure reads of a pinned snapshot.
 */
#include "tl_query.h"

/* Records of one source inside r. */
static uint64_t src_count(const tl_src_t *s, tl_range_t r) {
    if (r.empty || s->n == 0 || s->min > r.hi || s->max < r.lo) return 0;
    size_t a, b;
    if (s->pages != NULL && s->min < r.lo && s->max > r.hi) {
        /* Only the two ends matter here: one lockstep descent, whatever the
         * width (measured: the fastest at every width for a count). */
        tl_pages_bounds(s->pages, s->ts, s->n, r.lo, r.hi, &a, &b);
    } else {
        tl_src_bounds(s, r, &a, &b);
    }
    return b > a ? b - a : 0;
}

/* Records of one source inside r that tombstone seq hides. */
static uint64_t src_hidden(const tl_src_t *s, tl_range_t r, tl_seq_t seq) {
    if (s->seq == NULL) return seq > s->wm ? src_count(s, r) : 0;
    if (r.empty || s->n == 0 || s->min > r.hi || s->max < r.lo) return 0;
    uint64_t k = 0;
    size_t i = tl_src_lb(s, r.lo);
    size_t e = tl_upper_from(s->pages, s->ts, i, s->n, r.hi);
    for (; i < e; i++) k += seq > s->seq[i];
    return k;
}

/* Calls fn on every flat source (memtable parts, memruns, L0) and, when
 * with_l1, on the L1 segments meeting r (pruned by their sorted bounds). */
typedef void (*src_fn)(void *ctx, const tl_src_t *s);

static tl_status_t for_each_source(const tl_snapshot_t *snap, tl_range_t r, bool with_l1, src_fn fn,
                                   void *ctx) {
    size_t max_flat = tl_snapshot_max_flat_sources(snap);
    tl_src_t stack_buf[32];
    tl_src_t *flat = stack_buf;
    size_t bytes = max_flat * sizeof(tl_src_t);
    if (max_flat > 32) {
        flat = tl_mem_alloc(snap->mem, bytes);
        if (flat == NULL) return TL_ERR(TL_ENOMEM);
    }
    size_t nf = tl_snapshot_flat_sources(snap, flat);
    for (size_t i = 0; i < nf; i++) fn(ctx, &flat[i]);
    if (flat != stack_buf) tl_mem_free(snap->mem, flat, bytes);
    if (!with_l1 || r.empty) return TL_OK;
    const tl_manifest_t *man = snap->man;
    for (size_t i = tl_manifest_l1_seek(man, r.lo); i < man->n_l1 && man->l1[i]->min <= r.hi; i++) {
        tl_src_t s;
        tl_src_of_segment(&s, man->l1[i]);
        fn(ctx, &s);
    }
    return TL_OK;
}

typedef struct count_ctx {
    const tl_snapshot_t *snap;
    tl_range_t r;
    uint64_t total;
    uint64_t hidden;
} count_ctx_t;

static void count_one(void *vctx, const tl_src_t *s) {
    count_ctx_t *c = vctx;
    c->total += src_count(s, c->r);
    const tl_tombs_t *t = c->snap->tombs;
    if (t == NULL) return;
    for (size_t i = tl_tombs_seek(t, c->r.lo); i < t->n; i++) {
        const tl_tomb_t *v = tl_tombs_get(t, i);
        if (v->lo > c->r.hi) break;
        tl_range_t clip = tl_range_closed(TL_MAX(v->lo, c->r.lo), TL_MIN(v->hi, c->r.hi));
        c->hidden += src_hidden(s, clip, v->seq);
    }
}

tl_status_t tl_count_in(const tl_snapshot_t *snap, tl_range_t r, uint64_t *out) {
    *out = 0;
    if (r.empty) return TL_OK;
    count_ctx_t c = {snap, r, 0, 0};
    tl_status_t st = for_each_source(snap, r, true, count_one, &c);
    if (st != TL_OK) return st;
    *out = c.total - c.hidden;
    return TL_OK;
}

static void count_phys_one(void *vctx, const tl_src_t *s) {
    count_ctx_t *c = vctx;
    c->total += src_count(s, c->r);
}

tl_status_t tl_count_physical_in(const tl_snapshot_t *snap, tl_range_t r, uint64_t *out) {
    count_ctx_t c = {snap, r, 0, 0};
    *out = 0;
    if (r.empty) return TL_OK;
    tl_status_t st = for_each_source(snap, r, true, count_phys_one, &c);
    if (st == TL_OK) *out = c.total;
    return st;
}

tl_status_t tl_count_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2, uint64_t *out) {
    return tl_count_in(snap, tl_range_halfopen(t1, t2), out);
}

tl_status_t tl_count_since(tl_snapshot_t *snap, tl_ts_t t1, uint64_t *out) {
    return tl_count_in(snap, tl_range_since(t1), out);
}

tl_status_t tl_count_all(tl_snapshot_t *snap, uint64_t *out) {
    return tl_count_in(snap, tl_range_all(), out);
}

tl_status_t tl_count_buckets(tl_snapshot_t *snap, const tl_ts_t *edges, size_t n_edges,
                             uint64_t *out) {
    if (n_edges < 2) return TL_OK;
    if (edges == NULL || out == NULL) return TL_ERR(TL_EINVAL);
    for (size_t i = 1; i < n_edges; i++) {
        if (edges[i] < edges[i - 1]) return TL_ERR(TL_EINVAL);
    }
    for (size_t i = 0; i + 1 < n_edges; i++) {
        tl_status_t st = tl_count_in(snap, tl_range_halfopen(edges[i], edges[i + 1]), &out[i]);
        if (st != TL_OK) return st;
    }
    return TL_OK;
}

typedef struct point_ctx {
    tl_ts_t ts;
    tl_seq_t hide; /* f(ts): one tombstone lookup serves every source */
    tl_handle_t *out;
    size_t cap, n;
} point_ctx_t;

static void point_one(void *vctx, const tl_src_t *s) {
    point_ctx_t *c = vctx;
    if (s->n == 0 || s->min > c->ts || s->max < c->ts) return;
    for (size_t i = tl_src_lb_h(s, c->ts); i < s->n && s->ts[i] == c->ts; i++) {
        if (c->hide > tl_src_seq(s, i)) continue;
        if (c->n < c->cap) c->out[c->n] = s->h[i];
        c->n++;
    }
}

tl_status_t tl_point_collect(const tl_snapshot_t *snap, tl_ts_t ts, tl_handle_t *out, size_t cap,
                             size_t *n_total) {
    point_ctx_t c = {ts, tl_tombs_seq_at(snap->tombs, ts), out, cap, 0};
    /* Sources in the iterator's order (flat ones, then L1), so log[ts] and
     * point(ts) agree on the order of duplicates. */
    tl_status_t st = for_each_source(snap, tl_range_point(ts), true, point_one, &c);
    *n_total = c.n;
    return st;
}

/* ---------------------------------------------------------------- neighbours */

/* Smallest visible timestamp >= x in one source (false if none). */
static bool src_first_visible(const tl_src_t *s, const tl_tombs_t *t, tl_ts_t x, tl_ts_t *out) {
    size_t i = tl_src_lb(s, x);
    while (i < s->n) {
        tl_ts_t ts = s->ts[i];
        const tl_tomb_t *tb = tl_tombs_find(t, ts);
        if (tb == NULL || tb->seq <= tl_src_seq(s, i)) {
            *out = ts;
            return true;
        }
        if (s->seq != NULL) {
            i++; /* memtable: each record has its own sequence */
        } else {
            if (tb->hi == TL_TS_MAX) return false;
            i = tl_src_lb(s, tb->hi + 1); /* the whole interval is hidden here */
        }
    }
    return false;
}

/* Largest visible timestamp <= x in one source (false if none). */
static bool src_last_visible(const tl_src_t *s, const tl_tombs_t *t, tl_ts_t x, tl_ts_t *out) {
    size_t i = tl_src_ub(s, x);
    while (i > 0) {
        tl_ts_t ts = s->ts[i - 1];
        const tl_tomb_t *tb = tl_tombs_find(t, ts);
        if (tb == NULL || tb->seq <= tl_src_seq(s, i - 1)) {
            *out = ts;
            return true;
        }
        if (s->seq != NULL) {
            i--;
        } else {
            i = tl_src_lb(s, tb->lo);
        }
    }
    return false;
}

typedef struct nb_ctx {
    const tl_tombs_t *tombs;
    tl_ts_t x;
    bool forward;
    bool found;
    tl_ts_t best;
} nb_ctx_t;

/* Offers one source's nearest visible timestamp; true if it had one. */
static bool nb_offer(nb_ctx_t *c, const tl_src_t *s) {
    tl_ts_t v;
    bool ok = c->forward ? src_first_visible(s, c->tombs, c->x, &v)
                         : src_last_visible(s, c->tombs, c->x, &v);
    if (!ok) return false;
    if (!c->found || (c->forward ? v < c->best : v > c->best)) c->best = v;
    c->found = true;
    return true;
}

static void nb_one(void *vctx, const tl_src_t *s) { (void)nb_offer(vctx, s); }

/* Smallest visible ts >= x (forward) or largest <= x (backward). L1 segments
 * are sorted and disjoint, so the walk stops at the first segment that
 * yields an answer or cannot beat the best one so far. */
static tl_status_t neighbour(const tl_snapshot_t *snap, tl_ts_t x, bool forward, tl_ts_t *out) {
    nb_ctx_t c = {snap->tombs, x, forward, false, 0};
    tl_status_t st = for_each_source(snap, tl_range_point(x), false, nb_one, &c);
    if (st != TL_OK) return st;
    const tl_manifest_t *man = snap->man;
    size_t i = tl_manifest_l1_seek(man, x); /* first segment with max >= x */
    if (forward) {
        for (; i < man->n_l1; i++) {
            const tl_segment_t *seg = man->l1[i];
            if (c.found && seg->min >= c.best) break;
            tl_src_t s;
            tl_src_of_segment(&s, seg);
            if (nb_offer(&c, &s)) break;
        }
    } else {
        if (i < man->n_l1 && man->l1[i]->min <= x) i++; /* segment i holds x: include it */
        while (i-- > 0) {
            const tl_segment_t *seg = man->l1[i];
            if (c.found && seg->max <= c.best) break;
            tl_src_t s;
            tl_src_of_segment(&s, seg);
            if (nb_offer(&c, &s)) break;
        }
    }
    if (!c.found) return TL_EOF;
    *out = c.best;
    return TL_OK;
}

tl_status_t tl_min_ts(tl_snapshot_t *snap, tl_ts_t *out) {
    return neighbour(snap, TL_TS_MIN, true, out);
}

tl_status_t tl_max_ts(tl_snapshot_t *snap, tl_ts_t *out) {
    return neighbour(snap, TL_TS_MAX, false, out);
}

tl_status_t tl_next_ts(tl_snapshot_t *snap, tl_ts_t ts, tl_ts_t *out) {
    if (ts == TL_TS_MAX) return TL_EOF;
    return neighbour(snap, ts + 1, true, out);
}

tl_status_t tl_prev_ts(tl_snapshot_t *snap, tl_ts_t ts, tl_ts_t *out) {
    if (ts == TL_TS_MIN) return TL_EOF;
    return neighbour(snap, ts - 1, false, out);
}
