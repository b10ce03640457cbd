/*
 * tl_log.c: the engine facade. It owns one instance's state and is the only
 * place that publishes: every change to what readers can see (memtable
 * structure, manifest, tombstones, sequence) happens under the publish lock,
 * and readers take that lock only to pin (tl_snapshot_acquire), never while
 * reading.
 *
 * State and threads:
 *  - writer (caller-serialized): appends, deletes, flush, compact, maint_step,
 *    close. In-order appends touch no lock (tl_mt_append_fast + release
 *    stores of the run length and of the sequence).
 *  - readers (any thread): snapshot acquire/release take the lock briefly.
 *  - lifetime: `refs` counts the open handle plus every live snapshot; the
 *    last one out tears the instance down and hands every remaining handle to
 *    on_drop, so a snapshot (and any NumPy array over its pages) stays valid
 *    after tl_close.
 *  - retired handles carry the epoch of the publish that dropped them and are
 *    released only when no older snapshot is alive (tl_retire.h).
 */
#include <math.h>

#include "tl_log_internal.h"
#include "tl_maint.h"
#include "tl_merge.h"
#include "tl_sort.h"

#define MT_RECORD_BYTES (sizeof(tl_ts_t) + sizeof(tl_handle_t) + sizeof(tl_seq_t))
#define SEG_RECORD_BYTES (sizeof(tl_ts_t) + sizeof(tl_handle_t))

/* ---------------------------------------------------------------- config */

const char *tl_strerror(tl_status_t st) {
    switch (st) {
    case TL_OK: return "ok";
    case TL_EOF: return "end of data";
    case TL_EBUSY: return "busy: the write was accepted under backpressure";
    case TL_ENOMEM: return "out of memory";
    case TL_EINVAL: return "invalid argument";
    case TL_ESTATE: return "invalid state (is the log closed?)";
    case TL_EINTERNAL: return "internal error (engine invariant broken)";
    }
    return "unknown status";
}

void tl_config_init(tl_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->time_unit = TL_UNIT_MS;
    cfg->maintenance = TL_MAINT_BACKGROUND;
}

tl_status_t tl_config_check(const tl_config_t *cfg, const char **why) {
    const char *dummy;
    if (why == NULL) why = &dummy;
    *why = NULL;
    if (cfg == NULL) {
        *why = "config: NULL";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->size < sizeof(tl_config_t)) {
        *why = "size: config struct smaller than this engine's (call tl_config_init)";
        return TL_ERR(TL_EINVAL);
    }
    if ((unsigned)cfg->time_unit > TL_UNIT_NS) {
        *why = "time_unit: must be s, ms, us or ns";
        return TL_ERR(TL_EINVAL);
    }
    if ((unsigned)cfg->maintenance > TL_MAINT_BACKGROUND) {
        *why = "maintenance: must be disabled or background";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->memtable_max_bytes != 0 && cfg->memtable_max_bytes < 16 * MT_RECORD_BYTES) {
        *why = "memtable_max_bytes: must be 0 (default) or at least 384";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->target_page_bytes != 0 && cfg->target_page_bytes < SEG_RECORD_BYTES) {
        *why = "target_page_bytes: must be 0 (default) or at least 16";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->ooo_budget_bytes != 0 && cfg->ooo_budget_bytes < MT_RECORD_BYTES) {
        *why = "ooo_budget_bytes: must be 0 (default) or at least 24";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->compaction_target_bytes != 0 && cfg->compaction_target_bytes < SEG_RECORD_BYTES) {
        *why = "compaction_target_bytes: must be 0 (default) or at least 16";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->window_size < 0) {
        *why = "window_size: must be 0 (default) or positive";
        return TL_ERR(TL_EINVAL);
    }
    if (isnan(cfg->delete_debt_threshold) || cfg->delete_debt_threshold < 0.0 ||
        cfg->delete_debt_threshold > 1.0) {
        *why = "delete_debt_threshold: must be within [0, 1]";
        return TL_ERR(TL_EINVAL);
    }
    const char *bad = tl_adaptive_config_why(&cfg->adaptive);
    if (bad != NULL) {
        *why = bad;
        return TL_ERR(TL_EINVAL);
    }
    bool some = cfg->alloc.malloc_fn || cfg->alloc.free_fn || cfg->alloc.realloc_fn;
    if (some && (cfg->alloc.malloc_fn == NULL || cfg->alloc.free_fn == NULL)) {
        *why = "alloc: malloc_fn and free_fn must both be set (or all hooks NULL)";
        return TL_ERR(TL_EINVAL);
    }
    return TL_OK;
}

static tl_ts_t units_per_second(tl_time_unit_t u) {
    static const tl_ts_t k[] = {1, 1000, 1000000, 1000000000};
    return k[u];
}

