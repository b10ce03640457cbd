/*
 * tl_maint.c: maintenance: the policy (which unit of work comes next), the
 * units themselves (flush memruns to L0, compact L0 into L1, forget
 * tombstones nothing needs) and the worker thread that runs them in
 * background mode.
 *
 * Threads: a unit runs with maint_mu held, on the worker or on the writer
 * (explicit tl_flush/tl_compact/tl_maint_step). Inputs are pinned under the
 * publish lock, the work is done without it, and the result is published by
 * re-deriving the manifest from the current one under the lock (the writer
 * may have added memruns meanwhile; nobody else touches L0/L1 because
 * maint_mu is held). Handles a compaction drops are queued for the retired
 * queue and released later by a GIL holder, never here.
 */
#include "tl_maint.h"

#include "tl_compact.h"
#include "tl_flush.h"
#include "tl_log_internal.h"
#include "tl_merge.h"

tl_maint_action_t tl_maint_next(const tl_maint_shape_t *s) {
    if (s->frozen) return TL_MA_SEAL_FROZEN;
    if (s->memtable_full) return TL_MA_SEAL;
    if (s->covered > 0) return TL_MA_DROP_COVERED;
    if (s->memruns > 0) return TL_MA_FLUSH;
    if (s->l0_segments > 0 && s->l0_segments >= s->max_delta_segments) return TL_MA_COMPACT_L0;
    if (s->delete_debt_threshold > 0 && s->delete_debt >= s->delete_debt_threshold) {
        return TL_MA_COMPACT_DEBT;
    }
    if (s->forget_due) return TL_MA_FORGET;
    return TL_MA_NONE;
}

/* ---------------------------------------------------------------- units */

static size_t forget_tombstones(tl_log_t *log);

/* Turns every memrun of the current manifest into an L0 segment (flush
 * copies nothing: the segment shares the memrun's block). */
static tl_status_t flush_memruns(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    tl_manifest_t *man = tl_log__pin_manifest(log);
    size_t n = man->n_mr;
    tl_status_t st = TL_OK;
    if (n == 0) goto out;
    size_t bytes = n * sizeof(tl_segment_t *);
    tl_segment_t **segs = tl_mem_alloc(m, bytes);
    if (segs == NULL) {
        st = TL_ERR(TL_ENOMEM);
        goto out;
    }
    /* Each flushed run is one density sample for adaptive windows. The
     * width after them is stamped on the new segments, so compaction sizes
     * their windows by the density they were written at, however late it
     * runs. The state is committed only if the flush is published. */
    tl_adaptive_t next = log->adapt; /* maint_mu held: nobody else writes it */
    for (size_t i = 0; i < n; i++) {
        const tl_memrun_t *mr = man->mr[i];
        tl_adaptive_observe(&next, &log->cfg.adaptive, mr->recs->n, mr->min, mr->max);
    }
    tl_adaptive_update(&next, &log->cfg.adaptive);
    size_t made = 0;
    for (; made < n; made++) {
        st = tl_flush_memrun(m, man->mr[made], log->page_recs, &segs[made]);
        if (st != TL_OK) break;
        segs[made]->width = next.width;
    }
    if (st == TL_OK) {
        tl_manifest_edit_t e = {.drop_mr = man->mr, .n_drop_mr = n, .add_l0 = segs, .n_add_l0 = n};
        st = tl_log__publish(log, &e, false, NULL);
    }
    for (size_t i = 0; i < made; i++) tl_segment_release(m, segs[i]);
    tl_mem_free(m, segs, bytes);
    if (st == TL_OK) {
        tl_log__count(&log->flushes, n);
        tl_mutex_lock(&log->lock);
        log->adapt = next;
        tl_mutex_unlock(&log->lock);
    }
out:
    tl_manifest_release(m, man);
    return st;
}

