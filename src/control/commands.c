/* The control command language: nvidia-cuda-mps-control's words, argument
 * syntax and output formats, with one difference by design: a command that
 * fails prints one clear line, changes nothing, and is marked failed so that
 * the front end exits non-zero. docs/control.md is the reference. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "devinfo.h"
#include "memsize.h"
#include "settings.h"

#define MAX_ARGS 8

struct command {
	const char *name;
	void (*run)(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r);
	int max_args; /* after the name */
	int privileged;
	const char *usage;
	const char *help;
};

void ctl_fail(struct ctl_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
	r->failed = 1;
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v <= 0 || v > 0x3fffffff)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/* The server named by argv[i], or NULL after printing why. */
static struct ctl_server *server_arg(struct ctl_daemon *d, int argc, char **argv, int i, struct ctl_reply *r)
{
	struct ctl_server *s;
	pid_t pid;

	if (i >= argc || parse_pid(argv[i], &pid) < 0) {
		ctl_fail(r, "A server PID is required");
		return NULL;
	}
	s = ctl_server_find(d, pid);
	if (!s)
		ctl_fail(r, "Server %d not found", (int)pid);
	return s;
}

/* A server's new limits apply to its running clients too: the server
 * recomputes each one's from the same rule, for their next calls. */
static void push_settings(struct ctl_daemon *d, struct ctl_server *s)
{
	struct ctl_conn *c;

	for (c = d->conns; c; c = c->next)
		if (c->role == CONN_CLIENT && c->server == s)
			omps_settings_effective(&s->settings, &c->asked, &c->effective);
	ctl_server_send(s, OMPS_MSG_SERVER_SETTINGS, &s->settings, sizeof(s->settings), -1);
}

static void cmd_start_server(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
			     struct ctl_reply *r)
{
	pid_t uid;

	if (argc != 3 || strcmp(argv[1], "-uid") || (strcmp(argv[2], "0") && parse_pid(argv[2], &uid) < 0)) {
		ctl_fail(r, "A user id (UID) is required to start a new server");
		return;
	}
	uid = (pid_t)strtol(argv[2], NULL, 10);
	if (d->multiuser)
		uid = (pid_t)d->uid;
	if ((uid_t)uid != d->uid && d->uid != 0) {
		ctl_fail(r, "Cannot start a server for user %d: the daemon runs as user %u, not root", (int)uid,
			 (unsigned)d->uid);
		return;
	}
	d->start_uid = (uid_t)uid;
	d->start_pending = 1;
	ctl_schedule(d);
	/* Started now: the answer waits until it is ready, or says why it
	 * failed (exit status 1). One that waits for another user's server
	 * to drain is answered at once, as before. */
	if (d->servers && d->servers->uid == (uid_t)uid && d->servers->state == CTL_SERVER_INITIALIZING) {
		c->wait_start = d->servers->pid;
		r->deferred = 1;
	}
}

static void cmd_quit(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	pid_t t = -1;

	(void)c;
	if (argc > 1 && (strcmp(argv[1], "-t") || argc != 3 || (strcmp(argv[2], "0") && parse_pid(argv[2], &t) < 0))) {
		ctl_fail(r, "Usage: quit [-t <seconds>]");
		return;
	}
	if (argc == 3)
		t = (pid_t)strtol(argv[2], NULL, 10);
	ctl_begin_quit(d, (int)t);
}

static void cmd_get_server_list(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				struct ctl_reply *r)
{
	struct ctl_server *s;

	(void)c, (void)argc, (void)argv;
	for (s = d->servers; s; s = s->next)
		fprintf(r->out, "%d\n", (int)s->pid);
}

static void cmd_get_server_status(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				  struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);

	char late[400];

	(void)c;
	if (s && ctl_watch_describe(s, late, sizeof(late)))
		fprintf(r->out, "%s, %s\n", ctl_server_state_name(s->state), late);
	else if (s)
		fprintf(r->out, "%s\n", ctl_server_state_name(s->state));
}

static void cmd_get_client_list(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);
	pid_t *pids;
	size_t n = 0;

	if (!s)
		return;
	pids = calloc(s->nclients ? s->nclients : 1, sizeof(*pids));
	if (!pids) {
		ctl_fail(r, "Out of memory");
		return;
	}
	for (c = d->conns; c && n < s->nclients; c = c->next)
		if (c->role == CONN_CLIENT && c->server == s)
			pids[n++] = c->pid;
	while (n) /* newest first, as NVIDIA lists them */
		fprintf(r->out, "%d\n", (int)pids[--n]);
	free(pids);
}

