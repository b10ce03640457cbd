/*
 * tl_page.c: record blocks, fence-key page index and the searches every read
 * path uses. Blocks are immutable once published; the only mutation is the
 * builder filling ts/h before anyone else can see the block.
 *
 * Threads: searches are pure functions over immutable memory; retain/release
 * are atomic.
 */
/* madvise is POSIX/Linux, hidden by a strict -std=c17 unless asked for. */
#if defined(__linux__)
#define _DEFAULT_SOURCE 1
#include <sys/mman.h>
#endif

#include "tl_page.h"

/* The header is padded to 64 bytes, so the timestamp array keeps the
 * alignment the allocator gave the block (16 bytes with glibc; 64 with an
 * allocator that aligns to cache lines). */
#define RECS_HDR_BYTES ((sizeof(tl_recs_t) + 63u) & ~(size_t)63u)

static size_t recs_alloc_bytes(size_t cap) {
    size_t body = tl_mul_size(cap, sizeof(tl_ts_t) + sizeof(tl_handle_t));
    if (body == SIZE_MAX || body > SIZE_MAX - RECS_HDR_BYTES) return SIZE_MAX;
    return RECS_HDR_BYTES + body;
}

static void recs_wire(tl_recs_t *r, size_t cap) {
    r->cap = cap;
    r->ts = (tl_ts_t *)((char *)r + RECS_HDR_BYTES);
    r->h = (tl_handle_t *)(r->ts + cap);
}

/* Large blocks are read by random searches: with 4 KiB pages nearly every
 * probe of a search in a 100 MB block is also a TLB miss. Asking Linux for
 * transparent huge pages on the block's 2 MiB-aligned interior makes those
 * probes cheaper, and faults the block in 512 times less often while it is
 * filled. Advice only: any failure is ignored. */
