/* A front end's session with the control daemon (ui.h): the hello as a UI,
 * then a command line at a time, each answered in packets (OMPS_MSGF_MORE
 * until the last), the status of the command on each. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "protocol.h"
#include "sock.h"
#include "ui.h"

int omps_ui_open(char *err, size_t errlen)
{
	struct omps_msg hdr;
	char path[256], buf[1024];
	ssize_t n;
	int fd;

	if (omps_pipe_path(path, sizeof(path), OMPS_CONTROL_SOCKET) < 0) {
		snprintf(err, errlen, "The pipe directory %s is too long for a socket path", omps_pipe_dir());
		return -1;
	}
	fd = omps_sock_connect(path);
	if (fd < 0) {
		snprintf(err, errlen,
			 "Cannot find openmps control daemon process (%s: %s).\n"
			 "Start one with 'openmps-control -d', or set OPENMPS_PIPE_DIRECTORY to the daemon's.",
			 path, strerror(errno));
		return -1;
	}
	if (omps_send_hello(fd, OMPS_ROLE_UI, NULL, 0) < 0 ||
	    (n = omps_recv(fd, &hdr, buf, sizeof(buf) - 1, NULL)) < 0) {
		snprintf(err, errlen, "Lost the openmps control daemon at %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (hdr.type != OMPS_MSG_WELCOME) {
		buf[n] = '\0';
		snprintf(err, errlen, "The openmps control daemon refused this front end: %s", buf);
		close(fd);
		return -1;
	}
	return fd;
}

int omps_ui_command(int fd, const char *line, FILE *out)
{
	static char buf[OMPS_MSG_MAX];
	struct omps_msg hdr;
	int failed = 0;

	if (omps_send(fd, OMPS_MSG_UI_COMMAND, 0, 0, line, strlen(line), -1, 1) < 0)
		return -1;
	do {
		ssize_t n = omps_recv(fd, &hdr, buf, sizeof(buf), NULL);

		if (n < 0 || hdr.type != OMPS_MSG_UI_ANSWER)
			return -1;
		fwrite(buf, 1, (size_t)n, out);
		failed |= hdr.status != 0;
	} while (hdr.flags & OMPS_MSGF_MORE);
	fflush(out);
	return failed;
}
