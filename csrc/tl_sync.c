/*
 * tl_sync.c: the POSIX implementation of the platform layer (tl_sync.h):
 * condition variables, threads and clocks. Nothing here holds state of its
 * own. Windows builds use tl_sync_win32.c instead; this file is then empty.
 */
/* clock_gettime, CLOCK_MONOTONIC, nanosleep and pthread_condattr_setclock
 * are POSIX, hidden by a strict -std=c17 unless asked for. */
#define _POSIX_C_SOURCE 200809L

#include "tl_sync.h"

#if !defined(_WIN32)

#include <errno.h>
#include <time.h>

#if defined(__APPLE__)
#define TL_COND_CLOCK CLOCK_REALTIME /* macOS condvars only wait on the wall clock */
#else
#define TL_COND_CLOCK CLOCK_MONOTONIC
#endif

bool tl_cond_init(tl_cond_t *cv) {
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0) return false;
#if !defined(__APPLE__)
    (void)pthread_condattr_setclock(&a, TL_COND_CLOCK);
#endif
    bool ok = pthread_cond_init(cv, &a) == 0;
    (void)pthread_condattr_destroy(&a);
    return ok;
}

void tl_cond_destroy(tl_cond_t *cv) { (void)pthread_cond_destroy(cv); }

void tl_cond_wait_ms(tl_cond_t *cv, tl_mutex_t *mu, uint32_t ms) {
    struct timespec ts;
    clock_gettime(TL_COND_CLOCK, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(cv, mu, &ts);
}

void tl_cond_broadcast(tl_cond_t *cv) { (void)pthread_cond_broadcast(cv); }

bool tl_thread_start(tl_thread_t *t, void *(*fn)(void *), void *arg) {
    return pthread_create(t, NULL, fn, arg) == 0;
}

void tl_thread_join(tl_thread_t t) { (void)pthread_join(t, NULL); }

tl_thread_id_t tl_thread_id_self(void) { return pthread_self(); }

bool tl_thread_id_equal(tl_thread_id_t a, tl_thread_id_t b) { return pthread_equal(a, b) != 0; }

uint64_t tl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t tl_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool tl_wall_clock(int64_t *sec, int32_t *nsec) {
    struct timespec tv;
    if (timespec_get(&tv, TIME_UTC) != TIME_UTC) return false;
    *sec = (int64_t)tv.tv_sec;
    *nsec = (int32_t)tv.tv_nsec;
    return true;
}

static void sleep_ts(struct timespec ts) {
    /* nanosleep leaves the remainder in ts when a signal interrupts it. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void tl_sleep_ms(uint32_t ms) {
    sleep_ts((struct timespec){(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L});
}

void tl_sleep_us(uint32_t us) {
    sleep_ts((struct timespec){(time_t)(us / 1000000), (long)(us % 1000000) * 1000L});
}

#endif /* !_WIN32 */
