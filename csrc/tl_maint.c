/*
 * tl_maint.c: maintenance: the policy (which unit of work comes next), the
 * compaction unit (pin inputs, tl_compact_run, publish), the explicit
 * flush/compact/step calls, backpressure after a seal, and the worker thread
 * that runs the units in background mode. The units themselves live below:
 * seal and flush in tl_flush.c, dropping covered sources and forgetting
 * tombstones in tl_reclaim.c.
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
#include "tl_reclaim.h"

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

static tl_status_t flush_and_forget(tl_log_t *log) {
    tl_status_t st = tl_flush__memruns(log);
    /* Flushed sources keep their watermarks: nothing new is forgettable
     * because of the flush itself, but the memtable the seal emptied may
     * have been the last holder of old records a tombstone hid. */
    if (st == TL_OK) (void)tl_reclaim_forget(log);
    return st;
}

/* A compaction of the oldest L0 segments (and, with fold_debt, of the L1
 * segments with delete debt) into L1. A policy compaction passes the
 * compaction_max_inputs / compaction_max_windows bounds (tl_compact_plan
 * picks what fits); the explicit tl_compact passes 0, 0: it promises a
 * fully compacted log, so it takes everything however long that takes. */
static tl_status_t compact(tl_log_t *log, size_t max_inputs, size_t max_windows, bool fold_debt) {
    tl_mem_t *m = &log->mem;
    tl_manifest_t *man = tl_state_pin_manifest(log);
    tl_tombs_t *tombs;
    tl_seq_t seq;
    tl_state_pin_tombs(log, &tombs, &seq);
    size_t n_l0 = 0;
    tl_status_t st = TL_OK;
    if (man->n_l0 == 0 && (!fold_debt || tombs == NULL)) goto out;
    tl_compact_in_t in = {
        .mem = m,
        .l0 = man->l0,
        .n_l0 = man->n_l0,
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
    tl_compact_plan_t plan;
    tl_compact_plan(&in, max_inputs, max_windows, &plan);
    n_l0 = plan.n_l0;
    in.n_l0 = plan.n_l0;
    in.fold_debt = plan.fold_debt;
    in.fold_l1_end = plan.fold_l1_end;
    tl_compact_out_t res;
    st = tl_compact_run(&in, &res);
    if (st != TL_OK) goto out;
    st = tl_retire_reserve(&log->retire, m, res.dropped.n);
    if (st == TL_OK) {
        tl_manifest_edit_t e = {.drop_l0 = man->l0,
                                .n_drop_l0 = n_l0,
                                .replace_l1 = true,
                                .l1 = res.l1,
                                .n_l1 = res.n_l1};
        st = tl_state_publish(log, &e, false, &res.dropped);
        if (st != TL_OK) tl_retire_unreserve(&log->retire, res.dropped.n);
    }
    if (st == TL_OK) tl_state_count(&log->compactions, 1);
    if (st == TL_OK && plan.bounded) tl_state_count(&log->compactions_bounded, 1);
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
    if (st == TL_OK) (void)tl_reclaim_forget(log);
    return st;
}

/* The worker's memory of its last survey: while neither the sequence (every
 * write and delete) nor the epoch (every publish) moved, the answer is the
 * same, so an idle log costs no survey per wake-up. */
typedef struct survey_memo {
    bool valid;
    uint64_t seq, epoch;
    tl_survey_t sv;
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
    tl_survey_t sv;
    if (memo != NULL && memo->valid && memo->seq == seq && memo->epoch == epoch) {
        sv = memo->sv;
    } else {
        sv = tl_reclaim_survey(man, tombs);
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
    case TL_MA_SEAL_FROZEN: return tl_flush__seal_frozen(log);
    case TL_MA_SEAL: return tl_flush__seal(log);
    case TL_MA_DROP_COVERED: return tl_reclaim_drop_covered(log);
    case TL_MA_FLUSH: return flush_and_forget(log);
    case TL_MA_FORGET: {
        size_t kept = tl_reclaim_forget(log);
        if (memo != NULL) memo->tombs_kept = kept;
        return TL_OK;
    }
    case TL_MA_COMPACT_L0: {
        return compact(log, log->cfg.compaction_max_inputs, log->cfg.compaction_max_windows, false);
    }
    /* Debt compactions merge every L0 segment (max_inputs is about L0
     * fan-out), but their windows are bounded like any policy compaction:
     * folding debt in the lowest windows first, step after step. */
    case TL_MA_COMPACT_DEBT: return compact(log, 0, log->cfg.compaction_max_windows, true);
    case TL_MA_NONE: break;
    }
    return TL_OK;
}

/* ---------------------------------------------------------------- explicit calls */

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
    tl_status_t st = tl_flush__seal_frozen(log);
    return st == TL_OK ? tl_flush__seal(log) : st;
}

tl_status_t tl_maint__flush(tl_log_t *log) {
    tl_mutex_lock(&log->maint_mu);
    tl_status_t st = seal_all(log);
    if (st == TL_OK) st = tl_flush__memruns(log);
    drop_spare(log);
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

tl_status_t tl_maint__compact(tl_log_t *log) {
    tl_mutex_lock(&log->maint_mu);
    tl_status_t st = seal_all(log);
    if (st == TL_OK) st = tl_flush__memruns(log);
    drop_spare(log);
    if (st == TL_OK) st = compact(log, 0, 0, true); /* explicit: no bound */
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

tl_status_t tl_maint__step(tl_log_t *log) {
    tl_mutex_lock(&log->maint_mu);
    tl_maint_action_t a = next_action(log, tl_mt_full(&log->mt), NULL);
    tl_status_t st = a == TL_MA_NONE ? TL_EOF : run_action(log, a, NULL);
    tl_mutex_unlock(&log->maint_mu);
    return st;
}

/* The public tl_maint_stop: stops the worker, then seals what it left. */
void tl_maint__stop(tl_log_t *log) {
    tl_maint__worker_stop(log);
    /* Nobody else will seal a frozen memtable now: do it here (on failure it
     * simply stays readable until the next flush or maint_step). */
    tl_mutex_lock(&log->maint_mu);
    tl_status_t st = tl_flush__seal_frozen(log);
    (void)st;
    tl_mutex_unlock(&log->maint_mu);
}

/* ---------------------------------------------------------------- the worker */

static void *worker_main(void *arg) {
    tl_log_t *log = arg;
    survey_memo_t memo = {false, 0, 0, {0, 0, 0}, 0};
    tl_mutex_lock(&log->lock);
    while (!log->worker_stop) {
        if (!log->work_hint)
            tl_cond_wait_ms(&log->wake, &log->lock, log->cfg.maintenance_wakeup_ms);
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
        tl_state_count(&log->busy_events, 1);
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
    tl_state_count(&log->busy_events, 1);
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

/* A write filled the memtable: freeze it for the worker (background mode)
 * or seal it here (the write is already stored, so a failed seal is not the
 * write's failure; it is retried on the next write), then let maintenance
 * know and apply backpressure. */
tl_status_t tl_maint__after_full(tl_log_t *log) {
    if (!log->worker_running || !tl_flush__freeze(log)) {
        tl_status_t seal_st = tl_flush__seal(log);
        (void)seal_st;
    }
    return tl_maint__after_seal(log);
}
