/*
 * tl_source.c: building source views (see tl_source.h) from segments,
 * memruns and a snapshot's memtable views, and the bounds search of one
 * source. Pure reads of pinned, immutable data.
 */
#include "tl_source.h"

void tl_src_of_segment(tl_src_t *s, const tl_segment_t *seg) {
    s->ts = seg->recs->ts;
    s->h = seg->recs->h;
    s->seq = NULL;
    s->wm = seg->wm;
    s->n = seg->recs->n;
    s->min = seg->min;
    s->max = seg->max;
    s->pages = &seg->pages;
    s->level = seg->level == TL_LEVEL_L0 ? TL_SRC_L0 : TL_SRC_L1;
}

void tl_src_of_memrun(tl_src_t *s, const tl_memrun_t *mr) {
    s->ts = mr->recs->ts;
    s->h = mr->recs->h;
    s->seq = NULL;
    s->wm = mr->wm;
    s->n = mr->recs->n;
    s->min = mr->min;
    s->max = mr->max;
    s->pages = NULL;
    s->level = TL_SRC_MEMRUN;
}

static void src_of_mtbuf(tl_src_t *s, const tl_mtbuf_t *b, size_t n) {
    s->ts = b->ts;
    s->h = b->h;
    s->seq = b->seq;
    s->wm = 0;
    s->n = n;
    s->min = n > 0 ? b->ts[0] : 0;
    s->max = n > 0 ? b->ts[n - 1] : 0;
    s->pages = NULL;
    s->level = TL_SRC_MEMTABLE;
}

size_t tl_snapshot_max_flat_sources(const tl_snapshot_t *snap) {
    return 4 + snap->mv.n_ooo + snap->fv.n_ooo + snap->man->n_mr + snap->man->n_l0;
}

static size_t view_sources(const tl_mtview_t *v, tl_src_t *out) {
    size_t k = 0;
    if (v->run != NULL && v->run_n > 0) src_of_mtbuf(&out[k++], v->run, v->run_n);
    if (v->stage != NULL && v->stage_n > 0) src_of_mtbuf(&out[k++], v->stage, v->stage_n);
    for (size_t i = 0; i < v->n_ooo; i++)
        src_of_mtbuf(&out[k++], v->ooo[i], tl_mtbuf_len(v->ooo[i]));
    return k;
}

size_t tl_snapshot_flat_sources(const tl_snapshot_t *snap, tl_src_t *out) {
    size_t k = view_sources(&snap->mv, out);
    k += view_sources(&snap->fv, out + k);
    for (size_t i = 0; i < snap->man->n_mr; i++) tl_src_of_memrun(&out[k++], snap->man->mr[i]);
    for (size_t i = 0; i < snap->man->n_l0; i++) tl_src_of_segment(&out[k++], snap->man->l0[i]);
    return k;
}

void tl_src_bounds(const tl_src_t *s, tl_range_t r, size_t *a, size_t *b) {
    bool cut_lo = s->min<r.lo, cut_hi = s->max> r.hi;
    if (cut_lo && cut_hi && s->pages != NULL) {
        /* Records in r, estimated from the source's time density. */
        double est =
            ((double)r.hi - (double)r.lo) / ((double)s->max - (double)s->min) * (double)s->n;
        if (est > 4.0 * TL_GALLOP_NEAR) {
            tl_pages_bounds(s->pages, s->ts, s->n, r.lo, r.hi, a, b);
            return;
        }
    }
    *a = cut_lo ? tl_src_lb_h(s, r.lo) : 0;
    *b = cut_hi ? tl_upper_from(s->pages, s->ts, *a, s->n, r.hi) : s->n;
}
