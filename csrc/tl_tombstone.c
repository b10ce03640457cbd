/*
 * tl_tombstone.c: the immutable, coalesced, sequenced interval set (see the
 * header for the step-function model and the persistent B+-tree layout).
 *
 * Invariants of every published set: intervals sorted by lo and disjoint
 * (prev.hi < next.lo), each seq > 0, two touching intervals (prev.hi + 1 ==
 * next.lo) never share a sequence; every node holds 1..capacity entries,
 * every leaf sits at the same depth, and each inner entry's summary (hi,
 * count, bytes, max_seq) is exact for its subtree, with key[j] == k[j].hi and
 * kid[j] == k[j].node (inner_keys() restores both after k[] is written). Non-root nodes are kept at
 * least TOMB_MIN_FILL full where a sibling exists to merge with, which bounds
 * the height by O(log T).
 *
 * Adding a delete never needs coalescing: its sequence is new, and the
 * remainders of the intervals it splits keep theirs but end up separated by
 * it. Only tl_tombs_filter rebuilds the whole set.
 *
 * An add takes one of two paths. The general one is purely functional: it
 * builds new nodes for the touched path(s) and shares everything else, so on
 * ENOMEM it releases what it built and the old set is untouched. The fast
 * one (tl_tombs_replace, the common point delete) first checks that the whole
 * change lands in one leaf that stays within its fill bounds and that the
 * caller alone holds every node on the path, and only then writes the leaf
 * and the path's summaries in place: it cannot fail halfway.
 *
 * Threads: a set and its nodes are immutable once another holder can reach
 * them (a node with one reference under a set with one reference belongs to
 * that set's owner alone); only refcounts change.
 */
#include "tl_tombstone.h"

#define TOMB_MIN_FILL (TL_TOMB_LEAF_CAP / 4)

/* Entries a node under construction can hold before it is split in two. */
#define TOMB_TMP_CAP (2 * TL_TOMB_FANOUT + 8)

/* ---------------------------------------------------------------- memory */

/* Every node has room for its full capacity, so one nobody else holds can be
 * rewritten in place. */
static size_t leaf_bytes(void) {
    return sizeof(tl_tomb_leaf_t) + TL_TOMB_LEAF_CAP * sizeof(tl_tomb_t);
}
static size_t inner_bytes(void) {
    return sizeof(tl_tomb_inner_t) + TL_TOMB_FANOUT * sizeof(tl_tomb_kid_t);
}
static size_t node_bytes(const tl_tomb_node_t *x) {
    return x->level == 0 ? leaf_bytes() : inner_bytes();
}
static size_t node_cap(unsigned level) { return level == 0 ? TL_TOMB_LEAF_CAP : TL_TOMB_FANOUT; }

static tl_tomb_leaf_t *as_leaf(tl_tomb_node_t *x) { return (tl_tomb_leaf_t *)x; }
static tl_tomb_inner_t *as_inner(tl_tomb_node_t *x) { return (tl_tomb_inner_t *)x; }
static const tl_tomb_leaf_t *as_cleaf(const tl_tomb_node_t *x) { return (const tl_tomb_leaf_t *)x; }
static const tl_tomb_inner_t *as_cinner(const tl_tomb_node_t *x) {
    return (const tl_tomb_inner_t *)x;
}

/* Cache lines of a random delete or lookup on a large set come from memory;
 * a binary search would fetch them one after another (each probe waits for
 * the last). Asking for all the lines a node's search can touch at once pays
 * roughly one memory latency per node instead. */
static inline void prefetch_bytes(const void *p, size_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + bytes;
    for (; a < end; a += 64) __builtin_prefetch((const void *)a);
#else
    (void)p;
    (void)bytes;
#endif
}

/* Kid j of in, with the lines a descent will read in it requested at once:
 * an inner node's head, keys and kid pointers, or a whole leaf (its fill is
 * not known without another miss). Issued as soon as the parent chose the
 * kid, so they overlap the kid's header miss; k[j], which an add updates,
 * is requested alongside. */
static inline tl_tomb_node_t *kid_fetch(const tl_tomb_inner_t *in, size_t j, bool pf) {
    tl_tomb_node_t *x = in->kid[j];
    /* Nodes above level 1 are few (~1/1000 of the set's bytes) and stay
     * cached; prefetching them would only add instructions. */
    if (!pf || in->h.level > 2) return x;
    if (in->h.level == 1) {
        prefetch_bytes(x, offsetof(tl_tomb_leaf_t, v) + TL_TOMB_LEAF_CAP * sizeof(tl_tomb_t));
    } else {
        prefetch_bytes(x, offsetof(tl_tomb_inner_t, k));
    }
    prefetch_bytes(&in->k[j], sizeof in->k[j]);
    return x;
}

