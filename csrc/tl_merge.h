/*
 * tl_merge.h: cursors over sources and the k-way merge of them, shared by
 * the iterator (tl_merge.c, whose public functions are tl_iter_* in
 * timelog.h) and compaction (tl_compact.c). Counting and point lookups are
 * in tl_query.h, spans in tl_span.h, the source view in tl_source.h.
 */
#ifndef TL_MERGE_H
#define TL_MERGE_H

#include "tl_source.h"

/* A cursor over one source, or over a chain of L1 segments (sorted and
 * disjoint, so they can be read one after another as if they were one). */
typedef struct tl_cur {
    tl_src_t s;
    size_t pos, end;
    tl_segment_t *const *chain; /* NULL unless chained */
    size_t chain_next, chain_end;
} tl_cur_t;

/* K-way merge of cursors restricted to range r: a binary min-heap keyed by
 * (timestamp, cursor index), so the order among equal timestamps is stable
 * for a given set of sources. */
typedef struct tl_kmerge {
    tl_cur_t *cur;
    uint32_t *heap; /* heap[0] is the cursor holding the smallest timestamp */
    size_t heap_n;
    tl_range_t r;
} tl_kmerge_t;

/* Positions a cursor on a chained L1 segment, clipped to r. */
void tl_cur_load_segment(tl_cur_t *c, const tl_segment_t *seg, tl_range_t r);
/* Moves a chained cursor to its next segment when the current one is used
 * up; false when the cursor is exhausted. */
bool tl_cur_refill(tl_cur_t *c, tl_range_t r);

/* Builds the heap over cur[0..n) (cursors must be non-empty). */
void tl_kmerge_init(tl_kmerge_t *km, tl_cur_t *cur, uint32_t *heap, size_t n, tl_range_t r);
/* Takes the smallest record; *src is the index of its cursor. Only valid
 * while km->heap_n > 0. */
void tl_kmerge_take(tl_kmerge_t *km, tl_ts_t *ts, tl_handle_t *h, tl_seq_t *seq, uint32_t *src);

#endif /* TL_MERGE_H */
