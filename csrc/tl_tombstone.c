/*
 * tl_tombstone.c: the immutable, coalesced, sequenced interval set (see the
 * header for the step-function model). Invariants of every published set:
 * intervals sorted by lo, disjoint (prev.hi < next.lo), each seq > 0, and two
 * touching intervals (prev.hi + 1 == next.lo) never share a sequence.
 *
 * Threads: sets are immutable after creation; only refcounts change.
 */
#include "tl_tombstone.h"

static size_t tombs_bytes_for(size_t n) {
    return sizeof(tl_tombs_t) + tl_mul_size(n, sizeof(tl_tomb_t));
}

static tl_tombs_t *tombs_alloc(tl_mem_t *m, size_t n) {
    tl_tombs_t *t = tl_mem_alloc(m, tombs_bytes_for(n));
    if (t == NULL) return NULL;
    tl_ref_init(&t->refs);
    t->n = 0;
    t->cap = n;
    t->max_seq = 0;
    return t;
}

/* Appends an interval, merging it into the previous one when they touch and
 * carry the same sequence. */
static void push(tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi, tl_seq_t seq) {
    if (t->n > 0) {
        tl_tomb_t *p = &t->v[t->n - 1];
        if (p->seq == seq && p->hi != TL_TS_MAX && p->hi + 1 == lo) {
            p->hi = hi;
            return;
        }
    }
    t->v[t->n].lo = lo;
    t->v[t->n].hi = hi;
    t->v[t->n].seq = seq;
    t->n++;
    if (seq > t->max_seq) t->max_seq = seq;
}

tl_status_t tl_tombs_add(tl_mem_t *m, const tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi,
                         tl_seq_t seq, tl_tombs_t **out) {
    *out = NULL;
    if (lo > hi || seq == 0) return TL_ERR(TL_EINVAL);
    size_t n_old = tl_tombs_count(old);
    if (old != NULL && seq <= old->max_seq) return TL_ERR(TL_EINVAL);
    /* Worst case: one old interval splits around the new one. */
    tl_tombs_t *t = tombs_alloc(m, n_old + 2);
    if (t == NULL) return TL_ERR(TL_ENOMEM);
    size_t i = 0;
    /* Intervals entirely before lo. */
    for (; i < n_old && old->v[i].hi < lo; i++) push(t, old->v[i].lo, old->v[i].hi, old->v[i].seq);
    /* The left remainder of an interval straddling lo. */
    if (i < n_old && old->v[i].lo < lo) push(t, old->v[i].lo, lo - 1, old->v[i].seq);
    push(t, lo, hi, seq);
    /* Skip everything covered; keep the right remainder of a straddler. */
    for (; i < n_old && old->v[i].hi <= hi; i++) {
    }
    if (i < n_old && old->v[i].lo <= hi) {
        push(t, hi + 1, old->v[i].hi, old->v[i].seq);
        i++;
    }
    for (; i < n_old; i++) push(t, old->v[i].lo, old->v[i].hi, old->v[i].seq);
    *out = t;
    return TL_OK;
}

tl_status_t tl_tombs_filter(tl_mem_t *m, tl_tombs_t *old, tl_tomb_pred_fn forget, void *ctx,
                            tl_tombs_t **out, bool *changed) {
    *out = NULL;
    *changed = false;
    if (old == NULL) return TL_OK;
    size_t keep = 0;
    for (size_t i = 0; i < old->n; i++) {
        if (!forget(ctx, &old->v[i])) keep++;
    }
    if (keep == old->n) {
        tl_tombs_retain(old);
        *out = old;
        return TL_OK;
    }
    *changed = true;
    if (keep == 0) return TL_OK;
    tl_tombs_t *t = tombs_alloc(m, keep);
    if (t == NULL) {
        *changed = false;
        return TL_ERR(TL_ENOMEM);
    }
    for (size_t i = 0; i < old->n; i++) {
        if (!forget(ctx, &old->v[i])) push(t, old->v[i].lo, old->v[i].hi, old->v[i].seq);
    }
    *out = t;
    return TL_OK;
}

void tl_tombs_retain(tl_tombs_t *t) {
    if (t != NULL) tl_ref_inc(&t->refs);
}

void tl_tombs_release(tl_mem_t *m, tl_tombs_t *t) {
    if (t == NULL) return;
    if (tl_ref_dec(&t->refs)) tl_mem_free(m, t, tl_tombs_bytes(t));
}

size_t tl_tombs_seek(const tl_tombs_t *t, tl_ts_t ts) {
    size_t lo = 0, hi = tl_tombs_count(t);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].hi < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

tl_seq_t tl_tombs_seq_at(const tl_tombs_t *t, tl_ts_t ts) {
    size_t i = tl_tombs_seek(t, ts);
    if (i < tl_tombs_count(t) && t->v[i].lo <= ts) return t->v[i].seq;
    return 0;
}

tl_seq_t tl_tombs_max_seq_in(const tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi) {
    tl_seq_t best = 0;
    for (size_t i = tl_tombs_seek(t, lo); i < tl_tombs_count(t) && t->v[i].lo <= hi; i++) {
        if (t->v[i].seq > best) best = t->v[i].seq;
    }
    return best;
}

size_t tl_tombs_bytes(const tl_tombs_t *t) { return t == NULL ? 0 : tombs_bytes_for(t->cap); }

void tl_tomb_cursor_init(tl_tomb_cursor_t *c, const tl_tombs_t *t, tl_ts_t from) {
    c->v = t == NULL ? NULL : t->v;
    c->n = tl_tombs_count(t);
    c->i = tl_tombs_seek(t, from);
}

bool tl_tombs_validate(const tl_tombs_t *t, const char **why) {
    if (t == NULL) return true;
    if (t->n == 0) {
        *why = "tombstones: empty set must be NULL";
        return false;
    }
    tl_seq_t max_seq = 0;
    for (size_t i = 0; i < t->n; i++) {
        const tl_tomb_t *c = &t->v[i];
        if (c->lo > c->hi || c->seq == 0) {
            *why = "tombstones: malformed interval";
            return false;
        }
        if (c->seq > max_seq) max_seq = c->seq;
        if (i == 0) continue;
        const tl_tomb_t *p = &t->v[i - 1];
        if (p->hi >= c->lo) {
            *why = "tombstones: intervals overlap or are unsorted";
            return false;
        }
        if (p->hi + 1 == c->lo && p->seq == c->seq) {
            *why = "tombstones: touching intervals with equal sequence not coalesced";
            return false;
        }
    }
    if (max_seq != t->max_seq) {
        *why = "tombstones: max_seq is stale";
        return false;
    }
    return true;
}