static tl_status_t flush_and_forget(tl_log_t *log) {
    tl_status_t st = flush_memruns(log);
    /* Flushed sources keep their watermarks: nothing new is forgettable
     * because of the flush itself, but the memtable the seal emptied may
     * have been the last holder of old records a tombstone hid. */
    if (st == TL_OK) (void)forget_tombstones(log);
    return st;
}

/* Can tombstone t be forgotten? Only if nothing meeting its interval could
 * still hold a record it hides. New sources never need an old tombstone: a
 * memrun's watermark and every new memtable record's sequence exceed it. */
typedef struct forget_ctx {
    const tl_manifest_t *man;
    tl_seq_t mt_min_seq; /* smallest sequence in the memtables, live and frozen
                          * (UINT64_MAX if both are empty) */
    tl_ts_t mt_min_ts;   /* smallest timestamp in them (TL_TS_MAX if empty) */
    tl_seq_t seq;        /* the sequence when both were read */
    size_t needed;       /* tombstones judged and kept: something needs them */
} forget_ctx_t;

static bool source_needs(tl_seq_t wm, tl_ts_t min, tl_ts_t max, const tl_tomb_t *t) {
    return wm < t->seq && min <= t->hi && max >= t->lo;
}

static bool tomb_judged_forgettable(const forget_ctx_t *c, const tl_tomb_t *t);

/* Counts what a source or the memtable still needs, apart from the
 * tombstones too new to judge: next_action's "set doubled" rule compares
 * the set with what the last forget could not drop, and a tombstone added
 * while it ran is not that (counting it stalled forgetting for good). */
static bool tomb_forgettable(void *vctx, const tl_tomb_t *t) {
    forget_ctx_t *c = vctx;
    if (t->seq > c->seq) return false;
    if (tomb_judged_forgettable(c, t)) return true;
    c->needed++;
    return false;
}

static bool tomb_judged_forgettable(const forget_ctx_t *c, const tl_tomb_t *t) {
    /* A memtable record older than t can only be one of those held at the
     * pin, and none of them lies below mt_min_ts. */
    if (c->mt_min_seq < t->seq && t->hi >= c->mt_min_ts) return false;
    const tl_manifest_t *man = c->man;
    for (size_t i = 0; i < man->n_mr; i++) {
        if (source_needs(man->mr[i]->wm, man->mr[i]->min, man->mr[i]->max, t)) return false;
    }
    for (size_t i = 0; i < man->n_l0; i++) {
        if (source_needs(man->l0[i]->wm, man->l0[i]->min, man->l0[i]->max, t)) return false;
    }
    for (size_t i = tl_manifest_l1_seek(man, t->lo); i < man->n_l1 && man->l1[i]->min <= t->hi; i++) {
        if (man->l1[i]->wm < t->seq) return false;
    }
    return true;
}

/* Drops the tombstones nothing needs any more. The filter runs outside the
 * lock on a pinned set; if a delete replaced the set meanwhile (at full
 * delete speed it nearly always does) the work is redone once more outside
 * the lock, and then under it, so that a stream of deletes cannot keep the
 * set from ever shrinking. Under the lock the cost is O(tombstones), which
 * the retention policy itself keeps bounded. Only tombstones no newer than
 * the pinned sequence are judged: mt_min_seq says nothing about a record
 * appended after the pin. Caller holds maint_mu (the manifest cannot lose a
 * source meanwhile; sources the writer adds never need an old tombstone). */