static void device_clients(struct ctl_daemon *d, struct ctl_server *s, struct ctl_reply *r)
{
	struct ctl_conn *c;
	uint32_t i;

	for (i = 0; i < s->devices.ndevices; i++) {
		const struct omps_device *dev = &s->devices.dev[i];

		fprintf(r->out, "[%d] %02x:%02x.%x, %.*s\n", dev->ordinal, (unsigned)dev->pci_bus & 0xff,
			(unsigned)dev->pci_device & 0xff, (unsigned)dev->pci_function & 0xf,
			(int)strnlen(dev->name, sizeof(dev->name)), dev->name);
		for (c = d->conns; c; c = c->next)
			if (c->role == CONN_CLIENT && c->server == s && c->sees >> i & 1)
				fprintf(r->out, "%d.1\n", (int)c->pid);
	}
}

static void cmd_get_device_client_list(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				       struct ctl_reply *r)
{
	struct ctl_server *s = NULL;
	int json = argc > 1 && !strcmp(argv[argc - 1], "--json");

	(void)c;
	if (argc > 1 + json && !(s = server_arg(d, argc - json, argv, 1, r)))
		return;
	if (json) {
		r->unlogged = 1;
		if (ctl_report_device_clients_json(d, s, r->out) < 0)
			ctl_fail(r, "Out of memory");
		return;
	}
	if (s) {
		device_clients(d, s, r);
		return;
	}
	for (s = d->servers; s; s = s->next)
		device_clients(d, s, r);
}

/* "0=12.5M,1=2.0M": the device memory a client holds, by ordinal; "-": none. */
static void format_usage(const struct omps_client_usage *u, char *buf, size_t len)
{
	size_t off = 0;
	int i, n;

	snprintf(buf, len, "-");
	for (i = 0; i < OMPS_MAX_DEVICES && off < len; i++) {
		if (!u->used[i])
			continue;
		n = snprintf(buf + off, len - off, "%s%d=%.1fM", off ? "," : "", i,
			     (double)u->used[i] / (1 << 20));
		if (n < 0)
			return;
		off += (size_t)n;
	}
}

static void ps_server(struct ctl_daemon *d, struct ctl_server *s, struct ctl_reply *r)
{
	struct ctl_conn *c;

	for (c = d->conns; c; c = c->next) {
		char atp[16], mem[256], sms[16] = "-", used[256], dev[32] = "-";

		if (c->role != CONN_CLIENT || c->server != s)
			continue;
		if (c->first_dev >= 0 && (uint32_t)c->first_dev < s->devices.ndevices) /* its device 0 */
			omps_uuid_format_short(s->devices.dev[c->first_dev].uuid, dev, sizeof(dev));
		omps_atp_format(c->effective.atp_milli, atp, sizeof(atp));
		omps_memlimit_format_list(&c->effective, mem, sizeof(mem));
		if (c->usage.sms)
			snprintf(sms, sizeof(sms), "%u", c->usage.sms);
		format_usage(&c->usage, used, sizeof(used));
		fprintf(r->out, "%-10d%-10u%-15d%-26s%-15lu%-11s%-10d%-16s %-6s%-16s %s%s\n", (int)c->pid, c->id,
			(int)s->pid, dev, c->pidns, atp, c->effective.priority, mem, sms, used, c->comm,
			c->stats.flags & OMPS_CLIENT_FAULTED ? " [faulted: its calls fail]" : "");
	}
}

static void cmd_ps(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	struct ctl_server *s = NULL;
	int i, json = 0;

	(void)c;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "-p") && !s) {
			if (!(s = server_arg(d, argc, argv, ++i, r)))
				return;
		} else {
			ctl_fail(r, "Usage: ps [-p PID] [--json]");
			return;
		}
	}
	if (json) {
		if (ctl_report_json(d, s, r->out) < 0)
			ctl_fail(r, "Out of memory");
		return;
	}
	if (!s && !d->servers) {
		fprintf(r->out, "Server not found\n");
		return;
	}
	fprintf(r->out, "%-10s%-10s%-15s%-26s%-15s%-11s%-10s%-16s %-6s%-16s %s\n", "PID", "ID", "SERVER",
		"DEVICE", "NAMESPACE", "ACTIVE%", "PRIORITY", "MEMLIMIT", "SMS", "MEMUSED", "COMMAND");
	if (s) {
		ps_server(d, s, r);
		return;
	}
	for (s = d->servers; s; s = s->next)
		ps_server(d, s, r);
}

