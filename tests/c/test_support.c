/*
 * test_support.c: tests of the test-support kit itself (tests/c/support/: the counting allocator, the reference model) and the drop tracker of test_util.h. The suite keeps its name (test_util) from when
 * these lived in test_log.c.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log_fixture.h"

/* ---------------------------------------------------------------- the test allocator itself */

/* The fixtures are only as good as their checks: make sure the counting
 * allocator really catches what it claims to. */

Test(test_util, allocator_counts_and_detects_a_size_mismatch) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    void *p = tlt_malloc(&a, 24);
    void *q = tlt_malloc(&a, 0);
    cr_assert(p != NULL && q != NULL);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 24);
    cr_assert_eq(tlt_alloc_live_blocks(&a), 2);
    tlt_free(&a, q, 0);
    tlt_free(&a, p, 16); /* wrong size */
    cr_assert_eq(tlt_alloc_errors(&a), 1);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 0);
    a.errors = 0;
    tlt_alloc_destroy(&a);
}

Test(test_util, allocator_detects_overrun_and_underrun) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    unsigned char *p = tlt_malloc(&a, 10);
    p[10] = 0; /* one past the end: lands on the trailing guard */
    tlt_free(&a, p, 10);
    cr_assert_eq(tlt_alloc_errors(&a), 1);
    p = tlt_malloc(&a, 10);
    p[-1] ^= 0x40; /* the front guard */
    tlt_free(&a, p, 10);
    cr_assert_eq(tlt_alloc_errors(&a), 2);
    a.errors = 0;
    tlt_alloc_destroy(&a);
}

Test(test_util, allocator_realloc_moves_keeps_content_and_checks_old_size) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    unsigned char *p = tlt_malloc(&a, 8);
    memcpy(p, "abcdefgh", 8);
    unsigned char *q = tlt_realloc(&a, p, 8, 100);
    cr_assert(q != NULL && q != p);
    cr_assert(memcmp(q, "abcdefgh", 8) == 0);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 100);
    q = tlt_realloc(&a, q, 100, 4);
    cr_assert(memcmp(q, "abcd", 4) == 0);
    cr_assert_eq(tlt_alloc_errors(&a), 0);
    q = tlt_realloc(&a, q, 5, 8); /* wrong old size */
    cr_assert_eq(tlt_alloc_errors(&a), 1);
    tlt_free(&a, q, 8);
    void *r = tlt_realloc(&a, NULL, 0, 32);
    cr_assert_not_null(r);
    tlt_free(&a, r, 32);
    a.errors = 0;
    tlt_alloc_destroy(&a);
}

Test(test_util, allocator_fails_exactly_the_armed_calls) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    void *keep = tlt_malloc(&a, 64);
    tlt_alloc_arm(&a, 3, 0, 0);
    void *p1 = tlt_malloc(&a, 8);             /* 1 */
    void *p2 = tlt_realloc(&a, keep, 64, 32); /* shrinking: not counted */
    void *p3 = tlt_realloc(&a, p2, 32, 128);  /* 2 */
    void *p4 = tlt_malloc(&a, 8);             /* 3: fails */
    void *p5 = tlt_malloc(&a, 8);             /* 4 */
    cr_assert(p1 && p2 && p3 && p5);
    cr_assert_null(p4);
    cr_assert_eq(tlt_alloc_injected(&a), 1);
    cr_assert_eq(tlt_alloc_armed_calls(&a), 4);
    /* A failed growing realloc leaves the old block alone. */
    tlt_alloc_arm(&a, 1, 0, 0);
    cr_assert_null(tlt_realloc(&a, p3, 128, 256));
    cr_assert_eq(tlt_alloc_live_bytes(&a), 8 + 128 + 8);
    /* fail_every / fail_after, and suspension. */
    tlt_alloc_arm(&a, 0, 2, 0);
    void *e1 = tlt_malloc(&a, 1), *e2 = tlt_malloc(&a, 1);
    cr_assert(e1 != NULL && e2 == NULL);
    tlt_alloc_arm(&a, 0, 0, 1);
    void *f1 = tlt_malloc(&a, 1), *f2 = tlt_malloc(&a, 1);
    tlt_alloc_suspend(&a);
    void *f3 = tlt_malloc(&a, 1);
    tlt_alloc_resume(&a);
    cr_assert(f1 != NULL && f2 == NULL && f3 != NULL);
    tlt_alloc_disarm(&a);
    tlt_free(&a, p1, 8);
    tlt_free(&a, p3, 128);
    tlt_free(&a, p5, 8);
    tlt_free(&a, e1, 1);
    tlt_free(&a, f1, 1);
    tlt_free(&a, f3, 1);
    tlt_alloc_destroy(&a);
}

