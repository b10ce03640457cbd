/*
 * test_alloc.c: the accounted allocator (tl_alloc.h): live/peak/calls/
 * failure counters, realloc growth and shrink accounting, the fallback when
 * realloc_fn is NULL, libc fallback for zeroed hooks, and tl_hlist.
 */
#include "comp_fixture.h"

static uint64_t calls_of(const tl_mem_t *m) {
    return (uint64_t)atomic_load_explicit(&((tl_mem_t *)m)->calls, memory_order_relaxed);
}

static uint64_t failures_of(const tl_mem_t *m) {
    return (uint64_t)atomic_load_explicit(&((tl_mem_t *)m)->failures, memory_order_relaxed);
}

Test(alloc, live_and_peak_follow_allocs_and_frees) {
    TC_MEM(t);
    char *a = tl_mem_alloc(&t.m, 100);
    char *b = tl_mem_alloc(&t.m, 200);
    cr_assert(a != NULL && b != NULL);
    cr_assert_eq(tl_mem_live(&t.m), 300);
    cr_assert_eq(tl_mem_peak(&t.m), 300);
    tc_assert_accounting(&t);
    tl_mem_free(&t.m, a, 100);
    cr_assert_eq(tl_mem_live(&t.m), 200);
    cr_assert_eq(tl_mem_peak(&t.m), 300, "peak is a high-water mark");
    char *c = tl_mem_alloc(&t.m, 50);
    cr_assert_eq(tl_mem_live(&t.m), 250);
    cr_assert_eq(tl_mem_peak(&t.m), 300);
    tl_mem_free(&t.m, b, 200);
    tl_mem_free(&t.m, c, 50);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    cr_assert_eq(tl_mem_peak(&t.m), 300);
    tc_end(&t);
}

Test(alloc, calls_count_allocations_and_failures_count_nulls) {
    TC_MEM(t);
    cr_assert_eq(calls_of(&t.m), 0);
    void *p = tl_mem_alloc(&t.m, 16);
    cr_assert_eq(calls_of(&t.m), 1);
    cr_assert_eq(failures_of(&t.m), 0);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    void *q = tl_mem_alloc(&t.m, 16);
    cr_assert_null(q);
    cr_assert_eq(calls_of(&t.m), 2);
    cr_assert_eq(failures_of(&t.m), 1);
    cr_assert_eq(tl_mem_live(&t.m), 16, "a failed allocation is not counted live");
    tl_mem_free(&t.m, p, 16);
    cr_assert_eq(calls_of(&t.m), 2, "a free is not an allocation call");
    tc_end(&t);
}

Test(alloc, zero_and_size_max_requests_return_null_without_calling_the_hook) {
    TC_MEM(t);
    cr_assert_null(tl_mem_alloc(&t.m, 0));
    cr_assert_null(tl_mem_alloc(&t.m, SIZE_MAX));
    cr_assert_null(tl_mem_calloc(&t.m, SIZE_MAX / 2, 4), "count * size overflow");
    cr_assert_eq(t.a.calls, 0);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tc_end(&t);
}

Test(alloc, calloc_zeroes_and_accounts) {
    TC_MEM(t);
    unsigned char *p = tl_mem_calloc(&t.m, 10, 7);
    cr_assert_not_null(p);
    for (size_t i = 0; i < 70; i++) cr_assert_eq(p[i], 0, "byte %zu not zeroed", i);
    cr_assert_eq(tl_mem_live(&t.m), 70);
    tl_mem_free(&t.m, p, 70);
    tc_end(&t);
}

Test(alloc, free_accepts_null) {
    TC_MEM(t);
    tl_mem_free(&t.m, NULL, 123);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tc_end(&t);
}

Test(alloc, realloc_growth_keeps_contents_and_adds_the_difference) {
    TC_MEM(t);
    unsigned char *p = tl_mem_alloc(&t.m, 32);
    for (int i = 0; i < 32; i++) p[i] = (unsigned char)i;
    uint64_t calls = calls_of(&t.m);
    unsigned char *q = tl_mem_realloc(&t.m, p, 32, 4096);
    cr_assert_not_null(q);
    for (int i = 0; i < 32; i++) cr_assert_eq(q[i], (unsigned char)i);
    cr_assert_eq(tl_mem_live(&t.m), 4096);
    cr_assert_eq(tl_mem_peak(&t.m), 4096);
    cr_assert_eq(calls_of(&t.m), calls + 1, "a growing realloc is an allocation call");
    tc_assert_accounting(&t);
    tl_mem_free(&t.m, q, 4096);
    tc_end(&t);
}

