/*
 * tl_retire.h: handles the engine no longer stores, waiting to be released.
 *
 * A record dropped by a seal or compaction may still be visible to a snapshot
 * taken before the drop was published, so its handle cannot be released at
 * once. Each entry carries the epoch of the publish that dropped it; it may
 * be released once every live snapshot was taken at that epoch or later
 * (and the current epoch has reached it). The bound is re-read under the
 * publish lock before every pop: see the invariant above
 * tl_state_drain_retired in tl_state.c.
 * Releasing is the caller's business (tl_drain_retired hands handles to
 * on_drop from a thread that may run payload code, e.g. one holding the GIL).
 *
 * Threads: the queue has its own mutex (pushed by the writer or a maintenance
 * thread, drained by whoever calls tl_drain_retired).
 */
#ifndef TL_RETIRE_H
#define TL_RETIRE_H

#include "tl_alloc.h"
#include "tl_sync.h"

typedef struct tl_retire_entry {
    tl_handle_t h;
    uint64_t epoch;
} tl_retire_entry_t;

typedef struct tl_retire {
    tl_mutex_t mu;
    tl_retire_entry_t *v; /* entries [head, len) are live, oldest first */
    size_t head, len, cap;
    size_t reserved;     /* slots promised to reservers, not yet pushed */
    atomic_size_t count; /* len - head, readable without the lock */
} tl_retire_t;

TL_NODISCARD tl_status_t tl_retire_init(tl_retire_t *r);
void tl_retire_destroy(tl_retire_t *r, tl_mem_t *m);

/* Makes room for `extra` more entries so a later tl_retire_push_list cannot
 * fail: call it before publishing the change that drops them. */
TL_NODISCARD tl_status_t tl_retire_reserve(tl_retire_t *r, tl_mem_t *m, size_t extra);
/* Appends reserved entries, all with the same epoch, and consumes the
 * reservation made for them (pass the same count as reserved). */
void tl_retire_push_list(tl_retire_t *r, const tl_hlist_t *l, uint64_t epoch);
/* Gives back a reservation that will not be pushed (the change failed). */
void tl_retire_unreserve(tl_retire_t *r, size_t n);
/* Frees the buffer of an empty queue with no outstanding reservation, so a
 * burst of drops does not keep its peak size allocated. */
void tl_retire_trim(tl_retire_t *r, tl_mem_t *m);

/* Pops up to max entries whose epoch <= safe_epoch into out. */
size_t tl_retire_pop(tl_retire_t *r, uint64_t safe_epoch, tl_handle_t *out, size_t max);

/* Teardown: calls fn for every entry, then empties the queue. */
void tl_retire_drain_all(tl_retire_t *r, void (*fn)(void *ctx, tl_handle_t h), void *ctx);

/* Calls visit for every queued handle, under the queue's lock, stopping at
 * (and returning) the first non-zero result; 0 when all were visited. For a
 * cycle collector: visit must not touch the queue. */
int tl_retire_visit(tl_retire_t *r, tl_visit_fn visit, void *ctx);

/* fork(): prepare takes the queue's lock so no thread holds it across the
 * fork, parent releases it, child re-initialises it (the threads that could
 * have held it do not exist there). */
void tl_retire_fork_prepare(tl_retire_t *r);
void tl_retire_fork_parent(tl_retire_t *r);
void tl_retire_fork_child(tl_retire_t *r);

size_t tl_retire_len(const tl_retire_t *r);
size_t tl_retire_bytes(const tl_retire_t *r);

#endif /* TL_RETIRE_H */
