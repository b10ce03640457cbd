/*
 * tl_compact.c: L0 (+ touched L1) -> windowed L1 (see tl_compact.h).
 *
 * Selection: an L1 segment is rewritten only if some L0 input has a record
 * inside its [min, max] (found by binary search), or, with fold_debt, if a
 * tombstone newer than its watermark meets it. Every other L1 segment
 * survives untouched. A rewritten segment entirely covered by one hiding
 * tombstone is dropped without being merged (retention cutoffs cost nothing
 * per record but the handle hand-off).
 *
 * Merge and cut: inputs are merged by the shared k-way merge; hidden records
 * are dropped (their handles collected); survivors are cut into output
 * segments at (1) window boundaries (a record goes to the window of the
 * input L1 list that holds it, else to a new window of window_size placed
 * clear of those, so windows of different widths never overlap), (2) the next surviving L1 segment, which
 * no input record falls inside, so outputs slot between survivors without
 * overlapping them, and (3) the target size, but only where the timestamp
 * changes, so duplicates never straddle two segments and L1 stays strictly
 * disjoint (prev.max < next.min).
 *
 * Plan (tl_compact_plan, policy compactions only): which inputs one
 * bounded compaction takes. It walks the windows the merge would write
 * without merging (binary searches, no memory), so a bound costs little
 * next to the compaction it bounds.
 *
 * Threads: reads only immutable inputs; may run on a maintenance thread.
 */
#include "tl_compact.h"

#include "tl_merge.h"

typedef struct builder {
    const tl_compact_in_t *in;
    tl_compact_out_t *out;
    tl_segment_t **made; /* outputs in time order */
    size_t n_made, cap_made;
    tl_recs_t *cur;   /* records of the segment being built */
    tl_window_t win;  /* of the segment being built, or of the last one made */
    tl_ts_t ceiling;  /* last timestamp this segment may hold */
    size_t remaining; /* input records not yet consumed (sizes buffers) */
} builder_t;

static tl_status_t finish_segment(builder_t *b) {
    tl_mem_t *m = b->in->mem;
    if (b->cur == NULL) return TL_OK;
    if (b->n_made == b->cap_made) {
        size_t cap = b->cap_made == 0 ? 8 : 2 * b->cap_made;
        tl_segment_t **v = tl_mem_realloc(m, b->made, b->cap_made * sizeof(*v), cap * sizeof(*v));
        if (v == NULL) return TL_ERR(TL_ENOMEM);
        b->made = v;
        b->cap_made = cap;
    }
    tl_recs_shrink_to_fit(m, &b->cur);
    tl_segment_t *seg;
    tl_status_t st =
        tl_segment_create(m, TL_LEVEL_L1, b->cur, b->in->page_recs, b->in->wm, b->win, &seg);
    if (st != TL_OK) return st;
    tl_recs_release(m, b->cur); /* the segment holds its own reference */
    b->cur = NULL;
    b->made[b->n_made++] = seg;
    return TL_OK;
}

static tl_window_t l1_window_at(const void *pub, size_t i) {
    return ((tl_segment_t *const *)pub)[i]->window;
}

/* The window of a record at ts: the current L1 list's window holding it, or
 * a new one of the current width that stays clear of every published window
 * (widths change under adaptive sizing; see tl_window_place). */
static tl_window_t window_for(const tl_compact_in_t *in, tl_ts_t ts, tl_ts_t width) {
    return tl_window_place(ts, width, in->window_origin, in->l1, in->n_l1, l1_window_at);
}

/* Width of new windows for a record of merge cursor src: an L0 input's
 * stamp (the width when it was flushed), else the compaction's. */
static tl_ts_t width_of_src(const tl_compact_in_t *in, uint32_t src) {
    if (src < in->n_l0 && in->l0[src]->width > 0) return in->l0[src]->width;
    return in->window_size;
}

static tl_status_t start_segment(builder_t *b, tl_ts_t ts, tl_ts_t width, tl_segment_t *const *surv,
                                 size_t n_surv, size_t *sv) {
    const tl_compact_in_t *in = b->in;
    if (b->n_made > 0 && ts <= b->win.hi) {
        /* Still inside the last output's window (a target-size cut). */
    } else {
        tl_window_t w = window_for(in, ts, width);
        /* Records come in time order, so only the last output's window can
         * reach ts; inputs of different widths must not overlap it. */
        if (b->n_made > 0 && w.lo <= b->win.hi) w.lo = b->win.hi + 1;
        b->win = w;
    }
    while (*sv < n_surv && surv[*sv]->max < ts) (*sv)++;
    b->ceiling = b->win.hi;
    if (*sv < n_surv && surv[*sv]->min - 1 < b->ceiling) b->ceiling = surv[*sv]->min - 1;
    /* remaining excludes the record about to be pushed. */
    size_t cap = TL_MIN(in->target_recs, b->remaining + 1);
    return tl_recs_create(in->mem, cap, &b->cur);
}

