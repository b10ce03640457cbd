/*
 * fuzz_ops.c: libFuzzer harness for the C engine (issue 7).
 *
 * The input bytes are a program: the first 11 to 27 bytes choose the
 * tl_config_t knobs (tiny memtables and pages, window size and origin up to
 * the int64 extremes, maintenance disabled or background, delete debt,
 * compaction limits), the rest is a sequence of operations, each an opcode
 * byte followed by its arguments. Bytes past the end read as 0, so every
 * input is a valid program and a truncated one is a shorter program.
 *
 * Every operation is checked against the shared reference model
 * (tests/c/support/tl_test_model.h, compared through tests/c/test_util.h)
 * (the visible records, sorted by (ts, h); a delete removes what it covers):
 *  - statuses: writes return OK or EBUSY (stored either way), deletes and
 *    flush/compact OK, maint_step OK or EOF; TL_ENOMEM only while a failure
 *    is injected (OP_INJECT fails the k-th, or every n-th, allocation of the
 *    next operation), and then the operation must have changed nothing
 *    visible; the config can also make tl_open fail at each allocation first;
 *  - reads (range/since/until/all/point iterators, next_batch, remaining,
 *    counts, count_buckets, min/max/next/prev, tl_point, spans) on fresh
 *    snapshots and on snapshots and iterators held across later writes,
 *    flushes and compactions, compared with a copy of the model taken when
 *    they opened;
 *  - tl_validate after every mutation; stats (records, physical = the sum of
 *    the layers, min/max) and the allocator's live bytes against the
 *    engine's own accounting whenever no worker runs;
 *  - on_drop: only in this thread, never a handle the model or a held
 *    snapshot can still see (except at teardown), never twice, never a
 *    handle whose write failed; after compact + drain with nothing pinned,
 *    every deleted handle has been dropped;
 *  - at the end (optionally closing while snapshots are still pinned, then
 *    reading them): after teardown every stored handle was dropped exactly
 *    once and the counting allocator has no live byte and saw no misuse.
 * Any mismatch prints what differed and abort()s, which libFuzzer reports as
 * a crash (test_util.c's cr_asserts abort through criterion_shim.h).
 *
 * Build (make fuzz / fuzz-ci do this):
 *   clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1 \
 *         -Icsrc -Itests/c -Itests/c/support <every csrc .c file> tests/c/test_util.c \
 *         tests/c/support/tl_test_alloc.c tests/c/support/tl_test_model.c \
 *         tests/fuzz/fuzz_ops.c -lm
 * tests/fuzz/make_corpus.py writes seed inputs in this encoding; keep the
 * opcodes below and the script in step.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "criterion_shim.h"

/* ---------------------------------------------------------------- limits */

#define MAX_OPS 1000      /* operations per input */
#define MAX_RECORDS 20000 /* appended records per input; beyond, batches shrink */
#define N_SNAPS 4         /* snapshots held across operations */
#define N_ITERS 3         /* iterators held across operations */
#define MAX_BATCH 64

/* Opcodes: the operation is opcode % OP_COUNT_KINDS. Appending a new one
 * changes what every existing corpus input means; prefer new behaviour
 * behind an unused argument bit. */
enum {
    OP_APPEND = 0, /* ts */
    OP_APPEND_RUN, /* n, ts: n in-order appends from ts */
    OP_BATCH,      /* n, flags, ts... or seed */
    OP_DEL_RANGE,  /* t1, t2 */
    OP_DEL_SINCE,  /* t1 */
    OP_DEL_BEFORE, /* t2 */
    OP_DEL_TS,     /* ts */
    OP_DEL_ALL,
    OP_FLUSH,
    OP_COMPACT,
    OP_MAINT_STEP,
    OP_DRAIN,        /* limit */
    OP_SNAP_ACQUIRE, /* slot */
    OP_SNAP_RELEASE, /* slot */
    OP_READ,         /* how, t1, t2 */
    OP_COUNT,        /* how, t1, t2, edges... */
    OP_NEIGHBOURS,   /* how, ts */
    OP_SPANS,        /* how, t1, t2 */
    OP_ITER_OPEN,    /* slot, how, t1, t2 */
    OP_ITER_STEP,    /* slot, k */
    OP_CHECK,        /* full model comparison + stats */
    OP_INJECT,       /* k: fail the k-th allocation of the next operation */
    OP_WORKER,       /* start/stop the maintenance worker (if the config allows) */
    OP_COUNT_KINDS
};

/* ---------------------------------------------------------------- failure */

#define FZ_CHECK(f, cond, ...)                                                                 \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_ops: check failed at op %zu (%s:%d): %s\n  ", (f)->op_index, \
                    __FILE__, __LINE__, #cond);                                                \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* FUZZ_OPS_TRACE=1 in the environment prints every operation (to replay a
 * crash: FUZZ_OPS_TRACE=1 fuzz_ops crash-file). */
#define TRACE(f, ...)                                 \
    do {                                              \
        if ((f)->trace) {                             \
            fprintf(stderr, "[%zu] ", (f)->op_index); \
            fprintf(stderr, __VA_ARGS__);             \
            fputc('\n', stderr);                      \
        }                                             \
    } while (0)

/* ---------------------------------------------------------------- input */

typedef struct rd {
    const uint8_t *p;
    size_t n, i;
} rd_t;

static bool rd_more(const rd_t *r) { return r->i < r->n; }

static uint8_t u8(rd_t *r) { return r->i < r->n ? r->p[r->i++] : 0; }

static uint16_t u16(rd_t *r) {
    uint16_t v = u8(r);
    return (uint16_t)(v << 8 | u8(r));
}

static uint64_t u64(rd_t *r) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | u8(r);
    return v;
}

/* ---------------------------------------------------------------- state */

enum { H_NONE = 0, H_LIVE, H_DEAD };

typedef struct hinfo {
    tl_ts_t ts;
    uint8_t state; /* H_NONE: never stored (its write failed) */
    uint8_t drops;
} hinfo_t;

typedef struct fsnap {
    tl_snapshot_t *s; /* NULL: free slot */
    tlt_model_t m;    /* the model when acquired */
    bool mt_empty;    /* the memtable was empty then (spans see everything) */
} fsnap_t;

typedef struct fiter {
    tl_iter_t *it;   /* NULL: free slot */
    tlt_rec_t *want; /* the model slice when opened (libc memory) */
    size_t want_n;
    tl_ts_t *got_ts;
    tl_handle_t *got_h;
    size_t got_n;
} fiter_t;

typedef struct fz {
    tlt_alloc_t alloc;
    tl_config_t cfg;
    tl_log_t *log;
    tlt_model_t m;
    hinfo_t *hi; /* per handle; handle 0 is never used */
    size_t hcap;
    tl_handle_t next_h;
    size_t appended;
    tl_ts_t last_ts;
    fsnap_t snaps[N_SNAPS];
    fiter_t iters[N_ITERS];
    pthread_t owner;
    size_t op_index;
    bool armed;           /* a failure is injected for the current operation */
    uint8_t inject_k;     /* pending OP_INJECT (0 = none) */
    bool allow_worker;    /* OP_WORKER may start/stop the worker */
    bool close_pinned;    /* close while snapshots are still held */
    bool open_sweep;      /* fail each allocation of tl_open in turn first */
    uint8_t inject_every; /* pending OP_INJECT in fail-every mode (0 = none) */
    bool mt_empty;        /* no write since the last successful flush/compact */
    bool closing;         /* teardown may drop visible handles */
    bool trace;
    tl_seq_t last_seq;
} fz_t;

/* ---------------------------------------------------------------- model helpers */

/* Is (ts, h) in recs[0..n) (sorted by (ts, h))? */
static bool recs_has(const tlt_rec_t *recs, size_t n, tl_ts_t ts, tl_handle_t h) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (recs[mid].ts < ts || (recs[mid].ts == ts && recs[mid].h < h))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && recs[lo].ts == ts && recs[lo].h == h;
}

