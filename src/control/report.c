/* The daemon's servers and their clients as data (ps --json): what ps
 * prints, and what the servers count for each client (server/stats.c), in
 * one JSON document for scripts, openmps status --json and openmps top.
 * Sizes are bytes, shares percentages; jansson writes the JSON.
 *   {"servers": [{"pid", "user", "state", "late", "active_thread_percentage",
 *     "devices": [{"index", "uuid", "name", "sms", "memory_total"}],
 *     "clients": [{"pid", "id", "user", "command", "namespace", "priority",
 *       "active_thread_percentage", "sms", "memory": [{"index", "used", "limit"}],
 *       "calls", "kernels", "graph_launches", "copies", "copy_bytes"}]}]} */
#include <jansson.h>
#include <string.h>

#include "control.h"
#include "devinfo.h"
#include "settings.h"

/* Text from a client (its command name) may be anything: JSON gets it as
 * UTF-8, or with each byte outside printable ASCII as '?'. */
static json_t *text(const char *s, size_t max)
{
	size_t n = strnlen(s, max), i;
	char clean[256];
	json_t *j = json_stringn(s, n);

	if (j)
		return j;
	if (n >= sizeof(clean))
		n = sizeof(clean) - 1;
	for (i = 0; i < n; i++)
		clean[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	return json_stringn(clean, n);
}

static double percent(uint32_t milli)
{
	return (double)milli / 1000.0;
}

static json_t *devices(const struct ctl_server *s)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; a && i < s->devices.ndevices; i++) {
		const struct omps_device *dev = &s->devices.dev[i];
		char uuid[64];

		omps_uuid_format(dev->uuid, uuid, sizeof(uuid));
		json_array_append_new(a, json_pack("{s:i, s:s, s:o, s:i, s:I}", "index", dev->ordinal, "uuid", uuid,
						   "name", text(dev->name, sizeof(dev->name)), "sms",
						   dev->sm_count, "memory_total", (json_int_t)dev->total_mem));
	}
	return a;
}

static json_t *client(const struct ctl_server *s, const struct ctl_conn *c)
{
	json_t *mem = json_array();
	uint32_t i;

	for (i = 0; mem && i < s->devices.ndevices; i++) {
		uint64_t limit = omps_memlimit_for(&c->effective, i, s->devices.dev[i].uuid);

		json_array_append_new(mem, json_pack("{s:i, s:I, s:o}", "index", (int)i, "used",
						     (json_int_t)c->usage.used[i], "limit",
						     limit ? json_integer((json_int_t)limit) : json_null()));
	}
	return json_pack("{s:i, s:i, s:i, s:o, s:I, s:i, s:f, s:o, s:o, s:I, s:I, s:I, s:I, s:I}", "pid", (int)c->pid,
			 "id", (int)c->id, "user", (int)c->uid, "command", text(c->comm, sizeof(c->comm)),
			 "namespace", (json_int_t)c->pidns, "priority", (int)c->effective.priority,
			 "active_thread_percentage", percent(c->effective.atp_milli), "sms",
			 c->usage.sms ? json_integer(c->usage.sms) : json_null(), "memory", mem, "calls",
			 (json_int_t)c->stats.calls, "kernels", (json_int_t)c->stats.kernels, "graph_launches",
			 (json_int_t)c->stats.graphs, "copies", (json_int_t)c->stats.copies, "copy_bytes",
			 (json_int_t)c->stats.copy_bytes);
}

static json_t *server(struct ctl_daemon *d, const struct ctl_server *s)
{
	json_t *clients = json_array();
	const struct ctl_conn *c;
	char late[400];

	for (c = d->conns; clients && c; c = c->next)
		if (c->role == CONN_CLIENT && c->server == s)
			json_array_append_new(clients, client(s, c));
	return json_pack("{s:i, s:i, s:s, s:o, s:f, s:o, s:o}", "pid", (int)s->pid, "user", (int)s->uid, "state",
			 ctl_server_state_name(s->state), "late",
			 ctl_watch_describe(s, late, sizeof(late)) ? json_string(late) : json_null(),
			 "active_thread_percentage", percent(s->settings.atp_milli), "devices", devices(s), "clients",
			 clients);
}

int ctl_report_json(struct ctl_daemon *d, struct ctl_server *only, FILE *out)
{
	json_t *servers = json_array(), *doc;
	struct ctl_server *s;
	int rc;

	for (s = d->servers; servers && s; s = s->next)
		if (!only || s == only)
			json_array_append_new(servers, server(d, s));
	doc = json_pack("{s:o}", "servers", servers);
	if (!doc)
		return -1;
	rc = json_dumpf(doc, out, JSON_COMPACT);
	fputc('\n', out);
	json_decref(doc);
	return rc;
}
