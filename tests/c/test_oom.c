/*
 * test_oom.c: allocation-failure walk over a workload that reaches every
 * maintenance path deterministically (issue 7).
 *
 * test_log_maint.c's oom_sweep covers a short mixed workload. This one is broader:
 * maintenance is TL_MAINT_DISABLED and the units the background worker runs
 * (seal, flush, L0 compaction, delete-debt compaction, tombstone forgetting)
 * are driven through tl_maint_step / tl_flush / tl_compact, so every
 * allocation happens on the test's thread in the same order on every run.
 * The workload has small and large (direct-to-memrun) batches, sorted and
 * not, out-of-order appends past the OOO budget, seals that drop more than
 * 64 deleted records (the dropped-handle list grows twice), compactions that
 * drop whole segments, deletes that leave L1 with delete debt, int64
 * extremes, a snapshot and an iterator held across compactions, drains with
 * and without a limit, and reads (iterators, spans, counts, neighbours,
 * tl_point) over more sources than fit their stack buffers.
 *
 * A dry run counts the K failable allocations. Then for every k in 1..K+1
 * the workload is replayed with the k-th allocation failing, and each call
 * must return TL_OK (TL_EOF for an idle tl_maint_step) or TL_ENOMEM; never
 * anything else, and TL_ENOMEM only when an allocation really failed. A call
 * that returns TL_ENOMEM is checked to have changed nothing (tl_validate,
 * every visible record against the model, the held snapshot and iterator
 * unchanged, the allocator's live bytes equal to the engine's accounting)
 * and is then retried, so the rest of the workload runs as planned and
 * meets the state the failure left behind. From the failing call on, the
 * same checks run after every step. At the end every deleted handle has been
 * dropped once compact + drain ran with nothing pinned, and after close every
 * handle exactly once, with no byte left in the counting allocator.
 *
 * The walk is split into shards (k mod OOM_SHARDS) so Criterion's parallel
 * workers share it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define OOM_SHARDS 4
#define MAX_WOPS 160
#define BATCH_MAX 128

typedef enum wk {
    W_RUN,        /* n single appends: a, a + step, ...; every 7th (every 2nd with
                   * flags & 2) goes back by `back` */
    W_APPEND,     /* one append at a */
    W_BATCH,      /* n records, ts in [a, b), sorted if flags & 1 */
    W_INPLACE,    /* the same through tl_batch_open/commit (abandoned on failure) */
    W_DEL_RANGE,  /* [a, b) */
    W_DEL_SINCE,  /* [a, MAX] */
    W_DEL_BEFORE, /* [MIN, a) */
    W_DEL_TS,     /* a */
    W_DEL_ALL,
    W_FLUSH,
    W_COMPACT,
    W_MAINT,     /* tl_maint_step, n times */
    W_DRAIN,     /* tl_drain_retired(limit n) */
    W_SNAP_ACQ,  /* hold a snapshot */
    W_SNAP_READ, /* read the held snapshot (tl_iter_range allocates) */
    W_SNAP_REL,
    W_ITER_OPEN, /* hold an iterator over [a, b) of a fresh snapshot */
    W_ITER_READ, /* read the held iterator to its end and close it */
    W_SPANS,     /* tl_spans_all of a fresh snapshot, after the caller's flush */
    W_BATCHES,   /* n sorted batches of 80 (memruns): [a + 100 j, a + 100 j + 80) */
    W_POINT,     /* tl_point(a) on the log */
    W_COUNT,     /* tl_count_range(a, b) and tl_next_ts(a) on a fresh snapshot */
} wk_t;

typedef struct wop {
    wk_t k;
    tl_ts_t a, b;
    int n, step, back, flags;
} wop_t;

typedef struct ofx {
    tlt_env_t env;
    tl_log_t *log;
    tlt_model_t m;
    tl_handle_t next_h;
    uint8_t *dead; /* dead[h]: a delete removed it from the model */
    size_t dead_cap;
    tl_snapshot_t *snap; /* held snapshot and the model when acquired */
    tlt_model_t snap_m;
    tl_iter_t *it; /* held iterator and its expected records */
    tlt_rec_t *it_want;
    size_t it_n;
    bool failed_yet;    /* the injected failure has happened */
    uint64_t k;         /* the allocation that fails (0: none) */
    size_t op_i;        /* the step being run */
    bool dry;           /* the dry run: check after every step */
    uint64_t every;     /* > 0: each call's first try fails every n-th allocation */
    uint64_t enomem;    /* calls that returned TL_ENOMEM */
    uint64_t swallowed; /* calls that absorbed a failure and returned OK */
} ofx_t;