static size_t forget_tombstones(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    size_t kept = 0;
    tl_mutex_lock(&log->lock);
    if (log->tombs == NULL) {
        tl_mutex_unlock(&log->lock);
        return 0;
    }
    tl_manifest_t *man = log->man;
    tl_manifest_retain(man);
    forget_ctx_t c = {man, TL_MIN(log->mt.min_seq, log->frozen.min_seq),
                      TL_MIN(tl_mt_min_ts(&log->mt), tl_mt_min_ts(&log->frozen)),
                      atomic_load_explicit(&log->seq, memory_order_relaxed), 0};
    tl_mutex_unlock(&log->lock);
    for (int attempt = 0; attempt < 3; attempt++) {
        bool locked = attempt == 2;
        tl_mutex_lock(&log->lock);
        tl_tombs_t *cur = log->tombs;
        tl_tombs_retain(cur);
        if (!locked) tl_mutex_unlock(&log->lock);
        tl_tombs_t *nt = NULL;
        bool changed = false, done = true;
        c.needed = 0;
        /* Forgetting is an optimisation: on ENOMEM simply try next time
         * (reporting the whole set as kept, so it is not retried at once). */
        kept = tl_tombs_count(cur);
        bool filtered =
            cur != NULL && tl_tombs_filter(m, cur, tomb_forgettable, &c, &nt, &changed) == TL_OK;
        if (filtered) kept = c.needed;
        if (filtered && changed) { /* nt is NULL when nothing is kept */
            if (!locked) tl_mutex_lock(&log->lock);
            if (log->tombs == cur) {
                /* No delete came in meanwhile: swap (the log's reference
                 * passes to nt's old owner below). */
                log->tombs = nt;
                nt = cur;
            } else {
                done = false;
            }
            if (!locked) tl_mutex_unlock(&log->lock);
        }
        if (locked) tl_mutex_unlock(&log->lock);
        tl_tombs_release(m, nt);
        tl_tombs_release(m, cur); /* our pin */
        if (done) break;
    }
    tl_manifest_release(m, man);
    return kept;
}

/* ---------------------------------------------------------------- reclaiming deletes */

/* An immutable source (memrun, L0 or L1 segment) as the survey sees it. */
typedef struct src_view {
    const tl_ts_t *ts;
    size_t n;
    tl_ts_t min, max;
    tl_seq_t wm;
} src_view_t;

static src_view_t view_of_memrun(const tl_memrun_t *mr) {
    src_view_t v = {mr->recs->ts, mr->recs->n, mr->min, mr->max, mr->wm};
    return v;
}

static src_view_t view_of_segment(const tl_segment_t *sg) {
    src_view_t v = {sg->recs->ts, sg->recs->n, sg->min, sg->max, sg->wm};
    return v;
}

/* Tombstone intervals a source is probed against one by one; past this many
 * meeting it, an even sample of this many stands for them all. Keeps one
 * survey at O(sources x SURVEY_PROBES x log) whatever the delete pattern. */
#define SURVEY_PROBES 64
/* Most intervals an exact coverage walk visits before giving up (the source
 * then counts as not covered; its debt still triggers a compaction). */
#define COVER_WALK_MAX ((size_t)1 << 16)

/* Index of the first interval meeting [min, max]; returns how many meet it. */
static size_t tombs_meeting(const tl_tombs_t *t, tl_ts_t min, tl_ts_t max, size_t *first) {
    size_t n = tl_tombs_count(t);
    size_t a = tl_tombs_seek(t, min), b = tl_tombs_seek(t, max);
    if (b < n && tl_tombs_get(t, b)->lo <= max) b++;
    *first = a;
    return b > a ? b - a : 0;
}

/* Records of s that interval v hides. */
static size_t hidden_by(const tl_tomb_t *v, const src_view_t *s) {
    if (v->seq <= s->wm) return 0;
    size_t a = tl_lower_bound(s->ts, s->n, TL_MAX(v->lo, s->min));
    size_t b = tl_upper_bound(s->ts, s->n, TL_MIN(v->hi, s->max));
    return b > a ? b - a : 0;
}

/* Exact: does every record of s lie under an interval newer than its
 * watermark? Walks the intervals meeting s in order, tracking the first
 * record not yet known hidden. */
