/*
 * tl_state.c: one engine instance (see tl_state.h): building it, tearing it
 * down when the last reference goes, publishing, pins, the snapshot
 * registry, the locked write paths and the retired-handle release rule.
 * This is the only file that changes what readers can see: every such
 * change happens under the publish lock, and readers take that lock only to
 * pin (tl_state_snapshot_register), never while reading.
 *
 * Calls only layers below it (memtable, manifest, tombstones, retired queue,
 * allocator, sync); nothing here calls maintenance or the read path.
 */
#include "tl_config.h"
#include "tl_sort.h"
#include "tl_state.h"

/* ---------------------------------------------------------------- lifecycle */

/* Resolves the config's defaults (tl_config.c) and derives the sizes the
 * instance works in. */
static void resolve_defaults(tl_log_t *log) {
    tl_config_t *c = &log->cfg;
    tl_config__resolve(c);
    tl_adaptive_init(&log->adapt, c->window_size);
    log->page_recs = c->target_page_bytes / TL_SEG_RECORD_BYTES;
    log->target_recs = c->compaction_target_bytes / TL_SEG_RECORD_BYTES;
    size_t mt_records = c->memtable_max_bytes / TL_MT_RECORD_BYTES;
    size_t ooo_records = c->ooo_budget_bytes / TL_MT_RECORD_BYTES;
    tl_mt_init(&log->mt, mt_records, ooo_records);
    tl_mt_init(&log->frozen, mt_records, ooo_records);
    /* A batch of at least half a memtable would seal it anyway: sorting it
     * straight into a memrun skips copying it twice. */
    log->batch_direct_min = mt_records / 2 < 1 ? 1 : mt_records / 2;
}