/* Sets of fewer intervals (a few hundred KB) stay cached between deletes, and
 * there the prefetches' instructions would cost more than they save (5-10 ns
 * of a ~75 ns delete at 1k intervals). */
#define TOMB_PREFETCH_MIN 8192
static inline bool want_prefetch(const tl_tombs_t *t) { return t->n >= TOMB_PREFETCH_MIN; }

/* Refreshes in->key[] and in->kid[] from in->k[] (after k[] was written
 * wholesale). */
static void inner_keys(tl_tomb_inner_t *in) {
    for (size_t j = 0; j < in->h.n; j++) {
        in->key[j] = in->k[j].hi;
        in->kid[j] = in->k[j].node;
    }
}

static tl_tomb_node_t *node_new(tl_mem_t *m, unsigned level) {
    tl_tomb_node_t *x = tl_mem_alloc(m, level == 0 ? leaf_bytes() : inner_bytes());
    if (x == NULL) return NULL;
    tl_ref_init(&x->refs);
    x->level = level;
    x->n = 0;
    return x;
}

static void node_release(tl_mem_t *m, tl_tomb_node_t *x) {
    if (x == NULL || !tl_ref_dec(&x->refs)) return;
    if (x->level > 0) {
        tl_tomb_inner_t *in = as_inner(x);
        for (size_t j = 0; j < x->n; j++) node_release(m, in->k[j].node);
    }
    tl_mem_free(m, x, node_bytes(x));
}

/* The entry describing subtree x. O(entries of x). */
static tl_tomb_kid_t summarize(tl_tomb_node_t *x) {
    tl_tomb_kid_t e = {0, 0, node_bytes(x), 0, x};
    if (x->level == 0) {
        const tl_tomb_leaf_t *l = as_leaf(x);
        e.hi = l->v[x->n - 1].hi;
        e.count = x->n;
        for (size_t i = 0; i < x->n; i++) {
            if (l->v[i].seq > e.max_seq) e.max_seq = l->v[i].seq;
        }
    } else {
        const tl_tomb_inner_t *in = as_inner(x);
        e.hi = in->k[x->n - 1].hi;
        for (size_t j = 0; j < x->n; j++) {
            e.count += in->k[j].count;
            e.bytes += in->k[j].bytes;
            if (in->k[j].max_seq > e.max_seq) e.max_seq = in->k[j].max_seq;
        }
    }
    return e;
}

void tl_tombs_retain(tl_tombs_t *t) {
    if (t != NULL) tl_ref_inc(&t->refs);
}

void tl_tombs_release(tl_mem_t *m, tl_tombs_t *t) {
    if (t == NULL || !tl_ref_dec(&t->refs)) return;
    node_release(m, t->root);
    tl_mem_free(m, t, sizeof(tl_tombs_t));
}

size_t tl_tombs_bytes(const tl_tombs_t *t) {
    if (t == NULL) return 0;
    return sizeof(tl_tombs_t) + summarize(t->root).bytes;
}

/* Up to two nodes (the result of rebuilding one), each holding a reference
 * its receiver takes over. */
typedef struct tomb_res {
    tl_tomb_node_t *v[2];
    size_t n;
} tomb_res_t;

static void res_release(tl_mem_t *m, tomb_res_t *r) {
    for (size_t j = 0; j < r->n; j++) node_release(m, r->v[j]);
    r->n = 0;
}

/* Builds 1 or 2 nodes of `level` from k (<= 2 * capacity) entries:
 * intervals for a leaf, kid entries for an inner node (each kid is retained:
 * the new node holds its own reference). Two nodes split evenly, unless
 * at_end (the overflow came from an entry added last, as deletes in time
 * order do): then the left one is left 3/4 full and the right one just
 * above the fill minimum, so a set built in order is not left half empty. */
