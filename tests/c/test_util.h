/*
 * test_util.h: shared fixtures for the Criterion suites in tests/c/.
 *
 * - tlt_alloc_t (tests/c/support/tl_test_alloc.h): the counting, guarding,
 *   fault-injecting allocator shared by every C test program; here its
 *   reports become Criterion assertions.
 * - tlt_model_t (tests/c/support/tl_test_model.h): the reference model;
 *   here engine reads are compared with it (tlt_expect_*).
 * - tlt_drops_t: an on_drop context counting drops per handle, so a test can
 *   assert that each handle is released exactly once.
 * - tlt_env_t: one allocator + one drop tracker + the log under test, created
 *   on the test's stack (TLT_ENV) and checked for leaks by tlt_env_teardown.
 *
 * No mutable global state: everything lives in the structs passed as ctx,
 * because the engine may call the allocator from its maintenance thread. The
 * allocator and the tracker therefore lock a mutex and never call Criterion
 * from inside a hook (an assertion in another thread cannot unwind the test);
 * they record the first error instead, and the test thread checks it with
 * tlt_alloc_check / tlt_drops_check (called by tlt_env_teardown).
 */
#ifndef TLT_TEST_UTIL_H
#define TLT_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "timelog.h"
#include "tl_sync.h" /* threads, mutexes, thread identity: POSIX or Win32 */
#include "tl_test_alloc.h"
#include "tl_test_model.h"

/* ---------------------------------------------------------------- allocator */

/* The allocator itself is tests/c/support/tl_test_alloc.h; these wrap its
 * reports in Criterion assertions (on the test's thread). */

/* Fails the test (cr_assert) if a hook recorded an error. */
void tlt_alloc_check(tlt_alloc_t *a);
/* Fails the test if any byte is live (lists the first few blocks). */
void tlt_alloc_assert_no_leaks(tlt_alloc_t *a);
/* Both checks, then tlt_alloc_fini. Frees nothing. */
void tlt_alloc_destroy(tlt_alloc_t *a);

/* ---------------------------------------------------------------- drops */

typedef struct tlt_drops {
    tl_mutex_t mu;
    uint32_t *count; /* count[h] for h < cap (calloc'd: test-side memory) */
    size_t cap;
    uint64_t total;        /* every on_drop call */
    uint64_t out_of_range; /* calls with h >= cap */
    uint64_t last_out_of_range;
    /* on_drop must run only in the threads that call tl_drain_retired,
     * tl_close or the last tl_snapshot_release: in these tests, the test's
     * own thread. Calls from any other thread (the maintenance worker) are
     * counted here. */
    tl_thread_id_t owner;
    uint64_t foreign_thread_calls;
    /* Optional: called after counting, outside the lock (re-entrancy tests). */
    void (*hook)(void *hook_ctx, tl_handle_t h);
    void *hook_ctx;
} tlt_drops_t;

void tlt_drops_init(tlt_drops_t *d, size_t cap);
void tlt_drops_destroy(tlt_drops_t *d);
void tlt_on_drop(void *ctx, tl_handle_t h); /* a tl_on_drop_fn */
uint32_t tlt_drops_of(tlt_drops_t *d, tl_handle_t h);
uint64_t tlt_drops_total(tlt_drops_t *d);
/* Fails the test if any handle was dropped more than once or was out of range. */
void tlt_drops_check(tlt_drops_t *d);
/* Fails the test unless every handle in [lo, hi) was dropped exactly once. */
void tlt_drops_assert_range_once(tlt_drops_t *d, tl_handle_t lo, tl_handle_t hi);
/* Fails the test unless no handle in [lo, hi) was dropped. */
void tlt_drops_assert_range_none(tlt_drops_t *d, tl_handle_t lo, tl_handle_t hi);

/* ---------------------------------------------------------------- env */

typedef struct tlt_env {
    tlt_alloc_t alloc;
    tlt_drops_t drops;
    tl_log_t *log; /* set by tlt_open; closed by teardown if still set */
} tlt_env_t;

#define TLT_DEFAULT_DROP_CAP ((size_t)1 << 16)

void tlt_env_setup(tlt_env_t *env, size_t drop_cap);
/* Closes env->log if set, then asserts: no live byte, no allocator error, no
 * handle dropped twice. */
void tlt_env_teardown(tlt_env_t *env);

/* tl_config_init + the env's allocator and on_drop tracker (env may be NULL:
 * then libc and no on_drop; tlt_open_cfg installs the hooks anyway). */
void tlt_config(tlt_env_t *env, tl_config_t *cfg);
/* A small, deterministic config: maintenance disabled, 4 KiB memtable,
 * 256-byte pages, 2 delta segments, windows of 100. */
void tlt_small_config(tlt_env_t *env, tl_config_t *cfg);
/* tlt_config, then tweak (may be NULL), then tl_open; stores the log in
 * env->log and *out. Returns tl_open's status. */
