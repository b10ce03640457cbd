/*
 * tl_alloc.c: the accounted allocator (see tl_alloc.h). Counters are relaxed
 * atomics: they are statistics and leak checks, never used to order other
 * memory.
 */
#include "tl_alloc.h"

#include <stdlib.h>

static void *libc_malloc(void *ctx, size_t n) {
    (void)ctx;
    return malloc(n);
}

static void *libc_realloc(void *ctx, void *p, size_t old_n, size_t new_n) {
    (void)ctx;
    (void)old_n;
    return realloc(p, new_n);
}

static void libc_free(void *ctx, void *p, size_t n) {
    (void)ctx;
    (void)n;
    free(p);
}

void tl_mem_init(tl_mem_t *m, const tl_allocator_t *a) {
    if (a != NULL && a->malloc_fn != NULL && a->free_fn != NULL) {
        m->a = *a;
    } else {
        m->a.ctx = NULL;
        m->a.malloc_fn = libc_malloc;
        m->a.realloc_fn = libc_realloc;
        m->a.free_fn = libc_free;
    }
    atomic_init(&m->live, 0);
    atomic_init(&m->peak, 0);
    atomic_init(&m->calls, 0);
    atomic_init(&m->failures, 0);
}

static void count_call(tl_mem_t *m) {
    uint64_t c = atomic_load_explicit(&m->calls, memory_order_relaxed);
    atomic_store_explicit(&m->calls, c + 1, memory_order_relaxed);
}

static void account_add(tl_mem_t *m, size_t n) {
    size_t live = atomic_fetch_add_explicit(&m->live, n, memory_order_relaxed) + n;
    size_t peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
    while (live > peak &&
           !atomic_compare_exchange_weak_explicit(&m->peak, &peak, live, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static void account_sub(tl_mem_t *m, size_t n) {
    atomic_fetch_sub_explicit(&m->live, n, memory_order_relaxed);
}

void *tl_mem_alloc(tl_mem_t *m, size_t n) {
    if (n == 0 || n == SIZE_MAX) return NULL;
    count_call(m);
    void *p = m->a.malloc_fn(m->a.ctx, n);
    if (p == NULL) {
        atomic_fetch_add_explicit(&m->failures, 1, memory_order_relaxed);
        return NULL;
    }
    account_add(m, n);
    return p;
}

void *tl_mem_calloc(tl_mem_t *m, size_t count, size_t size) {
    size_t n = tl_mul_size(count, size);
    void *p = tl_mem_alloc(m, n);
    if (p != NULL) memset(p, 0, n);
    return p;
}

void *tl_mem_realloc(tl_mem_t *m, void *p, size_t old_n, size_t new_n) {
    if (p == NULL) return tl_mem_alloc(m, new_n);
    if (new_n == 0 || new_n == SIZE_MAX) return NULL;
    if (new_n > old_n) count_call(m);
    void *q;
    if (m->a.realloc_fn != NULL) {
        q = m->a.realloc_fn(m->a.ctx, p, old_n, new_n);
    } else {
        q = m->a.malloc_fn(m->a.ctx, new_n);
        if (q != NULL) {
            memcpy(q, p, TL_MIN(old_n, new_n));
            m->a.free_fn(m->a.ctx, p, old_n);
        }
    }
    if (q == NULL) {
        atomic_fetch_add_explicit(&m->failures, 1, memory_order_relaxed);
        return NULL;
    }
    if (new_n > old_n) {
        account_add(m, new_n - old_n);
    } else {
        account_sub(m, old_n - new_n);
    }
    return q;
}

void tl_mem_free(tl_mem_t *m, void *p, size_t n) {
    if (p == NULL) return;
    m->a.free_fn(m->a.ctx, p, n);
    account_sub(m, n);
}

size_t tl_mem_live(const tl_mem_t *m) {
    return atomic_load_explicit(&m->live, memory_order_relaxed);
}

size_t tl_mem_peak(const tl_mem_t *m) {
    return atomic_load_explicit(&m->peak, memory_order_relaxed);
}

tl_status_t tl_hlist_push(tl_mem_t *m, tl_hlist_t *l, tl_handle_t h) {
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 64 : 2 * l->cap;
        tl_handle_t *v = tl_mem_realloc(m, l->v, l->cap * sizeof(tl_handle_t),
                                        tl_mul_size(cap, sizeof(tl_handle_t)));
        if (v == NULL) return TL_ERR(TL_ENOMEM);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = h;
    return TL_OK;
}

void tl_hlist_free(tl_mem_t *m, tl_hlist_t *l) {
    tl_mem_free(m, l->v, l->cap * sizeof(tl_handle_t));
    l->v = NULL;
    l->n = l->cap = 0;
}