static void resolve_defaults(tl_log_t *log) {
    tl_config_t *c = &log->cfg;
    if (c->memtable_max_bytes == 0) c->memtable_max_bytes = 4u << 20;
    if (c->target_page_bytes == 0) c->target_page_bytes = 64u << 10;
    if (c->sealed_max_runs == 0) c->sealed_max_runs = 4;
    if (c->ooo_budget_bytes == 0) c->ooo_budget_bytes = 1u << 20;
    if (c->maintenance_wakeup_ms == 0) c->maintenance_wakeup_ms = 10;
    if (c->max_delta_segments == 0) c->max_delta_segments = 8;
    if (c->window_size == 0) c->window_size = 3600 * units_per_second(c->time_unit);
    if (c->compaction_target_bytes == 0) c->compaction_target_bytes = (size_t)64 << 20;
    /* Half: immutable sources then hold at most about twice the records
     * still visible, and each rewrite copies at most one surviving record
     * per record it reclaims (amortised O(1) per delete). 1.0 leaves only
     * the free whole-source drops. */
    if (c->delete_debt_threshold == 0.0) c->delete_debt_threshold = 0.5;
    tl_adaptive_init(&log->adapt, c->window_size);
    log->page_recs = c->target_page_bytes / SEG_RECORD_BYTES;
    log->target_recs = c->compaction_target_bytes / SEG_RECORD_BYTES;
    size_t mt_records = c->memtable_max_bytes / MT_RECORD_BYTES;
    size_t ooo_records = c->ooo_budget_bytes / MT_RECORD_BYTES;
    tl_mt_init(&log->mt, mt_records, ooo_records);
    tl_mt_init(&log->frozen, mt_records, ooo_records);
    /* A batch of at least half a memtable would seal it anyway: sorting it
     * straight into a memrun skips copying it twice. */
    log->batch_direct_min = mt_records / 2 < 1 ? 1 : mt_records / 2;
}

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
    tl_mem_t boot;
    tl_mem_init(&boot, &cfg->alloc);
    tl_log_t *log = tl_mem_alloc(&boot, sizeof(*log));
    if (log == NULL) return TL_ERR(TL_ENOMEM);
    memset(log, 0, sizeof(*log));
    /* The log's own block is accounted in its allocator from the start. */
    log->mem = boot;
    log->cfg = *cfg;
    resolve_defaults(log);
    tl_ref_init(&log->refs);
    atomic_init(&log->closed, false);
    atomic_init(&log->seq, 0);
    atomic_init(&log->epoch, 0);
    atomic_init(&log->seals, 0);
    atomic_init(&log->flushes, 0);
    atomic_init(&log->compactions, 0);
    atomic_init(&log->busy_events, 0);
    atomic_init(&log->dropped, 0);
    atomic_init(&log->covered_drops, 0);
    /* Build up in order; on failure undo exactly what was done. */
    int done = 0;
    st = TL_ERR(TL_ENOMEM);
    if (!tl_mutex_init(&log->lock)) goto fail;
    done = 1;
    if (!tl_mutex_init(&log->maint_mu)) goto fail;
    done = 2;
    if (!tl_cond_init(&log->wake)) goto fail;
    done = 3;
    if (!tl_cond_init(&log->progress)) goto fail;
    done = 4;
    if ((st = tl_retire_init(&log->retire)) != TL_OK) goto fail;
    done = 5;
    if ((st = tl_manifest_create(&log->mem, NULL, 0, NULL, 0, NULL, 0, &log->man)) != TL_OK) goto fail;
    done = 6;
    if (cfg->maintenance == TL_MAINT_BACKGROUND && (st = tl_maint__worker_start(log)) != TL_OK) goto fail;
    *out = log;
    return TL_OK;
fail:
    if (done >= 6) tl_manifest_release(&log->mem, log->man);
    if (done >= 5) tl_retire_destroy(&log->retire, &log->mem);
    if (done >= 4) tl_cond_destroy(&log->progress);
    if (done >= 3) tl_cond_destroy(&log->wake);
    if (done >= 2) tl_mutex_destroy(&log->maint_mu);
    if (done >= 1) tl_mutex_destroy(&log->lock);
    /* The accounting lives inside the block being freed: free through a copy. */
    boot = log->mem;
    tl_mem_free(&boot, log, sizeof(*log));
    return st;
}

typedef struct drop_ctx {
    tl_log_t *log;
} drop_ctx_t;

static void drop_one(void *vctx, tl_handle_t h) {
    tl_log_t *log = ((drop_ctx_t *)vctx)->log;
    if (log->cfg.on_drop != NULL) log->cfg.on_drop(log->cfg.on_drop_ctx, h);
}

static void drop_recs(drop_ctx_t *c, const tl_recs_t *r) {
    for (size_t i = 0; i < r->n; i++) drop_one(c, r->h[i]);
}

/* The last reference is gone (no snapshot, no worker): hand every handle the
 * instance still holds to on_drop exactly once, then free everything. */
static void teardown(tl_log_t *log) {
    drop_ctx_t c = {log};
    tl_mt_for_each_handle(&log->mt, drop_one, &c);
    tl_mt_for_each_handle(&log->frozen, drop_one, &c);
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_mr; i++) drop_recs(&c, man->mr[i]->recs);
    for (size_t i = 0; i < man->n_l0; i++) drop_recs(&c, man->l0[i]->recs);
    for (size_t i = 0; i < man->n_l1; i++) drop_recs(&c, man->l1[i]->recs);
    tl_retire_drain_all(&log->retire, drop_one, &c);

    tl_mem_t *m = &log->mem;
    while (log->snap_free != NULL) {
        tl_snapshot_t *s = log->snap_free;
        log->snap_free = s->next;
        tl_mem_free(m, s, sizeof(*s));
    }
    tl_mt_reset(&log->mt, m, NULL);
    tl_mt_reset(&log->frozen, m, NULL);
    tl_mt_drop_spare(&log->mt, m);
    tl_mt_drop_spare(&log->frozen, m);
    tl_manifest_release(m, log->man);
    tl_tombs_release(m, log->tombs);
    tl_retire_destroy(&log->retire, m);
    tl_cond_destroy(&log->progress);
    tl_cond_destroy(&log->wake);
    tl_mutex_destroy(&log->maint_mu);
    tl_mutex_destroy(&log->lock);
    tl_mem_t boot = log->mem;
    tl_mem_free(&boot, log, sizeof(*log));
}

