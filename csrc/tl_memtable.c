/*
 * tl_memtable.c: the mutable ingest layer (see tl_memtable.h).
 *
 * Invariants: run, stage and every late run are sorted by timestamp; the run
 * never shrinks and its written prefix never changes; a buffer that a reader
 * may have pinned (refs > 1) is never written below its published length;
 * records == run + ooo_records; late runs obey size[i] > 2 * size[i + 1] after
 * every insert (unless a merge allocation failed, which is harmless).
 */
#include "tl_memtable.h"

#define RUN_INITIAL_CAP 256

static size_t mtbuf_bytes(size_t cap) {
    size_t per = sizeof(tl_ts_t) + sizeof(tl_handle_t) + sizeof(tl_seq_t);
    return sizeof(tl_mtbuf_t) + tl_mul_size(cap, per);
}

static tl_mtbuf_t *mtbuf_new(tl_mem_t *m, size_t cap) {
    tl_mtbuf_t *b = tl_mem_alloc(m, mtbuf_bytes(cap));
    if (b == NULL) return NULL;
    tl_ref_init(&b->refs);
    b->cap = cap;
    atomic_init(&b->n, 0);
    b->ts = (tl_ts_t *)(b + 1);
    b->h = (tl_handle_t *)(b->ts + cap);
    b->seq = (tl_seq_t *)(b->h + cap);
    return b;
}

static void mtbuf_release(tl_mem_t *m, tl_mtbuf_t *b) {
    if (b != NULL && tl_ref_dec(&b->refs)) tl_mem_free(m, b, mtbuf_bytes(b->cap));
}

size_t tl_mtbuf_len(const tl_mtbuf_t *b) {
    return b == NULL ? 0 : atomic_load_explicit(&((tl_mtbuf_t *)b)->n, memory_order_acquire);
}

static void mtbuf_set_len(tl_mtbuf_t *b, size_t n) {
    atomic_store_explicit(&b->n, n, memory_order_release);
}

void tl_mt_init(tl_memtable_t *mt, size_t max_records, size_t ooo_budget) {
    memset(mt, 0, sizeof(*mt));
    mt->min_seq = UINT64_MAX;
    mt->max_records = max_records < 1 ? 1 : max_records;
    mt->ooo_budget = ooo_budget < 1 ? 1 : ooo_budget;
}

bool tl_mt_full(const tl_memtable_t *mt) {
    return mt->records >= mt->max_records || mt->ooo_records >= mt->ooo_budget;
}

static tl_ts_t buf_first(const tl_mtbuf_t *b, tl_ts_t best) {
    /* Acquire: a published length covers the record it counts; a record
     * once written never changes. */
    if (b == NULL || atomic_load_explicit(&((tl_mtbuf_t *)b)->n, memory_order_acquire) == 0)
        return best;
    return TL_MIN(best, b->ts[0]);
}

tl_ts_t tl_mt_min_ts(const tl_memtable_t *mt) {
    tl_ts_t best = buf_first(mt->stage, buf_first(mt->run, TL_TS_MAX));
    for (size_t i = 0; i < mt->n_ooo; i++) best = buf_first(mt->ooo[i], best);
    return best;
}

/* Merges two sorted triple arrays into dst. */
static void merge3(const tl_mtbuf_t *a, size_t na, const tl_mtbuf_t *b, size_t nb,
                   tl_mtbuf_t *dst) {
    size_t i = 0, j = 0, k = 0;
    while (i < na || j < nb) {
        bool take_b = i == na || (j < nb && b->ts[j] < a->ts[i]);
        const tl_mtbuf_t *s = take_b ? b : a;
        size_t p = take_b ? j++ : i++;
        dst->ts[k] = s->ts[p];
        dst->h[k] = s->h[p];
        dst->seq[k] = s->seq[p];
        k++;
    }
    mtbuf_set_len(dst, k);
}

/* Keeps the late runs a geometric sequence so their number stays logarithmic.
 * A failed merge allocation only postpones the merge. */
