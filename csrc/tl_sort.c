/*
 * tl_sort.c: run peeling + LSD radix sort of (ts, handle) pairs.
 * Pure functions over caller memory; scratch comes from the accounted
 * allocator and is freed before returning.
 */
#include "tl_sort.h"

#include "tl_page.h"

#define SMALL_SORT 32

/* Radix keys: flipping the sign bit makes unsigned order equal signed order. */
static inline uint64_t key_of(tl_ts_t ts) { return (uint64_t)ts ^ ((uint64_t)1 << 63); }

static void insertion_sort(tl_ts_t *ts, tl_handle_t *h, size_t n) {
    for (size_t i = 1; i < n; i++) {
        tl_ts_t t = ts[i];
        tl_handle_t v = h[i];
        size_t j = i;
        while (j > 0 && ts[j - 1] > t) {
            ts[j] = ts[j - 1];
            h[j] = h[j - 1];
            j--;
        }
        ts[j] = t;
        h[j] = v;
    }
}

/* LSD radix sort, 8 bits a pass; passes whose digit is the same for every key
 * are skipped (timestamps of one stream share their high bytes). The result
 * ends in (ts, h). tmp_ts/tmp_h hold n entries of scratch. */
static void radix_sort(tl_ts_t *ts, tl_handle_t *h, tl_ts_t *tmp_ts, tl_handle_t *tmp_h, size_t n) {
    size_t counts[8][256];
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key_of(ts[i]);
        for (int d = 0; d < 8; d++) counts[d][(k >> (8 * d)) & 0xff]++;
    }
    tl_ts_t *src_ts = ts, *dst_ts = tmp_ts;
    tl_handle_t *src_h = h, *dst_h = tmp_h;
    for (int d = 0; d < 8; d++) {
        size_t *c = counts[d];
        uint64_t first = (key_of(src_ts[0]) >> (8 * d)) & 0xff;
        if (c[first] == n) continue; /* every key has this digit */
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t v = c[b];
            c[b] = sum;
            sum += v;
        }
        for (size_t i = 0; i < n; i++) {
            size_t pos = c[(key_of(src_ts[i]) >> (8 * d)) & 0xff]++;
            dst_ts[pos] = src_ts[i];
            dst_h[pos] = src_h[i];
        }
        tl_ts_t *st = src_ts;
        src_ts = dst_ts;
        dst_ts = st;
        tl_handle_t *sh = src_h;
        src_h = dst_h;
        dst_h = sh;
    }
    if (src_ts != ts) {
        memcpy(ts, src_ts, n * sizeof(tl_ts_t));
        memcpy(h, src_h, n * sizeof(tl_handle_t));
    }
}

void tl_merge_pairs(const tl_ts_t *a_ts, const tl_handle_t *a_h, size_t na, const tl_ts_t *b_ts,
                    const tl_handle_t *b_h, size_t nb, tl_ts_t *dst_ts, tl_handle_t *dst_h) {
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (b_ts[j] < a_ts[i]) {
            dst_ts[k] = b_ts[j];
            dst_h[k++] = b_h[j++];
        } else {
            dst_ts[k] = a_ts[i];
            dst_h[k++] = a_h[i++];
        }
    }
    if (i < na) {
        memcpy(dst_ts + k, a_ts + i, (na - i) * sizeof(tl_ts_t));
        memcpy(dst_h + k, a_h + i, (na - i) * sizeof(tl_handle_t));
        k += na - i;
    }
    if (j < nb) {
        memcpy(dst_ts + k, b_ts + j, (nb - j) * sizeof(tl_ts_t));
        memcpy(dst_h + k, b_h + j, (nb - j) * sizeof(tl_handle_t));
    }
}

/* Peels the ascending run of src into dst, radix-sorts the late records in
 * scratch and merges them in from the back. dst may be src itself (the run
 * only ever moves down, and the merge fills dst from the end): then the sort
 * is in place, with scratch for the late records only. On TL_ENOMEM nothing
 * was written. */