static void fz_on_drop(void *ctx, tl_handle_t h) {
    fz_t *f = ctx;
    FZ_CHECK(f, pthread_equal(pthread_self(), f->owner),
             "on_drop(%llu) ran on a thread that never called the engine", (unsigned long long)h);
    FZ_CHECK(f, h >= 1 && h < f->next_h, "on_drop of handle %llu, never appended",
             (unsigned long long)h);
    hinfo_t *x = &f->hi[h];
    FZ_CHECK(f, x->state != H_NONE, "on_drop of handle %llu whose write failed (ENOMEM)",
             (unsigned long long)h);
    FZ_CHECK(f, x->drops == 0, "handle %llu dropped twice", (unsigned long long)h);
    x->drops++;
    FZ_CHECK(f, f->closing || x->state == H_DEAD,
             "handle %llu (ts %lld) dropped while still visible", (unsigned long long)h,
             (long long)x->ts);
    for (int i = 0; i < N_SNAPS; i++)
        FZ_CHECK(f, f->snaps[i].s == NULL || !recs_has(f->snaps[i].m.r, f->snaps[i].m.n, x->ts, h),
                 "handle %llu (ts %lld) dropped while held snapshot %d still sees it",
                 (unsigned long long)h, (long long)x->ts, i);
    for (int i = 0; i < N_ITERS; i++)
        FZ_CHECK(f,
                 f->iters[i].it == NULL ||
                     !recs_has(f->iters[i].want, f->iters[i].want_n, x->ts, h),
                 "handle %llu (ts %lld) dropped while held iterator %d still sees it",
                 (unsigned long long)h, (long long)x->ts, i);
}

static void mark_dead(void *ctx, tl_handle_t h) { ((fz_t *)ctx)->hi[h].state = H_DEAD; }

/* Reserves handles [next_h, next_h + n). */
static tl_handle_t reserve_handles(fz_t *f, size_t n) {
    if (f->next_h + n >= f->hcap) {
        size_t cap = f->hcap ? f->hcap : 1024;
        while (f->next_h + n >= cap) cap *= 2;
        hinfo_t *hi = realloc(f->hi, cap * sizeof *hi);
        FZ_CHECK(f, hi != NULL, "out of test memory");
        memset(hi + f->hcap, 0, (cap - f->hcap) * sizeof *hi);
        f->hi = hi;
        f->hcap = cap;
    }
    tl_handle_t h = f->next_h;
    f->next_h += n;
    return h;
}

/* ---------------------------------------------------------------- statuses */

#define S_OK (1u << TL_OK)
#define S_EOF (1u << TL_EOF)
#define S_BUSY (1u << TL_EBUSY)
#define S_NOMEM (1u << TL_ENOMEM)
#define S_INVAL (1u << TL_EINVAL)

/* Fails unless st is allowed; TL_ENOMEM is allowed only under injection. */
static void expect_status(fz_t *f, tl_status_t st, unsigned allowed, const char *what) {
    if (f->armed) allowed |= S_NOMEM;
    FZ_CHECK(f, (unsigned)st < 32 && ((1u << st) & allowed) != 0, "%s -> %s (%d)%s", what,
             tl_strerror(st), (int)st, f->armed ? " (a failure was injected)" : "");
}

/* For reads: false when an injected failure made the call fail (skip it). */
static bool read_ok(fz_t *f, tl_status_t st, const char *what) {
    expect_status(f, st, S_OK, what);
    return st == TL_OK;
}

/* ---------------------------------------------------------------- timestamps */

/* A timestamp from one or more input bytes: a small domain (heavy
 * duplicates), near the last one written, an existing record's neighbour,
 * an extreme (int64 ends, window edges), or any int64. */
static tl_ts_t gen_ts(fz_t *f, rd_t *r) {
    uint8_t b = u8(r);
    if (b < 64) return (tl_ts_t)(b % 32) - 4;
    if (b < 112) return tlt_sat_add(f->last_ts, (tl_ts_t)(b - 64) - 24);
    if (b < 160) {
        uint8_t idx = u8(r);
        if (f->m.n == 0) return (tl_ts_t)(b - 112);
        tl_ts_t ts = f->m.r[idx % f->m.n].ts;
        return tlt_sat_add(ts, (tl_ts_t)((b - 112) % 3) - 1);
    }
    if (b < 224) {
        tl_ts_t o = f->cfg.window_origin, w = f->cfg.window_size ? f->cfg.window_size : 1;
        const tl_ts_t ext[] = {
            INT64_MIN,
            INT64_MIN + 1,
            INT64_MIN + 2,
            -2,
            -1,
            0,
            1,
            2,
            INT64_MAX - 2,
            INT64_MAX - 1,
            INT64_MAX,
            o,
            tlt_sat_add(o, -1),
            tlt_sat_add(o, w),
            tlt_sat_add(tlt_sat_add(o, w), -1),
            tlt_sat_add(o, -w),
        };
        return ext[(b - 160) % (sizeof ext / sizeof ext[0])];
    }
    return (tl_ts_t)u64(r);
}

/* ---------------------------------------------------------------- config */

static tl_ts_t pick_window(rd_t *r) {
    uint8_t b = u8(r);
    switch (b % 14) {
    case 0: return 0; /* engine default */
    case 1: return 1;
    case 2: return 2;
    case 3: return 3;
    case 4: return 7;
    case 5: return 16;
    case 6: return 100;
    case 7: return 1000;
    case 8: return (tl_ts_t)1 << 32;
    case 9: return INT64_MAX / 3;
    case 10: return INT64_MAX - 1;
    case 11: return INT64_MAX;
    case 12: return ((tl_ts_t)1 << 62) + 1;
    default: {
        tl_ts_t w = (tl_ts_t)(u64(r) & (uint64_t)INT64_MAX);
        return w == 0 ? 1 : w;
    }
    }
}

static tl_ts_t pick_origin(rd_t *r) {
    uint8_t b = u8(r);
    switch (b % 10) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -1;
    case 3: return 7;
    case 4: return -100;
    case 5: return INT64_MIN;
    case 6: return INT64_MIN + 1;
    case 7: return INT64_MAX;
    case 8: return INT64_MAX - 1;
    default: return (tl_ts_t)u64(r);
    }
}

static void decode_config(fz_t *f, rd_t *r) {
    tl_config_t *c = &f->cfg;
    tl_config_init(c);
    uint8_t b = u8(r);
    c->maintenance = (b & 3) == 3 ? TL_MAINT_BACKGROUND : TL_MAINT_DISABLED;
    f->allow_worker = (b & 4) != 0;
    f->close_pinned = (b & 8) != 0;
    f->open_sweep = (b & 64) != 0;
    c->time_unit = (tl_time_unit_t)((b >> 4) & 3);
    b = u8(r);
    c->memtable_max_bytes = b == 255 ? 0 : 384 + 24 * (size_t)(b % 64);
    b = u8(r);
    c->target_page_bytes = b == 255 ? 0 : 16 * (1 + (size_t)(b % 32));
    b = u8(r);
    c->sealed_max_runs = b % 8;
    c->max_delta_segments = (size_t)(b >> 3) % 6;
    b = u8(r);
    c->ooo_budget_bytes = b == 0 ? 0 : 24 * (size_t)b;
    c->window_size = pick_window(r);
    c->window_origin = pick_origin(r);
    b = u8(r);
    c->delete_debt_threshold = b < 128 ? 0.0 : (double)(b - 127) / 128.0;
    b = u8(r);
    c->compaction_target_bytes = b < 64 ? 0 : 16 * (size_t)(b - 63);
    b = u8(r);
    c->compaction_max_inputs = b % 4;
    c->compaction_max_windows = (size_t)(b >> 2) % 4;
    c->drain_batch_limit = (size_t)(b >> 4) % 4;
    b = u8(r);
    c->sealed_wait_ms = b % 2;
    c->maintenance_wakeup_ms = 1 + (uint32_t)(b >> 1) % 4;
    c->alloc = tlt_alloc_table(&f->alloc);
    c->on_drop = fz_on_drop;
    c->on_drop_ctx = f;
}