static tl_status_t make_nodes(tl_mem_t *m, unsigned level, const void *items, size_t k, bool at_end,
                              tomb_res_t *out) {
    size_t cap = node_cap(level);
    size_t parts = k <= cap ? 1 : 2;
    size_t cut = k / 2;
    if (parts == 2 && at_end && k - (TOMB_MIN_FILL + 1) <= cap) cut = k - (TOMB_MIN_FILL + 1);
    out->n = 0;
    for (size_t j = 0; j < parts; j++) {
        size_t a = j == 0 ? 0 : cut, b = parts == 1 ? k : (j == 0 ? cut : k);
        tl_tomb_node_t *x = node_new(m, level);
        if (x == NULL) {
            res_release(m, out);
            return TL_ERR(TL_ENOMEM);
        }
        x->n = b - a;
        if (level == 0) {
            memcpy(as_leaf(x)->v, (const tl_tomb_t *)items + a, x->n * sizeof(tl_tomb_t));
        } else {
            tl_tomb_inner_t *in = as_inner(x);
            memcpy(in->k, (const tl_tomb_kid_t *)items + a, x->n * sizeof(tl_tomb_kid_t));
            for (size_t i = 0; i < x->n; i++) tl_ref_inc(&in->k[i].node->refs);
            inner_keys(in);
        }
        out->v[out->n++] = x;
    }
    return TL_OK;
}

/* ---------------------------------------------------------------- lookups */

