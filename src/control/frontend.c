/* The interactive front end: command lines from stdin (or the command
 * line), each sent to the running daemon, each answer printed. Exits 0 only
 * if every command succeeded. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "paths.h"
#include "sock.h"

static int open_session(void)
{
	struct omps_msg hdr;
	char path[256], buf[1024];
	ssize_t n;
	int fd;

	if (omps_pipe_path(path, sizeof(path), OMPS_CONTROL_SOCKET) < 0) {
		fprintf(stderr, "The pipe directory %s is too long for a socket path\n", omps_pipe_dir());
		return -1;
	}
	fd = omps_sock_connect(path);
	if (fd < 0) {
		fprintf(stderr,
			"Cannot find openmps control daemon process (%s: %s).\n"
			"Start one with 'openmps-control -d', or set OPENMPS_PIPE_DIRECTORY to the daemon's.\n",
			path, strerror(errno));
		return -1;
	}
	if (omps_send_hello(fd, OMPS_ROLE_UI, NULL, 0) < 0 ||
	    (n = omps_recv(fd, &hdr, buf, sizeof(buf) - 1, NULL)) < 0) {
		fprintf(stderr, "Lost the openmps control daemon at %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (hdr.type != OMPS_MSG_WELCOME) {
		buf[n] = '\0';
		fprintf(stderr, "The openmps control daemon refused this front end: %s\n", buf);
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one command and prints its answer. Returns 0, 1 if the command
 * failed, -1 if the daemon is gone. */
static int run_command(int fd, const char *line)
{
	static char buf[OMPS_MSG_MAX];
	struct omps_msg hdr;
	int failed = 0;

	if (omps_send(fd, OMPS_MSG_UI_COMMAND, 0, 0, line, strlen(line), -1, 1) < 0)
		goto lost;
	do {
		ssize_t n = omps_recv(fd, &hdr, buf, sizeof(buf), NULL);

		if (n < 0 || hdr.type != OMPS_MSG_UI_ANSWER)
			goto lost;
		fwrite(buf, 1, (size_t)n, stdout);
		failed |= hdr.status != 0;
	} while (hdr.flags & OMPS_MSGF_MORE);
	fflush(stdout);
	return failed;
lost:
	fprintf(stderr, "Lost the openmps control daemon while running \"%s\"\n", line);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int ctl_frontend(int argc, char **argv)
{
	char *line = NULL, joined[4096] = "";
	size_t cap = 0;
	int fd, status = 0, i;

	fd = open_session();
	if (fd < 0)
		return 1;
	if (argc > 0) {
		for (i = 0; i < argc; i++) {
			strncat(joined, argv[i], sizeof(joined) - strlen(joined) - 1);
			if (i + 1 < argc)
				strncat(joined, " ", sizeof(joined) - strlen(joined) - 1);
		}
		status = run_command(fd, joined);
		close(fd);
		return status ? 1 : 0;
	}
	while (getline(&line, &cap, stdin) > 0) {
		char *cmd = trim(line);
		int r;

		if (!*cmd)
			continue;
		if (strlen(cmd) >= sizeof(joined)) {
			fprintf(stdout, "Command line too long (at most %zu characters)\n", sizeof(joined) - 1);
			status = 1;
			continue;
		}
		r = run_command(fd, cmd);
		if (r < 0) {
			status = 1;
			break;
		}
		status |= r;
	}
	free(line);
	close(fd);
	return status ? 1 : 0;
}
