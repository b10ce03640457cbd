/*
 * tl_tombstone.c: the immutable, coalesced, sequenced interval set (see the
 * header for the step-function model and the leaf layout).
 *
 * Invariants of every published set: intervals sorted by lo and disjoint
 * (prev.hi < next.lo), each seq > 0, two touching intervals (prev.hi + 1 ==
 * next.lo) never share a sequence; every leaf holds 1..TL_TOMB_LEAF_CAP of
 * them; leaf_hi/leaf_start describe the leaves exactly.
 *
 * Adding a delete never needs coalescing: its sequence is new, and the
 * remainders of the intervals it splits keep theirs but end up separated by
 * it. Only tl_tombs_filter rebuilds the whole set.
 *
 * Threads: sets and leaves are immutable after creation; only refcounts change.
 */
#include "tl_tombstone.h"

#include "tl_page.h"

/* ---------------------------------------------------------------- memory */

/* Every leaf has room for TL_TOMB_LEAF_CAP intervals (1.5 KiB), so a leaf
 * nobody else holds can be rewritten in place (see add_impl). */
static size_t leaf_bytes(void) { return sizeof(tl_tomb_leaf_t) + TL_TOMB_LEAF_CAP * sizeof(tl_tomb_t); }

static tl_tomb_leaf_t *leaf_new(tl_mem_t *m, const tl_tomb_t *v, size_t n) {
    tl_tomb_leaf_t *l = tl_mem_alloc(m, leaf_bytes());
    if (l == NULL) return NULL;
    tl_ref_init(&l->refs);
    l->n = n;
    memcpy(l->v, v, n * sizeof(tl_tomb_t));
    return l;
}

static void leaf_release(tl_mem_t *m, tl_tomb_leaf_t *l) {
    if (tl_ref_dec(&l->refs)) tl_mem_free(m, l, leaf_bytes());
}

static size_t root_bytes(size_t n_leaves) {
    return sizeof(tl_tombs_t) +
           n_leaves * (sizeof(tl_ts_t) + sizeof(size_t) + sizeof(tl_tomb_leaf_t *));
}

static tl_tombs_t *root_new(tl_mem_t *m, size_t n_leaves) {
    tl_tombs_t *t = tl_mem_alloc(m, root_bytes(n_leaves));
    if (t == NULL) return NULL;
    tl_ref_init(&t->refs);
    t->n_leaves = n_leaves;
    t->leaf_hi = (tl_ts_t *)(t + 1);
    t->leaf_start = (size_t *)(t->leaf_hi + n_leaves);
    t->leaves = (tl_tomb_leaf_t **)(t->leaf_start + n_leaves);
    return t;
}

/* Fills the search keys, the count and (unless given) max_seq from the leaves. */
static void root_index(tl_tombs_t *t, tl_seq_t max_seq) {
    size_t n = 0;
    bool scan = max_seq == 0;
    for (size_t k = 0; k < t->n_leaves; k++) {
        const tl_tomb_leaf_t *l = t->leaves[k];
        t->leaf_start[k] = n;
        t->leaf_hi[k] = l->v[l->n - 1].hi;
        n += l->n;
        for (size_t i = 0; scan && i < l->n; i++) {
            if (l->v[i].seq > max_seq) max_seq = l->v[i].seq;
        }
    }
    t->n = n;
    t->max_seq = max_seq;
}

void tl_tombs_retain(tl_tombs_t *t) {
    if (t != NULL) tl_ref_inc(&t->refs);
}

void tl_tombs_release(tl_mem_t *m, tl_tombs_t *t) {
    if (t == NULL || !tl_ref_dec(&t->refs)) return;
    for (size_t k = 0; k < t->n_leaves; k++) leaf_release(m, t->leaves[k]);
    tl_mem_free(m, t, root_bytes(t->n_leaves));
}

size_t tl_tombs_bytes(const tl_tombs_t *t) {
    if (t == NULL) return 0;
    size_t b = root_bytes(t->n_leaves);
    b += t->n_leaves * leaf_bytes();
    return b;
}

/* Splits v[0..n) into leaves of near-equal size and stores them at
 * leaves[0..). Returns how many, or 0 on ENOMEM (nothing left allocated). */
