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
#include <time.h>

#include "tl_compact.h"
#include "tl_flush.h"
#include "tl_maint.h"
#include "tl_merge.h"
#include "tl_retire.h"
#include "tl_sort.h"
#include "tl_sync.h"

#define MT_RECORD_BYTES (sizeof(tl_ts_t) + sizeof(tl_handle_t) + sizeof(tl_seq_t))
#define SEG_RECORD_BYTES (sizeof(tl_ts_t) + sizeof(tl_handle_t))

struct tl_log {
    tl_mem_t mem;
    tl_config_t cfg; /* defaults resolved */
    size_t page_recs, target_recs;
    size_t batch_direct_min; /* batches this large become a memrun directly */
    tl_refcnt_t refs;        /* the open handle + each live snapshot */
    atomic_bool closed;
    tl_mutex_t lock;         /* the publish lock */

    tl_manifest_t *man;
    tl_memtable_t mt;
    tl_tombs_t *tombs;
    atomic_uint_fast64_t seq; /* last sequence issued, release-stored */
    uint64_t epoch;           /* bumped by every publish that drops handles */
    tl_snapshot_t *snap_head, *snap_tail; /* live snapshots, oldest first */
    size_t n_snaps;

    tl_retire_t retire;
    uint64_t seals, flushes, compactions, busy_events;
    atomic_uint_fast64_t dropped;
};

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
    log->page_recs = c->target_page_bytes / SEG_RECORD_BYTES;
    log->target_recs = c->compaction_target_bytes / SEG_RECORD_BYTES;
    size_t mt_records = c->memtable_max_bytes / MT_RECORD_BYTES;
    size_t ooo_records = c->ooo_budget_bytes / MT_RECORD_BYTES;
    tl_mt_init(&log->mt, mt_records, ooo_records);
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
    atomic_init(&log->dropped, 0);
    bool locked_ok = tl_mutex_init(&log->lock);
    st = locked_ok ? tl_retire_init(&log->retire) : TL_ERR(TL_ENOMEM);
    bool retire_ok = st == TL_OK;
    if (st == TL_OK) st = tl_manifest_create(&log->mem, NULL, 0, NULL, 0, NULL, 0, &log->man);
    if (st != TL_OK) {
        if (retire_ok) tl_retire_destroy(&log->retire, &log->mem);
        if (locked_ok) tl_mutex_destroy(&log->lock);
        /* The accounting lives inside the block being freed: free through a copy. */
        boot = log->mem;
        tl_mem_free(&boot, log, sizeof(*log));
        return st;
    }
    *out = log;
    return TL_OK;
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

/* The last reference is gone: hand every handle the instance still holds to
 * on_drop exactly once, then free everything. */
static void teardown(tl_log_t *log) {
    drop_ctx_t c = {log};
    tl_mt_for_each_handle(&log->mt, drop_one, &c);
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_mr; i++) drop_recs(&c, man->mr[i]->recs);
    for (size_t i = 0; i < man->n_l0; i++) drop_recs(&c, man->l0[i]->recs);
    for (size_t i = 0; i < man->n_l1; i++) drop_recs(&c, man->l1[i]->recs);
    tl_retire_drain_all(&log->retire, drop_one, &c);

    tl_mem_t *m = &log->mem;
    tl_mt_reset(&log->mt, m);
    tl_manifest_release(m, log->man);
    tl_tombs_release(m, log->tombs);
    tl_retire_destroy(&log->retire, m);
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
    log_unref(log);
}

static bool is_closed(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->closed, memory_order_acquire);
}

/* ---------------------------------------------------------------- snapshots */