tl_status_t tlt_open(tlt_env_t *env, void (*tweak)(tl_config_t *), tl_log_t **out);
/* Same with a config the caller built (alloc/on_drop are overwritten). */
tl_status_t tlt_open_cfg(tlt_env_t *env, tl_config_t *cfg, tl_log_t **out);
/* Closes env->log (if any) and clears it. */
void tlt_close(tlt_env_t *env);

/* Declares an env on the test's stack and sets it up. End the test with
 * tlt_env_teardown(&env). */
#define TLT_ENV(env) \
    tlt_env_t env;   \
    tlt_env_setup(&(env), TLT_DEFAULT_DROP_CAP)

/* ---------------------------------------------------------------- asserts */

#define TLT_ST(expr, want)                                                                        \
    do {                                                                                          \
        tl_status_t tlt_st_ = (expr);                                                             \
        cr_assert_eq(tlt_st_, (want), "%s:%d: %s -> %s (%d), want %s", __FILE__, __LINE__, #expr, \
                     tl_strerror(tlt_st_), (int)tlt_st_, tl_strerror(want));                      \
    } while (0)

#define TLT_OK(expr) TLT_ST(expr, TL_OK)

/* A write: TL_OK or TL_EBUSY (stored either way). */
#define TLT_W(expr)                                                                          \
    do {                                                                                     \
        tl_status_t tlt_st_ = (expr);                                                        \
        cr_assert(tlt_st_ == TL_OK || tlt_st_ == TL_EBUSY, "%s:%d: %s -> %s (%d)", __FILE__, \
                  __LINE__, #expr, tl_strerror(tlt_st_), (int)tlt_st_);                      \
    } while (0)

/* tl_validate must return TL_OK. */
#define TLT_VALID(log)                                                                   \
    do {                                                                                 \
        const char *tlt_why_ = NULL;                                                     \
        tl_status_t tlt_st_ = tl_validate((log), &tlt_why_);                             \
        cr_assert_eq(tlt_st_, TL_OK, "%s:%d: tl_validate -> %s: %s", __FILE__, __LINE__, \
                     tl_strerror(tlt_st_), tlt_why_ ? tlt_why_ : "?");                   \
    } while (0)

/* ---------------------------------------------------------------- misc */

/* xorshift64* PRNG: deterministic, no libc rand, no global state. */
typedef struct tlt_rng {
    uint64_t s;
} tlt_rng_t;

void tlt_rng_seed(tlt_rng_t *r, uint64_t seed);
uint64_t tlt_rng_next(tlt_rng_t *r);
/* Uniform in [0, n); n > 0. */
uint64_t tlt_rng_below(tlt_rng_t *r, uint64_t n);
/* Uniform in [lo, hi] (inclusive, any int64 bounds with lo <= hi). */
int64_t tlt_rng_range(tlt_rng_t *r, int64_t lo, int64_t hi);

/* Saturating int64 add (test-side arithmetic near the extremes). */
int64_t tlt_sat_add(int64_t a, int64_t b);

/* Reads every record of an iterator into malloc'd arrays (test-side memory,
 * not the counting allocator); *n_out records. Fails the test on error. */
void tlt_drain_iter(tl_iter_t *it, tl_ts_t **ts, tl_handle_t **h, size_t *n_out);
/* Reads [t1, t2) of a fresh snapshot. */
void tlt_read_range(tl_log_t *log, tl_ts_t t1, tl_ts_t t2, tl_ts_t **ts, tl_handle_t **h,
                    size_t *n_out);
/* Sorts (ts, h) pairs by ts then h (so equal timestamps compare as multisets). */
void tlt_sort_pairs(tl_ts_t *ts, tl_handle_t *h, size_t n);
/* Calls tl_drain_retired until it reports nothing; returns the total. */
size_t tlt_drain_all(tl_log_t *log);

/* ---------------------------------------------------------------- model */

/* The reference model (tlt_model_t) is tests/c/support/tl_test_model.h;
 * these compare engine reads with it. */

/* Compares got[0..n) (in the engine's order) with want[0..n) (sorted by
 * (ts, h)): timestamps must match position by position and be
 * non-decreasing; handles must match as a multiset per timestamp. Fails the
 * test with `what` in the message. got_* are reordered in place. */
void tlt_expect_same(tl_ts_t *got_ts, tl_handle_t *got_h, size_t got_n, const tlt_rec_t *want,
                     size_t want_n, const char *what);
/* Reads an iterator to EOF (via tl_iter_next) and compares it with want. */
void tlt_expect_iter(tl_iter_t *it, const tlt_rec_t *want, size_t want_n, const char *what);
/* Fresh snapshot: iter_range(t1, t2) and count_range(t1, t2) against m. */
void tlt_expect_range(tl_log_t *log, const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2);
/* Fresh snapshot: iter_all, count_all, min/max and stats.records against m. */
void tlt_expect_model(tl_log_t *log, const tlt_model_t *m);

#endif /* TLT_TEST_UTIL_H */
