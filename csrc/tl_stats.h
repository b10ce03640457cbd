/*
 * tl_stats.h: the bodies of the public tl_stats and tl_validate (timelog.h).
 *
 * tl_stats__collect pins a snapshot on the stack for the record counts and
 * structure sizes, then reads the instance's counters; it takes the publish
 * lock briefly for the registry size and the adaptive-window state.
 * tl_stats__validate holds maint_mu (so no half-built maintenance output is
 * live in the allocator) and the publish lock, runs every structure's
 * validator and checks the allocator's live bytes against what the instance
 * owns. Neither changes anything.
 */
#ifndef TL_STATS_H
#define TL_STATS_H

#include "tl_internal.h"

/* tl_stats; log may be NULL or closed (the snapshot pin reports it). */
TL_NODISCARD tl_status_t tl_stats__collect(tl_log_t *log, tl_stats_t *out);

/* tl_validate with log non-NULL and why non-NULL (*why already NULL). */
TL_NODISCARD tl_status_t tl_stats__validate(tl_log_t *log, const char **why);

#endif /* TL_STATS_H */