static void log_unref(tl_log_t *log) {
    if (tl_ref_dec(&log->refs)) teardown(log);
}

void tl_close(tl_log_t *log) {
    if (log == NULL) return;
    if (atomic_exchange(&log->closed, true)) return; /* closing twice is a no-op */
    tl_maint__worker_stop(log);
    log_unref(log);
}

static bool is_closed(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->closed, memory_order_acquire);
}

tl_status_t tl_maint_start(tl_log_t *log) {
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    return tl_maint__worker_start(log);
}

tl_status_t tl_maint_stop(tl_log_t *log) {
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    tl_maint__worker_stop(log);
    /* Nobody else will seal a frozen memtable now: do it here (on failure it
     * simply stays readable until the next flush or maint_step). */
    tl_mutex_lock(&log->maint_mu);
    tl_status_t st = tl_log__seal_frozen(log);
    (void)st;
    tl_mutex_unlock(&log->maint_mu);
    return TL_OK;
}

int tl_maint_running(const tl_log_t *log) { return log->worker_running ? 1 : 0; }

/* ---------------------------------------------------------------- snapshots */

/* Fills s with the current state and registers it. The sequence is read
 * first, then the run length (acquire): every run record whose sequence is
 * <= seq is then inside run_n; later ones are trimmed. */
/* A few released snapshot structs are kept for reuse: a short read (one
 * iterator, one count) then costs no allocation for its pin. */
#define SNAP_FREE_MAX 8

/* Caller holds the lock. */
static void snapshot_fill(tl_log_t *log, tl_snapshot_t *s) {
    tl_ref_init(&s->refs);
    atomic_init(&s->spare_iter, NULL);
    s->log = log;
    s->mem = &log->mem;
    s->next = NULL;
    s->seq = atomic_load_explicit(&log->seq, memory_order_acquire);
    tl_mt_view_capture(&log->mt, &s->mv);
    while (s->mv.run_n > 0 && s->mv.run->seq[s->mv.run_n - 1] > s->seq) s->mv.run_n--;
    /* Frozen records all precede the published sequence: no trim. */
    tl_mt_view_capture(&log->frozen, &s->fv);
    tl_manifest_retain(log->man);
    s->man = log->man;
    tl_tombs_retain(log->tombs);
    s->tombs = log->tombs;
    s->epoch = atomic_load_explicit(&log->epoch, memory_order_relaxed); /* under the lock */
    s->prev = log->snap_tail;
    if (log->snap_tail != NULL) {
        log->snap_tail->next = s;
    } else {
        log->snap_head = s;
    }
    log->snap_tail = s;
    log->n_snaps++;
    tl_ref_inc(&log->refs);
}

tl_status_t tl_snapshot_acquire(tl_log_t *log, tl_snapshot_t **out) {
    *out = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    tl_mutex_lock(&log->lock);
    tl_snapshot_t *s = log->snap_free;
    if (s != NULL) {
        log->snap_free = s->next;
        log->n_snap_free--;
    } else {
        /* Allocate outside the lock, then pin under it. */
        tl_mutex_unlock(&log->lock);
        s = tl_mem_alloc(&log->mem, sizeof(*s));
        if (s == NULL) return TL_ERR(TL_ENOMEM);
        tl_mutex_lock(&log->lock);
    }
    s->heap = true;
    snapshot_fill(log, s);
    tl_mutex_unlock(&log->lock);
    *out = s;
    return TL_OK;
}

tl_status_t tl_snapshot_pin_local(tl_log_t *log, tl_snapshot_t *storage) {
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    storage->heap = false;
    tl_mutex_lock(&log->lock);
    snapshot_fill(log, storage);
    tl_mutex_unlock(&log->lock);
    return TL_OK;
}

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

int tl_snapshot_current(tl_log_t *log, const tl_snapshot_t *snap) {
    if (log == NULL || snap == NULL || snap->log != log || is_closed(log)) return 0;
    /* Every write and delete takes a sequence; every publish (seal, freeze,
     * flush, compaction, direct batch) bumps the epoch. Both unchanged: a
     * snapshot taken now would pin the very same state. */
    return atomic_load_explicit(&log->seq, memory_order_acquire) == snap->seq &&
                   atomic_load_explicit(&log->epoch, memory_order_acquire) == snap->epoch
               ? 1
               : 0;
}

void tl_log__snapshot_gone(tl_log_t *log, tl_snapshot_t *s) {
    tl_mutex_lock(&log->lock);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        log->snap_head = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    } else {
        log->snap_tail = s->prev;
    }
    log->n_snaps--;
    bool keep = s->heap && log->n_snap_free < SNAP_FREE_MAX;
    if (keep) {
        s->next = log->snap_free;
        log->snap_free = s;
        log->n_snap_free++;
    }
    tl_mutex_unlock(&log->lock);
    if (s->heap && !keep) tl_mem_free(&log->mem, s, sizeof(*s));
    log_unref(log);
}

