/*
 * tl_error.c: status strings and error birth (see tl_error.h). Calls nothing
 * in the engine, so the allocator and every layer may report through it.
 */
#include "tl_internal.h"

#ifdef TL_DEBUG
#include <stdio.h>
#endif

const char *tl_strerror(tl_status_t st) {
    switch (st) {
    case TL_OK: return "ok";
    case TL_EOF: return "end of data";
    case TL_EBUSY: return "busy: the write was accepted under backpressure";
    case TL_ENOMEM: return "out of memory";
    case TL_EINVAL: return "invalid argument";
    case TL_ESTATE: return "invalid state (is the log closed?)";
    case TL_EINTERNAL: return "internal error (engine invariant broken)";
    }
    return "unknown status";
}

TL_NOINLINE tl_status_t tl__err(tl_status_t st, const char *file, int line) {
#ifdef TL_DEBUG
    fprintf(stderr, "timelog: %s at %s:%d\n", tl_strerror(st), file, line);
#else
    (void)file;
    (void)line;
#endif
    return st;
}
