/*
 * tl_query.h: counting and timestamp-neighbour queries over a snapshot,
 * answered by binary searches per source instead of scans (tl_query.c).
 * The public ones (tl_count_*, tl_min_ts, tl_max_ts, tl_next_ts, tl_prev_ts)
 * are in timelog.h; these are what the facade, stats and the iterator use.
 *
 * Threads: pure reads of a pinned snapshot.
 */
#ifndef TL_QUERY_H
#define TL_QUERY_H

#include "tl_source.h"

/* Exact visible records of the snapshot in r (inclusive range). */
TL_NODISCARD tl_status_t tl_count_in(const tl_snapshot_t *snap, tl_range_t r, uint64_t *out);

/* The visible handles stored at exactly ts, in iterator order: the first
 * cap go to out, *n_total counts them all. */
TL_NODISCARD tl_status_t tl_point_collect(const tl_snapshot_t *snap, tl_ts_t ts, tl_handle_t *out,
                                          size_t cap, size_t *n_total);

/* Physical records of the snapshot's sources in r, hidden ones included. */
TL_NODISCARD tl_status_t tl_count_physical_in(const tl_snapshot_t *snap, tl_range_t r,
                                              uint64_t *out);

#endif /* TL_QUERY_H */