/* ---------------------------------------------------------------- checks */

static void validate(fz_t *f) {
    const char *why = NULL;
    tl_status_t st = tl_validate(f->log, &why);
    FZ_CHECK(f, st == TL_OK, "tl_validate -> %s: %s", tl_strerror(st), why ? why : "?");
    FZ_CHECK(f, tlt_alloc_errors(&f->alloc) == 0, "the counting allocator saw misuse: %s",
             f->alloc.first_error);
}

/* Full comparison of the current state with the model (never armed). */
static void check_all(fz_t *f) {
    validate(f);
    tlt_expect_model(f->log, &f->m);
    if (!tl_maint_running(f->log)) {
        /* No worker: nothing is in flight, so the engine's accounting and
         * the allocator's must agree to the byte. */
        tl_stats_t s;
        tl_status_t st = tl_stats(f->log, &s);
        FZ_CHECK(f, st == TL_OK, "tl_stats -> %s", tl_strerror(st));
        uint64_t live = tlt_alloc_live_bytes(&f->alloc);
        FZ_CHECK(f, s.engine_bytes == live, "stats.engine_bytes %llu, allocator live %llu",
                 (unsigned long long)s.engine_bytes, (unsigned long long)live);
        FZ_CHECK(f, s.retired_len == tl_retired_len(f->log), "retired_len differs");
        FZ_CHECK(f,
                 s.physical_records ==
                     s.memtable_records + s.memrun_records + s.l0_records + s.l1_records,
                 "stats: physical %llu != memtable %llu + memruns %llu + L0 %llu + L1 %llu",
                 (unsigned long long)s.physical_records, (unsigned long long)s.memtable_records,
                 (unsigned long long)s.memrun_records, (unsigned long long)s.l0_records,
                 (unsigned long long)s.l1_records);
        FZ_CHECK(f, s.records == f->m.n && s.records <= s.physical_records,
                 "stats: records %llu, physical %llu, model %zu", (unsigned long long)s.records,
                 (unsigned long long)s.physical_records, f->m.n);
        if (f->m.n > 0)
            FZ_CHECK(f, s.min_ts == f->m.r[0].ts && s.max_ts == f->m.r[f->m.n - 1].ts,
                     "stats: min/max %lld/%lld, want %lld/%lld", (long long)s.min_ts,
                     (long long)s.max_ts, (long long)f->m.r[0].ts,
                     (long long)f->m.r[f->m.n - 1].ts);
        else
            FZ_CHECK(f, s.min_ts > s.max_ts, "stats of an empty log: min %lld <= max %lld",
                     (long long)s.min_ts, (long long)s.max_ts);
        FZ_CHECK(f, s.memtable_ooo_records <= s.memtable_records, "stats: ooo > memtable");
    }
}

static bool nothing_pinned(const fz_t *f) {
    for (int i = 0; i < N_SNAPS; i++)
        if (f->snaps[i].s != NULL) return false;
    for (int i = 0; i < N_ITERS; i++)
        if (f->iters[i].it != NULL) return false;
    return true;
}

static void drain_all(fz_t *f) {
    for (int guard = 0;; guard++) {
        FZ_CHECK(f, guard < 1000000, "tl_drain_retired never reports 0");
        size_t n = 0;
        tl_status_t st = tl_drain_retired(f->log, 0, &n);
        FZ_CHECK(f, st == TL_OK, "tl_drain_retired -> %s", tl_strerror(st));
        if (n == 0) return;
    }
}

/* After a successful compaction with nothing pinned, draining must release
 * every deleted handle and no visible one (SPEC 1: after flush + compact no
 * deleted record's object is still referenced). */
static void check_deleted_released(fz_t *f) {
    drain_all(f);
    FZ_CHECK(f, tl_retired_len(f->log) == 0,
             "retired queue holds %zu handles after a drain "
             "with nothing pinned",
             tl_retired_len(f->log));
    for (tl_handle_t h = 1; h < f->next_h; h++) {
        const hinfo_t *x = &f->hi[h];
        if (x->state == H_DEAD)
            FZ_CHECK(f, x->drops == 1,
                     "deleted handle %llu (ts %lld) still referenced after "
                     "compact + drain",
                     (unsigned long long)h, (long long)x->ts);
        else
            FZ_CHECK(f, x->drops == 0, "handle %llu (state %d) dropped", (unsigned long long)h,
                     x->state);
    }
}

/* ---------------------------------------------------------------- writes */

static void write_done(fz_t *f, tl_status_t st, const char *what) {
    expect_status(f, st, S_OK | S_BUSY, what);
}

static void op_append(fz_t *f, tl_ts_t ts) {
    tl_handle_t h = reserve_handles(f, 1);
    tl_status_t st = tl_append(f->log, ts, h);
    TRACE(f, "append(%lld, h%llu) -> %s", (long long)ts, (unsigned long long)h, tl_strerror(st));
    write_done(f, st, "tl_append");
    f->last_ts = ts;
    if (st == TL_ENOMEM) return;
    f->hi[h].ts = ts;
    f->hi[h].state = H_LIVE;
    tlt_model_add(&f->m, ts, h);
    f->appended++;
    f->mt_empty = false;
}

static void op_batch(fz_t *f, rd_t *r) {
    size_t n = u8(r) % (MAX_BATCH + 1);
    uint8_t flags = u8(r);
    if (f->appended > MAX_RECORDS) n %= 5;
    tl_ts_t ts[MAX_BATCH];
    tl_handle_t hs[MAX_BATCH];
    if (flags & 1) {
        /* Generated from a seed: large batches cost three bytes. */
        tlt_rng_t rng;
        tlt_rng_seed(&rng, u16(r));
        tl_ts_t base = gen_ts(f, r);
        for (size_t i = 0; i < n; i++) {
            switch ((flags >> 1) & 3) {
            case 0: ts[i] = tlt_sat_add(base, (tl_ts_t)tlt_rng_below(&rng, 8)); break;
            case 1: ts[i] = tlt_sat_add(base, (tl_ts_t)tlt_rng_below(&rng, 1000) - 500); break;
            case 2: ts[i] = (tl_ts_t)tlt_rng_next(&rng); break;
            default: ts[i] = tlt_sat_add(base, (tl_ts_t)i); break;
            }
        }
    } else {
        for (size_t i = 0; i < n; i++) ts[i] = gen_ts(f, r);
    }
    tl_handle_t h0 = reserve_handles(f, n);
    for (size_t i = 0; i < n; i++) hs[i] = h0 + i;
    if (flags & 8) tlt_sort_pairs(ts, hs, n);
    if ((flags & 24) == 24) /* reverse-sorted */
        for (size_t i = 0; i < n / 2; i++) {
            tl_ts_t a = ts[i];
            ts[i] = ts[n - 1 - i];
            ts[n - 1 - i] = a;
            tl_handle_t b = hs[i];
            hs[i] = hs[n - 1 - i];
            hs[n - 1 - i] = b;
        }
    tl_status_t st;
    if (flags & 32) {
        /* The same records through the in-place batch API. */
        tl_batch_t *b = NULL;
        tl_ts_t *bt = NULL;
        tl_handle_t *bh = NULL;
        st = tl_batch_open(f->log, n, &b, &bt, &bh);
        if (st == TL_OK) {
            memcpy(bt, ts, n * sizeof *bt);
            memcpy(bh, hs, n * sizeof *bh);
            st = tl_batch_commit(f->log, b, n);
            if (st != TL_OK && st != TL_EBUSY) tl_batch_abandon(f->log, b);
        }
    } else {
        st = tl_append_batch(f->log, ts, hs, n);
    }
    TRACE(f, "append_batch(n %zu, flags %#x, h%llu.., first ts %lld) -> %s", n, flags,
          (unsigned long long)h0, n ? (long long)ts[0] : 0LL, tl_strerror(st));
    if (f->trace)
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "    ts %lld h%llu\n", (long long)ts[i], (unsigned long long)hs[i]);
    write_done(f, st, "tl_append_batch");
    if (n > 0) f->last_ts = ts[n - 1];
    if (st == TL_ENOMEM) return;
    for (size_t i = 0; i < n; i++) {
        f->hi[hs[i]].ts = ts[i];
        f->hi[hs[i]].state = H_LIVE;
    }
    tlt_model_add_batch(&f->m, ts, hs, n);
    f->appended += n;
    if (n > 0) f->mt_empty = false;
}

