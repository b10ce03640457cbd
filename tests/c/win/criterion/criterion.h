/*
 * tests/c/win/criterion/criterion.h: the subset of Criterion's API the C
 * tests use (Test with .timeout, the cr_assert family, cr_log_info), for
 * builds where Criterion does not exist: the mingw-w64 cross-build run under
 * Wine (make test-windows). It shadows the real header through -Itests/c/win;
 * runner.c holds the registry and main().
 *
 * Differences from Criterion, on purpose: tests run one after another in
 * one process (Criterion forks a worker per test), so a failed assertion in
 * the runner's thread longjmps back to the runner, which counts the failure
 * and goes on; a failed assertion in any other thread (a stress worker)
 * cannot unwind its stack and ends the process with exit status 1 after
 * printing the assertion. .timeout is recorded but not enforced: the make
 * target bounds the whole run instead.
 */
#ifndef TLW_MINI_CRITERION_H
#define TLW_MINI_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

struct tlw_test_opts {
    int unused_; /* lets an initialiser start with "0," when a Test has no options */
    double timeout;
};

void tlw_register(const char *suite, const char *name, void (*fn)(void),
                  const struct tlw_test_opts *opts);
/* Reports a failed assertion (printf-style message, may be empty); does not return. */
_Noreturn void tlw_fail(const char *file, int line, const char *expr, const char *fmt, ...);
void tlw_log(const char *fmt, ...);

/* Registration runs before main() through a constructor (GCC and clang,
 * including mingw-w64), in the order the tests appear in each file. */
#define Test(suite, name, ...)                                                              \
    static void tlw_test_##suite##_##name(void);                                            \
    static const struct tlw_test_opts tlw_opts_##suite##_##name = {0, __VA_ARGS__};         \
    __attribute__((constructor)) static void tlw_reg_##suite##_##name(void) {               \
        tlw_register(#suite, #name, tlw_test_##suite##_##name, &tlw_opts_##suite##_##name); \
    }                                                                                       \
    static void tlw_test_##suite##_##name(void)

/* The message arguments are optional, as in Criterion: "" glues onto a
 * format string, or stands alone when there is none. */
#define TLW_CHECK_(ok, expr, ...)                                      \
    do {                                                               \
        if (!(ok)) tlw_fail(__FILE__, __LINE__, expr, "" __VA_ARGS__); \
    } while (0)

#define cr_assert(cond, ...) TLW_CHECK_((cond), #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) TLW_CHECK_(!(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) TLW_CHECK_((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) TLW_CHECK_((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) TLW_CHECK_((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) TLW_CHECK_((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) TLW_CHECK_((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) TLW_CHECK_((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                                  \
    TLW_CHECK_(fabs((double)(a) - (double)(b)) <= (eps), #a " == " #b " (within " #eps ")", \
               __VA_ARGS__)
#define cr_assert_null(p, ...) TLW_CHECK_((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) TLW_CHECK_((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_arr_eq(a, b, size, ...) \
    TLW_CHECK_(memcmp((a), (b), (size)) == 0, #a " == " #b " (" #size " bytes)", __VA_ARGS__)
#define cr_assert_fail(...) tlw_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_log_info(...) tlw_log(__VA_ARGS__)

#endif /* TLW_MINI_CRITERION_H */
