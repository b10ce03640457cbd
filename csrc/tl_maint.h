/*
 * tl_maint.h: the maintenance policy: given the shape of a log, which single
 * piece of work comes next. Used by tl_maint_step and by the write path in
 * background mode; the decision is separate from the doing so both paths
 * (and the worker thread) agree on it.
 *
 * Reclaiming deletes (bounded memory under retention): a source that deletes
 * hide entirely is dropped whole (no rewrite: the manifest forgets it and its
 * handles go to the retired queue), ahead of everything but the seals,
 * because it is the cheapest work that frees the most; a source hidden only
 * in part waits until the hidden share of all immutable records reaches
 * delete_debt_threshold (default 0.5), then one compaction folds the deletes.
 * The shape's numbers come from a survey that costs O(sources x log) plus at
 * most a fixed number of tombstone probes per source (tl_maint.c).
 */
#ifndef TL_MAINT_H
#define TL_MAINT_H

#include "tl_internal.h"

typedef enum tl_maint_action {
    TL_MA_NONE = 0,
    TL_MA_SEAL_FROZEN,  /* a frozen memtable waits to become a memrun */
    TL_MA_SEAL,         /* the memtable is over its size or out-of-order budget */
    TL_MA_DROP_COVERED, /* sources whose every record a delete hides: drop them whole */
    TL_MA_FLUSH,        /* memruns wait to become L0 segments */
    TL_MA_COMPACT_L0,   /* L0 fan-out reached max_delta_segments */
    TL_MA_COMPACT_DEBT, /* deletes hide too large a share of stored records */
    TL_MA_FORGET        /* the tombstone set grew: forget what nothing needs */
} tl_maint_action_t;

typedef struct tl_maint_shape {
    bool memtable_full;
    size_t memruns;
    size_t l0_segments;
    size_t max_delta_segments;
    double delete_debt;           /* hidden / physical records in immutable sources */
    double delete_debt_threshold; /* 0 = off */
    bool frozen;                  /* a frozen memtable awaits its seal */
    size_t covered;               /* immutable sources every record of which a delete
                                   * newer than their watermark hides */
    bool forget_due;              /* the tombstone set doubled since the last forget */
} tl_maint_shape_t;

tl_maint_action_t tl_maint_next(const tl_maint_shape_t *s);

#endif /* TL_MAINT_H */