tl_status_t tl_snapshot_acquire(tl_log_t *log, tl_snapshot_t **out) {
    *out = NULL;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    tl_snapshot_t *s = tl_mem_alloc(&log->mem, sizeof(*s));
    if (s == NULL) return TL_ERR(TL_ENOMEM);
    memset(s, 0, sizeof(*s));
    tl_ref_init(&s->refs);
    s->log = log;
    s->mem = &log->mem;
    tl_mutex_lock(&log->lock);
    /* The sequence first, then the run length (acquire): every run record
     * whose sequence is <= seq is then inside run_n; later ones are trimmed. */
    s->seq = atomic_load_explicit(&log->seq, memory_order_acquire);
    tl_mt_view_capture(&log->mt, &s->mv);
    while (s->mv.run_n > 0 && s->mv.run->seq[s->mv.run_n - 1] > s->seq) s->mv.run_n--;
    tl_manifest_retain(log->man);
    s->man = log->man;
    tl_tombs_retain(log->tombs);
    s->tombs = log->tombs;
    s->epoch = log->epoch;
    s->prev = log->snap_tail;
    if (log->snap_tail != NULL) {
        log->snap_tail->next = s;
    } else {
        log->snap_head = s;
    }
    log->snap_tail = s;
    log->n_snaps++;
    tl_ref_inc(&log->refs);
    tl_mutex_unlock(&log->lock);
    *out = s;
    return TL_OK;
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
    tl_mutex_unlock(&log->lock);
    tl_mem_free(&log->mem, s, sizeof(*s));
    log_unref(log);
}

/* ---------------------------------------------------------------- publishing */

static tl_seq_t cur_seq(const tl_log_t *log) {
    return atomic_load_explicit(&((tl_log_t *)log)->seq, memory_order_relaxed);
}

static void publish_seq(tl_log_t *log, tl_seq_t seq) {
    atomic_store_explicit(&log->seq, seq, memory_order_release);
}

/* Swaps in a new manifest (and optionally resets the memtable) under the
 * lock, then retires `dropped` with the new epoch. Space for the handles
 * must already be reserved. Consumes the caller's reference to man. */
static void publish(tl_log_t *log, tl_manifest_t *man, bool reset_memtable, const tl_hlist_t *dropped) {
    tl_mutex_lock(&log->lock);
    tl_manifest_t *old = log->man;
    log->man = man;
    if (reset_memtable) tl_mt_reset(&log->mt, &log->mem);
    uint64_t epoch = ++log->epoch;
    tl_mutex_unlock(&log->lock);
    tl_manifest_release(&log->mem, old);
    if (dropped != NULL) tl_retire_push_list(&log->retire, dropped, epoch);
}

/* Memtable -> memrun. No-op on an empty memtable. */
static tl_status_t seal(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    if (tl_mt_empty(&log->mt)) return TL_OK;
    tl_hlist_t dropped = {0};
    tl_recs_t *recs = NULL;
    tl_memrun_t *mr = NULL;
    tl_manifest_t *man = NULL;
    size_t reserved = 0;
    /* Only the writer changes the memtable, so it can be read without the lock. */
    tl_status_t st = tl_mt_seal_build(&log->mt, m, log->tombs, &recs, &dropped);
    if (st != TL_OK) return st;
    if (recs != NULL) {
        st = tl_memrun_create(m, recs, cur_seq(log), &mr);
        if (st != TL_OK) {
            tl_recs_release(m, recs);
            goto done;
        }
    }
    st = tl_retire_reserve(&log->retire, m, dropped.n);
    if (st != TL_OK) goto done;
    reserved = dropped.n;
    const tl_manifest_t *o = log->man;
    tl_memrun_t *mrs_stack[16];
    tl_memrun_t **mrs = mrs_stack;
    size_t n_mr = o->n_mr + (mr != NULL);
    size_t mrs_bytes = n_mr * sizeof(*mrs);
    if (n_mr > 16 && (mrs = tl_mem_alloc(m, mrs_bytes)) == NULL) {
        st = TL_ERR(TL_ENOMEM);
        goto done;
    }
    memcpy(mrs, o->mr, o->n_mr * sizeof(*mrs));
    if (mr != NULL) mrs[o->n_mr] = mr;
    st = tl_manifest_create(m, mrs, n_mr, o->l0, o->n_l0, o->l1, o->n_l1, &man);
    if (mrs != mrs_stack) tl_mem_free(m, mrs, mrs_bytes);
    if (st != TL_OK) goto done;
    publish(log, man, true, &dropped);
    reserved = 0;
    log->seals++;
done:
    if (reserved > 0) tl_retire_unreserve(&log->retire, reserved);
    tl_memrun_release(m, mr); /* the manifest holds its own reference */
    tl_hlist_free(m, &dropped);
    return st;
}

