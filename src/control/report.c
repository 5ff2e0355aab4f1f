/* The daemon's servers and their clients as data (ps --json): what ps
 * prints, and what the servers count for each client (server/stats.c), in
 * one JSON document for scripts, openmps status --json and openmps top.
 * Sizes are bytes, shares percentages; jansson writes the JSON.
 *   {"servers": [{"pid", "user", "state", "late", "active_thread_percentage",
 *     "devices": [{"index", "uuid", "name", "sms", "memory_total"}],
 *     "clients": [{"pid", "devices" (the indices of the GPUs it sees), "id", "user",
 *       "command", "namespace" (of its pids),
 *       "kubernetes" ({"pod", "namespace", "container"} as it says, or null), "priority",
 *       "active_thread_percentage", "sms", "memory": [{"index", "used", "limit"}],
 *       "calls", "kernels", "graph_launches", "copies", "copy_bytes",
 *       "queued_seconds" (time with work queued on the GPU, from an asynchronous
 *       call to its next good synchronize), "faulted" (it caused a GPU fault:
 *       every call of its fails)}]}]} */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
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

/* Where it runs in Kubernetes, as it says; null outside a pod. */
static json_t *pod(const struct ctl_conn *c)
{
	if (!c->pod[0] && !c->pod_namespace[0] && !c->container[0])
		return json_null();
	return json_pack("{s:o, s:o, s:o}", "pod", text(c->pod, sizeof(c->pod)), "namespace",
			 text(c->pod_namespace, sizeof(c->pod_namespace)), "container",
			 text(c->container, sizeof(c->container)));
}

