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
 * Sets are immutable and reference counted (copy on write): a snapshot pins
 * the set it saw. NULL is the empty set.
 */
#ifndef TL_TOMBSTONE_H
#define TL_TOMBSTONE_H

#include "tl_alloc.h"

typedef struct tl_tomb {
    tl_ts_t lo, hi; /* inclusive */
    tl_seq_t seq;
} tl_tomb_t;

typedef struct tl_tombs {
    tl_refcnt_t refs;
    size_t n;
    size_t cap;     /* intervals the allocation holds */
    tl_seq_t max_seq;
    tl_tomb_t v[]; /* sorted by lo, disjoint */
} tl_tombs_t;

/* A new set: old with f set to seq on [lo, hi]. seq must exceed old->max_seq.
 * old is not modified (it may be pinned). */
TL_NODISCARD tl_status_t tl_tombs_add(tl_mem_t *m, const tl_tombs_t *old, tl_ts_t lo,
                                      tl_ts_t hi, tl_seq_t seq, tl_tombs_t **out);

/* A new set without the intervals for which forget(ctx, t) is true; *out is
 * NULL when nothing is left. *changed says whether anything was dropped (if
 * not, *out is old retained). */
typedef bool (*tl_tomb_pred_fn)(void *ctx, const tl_tomb_t *t);
TL_NODISCARD tl_status_t tl_tombs_filter(tl_mem_t *m, tl_tombs_t *old, tl_tomb_pred_fn forget,
                                         void *ctx, tl_tombs_t **out, bool *changed);

void tl_tombs_retain(tl_tombs_t *t); /* accepts NULL */
void tl_tombs_release(tl_mem_t *m, tl_tombs_t *t); /* accepts NULL */
size_t tl_tombs_bytes(const tl_tombs_t *t);

static inline size_t tl_tombs_count(const tl_tombs_t *t) { return t == NULL ? 0 : t->n; }

/* Index of the first interval with hi >= ts (n if none). */
size_t tl_tombs_seek(const tl_tombs_t *t, tl_ts_t ts);
/* f(ts): highest delete sequence covering ts, 0 if none. */
tl_seq_t tl_tombs_seq_at(const tl_tombs_t *t, tl_ts_t ts);
/* Highest sequence of any interval intersecting [lo, hi], 0 if none. */
tl_seq_t tl_tombs_max_seq_in(const tl_tombs_t *t, tl_ts_t lo, tl_ts_t hi);

/* A forward cursor for filtering a sorted stream: ask for non-decreasing ts. */
typedef struct tl_tomb_cursor {
    const tl_tomb_t *v;
    size_t n, i;
} tl_tomb_cursor_t;

void tl_tomb_cursor_init(tl_tomb_cursor_t *c, const tl_tombs_t *t, tl_ts_t from);

/* f(ts) for ts >= every earlier query. Amortised O(1). */
static inline tl_seq_t tl_tomb_cursor_seq(tl_tomb_cursor_t *c, tl_ts_t ts) {
    while (c->i < c->n && c->v[c->i].hi < ts) c->i++;
    if (c->i < c->n && c->v[c->i].lo <= ts) return c->v[c->i].seq;
    return 0;
}

bool tl_tombs_validate(const tl_tombs_t *t, const char **why);

#endif /* TL_TOMBSTONE_H */