static void advise_huge(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (bytes < 4 * huge) return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

tl_status_t tl_recs_create(tl_mem_t *m, size_t cap, tl_recs_t **out) {
    *out = NULL;
    if (cap == 0) cap = 1;
    size_t bytes = recs_alloc_bytes(cap);
    tl_recs_t *r = tl_mem_alloc(m, bytes);
    if (r == NULL) return TL_ERR(TL_ENOMEM);
    advise_huge(r, bytes);
    tl_ref_init(&r->refs);
    r->n = 0;
    recs_wire(r, cap);
    *out = r;
    return TL_OK;
}

void tl_recs_shrink_to_fit(tl_mem_t *m, tl_recs_t **recs) {
    tl_recs_t *r = *recs;
    size_t n = r->n == 0 ? 1 : r->n;
    if (n >= r->cap) return;
    /* Handles move down next to the timestamps before the block shrinks. */
    memmove(r->ts + n, r->h, r->n * sizeof(tl_handle_t));
    tl_recs_t *q = tl_mem_realloc(m, r, recs_alloc_bytes(r->cap), recs_alloc_bytes(n));
    if (q == NULL) {
        /* Keep the big block but restore its layout. */
        memmove(r->ts + r->cap, r->ts + n, r->n * sizeof(tl_handle_t));
        return;
    }
    recs_wire(q, n);
    *recs = q;
}

void tl_recs_retain(tl_recs_t *r) { tl_ref_inc(&r->refs); }

void tl_recs_release(tl_mem_t *m, tl_recs_t *r) {
    if (r == NULL) return;
    if (tl_ref_dec(&r->refs)) tl_mem_free(m, r, recs_alloc_bytes(r->cap));
}

size_t tl_recs_bytes(const tl_recs_t *r) { return recs_alloc_bytes(r->cap); }

#if defined(__GNUC__) || defined(__clang__)
#define TL_PREFETCH(p) __builtin_prefetch(p)
#else
#define TL_PREFETCH(p) ((void)0)
#endif

/* Branch-free binary search: the loop does the same work whatever the data,
 * so it does not mispredict on random keys. On arrays larger than the caches
 * each step is a memory miss; prefetching both candidates of the next step
 * overlaps two misses instead of paying them one after the other. */
size_t tl_lower_bound(const tl_ts_t *a, size_t n, tl_ts_t x) {
    const tl_ts_t *base = a;
    size_t len = n;
    while (len > 1) {
        size_t half = len / 2;
        size_t next = (len - half) / 2;
        if (next > 0) {
            TL_PREFETCH(base + next - 1);
            TL_PREFETCH(base + half + next - 1);
        }
        base = (base[half - 1] < x) ? base + half : base;
        len -= half;
    }
    size_t i = (size_t)(base - a);
    if (len == 1 && base[0] < x) i++;
    return n == 0 ? 0 : i;
}

size_t tl_upper_bound(const tl_ts_t *a, size_t n, tl_ts_t x) {
    const tl_ts_t *base = a;
    size_t len = n;
    while (len > 1) {
        size_t half = len / 2;
        size_t next = (len - half) / 2;
        if (next > 0) {
            TL_PREFETCH(base + next - 1);
            TL_PREFETCH(base + half + next - 1);
        }
        base = (base[half - 1] <= x) ? base + half : base;
        len -= half;
    }
    size_t i = (size_t)(base - a);
    if (len == 1 && base[0] <= x) i++;
    return n == 0 ? 0 : i;
}

size_t tl_gallop_upper(const tl_ts_t *a, size_t from, size_t n, tl_ts_t x) {
    if (from >= n || a[from] > x) return from;
    /* Invariant: a[lo] <= x; the answer lies in (lo, hi]. */
    size_t lo = from, step = 1, hi;
    for (;;) {
        if (step > n - 1 - lo) {
            hi = n;
            break;
        }
        hi = lo + step;
        if (a[hi] > x) break;
        lo = hi;
        step *= 2;
    }
    return lo + 1 + tl_upper_bound(a + lo + 1, hi - lo - 1, x);
}

tl_status_t tl_pages_build(tl_mem_t *m, const tl_ts_t *ts, size_t n, size_t page_recs,
                           tl_pages_t *out) {
    memset(out, 0, sizeof(*out));
    if (page_recs == 0) return TL_ERR(TL_EINVAL);
    out->page_recs = page_recs;
    if (n == 0) return TL_OK;
    size_t np = (n - 1) / page_recs + 1;
    /* Level sizes: ceil(len / FANOUT) each, while the level below is larger
     * than one node. */
    size_t keys = 2 * np, below = n;
    while (below > TL_FENCE_FANOUT && out->n_levels < TL_FENCE_MAX_LEVELS) {
        size_t len = (below - 1) / TL_FENCE_FANOUT + 1;
        out->lvl_len[out->n_levels++] = len;
        keys += len;
        below = len;
    }
    out->bytes = tl_mul_size(keys, sizeof(tl_ts_t));
    tl_ts_t *k = tl_mem_alloc(m, out->bytes);
    if (k == NULL) {
        memset(out, 0, sizeof(*out));
        return TL_ERR(TL_ENOMEM);
    }
    out->n_pages = np;
    out->min = k;
    out->max = k + np;
    for (size_t i = 0; i < np; i++) {
        size_t lo = i * page_recs;
        size_t hi = TL_MIN(n, lo + page_recs) - 1;
        out->min[i] = ts[lo];
        out->max[i] = ts[hi];
    }
    tl_ts_t *next = k + 2 * np;
    const tl_ts_t *src = ts;
    for (size_t l = 0; l < out->n_levels; l++) {
        out->lvl[l] = next;
        for (size_t j = 0; j < out->lvl_len[l]; j++) next[j] = src[j * TL_FENCE_FANOUT];
        src = next;
        next += out->lvl_len[l];
    }
    return TL_OK;
}

void tl_pages_free(tl_mem_t *m, tl_pages_t *p) {
    if (p->min != NULL) tl_mem_free(m, p->min, p->bytes);
    size_t page_recs = p->page_recs;
    memset(p, 0, sizeof(*p));
    p->page_recs = page_recs;
}

size_t tl_pages_bytes(const tl_pages_t *p) { return p->bytes; }

/* Descends the fence index. `le` selects upper bound (keys <= x) instead of
 * lower bound (keys < x). The rank at one level pins the rank at the level
 * below to one node: if r keys of level l+1 are below x, then key (r-1)*F of
 * level l is below x and key r*F is not, so only the F-1 keys between them
 * need a look (a 4-step branch-free search inside the node). */
static inline size_t node_rank(const tl_ts_t *a, size_t lo, size_t hi, tl_ts_t x, bool le) {
    return lo + (le ? tl_upper_bound(a + lo, hi - lo, x) : tl_lower_bound(a + lo, hi - lo, x));
}

/* pf_h (may be NULL): the handles of the block, whose lines under the last
 * node are requested before that node is searched, so a caller about to
 * read the handle at the answer overlaps that miss with the timestamps'. */
static inline size_t fence_rank(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x,
                                bool le, const tl_handle_t *pf_h) {
    size_t top = p->n_levels;
    const tl_ts_t *a = top > 0 ? p->lvl[top - 1] : ts;
    size_t r = node_rank(a, 0, top > 0 ? p->lvl_len[top - 1] : n, x, le);
    for (size_t l = top; l-- > 0;) {
        if (r == 0) return 0; /* everything below is >= x (or > x) too */
        a = l > 0 ? p->lvl[l - 1] : ts;
        size_t len = l > 0 ? p->lvl_len[l - 1] : n;
        size_t lo = (r - 1) * TL_FENCE_FANOUT + 1;
        if (l == 0 && pf_h != NULL) {
            TL_PREFETCH(pf_h + lo);
            TL_PREFETCH(pf_h + lo + 8);
        }
        r = node_rank(a, lo, TL_MIN(r * TL_FENCE_FANOUT, len), x, le);
    }
    return r;
}

/* The keys of the node below rank r: (r-1)*F+1 .. min(r*F, len), or none. */
static inline void node_span(size_t r, size_t len, size_t *lo, size_t *hi) {
    *lo = r == 0 ? 0 : (r - 1) * TL_FENCE_FANOUT + 1;
    *hi = r == 0 ? 0 : TL_MIN(r * TL_FENCE_FANOUT, len);
}

void tl_pages_bounds(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x1, tl_ts_t x2,
                     size_t *lo, size_t *hi) {
    size_t top = p->n_levels;
    const tl_ts_t *a = top > 0 ? p->lvl[top - 1] : ts;
    size_t len = top > 0 ? p->lvl_len[top - 1] : n;
    size_t r1 = node_rank(a, 0, len, x1, false), r2 = node_rank(a, 0, len, x2, true);
    for (size_t l = top; l-- > 0;) {
        a = l > 0 ? p->lvl[l - 1] : ts;
        len = l > 0 ? p->lvl_len[l - 1] : n;
        size_t lo1, hi1, lo2, hi2;
        node_span(r1, len, &lo1, &hi1);
        node_span(r2, len, &lo2, &hi2);
        /* Both nodes (two lines each) are requested before either is read. */
        TL_PREFETCH(a + lo1);
        TL_PREFETCH(a + lo1 + 8);
        TL_PREFETCH(a + lo2);
        TL_PREFETCH(a + lo2 + 8);
        r1 = node_rank(a, lo1, hi1, x1, false);
        r2 = node_rank(a, lo2, hi2, x2, true);
    }
    *lo = r1;
    *hi = r2;
}

size_t tl_pages_lower_bound(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x) {
    if (n == 0) return 0;
    return fence_rank(p, ts, n, x, false, NULL);
}

size_t tl_pages_lower_bound_h(const tl_pages_t *p, const tl_ts_t *ts, const tl_handle_t *h,
                              size_t n, tl_ts_t x) {
    if (n == 0) return 0;
    return fence_rank(p, ts, n, x, false, h);
}

size_t tl_pages_upper_bound(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x) {
    if (n == 0) return 0;
    return fence_rank(p, ts, n, x, true, NULL);
}

bool tl_ts_sorted(const tl_ts_t *ts, size_t n) {
    for (size_t i = 1; i < n; i++) {
        if (ts[i - 1] > ts[i]) return false;
    }
    return true;
}

bool tl_pages_validate(const tl_pages_t *p, const tl_ts_t *ts, size_t n, const char **why) {
    if (!tl_ts_sorted(ts, n)) {
        *why = "page: timestamps out of order";
        return false;
    }
    if (p->page_recs == 0) {
        *why = "page: zero records per page";
        return false;
    }
    size_t want = n == 0 ? 0 : (n - 1) / p->page_recs + 1;
    if (p->n_pages != want) {
        *why = "page: page count does not cover the records";
        return false;
    }
    for (size_t i = 0; i < p->n_pages; i++) {
        size_t lo = i * p->page_recs;
        size_t hi = TL_MIN(n, lo + p->page_recs) - 1;
        if (p->min[i] != ts[lo] || p->max[i] != ts[hi]) {
            *why = "page: fence key does not match its page";
            return false;
        }
    }
    const tl_ts_t *below = ts;
    size_t below_len = n;
    for (size_t l = 0; l < p->n_levels; l++) {
        if (p->lvl_len[l] != (below_len - 1) / TL_FENCE_FANOUT + 1) {
            *why = "page: fence index level has the wrong size";
            return false;
        }
        for (size_t j = 0; j < p->lvl_len[l]; j++) {
            if (p->lvl[l][j] != below[j * TL_FENCE_FANOUT]) {
                *why = "page: fence index key is not its sample";
                return false;
            }
        }
        below = p->lvl[l];
        below_len = p->lvl_len[l];
    }
    if (below_len > TL_FENCE_FANOUT) {
        *why = "page: fence index top level is wider than one node";
        return false;
    }
    return true;
}

size_t tl_upper_from(const tl_pages_t *p, const tl_ts_t *ts, size_t from, size_t n, tl_ts_t x) {
    if (from >= n || ts[from] > x) return from;
    size_t near = from + TL_GALLOP_NEAR;
    if (near >= n || ts[near] > x) return tl_gallop_upper(ts, from, near < n ? near + 1 : n, x);
    if (p != NULL && p->n_pages > 0) return tl_pages_upper_bound(p, ts, n, x);
    return near + 1 + tl_upper_bound(ts + near + 1, n - near - 1, x);
}
