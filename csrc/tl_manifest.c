/*
 * tl_manifest.c: immutable, reference-counted source sets (see header).
 * One allocation holds the struct and its three pointer arrays.
 * Threads: immutable after creation; refcounts are atomic.
 */
#include "tl_manifest.h"

static size_t man_bytes(size_t n_mr, size_t n_l0, size_t n_l1) {
    return sizeof(tl_manifest_t) + (n_mr + n_l0 + n_l1) * sizeof(void *);
}

/* Allocates and wires a manifest with room for the given counts; the caller
 * fills the arrays and then calls retain_all. */
static tl_manifest_t *man_new(tl_mem_t *m, size_t n_mr, size_t n_l0, size_t n_l1) {
    tl_manifest_t *man = tl_mem_alloc(m, man_bytes(n_mr, n_l0, n_l1));
    if (man == NULL) return NULL;
    tl_ref_init(&man->refs);
    man->n_mr = n_mr;
    man->n_l0 = n_l0;
    man->n_l1 = n_l1;
    man->mr = (tl_memrun_t **)(man + 1);
    man->l0 = (tl_segment_t **)(man->mr + n_mr);
    man->l1 = man->l0 + n_l0;
    return man;
}

/* The new manifest holds its own reference to every source it lists. */
static void retain_all(tl_manifest_t *man) {
    for (size_t i = 0; i < man->n_mr; i++) tl_memrun_retain(man->mr[i]);
    for (size_t i = 0; i < man->n_l0; i++) tl_segment_retain(man->l0[i]);
    for (size_t i = 0; i < man->n_l1; i++) tl_segment_retain(man->l1[i]);
}

tl_status_t tl_manifest_create(tl_mem_t *m, tl_memrun_t *const *mr, size_t n_mr,
                               tl_segment_t *const *l0, size_t n_l0, tl_segment_t *const *l1,
                               size_t n_l1, tl_manifest_t **out) {
    *out = NULL;
    tl_manifest_t *man = man_new(m, n_mr, n_l0, n_l1);
    if (man == NULL) return TL_ERR(TL_ENOMEM);
    if (n_mr > 0) memcpy(man->mr, mr, n_mr * sizeof(*mr));
    if (n_l0 > 0) memcpy(man->l0, l0, n_l0 * sizeof(*l0));
    if (n_l1 > 0) memcpy(man->l1, l1, n_l1 * sizeof(*l1));
    retain_all(man);
    *out = man;
    return TL_OK;
}

static bool listed(const void *const *v, size_t n, const void *p) {
    for (size_t i = 0; i < n; i++) {
        if (v[i] == p) return true;
    }
    return false;
}

tl_status_t tl_manifest_derive(tl_mem_t *m, const tl_manifest_t *cur, const tl_manifest_edit_t *e,
                               tl_manifest_t **out) {
    *out = NULL;
    size_t n_mr = 0, n_l0 = 0;
    for (size_t i = 0; i < cur->n_mr; i++) {
        n_mr += !listed((const void *const *)e->drop_mr, e->n_drop_mr, cur->mr[i]);
    }
    for (size_t i = 0; i < cur->n_l0; i++) {
        n_l0 += !listed((const void *const *)e->drop_l0, e->n_drop_l0, cur->l0[i]);
    }
    n_mr += e->add_mr != NULL;
    n_l0 += e->n_add_l0;
    size_t n_l1 = e->replace_l1 ? e->n_l1 : cur->n_l1;
    tl_manifest_t *man = man_new(m, n_mr, n_l0, n_l1);
    if (man == NULL) return TL_ERR(TL_ENOMEM);
    size_t k = 0;
    for (size_t i = 0; i < cur->n_mr; i++) {
        if (!listed((const void *const *)e->drop_mr, e->n_drop_mr, cur->mr[i]))
            man->mr[k++] = cur->mr[i];
    }
    if (e->add_mr != NULL) man->mr[k++] = e->add_mr;
    k = 0;
    for (size_t i = 0; i < cur->n_l0; i++) {
        if (!listed((const void *const *)e->drop_l0, e->n_drop_l0, cur->l0[i]))
            man->l0[k++] = cur->l0[i];
    }
    for (size_t i = 0; i < e->n_add_l0; i++) man->l0[k++] = e->add_l0[i];
    tl_segment_t *const *l1 = e->replace_l1 ? e->l1 : cur->l1;
    if (n_l1 > 0) memcpy(man->l1, l1, n_l1 * sizeof(*l1));
    retain_all(man);
    *out = man;
    return TL_OK;
}

