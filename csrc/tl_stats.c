/*
 * tl_stats.c: what tl_stats reports and what tl_validate checks, over one
 * instance (see tl_stats.h). Counts come from a snapshot pinned on the
 * stack (tl_query.h), structure sizes from the pinned manifest and memtable
 * views, counters from the instance (relaxed: they are statistics).
 */
#include "tl_query.h"
#include "tl_state.h"
#include "tl_stats.h"

/* ---------------------------------------------------------------- stats */

static uint64_t load(const atomic_uint_fast64_t *c) {
    return atomic_load_explicit((atomic_uint_fast64_t *)c, memory_order_relaxed);
}

tl_status_t tl_stats__collect(tl_log_t *log, tl_stats_t *out) {
    memset(out, 0, sizeof(*out));
    tl_snapshot_t local, *s = &local;
    tl_status_t st = tl_snapshot_pin_local(log, s);
    if (st != TL_OK) return st;
    tl_range_t all = tl_range_all();
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
            size_t ooo;
            out->memtable_records += tl_mt_view_records(views[v], &ooo);
            out->memtable_ooo_records += ooo;
        }
        out->memruns = man->n_mr;
        for (size_t i = 0; i < man->n_mr; i++) out->memrun_records += tl_memrun_len(man->mr[i]);
        out->l0_segments = man->n_l0;
        for (size_t i = 0; i < man->n_l0; i++) {
            out->l0_records += tl_segment_len(man->l0[i]);
            out->pages += tl_segment_pages(man->l0[i]);
        }
        out->l1_segments = man->n_l1;
        for (size_t i = 0; i < man->n_l1; i++) {
            out->l1_records += tl_segment_len(man->l1[i]);
            out->pages += tl_segment_pages(man->l1[i]);
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
    out->compactions_bounded = load(&log->compactions_bounded);
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

/* ---------------------------------------------------------------- validate */

/* Bytes the current state owns; equals the allocator's live total when no
 * snapshot pins an older state and no maintenance is in flight. */
static size_t owned_bytes(const tl_log_t *log) {
    size_t b = sizeof(tl_log_t) + tl_mt_bytes(&log->mt) + tl_mt_bytes(&log->frozen) +
               tl_tombs_bytes(log->tombs) + tl_retire_bytes(&log->retire) +
               tl_manifest_own_bytes(log->man) + log->n_snap_free * sizeof(tl_snapshot_t);
    const tl_manifest_t *man = log->man;
    for (size_t i = 0; i < man->n_mr; i++) b += tl_memrun_bytes(man->mr[i]);
    for (size_t i = 0; i < man->n_l0; i++) b += tl_segment_bytes(man->l0[i]);
    for (size_t i = 0; i < man->n_l1; i++) b += tl_segment_bytes(man->l1[i]);
    return b;
}

tl_status_t tl_stats__validate(tl_log_t *log, const char **why) {
    bool ok = true;
    /* Holding maint_mu keeps the worker between units, so no half-built
     * output is live in the allocator while the totals are compared. */
    tl_mutex_lock(&log->maint_mu);
    tl_mutex_lock(&log->lock);
    if (!tl_mt_validate(&log->mt, why) || !tl_mt_validate(&log->frozen, why) ||
        !tl_manifest_validate(log->man, why) || !tl_tombs_validate(log->tombs, why)) {
        ok = false;
    } else if (log->tombs != NULL && log->tombs->max_seq > tl_state_cur_seq(log)) {
        *why = "log: a tombstone is newer than the last sequence issued";
        ok = false;
    } else if (log->n_snaps == 0 && owned_bytes(log) != tl_mem_live(&log->mem)) {
        *why = "allocator: live bytes differ from what the log owns (leak or double count)";
        ok = false;
    } else if (tl_ref_get(&log->refs) != 1 + log->n_snaps - (tl_state_closed(log) ? 1 : 0)) {
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
