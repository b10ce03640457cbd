/*
 * tl_sync.h: the engine's only locking primitive, a thin wrapper so a port
 * (Windows SRW locks) changes one file. Mutexes belong to an instance; there
 * is no process-wide lock.
 */
#ifndef TL_SYNC_H
#define TL_SYNC_H

#include <pthread.h>

#include "tl_internal.h"

typedef pthread_mutex_t tl_mutex_t;

static inline bool tl_mutex_init(tl_mutex_t *mu) { return pthread_mutex_init(mu, NULL) == 0; }
static inline void tl_mutex_destroy(tl_mutex_t *mu) { (void)pthread_mutex_destroy(mu); }
/* Lock and unlock cannot fail on a valid, initialised, non-recursive mutex
 * used correctly; the engine never relocks a mutex it holds. */
static inline void tl_mutex_lock(tl_mutex_t *mu) { (void)pthread_mutex_lock(mu); }
static inline void tl_mutex_unlock(tl_mutex_t *mu) { (void)pthread_mutex_unlock(mu); }

/* Condition variables wait with a relative timeout in milliseconds. They use
 * CLOCK_MONOTONIC where the platform lets a condvar use it, so a wall-clock
 * jump neither stalls nor shortens a backpressure wait. */
typedef pthread_cond_t tl_cond_t;

bool tl_cond_init(tl_cond_t *cv);
void tl_cond_destroy(tl_cond_t *cv);
/* Waits (mu held) until signalled or ms elapse; spurious wake-ups happen. */
void tl_cond_wait_ms(tl_cond_t *cv, tl_mutex_t *mu, uint32_t ms);
void tl_cond_broadcast(tl_cond_t *cv);

typedef pthread_t tl_thread_t;
bool tl_thread_start(tl_thread_t *t, void *(*fn)(void *), void *arg);
void tl_thread_join(tl_thread_t t);

/* Monotonic milliseconds, for deadlines. */
uint64_t tl_now_ms(void);

#endif /* TL_SYNC_H */
