/*
 * criterion_shim.h: lets a standalone program (the libFuzzer harness in
 * tests/fuzz/, the valgrind workload in tests/c/leak_workload/) reuse
 * test_util.c without linking libcriterion.
 *
 * test_util.c reports failures with cr_assert, which calls a handful of
 * Criterion runtime functions. libcriterion cannot be linked into these
 * programs: it brings its own main() and expects to run inside its test
 * runner (a failed assert talks to the runner process). These definitions
 * replace that runtime: a failed assertion prints file:line and its message
 * to stderr and abort()s, which is what libFuzzer reports as a crash and
 * what makes the leak workload exit non-zero.
 *
 * Include it from exactly one .c file of such a program (it defines
 * functions and one object); never from a Criterion suite.
 */
#ifndef TLT_CRITERION_SHIM_H
#define TLT_CRITERION_SHIM_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/event.h>
#include <criterion/options.h>

/* Zeroed: full_stats is off, so passing asserts never format a message. */
struct criterion_options criterion_options;

int cr_asprintf(char **strp, const char *fmt, ...) {
    /* Portable C (no vasprintf): measure, then print. */
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *strp = n < 0 ? NULL : malloc((size_t)n + 1);
    if (*strp != NULL) vsnprintf(*strp, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return *strp != NULL ? n : -1;
}

void cr_asprintf_free(char *buf) { free(buf); }

/* The default message of an assert without its own; test_util.c always gives
 * one, so a generic text is enough. Must be freeable by cr_asprintf_free. */
char *cr_translate_assert_msg(int msg_index, ...) {
    char *s = NULL;
    if (cr_asprintf(&s, "assertion failed (criterion message %d)", msg_index) < 0) return NULL;
    return s;
}

void cri_asserts_passed_incr(void) {}

void criterion_send_assert(struct criterion_assert_stats *stats) {
    if (!stats->passed)
        fprintf(stderr, "%s:%u: assertion failed: %s\n", stats->file ? stats->file : "?",
                stats->line, stats->message ? stats->message : "(no message)");
}

void criterion_abort_test(void) {
    fflush(stderr);
    abort();
}

#endif /* TLT_CRITERION_SHIM_H */
