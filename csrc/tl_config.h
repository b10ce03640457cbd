/*
 * tl_config.h: configuration defaults and checking. tl_config_init and
 * tl_config_check are public (timelog.h); tl_config__resolve fills every
 * 0 ("engine default") field of a checked config with the value the engine
 * runs with, so no other component knows a default.
 *
 * Depends on tl_adaptive (its parameters are part of the config) and
 * tl_error; nothing here touches an instance.
 */
#ifndef TL_CONFIG_H
#define TL_CONFIG_H

#include "tl_internal.h"

/* Bytes one record costs in the memtable (timestamp, handle, sequence) and
 * in immutable data (timestamp, handle): the unit of every size option. */
#define TL_MT_RECORD_BYTES (sizeof(tl_ts_t) + sizeof(tl_handle_t) + sizeof(tl_seq_t))
#define TL_SEG_RECORD_BYTES (sizeof(tl_ts_t) + sizeof(tl_handle_t))

/* Replaces every 0 field that means "engine default" with that default. The
 * config must have passed tl_config_check. Documented in
 * docs/configuration.md. */
void tl_config__resolve(tl_config_t *cfg);

#endif /* TL_CONFIG_H */