/* First kid whose subtree ends at or after ts (n if none). */
static size_t kid_lower_bound(const tl_tomb_inner_t *in, tl_ts_t ts) {
    size_t lo = 0, hi = in->h.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (in->key[mid] < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* First interval of the leaf ending at or after ts (n if none). */
static size_t tomb_lower_bound(const tl_tomb_leaf_t *l, tl_ts_t ts) {
    size_t lo = 0, hi = l->h.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].hi < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const tl_tomb_t *tl_tombs_get(const tl_tombs_t *t, size_t i) {
    const tl_tomb_node_t *x = t->root;
    while (x->level > 0) {
        const tl_tomb_inner_t *in = as_cinner(x);
        size_t j = 0;
        while (j + 1 < x->n && i >= in->k[j].count) i -= in->k[j++].count;
        x = kid_fetch(in, j, false); /* callers mostly walk i in order */
    }
    return &as_cleaf(x)->v[i];
}

size_t tl_tombs_seek(const tl_tombs_t *t, tl_ts_t ts) {
    if (t == NULL) return 0;
    bool pf = want_prefetch(t);
    size_t before = 0;
    const tl_tomb_node_t *x = t->root;
    while (x->level > 0) {
        const tl_tomb_inner_t *in = as_cinner(x);
        size_t j = kid_lower_bound(in, ts);
        if (j == x->n) return t->n;
        x = kid_fetch(in, j, pf);
        for (size_t a = 0; a < j; a++) before += in->k[a].count;
    }
    return before + tomb_lower_bound(as_cleaf(x), ts);
}

const tl_tomb_t *tl_tombs_find(const tl_tombs_t *t, tl_ts_t ts) {
    if (t == NULL) return NULL;
    bool pf = want_prefetch(t);
    const tl_tomb_node_t *x = t->root;
    while (x->level > 0) {
        const tl_tomb_inner_t *in = as_cinner(x);
        size_t j = kid_lower_bound(in, ts);
        if (j == x->n) return NULL;
        x = kid_fetch(in, j, pf);
    }
    const tl_tomb_leaf_t *l = as_cleaf(x);
    size_t i = tomb_lower_bound(l, ts);
    if (i == x->n || l->v[i].lo > ts) return NULL;
    return &l->v[i];
}

tl_seq_t tl_tombs_seq_at(const tl_tombs_t *t, tl_ts_t ts) {
    const tl_tomb_t *v = tl_tombs_find(t, ts);
    return v == NULL ? 0 : v->seq;
}

/* Highest sequence of x's intervals intersecting [lo, hi]. A kid lying wholly
 * inside the range answers from its summary, so only the (at most two) kids
 * straddling an end are descended: O(log T). */
static tl_seq_t node_max_seq_in(const tl_tomb_node_t *x, tl_ts_t lo, tl_ts_t hi) {
    tl_seq_t best = 0;
    if (x->level == 0) {
        const tl_tomb_leaf_t *l = as_cleaf(x);
        for (size_t i = tomb_lower_bound(l, lo); i < x->n && l->v[i].lo <= hi; i++) {
            if (l->v[i].seq > best) best = l->v[i].seq;
        }
        return best;
    }
    const tl_tomb_inner_t *in = as_cinner(x);
    for (size_t j = kid_lower_bound(in, lo); j < x->n; j++) {
        /* Kid j's intervals all start after k[j-1].hi. */
        if (j > 0 && in->k[j - 1].hi >= hi) break;
        tl_seq_t s;
        if (j > 0 && in->k[j - 1].hi >= lo && in->k[j].hi <= hi) {
            s = in->k[j].max_seq;
        } else {
            s = node_max_seq_in(in->k[j].node, lo, hi);
        }
        if (s > best) best = s;
    }
    return best;
}

tl_seq_t tl_tombs_max_seq_in(const tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi) {
    if (t == NULL || lo > hi) return 0;
    return node_max_seq_in(t->root, lo, hi);
}

/* Descends from path depth d's chosen kid to its leftmost leaf. */
static void cursor_down(tl_tomb_cursor_t *c, const tl_tomb_node_t *x) {
    while (x->level > 0) {
        const tl_tomb_inner_t *in = as_cinner(x);
        c->path[c->depth] = in;
        c->at[c->depth] = 0;
        c->depth++;
        x = in->k[0].node;
    }
    c->leaf = as_cleaf(x);
    c->i = 0;
}

void tl_tomb_cursor_next_leaf(tl_tomb_cursor_t *c) {
    while (c->depth > 0) {
        unsigned d = c->depth - 1;
        if (c->at[d] + 1 < c->path[d]->h.n) {
            c->at[d]++;
            cursor_down(c, c->path[d]->k[c->at[d]].node);
            return;
        }
        c->depth = d;
    }
    c->leaf = NULL;
    c->i = 0;
}

void tl_tomb_cursor_init(tl_tomb_cursor_t *c, const tl_tombs_t *t, tl_ts_t from) {
    c->t = t;
    c->n = tl_tombs_count(t);
    c->leaf = NULL;
    c->i = 0;
    c->depth = 0;
    if (t == NULL) return;
    bool pf = want_prefetch(t);
    const tl_tomb_node_t *x = t->root;
    while (x->level > 0) {
        const tl_tomb_inner_t *in = as_cinner(x);
        size_t j = kid_lower_bound(in, from);
        if (j == x->n) {
            c->depth = 0; /* nothing ends at or after from */
            return;
        }
        c->path[c->depth] = in;
        c->at[c->depth] = j;
        c->depth++;
        x = kid_fetch(in, j, pf);
    }
    c->leaf = as_cleaf(x);
    c->i = tomb_lower_bound(c->leaf, from);
    if (c->i == x->n) tl_tomb_cursor_next_leaf(c);
}

/* ---------------------------------------------------------------- add */

/* The kids of inner node `in` a delete of [lo, hi] touches: every interval it
 * overlaps lies in kids ka..kb, the ones strictly between are covered whole,
 * and the new interval goes into ka (the last kid if it lies past them all). */
static void kid_span(const tl_tomb_inner_t *in, tl_ts_t lo, tl_ts_t hi, size_t *ka, size_t *kb) {
    size_t n = in->h.n;
    size_t a = kid_lower_bound(in, lo);
    if (a == n) {
        *ka = *kb = n - 1;
        return;
    }
    size_t b = a;
    while (b + 1 < n && in->key[b] < hi) b++;
    *ka = a;
    *kb = b;
}

/* Leaf l with [lo, hi] cut out and, unless fresh is NULL, fresh put in its
 * place, written to tmp (room for TL_TOMB_LEAF_CAP + 3). Returns the count;
 * *changed is false when nothing was cut or added. */
static size_t leaf_assign(const tl_tomb_leaf_t *l, tl_ts_t lo, tl_ts_t hi, const tl_tomb_t *fresh,
                          tl_tomb_t *tmp, bool *changed) {
    size_t n = l->h.n;
    size_t i0 = tomb_lower_bound(l, lo), i1 = i0;
    while (i1 < n && l->v[i1].lo <= hi) i1++;
    *changed = i0 < i1 || fresh != NULL;
    memcpy(tmp, l->v, i0 * sizeof(tl_tomb_t));
    size_t k = i0;
    if (i0 < i1 && l->v[i0].lo < lo) tmp[k++] = (tl_tomb_t){l->v[i0].lo, lo - 1, l->v[i0].seq};
    if (fresh != NULL) tmp[k++] = *fresh;
    if (i0 < i1 && l->v[i1 - 1].hi > hi)
        tmp[k++] = (tl_tomb_t){hi + 1, l->v[i1 - 1].hi, l->v[i1 - 1].seq};
    memcpy(tmp + k, l->v + i1, (n - i1) * sizeof(tl_tomb_t));
    return k + n - i1;
}

/* Copies the entries of x (intervals or kid entries) to dst; returns count. */
static size_t node_items(const tl_tomb_node_t *x, void *dst) {
    if (x->level == 0) {
        memcpy(dst, as_cleaf(x)->v, x->n * sizeof(tl_tomb_t));
    } else {
        memcpy(dst, as_cinner(x)->k, x->n * sizeof(tl_tomb_kid_t));
    }
    return x->n;
}

/* Merges underfull new kids of an inner node under construction with a
 * neighbour. e[0..*n) are the kid entries; own[j] marks the ones built by
 * this add (their reference is e's to drop), the others are kept kids of the
 * old node (referenced only through it). */
static tl_status_t merge_underfull(tl_mem_t *m, unsigned kid_level, tl_tomb_kid_t *e, bool *own,
                                   size_t *n) {
    union {
        tl_tomb_t v[2 * TL_TOMB_LEAF_CAP];
        tl_tomb_kid_t k[2 * TL_TOMB_FANOUT];
    } buf;
    for (;;) {
        size_t j = 0;
        while (j < *n && !(own[j] && e[j].node->n < TOMB_MIN_FILL)) j++;
        if (j == *n || *n < 2) return TL_OK;
        size_t a = j > 0 ? j - 1 : j; /* merge e[a] and e[a + 1] */
        size_t k = node_items(e[a].node, &buf);
        if (kid_level == 0) {
            k += node_items(e[a + 1].node, buf.v + k);
        } else {
            k += node_items(e[a + 1].node, buf.k + k);
        }
        tomb_res_t r;
        tl_status_t st = make_nodes(m, kid_level, &buf, k, false, &r);
        if (st != TL_OK) return st;
        for (size_t s = a; s < a + 2; s++) {
            if (own[s]) node_release(m, e[s].node);
        }
        /* Replace the pair with r's 1 or 2 nodes. */
        if (r.n == 1) memmove(e + a + 1, e + a + 2, (*n - a - 2) * sizeof *e);
        if (r.n == 1) memmove(own + a + 1, own + a + 2, (*n - a - 2) * sizeof *own);
        *n -= 2 - r.n;
        for (size_t s = 0; s < r.n; s++) {
            e[a + s] = summarize(r.v[s]);
            own[a + s] = true;
        }
    }
}

/* The general, functional add: x with [lo, hi] cut out and fresh (unless
 * NULL) put in, as 0..2 nodes of x's level in *out, each a reference the
 * caller takes over (an untouched x comes back retained). x is not modified.
 * On failure *out is empty and everything built here is released. */
static tl_status_t assign(tl_mem_t *m, tl_tomb_node_t *x, tl_ts_t lo, tl_ts_t hi,
                          const tl_tomb_t *fresh, tomb_res_t *out) {
    out->n = 0;
    if (x->level == 0) {
        tl_tomb_t tmp[TL_TOMB_LEAF_CAP + 3];
        bool changed;
        size_t k = leaf_assign(as_leaf(x), lo, hi, fresh, tmp, &changed);
        if (!changed) {
            tl_ref_inc(&x->refs);
            out->v[out->n++] = x;
            return TL_OK;
        }
        bool at_end = fresh != NULL && k > 0 && tmp[k - 1].seq == fresh->seq;
        return k == 0 ? TL_OK : make_nodes(m, 0, tmp, k, at_end, out);
    }
    tl_tomb_inner_t *in = as_inner(x);
    size_t ka, kb;
    kid_span(in, lo, hi, &ka, &kb);
    tomb_res_t ra = {{NULL, NULL}, 0}, rb = {{NULL, NULL}, 0};
    tl_status_t st = assign(m, in->k[ka].node, lo, hi, fresh, &ra);
    if (st != TL_OK) return st;
    if (kb != ka && (st = assign(m, in->k[kb].node, lo, hi, NULL, &rb)) != TL_OK) {
        res_release(m, &ra);
        return st;
    }
    tl_tomb_kid_t e[TOMB_TMP_CAP];
    bool own[TOMB_TMP_CAP];
    size_t n = 0;
    for (size_t j = 0; j < ka; j++, n++) {
        e[n] = in->k[j];
        own[n] = false;
    }
    for (size_t j = 0; j < ra.n; j++, n++) {
        e[n] = summarize(ra.v[j]);
        own[n] = true;
    }
    for (size_t j = 0; j < rb.n; j++, n++) {
        e[n] = summarize(rb.v[j]);
        own[n] = true;
    }
    for (size_t j = kb + 1; j < x->n; j++, n++) {
        e[n] = in->k[j];
        own[n] = false;
    }
    st = merge_underfull(m, x->level - 1, e, own, &n);
    /* The new interval is in ra's last node: is that this node's last kid? */
    bool at_end = fresh != NULL && n > 0 && ra.n > 0 && kb + 1 == x->n && rb.n == 0 && own[n - 1];
    if (st == TL_OK && n > 0) st = make_nodes(m, x->level, e, n, at_end, out);
    /* The new node(s) retained every kid: drop the references this add held. */
    for (size_t j = 0; j < n; j++) {
        if (own[j]) node_release(m, e[j].node);
    }
    return st;
}

/* The fast path of tl_tombs_replace: when t's owner alone holds every node
 * from the root to the one leaf the change lands in, and that leaf stays
 * within its fill bounds, rewrites the leaf and the path's summaries in place
 * (no allocation) and returns true. Otherwise changes nothing. */
static bool add_in_place(tl_tombs_t *t, const tl_tomb_t *fresh) {
    tl_tomb_inner_t *path[TL_TOMB_MAX_DEPTH];
    size_t at[TL_TOMB_MAX_DEPTH];
    unsigned d = 0;
    bool pf = want_prefetch(t);
    tl_tomb_node_t *x = t->root;
    while (x->level > 0) {
        if (tl_ref_get(&x->refs) != 1 || d == TL_TOMB_MAX_DEPTH) return false;
        tl_tomb_inner_t *in = as_inner(x);
        size_t ka, kb;
        kid_span(in, fresh->lo, fresh->hi, &ka, &kb);
        if (ka != kb) return false;
        path[d] = in;
        at[d++] = ka;
        x = kid_fetch(in, ka, pf);
    }
    if (tl_ref_get(&x->refs) != 1) return false;
    /* As leaf_assign, but shifting only the leaf's tail: on a large set the
     * leaf is usually cold, and this touches the fewest of its cache lines. */
    tl_tomb_leaf_t *l = as_leaf(x);
    size_t old_n = x->n;
    size_t i0 = tomb_lower_bound(l, fresh->lo), i1 = i0;
    while (i1 < old_n && l->v[i1].lo <= fresh->hi) i1++;
    tl_tomb_t mid[3];
    size_t nm = 0;
    if (i0 < i1 && l->v[i0].lo < fresh->lo)
        mid[nm++] = (tl_tomb_t){l->v[i0].lo, fresh->lo - 1, l->v[i0].seq};
    mid[nm++] = *fresh;
    if (i0 < i1 && l->v[i1 - 1].hi > fresh->hi)
        mid[nm++] = (tl_tomb_t){fresh->hi + 1, l->v[i1 - 1].hi, l->v[i1 - 1].seq};
    size_t k = i0 + nm + old_n - i1;
    if (k > TL_TOMB_LEAF_CAP || (k < TOMB_MIN_FILL && d > 0)) return false;
    memmove(l->v + i0 + nm, l->v + i1, (old_n - i1) * sizeof(tl_tomb_t));
    memcpy(l->v + i0, mid, nm * sizeof(tl_tomb_t));
    x->n = k;
    /* Every summary on the path now covers fresh, the newest sequence. */
    tl_ts_t last = l->v[k - 1].hi;
    while (d-- > 0) {
        tl_tomb_kid_t *e = &path[d]->k[at[d]];
        e->hi = last;
        path[d]->key[at[d]] = last;
        e->count = e->count + k - old_n;
        e->max_seq = fresh->seq;
        last = path[d]->key[path[d]->h.n - 1];
    }
    t->n = t->n + k - old_n;
    t->max_seq = fresh->seq;
    return true;
}

/* Turns the 1..2 nodes of a rebuilt root into one root (adding a level for
 * two, dropping levels that have a single kid). Consumes r. */
static tl_status_t root_of(tl_mem_t *m, tomb_res_t *r, tl_tomb_node_t **out) {
    *out = NULL;
    if (r->n == 2) {
        if (r->v[0]->level + 1 >= TL_TOMB_MAX_DEPTH) {
            res_release(m, r);
            return TL_ERR(TL_EINTERNAL);
        }
        tl_tomb_kid_t e[2] = {summarize(r->v[0]), summarize(r->v[1])};
        tomb_res_t top;
        tl_status_t st = make_nodes(m, r->v[0]->level + 1, e, 2, false, &top);
        res_release(m, r);
        if (st != TL_OK) return st;
        *out = top.v[0];
        return TL_OK;
    }
    tl_tomb_node_t *x = r->v[0];
    r->n = 0;
    while (x->level > 0 && x->n == 1) {
        tl_tomb_node_t *kid = as_inner(x)->k[0].node;
        tl_ref_inc(&kid->refs);
        node_release(m, x);
        x = kid;
    }
    *out = x;
    return TL_OK;
}

/* steal: old is consumed (see tl_tombs_replace); else it is only read. */
static tl_status_t add_impl(tl_mem_t *m, tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq,
                            bool steal, tl_tombs_t **out) {
    *out = NULL;
    if (lo > hi || seq == 0) return TL_ERR(TL_EINVAL);
    if (old != NULL && seq <= old->max_seq) return TL_ERR(TL_EINVAL);
    tl_tomb_t fresh = {lo, hi, seq};
    if (steal && add_in_place(old, &fresh)) {
        *out = old;
        return TL_OK;
    }
    tl_tomb_node_t *root = NULL;
    tl_status_t st;
    if (old == NULL) {
        tomb_res_t r;
        st = make_nodes(m, 0, &fresh, 1, false, &r);
        if (st != TL_OK) return st;
        root = r.v[0];
    } else {
        tomb_res_t r;
        st = assign(m, old->root, lo, hi, &fresh, &r);
        if (st == TL_OK) st = root_of(m, &r, &root);
        if (st != TL_OK) return st;
    }
    tl_tombs_t *t = old;
    if (steal) {
        node_release(m, old->root); /* frees the replaced path; shared nodes live on */
    } else if ((t = tl_mem_alloc(m, sizeof *t)) == NULL) {
        node_release(m, root);
        return TL_ERR(TL_ENOMEM);
    } else {
        tl_ref_init(&t->refs);
    }
    t->root = root;
    t->n = summarize(root).count;
    t->max_seq = seq;
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

/* Builds a tree over v[0..n) (n >= 1) with nodes filled to per entries. */
static tl_status_t build(tl_mem_t *m, const tl_tomb_t *v, size_t n, size_t per,
                         tl_tomb_node_t **out) {
    *out = NULL;
    size_t k = (n + per - 1) / per;
    size_t bytes = k * sizeof(tl_tomb_kid_t);
    tl_tomb_kid_t *e = tl_mem_alloc(m, bytes);
    if (e == NULL) return TL_ERR(TL_ENOMEM);
    tl_status_t st = TL_OK;
    size_t have = 0;
    for (size_t j = 0; j < k; j++, have++) {
        size_t a = n * j / k, b = n * (j + 1) / k;
        tl_tomb_node_t *x = node_new(m, 0);
        if (x == NULL) {
            st = TL_ERR(TL_ENOMEM);
            goto fail;
        }
        x->n = b - a;
        memcpy(as_leaf(x)->v, v + a, x->n * sizeof(tl_tomb_t));
        e[j] = summarize(x);
    }
    for (unsigned level = 1; have > 1; level++) {
        /* Group this level's nodes under parents; e[] is reused in place
         * (parent j is written after the kids it reads). */
        size_t up = (have + per - 1) / per;
        for (size_t j = 0; j < up; j++) {
            size_t a = have * j / up, b = have * (j + 1) / up;
            tl_tomb_node_t *x = node_new(m, level);
            if (x == NULL) {
                /* e[0..j) are parents, e[a..have) are kids not yet moved. */
                for (size_t s = 0; s < j; s++) node_release(m, e[s].node);
                for (size_t s = a; s < have; s++) node_release(m, e[s].node);
                have = 0;
                st = TL_ERR(TL_ENOMEM);
                goto fail;
            }
            x->n = b - a;
            memcpy(as_inner(x)->k, e + a, x->n * sizeof(tl_tomb_kid_t)); /* takes the kids' refs */
            inner_keys(as_inner(x));
            e[j] = summarize(x);
        }
        have = up;
    }
    *out = e[0].node;
    tl_mem_free(m, e, bytes);
    return TL_OK;
fail:
    for (size_t s = 0; s < have; s++) node_release(m, e[s].node);
    tl_mem_free(m, e, bytes);
    return st;
}

tl_status_t tl_tombs_filter(tl_mem_t *m, tl_tombs_t *old, tl_tomb_pred_fn forget, void *ctx,
                            tl_tombs_t **out, bool *changed) {
    *out = NULL;
    *changed = false;
    if (old == NULL) return TL_OK;
    size_t keep = 0;
    tl_tomb_cursor_t c;
    tl_tomb_cursor_init(&c, old, TL_TS_MIN);
    for (; c.leaf != NULL; tl_tomb_cursor_next_leaf(&c)) {
        for (size_t i = 0; i < c.leaf->h.n; i++) keep += !forget(ctx, &c.leaf->v[i]);
    }
    if (keep == old->n) {
        tl_tombs_retain(old);
        *out = old;
        return TL_OK;
    }
    *changed = true;
    if (keep == 0) return TL_OK;
    /* Rebuilt nodes are filled to 3/4 so the next adds rarely split them. */
    const size_t per = TL_TOMB_LEAF_CAP * 3 / 4;
    size_t vbytes = keep * sizeof(tl_tomb_t);
    tl_tomb_t *v = tl_mem_alloc(m, vbytes);
    tl_tombs_t *t = v == NULL ? NULL : tl_mem_alloc(m, sizeof *t);
    if (t == NULL) {
        tl_mem_free(m, v, vbytes);
        *changed = false;
        return TL_ERR(TL_ENOMEM);
    }
    size_t k = 0;
    tl_tomb_cursor_init(&c, old, TL_TS_MIN);
    for (; c.leaf != NULL; tl_tomb_cursor_next_leaf(&c)) {
        for (size_t i = 0; i < c.leaf->h.n; i++) {
            if (!forget(ctx, &c.leaf->v[i])) v[k++] = c.leaf->v[i];
        }
    }
    tl_status_t st = build(m, v, keep, per, &t->root);
    tl_mem_free(m, v, vbytes);
    if (st != TL_OK) {
        tl_mem_free(m, t, sizeof *t);
        *changed = false;
        return st;
    }
    tl_ref_init(&t->refs);
    tl_tomb_kid_t e = summarize(t->root);
    t->n = e.count;
    t->max_seq = e.max_seq;
    *out = t;
    return TL_OK;
}

/* ---------------------------------------------------------------- validate */

typedef struct vstate {
    const tl_tomb_t *prev;
    const char *why;
} vstate_t;

/* Checks subtree x (expected at `level`) and returns its exact summary in *e. */
static bool validate_node(const tl_tomb_node_t *x, unsigned level, bool is_root, vstate_t *vs,
                          tl_tomb_kid_t *e) {
    if (x->level != level) {
        vs->why = "tombstones: leaves at different depths";
        return false;
    }
    if (x->n == 0 || x->n > node_cap(level) || tl_ref_get(&x->refs) == 0 ||
        (is_root && level > 0 && x->n < 2)) {
        vs->why = "tombstones: node empty, overfull, unreferenced or a one-kid root";
        return false;
    }
    *e = (tl_tomb_kid_t){0, 0, node_bytes(x), 0, (tl_tomb_node_t *)x};
    if (level == 0) {
        const tl_tomb_leaf_t *l = as_cleaf(x);
        for (size_t i = 0; i < x->n; i++) {
            const tl_tomb_t *c = &l->v[i];
            const tl_tomb_t *p = vs->prev;
            if (c->lo > c->hi || c->seq == 0) {
                vs->why = "tombstones: malformed interval";
                return false;
            }
            if (p != NULL && p->hi >= c->lo) {
                vs->why = "tombstones: intervals overlap or are unsorted";
                return false;
            }
            if (p != NULL && p->hi + 1 == c->lo && p->seq == c->seq) {
                vs->why = "tombstones: touching intervals with equal sequence not coalesced";
                return false;
            }
            if (c->seq > e->max_seq) e->max_seq = c->seq;
            vs->prev = c;
        }
        e->hi = l->v[x->n - 1].hi;
        e->count = x->n;
        return true;
    }
    const tl_tomb_inner_t *in = as_cinner(x);
    for (size_t j = 0; j < x->n; j++) {
        tl_tomb_kid_t s;
        if (!validate_node(in->k[j].node, level - 1, false, vs, &s)) return false;
        if (s.hi != in->k[j].hi || in->key[j] != s.hi || in->kid[j] != in->k[j].node ||
            s.count != in->k[j].count || s.bytes != in->k[j].bytes ||
            s.max_seq != in->k[j].max_seq) {
            vs->why = "tombstones: a subtree summary is stale";
            return false;
        }
        e->count += s.count;
        e->bytes += s.bytes;
        if (s.max_seq > e->max_seq) e->max_seq = s.max_seq;
    }
    e->hi = in->k[x->n - 1].hi;
    return true;
}

bool tl_tombs_validate(const tl_tombs_t *t, const char **why) {
    if (t == NULL) return true;
    if (t->n == 0 || t->root == NULL) {
        *why = "tombstones: empty set must be NULL";
        return false;
    }
    if (t->root->level >= TL_TOMB_MAX_DEPTH) {
        *why = "tombstones: tree deeper than TL_TOMB_MAX_DEPTH";
        return false;
    }
    vstate_t vs = {NULL, NULL};
    tl_tomb_kid_t e;
    if (!validate_node(t->root, t->root->level, true, &vs, &e)) {
        *why = vs.why;
        return false;
    }
    if (e.count != t->n) {
        *why = "tombstones: interval count is stale";
        return false;
    }
    if (e.max_seq != t->max_seq) {
        *why = "tombstones: max_seq is stale";
        return false;
    }
    return true;
}