/* Turns the oldest `count` memruns into L0 segments. */
static tl_status_t flush_memruns(tl_log_t *log, size_t count) {
    tl_mem_t *m = &log->mem;
    const tl_manifest_t *o = log->man;
    if (count > o->n_mr) count = o->n_mr;
    if (count == 0) return TL_OK;
    size_t n_l0 = o->n_l0 + count;
    size_t bytes = n_l0 * sizeof(tl_segment_t *);
    tl_segment_t **l0 = tl_mem_alloc(m, bytes);
    if (l0 == NULL) return TL_ERR(TL_ENOMEM);
    memcpy(l0, o->l0, o->n_l0 * sizeof(*l0));
    size_t made = 0;
    tl_status_t st = TL_OK;
    for (; made < count && st == TL_OK; made++) {
        st = tl_flush_memrun(m, o->mr[made], log->page_recs, &l0[o->n_l0 + made]);
        if (st != TL_OK) break;
    }
    tl_manifest_t *man = NULL;
    if (st == TL_OK) {
        st = tl_manifest_create(m, o->mr + count, o->n_mr - count, l0, n_l0, o->l1, o->n_l1, &man);
    }
    for (size_t i = 0; i < made; i++) tl_segment_release(m, l0[o->n_l0 + i]);
    tl_mem_free(m, l0, bytes);
    if (st != TL_OK) return st;
    publish(log, man, false, NULL);
    log->flushes += count;
    return TL_OK;
}

/* Can tombstone t be forgotten? Only if no source meeting its interval could
 * still hold a record it hides. */
static bool tomb_forgettable(void *vctx, const tl_tomb_t *t) {
    const tl_log_t *log = vctx;
    const tl_memtable_t *mt = &log->mt;
    if (!tl_mt_empty(mt) && mt->min_seq < t->seq) return false;
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_mr; i++) {
        const tl_memrun_t *s = man->mr[i];
        if (s->wm < t->seq && s->min <= t->hi && s->max >= t->lo) return false;
    }
    for (size_t i = 0; i < man->n_l0; i++) {
        const tl_segment_t *s = man->l0[i];
        if (s->wm < t->seq && s->min <= t->hi && s->max >= t->lo) return false;
    }
    for (size_t i = tl_manifest_l1_seek(man, t->lo); i < man->n_l1 && man->l1[i]->min <= t->hi; i++) {
        if (man->l1[i]->wm < t->seq) return false;
    }
    return true;
}

static void forget_tombstones(tl_log_t *log) {
    tl_tombs_t *nt;
    bool changed;
    if (tl_tombs_filter(&log->mem, log->tombs, tomb_forgettable, log, &nt, &changed) != TL_OK) {
        return; /* forgetting is an optimisation; try again next time */
    }
    if (!changed) {
        tl_tombs_release(&log->mem, nt);
        return;
    }
    tl_mutex_lock(&log->lock);
    tl_tombs_t *old = log->tombs;
    log->tombs = nt;
    tl_mutex_unlock(&log->lock);
    tl_tombs_release(&log->mem, old);
}

/* Compacts L0 inputs [0, n_l0) (and, with fold_debt, every L1 segment with
 * delete debt) into L1. */
static tl_status_t compact(tl_log_t *log, size_t n_l0, bool fold_debt) {
    tl_mem_t *m = &log->mem;
    const tl_manifest_t *o = log->man;
    if (n_l0 > o->n_l0) n_l0 = o->n_l0;
    if (n_l0 == 0 && !fold_debt) return TL_OK;
    tl_compact_in_t in = {
        .mem = m,
        .l0 = o->l0,
        .n_l0 = n_l0,
        .l1 = o->l1,
        .n_l1 = o->n_l1,
        .tombs = log->tombs,
        .wm = cur_seq(log),
        .fold_debt = fold_debt,
        .window_size = log->cfg.window_size,
        .window_origin = log->cfg.window_origin,
        .page_recs = log->page_recs,
        .target_recs = log->target_recs,
    };
    tl_compact_out_t out;
    tl_status_t st = tl_compact_run(&in, &out);
    if (st != TL_OK) return st;
    tl_manifest_t *man = NULL;
    st = tl_retire_reserve(&log->retire, m, out.dropped.n);
    if (st == TL_OK) {
        st = tl_manifest_create(m, o->mr, o->n_mr, o->l0 + n_l0, o->n_l0 - n_l0, out.l1, out.n_l1, &man);
        if (st != TL_OK) tl_retire_unreserve(&log->retire, out.dropped.n);
    }
    if (st == TL_OK) {
        publish(log, man, false, &out.dropped);
        log->compactions++;
    }
    tl_compact_out_free(m, &out);
    if (st == TL_OK) forget_tombstones(log);
    return st;
}

