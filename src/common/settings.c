#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devinfo.h"
#include "log.h"
#include "memsize.h"

long omps_env_range(const char *name, long lo, long hi, const char *unit, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	n = strtol(v, &end, 10);
	if (!*end && n >= lo && n <= hi)
		return n;
	omps_log("%s=%s: must be %ld to %ld%s; using %ld", name, v, lo, hi, unit, dflt);
	return dflt;
}

void omps_settings_unset(struct omps_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->priority = -1;
}

void omps_settings_defaults(struct omps_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->atp_milli = 100000;
}

int omps_atp_parse(const char *s, uint32_t *milli)
{
	char *end;
	double v;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0.0 || v > 100.0)
		return -1;
	v = round(v * 1000.0);
	if (v < 1.0)
		return -1;
	*milli = (uint32_t)v;
	return 0;
}

void omps_atp_format(uint32_t milli, char *buf, size_t len)
{
	if (milli % 100 == 0)
		snprintf(buf, len, "%u.%u", milli / 1000, milli % 1000 / 100);
	else if (milli % 10 == 0)
		snprintf(buf, len, "%u.%02u", milli / 1000, milli % 1000 / 10);
	else
		snprintf(buf, len, "%u.%03u", milli / 1000, milli % 1000);
}

int omps_priority_parse(const char *s, int32_t *prio)
{
	if ((s[0] == '0' || s[0] == '1') && s[1] == '\0') {
		*prio = s[0] - '0';
		return 0;
	}
	return -1;
}

int omps_devkey_valid(const char *dev)
{
	size_t n = strnlen(dev, OMPS_DEVKEY_MAX);
	size_t i;

	if (n == 0 || n >= OMPS_DEVKEY_MAX)
		return 0;
	if (isdigit((unsigned char)dev[0])) {
		char *end;
		long v = strtol(dev, &end, 10);

		return *end == '\0' && v >= 0 && v < OMPS_MAX_DEVICES && (dev[0] != '0' || n == 1);
	}
	if (strncmp(dev, "GPU-", 4) && strncmp(dev, "MIG-", 4))
		return 0;
	for (i = 4; i < n; i++)
		if (!isxdigit((unsigned char)dev[i]) && dev[i] != '-')
			return 0;
	return n > 4;
}

static struct omps_memlimit *find(struct omps_settings *s, const char *dev)
{
	uint32_t i;

	for (i = 0; i < s->nmem; i++)
		if (!strcmp(s->mem[i].dev, dev))
			return &s->mem[i];
	return NULL;
}

const struct omps_memlimit *omps_memlimit_get(const struct omps_settings *s, const char *dev)
{
	return find((struct omps_settings *)s, dev);
}

uint64_t omps_memlimit_for(const struct omps_settings *s, uint32_t index, const unsigned char uuid[16])
{
	char ordinal[16], text[64];
	uint32_t i;

	snprintf(ordinal, sizeof(ordinal), "%u", index);
	omps_uuid_format(uuid, text, sizeof(text));
	for (i = 0; i < s->nmem; i++)
		if (!strcmp(s->mem[i].dev, ordinal) || !strcasecmp(s->mem[i].dev, text))
			return s->mem[i].bytes;
	return 0;
}

int omps_memlimit_set(struct omps_settings *s, const char *dev, uint64_t bytes)
{
	struct omps_memlimit *m;

	if (!omps_devkey_valid(dev))
		return -1;
	m = find(s, dev);
	if (!bytes) {
		if (m)
			*m = s->mem[--s->nmem];
		return 0;
	}
	if (!m) {
		if (s->nmem == OMPS_MAX_MEMLIMITS)
			return -1;
		m = &s->mem[s->nmem++];
		snprintf(m->dev, sizeof(m->dev), "%s", dev);
	}
	m->bytes = bytes;
	return 0;
}

