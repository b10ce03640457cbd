/*
 * tl_log.c: the engine facade. Every public function that acts on a whole
 * instance starts here: it checks its arguments and the instance's state,
 * then makes one call down (tl_state.c for the instance, publishing and the
 * locked write paths; tl_flush.c and tl_maint.c for seals, flushes,
 * compaction and backpressure; tl_query.c for point lookups; tl_stats.c).
 * Nothing below calls back up into this file (tools/check_callgraph.py).
 *
 * The one piece of real work left here is the in-order append fast path:
 * tl_mt_append_fast and the sequence store are static inline, so a single
 * append costs no call beyond tl_append itself.
 *
 * Threads: the writer (caller-serialized) makes every write, delete,
 * flush/compact/maint_step and close; readers come in through
 * tl_snapshot_acquire (tl_snapshot.c) and the read entry points.
 */
#include "tl_config.h"
#include "tl_flush.h"
#include "tl_maint.h"
#include "tl_query.h"
#include "tl_sort.h"
#include "tl_stats.h"

/* ---------------------------------------------------------------- lifecycle */

tl_status_t tl_open(const tl_config_t *cfg, tl_log_t **out) {
    *out = NULL;
    tl_config_t local;
    if (cfg == NULL) {
        tl_config_init(&local);
        cfg = &local;
    }
    tl_status_t st = tl_config_check(cfg, NULL);
    if (st != TL_OK) return st;
    tl_log_t *log;
    if ((st = tl_state_open(cfg, &log)) != TL_OK) return st;
    if (cfg->maintenance == TL_MAINT_BACKGROUND && (st = tl_maint__worker_start(log)) != TL_OK) {
        tl_state_unref(log); /* nothing stored yet: tears down what open built */
        return st;
    }
    *out = log;
    return TL_OK;
}

void tl_close(tl_log_t *log) {
    if (log == NULL) return;
    if (atomic_exchange(&log->closed, true)) return; /* closing twice is a no-op */
    tl_maint__worker_stop(log);
    tl_state_unref(log);
}

tl_status_t tl_maint_start(tl_log_t *log) {
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    return tl_maint__worker_start(log);
}

tl_status_t tl_maint_stop(tl_log_t *log) {
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    tl_maint__stop(log);
    return TL_OK;
}

int tl_maint_running(const tl_log_t *log) { return log->worker_running ? 1 : 0; }

/* ---------------------------------------------------------------- maintenance */

tl_status_t tl_flush(tl_log_t *log) {
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    return tl_maint__flush(log);
}

tl_status_t tl_compact(tl_log_t *log) {
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    return tl_maint__compact(log);
}

tl_status_t tl_maint_step(tl_log_t *log) {
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    return tl_maint__step(log);
}

/* ---------------------------------------------------------------- point reads */

tl_status_t tl_point(tl_log_t *log, tl_ts_t ts, tl_handle_t *out, size_t cap, size_t *n_total) {
    *n_total = 0;
    tl_snapshot_t s;
    tl_status_t st = tl_snapshot_pin_local(log, &s);
    if (st != TL_OK) return st;
    st = tl_point_collect(&s, ts, out, cap, n_total);
    tl_snapshot_release(&s);
    return st;
}

tl_status_t tl_point_in(tl_snapshot_t *snap, tl_ts_t ts, tl_handle_t *out, size_t cap,
                        size_t *n_total) {
    *n_total = 0;
    if (snap == NULL) return TL_ERR(TL_EINVAL);
    return tl_point_collect(snap, ts, out, cap, n_total);
}

/* ---------------------------------------------------------------- writes */

tl_status_t tl_append(tl_log_t *log, tl_ts_t ts, tl_handle_t h) {
    if (TL_UNLIKELY(tl_state_closed(log))) return TL_ERR(TL_ESTATE);
    tl_seq_t seq = tl_state_cur_seq(log) + 1;
    if (TL_LIKELY(tl_mt_append_fast(&log->mt, ts, h, seq))) {
        tl_state_publish_seq(log, seq);
    } else {
        tl_status_t st = tl_state_append_locked(log, ts, h, seq);
        if (st != TL_OK) return st;
    }
    if (TL_UNLIKELY(tl_mt_full(&log->mt))) return tl_maint__after_full(log);
    return TL_OK;
}

tl_status_t tl_append_now(tl_log_t *log, tl_handle_t h, tl_ts_t *ts_out) {
    int64_t sec;
    int32_t nsec;
    if (!tl_wall_clock(&sec, &nsec)) return TL_ERR(TL_EINTERNAL);
    tl_ts_t ts;
    switch (log->cfg.time_unit) {
    case TL_UNIT_S: ts = (tl_ts_t)sec; break;
    case TL_UNIT_MS: ts = (tl_ts_t)sec * 1000 + nsec / 1000000; break;
    case TL_UNIT_US: ts = (tl_ts_t)sec * 1000000 + nsec / 1000; break;
    default: ts = (tl_ts_t)sec * 1000000000 + nsec; break;
    }
    if (ts_out != NULL) *ts_out = ts;
    return tl_append(log, ts, h);
}

tl_status_t tl_append_batch(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h, size_t n) {
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    if (n == 0) return TL_OK;
    if (ts == NULL || h == NULL) return TL_ERR(TL_EINVAL);
    tl_status_t st;
    if (n >= log->batch_direct_min) {
        /* Large: a memrun of its own (no pass through the memtable). */
        st = tl_flush__batch(log, ts, h, n);
        if (st != TL_OK) return st;
        return tl_maint__after_seal(log);
    }
    st = tl_state_append_batch(log, ts, h, n);
    if (st != TL_OK) return st;
    if (tl_mt_full(&log->mt)) return tl_maint__after_full(log);
    return TL_OK;
}