/* Share of records in immutable sources that tombstones hide. */
static double delete_debt(tl_log_t *log) {
    if (log->tombs == NULL) return 0.0;
    tl_snapshot_t *s;
    if (tl_snapshot_acquire(log, &s) != TL_OK) return 0.0;
    /* Immutable sources only: the memtable's deletes are applied by sealing. */
    tl_mtview_t saved = s->mv;
    memset(&s->mv, 0, sizeof(s->mv));
    tl_range_t all = tl_range_closed(TL_TS_MIN, TL_TS_MAX);
    uint64_t phys = tl_count_physical_in(s, all), vis = 0;
    double debt = 0.0;
    if (phys > 0 && tl_count_in(s, all, &vis) == TL_OK) debt = (double)(phys - vis) / (double)phys;
    s->mv = saved;
    tl_snapshot_release(s);
    return debt;
}

static tl_maint_action_t next_action(tl_log_t *log, bool with_debt) {
    tl_maint_shape_t shape = {
        .memtable_full = tl_mt_full(&log->mt),
        .memruns = log->man->n_mr,
        .l0_segments = log->man->n_l0,
        .max_delta_segments = log->cfg.max_delta_segments,
        .delete_debt = 0.0,
        .delete_debt_threshold = log->cfg.delete_debt_threshold,
    };
    if (with_debt && shape.delete_debt_threshold > 0) shape.delete_debt = delete_debt(log);
    return tl_maint_next(&shape);
}

static tl_status_t do_action(tl_log_t *log, tl_maint_action_t a) {
    switch (a) {
    case TL_MA_SEAL: return seal(log);
    case TL_MA_FLUSH: return flush_memruns(log, 1);
    case TL_MA_COMPACT_L0: {
        size_t k = log->cfg.compaction_max_inputs;
        return compact(log, k == 0 ? log->man->n_l0 : k, false);
    }
    case TL_MA_COMPACT_DEBT: return compact(log, log->man->n_l0, true);
    case TL_MA_NONE: break;
    }
    return TL_OK;
}

/* After a write made the memtable full or added a memrun. Background mode
 * keeps fan-out bounded right here (until the maintenance thread exists);
 * disabled mode only seals and reports backpressure past sealed_max_runs.
 * The write itself is already stored, so a failure here is not reported as
 * a failed write: maintenance simply runs again on the next one. */
static tl_status_t after_write(tl_log_t *log) {
    if (tl_mt_full(&log->mt)) (void)seal(log);
    if (log->cfg.maintenance == TL_MAINT_BACKGROUND) {
        for (int guard = 0; guard < 64; guard++) {
            tl_maint_action_t a = next_action(log, false);
            if (a == TL_MA_NONE || do_action(log, a) != TL_OK) break;
        }
        return TL_OK;
    }
    if (log->man->n_mr > log->cfg.sealed_max_runs) {
        log->busy_events++;
        return TL_EBUSY;
    }
    return TL_OK;
}

/* ---------------------------------------------------------------- writes */

tl_status_t tl_append(tl_log_t *log, tl_ts_t ts, tl_handle_t h) {
    if (TL_UNLIKELY(is_closed(log))) return TL_ERR(TL_ESTATE);
    tl_seq_t seq = cur_seq(log) + 1;
    if (!tl_mt_append_fast(&log->mt, ts, h, seq)) {
        tl_mutex_lock(&log->lock);
        tl_status_t st = tl_mt_append_slow(&log->mt, &log->mem, ts, h, seq);
        tl_mutex_unlock(&log->lock);
        if (st != TL_OK) return st;
    }
    publish_seq(log, seq);
    if (TL_UNLIKELY(tl_mt_full(&log->mt))) return after_write(log);
    return TL_OK;
}

