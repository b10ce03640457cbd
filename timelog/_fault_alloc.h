/*
 * _fault_alloc.h: the fault-injecting allocator behind
 * Timelog(_fail_alloc=(k, every)), for the test-suite only
 * (tests/test_fault_injection.py walks k over every allocation of a
 * workload). The k-th allocation call counted from the last arming fails
 * (returns NULL), and, when every > 0, each every-th call after it too.
 *
 * One context per engine, owned by the Timelog that opened it (no global
 * state); the counters are atomics because the background worker allocates
 * too. Frees go to libc: a failed call allocated nothing. Included only by
 * the generated timelog/_core.c (declared in _fault.pxi), hence static
 * functions.
 */
#ifndef TIMELOG_FAULT_ALLOC_H
#define TIMELOG_FAULT_ALLOC_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct _tlpy_fault_t {
    struct _tlpy_fault_t *next;     /* older contexts of the same Timelog */
    atomic_uint_fast64_t calls;     /* malloc_fn + realloc_fn calls so far */
    atomic_uint_fast64_t fail_at;   /* the call number that fails; 0 = disarmed */
    atomic_uint_fast64_t every;     /* then every n-th call after it; 0 = once */
    atomic_uint_fast64_t injected;  /* calls made to fail */
} _tlpy_fault_t;

static int _tlpy_fault_hit(_tlpy_fault_t *f) {
    uint_fast64_t c = atomic_fetch_add_explicit(&f->calls, 1, memory_order_relaxed) + 1;
    uint_fast64_t at = atomic_load_explicit(&f->fail_at, memory_order_relaxed);
    if (at == 0 || c < at) return 0;
    uint_fast64_t every = atomic_load_explicit(&f->every, memory_order_relaxed);
    if (c != at && (every == 0 || (c - at) % every != 0)) return 0;
    atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed);
    return 1;
}

static void *_tlpy_fault_malloc(void *ctx, size_t n) {
    if (_tlpy_fault_hit((_tlpy_fault_t *)ctx)) return NULL;
    return malloc(n);
}

static void *_tlpy_fault_realloc(void *ctx, void *p, size_t old_n, size_t new_n) {
    (void)old_n;
    if (_tlpy_fault_hit((_tlpy_fault_t *)ctx)) return NULL;
    return realloc(p, new_n);
}

static void _tlpy_fault_free(void *ctx, void *p, size_t n) {
    (void)ctx;
    (void)n;
    free(p);
}

static _tlpy_fault_t *_tlpy_fault_new(_tlpy_fault_t *next) {
    _tlpy_fault_t *f = (_tlpy_fault_t *)calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    f->next = next;
    atomic_init(&f->calls, 0);
    atomic_init(&f->fail_at, 0);
    atomic_init(&f->every, 0);
    atomic_init(&f->injected, 0);
    return f;
}

/* Arms f: the k-th call from now fails (k == 0 disarms), then every n-th. */
static void _tlpy_fault_arm(_tlpy_fault_t *f, uint64_t k, uint64_t every) {
    atomic_store_explicit(&f->fail_at, 0, memory_order_relaxed);
    atomic_store_explicit(&f->every, every, memory_order_relaxed);
    if (k > 0) {
        uint_fast64_t now = atomic_load_explicit(&f->calls, memory_order_relaxed);
        atomic_store_explicit(&f->fail_at, now + k, memory_order_relaxed);
    }
}

static uint64_t _tlpy_fault_calls(_tlpy_fault_t *f) {
    return atomic_load_explicit(&f->calls, memory_order_relaxed);
}

static uint64_t _tlpy_fault_injected(_tlpy_fault_t *f) {
    return atomic_load_explicit(&f->injected, memory_order_relaxed);
}

static void _tlpy_fault_free_all(_tlpy_fault_t *f) {
    while (f != NULL) {
        _tlpy_fault_t *next = f->next;
        free(f);
        f = next;
    }
}

#endif /* TIMELOG_FAULT_ALLOC_H */
