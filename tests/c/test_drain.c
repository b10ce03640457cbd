/*
 * test_drain.c: tl_drain_retired re-reads its release bound for every batch.
 * on_drop runs payload code (a Python __del__) that may take a snapshot,
 * delete and compact; what that snapshot sees must not be released by the
 * drain that ran it, whose first bound predates the snapshot.
 */
#include "test_util.h"

typedef struct sneak {
    tl_log_t *log;
    tl_snapshot_t *snap;
    int fired;
    tl_status_t worst;
} sneak_t;

static void note(sneak_t *s, tl_status_t st) {
    if (st != TL_OK && st != TL_EBUSY && s->worst == TL_OK) s->worst = st;
}

/* The "finalizer" of handle 1: pins, deletes ts 100 (handle 2), compacts and
 * drains re-entrantly, keeping the pin. */
static void sneak_hook(void *ctx, tl_handle_t h) {
    sneak_t *s = ctx;
    if (h != 1 || s->fired) return;
    s->fired = 1;
    note(s, tl_snapshot_acquire(s->log, &s->snap));
    note(s, tl_delete_ts(s->log, 100));
    note(s, tl_compact(s->log));
    note(s, tl_drain_retired(s->log, 0, NULL));
}

Test(drain, a_snapshot_taken_by_on_drop_keeps_what_it_sees) {
    TLT_ENV(env);
    tl_log_t *log = NULL;
    TLT_OK(tlt_open(&env, NULL, &log));
    TLT_W(tl_append(log, 1, 1));
    TLT_W(tl_append(log, 100, 2));
    TLT_OK(tl_flush(log));
    TLT_W(tl_delete_ts(log, 1));
    TLT_OK(tl_compact(log));
    sneak_t s = {log, NULL, 0, TL_OK};
    env.drops.hook = sneak_hook;
    env.drops.hook_ctx = &s;
    TLT_OK(tl_drain_retired(log, 0, NULL));
    env.drops.hook = NULL;
    cr_assert_eq(s.worst, TL_OK, "in on_drop: %s", tl_strerror(s.worst));
    cr_assert_eq(s.fired, 1);
    cr_assert_eq(tlt_drops_of(&env.drops, 1), 1);
    cr_assert_eq(tlt_drops_of(&env.drops, 2), 0,
                 "handle 2 released while a snapshot taken by on_drop still sees it");
    /* The snapshot still reads it. */
    tl_iter_t *it = NULL;
    TLT_OK(tl_iter_all(s.snap, &it));
    tl_ts_t ts;
    tl_handle_t h;
    TLT_OK(tl_iter_next(it, &ts, &h));
    cr_assert_eq(ts, 100);
    cr_assert_eq(h, 2);
    tl_iter_close(it);
    tl_snapshot_release(s.snap);
    TLT_OK(tl_drain_retired(log, 0, NULL));
    cr_assert_eq(tlt_drops_of(&env.drops, 2), 1);
    tlt_close(&env);
    tlt_env_teardown(&env);
}