/* ---------------------------------------------------------------- the workload */

static size_t build_workload(wop_t *w, size_t cap) {
    size_t n = 0;
#define W(...)                                     \
    do {                                           \
        cr_assert_lt(n, cap, "workload too long"); \
        w[n++] = (wop_t){__VA_ARGS__};             \
    } while (0)
    /* Ingest: in order with late records every 7th (the OOO budget of 20
     * seals early), then small batches that stay in the memtable. */
    W(.k = W_RUN, .a = 0, .n = 70, .step = 2, .back = 9);
    W(.k = W_BATCH, .a = 0, .b = 140, .n = 10);
    W(.k = W_BATCH, .a = 0, .b = 140, .n = 12, .flags = 1);
    W(.k = W_SNAP_ACQ);
    W(.k = W_RUN, .a = 140, .n = 30, .step = 1);
    /* Large batches (>= half a memtable) become memruns directly. */
    W(.k = W_BATCH, .a = -50, .b = 250, .n = 100);
    W(.k = W_BATCH, .a = 100, .b = 200, .n = 90, .flags = 1);
    /* In place: small, large unsorted (copied), large sorted (the block
     * itself becomes the memrun). */
    W(.k = W_INPLACE, .a = 0, .b = 200, .n = 12);
    W(.k = W_INPLACE, .a = -20, .b = 220, .n = 100);
    W(.k = W_INPLACE, .a = 50, .b = 260, .n = 110, .flags = 1);
    /* A delete over memtable records: the seal drops them. */
    W(.k = W_DEL_RANGE, .a = 10, .b = 40);
    W(.k = W_FLUSH);
    W(.k = W_MAINT, .n = 3);
    W(.k = W_ITER_OPEN, .a = 0, .b = 200);
    /* 100 records, 95 deleted before the seal: the dropped list grows twice. */
    W(.k = W_RUN, .a = 300, .n = 100, .step = 1);
    W(.k = W_DEL_RANGE, .a = 300, .b = 395);
    W(.k = W_FLUSH);
    W(.k = W_SNAP_READ);
    /* Whole segments deleted, then compacted away while pinned. */
    W(.k = W_DEL_RANGE, .a = -100, .b = 150);
    W(.k = W_COMPACT);
    W(.k = W_DRAIN, .n = 0);
    W(.k = W_ITER_READ);
    W(.k = W_SNAP_READ);
    W(.k = W_SNAP_REL);
    W(.k = W_DRAIN, .n = 5);
    W(.k = W_DRAIN, .n = 0);
    /* The int64 ends. */
    W(.k = W_APPEND, .a = INT64_MIN);
    W(.k = W_APPEND, .a = INT64_MAX);
    W(.k = W_APPEND, .a = INT64_MAX - 1);
    W(.k = W_BATCH, .a = INT64_MAX - 5, .b = INT64_MAX, .n = 5);
    W(.k = W_DEL_TS, .a = INT64_MAX);
    W(.k = W_DEL_BEFORE, .a = INT64_MIN + 1);
    W(.k = W_COMPACT);
    /* Delete debt in L1: the policy compacts it (tl_maint_step). */
    W(.k = W_RUN, .a = 500, .n = 40, .step = 1);
    W(.k = W_COMPACT);
    W(.k = W_SNAP_ACQ);
    W(.k = W_DEL_RANGE, .a = 500, .b = 520);
    W(.k = W_MAINT, .n = 2);
    W(.k = W_SNAP_READ);
    W(.k = W_SNAP_REL);
    W(.k = W_DRAIN, .n = 0);
    /* L0 pile-up compacted by the policy, spans over the result. */
    W(.k = W_BATCH, .a = 600, .b = 700, .n = 90, .flags = 1);
    W(.k = W_FLUSH);
    W(.k = W_BATCH, .a = 650, .b = 750, .n = 90);
    W(.k = W_FLUSH);
    W(.k = W_BATCH, .a = 550, .b = 800, .n = 90);
    W(.k = W_MAINT, .n = 3);
    W(.k = W_DEL_SINCE, .a = 730);
    W(.k = W_FLUSH);
    W(.k = W_SPANS);
    /* Late records while a snapshot pins the memtable: the stage is copied
     * on write, late runs pile up and merge. */
    W(.k = W_SNAP_ACQ);
    W(.k = W_RUN, .a = 900, .n = 60, .step = 2, .back = 35, .flags = 2);
    W(.k = W_SNAP_READ);
    W(.k = W_SNAP_REL);
    W(.k = W_RUN, .a = 1000, .n = 80, .step = 1, .back = 70, .flags = 2);
    /* Many disjoint point and range deletes: the tombstone set grows one
     * copy at a time; some hit memtable records, some segments. */
    W(.k = W_DEL_TS, .a = 905);
    W(.k = W_DEL_TS, .a = 1001);
    W(.k = W_DEL_RANGE, .a = 1010, .b = 1013);
    W(.k = W_DEL_TS, .a = 610);
    W(.k = W_DEL_RANGE, .a = 620, .b = 625);
    W(.k = W_DEL_TS, .a = 1030);
    W(.k = W_DEL_RANGE, .a = 940, .b = 950);
    W(.k = W_DEL_TS, .a = 680);
    W(.k = W_ITER_OPEN, .a = 600, .b = 1100);
    W(.k = W_FLUSH);
    W(.k = W_MAINT, .n = 4);
    W(.k = W_COMPACT);
    W(.k = W_ITER_READ);
    W(.k = W_DRAIN, .n = 3);
    W(.k = W_DRAIN, .n = 0);
    /* Windows at both int64 ends in one compaction. */
    W(.k = W_BATCH, .a = INT64_MIN, .b = INT64_MIN + 500, .n = 40);
    W(.k = W_BATCH, .a = INT64_MAX - 500, .b = INT64_MAX, .n = 40, .flags = 1);
    W(.k = W_COMPACT);
    W(.k = W_DEL_BEFORE, .a = INT64_MIN + 250);
    W(.k = W_DEL_SINCE, .a = INT64_MAX - 250);
    W(.k = W_MAINT, .n = 2);
    W(.k = W_COMPACT);
    /* More flat sources (memruns) than a read keeps on its stack: counts,
     * neighbours and point reads allocate their source list. */
    W(.k = W_BATCHES, .a = 2000, .n = 34);
    W(.k = W_POINT, .a = 2105);
    W(.k = W_COUNT, .a = 2050, .b = 3050);
    W(.k = W_DEL_RANGE, .a = 2000, .b = 2500);
    W(.k = W_FLUSH);
    W(.k = W_POINT, .a = 2605);
    W(.k = W_COUNT, .a = 2450, .b = 5000);
    W(.k = W_COMPACT);
    /* Everything goes; tombstones are forgotten; a fresh start. */
    W(.k = W_DEL_ALL);
    W(.k = W_RUN, .a = 5, .n = 10, .step = 3, .back = 4);
    W(.k = W_MAINT, .n = 2);
    W(.k = W_COMPACT);
    W(.k = W_DRAIN, .n = 0);
#undef W
    return n;
}

