/*
 * test_window.c: L1 window arithmetic (tl_window.h) for every int64
 * timestamp, size and origin. The reference is exact 128-bit arithmetic
 * (floor division, then clipping to the int64 range); the properties checked
 * beside it are the ones compaction relies on: the window holds ts, it is
 * `size` wide unless clipped at an int64 end, and consecutive windows tile
 * the line (hi + 1 of one is lo of the next). The suite runs under UBSan in
 * `make test`, which makes any overflow in the engine fatal.
 */
#include <stdio.h>

#include "comp_fixture.h"
#include "tl_window.h"

static uint64_t width_of(tl_window_t w) { return (uint64_t)w.hi - (uint64_t)w.lo + 1; }

/* Every property of one (ts, size, origin). Returns false (after recording
 * the first failure's description in *msg) instead of asserting, so the
 * random sweeps can report the first counterexample compactly. */
static bool check_one_ex(tl_ts_t ts, tl_ts_t size, tl_ts_t origin, bool skip_first, char *msg,
                         size_t cap) {
    msg[0] = '\0';
    tl_window_t w = tl_window_of(ts, size, origin);
    tl_window_t want = oracle_window(ts, size, origin);
#define FAIL(...)                        \
    do {                                 \
        snprintf(msg, cap, __VA_ARGS__); \
        return false;                    \
    } while (0)
    if (!(w.lo <= ts && ts <= w.hi))
        FAIL("ts=%lld size=%lld origin=%lld: window [%lld, %lld] does not hold ts", (long long)ts,
             (long long)size, (long long)origin, (long long)w.lo, (long long)w.hi);
    if (w.lo != want.lo || w.hi != want.hi)
        FAIL("ts=%lld size=%lld origin=%lld: got [%lld, %lld] want [%lld, %lld]", (long long)ts,
             (long long)size, (long long)origin, (long long)w.lo, (long long)w.hi,
             (long long)want.lo, (long long)want.hi);
    bool clipped = w.lo == TL_TS_MIN || w.hi == TL_TS_MAX;
    if (!clipped && width_of(w) != (uint64_t)size)
        FAIL("ts=%lld size=%lld origin=%lld: unclipped width %llu", (long long)ts, (long long)size,
             (long long)origin, (unsigned long long)width_of(w));
    if (width_of(w) > (uint64_t)size)
        FAIL("ts=%lld size=%lld origin=%lld: width %llu exceeds size", (long long)ts,
             (long long)size, (long long)origin, (unsigned long long)width_of(w));
    /* Both ends map back to this window; the neighbours start/end next to it. */
    tl_window_t a = tl_window_of(w.lo, size, origin), b = tl_window_of(w.hi, size, origin);
    if (a.lo != w.lo || a.hi != w.hi || b.lo != w.lo || b.hi != w.hi)
        FAIL("ts=%lld size=%lld origin=%lld: ends of [%lld, %lld] map to other windows",
             (long long)ts, (long long)size, (long long)origin, (long long)w.lo, (long long)w.hi);
    if (w.hi != TL_TS_MAX) {
        tl_window_t n = tl_window_of(w.hi + 1, size, origin);
        if (n.lo != w.hi + 1)
            FAIL("ts=%lld size=%lld origin=%lld: next window starts at %lld, not %lld",
                 (long long)ts, (long long)size, (long long)origin, (long long)n.lo,
                 (long long)(w.hi + 1));
    }
    if (w.lo != TL_TS_MIN &&
        (!skip_first || oracle_window(w.lo - 1, size, origin).lo != TL_TS_MIN)) {
        tl_window_t p = tl_window_of(w.lo - 1, size, origin);
        if (p.hi != w.lo - 1)
            FAIL("ts=%lld size=%lld origin=%lld: previous window ends at %lld, not %lld",
                 (long long)ts, (long long)size, (long long)origin, (long long)p.hi,
                 (long long)(w.lo - 1));
    }
#undef FAIL
    return true;
}