static tl_status_t peel_sort(tl_mem_t *m, const tl_ts_t *src_ts, const tl_handle_t *src_h, size_t n,
                             tl_ts_t *dst_ts, tl_handle_t *dst_h) {
    /* Count the late records first (those below the running max), so the
     * scratch is sized by them and not by the whole batch: peak memory of a
     * mostly ordered ingest stays close to the batch itself. */
    size_t k_late = 0;
    tl_ts_t run_max = TL_TS_MIN;
    for (size_t i = 0; i < n; i++) {
        if (src_ts[i] >= run_max) {
            run_max = src_ts[i];
        } else {
            k_late++;
        }
    }
    size_t pair = sizeof(tl_ts_t) + sizeof(tl_handle_t);
    size_t scratch_bytes = tl_mul_size(k_late, 2 * pair);
    char *scratch = tl_mem_alloc(m, scratch_bytes);
    if (scratch == NULL) return TL_ERR(TL_ENOMEM);
    tl_ts_t *late_ts = (tl_ts_t *)scratch;
    tl_handle_t *late_h = (tl_handle_t *)(late_ts + k_late);
    tl_ts_t *tmp_ts = (tl_ts_t *)(late_h + k_late);
    tl_handle_t *tmp_h = (tl_handle_t *)(tmp_ts + k_late);

    /* Peel the ascending run (records >= the running max) into dst; the rest
     * are late. */
    size_t a = 0, k = 0;
    run_max = TL_TS_MIN;
    for (size_t i = 0; i < n; i++) {
        if (src_ts[i] >= run_max) {
            run_max = src_ts[i];
            dst_ts[a] = src_ts[i];
            dst_h[a++] = src_h[i];
        } else {
            late_ts[k] = src_ts[i];
            late_h[k++] = src_h[i];
        }
    }
    if (k <= SMALL_SORT) {
        insertion_sort(late_ts, late_h, k);
    } else {
        radix_sort(late_ts, late_h, tmp_ts, tmp_h, k);
    }
    /* Merge from the back so the run can stay where it is in dst. */
    size_t i = a, j = k, w = n;
    while (j > 0) {
        if (i > 0 && dst_ts[i - 1] > late_ts[j - 1]) {
            w--;
            i--;
            dst_ts[w] = dst_ts[i];
            dst_h[w] = dst_h[i];
        } else {
            w--;
            j--;
            dst_ts[w] = late_ts[j];
            dst_h[w] = late_h[j];
        }
    }
    tl_mem_free(m, scratch, scratch_bytes);
    return TL_OK;
}

tl_status_t tl_sort_pairs_into(tl_mem_t *m, const tl_ts_t *src_ts, const tl_handle_t *src_h,
                               size_t n, tl_ts_t *dst_ts, tl_handle_t *dst_h) {
    if (n == 0) return TL_OK;
    if (tl_ts_sorted(src_ts, n)) {
        memcpy(dst_ts, src_ts, n * sizeof(tl_ts_t));
        memcpy(dst_h, src_h, n * sizeof(tl_handle_t));
        return TL_OK;
    }
    if (n <= SMALL_SORT) {
        memcpy(dst_ts, src_ts, n * sizeof(tl_ts_t));
        memcpy(dst_h, src_h, n * sizeof(tl_handle_t));
        insertion_sort(dst_ts, dst_h, n);
        return TL_OK;
    }
    return peel_sort(m, src_ts, src_h, n, dst_ts, dst_h);
}

tl_status_t tl_sort_pairs(tl_mem_t *m, tl_ts_t *ts, tl_handle_t *h, size_t n) {
    if (n <= 1 || tl_ts_sorted(ts, n)) return TL_OK;
    if (n <= SMALL_SORT) {
        insertion_sort(ts, h, n);
        return TL_OK;
    }
    return peel_sort(m, ts, h, n, ts, h);
}