/* Deletes [lo, hi] (inclusive) through `st`, the status of the call made. */
static void delete_done(fz_t *f, tl_status_t st, tl_ts_t lo, tl_ts_t hi, bool empty,
                        const char *what) {
    TRACE(f, "%s: [%lld, %lld]%s -> %s", what, (long long)lo, (long long)hi,
          empty ? " (empty)" : "", tl_strerror(st));
    expect_status(f, st, S_OK, what);
    if (st != TL_OK || empty) return;
    tlt_model_delete_incl(&f->m, lo, hi, mark_dead, f);
}

/* ---------------------------------------------------------------- snapshots */

/* A snapshot to read from: a held one (*fresh = false), or a new one. NULL
 * when an injected failure stopped the acquire. */
static tl_snapshot_t *pick_snap(fz_t *f, uint8_t how, const tlt_model_t **m, bool *mt_empty,
                                bool *fresh) {
    fsnap_t *s = &f->snaps[how % N_SNAPS];
    if ((how & 4) && s->s != NULL) {
        *m = &s->m;
        *mt_empty = s->mt_empty;
        *fresh = false;
        return s->s;
    }
    tl_snapshot_t *snap = (tl_snapshot_t *)(uintptr_t)1;
    tl_status_t st = tl_snapshot_acquire(f->log, &snap);
    if (!read_ok(f, st, "tl_snapshot_acquire")) {
        FZ_CHECK(f, snap == NULL, "a failed tl_snapshot_acquire left *out set");
        return NULL;
    }
    tl_seq_t seq = tl_snapshot_seq(snap);
    FZ_CHECK(f, seq >= f->last_seq, "snapshot sequence went back: %llu after %llu",
             (unsigned long long)seq, (unsigned long long)f->last_seq);
    f->last_seq = seq;
    *m = &f->m;
    *mt_empty = f->mt_empty;
    *fresh = true;
    return snap;
}

static void op_snap_acquire(fz_t *f, rd_t *r) {
    fsnap_t *s = &f->snaps[u8(r) % N_SNAPS];
    if (s->s != NULL) {
        tl_snapshot_t *old = s->s;
        s->s = NULL; /* its records may be dropped from now on */
        tlt_model_free(&s->m);
        tl_snapshot_release(old);
    }
    tl_snapshot_t *snap = (tl_snapshot_t *)(uintptr_t)1;
    tl_status_t st = tl_snapshot_acquire(f->log, &snap);
    if (!read_ok(f, st, "tl_snapshot_acquire")) {
        FZ_CHECK(f, snap == NULL, "a failed tl_snapshot_acquire left *out set");
        return;
    }
    tlt_model_copy(&s->m, &f->m);
    s->mt_empty = f->mt_empty;
    s->s = snap;
    TRACE(f, "snapshot %d acquired (seq %llu, %zu records)", (int)(s - f->snaps),
          (unsigned long long)tl_snapshot_seq(snap), f->m.n);
}

static void snap_release(fz_t *f, int i) {
    fsnap_t *s = &f->snaps[i];
    if (s->s == NULL) return;
    tl_snapshot_t *old = s->s;
    s->s = NULL;
    tlt_model_free(&s->m);
    TRACE(f, "snapshot %d released", i);
    tl_snapshot_release(old);
}

/* ---------------------------------------------------------------- reads */

/* Range kinds shared by reads, counts, spans and iterators. */
enum { RK_RANGE, RK_SINCE, RK_UNTIL, RK_ALL, RK_POINT, RK_KINDS };

/* &m->r[i], without arithmetic on the NULL array of an empty model. */
static const tlt_rec_t *at(const tlt_model_t *m, size_t i) {
    return m->r == NULL ? NULL : m->r + i;
}

/* The model slice of a range kind. */
static void kind_slice(const tlt_model_t *m, int kind, tl_ts_t t1, tl_ts_t t2, size_t *i0,
                       size_t *i1) {
    switch (kind) {
    case RK_RANGE: tlt_model_slice(m, t1, t2, i0, i1); break;
    case RK_SINCE:
        *i0 = tlt_model_lower(m, t1);
        *i1 = m->n;
        break;
    case RK_UNTIL:
        *i0 = 0;
        *i1 = tlt_model_lower(m, t2);
        break;
    case RK_ALL:
        *i0 = 0;
        *i1 = m->n;
        break;
    default:
        *i0 = tlt_model_lower(m, t1);
        *i1 = tlt_model_upper(m, t1);
        break;
    }
}

static tl_status_t open_iter(tl_snapshot_t *snap, int kind, tl_ts_t t1, tl_ts_t t2,
                             tl_iter_t **it) {
    switch (kind) {
    case RK_RANGE: return tl_iter_range(snap, t1, t2, it);
    case RK_SINCE: return tl_iter_since(snap, t1, it);
    case RK_UNTIL: return tl_iter_until(snap, t2, it);
    case RK_ALL: return tl_iter_all(snap, it);
    default: return tl_iter_point(snap, t1, it);
    }
}

/* Reads an iterator to its end with tl_iter_next_batch (cap records a call;
 * handles skipped when with_h is false) and compares with want. */
static void expect_batches(fz_t *f, tl_iter_t *it, size_t cap, bool with_h, const tlt_rec_t *want,
                           size_t want_n) {
    size_t n = 0, room = want_n + cap + 1;
    tl_ts_t *ts = malloc(room * sizeof *ts);
    tl_handle_t *h = malloc(room * sizeof *h);
    FZ_CHECK(f, ts != NULL && h != NULL, "out of test memory");
    for (;;) {
        uint64_t rem = UINT64_MAX;
        /* Counting may allocate (many sources): an injected failure is
         * TL_ENOMEM, and the iterator reads on unharmed. */
        tl_status_t st = tl_iter_remaining(it, &rem);
        expect_status(f, st, S_OK, "tl_iter_remaining");
        FZ_CHECK(f, st != TL_OK || rem == want_n - (n < want_n ? n : want_n),
                 "tl_iter_remaining %llu after %zu of %zu records", (unsigned long long)rem, n,
                 want_n);
        FZ_CHECK(f, n + cap < room, "iterator returned more than %zu records", want_n);
        size_t got = SIZE_MAX;
        st = tl_iter_next_batch(it, ts + n, with_h ? h + n : NULL, cap, &got);
        FZ_CHECK(f, st == TL_OK || st == TL_EOF, "tl_iter_next_batch -> %s", tl_strerror(st));
        FZ_CHECK(f, got <= cap, "tl_iter_next_batch returned %zu > cap %zu", got, cap);
        n += got;
        if (got < cap) break;
    }
    if (with_h) {
        tlt_expect_same(ts, h, n, want, want_n, "iter_next_batch");
    } else {
        FZ_CHECK(f, n == want_n, "iter_next_batch (no handles): %zu records, want %zu", n, want_n);
        for (size_t i = 0; i < n; i++)
            FZ_CHECK(f, ts[i] == want[i].ts, "iter_next_batch record %zu: ts %lld, want %lld", i,
                     (long long)ts[i], (long long)want[i].ts);
    }
    free(ts);
    free(h);
}

