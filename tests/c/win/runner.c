/*
 * tests/c/win/runner.c: a minimal test runner for the Criterion test files
 * where Criterion is not available (the mingw-w64 build run under Wine by
 * make test-windows). See criterion/criterion.h beside it for what it
 * supports and how it differs from Criterion.
 *
 * Usage: runner.exe [SUBSTRING...]   runs the tests whose "suite::name"
 * contains any SUBSTRING (all tests without arguments). The last line is
 * always "N passed, N failed"; the exit status is 0 only when nothing failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "criterion/criterion.h"
#include "tl_sync.h"

#define TLW_MAX_TESTS 2048

typedef struct tlw_test {
    const char *suite, *name;
    void (*fn)(void);
    const struct tlw_test_opts *opts;
} tlw_test_t;

/* Test-runner state, filled by the constructors before main() runs and
 * read by the runner's one thread. (The engine itself has no global state;
 * this program is not the engine.) */
static tlw_test_t tests[TLW_MAX_TESTS];
static size_t n_tests;
static bool registry_full;
static jmp_buf on_failure;
static tl_thread_id_t runner_thread;

void tlw_register(const char *suite, const char *name, void (*fn)(void),
                  const struct tlw_test_opts *opts) {
    if (n_tests == TLW_MAX_TESTS) {
        registry_full = true;
        return;
    }
    tests[n_tests++] = (tlw_test_t){suite, name, fn, opts};
}

void tlw_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
    fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
    if (fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    fflush(stderr);
    if (!tl_thread_id_equal(tl_thread_id_self(), runner_thread)) {
        /* Another thread's stack cannot be unwound into the runner. */
        fprintf(stderr, "assertion failed outside the runner's thread: stopping\n");
        fflush(stderr);
        _Exit(1);
    }
    longjmp(on_failure, 1);
}

void tlw_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

static bool selected(const tlw_test_t *t, int argc, char **argv) {
    if (argc < 2) return true;
    char full[256];
    snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
    for (int i = 1; i < argc; i++)
        if (strstr(full, argv[i]) != NULL) return true;
    return false;
}

int main(int argc, char **argv) {
    if (registry_full) {
        fprintf(stderr, "more than %d tests: raise TLW_MAX_TESTS\n", TLW_MAX_TESTS);
        return 2;
    }
    runner_thread = tl_thread_id_self();
    /* volatile: modified between setjmp and longjmp. */
    volatile unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < n_tests; i++) {
        const tlw_test_t *t = &tests[i];
        if (!selected(t, argc, argv)) continue;
        uint64_t t0 = tl_now_ms();
        if (setjmp(on_failure) == 0) {
            t->fn();
            passed++;
            printf("[PASS] %s::%s (%.2f s)\n", t->suite, t->name,
                   (double)(tl_now_ms() - t0) / 1000.0);
        } else {
            failed++;
            printf("[FAIL] %s::%s\n", t->suite, t->name);
        }
        fflush(stdout);
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