/* ---------------------------------------------------------------- fixture */

static void mark_dead(void *ctx, tl_handle_t h) {
    ofx_t *f = ctx;
    cr_assert_lt(h, f->dead_cap);
    f->dead[h] = 1;
}

static void ofx_open(ofx_t *f) {
    memset(f, 0, sizeof *f);
    tlt_env_setup(&f->env, TLT_DEFAULT_DROP_CAP);
    tlt_model_init(&f->m);
    tlt_model_init(&f->snap_m);
    f->next_h = 1;
    f->dead_cap = TLT_DEFAULT_DROP_CAP;
    f->dead = calloc(f->dead_cap, 1);
    cr_assert_not_null(f->dead);
    tl_config_t cfg;
    tlt_config(&f->env, &cfg);
    cfg.maintenance = TL_MAINT_DISABLED;
    cfg.memtable_max_bytes = 160 * 24; /* 160 records; batches of 80+ go direct */
    cfg.target_page_bytes = 8 * 16;    /* 8 records a page */
    cfg.ooo_budget_bytes = 20 * 24;    /* 20 late records seal early */
    cfg.sealed_max_runs = 1000;        /* never TL_EBUSY: every call is OK or ENOMEM */
    cfg.max_delta_segments = 3;
    cfg.window_size = 50;
    cfg.window_origin = -7;
    cfg.delete_debt_threshold = 0.25;
    cfg.compaction_target_bytes = 40 * 16; /* L1 outputs of 40 records */
    cfg.compaction_max_inputs = 2;
    TLT_OK(tlt_open_cfg(&f->env, &cfg, &f->log));
}