/* tl_point on the log (the current state): the handles at ts as a multiset,
 * the first cap of them copied, *n_total exact. */
static void check_point(fz_t *f, tl_ts_t ts, size_t cap) {
    tl_handle_t out[10];
    for (size_t i = 0; i < 10; i++) out[i] = 0xDEAD;
    size_t total = SIZE_MAX;
    tl_status_t st = tl_point(f->log, ts, out, cap, &total);
    TRACE(f, "point(%lld, cap %zu) -> %s, %zu", (long long)ts, cap, tl_strerror(st), total);
    if (!read_ok(f, st, "tl_point")) return;
    size_t i0 = tlt_model_lower(&f->m, ts), i1 = tlt_model_upper(&f->m, ts);
    FZ_CHECK(f, total == i1 - i0, "tl_point(%lld) counts %zu, want %zu", (long long)ts, total,
             i1 - i0);
    size_t k = total < cap ? total : cap;
    for (size_t i = k; i < 10; i++)
        FZ_CHECK(f, out[i] == 0xDEAD, "tl_point wrote out[%zu] past the %zu it returned", i, k);
    /* Each copied handle is one of the model's at ts, none twice. */
    for (size_t i = 0; i < k; i++) {
        FZ_CHECK(f, recs_has(f->m.r, f->m.n, ts, out[i]),
                 "tl_point(%lld) returned handle %llu, not visible there", (long long)ts,
                 (unsigned long long)out[i]);
        for (size_t j = 0; j < i; j++)
            FZ_CHECK(f, out[j] != out[i], "tl_point returned handle %llu twice",
                     (unsigned long long)out[i]);
    }
}

static void op_read(fz_t *f, rd_t *r) {
    uint8_t how = u8(r);
    tl_ts_t t1 = gen_ts(f, r), t2 = gen_ts(f, r);
    const tlt_model_t *m;
    bool mt_empty, fresh;
    tl_snapshot_t *snap = pick_snap(f, how, &m, &mt_empty, &fresh);
    if (snap == NULL) return;
    int kind = ((how >> 3) & 7) % RK_KINDS;
    size_t i0, i1;
    kind_slice(m, kind, t1, t2, &i0, &i1);
    tl_iter_t *it = (tl_iter_t *)(uintptr_t)1;
    tl_status_t st = open_iter(snap, kind, t1, t2, &it);
    TRACE(f, "read kind %d [%lld, %lld) on %s snapshot: want %zu -> %s", kind, (long long)t1,
          (long long)t2, fresh ? "a fresh" : "a held", i1 - i0, tl_strerror(st));
    if (read_ok(f, st, "tl_iter_*")) {
        if (how & 128)
            expect_batches(f, it, 1 + (size_t)(how & 3) * 5, (how & 64) != 0, at(m, i0), i1 - i0);
        else
            tlt_expect_iter(it, at(m, i0), i1 - i0, "read");
        tl_iter_close(it);
    } else {
        FZ_CHECK(f, it == NULL, "a failed iterator open left *out set");
    }
    if (fresh) tl_snapshot_release(snap);
    if (kind == RK_POINT) check_point(f, t1, (size_t)(how & 3) * 3);
}

static void op_count(fz_t *f, rd_t *r) {
    uint8_t how = u8(r);
    tl_ts_t t1 = gen_ts(f, r), t2 = gen_ts(f, r);
    size_t n_edges = u8(r) % 6;
    tl_ts_t edges[5];
    for (size_t i = 0; i < n_edges; i++) edges[i] = gen_ts(f, r);
    const tlt_model_t *m;
    bool mt_empty, fresh;
    tl_snapshot_t *snap = pick_snap(f, how, &m, &mt_empty, &fresh);
    if (snap == NULL) return;
    TRACE(f, "counts [%lld, %lld), %zu edges on %s snapshot", (long long)t1, (long long)t2, n_edges,
          fresh ? "a fresh" : "a held");
    uint64_t c = UINT64_MAX;
    tl_status_t st = tl_count_range(snap, t1, t2, &c);
    if (read_ok(f, st, "tl_count_range"))
        FZ_CHECK(f, c == tlt_model_count(m, t1, t2), "count_range [%lld, %lld) = %llu, want %llu",
                 (long long)t1, (long long)t2, (unsigned long long)c,
                 (unsigned long long)tlt_model_count(m, t1, t2));
    st = tl_count_since(snap, t1, &c);
    if (read_ok(f, st, "tl_count_since"))
        FZ_CHECK(f, c == m->n - tlt_model_lower(m, t1), "count_since %lld = %llu, want %zu",
                 (long long)t1, (unsigned long long)c, m->n - tlt_model_lower(m, t1));
    st = tl_count_all(snap, &c);
    if (read_ok(f, st, "tl_count_all"))
        FZ_CHECK(f, c == m->n, "count_all = %llu, want %zu", (unsigned long long)c, m->n);
    if (how & 8) tlt_sort_pairs(edges, (tl_handle_t[5]){0}, n_edges);
    bool sorted = true;
    for (size_t i = 1; i < n_edges; i++)
        if (edges[i - 1] > edges[i]) sorted = false;
    uint64_t out[5] = {7, 7, 7, 7, 7};
    st = tl_count_buckets(snap, edges, n_edges, out);
    if (!sorted && n_edges >= 2) {
        expect_status(f, st, S_INVAL, "tl_count_buckets (unsorted edges)");
    } else if (read_ok(f, st, "tl_count_buckets")) {
        for (size_t i = 0; i + 1 < n_edges; i++)
            FZ_CHECK(f, out[i] == tlt_model_count(m, edges[i], edges[i + 1]),
                     "count_buckets bucket %zu [%lld, %lld) = %llu, want %llu", i,
                     (long long)edges[i], (long long)edges[i + 1], (unsigned long long)out[i],
                     (unsigned long long)tlt_model_count(m, edges[i], edges[i + 1]));
        for (size_t i = n_edges ? n_edges - 1 : 0; i < 5; i++)
            FZ_CHECK(f, out[i] == 7, "count_buckets wrote past its %zu buckets",
                     n_edges ? n_edges - 1 : 0);
    }
    if (fresh) tl_snapshot_release(snap);
}

/* A read that an injected failure stopped: TL_ENOMEM with *out untouched. */
static bool oom_skip(fz_t *f, tl_status_t st, tl_ts_t got, tl_ts_t untouched, const char *what) {
    if (!(f->armed && st == TL_ENOMEM)) return false;
    FZ_CHECK(f, got == untouched, "%s -> TL_ENOMEM but wrote *out", what);
    return true;
}

