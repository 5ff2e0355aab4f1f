/* The control daemon's messages to a server, on its main loop: clients to
 * admit, settings, shutdown, terminations, departures, the watch's pings.
 * Nothing here exits: a shutdown that must happen now sets exit_why, and
 * the main loop ends the server (main.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "settings.h"
#include "sock.h"

void srv_log_settings(const struct omps_settings *st)
{
	char atp[16];
	uint32_t i;

	omps_atp_format(st->atp_milli, atp, sizeof(atp));
	omps_log("Active Threads Percentage set to %s", atp);
	for (i = 0; i < st->nmem; i++)
		omps_log("Device pinned memory limit for device %s set to 0x%llx bytes", st->mem[i].dev,
			 (unsigned long long)st->mem[i].bytes);
	omps_log("Server Priority set to %d", st->priority);
}

static void on_shutdown(struct srv_state *s, const struct omps_shutdown *m)
{
	omps_log("Server has been notified to shutdown%s", m->force ? " (forced)" : "");
	if (m->force || !s->nclients) {
		s->exit_why = "was disconnected by a forced shutdown"; /* the main loop exits */
		return;
	}
	omps_log("Server was unable to shutdown due to %u active clients; it will exit when they have left",
		 s->nclients);
	s->draining = 1;
}

static void on_terminate(struct srv_state *s, struct omps_terminate *m)
{
	struct srv_client *c = srv_client_find(s, m->pid);

	if (!c) {
		omps_log("Cannot terminate client process %d: not a client of this server", (int)m->pid);
		m->result = CUDA_ERROR_INVALID_VALUE;
	} else {
		omps_log("MPS server requesting client {PID: %d, ID: %u} to exit", (int)c->pid, c->id);
		srv_client_remove(s, c, "was terminated");
		omps_log("Client termination succeeded.");
		m->result = CUDA_SUCCESS;
	}
	omps_send(s->control_fd, OMPS_MSG_SERVER_TERMINATED, 0, 0, m, sizeof(*m), -1, 1);
}

/* Its daemon connection closed. A client that exited is seen leaving on
 * its own socket too (hung up); one that is still there hid from ps and
 * terminate_client (security review L3), and goes. */
static void on_client_left(struct srv_state *s, const struct omps_client_left *m)
{
	struct srv_client *c;
	struct pollfd p;

	for (c = s->clients; c && c->id != m->client_id; c = c->next)
		;
	if (!c)
		return;
	p = (struct pollfd){.fd = c->fd, .events = POLLIN};
	if (poll(&p, 1, 0) == 1 && p.revents & (POLLHUP | POLLERR))
		return; /* leaving: the main loop sees it */
	srv_client_remove(s, c, "closed its connection to the control daemon but stayed; disconnecting it");
}

static void lost_daemon(struct srv_state *s)
{
	close(s->control_fd);
	s->control_fd = -1;
	s->draining = 1;
	omps_log("Lost the control daemon; serving the %u remaining clients, then exiting", s->nclients);
}

int srv_control_readable(struct srv_state *s)
{
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	int fd;
	ssize_t n = omps_recv(s->control_fd, &hdr, buf, sizeof(buf), &fd);

	if (n < 0 && errno == EMFILE) {
		struct rlimit rl = {0};

		getrlimit(RLIMIT_NOFILE, &rl);
		omps_log("Could not admit a client: the server has used all of its %llu file descriptors "
			 "(%u clients); raise the hard limit (ulimit -Hn) of the control daemon",
			 (unsigned long long)rl.rlim_cur, s->nclients);
		return 1;
	}
	if (n < 0) {
		if (errno != EAGAIN)
			lost_daemon(s);
		return 0;
	}
	if (hdr.type == OMPS_MSG_SERVER_ADMIT && (size_t)n == sizeof(struct omps_admit) && fd >= 0) {
		struct omps_admit a;

		memcpy(&a, buf, sizeof(a));
		if (omps_settings_valid(&a.effective) && omps_settings_valid(&a.requested) && srv_client_add(s, fd, &a))
			return 1;
		omps_log("Could not admit client process %d", (int)a.pid);
	} else if (hdr.type == OMPS_MSG_SERVER_SETTINGS && (size_t)n == sizeof(struct omps_settings)) {
		struct omps_settings st;

		memcpy(&st, buf, sizeof(st));
		if (omps_settings_valid(&st)) {
			s->settings = st;
			srv_log_settings(&st);
			srv_qos_settings_changed(s);
			for (struct srv_client *c = s->clients; c; c = c->next)
				srv_checkpoint_touch(c); /* their limits: a record before no longer holds */
		}
	} else if (hdr.type == OMPS_MSG_SERVER_SHUTDOWN && (size_t)n == sizeof(struct omps_shutdown)) {
		struct omps_shutdown m;

		memcpy(&m, buf, sizeof(m));
		on_shutdown(s, &m);
	} else if (hdr.type == OMPS_MSG_SERVER_CLIENT_LEFT && (size_t)n == sizeof(struct omps_client_left)) {
		struct omps_client_left m;

		memcpy(&m, buf, sizeof(m));
		on_client_left(s, &m);
	} else if (hdr.type == OMPS_MSG_SERVER_RESUME && n == 0) {
		omps_log("Server resumes: the client of another user it drained for has left");
		s->draining = 0;
	} else if (hdr.type == OMPS_MSG_SERVER_PING && (size_t)n == sizeof(struct omps_ping)) {
		/* The daemon's watch: answered from this loop, and never waited for. */
		omps_send(s->control_fd, OMPS_MSG_SERVER_PONG, 0, 0, buf, (size_t)n, -1, 0);
	} else if (hdr.type == OMPS_MSG_SERVER_TERMINATE && (size_t)n == sizeof(struct omps_terminate)) {
		struct omps_terminate m;

		memcpy(&m, buf, sizeof(m));
		on_terminate(s, &m);
	} else {
		omps_log("Ignoring unexpected message type %u (%zd bytes) from the control daemon", hdr.type, n);
	}
	if (fd >= 0)
		close(fd);
	return 1;
}