tl_status_t tl_state_open(const tl_config_t *cfg, tl_log_t **out) {
    *out = NULL;
    tl_status_t st;
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
    atomic_init(&log->compactions_bounded, 0);
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
    if ((st = tl_manifest_create(&log->mem, NULL, 0, NULL, 0, NULL, 0, &log->man)) != TL_OK)
        goto fail;
    *out = log;
    return TL_OK;
fail:
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

/* The last reference is gone (no snapshot, no worker): hand every handle the
 * instance still holds to on_drop exactly once, then free everything. */
static void teardown(tl_log_t *log) {
    drop_ctx_t c = {log};
    tl_mt_for_each_handle(&log->mt, drop_one, &c);
    tl_mt_for_each_handle(&log->frozen, drop_one, &c);
    tl_manifest_for_each_handle(log->man, drop_one, &c);
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

void tl_state_unref(tl_log_t *log) {
    if (tl_ref_dec(&log->refs)) teardown(log);
}

/* ---------------------------------------------------------------- snapshot registry */

/* A few released snapshot structs are kept for reuse: a short read (one
 * iterator, one count) then costs no allocation for its pin. */
#define SNAP_FREE_MAX 8

/* Fills s with the current state and registers it. The sequence is read
 * first, then the run length (acquire): every run record whose sequence is
 * <= seq is then inside run_n; later ones are trimmed. Caller holds the
 * lock. */
static void snapshot_fill(tl_log_t *log, tl_snapshot_t *s) {
    tl_ref_init(&s->refs);
    atomic_init(&s->spare_iter, NULL);
    s->log = log;
    s->mem = &log->mem;
    s->next = NULL;
    s->seq = tl_state_seq(log);
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

tl_status_t tl_state_snapshot_register(tl_log_t *log, tl_snapshot_t *storage, tl_snapshot_t **out) {
    tl_snapshot_t *s = storage;
    tl_mutex_lock(&log->lock);
    if (s == NULL) {
        s = log->snap_free;
        if (s != NULL) {
            log->snap_free = s->next;
            log->n_snap_free--;
        } else {
            /* Allocate outside the lock, then pin under it. */
            tl_mutex_unlock(&log->lock);
            s = tl_mem_alloc(&log->mem, sizeof(*s));
            if (s == NULL) {
                *out = NULL;
                return TL_ERR(TL_ENOMEM);
            }
            tl_mutex_lock(&log->lock);
        }
    }
    s->heap = storage == NULL;
    snapshot_fill(log, s);
    tl_mutex_unlock(&log->lock);
    *out = s;
    return TL_OK;
}

void tl_state_snapshot_unregister(tl_log_t *log, tl_snapshot_t *s) {
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
    tl_state_unref(log);
}

/* ---------------------------------------------------------------- publishing */

tl_manifest_t *tl_state_pin_manifest(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    tl_manifest_t *man = log->man;
    tl_manifest_retain(man);
    tl_mutex_unlock(&log->lock);
    return man;
}

void tl_state_pin_tombs(tl_log_t *log, tl_tombs_t **tombs, tl_seq_t *seq) {
    tl_mutex_lock(&log->lock);
    tl_tombs_retain(log->tombs);
    *tombs = log->tombs;
    /* Every tombstone in the set has a sequence <= this one, and every later
     * tombstone a higher one: the pair is what compaction folds. */
    *seq = atomic_load_explicit(&log->seq, memory_order_relaxed);
    tl_mutex_unlock(&log->lock);
}

tl_status_t tl_state_publish(tl_log_t *log, const tl_manifest_edit_t *edit, tl_memtable_t *sealed,
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
    uint64_t epoch = tl_state_bump_epoch(log);
    tl_mutex_unlock(&log->lock);
    tl_manifest_release(&log->mem, old);
    if (dropped != NULL) tl_retire_push_list(&log->retire, dropped, epoch);
    return TL_OK;
}

tl_status_t tl_state_publish_memrun(tl_log_t *log, tl_memrun_t *mr, tl_seq_t seq) {
    tl_manifest_t *man;
    tl_mutex_lock(&log->lock);
    tl_manifest_t *old = log->man;
    tl_manifest_edit_t e = {.add_mr = mr};
    tl_status_t st = tl_manifest_derive(&log->mem, old, &e, &man);
    if (st == TL_OK) {
        log->man = man;
        (void)tl_state_bump_epoch(log);
        tl_state_publish_seq(log, seq);
    }
    tl_mutex_unlock(&log->lock);
    if (st != TL_OK) return st;
    tl_manifest_release(&log->mem, old);
    return TL_OK;
}

/* ---------------------------------------------------------------- writes */

tl_status_t tl_state_append_locked(tl_log_t *log, tl_ts_t ts, tl_handle_t h, tl_seq_t seq) {
    tl_mutex_lock(&log->lock);
    tl_status_t st = tl_mt_append_slow(&log->mt, &log->mem, ts, h, seq);
    if (st == TL_OK) tl_state_publish_seq(log, seq);
    tl_mutex_unlock(&log->lock);
    return st;
}

tl_status_t tl_state_append_batch(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h,
                                  size_t n) {
    tl_mem_t *m = &log->mem;
    const tl_ts_t *sts = ts;
    const tl_handle_t *sh = h;
    char *scratch = NULL;
    size_t scratch_bytes = tl_mul_size(n, sizeof(tl_ts_t) + sizeof(tl_handle_t));
    tl_status_t st;
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
    tl_seq_t seq = tl_state_cur_seq(log) + 1;
    tl_mutex_lock(&log->lock);
    st = tl_mt_append_sorted_batch(&log->mt, m, sts, sh, n, seq);
    if (st == TL_OK) tl_state_publish_seq(log, seq);
    tl_mutex_unlock(&log->lock);
    tl_mem_free(m, scratch, scratch_bytes);
    return st;
}

tl_status_t tl_state_delete(tl_log_t *log, tl_ts_t lo, tl_ts_t hi) {
    tl_seq_t seq = tl_state_cur_seq(log) + 1;
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
        tl_state_publish_seq(log, seq);
    }
    tl_mutex_unlock(&log->lock);
    if (st != TL_OK) return st;
    tl_tombs_release(&log->mem, old);
    return TL_OK;
}

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

tl_status_t tl_state_drain_retired(tl_log_t *log, size_t limit, size_t *n_out) {
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
        tl_state_count(&log->dropped, k);
        done += k;
    }
    tl_retire_trim(&log->retire, &log->mem);
    if (n_out != NULL) *n_out = done;
    return TL_OK;
}

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

/* The current state is what teardown would hand to on_drop, and each of its
 * handles is in exactly one place at a time: every move between memtable,
 * memruns, L0 and L1 is one swap under the publish lock, and a drop leaves
 * the manifest (under the lock) before it enters the queue (after). Holding
 * the lock, then the queue's lock, therefore sees each owned handle at most
 * once. The in-order fast append publishes its run length with a release
 * store, read here with acquire (tl_mtbuf_len). */
int tl_state_visit_handles(tl_log_t *log, tl_visit_fn visit, void *ctx) {
    visit_ctx_t c = {visit, ctx, 0};
    tl_mutex_lock(&log->lock);
    tl_mt_for_each_handle(&log->mt, visit_one, &c);
    tl_mt_for_each_handle(&log->frozen, visit_one, &c);
    tl_manifest_for_each_handle(log->man, visit_one, &c);
    if (c.rc == 0) c.rc = tl_retire_visit(&log->retire, visit, ctx);
    tl_mutex_unlock(&log->lock);
    return c.rc;
}

void tl_state_fork_prepare(tl_log_t *log) {
    /* The documented order (tl_state.h). maint_mu first: the worker
     * finishes its unit, so it holds no pin and no half-built output when
     * the child is cloned. */
    tl_mutex_lock(&log->maint_mu);
    tl_mutex_lock(&log->lock);
    tl_retire_fork_prepare(&log->retire);
}

void tl_state_fork_parent(tl_log_t *log) {
    tl_retire_fork_parent(&log->retire);
    tl_mutex_unlock(&log->lock);
    tl_mutex_unlock(&log->maint_mu);
}

void tl_state_fork_child(tl_log_t *log) {
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