static size_t make_leaves(tl_mem_t *m, const tl_tomb_t *v, size_t n, size_t per,
                          tl_tomb_leaf_t **leaves) {
    size_t k = (n + per - 1) / per;
    for (size_t j = 0; j < k; j++) {
        size_t a = n * j / k, b = n * (j + 1) / k;
        leaves[j] = leaf_new(m, v + a, b - a);
        if (leaves[j] == NULL) {
            while (j-- > 0) leaf_release(m, leaves[j]);
            return 0;
        }
    }
    return k;
}

/* ---------------------------------------------------------------- lookups */

/* The leaf holding global index i. */
static size_t leaf_of(const tl_tombs_t *t, size_t i) {
    size_t lo = 0, hi = t->n_leaves;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->leaf_start[mid] <= i) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const tl_tomb_t *tl_tombs_get(const tl_tombs_t *t, size_t i) {
    size_t k = leaf_of(t, i);
    return &t->leaves[k]->v[i - t->leaf_start[k]];
}

size_t tl_tombs_seek(const tl_tombs_t *t, tl_ts_t ts) {
    if (t == NULL) return 0;
    size_t k = tl_lower_bound(t->leaf_hi, t->n_leaves, ts); /* first leaf ending >= ts */
    if (k == t->n_leaves) return t->n;
    const tl_tomb_leaf_t *l = t->leaves[k];
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].hi < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return t->leaf_start[k] + lo;
}

const tl_tomb_t *tl_tombs_find(const tl_tombs_t *t, tl_ts_t ts) {
    size_t i = tl_tombs_seek(t, ts);
    if (i == tl_tombs_count(t)) return NULL;
    const tl_tomb_t *v = tl_tombs_get(t, i);
    return v->lo <= ts ? v : NULL;
}

tl_seq_t tl_tombs_seq_at(const tl_tombs_t *t, tl_ts_t ts) {
    const tl_tomb_t *v = tl_tombs_find(t, ts);
    return v == NULL ? 0 : v->seq;
}

tl_seq_t tl_tombs_max_seq_in(const tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi) {
    tl_seq_t best = 0;
    tl_tomb_cursor_t c;
    tl_tomb_cursor_init(&c, t, lo);
    for (; c.n > 0 && c.leaf < t->n_leaves; c.leaf++, c.i = 0) {
        const tl_tomb_leaf_t *l = t->leaves[c.leaf];
        for (; c.i < l->n; c.i++) {
            if (l->v[c.i].lo > hi) return best;
            if (l->v[c.i].seq > best) best = l->v[c.i].seq;
        }
    }
    return best;
}

void tl_tomb_cursor_init(tl_tomb_cursor_t *c, const tl_tombs_t *t, tl_ts_t from) {
    c->t = t;
    c->n = tl_tombs_count(t);
    c->leaf = 0;
    c->i = 0;
    if (t == NULL) return;
    size_t g = tl_tombs_seek(t, from);
    if (g == t->n) {
        c->leaf = t->n_leaves;
        return;
    }
    c->leaf = leaf_of(t, g);
    c->i = g - t->leaf_start[c->leaf];
}

/* ---------------------------------------------------------------- add */

