/*
 * tl_page.h: immutable sorted record arrays, their page index and searches.
 *
 * A record block (tl_recs_t) holds n timestamps and n handles as two separate
 * contiguous arrays in one allocation: the timestamp array is what NumPy sees
 * without a copy, the handle array is only read when a caller wants payloads.
 * Blocks are reference counted and shared: a memrun and the L0 segment that
 * flushing makes of it use the same block, so flush copies nothing.
 *
 * Pages are fixed-size slices of a block [i*P, min((i+1)*P, n)) with min/max
 * fence keys. A search looks at the dense fence array first (one cache line
 * covers eight pages) and then only inside the one page that can hold the key.
 */
#ifndef TL_PAGE_H
#define TL_PAGE_H

#include "tl_alloc.h"

typedef struct tl_recs {
    tl_refcnt_t refs;
    size_t n;    /* records */
    size_t cap;  /* records the allocation can hold */
    tl_ts_t *ts; /* sorted ascending (once published) */
    tl_handle_t *h;
} tl_recs_t;

/* A block with room for cap records and n = 0. ts/h are 8-byte aligned. */
TL_NODISCARD tl_status_t tl_recs_create(tl_mem_t *m, size_t cap, tl_recs_t **out);
/* Shrinks capacity to n (only while the caller is the sole owner). Keeps the
 * old allocation if the allocator refuses: shrinking is an optimisation. */
void tl_recs_shrink_to_fit(tl_mem_t *m, tl_recs_t **recs);
void tl_recs_retain(tl_recs_t *r);
void tl_recs_release(tl_mem_t *m, tl_recs_t *r); /* accepts NULL */
size_t tl_recs_bytes(const tl_recs_t *r);        /* bytes of the allocation */

/* First index i in sorted a[0..n) with a[i] >= x (n if none). */
size_t tl_lower_bound(const tl_ts_t *a, size_t n, tl_ts_t x);
/* First index i in sorted a[0..n) with a[i] > x (n if none). */
size_t tl_upper_bound(const tl_ts_t *a, size_t n, tl_ts_t x);

/* The fence index: level 0 samples every TL_FENCE_FANOUT-th timestamp of
 * the block, each further level every TL_FENCE_FANOUT-th key of the level
 * below, until a level fits in one node. A search reads one node (16 keys,
 * two cache lines) per level top-down and then 16 timestamps of the block:
 * log16(n) memory accesses instead of log2(n), and the upper levels are
 * small enough to stay in cache. It costs 8/15 of a byte per record. */
#define TL_FENCE_FANOUT 16
#define TL_FENCE_MAX_LEVELS 16

/* First index i >= from in sorted a[0..n) with a[i] > x, found by galloping
 * from `from` (probes from+1, +2, +4, ... then a binary search of the last
 * gap): O(log k) for an answer k records away, so the end of a short range
 * costs a few probes in cache lines the lower bound already touched. */
size_t tl_gallop_upper(const tl_ts_t *a, size_t from, size_t n, tl_ts_t x);

typedef struct tl_pages {
    size_t page_recs; /* records per page (the last page may hold fewer) */
    size_t n_pages;
    tl_ts_t *min;    /* fence keys: first timestamp of each page */
    tl_ts_t *max;    /* last timestamp of each page */
    size_t n_levels; /* fence index levels; 0 when the block fits one node */
    size_t lvl_len[TL_FENCE_MAX_LEVELS];
    tl_ts_t *lvl[TL_FENCE_MAX_LEVELS]; /* lvl[0] is the finest */
    size_t bytes;                      /* the one allocation holding min, max and the levels */
} tl_pages_t;

/* Builds the page fences and the fence index for sorted ts[0..n).
 * page_recs must be > 0. */
TL_NODISCARD tl_status_t tl_pages_build(tl_mem_t *m, const tl_ts_t *ts, size_t n, size_t page_recs,
                                        tl_pages_t *out);
void tl_pages_free(tl_mem_t *m, tl_pages_t *p);
size_t tl_pages_bytes(const tl_pages_t *p);

/* lower/upper bound through the fence index: same answers as the flat searches. */
size_t tl_pages_lower_bound(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x);
size_t tl_pages_upper_bound(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x);
/* Lower bound for a caller that reads the handle there next: the handle
 * lines are fetched while the last node of timestamps is searched. */
size_t tl_pages_lower_bound_h(const tl_pages_t *p, const tl_ts_t *ts, const tl_handle_t *h,
                              size_t n, tl_ts_t x);

/* The end of a range starting at `from`: first i >= from with ts[i] > x.
 * Gallops while the answer lies within TL_GALLOP_NEAR records (short ranges:
 * the cache lines the start's search just loaded); past that, searches
 * afresh, through the fence index when p is given. Galloping far would
 * stride through cold memory, one cache miss a probe (a range of a million
 * records in a 10M block: ~20 misses, against ~3 for a descent). */
#define TL_GALLOP_NEAR 64

/* Both ends of [x1, x2] in one pass: *lo = first i with ts[i] >= x1, *hi =
 * first i with ts[i] > x2. The two descents run in lockstep so the cache
 * misses of one overlap those of the other (counting a range of a large
 * block otherwise pays them one after the other). */
void tl_pages_bounds(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x1, tl_ts_t x2,
                     size_t *lo, size_t *hi);
size_t tl_upper_from(const tl_pages_t *p, const tl_ts_t *ts, size_t from, size_t n, tl_ts_t x);

/* Checks sort order of ts, that every fence key matches its page, and that
 * every fence-index key is the sample it should be. */
bool tl_pages_validate(const tl_pages_t *p, const tl_ts_t *ts, size_t n, const char **why);
bool tl_ts_sorted(const tl_ts_t *ts, size_t n);

#endif /* TL_PAGE_H */
