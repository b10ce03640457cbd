/*
 * stress_core.h: concurrency scenarios shared by the Criterion suite
 * (tests/c/test_stress.c, plain and ASan+UBSan) and the standalone
 * ThreadSanitizer program (tests/c/tsan/stress_main.c, which cannot use
 * Criterion: its runtime does not start under TSan).
 *
 * Nothing here includes Criterion or asserts: each scenario returns 0 when
 * every check held and -1 otherwise, with the first failure described in
 * sc_report_t.why. The caller supplies the test allocator (NULL = libc
 * pass-through) and may chain an on_drop tracker of its own behind the
 * core's, so the Criterion suite adds its counting allocator and drop
 * tracker on top.
 *
 * The stress scenario: one writer (the calling thread) appends in order and
 * out of order, in batches, deletes ranges, points, cutoffs and tails, and
 * calls flush, compact, maint_step, tl_drain_retired and (optionally)
 * tl_maint_stop/start, while reader threads pin snapshots and the background
 * worker seals, flushes and compacts. Every write and delete takes the next
 * sequence number, so the writer logs each operation with the sequence it
 * will get *before* issuing it (an append-only log published with a release
 * store of its length): a reader that pins a snapshot at sequence S replays
 * exactly the operations with sequence <= S into its own model and compares
 * the snapshot with it (ranges, counts, buckets, neighbours, spans, and a
 * held snapshot re-read after later compactions).
 *
 * Handles are 0, 1, 2, ... in write order. The core's on_drop tracker checks
 * that a handle is dropped at most once, only from the calling thread, only
 * after a delete hid it (until close), never while a reader's snapshot
 * still returns it, and that after close every handle was dropped exactly
 * once.
 */
#ifndef SC_STRESS_CORE_H
#define SC_STRESS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timelog.h"

#define SC_MAX_READERS 8

/* What the caller plugs in: the test allocator (tests/c/support/tl_test_alloc.h;
 * NULL = the core's own in plain libc mode, as the ThreadSanitizer program
 * wants) and an optional on_drop run after the core's own tracking. The
 * scenarios use the allocator's gate (they become its owner thread) to hold
 * the worker inside a unit of work. */
typedef struct tlt_alloc tlt_alloc_t;
typedef struct sc_hooks {
    tlt_alloc_t *alloc;
    tl_on_drop_fn on_drop;
    void *on_drop_ctx;
} sc_hooks_t;

typedef struct sc_report {
    char why[512]; /* first failure, empty on success */
    /* what happened (for logs; never asserted by timing) */
    uint64_t ops, records, appends, batches, deletes, cutoffs;
    uint64_t flushes, compacts, steps, drains, drained, toggles, busy;
    uint64_t snapshots, range_checks, full_checks, span_checks, held_checks;
    uint64_t reader_records;
    uint64_t worker_allocs; /* allocations made by threads other than the caller */
    uint64_t max_memruns, max_l0;
    double seconds;
    uint64_t max_wait_ms; /* longest backpressure wait seen by a write */
} sc_report_t;

typedef struct sc_params {
    uint64_t seed;
    unsigned readers;    /* reader threads, at most SC_MAX_READERS */
    double seconds;      /* wall-clock bound of the writer loop */
    size_t max_ops;      /* operation-count bound of the writer loop */
    size_t min_ops;      /* ...which runs at least this many, whatever the clock */
    bool toggle_maint;   /* the writer stops and restarts the worker */
    bool explicit_maint; /* the writer calls flush/compact/maint_step too */
    tl_config_t cfg;     /* engine config; alloc and on_drop are overwritten */
} sc_params_t;

/* A small, busy configuration: background maintenance, 4 KiB memtable,
 * 256-byte pages, 1 ms wake-ups, windows of 1000, 3 delta segments. */
void sc_default_params(sc_params_t *p, uint64_t seed);

/* The stress scenario described above. */
int sc_stress(const sc_hooks_t *hooks, const sc_params_t *p, sc_report_t *rep);

/* Opens a log with maintenance disabled, builds three overlapping L0
 * segments (with deletes over them when with_deletes), optionally pins a
 * snapshot, then starts the worker with the allocator gated so that the
 * worker's block_at-th allocation (counted from the start) blocks, and calls
 * tl_close while the worker is stuck inside that unit of work (a helper
 * thread opens the gate only once tl_close has been entered). Checks that
 * close waits for the unit and loses nothing: no handle is dropped twice or
 * from another thread, a pinned snapshot still reads the full model after
 * close, and every handle is dropped exactly once by the end.
 * block_at = 0 runs the same script ungated and stores in *allocs_out (may
 * be NULL) how many allocations the worker's compaction made. */
int sc_close_during_compaction(const sc_hooks_t *hooks, uint64_t block_at, bool with_deletes,
                               bool hold_snapshot, uint64_t *allocs_out, sc_report_t *rep);

/* Backpressure with a worker that cannot catch up (its first allocation
 * blocks until released): sealed_max_runs = 1 and a tiny memtable. Writes
 * must report TL_EBUSY, each busy write must return within sealed_wait_ms
 * plus generous slack (and not before sealed_wait_ms minus clock
 * granularity), stats.busy_events must count them, and every record must be
 * readable, before and after the worker is released. */
int sc_backpressure(const sc_hooks_t *hooks, uint32_t sealed_wait_ms, sc_report_t *rep);

/* Backpressure through the L0 bound: L0 holds more than twice
 * max_delta_segments while the worker is stuck in its compaction, so a
 * write that seals reports TL_EBUSY; once released the worker compacts and
 * nothing is lost. */
int sc_backpressure_l0(const sc_hooks_t *hooks, sc_report_t *rep);

/* A writer waiting on backpressure (sealed_wait_ms large) is released by the
 * worker's progress: no write reports TL_EBUSY once the worker runs again,
 * and none waits for the full sealed_wait_ms. */
int sc_wait_relieved(const sc_hooks_t *hooks, sc_report_t *rep);

/* tl_maint_stop while writing: the worker is gone (tl_maint_running is 0,
 * nothing is flushed while stopped, writes past the bounds report busy but
 * are stored), stop/start are idempotent, and after tl_maint_start the
 * worker drains the backlog; the log equals the model throughout. */
int sc_stop_start(const sc_hooks_t *hooks, sc_report_t *rep);

#endif /* SC_STRESS_CORE_H */