int omps_memlimit_parse_list(const char *list, struct omps_settings *s, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *item;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "memory limit list is too long");
		return -1;
	}
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		uint64_t bytes;

		if (!eq) {
			snprintf(err, errlen, "\"%s\" is not DEVICE=SIZE (e.g. 0=1G)", item);
			return -1;
		}
		*eq = '\0';
		if (!omps_devkey_valid(item)) {
			snprintf(err, errlen, "\"%s\" is not a device ordinal or GPU UUID", item);
			return -1;
		}
		if (omps_memsize_parse(eq + 1, &bytes) < 0) {
			snprintf(err, errlen, "\"%s\" is not a memory size like 512M or 2G", eq + 1);
			return -1;
		}
		if (omps_memlimit_set(s, item, bytes) < 0) {
			snprintf(err, errlen, "more than %d device limits", OMPS_MAX_MEMLIMITS);
			return -1;
		}
	}
	return 0;
}

void omps_memlimit_format_list(const struct omps_settings *s, char *buf, size_t len)
{
	size_t off = 0;
	uint32_t i;

	if (!s->nmem) {
		snprintf(buf, len, "-");
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < s->nmem && off < len; i++) {
		char size[32];
		int n;

		omps_memsize_format(s->mem[i].bytes, size, sizeof(size));
		n = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", s->mem[i].dev, size);
		if (n < 0)
			return;
		off += (size_t)n;
	}
}

void omps_settings_effective(const struct omps_settings *base, const struct omps_settings *req,
			     struct omps_settings *out)
{
	uint32_t i;

	*out = *base;
	if (req->atp_milli && req->atp_milli < out->atp_milli)
		out->atp_milli = req->atp_milli;
	if (req->priority > out->priority)
		out->priority = req->priority;
	for (i = 0; i < req->nmem; i++) {
		struct omps_memlimit *m = find(out, req->mem[i].dev);

		if (m && req->mem[i].bytes < m->bytes)
			m->bytes = req->mem[i].bytes;
		else if (!m)
			omps_memlimit_set(out, req->mem[i].dev, req->mem[i].bytes);
	}
}

int omps_settings_valid(const struct omps_settings *s)
{
	uint32_t i;

	if (s->atp_milli > 100000 || s->priority < -1 || s->priority > 1 || s->nmem > OMPS_MAX_MEMLIMITS)
		return 0;
	for (i = 0; i < s->nmem; i++)
		if (!omps_devkey_valid(s->mem[i].dev) || !s->mem[i].bytes)
			return 0;
	return 1;
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int omps_client_request_parse(const struct omps_client_info *ci, struct omps_settings *req, char *err,
			      size_t errlen)
{
	omps_settings_unset(req);
	if (!terminated(ci->comm, sizeof(ci->comm)) ||
	    !terminated(ci->active_thread_percentage, sizeof(ci->active_thread_percentage)) ||
	    !terminated(ci->pinned_mem_limit, sizeof(ci->pinned_mem_limit)) ||
	    !terminated(ci->priority, sizeof(ci->priority))) {
		snprintf(err, errlen, "malformed client information");
		return -1;
	}
	if (ci->active_thread_percentage[0] &&
	    omps_atp_parse(ci->active_thread_percentage, &req->atp_milli) < 0) {
		snprintf(err, errlen, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=%s: expected a number in (0, 100]",
			 ci->active_thread_percentage);
		return -1;
	}
	if (ci->priority[0] && omps_priority_parse(ci->priority, &req->priority) < 0) {
		snprintf(err, errlen, "CUDA_MPS_CLIENT_PRIORITY=%s: must be 0 or 1", ci->priority);
		return -1;
	}
	if (ci->pinned_mem_limit[0]) {
		char why[160];

		if (omps_memlimit_parse_list(ci->pinned_mem_limit, req, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=%s: %s", ci->pinned_mem_limit,
				 why);
			return -1;
		}
	}
	return 0;
}
