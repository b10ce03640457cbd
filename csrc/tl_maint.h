/*
 * tl_maint.h: the maintenance policy: given the shape of a log, which single
 * piece of work comes next. Used by tl_maint_step and by the write path in
 * background mode; the decision is separate from the doing so both paths
 * (and a future worker thread) agree on it.
 */
#ifndef TL_MAINT_H
#define TL_MAINT_H

#include "tl_internal.h"

typedef enum tl_maint_action {
    TL_MA_NONE = 0,
    TL_MA_SEAL_FROZEN,  /* a frozen memtable waits to become a memrun */
    TL_MA_SEAL,         /* the memtable is over its size or out-of-order budget */
    TL_MA_FLUSH,        /* memruns wait to become L0 segments */
    TL_MA_COMPACT_L0,   /* L0 fan-out reached max_delta_segments */
    TL_MA_COMPACT_DEBT  /* deletes hide too large a share of stored records */
} tl_maint_action_t;

typedef struct tl_maint_shape {
    bool memtable_full;
    size_t memruns;
    size_t l0_segments;
    size_t max_delta_segments;
    double delete_debt;           /* hidden / physical records in immutable sources */
    double delete_debt_threshold; /* 0 = off */
    bool frozen;                  /* a frozen memtable awaits its seal */
} tl_maint_shape_t;

tl_maint_action_t tl_maint_next(const tl_maint_shape_t *s);

#endif /* TL_MAINT_H */