/* Everything the engine shows must match the model, with the allocator
 * suspended (verification reads must neither fail nor shift the count). */
static void ofx_verify(ofx_t *f, const char *when) {
    tlt_alloc_suspend(&f->env.alloc);
    const char *why = NULL;
    tl_status_t st = tl_validate(f->log, &why);
    cr_assert_eq(st, TL_OK, "k %llu, step %zu, %s: tl_validate -> %s: %s", (unsigned long long)f->k,
                 f->op_i, when, tl_strerror(st), why ? why : "?");
    tlt_expect_model(f->log, &f->m);
    if (f->snap == NULL) {
        tl_stats_t s;
        TLT_OK(tl_stats(f->log, &s));
        cr_assert_eq(s.engine_bytes, tlt_alloc_live_bytes(&f->env.alloc),
                     "k %llu, step %zu, %s: engine accounts %llu bytes, allocator holds %llu",
                     (unsigned long long)f->k, f->op_i, when, (unsigned long long)s.engine_bytes,
                     (unsigned long long)tlt_alloc_live_bytes(&f->env.alloc));
    }
    if (f->snap != NULL) {
        tl_iter_t *it = NULL;
        TLT_OK(tl_iter_all(f->snap, &it));
        tlt_expect_iter(it, f->snap_m.r, f->snap_m.n, "held snapshot");
        tl_iter_close(it);
    }
    /* Nothing anyone can still see was dropped. */
    for (size_t i = 0; i < f->m.n; i++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, f->m.r[i].h), 0,
                     "%s: visible handle %llu (ts %lld) was dropped", when,
                     (unsigned long long)f->m.r[i].h, (long long)f->m.r[i].ts);
    for (size_t i = 0; i < f->snap_m.n; i++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, f->snap_m.r[i].h), 0,
                     "%s: handle %llu dropped while a held snapshot sees it", when,
                     (unsigned long long)f->snap_m.r[i].h);
    for (size_t i = 0; i < f->it_n; i++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, f->it_want[i].h), 0,
                     "%s: handle %llu dropped while a held iterator sees it", when,
                     (unsigned long long)f->it_want[i].h);
    tlt_alloc_check(&f->env.alloc);
    tlt_drops_check(&f->env.drops);
    tlt_alloc_resume(&f->env.alloc);
}

/* ---------------------------------------------------------------- one call */

/* What one engine call did, for the caller's bookkeeping. */
typedef struct call {
    const char *what;
    tl_status_t st;
    bool may_eof;
} call_t;

/* Checks a call's status against what the allocator saw. Returns true when
 * the call must be retried (it failed with TL_ENOMEM and changed nothing). */
static bool settle(ofx_t *f, const call_t *c, uint64_t inj0, size_t op_i, int attempt) {
    bool failed = tlt_alloc_injected(&f->env.alloc) > inj0;
    if (failed) f->failed_yet = true;
    if (c->st == TL_ENOMEM) {
        cr_assert(failed, "op %zu: %s -> TL_ENOMEM, but no allocation failed", op_i, c->what);
        cr_assert_eq(attempt, 0, "op %zu: %s -> TL_ENOMEM on the retry", op_i, c->what);
        f->enomem++;
        if (f->every != 0) tlt_alloc_disarm(&f->env.alloc); /* the retry runs clean */
        ofx_verify(f, c->what);
        return true;
    }
    cr_assert(c->st == TL_OK || (c->may_eof && c->st == TL_EOF), "op %zu: %s -> %s (%d)", op_i,
              c->what, tl_strerror(c->st), (int)c->st);
    if (failed) f->swallowed++;
    return false;
}

static void apply_delete(ofx_t *f, tl_ts_t lo, tl_ts_t hi) {
    if (lo <= hi) tlt_model_delete_incl(&f->m, lo, hi, mark_dead, f);
}