static void op_neighbours(fz_t *f, rd_t *r) {
    uint8_t how = u8(r);
    tl_ts_t ts = gen_ts(f, r);
    const tlt_model_t *m;
    bool mt_empty, fresh;
    tl_snapshot_t *snap = pick_snap(f, how, &m, &mt_empty, &fresh);
    if (snap == NULL) return;
    TRACE(f, "neighbours of %lld on %s snapshot", (long long)ts, fresh ? "a fresh" : "a held");
    const tl_ts_t untouched = 0x5EED;
    tl_ts_t got = untouched, want = untouched;
    tl_status_t st = tl_min_ts(snap, &got);
    if (oom_skip(f, st, got, untouched, "tl_min_ts")) {
    } else if (m->n == 0) {
        FZ_CHECK(f, st == TL_EOF && got == untouched, "min_ts of an empty view -> %s",
                 tl_strerror(st));
    } else {
        FZ_CHECK(f, st == TL_OK && got == m->r[0].ts, "min_ts -> %s %lld, want %lld",
                 tl_strerror(st), (long long)got, (long long)m->r[0].ts);
    }
    got = untouched;
    st = tl_max_ts(snap, &got);
    if (oom_skip(f, st, got, untouched, "tl_max_ts")) {
    } else if (m->n == 0) {
        FZ_CHECK(f, st == TL_EOF && got == untouched, "max_ts of an empty view -> %s",
                 tl_strerror(st));
    } else {
        FZ_CHECK(f, st == TL_OK && got == m->r[m->n - 1].ts, "max_ts -> %s %lld, want %lld",
                 tl_strerror(st), (long long)got, (long long)m->r[m->n - 1].ts);
    }
    got = untouched;
    st = tl_next_ts(snap, ts, &got);
    if (oom_skip(f, st, got, untouched, "tl_next_ts"))
        ;
    else if (tlt_model_next(m, ts, &want))
        FZ_CHECK(f, st == TL_OK && got == want, "next_ts(%lld) -> %s %lld, want %lld",
                 (long long)ts, tl_strerror(st), (long long)got, (long long)want);
    else
        FZ_CHECK(f, st == TL_EOF && got == untouched, "next_ts(%lld) -> %s %lld, want EOF",
                 (long long)ts, tl_strerror(st), (long long)got);
    got = untouched;
    st = tl_prev_ts(snap, ts, &got);
    if (oom_skip(f, st, got, untouched, "tl_prev_ts"))
        ;
    else if (tlt_model_prev(m, ts, &want))
        FZ_CHECK(f, st == TL_OK && got == want, "prev_ts(%lld) -> %s %lld, want %lld",
                 (long long)ts, tl_strerror(st), (long long)got, (long long)want);
    else
        FZ_CHECK(f, st == TL_EOF && got == untouched, "prev_ts(%lld) -> %s %lld, want EOF",
                 (long long)ts, tl_strerror(st), (long long)got);
    if (fresh) tl_snapshot_release(snap);
}

/* Spans cover the immutable sources only: their records are a sub-multiset
 * of the view's, and all of it when the memtable was empty. */
static void op_spans(fz_t *f, rd_t *r) {
    uint8_t how = u8(r);
    tl_ts_t t1 = gen_ts(f, r), t2 = gen_ts(f, r);
    if (how & 16) {
        /* Flush first, so the spans must cover everything. */
        tl_status_t st = tl_flush(f->log);
        expect_status(f, st, S_OK, "tl_flush");
        if (st == TL_OK) f->mt_empty = true;
    }
    const tlt_model_t *m;
    bool mt_empty, fresh;
    tl_snapshot_t *snap = pick_snap(f, how, &m, &mt_empty, &fresh);
    if (snap == NULL) return;
    int kind = (how >> 5) % 3; /* range, since, all */
    tl_ts_t lo = kind == 0 ? t1 : kind == 1 ? t1 : INT64_MIN;
    tl_ts_t hi_excl = kind == 0 ? t2 : INT64_MAX; /* since/all reach INT64_MAX inclusive */
    size_t i0, i1;
    if (kind == 0)
        tlt_model_slice(m, t1, t2, &i0, &i1);
    else {
        i0 = tlt_model_lower(m, lo);
        i1 = m->n;
    }
    tl_span_iter_t *sit = (tl_span_iter_t *)(uintptr_t)1;
    tl_status_t st = kind == 0   ? tl_spans_range(snap, t1, t2, &sit)
                     : kind == 1 ? tl_spans_since(snap, t1, &sit)
                                 : tl_spans_all(snap, &sit);
    TRACE(f, "spans kind %d [%lld, %lld) on %s snapshot (memtable %s) -> %s", kind, (long long)t1,
          (long long)t2, fresh ? "a fresh" : "a held", mt_empty ? "empty" : "maybe not empty",
          tl_strerror(st));
    if (!read_ok(f, st, "tl_spans_*")) {
        FZ_CHECK(f, sit == NULL, "a failed spans open left *out set");
        if (fresh) tl_snapshot_release(snap);
        return;
    }
    size_t want_n = i1 - i0, n = 0;
    tl_ts_t *ts = malloc((want_n + 1) * sizeof *ts);
    tl_handle_t *hs = malloc((want_n + 1) * sizeof *hs);
    FZ_CHECK(f, ts != NULL && hs != NULL, "out of test memory");
    for (;;) {
        tl_span_t sp;
        st = tl_spans_next(sit, &sp);
        if (st == TL_EOF) break;
        FZ_CHECK(f, st == TL_OK, "tl_spans_next -> %s", tl_strerror(st));
        FZ_CHECK(f, sp.n > 0 && sp.ts != NULL && sp.h != NULL, "an empty span (n %zu)", sp.n);
        FZ_CHECK(f, sp.level >= 0 && sp.level <= 2, "span level %d", sp.level);
        FZ_CHECK(f, n + sp.n <= want_n, "spans hold more than the %zu visible records", want_n);
        for (size_t i = 0; i < sp.n; i++) {
            FZ_CHECK(f, i == 0 || sp.ts[i - 1] <= sp.ts[i], "span not sorted at %zu", i);
            FZ_CHECK(f, sp.ts[i] >= lo && (kind != 0 || sp.ts[i] < hi_excl),
                     "span record ts %lld outside the range", (long long)sp.ts[i]);
            ts[n] = sp.ts[i];
            hs[n] = sp.h[i];
            n++;
        }
    }
    tl_spans_close(sit);
    tlt_sort_pairs(ts, hs, n);
    /* Sub-multiset: walk both sorted lists. */
    size_t j = i0;
    for (size_t i = 0; i < n; i++) {
        while (j < i1 && (m->r[j].ts < ts[i] || (m->r[j].ts == ts[i] && m->r[j].h < hs[i]))) j++;
        FZ_CHECK(f, j < i1 && m->r[j].ts == ts[i] && m->r[j].h == hs[i],
                 "span record (ts %lld, h %llu) is not visible in the view", (long long)ts[i],
                 (unsigned long long)hs[i]);
        j++;
    }
    if (mt_empty)
        FZ_CHECK(f, n == want_n, "spans of a flushed view hold %zu records, want %zu", n, want_n);
    free(ts);
    free(hs);
    if (fresh) tl_snapshot_release(snap);
}

/* ---------------------------------------------------------------- held iterators */

static void iter_free(fiter_t *x) {
    tl_iter_t *it = x->it;
    x->it = NULL; /* its records may be dropped from now on */
    free(x->want);
    free(x->got_ts);
    free(x->got_h);
    memset(x, 0, sizeof *x);
    tl_iter_close(it);
}

static void op_iter_open(fz_t *f, rd_t *r) {
    fiter_t *x = &f->iters[u8(r) % N_ITERS];
    uint8_t how = u8(r);
    tl_ts_t t1 = gen_ts(f, r), t2 = gen_ts(f, r);
    if (x->it != NULL) iter_free(x);
    const tlt_model_t *m;
    bool mt_empty, fresh;
    tl_snapshot_t *snap = pick_snap(f, how, &m, &mt_empty, &fresh);
    if (snap == NULL) return;
    int kind = ((how >> 3) & 7) % RK_KINDS;
    size_t i0, i1;
    kind_slice(m, kind, t1, t2, &i0, &i1);
    tl_iter_t *it = (tl_iter_t *)(uintptr_t)1;
    tl_status_t st = open_iter(snap, kind, t1, t2, &it);
    TRACE(f, "iterator %d opened: kind %d [%lld, %lld) on %s snapshot, want %zu -> %s",
          (int)(x - f->iters), kind, (long long)t1, (long long)t2, fresh ? "a fresh" : "a held",
          i1 - i0, tl_strerror(st));
    if (read_ok(f, st, "tl_iter_* (held)")) {
        x->want_n = i1 - i0;
        x->want = malloc((x->want_n + 1) * sizeof *x->want);
        x->got_ts = malloc((x->want_n + 1) * sizeof *x->got_ts);
        x->got_h = malloc((x->want_n + 1) * sizeof *x->got_h);
        FZ_CHECK(f, x->want && x->got_ts && x->got_h, "out of test memory");
        if (x->want_n) memcpy(x->want, at(m, i0), x->want_n * sizeof *x->want);
        x->got_n = 0;
        x->it = it;
    } else {
        FZ_CHECK(f, it == NULL, "a failed iterator open left *out set");
    }
    /* The iterator holds its own pin: release a fresh snapshot right away. */
    if (fresh) tl_snapshot_release(snap);
}