tl_status_t tl_append_now(tl_log_t *log, tl_handle_t h, tl_ts_t *ts_out) {
    struct timespec tv;
    if (timespec_get(&tv, TIME_UTC) != TIME_UTC) return TL_ERR(TL_EINTERNAL);
    tl_ts_t ts;
    switch (log->cfg.time_unit) {
    case TL_UNIT_S: ts = (tl_ts_t)tv.tv_sec; break;
    case TL_UNIT_MS: ts = (tl_ts_t)tv.tv_sec * 1000 + tv.tv_nsec / 1000000; break;
    case TL_UNIT_US: ts = (tl_ts_t)tv.tv_sec * 1000000 + tv.tv_nsec / 1000; break;
    default: ts = (tl_ts_t)tv.tv_sec * 1000000000 + tv.tv_nsec; break;
    }
    if (ts_out != NULL) *ts_out = ts;
    return tl_append(log, ts, h);
}

/* A large batch becomes its own memrun: one sequence number, one sort. */
static tl_status_t batch_to_memrun(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h, size_t n) {
    tl_mem_t *m = &log->mem;
    tl_recs_t *recs;
    tl_status_t st = tl_recs_create(m, n, &recs);
    if (st != TL_OK) return st;
    st = tl_sort_pairs_into(m, ts, h, n, recs->ts, recs->h);
    if (st != TL_OK) {
        tl_recs_release(m, recs);
        return st;
    }
    recs->n = n;
    tl_seq_t seq = cur_seq(log) + 1;
    tl_memrun_t *mr;
    st = tl_memrun_create(m, recs, seq, &mr);
    if (st != TL_OK) {
        tl_recs_release(m, recs);
        return st;
    }
    const tl_manifest_t *o = log->man;
    size_t bytes = (o->n_mr + 1) * sizeof(tl_memrun_t *);
    tl_memrun_t **mrs = tl_mem_alloc(m, bytes);
    tl_manifest_t *man = NULL;
    if (mrs == NULL) {
        st = TL_ERR(TL_ENOMEM);
    } else {
        memcpy(mrs, o->mr, o->n_mr * sizeof(*mrs));
        mrs[o->n_mr] = mr;
        st = tl_manifest_create(m, mrs, o->n_mr + 1, o->l0, o->n_l0, o->l1, o->n_l1, &man);
        tl_mem_free(m, mrs, bytes);
    }
    tl_memrun_release(m, mr);
    if (st != TL_OK) return st;
    /* The manifest and the sequence become visible together. */
    tl_mutex_lock(&log->lock);
    tl_manifest_t *old = log->man;
    log->man = man;
    publish_seq(log, seq);
    tl_mutex_unlock(&log->lock);
    tl_manifest_release(m, old);
    log->seals++;
    return TL_OK;
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
        return after_write(log);
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
    if (tl_mt_full(&log->mt)) return after_write(log);
    return TL_OK;
}

