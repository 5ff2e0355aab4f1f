/* Static SM partitions (openmps-control -S), as NVIDIA MPS 13.1 has them:
 * an operator carves each GPU's SMs into exclusive partitions of whole
 * chunks (sm_partition add/rm, lspart), and a client binds to one with
 * CUDA_MPS_SM_PARTITION=GPU-UUID/ID, set before it starts; its kernels run
 * on those SMs only, and no partition lends its idle SMs to another. The
 * chunks are the server's slots (qos.c): the smallest groups the driver
 * splits a device's SMs into, learned once at start from
 * openmps-server --query-chunks. A partition is a run of free chunks,
 * first fit; the daemon places it, and hands the run to the server with
 * each client it admits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "devinfo.h"
#include "log.h"

#define QUERY_TIMEOUT_MS 60000 /* the driver's start takes seconds, not minutes */

/* The helper's output, "UUID SMS CHUNKS CHUNK_SMS" a device, into d. */
static int parse_chunks(struct ctl_daemon *d, char *text, char *err, size_t errlen)
{
	char *line, *save = NULL;
	struct ctl_sm_device *g;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (d->nsmdev == CTL_MAX_SM_DEVICES)
			break;
		g = &d->smdev[d->nsmdev];
		memset(g, 0, sizeof(*g));
		if (sscanf(line, "%47s %u %u %u", g->uuid, &g->sms, &g->chunks, &g->chunk_sms) != 4 || !g->chunks ||
		    g->chunks > CTL_MAX_CHUNKS || strncmp(g->uuid, "GPU-", 4)) {
			snprintf(err, errlen, "static SM partitions: openmps-server --query-chunks said \"%.200s\"", line);
			return -1;
		}
		d->nsmdev++;
	}
	if (!d->nsmdev) {
		snprintf(err, errlen, "static SM partitions: no GPU to partition");
		return -1;
	}
	return 0;
}