static void op_iter_step(fz_t *f, rd_t *r) {
    fiter_t *x = &f->iters[u8(r) % N_ITERS];
    size_t k = u8(r) % 33;
    if (x->it == NULL) return;
    TRACE(f, "iterator %d: %zu steps from record %zu of %zu", (int)(x - f->iters), k, x->got_n,
          x->want_n);
    for (size_t i = 0; i < k; i++) {
        tl_ts_t ts;
        tl_handle_t h;
        tl_status_t st = tl_iter_next(x->it, &ts, &h);
        if (st == TL_EOF) {
            tlt_expect_same(x->got_ts, x->got_h, x->got_n, x->want, x->want_n, "held iterator");
            iter_free(x);
            return;
        }
        FZ_CHECK(f, st == TL_OK, "tl_iter_next -> %s", tl_strerror(st));
        FZ_CHECK(f, x->got_n < x->want_n, "held iterator returned more than %zu records",
                 x->want_n);
        FZ_CHECK(f, ts == x->want[x->got_n].ts, "held iterator record %zu: ts %lld, want %lld",
                 x->got_n, (long long)ts, (long long)x->want[x->got_n].ts);
        x->got_ts[x->got_n] = ts;
        x->got_h[x->got_n] = h;
        x->got_n++;
    }
    uint64_t rem = UINT64_MAX;
    tl_status_t st = tl_iter_remaining(x->it, &rem);
    expect_status(f, st, S_OK, "tl_iter_remaining"); /* may allocate: see expect_batches */
    FZ_CHECK(f, st != TL_OK || rem == x->want_n - x->got_n,
             "tl_iter_remaining -> %s %llu, want %zu", tl_strerror(st), (unsigned long long)rem,
             x->want_n - x->got_n);
}

/* ---------------------------------------------------------------- one operation */

static void run_op(fz_t *f, rd_t *r) {
    uint8_t op = u8(r) % OP_COUNT_KINDS;
    if ((f->inject_k != 0 || f->inject_every != 0) && op != OP_INJECT) {
        tlt_alloc_arm(&f->alloc, f->inject_k, f->inject_every, 0);
        f->armed = true;
        f->inject_k = 0;
        f->inject_every = 0;
    }
    bool mutated = true;
    tl_status_t st;
    switch (op) {
    case OP_APPEND: op_append(f, gen_ts(f, r)); break;
    case OP_APPEND_RUN: {
        size_t n = u8(r) % 48;
        tl_ts_t ts = gen_ts(f, r);
        for (size_t i = 0; i < n && f->appended <= MAX_RECORDS; i++)
            op_append(f, tlt_sat_add(ts, (tl_ts_t)i / 2));
        break;
    }
    case OP_BATCH: op_batch(f, r); break;
    case OP_DEL_RANGE: {
        tl_ts_t t1 = gen_ts(f, r), t2 = gen_ts(f, r);
        st = tl_delete_range(f->log, t1, t2);
        delete_done(f, st, t1, t1 < t2 ? t2 - 1 : t1, t1 >= t2, "tl_delete_range");
        break;
    }
    case OP_DEL_SINCE: {
        tl_ts_t t1 = gen_ts(f, r);
        st = tl_delete_since(f->log, t1);
        delete_done(f, st, t1, INT64_MAX, false, "tl_delete_since");
        break;
    }
    case OP_DEL_BEFORE: {
        tl_ts_t t2 = gen_ts(f, r);
        st = tl_delete_before(f->log, t2);
        delete_done(f, st, INT64_MIN, t2 == INT64_MIN ? t2 : t2 - 1, t2 == INT64_MIN,
                    "tl_delete_before");
        break;
    }
    case OP_DEL_TS: {
        tl_ts_t ts = gen_ts(f, r);
        st = tl_delete_ts(f->log, ts);
        delete_done(f, st, ts, ts, false, "tl_delete_ts");
        break;
    }
    case OP_DEL_ALL:
        st = tl_delete_all(f->log);
        delete_done(f, st, INT64_MIN, INT64_MAX, false, "tl_delete_all");
        break;
    case OP_FLUSH:
        st = tl_flush(f->log);
        TRACE(f, "flush -> %s", tl_strerror(st));
        expect_status(f, st, S_OK, "tl_flush");
        if (st == TL_OK) f->mt_empty = true;
        break;
    case OP_COMPACT:
        st = tl_compact(f->log);
        TRACE(f, "compact -> %s", tl_strerror(st));
        expect_status(f, st, S_OK, "tl_compact");
        if (st == TL_OK) {
            f->mt_empty = true;
            if (nothing_pinned(f)) {
                bool armed = f->armed;
                tlt_alloc_disarm(&f->alloc);
                f->armed = false;
                check_deleted_released(f);
                f->armed = armed;
            }
        }
        break;
    case OP_MAINT_STEP:
        st = tl_maint_step(f->log);
        TRACE(f, "maint_step -> %s", tl_strerror(st));
        expect_status(f, st, S_OK | S_EOF, "tl_maint_step");
        break;
    case OP_DRAIN: {
        size_t n = SIZE_MAX, limit = u8(r) % 5;
        st = tl_drain_retired(f->log, limit, &n);
        TRACE(f, "drain_retired(%zu) -> %s, %zu released", limit, tl_strerror(st), n);
        expect_status(f, st, S_OK, "tl_drain_retired");
        FZ_CHECK(f, limit == 0 || n <= limit, "tl_drain_retired(limit %zu) released %zu", limit, n);
        break;
    }
    case OP_SNAP_ACQUIRE:
        op_snap_acquire(f, r);
        mutated = false;
        break;
    case OP_SNAP_RELEASE:
        snap_release(f, u8(r) % N_SNAPS);
        mutated = false;
        break;
    case OP_READ:
        op_read(f, r);
        mutated = false;
        break;
    case OP_COUNT:
        op_count(f, r);
        mutated = false;
        break;
    case OP_NEIGHBOURS:
        op_neighbours(f, r);
        mutated = false;
        break;
    case OP_SPANS: op_spans(f, r); break;
    case OP_ITER_OPEN:
        op_iter_open(f, r);
        mutated = false;
        break;
    case OP_ITER_STEP:
        op_iter_step(f, r);
        mutated = false;
        break;
    case OP_CHECK:
        TRACE(f, "check");
        if (!f->armed) check_all(f);
        mutated = false;
        break;
    case OP_INJECT: {
        /* Mostly one failure (the k-th allocation); sometimes every n-th,
         * so cleanup paths that allocate meet failures too. */
        uint8_t b = u8(r);
        f->inject_k = f->inject_every = 0;
        if (b < 200)
            f->inject_k = (uint8_t)(1 + b % 40);
        else
            f->inject_every = (uint8_t)(2 + b % 3);
        TRACE(f, "inject: fail allocation %u / every %u of the next operation", f->inject_k,
              f->inject_every);
    }
        mutated = false;
        break;
    case OP_WORKER:
        if (f->allow_worker) {
            TRACE(f, "worker %s", tl_maint_running(f->log) ? "stop" : "start");
            if (tl_maint_running(f->log)) {
                st = tl_maint_stop(f->log);
                expect_status(f, st, S_OK, "tl_maint_stop");
                FZ_CHECK(f, !tl_maint_running(f->log), "worker still running after stop");
            } else {
                st = tl_maint_start(f->log);
                /* Thread creation may fail for want of resources. */
                expect_status(f, st, S_OK | S_NOMEM, "tl_maint_start");
            }
        }
        break;
    }
    bool was_armed = f->armed;
    if (was_armed)
        TRACE(f, "  (%llu allocation(s) failed)",
              (unsigned long long)tlt_alloc_injected(&f->alloc));
    if (f->armed) {
        tlt_alloc_disarm(&f->alloc);
        f->armed = false;
    }
    if (was_armed) {
        /* Whatever failed, nothing visible may have changed. */
        check_all(f);
    } else if (mutated && (f->appended < 4000 || f->op_index % 8 == 0)) {
        validate(f);
    }
}

