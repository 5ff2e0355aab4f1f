/* libFuzzer target: the control daemon's connection handling and the
 * messages its servers send it (src/control: daemon.c, clients.c,
 * servers.c, commands.c), the daemon's own code throughout. A daemon with
 * one live server (a socket pair; its pid one no process has) and four
 * connections: of the daemon's user, of root and two of uid 65534. The
 * input is a sequence of packets, each a target byte (bit 7: from the
 * server, else connection target % 4), a length (u16) and that many bytes,
 * sent down that socket and read as the daemon's poll loop would. Then
 * every connection closes and any device_query helper is waited for. No
 * input may crash the daemon, leak, or leave it holding a closed
 * connection. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "settings.h"
#include "sock.h"

#define NCONNS 4
#define NO_PID 0x3fffffff /* above any pid_max: a kill of it reaches nobody */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN);
	omps_log_init("Fuzz", open("/dev/null", O_WRONLY | O_CLOEXEC), getenv("FUZZ_VERBOSE") != NULL);
	return 0;
}

static void drain(int fd)
{
	char buf[OMPS_MSG_MAX];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static struct ctl_server *fake_server(struct ctl_daemon *d, int *peer)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	int sv[2];

	if (!s || omps_sock_pair(sv) < 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	s->pid = NO_PID;
	s->uid = d->uid;
	s->fd = sv[0];
	s->state = CTL_SERVER_ACTIVE;
	s->settings = d->defaults;
	d->servers = s;
	*peer = sv[1];
	return s;
}

/* The helpers device_query started (they fail to exec at once). */
static void wait_jobs(struct ctl_daemon *d)
{
	while (d->jobs)
		ctl_job_readable(d, d->jobs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uid_t uids[NCONNS] = {0, 0, 65534, 65534};
	struct ctl_daemon d = {.listen_fd = -1, .pipe_dirfd = -1, .log_dirfd = -1, .server_log_fd = -1};
	uint64_t serial[NCONNS];
	int peer[NCONNS], speer, i;
	struct ctl_server *s;

	d.uid = getuid();
	omps_settings_defaults(&d.defaults);
	snprintf(d.server_path, sizeof(d.server_path), "/nonexistent/openmps-server");
	s = fake_server(&d, &speer);
	for (i = 0; i < NCONNS; i++) {
		int sv[2];
		struct ctl_conn *c;

		if (omps_sock_pair(sv) < 0)
			abort();
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		c = ctl_conn_add(&d, sv[0], 1000 + i, i == 0 ? d.uid : uids[i]);
		if (!c)
			abort();
		serial[i] = c->serial;
		peer[i] = sv[1];
	}
	while (size >= 3) {
		int target = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;
		struct ctl_conn *c;

		data += 3, size -= 3;
		if (len > size)
			len = size;
		if (target & 0x80) {
			if (s->fd >= 0 && send(speer, data, len, MSG_DONTWAIT) >= 0)
				ctl_server_readable(&d, s);
			drain(speer);
		} else if ((c = ctl_conn_by_serial(&d, serial[target % NCONNS]))) {
			if (send(peer[target % NCONNS], data, len, MSG_DONTWAIT) >= 0)
				ctl_conn_readable(&d, c);
			drain(peer[target % NCONNS]);
		}
		if (d.schedule_again)
			ctl_schedule(&d);
		data += len, size -= len;
	}
	for (i = 0; i < NCONNS; i++)
		close(peer[i]);
	while (d.conns)
		ctl_conn_close(&d, d.conns);
	wait_jobs(&d);
	if (d.servers != s || s->next) /* no server may have been started: the fake one lives */
		__builtin_trap();
	if (s->fd >= 0)
		close(s->fd);
	close(speer);
	free(s);
	return 0;
}
