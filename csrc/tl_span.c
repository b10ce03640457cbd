/*
 * tl_span.c: zero-copy spans over a snapshot's immutable sources.
 *
 * Sources are visited in manifest order (memruns, L0, then L1 by time); each
 * is clipped to the range by binary search and then cut around the records
 * tombstones hide. In an immutable source a tombstone hides either all or
 * none of the records inside its interval (they share the source's
 * watermark), so the visible records form whole sub-runs: a span is a plain
 * pointer + length into the page memory, never a copy and never a mask.
 *
 * Threads: like iterators, a span iterator reads only what its snapshot pins.
 */
#include "tl_span.h"

struct tl_span_iter {
    tl_snapshot_t *snap;
    tl_range_t r;
    size_t src; /* next source index: memruns, then L0, then L1 */
    bool loaded;
    tl_src_t s;
    size_t pos, end;
};

static size_t n_sources(const tl_manifest_t *man) { return man->n_mr + man->n_l0 + man->n_l1; }

static void load_source(tl_span_iter_t *it, size_t k) {
    const tl_manifest_t *man = it->snap->man;
    if (k < man->n_mr) {
        tl_src_of_memrun(&it->s, man->mr[k]);
    } else if (k < man->n_mr + man->n_l0) {
        tl_src_of_segment(&it->s, man->l0[k - man->n_mr]);
    } else {
        tl_src_of_segment(&it->s, man->l1[k - man->n_mr - man->n_l0]);
    }
    const tl_src_t *s = &it->s;
    if (s->min > it->r.hi || s->max < it->r.lo) {
        it->pos = it->end = 0;
    } else {
        tl_src_bounds(s, it->r, &it->pos, &it->end);
    }
    it->loaded = true;
}

tl_status_t tl_spans_next(tl_span_iter_t *it, tl_span_t *out) {
    const tl_tombs_t *t = it->snap->tombs;
    if (it->r.empty) return TL_EOF;
    for (;;) {
        if (!it->loaded || it->pos >= it->end) {
            if (it->src >= n_sources(it->snap->man)) return TL_EOF;
            load_source(it, it->src++);
            continue;
        }
        const tl_src_t *s = &it->s;
        tl_ts_t ts = s->ts[it->pos];
        /* Find the first interval at or after ts that hides this source. */
        size_t i = tl_tombs_seek(t, ts);
        while (i < tl_tombs_count(t) && tl_tombs_get(t, i)->seq <= s->wm) i++;
        size_t stop = it->end;
        if (i < tl_tombs_count(t)) {
            const tl_tomb_t *tb = tl_tombs_get(t, i);
            if (tb->lo <= ts) {
                /* ts is hidden: skip the whole interval. */
                it->pos = tb->hi == TL_TS_MAX ? it->end : TL_MAX(it->pos, tl_src_lb(s, tb->hi + 1));
                continue;
            }
            stop = TL_MIN(stop, tl_src_lb(s, tb->lo));
        }
        out->ts = s->ts + it->pos;
        out->h = s->h + it->pos;
        out->n = stop - it->pos;
        out->level = s->level;
        it->pos = stop;
        return TL_OK;
    }
}

static tl_status_t spans_open(tl_snapshot_t *snap, tl_range_t r, tl_span_iter_t **out) {
    *out = NULL;
    tl_span_iter_t *it = tl_mem_alloc(snap->mem, sizeof(*it));
    if (it == NULL) return TL_ERR(TL_ENOMEM);
    memset(it, 0, sizeof(*it));
    tl_snapshot_retain(snap);
    it->snap = snap;
    it->r = r;
    *out = it;
    return TL_OK;
}

void tl_spans_close(tl_span_iter_t *it) {
    if (it == NULL) return;
    tl_snapshot_t *snap = it->snap;
    tl_mem_free(snap->mem, it, sizeof(*it));
    tl_snapshot_release(snap);
}

tl_status_t tl_spans_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2, tl_span_iter_t **out) {
    return spans_open(snap, tl_range_halfopen(t1, t2), out);
}

tl_status_t tl_spans_since(tl_snapshot_t *snap, tl_ts_t t1, tl_span_iter_t **out) {
    return spans_open(snap, tl_range_since(t1), out);
}

tl_status_t tl_spans_all(tl_snapshot_t *snap, tl_span_iter_t **out) {
    return spans_open(snap, tl_range_all(), out);
}