static bool covered_walk(const tl_tombs_t *t, const src_view_t *s, size_t first, size_t m) {
    size_t pos = 0;
    if (m > COVER_WALK_MAX) return false;
    for (size_t i = first; i < first + m; i++) {
        const tl_tomb_t *v = tl_tombs_get(t, i);
        if (v->seq <= s->wm) continue; /* a record there shows up as a gap */
        if (tl_lower_bound(s->ts, s->n, v->lo) > pos) return false;
        size_t end = tl_upper_bound(s->ts, s->n, v->hi);
        if (end > pos) pos = end;
        if (pos == s->n) return true;
    }
    return pos == s->n;
}

/* Hidden records of s (exact up to SURVEY_PROBES meeting intervals, else an
 * estimate from an even sample) and whether s is entirely hidden (always
 * exact: a sample that says "all" is checked by a walk). */
static size_t survey_source(const tl_tombs_t *t, const src_view_t *s, bool *covered) {
    *covered = false;
    size_t first;
    size_t m = tombs_meeting(t, s->min, s->max, &first);
    if (m == 0) return 0;
    size_t k = TL_MIN(m, (size_t)SURVEY_PROBES);
    uint64_t h = 0;
    for (size_t x = 0; x < k; x++) {
        size_t i = first + (size_t)((uint64_t)x * m / k);
        h += hidden_by(tl_tombs_get(t, i), s);
    }
    if (k < m) h = h * m / k;
    if (h >= s->n) {
        h = s->n;
        *covered = k == m || covered_walk(t, s, first, m);
    }
    return (size_t)h;
}

typedef struct survey {
    size_t covered;           /* sources entirely hidden */
    uint64_t hidden, physical; /* records, over all immutable sources */
} survey_t;

static void survey_add(survey_t *sv, const tl_tombs_t *t, src_view_t s) {
    bool cov;
    sv->physical += s.n;
    sv->hidden += survey_source(t, &s, &cov);
    sv->covered += cov;
}

/* What deletes left behind in the immutable sources of man. The memtables
 * are left out: sealing applies their deletes. */
static survey_t survey_run(const tl_manifest_t *man, const tl_tombs_t *t) {
    survey_t sv = {0, 0, 0};
    if (t == NULL) return sv;
    for (size_t i = 0; i < man->n_mr; i++) survey_add(&sv, t, view_of_memrun(man->mr[i]));
    for (size_t i = 0; i < man->n_l0; i++) survey_add(&sv, t, view_of_segment(man->l0[i]));
    for (size_t i = 0; i < man->n_l1; i++) survey_add(&sv, t, view_of_segment(man->l1[i]));
    return sv;
}

static bool source_covered(const tl_tombs_t *t, src_view_t s) {
    bool cov;
    (void)survey_source(t, &s, &cov);
    return cov;
}

static tl_status_t push_handles(tl_mem_t *m, tl_hlist_t *l, const tl_recs_t *r) {
    for (size_t i = 0; i < r->n; i++) {
        tl_status_t st = tl_hlist_push(m, l, r->h[i]);
        if (st != TL_OK) return st;
    }
    return TL_OK;
}

/* Drops every memrun, L0 and L1 segment that deletes hide entirely, without
 * rewriting anything: one manifest edit, and their handles go to the retired
 * queue (released later by a GIL holder, once no older snapshot can see
 * them). Snapshots taken before keep the sources alive through their pinned
 * manifest. The tombstones they needed may then be forgotten. TL_EOF when
 * nothing was covered after all. */