static bool check_one(tl_ts_t ts, tl_ts_t size, tl_ts_t origin, char *msg, size_t cap) {
    return check_one_ex(ts, size, origin, false, msg, cap);
}

#define CHECK_ONE(ts, size, origin)                                                  \
    do {                                                                             \
        char msg_[256];                                                              \
        cr_assert(check_one((ts), (size), (origin), msg_, sizeof msg_), "%s", msg_); \
    } while (0)

static const tl_ts_t SIZES[] = {1,
                                2,
                                3,
                                7,
                                100,
                                3600000,
                                (tl_ts_t)1 << 32,
                                (tl_ts_t)1 << 62,
                                ((tl_ts_t)1 << 62) + 1,
                                ((tl_ts_t)3 << 61),
                                TL_TS_MAX - 1,
                                TL_TS_MAX};

static const tl_ts_t ORIGINS[] = {TL_TS_MIN, TL_TS_MIN + 1,  TL_TS_MIN + 50, -100,     -1, 0, 1,
                                  50,        TL_TS_MAX - 50, TL_TS_MAX - 1,  TL_TS_MAX};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

Test(window, size_one_windows_are_single_timestamps) {
    TC_MEM(t);
    tl_ts_t ts[] = {TL_TS_MIN, TL_TS_MIN + 1, -1, 0, 1, TL_TS_MAX - 1, TL_TS_MAX};
    for (size_t o = 0; o < N_OF(ORIGINS); o++) {
        for (size_t i = 0; i < N_OF(ts); i++) {
            tl_window_t w = tl_window_of(ts[i], 1, ORIGINS[o]);
            cr_assert(w.lo == ts[i] && w.hi == ts[i], "ts=%lld origin=%lld: [%lld, %lld]",
                      (long long)ts[i], (long long)ORIGINS[o], (long long)w.lo, (long long)w.hi);
        }
    }
    tc_end(&t);
}

Test(window, ordinary_windows_are_aligned_to_the_origin) {
    TC_MEM(t);
    tl_window_t w = tl_window_of(0, 100, 0);
    cr_assert(w.lo == 0 && w.hi == 99);
    w = tl_window_of(99, 100, 0);
    cr_assert(w.lo == 0 && w.hi == 99);
    w = tl_window_of(100, 100, 0);
    cr_assert(w.lo == 100 && w.hi == 199);
    w = tl_window_of(-1, 100, 0);
    cr_assert(w.lo == -100 && w.hi == -1);
    w = tl_window_of(-100, 100, 0);
    cr_assert(w.lo == -100 && w.hi == -1);
    w = tl_window_of(-101, 100, 0);
    cr_assert(w.lo == -200 && w.hi == -101);
    w = tl_window_of(49, 100, 50);
    cr_assert(w.lo == -50 && w.hi == 49);
    w = tl_window_of(50, 100, 50);
    cr_assert(w.lo == 50 && w.hi == 149);
    tc_end(&t);
}

/* The window holding INT64_MIN when the origin is not aligned with it: the
 * first window is clipped on the left, so it ends where the second begins. */
Test(window, first_window_clipped_at_int64_min_ends_before_the_second) {
    TC_MEM(t);
    tl_window_t w = tl_window_of(TL_TS_MIN, 100, 50);
    tl_window_t next = tl_window_of(TL_TS_MIN + 58, 100, 50);
    cr_assert(next.lo == TL_TS_MIN + 58 && next.hi == TL_TS_MIN + 157,
              "second window [MIN + %lld, MIN + %lld]", (long long)(next.lo - TL_TS_MIN),
              (long long)(next.hi - TL_TS_MIN));
    cr_assert(w.lo == TL_TS_MIN && w.hi == TL_TS_MIN + 57,
              "tl_window_of(INT64_MIN, 100, 50) = [MIN + %lld, MIN + %lld], want [MIN, MIN + "
              "57]: it overlaps the next window [MIN + 58, MIN + 157]",
              (long long)(w.lo - TL_TS_MIN), (long long)(w.hi - TL_TS_MIN));
    tc_end(&t);
}