static tl_status_t delete_closed(tl_log_t *log, tl_ts_t lo, tl_ts_t hi) {
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    if (lo > hi) return TL_OK; /* empty range */
    tl_seq_t seq = cur_seq(log) + 1;
    tl_tombs_t *nt;
    tl_status_t st = tl_tombs_add(&log->mem, log->tombs, lo, hi, seq, &nt);
    if (st != TL_OK) return st;
    tl_mutex_lock(&log->lock);
    tl_tombs_t *old = log->tombs;
    log->tombs = nt;
    publish_seq(log, seq);
    tl_mutex_unlock(&log->lock);
    tl_tombs_release(&log->mem, old);
    if (log->cfg.maintenance == TL_MAINT_BACKGROUND && log->cfg.delete_debt_threshold > 0 &&
        next_action(log, true) == TL_MA_COMPACT_DEBT) {
        (void)compact(log, log->man->n_l0, true);
    }
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

/* ---------------------------------------------------------------- maintenance */

tl_status_t tl_flush(tl_log_t *log) {
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    tl_status_t st = seal(log);
    if (st != TL_OK) return st;
    return flush_memruns(log, log->man->n_mr);
}

tl_status_t tl_compact(tl_log_t *log) {
    tl_status_t st = tl_flush(log);
    if (st != TL_OK) return st;
    return compact(log, log->man->n_l0, true);
}

tl_status_t tl_maint_step(tl_log_t *log) {
    if (is_closed(log)) return TL_ERR(TL_ESTATE);
    tl_maint_action_t a = next_action(log, true);
    if (a == TL_MA_NONE) return TL_EOF;
    return do_action(log, a);
}

tl_status_t tl_drain_retired(tl_log_t *log, size_t limit, size_t *n_out) {
    if (n_out != NULL) *n_out = 0;
    if (log == NULL) return TL_ERR(TL_EINVAL);
    if (limit == 0) limit = log->cfg.drain_batch_limit;
    if (limit == 0) limit = SIZE_MAX;
    tl_mutex_lock(&log->lock);
    uint64_t safe = log->snap_head != NULL ? log->snap_head->epoch : UINT64_MAX;
    tl_mutex_unlock(&log->lock);
    size_t done = 0;
    tl_handle_t buf[64];
    while (done < limit) {
        /* Popped before the callbacks run, so on_drop may re-enter. */
        size_t k = tl_retire_pop(&log->retire, safe, buf, TL_MIN((size_t)64, limit - done));
        if (k == 0) break;
        for (size_t i = 0; i < k; i++) {
            if (log->cfg.on_drop != NULL) log->cfg.on_drop(log->cfg.on_drop_ctx, buf[i]);
        }
        atomic_fetch_add_explicit(&log->dropped, k, memory_order_relaxed);
        done += k;
    }
    tl_retire_trim(&log->retire, &log->mem);
    if (n_out != NULL) *n_out = done;
    return TL_OK;
}

size_t tl_retired_len(const tl_log_t *log) { return tl_retire_len(&log->retire); }

/* ---------------------------------------------------------------- stats */

tl_status_t tl_stats(tl_log_t *log, tl_stats_t *out) {
    memset(out, 0, sizeof(*out));
    tl_snapshot_t *s;
    tl_status_t st = tl_snapshot_acquire(log, &s);
    if (st != TL_OK) return st;
    tl_range_t all = tl_range_closed(TL_TS_MIN, TL_TS_MAX);
    st = tl_count_in(s, all, &out->records);
    if (st == TL_OK) {
        out->physical_records = tl_count_physical_in(s, all);
        if (tl_min_ts(s, &out->min_ts) != TL_OK || tl_max_ts(s, &out->max_ts) != TL_OK) {
            out->min_ts = TL_TS_MAX;
            out->max_ts = TL_TS_MIN;
        }
        const tl_manifest_t *man = s->man;
        out->memtable_records = s->mv.run_n + s->mv.stage_n;
        out->memtable_ooo_records = s->mv.stage_n;
        for (size_t i = 0; i < s->mv.n_ooo; i++) {
            size_t k = tl_mtbuf_len(s->mv.ooo[i]);
            out->memtable_records += k;
            out->memtable_ooo_records += k;
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
    out->alloc_calls = atomic_load_explicit(&log->mem.calls, memory_order_relaxed);
    out->alloc_failures = atomic_load_explicit(&log->mem.failures, memory_order_relaxed);
    out->seals = log->seals;
    out->flushes = log->flushes;
    out->compactions = log->compactions;
    out->busy_events = log->busy_events;
    out->retired_len = tl_retire_len(&log->retire);
    out->dropped_handles = atomic_load_explicit(&log->dropped, memory_order_relaxed);
    tl_mutex_lock(&log->lock);
    out->snapshots = log->n_snaps;
    tl_mutex_unlock(&log->lock);
    return st;
}

/* Bytes the current state owns; equals the allocator's live total when no
 * snapshot pins an older state. */
static size_t owned_bytes(const tl_log_t *log) {
    size_t b = sizeof(tl_log_t) + tl_mt_bytes(&log->mt) + tl_tombs_bytes(log->tombs) +
               tl_retire_bytes(&log->retire) + tl_manifest_own_bytes(log->man);
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
    tl_mutex_lock(&log->lock);
    if (!tl_mt_validate(&log->mt, why) || !tl_manifest_validate(log->man, why) ||
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
    return ok ? TL_OK : TL_ERR(TL_EINTERNAL);
}
