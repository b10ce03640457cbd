/*
 * tl_merge.c: range iterators over a snapshot: plan, seek, k-way merge,
 * tombstone filter.
 *
 * Plan: every flat source (memtable parts, memruns, L0) whose [min, max]
 * meets the range gets a cursor positioned by lower_bound; all L1 segments
 * the range meets form ONE chained cursor, since they never overlap and are
 * sorted (the non-overlapping fast path: no heap work between them).
 * Merge: a binary min-heap of cursors keyed by (timestamp, cursor index); a
 * single cursor skips the heap entirely. Filter: one forward tombstone cursor
 * over the merged (sorted) output; a record is hidden when the tombstone
 * covering it is newer than the record's own sequence (memtable) or its
 * source's watermark (immutable sources).
 *
 * Threads: an iterator belongs to one thread at a time; it reads only
 * immutable memory pinned by its snapshot.
 */
#include "tl_merge.h"
#include "tl_query.h"

struct tl_iter {
    size_t bytes; /* of this allocation; first, as snapshot spares need */
    tl_snapshot_t *snap;
    tl_kmerge_t km;
    size_t n_cur;
    tl_tomb_cursor_t tc;
    bool filter;       /* some tombstone meets the range */
    uint64_t returned; /* records handed out so far */
    bool total_known;
    uint64_t total; /* visible records in the range */
};

static bool cur_less(const tl_kmerge_t *km, uint32_t a, uint32_t b) {
    const tl_cur_t *ca = &km->cur[a], *cb = &km->cur[b];
    tl_ts_t ta = ca->s.ts[ca->pos], tb = cb->s.ts[cb->pos];
    return ta < tb || (ta == tb && a < b);
}

static void heap_sift_down(tl_kmerge_t *km, size_t i) {
    size_t n = km->heap_n;
    uint32_t x = km->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cur_less(km, km->heap[c + 1], km->heap[c])) c++;
        if (!cur_less(km, km->heap[c], x)) break;
        km->heap[i] = km->heap[c];
        i = c;
    }
    km->heap[i] = x;
}

void tl_cur_load_segment(tl_cur_t *c, const tl_segment_t *seg, tl_range_t r) {
    tl_src_of_segment(&c->s, seg);
    tl_src_bounds(&c->s, r, &c->pos, &c->end);
}

bool tl_cur_refill(tl_cur_t *c, tl_range_t r) {
    while (c->pos == c->end) {
        if (c->chain == NULL || c->chain_next == c->chain_end) return false;
        tl_cur_load_segment(c, c->chain[c->chain_next++], r);
    }
    return true;
}

void tl_kmerge_init(tl_kmerge_t *km, tl_cur_t *cur, uint32_t *heap, size_t n, tl_range_t r) {
    km->cur = cur;
    km->heap = heap;
    km->heap_n = n;
    km->r = r;
    for (size_t i = 0; i < n; i++) heap[i] = (uint32_t)i;
    for (size_t i = n / 2; i-- > 0;) heap_sift_down(km, i);
}

void tl_kmerge_take(tl_kmerge_t *km, tl_ts_t *ts, tl_handle_t *h, tl_seq_t *seq, uint32_t *src) {
    uint32_t ci = km->heap[0];
    tl_cur_t *c = &km->cur[ci];
    *ts = c->s.ts[c->pos];
    *h = c->s.h[c->pos];
    *seq = tl_src_seq(&c->s, c->pos);
    *src = ci;
    c->pos++;
    if (c->pos == c->end && !tl_cur_refill(c, km->r)) {
        km->heap[0] = km->heap[--km->heap_n];
        if (km->heap_n == 0) return;
    }
    if (km->heap_n > 1) heap_sift_down(km, 0);
}

