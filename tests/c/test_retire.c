/*
 * test_retire.c: the epoch-tagged queue of dropped handles (tl_retire.h):
 * reserve then push, pop of the releasable prefix (epoch <= safe) in order,
 * drain_all at teardown, byte accounting and OOM on reserve.
 */
#include "comp_fixture.h"
#include "tl_retire.h"

/* Pushes handles [first, first + n) at epoch (reserving first). */
static void push_range(tc_t *t, tl_retire_t *r, tl_handle_t first, size_t n, uint64_t epoch) {
    tl_hlist_t l = {0};
    for (size_t i = 0; i < n; i++) TLT_OK(tl_hlist_push(&t->m, &l, first + i));
    TLT_OK(tl_retire_reserve(r, &t->m, n));
    tl_retire_push_list(r, &l, epoch);
    tl_hlist_free(&t->m, &l);
}

Test(retire, pop_releases_only_entries_at_or_below_the_safe_epoch_in_order) {
    TC_MEM(t);
    tl_retire_t r;
    TLT_OK(tl_retire_init(&r));
    push_range(&t, &r, 100, 3, 5); /* 100..102 @5 */
    push_range(&t, &r, 200, 2, 7); /* 200..201 @7 */
    push_range(&t, &r, 300, 4, 7); /* 300..303 @7 */
    push_range(&t, &r, 400, 1, 9); /* 400 @9 */
    cr_assert_eq(tl_retire_len(&r), 10);
    tl_handle_t out[16];
    cr_assert_eq(tl_retire_pop(&r, 4, out, 16), 0, "nothing is safe before epoch 5");
    cr_assert_eq(tl_retire_len(&r), 10);
    size_t n = tl_retire_pop(&r, 6, out, 16);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < 3; i++) cr_assert_eq(out[i], 100 + i);
    cr_assert_eq(tl_retire_len(&r), 7);
    n = tl_retire_pop(&r, 7, out, 4);
    cr_assert_eq(n, 4, "max limits a pop");
    tl_handle_t want[] = {200, 201, 300, 301};
    for (size_t i = 0; i < 4; i++) cr_assert_eq(out[i], want[i]);
    n = tl_retire_pop(&r, 8, out, 16);
    cr_assert_eq(n, 2);
    cr_assert(out[0] == 302 && out[1] == 303);
    cr_assert_eq(tl_retire_len(&r), 1);
    n = tl_retire_pop(&r, UINT64_MAX, out, 16);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0], 400);
    cr_assert_eq(tl_retire_len(&r), 0);
    cr_assert_eq(tl_retire_pop(&r, UINT64_MAX, out, 16), 0);
    cr_assert_eq(tl_retire_pop(&r, UINT64_MAX, out, 0), 0);
    tl_retire_destroy(&r, &t.m);
    tc_end(&t);
}

Test(retire, reserve_keeps_live_entries_when_it_compacts_and_grows) {
    TC_MEM(t);
    tl_retire_t r;
    TLT_OK(tl_retire_init(&r));
    push_range(&t, &r, 0, 200, 1);
    tl_handle_t out[256];
    cr_assert_eq(tl_retire_pop(&r, 1, out, 150), 150);
    /* 50 live entries at an offset; the next reserve slides them down and
     * grows the array. */
    push_range(&t, &r, 1000, 700, 2);
    cr_assert_eq(tl_retire_len(&r), 750);
    size_t got = 0;
    tl_handle_t prev = 0;
    for (;;) {
        size_t n = tl_retire_pop(&r, 2, out, 100);
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) {
            tl_handle_t want = got < 50 ? 150 + got : 1000 + (got - 50);
            cr_assert_eq(out[i], want, "entry %zu", got);
            cr_assert(got == 0 || out[i] > prev);
            prev = out[i];
            got++;
        }
    }
    cr_assert_eq(got, 750);
    tl_retire_destroy(&r, &t.m);
    tc_end(&t);
}

typedef struct collect {
    tl_handle_t v[64];
    size_t n;
} collect_t;

