/*
 * tl_segment.c: paged immutable segments (see tl_segment.h).
 * Threads: immutable after creation; refcounts are atomic.
 */
#include "tl_segment.h"

tl_status_t tl_segment_create(tl_mem_t *m, int level, tl_recs_t *recs, size_t page_recs,
                              tl_seq_t wm, tl_window_t window, tl_segment_t **out) {
    *out = NULL;
    if (recs == NULL || recs->n == 0 || page_recs == 0) return TL_ERR(TL_EINVAL);
    tl_segment_t *s = tl_mem_alloc(m, sizeof(*s));
    if (s == NULL) return TL_ERR(TL_ENOMEM);
    tl_status_t st = tl_pages_build(m, recs->ts, recs->n, page_recs, &s->pages);
    if (st != TL_OK) {
        tl_mem_free(m, s, sizeof(*s));
        return st;
    }
    tl_ref_init(&s->refs);
    s->level = level;
    tl_recs_retain(recs);
    s->recs = recs;
    s->wm = wm;
    s->min = recs->ts[0];
    s->max = recs->ts[recs->n - 1];
    s->window = window;
    s->width = 0;
    *out = s;
    return TL_OK;
}

void tl_segment_retain(tl_segment_t *s) { tl_ref_inc(&s->refs); }

void tl_segment_release(tl_mem_t *m, tl_segment_t *s) {
    if (s == NULL || !tl_ref_dec(&s->refs)) return;
    tl_pages_free(m, &s->pages);
    tl_recs_release(m, s->recs);
    tl_mem_free(m, s, sizeof(*s));
}

size_t tl_segment_own_bytes(const tl_segment_t *s) {
    return sizeof(*s) + tl_pages_bytes(&s->pages);
}

size_t tl_segment_lower_bound(const tl_segment_t *s, tl_ts_t x) {
    if (x <= s->min) return 0;
    return tl_pages_lower_bound(&s->pages, s->recs->ts, s->recs->n, x);
}

size_t tl_segment_upper_bound(const tl_segment_t *s, tl_ts_t x) {
    if (x >= s->max) return s->recs->n;
    return tl_pages_upper_bound(&s->pages, s->recs->ts, s->recs->n, x);
}

bool tl_segment_validate(const tl_segment_t *s, const char **why) {
    const tl_recs_t *r = s->recs;
    if (r == NULL || r->n == 0 || r->n > r->cap) {
        *why = "segment: empty or malformed block";
        return false;
    }
    if (!tl_pages_validate(&s->pages, r->ts, r->n, why)) return false;
    if (s->min != r->ts[0] || s->max != r->ts[r->n - 1]) {
        *why = "segment: min/max fences do not match its records";
        return false;
    }
    if (s->level != TL_LEVEL_L0 && s->level != TL_LEVEL_L1) {
        *why = "segment: unknown level";
        return false;
    }
    if (s->level == TL_LEVEL_L1 && (s->min < s->window.lo || s->max > s->window.hi)) {
        *why = "segment: L1 segment crosses its window";
        return false;
    }
    if (tl_ref_get(&s->refs) == 0) {
        *why = "segment: reachable with a zero reference count";
        return false;
    }
    return true;
}
