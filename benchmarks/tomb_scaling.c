/*
 * tomb_scaling.c: the tombstone set alone, without Python, against its size
 * (issue 20 item 3). Builds sets of 1k / 50k / 400k non-touching point
 * intervals (4*i, in order, as delete_scaling.py does), then times batches
 * of random point deletes at 4*r+2 (tl_tombs_replace on a set nobody else
 * holds, the log's common case) or random lookups (tl_tombs_seq_at). Each
 * batch adds its deletes to the set, so the smallest size grows during the
 * run. Prints the median and 10th percentile of the per-operation time.
 *
 * Build and run from the repository root:
 *   gcc -std=c17 -O2 -Icsrc benchmarks/tomb_scaling.c csrc/tl_tombstone.c \
 *       csrc/tl_alloc.c csrc/tl_error.c -o /tmp/tomb_scaling -pthread
 *   /tmp/tomb_scaling delete; /tmp/tomb_scaling lookup
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tl_tombstone.h"

enum { BATCHES = 41, BATCH = 1000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* xorshift64: fixed seed, so every run asks for the same positions. */
static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    bool lookup = argc > 1 && strcmp(argv[1], "lookup") == 0;
    const size_t sizes[] = {1000, 50000, 400000};
    uint64_t rng = 88172645463325252ULL;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        tl_mem_t m;
        tl_mem_init(&m, NULL);
        tl_tombs_t *t = NULL;
        tl_seq_t seq = 0;
        for (size_t i = 0; i < n; i++) {
            tl_tombs_t *o;
            if (tl_tombs_replace(&m, t, 4 * (tl_ts_t)i, 4 * (tl_ts_t)i, ++seq, &o) != TL_OK)
                return 1;
            t = o;
        }
        double per[BATCHES];
        tl_seq_t sink = 0; /* printed (as nothing), so lookups are not optimized away */
        for (int b = 0; b < BATCHES; b++) {
            tl_ts_t q[BATCH];
            for (int k = 0; k < BATCH; k++)
                q[k] = 4 * (tl_ts_t)(next_rand(&rng) % n) + (lookup ? 0 : 2);
            double t0 = now();
            for (int k = 0; k < BATCH; k++) {
                if (lookup) {
                    sink += tl_tombs_seq_at(t, q[k]);
                } else {
                    tl_tombs_t *o;
                    if (tl_tombs_replace(&m, t, q[k], q[k], ++seq, &o) != TL_OK) return 1;
                    t = o;
                }
            }
            per[b] = (now() - t0) / BATCH * 1e9;
        }
        qsort(per, BATCHES, sizeof per[0], cmp_double);
        printf("%s %7zu intervals: median %.1f ns, p10 %.1f ns%s\n", lookup ? "lookup" : "delete",
               n, per[BATCHES / 2], per[BATCHES / 10], sink == 1 ? " " : "");
        tl_tombs_release(&m, t);
    }
    return 0;
}
