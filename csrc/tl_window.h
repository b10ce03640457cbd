/*
 * tl_window.h: L1 time windows [origin + k*size, origin + (k+1)*size).
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

#endif /* TL_WINDOW_H */
