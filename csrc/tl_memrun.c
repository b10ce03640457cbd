/*
 * tl_memrun.c: sealed, immutable memtables (see tl_memrun.h).
 * Threads: immutable after creation; refcounts are atomic.
 */
#include "tl_memrun.h"

tl_status_t tl_memrun_create(tl_mem_t *m, tl_recs_t *recs, tl_seq_t wm, tl_memrun_t **out) {
    *out = NULL;
    if (recs == NULL || recs->n == 0) return TL_ERR(TL_EINVAL);
    tl_memrun_t *mr = tl_mem_alloc(m, sizeof(*mr));
    if (mr == NULL) return TL_ERR(TL_ENOMEM);
    tl_ref_init(&mr->refs);
    mr->recs = recs;
    mr->wm = wm;
    mr->min = recs->ts[0];
    mr->max = recs->ts[recs->n - 1];
    *out = mr;
    return TL_OK;
}

void tl_memrun_retain(tl_memrun_t *mr) { tl_ref_inc(&mr->refs); }

void tl_memrun_release(tl_mem_t *m, tl_memrun_t *mr) {
    if (mr == NULL || !tl_ref_dec(&mr->refs)) return;
    tl_recs_release(m, mr->recs);
    tl_mem_free(m, mr, sizeof(*mr));
}

size_t tl_memrun_bytes(const tl_memrun_t *mr) { return sizeof(*mr) + tl_recs_bytes(mr->recs); }

bool tl_memrun_validate(const tl_memrun_t *mr, const char **why) {
    const tl_recs_t *r = mr->recs;
    if (r == NULL || r->n == 0 || r->n > r->cap) {
        *why = "memrun: empty or malformed block";
        return false;
    }
    if (!tl_ts_sorted(r->ts, r->n)) {
        *why = "memrun: timestamps out of order";
        return false;
    }
    if (mr->min != r->ts[0] || mr->max != r->ts[r->n - 1]) {
        *why = "memrun: min/max do not match its records";
        return false;
    }
    if (tl_ref_get(&mr->refs) == 0) {
        *why = "memrun: reachable with a zero reference count";
        return false;
    }
    return true;
}
