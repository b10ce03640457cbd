/*
 * tl_window.c: overflow-free window arithmetic (see tl_window.h).
 *
 * Timestamps are mapped to unsigned "offset" space u = ts - INT64_MIN, which
 * is order preserving and covers [0, 2^64 - 1] exactly, so differences never
 * overflow. A window is then [start, start + size - 1] clipped to that space.
 */
#include "tl_window.h"

static uint64_t to_u(tl_ts_t ts) { return (uint64_t)ts ^ ((uint64_t)1 << 63); }
static tl_ts_t from_u(uint64_t u) { return (tl_ts_t)(u ^ ((uint64_t)1 << 63)); }

tl_window_t tl_window_of(tl_ts_t ts, tl_ts_t size, tl_ts_t origin) {
    uint64_t usize = (uint64_t)size; /* size > 0 by contract */
    uint64_t u = to_u(ts), o = to_u(origin);
    uint64_t start, end; /* in offset space */
    uint64_t span = usize - 1;
    if (u >= o) {
        uint64_t k = (u - o) / usize;
        start = o + k * usize; /* <= u, cannot wrap */
        end = (UINT64_MAX - start < span) ? UINT64_MAX : start + span;
    } else {
        /* Windows to the left of origin: the one holding u ends just before
         * rem = o - floor((o - u - 1) / size) * size, which is > u; it starts
         * size earlier, or is clipped at the bottom of the int64 range. */
        uint64_t d = o - u;
        uint64_t back = ((d - 1) / usize) * usize; /* < d, no wrap */
        uint64_t rem = o - back;
        end = rem - 1;
        start = rem >= usize ? rem - usize : 0;
    }
    tl_window_t w = {from_u(start), from_u(end)};
    return w;
}

tl_window_t tl_window_place(tl_ts_t ts, tl_ts_t size, tl_ts_t origin, const void *pub, size_t n,
                            tl_window_get_fn get) {
    /* First published window whose hi >= ts (windows sorted by hi). */
    size_t a = 0, b = n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (get(pub, mid).hi < ts) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    if (a < n && get(pub, a).lo <= ts) return get(pub, a);
    tl_window_t w = tl_window_of(ts, size, origin);
    /* The gap is (prev.hi, next.lo), which holds ts, so the +1/-1 cannot
     * overflow: prev.hi < ts <= TL_TS_MAX and next.lo > ts >= TL_TS_MIN. */
    if (a > 0) {
        tl_ts_t prev_hi = get(pub, a - 1).hi;
        if (w.lo <= prev_hi) w.lo = prev_hi + 1;
    }
    if (a < n) {
        tl_ts_t next_lo = get(pub, a).lo;
        if (w.hi >= next_lo) w.hi = next_lo - 1;
    }
    return w;
}