void tl_manifest_retain(tl_manifest_t *man) { tl_ref_inc(&man->refs); }

void tl_manifest_release(tl_mem_t *m, tl_manifest_t *man) {
    if (man == NULL || !tl_ref_dec(&man->refs)) return;
    for (size_t i = 0; i < man->n_mr; i++) tl_memrun_release(m, man->mr[i]);
    for (size_t i = 0; i < man->n_l0; i++) tl_segment_release(m, man->l0[i]);
    for (size_t i = 0; i < man->n_l1; i++) tl_segment_release(m, man->l1[i]);
    tl_mem_free(m, man, man_bytes(man->n_mr, man->n_l0, man->n_l1));
}

size_t tl_manifest_own_bytes(const tl_manifest_t *man) {
    return man_bytes(man->n_mr, man->n_l0, man->n_l1);
}

size_t tl_manifest_l1_seek(const tl_manifest_t *man, tl_ts_t ts) {
    size_t lo = 0, hi = man->n_l1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (man->l1[mid]->max < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool tl_manifest_validate(const tl_manifest_t *man, const char **why) {
    if (tl_ref_get(&man->refs) == 0) {
        *why = "manifest: published with a zero reference count";
        return false;
    }
    for (size_t i = 0; i < man->n_mr; i++) {
        if (!tl_memrun_validate(man->mr[i], why)) return false;
    }
    for (size_t i = 0; i < man->n_l0; i++) {
        if (!tl_segment_validate(man->l0[i], why)) return false;
        if (man->l0[i]->level != TL_LEVEL_L0) {
            *why = "manifest: non-L0 segment in the L0 list";
            return false;
        }
    }
    for (size_t i = 0; i < man->n_l1; i++) {
        const tl_segment_t *s = man->l1[i];
        if (!tl_segment_validate(s, why)) return false;
        if (s->level != TL_LEVEL_L1) {
            *why = "manifest: non-L1 segment in the L1 list";
            return false;
        }
        if (i > 0 && man->l1[i - 1]->max >= s->min) {
            *why = "manifest: L1 segments overlap or are unsorted";
            return false;
        }
        /* Neighbours share a window or their windows are disjoint (widths
         * may differ under adaptive sizing; overlap never). */
        if (i > 0) {
            tl_window_t p = man->l1[i - 1]->window, w = s->window;
            if (!(p.lo == w.lo && p.hi == w.hi) && p.hi >= w.lo) {
                *why = "manifest: L1 windows overlap";
                return false;
            }
        }
    }
    return true;
}

static void each_recs(const tl_recs_t *r, void (*fn)(void *ctx, tl_handle_t h), void *ctx) {
    for (size_t i = 0; i < r->n; i++) fn(ctx, r->h[i]);
}

void tl_manifest_for_each_handle(const tl_manifest_t *man, void (*fn)(void *ctx, tl_handle_t h),
                                 void *ctx) {
    for (size_t i = 0; i < man->n_mr; i++) each_recs(man->mr[i]->recs, fn, ctx);
    for (size_t i = 0; i < man->n_l0; i++) each_recs(man->l0[i]->recs, fn, ctx);
    for (size_t i = 0; i < man->n_l1; i++) each_recs(man->l1[i]->recs, fn, ctx);
}