static void merge_late_runs(tl_memtable_t *mt, tl_mem_t *m) {
    while (mt->n_ooo >= 2) {
        tl_mtbuf_t *a = mt->ooo[mt->n_ooo - 2], *b = mt->ooo[mt->n_ooo - 1];
        size_t na = tl_mtbuf_len(a), nb = tl_mtbuf_len(b);
        if (na > 2 * nb && mt->n_ooo < TL_MT_MAX_RUNS) return;
        tl_mtbuf_t *c = mtbuf_new(m, na + nb);
        if (c == NULL) return;
        merge3(a, na, b, nb, c);
        mt->ooo[mt->n_ooo - 2] = c;
        mt->n_ooo--;
        mtbuf_release(m, a);
        mtbuf_release(m, b);
    }
}

static tl_status_t append_in_order(tl_memtable_t *mt, tl_mem_t *m, tl_ts_t ts, tl_handle_t h,
                                   tl_seq_t seq) {
    tl_mtbuf_t *r = mt->run;
    size_t n = tl_mtbuf_len(r);
    if (r == NULL && mt->spare != NULL) {
        /* Reuse a sealed run: nobody else can see it (tl_mt_reset). */
        mt->run = r = mt->spare;
        mt->spare = NULL;
        mtbuf_set_len(r, 0);
    }
    if (r == NULL || n == r->cap) {
        /* Grow by doubling up to the seal threshold. The old buffer is only
         * released: a snapshot may still read it. */
        size_t cap = r == NULL ? RUN_INITIAL_CAP : 2 * r->cap;
        if (cap > mt->max_records) cap = mt->max_records;
        if (cap <= n) cap = n + 1;
        tl_mtbuf_t *nr = mtbuf_new(m, cap);
        if (nr == NULL) return TL_ERR(TL_ENOMEM);
        if (n > 0) {
            memcpy(nr->ts, r->ts, n * sizeof(tl_ts_t));
            memcpy(nr->h, r->h, n * sizeof(tl_handle_t));
            memcpy(nr->seq, r->seq, n * sizeof(tl_seq_t));
        }
        mtbuf_set_len(nr, n);
        mtbuf_release(m, r);
        mt->run = r = nr;
    }
    r->ts[n] = ts;
    r->h[n] = h;
    r->seq[n] = seq;
    mtbuf_set_len(r, n + 1);
    mt->run_last = ts;
    return TL_OK;
}

static tl_status_t append_late(tl_memtable_t *mt, tl_mem_t *m, tl_ts_t ts, tl_handle_t h,
                               tl_seq_t seq) {
    tl_mtbuf_t *s = mt->stage;
    size_t n = tl_mtbuf_len(s);
    if (s != NULL && n == s->cap) {
        /* The full stage becomes an immutable late run. */
        if (mt->n_ooo == TL_MT_MAX_RUNS) return TL_ERR(TL_ENOMEM);
        tl_mtbuf_t *fresh = mtbuf_new(m, TL_MT_STAGE_CAP);
        if (fresh == NULL) return TL_ERR(TL_ENOMEM);
        mt->ooo[mt->n_ooo++] = s;
        mt->stage = s = fresh;
        n = 0;
        merge_late_runs(mt, m);
    } else if (s == NULL || tl_ref_get(&s->refs) > 1) {
        /* Copy on write: a snapshot pinned this stage (or there is none yet). */
        tl_mtbuf_t *c = mtbuf_new(m, TL_MT_STAGE_CAP);
        if (c == NULL) return TL_ERR(TL_ENOMEM);
        if (n > 0) {
            memcpy(c->ts, s->ts, n * sizeof(tl_ts_t));
            memcpy(c->h, s->h, n * sizeof(tl_handle_t));
            memcpy(c->seq, s->seq, n * sizeof(tl_seq_t));
        }
        mtbuf_set_len(c, n);
        mtbuf_release(m, s);
        mt->stage = s = c;
    }
    /* Insertion after equal timestamps keeps arrival order among duplicates. */
    size_t pos = tl_upper_bound(s->ts, n, ts);
    size_t tail = n - pos;
    memmove(s->ts + pos + 1, s->ts + pos, tail * sizeof(tl_ts_t));
    memmove(s->h + pos + 1, s->h + pos, tail * sizeof(tl_handle_t));
    memmove(s->seq + pos + 1, s->seq + pos, tail * sizeof(tl_seq_t));
    s->ts[pos] = ts;
    s->h[pos] = h;
    s->seq[pos] = seq;
    mtbuf_set_len(s, n + 1);
    mt->ooo_records++;
    return TL_OK;
}