static tl_status_t iter_open(tl_snapshot_t *snap, tl_range_t r, tl_iter_t **out) {
    *out = NULL;
    const tl_manifest_t *man = snap->man;
    size_t max_flat = tl_snapshot_max_flat_sources(snap);
    size_t max_cur = max_flat + 1;
    size_t bytes = sizeof(tl_iter_t) + max_cur * sizeof(tl_cur_t) + max_cur * sizeof(uint32_t) +
                   max_flat * sizeof(tl_src_t);
    /* The last closed iterator's memory, when it is large enough. */
    tl_iter_t *it = atomic_exchange_explicit(&snap->spare_iter, NULL, memory_order_acquire);
    if (it != NULL && it->bytes < bytes) {
        tl_mem_free(snap->mem, it, it->bytes);
        it = NULL;
    }
    if (it != NULL) {
        bytes = it->bytes;
    } else if ((it = tl_mem_alloc(snap->mem, bytes)) == NULL) {
        return TL_ERR(TL_ENOMEM);
    }
    memset(it, 0, sizeof(*it));
    it->bytes = bytes;
    tl_cur_t *cur = (tl_cur_t *)(it + 1);
    tl_src_t *flat = (tl_src_t *)(cur + max_cur);
    uint32_t *heap = (uint32_t *)(flat + max_flat);
    it->km.cur = cur;
    it->km.r = r;
    tl_snapshot_retain(snap);
    it->snap = snap;
    if (r.empty) {
        it->total_known = true;
        *out = it;
        return TL_OK;
    }

    size_t nf = tl_snapshot_flat_sources(snap, flat);
    for (size_t i = 0; i < nf; i++) {
        const tl_src_t *s = &flat[i];
        if (s->min > r.hi || s->max < r.lo) continue; /* pruned by bounds */
        tl_cur_t *c = &cur[it->n_cur];
        c->s = *s;
        tl_src_bounds(s, r, &c->pos, &c->end);
        c->chain = NULL;
        if (c->pos < c->end) it->n_cur++;
    }
    size_t first = tl_manifest_l1_seek(man, r.lo);
    size_t last = first;
    while (last < man->n_l1 && man->l1[last]->min <= r.hi) last++;
    if (first < last) {
        tl_cur_t *c = &cur[it->n_cur];
        c->chain = man->l1;
        c->chain_next = first + 1;
        c->chain_end = last;
        tl_cur_load_segment(c, man->l1[first], r);
        if (tl_cur_refill(c, r)) it->n_cur++;
    }
    tl_kmerge_init(&it->km, cur, heap, it->n_cur, r);

    it->filter = snap->tombs != NULL && tl_tombs_max_seq_in(snap->tombs, r.lo, r.hi) > 0;
    tl_tomb_cursor_init(&it->tc, snap->tombs, r.lo);
    *out = it;
    return TL_OK;
}

tl_status_t tl_iter_next(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h) {
    tl_ts_t t;
    tl_handle_t v;
    tl_seq_t s;
    uint32_t src;
    while (it->km.heap_n > 0) {
        tl_kmerge_take(&it->km, &t, &v, &s, &src);
        if (it->filter && tl_tomb_cursor_seq(&it->tc, t) > s) continue;
        *ts = t;
        *h = v;
        it->returned++;
        return TL_OK;
    }
    return TL_EOF;
}

tl_status_t tl_iter_next_batch(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h, size_t cap,
                               size_t *n_out) {
    size_t n = 0;
    tl_kmerge_t *km = &it->km;
    while (n < cap && km->heap_n > 0) {
        if (km->heap_n == 1 && !it->filter) {
            /* One cursor and nothing to filter: copy straight from the page. */
            tl_cur_t *c = &km->cur[km->heap[0]];
            size_t k = TL_MIN(cap - n, c->end - c->pos);
            memcpy(ts + n, c->s.ts + c->pos, k * sizeof(tl_ts_t));
            if (h != NULL) memcpy(h + n, c->s.h + c->pos, k * sizeof(tl_handle_t));
            c->pos += k;
            n += k;
            if (c->pos == c->end && !tl_cur_refill(c, km->r)) km->heap_n = 0;
            continue;
        }
        tl_ts_t t;
        tl_handle_t v;
        tl_seq_t s;
        uint32_t src;
        tl_kmerge_take(km, &t, &v, &s, &src);
        if (it->filter && tl_tomb_cursor_seq(&it->tc, t) > s) continue;
        ts[n] = t;
        if (h != NULL) h[n] = v;
        n++;
    }
    it->returned += n;
    *n_out = n;
    return TL_OK;
}

tl_status_t tl_iter_remaining(tl_iter_t *it, uint64_t *out) {
    if (!it->total_known) {
        tl_status_t st = tl_count_in(it->snap, it->km.r, &it->total);
        if (st != TL_OK) return st;
        it->total_known = true;
    }
    *out = it->total >= it->returned ? it->total - it->returned : 0;
    return TL_OK;
}

tl_status_t tl_iter_snapshot(tl_iter_t *it, tl_snapshot_t **out) {
    tl_snapshot_retain(it->snap);
    *out = it->snap;
    return TL_OK;
}

void tl_iter_close(tl_iter_t *it) {
    if (it == NULL) return;
    tl_snapshot_t *snap = it->snap;
    /* Kept for the snapshot's next iterator (before our pin goes: the
     * snapshot frees whatever spare it holds when its last pin does). */
    tl_iter_t *old = atomic_exchange_explicit(&snap->spare_iter, it, memory_order_acq_rel);
    if (old != NULL) tl_mem_free(snap->mem, old, old->bytes);
    tl_snapshot_release(snap);
}

tl_status_t tl_iter_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2, tl_iter_t **out) {
    return iter_open(snap, tl_range_halfopen(t1, t2), out);
}

tl_status_t tl_iter_since(tl_snapshot_t *snap, tl_ts_t t1, tl_iter_t **out) {
    return iter_open(snap, tl_range_since(t1), out);
}

tl_status_t tl_iter_until(tl_snapshot_t *snap, tl_ts_t t2, tl_iter_t **out) {
    return iter_open(snap, tl_range_until(t2), out);
}

tl_status_t tl_iter_all(tl_snapshot_t *snap, tl_iter_t **out) {
    return iter_open(snap, tl_range_all(), out);
}

tl_status_t tl_iter_point(tl_snapshot_t *snap, tl_ts_t ts, tl_iter_t **out) {
    return iter_open(snap, tl_range_point(ts), out);
}
