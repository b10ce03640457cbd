/*
 * test_util.c: Criterion assertions over the shared allocator and model
 * (tests/c/support/), the drop tracker and the env fixture shared by the
 * Criterion suites (see test_util.h for the contracts).
 *
 * Threads: the allocator hooks and tlt_on_drop may run in the engine's
 * maintenance thread, so they only lock, count and record errors; every
 * Criterion assertion here runs in the test's own thread.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- allocator */

void tlt_alloc_check(tlt_alloc_t *a) {
    uint64_t errors = tlt_alloc_errors(a);
    char msg[sizeof a->first_error];
    tlt_alloc_first_error(a, msg, sizeof msg);
    cr_assert_eq(errors, 0, "test allocator saw %llu error(s); first: %s",
                 (unsigned long long)errors, msg);
}

void tlt_alloc_assert_no_leaks(tlt_alloc_t *a) {
    char msg[256];
    uint64_t bytes = tlt_alloc_leak_report(a, msg, sizeof msg);
    uint64_t blocks = tlt_alloc_live_blocks(a);
    cr_assert(bytes == 0 && blocks == 0, "leak: %llu bytes in %llu blocks live:%s",
              (unsigned long long)bytes, (unsigned long long)blocks, msg);
}

void tlt_alloc_destroy(tlt_alloc_t *a) {
    tlt_alloc_check(a);
    tlt_alloc_assert_no_leaks(a);
    tlt_alloc_fini(a);
}

/* ---------------------------------------------------------------- drops */

void tlt_drops_init(tlt_drops_t *d, size_t cap) {
    memset(d, 0, sizeof *d);
    (void)tl_mutex_init(&d->mu);
    d->cap = cap;
    d->owner = tl_thread_id_self();
    d->count = calloc(cap ? cap : 1, sizeof *d->count);
    cr_assert_not_null(d->count, "tlt_drops_init: calloc(%zu) failed", cap);
}

void tlt_drops_destroy(tlt_drops_t *d) {
    free(d->count);
    d->count = NULL;
    tl_mutex_destroy(&d->mu);
}

void tlt_on_drop(void *ctx, tl_handle_t h) {
    tlt_drops_t *d = ctx;
    tl_mutex_lock(&d->mu);
    d->total++;
    if (!tl_thread_id_equal(tl_thread_id_self(), d->owner)) d->foreign_thread_calls++;
    if (h < d->cap) {
        if (d->count[h] != UINT32_MAX) d->count[h]++;
    } else {
        d->out_of_range++;
        d->last_out_of_range = h;
    }
    void (*hook)(void *, tl_handle_t) = d->hook;
    void *hook_ctx = d->hook_ctx;
    tl_mutex_unlock(&d->mu);
    if (hook != NULL) hook(hook_ctx, h);
}

uint32_t tlt_drops_of(tlt_drops_t *d, tl_handle_t h) {
    tl_mutex_lock(&d->mu);
    uint32_t v = h < d->cap ? d->count[h] : 0;
    tl_mutex_unlock(&d->mu);
    return v;
}

uint64_t tlt_drops_total(tlt_drops_t *d) {
    tl_mutex_lock(&d->mu);
    uint64_t v = d->total;
    tl_mutex_unlock(&d->mu);
    return v;
}

void tlt_drops_check(tlt_drops_t *d) {
    tl_mutex_lock(&d->mu);
    uint64_t oor = d->out_of_range, last = d->last_out_of_range;
    uint64_t foreign = d->foreign_thread_calls;
    size_t twice = SIZE_MAX;
    uint32_t times = 0;
    for (size_t i = 0; i < d->cap; i++) {
        if (d->count[i] > 1) {
            twice = i;
            times = d->count[i];
            break;
        }
    }
    tl_mutex_unlock(&d->mu);
    cr_assert_eq(oor, 0, "on_drop got %llu handle(s) never appended (last %llu)",
                 (unsigned long long)oor, (unsigned long long)last);
    cr_assert_eq(twice, SIZE_MAX, "handle %zu dropped %u times", twice, times);
    cr_assert_eq(foreign, 0, "on_drop ran %llu time(s) in a thread the test never called from",
                 (unsigned long long)foreign);
}