tl_status_t tl_mt_append_slow(tl_memtable_t *mt, tl_mem_t *m, tl_ts_t ts, tl_handle_t h,
                              tl_seq_t seq) {
    tl_status_t st;
    if (mt->run == NULL || ts >= mt->run_last) {
        st = append_in_order(mt, m, ts, h, seq);
    } else {
        st = append_late(mt, m, ts, h, seq);
    }
    if (st != TL_OK) return st;
    if (mt->min_seq == UINT64_MAX) mt->min_seq = seq;
    mt->records++;
    return TL_OK;
}

tl_status_t tl_mt_append_sorted_batch(tl_memtable_t *mt, tl_mem_t *m, const tl_ts_t *ts,
                                      const tl_handle_t *h, size_t n, tl_seq_t seq) {
    if (n == 0) return TL_OK;
    size_t n_late = mt->run == NULL ? 0 : tl_lower_bound(ts, n, mt->run_last);
    size_t n_in = n - n_late;
    if (n_late > 0 && mt->n_ooo >= TL_MT_MAX_RUNS - 1) {
        merge_late_runs(mt, m);
        if (mt->n_ooo >= TL_MT_MAX_RUNS - 1) return TL_ERR(TL_ENOMEM);
    }
    /* Allocate everything first so the commit below cannot fail. */
    tl_mtbuf_t *late = NULL, *grown = NULL;
    if (n_late > 0 && (late = mtbuf_new(m, n_late)) == NULL) return TL_ERR(TL_ENOMEM);
    size_t run_n = tl_mtbuf_len(mt->run);
    if (n_in > 0 && (mt->run == NULL || run_n + n_in > mt->run->cap)) {
        size_t cap = mt->run == NULL ? RUN_INITIAL_CAP : 2 * mt->run->cap;
        if (cap > mt->max_records) cap = mt->max_records;
        if (cap < run_n + n_in) cap = run_n + n_in;
        grown = mtbuf_new(m, cap);
        if (grown == NULL) {
            mtbuf_release(m, late);
            return TL_ERR(TL_ENOMEM);
        }
        if (run_n > 0) {
            memcpy(grown->ts, mt->run->ts, run_n * sizeof(tl_ts_t));
            memcpy(grown->h, mt->run->h, run_n * sizeof(tl_handle_t));
            memcpy(grown->seq, mt->run->seq, run_n * sizeof(tl_seq_t));
        }
        mtbuf_set_len(grown, run_n);
        mtbuf_release(m, mt->run);
        mt->run = grown;
    }
    if (late != NULL) {
        memcpy(late->ts, ts, n_late * sizeof(tl_ts_t));
        memcpy(late->h, h, n_late * sizeof(tl_handle_t));
        for (size_t i = 0; i < n_late; i++) late->seq[i] = seq;
        mtbuf_set_len(late, n_late);
        mt->ooo[mt->n_ooo++] = late;
        mt->ooo_records += n_late;
        merge_late_runs(mt, m);
    }
    if (n_in > 0) {
        tl_mtbuf_t *r = mt->run;
        memcpy(r->ts + run_n, ts + n_late, n_in * sizeof(tl_ts_t));
        memcpy(r->h + run_n, h + n_late, n_in * sizeof(tl_handle_t));
        for (size_t i = 0; i < n_in; i++) r->seq[run_n + i] = seq;
        mtbuf_set_len(r, run_n + n_in);
        mt->run_last = ts[n - 1];
    }
    if (mt->min_seq == UINT64_MAX) mt->min_seq = seq;
    mt->records += n;
    return TL_OK;
}

/* ------------------------------------------------------------------ seal */