static int cmp_handle(const void *a, const void *b) {
    tl_handle_t x = *(const tl_handle_t *)a, y = *(const tl_handle_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs one call of a step (index j within it), retrying after TL_ENOMEM. */
static void run_call(ofx_t *f, const wop_t *op, size_t op_i, int j, const tl_ts_t *bts,
                     const tl_handle_t *bh) {
    for (int attempt = 0;; attempt++) {
        if (f->every != 0 && attempt == 0) tlt_alloc_arm(&f->env.alloc, 0, f->every, 0);
        uint64_t inj0 = tlt_alloc_injected(&f->env.alloc);
        call_t c = {"?", TL_OK, false};
        switch (op->k) {
        case W_RUN:
        case W_APPEND: {
            tl_ts_t ts = op->k == W_APPEND ? op->a : op->a + (tl_ts_t)j * op->step;
            if (op->back > 0 && ((op->flags & 2) ? j % 2 == 1 : j % 7 == 6)) ts -= op->back;
            c.what = "tl_append";
            c.st = tl_append(f->log, ts, f->next_h);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            tlt_model_add(&f->m, ts, f->next_h++);
            return;
        }
        case W_BATCH:
            c.what = "tl_append_batch";
            c.st = tl_append_batch(f->log, bts, bh, (size_t)op->n);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            tlt_model_add_batch(&f->m, bts, bh, (size_t)op->n);
            f->next_h += (tl_handle_t)op->n;
            return;
        case W_INPLACE: {
            tl_batch_t *b = NULL;
            tl_ts_t *bt = NULL;
            tl_handle_t *bhh = NULL;
            c.what = "tl_batch_open";
            c.st = tl_batch_open(f->log, (size_t)op->n, &b, &bt, &bhh);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            memcpy(bt, bts, (size_t)op->n * sizeof *bt);
            memcpy(bhh, bh, (size_t)op->n * sizeof *bhh);
            inj0 = tlt_alloc_injected(&f->env.alloc);
            c.what = "tl_batch_commit";
            c.st = tl_batch_commit(f->log, b, (size_t)op->n);
            if (c.st != TL_OK) {
                /* Nothing stored: every handle is still in the batch (it may
                 * have been sorted in place already). */
                tl_handle_t got[BATCH_MAX], want[BATCH_MAX];
                memcpy(got, bhh, (size_t)op->n * sizeof *got);
                memcpy(want, bh, (size_t)op->n * sizeof *want);
                qsort(got, (size_t)op->n, sizeof *got, cmp_handle);
                qsort(want, (size_t)op->n, sizeof *want, cmp_handle);
                cr_assert_arr_eq(got, want, (size_t)op->n * sizeof *got);
                tl_batch_abandon(f->log, b);
            }
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            tlt_model_add_batch(&f->m, bts, bh, (size_t)op->n);
            f->next_h += (tl_handle_t)op->n;
            return;
        }
        case W_DEL_RANGE:
            c.what = "tl_delete_range";
            c.st = tl_delete_range(f->log, op->a, op->b);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            if (op->a < op->b) apply_delete(f, op->a, op->b - 1);
            return;
        case W_DEL_SINCE:
            c.what = "tl_delete_since";
            c.st = tl_delete_since(f->log, op->a);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            apply_delete(f, op->a, INT64_MAX);
            return;
        case W_DEL_BEFORE:
            c.what = "tl_delete_before";
            c.st = tl_delete_before(f->log, op->a);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            if (op->a > INT64_MIN) apply_delete(f, INT64_MIN, op->a - 1);
            return;
        case W_DEL_TS:
            c.what = "tl_delete_ts";
            c.st = tl_delete_ts(f->log, op->a);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            apply_delete(f, op->a, op->a);
            return;
        case W_DEL_ALL:
            c.what = "tl_delete_all";
            c.st = tl_delete_all(f->log);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            apply_delete(f, INT64_MIN, INT64_MAX);
            return;
        case W_FLUSH:
            c.what = "tl_flush";
            c.st = tl_flush(f->log);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            return;
        case W_COMPACT:
            c.what = "tl_compact";
            c.st = tl_compact(f->log);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            return;
        case W_MAINT:
            c.what = "tl_maint_step";
            c.may_eof = true;
            c.st = tl_maint_step(f->log);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            return;
        case W_DRAIN: {
            size_t got = SIZE_MAX;
            c.what = "tl_drain_retired";
            c.st = tl_drain_retired(f->log, (size_t)op->n, &got);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            cr_assert(op->n == 0 || got <= (size_t)op->n, "drain(%d) released %zu", op->n, got);
            return;
        }
        case W_SNAP_ACQ: {
            tl_snapshot_t *s = (tl_snapshot_t *)(uintptr_t)1;
            c.what = "tl_snapshot_acquire";
            c.st = tl_snapshot_acquire(f->log, &s);
            if (c.st != TL_OK) cr_assert_null(s, "a failed acquire left *out set");
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            cr_assert_null(f->snap, "workload holds one snapshot at a time");
            f->snap = s;
            tlt_model_free(&f->snap_m);
            tlt_model_copy(&f->snap_m, &f->m);
            return;
        }
        case W_SNAP_READ: {
            tl_iter_t *it = (tl_iter_t *)(uintptr_t)1;
            c.what = "tl_iter_range (held snapshot)";
            c.st = tl_iter_range(f->snap, INT64_MIN, INT64_MAX, &it);
            if (c.st != TL_OK) cr_assert_null(it, "a failed iterator open left *out set");
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            size_t i0, i1;
            tlt_model_slice(&f->snap_m, INT64_MIN, INT64_MAX, &i0, &i1);
            tlt_alloc_suspend(&f->env.alloc);
            tlt_expect_iter(it, i1 > i0 ? f->snap_m.r + i0 : NULL, i1 - i0, "held snapshot read");
            tlt_alloc_resume(&f->env.alloc);
            tl_iter_close(it);
            return;
        }
        case W_SNAP_REL: {
            tl_snapshot_t *s = f->snap;
            f->snap = NULL;
            tlt_model_free(&f->snap_m);
            tl_snapshot_release(s); /* cannot fail */
            return;
        }
        case W_ITER_OPEN: {
            tl_snapshot_t *s = (tl_snapshot_t *)(uintptr_t)1;
            c.what = "tl_snapshot_acquire (for an iterator)";
            c.st = tl_snapshot_acquire(f->log, &s);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            tl_iter_t *it = (tl_iter_t *)(uintptr_t)1;
            for (int a2 = 0;; a2++) {
                inj0 = tlt_alloc_injected(&f->env.alloc);
                c.what = "tl_iter_range";
                c.st = tl_iter_range(s, op->a, op->b, &it);
                if (c.st != TL_OK) cr_assert_null(it, "a failed iterator open left *out set");
                if (!settle(f, &c, inj0, op_i, a2)) break;
            }
            tl_snapshot_release(s); /* the iterator holds its own pin */
            size_t i0, i1;
            tlt_model_slice(&f->m, op->a, op->b, &i0, &i1);
            f->it = it;
            f->it_n = i1 - i0;
            f->it_want = malloc((f->it_n + 1) * sizeof *f->it_want);
            cr_assert_not_null(f->it_want);
            if (f->it_n) memcpy(f->it_want, f->m.r + i0, f->it_n * sizeof *f->it_want);
            return;
        }
        case W_ITER_READ:
            tlt_alloc_suspend(&f->env.alloc);
            tlt_expect_iter(f->it, f->it_want, f->it_n, "held iterator");
            tlt_alloc_resume(&f->env.alloc);
            tl_iter_close(f->it);
            f->it = NULL;
            free(f->it_want);
            f->it_want = NULL;
            f->it_n = 0;
            return;
        case W_SPANS: {
            tl_snapshot_t *s = (tl_snapshot_t *)(uintptr_t)1;
            c.what = "tl_snapshot_acquire (for spans)";
            c.st = tl_snapshot_acquire(f->log, &s);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            tl_span_iter_t *si = (tl_span_iter_t *)(uintptr_t)1;
            for (int a2 = 0;; a2++) {
                inj0 = tlt_alloc_injected(&f->env.alloc);
                c.what = "tl_spans_all";
                c.st = tl_spans_all(s, &si);
                if (c.st != TL_OK) cr_assert_null(si, "a failed spans open left *out set");
                if (!settle(f, &c, inj0, op_i, a2)) break;
            }
            tl_snapshot_release(s);
            /* Flushed just before: the spans hold every visible record. */
            size_t total = 0;
            tl_span_t sp;
            tl_status_t st;
            while ((st = tl_spans_next(si, &sp)) == TL_OK) total += sp.n;
            TLT_ST(st, TL_EOF);
            tl_spans_close(si);
            cr_assert_eq(total, f->m.n, "spans hold %zu records, want %zu", total, f->m.n);
            return;
        }
        case W_BATCHES: {
            tl_ts_t ts[80];
            tl_handle_t hs[80];
            for (int i = 0; i < 80; i++) {
                ts[i] = op->a + 100 * (tl_ts_t)j + i;
                hs[i] = f->next_h + (tl_handle_t)i;
            }
            c.what = "tl_append_batch (a memrun)";
            c.st = tl_append_batch(f->log, ts, hs, 80);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            tlt_model_add_batch(&f->m, ts, hs, 80);
            f->next_h += 80;
            return;
        }
        case W_POINT: {
            tl_handle_t out[4];
            size_t total = SIZE_MAX;
            c.what = "tl_point";
            c.st = tl_point(f->log, op->a, out, 4, &total);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            size_t want = tlt_model_upper(&f->m, op->a) - tlt_model_lower(&f->m, op->a);
            cr_assert_eq(total, want, "tl_point(%lld) counts %zu, want %zu", (long long)op->a,
                         total, want);
            return;
        }
        case W_COUNT: {
            tl_snapshot_t *s = (tl_snapshot_t *)(uintptr_t)1;
            c.what = "tl_snapshot_acquire (for counts)";
            c.st = tl_snapshot_acquire(f->log, &s);
            if (settle(f, &c, inj0, op_i, attempt)) continue;
            uint64_t n = UINT64_MAX;
            for (int a2 = 0;; a2++) {
                inj0 = tlt_alloc_injected(&f->env.alloc);
                c.what = "tl_count_range";
                c.st = tl_count_range(s, op->a, op->b, &n);
                if (!settle(f, &c, inj0, op_i, a2)) break;
            }
            cr_assert_eq(n, tlt_model_count(&f->m, op->a, op->b), "count_range = %llu, want %llu",
                         (unsigned long long)n,
                         (unsigned long long)tlt_model_count(&f->m, op->a, op->b));
            tl_ts_t next = 0, want = 0;
            bool has = tlt_model_next(&f->m, op->a, &want);
            for (int a2 = 0;; a2++) {
                inj0 = tlt_alloc_injected(&f->env.alloc);
                c.what = "tl_next_ts";
                c.may_eof = !has;
                c.st = tl_next_ts(s, op->a, &next);
                if (!settle(f, &c, inj0, op_i, a2)) break;
            }
            cr_assert(has ? c.st == TL_OK && next == want : c.st == TL_EOF,
                      "next_ts(%lld) -> %s %lld", (long long)op->a, tl_strerror(c.st),
                      (long long)next);
            tl_snapshot_release(s);
            return;
        }
        }
        cr_assert_fail("unknown op %d", (int)op->k);
    }
}

/* ---------------------------------------------------------------- replay */

static void run_workload(ofx_t *f, const wop_t *w, size_t nw) {
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 7);
    tl_ts_t bts[BATCH_MAX];
    tl_handle_t bh[BATCH_MAX];
    for (size_t i = 0; i < nw; i++) {
        const wop_t *op = &w[i];
        f->op_i = i;
        int calls = op->k == W_RUN || op->k == W_MAINT || op->k == W_BATCHES ? op->n : 1;
        if (op->k == W_BATCH || op->k == W_INPLACE) {
            cr_assert_leq(op->n, BATCH_MAX);
            for (int j = 0; j < op->n; j++) {
                uint64_t width = (uint64_t)op->b - (uint64_t)op->a;
                bts[j] = (tl_ts_t)((uint64_t)op->a + tlt_rng_below(&rng, width));
                bh[j] = f->next_h + (tl_handle_t)j;
            }
            if (op->flags & 1) tlt_sort_pairs(bts, bh, (size_t)op->n);
        }
        for (int j = 0; j < calls; j++) run_call(f, op, i, j, bts, bh);
        cr_assert_lt(f->next_h, f->dead_cap);
        /* Before the failure the replay is the dry run, which was checked. */
        if (f->dry || f->failed_yet) ofx_verify(f, "after a step");
    }
}

/* Compact + drain with nothing pinned, then close: every deleted handle is
 * released before close, every handle exactly once after it, no byte left. */
static void ofx_finish(ofx_t *f) {
    cr_assert_null(f->snap);
    cr_assert_null(f->it);
    tlt_alloc_disarm(&f->env.alloc);
    TLT_OK(tl_compact(f->log));
    tlt_drain_all(f->log);
    for (tl_handle_t h = 1; h < f->next_h; h++)
        cr_assert_eq(tlt_drops_of(&f->env.drops, h), f->dead[h] ? 1u : 0u,
                     "before close: handle %llu (deleted: %d) dropped %u times",
                     (unsigned long long)h, f->dead[h], tlt_drops_of(&f->env.drops, h));
    ofx_verify(f, "before close");
    tlt_close(&f->env);
    f->log = NULL;
    tlt_drops_assert_range_once(&f->env.drops, 1, f->next_h);
    tlt_drops_assert_range_none(&f->env.drops, f->next_h, f->next_h + 1);
    tlt_env_teardown(&f->env); /* no live byte, no allocator misuse */
    tlt_model_free(&f->m);
    tlt_model_free(&f->snap_m);
    free(f->dead);
}

/* The dry run: K, the failable allocations of the workload. It makes no
 * verification reads, exactly like a replay before its failure: the engine
 * reuses released snapshot structs, so extra reads would change which later
 * calls allocate. A second, fully checked run proves the workload itself. */
static uint64_t count_allocation_points(const wop_t *w, size_t nw) {
    ofx_t f;
    ofx_open(&f);
    tlt_alloc_arm(&f.env.alloc, 0, 0, 0); /* counting restarts here */
    run_workload(&f, w, nw);
    uint64_t k = tlt_alloc_armed_calls(&f.env.alloc);
    cr_assert_eq(f.enomem, 0);
    ofx_finish(&f);
    ofx_open(&f);
    f.dry = true; /* verify after every step */
    run_workload(&f, w, nw);
    cr_assert_eq(f.enomem, 0);
    ofx_finish(&f);
    return k;
}

static void sweep_shard(unsigned shard) {
    static wop_t w[MAX_WOPS];
    size_t nw = build_workload(w, MAX_WOPS);
    uint64_t total = count_allocation_points(w, nw);
    cr_assert_gt(total, 150, "the workload makes only %llu allocations", (unsigned long long)total);
    uint64_t walked = 0, enomem = 0, swallowed = 0;
    for (uint64_t k = 1; k <= total + 1; k++) {
        if (k % OOM_SHARDS != shard) continue;
        ofx_t f;
        ofx_open(&f);
        f.k = k;
        tlt_alloc_arm(&f.env.alloc, k, 0, 0);
        run_workload(&f, w, nw);
        cr_assert_eq(tlt_alloc_injected(&f.env.alloc), k <= total ? 1u : 0u,
                     "k = %llu: the replay diverged from the dry run", (unsigned long long)k);
        enomem += f.enomem;
        swallowed += f.swallowed;
        walked++;
        ofx_finish(&f);
    }
    cr_log_info("OOM walk shard %u/%d: %llu of %llu allocation points (+1 clean run) walked; "
                "%llu calls returned TL_ENOMEM, %llu absorbed the failure and returned OK",
                shard, OOM_SHARDS, (unsigned long long)walked, (unsigned long long)total,
                (unsigned long long)enomem, (unsigned long long)swallowed);
}

Test(oom, walk_every_allocation_shard_0, .timeout = 300) { sweep_shard(0); }
Test(oom, walk_every_allocation_shard_1, .timeout = 300) { sweep_shard(1); }
Test(oom, walk_every_allocation_shard_2, .timeout = 300) { sweep_shard(2); }
Test(oom, walk_every_allocation_shard_3, .timeout = 300) { sweep_shard(3); }

/* Several failures inside one call (every n-th allocation): cleanup paths
 * that allocate meet failures too. Each call is first tried with every n-th
 * allocation failing, and retried clean after TL_ENOMEM; every call still
 * returns OK or ENOMEM, the log stays valid after each step and nothing
 * visible is lost. */
Test(oom, repeated_failures_keep_every_call_consistent, .timeout = 300) {
    static wop_t w[MAX_WOPS];
    size_t nw = build_workload(w, MAX_WOPS);
    const uint64_t every[] = {2, 3, 5, 8};
    for (size_t e = 0; e < sizeof every / sizeof every[0]; e++) {
        ofx_t f;
        ofx_open(&f);
        f.dry = true; /* verify after every step */
        f.every = every[e];
        run_workload(&f, w, nw);
        cr_assert_gt(f.enomem, 0, "every %llu: no call failed", (unsigned long long)every[e]);
        ofx_finish(&f);
    }
}