static int atp_arg(const char *s, uint32_t *milli, struct ctl_reply *r)
{
	if (!s || omps_atp_parse(s, milli) < 0) {
		ctl_fail(r, "Invalid percentage, expected between (0.0, 100.0]");
		return -1;
	}
	return 0;
}

static void print_atp(struct ctl_reply *r, uint32_t milli)
{
	char buf[16];

	omps_atp_format(milli, buf, sizeof(buf));
	fprintf(r->out, "%s\n", buf);
}

static void cmd_set_default_atp(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				struct ctl_reply *r)
{
	(void)c;
	if (atp_arg(argc > 1 ? argv[1] : NULL, &d->defaults.atp_milli, r) == 0)
		print_atp(r, d->defaults.atp_milli);
}

static void cmd_get_default_atp(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				struct ctl_reply *r)
{
	(void)c, (void)argc, (void)argv;
	print_atp(r, d->defaults.atp_milli);
}

static void cmd_set_atp(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);
	uint32_t milli;

	(void)c;
	if (!s || atp_arg(argc > 2 ? argv[2] : NULL, &milli, r) < 0)
		return;
	s->settings.atp_milli = milli;
	push_settings(d, s);
	print_atp(r, milli);
}

static void cmd_get_atp(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);

	(void)c;
	if (s)
		print_atp(r, s->settings.atp_milli);
}

/* Validates DEV VALUE at argv[i], argv[i + 1]. */
static int memlimit_args(int argc, char **argv, int i, uint64_t *bytes, struct ctl_reply *r)
{
	if (argc != i + 2) {
		ctl_fail(r, "Invalid command format: expected <dev> <value>, e.g. 0 2G");
		return -1;
	}
	if (!omps_devkey_valid(argv[i])) {
		ctl_fail(r, "Invalid device \"%s\": expected an ordinal below %d or a GPU UUID", argv[i],
			 OMPS_MAX_DEVICES);
		return -1;
	}
	if (omps_memsize_parse(argv[i + 1], bytes) < 0) {
		ctl_fail(r, "Invalid memory limit \"%s\": expected an integer with a unit, e.g. 512M or 2G",
			 argv[i + 1]);
		return -1;
	}
	return 0;
}

static void set_memlimit(struct omps_settings *s, const char *dev, uint64_t bytes, struct ctl_reply *r)
{
	if (omps_memlimit_set(s, dev, bytes) < 0)
		ctl_fail(r, "Too many device memory limits (at most %d)", OMPS_MAX_MEMLIMITS);
}

static void print_memlimit(const struct omps_settings *s, int argc, char **argv, int i, struct ctl_reply *r)
{
	const struct omps_memlimit *m;
	char buf[32];

	if (argc != i + 1 || !omps_devkey_valid(argv[i])) {
		ctl_fail(r, "Invalid command format: expected a device ordinal or GPU UUID");
		return;
	}
	m = omps_memlimit_get(s, argv[i]);
	if (!m)
		return; /* no limit set: nothing printed, as NVIDIA does */
	omps_memsize_format(m->bytes, buf, sizeof(buf));
	fprintf(r->out, "%s\n", buf);
}

static void cmd_set_default_memlimit(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				     struct ctl_reply *r)
{
	uint64_t bytes;

	(void)c;
	if (memlimit_args(argc, argv, 1, &bytes, r) == 0)
		set_memlimit(&d->defaults, argv[1], bytes, r);
}

static void cmd_get_default_memlimit(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				     struct ctl_reply *r)
{
	(void)c;
	print_memlimit(&d->defaults, argc, argv, 1, r);
}

static void cmd_set_memlimit(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
			     struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);
	uint64_t bytes;

	(void)c;
	if (!s || memlimit_args(argc, argv, 2, &bytes, r) < 0)
		return;
	set_memlimit(&s->settings, argv[2], bytes, r);
	if (!r->failed)
		push_settings(d, s);
}

static void cmd_get_memlimit(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
			     struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);

	(void)c;
	if (s)
		print_memlimit(&s->settings, argc, argv, 2, r);
}

static void cmd_set_default_priority(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				     struct ctl_reply *r)
{
	(void)c;
	if (argc != 2 || omps_priority_parse(argv[1], &d->defaults.priority) < 0)
		ctl_fail(r, "Invalid priority value - must be 0 or 1!");
}

static void cmd_get_default_priority(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				     struct ctl_reply *r)
{
	(void)c, (void)argc, (void)argv;
	fprintf(r->out, "%d\n", d->defaults.priority);
}

