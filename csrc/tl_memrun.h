/*
 * tl_memrun.h: a sealed memtable: an immutable sorted record block waiting to
 * be flushed into an L0 segment.
 *
 * Sealing already applied every delete up to the seal, so a memrun stores only
 * timestamps and handles (16 bytes a record) plus its watermark: the sequence
 * of the seal. A later delete (sequence > watermark) hides its records.
 */
#ifndef TL_MEMRUN_H
#define TL_MEMRUN_H

#include "tl_page.h"

typedef struct tl_memrun {
    tl_refcnt_t refs;
    tl_recs_t *recs; /* sorted, n >= 1 */
    tl_seq_t wm;     /* deletes with a higher sequence still apply */
    tl_ts_t min, max;
} tl_memrun_t;

/* Takes over the caller's reference to recs (sorted, non-empty). On failure
 * the caller keeps it. */
TL_NODISCARD tl_status_t tl_memrun_create(tl_mem_t *m, tl_recs_t *recs, tl_seq_t wm,
                                          tl_memrun_t **out);
void tl_memrun_retain(tl_memrun_t *mr);
void tl_memrun_release(tl_mem_t *m, tl_memrun_t *mr); /* accepts NULL */
size_t tl_memrun_bytes(const tl_memrun_t *mr);        /* struct + block */
bool tl_memrun_validate(const tl_memrun_t *mr, const char **why);

/* Records in the run (inline: read on survey and stats paths). */
static inline size_t tl_memrun_len(const tl_memrun_t *mr) { return mr->recs->n; }

#endif /* TL_MEMRUN_H */
