/*
 * tl_maint.c: the maintenance policy (see tl_maint.h). Order matters: a full
 * memtable blocks ingest, memruns are the cheapest fan-out to remove (flush
 * copies nothing), then L0 fan-out, then delete debt.
 */
#include "tl_maint.h"

tl_maint_action_t tl_maint_next(const tl_maint_shape_t *s) {
    if (s->memtable_full) return TL_MA_SEAL;
    if (s->memruns > 0) return TL_MA_FLUSH;
    if (s->l0_segments > 0 && s->l0_segments >= s->max_delta_segments) return TL_MA_COMPACT_L0;
    if (s->delete_debt_threshold > 0 && s->delete_debt >= s->delete_debt_threshold) {
        return TL_MA_COMPACT_DEBT;
    }
    return TL_MA_NONE;
}