void tlt_drops_assert_range_once(tlt_drops_t *d, tl_handle_t lo, tl_handle_t hi) {
    for (tl_handle_t h = lo; h < hi; h++) {
        uint32_t c = tlt_drops_of(d, h);
        cr_assert_eq(c, 1, "handle %llu dropped %u times, want exactly once", (unsigned long long)h,
                     c);
    }
}

void tlt_drops_assert_range_none(tlt_drops_t *d, tl_handle_t lo, tl_handle_t hi) {
    for (tl_handle_t h = lo; h < hi; h++) {
        uint32_t c = tlt_drops_of(d, h);
        cr_assert_eq(c, 0, "handle %llu dropped %u times, want never", (unsigned long long)h, c);
    }
}

/* ---------------------------------------------------------------- env */

void tlt_env_setup(tlt_env_t *env, size_t drop_cap) {
    memset(env, 0, sizeof *env);
    tlt_alloc_init(&env->alloc);
    tlt_drops_init(&env->drops, drop_cap);
    env->log = NULL;
}

void tlt_env_teardown(tlt_env_t *env) {
    tlt_close(env);
    tlt_alloc_check(&env->alloc);
    tlt_alloc_assert_no_leaks(&env->alloc);
    tlt_drops_check(&env->drops);
    tlt_alloc_destroy(&env->alloc);
    tlt_drops_destroy(&env->drops);
}

void tlt_config(tlt_env_t *env, tl_config_t *cfg) {
    tl_config_init(cfg);
    if (env == NULL) return;
    cfg->alloc = tlt_alloc_table(&env->alloc);
    cfg->on_drop = tlt_on_drop;
    cfg->on_drop_ctx = &env->drops;
}

void tlt_small_config(tlt_env_t *env, tl_config_t *cfg) {
    tlt_config(env, cfg);
    cfg->maintenance = TL_MAINT_DISABLED;
    cfg->memtable_max_bytes = 4096;
    cfg->target_page_bytes = 256;
    cfg->max_delta_segments = 2;
    cfg->window_size = 100;
}

tl_status_t tlt_open_cfg(tlt_env_t *env, tl_config_t *cfg, tl_log_t **out) {
    cfg->alloc = tlt_alloc_table(&env->alloc);
    cfg->on_drop = tlt_on_drop;
    cfg->on_drop_ctx = &env->drops;
    tl_log_t *log = (tl_log_t *)(uintptr_t)1; /* must be overwritten */
    tl_status_t st = tl_open(cfg, &log);
    if (st == TL_OK) {
        cr_assert_not_null(log, "tl_open returned TL_OK and a NULL log");
        env->log = log;
    } else {
        cr_assert_null(log, "tl_open failed (%s) but left *out set", tl_strerror(st));
    }
    if (out != NULL) *out = log;
    return st;
}

tl_status_t tlt_open(tlt_env_t *env, void (*tweak)(tl_config_t *), tl_log_t **out) {
    tl_config_t cfg;
    tlt_config(env, &cfg);
    if (tweak != NULL) tweak(&cfg);
    return tlt_open_cfg(env, &cfg, out);
}

void tlt_close(tlt_env_t *env) {
    tl_log_t *log = env->log;
    env->log = NULL;
    tl_close(log);
}

/* ---------------------------------------------------------------- misc */

void tlt_rng_seed(tlt_rng_t *r, uint64_t seed) {
    /* splitmix64 of the seed, so small seeds give unrelated streams; never 0. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t tlt_rng_next(tlt_rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t tlt_rng_below(tlt_rng_t *r, uint64_t n) {
    /* Modulo bias is negligible for test purposes; portable C17 (no __int128). */
    return tlt_rng_next(r) % n;
}

