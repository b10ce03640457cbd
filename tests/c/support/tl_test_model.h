/*
 * tl_test_model.h: the one C reference model, shared by every C test
 * program: the Criterion suites (test_util.h compares engine reads with it),
 * the concurrency scenarios (stress_core.c: the writer's model and each
 * reader's replay), the fuzzer and the valgrind workload.
 *
 * The model is the visible records sorted by (ts, h). A delete removes the
 * records it covers at once, which is exactly the sequenced-tombstone rule:
 * a tombstone hides every record written before it (smaller sequence), and
 * every record in the model was written before any later delete, while
 * records written after it carry larger sequences and are never hidden by
 * it. Keeping only the visible set makes every query a binary search.
 *
 * Test-side memory (libc), never the engine's allocator. No Criterion, no
 * global state: running out of memory prints a message and abort()s (the
 * machine's problem, not a finding).
 */
#ifndef TLT_TEST_MODEL_H
#define TLT_TEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timelog.h"

typedef struct tlt_rec {
    tl_ts_t ts;
    tl_handle_t h;
} tlt_rec_t;

typedef struct tlt_model {
    tlt_rec_t *r;
    size_t n, cap;
} tlt_model_t;

/* Orders records by (ts, h), for qsort. */
int tlt_rec_cmp(const void *a, const void *b);

void tlt_model_init(tlt_model_t *m);
void tlt_model_free(tlt_model_t *m);
void tlt_model_copy(tlt_model_t *dst, const tlt_model_t *src); /* dst uninitialised */
void tlt_model_add(tlt_model_t *m, tl_ts_t ts, tl_handle_t h);
void tlt_model_add_batch(tlt_model_t *m, const tl_ts_t *ts, const tl_handle_t *h, size_t n);
/* Adds k records; sorts b in place. */
void tlt_model_add_recs(tlt_model_t *m, tlt_rec_t *b, size_t k);
/* Removes every record with lo <= ts <= hi (inclusive, so INT64_MAX is
 * reachable); calls cb (may be NULL) with each removed handle. Returns the
 * number removed. */
size_t tlt_model_delete_incl(tlt_model_t *m, tl_ts_t lo, tl_ts_t hi,
                             void (*cb)(void *ctx, tl_handle_t h), void *ctx);
size_t tlt_model_lower(const tlt_model_t *m, tl_ts_t ts); /* first index with r.ts >= ts */
size_t tlt_model_upper(const tlt_model_t *m, tl_ts_t ts); /* first index with r.ts > ts */
uint64_t tlt_model_count(const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2); /* [t1, t2) */
/* Visible neighbours; false when none. */
bool tlt_model_next(const tlt_model_t *m, tl_ts_t ts, tl_ts_t *out); /* smallest > ts */
bool tlt_model_prev(const tlt_model_t *m, tl_ts_t ts, tl_ts_t *out); /* largest < ts */
/* The half-open index range of [t1, t2) (empty when t1 >= t2). */
void tlt_model_slice(const tlt_model_t *m, tl_ts_t t1, tl_ts_t t2, size_t *i0, size_t *i1);

#endif /* TLT_TEST_MODEL_H */
