/*
 * tl_flush.c: memrun -> L0 segment (see tl_flush.h). The segment keeps the
 * memrun's watermark: flushing applies no delete, so the same deletes must
 * still hide its records afterwards.
 */
#include "tl_flush.h"

tl_status_t tl_flush_memrun(tl_mem_t *m, const tl_memrun_t *mr, size_t page_recs,
                            tl_segment_t **out) {
    tl_window_t span = {mr->min, mr->max}; /* L0 segments have no window */
    return tl_segment_create(m, TL_LEVEL_L0, mr->recs, page_recs, mr->wm, span, out);
}