/* ---------------------------------------------------------------- end of input */

static void finish(fz_t *f) {
    for (int i = 0; i < N_ITERS; i++)
        if (f->iters[i].it != NULL) iter_free(&f->iters[i]);
    bool pinned = false;
    for (int i = 0; i < N_SNAPS; i++) pinned |= f->snaps[i].s != NULL;
    check_all(f);
    if (f->close_pinned && pinned) {
        /* Close with snapshots pinned: they keep reading, the log refuses
         * calls, and the last release tears the instance down. */
        tl_log_t *log = f->log;
        tl_close(log);
        tl_status_t st = tl_append(log, 1, 0);
        FZ_CHECK(f, st == TL_ESTATE, "tl_append after close -> %s", tl_strerror(st));
        tl_snapshot_t *s = (tl_snapshot_t *)(uintptr_t)1;
        st = tl_snapshot_acquire(log, &s);
        FZ_CHECK(f, st == TL_ESTATE && s == NULL, "tl_snapshot_acquire after close -> %s",
                 tl_strerror(st));
        FZ_CHECK(f, tl_flush(log) == TL_ESTATE, "tl_flush after close is not TL_ESTATE");
        FZ_CHECK(f, tl_delete_all(log) == TL_ESTATE, "tl_delete_all after close");
        tl_handle_t one;
        size_t total = 0;
        FZ_CHECK(f, tl_point(log, 0, &one, 1, &total) == TL_ESTATE, "tl_point after close");
        size_t n = 0;
        st = tl_drain_retired(log, 0, &n);
        FZ_CHECK(f, st == TL_OK, "tl_drain_retired after close -> %s", tl_strerror(st));
        int last = -1;
        for (int i = 0; i < N_SNAPS; i++) {
            fsnap_t *x = &f->snaps[i];
            if (x->s == NULL) continue;
            tl_iter_t *it = NULL;
            st = tl_iter_all(x->s, &it);
            FZ_CHECK(f, st == TL_OK, "tl_iter_all on a snapshot of a closed log -> %s",
                     tl_strerror(st));
            tlt_expect_iter(it, x->m.r, x->m.n, "snapshot after close");
            tl_iter_close(it);
            last = i;
        }
        for (int i = 0; i < N_SNAPS; i++) {
            if (i == last) f->closing = true; /* teardown runs in this release */
            snap_release(f, i);
        }
    } else {
        for (int i = 0; i < N_SNAPS; i++) snap_release(f, i);
        tl_status_t st = tl_compact(f->log);
        FZ_CHECK(f, st == TL_OK, "final tl_compact -> %s", tl_strerror(st));
        check_deleted_released(f);
        check_all(f);
        f->closing = true;
        tl_close(f->log);
    }
    f->log = NULL;
    for (tl_handle_t h = 1; h < f->next_h; h++) {
        const hinfo_t *x = &f->hi[h];
        FZ_CHECK(f, x->drops == (x->state == H_NONE ? 0 : 1),
                 "after close handle %llu (state %d) was dropped %u times", (unsigned long long)h,
                 x->state, x->drops);
    }
    FZ_CHECK(f, tlt_alloc_live_bytes(&f->alloc) == 0,
             "after close %llu bytes in %llu blocks are still live",
             (unsigned long long)tlt_alloc_live_bytes(&f->alloc),
             (unsigned long long)tlt_alloc_live_blocks(&f->alloc));
    FZ_CHECK(f, tlt_alloc_errors(&f->alloc) == 0, "the counting allocator saw misuse: %s",
             f->alloc.first_error);
}

/* ---------------------------------------------------------------- entry point */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_t *f = calloc(1, sizeof *f);
    if (f == NULL) return 0;
    rd_t r = {data, size, 0};
    tlt_alloc_init(&f->alloc);
    tlt_model_init(&f->m);
    f->owner = pthread_self();
    f->next_h = 1;
    reserve_handles(f, 0);
    f->trace = getenv("FUZZ_OPS_TRACE") != NULL;
    decode_config(f, &r);
    {
        const tl_config_t *c = &f->cfg;
        TRACE(f,
              "config: maint %d, memtable %zu, page %zu, sealed_max_runs %zu, "
              "max_delta %zu, ooo %zu, window %lld origin %lld, debt %.3f, target %zu, "
              "max_inputs %zu, max_windows %zu, drain_limit %zu, worker toggles %d, "
              "close pinned %d",
              (int)c->maintenance, c->memtable_max_bytes, c->target_page_bytes, c->sealed_max_runs,
              c->max_delta_segments, c->ooo_budget_bytes, (long long)c->window_size,
              (long long)c->window_origin, c->delete_debt_threshold, c->compaction_target_bytes,
              c->compaction_max_inputs, c->compaction_max_windows, c->drain_batch_limit,
              f->allow_worker, f->close_pinned);
    }
    const char *why = NULL;
    tl_status_t st = tl_config_check(&f->cfg, &why);
    FZ_CHECK(f, st == TL_OK, "config rejected: %s", why ? why : "?");
    for (uint64_t k = 1; f->open_sweep; k++) {
        /* tl_open under each allocation failure: TL_ENOMEM, *out NULL and
         * nothing left allocated, until it needs no more than k - 1. The
         * worker would allocate concurrently (and may take the failure), so
         * the sweep opens without it; starting the thread allocates nothing
         * through the allocator. */
        tl_config_t c = f->cfg;
        c.maintenance = TL_MAINT_DISABLED;
        uint64_t inj0 = tlt_alloc_injected(&f->alloc);
        tlt_alloc_arm(&f->alloc, k, 0, 0);
        tl_log_t *log = (tl_log_t *)(uintptr_t)1;
        st = tl_open(&c, &log);
        bool failed = tlt_alloc_injected(&f->alloc) > inj0;
        tlt_alloc_disarm(&f->alloc);
        if (!failed) {
            FZ_CHECK(f, st == TL_OK, "tl_open -> %s with no allocation failure", tl_strerror(st));
            tl_close(log);
            break;
        }
        FZ_CHECK(f, st == TL_ENOMEM && log == NULL,
                 "tl_open with allocation %llu failing -> %s (log %p)", (unsigned long long)k,
                 tl_strerror(st), (void *)log);
        FZ_CHECK(f, tlt_alloc_live_bytes(&f->alloc) == 0,
                 "tl_open failing at allocation %llu left %llu bytes", (unsigned long long)k,
                 (unsigned long long)tlt_alloc_live_bytes(&f->alloc));
    }
    st = tl_open(&f->cfg, &f->log);
    if (st != TL_OK) {
        /* Only a worker thread that could not start is acceptable. */
        FZ_CHECK(f, st == TL_ENOMEM && f->cfg.maintenance == TL_MAINT_BACKGROUND, "tl_open -> %s",
                 tl_strerror(st));
        free(f);
        return 0;
    }
    validate(f);
    while (rd_more(&r) && f->op_index < MAX_OPS) {
        run_op(f, &r);
        f->op_index++;
    }
    finish(f);
    tlt_alloc_destroy(&f->alloc);
    tlt_model_free(&f->m);
    free(f->hi);
    free(f);
    return 0;
}