Test(window, last_window_clipped_at_int64_max) {
    TC_MEM(t);
    tl_window_t w = tl_window_of(TL_TS_MAX, 100, 0);
    /* INT64_MAX = ...807: the window starts at ...800 and is clipped at ...807. */
    cr_assert(w.lo == TL_TS_MAX - 7 && w.hi == TL_TS_MAX, "[MAX - %lld, MAX - %lld]",
              (long long)(TL_TS_MAX - w.lo), (long long)(TL_TS_MAX - w.hi));
    w = tl_window_of(TL_TS_MAX, TL_TS_MAX, TL_TS_MAX);
    cr_assert(w.lo == TL_TS_MAX && w.hi == TL_TS_MAX);
    w = tl_window_of(TL_TS_MAX - 1, TL_TS_MAX, TL_TS_MAX);
    cr_assert(w.lo == 0 && w.hi == TL_TS_MAX - 1);
    tc_end(&t);
}

Test(window, extreme_grid_matches_exact_arithmetic) {
    TC_MEM(t);
    for (size_t si = 0; si < N_OF(SIZES); si++) {
        for (size_t oi = 0; oi < N_OF(ORIGINS); oi++) {
            tl_ts_t s = SIZES[si], o = ORIGINS[oi];
            tl_ts_t ts[] = {TL_TS_MIN,
                            TL_TS_MIN + 1,
                            -1,
                            0,
                            1,
                            TL_TS_MAX - 1,
                            TL_TS_MAX,
                            o,
                            tlt_sat_add(o, -1),
                            tlt_sat_add(o, 1),
                            tlt_sat_add(o, s),
                            tlt_sat_add(o, -s),
                            tlt_sat_add(tlt_sat_add(o, s), -1),
                            tlt_sat_add(tlt_sat_add(o, -s), 1),
                            tlt_sat_add(TL_TS_MIN, s),
                            tlt_sat_add(TL_TS_MAX, -s)};
            for (size_t i = 0; i < N_OF(ts); i++) CHECK_ONE(ts[i], s, o);
        }
    }
    tc_end(&t);
}

Test(window, random_inputs_match_exact_arithmetic) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 21);
    for (int i = 0; i < 60000; i++) {
        tl_ts_t size, origin, ts;
        switch (tlt_rng_below(&rng, 4)) {
        case 0: size = tlt_rng_range(&rng, 1, 1000); break;
        case 1: size = tlt_rng_range(&rng, 1, TL_TS_MAX); break;
        case 2: size = SIZES[tlt_rng_below(&rng, N_OF(SIZES))]; break;
        default: size = (tl_ts_t)1 << tlt_rng_below(&rng, 63); break;
        }
        origin = tlt_rng_below(&rng, 3) == 0 ? ORIGINS[tlt_rng_below(&rng, N_OF(ORIGINS))]
                                             : (tl_ts_t)tlt_rng_next(&rng);
        tl_ts_t span = tlt_sat_add(size, size / 2), twice = tlt_sat_add(size, size);
        switch (tlt_rng_below(&rng, 4)) {
        case 0: ts = (tl_ts_t)tlt_rng_next(&rng); break;
        case 1: ts = tlt_sat_add(origin, tlt_rng_range(&rng, -span, span)); break;
        case 2: ts = tlt_rng_range(&rng, TL_TS_MIN, tlt_sat_add(TL_TS_MIN, twice)); break;
        default: ts = tlt_rng_range(&rng, tlt_sat_add(TL_TS_MAX, -twice), TL_TS_MAX); break;
        }
        CHECK_ONE(ts, size, origin);
    }
    tc_end(&t);
}

/* The same sweep, leaving out the window clipped at INT64_MIN (and the
 * check that ends next to it), so a fault there does not hide others. */
