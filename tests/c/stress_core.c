/*
 * stress_core.c: the concurrency scenarios behind stress_core.h, shared by
 * the Criterion suite (test_stress.c) and the ThreadSanitizer program
 * (tsan/stress_main.c).
 *
 * Threads and the data they share:
 *  - the writer is the calling thread; it alone writes the operation log
 *    (ops[], ts_of[]) and publishes its length with a release store, after
 *    filling the entry and before issuing the operation to the engine. A
 *    reader that pinned sequence S therefore finds every operation <= S in
 *    the log (the engine's release of S follows the log's release).
 *  - readers read the log after an acquire load of its length, keep their
 *    own model and scratch, and report failures through sc_fail (a mutex).
 *  - the engine's worker reaches this file only through the allocator hooks
 *    (which count and may block it) and, if the engine were wrong, through
 *    on_drop (which then counts a foreign call without touching the
 *    writer's state).
 */
#define _POSIX_C_SOURCE 200809L

#include "stress_core.h"
#include "tl_sync.h"
#include "tl_test_alloc.h"
#include "tl_test_model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- small helpers */

/* The engine's platform layer (tl_sync.h) keeps this file free of POSIX
 * calls, so the same scenarios run on Windows (make test-windows). */
static double now_s(void) { return (double)tl_now_ns() * 1e-9; }

static uint64_t now_ns(void) { return tl_now_ns(); }

static void sleep_ms(unsigned ms) { tl_sleep_ms(ms); }

/* Test-side memory: an allocation failure here is the machine's problem,
 * not a finding, so it aborts loudly. */
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "stress_core: malloc(%zu) failed\n", n);
        abort();
    }
    return p;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "stress_core: calloc(%zu, %zu) failed\n", n, size);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "stress_core: realloc(%zu) failed\n", n);
        abort();
    }
    return q;
}

typedef struct sc_rng {
    uint64_t s;
} sc_rng_t;

static void rng_seed(sc_rng_t *r, uint64_t seed) {
    r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (r->s == 0) r->s = 1;
}

static uint64_t rng_next(sc_rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t rng_below(sc_rng_t *r, uint64_t n) { return n == 0 ? 0 : rng_next(r) % n; }

static tl_ts_t sat_add(tl_ts_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
    return a + b;
}

/* ---------------------------------------------------------------- failures */

typedef struct sc_fail {
    tl_mutex_t mu;
    atomic_int failed;
    char *why; /* the report's buffer */
    size_t why_len;
} sc_fail_t;

static void fail_init(sc_fail_t *f, sc_report_t *rep) {
    (void)tl_mutex_init(&f->mu);
    atomic_init(&f->failed, 0);
    f->why = rep->why;
    f->why_len = sizeof rep->why;
    f->why[0] = '\0';
}

static void fail_destroy(sc_fail_t *f) { tl_mutex_destroy(&f->mu); }

static bool failed(sc_fail_t *f) {
    return atomic_load_explicit(&f->failed, memory_order_acquire) != 0;
}

/* Records the first failure only: later ones are usually its consequences. */
/* mingw-w64 reads "printf" as Microsoft's format dialect; its C99 stdio
 * (__USE_MINGW_ANSI_STDIO, set by make test-windows) is gnu_printf. */
#if defined(__MINGW32__)
#define SC_PRINTF gnu_printf
#else
#define SC_PRINTF printf
#endif
__attribute__((format(SC_PRINTF, 2, 3))) static void fail(sc_fail_t *f, const char *fmt, ...) {
    tl_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->failed, memory_order_relaxed) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->why, f->why_len, fmt, ap);
        va_end(ap);
        atomic_store_explicit(&f->failed, 1, memory_order_release);
    }
    tl_mutex_unlock(&f->mu);
}

/* ---------------------------------------------------------------- drop tracker */

typedef struct sc_drops {
    _Atomic uint32_t *count; /* per handle; read by readers while pinned */
    size_t cap;
    tl_thread_id_t owner;
    atomic_uint_fast64_t total, foreign, twice, out_of_range, live;
    atomic_uint_fast64_t first_twice, first_live;
    const uint8_t *dead; /* the writer's: read on the owner thread only */
    bool closing;        /* owner thread only: teardown drops live records */
    tl_on_drop_fn chain;
    void *chain_ctx;
} sc_drops_t;

static void core_on_drop(void *ctx, tl_handle_t h) {
    sc_drops_t *d = ctx;
    atomic_fetch_add_explicit(&d->total, 1, memory_order_relaxed);
    bool own = tl_thread_id_equal(tl_thread_id_self(), d->owner);
    if (!own) atomic_fetch_add_explicit(&d->foreign, 1, memory_order_relaxed);
    if (h >= d->cap) {
        atomic_fetch_add_explicit(&d->out_of_range, 1, memory_order_relaxed);
    } else {
        uint32_t prev = atomic_fetch_add_explicit(&d->count[h], 1, memory_order_relaxed);
        if (prev != 0 && atomic_fetch_add_explicit(&d->twice, 1, memory_order_relaxed) == 0)
            atomic_store_explicit(&d->first_twice, h, memory_order_relaxed);
        if (own && !d->closing && d->dead != NULL && !d->dead[h] &&
            atomic_fetch_add_explicit(&d->live, 1, memory_order_relaxed) == 0)
            atomic_store_explicit(&d->first_live, h, memory_order_relaxed);
    }
    if (d->chain != NULL) d->chain(d->chain_ctx, h);
}

static uint32_t drops_of(sc_drops_t *d, tl_handle_t h) {
    return h < d->cap ? atomic_load_explicit(&d->count[h], memory_order_relaxed) : 0;
}

/* ---------------------------------------------------------------- model */

/* The writer's model and each reader's replay are the shared reference
 * (tests/c/support/tl_test_model.h). The writer marks each handle a delete
 * removed in dead[], which the drop tracker reads. */
static void mark_dead(void *ctx, tl_handle_t h) { ((uint8_t *)ctx)[h] = 1; }

/* ---------------------------------------------------------------- the world */

enum { OP_APPEND = 1, OP_DELETE = 2 };

/* One logged write or delete: appends cover handles [a, a + b) (timestamps
 * in ts_of), deletes the inclusive interval [a, b]. */
typedef struct sc_op {
    int kind;
    tl_seq_t seq;
    int64_t a, b;
} sc_op_t;

enum { DEL_RANGE, DEL_TS, DEL_BEFORE, DEL_SINCE, DEL_ALL };

typedef struct sc_world {
    tl_log_t *log;
    tlt_alloc_t own_alloc; /* used when the caller brings none */
    tlt_alloc_t *alloc;
    sc_drops_t drops;
    sc_fail_t fail;
    sc_report_t *rep;
    /* writer state (the calling thread) */
    tlt_model_t wm;
    uint8_t *dead;
    tl_seq_t seq; /* sequence of the last write/delete issued */
    size_t nh, h_cap;
    sc_rng_t rng;
    tl_ts_t cursor;
    tlt_rec_t *scratch; /* batch model records */
    tl_ts_t *bts;       /* batch arrays handed to the engine */
    tl_handle_t *bh;
    /* published to readers */
    sc_op_t *ops;
    size_t ops_cap;
    atomic_size_t n_ops;
    tl_ts_t *ts_of;
    atomic_bool stop;
    atomic_int closing; /* close-during-compaction: the writer entered tl_close */
} sc_world_t;

#define SC_BATCH_MAX 512

static void world_init(sc_world_t *w, const sc_hooks_t *hooks, size_t h_cap, size_t ops_cap,
                       sc_report_t *rep, uint64_t seed) {
    memset(w, 0, sizeof *w);
    memset(rep, 0, sizeof *rep);
    w->rep = rep;
    fail_init(&w->fail, rep);
    if (hooks->alloc != NULL) {
        w->alloc = hooks->alloc;
    } else {
        tlt_alloc_init_plain(&w->own_alloc);
        w->alloc = &w->own_alloc;
    }
    tlt_alloc_gate_reset(w->alloc);
    w->h_cap = h_cap;
    w->dead = xcalloc(h_cap, 1);
    w->ts_of = xcalloc(h_cap, sizeof *w->ts_of);
    w->ops_cap = ops_cap;
    w->ops = xcalloc(ops_cap, sizeof *w->ops);
    atomic_init(&w->n_ops, 0);
    atomic_init(&w->stop, false);
    atomic_init(&w->closing, 0);
    w->scratch = xmalloc(SC_BATCH_MAX * sizeof *w->scratch);
    w->bts = xmalloc(SC_BATCH_MAX * sizeof *w->bts);
    w->bh = xmalloc(SC_BATCH_MAX * sizeof *w->bh);
    tlt_model_init(&w->wm);
    rng_seed(&w->rng, seed);

    sc_drops_t *d = &w->drops;
    d->cap = h_cap;
    d->count = xcalloc(h_cap, sizeof *d->count);
    for (size_t i = 0; i < h_cap; i++) atomic_init(&d->count[i], 0);
    d->owner = tl_thread_id_self();
    atomic_init(&d->total, 0);
    atomic_init(&d->foreign, 0);
    atomic_init(&d->twice, 0);
    atomic_init(&d->out_of_range, 0);
    atomic_init(&d->live, 0);
    atomic_init(&d->first_twice, 0);
    atomic_init(&d->first_live, 0);
    d->dead = w->dead;
    d->closing = false;
    d->chain = hooks->on_drop;
    d->chain_ctx = hooks->on_drop_ctx;
}

static void world_free(sc_world_t *w) {
    tlt_model_free(&w->wm);
    free(w->dead);
    free(w->ts_of);
    free(w->ops);
    free(w->scratch);
    free(w->bts);
    free(w->bh);
    free((void *)w->drops.count);
    tlt_alloc_gate_open(w->alloc);
    if (w->alloc == &w->own_alloc) tlt_alloc_fini(&w->own_alloc);
    fail_destroy(&w->fail);
}

