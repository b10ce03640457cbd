/*
 * test_memrun.c: sealed memtables (tl_memrun.h): ownership of the record
 * block, bounds, watermark, validation and OOM during creation.
 */
#include "comp_fixture.h"
#include "tl_memrun.h"

static tl_recs_t *make_recs(tc_t *t, const tl_ts_t *ts, size_t n) {
    tl_recs_t *r = NULL;
    TLT_OK(tl_recs_create(&t->m, n, &r));
    for (size_t i = 0; i < n; i++) {
        r->ts[i] = ts[i];
        r->h[i] = 1 + i;
    }
    r->n = n;
    return r;
}

static void assert_valid(const tl_memrun_t *mr) {
    const char *why = NULL;
    cr_assert(tl_memrun_validate(mr, &why), "tl_memrun_validate: %s", why ? why : "?");
}

Test(memrun, create_takes_over_the_callers_reference) {
    TC_MEM(t);
    tl_ts_t ts[] = {TL_TS_MIN, 0, 0, TL_TS_MAX};
    tl_recs_t *r = make_recs(&t, ts, 4);
    tl_memrun_t *mr = NULL;
    TLT_OK(tl_memrun_create(&t.m, r, 42, &mr));
    cr_assert_eq(mr->recs, r);
    cr_assert_eq(tl_ref_get(&r->refs), 1, "no extra reference: the memrun took the caller's");
    cr_assert_eq(mr->wm, 42);
    cr_assert_eq(mr->min, TL_TS_MIN);
    cr_assert_eq(mr->max, TL_TS_MAX);
    cr_assert_eq(tl_memrun_bytes(mr), tl_mem_live(&t.m));
    assert_valid(mr);
    tl_memrun_retain(mr);
    tl_memrun_release(&t.m, mr);
    cr_assert_eq(tl_memrun_bytes(mr), tl_mem_live(&t.m));
    tl_memrun_release(&t.m, mr); /* frees the block too */
    tl_memrun_release(&t.m, NULL);
    tc_end(&t);
}

Test(memrun, create_failure_leaves_the_block_with_the_caller) {
    TC_MEM(t);
    tl_ts_t ts[] = {1, 2};
    tl_recs_t *r = make_recs(&t, ts, 2);
    size_t live = tl_mem_live(&t.m);
    tl_memrun_t *mr = (tl_memrun_t *)(uintptr_t)1;
    tlt_alloc_arm(&t.a, 1, 0, 0);
    TLT_ST(tl_memrun_create(&t.m, r, 1, &mr), TL_ENOMEM);
    tlt_alloc_disarm(&t.a);
    cr_assert_null(mr);
    cr_assert_eq(tl_mem_live(&t.m), live);
    cr_assert_eq(tl_ref_get(&r->refs), 1);
    tl_recs_t *empty = NULL;
    TLT_OK(tl_recs_create(&t.m, 1, &empty));
    TLT_ST(tl_memrun_create(&t.m, empty, 1, &mr), TL_EINVAL);
    TLT_ST(tl_memrun_create(&t.m, NULL, 1, &mr), TL_EINVAL);
    cr_assert_null(mr);
    tl_recs_release(&t.m, empty);
    tl_recs_release(&t.m, r);
    tc_end(&t);
}

Test(memrun, validate_rejects_unsorted_records_and_wrong_bounds) {
    TC_MEM(t);
    tl_ts_t ts[] = {1, 2, 3};
    tl_memrun_t *mr = NULL;
    TLT_OK(tl_memrun_create(&t.m, make_recs(&t, ts, 3), 1, &mr));
    const char *why;
    mr->min = 0;
    why = NULL;
    cr_assert_not(tl_memrun_validate(mr, &why));
    cr_assert_not_null(why);
    mr->min = 1;
    mr->max = 4;
    cr_assert_not(tl_memrun_validate(mr, &why));
    mr->max = 3;
    mr->recs->ts[1] = 5;
    cr_assert_not(tl_memrun_validate(mr, &why));
    mr->recs->ts[1] = 2;
    size_t n = mr->recs->n;
    mr->recs->n = mr->recs->cap + 1;
    cr_assert_not(tl_memrun_validate(mr, &why), "n > cap passed");
    mr->recs->n = n;
    assert_valid(mr);
    tl_memrun_release(&t.m, mr);
    tc_end(&t);
}