static void cmd_shutdown_server(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				struct ctl_reply *r)
{
	struct ctl_server *s;

	(void)c;
	if (argc == 3 && strcmp(argv[2], "-f")) {
		ctl_fail(r, "Usage: shutdown_server <PID> [-f]");
		return;
	}
	s = server_arg(d, argc, argv, 1, r);
	if (s)
		ctl_server_shutdown(d, s, argc == 3);
}

static void cmd_terminate_client(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
				 struct ctl_reply *r)
{
	struct ctl_server *s = server_arg(d, argc, argv, 1, r);
	struct omps_terminate m;
	struct ctl_conn *k;
	pid_t pid;

	if (!s) {
		fprintf(r->out, "1\n");
		return;
	}
	if (argc != 3 || parse_pid(argv[2], &pid) < 0) {
		ctl_fail(r, "A client PID is required\n1");
		return;
	}
	for (k = d->conns; k; k = k->next)
		if (k->role == CONN_CLIENT && k->server == s && k->pid == pid)
			break;
	if (!k) {
		ctl_fail(r, "Invalid process %d!\n1", (int)pid);
		return;
	}
	m = (struct omps_terminate){.seq = ++s->next_seq, .pid = pid};
	if (ctl_server_send(s, OMPS_MSG_SERVER_TERMINATE, &m, sizeof(m), -1) < 0) {
		ctl_fail(r, "Cannot reach server %d\n1", (int)s->pid);
		return;
	}
	c->wait_seq = m.seq;
	r->deferred = 1;
}

/* The most device_query helpers that users other than root and the
 * daemon's may have running at once. */
#define QUERIES_OF_OTHERS 4

static int jobs(const struct ctl_daemon *d)
{
	const struct ctl_job *j;
	int n = 0;

	for (j = d->jobs; j; j = j->next)
		n++;
	return n;
}

static void cmd_device_query(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv,
			     struct ctl_reply *r)
{
	struct ctl_server *only = NULL, *s;
	char *tail = NULL;
	size_t len = 0;
	int i, csv = 0, json = 0;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--csv"))
			csv = 1;
		else if (!strcmp(argv[i], "--json"))
			json = csv = 1; /* the helper's CSV, made JSON when it ends */
		else if (!(only = server_arg(d, argc, argv, i, r)))
			return;
	}
	if (c->uid != 0 && c->uid != d->uid && jobs(d) >= QUERIES_OF_OTHERS) {
		/* Each is a helper of the daemon's user that starts the driver
		 * (security review L1); root and the daemon's user always get one. */
		ctl_fail(r, "%d device queries are running already; try again when they end", QUERIES_OF_OTHERS);
		return;
	}
	f = json ? NULL : open_memstream(&tail, &len);
	if (!f && !json) {
		ctl_fail(r, "Out of memory");
		return;
	}
	for (s = d->servers; f && s; s = s->next) {
		char table[16384] = "";

		if ((only && s != only) || s->state == CTL_SERVER_INITIALIZING)
			continue;
		omps_device_table(&s->devices, csv, table, sizeof(table));
		fprintf(f, "\nServer %d\n%s", (int)s->pid, table);
	}
	if (f)
		fclose(f);
	if (ctl_job_start(d, c, csv, tail, json) < 0) {
		free(tail);
		ctl_fail(r, "Cannot run openmps-server --query-devices");
		return;
	}
	r->deferred = 1;
}

static void cmd_sm_partition(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	(void)c;
	ctl_partition_command(d, argc, argv, r);
}

static void cmd_lspart(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	(void)c, (void)argc, (void)argv;
	ctl_partition_list(d, r);
}

static void cmd_help(struct ctl_daemon *d, struct ctl_conn *c, int argc, char **argv, struct ctl_reply *r)
{
	(void)d, (void)c, (void)argc, (void)argv;
	ctl_print_command_help(r->out);
}

