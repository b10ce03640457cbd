/*
 * test_sync.c: the platform layer (tl_sync.h) on its own, so both of its
 * implementations (POSIX under Criterion, Win32 under Wine via make
 * test-windows) are held to the same behaviour: mutual exclusion across
 * threads, a timed wait that times out and one that is woken, monotonic
 * clocks that agree, a wall clock that agrees with C's time(), sleeps that
 * last at least as long as asked.
 */
#include <stdatomic.h>
#include <time.h>

#include <criterion/criterion.h>

#include "tl_sync.h"

typedef struct counter {
    tl_mutex_t mu;
    uint64_t n; /* guarded by mu; plain on purpose */
    tl_thread_id_t ids[4];
} counter_t;

typedef struct worker_arg {
    counter_t *c;
    int slot;
} worker_arg_t;

static void *count_up(void *p) {
    worker_arg_t *a = p;
    a->c->ids[a->slot] = tl_thread_id_self();
    for (int i = 0; i < 100000; i++) {
        tl_mutex_lock(&a->c->mu);
        a->c->n++;
        tl_mutex_unlock(&a->c->mu);
    }
    return NULL;
}

Test(sync, mutex_excludes_and_threads_join) {
    counter_t c = {.n = 0};
    cr_assert(tl_mutex_init(&c.mu));
    tl_thread_t th[4];
    worker_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg_t){&c, i};
        cr_assert(tl_thread_start(&th[i], count_up, &args[i]));
    }
    for (int i = 0; i < 4; i++) tl_thread_join(th[i]);
    cr_assert_eq(c.n, 400000u, "lost updates: %llu", (unsigned long long)c.n);
    /* Every worker was a thread of its own, none of them this one. */
    for (int i = 0; i < 4; i++) {
        cr_assert_not(tl_thread_id_equal(c.ids[i], tl_thread_id_self()));
        for (int j = 0; j < i; j++) cr_assert_not(tl_thread_id_equal(c.ids[i], c.ids[j]));
    }
    cr_assert(tl_thread_id_equal(tl_thread_id_self(), tl_thread_id_self()));
    tl_mutex_destroy(&c.mu);
}

Test(sync, timed_wait_times_out_without_a_signal) {
    tl_mutex_t mu;
    tl_cond_t cv;
    cr_assert(tl_mutex_init(&mu));
    cr_assert(tl_cond_init(&cv));
    tl_mutex_lock(&mu);
    uint64_t t0 = tl_now_ms();
    /* Spurious wake-ups are allowed: wait out the full 50 ms in a loop. */
    while (tl_now_ms() - t0 < 50) tl_cond_wait_ms(&cv, &mu, 50);
    uint64_t waited = tl_now_ms() - t0;
    tl_mutex_unlock(&mu);
    cr_assert_geq(waited, 50u);
    cr_assert_lt(waited, 5000u, "a 50 ms wait took %llu ms", (unsigned long long)waited);
    tl_cond_destroy(&cv);
    tl_mutex_destroy(&mu);
}

typedef struct flag {
    tl_mutex_t mu;
    tl_cond_t cv;
    bool set;
} flag_t;

static void *set_flag_later(void *p) {
    flag_t *f = p;
    tl_sleep_ms(20);
    tl_mutex_lock(&f->mu);
    f->set = true;
    tl_cond_broadcast(&f->cv);
    tl_mutex_unlock(&f->mu);
    return NULL;
}

Test(sync, broadcast_wakes_a_waiter_before_its_timeout) {
    flag_t f = {.set = false};
    cr_assert(tl_mutex_init(&f.mu));
    cr_assert(tl_cond_init(&f.cv));
    tl_thread_t th;
    uint64_t t0 = tl_now_ms();
    cr_assert(tl_thread_start(&th, set_flag_later, &f));
    tl_mutex_lock(&f.mu);
    /* A 60 s timeout: only the broadcast can end this loop in time. */
    while (!f.set && tl_now_ms() - t0 < 60000) tl_cond_wait_ms(&f.cv, &f.mu, 60000);
    bool set = f.set;
    tl_mutex_unlock(&f.mu);
    uint64_t waited = tl_now_ms() - t0;
    tl_thread_join(th);
    cr_assert(set);
    cr_assert_lt(waited, 30000u, "woken after %llu ms", (unsigned long long)waited);
    tl_cond_destroy(&f.cv);
    tl_mutex_destroy(&f.mu);
}

Test(sync, clocks_agree_and_sleep_lasts) {
    uint64_t ms0 = tl_now_ms(), ns0 = tl_now_ns();
    tl_sleep_ms(30);
    uint64_t ms1 = tl_now_ms(), ns1 = tl_now_ns();
    cr_assert_geq(ns1 - ns0, 29000000u, "slept %llu ns", (unsigned long long)(ns1 - ns0));
    /* tl_now_ms may tick at 10-16 ms on Windows: allow that much. */
    cr_assert_geq(ms1 - ms0 + 16, 30u);
    uint64_t ns_as_ms = (ns1 - ns0) / 1000000u;
    cr_assert_leq(ms1 - ms0, ns_as_ms + 20);
    cr_assert_leq(ns_as_ms, ms1 - ms0 + 20);
}

Test(sync, microsecond_sleep_lasts) {
    uint64_t t0 = tl_now_ns();
    tl_sleep_us(1500);
    uint64_t dt = tl_now_ns() - t0;
    cr_assert_geq(dt, 1400000u, "slept %llu ns", (unsigned long long)dt);
    cr_assert_lt(dt, 5000000000u);
}

Test(sync, wall_clock_agrees_with_time) {
    time_t before = time(NULL);
    int64_t sec = 0;
    int32_t nsec = -1;
    cr_assert(tl_wall_clock(&sec, &nsec));
    time_t after = time(NULL);
    cr_assert(nsec >= 0 && nsec < 1000000000, "nsec %ld", (long)nsec);
    /* time() truncates; allow one second either way for the boundary. */
    cr_assert_geq(sec, (int64_t)before - 1);
    cr_assert_leq(sec, (int64_t)after + 1);
    cr_assert_gt(sec, INT64_C(1600000000)); /* after 2020: the epoch is 1970, not 1601 */
}
