/*
 * tl_sort.h: sorting (timestamp, handle) pairs for batch ingest and seals.
 *
 * Event streams are mostly ordered: a few late records in a long ascending
 * run. tl_sort_pairs_into peels off the ascending run in one pass, radix-sorts
 * only the late records and merges the two, so 5% out-of-order input costs
 * little more than a copy; fully random input degrades to an LSD radix sort.
 */
#ifndef TL_SORT_H
#define TL_SORT_H

#include "tl_alloc.h"

/* Writes src sorted by timestamp into dst (which must not alias src).
 * Order among equal timestamps is unspecified. TL_ENOMEM leaves dst unspecified. */
TL_NODISCARD tl_status_t tl_sort_pairs_into(tl_mem_t *m, const tl_ts_t *src_ts,
                                            const tl_handle_t *src_h, size_t n, tl_ts_t *dst_ts,
                                            tl_handle_t *dst_h);

/* Sorts the pairs in place; scratch memory from m for the late records only
 * (those below the running maximum). TL_ENOMEM changes nothing. */
TL_NODISCARD tl_status_t tl_sort_pairs(tl_mem_t *m, tl_ts_t *ts, tl_handle_t *h, size_t n);

/* Merges two sorted pair arrays into dst. */
void tl_merge_pairs(const tl_ts_t *a_ts, const tl_handle_t *a_h, size_t na, const tl_ts_t *b_ts,
                    const tl_handle_t *b_h, size_t nb, tl_ts_t *dst_ts, tl_handle_t *dst_h);

#endif /* TL_SORT_H */
