/*
 * tl_page.c: record blocks, fence-key page index and the searches every read
 * path uses. Blocks are immutable once published; the only mutation is the
 * builder filling ts/h before anyone else can see the block.
 *
 * Threads: searches are pure functions over immutable memory; retain/release
 * are atomic.
 */
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

tl_status_t tl_recs_create(tl_mem_t *m, size_t cap, tl_recs_t **out) {
    *out = NULL;
    if (cap == 0) cap = 1;
    size_t bytes = recs_alloc_bytes(cap);
    tl_recs_t *r = tl_mem_alloc(m, bytes);
    if (r == NULL) return TL_ERR(TL_ENOMEM);
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

/* Branch-free binary search: the loop does the same work whatever the data,
 * so it does not mispredict on random keys. */
size_t tl_lower_bound(const tl_ts_t *a, size_t n, tl_ts_t x) {
    const tl_ts_t *base = a;
    size_t len = n;
    while (len > 1) {
        size_t half = len / 2;
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
        base = (base[half - 1] <= x) ? base + half : base;
        len -= half;
    }
    size_t i = (size_t)(base - a);
    if (len == 1 && base[0] <= x) i++;
    return n == 0 ? 0 : i;
}

tl_status_t tl_pages_build(tl_mem_t *m, const tl_ts_t *ts, size_t n, size_t page_recs,
                           tl_pages_t *out) {
    memset(out, 0, sizeof(*out));
    if (page_recs == 0) return TL_ERR(TL_EINVAL);
    out->page_recs = page_recs;
    if (n == 0) return TL_OK;
    size_t np = (n - 1) / page_recs + 1;
    tl_ts_t *fences = tl_mem_alloc(m, tl_mul_size(np, 2 * sizeof(tl_ts_t)));
    if (fences == NULL) return TL_ERR(TL_ENOMEM);
    out->n_pages = np;
    out->min = fences;
    out->max = fences + np;
    for (size_t i = 0; i < np; i++) {
        size_t lo = i * page_recs;
        size_t hi = TL_MIN(n, lo + page_recs) - 1;
        out->min[i] = ts[lo];
        out->max[i] = ts[hi];
    }
    return TL_OK;
}

void tl_pages_free(tl_mem_t *m, tl_pages_t *p) {
    if (p->min != NULL) tl_mem_free(m, p->min, tl_pages_bytes(p));
    p->min = p->max = NULL;
    p->n_pages = 0;
}

size_t tl_pages_bytes(const tl_pages_t *p) { return p->n_pages * 2 * sizeof(tl_ts_t); }

size_t tl_pages_lower_bound(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x) {
    if (p->n_pages == 0) return 0;
    /* The first page whose max >= x is the only one that can hold the answer;
     * every earlier page is entirely < x. */
    size_t pg = tl_lower_bound(p->max, p->n_pages, x);
    if (pg == p->n_pages) return n;
    size_t lo = pg * p->page_recs;
    size_t len = TL_MIN(n, lo + p->page_recs) - lo;
    return lo + tl_lower_bound(ts + lo, len, x);
}

size_t tl_pages_upper_bound(const tl_pages_t *p, const tl_ts_t *ts, size_t n, tl_ts_t x) {
    if (p->n_pages == 0) return 0;
    size_t pg = tl_upper_bound(p->max, p->n_pages, x);
    if (pg == p->n_pages) return n;
    size_t lo = pg * p->page_recs;
    size_t len = TL_MIN(n, lo + p->page_recs) - lo;
    return lo + tl_upper_bound(ts + lo, len, x);
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
    return true;
}