static tl_status_t push_record(builder_t *b, tl_ts_t ts, tl_handle_t h) {
    tl_recs_t *r = b->cur;
    if (r->n == r->cap) {
        /* Only reachable through long runs of one duplicated timestamp past
         * the target size: grow this block rather than split the run. */
        tl_recs_t *bigger;
        tl_status_t st = tl_recs_create(b->in->mem, 2 * r->cap, &bigger);
        if (st != TL_OK) return st;
        memcpy(bigger->ts, r->ts, r->n * sizeof(tl_ts_t));
        memcpy(bigger->h, r->h, r->n * sizeof(tl_handle_t));
        bigger->n = r->n;
        tl_recs_release(b->in->mem, r);
        b->cur = r = bigger;
    }
    r->ts[r->n] = ts;
    r->h[r->n] = h;
    r->n++;
    return TL_OK;
}

/* A lone L0 input that would come out of the merge unchanged: nothing hides
 * any of its records, it lies inside one window, no surviving L1 segment
 * sits inside its span and it is within the target size. Then compaction
 * can promote it to L1 sharing its block, copying nothing: ingesting a
 * batch and compacting it costs no second copy of the data (and no 2x
 * memory peak). */
static bool promote_whole(const tl_compact_in_t *in, tl_segment_t *const *surv, size_t n_surv) {
    const tl_segment_t *s = in->l0[0];
    if (tl_segment_n(s) > in->target_recs) return false;
    if (tl_tombs_max_seq_in(in->tombs, s->min, s->max) > s->wm) return false;
    tl_window_t w = window_for(in, s->min, width_of_src(in, 0));
    if (s->max > w.hi) return false;
    for (size_t i = 0; i < n_surv; i++) {
        if (surv[i]->min <= s->max && surv[i]->max >= s->min) return false;
    }
    return true;
}

static tl_status_t promote(builder_t *b, const tl_segment_t *s) {
    const tl_compact_in_t *in = b->in;
    tl_window_t w = window_for(in, s->min, width_of_src(in, 0));
    tl_segment_t *seg;
    /* No tombstone newer than its watermark meets it, so it is as if every
     * tombstone up to in->wm had been folded: stamp that, so they can go. */
    tl_status_t st =
        tl_segment_create(in->mem, TL_LEVEL_L1, s->recs, in->page_recs, in->wm, w, &seg);
    if (st != TL_OK) return st;
    b->made = tl_mem_alloc(in->mem, sizeof(tl_segment_t *));
    if (b->made == NULL) {
        tl_segment_release(in->mem, seg);
        return TL_ERR(TL_ENOMEM);
    }
    b->cap_made = 1;
    b->made[b->n_made++] = seg;
    return TL_OK;
}

/* True when an L0 input has a record inside [lo, hi]. */
static bool l0_meets(const tl_compact_in_t *in, tl_ts_t lo, tl_ts_t hi) {
    for (size_t i = 0; i < in->n_l0; i++) {
        const tl_segment_t *s = in->l0[i];
        if (s->max < lo || s->min > hi) continue;
        size_t k = tl_segment_lower_bound(s, lo);
        if (k < s->recs->n && s->recs->ts[k] <= hi) return true;
    }
    return false;
}

static bool fully_hidden(const tl_tombs_t *t, const tl_segment_t *s) {
    const tl_tomb_t *v = tl_tombs_find(t, s->min);
    return v != NULL && v->hi >= s->max && v->seq > s->wm;
}

static tl_status_t drop_all(tl_mem_t *m, tl_hlist_t *l, const tl_segment_t *s) {
    for (size_t i = 0; i < s->recs->n; i++) {
        tl_status_t st = tl_hlist_push(m, l, s->recs->h[i]);
        if (st != TL_OK) return st;
    }
    return TL_OK;
}

/* ---------------------------------------------------------------- plan */

/* Windows a merge of l0[0, n) writes, counted up to cap + 1: the merge's
 * window walk (start_segment) without the merge. From the lowest
 * timestamp, take the lowest record not yet inside a counted window; its
 * window (placed as the merge places it, with its source's width) is the
 * next one the merge starts; skip past it. Each step costs n binary
 * searches, so a count costs O(windows * n * log records) and no memory. */