static const struct command commands[] = {
	{"start_server", cmd_start_server, 2, 1, "-uid <user id>",
	 "Start a new instance of openmps-server with the given user ID"},
	{"quit", cmd_quit, 2, 1, "[-t <seconds>]",
	 "Terminate the controller; with -t, force servers down after that many seconds"},
	{"get_server_list", cmd_get_server_list, 0, 0, "", "Print out a list of servers"},
	{"get_server_status", cmd_get_server_status, 1, 0, "<PID>", "Print out the status of the server"},
	{"get_client_list", cmd_get_client_list, 1, 0, "<PID>",
	 "List the client applications connected to the server"},
	{"get_device_client_list", cmd_get_device_client_list, 2, 0, "[<PID>] [--json]",
	 "List the devices and their client applications"},
	{"ps", cmd_ps, 3, 0, "[-p PID] [--json]",
	 "Report a snapshot of the current client processes; --json: with what each asked so far, as JSON"},
	{"set_default_active_thread_percentage", cmd_set_default_atp, 1, 1, "<percentage>",
	 "Set default active thread percentage for upcoming servers"},
	{"get_default_active_thread_percentage", cmd_get_default_atp, 0, 0, "",
	 "Query the current default available thread percentage"},
	{"set_active_thread_percentage", cmd_set_atp, 2, 1, "<PID> <percentage>",
	 "Override the active thread percentage of the server"},
	{"get_active_thread_percentage", cmd_get_atp, 1, 0, "<PID>",
	 "Query the current active thread percentage of the server"},
	{"set_default_device_pinned_mem_limit", cmd_set_default_memlimit, 2, 1, "<dev> <value>",
	 "Set default device pinned memory for upcoming servers (value like 512M, 2G; 0 removes it)"},
	{"get_default_device_pinned_mem_limit", cmd_get_default_memlimit, 1, 0, "<dev>",
	 "Query the current default pinned memory limit for the device"},
	{"set_device_pinned_mem_limit", cmd_set_memlimit, 3, 1, "<PID> <dev> <value>",
	 "Override the device pinned memory limit of the server"},
	{"get_device_pinned_mem_limit", cmd_get_memlimit, 2, 0, "<PID> <dev>",
	 "Query the current device pinned memory limit of the server for the device"},
	{"set_default_client_priority", cmd_set_default_priority, 1, 1, "<priority>",
	 "Sets default client priority (0 normal, 1 below normal) for incoming clients"},
	{"get_default_client_priority", cmd_get_default_priority, 0, 0, "",
	 "Query the current priority value that will be used for new clients"},
	{"shutdown_server", cmd_shutdown_server, 2, 1, "<PID> [-f]",
	 "Stop the server once its clients have left; -f stops it now"},
	{"terminate_client", cmd_terminate_client, 2, 1, "<server PID> <client PID>",
	 "Terminate all the outstanding GPU work of the client process running on the server"},
	{"device_query", cmd_device_query, 3, 0, "[<PID>] [--csv | --json]", "Enumerate all usable devices"},
	{"sm_partition", cmd_sm_partition, 3, 1, "add <GPU UUID> <chunks> | rm <GPU UUID> <partition>",
	 "With -S: make an exclusive SM partition (prints its ID, GPU-UUID/N), or remove one no client uses"},
	{"lspart", cmd_lspart, 0, 0, "", "With -S: the SM partitions, and each GPU's free chunks"},
	{"help", cmd_help, 0, 0, "", "Print this list"},
};

void ctl_print_command_help(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s%s%s\n                       %s\n", commands[i].name, *commands[i].usage ? " " : "",
			commands[i].usage, commands[i].help);
}

/* ps --json is what monitors (openmps top) ask every second: neither it
 * nor its answer goes to control.log. */
int ctl_command_unlogged(const char *line)
{
	size_t n = strspn(line, " \t");

	return !strncmp(line + n, "ps", 2) && line[n + 2] && strchr(" \t", line[n + 2]) &&
	       strstr(line + n, "--json");
}

void ctl_command(struct ctl_daemon *d, struct ctl_conn *c, const char *line, struct ctl_reply *r)
{
	char buf[4096], *argv[MAX_ARGS + 1], *save = NULL, *tok;
	int argc = 0;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == MAX_ARGS + 1) {
			ctl_fail(r, "Too many arguments");
			return;
		}
		argv[argc++] = tok;
	}
	for (i = 0; argc && i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(argv[0], cmd->name))
			continue;
		if (argc - 1 > cmd->max_args) {
			ctl_fail(r, "Too many arguments. Usage: %s%s%s", cmd->name, *cmd->usage ? " " : "",
				 cmd->usage);
			return;
		}
		if (cmd->privileged && c->uid != d->uid && c->uid != 0) {
			ctl_fail(r, "Insufficient privileges for UID %u: only user %u or root may run %s",
				 (unsigned)c->uid, (unsigned)d->uid, cmd->name);
			return;
		}
		cmd->run(d, c, argc, argv, r);
		return;
	}
	ctl_fail(r, "Unknown command \"%s\"", argc ? argv[0] : "");
}