typedef struct src3 {
    const tl_ts_t *ts;
    const tl_handle_t *h;
    const tl_seq_t *seq;
    size_t n;
} src3_t;

tl_status_t tl_mt_seal_build(const tl_memtable_t *mt, tl_mem_t *m, const tl_tombs_t *tombs,
                             tl_recs_t **out, tl_hlist_t *dropped) {
    *out = NULL;
    if (mt->records == 0) return TL_OK;
    size_t dropped_before = dropped->n;

    /* Late records first: merge stage and late runs into one sorted scratch
     * buffer (they are few compared to the run), then one two-way merge. */
    tl_mtbuf_t *late = NULL, *tmp = NULL;
    size_t n_late = 0;
    if (mt->ooo_records > 0) {
        late = mtbuf_new(m, mt->ooo_records);
        tmp = mtbuf_new(m, mt->ooo_records);
        if (late == NULL || tmp == NULL) {
            mtbuf_release(m, late);
            mtbuf_release(m, tmp);
            return TL_ERR(TL_ENOMEM);
        }
        for (size_t i = 0; i <= mt->n_ooo; i++) {
            const tl_mtbuf_t *b = i < mt->n_ooo ? mt->ooo[i] : mt->stage;
            size_t nb = tl_mtbuf_len(b);
            if (nb == 0) continue;
            merge3(late, n_late, b, nb, tmp);
            n_late += nb;
            tl_mtbuf_t *sw = late;
            late = tmp;
            tmp = sw;
        }
        mtbuf_release(m, tmp);
    }

    src3_t a = {NULL, NULL, NULL, 0}, b = {NULL, NULL, NULL, 0};
    if (mt->run != NULL) {
        a.ts = mt->run->ts;
        a.h = mt->run->h;
        a.seq = mt->run->seq;
        a.n = tl_mtbuf_len(mt->run);
    }
    if (late != NULL) {
        b.ts = late->ts;
        b.h = late->h;
        b.seq = late->seq;
        b.n = n_late;
    }
    tl_recs_t *r = NULL;
    tl_status_t st = tl_recs_create(m, a.n + b.n, &r);
    if (st != TL_OK) goto fail;
    tl_tomb_cursor_t tc;
    tl_tomb_cursor_init(&tc, tombs, TL_TS_MIN);
    size_t i = 0, j = 0, k = 0;
    while (i < a.n || j < b.n) {
        bool take_b = i == a.n || (j < b.n && b.ts[j] < a.ts[i]);
        const src3_t *s = take_b ? &b : &a;
        size_t p = take_b ? j++ : i++;
        tl_ts_t ts = s->ts[p];
        if (tc.n > 0 && tl_tomb_cursor_seq(&tc, ts) > s->seq[p]) {
            st = tl_hlist_push(m, dropped, s->h[p]);
            if (st != TL_OK) goto fail;
            continue;
        }
        r->ts[k] = ts;
        r->h[k] = s->h[p];
        k++;
    }
    r->n = k;
    mtbuf_release(m, late);
    if (k == 0) {
        tl_recs_release(m, r);
        r = NULL;
    } else {
        tl_recs_shrink_to_fit(m, &r);
    }
    *out = r;
    return TL_OK;
fail:
    dropped->n = dropped_before;
    mtbuf_release(m, late);
    tl_recs_release(m, r);
    return st;
}

void tl_mt_reset(tl_memtable_t *mt, tl_mem_t *m, tl_memtable_t *recycle) {
    tl_mtbuf_t *run = mt->run;
    /* Under the publish lock a count of 1 means no snapshot holds the run,
     * and none can pin it any more (views are captured under the same lock);
     * the acquire load orders the last reader's reads before our rewrites. */
    if (recycle != NULL && run != NULL && recycle->spare == NULL && tl_ref_get(&run->refs) == 1) {
        recycle->spare = run;
        run = NULL;
    }
    mtbuf_release(m, run);
    mtbuf_release(m, mt->stage);
    for (size_t i = 0; i < mt->n_ooo; i++) mtbuf_release(m, mt->ooo[i]);
    tl_mtbuf_t *spare = mt->spare;
    size_t max_records = mt->max_records, ooo_budget = mt->ooo_budget;
    tl_mt_init(mt, max_records, ooo_budget);
    mt->spare = spare;
}

