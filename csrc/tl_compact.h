/*
 * tl_compact.h: compaction of L0 segments (and the L1 segments they touch or
 * that carry delete debt) into windowed, non-overlapping L1 segments.
 *
 * The function is pure with respect to the log: it reads immutable inputs and
 * returns the new L1 list and the handles it physically dropped. The caller
 * publishes the result (new manifest) and retires the handles.
 */
#ifndef TL_COMPACT_H
#define TL_COMPACT_H

#include "tl_manifest.h"
#include "tl_tombstone.h"

typedef struct tl_compact_in {
    tl_mem_t *mem;
    tl_segment_t *const *l0; /* L0 inputs: all of them are merged */
    size_t n_l0;
    tl_segment_t *const *l1; /* the whole current L1 list (sorted, disjoint) */
    size_t n_l1;
    const tl_tombs_t *tombs; /* tombstones to fold */
    tl_seq_t wm;             /* watermark of the outputs: every tombstone <= wm is folded */
    bool fold_debt;          /* also rewrite L1 segments that tombstones hide records of */
    size_t fold_l1_end;      /* with fold_debt: fold debt only in l1[0, fold_l1_end) (0 = all) */
    tl_ts_t window_size, window_origin; /* grid of new windows (width may vary per run) */
    size_t page_recs;                   /* records per page of the outputs */
    size_t target_recs;                 /* records per output segment (cut at a timestamp change) */
} tl_compact_in_t;

typedef struct tl_compact_out {
    tl_segment_t **l1; /* the new complete L1 list, sorted; references owned */
    size_t n_l1;
    size_t l1_bytes;    /* size of the l1 array allocation */
    size_t n_outputs;   /* segments written */
    size_t n_rewritten; /* old L1 segments replaced */
    tl_hlist_t dropped; /* handles of records physically dropped */
} tl_compact_out_t;

/* What one policy compaction takes under compaction_max_inputs and
 * compaction_max_windows (0 = no bound), oldest data first:
 * - L0: the oldest L0 segments (a prefix of in->l0[0, in->n_l0), the list
 *   oldest first), at most max_inputs of them, and only as many as keep the
 *   windows the merge writes at or under max_windows. An L0 segment is
 *   retired only when all of its records are rewritten, so the bound picks
 *   whole inputs instead of splitting them. The oldest segment is always
 *   taken, even alone over the bound: that is what makes repeated policy
 *   compactions drain L0 (the bound is a target, not a hard limit, for an
 *   L0 segment that spans more windows than max_windows).
 * - With in->fold_debt: the L1 segments with delete debt, lowest first,
 *   while their windows fit in what the L0 part left of the bound (a debt
 *   segment in a window the L0 part writes anyway is free). When L0 is
 *   empty the lowest one is always taken, for the same progress reason.
 * Windows are counted from the records' timestamps (records a delete hides
 * count too: the count may be high, never low). No allocation; reads only
 * immutable inputs. The caller sets in->n_l0, in->fold_debt and
 * in->fold_l1_end from the plan before tl_compact_run. */
typedef struct tl_compact_plan {
    size_t n_l0;        /* merge the oldest n_l0 L0 segments */
    bool fold_debt;     /* fold delete debt at all */
    size_t fold_l1_end; /* as tl_compact_in_t.fold_l1_end */
    size_t windows;     /* windows the plan writes (counted up to max_windows + 1) */
    bool bounded;       /* max_windows left out inputs that max_inputs alone would take */
} tl_compact_plan_t;

void tl_compact_plan(const tl_compact_in_t *in, size_t max_inputs, size_t max_windows,
                     tl_compact_plan_t *plan);

/* On failure nothing is allocated in out. */
TL_NODISCARD tl_status_t tl_compact_run(const tl_compact_in_t *in, tl_compact_out_t *out);
void tl_compact_out_free(tl_mem_t *m, tl_compact_out_t *out);

#endif /* TL_COMPACT_H */
