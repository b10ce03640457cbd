/*
 * tl_sync_win32.c: the Win32 implementation of the platform layer
 * (tl_sync.h): SRW locks, CONDITION_VARIABLE, _beginthreadex and the
 * system clocks, all Windows Vista+ (Windows 8+ for the precise wall clock).
 * Deliberately no pthreads emulation (winpthreads): MSVC has none, and the
 * mingw-w64 "win32" thread model build (make test-windows) proves this file
 * is all the engine needs. Nothing here holds state of its own. POSIX
 * builds use tl_sync.c; this file is then empty.
 */
#include "tl_sync.h"

#if defined(_WIN32)

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <process.h>

/* tl_mutex_t and tl_cond_t stand in for these without <windows.h>. */
_Static_assert(sizeof(tl_mutex_t) == sizeof(SRWLOCK), "tl_mutex_t must hold an SRWLOCK");
_Static_assert(sizeof(tl_cond_t) == sizeof(CONDITION_VARIABLE),
               "tl_cond_t must hold a CONDITION_VARIABLE");

/* The opaque structs are only ever touched through these API calls, which
 * the compiler cannot see into, so viewing them as the Win32 types is safe. */
#define SRW(mu) ((PSRWLOCK)(void *)(mu))
#define CV(cv) ((PCONDITION_VARIABLE)(void *)(cv))

bool tl_mutex_init(tl_mutex_t *mu) {
    InitializeSRWLock(SRW(mu));
    return true;
}

/* An SRW lock owns no kernel object: nothing to free. */
void tl_mutex_destroy(tl_mutex_t *mu) { (void)mu; }
void tl_mutex_lock(tl_mutex_t *mu) { AcquireSRWLockExclusive(SRW(mu)); }
void tl_mutex_unlock(tl_mutex_t *mu) { ReleaseSRWLockExclusive(SRW(mu)); }

bool tl_cond_init(tl_cond_t *cv) {
    InitializeConditionVariable(CV(cv));
    return true;
}

void tl_cond_destroy(tl_cond_t *cv) { (void)cv; }

/* The timeout is relative and measured on the tick count: a wall-clock
 * change does not move it. A timeout returns FALSE with ERROR_TIMEOUT; any
 * return is handled by the callers like a spurious wake-up. */
void tl_cond_wait_ms(tl_cond_t *cv, tl_mutex_t *mu, uint32_t ms) {
    /* INFINITE is 0xFFFFFFFF: a caller's UINT32_MAX must still time out. */
    DWORD t = ms == INFINITE ? INFINITE - 1 : (DWORD)ms;
    (void)SleepConditionVariableSRW(CV(cv), SRW(mu), t, 0);
}

void tl_cond_broadcast(tl_cond_t *cv) { WakeAllConditionVariable(CV(cv)); }

static unsigned __stdcall thread_trampoline(void *p) {
    tl_thread_t *t = p;
    (void)t->fn(t->arg);
    return 0;
}

/* _beginthreadex, not CreateThread: the C runtime sets up its per-thread
 * state (errno, stdio locks) for threads it starts. */
bool tl_thread_start(tl_thread_t *t, void *(*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    uintptr_t h = _beginthreadex(NULL, 0, thread_trampoline, t, 0, NULL);
    t->handle = (void *)h;
    return h != 0;
}

void tl_thread_join(tl_thread_t t) {
    (void)WaitForSingleObject((HANDLE)t.handle, INFINITE);
    (void)CloseHandle((HANDLE)t.handle);
}

tl_thread_id_t tl_thread_id_self(void) { return (tl_thread_id_t)GetCurrentThreadId(); }

bool tl_thread_id_equal(tl_thread_id_t a, tl_thread_id_t b) { return a == b; }

uint64_t tl_now_ms(void) { return (uint64_t)GetTickCount64(); }

uint64_t tl_now_ns(void) {
    LARGE_INTEGER f, c;
    (void)QueryPerformanceFrequency(&f); /* cannot fail on XP and later */
    (void)QueryPerformanceCounter(&c);
    uint64_t freq = (uint64_t)f.QuadPart, ticks = (uint64_t)c.QuadPart;
    /* Split so ticks * 1e9 cannot overflow 64 bits. */
    return ticks / freq * 1000000000u + ticks % freq * 1000000000u / freq;
}

bool tl_wall_clock(int64_t *sec, int32_t *nsec) {
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    /* 100 ns ticks since 1601-01-01; the Unix epoch is 11644473600 s later. */
    uint64_t ticks = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    const uint64_t epoch_ticks = UINT64_C(116444736000000000);
    if (ticks < epoch_ticks) return false;
    ticks -= epoch_ticks;
    *sec = (int64_t)(ticks / 10000000u);
    *nsec = (int32_t)(ticks % 10000000u) * 100;
    return true;
}

void tl_sleep_ms(uint32_t ms) { Sleep((DWORD)ms); }

void tl_sleep_us(uint32_t us) { Sleep((DWORD)(us / 1000u + (us % 1000u != 0))); }

#endif /* _WIN32 */
