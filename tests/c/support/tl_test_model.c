/*
 * tl_test_model.c: the reference model (see tl_test_model.h).
 */
#include "tl_test_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tlt_model_init(tlt_model_t *m) {
    m->r = NULL;
    m->n = 0;
    m->cap = 0;
}

void tlt_model_free(tlt_model_t *m) {
    free(m->r);
    tlt_model_init(m);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "tl_test_model: realloc(%zu) failed\n", n);
        abort();
    }
    return q;
}

static void model_reserve(tlt_model_t *m, size_t want) {
    if (want <= m->cap) return;
    size_t cap = m->cap ? m->cap : 64;
    while (cap < want) cap *= 2;
    m->r = xrealloc(m->r, cap * sizeof *m->r);
    m->cap = cap;
}

void tlt_model_copy(tlt_model_t *dst, const tlt_model_t *src) {
    tlt_model_init(dst);
    model_reserve(dst, src->n);
    if (src->n) memcpy(dst->r, src->r, src->n * sizeof *src->r);
    dst->n = src->n;
}

int tlt_rec_cmp(const void *a, const void *b) {
    const tlt_rec_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return 0;
}

size_t tlt_model_lower(const tlt_model_t *m, tl_ts_t ts) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t tlt_model_upper(const tlt_model_t *m, tl_ts_t ts) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].ts <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void tlt_model_add(tlt_model_t *m, tl_ts_t ts, tl_handle_t h) {
    model_reserve(m, m->n + 1);
    /* Upper bound of (ts, h): handles usually grow, so this is the end of
     * the run of equal timestamps. */
    size_t i = tlt_model_upper(m, ts);
    while (i > 0 && m->r[i - 1].ts == ts && m->r[i - 1].h > h) i--;
    memmove(m->r + i + 1, m->r + i, (m->n - i) * sizeof *m->r);
    m->r[i].ts = ts;
    m->r[i].h = h;
    m->n++;
}

void tlt_model_add_recs(tlt_model_t *m, tlt_rec_t *b, size_t k) {
    if (k == 0) return;
    qsort(b, k, sizeof *b, tlt_rec_cmp);
    model_reserve(m, m->n + k);
    /* Merge from the back so nothing is overwritten before it is read. */
    size_t i = m->n, j = k, o = m->n + k;
    while (j > 0) {
        if (i > 0 && tlt_rec_cmp(&m->r[i - 1], &b[j - 1]) > 0)
            m->r[--o] = m->r[--i];
        else
            m->r[--o] = b[--j];
    }
    m->n += k;
}

void tlt_model_add_batch(tlt_model_t *m, const tl_ts_t *ts, const tl_handle_t *h, size_t n) {
    if (n == 0) return;
    tlt_rec_t *b = xrealloc(NULL, n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        b[i].ts = ts[i];
        b[i].h = h[i];
    }
    tlt_model_add_recs(m, b, n);
    free(b);
}

size_t tlt_model_delete_incl(tlt_model_t *m, tl_ts_t lo, tl_ts_t hi,
                             void (*cb)(void *ctx, tl_handle_t h), void *ctx) {
    if (lo > hi) return 0;
    size_t i0 = tlt_model_lower(m, lo);
    size_t i1 = tlt_model_upper(m, hi);
    if (i1 <= i0) return 0;
    if (cb != NULL)
        for (size_t i = i0; i < i1; i++) cb(ctx, m->r[i].h);
    memmove(m->r + i0, m->r + i1, (m->n - i1) * sizeof *m->r);
    m->n -= i1 - i0;
    return i1 - i0;
}

void tlt_model_slice(const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2, size_t *i0, size_t *i1) {
    if (t1 >= t2) {
        *i0 = *i1 = 0;
        return;
    }
    *i0 = tlt_model_lower(m, t1);
    *i1 = tlt_model_lower(m, t2);
}

uint64_t tlt_model_count(const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2) {
    size_t i0, i1;
    tlt_model_slice(m, t1, t2, &i0, &i1);
    return i1 - i0;
}

bool tlt_model_next(const tlt_model_t *m, tl_ts_t ts, tl_ts_t *out) {
    size_t i = tlt_model_upper(m, ts);
    if (i >= m->n) return false;
    *out = m->r[i].ts;
    return true;
}

bool tlt_model_prev(const tlt_model_t *m, tl_ts_t ts, tl_ts_t *out) {
    size_t i = tlt_model_lower(m, ts);
    if (i == 0) return false;
    *out = m->r[i - 1].ts;
    return true;
}