int64_t tlt_rng_range(tlt_rng_t *r, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)hi - (uint64_t)lo; /* width - 1, never overflows */
    uint64_t off = span == UINT64_MAX ? tlt_rng_next(r) : tlt_rng_below(r, span + 1);
    return (int64_t)((uint64_t)lo + off);
}

int64_t tlt_sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

void tlt_drain_iter(tl_iter_t *it, tl_ts_t **ts_out, tl_handle_t **h_out, size_t *n_out) {
    size_t cap = 64, n = 0;
    tl_ts_t *ts = malloc(cap * sizeof *ts);
    tl_handle_t *h = malloc(cap * sizeof *h);
    cr_assert(ts != NULL && h != NULL);
    for (;;) {
        tl_ts_t t;
        tl_handle_t v;
        tl_status_t st = tl_iter_next(it, &t, &v);
        if (st == TL_EOF) break;
        cr_assert_eq(st, TL_OK, "tl_iter_next -> %s", tl_strerror(st));
        if (n == cap) {
            cap *= 2;
            ts = realloc(ts, cap * sizeof *ts);
            h = realloc(h, cap * sizeof *h);
            cr_assert(ts != NULL && h != NULL);
        }
        ts[n] = t;
        h[n] = v;
        n++;
    }
    *ts_out = ts;
    *h_out = h;
    *n_out = n;
}

void tlt_read_range(tl_log_t *log, tl_ts_t t1, tl_ts_t t2, tl_ts_t **ts, tl_handle_t **h,
                    size_t *n_out) {
    tl_snapshot_t *snap = NULL;
    tl_iter_t *it = NULL;
    TLT_OK(tl_snapshot_acquire(log, &snap));
    TLT_OK(tl_iter_range(snap, t1, t2, &it));
    tl_snapshot_release(snap);
    tlt_drain_iter(it, ts, h, n_out);
    tl_iter_close(it);
}

typedef struct tlt_pair {
    tl_ts_t ts;
    tl_handle_t h;
} tlt_pair_t;

static int pair_cmp(const void *a, const void *b) {
    const tlt_pair_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return 0;
}

void tlt_sort_pairs(tl_ts_t *ts, tl_handle_t *h, size_t n) {
    if (n < 2) return;
    tlt_pair_t *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i].ts = ts[i];
        p[i].h = h[i];
    }
    qsort(p, n, sizeof *p, pair_cmp);
    for (size_t i = 0; i < n; i++) {
        ts[i] = p[i].ts;
        h[i] = p[i].h;
    }
    free(p);
}

size_t tlt_drain_all(tl_log_t *log) {
    size_t total = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        size_t n = 0;
        TLT_OK(tl_drain_retired(log, 0, &n));
        if (n == 0) return total;
        total += n;
    }
    cr_assert_fail("tl_drain_retired never reported 0");
    return total;
}

/* ---------------------------------------------------------------- comparing with the model */

static int h_cmp(const void *a, const void *b) {
    tl_handle_t x = *(const tl_handle_t *)a, y = *(const tl_handle_t *)b;
    return x < y ? -1 : x > y;
}

