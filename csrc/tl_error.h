/*
 * tl_error.h: the engine's one error space. tl_strerror (public, timelog.h)
 * names each status; every error the engine returns is born through TL_ERR,
 * one out-of-line function (tl__err), so a debugger breakpoint there catches
 * the first failure of any call, and debug builds (TL_DEBUG) print file:line.
 *
 * This component depends on nothing but the C library: every other file may
 * call it, so it must never call back.
 */
#ifndef TL_ERROR_H
#define TL_ERROR_H

#include "timelog.h"

tl_status_t tl__err(tl_status_t st, const char *file, int line);
#define TL_ERR(code) tl__err((code), __FILE__, __LINE__)

#endif /* TL_ERROR_H */
