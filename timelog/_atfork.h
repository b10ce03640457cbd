/*
 * _atfork.h: pthread_atfork where fork() exists (POSIX); a no-op on Windows,
 * where there is nothing to prepare. Used by timelog/_fork.pxi.
 */
#ifndef TIMELOG_ATFORK_H
#define TIMELOG_ATFORK_H

#if defined(_WIN32)
static int _tlpy_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    (void)prepare; (void)parent; (void)child;
    return 0;
}
#else
#include <pthread.h>
#define _tlpy_atfork pthread_atfork
#endif

#endif /* TIMELOG_ATFORK_H */