int ctl_partitions_init(struct ctl_daemon *d, char *err, size_t errlen)
{
	char text[8192];
	size_t len = 0;
	int out[2], status = 0;
	struct pollfd p;
	ssize_t n;
	pid_t pid;

	d->smdev = calloc(CTL_MAX_SM_DEVICES, sizeof(*d->smdev));
	if (!d->smdev || pipe2(out, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(err, errlen, "static SM partitions: cannot run openmps-server: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		execl(d->server_path, "openmps-server", "--query-chunks", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	p = (struct pollfd){.fd = out[0], .events = POLLIN};
	while (len + 1 < sizeof(text) && poll(&p, 1, QUERY_TIMEOUT_MS) == 1 &&
	       (n = read(out[0], text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	text[len] = '\0';
	close(out[0]);
	if (waitpid(pid, &status, WNOHANG) == 0) { /* it said nothing for a minute */
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(err, errlen, "static SM partitions: cannot learn the GPUs' SM chunks: %.300s",
			 *text ? text : "openmps-server --query-chunks failed");
		return -1;
	}
	return parse_chunks(d, text, err, errlen);
}

/* The device a (unique, case-blind) prefix of a GPU UUID names; NULL and
 * why otherwise. */
static struct ctl_sm_device *device_named(struct ctl_daemon *d, const char *uuid, struct ctl_reply *r)
{
	struct ctl_sm_device *found = NULL;
	size_t len = strlen(uuid);
	unsigned i, n = 0;

	for (i = 0; len >= 5 && i < d->nsmdev; i++)
		if (!strncasecmp(d->smdev[i].uuid, uuid, len))
			found = &d->smdev[i], n++;
	if (n == 1)
		return found;
	ctl_fail(r, "%s GPU UUID %s", n ? "Ambiguous" : "Unknown", uuid);
	return NULL;
}

static struct ctl_sm_part *part_named(struct ctl_sm_device *g, const char *id)
{
	const char *slash = strrchr(id, '/');
	char *end;
	unsigned long v;
	unsigned i;

	v = strtoul(slash ? slash + 1 : id, &end, 10);
	if (*end || end == (slash ? slash + 1 : id))
		return NULL;
	for (i = 0; i < g->nparts; i++)
		if (g->part[i].id == v)
			return &g->part[i];
	return NULL;
}

static int chunk_used(const struct ctl_sm_device *g, unsigned c)
{
	unsigned i;

	for (i = 0; i < g->nparts; i++)
		if (c >= g->part[i].start && c < g->part[i].start + g->part[i].count)
			return 1;
	return 0;
}

/* First fit: the lowest run of count free chunks; -1 if there is none. */
static int first_fit(const struct ctl_sm_device *g, unsigned count, unsigned *largest)
{
	unsigned start, run = 0, c;

	*largest = 0;
	for (c = 0; c < g->chunks; c++) {
		run = chunk_used(g, c) ? 0 : run + 1;
		if (run > *largest)
			*largest = run;
		if (run == count) {
			start = c + 1 - count;
			return (int)start;
		}
	}
	return -1;
}

static void cmd_add(struct ctl_daemon *d, int argc, char **argv, struct ctl_reply *r)
{
	struct ctl_sm_device *g;
	unsigned long count;
	unsigned largest;
	char *end;
	int start;

	if (argc != 4) {
		ctl_fail(r, "Usage: sm_partition add <GPU UUID> <chunks>");
		return;
	}
	if (!(g = device_named(d, argv[2], r)))
		return;
	count = strtoul(argv[3], &end, 10);
	if (*end || !count || count > g->chunks) {
		ctl_fail(r, "Invalid chunk count \"%s\": %s has %u chunks of %u SMs", argv[3], g->uuid, g->chunks,
			 g->chunk_sms);
		return;
	}
	start = first_fit(g, (unsigned)count, &largest);
	if (start < 0 || g->nparts == CTL_MAX_CHUNKS) {
		ctl_fail(r, "Not enough free chunks on %s: %lu asked, %u free in one run", g->uuid, count, largest);
		return;
	}
	g->part[g->nparts++] = (struct ctl_sm_part){.id = ++g->next_id, .start = (unsigned)start,
						    .count = (unsigned)count};
	fprintf(r->out, "%s/%u\n", g->uuid, g->next_id);
}

static void cmd_rm(struct ctl_daemon *d, int argc, char **argv, struct ctl_reply *r)
{
	struct ctl_sm_device *g;
	struct ctl_sm_part *p;

	if (argc != 4) {
		ctl_fail(r, "Usage: sm_partition rm <GPU UUID> <partition>");
		return;
	}
	if (!(g = device_named(d, argv[2], r)))
		return;
	if (!(p = part_named(g, argv[3]))) {
		ctl_fail(r, "Unknown partition %s on %s", argv[3], g->uuid);
		return;
	}
	if (p->users) {
		ctl_fail(r, "Partition %s/%u is in use by %u client%s", g->uuid, p->id, p->users,
			 p->users == 1 ? "" : "s");
		return;
	}
	*p = g->part[--g->nparts];
}

void ctl_partition_command(struct ctl_daemon *d, int argc, char **argv, struct ctl_reply *r)
{
	if (!d->static_parts) {
		ctl_fail(r, "Static SM partitioning is off: start the daemon with -S");
	} else if (argc >= 2 && !strcmp(argv[1], "add")) {
		cmd_add(d, argc, argv, r);
	} else if (argc >= 2 && !strcmp(argv[1], "rm")) {
		cmd_rm(d, argc, argv, r);
	} else {
		ctl_fail(r, "Usage: sm_partition add <GPU UUID> <chunks> | sm_partition rm <GPU UUID> <partition>");
	}
}

void ctl_partition_list(struct ctl_daemon *d, struct ctl_reply *r)
{
	unsigned i, j, used;

	if (!d->static_parts) {
		ctl_fail(r, "Static SM partitioning is off: start the daemon with -S");
		return;
	}
	fprintf(r->out, "%-42s %-10s %-7s %-12s %-6s %s\n", "GPU", "PARTITION", "CHUNKS", "CHUNKS AT", "SMS",
		"IN USE");
	for (i = 0; i < d->nsmdev; i++) {
		const struct ctl_sm_device *g = &d->smdev[i];

		for (j = used = 0; j < g->nparts; j++) {
			const struct ctl_sm_part *p = &g->part[j];
			char at[24];

			snprintf(at, sizeof(at), "%u-%u", p->start, p->start + p->count - 1);
			fprintf(r->out, "%-42s %-10u %-7u %-12s %-6u %s\n", g->uuid, p->id, p->count, at,
				p->count * g->chunk_sms, p->users ? "yes" : "no");
			used += p->count;
		}
		fprintf(r->out, "%-42s %u of %u chunks free (%u SMs each); %u SMs free, %u in partitions\n", g->uuid,
			g->chunks - used, g->chunks, g->chunk_sms, (g->chunks - used) * g->chunk_sms,
			used * g->chunk_sms);
	}
}

int ctl_partition_bind(struct ctl_daemon *d, struct ctl_conn *c, const char *spec, char *err, size_t errlen)
{
	char uuid[96];
	const char *slash = strrchr(spec, '/');
	unsigned i;

	c->part_bound = 0;
	if (!d->static_parts) {
		if (*spec)
			snprintf(err, errlen, "CUDA_MPS_SM_PARTITION=%.100s: the daemon has no static SM partitions "
					      "(start it with -S)", spec);
		return *spec ? -1 : 0;
	}
	if (!*spec) {
		snprintf(err, errlen, "the daemon runs with static SM partitions (-S): set CUDA_MPS_SM_PARTITION to "
				      "one that lspart lists");
		return -1;
	}
	snprintf(uuid, sizeof(uuid), "%.*s", slash ? (int)(slash - spec) : 0, spec);
	for (i = 0; slash && i < d->nsmdev; i++) {
		struct ctl_sm_part *p;

		if (strcasecmp(d->smdev[i].uuid, uuid) || !(p = part_named(&d->smdev[i], slash + 1)))
			continue;
		p->users++;
		c->part_bound = 1;
		c->part_dev = (int)i;
		c->part_id = p->id;
		return 0;
	}
	snprintf(err, errlen, "CUDA_MPS_SM_PARTITION=%.100s: no such SM partition (lspart lists them)", spec);
	return -1;
}

static struct ctl_sm_part *bound(struct ctl_daemon *d, const struct ctl_conn *c)
{
	struct ctl_sm_device *g = c->part_bound ? &d->smdev[c->part_dev] : NULL;
	unsigned i;

	for (i = 0; g && i < g->nparts; i++)
		if (g->part[i].id == c->part_id)
			return &g->part[i];
	return NULL;
}

void ctl_partition_unbind(struct ctl_daemon *d, struct ctl_conn *c)
{
	struct ctl_sm_part *p = bound(d, c);

	if (p && p->users)
		p->users--;
	c->part_bound = 0;
}

int ctl_partition_admit(struct ctl_daemon *d, const struct ctl_conn *c, const struct ctl_server *s,
			struct omps_admit *a)
{
	struct ctl_sm_part *p = bound(d, c);
	char uuid[64];
	uint32_t i;

	a->part_dev = -1;
	if (!p)
		return 0;
	for (i = 0; i < s->devices.ndevices; i++) {
		omps_uuid_format(s->devices.dev[i].uuid, uuid, sizeof(uuid));
		if (!strcasecmp(uuid, d->smdev[c->part_dev].uuid)) {
			a->part_dev = (int32_t)i;
			a->part_start = p->start;
			a->part_count = p->count;
			a->part_id = p->id;
			return 0;
		}
	}
	return -1; /* its GPU is not one the server drives */
}