/* steal: old is consumed (see tl_tombs_replace); else it is only read. */
static tl_status_t add_impl(tl_mem_t *m, tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq,
                            bool steal, tl_tombs_t **out) {
    *out = NULL;
    if (lo > hi || seq == 0) return TL_ERR(TL_EINVAL);
    if (old != NULL && seq <= old->max_seq) return TL_ERR(TL_EINVAL);
    tl_tomb_t fresh = {lo, hi, seq};
    if (old == NULL) {
        tl_tombs_t *t = root_new(m, 1);
        if (t == NULL) return TL_ERR(TL_ENOMEM);
        if ((t->leaves[0] = leaf_new(m, &fresh, 1)) == NULL) {
            tl_mem_free(m, t, root_bytes(1));
            return TL_ERR(TL_ENOMEM);
        }
        root_index(t, seq);
        *out = t;
        return TL_OK;
    }
    /* The intervals [i0, i1) overlap [lo, hi]; everything else stays. */
    size_t n = old->n;
    size_t i0 = tl_tombs_seek(old, lo);
    size_t i1 = tl_tombs_seek(old, hi);
    if (i1 < n && tl_tombs_get(old, i1)->lo <= hi) i1++;
    /* Boundary leaves: the ones holding the first and last overlapped
     * interval, or (nothing overlapped) the one the new interval goes into. */
    size_t la, lb;
    if (i0 < i1) {
        la = leaf_of(old, i0);
        lb = leaf_of(old, i1 - 1);
    } else {
        la = lb = i0 < n ? leaf_of(old, i0) : old->n_leaves - 1;
    }
    /* Rebuild la..lb: their kept head and tail around the new interval and
     * the remainders of the two intervals it cuts. Leaves strictly inside
     * are covered whole and simply not carried over. A small result absorbs
     * a neighbour leaf so leaves do not fragment. */
    tl_tomb_t tmp[3 * TL_TOMB_LEAF_CAP + 3];
    size_t k = 0;
    const tl_tomb_leaf_t *a = old->leaves[la], *b = old->leaves[lb];
    size_t head = i0 - old->leaf_start[la];
    memcpy(tmp, a->v, head * sizeof(tl_tomb_t));
    k = head;
    if (i0 < i1) {
        const tl_tomb_t *first = tl_tombs_get(old, i0), *last = tl_tombs_get(old, i1 - 1);
        if (first->lo < lo) tmp[k++] = (tl_tomb_t){first->lo, lo - 1, first->seq};
        tmp[k++] = fresh;
        if (last->hi > hi) tmp[k++] = (tl_tomb_t){hi + 1, last->hi, last->seq};
    } else {
        tmp[k++] = fresh;
    }
    size_t tail = i1 - old->leaf_start[lb];
    memcpy(tmp + k, b->v + tail, (b->n - tail) * sizeof(tl_tomb_t));
    k += b->n - tail;
    if (k < TL_TOMB_LEAF_CAP / 2 && la > 0 && old->leaves[la - 1]->n + k <= TL_TOMB_LEAF_CAP) {
        const tl_tomb_leaf_t *left = old->leaves[--la];
        memmove(tmp + left->n, tmp, k * sizeof(tl_tomb_t));
        memcpy(tmp, left->v, left->n * sizeof(tl_tomb_t));
        k += left->n;
    } else if (k < TL_TOMB_LEAF_CAP / 2 && lb + 1 < old->n_leaves &&
               old->leaves[lb + 1]->n + k <= TL_TOMB_LEAF_CAP) {
        const tl_tomb_leaf_t *right = old->leaves[++lb];
        memcpy(tmp + k, right->v, right->n * sizeof(tl_tomb_t));
        k += right->n;
    }
    if (steal && la == lb && k <= TL_TOMB_LEAF_CAP && tl_ref_get(&old->leaves[la]->refs) == 1) {
        /* Nobody else holds the set or this leaf: rewrite both in place. The
         * common delete then allocates and frees nothing. */
        tl_tomb_leaf_t *l = old->leaves[la];
        memcpy(l->v, tmp, k * sizeof(tl_tomb_t));
        l->n = k;
        root_index(old, seq);
        *out = old;
        return TL_OK;
    }
    tl_tomb_leaf_t *made[4];
    size_t n_made = make_leaves(m, tmp, k, TL_TOMB_LEAF_CAP, made);
    if (n_made == 0) return TL_ERR(TL_ENOMEM);
    size_t keep_right = old->n_leaves - lb - 1;
    tl_tombs_t *t = root_new(m, la + n_made + keep_right);
    if (t == NULL) {
        for (size_t j = 0; j < n_made; j++) leaf_release(m, made[j]);
        return TL_ERR(TL_ENOMEM);
    }
    memcpy(t->leaves, old->leaves, la * sizeof(tl_tomb_leaf_t *));
    memcpy(t->leaves + la, made, n_made * sizeof(tl_tomb_leaf_t *));
    memcpy(t->leaves + la + n_made, old->leaves + lb + 1, keep_right * sizeof(tl_tomb_leaf_t *));
    if (steal) {
        /* The kept leaves move over with old's references; only the ones
         * rebuilt here lose theirs, and old's root goes. */
        for (size_t j = la; j <= lb; j++) leaf_release(m, old->leaves[j]);
        tl_mem_free(m, old, root_bytes(old->n_leaves));
    } else {
        for (size_t j = 0; j < la; j++) tl_ref_inc(&t->leaves[j]->refs);
        for (size_t j = 0; j < keep_right; j++) tl_ref_inc(&t->leaves[la + n_made + j]->refs);
    }
    root_index(t, seq);
    *out = t;
    return TL_OK;
}