static tl_status_t drop_covered(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    tl_manifest_t *man = tl_log__pin_manifest(log);
    tl_tombs_t *tombs;
    tl_seq_t seq;
    tl_log__pin_tombs(log, &tombs, &seq);
    tl_status_t st = TL_OK;
    tl_hlist_t dropped = {0};
    size_t mr_bytes = man->n_mr * sizeof(tl_memrun_t *);
    size_t bytes = mr_bytes + (man->n_l0 + man->n_l1) * sizeof(tl_segment_t *) + 1;
    char *scratch = tl_mem_alloc(m, bytes);
    if (scratch == NULL) {
        st = TL_ERR(TL_ENOMEM);
        goto out;
    }
    /* Both pointer types are 8-aligned and the block is malloc-aligned. */
    tl_memrun_t **mr = (tl_memrun_t **)(void *)scratch;
    tl_segment_t **l0 = (tl_segment_t **)(void *)(scratch + mr_bytes);
    tl_segment_t **l1 = l0 + man->n_l0; /* the survivors */
    size_t n_mr = 0, n_l0 = 0, n_l1 = 0;
    for (size_t i = 0; i < man->n_mr && st == TL_OK; i++) {
        if (!source_covered(tombs, view_of_memrun(man->mr[i]))) continue;
        mr[n_mr++] = man->mr[i];
        st = push_handles(m, &dropped, man->mr[i]->recs);
    }
    for (size_t i = 0; i < man->n_l0 && st == TL_OK; i++) {
        if (!source_covered(tombs, view_of_segment(man->l0[i]))) continue;
        l0[n_l0++] = man->l0[i];
        st = push_handles(m, &dropped, man->l0[i]->recs);
    }
    for (size_t i = 0; i < man->n_l1 && st == TL_OK; i++) {
        if (!source_covered(tombs, view_of_segment(man->l1[i]))) {
            l1[n_l1++] = man->l1[i];
            continue;
        }
        st = push_handles(m, &dropped, man->l1[i]->recs);
    }
    bool l1_changed = n_l1 < man->n_l1;
    /* The survey said some source is covered; if none is (it cannot: the
     * tombstones it needs stay until it is gone), report no progress so the
     * worker's loop does not pick the same unit forever. */
    if (st == TL_OK && n_mr == 0 && n_l0 == 0 && !l1_changed) st = TL_EOF;
    if (st == TL_OK) {
        st = tl_retire_reserve(&log->retire, m, dropped.n);
        if (st == TL_OK) {
            tl_manifest_edit_t e = {.drop_mr = mr, .n_drop_mr = n_mr, .drop_l0 = l0,
                                    .n_drop_l0 = n_l0, .replace_l1 = l1_changed,
                                    .l1 = l1, .n_l1 = n_l1};
            st = tl_log__publish(log, &e, NULL, &dropped);
            if (st != TL_OK) tl_retire_unreserve(&log->retire, dropped.n);
        }
        if (st == TL_OK) tl_log__count(&log->covered_drops, n_mr + n_l0 + (man->n_l1 - n_l1));
    }
    tl_mem_free(m, scratch, bytes);
out:
    tl_hlist_free(m, &dropped);
    tl_tombs_release(m, tombs);
    tl_manifest_release(m, man);
    (void)seq;
    if (st == TL_OK) (void)forget_tombstones(log);
    return st;
}

/* Compacts the oldest n_l0 L0 segments (and, with fold_debt, every L1
 * segment with delete debt) into L1. */
