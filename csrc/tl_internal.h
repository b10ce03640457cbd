/*
 * tl_internal.h: what every engine component shares and nothing outside the
 * engine sees: error birth (TL_ERR, from tl_error.h), branch hints, the
 * inclusive range type used inside the engine, and reference-count helpers
 * with their memory ordering spelled out.
 */
#ifndef TL_INTERNAL_H
#define TL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "timelog.h"

#if defined(__GNUC__) || defined(__clang__)
#define TL_LIKELY(x) __builtin_expect(!!(x), 1)
#define TL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TL_NOINLINE __attribute__((noinline))
#else
#define TL_LIKELY(x) (x)
#define TL_UNLIKELY(x) (x)
#define TL_NOINLINE
#endif

/* TL_ERR(code): every error is born through it (tl_error.h). */
#include "tl_error.h"

/* Inside the engine a query range is inclusive [lo, hi]. Half-open public
 * ranges convert without overflow: [t1, t2) with t1 < t2 is [t1, t2 - 1],
 * and "since" ranges reach TL_TS_MAX itself, which [t1, t2) cannot express. */
typedef struct tl_range {
    tl_ts_t lo, hi;
    bool empty;
} tl_range_t;

static inline tl_range_t tl_range_halfopen(tl_ts_t t1, tl_ts_t t2) {
    tl_range_t r = {t1, 0, t1 >= t2};
    r.hi = r.empty ? t1 : t2 - 1;
    return r;
}

static inline tl_range_t tl_range_closed(tl_ts_t lo, tl_ts_t hi) {
    tl_range_t r = {lo, hi, lo > hi};
    return r;
}

/* The one bounds type every ranged entry point reduces to: iterators,
 * counts, spans and deletes each take [t1, t2), since t1, until t2, all, or
 * a point, and build their range with exactly one of these. */
static inline tl_range_t tl_range_since(tl_ts_t t1) { return tl_range_closed(t1, TL_TS_MAX); }
static inline tl_range_t tl_range_until(tl_ts_t t2) { return tl_range_halfopen(TL_TS_MIN, t2); }
static inline tl_range_t tl_range_all(void) { return tl_range_closed(TL_TS_MIN, TL_TS_MAX); }
static inline tl_range_t tl_range_point(tl_ts_t ts) { return tl_range_closed(ts, ts); }

static inline bool tl_range_overlaps(tl_range_t r, tl_ts_t lo, tl_ts_t hi) {
    return !r.empty && lo <= r.hi && hi >= r.lo;
}

/* Reference counts. Taking another reference to something you already hold
 * needs no ordering (relaxed). Dropping one is acq_rel: the release half
 * makes every write done while holding it happen-before the free, the
 * acquire half makes the thread that frees see them (one RMW instead of a
 * release decrement plus a separate fence, which ThreadSanitizer cannot
 * model). */
typedef atomic_uint_fast32_t tl_refcnt_t;

static inline void tl_ref_init(tl_refcnt_t *r) { atomic_init(r, 1); }

static inline void tl_ref_inc(tl_refcnt_t *r) {
    atomic_fetch_add_explicit(r, 1, memory_order_relaxed);
}

/* Returns true when the caller dropped the last reference and must free. */
static inline bool tl_ref_dec(tl_refcnt_t *r) {
    return atomic_fetch_sub_explicit(r, 1, memory_order_acq_rel) == 1;
}

/* Acquire: a caller that sees the count drop to 1 (e.g. the writer deciding
 * a buffer is no longer pinned and may be written in place) also sees every
 * access the former holders made before their release decrement. */
static inline uint32_t tl_ref_get(const tl_refcnt_t *r) {
    return (uint32_t)atomic_load_explicit((tl_refcnt_t *)r, memory_order_acquire);
}

#define TL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TL_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* TL_INTERNAL_H */
