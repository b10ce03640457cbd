/*
 * tl_reclaim.h: reclaiming deletes (bounded memory under retention).
 *
 * A source that deletes hide entirely is dropped whole (no rewrite: the
 * manifest forgets it and its handles go to the retired queue), ahead of
 * everything but the seals, because it is the cheapest work that frees the
 * most; a source hidden only in part waits until the hidden share of all
 * immutable records reaches delete_debt_threshold, then one compaction folds
 * the deletes (tl_maint.c). The survey that measures both costs
 * O(sources x log) plus at most a fixed number of tombstone probes per
 * source. Tombstones nothing can still need are forgotten after every unit
 * that removes sources.
 */
#ifndef TL_RECLAIM_H
#define TL_RECLAIM_H

#include "tl_state.h"

typedef struct tl_survey {
    size_t covered;            /* sources entirely hidden */
    uint64_t hidden, physical; /* records, over all immutable sources */
} tl_survey_t;

/* What deletes left behind in the immutable sources of man. The memtables
 * are left out: sealing applies their deletes. Pure: reads man and t only. */
tl_survey_t tl_reclaim_survey(const tl_manifest_t *man, const tl_tombs_t *t);

/* Drops every source deletes hide entirely, in one manifest edit; then
 * forgets the tombstones they needed. TL_EOF when nothing was covered after
 * all. Caller holds maint_mu. */
TL_NODISCARD tl_status_t tl_reclaim_drop_covered(tl_log_t *log);

/* Drops the tombstones nothing needs any more; returns how many were judged
 * and kept (the policy's "set doubled" baseline). Caller holds maint_mu. */
size_t tl_reclaim_forget(tl_log_t *log);

#endif /* TL_RECLAIM_H */
