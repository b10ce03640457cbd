/*
 * tl_reclaim.c: what deletes leave behind in immutable sources (see
 * tl_reclaim.h): the survey of hidden records, the whole-source drop of
 * sources deletes hide entirely, and forgetting tombstones nothing needs.
 *
 * Threads: every unit here runs with maint_mu held (on the worker, or on the
 * writer through tl_maint_step/tl_compact); inputs are pinned under the
 * publish lock and results published through tl_state_publish.
 */
#include "tl_reclaim.h"

#include "tl_source.h"

/* ---------------------------------------------------------------- forgetting tombstones */

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
 * tombstones too new to judge: the maintenance policy's "set doubled" rule
 * (tl_maint.c) compares the set with what the last forget could not drop,
 * and a tombstone added while it ran is not that (counting it stalled
 * forgetting for good). */
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
    for (size_t i = tl_manifest_l1_seek(man, t->lo); i < man->n_l1 && man->l1[i]->min <= t->hi;
         i++) {
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
size_t tl_reclaim_forget(tl_log_t *log) {
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

/* ---------------------------------------------------------------- surveying and dropping */

/* An immutable source (memrun, L0 or L1 segment) as the survey sees it: the
 * read path's view (tl_source.h), whose ts, n, min, max and wm it reads. */
typedef tl_src_t src_view_t;

static src_view_t view_of_memrun(const tl_memrun_t *mr) {
    src_view_t v;
    tl_src_of_memrun(&v, mr);
    return v;
}

static src_view_t view_of_segment(const tl_segment_t *sg) {
    src_view_t v;
    tl_src_of_segment(&v, sg);
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

static void survey_add(tl_survey_t *sv, const tl_tombs_t *t, src_view_t s) {
    bool cov;
    sv->physical += s.n;
    sv->hidden += survey_source(t, &s, &cov);
    sv->covered += cov;
}

/* What deletes left behind in the immutable sources of man. The memtables
 * are left out: sealing applies their deletes. */
tl_survey_t tl_reclaim_survey(const tl_manifest_t *man, const tl_tombs_t *t) {
    tl_survey_t sv = {0, 0, 0};
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
tl_status_t tl_reclaim_drop_covered(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    tl_manifest_t *man = tl_state_pin_manifest(log);
    tl_tombs_t *tombs;
    tl_seq_t seq;
    tl_state_pin_tombs(log, &tombs, &seq);
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
            tl_manifest_edit_t e = {.drop_mr = mr,
                                    .n_drop_mr = n_mr,
                                    .drop_l0 = l0,
                                    .n_drop_l0 = n_l0,
                                    .replace_l1 = l1_changed,
                                    .l1 = l1,
                                    .n_l1 = n_l1};
            st = tl_state_publish(log, &e, NULL, &dropped);
            if (st != TL_OK) tl_retire_unreserve(&log->retire, dropped.n);
        }
        if (st == TL_OK) tl_state_count(&log->covered_drops, n_mr + n_l0 + (man->n_l1 - n_l1));
    }
    tl_mem_free(m, scratch, bytes);
out:
    tl_hlist_free(m, &dropped);
    tl_tombs_release(m, tombs);
    tl_manifest_release(m, man);
    (void)seq;
    if (st == TL_OK) (void)tl_reclaim_forget(log);
    return st;
}
