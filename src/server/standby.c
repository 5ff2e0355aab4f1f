/* The warm standby: a second server process, started ahead, that has
 * loaded the driver and made its contexts, and waits. After a GPU fault the
 * server writes its record down as for a new image (handover.c), but hands
 * the record and every descriptor it names to the standby over a socket,
 * tells the daemon the standby's pid, and exits; the standby reads the
 * record as a new image would and serves on. That takes the execve (the
 * kernel tearing down the faulted image) and the driver's start (about 200
 * of the 225 ms an H200 took) off the path from the fault to serving again.
 *
 * The standby is the server's child until the server exits; then the
 * daemon, a child subreaper, adopts it. Without a standby that answers
 * (OPENMPS_FAULT_STANDBY=0, a GPU in exclusive-process mode, a standby
 * that died), the server makes itself anew in its own process as before.
 *
 * The socket between them (SOCK_SEQPACKET): the standby sends 'R' once it
 * is ready; the server sends the descriptors, at most BATCH a message,
 * each message a struct batch; the standby answers 'T' once it has them
 * all, and from then on it is the server. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "sock.h"

#define BATCH	       250 /* under SCM_MAX_FD (253) */
#define READY_WAIT_MS  2000 /* for a standby still starting when the fault comes */
#define TAKEN_WAIT_MS  2000
#define CHILD_SOCK_FD  3 /* where the standby finds its socket, and the log */
#define CHILD_LOG_FD   4
#define MAX_FDS	       65536

extern char **environ;

struct batch {
	uint32_t total; /* descriptors in all */
	uint32_t count; /* in this message */
};

static struct {
	pid_t pid; /* 0: none */
	int fd;	   /* the server's end of the socket; -1: none */
	int ready;
} standby = {.fd = -1};

int srv_standby_enabled(void)
{
	const char *v = getenv("OPENMPS_FAULT_STANDBY");

	return srv_handover_enabled() && (!v || strcmp(v, "0"));
}

/* The environment without the variables that name descriptors: the
 * standby is told its own. */
static char **child_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + 3, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "OPENMPS_STANDBY_FD=", 19) && strncmp(environ[i], "OPENMPS_LOG_FD=", 15))
			env[k++] = environ[i];
	env[k++] = "OPENMPS_STANDBY_FD=" "3";
	env[k++] = "OPENMPS_LOG_FD=" "4";
	return env;
}

/* Reaps a standby that is gone, or kills and reaps one that failed us. */
static void drop(const char *why)
{
	if (why)
		omps_log("The standby server process %d %s; the server makes itself anew in its own process",
			 (int)standby.pid, why);
	if (standby.pid > 0) {
		kill(standby.pid, SIGKILL);
		waitpid(standby.pid, NULL, 0);
	}
	if (standby.fd >= 0)
		close(standby.fd);
	standby.pid = 0;
	standby.fd = -1;
	standby.ready = 0;
}

