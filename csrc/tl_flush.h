/*
 * tl_flush.h: memrun -> L0 segment.
 *
 * A memrun's block is already sorted and immutable, so flushing builds only
 * the page index (fence keys) and shares the block: no record is copied.
 */
#ifndef TL_FLUSH_H
#define TL_FLUSH_H

#include "tl_memrun.h"
#include "tl_segment.h"

TL_NODISCARD tl_status_t tl_flush_memrun(tl_mem_t *m, const tl_memrun_t *mr, size_t page_recs,
                                         tl_segment_t **out);

#endif /* TL_FLUSH_H */