tl_status_t tl_tombs_add(tl_mem_t *m, const tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq,
                         tl_tombs_t **out) {
    return add_impl(m, (tl_tombs_t *)old, lo, hi, seq, false, out);
}

tl_status_t tl_tombs_replace(tl_mem_t *m, tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq,
                             tl_tombs_t **out) {
    if (old == NULL) return add_impl(m, NULL, lo, hi, seq, false, out);
    if (tl_ref_get(&old->refs) != 1) return TL_ERR(TL_EINVAL);
    return add_impl(m, old, lo, hi, seq, true, out);
}

/* ---------------------------------------------------------------- filter */

tl_status_t tl_tombs_filter(tl_mem_t *m, tl_tombs_t *old, tl_tomb_pred_fn forget, void *ctx,
                            tl_tombs_t **out, bool *changed) {
    *out = NULL;
    *changed = false;
    if (old == NULL) return TL_OK;
    size_t keep = 0;
    for (size_t k = 0; k < old->n_leaves; k++) {
        const tl_tomb_leaf_t *l = old->leaves[k];
        for (size_t i = 0; i < l->n; i++) keep += !forget(ctx, &l->v[i]);
    }
    if (keep == old->n) {
        tl_tombs_retain(old);
        *out = old;
        return TL_OK;
    }
    *changed = true;
    if (keep == 0) return TL_OK;
    /* Rebuilt leaves are filled to 3/4 so the next adds rarely split them. */
    const size_t per = TL_TOMB_LEAF_CAP * 3 / 4;
    size_t n_leaves = (keep + per - 1) / per;
    size_t vbytes = keep * sizeof(tl_tomb_t);
    tl_tomb_t *v = tl_mem_alloc(m, vbytes);
    tl_tombs_t *t = v == NULL ? NULL : root_new(m, n_leaves);
    if (t == NULL) {
        tl_mem_free(m, v, vbytes);
        *changed = false;
        return TL_ERR(TL_ENOMEM);
    }
    size_t k = 0;
    for (size_t j = 0; j < old->n_leaves; j++) {
        const tl_tomb_leaf_t *l = old->leaves[j];
        for (size_t i = 0; i < l->n; i++) {
            if (!forget(ctx, &l->v[i])) v[k++] = l->v[i];
        }
    }
    size_t made = make_leaves(m, v, keep, per, t->leaves);
    tl_mem_free(m, v, vbytes);
    if (made == 0) {
        tl_mem_free(m, t, root_bytes(n_leaves));
        *changed = false;
        return TL_ERR(TL_ENOMEM);
    }
    root_index(t, 0);
    *out = t;
    return TL_OK;
}

/* ---------------------------------------------------------------- validate */

bool tl_tombs_validate(const tl_tombs_t *t, const char **why) {
    if (t == NULL) return true;
    if (t->n == 0 || t->n_leaves == 0) {
        *why = "tombstones: empty set must be NULL";
        return false;
    }
    tl_seq_t max_seq = 0;
    size_t n = 0;
    const tl_tomb_t *p = NULL;
    for (size_t k = 0; k < t->n_leaves; k++) {
        const tl_tomb_leaf_t *l = t->leaves[k];
        if (l->n == 0 || l->n > TL_TOMB_LEAF_CAP || tl_ref_get(&l->refs) == 0) {
            *why = "tombstones: leaf empty, overfull or unreferenced";
            return false;
        }
        if (t->leaf_start[k] != n || t->leaf_hi[k] != l->v[l->n - 1].hi) {
            *why = "tombstones: leaf index keys are stale";
            return false;
        }
        for (size_t i = 0; i < l->n; i++) {
            const tl_tomb_t *c = &l->v[i];
            if (c->lo > c->hi || c->seq == 0) {
                *why = "tombstones: malformed interval";
                return false;
            }
            if (c->seq > max_seq) max_seq = c->seq;
            if (p != NULL && p->hi >= c->lo) {
                *why = "tombstones: intervals overlap or are unsorted";
                return false;
            }
            if (p != NULL && p->hi + 1 == c->lo && p->seq == c->seq) {
                *why = "tombstones: touching intervals with equal sequence not coalesced";
                return false;
            }
            p = c;
        }
        n += l->n;
    }
    if (n != t->n) {
        *why = "tombstones: interval count is stale";
        return false;
    }
    if (max_seq != t->max_seq) {
        *why = "tombstones: max_seq is stale";
        return false;
    }
    return true;
}