void srv_standby_start(struct srv_state *s)
{
	posix_spawn_file_actions_t fa;
	int sv[2] = {-1, -1}, child = -1, log_fd = -1, r;
	char *argv[] = {"openmps-server", "--standby", NULL}, **env = NULL;
	pid_t pid;

	if (!srv_standby_enabled() || standby.pid)
		return;
	if (omps_sock_pair(sv) < 0 || (child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (s->log_fd >= 0 && (log_fd = fcntl(s->log_fd, F_DUPFD_CLOEXEC, 10)) < 0) || !(env = child_env())) {
		omps_log("Cannot start a standby server process: %s", strerror(errno));
		goto out;
	}
	/* dup2 to another number clears close-on-exec there, and only there. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, child, CHILD_SOCK_FD);
	if (log_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, log_fd, CHILD_LOG_FD);
	r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		omps_log("Cannot start a standby server process: %s", strerror(r));
		goto out;
	}
	standby.pid = pid;
	standby.fd = sv[0];
	sv[0] = -1;
	omps_log("Standby server process %d started: it makes its contexts now, to take over after a GPU fault",
		 (int)pid);
out:
	free(env);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (child >= 0)
		close(child);
	if (log_fd >= 0)
		close(log_fd);
}

/* Whether the standby said it is ready within ms (0: just look). */
static int is_ready(int ms)
{
	uint64_t end = omps_now_us() + (uint64_t)ms * 1000;
	char b;

	while (!standby.ready) {
		struct pollfd p = {.fd = standby.fd, .events = POLLIN};
		int64_t left = (int64_t)(end - omps_now_us()) / 1000;
		int n = poll(&p, 1, left > 0 ? (int)left : 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (recv(standby.fd, &b, 1, 0) != 1 || b != 'R') {
			drop("is gone (server.log says why)");
			return 0;
		}
		standby.ready = 1;
	}
	return 1;
}

static int send_batch(int sock, const int *fds, uint32_t total, uint32_t count)
{
	struct batch b = {.total = total, .count = count};
	struct iovec iov = {&b, sizeof(b)};
	union {
		char buf[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	ssize_t n;

	if (count) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(count * sizeof(int));
		memcpy(CMSG_DATA(c), fds, count * sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(b) ? 0 : -1;
}

pid_t srv_standby_take(struct srv_state *s, const int *fds, unsigned n)
{
	struct pollfd p;
	pid_t pid = standby.pid;
	char b = 0;
	int r;

	if (!standby.pid)
		return 0;
	if (!is_ready(READY_WAIT_MS)) {
		if (standby.pid)
			drop("was not ready in time");
		return 0;
	}
	for (unsigned i = 0; i < n; i += BATCH)
		if (send_batch(standby.fd, fds + i, n, n - i < BATCH ? n - i : BATCH) < 0) {
			drop("could not be handed the clients");
			return 0;
		}
	p = (struct pollfd){.fd = standby.fd, .events = POLLIN};
	do
		r = poll(&p, 1, TAKEN_WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r != 1 || recv(standby.fd, &b, 1, 0) != 1 || b != 'T') {
		drop("did not take the clients over"); /* killed: never two servers */
		return 0;
	}
	if (s->control_fd >= 0)
		omps_send(s->control_fd, OMPS_MSG_SERVER_SUCCESSOR, 0, 0, &(int32_t){pid}, sizeof(int32_t), -1, 1);
	return pid;
}

/* ---- the standby's side */

static int receive_batch(int sock, int *fds, uint32_t *total, uint32_t have)
{
	struct batch b;
	struct iovec iov = {&b, sizeof(b)};
	union {
		char buf[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	uint32_t got = 0;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b) || (msg.msg_flags & MSG_CTRUNC) || b.count > BATCH || !b.total || b.total > MAX_FDS ||
	    (have && b.total != *total) || b.count > b.total - have)
		return -1;
	*total = b.total;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		got = (uint32_t)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (got != b.count)
			return -1;
		memcpy(fds + have, CMSG_DATA(c), got * sizeof(int));
	}
	return got == b.count ? (int)got : -1;
}

int srv_standby_wait(int sock, int **fds, unsigned *n)
{
	uint32_t total = 0, have = 0;
	int *got = NULL, k;

	if (send(sock, "R", 1, MSG_NOSIGNAL) != 1)
		return -1;
	if (!(got = malloc(MAX_FDS * sizeof(*got))))
		return -1;
	do {
		k = receive_batch(sock, got, &total, have);
		if (k < 0) {
			for (uint32_t i = 0; i < have; i++)
				close(got[i]);
			free(got);
			return -1; /* the server exited without a fault, or spoke nonsense */
		}
		have += (uint32_t)k;
	} while (have < total);
	if (send(sock, "T", 1, MSG_NOSIGNAL) != 1) {
		for (uint32_t i = 0; i < have; i++)
			close(got[i]);
		free(got);
		return -1;
	}
	*fds = got;
	*n = have;
	return 0;
}