static size_t count_windows(const tl_compact_in_t *in, size_t n, size_t cap) {
    size_t count = 0;
    tl_ts_t from = TL_TS_MIN;
    for (;;) {
        bool found = false;
        tl_ts_t ts = 0;
        uint32_t src = 0;
        for (size_t i = 0; i < n; i++) {
            const tl_segment_t *s = in->l0[i];
            if (s->max < from) continue;
            size_t k = tl_segment_lower_bound(s, from);
            if (k < s->recs->n && (!found || s->recs->ts[k] < ts)) {
                found = true;
                ts = s->recs->ts[k];
                src = (uint32_t)i;
            }
        }
        if (!found) return count;
        tl_window_t w = window_for(in, ts, width_of_src(in, src));
        if (++count > cap || w.hi == TL_TS_MAX) return count;
        from = w.hi + 1;
    }
}

void tl_compact_plan(const tl_compact_in_t *in, size_t max_inputs, size_t max_windows,
                     tl_compact_plan_t *plan) {
    size_t n = in->n_l0;
    if (max_inputs != 0 && n > max_inputs) n = max_inputs;
    plan->n_l0 = n;
    plan->fold_debt = in->fold_debt;
    plan->fold_l1_end = 0;
    plan->windows = 0;
    plan->bounded = false;
    if (max_windows == 0) return;

    /* L0: the longest prefix within the bound, but never less than the
     * oldest segment (alone over the bound: progress first). Window counts
     * only grow with the prefix, so a binary search finds it in O(log n)
     * counts; lo only ever holds a prefix that was counted within it. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (count_windows(in, mid, max_windows) <= max_windows) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    size_t take = lo == 0 && n > 0 ? 1 : lo;
    size_t windows = count_windows(in, take, max_windows);
    plan->n_l0 = take;
    plan->bounded = take < n;

    /* Debt: L1 segments are sorted and disjoint, each inside its window,
     * and consecutive ones may share a window. */
    if (in->fold_debt) {
        tl_compact_in_t chosen = *in;
        chosen.n_l0 = take;
        bool have_last = false;
        tl_ts_t last_lo = 0;
        for (size_t i = 0; i < in->n_l1; i++) {
            const tl_segment_t *s = in->l1[i];
            if (tl_tombs_max_seq_in(in->tombs, s->min, s->max) <= s->wm) continue;
            bool counted = (have_last && s->window.lo == last_lo) ||
                           l0_meets(&chosen, s->window.lo, s->window.hi);
            if (!counted) {
                if (windows >= max_windows) {
                    /* Fold l1[0, i) only (none if i == 0: the L0 part
                     * used the whole bound). windows < max_windows
                     * when take == 0, so with no L0 one always fits. */
                    plan->fold_debt = i > 0;
                    plan->fold_l1_end = i;
                    plan->bounded = true;
                    break;
                }
                windows++;
                have_last = true;
                last_lo = s->window.lo;
            }
        }
    }
    plan->windows = windows;
}

/* ---------------------------------------------------------------- run */

