/*
 * _turn.h: the writer turn of a _Gate (timelog/_gate.pxi): a FIFO ticket
 * lock on the engine's platform mutex and condition (tl_sync.h: POSIX or
 * Win32). take() blocks, and is called without the GIL; owner() and busy()
 * are lock-free reads for the GIL-held fast paths. The protocol that uses
 * it is stated in _gate.pxi. Included only by the generated
 * timelog/_core.c, hence static functions.
 */
#ifndef TIMELOG_TURN_H
#define TIMELOG_TURN_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include "tl_sync.h"

typedef struct _tlpy_turn_t {
    tl_mutex_t mu;
    tl_cond_t cv;
    uint64_t next;              /* tickets handed out (under mu) */
    uint64_t serving;           /* the ticket that holds the turn (under mu) */
    atomic_ulong owner;         /* thread ident holding the turn, 0 if none */
    atomic_uint_fast64_t queued;/* next - serving: holder + waiters */
} _tlpy_turn_t;

static int _tlpy_turn_init(_tlpy_turn_t *t) {
    t->next = t->serving = 0;
    atomic_init(&t->owner, 0);
    atomic_init(&t->queued, 0);
    if (!tl_mutex_init(&t->mu)) return 0;
    if (!tl_cond_init(&t->cv)) {
        tl_mutex_destroy(&t->mu);
        return 0;
    }
    return 1;
}

static void _tlpy_turn_destroy(_tlpy_turn_t *t) {
    tl_cond_destroy(&t->cv);
    tl_mutex_destroy(&t->mu);
}

/* Called without the GIL: blocks until this caller's ticket is served. */
static void _tlpy_turn_take(_tlpy_turn_t *t, unsigned long me) {
    tl_mutex_lock(&t->mu);
    uint64_t mine = t->next++;
    atomic_store(&t->queued, t->next - t->serving);
    /* The timeout only bounds one wait; the loop re-checks the ticket. */
    while (t->serving != mine) tl_cond_wait_ms(&t->cv, &t->mu, 1000);
    atomic_store(&t->owner, me);
    tl_mutex_unlock(&t->mu);
}

/* Serves the next ticket; broadcast: the waiter holding it proceeds. */
static void _tlpy_turn_give(_tlpy_turn_t *t) {
    tl_mutex_lock(&t->mu);
    atomic_store(&t->owner, 0);
    t->serving++;
    atomic_store(&t->queued, t->next - t->serving);
    tl_cond_broadcast(&t->cv);
    tl_mutex_unlock(&t->mu);
}

static unsigned long _tlpy_turn_owner(_tlpy_turn_t *t) { return atomic_load(&t->owner); }
static int _tlpy_turn_busy(_tlpy_turn_t *t) { return atomic_load(&t->queued) != 0; }

#endif /* TIMELOG_TURN_H */