static bool world_open(sc_world_t *w, tl_config_t *cfg) {
    cfg->alloc = tlt_alloc_table(w->alloc);
    cfg->on_drop = core_on_drop;
    cfg->on_drop_ctx = &w->drops;
    const char *why = NULL;
    tl_status_t st = tl_config_check(cfg, &why);
    if (st != TL_OK) {
        fail(&w->fail, "tl_config_check: %s: %s", tl_strerror(st), why ? why : "?");
        return false;
    }
    st = tl_open(cfg, &w->log);
    if (st != TL_OK) {
        fail(&w->fail, "tl_open: %s", tl_strerror(st));
        return false;
    }
    return true;
}

static void world_close(sc_world_t *w) {
    if (w->log == NULL) return;
    w->drops.closing = true;
    tl_close(w->log);
    w->log = NULL;
}

/* Drop-tracker verdicts that hold at any time. */
static bool check_drop_tracker(sc_world_t *w) {
    sc_drops_t *d = &w->drops;
    uint64_t v;
    if ((v = atomic_load(&d->foreign)) != 0) {
        fail(&w->fail,
             "on_drop ran %" PRIu64 " time(s) outside the writer's thread "
             "(only tl_drain_retired / teardown callers may run it)",
             v);
        return false;
    }
    if ((v = atomic_load(&d->out_of_range)) != 0) {
        fail(&w->fail, "on_drop got %" PRIu64 " handle(s) never written", v);
        return false;
    }
    if ((v = atomic_load(&d->twice)) != 0) {
        fail(&w->fail, "handle %" PRIu64 " dropped twice (%" PRIu64 " double drops)",
             (uint64_t)atomic_load(&d->first_twice), v);
        return false;
    }
    if ((v = atomic_load(&d->live)) != 0) {
        fail(&w->fail,
             "handle %" PRIu64 " dropped while still visible (no delete hid it); "
             "%" PRIu64 " such drops",
             (uint64_t)atomic_load(&d->first_live), v);
        return false;
    }
    return true;
}