/* ---------------------------------------------------------------- publishing */

/* Caller holds the publish lock (the only writer of epoch). Release: a
 * reader that sees the new epoch (tl_snapshot_current) also sees what was
 * published with it. */
static uint64_t bump_epoch(tl_log_t *log) {
    uint64_t e = atomic_load_explicit(&log->epoch, memory_order_relaxed) + 1;
    atomic_store_explicit(&log->epoch, e, memory_order_release);
    return e;
}

static tl_seq_t cur_seq(const tl_log_t *log) {
    /* Only the writer issues sequences, so it may read its own relaxed. */
    return atomic_load_explicit(&((tl_log_t *)log)->seq, memory_order_relaxed);
}

static void publish_seq(tl_log_t *log, tl_seq_t seq) {
    atomic_store_explicit(&log->seq, seq, memory_order_release);
}

tl_manifest_t *tl_log__pin_manifest(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    tl_manifest_t *man = log->man;
    tl_manifest_retain(man);
    tl_mutex_unlock(&log->lock);
    return man;
}

void tl_log__pin_tombs(tl_log_t *log, tl_tombs_t **tombs, tl_seq_t *seq) {
    tl_mutex_lock(&log->lock);
    tl_tombs_retain(log->tombs);
    *tombs = log->tombs;
    /* Every tombstone in the set has a sequence <= this one, and every later
     * tombstone a higher one: the pair is what compaction folds. */
    *seq = atomic_load_explicit(&log->seq, memory_order_relaxed);
    tl_mutex_unlock(&log->lock);
}

tl_status_t tl_log__publish(tl_log_t *log, const tl_manifest_edit_t *edit, tl_memtable_t *sealed,
                            const tl_hlist_t *dropped) {
    tl_manifest_t *man;
    tl_mutex_lock(&log->lock);
    tl_manifest_t *old = log->man;
    tl_status_t st = tl_manifest_derive(&log->mem, old, edit, &man);
    if (st != TL_OK) {
        tl_mutex_unlock(&log->lock);
        return st;
    }
#ifdef TL_DEBUG
    const char *why;
    if (!tl_manifest_validate(man, &why)) {
        tl_mutex_unlock(&log->lock);
        tl_manifest_release(&log->mem, man);
        return TL_ERR(TL_EINTERNAL);
    }
#endif
    log->man = man;
    if (sealed != NULL) tl_mt_reset(sealed, &log->mem, &log->mt);
    uint64_t epoch = bump_epoch(log);
    tl_mutex_unlock(&log->lock);
    tl_manifest_release(&log->mem, old);
    if (dropped != NULL) tl_retire_push_list(&log->retire, dropped, epoch);
    return TL_OK;
}

/* Memtable -> memrun: merges a memtable's sorted parts, drops what deletes
 * hid (their handles are retired) and stamps the run with the current
 * sequence. O(memtable). The caller owns `mt`'s contents for the duration:
 * the writer for the live memtable, a maint_mu holder for the frozen one;
 * either reads it without the lock (nobody else writes it). */
static tl_status_t seal_memtable(tl_log_t *log, tl_memtable_t *mt) {
    tl_mem_t *m = &log->mem;
    if (tl_mt_empty(mt)) return TL_OK;
    tl_hlist_t dropped = {0};
    tl_recs_t *recs = NULL;
    tl_memrun_t *mr = NULL;
    tl_tombs_t *tombs;
    tl_seq_t seq;
    tl_log__pin_tombs(log, &tombs, &seq); /* the worker may swap the set */
    tl_status_t st = tl_mt_seal_build(mt, m, tombs, &recs, &dropped);
    tl_tombs_release(m, tombs);
    if (st != TL_OK) goto done; /* the drop list may hold a buffer */
    if (recs != NULL && (st = tl_memrun_create(m, recs, seq, &mr)) != TL_OK) {
        tl_recs_release(m, recs);
        goto done;
    }
    if ((st = tl_retire_reserve(&log->retire, m, dropped.n)) != TL_OK) goto done;
    tl_manifest_edit_t e = {.add_mr = mr};
    st = tl_log__publish(log, &e, mt, &dropped);
    if (st != TL_OK) {
        tl_retire_unreserve(&log->retire, dropped.n);
        goto done;
    }
    tl_log__count(&log->seals, 1);
done:
    tl_memrun_release(m, mr); /* the manifest holds its own reference */
    tl_hlist_free(m, &dropped);
    return st;
}

tl_status_t tl_log__seal(tl_log_t *log) { return seal_memtable(log, &log->mt); }

bool tl_log__frozen_pending(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    bool pending = !tl_mt_empty(&log->frozen);
    tl_mutex_unlock(&log->lock);
    return pending;
}

tl_status_t tl_log__seal_frozen(tl_log_t *log) {
    if (!tl_log__frozen_pending(log)) return TL_OK;
    return seal_memtable(log, &log->frozen);
}

/* Background mode: hands the full memtable to the worker instead of sealing
 * it here, so a write never pays for an O(memtable) merge. The buffers move
 * as they are (readers keep seeing them, now through the frozen view) and
 * the writer starts an empty memtable. False when the previous frozen
 * memtable is still waiting: the writer then seals its own synchronously
 * (the worker is behind; that is also what bounds memory). */