Test(alloc, realloc_shrink_subtracts_the_difference_and_keeps_the_peak) {
    TC_MEM(t);
    unsigned char *p = tl_mem_alloc(&t.m, 1000);
    memset(p, 0x5A, 1000);
    unsigned char *q = tl_mem_realloc(&t.m, p, 1000, 10);
    cr_assert_not_null(q);
    for (int i = 0; i < 10; i++) cr_assert_eq(q[i], 0x5A);
    cr_assert_eq(tl_mem_live(&t.m), 10);
    cr_assert_eq(tl_mem_peak(&t.m), 1000);
    tc_assert_accounting(&t);
    tl_mem_free(&t.m, q, 10);
    tc_end(&t);
}

/* tl_alloc.h: calls counts "allocation calls (malloc + growing realloc)". */
Test(alloc, shrinking_realloc_is_not_counted_as_an_allocation_call) {
    TC_MEM(t);
    void *p = tl_mem_alloc(&t.m, 1000);
    uint64_t before = calls_of(&t.m);
    void *q = tl_mem_realloc(&t.m, p, 1000, 10);
    cr_assert_not_null(q);
    uint64_t after = calls_of(&t.m);
    tl_mem_free(&t.m, q, 10);
    tc_end(&t);
    cr_assert_eq(after, before,
                 "shrinking realloc changed calls from %llu to %llu; the header says calls "
                 "counts malloc + growing realloc",
                 (unsigned long long)before, (unsigned long long)after);
}

Test(alloc, realloc_of_null_allocates) {
    TC_MEM(t);
    void *p = tl_mem_realloc(&t.m, NULL, 0, 64);
    cr_assert_not_null(p);
    cr_assert_eq(tl_mem_live(&t.m), 64);
    tl_mem_free(&t.m, p, 64);
    tc_end(&t);
}

Test(alloc, failed_realloc_leaves_the_block_and_the_counters_untouched) {
    TC_MEM(t);
    unsigned char *p = tl_mem_alloc(&t.m, 64);
    for (int i = 0; i < 64; i++) p[i] = (unsigned char)(i * 3);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    void *q = tl_mem_realloc(&t.m, p, 64, 128);
    cr_assert_null(q);
    cr_assert_eq(failures_of(&t.m), 1);
    cr_assert_eq(tl_mem_live(&t.m), 64);
    cr_assert_eq(tl_mem_peak(&t.m), 64);
    for (int i = 0; i < 64; i++) cr_assert_eq(p[i], (unsigned char)(i * 3));
    cr_assert_null(tl_mem_realloc(&t.m, p, 64, 0), "realloc to 0 bytes is refused");
    cr_assert_eq(tl_mem_live(&t.m), 64);
    tc_assert_accounting(&t);
    tl_mem_free(&t.m, p, 64);
    tc_end(&t);
}

/* ------------------------------------------------ realloc_fn == NULL */

static tl_mem_t mem_without_realloc(tlt_alloc_t *a) {
    tl_allocator_t tab = tlt_alloc_table(a);
    tab.realloc_fn = NULL;
    tl_mem_t m;
    tl_mem_init(&m, &tab);
    return m;
}

Test(alloc, null_realloc_fn_falls_back_to_malloc_copy_free) {
    TC_MEM(t);
    tl_mem_t m = mem_without_realloc(&t.a);
    unsigned char *p = tl_mem_alloc(&m, 40);
    for (int i = 0; i < 40; i++) p[i] = (unsigned char)(100 + i);
    unsigned char *q = tl_mem_realloc(&m, p, 40, 400);
    cr_assert_not_null(q);
    for (int i = 0; i < 40; i++) cr_assert_eq(q[i], (unsigned char)(100 + i));
    cr_assert_eq(tl_mem_live(&m), 400);
    cr_assert_eq(tlt_alloc_live_bytes(&t.a), 400, "the old block was freed");
    unsigned char *r = tl_mem_realloc(&m, q, 400, 8);
    cr_assert_not_null(r);
    for (int i = 0; i < 8; i++) cr_assert_eq(r[i], (unsigned char)(100 + i));
    cr_assert_eq(tl_mem_live(&m), 8);
    cr_assert_eq(tl_mem_peak(&m), 400);
    cr_assert_eq(tlt_alloc_live_bytes(&t.a), 8);
    tl_mem_free(&m, r, 8);
    cr_assert_eq(tl_mem_live(&m), 0);
    tc_end(&t);
}