/* After close (teardown done): every handle written dropped exactly once. */
static bool check_all_dropped_once(sc_world_t *w) {
    if (!check_drop_tracker(w)) return false;
    for (size_t h = 0; h < w->nh; h++) {
        uint32_t c = drops_of(&w->drops, h);
        if (c != 1) {
            fail(&w->fail,
                 "after close handle %zu was dropped %u times, want exactly once "
                 "(%zu handles written)",
                 h, c, w->nh);
            return false;
        }
    }
    uint64_t total = atomic_load(&w->drops.total);
    if (total != w->nh) {
        fail(&w->fail, "on_drop ran %" PRIu64 " times for %zu handles", total, w->nh);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- writer ops */

static void log_op(sc_world_t *w, int kind, int64_t a, int64_t b) {
    size_t i = atomic_load_explicit(&w->n_ops, memory_order_relaxed);
    if (i >= w->ops_cap) {
        fail(&w->fail, "stress_core: operation log full (%zu)", w->ops_cap);
        return;
    }
    w->ops[i] = (sc_op_t){kind, w->seq + 1, a, b};
    atomic_store_explicit(&w->n_ops, i + 1, memory_order_release);
}

static bool write_status_ok(sc_world_t *w, tl_status_t st, const char *what) {
    if (st == TL_OK) return true;
    if (st == TL_EBUSY) {
        w->rep->busy++;
        return true;
    }
    fail(&w->fail, "%s -> %s (%d); want TL_OK or TL_EBUSY", what, tl_strerror(st), (int)st);
    return false;
}

/* One append; returns the engine's status (TL_OK / TL_EBUSY are stored). */
static tl_status_t w_append(sc_world_t *w, tl_ts_t ts) {
    if (w->nh >= w->h_cap) {
        fail(&w->fail, "stress_core: handle space exhausted");
        return TL_EINTERNAL;
    }
    tl_handle_t h = w->nh++;
    w->ts_of[h] = ts;
    log_op(w, OP_APPEND, (int64_t)h, 1);
    tl_status_t st = tl_append(w->log, ts, h);
    w->seq++;
    tlt_model_add(&w->wm, ts, h);
    w->rep->appends++;
    w->rep->records++;
    write_status_ok(w, st, "tl_append");
    return st;
}

/* A batch of n (<= SC_BATCH_MAX) records with the timestamps in w->bts. */
static tl_status_t w_batch(sc_world_t *w, size_t n) {
    if (n == 0 || n > SC_BATCH_MAX || w->nh + n > w->h_cap) {
        fail(&w->fail, "stress_core: bad batch of %zu", n);
        return TL_EINTERNAL;
    }
    tl_handle_t h0 = w->nh;
    for (size_t i = 0; i < n; i++) {
        w->bh[i] = h0 + i;
        w->ts_of[h0 + i] = w->bts[i];
        w->scratch[i] = (tlt_rec_t){w->bts[i], h0 + i};
    }
    w->nh += n;
    log_op(w, OP_APPEND, (int64_t)h0, (int64_t)n);
    tl_status_t st = tl_append_batch(w->log, w->bts, w->bh, n);
    w->seq++;
    tlt_model_add_recs(&w->wm, w->scratch, n);
    w->rep->batches++;
    w->rep->records += n;
    write_status_ok(w, st, "tl_append_batch");
    return st;
}

/* A non-empty delete (each takes one sequence number). */
static void w_delete(sc_world_t *w, int kind, tl_ts_t a, tl_ts_t b) {
    tl_ts_t lo, hi;
    switch (kind) {
    case DEL_RANGE:
        lo = a;
        hi = b - 1;
        break; /* [a, b), a < b */
    case DEL_TS: lo = hi = a; break;
    case DEL_BEFORE:
        lo = INT64_MIN;
        hi = b - 1;
        break; /* b > INT64_MIN */
    case DEL_SINCE:
        lo = a;
        hi = INT64_MAX;
        break;
    default:
        lo = INT64_MIN;
        hi = INT64_MAX;
        break;
    }
    if (lo > hi) {
        fail(&w->fail, "stress_core: empty delete requested");
        return;
    }
    log_op(w, OP_DELETE, lo, hi);
    tl_status_t st;
    const char *what;
    switch (kind) {
    case DEL_RANGE:
        st = tl_delete_range(w->log, a, b);
        what = "tl_delete_range";
        break;
    case DEL_TS:
        st = tl_delete_ts(w->log, a);
        what = "tl_delete_ts";
        break;
    case DEL_BEFORE:
        st = tl_delete_before(w->log, b);
        what = "tl_delete_before";
        break;
    case DEL_SINCE:
        st = tl_delete_since(w->log, a);
        what = "tl_delete_since";
        break;
    default:
        st = tl_delete_all(w->log);
        what = "tl_delete_all";
        break;
    }
    w->seq++;
    tlt_model_delete_incl(&w->wm, lo, hi, mark_dead, w->dead);
    w->rep->deletes++;
    write_status_ok(w, st, what);
}

static void w_drain(sc_world_t *w, size_t limit) {
    size_t n = 0;
    tl_status_t st = tl_drain_retired(w->log, limit, &n);
    if (st != TL_OK) {
        fail(&w->fail, "tl_drain_retired -> %s", tl_strerror(st));
        return;
    }
    if (limit != 0 && n > limit)
        fail(&w->fail, "tl_drain_retired(limit %zu) drained %zu", limit, n);
    w->rep->drains++;
    w->rep->drained += n;
}

static bool w_stats(sc_world_t *w, tl_stats_t *s) {
    tl_status_t st = tl_stats(w->log, s);
    if (st != TL_OK) {
        fail(&w->fail, "tl_stats -> %s", tl_strerror(st));
        return false;
    }
    if (s->memruns > w->rep->max_memruns) w->rep->max_memruns = s->memruns;
    if (s->l0_segments > w->rep->max_l0) w->rep->max_l0 = s->l0_segments;
    return true;
}

static bool w_validate(sc_world_t *w, const char *when) {
    const char *why = NULL;
    tl_status_t st = tl_validate(w->log, &why);
    if (st != TL_OK) {
        fail(&w->fail, "tl_validate (%s) -> %s: %s", when, tl_strerror(st), why ? why : "?");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- comparing reads */

typedef struct sc_buf {
    tl_ts_t *ts;
    tl_handle_t *h;
    size_t n, cap;
    tlt_rec_t *recs; /* spans, sorted for the subset check */
    size_t recs_cap;
} sc_buf_t;

static void buf_free(sc_buf_t *b) {
    free(b->ts);
    free(b->h);
    free(b->recs);
    memset(b, 0, sizeof *b);
}

static void buf_push(sc_buf_t *b, tl_ts_t ts, tl_handle_t h) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->ts = xrealloc(b->ts, b->cap * sizeof *b->ts);
        b->h = xrealloc(b->h, b->cap * sizeof *b->h);
    }
    b->ts[b->n] = ts;
    b->h[b->n] = h;
    b->n++;
}

static int h_cmp(const void *pa, const void *pb) {
    tl_handle_t a = *(const tl_handle_t *)pa, b = *(const tl_handle_t *)pb;
    return a < b ? -1 : a > b;
}

/* Reads an iterator to the end into b (mode picks next / next_batch and its
 * cap), checking each record is ours and was not dropped while pinned. */
static bool read_iter(sc_world_t *w, tl_iter_t *it, sc_buf_t *b, unsigned mode, const char *what) {
    b->n = 0;
    static const size_t caps[] = {1, 7, 64, 1024};
    for (;;) {
        if (mode % 5 == 4) {
            tl_ts_t ts;
            tl_handle_t h;
            tl_status_t st = tl_iter_next(it, &ts, &h);
            if (st == TL_EOF) break;
            if (st != TL_OK) {
                fail(&w->fail, "%s: tl_iter_next -> %s", what, tl_strerror(st));
                return false;
            }
            buf_push(b, ts, h);
        } else {
            size_t cap = caps[mode % 4], n = 0;
            if (b->n + cap > b->cap) {
                while (b->n + cap > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
                b->ts = xrealloc(b->ts, b->cap * sizeof *b->ts);
                b->h = xrealloc(b->h, b->cap * sizeof *b->h);
            }
            tl_status_t st = tl_iter_next_batch(it, b->ts + b->n, b->h + b->n, cap, &n);
            if (st != TL_OK && st != TL_EOF) {
                fail(&w->fail, "%s: tl_iter_next_batch -> %s", what, tl_strerror(st));
                return false;
            }
            if (n > cap) {
                fail(&w->fail, "%s: tl_iter_next_batch returned %zu > cap %zu", what, n, cap);
                return false;
            }
            b->n += n;
            if (n < cap) break;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        tl_handle_t h = b->h[i];
        if (h >= w->h_cap) {
            fail(&w->fail, "%s: handle %" PRIu64 " was never written", what, (uint64_t)h);
            return false;
        }
        if (drops_of(&w->drops, h) != 0) {
            fail(&w->fail,
                 "%s: handle %" PRIu64 " (ts %" PRId64 ") returned by a pinned snapshot "
                 "was already passed to on_drop",
                 what, (uint64_t)h, b->ts[i]);
            return false;
        }
    }
    return true;
}

/* The write and delete history of handle h up to seq, for failure messages. */
static void history(sc_world_t *w, tl_handle_t h, tl_seq_t seq, char *out, size_t len) {
    size_t n = atomic_load_explicit(&w->n_ops, memory_order_acquire);
    tl_seq_t wseq = 0;
    int off = 0;
    for (size_t i = 0; i < n; i++) {
        const sc_op_t *op = &w->ops[i];
        if (op->kind == OP_APPEND && (tl_handle_t)op->a <= h && h < (tl_handle_t)(op->a + op->b)) {
            wseq = op->seq;
            off = snprintf(out, len,
                           "handle %" PRIu64 " ts %" PRId64 " written at seq %" PRIu64
                           " (batch of %" PRId64 ")",
                           (uint64_t)h, w->ts_of[h], (uint64_t)wseq, op->b);
        } else if (op->kind == OP_DELETE && wseq != 0 && op->a <= w->ts_of[h] &&
                   w->ts_of[h] <= op->b && off >= 0 && (size_t)off < len) {
            off +=
                snprintf(out + off, len - (size_t)off,
                         "; deleted by [%" PRId64 ", %" PRId64 "] at seq %" PRIu64 "%s", op->a,
                         op->b, (uint64_t)op->seq, op->seq <= seq ? "" : " (after the snapshot)");
            break;
        }
    }
    if (wseq == 0) snprintf(out, len, "handle %" PRIu64 " not in the operation log", (uint64_t)h);
}

/* Describes the first record present on one side only. */
static void diff_records(sc_world_t *w, const sc_buf_t *got, const tlt_rec_t *want, size_t wn,
                         tl_seq_t seq, char *out, size_t len) {
    tlt_rec_t *g = xmalloc((got->n ? got->n : 1) * sizeof *g);
    for (size_t i = 0; i < got->n; i++) g[i] = (tlt_rec_t){got->ts[i], got->h[i]};
    qsort(g, got->n, sizeof *g, tlt_rec_cmp);
    size_t i = 0, j = 0;
    while (i < got->n && j < wn && tlt_rec_cmp(&g[i], &want[j]) == 0) {
        i++;
        j++;
    }
    char hist[256];
    if (i < got->n && (j == wn || tlt_rec_cmp(&g[i], &want[j]) < 0)) {
        history(w, g[i].h, seq, hist, sizeof hist);
        snprintf(out, len, "extra in the engine: %s", hist);
    } else if (j < wn) {
        history(w, want[j].h, seq, hist, sizeof hist);
        snprintf(out, len, "missing from the engine: %s", hist);
    } else {
        snprintf(out, len, "no differing record found");
    }
    free(g);
}

/* got (engine order) against want (sorted by (ts, h)): timestamps equal and
 * non-decreasing position by position, handles equal as a multiset within
 * each run of equal timestamps (their order is unspecified). */
static bool same_records(sc_world_t *w, sc_buf_t *got, const tlt_rec_t *want, size_t wn,
                         const char *what, tl_seq_t seq) {
    if (got->n != wn) {
        char diag[320];
        diff_records(w, got, want, wn, seq, diag, sizeof diag);
        fail(&w->fail, "%s at seq %" PRIu64 ": engine returned %zu records, model has %zu; %s",
             what, (uint64_t)seq, got->n, wn, diag);
        return false;
    }
    for (size_t i = 0; i < got->n; i++) {
        if (i > 0 && got->ts[i] < got->ts[i - 1]) {
            fail(&w->fail, "%s at seq %" PRIu64 ": out of order at %zu: %" PRId64 " after %" PRId64,
                 what, (uint64_t)seq, i, got->ts[i], got->ts[i - 1]);
            return false;
        }
        if (got->ts[i] != want[i].ts) {
            fail(&w->fail,
                 "%s at seq %" PRIu64 ": record %zu has ts %" PRId64 ", model %" PRId64
                 " (handle %" PRIu64 " vs %" PRIu64 ")",
                 what, (uint64_t)seq, i, got->ts[i], want[i].ts, (uint64_t)got->h[i],
                 (uint64_t)want[i].h);
            return false;
        }
    }
    for (size_t i = 0; i < got->n;) {
        size_t j = i + 1;
        while (j < got->n && got->ts[j] == got->ts[i]) j++;
        if (j - i > 1) qsort(got->h + i, j - i, sizeof *got->h, h_cmp);
        for (size_t k = i; k < j; k++) {
            if (got->h[k] != want[k].h) {
                fail(&w->fail,
                     "%s at seq %" PRIu64 ": at ts %" PRId64 " handle %" PRIu64
                     " where the model has %" PRIu64,
                     what, (uint64_t)seq, got->ts[k], (uint64_t)got->h[k], (uint64_t)want[k].h);
                return false;
            }
        }
        i = j;
    }
    return true;
}

/* Index range [*i0, *i1) of the model an iterator kind covers. */
enum { K_RANGE, K_SINCE, K_UNTIL, K_ALL, K_POINT, K_COUNT };

static void model_slice(const tlt_model_t *m, int kind, tl_ts_t a, tl_ts_t b, size_t *i0,
                        size_t *i1) {
    switch (kind) {
    case K_RANGE:
        if (a >= b) {
            *i0 = *i1 = 0;
        } else {
            *i0 = tlt_model_lower(m, a);
            *i1 = tlt_model_lower(m, b);
        }
        break;
    case K_SINCE:
        *i0 = tlt_model_lower(m, a);
        *i1 = m->n;
        break;
    case K_UNTIL:
        *i0 = 0;
        *i1 = tlt_model_lower(m, b);
        break;
    case K_POINT:
        *i0 = tlt_model_lower(m, a);
        *i1 = tlt_model_upper(m, a);
        break;
    default:
        *i0 = 0;
        *i1 = m->n;
        break;
    }
}

static tl_status_t open_iter(tl_snapshot_t *s, int kind, tl_ts_t a, tl_ts_t b, tl_iter_t **it) {
    switch (kind) {
    case K_RANGE: return tl_iter_range(s, a, b, it);
    case K_SINCE: return tl_iter_since(s, a, it);
    case K_UNTIL: return tl_iter_until(s, b, it);
    case K_POINT: return tl_iter_point(s, a, it);
    default: return tl_iter_all(s, it);
    }
}

static tl_status_t count_kind(tl_snapshot_t *s, int kind, tl_ts_t a, tl_ts_t b, uint64_t *out) {
    switch (kind) {
    case K_RANGE: return tl_count_range(s, a, b, out);
    case K_SINCE: return tl_count_since(s, a, out);
    case K_UNTIL: return tl_count_range(s, INT64_MIN, b, out);
    case K_POINT:
        return a == INT64_MAX ? tl_count_since(s, a, out) : tl_count_range(s, a, a + 1, out);
    default: return tl_count_all(s, out);
    }
}

static const char *kind_name(int kind) {
    static const char *names[] = {"iter_range", "iter_since", "iter_until", "iter_all",
                                  "iter_point"};
    return kind >= 0 && kind < K_COUNT ? names[kind] : "?";
}

/* Iterates and counts one kind of query on snap against the model. When
 * release_first, the snapshot is released right after the iterator opens
 * (the iterator holds its own pin) and *snap becomes NULL. */
static bool check_query(sc_world_t *w, tl_snapshot_t **snap, const tlt_model_t *m, sc_buf_t *buf,
                        int kind, tl_ts_t a, tl_ts_t b, unsigned mode, bool release_first) {
    tl_seq_t seq = tl_snapshot_seq(*snap);
    size_t i0, i1;
    model_slice(m, kind, a, b, &i0, &i1);
    char what[160];
    snprintf(what, sizeof what, "%s(%" PRId64 ", %" PRId64 ")%s", kind_name(kind), a, b,
             release_first ? " after snapshot release" : "");
    tl_status_t st;
    tl_iter_t *it = NULL;
    st = open_iter(*snap, kind, a, b, &it);
    if (st != TL_OK) {
        fail(&w->fail, "%s -> %s", what, tl_strerror(st));
        return false;
    }
    uint64_t rem = 0;
    tl_status_t rem_st = tl_iter_remaining(it, &rem);
    if (release_first) {
        tl_snapshot_release(*snap);
        *snap = NULL;
    }
    bool ok = read_iter(w, it, buf, mode, what);
    tl_iter_close(it);
    if (!ok || !same_records(w, buf, m->r + i0, i1 - i0, what, seq)) return false;
    if (rem_st != TL_OK || rem != i1 - i0) {
        fail(&w->fail,
             "tl_iter_remaining for %s at seq %" PRIu64 " -> %s, %" PRIu64 "; model and "
             "iteration %zu",
             what, (uint64_t)seq, tl_strerror(rem_st), rem, i1 - i0);
        return false;
    }
    if (*snap == NULL) return true;
    /* The count after the iteration matched: a mismatch is the count's. */
    uint64_t cnt = 0;
    st = count_kind(*snap, kind, a, b, &cnt);
    if (st != TL_OK) {
        fail(&w->fail, "count for %s -> %s", what, tl_strerror(st));
        return false;
    }
    if (cnt != i1 - i0) {
        fail(&w->fail,
             "count for %s at seq %" PRIu64 ": engine %" PRIu64 ", model and iteration "
             "%zu",
             what, (uint64_t)seq, cnt, i1 - i0);
        return false;
    }
    return true;
}

/* Spans over [a, b): each span sorted, inside the range, at a known level;
 * together a sub-multiset of the visible records (the memtable part is
 * never exposed, so not necessarily all of them). */
static bool check_spans(sc_world_t *w, tl_snapshot_t *snap, const tlt_model_t *m, sc_buf_t *buf,
                        int kind, tl_ts_t a, tl_ts_t b) {
    tl_span_iter_t *sp = NULL;
    tl_status_t st;
    if (kind == K_SINCE)
        st = tl_spans_since(snap, a, &sp);
    else if (kind == K_ALL)
        st = tl_spans_all(snap, &sp);
    else
        st = tl_spans_range(snap, a, b, &sp);
    if (st != TL_OK) {
        fail(&w->fail, "tl_spans_* -> %s", tl_strerror(st));
        return false;
    }
    tl_ts_t lo = kind == K_ALL ? INT64_MIN : a;
    size_t n = 0;
    tl_span_t span;
    while ((st = tl_spans_next(sp, &span)) == TL_OK) {
        if (span.level < 0 || span.level > 2) {
            fail(&w->fail, "span with level %d", span.level);
            tl_spans_close(sp);
            return false;
        }
        if (n + span.n > buf->recs_cap) {
            while (n + span.n > buf->recs_cap)
                buf->recs_cap = buf->recs_cap ? buf->recs_cap * 2 : 4096;
            buf->recs = xrealloc(buf->recs, buf->recs_cap * sizeof *buf->recs);
        }
        for (size_t i = 0; i < span.n; i++) {
            tl_ts_t t = span.ts[i];
            bool in = t >= lo && (kind == K_ALL || kind == K_SINCE || t < b);
            if (!in || (i > 0 && t < span.ts[i - 1])) {
                fail(&w->fail,
                     "span record %zu ts %" PRId64 " outside [%" PRId64 ", %" PRId64
                     ") or out of order (level %d)",
                     i, t, a, b, span.level);
                tl_spans_close(sp);
                return false;
            }
            if (span.h[i] >= w->h_cap || drops_of(&w->drops, span.h[i]) != 0) {
                fail(&w->fail, "span handle %" PRIu64 " never written or already dropped",
                     (uint64_t)span.h[i]);
                tl_spans_close(sp);
                return false;
            }
            buf->recs[n++] = (tlt_rec_t){t, span.h[i]};
        }
    }
    tl_spans_close(sp);
    if (st != TL_EOF) {
        fail(&w->fail, "tl_spans_next -> %s", tl_strerror(st));
        return false;
    }
    if (n > 1) qsort(buf->recs, n, sizeof *buf->recs, tlt_rec_cmp);
    size_t i0, i1;
    model_slice(m, kind, a, b, &i0, &i1);
    size_t j = i0;
    for (size_t i = 0; i < n; i++) {
        while (j < i1 && tlt_rec_cmp(&m->r[j], &buf->recs[i]) < 0) j++;
        if (j >= i1 || tlt_rec_cmp(&m->r[j], &buf->recs[i]) != 0) {
            fail(&w->fail,
                 "span record (ts %" PRId64 ", handle %" PRIu64 ") at seq %" PRIu64
                 " is not visible in the model (deleted, never written, or repeated)",
                 buf->recs[i].ts, (uint64_t)buf->recs[i].h, (uint64_t)tl_snapshot_seq(snap));
            return false;
        }
        j++;
    }
    return true;
}

/* count_buckets over edges inside [a, b] against the model. */
static bool check_buckets(sc_world_t *w, tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t a,
                          tl_ts_t b) {
    if (a > b) return true;
    tl_ts_t e[5];
    uint64_t got[4];
    /* Four buckets; the width is computed without overflowing int64. */
    uint64_t span = (uint64_t)b - (uint64_t)a;
    for (int i = 0; i < 5; i++) e[i] = (tl_ts_t)((uint64_t)a + span / 4 * (uint64_t)i);
    e[4] = b;
    tl_status_t st = tl_count_buckets(snap, e, 5, got);
    if (st != TL_OK) {
        fail(&w->fail, "tl_count_buckets -> %s", tl_strerror(st));
        return false;
    }
    for (int i = 0; i < 4; i++) {
        size_t want =
            e[i] >= e[i + 1] ? 0 : tlt_model_lower(m, e[i + 1]) - tlt_model_lower(m, e[i]);
        if (got[i] != want) {
            fail(&w->fail,
                 "count_buckets [%" PRId64 ", %" PRId64 ") at seq %" PRIu64 ": engine %" PRIu64
                 ", model %zu",
                 e[i], e[i + 1], (uint64_t)tl_snapshot_seq(snap), got[i], want);
            return false;
        }
    }
    return true;
}

static bool check_neighbours(sc_world_t *w, tl_snapshot_t *snap, const tlt_model_t *m, tl_ts_t a) {
    tl_ts_t got = 0;
    tl_status_t st;
    /* min / max */
    st = tl_min_ts(snap, &got);
    if (m->n == 0 ? st != TL_EOF : (st != TL_OK || got != m->r[0].ts)) {
        fail(&w->fail, "tl_min_ts -> %s %" PRId64 ", model %s %" PRId64, tl_strerror(st), got,
             m->n ? "min" : "empty", m->n ? m->r[0].ts : 0);
        return false;
    }
    st = tl_max_ts(snap, &got);
    if (m->n == 0 ? st != TL_EOF : (st != TL_OK || got != m->r[m->n - 1].ts)) {
        fail(&w->fail, "tl_max_ts -> %s %" PRId64 ", model %s %" PRId64, tl_strerror(st), got,
             m->n ? "max" : "empty", m->n ? m->r[m->n - 1].ts : 0);
        return false;
    }
    size_t u = tlt_model_upper(m, a);
    st = tl_next_ts(snap, a, &got);
    if (u == m->n ? st != TL_EOF : (st != TL_OK || got != m->r[u].ts)) {
        fail(&w->fail, "tl_next_ts(%" PRId64 ") -> %s %" PRId64 ", model %s", a, tl_strerror(st),
             got, u == m->n ? "none" : "has one");
        return false;
    }
    size_t l = tlt_model_lower(m, a);
    st = tl_prev_ts(snap, a, &got);
    if (l == 0 ? st != TL_EOF : (st != TL_OK || got != m->r[l - 1].ts)) {
        fail(&w->fail, "tl_prev_ts(%" PRId64 ") -> %s %" PRId64 ", model %s", a, tl_strerror(st),
             got, l == 0 ? "none" : "has one");
        return false;
    }
    return true;
}

/* Order-independent fingerprint of everything a snapshot shows. */
static bool fingerprint(sc_world_t *w, tl_snapshot_t *snap, sc_buf_t *buf, uint64_t *count,
                        uint64_t *hash) {
    tl_iter_t *it = NULL;
    tl_status_t st = tl_iter_all(snap, &it);
    if (st != TL_OK) {
        fail(&w->fail, "tl_iter_all (fingerprint) -> %s", tl_strerror(st));
        return false;
    }
    bool ok = read_iter(w, it, buf, 3, "fingerprint");
    tl_iter_close(it);
    if (!ok) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < buf->n; i++) {
        uint64_t v =
            (uint64_t)buf->ts[i] * 0x9E3779B97F4A7C15ull ^ (buf->h[i] + 0x632BE59BD9B4E019ull);
        v ^= v >> 31;
        v *= 0xBF58476D1CE4E5B9ull;
        x += v ^ (v >> 29);
    }
    *count = buf->n;
    *hash = x;
    return true;
}

/* Full comparison of a fresh snapshot with the writer's model. */
static bool writer_check_full(sc_world_t *w, const char *when) {
    tl_snapshot_t *snap = NULL;
    tl_status_t st = tl_snapshot_acquire(w->log, &snap);
    if (st != TL_OK) {
        fail(&w->fail, "tl_snapshot_acquire (%s) -> %s", when, tl_strerror(st));
        return false;
    }
    bool ok = true;
    if (tl_snapshot_seq(snap) != w->seq) {
        fail(&w->fail,
             "%s: snapshot seq %" PRIu64 " but the writer issued %" PRIu64
             " writes/deletes (one sequence number each)",
             when, (uint64_t)tl_snapshot_seq(snap), (uint64_t)w->seq);
        ok = false;
    }
    sc_buf_t buf = {0};
    ok = ok && check_query(w, &snap, &w->wm, &buf, K_ALL, 0, 0, 3, false);
    ok = ok && check_neighbours(w, snap, &w->wm, w->cursor);
    ok = ok && check_spans(w, snap, &w->wm, &buf, K_ALL, 0, 0);
    tl_snapshot_release(snap);
    buf_free(&buf);
    if (!ok) {
        size_t l = strlen(w->fail.why);
        if (l + 32 < w->fail.why_len) snprintf(w->fail.why + l, w->fail.why_len - l, " [%s]", when);
    }
    return ok;
}

/* flush + compact + drain with no snapshot: exactly the deleted handles
 * have been dropped (SPEC: after flush() + compact() no deleted record's
 * object is still referenced). */
static bool writer_settle(sc_world_t *w) {
    tl_status_t st;
    if (tl_maint_running(w->log) && (st = tl_maint_stop(w->log)) != TL_OK) {
        fail(&w->fail, "tl_maint_stop -> %s", tl_strerror(st));
        return false;
    }
    if ((st = tl_flush(w->log)) != TL_OK || (st = tl_compact(w->log)) != TL_OK) {
        fail(&w->fail, "settle: flush/compact -> %s", tl_strerror(st));
        return false;
    }
    for (;;) { /* drain_batch_limit may cap each call */
        size_t n = 0;
        if ((st = tl_drain_retired(w->log, 0, &n)) != TL_OK) {
            fail(&w->fail, "settle: tl_drain_retired -> %s", tl_strerror(st));
            return false;
        }
        if (n == 0) break;
    }
    if (tl_retired_len(w->log) != 0) {
        fail(&w->fail, "settle: %zu handles still queued with no snapshot alive",
             tl_retired_len(w->log));
        return false;
    }
    if (!check_drop_tracker(w)) return false;
    for (size_t h = 0; h < w->nh; h++) {
        uint32_t c = drops_of(&w->drops, h);
        if (c != w->dead[h]) {
            fail(&w->fail,
                 "after flush+compact+drain handle %zu (ts %" PRId64 ") dropped %u "
                 "times, want %u (deleted: %s)",
                 h, w->ts_of[h], c, w->dead[h], w->dead[h] ? "yes" : "no");
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- readers */

typedef struct sc_reader {
    sc_world_t *w;
    tl_thread_t th;
    sc_rng_t rng;
    tlt_model_t m;
    size_t applied; /* operations replayed into m */
    tl_seq_t mseq;  /* sequence m reflects */
    sc_buf_t buf;
    tlt_rec_t *bscratch;
    uint64_t snapshots, range_checks, full_checks, span_checks, held_checks, records;
} sc_reader_t;

/* Replays the logged operations up to sequence seq into the reader's model. */
static bool reader_advance(sc_reader_t *rd, tl_seq_t seq) {
    sc_world_t *w = rd->w;
    if (seq < rd->mseq) {
        fail(&w->fail, "a later snapshot has an older sequence (%" PRIu64 " after %" PRIu64 ")",
             (uint64_t)seq, (uint64_t)rd->mseq);
        return false;
    }
    size_t n = atomic_load_explicit(&w->n_ops, memory_order_acquire);
    while (rd->applied < n && w->ops[rd->applied].seq <= seq) {
        const sc_op_t *op = &w->ops[rd->applied++];
        if (op->kind == OP_APPEND) {
            tl_handle_t h0 = (tl_handle_t)op->a;
            size_t k = (size_t)op->b;
            if (k == 1) {
                tlt_model_add(&rd->m, w->ts_of[h0], h0);
            } else {
                for (size_t i = 0; i < k; i++)
                    rd->bscratch[i] = (tlt_rec_t){w->ts_of[h0 + i], h0 + i};
                tlt_model_add_recs(&rd->m, rd->bscratch, k);
            }
        } else {
            tlt_model_delete_incl(&rd->m, op->a, op->b, NULL, NULL);
        }
        rd->mseq = op->seq;
    }
    if (rd->mseq != seq) {
        fail(&w->fail,
             "snapshot at seq %" PRIu64 " but the operation log ends at seq %" PRIu64
             " (a sequence number the writer never issued)",
             (uint64_t)seq, (uint64_t)rd->mseq);
        return false;
    }
    return true;
}

static void pick_range(sc_reader_t *rd, tl_ts_t *a, tl_ts_t *b) {
    const tlt_model_t *m = &rd->m;
    tl_ts_t base = m->n ? m->r[rng_below(&rd->rng, m->n)].ts : (tl_ts_t)rng_below(&rd->rng, 1000);
    base = sat_add(base, -(int64_t)rng_below(&rd->rng, 64));
    static const int64_t widths[] = {0, 1, 7, 64, 500, 5000, 60000};
    unsigned r = (unsigned)rng_below(&rd->rng, 10);
    if (r < 7) {
        *a = base;
        *b = sat_add(base, widths[r]);
    } else if (r == 7) {
        *a = base;
        *b = INT64_MAX;
    } else if (r == 8) {
        *a = INT64_MIN;
        *b = base;
    } else { /* reversed: an empty range, never an error */
        *a = sat_add(base, 10);
        *b = base;
    }
}

/* All checks on one snapshot. Returns true if it released snap itself. */
static bool reader_check(sc_reader_t *rd, tl_snapshot_t **snap) {
    sc_world_t *w = rd->w;
    const tlt_model_t *m = &rd->m;
    tl_ts_t a, b;
    pick_range(rd, &a, &b);
    unsigned mode = (unsigned)rng_below(&rd->rng, 5);
    unsigned r = (unsigned)rng_below(&rd->rng, 16);
    int kind = r < 8 ? K_RANGE : r < 10 ? K_SINCE : r < 12 ? K_UNTIL : r < 14 ? K_POINT : K_ALL;
    if (kind == K_POINT && m->n) a = m->r[rng_below(&rd->rng, m->n)].ts;
    bool release_first = rng_below(&rd->rng, 8) == 0;
    if (!check_query(w, snap, m, &rd->buf, kind, a, b, mode, release_first)) return *snap == NULL;
    rd->records += rd->buf.n;
    if (kind == K_ALL)
        rd->full_checks++;
    else
        rd->range_checks++;
    if (*snap == NULL) return true;
    if (!check_neighbours(w, *snap, m, a) || !check_buckets(w, *snap, m, a, b)) return false;
    if (rng_below(&rd->rng, 3) == 0) {
        int sk = kind == K_SINCE || kind == K_ALL ? kind : K_RANGE;
        if (!check_spans(w, *snap, m, &rd->buf, sk, a, b)) return false;
        rd->span_checks++;
    }
    return false;
}

static void *reader_main(void *arg) {
    sc_reader_t *rd = arg;
    sc_world_t *w = rd->w;
    tl_snapshot_t *held = NULL;
    uint64_t held_count = 0, held_hash = 0;
    int held_age = 0;
    /* At least one round, so every reader checks a snapshot however the
     * threads are scheduled. */
    for (bool first = true;
         first || (!atomic_load_explicit(&w->stop, memory_order_acquire) && !failed(&w->fail));
         first = false) {
        tl_snapshot_t *snap = NULL;
        tl_status_t st = tl_snapshot_acquire(w->log, &snap);
        if (st != TL_OK) {
            fail(&w->fail, "reader: tl_snapshot_acquire -> %s", tl_strerror(st));
            break;
        }
        rd->snapshots++;
        if (!reader_advance(rd, tl_snapshot_seq(snap))) {
            tl_snapshot_release(snap);
            break;
        }
        bool released = reader_check(rd, &snap);
        if (!released) {
            if (held == NULL && !failed(&w->fail) && rng_below(&rd->rng, 6) == 0) {
                /* Kept across later writes, flushes and compactions; it must
                 * read the same when looked at again. The model matched it
                 * above, so its fingerprint is the model's. */
                if (!fingerprint(w, snap, &rd->buf, &held_count, &held_hash)) {
                    tl_snapshot_release(snap);
                    break;
                }
                held = snap;
                held_age = 0;
            } else {
                tl_snapshot_release(snap);
            }
        }
        if (held != NULL && ++held_age > 6) {
            uint64_t c = 0, x = 0;
            if (fingerprint(w, held, &rd->buf, &c, &x) && (c != held_count || x != held_hash))
                fail(&w->fail,
                     "a held snapshot (seq %" PRIu64 ") changed: %" PRIu64 " records "
                     "(hash %016" PRIx64 ") became %" PRIu64 " (hash %016" PRIx64 ")",
                     (uint64_t)tl_snapshot_seq(held), held_count, held_hash, c, x);
            tl_snapshot_release(held);
            held = NULL;
            rd->held_checks++;
        }
    }
    tl_snapshot_release(held);
    return NULL;
}

/* ---------------------------------------------------------------- the stress scenario */

void sc_default_params(sc_params_t *p, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->readers = 3;
    p->seconds = 1.2;
    p->max_ops = 400000;
    p->min_ops = 4096;
    tl_config_init(&p->cfg);
    p->cfg.maintenance = TL_MAINT_BACKGROUND;
    p->cfg.memtable_max_bytes = 4096;
    p->cfg.target_page_bytes = 256;
    p->cfg.ooo_budget_bytes = 1024;
    p->cfg.maintenance_wakeup_ms = 1;
    p->cfg.max_delta_segments = 3;
    p->cfg.window_size = 1000;
    p->cfg.sealed_max_runs = 4;
    p->cfg.sealed_wait_ms = 0;
}

/* Timestamps: a cursor advancing 0-2 per record (duplicates), 6% of single
 * appends up to 600 behind it, rare int64 extremes. */
static tl_ts_t next_ts(sc_world_t *w) {
    if (rng_below(&w->rng, 100) < 6) return w->cursor - 1 - (tl_ts_t)rng_below(&w->rng, 600);
    w->cursor += (tl_ts_t)rng_below(&w->rng, 3);
    return w->cursor;
}

static void stress_batch(sc_world_t *w) {
    size_t n =
        rng_below(&w->rng, 10) == 0 ? 90 + rng_below(&w->rng, 300) : 1 + rng_below(&w->rng, 48);
    unsigned shape = (unsigned)rng_below(&w->rng, 4);
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0: w->bts[i] = w->cursor + (tl_ts_t)(i / 2); break; /* sorted, in order */
        case 1: w->bts[i] = w->cursor + (tl_ts_t)(n - i); break; /* reversed */
        case 2:
            w->bts[i] = w->cursor - 800 + (tl_ts_t)rng_below(&w->rng, 850);
            break; /* shuffled, late */
        default:
            w->bts[i] = w->cursor - (tl_ts_t)rng_below(&w->rng, 5);
            break; /* duplicate-heavy */
        }
    }
    if (shape <= 1) w->cursor += (tl_ts_t)n;
    w_batch(w, n);
}

static void stress_write(sc_world_t *w) {
    unsigned r = (unsigned)rng_below(&w->rng, 1000);
    if (r < 760) {
        w_append(w, next_ts(w));
    } else if (r < 830) {
        stress_batch(w);
    } else if (r < 880) {
        tl_ts_t a = w->cursor - (tl_ts_t)rng_below(&w->rng, 3000);
        w_delete(w, DEL_RANGE, a, a + 1 + (tl_ts_t)rng_below(&w->rng, 200));
    } else if (r < 900) {
        tl_ts_t t = w->wm.n && rng_below(&w->rng, 2) ? w->wm.r[rng_below(&w->rng, w->wm.n)].ts
                                                     : w->cursor - (tl_ts_t)rng_below(&w->rng, 100);
        w_delete(w, DEL_TS, t, 0);
    } else if (r < 903) {
        w_delete(w, DEL_SINCE, w->cursor - (tl_ts_t)rng_below(&w->rng, 40), 0);
    } else if (r < 906) {
        static const tl_ts_t ext[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX};
        w_append(w, ext[rng_below(&w->rng, 4)]);
    } else {
        w_append(w, next_ts(w));
    }
}

/* Periodic lifecycle calls, by operation number. */
static void stress_periodic(sc_world_t *w, const sc_params_t *p, size_t op) {
    tl_status_t st;
    if (op % 300 == 299) { /* cutoff: keeps the live set to a sliding window */
        w_delete(w, DEL_BEFORE, 0, w->cursor - 4000 - (tl_ts_t)rng_below(&w->rng, 4000));
        w->rep->cutoffs++;
    }
    if (op % 30011 == 30010) w_delete(w, DEL_ALL, 0, 0);
    if (op % 50 == 49) w_drain(w, rng_below(&w->rng, 3) == 0 ? 17 : 0);
    if (p->explicit_maint) {
        if (op % 1500 == 1499) {
            if ((st = tl_flush(w->log)) != TL_OK) fail(&w->fail, "tl_flush -> %s", tl_strerror(st));
            w->rep->flushes++;
        }
        if (op % 4700 == 4699) {
            if ((st = tl_compact(w->log)) != TL_OK)
                fail(&w->fail, "tl_compact -> %s", tl_strerror(st));
            w->rep->compacts++;
        }
        if (op % 900 == 899) {
            st = tl_maint_step(w->log);
            if (st != TL_OK && st != TL_EOF) fail(&w->fail, "tl_maint_step -> %s", tl_strerror(st));
            w->rep->steps++;
        }
    }
    if (p->toggle_maint && op % 2500 == 2499) {
        bool running = tl_maint_running(w->log) != 0;
        st = running ? tl_maint_stop(w->log) : tl_maint_start(w->log);
        if (st != TL_OK)
            fail(&w->fail, "tl_maint_%s -> %s", running ? "stop" : "start", tl_strerror(st));
        if ((tl_maint_running(w->log) != 0) == running)
            fail(&w->fail, "tl_maint_running still %d after tl_maint_%s", (int)running,
                 running ? "stop" : "start");
        w->rep->toggles++;
    }
}

/* Every 256 operations: the sequence bookkeeping and the exact count. */
static void stress_probe(sc_world_t *w) {
    tl_snapshot_t *s = NULL;
    tl_status_t st = tl_snapshot_acquire(w->log, &s);
    if (st != TL_OK) {
        fail(&w->fail, "writer: tl_snapshot_acquire -> %s", tl_strerror(st));
        return;
    }
    uint64_t c = 0;
    if (tl_snapshot_seq(s) != w->seq)
        fail(&w->fail,
             "writer: snapshot seq %" PRIu64 " after %" PRIu64 " writes/deletes "
             "(each takes one sequence number)",
             (uint64_t)tl_snapshot_seq(s), (uint64_t)w->seq);
    else if ((st = tl_count_all(s, &c)) != TL_OK || c != w->wm.n)
        fail(&w->fail, "writer: count_all -> %s %" PRIu64 ", model %zu", tl_strerror(st), c,
             w->wm.n);
    tl_snapshot_release(s);
}

int sc_stress(const sc_hooks_t *hooks, const sc_params_t *p, sc_report_t *rep) {
    sc_world_t *w = xcalloc(1, sizeof *w);
    size_t ops_cap = p->max_ops + p->max_ops / 100 + 1024; /* + cutoffs, delete_all */
    size_t h_cap = (size_t)1 << 21;
    world_init(w, hooks, h_cap, ops_cap, rep, p->seed);
    sc_reader_t *rds = xcalloc(SC_MAX_READERS, sizeof *rds);
    unsigned nr = p->readers > SC_MAX_READERS ? SC_MAX_READERS : p->readers;
    unsigned started = 0;
    tl_config_t cfg = p->cfg;
    double t0 = now_s();
    if (!world_open(w, &cfg)) goto out;
    for (unsigned i = 0; i < nr; i++) {
        sc_reader_t *rd = &rds[i];
        rd->w = w;
        rng_seed(&rd->rng, p->seed * 131 + i + 1);
        tlt_model_init(&rd->m);
        rd->bscratch = xmalloc(SC_BATCH_MAX * sizeof *rd->bscratch);
        if (!tl_thread_start(&rd->th, reader_main, rd)) {
            fail(&w->fail, "tl_thread_start failed");
            break;
        }
        started++;
    }
    t0 = now_s();
    size_t op = 0;
    for (; op < p->max_ops && !failed(&w->fail); op++) {
        if (op % 256 == 0) {
            if (op >= p->min_ops && now_s() - t0 > p->seconds) break;
            stress_probe(w);
            if (op % 2048 == 0) {
                tl_stats_t s;
                w_stats(w, &s);
            }
        }
        if (w->nh + 2 * SC_BATCH_MAX > w->h_cap) break;
        stress_write(w);
        stress_periodic(w, p, op);
    }
    rep->ops = op;
    rep->seconds = now_s() - t0;
    atomic_store_explicit(&w->stop, true, memory_order_release);
    for (unsigned i = 0; i < started; i++) tl_thread_join(rds[i].th);
    for (unsigned i = 0; i < started; i++) {
        rep->snapshots += rds[i].snapshots;
        rep->range_checks += rds[i].range_checks;
        rep->full_checks += rds[i].full_checks;
        rep->span_checks += rds[i].span_checks;
        rep->held_checks += rds[i].held_checks;
        rep->reader_records += rds[i].records;
    }
    rep->worker_allocs = tlt_alloc_gate_foreign(w->alloc);
    if (failed(&w->fail)) goto out;
    if (nr > 0 && rep->snapshots == 0) {
        fail(&w->fail, "the readers never got to read a snapshot");
        goto out;
    }
    if (!writer_check_full(w, "end of run") || !w_validate(w, "end of run") ||
        !check_drop_tracker(w))
        goto out;
    tl_stats_t s;
    if (!w_stats(w, &s)) goto out;
    if (s.records != w->wm.n) {
        fail(&w->fail, "stats.records %" PRIu64 ", model %zu", s.records, w->wm.n);
        goto out;
    }
    if (s.seq != w->seq) {
        fail(&w->fail, "stats.seq %" PRIu64 ", writer issued %" PRIu64, s.seq, (uint64_t)w->seq);
        goto out;
    }
    if (!writer_settle(w) || !writer_check_full(w, "after settle") ||
        !w_validate(w, "after settle"))
        goto out;
    world_close(w);
    check_all_dropped_once(w);
out:
    atomic_store_explicit(&w->stop, true, memory_order_release);
    world_close(w);
    for (unsigned i = 0; i < nr; i++) {
        tlt_model_free(&rds[i].m);
        buf_free(&rds[i].buf);
        free(rds[i].bscratch);
    }
    free(rds);
    int rc = failed(&w->fail) ? -1 : 0;
    world_free(w);
    free(w);
    return rc;
}

/* ---------------------------------------------------------------- close during compaction */

static void *close_helper(void *arg) {
    sc_world_t *w = arg;
    /* Releases the worker only once the writer is inside tl_close, so the
     * close always overlaps the worker's unit of work. */
    while (!atomic_load_explicit(&w->closing, memory_order_acquire)) sleep_ms(1);
    sleep_ms(20);
    tlt_alloc_gate_open(w->alloc);
    return NULL;
}

static void small_config(tl_config_t *cfg, tl_maintenance_t mode) {
    tl_config_init(cfg);
    cfg->maintenance = mode;
    cfg->memtable_max_bytes = 4096;
    cfg->target_page_bytes = 256;
    cfg->maintenance_wakeup_ms = 1;
    cfg->window_size = 100;
}

static bool poll_stats(sc_world_t *w, unsigned timeout_ms, bool (*done)(const tl_stats_t *),
                       const char *what) {
    double end = now_s() + timeout_ms / 1000.0;
    tl_stats_t s;
    for (;;) {
        if (!w_stats(w, &s)) return false;
        if (done(&s)) return true;
        if (now_s() > end) {
            fail(&w->fail,
                 "timed out after %u ms waiting for %s (memruns %" PRIu64 ", L0 %" PRIu64
                 ", flushes %" PRIu64 ", compactions %" PRIu64 ")",
                 timeout_ms, what, s.memruns, s.l0_segments, s.flushes, s.compactions);
            return false;
        }
        sleep_ms(1);
    }
}

static bool compacted_all_l0(const tl_stats_t *s) {
    return s->compactions >= 1 && s->l0_segments == 0 && s->memruns == 0;
}

int sc_close_during_compaction(const sc_hooks_t *hooks, uint64_t block_at, bool with_deletes,
                               bool hold_snapshot, uint64_t *allocs_out, sc_report_t *rep) {
    sc_world_t *w = xcalloc(1, sizeof *w);
    world_init(w, hooks, 16384, 16384, rep, 7); /* same data for every block_at */
    tl_snapshot_t *snap = NULL;
    tl_thread_t helper;
    bool helper_started = false;
    tl_config_t cfg;
    small_config(&cfg, TL_MAINT_DISABLED);
    cfg.max_delta_segments = 2;
    cfg.sealed_max_runs = 64;
    if (!world_open(w, &cfg)) goto out;
    /* Three overlapping L0 segments: more than max_delta_segments, so the
     * worker's first unit is a compaction of all of them. */
    for (int seg = 0; seg < 3 && !failed(&w->fail); seg++) {
        for (int i = 0; i < 1500; i++) w_append(w, (tl_ts_t)rng_below(&w->rng, 3000));
        for (size_t i = 0; i < 100; i++) w->bts[i] = (tl_ts_t)rng_below(&w->rng, 3000);
        w_batch(w, 100);
        if (with_deletes) {
            w_delete(w, DEL_RANGE, seg * 700, seg * 700 + 300);
            w_delete(w, DEL_TS, (tl_ts_t)rng_below(&w->rng, 3000), 0);
        }
        tl_status_t st = tl_flush(w->log);
        if (st != TL_OK) fail(&w->fail, "tl_flush -> %s", tl_strerror(st));
    }
    if (failed(&w->fail)) goto out;
    tl_stats_t s;
    if (!w_stats(w, &s)) goto out;
    if (s.l0_segments < 3 || s.memruns != 0) {
        fail(&w->fail, "setup: %" PRIu64 " L0 segments and %" PRIu64 " memruns, want >= 3 and 0",
             s.l0_segments, s.memruns);
        goto out;
    }
    if (!writer_check_full(w, "before compaction")) goto out;
    if (hold_snapshot) {
        tl_status_t st = tl_snapshot_acquire(w->log, &snap);
        if (st != TL_OK) {
            fail(&w->fail, "tl_snapshot_acquire -> %s", tl_strerror(st));
            goto out;
        }
    }
    tlt_alloc_gate_arm(w->alloc, block_at);
    tl_status_t st = tl_maint_start(w->log);
    if (st != TL_OK || !tl_maint_running(w->log)) {
        fail(&w->fail, "tl_maint_start -> %s, running %d", tl_strerror(st),
             tl_maint_running(w->log));
        tlt_alloc_gate_open(w->alloc);
        goto out;
    }
    if (block_at == 0) {
        /* Calibration: let the compaction finish and count its allocations. */
        if (!poll_stats(w, 20000, compacted_all_l0, "the worker to compact L0")) goto out;
        sleep_ms(20);
        rep->worker_allocs = tlt_alloc_gate_foreign(w->alloc);
        if (allocs_out != NULL) *allocs_out = rep->worker_allocs;
        if (!writer_check_full(w, "after the worker's compaction")) goto out;
    } else {
        if (!tlt_alloc_gate_wait_blocked(w->alloc, 20000)) {
            fail(&w->fail, "the worker never made its allocation #%" PRIu64 " (made %" PRIu64 ")",
                 block_at, tlt_alloc_gate_foreign(w->alloc));
            tlt_alloc_gate_open(w->alloc);
            goto out;
        }
        if (!tl_thread_start(&helper, close_helper, w)) {
            fail(&w->fail, "tl_thread_start failed");
            tlt_alloc_gate_open(w->alloc);
            goto out;
        }
        helper_started = true;
        rep->worker_allocs = block_at;
    }
    atomic_store_explicit(&w->closing, 1, memory_order_release);
    world_close(w);
    if (helper_started) tl_thread_join(helper);
    helper_started = false;
    if (!check_drop_tracker(w)) goto out;
    if (snap != NULL) {
        /* Closed but pinned: nothing released yet, and the snapshot still
         * reads the whole log as it was. */
        uint64_t total = atomic_load(&w->drops.total);
        if (total != 0) {
            fail(&w->fail, "%" PRIu64 " handles dropped by a close that a snapshot defers", total);
            goto out;
        }
        sc_buf_t buf = {0};
        bool ok = check_query(w, &snap, &w->wm, &buf, K_ALL, 0, 0, 2, false) &&
                  check_spans(w, snap, &w->wm, &buf, K_ALL, 0, 0);
        buf_free(&buf);
        if (!ok) goto out;
        tl_snapshot_release(snap); /* the teardown runs here */
        snap = NULL;
    }
    check_all_dropped_once(w);
out:
    if (helper_started) {
        atomic_store_explicit(&w->closing, 1, memory_order_release);
        tl_thread_join(helper);
    }
    tlt_alloc_gate_open(w->alloc);
    tl_snapshot_release(snap);
    world_close(w);
    int rc = failed(&w->fail) ? -1 : 0;
    world_free(w);
    free(w);
    return rc;
}

/* ---------------------------------------------------------------- backpressure */

static bool no_memruns(const tl_stats_t *s) { return s->memruns == 0; }

int sc_backpressure(const sc_hooks_t *hooks, uint32_t sealed_wait_ms, sc_report_t *rep) {
    sc_world_t *w = xcalloc(1, sizeof *w);
    world_init(w, hooks, 16384, 16384, rep, 11 + sealed_wait_ms);
    tl_config_t cfg;
    small_config(&cfg, TL_MAINT_BACKGROUND);
    cfg.sealed_max_runs = 1;
    cfg.max_delta_segments = 64;
    cfg.sealed_wait_ms = sealed_wait_ms;
    if (!world_open(w, &cfg)) goto out;
    /* The worker's first allocation (its first flush) blocks until the gate
     * opens: from the second seal on, memruns exceed sealed_max_runs. */
    tlt_alloc_gate_arm(w->alloc, 1);
    uint64_t busy = 0, ok_writes = 0;
    unsigned want_busy = sealed_wait_ms > 0 ? 3 : 40;
    for (int i = 0; i < 12000 && busy < want_busy && !failed(&w->fail); i++) {
        uint64_t t = now_ns();
        tl_status_t st;
        if (i % 97 == 96) {
            for (size_t k = 0; k < 20; k++) w->bts[k] = w->cursor + (tl_ts_t)(20 - k);
            w->cursor += 20;
            st = w_batch(w, 20);
        } else {
            st = w_append(w, ++w->cursor);
        }
        uint64_t dt_ms = (now_ns() - t) / 1000000u;
        if (st == TL_EBUSY) {
            busy++;
            if (dt_ms > rep->max_wait_ms) rep->max_wait_ms = dt_ms;
            /* tl_now_ms truncates to whole milliseconds, so the engine may
             * give up to 1 ms early; the upper bound is generous slack for
             * a loaded machine, not a latency claim. */
            if (sealed_wait_ms > 1 &&
                (now_ns() - t) + 2000000u < (uint64_t)sealed_wait_ms * 1000000u)
                fail(&w->fail,
                     "a busy write returned after %" PRIu64 " ms, before sealed_wait_ms "
                     "= %u",
                     dt_ms, sealed_wait_ms);
            if (dt_ms > (uint64_t)sealed_wait_ms + 10000u)
                fail(&w->fail, "a busy write took %" PRIu64 " ms with sealed_wait_ms = %u", dt_ms,
                     sealed_wait_ms);
        } else if (st == TL_OK) {
            ok_writes++;
        }
    }
    if (failed(&w->fail)) {
        tlt_alloc_gate_open(w->alloc);
        goto out;
    }
    tl_stats_t s;
    bool got = w_stats(w, &s);
    if (got && busy == 0)
        fail(&w->fail,
             "%" PRIu64 " writes with the worker stuck and sealed_max_runs = 1 never "
             "reported TL_EBUSY (memruns %" PRIu64 ")",
             ok_writes, s.memruns);
    else if (got && s.busy_events != busy)
        fail(&w->fail, "stats.busy_events %" PRIu64 " but %" PRIu64 " writes returned TL_EBUSY",
             s.busy_events, busy);
    else if (got && (s.flushes != 0 || s.memruns < 2))
        fail(&w->fail, "with the worker stuck: %" PRIu64 " flushes, %" PRIu64 " memruns", s.flushes,
             s.memruns);
    if (failed(&w->fail)) {
        tlt_alloc_gate_open(w->alloc);
        goto out;
    }
    /* Busy writes were stored: everything reads back while the worker is
     * still stuck (reads never need it). */
    if (!writer_check_full(w, "while the worker is stuck")) {
        tlt_alloc_gate_open(w->alloc);
        goto out;
    }
    tlt_alloc_gate_open(w->alloc);
    if (!poll_stats(w, 20000, no_memruns, "the released worker to flush every memrun")) goto out;
    for (int i = 0; i < 500; i++) w_append(w, i % 5 ? ++w->cursor : w->cursor - 50);
    if (!writer_check_full(w, "after the worker caught up") || !w_validate(w, "backpressure"))
        goto out;
    if (!writer_settle(w)) goto out;
    world_close(w);
    check_all_dropped_once(w);
out:
    tlt_alloc_gate_open(w->alloc);
    world_close(w);
    int rc = failed(&w->fail) ? -1 : 0;
    world_free(w);
    free(w);
    return rc;
}

static bool l0_compacted(const tl_stats_t *s) {
    return s->compactions >= 1 && s->l0_segments <= 2 && s->memruns == 0;
}

int sc_backpressure_l0(const sc_hooks_t *hooks, sc_report_t *rep) {
    sc_world_t *w = xcalloc(1, sizeof *w);
    world_init(w, hooks, 16384, 16384, rep, 13);
    tl_config_t cfg;
    small_config(&cfg, TL_MAINT_DISABLED);
    cfg.sealed_max_runs = 16;
    cfg.max_delta_segments = 1;
    if (!world_open(w, &cfg)) goto out;
    for (int seg = 0; seg < 3; seg++) {
        for (int i = 0; i < 150; i++) w_append(w, (tl_ts_t)rng_below(&w->rng, 2000));
        tl_status_t st = tl_flush(w->log);
        if (st != TL_OK) fail(&w->fail, "tl_flush -> %s", tl_strerror(st));
    }
    tl_stats_t s;
    if (failed(&w->fail) || !w_stats(w, &s)) goto out;
    if (s.l0_segments != 3) {
        fail(&w->fail, "setup: %" PRIu64 " L0 segments, want 3", s.l0_segments);
        goto out;
    }
    /* The worker starts on the compaction and is stuck in it: L0 (3) stays
     * above 2 * max_delta_segments (2). */
    tlt_alloc_gate_arm(w->alloc, 1);
    tl_status_t st = tl_maint_start(w->log);
    if (st != TL_OK) {
        fail(&w->fail, "tl_maint_start -> %s", tl_strerror(st));
        goto out;
    }
    if (!tlt_alloc_gate_wait_blocked(w->alloc, 20000)) {
        fail(&w->fail, "the worker never started its compaction");
        goto out;
    }
    uint64_t busy = 0;
    for (int i = 0; i < 400; i++) busy += w_append(w, ++w->cursor) == TL_EBUSY;
    if (failed(&w->fail) || !w_stats(w, &s)) goto out;
    if (busy == 0) {
        fail(&w->fail,
             "400 appends (2 seals) with L0 = %" PRIu64 " > 2 * max_delta_segments and "
             "the worker stuck never reported TL_EBUSY",
             s.l0_segments);
        goto out;
    }
    if (s.l0_segments != 3 || s.compactions != 0) {
        fail(&w->fail, "while the worker is stuck: L0 %" PRIu64 ", compactions %" PRIu64,
             s.l0_segments, s.compactions);
        goto out;
    }
    if (!writer_check_full(w, "L0 backpressure, worker stuck")) goto out;
    tlt_alloc_gate_open(w->alloc);
    if (!poll_stats(w, 20000, l0_compacted, "the released worker to compact L0")) goto out;
    for (int i = 0; i < 300; i++) w_append(w, ++w->cursor);
    if (!writer_check_full(w, "L0 backpressure, after compaction") || !w_validate(w, "L0") ||
        !writer_settle(w))
        goto out;
    world_close(w);
    check_all_dropped_once(w);
out:
    tlt_alloc_gate_open(w->alloc);
    world_close(w);
    int rc = failed(&w->fail) ? -1 : 0;
    world_free(w);
    free(w);
    return rc;
}

static void *open_later(void *arg) {
    sc_world_t *w = arg;
    sleep_ms(50);
    tlt_alloc_gate_open(w->alloc);
    return NULL;
}

int sc_wait_relieved(const sc_hooks_t *hooks, sc_report_t *rep) {
    sc_world_t *w = xcalloc(1, sizeof *w);
    world_init(w, hooks, 16384, 16384, rep, 17);
    tl_config_t cfg;
    small_config(&cfg, TL_MAINT_BACKGROUND);
    cfg.sealed_max_runs = 1;
    cfg.max_delta_segments = 64;
    cfg.sealed_wait_ms = 60000;
    tl_thread_t th;
    bool started = false;
    if (!world_open(w, &cfg)) goto out;
    tlt_alloc_gate_arm(w->alloc, 1);
    if (!tl_thread_start(&th, open_later, w)) {
        fail(&w->fail, "tl_thread_start failed");
        goto out;
    }
    started = true;
    for (int i = 0; i < 3000 && !failed(&w->fail); i++) {
        uint64_t t = now_ns();
        tl_status_t st = w_append(w, ++w->cursor);
        uint64_t dt_ms = (now_ns() - t) / 1000000u;
        if (dt_ms > rep->max_wait_ms) rep->max_wait_ms = dt_ms;
        if (st == TL_EBUSY)
            fail(&w->fail,
                 "write %d reported TL_EBUSY after %" PRIu64 " ms although the worker "
                 "was released after 50 ms and sealed_wait_ms is 60000",
                 i, dt_ms);
    }
    tl_thread_join(th);
    started = false;
    if (failed(&w->fail)) goto out;
    tl_stats_t s;
    if (!w_stats(w, &s)) goto out;
    if (s.busy_events != 0) {
        fail(&w->fail, "stats.busy_events %" PRIu64 ", want 0", s.busy_events);
        goto out;
    }
    if (!writer_check_full(w, "wait relieved") || !writer_settle(w)) goto out;
    world_close(w);
    check_all_dropped_once(w);
out:
    tlt_alloc_gate_open(w->alloc);
    if (started) tl_thread_join(th);
    world_close(w);
    int rc = failed(&w->fail) ? -1 : 0;
    world_free(w);
    free(w);
    return rc;
}

/* ---------------------------------------------------------------- stop / start */

static bool backlog_gone(const tl_stats_t *s) { return s->memruns == 0 && s->l0_segments < 2; }

static void mixed_writes(sc_world_t *w, int n, uint64_t *busy) {
    for (int i = 0; i < n && !failed(&w->fail); i++) {
        unsigned r = (unsigned)rng_below(&w->rng, 100);
        tl_status_t st = TL_OK;
        if (r < 90) {
            st = w_append(w, next_ts(w));
        } else if (r < 95) {
            size_t k = 1 + rng_below(&w->rng, 100);
            for (size_t j = 0; j < k; j++) w->bts[j] = w->cursor - (tl_ts_t)rng_below(&w->rng, 300);
            st = w_batch(w, k);
        } else if (r < 98) {
            tl_ts_t a = w->cursor - (tl_ts_t)rng_below(&w->rng, 1000);
            w_delete(w, DEL_RANGE, a, a + 20);
        } else {
            w_drain(w, 0);
        }
        if (busy != NULL) *busy += st == TL_EBUSY;
    }
}

int sc_stop_start(const sc_hooks_t *hooks, sc_report_t *rep) {
    sc_world_t *w = xcalloc(1, sizeof *w);
    world_init(w, hooks, 1 << 17, 1 << 17, rep, 19);
    tl_config_t cfg;
    small_config(&cfg, TL_MAINT_BACKGROUND);
    cfg.sealed_max_runs = 2;
    cfg.max_delta_segments = 2;
    tl_status_t st;
    if (!world_open(w, &cfg)) goto out;
    if (!tl_maint_running(w->log)) {
        fail(&w->fail, "background log opened without a running worker");
        goto out;
    }
    mixed_writes(w, 3000, NULL);
    if ((st = tl_maint_stop(w->log)) != TL_OK || tl_maint_running(w->log) ||
        (st = tl_maint_stop(w->log)) != TL_OK || tl_maint_running(w->log)) {
        fail(&w->fail, "tl_maint_stop (twice) -> %s, running %d", tl_strerror(st),
             tl_maint_running(w->log));
        goto out;
    }
    tl_stats_t s0, s1;
    if (!w_stats(w, &s0)) goto out;
    uint64_t busy = 0;
    mixed_writes(w, 3000, &busy);
    sleep_ms(30);
    if (failed(&w->fail) || !w_stats(w, &s1)) goto out;
    if (s1.flushes != s0.flushes || s1.compactions != s0.compactions) {
        fail(&w->fail,
             "maintenance ran while stopped: flushes %" PRIu64 " -> %" PRIu64
             ", compactions %" PRIu64 " -> %" PRIu64,
             s0.flushes, s1.flushes, s0.compactions, s1.compactions);
        goto out;
    }
    if (s1.memruns <= cfg.sealed_max_runs || busy == 0) {
        fail(&w->fail,
             "stopped worker: %" PRIu64 " memruns and %" PRIu64 " busy writes after "
             "3000 writes; want memruns > sealed_max_runs and some TL_EBUSY",
             s1.memruns, busy);
        goto out;
    }
    if (!writer_check_full(w, "worker stopped")) goto out;
    if ((st = tl_maint_start(w->log)) != TL_OK || !tl_maint_running(w->log) ||
        (st = tl_maint_start(w->log)) != TL_OK || !tl_maint_running(w->log)) {
        fail(&w->fail, "tl_maint_start (twice) -> %s, running %d", tl_strerror(st),
             tl_maint_running(w->log));
        goto out;
    }
    if (!poll_stats(w, 20000, backlog_gone, "the restarted worker to drain the backlog")) goto out;
    if (!w_stats(w, &s1)) goto out;
    if (s1.flushes <= s0.flushes) {
        fail(&w->fail, "the restarted worker did not flush (%" PRIu64 " flushes)", s1.flushes);
        goto out;
    }
    if (!writer_check_full(w, "worker restarted")) goto out;
    /* Many quick toggles, some while the worker is busy. */
    for (int round = 0; round < 30 && !failed(&w->fail); round++) {
        mixed_writes(w, 200, NULL);
        if ((st = tl_maint_stop(w->log)) != TL_OK) fail(&w->fail, "stop -> %s", tl_strerror(st));
        mixed_writes(w, 100, NULL);
        if ((st = tl_maint_start(w->log)) != TL_OK) fail(&w->fail, "start -> %s", tl_strerror(st));
        rep->toggles++;
        if (round % 10 == 9 && !writer_check_full(w, "toggling")) break;
    }
    if (failed(&w->fail) || !w_validate(w, "stop/start") || !writer_settle(w)) goto out;
    if (!writer_check_full(w, "stop/start settled")) goto out;
    world_close(w);
    check_all_dropped_once(w);
out:
    world_close(w);
    int rc = failed(&w->fail) ? -1 : 0;
    world_free(w);
    free(w);
    return rc;
}