static json_t *client(const struct ctl_server *s, const struct ctl_conn *c)
{
	json_t *mem = json_array(), *seen = json_array();
	uint32_t i;

	for (i = 0; seen && i < s->devices.ndevices; i++)
		if (c->sees >> i & 1)
			json_array_append_new(seen, json_integer((json_int_t)i));
	for (i = 0; mem && i < s->devices.ndevices; i++) {
		uint64_t limit = omps_memlimit_for(&c->effective, i, s->devices.dev[i].uuid);

		json_array_append_new(mem, json_pack("{s:i, s:I, s:o}", "index", (int)i, "used",
						     (json_int_t)c->usage.used[i], "limit",
						     limit ? json_integer((json_int_t)limit) : json_null()));
	}
	return json_pack("{s:i, s:o, s:i, s:i, s:o, s:I, s:o, s:i, s:f, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b}",
			 "pid", (int)c->pid, "devices", seen,
			 "id", (int)c->id, "user", (int)c->uid, "command", text(c->comm, sizeof(c->comm)),
			 "namespace", (json_int_t)c->pidns, "kubernetes", pod(c), "priority", (int)c->effective.priority,
			 "active_thread_percentage", percent(c->effective.atp_milli), "sms",
			 c->usage.sms ? json_integer(c->usage.sms) : json_null(), "memory", mem, "calls",
			 (json_int_t)c->stats.calls, "kernels", (json_int_t)c->stats.kernels, "graph_launches",
			 (json_int_t)c->stats.graphs, "copies", (json_int_t)c->stats.copies, "copy_bytes",
			 (json_int_t)c->stats.copy_bytes, "synchronizes", (json_int_t)c->stats.syncs,
			 "synchronizes_signalled", (json_int_t)c->stats.syncs_signalled, "queued_seconds", (double)c->stats.queued_us / 1e6, "faulted",
			 !!(c->stats.flags & OMPS_CLIENT_FAULTED));
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

/* A PCI address as nvidia-smi writes it, domain:bus:device.function. */
static void pci_text(char *out, size_t len, unsigned dom, unsigned bus, unsigned dev, unsigned fn)
{
	snprintf(out, len, "%04x:%02x:%02x.%x", dom & 0xffff, bus & 0xff, dev & 0xff, fn & 0xf);
}

static json_t *device(const struct omps_device *dev)
{
	char uuid[64], pci[32];

	omps_uuid_format(dev->uuid, uuid, sizeof(uuid));
	pci_text(pci, sizeof(pci), (unsigned)dev->pci_domain, (unsigned)dev->pci_bus, (unsigned)dev->pci_device,
		 (unsigned)dev->pci_function);
	return json_pack("{s:i, s:s, s:s, s:o, s:i, s:I}", "ordinal", dev->ordinal, "pci", pci, "uuid", uuid, "name",
			 text(dev->name, sizeof(dev->name)), "sms", dev->sm_count, "memory_total",
			 (json_int_t)dev->total_mem);
}

static int dump(json_t *doc, FILE *out)
{
	int rc;

	if (!doc)
		return -1;
	rc = json_dumpf(doc, out, JSON_COMPACT);
	fputc('\n', out);
	json_decref(doc);
	return rc;
}

/* One row of the helper's CSV, "ORDINAL,PCI,UUID,NAME,ATTRIBUTES" (a name
 * may hold commas: it is what lies between the third and the last). */
static json_t *csv_row(char *line)
{
	char *a = strchr(line, ','), *b = a ? strchr(a + 1, ',') : NULL, *c = b ? strchr(b + 1, ',') : NULL;
	char *last = strrchr(line, ',');

	unsigned dom, bus, dev, fn;
	char pci[32];

	if (!c || last <= c)
		return NULL;
	*a = *b = *c = *last = '\0';
	if (sscanf(a + 1, "%x:%x.%x.%x", &dom, &bus, &dev, &fn) != 4) /* the table's 0000:10.00.00 */
		return NULL;
	pci_text(pci, sizeof(pci), dom, bus, dev, fn);
	return json_pack("{s:i, s:s, s:s, s:o, s:s}", "ordinal", atoi(line), "pci", pci, "uuid", b + 1, "name",
			 text(c + 1, 256), "attributes", last + 1);
}

int ctl_report_devices_json(struct ctl_daemon *d, const char *csv, FILE *out)
{
	json_t *def = json_array(), *servers = json_array(), *row;
	char *copy = strdup(csv), *line, *save = NULL;
	struct ctl_server *s;
	uint32_t i;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		if (isdigit((unsigned char)line[0]) && (row = csv_row(line)))
			json_array_append_new(def, row);
	free(copy);
	for (s = d->servers; servers && s; s = s->next) {
		json_t *devs = json_array();

		if (s->state == CTL_SERVER_INITIALIZING)
			continue;
		for (i = 0; devs && i < s->devices.ndevices; i++)
			json_array_append_new(devs, device(&s->devices.dev[i]));
		json_array_append_new(servers, json_pack("{s:i, s:o}", "pid", (int)s->pid, "devices", devs));
	}
	return dump(json_pack("{s:o, s:o}", "default", def, "servers", servers), out);
}

int ctl_report_device_clients_json(struct ctl_daemon *d, struct ctl_server *only, FILE *out)
{
	json_t *servers = json_array();
	const struct ctl_conn *c;
	struct ctl_server *s;
	uint32_t i;

	for (s = d->servers; servers && s; s = s->next) {
		json_t *devs = json_array();

		if (only && s != only)
			continue;
		for (i = 0; devs && i < s->devices.ndevices; i++) {
			json_t *dev = device(&s->devices.dev[i]), *pids = json_array();

			for (c = d->conns; pids && c; c = c->next)
				if (c->role == CONN_CLIENT && c->server == s && c->sees >> i & 1)
					json_array_append_new(pids, json_integer(c->pid));
			json_object_set_new(dev, "clients", pids);
			json_array_append_new(devs, dev);
		}
		json_array_append_new(servers, json_pack("{s:i, s:o}", "pid", (int)s->pid, "devices", devs));
	}
	return dump(json_pack("{s:o}", "servers", servers), out);
}

int ctl_report_json(struct ctl_daemon *d, struct ctl_server *only, FILE *out)
{
	json_t *servers = json_array();
	struct ctl_server *s;

	for (s = d->servers; servers && s; s = s->next)
		if (!only || s == only)
			json_array_append_new(servers, server(d, s));
	return dump(json_pack("{s:o}", "servers", servers), out);
}

/* Prometheus's text format: a label value escaped, and printable ASCII only
 * (a client's name may be any bytes; the format wants UTF-8). */
static void label(FILE *f, const char *name, const char *value, size_t max, int first)
{
	size_t i;

	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (i = 0; i < max && value[i]; i++) {
		unsigned char ch = (unsigned char)value[i];

		if (ch == '\\' || ch == '"')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else
			fputc(ch >= 0x20 && ch < 0x7f ? ch : '?', f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The program a client runs: its command line's first word, without its directory. */
static void program(const struct ctl_conn *c, char *out, size_t len)
{
	size_t n = strcspn(c->comm, " ");
	const char *start = c->comm, *slash;

	for (slash = c->comm; slash < c->comm + n; slash++)
		if (*slash == '/')
			start = slash + 1;
	snprintf(out, len, "%.*s", (int)(c->comm + n - start), start);
}

static void gpu_labels(FILE *f, const struct ctl_server *s, uint32_t i, int first)
{
	char n[16], uuid[64];

	snprintf(n, sizeof(n), "%u", i);
	omps_uuid_format(s->devices.dev[i].uuid, uuid, sizeof(uuid));
	label(f, "gpu", n, sizeof(n), first);
	label(f, "uuid", uuid, sizeof(uuid), 0);
	label(f, "model_name", s->devices.dev[i].name, sizeof(s->devices.dev[i].name), 0);
}

static void client_labels(FILE *f, const struct ctl_server *s, const struct ctl_conn *c)
{
	char n[32], prog[OMPS_COMM_MAX];

	snprintf(n, sizeof(n), "%d", (int)s->pid);
	label(f, "server", n, sizeof(n), 1);
	snprintf(n, sizeof(n), "%d", (int)c->pid);
	label(f, "pid", n, sizeof(n), 0);
	snprintf(n, sizeof(n), "%u", c->id);
	label(f, "client_id", n, sizeof(n), 0);
	snprintf(n, sizeof(n), "%u", (unsigned)c->uid);
	label(f, "user", n, sizeof(n), 0);
	program(c, prog, sizeof(prog));
	label(f, "command", prog, sizeof(prog), 0);
	/* DCGM-exporter's names for where it runs in Kubernetes; "" outside */
	label(f, "pod", c->pod, sizeof(c->pod), 0);
	label(f, "namespace", c->pod_namespace, sizeof(c->pod_namespace), 0);
	label(f, "container", c->container, sizeof(c->container), 0);
}

#define EACH_CLIENT(d, s, c)                                \
	for (s = (d)->servers; s; s = s->next)              \
		for (c = (d)->conns; c; c = c->next)        \
			if (c->role == CONN_CLIENT && c->server == s)

/* One family of per-client samples: value, an expression of c, in fmt. */
#define CLIENT_FAMILY(name, type, help, fmt, value)     \
	do {                                            \
		family(f, name, type, help);            \
		EACH_CLIENT(d, s, c)                    \
		{                                       \
			fprintf(f, name "{");           \
			client_labels(f, s, c);         \
			fprintf(f, "} " fmt "\n", value); \
		}                                       \
	} while (0)
#define U64(x) (unsigned long long)(x)

static void gpu_metrics(struct ctl_daemon *d, FILE *f)
{
	const struct ctl_server *s;
	uint32_t i;

	family(f, "openmps_gpu_memory_total_bytes", "gauge", "Device memory of each GPU a server drives.");
	for (s = d->servers; s; s = s->next)
		for (i = 0; i < s->devices.ndevices; i++) {
			fprintf(f, "openmps_gpu_memory_total_bytes{");
			gpu_labels(f, s, i, 1);
			fprintf(f, "} %llu\n", (unsigned long long)s->devices.dev[i].total_mem);
		}
	family(f, "openmps_gpu_sms", "gauge", "Streaming multiprocessors of each GPU a server drives.");
	for (s = d->servers; s; s = s->next)
		for (i = 0; i < s->devices.ndevices; i++) {
			fprintf(f, "openmps_gpu_sms{");
			gpu_labels(f, s, i, 1);
			fprintf(f, "} %d\n", s->devices.dev[i].sm_count);
		}
}

/* The memory a client holds, and its limit where it has one, per GPU. */
static void memory_metrics(struct ctl_daemon *d, FILE *f)
{
	const struct ctl_server *s;
	const struct ctl_conn *c;
	uint32_t i;
	uint64_t limit;

	family(f, "openmps_client_memory_used_bytes", "gauge", "Device memory a client holds, per GPU.");
	EACH_CLIENT(d, s, c)
	for (i = 0; i < s->devices.ndevices; i++) {
		fprintf(f, "openmps_client_memory_used_bytes{");
		client_labels(f, s, c);
		gpu_labels(f, s, i, 0);
		fprintf(f, "} %llu\n", (unsigned long long)c->usage.used[i]);
	}
	family(f, "openmps_client_memory_limit_bytes", "gauge",
	       "A client's device memory limit, per GPU; absent where it has none.");
	EACH_CLIENT(d, s, c)
	for (i = 0; i < s->devices.ndevices; i++) {
		if (!(limit = omps_memlimit_for(&c->effective, i, s->devices.dev[i].uuid)))
			continue;
		fprintf(f, "openmps_client_memory_limit_bytes{");
		client_labels(f, s, c);
		gpu_labels(f, s, i, 0);
		fprintf(f, "} %llu\n", (unsigned long long)limit);
	}
}

int ctl_report_metrics(struct ctl_daemon *d, FILE *f)
{
	const struct ctl_server *s;
	const struct ctl_conn *c;
	unsigned servers = 0, clients = 0;
	char pid[16];

	for (s = d->servers; s; s = s->next)
		servers++;
	EACH_CLIENT(d, s, c)
	clients++;
	family(f, "openmps_build_info", "gauge", "openmps's version and protocol.");
	fprintf(f, "openmps_build_info{version=\"%s\",protocol=\"%d\"} 1\n", OPENMPS_VERSION, OMPS_PROTOCOL_VERSION);
	family(f, "openmps_servers", "gauge", "Servers running.");
	fprintf(f, "openmps_servers %u\n", servers);
	family(f, "openmps_clients", "gauge", "Clients admitted to a server.");
	fprintf(f, "openmps_clients %u\n", clients);
	family(f, "openmps_server_info", "gauge", "Each server, its user and state.");
	for (s = d->servers; s; s = s->next) {
		snprintf(pid, sizeof(pid), "%d", (int)s->pid);
		fprintf(f, "openmps_server_info{");
		label(f, "server", pid, sizeof(pid), 1);
		fprintf(f, ",user=\"%u\",state=\"%s\"} 1\n", (unsigned)s->uid, ctl_server_state_name(s->state));
	}
	gpu_metrics(d, f);
	memory_metrics(d, f);
	CLIENT_FAMILY("openmps_client_active_thread_percentage", "gauge",
		      "A client's share of each GPU's SMs, percent (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE).",
		      "%.3f", c->effective.atp_milli / 1000.0);
	CLIENT_FAMILY("openmps_client_sms", "gauge", "SMs a client's kernels may run on (its first GPU); 0 until known.",
		      "%llu", U64(c->usage.sms));
	CLIENT_FAMILY("openmps_client_priority", "gauge", "A client's priority: 0 normal, 1 below normal.",
		      "%llu", U64(c->effective.priority));
	CLIENT_FAMILY("openmps_client_calls_total", "counter", "Driver calls a client made of its server.",
		      "%llu", U64(c->stats.calls));
	CLIENT_FAMILY("openmps_client_kernel_launches_total", "counter", "Kernels a client launched.",
		      "%llu", U64(c->stats.kernels));
	CLIENT_FAMILY("openmps_client_graph_launches_total", "counter", "CUDA graphs a client launched.",
		      "%llu", U64(c->stats.graphs));
	CLIENT_FAMILY("openmps_client_copies_total", "counter", "Memory copies a client asked for.",
		      "%llu", U64(c->stats.copies));
	CLIENT_FAMILY("openmps_client_copy_bytes_total", "counter", "Bytes a client's copies moved.",
		      "%llu", U64(c->stats.copy_bytes));
	CLIENT_FAMILY("openmps_client_synchronizes_total", "counter",
		      "Synchronizes of a client's context, streams or events.", "%llu", U64(c->stats.syncs));
	CLIENT_FAMILY("openmps_client_synchronizes_signalled_total", "counter",
		      "A client's synchronizes that the GPU signalled, without a wait in the server.", "%llu",
		      U64(c->stats.syncs_signalled));
	CLIENT_FAMILY("openmps_client_gpu_queued_seconds_total", "counter",
		      "Time a client had work queued on the GPU: from an asynchronous call to its next good synchronize.",
		      "%.6f", (double)c->stats.queued_us / 1e6);
	return ferror(f) ? -1 : 0;
}
