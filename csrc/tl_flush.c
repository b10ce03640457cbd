/*
 * tl_flush.c: the write side of maintenance: seal (memtable -> memrun),
 * freeze (hand a full memtable to the worker), flush (memruns -> L0
 * segments) and the direct batches that become memruns without passing
 * through the memtable. See tl_flush.h for who calls what and with which
 * locks.
 *
 * A flushed segment keeps its memrun's watermark: flushing applies no
 * delete, so the same deletes must still hide its records afterwards.
 */
#include "tl_flush.h"

#include "tl_sort.h"

/* ---------------------------------------------------------------- seal and freeze */

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
    tl_state_pin_tombs(log, &tombs, &seq); /* the worker may swap the set */
    tl_status_t st = tl_mt_seal_build(mt, m, tombs, &recs, &dropped);
    tl_tombs_release(m, tombs);
    if (st != TL_OK) goto done; /* the drop list may hold a buffer */
    if (recs != NULL && (st = tl_memrun_create(m, recs, seq, &mr)) != TL_OK) {
        tl_recs_release(m, recs);
        goto done;
    }
    if ((st = tl_retire_reserve(&log->retire, m, dropped.n)) != TL_OK) goto done;
    tl_manifest_edit_t e = {.add_mr = mr};
    st = tl_state_publish(log, &e, mt, &dropped);
    if (st != TL_OK) {
        tl_retire_unreserve(&log->retire, dropped.n);
        goto done;
    }
    tl_state_count(&log->seals, 1);
done:
    tl_memrun_release(m, mr); /* the manifest holds its own reference */
    tl_hlist_free(m, &dropped);
    return st;
}

tl_status_t tl_flush__seal(tl_log_t *log) { return seal_memtable(log, &log->mt); }

bool tl_flush__frozen_pending(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    bool pending = !tl_mt_empty(&log->frozen);
    tl_mutex_unlock(&log->lock);
    return pending;
}

tl_status_t tl_flush__seal_frozen(tl_log_t *log) {
    if (!tl_flush__frozen_pending(log)) return TL_OK;
    return seal_memtable(log, &log->frozen);
}

/* Background mode: hands the full memtable to the worker instead of sealing
 * it here, so a write never pays for an O(memtable) merge. The buffers move
 * as they are (readers keep seeing them, now through the frozen view) and
 * the writer starts an empty memtable. False when the previous frozen
 * memtable is still waiting: the writer then seals its own synchronously
 * (the worker is behind; that is also what bounds memory). */
bool tl_flush__freeze(tl_log_t *log) {
    tl_mutex_lock(&log->lock);
    bool ok = tl_mt_empty(&log->frozen);
    if (ok) {
        tl_mtbuf_t *spare = log->mt.spare; /* stays with the live memtable */
        log->mt.spare = NULL;
        log->frozen = log->mt;
        tl_mt_init(&log->mt, log->frozen.max_records, log->frozen.ooo_budget);
        log->mt.spare = spare;
        (void)tl_state_bump_epoch(log); /* what readers pin changed shape */
    }
    tl_mutex_unlock(&log->lock);
    return ok;
}

/* ---------------------------------------------------------------- flush */

/* memrun -> L0 segment. The block is already sorted and immutable, so only
 * the page index (fence keys) is built and the block is shared. */
static tl_status_t memrun_to_segment(tl_mem_t *m, const tl_memrun_t *mr, size_t page_recs,
                                     tl_segment_t **out) {
    tl_window_t span = {mr->min, mr->max}; /* L0 segments have no window */
    return tl_segment_create(m, TL_LEVEL_L0, mr->recs, page_recs, mr->wm, span, out);
}

/* Turns every memrun of the current manifest into an L0 segment (flush
 * copies nothing: the segment shares the memrun's block). */
tl_status_t tl_flush__memruns(tl_log_t *log) {
    tl_mem_t *m = &log->mem;
    tl_manifest_t *man = tl_state_pin_manifest(log);
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
        tl_adaptive_observe(&next, &log->cfg.adaptive, tl_memrun_len(mr), mr->min, mr->max);
    }
    tl_adaptive_update(&next, &log->cfg.adaptive);
    size_t made = 0;
    for (; made < n; made++) {
        st = memrun_to_segment(m, man->mr[made], log->page_recs, &segs[made]);
        if (st != TL_OK) break;
        segs[made]->width = next.width;
    }
    if (st == TL_OK) {
        tl_manifest_edit_t e = {.drop_mr = man->mr, .n_drop_mr = n, .add_l0 = segs, .n_add_l0 = n};
        st = tl_state_publish(log, &e, false, NULL);
    }
    for (size_t i = 0; i < made; i++) tl_segment_release(m, segs[i]);
    tl_mem_free(m, segs, bytes);
    if (st == TL_OK) {
        tl_state_count(&log->flushes, n);
        tl_mutex_lock(&log->lock);
        log->adapt = next;
        tl_mutex_unlock(&log->lock);
    }
out:
    tl_manifest_release(m, man);
    return st;
}

/* ---------------------------------------------------------------- direct batches */

/* A large batch becomes its own memrun: one sequence number, one sort, and
 * the manifest and the sequence become visible together. */

/* Publishes a sorted block (recs->n records, the caller's reference) as a
 * memrun under the next sequence. On failure nothing changed and the caller
 * still owns recs. */
tl_status_t tl_flush__block(tl_log_t *log, tl_recs_t *recs) {
    tl_mem_t *m = &log->mem;
    tl_status_t st;
    tl_seq_t seq = tl_state_cur_seq(log) + 1;
    tl_memrun_t *mr;
    tl_recs_retain(recs); /* the memrun's reference */
    st = tl_memrun_create(m, recs, seq, &mr);
    if (st != TL_OK) {
        tl_recs_release(m, recs);
        return st;
    }
    st = tl_state_publish_memrun(log, mr, seq);
    tl_memrun_release(m, mr); /* the manifest holds its own reference */
    if (st != TL_OK) return st;
    tl_state_count(&log->seals, 1);
    tl_recs_release(m, recs); /* the caller's reference: the memrun keeps it */
    return TL_OK;
}

/* A batch of at least batch_direct_min records: sorted into a block of its
 * own, published as a memrun (no pass through the memtable). */
tl_status_t tl_flush__batch(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h, size_t n) {
    tl_mem_t *m = &log->mem;
    tl_recs_t *recs;
    tl_status_t st = tl_recs_create(m, n, &recs);
    if (st != TL_OK) return st;
    st = tl_sort_pairs_into(m, ts, h, n, recs->ts, recs->h);
    recs->n = n;
    if (st == TL_OK) st = tl_flush__block(log, recs);
    if (st != TL_OK) tl_recs_release(m, recs);
    return st;
}