Test(test_util, drop_tracker_counts_per_handle) {
    tlt_drops_t d;
    tlt_drops_init(&d, 16);
    tlt_on_drop(&d, 3);
    tlt_on_drop(&d, 5);
    cr_assert_eq(tlt_drops_of(&d, 3), 1);
    cr_assert_eq(tlt_drops_of(&d, 4), 0);
    cr_assert_eq(tlt_drops_total(&d), 2);
    tlt_drops_assert_range_once(&d, 3, 4);
    tlt_drops_check(&d);
    tlt_on_drop(&d, 3);
    cr_assert_eq(tlt_drops_of(&d, 3), 2);
    tlt_on_drop(&d, 99); /* out of range */
    cr_assert_eq(d.out_of_range, 1);
    tlt_drops_destroy(&d);
}

Test(test_util, model_applies_deletes_inclusively) {
    tlt_model_t m;
    tlt_model_init(&m);
    const tl_ts_t ts[] = {5, INT64_MAX, 1, 5, INT64_MIN};
    const tl_handle_t h[] = {10, 11, 12, 13, 14};
    tlt_model_add_batch(&m, ts, h, 5);
    tlt_model_add(&m, 5, 9);
    cr_assert_eq(m.n, 6);
    cr_assert(m.r[0].ts == INT64_MIN && m.r[5].ts == INT64_MAX);
    cr_assert(m.r[2].h == 9 && m.r[3].h == 10 && m.r[4].h == 13);
    cr_assert_eq(tlt_model_count(&m, 5, 6), 3);
    cr_assert_eq(tlt_model_count(&m, INT64_MIN, INT64_MAX), 5);
    tl_ts_t x;
    cr_assert(tlt_model_next(&m, 5, &x) && x == INT64_MAX);
    cr_assert(!tlt_model_next(&m, INT64_MAX, &x));
    cr_assert(tlt_model_prev(&m, 5, &x) && x == 1);
    cr_assert(!tlt_model_prev(&m, INT64_MIN, &x));
    cr_assert_eq(tlt_model_delete_incl(&m, INT64_MAX, INT64_MAX, NULL, NULL), 1);
    cr_assert_eq(tlt_model_delete_incl(&m, 2, 5, NULL, NULL), 3);
    cr_assert_eq(m.n, 2);
    tlt_model_free(&m);
}

/* ---------------------------------------------------------------- the gate and plain mode */

typedef struct gate_arg {
    tlt_alloc_t *a;
    atomic_int done;
} gate_arg_t;

static void *foreign_alloc(void *p) {
    gate_arg_t *g = p;
    void *q = tlt_malloc(g->a, 32);
    tlt_free(g->a, q, 32);
    atomic_store(&g->done, 1);
    return NULL;
}

Test(test_util, gate_holds_a_foreign_thread_until_opened_never_the_owner) {
    tlt_alloc_t a;
    tlt_alloc_init(&a);
    tlt_alloc_gate_arm(&a, 1);
    void *own = tlt_malloc(&a, 8); /* the owner never waits, nor counts */
    cr_assert_not_null(own);
    cr_assert_eq(tlt_alloc_gate_foreign(&a), 0);
    gate_arg_t g = {.a = &a};
    atomic_init(&g.done, 0);
    tl_thread_t t;
    cr_assert(tl_thread_start(&t, foreign_alloc, &g));
    cr_assert(tlt_alloc_gate_wait_blocked(&a, 20000),
              "the foreign allocation never reached the gate");
    tl_sleep_ms(20);
    cr_assert_eq(atomic_load(&g.done), 0, "the gate let a foreign allocation through while closed");
    tlt_alloc_gate_open(&a);
    tl_thread_join(t);
    cr_assert_eq(atomic_load(&g.done), 1);
    cr_assert_eq(tlt_alloc_gate_foreign(&a), 1);
    tlt_free(&a, own, 8);
    tlt_alloc_destroy(&a);
}

Test(test_util, plain_mode_passes_through_to_libc_without_counting) {
    tlt_alloc_t a;
    tlt_alloc_init_plain(&a);
    tlt_alloc_arm(&a, 1, 0, 0); /* injection is a counting-mode feature */
    char *p = tlt_malloc(&a, 16);
    cr_assert_not_null(p);
    memset(p, 7, 16);
    p = tlt_realloc(&a, p, 16, 4096);
    cr_assert_not_null(p);
    cr_assert_eq(p[15], 7);
    cr_assert_eq(tlt_alloc_live_bytes(&a), 0);
    cr_assert_eq(tlt_alloc_injected(&a), 0);
    tlt_free(&a, p, 4096);
    tlt_alloc_destroy(&a);
}
