/* A client for the end-to-end tests: joins openmps the way the shim does,
 * reports what it was given, and stays until told to go. Prints one line
 * per event so that tests can wait for it.
 *
 *   omps-test-client [--group GID] [--uid UID] [--hold SECONDS] [--bad-version]
 *   (--uid: run as UID with gid UID and, before it, --group as the only
 *   supplementary group)
 *
 * It leaves on SIGTERM or when its time is up.
 * Exit: 0 done, 3 no daemon, 4 refused, 5 failed, 6 server connection closed. */
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connect.h"
#include "paths.h"
#include "settings.h"
#include "sock.h"

static gid_t extra_group = (gid_t)-1;

static int drop_to(uid_t uid)
{
	int n = extra_group != (gid_t)-1;

	if (setgroups((size_t)n, n ? &extra_group : NULL) < 0 || setgid((gid_t)uid) < 0 || setuid(uid) < 0) {
		perror("omps-test-client: cannot drop privileges");
		return -1;
	}
	return 0;
}

/* Greets the daemon with a protocol version it cannot speak. */
static int bad_version(void)
{
	struct omps_hello h = {.magic = OMPS_MAGIC, .version = 999, .role = OMPS_ROLE_UI, .pid = getpid()};
	struct omps_msg hdr;
	char path[256], buf[1024];
	ssize_t n;
	int fd;

	if (omps_pipe_path(path, sizeof(path), OMPS_CONTROL_SOCKET) < 0 || (fd = omps_sock_connect(path)) < 0)
		return 3;
	if (omps_send(fd, OMPS_MSG_HELLO, 0, 0, &h, sizeof(h), -1, 1) < 0)
		return 5;
	n = omps_recv(fd, &hdr, buf, sizeof(buf) - 1, NULL);
	if (n < 0 || hdr.type != OMPS_MSG_REFUSED)
		return 5;
	buf[n] = '\0';
	printf("refused: %s\n", buf);
	return 4;
}

static void on_term(int sig)
{
	(void)sig; /* only interrupts poll */
}

static int hold(struct shim_connection *c, int seconds)
{
	struct sigaction sa = {.sa_handler = on_term};
	struct pollfd p = {.fd = c->server_fd, .events = POLLIN};

	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: poll returns EINTR */
	if (poll(&p, 1, seconds < 0 ? -1 : seconds * 1000) > 0) {
		printf("server connection closed\n");
		return 6;
	}
	return 0; /* told to go, or time is up */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"uid", required_argument, 0, 'u'},
					      {"hold", required_argument, 0, 'h'},
					      {"bad-version", no_argument, 0, 'b'},
					      {"group", required_argument, 0, 'g'},
					      {0, 0, 0, 0}};
	struct shim_connection c;
	char err[512], atp[16], mem[256];
	int opt, seconds = -1, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'g')
			extra_group = (gid_t)atoi(optarg);
		if (opt == 'u' && drop_to((uid_t)atoi(optarg)) < 0)
			return 5;
		if (opt == 'h')
			seconds = atoi(optarg);
		if (opt == 'b')
			return bad_version();
		if (opt == '?')
			return 2;
	}
	switch (shim_connect(&c, err, sizeof(err))) {
	case SHIM_CONNECT_OK:
		break;
	case SHIM_CONNECT_NO_DAEMON:
		printf("no daemon: %s\n", err);
		return 3;
	case SHIM_CONNECT_REFUSED:
		printf("refused: %s\n", err);
		return 4;
	default:
		printf("failed: %s\n", err);
		return 5;
	}
	omps_atp_format(c.effective.atp_milli, atp, sizeof(atp));
	omps_memlimit_format_list(&c.effective, mem, sizeof(mem));
	printf("admitted pid=%d server=%d id=%u atp=%s priority=%d mem=%s\n", (int)getpid(), (int)c.server_pid,
	       c.client_id, atp, c.effective.priority, mem);
	r = hold(&c, seconds);
	shim_disconnect(&c);
	return r;
}
