/*
 * tl_alloc.h: the accounted allocator. Every byte the engine holds goes
 * through one tl_mem_t per log instance, which counts live and peak bytes so
 * stats(), validate() and the leak tests can see them. Frees are sized: the
 * caller always knows how big the block it frees is.
 *
 * Threads: any thread may allocate or free (snapshots are released by
 * readers); the counters are atomics.
 */
#ifndef TL_ALLOC_H
#define TL_ALLOC_H

#include "tl_internal.h"

typedef struct tl_mem {
    tl_allocator_t a;
    atomic_size_t live; /* bytes currently allocated */
    atomic_size_t peak; /* high-water mark of live */
    /* Allocation calls (malloc + growing realloc): a statistic, bumped with a
     * plain load and store, so threads allocating at the same instant may
     * lose a count; it is exact for a single thread. A locked increment on
     * every allocation of the read path cost more than the rest of it. */
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t failures; /* calls that returned NULL */
} tl_mem_t;

/* Copies the hooks; zeroed hooks mean libc. */
void tl_mem_init(tl_mem_t *m, const tl_allocator_t *a);

/* NULL on failure (or for n == 0). */
void *tl_mem_alloc(tl_mem_t *m, size_t n);
void *tl_mem_calloc(tl_mem_t *m, size_t count, size_t size);
/* Grows or shrinks p from old_n to new_n bytes; on failure p is untouched. */
void *tl_mem_realloc(tl_mem_t *m, void *p, size_t old_n, size_t new_n);
void tl_mem_free(tl_mem_t *m, void *p, size_t n); /* accepts NULL */

size_t tl_mem_live(const tl_mem_t *m);
size_t tl_mem_peak(const tl_mem_t *m);

/* n * size, or SIZE_MAX when it overflows (which then fails to allocate). */
static inline size_t tl_mul_size(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) return SIZE_MAX;
    return n * size;
}

/* A growable list of handles (records dropped by a seal or compaction, on
 * their way to the retired queue). Zero-initialise; free with tl_hlist_free. */
typedef struct tl_hlist {
    tl_handle_t *v;
    size_t n, cap;
} tl_hlist_t;

TL_NODISCARD tl_status_t tl_hlist_push(tl_mem_t *m, tl_hlist_t *l, tl_handle_t h);
void tl_hlist_free(tl_mem_t *m, tl_hlist_t *l);

#endif /* TL_ALLOC_H */