static bool freeze_memtable(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    bool ok = tl_mt_empty(&log->frozen);
    if (ok) {
        tl_mtbuf_t *spare = log->mt.spare; /* stays with the live memtable */
        log->mt.spare = NULL;
        log->frozen = log->mt;
        tl_mt_init(&log->mt, log->frozen.max_records, log->frozen.ooo_budget);
        log->mt.spare = spare;
        (void)bump_epoch(log); /* what readers pin changed shape */
    }
    tl_mutex_unlock(&log->lock);
    return ok;
}

/* A write filled the memtable: freeze it for the worker (background mode)
 * or seal it here (the write is already stored, so a failed seal is not the
 * write's failure; it is retried on the next write), then let maintenance
 * know and apply backpressure. */
static tl_status_t after_full(tl_log_t *log) {
    if (!log->worker_running || !freeze_memtable(log)) {
        tl_status_t seal_st = tl_log__seal(log);
        (void)seal_st;
    }
    return tl_maint__after_seal(log);
}

/* ---------------------------------------------------------------- writes */

tl_status_t tl_append(tl_log_t *log, tl_ts_t ts, tl_handle_t h) {
    if (TL_UNLIKELY(is_closed(log))) return TL_ERR(TL_ESTATE);
    tl_seq_t seq = cur_seq(log) + 1;
    if (TL_LIKELY(tl_mt_append_fast(&log->mt, ts, h, seq))) {
        publish_seq(log, seq);
    } else {
        /* The sequence is published inside the critical section: a snapshot
         * that sees the new record must also see its sequence. */
        tl_mutex_lock(&log->lock);
        tl_status_t st = tl_mt_append_slow(&log->mt, &log->mem, ts, h, seq);
        if (st == TL_OK) publish_seq(log, seq);
        tl_mutex_unlock(&log->lock);
        if (st != TL_OK) return st;
    }
    if (TL_UNLIKELY(tl_mt_full(&log->mt))) return after_full(log);
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

/* A large batch becomes its own memrun: one sequence number, one sort, and
 * the manifest and the sequence become visible together. */
/* Publishes a sorted block (recs->n records, the caller's reference) as a
 * memrun under the next sequence. On failure nothing changed and the caller
 * still owns recs. */
static tl_status_t publish_memrun(tl_log_t *log, tl_recs_t *recs) {
    tl_mem_t *m = &log->mem;
    tl_status_t st;
    tl_seq_t seq = cur_seq(log) + 1;
    tl_memrun_t *mr;
    tl_recs_retain(recs); /* the memrun's reference */
    st = tl_memrun_create(m, recs, seq, &mr);
    if (st != TL_OK) {
        tl_recs_release(m, recs);
        return st;
    }
    tl_manifest_t *man;
    tl_mutex_lock(&log->lock);
    tl_manifest_t *old = log->man;
    tl_manifest_edit_t e = {.add_mr = mr};
    st = tl_manifest_derive(m, old, &e, &man);
    if (st == TL_OK) {
        log->man = man;
        (void)bump_epoch(log);
        publish_seq(log, seq);
    }
    tl_mutex_unlock(&log->lock);
    tl_memrun_release(m, mr);
    if (st != TL_OK) return st;
    tl_manifest_release(m, old);
    tl_log__count(&log->seals, 1);
    tl_recs_release(m, recs); /* the caller's reference: the memrun keeps it */
    return TL_OK;
}

/* A batch of at least batch_direct_min records: sorted into a block of its
 * own, published as a memrun (no pass through the memtable). */
static tl_status_t batch_to_memrun(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h, size_t n) {
    tl_mem_t *m = &log->mem;
    tl_recs_t *recs;
    tl_status_t st = tl_recs_create(m, n, &recs);
    if (st != TL_OK) return st;
    st = tl_sort_pairs_into(m, ts, h, n, recs->ts, recs->h);
    recs->n = n;
    if (st == TL_OK) st = publish_memrun(log, recs);
    if (st != TL_OK) tl_recs_release(m, recs);
    return st;
}

tl_status_t tl_append_batch(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h, size_t n) {
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    if (n == 0) return TL_OK;
    if (ts == NULL || h == NULL) return TL_ERR(TL_EINVAL);
    tl_mem_t *m = &log->mem;
    tl_status_t st;
    if (n >= log->batch_direct_min) {
        st = batch_to_memrun(log, ts, h, n);
        if (st != TL_OK) return st;
        return tl_maint__after_seal(log);
    }
    /* Small batch: sorted into scratch (unless it already is), then stored
     * atomically in the memtable under one sequence number. */
    const tl_ts_t *sts = ts;
    const tl_handle_t *sh = h;
    char *scratch = NULL;
    size_t scratch_bytes = tl_mul_size(n, sizeof(tl_ts_t) + sizeof(tl_handle_t));
    if (!tl_ts_sorted(ts, n)) {
        scratch = tl_mem_alloc(m, scratch_bytes);
        if (scratch == NULL) return TL_ERR(TL_ENOMEM);
        tl_ts_t *dts = (tl_ts_t *)scratch;
        tl_handle_t *dh = (tl_handle_t *)(dts + n);
        st = tl_sort_pairs_into(m, ts, h, n, dts, dh);
        if (st != TL_OK) {
            tl_mem_free(m, scratch, scratch_bytes);
            return st;
        }
        sts = dts;
        sh = dh;
    }
    tl_seq_t seq = cur_seq(log) + 1;
    tl_mutex_lock(&log->lock);
    st = tl_mt_append_sorted_batch(&log->mt, m, sts, sh, n, seq);
    if (st == TL_OK) publish_seq(log, seq);
    tl_mutex_unlock(&log->lock);
    tl_mem_free(m, scratch, scratch_bytes);
    if (st != TL_OK) return st;
    if (tl_mt_full(&log->mt)) return after_full(log);
    return TL_OK;
}

/* ---------------------------------------------------------------- in-place batches */

struct tl_batch {
    tl_recs_t *recs; /* written by the caller; becomes the memrun when it can */
};

tl_status_t tl_batch_open(tl_log_t *log, size_t n, tl_batch_t **out, tl_ts_t **ts, tl_handle_t **h) {
    *out = NULL;
    *ts = NULL;
    *h = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
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
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
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
        st = publish_memrun(log, recs);
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

static tl_status_t delete_closed(tl_log_t *log, tl_ts_t lo, tl_ts_t hi) {
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    if (lo > hi) return TL_OK; /* empty range */
    tl_seq_t seq = cur_seq(log) + 1;
    tl_tombs_t *nt;
    /* The set is swapped under the lock so a concurrent tombstone GC on the
     * worker either sees this delete or loses its own swap. */
    tl_mutex_lock(&log->lock);
    tl_tombs_t *old = log->tombs;
    tl_status_t st;
    if (old == NULL || tl_ref_get(&old->refs) == 1) {
        /* No snapshot or maintenance unit holds the current set (they pin it
         * under this lock, so none can start now): the new set takes it over. */
        st = tl_tombs_replace(&log->mem, old, lo, hi, seq, &nt);
        old = NULL;
    } else {
        st = tl_tombs_add(&log->mem, old, lo, hi, seq, &nt);
    }
    if (st == TL_OK) {
        log->tombs = nt;
        publish_seq(log, seq);
    }
    tl_mutex_unlock(&log->lock);
    if (st != TL_OK) return st;
    tl_tombs_release(&log->mem, old);
    tl_maint__after_delete(log);
    return TL_OK;
}

tl_status_t tl_delete_range(tl_log_t *log, tl_ts_t t1, tl_ts_t t2) {
    if (t1 >= t2) return is_closed(log) ? TL_ERR(TL_ESTATE) : TL_OK;
    return delete_closed(log, t1, t2 - 1);
}

tl_status_t tl_delete_since(tl_log_t *log, tl_ts_t t1) { return delete_closed(log, t1, TL_TS_MAX); }

tl_status_t tl_delete_before(tl_log_t *log, tl_ts_t t2) {
    if (t2 == TL_TS_MIN) return is_closed(log) ? TL_ERR(TL_ESTATE) : TL_OK;
    return delete_closed(log, TL_TS_MIN, t2 - 1);
}

tl_status_t tl_delete_ts(tl_log_t *log, tl_ts_t ts) { return delete_closed(log, ts, ts); }

tl_status_t tl_delete_all(tl_log_t *log) { return delete_closed(log, TL_TS_MIN, TL_TS_MAX); }

/* ---------------------------------------------------------------- retired handles */

/* The release invariant. A retired handle h, dropped by the publish that set
 * the epoch to e(h), may be handed to on_drop only if no snapshot that can
 * see it exists now or can ever be taken:
 *  - a snapshot sees h only if its epoch < e(h) (the publish that dropped h
 *    bumped the epoch in the same critical section that hid h);
 *  - a snapshot taken from now on gets the current epoch, >= e(h) of every
 *    entry already queued (entries are pushed after their publish).
 * So h is releasable iff e(h) <= safe, where safe = min(epoch of the oldest
 * live snapshot, current epoch), read under the publish lock. "No snapshot
 * alive" does not mean "everything is safe": a snapshot taken an instant
 * later would not see what is queued then, but it does see records that a
 * later publish drops, and those get an epoch above the one read here.
 *
 * safe is recomputed and the batch popped under the publish lock, as one
 * step, before every batch: on_drop runs payload code (Python __del__) which
 * may open snapshots, delete, compact and drain re-entrantly, or block while
 * another thread does; a bound read before such code ran proves nothing
 * about what was queued after. Popping before the callbacks run lets them
 * re-enter; each popped handle was releasable when popped, and stays so
 * (new snapshots get epochs >= safe). Lock order: log->lock, then the
 * queue's own mutex (taken alone everywhere else). */
static size_t pop_releasable(tl_log_t *log, tl_handle_t *out, size_t max) {
    tl_mutex_lock(&log->lock);
    uint64_t safe = atomic_load_explicit(&log->epoch, memory_order_relaxed);
    if (log->snap_head != NULL && log->snap_head->epoch < safe) safe = log->snap_head->epoch;
    size_t k = tl_retire_pop(&log->retire, safe, out, max);
    tl_mutex_unlock(&log->lock);
    return k;
}

tl_status_t tl_drain_retired(tl_log_t *log, size_t limit, size_t *n_out) {
    if (n_out != NULL) *n_out = 0;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (limit == 0) limit = log->cfg.drain_batch_limit;
    if (limit == 0) limit = SIZE_MAX;
    size_t done = 0;
    tl_handle_t buf[64];
    while (done < limit) {
        /* Popped before the callbacks run, so on_drop may re-enter; the
         * bound is re-read for every batch (see the invariant above). */
        size_t k = pop_releasable(log, buf, TL_MIN((size_t)64, limit - done));
        if (k == 0) break;
        for (size_t i = 0; i < k; i++) {
            if (log->cfg.on_drop != NULL) log->cfg.on_drop(log->cfg.on_drop_ctx, buf[i]);
        }
        tl_log__count(&log->dropped, k);
        done += k;
    }
    tl_retire_trim(&log->retire, &log->mem);
    if (n_out != NULL) *n_out = done;
    return TL_OK;
}

size_t tl_retired_len(const tl_log_t *log) { return tl_retire_len(&log->retire); }

/* ---------------------------------------------------------------- ownership and fork */

typedef struct visit_ctx {
    tl_visit_fn visit;
    void *ctx;
    int rc; /* the first non-zero result; later handles are skipped */
} visit_ctx_t;

static void visit_one(void *vctx, tl_handle_t h) {
    visit_ctx_t *c = vctx;
    if (c->rc == 0) c->rc = c->visit(h, c->ctx);
}

static void visit_recs(visit_ctx_t *c, const tl_recs_t *r) {
    for (size_t i = 0; i < r->n && c->rc == 0; i++) c->rc = c->visit(r->h[i], c->ctx);
}

/* The current state is what teardown would hand to on_drop, and each of its
 * handles is in exactly one place at a time: every move between memtable,
 * memruns, L0 and L1 is one swap under the publish lock, and a drop leaves
 * the manifest (under the lock) before it enters the queue (after). Holding
 * the lock, then the queue's lock, therefore sees each owned handle at most
 * once. The in-order fast append publishes its run length with a release
 * store, read here with acquire (tl_mtbuf_len). */
int tl_visit_handles(tl_log_t *log, tl_visit_fn visit, void *ctx) {
    if (log == NULL || visit == NULL) return 0;
    visit_ctx_t c = {visit, ctx, 0};
    tl_mutex_lock(&log->lock);
    tl_mt_for_each_handle(&log->mt, visit_one, &c);
    tl_mt_for_each_handle(&log->frozen, visit_one, &c);
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_mr && c.rc == 0; i++) visit_recs(&c, man->mr[i]->recs);
    for (size_t i = 0; i < man->n_l0 && c.rc == 0; i++) visit_recs(&c, man->l0[i]->recs);
    for (size_t i = 0; i < man->n_l1 && c.rc == 0; i++) visit_recs(&c, man->l1[i]->recs);
    if (c.rc == 0) c.rc = tl_retire_visit(&log->retire, visit, ctx);
    tl_mutex_unlock(&log->lock);
    return c.rc;
}

void tl_fork_prepare(tl_log_t *log) {
    if (log == NULL) return;
    /* The documented order (tl_log_internal.h). maint_mu first: the worker
     * finishes its unit, so it holds no pin and no half-built output when
     * the child is cloned. */
    tl_mutex_lock(&log->maint_mu);
    tl_mutex_lock(&log->lock);
    tl_retire_fork_prepare(&log->retire);
}

void tl_fork_parent(tl_log_t *log) {
    if (log == NULL) return;
    tl_retire_fork_parent(&log->retire);
    tl_mutex_unlock(&log->lock);
    tl_mutex_unlock(&log->maint_mu);
}

void tl_fork_child(tl_log_t *log) {
    if (log == NULL) return;
    /* Only the forking thread exists here, and it holds every lock (prepare).
     * Fresh locks and condition variables replace them: a condition variable
     * may still list the parent's worker as a waiter. Nothing is destroyed
     * first (destroying a locked mutex is undefined); default-attribute
     * initialisation does not fail on the platforms that fork. */
    tl_retire_fork_child(&log->retire);
    (void)tl_mutex_init(&log->lock);
    (void)tl_mutex_init(&log->maint_mu);
    (void)tl_cond_init(&log->wake);
    (void)tl_cond_init(&log->progress);
    /* The worker's thread was not cloned: never join it. A new one starts on
     * demand (tl_maint.c) if it ran here. */
    log->worker_resume = log->worker_running && !atomic_load(&log->closed);
    log->worker_running = false;
    log->worker_stop = false;
}

/* ---------------------------------------------------------------- stats */

static uint64_t load(const atomic_uint_fast64_t *c) {
    return atomic_load_explicit((atomic_uint_fast64_t *)c, memory_order_relaxed);
}

tl_status_t tl_stats(tl_log_t *log, tl_stats_t *out) {
    memset(out, 0, sizeof(*out));
    tl_snapshot_t local, *s = &local;
    tl_status_t st = tl_snapshot_pin_local(log, s);
    if (st != TL_OK) return st;
    tl_range_t all = tl_range_closed(TL_TS_MIN, TL_TS_MAX);
    st = tl_count_in(s, all, &out->records);
    if (st == TL_OK) {
        st = tl_count_physical_in(s, all, &out->physical_records);
        /* Empty is reported as min > max; any other failure is the call's. */
        tl_status_t a = st == TL_OK ? tl_min_ts(s, &out->min_ts) : st;
        tl_status_t b = a == TL_OK ? tl_max_ts(s, &out->max_ts) : a;
        if (b == TL_EOF) {
            out->min_ts = TL_TS_MAX;
            out->max_ts = TL_TS_MIN;
        } else {
            st = b;
        }
    }
    if (st == TL_OK) {
        const tl_manifest_t *man = s->man;
        /* The frozen memtable is still memtable data (not yet sealed). */
        const tl_mtview_t *views[2] = {&s->mv, &s->fv};
        for (size_t v = 0; v < 2; v++) {
            out->memtable_records += views[v]->run_n + views[v]->stage_n;
            out->memtable_ooo_records += views[v]->stage_n;
            for (size_t i = 0; i < views[v]->n_ooo; i++) {
                size_t k = tl_mtbuf_len(views[v]->ooo[i]);
                out->memtable_records += k;
                out->memtable_ooo_records += k;
            }
        }
        out->memruns = man->n_mr;
        for (size_t i = 0; i < man->n_mr; i++) out->memrun_records += man->mr[i]->recs->n;
        out->l0_segments = man->n_l0;
        for (size_t i = 0; i < man->n_l0; i++) {
            out->l0_records += man->l0[i]->recs->n;
            out->pages += man->l0[i]->pages.n_pages;
        }
        out->l1_segments = man->n_l1;
        for (size_t i = 0; i < man->n_l1; i++) {
            out->l1_records += man->l1[i]->recs->n;
            out->pages += man->l1[i]->pages.n_pages;
        }
        out->tombstones = tl_tombs_count(s->tombs);
        out->seq = s->seq;
    }
    tl_snapshot_release(s);
    out->engine_bytes = tl_mem_live(&log->mem);
    out->peak_bytes = tl_mem_peak(&log->mem);
    out->alloc_calls = load(&log->mem.calls);
    out->alloc_failures = load(&log->mem.failures);
    out->seals = load(&log->seals);
    out->flushes = load(&log->flushes);
    out->compactions = load(&log->compactions);
    out->busy_events = load(&log->busy_events);
    out->retired_len = tl_retire_len(&log->retire);
    out->dropped_handles = load(&log->dropped);
    out->covered_drops = load(&log->covered_drops);
    tl_mutex_lock(&log->lock);
    out->snapshots = log->n_snaps;
    out->window_width = log->adapt.width;
    out->adaptive_density = log->adapt.density;
    out->adaptive_samples = log->adapt.samples;
    out->adaptive_resizes = log->adapt.resizes;
    out->adaptive_failures = log->adapt.failures;
    tl_mutex_unlock(&log->lock);
    return st;
}

/* Bytes the current state owns; equals the allocator's live total when no
 * snapshot pins an older state and no maintenance is in flight. */
static size_t owned_bytes(const tl_log_t *log) {
    size_t b = sizeof(tl_log_t) + tl_mt_bytes(&log->mt) + tl_mt_bytes(&log->frozen) +
               tl_tombs_bytes(log->tombs) +
               tl_retire_bytes(&log->retire) + tl_manifest_own_bytes(log->man) +
               log->n_snap_free * sizeof(tl_snapshot_t);
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_mr; i++) b += tl_memrun_bytes(man->mr[i]);
    for (size_t i = 0; i < man->n_l0; i++) b += tl_segment_own_bytes(man->l0[i]) + tl_recs_bytes(man->l0[i]->recs);
    for (size_t i = 0; i < man->n_l1; i++) b += tl_segment_own_bytes(man->l1[i]) + tl_recs_bytes(man->l1[i]->recs);
    return b;
}