Test(alloc, null_realloc_fn_failure_keeps_the_old_block) {
    TC_MEM(t);
    tl_mem_t m = mem_without_realloc(&t.a);
    unsigned char *p = tl_mem_alloc(&m, 40);
    memset(p, 7, 40);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    cr_assert_null(tl_mem_realloc(&m, p, 40, 80));
    tlt_alloc_disarm(&t.a);
    for (int i = 0; i < 40; i++) cr_assert_eq(p[i], 7);
    cr_assert_eq(tl_mem_live(&m), 40);
    cr_assert_eq(tlt_alloc_live_bytes(&t.a), 40);
    tl_mem_free(&m, p, 40);
    tc_end(&t);
}

Test(alloc, zeroed_or_partial_hooks_mean_libc) {
    TC_MEM(t);
    tl_allocator_t partial = tlt_alloc_table(&t.a);
    partial.free_fn = NULL; /* unusable: must not be half-adopted */
    tl_allocator_t zero;
    memset(&zero, 0, sizeof zero);
    const tl_allocator_t *tabs[] = {NULL, &zero, &partial};
    for (size_t i = 0; i < 3; i++) {
        tl_mem_t m;
        tl_mem_init(&m, tabs[i]);
        cr_assert(m.a.malloc_fn != NULL && m.a.free_fn != NULL && m.a.realloc_fn != NULL);
        void *p = tl_mem_alloc(&m, 100);
        cr_assert_not_null(p);
        p = tl_mem_realloc(&m, p, 100, 1000);
        cr_assert_not_null(p);
        cr_assert_eq(tl_mem_live(&m), 1000);
        tl_mem_free(&m, p, 1000);
        cr_assert_eq(tl_mem_live(&m), 0);
    }
    cr_assert_eq(t.a.calls, 0, "the counting allocator must not be used");
    tc_end(&t);
}

/* ------------------------------------------------------------ hlist */

Test(alloc, hlist_push_grows_and_keeps_order) {
    TC_MEM(t);
    tl_hlist_t l = {0};
    for (tl_handle_t h = 0; h < 1000; h++) TLT_OK(tl_hlist_push(&t.m, &l, h * 7));
    cr_assert_eq(l.n, 1000);
    cr_assert_geq(l.cap, 1000);
    for (size_t i = 0; i < 1000; i++) cr_assert_eq(l.v[i], (tl_handle_t)i * 7);
    cr_assert_eq(tl_mem_live(&t.m), l.cap * sizeof(tl_handle_t));
    tc_assert_accounting(&t);
    tl_hlist_free(&t.m, &l);
    cr_assert(l.v == NULL && l.n == 0 && l.cap == 0);
    tl_hlist_free(&t.m, &l); /* idempotent */
    tc_end(&t);
}

Test(alloc, hlist_push_oom_keeps_the_list) {
    TC_MEM(t);
    tl_hlist_t l = {0};
    while (l.n < l.cap || l.n == 0) TLT_OK(tl_hlist_push(&t.m, &l, (tl_handle_t)l.n));
    size_t n = l.n, cap = l.cap;
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_hlist_push(&t.m, &l, 999), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_eq(l.n, n);
    cr_assert_eq(l.cap, cap);
    for (size_t i = 0; i < n; i++) cr_assert_eq(l.v[i], (tl_handle_t)i);
    TLT_OK(tl_hlist_push(&t.m, &l, 999));
    cr_assert_eq(l.v[n], 999);
    tl_hlist_free(&t.m, &l);
    tc_end(&t);
}

Test(alloc, mul_size_saturates_on_overflow) {
    TC_MEM(t);
    cr_assert_eq(tl_mul_size(3, 5), 15);
    cr_assert_eq(tl_mul_size(0, SIZE_MAX), 0);
    cr_assert_eq(tl_mul_size(SIZE_MAX, 0), 0);
    cr_assert_eq(tl_mul_size(SIZE_MAX / 2 + 1, 2), SIZE_MAX);
    cr_assert_eq(tl_mul_size(SIZE_MAX / 16, 16), SIZE_MAX / 16 * 16);
    tc_end(&t);
}
