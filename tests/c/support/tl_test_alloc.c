/*
 * tl_test_alloc.c: the counting, fault-injecting, gating test allocator (see
 * tl_test_alloc.h for the contract).
 *
 * Threads: the hooks run on whatever thread the engine allocates from (the
 * writer, readers pinning snapshots, the maintenance worker), so every
 * counter is under a->mu (the gate's, atomics); a hook never asserts, it
 * records the first error. A thread waiting at the gate holds only mu, which
 * tl_cond_wait_ms releases while it waits.
 */
#include "tl_test_alloc.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- allocator */

#define TLT_MAGIC_LIVE 0x7E57A110C0FFEE01ull
#define TLT_MAGIC_DEAD 0xDDDDDDDDDDDDDDDDull
#define TLT_FRONT_GUARD 0xF1F2F3F4F5F6F7F8ull
#define TLT_TRAIL_BYTE 0xAB
#define TLT_TRAIL_LEN 16
#define TLT_FRESH_BYTE 0xBE
#define TLT_POISON_BYTE 0xDD

typedef struct tlt_hdr {
    struct tlt_hdr *prev, *next;
    size_t size;     /* requested size: free/realloc must pass the same */
    uint64_t serial; /* allocation number, for leak reports */
    uint64_t magic;
    uint64_t front_guard;
} tlt_hdr_t;

/* The user block must keep malloc's alignment, so the header is padded to
 * a multiple of max_align_t. */