Test(window, random_inputs_away_from_the_first_window_match_exact_arithmetic) {
    TC_MEM(t);
    tlt_rng_t rng;
    tlt_rng_seed(&rng, 22);
    for (int i = 0; i < 60000; i++) {
        tl_ts_t size = tlt_rng_below(&rng, 2) ? tlt_rng_range(&rng, 1, 1000)
                                              : tlt_rng_range(&rng, 1, TL_TS_MAX);
        tl_ts_t origin = (tl_ts_t)tlt_rng_next(&rng);
        tl_ts_t ts = tlt_rng_below(&rng, 2)
                         ? (tl_ts_t)tlt_rng_next(&rng)
                         : tlt_rng_range(&rng, tlt_sat_add(TL_TS_MAX, -size), TL_TS_MAX);
        if (oracle_window(ts, size, origin).lo == TL_TS_MIN) continue;
        char msg[256];
        cr_assert(check_one_ex(ts, size, origin, true, msg, sizeof msg), "%s", msg);
    }
    tc_end(&t);
}

/* Walks the whole int64 line window by window for huge sizes (a handful of
 * windows each): they must tile it exactly, from INT64_MIN to INT64_MAX. */
Test(window, huge_windows_tile_the_whole_int64_line) {
    TC_MEM(t);
    tl_ts_t sizes[] = {(tl_ts_t)1 << 62,       ((tl_ts_t)1 << 62) + 1, (tl_ts_t)3 << 61,
                       ((tl_ts_t)1 << 61) - 1, TL_TS_MAX - 1,          TL_TS_MAX};
    for (size_t si = 0; si < N_OF(sizes); si++) {
        for (size_t oi = 0; oi < N_OF(ORIGINS); oi++) {
            tl_ts_t s = sizes[si], o = ORIGINS[oi];
            tl_window_t w = tl_window_of(TL_TS_MIN, s, o);
            cr_assert_eq(w.lo, TL_TS_MIN);
            int steps = 0;
            for (;;) {
                tl_window_t want = oracle_window(w.lo, s, o);
                cr_assert(w.lo == want.lo && w.hi == want.hi,
                          "size=%lld origin=%lld: window [%lld, %lld], want [%lld, %lld]",
                          (long long)s, (long long)o, (long long)w.lo, (long long)w.hi,
                          (long long)want.lo, (long long)want.hi);
                if (w.hi == TL_TS_MAX) break;
                tl_window_t n = tl_window_of(w.hi + 1, s, o);
                cr_assert_eq(n.lo, w.hi + 1, "size=%lld origin=%lld: gap or overlap after %lld",
                             (long long)s, (long long)o, (long long)w.hi);
                w = n;
                cr_assert_lt(++steps, 16);
            }
        }
    }
    tc_end(&t);
}

/* Small windows tile too: walk a few hundred consecutive windows near each
 * end of the line and around the origin. */
Test(window, small_windows_tile_near_both_ends_and_the_origin) {
    TC_MEM(t);
    tl_ts_t sizes[] = {1, 2, 3, 7, 100};
    tl_ts_t origins[] = {TL_TS_MIN, -1, 0, 50, 51, TL_TS_MAX};
    for (size_t si = 0; si < N_OF(sizes); si++) {
        for (size_t oi = 0; oi < N_OF(origins); oi++) {
            tl_ts_t s = sizes[si], o = origins[oi];
            tl_ts_t starts[] = {TL_TS_MIN, tlt_sat_add(o, -50 * s),
                                tlt_sat_add(TL_TS_MAX, -50 * s)};
            for (size_t k = 0; k < N_OF(starts); k++) {
                tl_window_t w = tl_window_of(starts[k], s, o);
                for (int step = 0; step < 100; step++) {
                    CHECK_ONE(w.lo, s, o);
                    if (w.hi == TL_TS_MAX) break;
                    tl_window_t n = tl_window_of(w.hi + 1, s, o);
                    cr_assert_eq(n.lo, w.hi + 1);
                    w = n;
                }
            }
        }
    }
    tc_end(&t);
}