void tl_mt_drop_spare(tl_memtable_t *mt, tl_mem_t *m) {
    mtbuf_release(m, mt->spare);
    mt->spare = NULL;
}

/* ------------------------------------------------------------------ views */

static tl_mtbuf_t *pin(tl_mtbuf_t *b) {
    if (b != NULL) tl_ref_inc(&b->refs);
    return b;
}

void tl_mt_view_capture(const tl_memtable_t *mt, tl_mtview_t *v) {
    v->run = pin(mt->run);
    v->run_n = tl_mtbuf_len(mt->run);
    v->stage = pin(mt->stage);
    v->stage_n = tl_mtbuf_len(mt->stage);
    v->n_ooo = mt->n_ooo;
    for (size_t i = 0; i < mt->n_ooo; i++) v->ooo[i] = pin(mt->ooo[i]);
}

void tl_mt_view_release(tl_mtview_t *v, tl_mem_t *m) {
    mtbuf_release(m, v->run);
    mtbuf_release(m, v->stage);
    for (size_t i = 0; i < v->n_ooo; i++) mtbuf_release(m, v->ooo[i]);
    memset(v, 0, sizeof(*v));
}

void tl_mt_for_each_handle(const tl_memtable_t *mt, void (*fn)(void *ctx, tl_handle_t h),
                           void *ctx) {
    size_t n = tl_mtbuf_len(mt->run);
    for (size_t i = 0; i < n; i++) fn(ctx, mt->run->h[i]);
    n = tl_mtbuf_len(mt->stage);
    for (size_t i = 0; i < n; i++) fn(ctx, mt->stage->h[i]);
    for (size_t r = 0; r < mt->n_ooo; r++) {
        n = tl_mtbuf_len(mt->ooo[r]);
        for (size_t i = 0; i < n; i++) fn(ctx, mt->ooo[r]->h[i]);
    }
}

size_t tl_mt_view_records(const tl_mtview_t *v, size_t *ooo) {
    size_t late = v->stage_n;
    for (size_t i = 0; i < v->n_ooo; i++) late += tl_mtbuf_len(v->ooo[i]);
    *ooo = late;
    return v->run_n + late;
}

size_t tl_mt_bytes(const tl_memtable_t *mt) {
    size_t b = 0;
    if (mt->run != NULL) b += mtbuf_bytes(mt->run->cap);
    if (mt->spare != NULL) b += mtbuf_bytes(mt->spare->cap);
    if (mt->stage != NULL) b += mtbuf_bytes(mt->stage->cap);
    for (size_t i = 0; i < mt->n_ooo; i++) b += mtbuf_bytes(mt->ooo[i]->cap);
    return b;
}

static bool buf_sorted(const tl_mtbuf_t *b) {
    return b == NULL || tl_ts_sorted(b->ts, tl_mtbuf_len(b));
}

bool tl_mt_validate(const tl_memtable_t *mt, const char **why) {
    size_t late = tl_mtbuf_len(mt->stage);
    if (!buf_sorted(mt->run) || !buf_sorted(mt->stage)) {
        *why = "memtable: run or stage out of order";
        return false;
    }
    for (size_t i = 0; i < mt->n_ooo; i++) {
        if (!buf_sorted(mt->ooo[i]) || tl_mtbuf_len(mt->ooo[i]) == 0) {
            *why = "memtable: late run out of order or empty";
            return false;
        }
        late += tl_mtbuf_len(mt->ooo[i]);
    }
    size_t run_n = tl_mtbuf_len(mt->run);
    if (late != mt->ooo_records || run_n + late != mt->records) {
        *why = "memtable: record counters disagree with the buffers";
        return false;
    }
    if (run_n > 0 && mt->run->ts[run_n - 1] != mt->run_last) {
        *why = "memtable: run_last is stale";
        return false;
    }
    return true;
}