/* ---------------------------------------------------------------- in-place batches */

struct tl_batch {
    tl_recs_t *recs; /* written by the caller; becomes the memrun when it can */
};

tl_status_t tl_batch_open(tl_log_t *log, size_t n, tl_batch_t **out, tl_ts_t **ts,
                          tl_handle_t **h) {
    *out = NULL;
    *ts = NULL;
    *h = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    tl_mem_t *m = &log->mem;
    tl_batch_t *b = tl_mem_alloc(m, sizeof(*b));
    if (b == NULL) return TL_ERR(TL_ENOMEM);
    tl_status_t st = tl_recs_create(m, n, &b->recs);
    if (st != TL_OK) {
        tl_mem_free(m, b, sizeof(*b));
        return st;
    }
    *out = b;
    *ts = b->recs->ts;
    *h = b->recs->h;
    return TL_OK;
}

void tl_batch_abandon(tl_log_t *log, tl_batch_t *b) {
    if (b == NULL) return;
    tl_recs_release(&log->mem, b->recs);
    tl_mem_free(&log->mem, b, sizeof(*b));
}

tl_status_t tl_batch_commit(tl_log_t *log, tl_batch_t *b, size_t n) {
    if (log == NULL || b == NULL || n > b->recs->cap) return TL_ERR(TL_EINVAL);
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    tl_mem_t *m = &log->mem;
    tl_recs_t *recs = b->recs;
    tl_status_t st;
    if (n == 0) {
        st = TL_OK;
    } else if (n == recs->cap && n >= log->batch_direct_min) {
        /* Full: the caller's block itself becomes the memrun, sorted in
         * place if it must be (a partly used block is copied instead, so
         * that ts and h never move under the caller). A failed sort changed
         * nothing, so the batch is still the caller's. */
        st = tl_sort_pairs(m, recs->ts, recs->h, n);
        if (st != TL_OK) return st;
        recs->n = n;
        st = tl_flush__block(log, recs);
        if (st != TL_OK) {
            recs->n = 0;
            return st;
        }
        tl_mem_free(m, b, sizeof(*b)); /* the memrun holds the block now */
        return tl_maint__after_seal(log);
    } else {
        /* Out of order, or small: stored from the block as from any caller
         * arrays (sorted into place, or into the memtable). */
        st = tl_append_batch(log, recs->ts, recs->h, n);
        if (st != TL_OK && st != TL_EBUSY) return st;
    }
    tl_batch_abandon(log, b);
    return st;
}

/* ---------------------------------------------------------------- deletes */

/* Every public delete form lands here with its range (tl_internal.h). An
 * empty range is no error, but a closed log still says so. */
static tl_status_t delete_in(tl_log_t *log, tl_range_t r) {
    if (tl_state_closed(log)) return TL_ERR(TL_ESTATE);
    if (r.empty) return TL_OK;
    tl_status_t st = tl_state_delete(log, r.lo, r.hi);
    if (st != TL_OK) return st;
    tl_maint__after_delete(log);
    return TL_OK;
}

tl_status_t tl_delete_range(tl_log_t *log, tl_ts_t t1, tl_ts_t t2) {
    return delete_in(log, tl_range_halfopen(t1, t2));
}

tl_status_t tl_delete_since(tl_log_t *log, tl_ts_t t1) {
    return delete_in(log, tl_range_since(t1));
}

tl_status_t tl_delete_before(tl_log_t *log, tl_ts_t t2) {
    return delete_in(log, tl_range_until(t2));
}

tl_status_t tl_delete_ts(tl_log_t *log, tl_ts_t ts) { return delete_in(log, tl_range_point(ts)); }

tl_status_t tl_delete_all(tl_log_t *log) { return delete_in(log, tl_range_all()); }

/* ---------------------------------------------------------------- retired handles, ownership, fork */

/* The release invariant is written out above tl_state_drain_retired
 * (tl_state.c). */
tl_status_t tl_drain_retired(tl_log_t *log, size_t limit, size_t *n_out) {
    if (n_out != NULL) *n_out = 0;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    return tl_state_drain_retired(log, limit, n_out);
}

size_t tl_retired_len(const tl_log_t *log) { return tl_retire_len(&log->retire); }

int tl_visit_handles(tl_log_t *log, tl_visit_fn visit, void *ctx) {
    if (log == NULL || visit == NULL) return 0;
    return tl_state_visit_handles(log, visit, ctx);
}

void tl_fork_prepare(tl_log_t *log) {
    if (log != NULL) tl_state_fork_prepare(log);
}

void tl_fork_parent(tl_log_t *log) {
    if (log != NULL) tl_state_fork_parent(log);
}

void tl_fork_child(tl_log_t *log) {
    if (log != NULL) tl_state_fork_child(log);
}

/* ---------------------------------------------------------------- stats */

tl_status_t tl_stats(tl_log_t *log, tl_stats_t *out) { return tl_stats__collect(log, out); }

tl_status_t tl_validate(tl_log_t *log, const char **why) {
    const char *dummy;
    if (why == NULL) why = &dummy;
    *why = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    return tl_stats__validate(log, why);
}