#define TLT_HDR_LEN \
    ((sizeof(tlt_hdr_t) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

static tlt_hdr_t *hdr_of(void *p) {
    return (tlt_hdr_t *)(void *)((unsigned char *)p - TLT_HDR_LEN);
}

static void *user_of(tlt_hdr_t *h) { return (unsigned char *)h + TLT_HDR_LEN; }

/* Caller holds a->mu. Records the first error message. */
static void record_error(tlt_alloc_t *a, const char *what, size_t x, size_t y) {
    if (a->errors++ == 0)
        snprintf(a->first_error, sizeof a->first_error, "%s (%zu vs %zu)", what, x, y);
}

void tlt_alloc_init(tlt_alloc_t *a) {
    memset(a, 0, sizeof *a);
    (void)tl_mutex_init(&a->mu);
    (void)tl_cond_init(&a->gate_cv);
    a->owner = tl_thread_id_self();
    atomic_init(&a->foreign, 0);
    atomic_init(&a->block_at, 0);
    atomic_init(&a->gate_open, true);
}

void tlt_alloc_init_plain(tlt_alloc_t *a) {
    tlt_alloc_init(a);
    a->plain = true;
}

void tlt_alloc_fini(tlt_alloc_t *a) {
    tl_cond_destroy(&a->gate_cv);
    tl_mutex_destroy(&a->mu);
}

tl_allocator_t tlt_alloc_table(tlt_alloc_t *a) {
    tl_allocator_t t;
    t.ctx = a;
    t.malloc_fn = tlt_malloc;
    t.realloc_fn = tlt_realloc;
    t.free_fn = tlt_free;
    return t;
}

void tlt_alloc_arm(tlt_alloc_t *a, uint64_t fail_at, uint64_t fail_every, uint64_t fail_after) {
    tl_mutex_lock(&a->mu);
    a->armed_calls = 0;
    a->fail_at = fail_at;
    a->fail_every = fail_every;
    a->fail_after = fail_after;
    tl_mutex_unlock(&a->mu);
}

void tlt_alloc_disarm(tlt_alloc_t *a) { tlt_alloc_arm(a, 0, 0, 0); }

void tlt_alloc_suspend(tlt_alloc_t *a) {
    tl_mutex_lock(&a->mu);
    a->suspended++;
    tl_mutex_unlock(&a->mu);
}

void tlt_alloc_resume(tlt_alloc_t *a) {
    tl_mutex_lock(&a->mu);
    a->suspended--;
    tl_mutex_unlock(&a->mu);
}

#define TLT_GETTER(name, field)     \
    uint64_t name(tlt_alloc_t *a) { \
        tl_mutex_lock(&a->mu);      \
        uint64_t v = a->field;      \
        tl_mutex_unlock(&a->mu);    \
        return v;                   \
    }
TLT_GETTER(tlt_alloc_live_bytes, live_bytes)
TLT_GETTER(tlt_alloc_live_blocks, live_blocks)
TLT_GETTER(tlt_alloc_injected, injected)
TLT_GETTER(tlt_alloc_armed_calls, armed_calls)
TLT_GETTER(tlt_alloc_errors, errors)
#undef TLT_GETTER

/* Caller holds a->mu. Counts a failable call; true if it must fail. */
static bool should_fail(tlt_alloc_t *a) {
    a->alloc_calls++;
    if (a->suspended > 0) return false;
    uint64_t k = ++a->armed_calls;
    bool fail = (a->fail_at != 0 && k == a->fail_at) ||
                (a->fail_every != 0 && k % a->fail_every == 0) ||
                (a->fail_after != 0 && k > a->fail_after);
    if (fail) a->injected++;
    return fail;
}

/* Allocates a tracked block; no counting or injection here. */
static void *raw_alloc(tlt_alloc_t *a, size_t n) {
    if (n > SIZE_MAX - TLT_HDR_LEN - TLT_TRAIL_LEN) return NULL;
    unsigned char *base = malloc(TLT_HDR_LEN + n + TLT_TRAIL_LEN);
    if (base == NULL) return NULL;
    tlt_hdr_t *h = (tlt_hdr_t *)(void *)base;
    h->size = n;
    h->magic = TLT_MAGIC_LIVE;
    h->front_guard = TLT_FRONT_GUARD;
    memset(base + TLT_HDR_LEN, TLT_FRESH_BYTE, n);
    memset(base + TLT_HDR_LEN + n, TLT_TRAIL_BYTE, TLT_TRAIL_LEN);
    tl_mutex_lock(&a->mu);
    h->serial = a->calls;
    h->prev = NULL;
    h->next = a->head;
    if (h->next != NULL) h->next->prev = h;
    a->head = h;
    a->live_bytes += n;
    a->live_blocks++;
    if (a->live_bytes > a->peak_bytes) a->peak_bytes = a->live_bytes;
    tl_mutex_unlock(&a->mu);
    return base + TLT_HDR_LEN;
}

/* Checks and releases a tracked block; n is the size the caller claims. */
static void raw_free(tlt_alloc_t *a, void *p, size_t n, const char *who) {
    tlt_hdr_t *h = hdr_of(p);
    tl_mutex_lock(&a->mu);
    if (h->magic != TLT_MAGIC_LIVE) {
        /* Not ours, or already freed (ASan usually reports the latter first):
         * leave the memory alone rather than corrupt the heap further. */
        record_error(a,
                     who[0] == 'r' ? "realloc of a pointer not live in this allocator"
                                   : "free of a pointer not live in this allocator",
                     (size_t)h->magic, 0);
        tl_mutex_unlock(&a->mu);
        return;
    }
    if (h->size != n)
        record_error(a,
                     who[0] == 'r' ? "realloc old_n differs from the allocated size"
                                   : "free size differs from the allocated size",
                     n, h->size);
    if (h->front_guard != TLT_FRONT_GUARD)
        record_error(a, "front guard overwritten (buffer underrun)", h->size, 0);
    const unsigned char *trail = (const unsigned char *)user_of(h) + h->size;
    for (size_t i = 0; i < TLT_TRAIL_LEN; i++) {
        if (trail[i] != TLT_TRAIL_BYTE) {
            record_error(a, "trailing guard overwritten (buffer overrun) at size, offset", h->size,
                         i);
            break;
        }
    }
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        a->head = h->next;
    if (h->next != NULL) h->next->prev = h->prev;
    a->live_bytes -= h->size;
    a->live_blocks--;
    a->frees++;
    size_t total = TLT_HDR_LEN + h->size + TLT_TRAIL_LEN;
    tl_mutex_unlock(&a->mu);
    memset(h, TLT_POISON_BYTE, total);
    free(h);
}

/* ---------------------------------------------------------------- the gate */

/* Every malloc/realloc passes here first. The owner's calls return at once
 * without the lock, so in plain mode the writer thread never synchronises
 * through this allocator. */
static void gate_point(tlt_alloc_t *a) {
    if (tl_thread_id_equal(tl_thread_id_self(), a->owner)) return;
    /* Relaxed: the count is only read for reports, and arming happens while
     * the worker is not allocating (before it starts or between units). */
    uint64_t k = atomic_fetch_add_explicit(&a->foreign, 1, memory_order_relaxed) + 1;
    uint64_t at = atomic_load_explicit(&a->block_at, memory_order_relaxed);
    if (at == 0 || k < at || atomic_load_explicit(&a->gate_open, memory_order_acquire)) return;
    tl_mutex_lock(&a->mu);
    a->gate_blocked = true;
    tl_cond_broadcast(&a->gate_cv);
    while (!atomic_load_explicit(&a->gate_open, memory_order_acquire))
        tl_cond_wait_ms(&a->gate_cv, &a->mu, 100);
    tl_mutex_unlock(&a->mu);
}

void tlt_alloc_gate_reset(tlt_alloc_t *a) {
    tl_mutex_lock(&a->mu);
    a->owner = tl_thread_id_self();
    atomic_store_explicit(&a->foreign, 0, memory_order_relaxed);
    atomic_store_explicit(&a->block_at, 0, memory_order_relaxed);
    atomic_store_explicit(&a->gate_open, true, memory_order_release);
    a->gate_blocked = false;
    tl_cond_broadcast(&a->gate_cv);
    tl_mutex_unlock(&a->mu);
}

void tlt_alloc_gate_arm(tlt_alloc_t *a, uint64_t block_at) {
    tl_mutex_lock(&a->mu);
    atomic_store_explicit(&a->foreign, 0, memory_order_relaxed);
    atomic_store_explicit(&a->gate_open, block_at == 0, memory_order_release);
    atomic_store_explicit(&a->block_at, block_at, memory_order_relaxed);
    a->gate_blocked = false;
    tl_mutex_unlock(&a->mu);
}

/* The release store pairs with the acquire load in gate_point: a released
 * thread sees everything the opener did before opening. */
void tlt_alloc_gate_open(tlt_alloc_t *a) {
    tl_mutex_lock(&a->mu);
    atomic_store_explicit(&a->gate_open, true, memory_order_release);
    atomic_store_explicit(&a->block_at, 0, memory_order_relaxed);
    tl_cond_broadcast(&a->gate_cv);
    tl_mutex_unlock(&a->mu);
}

uint64_t tlt_alloc_gate_foreign(tlt_alloc_t *a) {
    return atomic_load_explicit(&a->foreign, memory_order_relaxed);
}

bool tlt_alloc_gate_wait_blocked(tlt_alloc_t *a, unsigned timeout_ms) {
    uint64_t end = tl_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        tl_mutex_lock(&a->mu);
        bool b = a->gate_blocked;
        tl_mutex_unlock(&a->mu);
        if (b) return true;
        if (tl_now_ns() > end) return false;
        tl_sleep_ms(1);
    }
}

/* ---------------------------------------------------------------- hooks */

void *tlt_malloc(void *ctx, size_t n) {
    tlt_alloc_t *a = ctx;
    gate_point(a);
    if (a->plain) return malloc(n);
    tl_mutex_lock(&a->mu);
    a->calls++;
    bool fail = should_fail(a);
    tl_mutex_unlock(&a->mu);
    if (fail) return NULL;
    return raw_alloc(a, n);
}

void *tlt_realloc(void *ctx, void *p, size_t old_n, size_t new_n) {
    tlt_alloc_t *a = ctx;
    gate_point(a);
    if (a->plain) return realloc(p, new_n);
    tl_mutex_lock(&a->mu);
    a->calls++;
    bool fail = false;
    if (p == NULL || new_n > old_n) fail = should_fail(a);
    if (p == NULL && old_n != 0)
        record_error(a, "realloc of NULL with a nonzero old size", old_n, 0);
    tl_mutex_unlock(&a->mu);
    if (fail) return NULL;
    /* Always move the block, so a caller keeping the old pointer reads
     * poison (and ASan reports it). */
    void *q = raw_alloc(a, new_n);
    if (q == NULL) return NULL;
    if (p != NULL) {
        size_t keep = old_n < new_n ? old_n : new_n;
        tlt_hdr_t *h = hdr_of(p);
        if (h->magic == TLT_MAGIC_LIVE && h->size < keep) keep = h->size;
        memcpy(q, p, keep);
        raw_free(a, p, old_n, "realloc");
    }
    return q;
}

void tlt_free(void *ctx, void *p, size_t n) {
    tlt_alloc_t *a = ctx;
    if (a->plain) {
        free(p);
        return;
    }
    tl_mutex_lock(&a->mu);
    a->calls++;
    tl_mutex_unlock(&a->mu);
    if (p == NULL) return;
    raw_free(a, p, n, "free");
}

/* ---------------------------------------------------------------- reports */

void tlt_alloc_first_error(tlt_alloc_t *a, char *buf, size_t len) {
    if (len == 0) return;
    tl_mutex_lock(&a->mu);
    snprintf(buf, len, "%s", a->first_error);
    tl_mutex_unlock(&a->mu);
}

uint64_t tlt_alloc_leak_report(tlt_alloc_t *a, char *buf, size_t len) {
    tl_mutex_lock(&a->mu);
    uint64_t bytes = a->live_bytes;
    size_t off = 0;
    if (len > 0) buf[0] = '\0';
    int shown = 0;
    for (tlt_hdr_t *h = a->head; h != NULL && shown < 6 && len > 0; h = h->next, shown++) {
        int w = snprintf(buf + off, len - off, " [#%llu: %zu B]", (unsigned long long)h->serial,
                         h->size);
        if (w < 0 || off + (size_t)w >= len) break;
        off += (size_t)w;
    }
    tl_mutex_unlock(&a->mu);
    return bytes;
}
