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
 * Layout: a persistent B+-tree. Intervals live in leaves of at most
 * TL_TOMB_LEAF_CAP; inner nodes hold up to TL_TOMB_FANOUT children, each with
 * a summary of its subtree (last hi as the search key, interval count, bytes,
 * highest sequence). Every leaf is at the same depth. Nodes are immutable
 * once reachable from a set other than the one being built, and reference-
 * counted by their parents, so versions share every subtree a delete did
 * not touch and a snapshot still pins the exact set it saw. Adding a delete
 * copies the root-to-leaf path(s) its interval touches (O(log T) nodes; a
 * wide delete drops the subtrees it covers whole), or, when the caller owns
 * the set and every node on that path alone and the change stays in one
 * leaf, rewrites that leaf and the path's summaries in place. Lookups by
 * timestamp or by index descend the tree: O(log T). NULL is the empty set.
 * On a large set the cost is cache misses, not comparisons: inner nodes keep
 * their keys and kid pointers in contiguous arrays as well, and descents
 * prefetch each level-1 node and leaf whole as soon as they choose it, so its
 * misses overlap instead of following one binary-search probe after another.
 */
#ifndef TL_TOMBSTONE_H
#define TL_TOMBSTONE_H

#include "tl_alloc.h"

#define TL_TOMB_LEAF_CAP 64
#define TL_TOMB_FANOUT 64
/* Deeper than any set that fits in memory (non-root nodes are kept at least
 * a quarter full), so cursors can keep their path in a fixed array. */
#define TL_TOMB_MAX_DEPTH 24

typedef struct tl_tomb {
    tl_ts_t lo, hi; /* inclusive */
    tl_seq_t seq;
} tl_tomb_t;

/* Common head of leaves (level 0) and inner nodes (level >= 1). */
typedef struct tl_tomb_node {
    tl_refcnt_t refs; /* parents (or sets) pointing here */
    unsigned level;
    size_t n; /* entries: 1..TL_TOMB_LEAF_CAP intervals or 1..TL_TOMB_FANOUT kids */
} tl_tomb_node_t;

typedef struct tl_tomb_leaf {
    tl_tomb_node_t h;
    tl_tomb_t v[]; /* sorted */
} tl_tomb_leaf_t;

/* One child of an inner node and the summary of its subtree. */
typedef struct tl_tomb_kid {
    tl_ts_t hi;       /* hi of the subtree's last interval (search key) */
    size_t count;     /* intervals in the subtree */
    size_t bytes;     /* bytes of the subtree's nodes */
    tl_seq_t max_seq; /* highest sequence in the subtree */
    tl_tomb_node_t *node;
} tl_tomb_kid_t;

typedef struct tl_tomb_inner {
    tl_tomb_node_t h;
    /* key[j] == k[j].hi and kid[j] == k[j].node, each kept contiguous: a
     * descent reads 16 cache lines it can fetch together (instead of a chain
     * of misses over k[]'s 40), and touches k[] only to update a summary. */
    tl_ts_t key[TL_TOMB_FANOUT];
    tl_tomb_node_t *kid[TL_TOMB_FANOUT];
    tl_tomb_kid_t k[];
} tl_tomb_inner_t;

typedef struct tl_tombs {
    tl_refcnt_t refs;
    size_t n; /* intervals in the whole set (>= 1) */
    tl_seq_t max_seq;
    tl_tomb_node_t *root;
} tl_tombs_t;

/* A new set: old with f set to seq on [lo, hi]. seq must exceed old->max_seq.
 * old is not modified (it may be pinned). */
TL_NODISCARD tl_status_t tl_tombs_add(tl_mem_t *m, const tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi,
                                      tl_seq_t seq, tl_tombs_t **out);

/* Like tl_tombs_add, and also gives up the caller's reference to old, which
 * must be the only one (refcount 1, and nobody can take another meanwhile:
 * the log calls it under its publish lock). The new set then takes over the
 * old one's nodes instead of sharing them, and when the change fits in one
 * leaf and nobody else holds any node on its path, old itself is updated in
 * place and returned (no allocation at all). On failure old is untouched and still the caller's. */
TL_NODISCARD tl_status_t tl_tombs_replace(tl_mem_t *m, tl_tombs_t *old, tl_ts_t lo, tl_ts_t hi,
                                          tl_seq_t seq, tl_tombs_t **out);

/* A new set without the intervals for which forget(ctx, t) is true; *out is
 * NULL when nothing is left. *changed says whether anything was dropped (if
 * not, *out is old retained). */
typedef bool (*tl_tomb_pred_fn)(void *ctx, const tl_tomb_t *t);
TL_NODISCARD tl_status_t tl_tombs_filter(tl_mem_t *m, tl_tombs_t *old, tl_tomb_pred_fn forget,
                                         void *ctx, tl_tombs_t **out, bool *changed);

void tl_tombs_retain(tl_tombs_t *t);               /* accepts NULL */
void tl_tombs_release(tl_mem_t *m, tl_tombs_t *t); /* accepts NULL */
/* Bytes of this version: the set plus every node it references (nodes
 * shared with other versions are counted in each). O(TL_TOMB_FANOUT). */
size_t tl_tombs_bytes(const tl_tombs_t *t);

static inline size_t tl_tombs_count(const tl_tombs_t *t) { return t == NULL ? 0 : t->n; }

/* The i-th interval (0 <= i < count) in order. O(log T). */
const tl_tomb_t *tl_tombs_get(const tl_tombs_t *t, size_t i);
/* Index of the first interval with hi >= ts (count if none). */
size_t tl_tombs_seek(const tl_tombs_t *t, tl_ts_t ts);
/* The interval holding ts, or NULL. */
const tl_tomb_t *tl_tombs_find(const tl_tombs_t *t, tl_ts_t ts);
/* f(ts): highest delete sequence covering ts, 0 if none. */
tl_seq_t tl_tombs_seq_at(const tl_tombs_t *t, tl_ts_t ts);
/* Highest sequence of any interval intersecting [lo, hi], 0 if none. */
tl_seq_t tl_tombs_max_seq_in(const tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi);

/* A forward cursor for filtering a sorted stream: ask for non-decreasing ts.
 * It keeps its root-to-leaf path, so stepping to the next leaf is amortised
 * O(1) and needs no parent pointers (nodes are shared between versions). */
typedef struct tl_tomb_cursor {
    const tl_tombs_t *t;
    const tl_tomb_leaf_t *leaf; /* current leaf; NULL once past the last */
    size_t i;                   /* position in leaf->v */
    size_t n;                   /* intervals in the set (0: nothing ever hides) */
    unsigned depth;             /* inner nodes on the path */
    const tl_tomb_inner_t *path[TL_TOMB_MAX_DEPTH];
    size_t at[TL_TOMB_MAX_DEPTH]; /* path[d]->k[at[d]] leads down */
} tl_tomb_cursor_t;

void tl_tomb_cursor_init(tl_tomb_cursor_t *c, const tl_tombs_t *t, tl_ts_t from);
/* Moves to the first interval of the next leaf (leaf = NULL at the end). */
void tl_tomb_cursor_next_leaf(tl_tomb_cursor_t *c);

/* f(ts) for ts >= every earlier query. Amortised O(1). */
static inline tl_seq_t tl_tomb_cursor_seq(tl_tomb_cursor_t *c, tl_ts_t ts) {
    while (c->leaf != NULL) {
        const tl_tomb_leaf_t *l = c->leaf;
        if (c->i == l->h.n || l->v[l->h.n - 1].hi < ts) {
            tl_tomb_cursor_next_leaf(c);
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
