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
    if (s->memruns > 0) return TL_MA_FLUSH;
    if (s->l0_segments > 0 && s->l0_segments >= s->max_delta_segments) return TL_MA_COMPACT_L0;
    if (s->delete_debt_threshold > 0 && s->delete_debt >= s->delete_debt_threshold) {
        return TL_MA_COMPACT_DEBT;
    }
    return TL_MA_NONE;
}

/* ---------------------------------------------------------------- units */

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

/* Can tombstone t be forgotten? Only if nothing meeting its interval could
 * still hold a record it hides. New sources never need an old tombstone: a
 * memrun's watermark and every new memtable record's sequence exceed it. */
typedef struct forget_ctx {
    const tl_manifest_t *man;
    tl_seq_t mt_min_seq; /* smallest sequence in the memtables, live and frozen
                          * (UINT64_MAX if both are empty) */
} forget_ctx_t;

static bool source_needs(tl_seq_t wm, tl_ts_t min, tl_ts_t max, const tl_tomb_t *t) {
    return wm < t->seq && min <= t->hi && max >= t->lo;
}

static bool tomb_forgettable(void *vctx, const tl_tomb_t *t) {
    const forget_ctx_t *c = vctx;
    if (c->mt_min_seq < t->seq) return false;
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

static void forget_tombstones(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    tl_mutex_lock(&log->lock);
    tl_tombs_t *cur = log->tombs;
    tl_tombs_retain(cur);
    tl_manifest_t *man = log->man;
    tl_manifest_retain(man);
    forget_ctx_t c = {man, TL_MIN(log->mt.min_seq, log->frozen.min_seq)};
    tl_mutex_unlock(&log->lock);
    tl_tombs_t *nt = NULL;
    bool changed = false;
    /* Forgetting is an optimisation: on ENOMEM simply try next time. */
    if (cur != NULL && tl_tombs_filter(m, cur, tomb_forgettable, &c, &nt, &changed) == TL_OK && changed) {
        tl_mutex_lock(&log->lock);
        if (log->tombs == cur) {
            /* No delete came in meanwhile: swap. Otherwise drop the result. */
            log->tombs = nt;
            nt = cur;
        }
        tl_mutex_unlock(&log->lock);
    }
    tl_tombs_release(m, nt);
    tl_tombs_release(m, cur); /* our pin */
    tl_manifest_release(m, man);
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
    if (st == TL_OK) forget_tombstones(log);
    return st;
}

/* Share of records in immutable sources that tombstones hide. */
static double delete_debt(tl_log_t *log) {
    tl_snapshot_t local, *s = &local;
    if (tl_snapshot_pin_local(log, s) != TL_OK) return 0.0;
    double debt = 0.0;
    if (s->tombs != NULL) {
        /* Immutable sources only: sealing applies the memtable's deletes. */
        tl_mtview_t mv = s->mv, fv = s->fv;
        memset(&s->mv, 0, sizeof(s->mv));
        memset(&s->fv, 0, sizeof(s->fv));
        tl_range_t all = tl_range_closed(TL_TS_MIN, TL_TS_MAX);
        uint64_t phys = 0, vis = 0;
        /* Out of memory measuring: report no debt and measure again later. */
        if (tl_count_physical_in(s, all, &phys) == TL_OK && phys > 0 &&
            tl_count_in(s, all, &vis) == TL_OK) {
            debt = (double)(phys - vis) / (double)phys;
        }
        s->mv = mv;
        s->fv = fv;
    }
    tl_snapshot_release(s);
    return debt;
}

/* The next unit for this caller. memtable_full is the writer's business
 * (only it may read the memtable), so the worker passes false. */
static tl_maint_action_t next_action(tl_log_t *log, bool memtable_full, bool with_debt) {
    tl_manifest_t *man = tl_log__pin_manifest(log);
    tl_maint_shape_t shape = {
        .frozen = tl_log__frozen_pending(log),
        .memtable_full = memtable_full,
        .memruns = man->n_mr,
        .l0_segments = man->n_l0,
        .max_delta_segments = log->cfg.max_delta_segments,
        .delete_debt = 0.0,
        .delete_debt_threshold = log->cfg.delete_debt_threshold,
    };
    tl_manifest_release(&log->mem, man);
    if (with_debt && shape.delete_debt_threshold > 0) shape.delete_debt = delete_debt(log);
    return tl_maint_next(&shape);
}

/* Runs one unit; caller holds maint_mu. */
static tl_status_t run_action(tl_log_t *log, tl_maint_action_t a) {
    switch (a) {
    case TL_MA_SEAL_FROZEN: return tl_log__seal_frozen(log);
    case TL_MA_SEAL: return tl_log__seal(log);
    case TL_MA_FLUSH: return flush_memruns(log);
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
    tl_maint_action_t a = next_action(log, tl_mt_full(&log->mt), true);
    tl_status_t st = a == TL_MA_NONE ? TL_EOF : run_action(log, a);
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

/* ---------------------------------------------------------------- the worker */

static void *worker_main(void *arg) {
    tl_log_t *log = arg;
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
            tl_maint_action_t a = next_action(log, false, true);
            if (a == TL_MA_NONE || run_action(log, a) != TL_OK) break;
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
    if (log->cfg.delete_debt_threshold > 0) resume_after_fork(log);
    if (log->worker_running && log->cfg.delete_debt_threshold > 0) wake_worker(log);
}
