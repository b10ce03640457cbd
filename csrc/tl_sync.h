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

#endif /* TL_SYNC_H */