static void collect_fn(void *ctx, tl_handle_t h) {
    collect_t *c = ctx;
    cr_assert_lt(c->n, 64);
    c->v[c->n++] = h;
}

Test(retire, drain_all_hands_over_every_entry_whatever_its_epoch) {
    TC_MEM(t);
    tl_retire_t r;
    TLT_OK(tl_retire_init(&r));
    push_range(&t, &r, 10, 5, 1);
    push_range(&t, &r, 20, 5, 1000);
    tl_handle_t out[2];
    cr_assert_eq(tl_retire_pop(&r, 1, out, 2), 2);
    collect_t c = {.n = 0};
    tl_retire_drain_all(&r, collect_fn, &c);
    cr_assert_eq(c.n, 8);
    tl_handle_t want[] = {12, 13, 14, 20, 21, 22, 23, 24};
    for (size_t i = 0; i < 8; i++) cr_assert_eq(c.v[i], want[i]);
    cr_assert_eq(tl_retire_len(&r), 0);
    c.n = 0;
    tl_retire_drain_all(&r, collect_fn, &c);
    cr_assert_eq(c.n, 0);
    tl_retire_destroy(&r, &t.m);
    tc_end(&t);
}

Test(retire, bytes_follow_the_reserved_capacity) {
    TC_MEM(t);
    tl_retire_t r;
    TLT_OK(tl_retire_init(&r));
    cr_assert_eq(tl_retire_bytes(&r), 0);
    TLT_OK(tl_retire_reserve(&r, &t.m, 0));
    cr_assert_eq(tl_mem_live(&t.m), 0, "reserving nothing allocates nothing");
    TLT_OK(tl_retire_reserve(&r, &t.m, 10));
    cr_assert_gt(tl_retire_bytes(&r), 0);
    cr_assert_geq(tl_retire_bytes(&r), 10 * sizeof(tl_retire_entry_t));
    cr_assert_eq(tl_retire_bytes(&r), tl_mem_live(&t.m));
    size_t before = tl_retire_bytes(&r);
    TLT_OK(tl_retire_reserve(&r, &t.m, 10));
    cr_assert_eq(tl_retire_bytes(&r), before, "already reserved: no growth");
    TLT_OK(tl_retire_reserve(&r, &t.m, 5000));
    cr_assert_geq(tl_retire_bytes(&r), 5000 * sizeof(tl_retire_entry_t));
    cr_assert_eq(tl_retire_bytes(&r), tl_mem_live(&t.m));
    tc_assert_accounting(&t);
    tl_retire_destroy(&r, &t.m);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    tc_end(&t);
}

Test(retire, reserve_oom_returns_enomem_and_keeps_the_queue) {
    TC_MEM(t);
    tl_retire_t r;
    TLT_OK(tl_retire_init(&r));
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_retire_reserve(&r, &t.m, 3), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_eq(tl_retire_bytes(&r), 0);
    cr_assert_eq(tl_mem_live(&t.m), 0);
    push_range(&t, &r, 1, 256, 3); /* exactly the first capacity */
    size_t bytes = tl_retire_bytes(&r);
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_retire_reserve(&r, &t.m, 1), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_eq(tl_retire_bytes(&r), bytes);
    cr_assert_eq(tl_retire_len(&r), 256);
    tl_handle_t out[300];
    cr_assert_eq(tl_retire_pop(&r, 3, out, 300), 256);
    for (size_t i = 0; i < 256; i++) cr_assert_eq(out[i], 1 + i);
    tl_retire_destroy(&r, &t.m);
    tc_end(&t);
}

Test(retire, empty_list_push_is_a_no_op) {
    TC_MEM(t);
    tl_retire_t r;
    TLT_OK(tl_retire_init(&r));
    tl_hlist_t l = {0};
    tl_retire_push_list(&r, &l, 1);
    cr_assert_eq(tl_retire_len(&r), 0);
    tl_retire_destroy(&r, &t.m);
    tc_end(&t);
}
