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

/* On failure nothing is allocated in out. */
TL_NODISCARD tl_status_t tl_compact_run(const tl_compact_in_t *in, tl_compact_out_t *out);
void tl_compact_out_free(tl_mem_t *m, tl_compact_out_t *out);

#endif /* TL_COMPACT_H */
