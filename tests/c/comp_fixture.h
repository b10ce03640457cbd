/*
 * comp_fixture.h: the fixture shared by the component suites
 * (tests/c/test_<component>.c), which drive engine internals directly
 * instead of going through a tl_log_t.
 *
 * A component test owns one tl_mem_t wired to the counting allocator of
 * test_util.h (guards, poison, failure injection). TC_MEM declares both on
 * the test's stack; tc_end(&t) must close every test: it fails on any byte
 * still live, by the engine's own count (tl_mem_live) and by the allocator's
 * (which also reports size mismatches, double frees and overruns).
 *
 * Everything here is static inline so the header adds no symbols: each
 * suite stays a single self-contained .c file.
 */
#ifndef TLT_COMP_FIXTURE_H
#define TLT_COMP_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tl_alloc.h"
#include "tl_window.h"

typedef struct tc {
    tlt_alloc_t a;
    tl_mem_t m;
} tc_t;

static inline void tc_begin(tc_t *t) {
    tlt_alloc_init(&t->a);
    tl_allocator_t tab = tlt_alloc_table(&t->a);
    tl_mem_init(&t->m, &tab);
}

/* Ends a test: nothing live, no allocator error, engine and allocator agree. */
static inline void tc_end(tc_t *t) {
    tlt_alloc_disarm(&t->a);
    cr_assert_eq(tl_mem_live(&t->m), 0, "engine accounting: %zu bytes still live",
                 tl_mem_live(&t->m));
    tlt_alloc_destroy(&t->a);
}

#define TC_MEM(t) \
    tc_t t;       \
    tc_begin(&(t))

/* Live bytes by the engine's count must equal the allocator's at any time
 * when only this tl_mem_t allocates through it. */
static inline void tc_assert_accounting(tc_t *t) {
    cr_assert_eq((uint64_t)tl_mem_live(&t->m), tlt_alloc_live_bytes(&t->a),
                 "engine counts %zu live bytes, allocator %llu", tl_mem_live(&t->m),
                 (unsigned long long)tlt_alloc_live_bytes(&t->a));
}

/* Test-side memory (libc), failing the test when exhausted. */
static inline void *tc_xmalloc(size_t n) {
    void *p = malloc(n == 0 ? 1 : n);
    cr_assert_not_null(p, "test-side malloc(%zu) failed", n);
    return p;
}

static inline void *tc_xcalloc(size_t n, size_t size) {
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    cr_assert_not_null(p, "test-side calloc(%zu, %zu) failed", n, size);
    return p;
}

/* Brute-force references for the binary searches. */
static inline size_t tc_lower_scan(const tl_ts_t *a, size_t n, tl_ts_t x) {
    size_t i = 0;
    while (i < n && a[i] < x) i++;
    return i;
}

static inline size_t tc_upper_scan(const tl_ts_t *a, size_t n, tl_ts_t x) {
    size_t i = 0;
    while (i < n && a[i] <= x) i++;
    return i;
}

static inline int tc_cmp_ts(const void *x, const void *y) {
    tl_ts_t a = *(const tl_ts_t *)x, b = *(const tl_ts_t *)y;
    return (a > b) - (a < b);
}

/* Sorted random timestamps in [lo, hi] (test-side memory). */
static inline tl_ts_t *tc_sorted_random(tlt_rng_t *rng, size_t n, tl_ts_t lo, tl_ts_t hi) {
    tl_ts_t *a = tc_xmalloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = tlt_rng_range(rng, lo, hi);
    qsort(a, n, sizeof *a, tc_cmp_ts);
    return a;
}

__extension__ typedef __int128 i128;

/* The window of ts by exact arithmetic: floor((ts - origin) / size) in 128
 * bits, clamped to the int64 range. The reference tl_window.c is checked
 * against (test_window.c) and compaction outcomes are built from
 * (compact_scenario.h). */
static inline tl_window_t oracle_window(tl_ts_t ts, tl_ts_t size, tl_ts_t origin) {
    i128 d = (i128)ts - (i128)origin;
    i128 k = d / size;
    if (d % size < 0) k--; /* floor */
    i128 lo = (i128)origin + k * (i128)size;
    i128 hi = lo + (i128)size - 1;
    if (lo < (i128)TL_TS_MIN) lo = TL_TS_MIN;
    if (hi > (i128)TL_TS_MAX) hi = TL_TS_MAX;
    tl_window_t w = {(tl_ts_t)lo, (tl_ts_t)hi};
    return w;
}

#endif /* TLT_COMP_FIXTURE_H */