tl_status_t tl_validate(tl_log_t *log, const char **why) {
    const char *dummy;
    if (why == NULL) why = &dummy;
    *why = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    bool ok = true;
    /* Holding maint_mu keeps the worker between units, so no half-built
     * output is live in the allocator while the totals are compared. */
    tl_mutex_lock(&log->maint_mu);
    tl_mutex_lock(&log->lock);
    if (!tl_mt_validate(&log->mt, why) || !tl_mt_validate(&log->frozen, why) ||
        !tl_manifest_validate(log->man, why) ||
        !tl_tombs_validate(log->tombs, why)) {
        ok = false;
    } else if (log->tombs != NULL && log->tombs->max_seq > cur_seq(log)) {
        *why = "log: a tombstone is newer than the last sequence issued";
        ok = false;
    } else if (log->n_snaps == 0 && owned_bytes(log) != tl_mem_live(&log->mem)) {
        *why = "allocator: live bytes differ from what the log owns (leak or double count)";
        ok = false;
    } else if (tl_ref_get(&log->refs) != 1 + log->n_snaps - (is_closed(log) ? 1 : 0)) {
        *why = "log: reference count differs from open handle + live snapshots";
        ok = false;
    }
    for (const tl_snapshot_t *s = log->snap_head; ok && s != NULL; s = s->next) {
        if (s->next != NULL && s->next->epoch < s->epoch) {
            *why = "log: snapshot registry out of epoch order";
            ok = false;
        }
    }
    tl_mutex_unlock(&log->lock);
    tl_mutex_unlock(&log->maint_mu);
    return ok ? TL_OK : TL_ERR(TL_EINTERNAL);
}