static tl_status_t compact(tl_log_t *log, size_t n_l0, bool fold_debt) {
    tl_mem_t *m = &log->mem;
    tl_manifest_t *man = tl_log__pin_manifest(log);
    tl_tombs_t *tombs;
    tl_seq_t seq;
    tl_log__pin_tombs(log, &tombs, &seq);
    if (n_l0 > man->n_l0) n_l0 = man->n_l0;
    tl_status_t st = TL_OK;
    if (n_l0 == 0 && (!fold_debt || tombs == NULL)) goto out;
    tl_compact_in_t in = {
        .mem = m,
        .l0 = man->l0,
        .n_l0 = n_l0,
        .l1 = man->l1,
        .n_l1 = man->n_l1,
        .tombs = tombs,
        .wm = seq,
        .fold_debt = fold_debt,
        .window_size = log->adapt.width, /* cfg.window_size unless adaptive */
        .window_origin = log->cfg.window_origin,
        .page_recs = log->page_recs,
        .target_recs = log->target_recs,
    };
    tl_compact_out_t res;
    st = tl_compact_run(&in, &res);
    if (st != TL_OK) goto out;
    st = tl_retire_reserve(&log->retire, m, res.dropped.n);
    if (st == TL_OK) {
        tl_manifest_edit_t e = {.drop_l0 = man->l0, .n_drop_l0 = n_l0, .replace_l1 = true,
                                .l1 = res.l1, .n_l1 = res.n_l1};
        st = tl_log__publish(log, &e, false, &res.dropped);
        if (st != TL_OK) tl_retire_unreserve(&log->retire, res.dropped.n);
    }
    if (st == TL_OK) tl_log__count(&log->compactions, 1);
    tl_compact_out_free(m, &res);
out:
    if (n_l0 > 0 || st != TL_OK) {
        tl_mutex_lock(&log->lock);
        tl_adaptive_feedback(&log->adapt, st == TL_OK);
        tl_adaptive_update(&log->adapt, &log->cfg.adaptive); /* backoff applies next run */
        tl_mutex_unlock(&log->lock);
    }
    tl_tombs_release(m, tombs);
    tl_manifest_release(m, man);
    if (st == TL_OK) (void)forget_tombstones(log);
    return st;
}

/* The worker's memory of its last survey: while neither the sequence (every
 * write and delete) nor the epoch (every publish) moved, the answer is the
 * same, so an idle log costs no survey per wake-up. */
typedef struct survey_memo {
    bool valid;
    uint64_t seq, epoch;
    survey_t sv;
    size_t tombs_kept; /* tombstones left by the last forget (see next_action) */
} survey_memo_t;

/* The next unit for this caller. memtable_full is the writer's business
 * (only it may read the memtable), so the worker passes false. */
static tl_maint_action_t next_action(tl_log_t *log, bool memtable_full, survey_memo_t *memo) {
    tl_mutex_lock(&log->lock);
    tl_manifest_t *man = log->man;
    tl_manifest_retain(man);
    tl_tombs_t *tombs = log->tombs;
    tl_tombs_retain(tombs);
    uint64_t seq = atomic_load_explicit(&log->seq, memory_order_relaxed);
    uint64_t epoch = atomic_load_explicit(&log->epoch, memory_order_relaxed);
    bool frozen = !tl_mt_empty(&log->frozen);
    tl_mutex_unlock(&log->lock);
    survey_t sv;
    if (memo != NULL && memo->valid && memo->seq == seq && memo->epoch == epoch) {
        sv = memo->sv;
    } else {
        sv = survey_run(man, tombs);
        if (memo != NULL) {
            memo->valid = true;
            memo->seq = seq;
            memo->epoch = epoch;
            memo->sv = sv;
        }
    }
    tl_maint_shape_t shape = {
        .frozen = frozen,
        .memtable_full = memtable_full,
        .memruns = man->n_mr,
        .l0_segments = man->n_l0,
        .max_delta_segments = log->cfg.max_delta_segments,
        .delete_debt = sv.physical == 0 ? 0.0 : (double)sv.hidden / (double)sv.physical,
        .delete_debt_threshold = log->cfg.delete_debt_threshold,
        .covered = sv.covered,
        /* Deletes no source meets (of empty ranges, or of data already
         * gone) never cause a flush or compaction, which is when the
         * tombstones nothing needs are forgotten: the worker also forgets
         * once the set doubled since its last try. Geometric, so amortised
         * O(1) per delete. */
        .forget_due = memo != NULL && tl_tombs_count(tombs) >= 2 * memo->tombs_kept + 64,
    };
    tl_tombs_release(&log->mem, tombs);
    tl_manifest_release(&log->mem, man);
    return tl_maint_next(&shape);
}

