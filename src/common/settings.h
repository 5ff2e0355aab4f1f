/* Per-level limits (daemon default, one server, one client) and the rule
 * that combines them: a lower level may only tighten what is above it. */
#ifndef OPENMPS_SETTINGS_H
#define OPENMPS_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* A whole-number setting from the environment: NAME from LO to HI (UNIT),
 * else DFLT, with a log line when it is set but wrong. */
long omps_env_range(const char *name, long lo, long hi, const char *unit, long dflt);

void omps_settings_unset(struct omps_settings *s);    /* nothing set */
void omps_settings_defaults(struct omps_settings *s); /* 100.0 %, priority 0, no memory limit */

/* Active thread percentage: a number in (0, 100], kept to 1/1000. */
int omps_atp_parse(const char *s, uint32_t *milli);
void omps_atp_format(uint32_t milli, char *buf, size_t len); /* "100.0", "12.5" */

int omps_priority_parse(const char *s, int32_t *prio); /* "0" or "1" */

/* A device key is an ordinal below OMPS_MAX_DEVICES or a GPU UUID text. */
int omps_devkey_valid(const char *dev);

/* Sets dev's limit (0 removes it). -1 when the key is invalid or the table is full. */
int omps_memlimit_set(struct omps_settings *s, const char *dev, uint64_t bytes);
const struct omps_memlimit *omps_memlimit_get(const struct omps_settings *s, const char *dev);
/* The limit on the device at index (its ordinal) with uuid, set by either key; 0: none. */
uint64_t omps_memlimit_for(const struct omps_settings *s, uint32_t index, const unsigned char uuid[16]);

/* Parses "0=1G,1=512M" (CUDA_MPS_PINNED_DEVICE_MEM_LIMIT) into s. */
int omps_memlimit_parse_list(const char *list, struct omps_settings *s, char *err, size_t errlen);
void omps_memlimit_format_list(const struct omps_settings *s, char *buf, size_t len); /* "-" if none */

/* What a client gets: base, with every value req sets lowered to it where
 * that is stricter. A lower priority means the larger number. */
void omps_settings_effective(const struct omps_settings *base, const struct omps_settings *req,
			     struct omps_settings *out);

/* Checks a settings block received from another process. */
int omps_settings_valid(const struct omps_settings *s);

/* Parses a client's environment strings into req (unset where empty). */
int omps_client_request_parse(const struct omps_client_info *ci, struct omps_settings *req, char *err,
			      size_t errlen);

#endif