tl_status_t tl_compact_run(const tl_compact_in_t *in, tl_compact_out_t *out) {
    tl_mem_t *m = in->mem;
    memset(out, 0, sizeof(*out));
    /* Scratch: per-L1 role, cursors, heap, survivor list. */
    size_t n_in_max = in->n_l0 + in->n_l1;
    size_t scratch_bytes = in->n_l1 * sizeof(uint8_t) +
                           n_in_max * (sizeof(tl_cur_t) + sizeof(uint32_t)) +
                           in->n_l1 * sizeof(tl_segment_t *) + 64;
    char *scratch = tl_mem_alloc(m, scratch_bytes);
    if (scratch == NULL) return TL_ERR(TL_ENOMEM);
    tl_cur_t *cur = (tl_cur_t *)scratch;
    uint32_t *heap = (uint32_t *)(cur + n_in_max);
    tl_segment_t **surv = (tl_segment_t **)(((uintptr_t)(heap + n_in_max) + 7) & ~(uintptr_t)7);
    uint8_t *role = (uint8_t *)(surv + in->n_l1); /* 0 survive, 1 merge, 2 drop whole */

    tl_status_t st = TL_OK;
    builder_t b = {in, out, NULL, 0, 0, NULL, {0, 0}, 0, 0};
    size_t n_cur = 0, n_surv = 0;
    tl_range_t all = tl_range_all();

    for (size_t i = 0; i < in->n_l1; i++) {
        const tl_segment_t *s = in->l1[i];
        bool fold = in->fold_debt && (in->fold_l1_end == 0 || i < in->fold_l1_end);
        bool touched = l0_meets(in, s->min, s->max) ||
                       (fold && tl_tombs_max_seq_in(in->tombs, s->min, s->max) > s->wm);
        role[i] = !touched ? 0 : fully_hidden(in->tombs, s) ? 2 : 1;
    }
    for (size_t i = 0; i < in->n_l0; i++) {
        tl_cur_t *c = &cur[n_cur++];
        tl_src_of_segment(&c->s, in->l0[i]);
        c->pos = 0;
        c->end = c->s.n;
        c->chain = NULL;
        b.remaining += c->s.n;
    }
    for (size_t i = 0; i < in->n_l1; i++) {
        if (role[i] == 0) {
            surv[n_surv++] = in->l1[i];
        } else if (role[i] == 1) {
            tl_cur_t *c = &cur[n_cur++];
            tl_src_of_segment(&c->s, in->l1[i]);
            c->pos = 0;
            c->end = c->s.n;
            c->chain = NULL;
            b.remaining += c->s.n;
            out->n_rewritten++;
        } else {
            st = drop_all(m, &out->dropped, in->l1[i]);
            if (st != TL_OK) goto fail;
            out->n_rewritten++;
        }
    }

    if (n_cur == 1 && in->n_l0 == 1 && promote_whole(in, surv, n_surv)) {
        st = promote(&b, in->l0[0]);
        if (st != TL_OK) goto fail;
        goto assemble;
    }

    tl_kmerge_t km;
    tl_kmerge_init(&km, cur, heap, n_cur, all);
    tl_tomb_cursor_t tc;
    tl_tomb_cursor_init(&tc, in->tombs, TL_TS_MIN);
    size_t sv = 0;
    tl_ts_t last = TL_TS_MIN;
    while (km.heap_n > 0) {
        tl_ts_t ts;
        tl_handle_t h;
        tl_seq_t seq;
        uint32_t src;
        tl_kmerge_take(&km, &ts, &h, &seq, &src);
        b.remaining--;
        if (tc.n > 0 && tl_tomb_cursor_seq(&tc, ts) > seq) {
            st = tl_hlist_push(m, &out->dropped, h);
            if (st != TL_OK) goto fail;
            continue;
        }
        bool cut = b.cur != NULL && (ts > b.ceiling || (b.cur->n >= in->target_recs && ts != last));
        if (cut) {
            st = finish_segment(&b);
            if (st != TL_OK) goto fail;
        }
        if (b.cur == NULL) {
            st = start_segment(&b, ts, width_of_src(in, src), surv, n_surv, &sv);
            if (st != TL_OK) goto fail;
        }
        st = push_record(&b, ts, h);
        if (st != TL_OK) goto fail;
        last = ts;
    }
    st = finish_segment(&b);
    if (st != TL_OK) goto fail;

assemble:
    /* The new L1 list: survivors and outputs, both sorted, merged by min. */
    out->n_l1 = n_surv + b.n_made;
    out->l1_bytes = (out->n_l1 == 0 ? 1 : out->n_l1) * sizeof(tl_segment_t *);
    out->l1 = tl_mem_alloc(m, out->l1_bytes);
    if (out->l1 == NULL) {
        st = TL_ERR(TL_ENOMEM);
        goto fail;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < n_surv || j < b.n_made) {
        bool take_made = i == n_surv || (j < b.n_made && b.made[j]->min < surv[i]->min);
        tl_segment_t *s = take_made ? b.made[j++] : surv[i++];
        if (!take_made) tl_segment_retain(s);
        out->l1[k++] = s; /* outputs hand over their creation reference */
    }
    out->n_outputs = b.n_made;
    tl_mem_free(m, b.made, b.cap_made * sizeof(tl_segment_t *));
    tl_mem_free(m, scratch, scratch_bytes);
    return TL_OK;

fail:
    tl_recs_release(m, b.cur);
    for (size_t x = 0; x < b.n_made; x++) tl_segment_release(m, b.made[x]);
    tl_mem_free(m, b.made, b.cap_made * sizeof(tl_segment_t *));
    tl_hlist_free(m, &out->dropped);
    tl_mem_free(m, scratch, scratch_bytes);
    memset(out, 0, sizeof(*out));
    return st;
}

void tl_compact_out_free(tl_mem_t *m, tl_compact_out_t *out) {
    for (size_t i = 0; i < out->n_l1; i++) tl_segment_release(m, out->l1[i]);
    tl_mem_free(m, out->l1, out->l1_bytes);
    tl_hlist_free(m, &out->dropped);
    memset(out, 0, sizeof(*out));
}