/* Runs one unit; caller holds maint_mu. */
static tl_status_t run_action(tl_log_t *log, tl_maint_action_t a, survey_memo_t *memo) {
    switch (a) {
    case TL_MA_SEAL_FROZEN: return tl_log__seal_frozen(log);
    case TL_MA_SEAL: return tl_log__seal(log);
    case TL_MA_DROP_COVERED: return drop_covered(log);
    case TL_MA_FLUSH: return flush_and_forget(log);
    case TL_MA_FORGET: {
        size_t kept = forget_tombstones(log);
        if (memo != NULL) memo->tombs_kept = kept;
        return TL_OK;
    }
    case TL_MA_COMPACT_L0: {
        size_t k = log->cfg.compaction_max_inputs;
        return compact(log, k == 0 ? SIZE_MAX : k, false);
    }
    case TL_MA_COMPACT_DEBT: return compact(log, SIZE_MAX, true);
    case TL_MA_NONE: break;
    }
    return TL_OK;
}

/* ---------------------------------------------------------------- explicit calls */

static bool closed(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->closed, memory_order_acquire);
}

/* An explicit flush or compaction means the caller is done writing for
 * now: the spare run goes back to the allocator. */
static void drop_spare(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    tl_mt_drop_spare(&log->mt, &log->mem);
    tl_mutex_unlock(&log->lock);
}

/* Seals the frozen memtable (older data first), then the live one. Caller
 * is the writer and holds maint_mu. */
static tl_status_t seal_all(tl_log_t *log) {
    tl_status_t st = tl_log__seal_frozen(log);
    return st == TL_OK ? tl_log__seal(log) : st;
}

