/*
 * tl_config.c: configuration defaults and checking (see tl_config.h). Pure
 * functions of the config struct: no instance, no lock, no allocation.
 */
#include <math.h>

#include "tl_adaptive.h"
#include "tl_config.h"

void tl_config_init(tl_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->time_unit = TL_UNIT_MS;
    cfg->maintenance = TL_MAINT_BACKGROUND;
}

tl_status_t tl_config_check(const tl_config_t *cfg, const char **why) {
    const char *dummy;
    if (why == NULL) why = &dummy;
    *why = NULL;
    if (cfg == NULL) {
        *why = "config: NULL";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->size < sizeof(tl_config_t)) {
        *why = "size: config struct smaller than this engine's (call tl_config_init)";
        return TL_ERR(TL_EINVAL);
    }
    if ((unsigned)cfg->time_unit > TL_UNIT_NS) {
        *why = "time_unit: must be s, ms, us or ns";
        return TL_ERR(TL_EINVAL);
    }
    if ((unsigned)cfg->maintenance > TL_MAINT_BACKGROUND) {
        *why = "maintenance: must be disabled or background";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->memtable_max_bytes != 0 && cfg->memtable_max_bytes < 16 * TL_MT_RECORD_BYTES) {
        *why = "memtable_max_bytes: must be 0 (default) or at least 384";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->target_page_bytes != 0 && cfg->target_page_bytes < TL_SEG_RECORD_BYTES) {
        *why = "target_page_bytes: must be 0 (default) or at least 16";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->ooo_budget_bytes != 0 && cfg->ooo_budget_bytes < TL_MT_RECORD_BYTES) {
        *why = "ooo_budget_bytes: must be 0 (default) or at least 24";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->compaction_target_bytes != 0 && cfg->compaction_target_bytes < TL_SEG_RECORD_BYTES) {
        *why = "compaction_target_bytes: must be 0 (default) or at least 16";
        return TL_ERR(TL_EINVAL);
    }
    if (cfg->window_size < 0) {
        *why = "window_size: must be 0 (default) or positive";
        return TL_ERR(TL_EINVAL);
    }
    if (isnan(cfg->delete_debt_threshold) || cfg->delete_debt_threshold < 0.0 ||
        cfg->delete_debt_threshold > 1.0) {
        *why = "delete_debt_threshold: must be within [0, 1]";
        return TL_ERR(TL_EINVAL);
    }
    const char *bad = tl_adaptive_config_why(&cfg->adaptive);
    if (bad != NULL) {
        *why = bad;
        return TL_ERR(TL_EINVAL);
    }
    bool some = cfg->alloc.malloc_fn || cfg->alloc.free_fn || cfg->alloc.realloc_fn;
    if (some && (cfg->alloc.malloc_fn == NULL || cfg->alloc.free_fn == NULL)) {
        *why = "alloc: malloc_fn and free_fn must both be set (or all hooks NULL)";
        return TL_ERR(TL_EINVAL);
    }
    return TL_OK;
}

static tl_ts_t units_per_second(tl_time_unit_t u) {
    static const tl_ts_t k[] = {1, 1000, 1000000, 1000000000};
    return k[u];
}

void tl_config__resolve(tl_config_t *c) {
    if (c->memtable_max_bytes == 0) c->memtable_max_bytes = 4u << 20;
    if (c->target_page_bytes == 0) c->target_page_bytes = 64u << 10;
    if (c->sealed_max_runs == 0) c->sealed_max_runs = 4;
    if (c->ooo_budget_bytes == 0) c->ooo_budget_bytes = 1u << 20;
    if (c->maintenance_wakeup_ms == 0) c->maintenance_wakeup_ms = 10;
    if (c->max_delta_segments == 0) c->max_delta_segments = 8;
    if (c->window_size == 0) c->window_size = 3600 * units_per_second(c->time_unit);
    if (c->compaction_target_bytes == 0) c->compaction_target_bytes = (size_t)64 << 20;
    /* Half: immutable sources then hold at most about twice the records
     * still visible, and each rewrite copies at most one surviving record
     * per record it reclaims (amortised O(1) per delete). 1.0 leaves only
     * the free whole-source drops. */
    if (c->delete_debt_threshold == 0.0) c->delete_debt_threshold = 0.5;
}
