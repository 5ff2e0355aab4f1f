/* libFuzzer target: the control daemon's command parser (src/control/
 * commands.c), fed any line a front end could send, against a daemon with
 * one live server and one client. What would start processes or talk to
 * servers is stubbed here, recording only that it was asked for; the parser,
 * the settings and their checks are the daemon's own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

/* Stubs for the daemon's other files. */
double ctl_now(void)
{
	return 0.0;
}

void ctl_begin_quit(struct ctl_daemon *d, int timeout)
{
	(void)timeout;
	d->quitting = 1;
}

int ctl_job_start(struct ctl_daemon *d, struct ctl_conn *c, int csv, char *tail, int json)
{
	(void)d, (void)c, (void)csv, (void)tail, (void)json; /* on failure the caller frees tail */
	return -1;
}

void ctl_schedule(struct ctl_daemon *d)
{
	(void)d;
}

struct ctl_server *ctl_server_find(struct ctl_daemon *d, pid_t pid)
{
	struct ctl_server *s;

	for (s = d->servers; s; s = s->next)
		if (s->pid == pid)
			return s;
	return NULL;
}

struct ctl_server *ctl_server_start(struct ctl_daemon *d, uid_t uid)
{
	(void)d, (void)uid;
	return NULL;
}

int ctl_server_send(struct ctl_server *s, uint32_t type, const void *payload, size_t len, int fd)
{
	(void)s, (void)type, (void)payload, (void)len, (void)fd;
	return 0;
}

void ctl_server_shutdown(struct ctl_daemon *d, struct ctl_server *s, int force)
{
	(void)d, (void)force;
	s->state = CTL_SERVER_SHUTTING_DOWN;
}

const char *ctl_server_state_name(enum ctl_server_state st)
{
	return st == CTL_SERVER_ACTIVE ? "ACTIVE" : "OTHER";
}

int ctl_watch_describe(const struct ctl_server *s, char *out, size_t len)
{
	(void)s, (void)out, (void)len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_server server = {.pid = 4242, .uid = 0, .fd = -1, .state = CTL_SERVER_ACTIVE};
	struct ctl_conn client = {.pid = 4343, .role = CONN_CLIENT, .server = &server};
	struct ctl_conn ui = {.role = CONN_UI, .next = &client};
	struct ctl_daemon d = {.servers = &server, .conns = &ui};
	char *line = malloc(size + 1), *out = NULL;
	size_t out_len = 0;
	struct ctl_reply r = {0};

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	server.devices.ndevices = 1;
	server.nclients = 1;
	r.out = open_memstream(&out, &out_len);
	if (r.out) {
		ctl_command(&d, &ui, line, &r);
		fclose(r.out);
	}
	free(out);
	free(line);
	return 0;
}
