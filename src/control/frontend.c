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
#include "ui.h"

/* Sends one command and prints its answer. Returns 0, 1 if the command
 * failed, -1 if the daemon is gone. */
static int run_command(int fd, const char *line)
{
	int r = omps_ui_command(fd, line, stdout);

	if (r < 0)
		fprintf(stderr, "Lost the openmps control daemon while running \"%s\"\n", line);
	return r;
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
	char err[512];

	fd = omps_ui_open(err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
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
