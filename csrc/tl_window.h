/*
 * tl_window.h: L1 time windows [origin + k*size, origin + (k+1)*size).
 * With adaptive widths (tl_adaptive.h) size changes over time; a window
 * once published keeps its bounds and later ones are placed around it
 * (tl_window_place).
 *
 * L1 segments never cross a window boundary, so retention deletes (cutoff)
 * drop whole segments and compaction rewrites only the windows new data
 * touches. The arithmetic is done in unsigned 64-bit so no timestamp, origin
 * or size can overflow: the first and last windows are clipped to the int64
 * range instead.
 */
#ifndef TL_WINDOW_H
#define TL_WINDOW_H

#include "tl_internal.h"

typedef struct tl_window {
    tl_ts_t lo, hi; /* inclusive bounds of the window holding a timestamp */
} tl_window_t;

/* The window that contains ts. size must be > 0. */
tl_window_t tl_window_of(tl_ts_t ts, tl_ts_t size, tl_ts_t origin);

/* The window a record at ts goes to when the published windows are
 * pub[0..n) (sorted, disjoint; duplicates allowed, as consecutive L1
 * segments may share one): the published window holding ts if any, else the
 * grid cell tl_window_of(ts, size, origin) clipped to the gap between its
 * published neighbours. With adaptive widths the published windows come
 * from different grids; clipping keeps new windows disjoint from them, and
 * every window created with one size is disjoint from the others of that
 * size. get(pub, i) returns the i-th window (callers keep them inside their
 * segments). */
typedef tl_window_t (*tl_window_get_fn)(const void *pub, size_t i);
tl_window_t tl_window_place(tl_ts_t ts, tl_ts_t size, tl_ts_t origin, const void *pub, size_t n,
                            tl_window_get_fn get);

#endif /* TL_WINDOW_H */
