/*
 * tl_test_alloc.h: the one test allocator, shared by every C test program:
 * the Criterion suites (through test_util.h), the concurrency scenarios
 * (tests/c/stress_core.c, so also the ThreadSanitizer program), the fuzzer
 * (tests/fuzz/) and the valgrind workload (tests/c/leak_workload/).
 *
 * Usable as tl_config_t.alloc through tlt_alloc_table. Two modes:
 *  - counting (tlt_alloc_init): every block carries a header (requested
 *    size, magic, front guard) and a trailing guard, so a size mismatch on
 *    free/realloc, a double free or an overrun is detected; freed memory is
 *    poisoned with 0xDD and fresh memory filled with 0xBE, so a read of
 *    uninitialised bytes is reproducible. Failure injection (fail_at /
 *    fail_every / fail_after) makes chosen allocation calls return NULL.
 *  - plain (tlt_alloc_init_plain): libc's malloc/realloc/free, no counting
 *    and no lock on the owner thread. The ThreadSanitizer program uses it:
 *    a counting allocator's mutex, taken on every call from every thread,
 *    would add happens-before edges between the writer and the worker and
 *    hide the races TSan is there to find.
 * Both modes have the gate: allocations from threads other than the owner
 * (the thread that called init or tlt_alloc_gate_reset; in practice the
 * engine's worker) are counted, and once armed the block_at-th of them and
 * every later one wait until the gate is opened, so a test can hold the
 * worker inside a unit of work. Frees never wait, and the hooks take no
 * engine lock: a blocked worker holds exactly what the engine held when it
 * allocated.
 *
 * No mutable global state and no Criterion here: the hooks may run on the
 * engine's worker thread, where an assertion cannot unwind the test, so they
 * record the first error and the test's thread reads it (tlt_alloc_errors,
 * tlt_alloc_first_error, tlt_alloc_leak_report). test_util.h wraps these in
 * Criterion assertions.
 */
#ifndef TLT_TEST_ALLOC_H
#define TLT_TEST_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timelog.h"
#include "tl_sync.h" /* mutexes, condition variables, thread identity: POSIX or Win32 */

typedef struct tlt_alloc {
    tl_mutex_t mu;
    bool plain; /* libc pass-through: no accounting, no injection */
    /* accounting (requested sizes, like the engine's own counters) */
    uint64_t live_bytes;
    uint64_t peak_bytes;
    uint64_t live_blocks;
    uint64_t calls;       /* every malloc/realloc/free call */
    uint64_t alloc_calls; /* malloc + growing realloc: what injection counts */
    uint64_t frees;
    /* failure injection; counters restart at tlt_alloc_arm */
    uint64_t armed_calls; /* failable calls seen since armed */
    uint64_t fail_at;     /* 0 = off; k = fail the k-th failable call */
    uint64_t fail_every;  /* 0 = off; n = fail every n-th failable call */
    uint64_t fail_after;  /* 0 = off; n = fail every failable call after the n-th */
    uint64_t injected;    /* failures injected so far */
    int suspended;        /* > 0: calls are neither counted for nor failed */
    /* first error seen by a hook (size mismatch, guard, bad pointer) */
    uint64_t errors;
    char first_error[160];
    /* live block list, for leak reports */
    void *head;
    /* the gate (see above). Its fast path (an open gate) takes no lock, so
     * it adds no synchronisation between threads; blocking is under mu. */
    tl_cond_t gate_cv;
    tl_thread_id_t owner;          /* set by init/reset on the test's thread */
    atomic_uint_fast64_t foreign;  /* foreign allocations since the last reset/arm */
    atomic_uint_fast64_t block_at; /* 0 = never block */
    atomic_bool gate_open;
    bool gate_blocked; /* under mu; a thread reached the closed gate (sticky until re-armed) */
} tlt_alloc_t;

/* Counting mode; the calling thread owns the gate. */
void tlt_alloc_init(tlt_alloc_t *a);
/* Plain (libc) mode; the calling thread owns the gate. */
void tlt_alloc_init_plain(tlt_alloc_t *a);
/* Releases the mutex and condition variable; checks nothing and frees no
 * block (test_util.h's tlt_alloc_destroy asserts first). */
void tlt_alloc_fini(tlt_alloc_t *a);
/* An engine allocator table pointing at a. */
tl_allocator_t tlt_alloc_table(tlt_alloc_t *a);

/* Arms injection; counting restarts at 0. Pass 0 for an unused mode. */
void tlt_alloc_arm(tlt_alloc_t *a, uint64_t fail_at, uint64_t fail_every, uint64_t fail_after);
void tlt_alloc_disarm(tlt_alloc_t *a);
/* Suspend/resume counting and injection, e.g. around verification reads. */
void tlt_alloc_suspend(tlt_alloc_t *a);
void tlt_alloc_resume(tlt_alloc_t *a);

/* Thread-safe snapshots of the counters. */
uint64_t tlt_alloc_live_bytes(tlt_alloc_t *a);
uint64_t tlt_alloc_live_blocks(tlt_alloc_t *a);
uint64_t tlt_alloc_injected(tlt_alloc_t *a);
uint64_t tlt_alloc_armed_calls(tlt_alloc_t *a);
uint64_t tlt_alloc_errors(tlt_alloc_t *a);
/* Copies the first recorded error (empty when none) into buf. */
void tlt_alloc_first_error(tlt_alloc_t *a, char *buf, size_t len);
/* Live bytes now; describes the first few live blocks ("[#serial: size B]")
 * in buf. */
uint64_t tlt_alloc_leak_report(tlt_alloc_t *a, char *buf, size_t len);

/* The hooks themselves (exposed for tests of the allocator). */
void *tlt_malloc(void *ctx, size_t n);
void *tlt_realloc(void *ctx, void *p, size_t old_n, size_t new_n);
void tlt_free(void *ctx, void *p, size_t n);

/* The gate. reset: the calling thread becomes the owner, the foreign count
 * restarts, the gate opens. arm: the block_at-th foreign allocation from now
 * on blocks (0 = open). open: releases every blocked thread and never blocks
 * again until re-armed. wait_blocked: true once a thread reached the closed
 * gate, false after timeout_ms. */
void tlt_alloc_gate_reset(tlt_alloc_t *a);
void tlt_alloc_gate_arm(tlt_alloc_t *a, uint64_t block_at);
void tlt_alloc_gate_open(tlt_alloc_t *a);
uint64_t tlt_alloc_gate_foreign(tlt_alloc_t *a);
bool tlt_alloc_gate_wait_blocked(tlt_alloc_t *a, unsigned timeout_ms);

#endif /* TLT_TEST_ALLOC_H */