void tlt_expect_same(tl_ts_t *got_ts, tl_handle_t *got_h, size_t got_n, const tlt_rec_t *want,
                     size_t want_n, const char *what) {
    for (size_t i = 1; i < got_n; i++)
        cr_assert(got_ts[i - 1] <= got_ts[i], "%s: order broken at %zu: %lld then %lld", what, i,
                  (long long)got_ts[i - 1], (long long)got_ts[i]);
    size_t n = got_n < want_n ? got_n : want_n;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got_ts[i], want[i].ts,
                     "%s: record %zu has ts %lld, want %lld (got %zu records, want %zu)", what, i,
                     (long long)got_ts[i], (long long)want[i].ts, got_n, want_n);
    cr_assert_eq(got_n, want_n, "%s: got %zu records, want %zu (first extra ts %lld)", what, got_n,
                 want_n,
                 (long long)(got_n > want_n ? got_ts[want_n]
                                            : (want_n > got_n ? want[got_n].ts : 0)));
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && got_ts[j] == got_ts[i]) j++;
        if (j - i > 1) qsort(got_h + i, j - i, sizeof *got_h, h_cmp);
        for (size_t k = i; k < j; k++)
            cr_assert_eq(got_h[k], want[k].h,
                         "%s: at ts %lld (records %zu..%zu) handle %llu, want %llu", what,
                         (long long)got_ts[i], i, j, (unsigned long long)got_h[k],
                         (unsigned long long)want[k].h);
        i = j;
    }
}

void tlt_expect_iter(tl_iter_t *it, const tlt_rec_t *want, size_t want_n, const char *what) {
    tl_ts_t *ts;
    tl_handle_t *h;
    size_t n;
    tlt_drain_iter(it, &ts, &h, &n);
    tlt_expect_same(ts, h, n, want, want_n, what);
    free(ts);
    free(h);
}

void tlt_expect_range(tl_log_t *log, const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2) {
    tl_snapshot_t *snap = NULL;
    tl_iter_t *it = NULL;
    TLT_OK(tl_snapshot_acquire(log, &snap));
    TLT_OK(tl_iter_range(snap, t1, t2, &it));
    size_t i0, i1;
    tlt_model_slice(m, t1, t2, &i0, &i1);
    char what[96];
    snprintf(what, sizeof what, "range [%lld, %lld)", (long long)t1, (long long)t2);
    tlt_expect_iter(it, m->r + i0, i1 - i0, what);
    tl_iter_close(it);
    uint64_t c = 0;
    TLT_OK(tl_count_range(snap, t1, t2, &c));
    cr_assert_eq(c, i1 - i0, "count_range [%lld, %lld) = %llu, want %zu", (long long)t1,
                 (long long)t2, (unsigned long long)c, i1 - i0);
    tl_snapshot_release(snap);
}

void tlt_expect_model(tl_log_t *log, const tlt_model_t *m) {
    tl_snapshot_t *snap = NULL;
    tl_iter_t *it = NULL;
    TLT_OK(tl_snapshot_acquire(log, &snap));
    TLT_OK(tl_iter_all(snap, &it));
    tlt_expect_iter(it, m->r, m->n, "iter_all");
    tl_iter_close(it);
    uint64_t c = 0;
    TLT_OK(tl_count_all(snap, &c));
    cr_assert_eq(c, m->n, "count_all = %llu, want %zu", (unsigned long long)c, m->n);
    tl_ts_t lo = 0x5EED, hi = 0x5EED;
    if (m->n == 0) {
        TLT_ST(tl_min_ts(snap, &lo), TL_EOF);
        TLT_ST(tl_max_ts(snap, &hi), TL_EOF);
        cr_assert(lo == 0x5EED && hi == 0x5EED, "min/max_ts wrote *out on TL_EOF");
    } else {
        TLT_OK(tl_min_ts(snap, &lo));
        TLT_OK(tl_max_ts(snap, &hi));
        cr_assert_eq(lo, m->r[0].ts, "min_ts %lld, want %lld", (long long)lo,
                     (long long)m->r[0].ts);
        cr_assert_eq(hi, m->r[m->n - 1].ts, "max_ts %lld, want %lld", (long long)hi,
                     (long long)m->r[m->n - 1].ts);
    }
    tl_snapshot_release(snap);
    tl_stats_t st;
    TLT_OK(tl_stats(log, &st));
    cr_assert_eq(st.records, m->n, "stats.records = %llu, want %zu", (unsigned long long)st.records,
                 m->n);
}
