/*
 * tl_manifest.h: the immutable set of live immutable sources: memruns
 * awaiting flush, L0 segments and L1 segments.
 *
 * A manifest is never modified: every change (seal, flush, compaction) builds
 * a new one and the log publishes it with a pointer swap under its publish
 * lock. Snapshots pin the manifest they saw; a manifest and each source in it
 * are reference counted, so old versions are freed when their last pin goes.
 */
#ifndef TL_MANIFEST_H
#define TL_MANIFEST_H

#include "tl_memrun.h"
#include "tl_segment.h"

typedef struct tl_manifest {
    tl_refcnt_t refs;
    size_t n_mr, n_l0, n_l1;
    tl_memrun_t **mr;  /* oldest first */
    tl_segment_t **l0; /* oldest first; may overlap */
    tl_segment_t **l1; /* sorted by min; prev->max < next->min */
} tl_manifest_t;

/* A new manifest holding (and retaining) the given sources. Arrays may be
 * NULL when their count is 0. l1 must already be sorted. */
TL_NODISCARD tl_status_t tl_manifest_create(tl_mem_t *m, tl_memrun_t *const *mr, size_t n_mr,
                                            tl_segment_t *const *l0, size_t n_l0,
                                            tl_segment_t *const *l1, size_t n_l1,
                                            tl_manifest_t **out);
/* A change to a manifest. Removals are by identity; additions are appended
 * (memruns and L0 keep their age order). With replace_l1 the L1 list becomes
 * l1 (sorted). Sources named for removal that are absent are ignored. */
typedef struct tl_manifest_edit {
    tl_memrun_t *add_mr;
    tl_memrun_t *const *drop_mr;
    size_t n_drop_mr;
    tl_segment_t *const *add_l0;
    size_t n_add_l0;
    tl_segment_t *const *drop_l0;
    size_t n_drop_l0;
    bool replace_l1;
    tl_segment_t *const *l1;
    size_t n_l1;
} tl_manifest_edit_t;

/* The manifest cur with edit applied (cur is not modified). */
TL_NODISCARD tl_status_t tl_manifest_derive(tl_mem_t *m, const tl_manifest_t *cur,
                                            const tl_manifest_edit_t *edit, tl_manifest_t **out);

void tl_manifest_retain(tl_manifest_t *man);
void tl_manifest_release(tl_mem_t *m, tl_manifest_t *man); /* accepts NULL */
size_t tl_manifest_own_bytes(const tl_manifest_t *man);

/* Index of the first L1 segment with max >= ts (n_l1 if none). */
size_t tl_manifest_l1_seek(const tl_manifest_t *man, tl_ts_t ts);

/* Sorting, fences, L1 order and windows of every source. */
bool tl_manifest_validate(const tl_manifest_t *man, const char **why);

/* Calls fn on every handle the manifest's sources hold: memruns, L0, L1. */
void tl_manifest_for_each_handle(const tl_manifest_t *man, void (*fn)(void *ctx, tl_handle_t h),
                                 void *ctx);

#endif /* TL_MANIFEST_H */
