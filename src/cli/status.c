/* openmps status [--json]: the daemon's servers, each with its state, and
 * their clients (ps); --json: the daemon's ps --json, with where it is. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"
#include "ui.h"

/* One command's answer, in *out (to be freed): 0, 1 if it failed, -1. */
static int ask(int fd, const char *cmd, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int r;

	*out = NULL;
	if (!f)
		return -1;
	r = omps_ui_command(fd, cmd, f);
	fclose(f);
	return r;
}

json_t *cli_snapshot(int fd, char *err, size_t errlen)
{
	char *text;
	json_error_t e;
	json_t *doc = NULL;
	int r = ask(fd, "ps --json", &text);

	if (r < 0)
		snprintf(err, errlen, "lost the openmps control daemon");
	else if (r > 0)
		snprintf(err, errlen, "the daemon refused ps --json: %.200s", text);
	else if (!(doc = json_loads(text, 0, &e)))
		snprintf(err, errlen, "the daemon's answer is not JSON: %s", e.text);
	free(text);
	return doc;
}

static int status_json(int fd)
{
	char err[512];
	json_t *doc = cli_snapshot(fd, err, sizeof(err));

	if (!doc) {
		fprintf(stderr, "openmps status: %s\n", err);
		return 1;
	}
	json_object_set_new(doc, "pipe_directory", json_string(omps_pipe_dir()));
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
	return 0;
}

static int status_text(int fd)
{
	char *list, *st = NULL, *pid, *save = NULL, cmd[64];
	int n = 0, r = ask(fd, "get_server_list", &list);

	if (r != 0) {
		free(list);
		return 1;
	}
	printf("openmps daemon at %s\n", omps_pipe_dir());
	for (pid = strtok_r(list, "\n", &save); pid && r >= 0; pid = strtok_r(NULL, "\n", &save), n++) {
		snprintf(cmd, sizeof(cmd), "get_server_status %.16s", pid);
		r = ask(fd, cmd, &st);
		printf("server %s: %s", pid, r == 0 && st ? st : "gone\n"); /* it may exit between the questions */
		free(st);
	}
	free(list);
	if (!n)
		printf("no server running\n");
	printf("clients:\n");
	fflush(stdout);
	return r < 0 || omps_ui_command(fd, "ps", stdout) < 0;
}

int cli_status(int argc, char **argv)
{
	char err[512];
	int fd, json = argc > 1 && !strcmp(argv[1], "--json"), r;

	if (argc > 1 + json) {
		fprintf(stderr, "Usage: openmps status [--json]\n");
		return 2;
	}
	fd = omps_ui_open(err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	r = json ? status_json(fd) : status_text(fd);
	close(fd);
	return r;
}
