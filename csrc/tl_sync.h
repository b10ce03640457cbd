/*
 * tl_sync.h: the engine's platform layer, the only place that knows which
 * OS it runs on: mutexes, condition variables, threads and clocks. Two
 * implementations: POSIX threads (tl_sync.c) and Win32 (tl_sync_win32.c:
 * SRW locks, CONDITION_VARIABLE, _beginthreadex; no pthreads emulation, so
 * MSVC builds it). Each .c file compiles to nothing on the other platform.
 * Atomics are C11 <stdatomic.h> on both. Mutexes belong to an instance;
 * there is no process-wide lock and no state of its own.
 *
 * The C tests use this layer too (threads, sleeps, thread identity), so the
 * same tests run on both platforms.
 */
#ifndef TL_SYNC_H
#define TL_SYNC_H

#include "tl_internal.h"

#if defined(_WIN32)

/* Opaque, pointer-sized stand-ins for SRWLOCK and CONDITION_VARIABLE (both
 * one pointer, zero when initialised), so <windows.h> and its macros stay
 * out of every engine file; tl_sync_win32.c checks the sizes. */
typedef struct tl_mutex {
    void *opaque;
} tl_mutex_t;
typedef struct tl_cond {
    void *opaque;
} tl_cond_t;

bool tl_mutex_init(tl_mutex_t *mu);
void tl_mutex_destroy(tl_mutex_t *mu);
void tl_mutex_lock(tl_mutex_t *mu);
void tl_mutex_unlock(tl_mutex_t *mu);

/* _beginthreadex wants an unsigned __stdcall entry point: a trampoline in
 * tl_sync_win32.c calls fn(arg), read from here, so *t must stay where it
 * is until tl_thread_join. */
typedef struct tl_thread {
    void *handle;
    void *(*fn)(void *);
    void *arg;
} tl_thread_t;
typedef unsigned long tl_thread_id_t; /* a DWORD */

#else /* POSIX */

#include <pthread.h>

typedef pthread_mutex_t tl_mutex_t;

static inline bool tl_mutex_init(tl_mutex_t *mu) { return pthread_mutex_init(mu, NULL) == 0; }
static inline void tl_mutex_destroy(tl_mutex_t *mu) { (void)pthread_mutex_destroy(mu); }
/* Lock and unlock cannot fail on a valid, initialised, non-recursive mutex
 * used correctly; the engine never relocks a mutex it holds. */
static inline void tl_mutex_lock(tl_mutex_t *mu) { (void)pthread_mutex_lock(mu); }
static inline void tl_mutex_unlock(tl_mutex_t *mu) { (void)pthread_mutex_unlock(mu); }

typedef pthread_cond_t tl_cond_t;
typedef pthread_t tl_thread_t;
typedef pthread_t tl_thread_id_t;

#endif

/* Condition variables wait with a relative timeout in milliseconds. They use
 * a monotonic clock where the platform lets a condvar use it (Linux, Win32),
 * so a wall-clock jump neither stalls nor shortens a backpressure wait. */
bool tl_cond_init(tl_cond_t *cv);
void tl_cond_destroy(tl_cond_t *cv);
/* Waits (mu held) until signalled or ms elapse; spurious wake-ups happen. */
void tl_cond_wait_ms(tl_cond_t *cv, tl_mutex_t *mu, uint32_t ms);
void tl_cond_broadcast(tl_cond_t *cv);

bool tl_thread_start(tl_thread_t *t, void *(*fn)(void *), void *arg);
void tl_thread_join(tl_thread_t t);
/* The calling thread's identity, comparable with tl_thread_id_equal. */
tl_thread_id_t tl_thread_id_self(void);
bool tl_thread_id_equal(tl_thread_id_t a, tl_thread_id_t b);

/* Monotonic milliseconds, for deadlines; monotonic nanoseconds, for
 * measuring short intervals. */
uint64_t tl_now_ms(void);
uint64_t tl_now_ns(void);
/* Wall-clock (UTC) time since the Unix epoch; false if the OS cannot tell. */
bool tl_wall_clock(int64_t *sec, int32_t *nsec);
/* Sleeps at least ms milliseconds. */
void tl_sleep_ms(uint32_t ms);
/* Sleeps at least us microseconds; Windows rounds up to whole milliseconds
 * (it has no shorter sleep; a yield instead would spin a core). */
void tl_sleep_us(uint32_t us);

#endif /* TL_SYNC_H */