tl_status_t tl_flush(tl_log_t *log) {
    if (closed(log)) return TL_ERR(TL_ESTATE);
    tl_mutex_lock(&log->maint_mu);
    tl_status_t st = seal_all(log);
    if (st == TL_OK) st = flush_memruns(log);
    drop_spare(log);
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

tl_status_t tl_compact(tl_log_t *log) {
    if (closed(log)) return TL_ERR(TL_ESTATE);
    tl_mutex_lock(&log->maint_mu);
    tl_status_t st = seal_all(log);
    if (st == TL_OK) st = flush_memruns(log);
    drop_spare(log);
    if (st == TL_OK) st = compact(log, SIZE_MAX, true);
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

tl_status_t tl_maint_step(tl_log_t *log) {
    if (closed(log)) return TL_ERR(TL_ESTATE);
    tl_mutex_lock(&log->maint_mu);
    tl_maint_action_t a = next_action(log, tl_mt_full(&log->mt), NULL);
    tl_status_t st = a == TL_MA_NONE ? TL_EOF : run_action(log, a, NULL);
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

/* ---------------------------------------------------------------- the worker */

static void *worker_main(void *arg) {
    tl_log_t *log = arg;
    survey_memo_t memo = {false, 0, 0, {0, 0, 0}, 0};
    tl_mutex_lock(&log->lock);
    while (!log->worker_stop) {
        if (!log->work_hint) tl_cond_wait_ms(&log->wake, &log->lock, log->cfg.maintenance_wakeup_ms);
        if (log->worker_stop) break;
        log->work_hint = false;
        tl_mutex_unlock(&log->lock);

        tl_mutex_lock(&log->maint_mu);
        /* Drain the backlog one unit at a time; stop early when asked. A
         * failed unit (out of memory) is retried at the next wake-up. */
        for (;;) {
            tl_maint_action_t a = next_action(log, false, &memo);
            if (a == TL_MA_NONE || run_action(log, a, &memo) != TL_OK) break;
            tl_mutex_lock(&log->lock);
            bool stop = log->worker_stop;
            tl_cond_broadcast(&log->progress);
            tl_mutex_unlock(&log->lock);
            if (stop) break;
        }
        tl_mutex_unlock(&log->maint_mu);

        tl_mutex_lock(&log->lock);
        tl_cond_broadcast(&log->progress);
    }
    tl_mutex_unlock(&log->lock);
    return NULL;
}

tl_status_t tl_maint__worker_start(tl_log_t *log) {
    log->worker_resume = false; /* an explicit start or stop decides */
    if (log->worker_running) return TL_OK;
    log->worker_stop = false;
    log->work_hint = true; /* look at the backlog right away */
    if (!tl_thread_start(&log->worker, worker_main, log)) return TL_ERR(TL_ENOMEM);
    log->worker_running = true;
    return TL_OK;
}

void tl_maint__worker_stop(tl_log_t *log) {
    log->worker_resume = false;
    if (!log->worker_running) return;
    tl_mutex_lock(&log->lock);
    log->worker_stop = true;
    tl_cond_broadcast(&log->wake);
    tl_mutex_unlock(&log->lock);
    tl_thread_join(log->worker);
    log->worker_running = false;
    /* Wake writers waiting on backpressure: nobody will make progress now. */
    tl_mutex_lock(&log->lock);
    tl_cond_broadcast(&log->progress);
    tl_mutex_unlock(&log->lock);
}

static void wake_worker(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    log->work_hint = true;
    tl_cond_broadcast(&log->wake);
    tl_mutex_unlock(&log->lock);
}

/* Over the bounds that make reads fan out too wide? Memruns awaiting flush
 * beyond sealed_max_runs, or L0 beyond twice the compaction trigger (the
 * trigger itself only starts a compaction; ingest stalls only if the worker
 * falls this far behind). Caller holds the lock. */
static bool over_bounds(const tl_log_t *log) {
    size_t waiting = log->man->n_mr + (tl_mt_empty(&log->frozen) ? 0 : 1);
    return waiting > log->cfg.sealed_max_runs ||
           (log->worker_running && log->man->n_l0 > 2 * log->cfg.max_delta_segments);
}

/* In a fork child whose parent ran the worker (tl_fork_child): the first
 * write that needs maintenance starts a new one, so the child keeps the
 * background behaviour without paying a thread if it only reads. If the
 * thread cannot be made the log works as if stopped and tries again later. */
static void resume_after_fork(tl_log_t *log) {
    if (TL_LIKELY(!log->worker_resume)) return;
    if (tl_maint__worker_start(log) != TL_OK) log->worker_resume = true;
}

tl_status_t tl_maint__after_seal(tl_log_t *log) {
    resume_after_fork(log);
    if (!log->worker_running) {
        tl_mutex_lock(&log->lock);
        bool over = over_bounds(log);
        tl_mutex_unlock(&log->lock);
        if (!over) return TL_OK;
        tl_log__count(&log->busy_events, 1);
        return TL_EBUSY;
    }
    wake_worker(log);
    tl_mutex_lock(&log->lock);
    bool over = over_bounds(log);
    if (over && log->cfg.sealed_wait_ms > 0) {
        uint64_t deadline = tl_now_ms() + log->cfg.sealed_wait_ms;
        for (;;) {
            uint64_t now = tl_now_ms();
            if (now >= deadline) break;
            tl_cond_wait_ms(&log->progress, &log->lock, (uint32_t)(deadline - now));
            over = over_bounds(log);
            if (!over) break;
        }
    }
    tl_mutex_unlock(&log->lock);
    if (!over) return TL_OK;
    tl_log__count(&log->busy_events, 1);
    return TL_EBUSY;
}

void tl_maint__after_delete(tl_log_t *log) {
    /* Nothing to hurry: the worker surveys what deletes left behind at its
     * next periodic wake-up (maintenance_wakeup_ms). Waking it per delete
     * would survey once per point delete of a delete loop. In a fork child
     * the worker that does that survey is started here (what deletes leave
     * behind is reclaimed by the worker, whatever the debt threshold). */
    resume_after_fork(log);
}
