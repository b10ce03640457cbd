/*
 * tl_retire.c: the epoch-tagged queue of dropped handles (see header).
 * Entries are pushed in non-decreasing epoch order (publishes are ordered),
 * so the releasable ones are always a prefix: pop never scans past the first
 * entry that is still pinned.
 */
#include "tl_retire.h"

tl_status_t tl_retire_init(tl_retire_t *r) {
    memset(r, 0, sizeof(*r));
    atomic_init(&r->count, 0);
    if (!tl_mutex_init(&r->mu)) return TL_ERR(TL_ENOMEM);
    return TL_OK;
}

void tl_retire_destroy(tl_retire_t *r, tl_mem_t *m) {
    tl_mem_free(m, r->v, r->cap * sizeof(tl_retire_entry_t));
    r->v = NULL;
    r->cap = r->len = r->head = 0;
    tl_mutex_destroy(&r->mu);
}

tl_status_t tl_retire_reserve(tl_retire_t *r, tl_mem_t *m, size_t extra) {
    tl_status_t st = TL_OK;
    tl_mutex_lock(&r->mu);
    size_t live = r->len - r->head;
    size_t need = r->len + r->reserved + extra;
    if (r->head > 0 && need > r->cap) {
        /* Slide live entries to the front before growing. */
        memmove(r->v, r->v + r->head, live * sizeof(tl_retire_entry_t));
        r->len = live;
        r->head = 0;
        need = r->len + r->reserved + extra;
    }
    if (need > r->cap) {
        size_t cap = r->cap == 0 ? 256 : r->cap;
        while (cap < need) cap *= 2;
        tl_retire_entry_t *v = tl_mem_realloc(m, r->v, r->cap * sizeof(tl_retire_entry_t),
                                              tl_mul_size(cap, sizeof(tl_retire_entry_t)));
        if (v == NULL) {
            st = TL_ERR(TL_ENOMEM);
        } else {
            r->v = v;
            r->cap = cap;
        }
    }
    if (st == TL_OK) r->reserved += extra;
    tl_mutex_unlock(&r->mu);
    return st;
}

void tl_retire_push_list(tl_retire_t *r, const tl_hlist_t *l, uint64_t epoch) {
    if (l->n == 0) return;
    tl_mutex_lock(&r->mu);
    r->reserved -= TL_MIN(r->reserved, l->n);
    for (size_t i = 0; i < l->n && r->len < r->cap; i++) {
        r->v[r->len].h = l->v[i];
        r->v[r->len].epoch = epoch;
        r->len++;
    }
    atomic_store_explicit(&r->count, r->len - r->head, memory_order_relaxed);
    tl_mutex_unlock(&r->mu);
}

void tl_retire_unreserve(tl_retire_t *r, size_t n) {
    tl_mutex_lock(&r->mu);
    r->reserved -= TL_MIN(r->reserved, n);
    tl_mutex_unlock(&r->mu);
}

void tl_retire_trim(tl_retire_t *r, tl_mem_t *m) {
    tl_mutex_lock(&r->mu);
    if (r->head == r->len && r->reserved == 0 && r->v != NULL) {
        tl_mem_free(m, r->v, r->cap * sizeof(tl_retire_entry_t));
        r->v = NULL;
        r->cap = r->len = r->head = 0;
    }
    tl_mutex_unlock(&r->mu);
}

size_t tl_retire_pop(tl_retire_t *r, uint64_t safe_epoch, tl_handle_t *out, size_t max) {
    size_t n = 0;
    tl_mutex_lock(&r->mu);
    while (n < max && r->head < r->len && r->v[r->head].epoch <= safe_epoch) {
        out[n++] = r->v[r->head++].h;
    }
    if (r->head == r->len) r->head = r->len = 0;
    atomic_store_explicit(&r->count, r->len - r->head, memory_order_relaxed);
    tl_mutex_unlock(&r->mu);
    return n;
}

void tl_retire_drain_all(tl_retire_t *r, void (*fn)(void *ctx, tl_handle_t h), void *ctx) {
    for (size_t i = r->head; i < r->len; i++) fn(ctx, r->v[i].h);
    r->head = r->len = 0;
    atomic_store_explicit(&r->count, 0, memory_order_relaxed);
}

int tl_retire_visit(tl_retire_t *r, tl_visit_fn visit, void *ctx) {
    int rc = 0;
    tl_mutex_lock(&r->mu);
    for (size_t i = r->head; i < r->len && rc == 0; i++) rc = visit(r->v[i].h, ctx);
    tl_mutex_unlock(&r->mu);
    return rc;
}

void tl_retire_fork_prepare(tl_retire_t *r) { tl_mutex_lock(&r->mu); }

void tl_retire_fork_parent(tl_retire_t *r) { tl_mutex_unlock(&r->mu); }

/* Held by the forking thread (prepare): a fresh mutex replaces it. It is not
 * destroyed first, since destroying a locked mutex is undefined. */
void tl_retire_fork_child(tl_retire_t *r) { (void)tl_mutex_init(&r->mu); }

size_t tl_retire_len(const tl_retire_t *r) {
    return atomic_load_explicit(&((tl_retire_t *)r)->count, memory_order_relaxed);
}

size_t tl_retire_bytes(const tl_retire_t *r) { return r->cap * sizeof(tl_retire_entry_t); }
