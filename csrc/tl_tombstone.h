/*
 * tl_tombstone.h: sequenced range deletes as an immutable interval set.
 *
 * The set is the step function f(ts) = the highest sequence of any delete
 * covering ts (0 where none does), stored as sorted, disjoint, inclusive
 * intervals [lo, hi] with their sequence. Because every new delete carries a
 * sequence higher than all before it, adding one simply overwrites f on its
 * interval; neighbours with equal sequence are coalesced. So the set never
 * holds more than 2 intervals per delete, and repeated cutoffs collapse into one.
 *
 * Visibility: a memtable record (ts, seq r) is hidden iff f(ts) > r; a record
 * of an immutable source with watermark w is hidden iff f(ts) > w.
 *
 * Layout: intervals live in immutable, reference-counted leaves of at most
 * TL_TOMB_LEAF_CAP; a set is a small root array of leaf pointers with each
 * leaf's last `hi` and first global index. Adding a delete rebuilds only the
 * (at most two) leaves its interval touches, drops the leaves it covers
 * whole, and copies the root: O(T / TL_TOMB_LEAF_CAP + TL_TOMB_LEAF_CAP)
 * instead of copying every interval. Unchanged leaves are shared between
 * versions, so a snapshot still pins the exact set it saw. NULL is the empty set.
 */
#ifndef TL_TOMBSTONE_H
#define TL_TOMBSTONE_H

#include "tl_alloc.h"

#define TL_TOMB_LEAF_CAP 64

typedef struct tl_tomb {
    tl_ts_t lo, hi; /* inclusive */
    tl_seq_t seq;
} tl_tomb_t;

typedef struct tl_tomb_leaf {
    tl_refcnt_t refs;
    size_t n;        /* 1..TL_TOMB_LEAF_CAP intervals, sorted */
    tl_tomb_t v[];
} tl_tomb_leaf_t;

typedef struct tl_tombs {
    tl_refcnt_t refs;
    size_t n;               /* intervals in the whole set (>= 1) */
    size_t n_leaves;
    tl_seq_t max_seq;
    tl_ts_t *leaf_hi;       /* hi of each leaf's last interval (search key) */
    size_t *leaf_start;     /* global index of each leaf's first interval */
    tl_tomb_leaf_t **leaves;
} tl_tombs_t;

/* A new set: old with f set to seq on [lo, hi]. seq must exceed old->max_seq.
 * old is not modified (it may be pinned). */
TL_NODISCARD tl_status_t tl_tombs_add(tl_mem_t *m, const tl_tombs_t *old, tl_ts_t lo,
                                      tl_ts_t hi, tl_seq_t seq, tl_tombs_t **out);

/* Like tl_tombs_add, and also gives up the caller's reference to old, which
 * must be the only one (refcount 1, and nobody can take another meanwhile:
 * the log calls it under its publish lock). The new set then takes over the
 * old one's leaves instead of sharing them, and when the change fits in one
 * leaf nobody else holds, old itself is updated in place and returned (no
 * allocation at all). On failure old is untouched and still the caller's. */
TL_NODISCARD tl_status_t tl_tombs_replace(tl_mem_t *m, tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi,
                                          tl_seq_t seq, tl_tombs_t **out);

/* A new set without the intervals for which forget(ctx, t) is true; *out is
 * NULL when nothing is left. *changed says whether anything was dropped (if
 * not, *out is old retained). */
typedef bool (*tl_tomb_pred_fn)(void *ctx, const tl_tomb_t *t);
TL_NODISCARD tl_status_t tl_tombs_filter(tl_mem_t *m, tl_tombs_t *old, tl_tomb_pred_fn forget,
                                         void *ctx, tl_tombs_t **out, bool *changed);

void tl_tombs_retain(tl_tombs_t *t); /* accepts NULL */
void tl_tombs_release(tl_mem_t *m, tl_tombs_t *t); /* accepts NULL */
/* Bytes of this version: its root plus every leaf it references (leaves
 * shared with other versions are counted in each). */
size_t tl_tombs_bytes(const tl_tombs_t *t);

static inline size_t tl_tombs_count(const tl_tombs_t *t) { return t == NULL ? 0 : t->n; }

/* The i-th interval (0 <= i < count) in order. O(log of the leaf count). */
const tl_tomb_t *tl_tombs_get(const tl_tombs_t *t, size_t i);
/* Index of the first interval with hi >= ts (count if none). */
size_t tl_tombs_seek(const tl_tombs_t *t, tl_ts_t ts);
/* The interval holding ts, or NULL. */
const tl_tomb_t *tl_tombs_find(const tl_tombs_t *t, tl_ts_t ts);
/* f(ts): highest delete sequence covering ts, 0 if none. */
tl_seq_t tl_tombs_seq_at(const tl_tombs_t *t, tl_ts_t ts);
/* Highest sequence of any interval intersecting [lo, hi], 0 if none. */
tl_seq_t tl_tombs_max_seq_in(const tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi);

/* A forward cursor for filtering a sorted stream: ask for non-decreasing ts. */
typedef struct tl_tomb_cursor {
    const tl_tombs_t *t;
    size_t leaf, i;  /* position: leaves[leaf]->v[i] */
    size_t n;        /* intervals in the set (0: nothing ever hides) */
} tl_tomb_cursor_t;

void tl_tomb_cursor_init(tl_tomb_cursor_t *c, const tl_tombs_t *t, tl_ts_t from);

/* f(ts) for ts >= every earlier query. Amortised O(1). */
static inline tl_seq_t tl_tomb_cursor_seq(tl_tomb_cursor_t *c, tl_ts_t ts) {
    const tl_tombs_t *t = c->t;
    while (c->leaf < (t == NULL ? 0 : t->n_leaves)) {
        const tl_tomb_leaf_t *l = t->leaves[c->leaf];
        if (c->i == l->n) {
            c->leaf++;
            c->i = 0;
            continue;
        }
        const tl_tomb_t *v = &l->v[c->i];
        if (v->hi < ts) {
            c->i++;
            continue;
        }
        return v->lo <= ts ? v->seq : 0;
    }
    return 0;
}

bool tl_tombs_validate(const tl_tombs_t *t, const char **why);

#endif /* TL_TOMBSTONE_H */
