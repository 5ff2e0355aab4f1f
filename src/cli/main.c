/* openmps: the user's command line.
 *   openmps run [--trace[=FILE]] -- PROGRAM [ARGS...]   run a program as a client
 *   openmps status                                      what the daemon is running
 * run puts the shim (lib/openmps/libcuda.so.1, found beside this binary) first
 * on LD_LIBRARY_PATH and executes the program, which stays unmodified. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "protocol.h"

static int shim_dir(char *buf, size_t len)
{
	/* Where the install put it, then where the build tree has it. */
	static const char *const rel[] = {OPENMPS_SHIM_RELDIR, "../lib/openmps"};
	char self[PATH_MAX], at[PATH_MAX];
	size_t i;

	if (omps_self_dir(self, sizeof(self)) < 0)
		return -1;
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (snprintf(buf, len, "%s/%s", self, rel[i]) >= (int)len || !realpath(buf, at) ||
		    snprintf(buf, len, "%s", at) >= (int)len)
			continue;
		if (strlen(at) + sizeof("/libcuda.so.1") <= sizeof(at) && access(strcat(at, "/libcuda.so.1"), R_OK) == 0)
			return 0;
	}
	return -1;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {{"trace", optional_argument, 0, 't'}, {0, 0, 0, 0}};
	char dir[PATH_MAX], *path;
	const char *old = getenv("LD_LIBRARY_PATH");
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (opt != 't')
			return 2;
		setenv("OPENMPS_TRACE", "1", 1);
		if (optarg)
			setenv("OPENMPS_TRACE_FILE", optarg, 1);
	}
	if (optind >= argc) {
		fprintf(stderr, "openmps run: which program? Usage: openmps run [--trace[=FILE]] -- PROGRAM [ARGS...]\n");
		return 2;
	}
	if (shim_dir(dir, sizeof(dir)) < 0) {
		fprintf(stderr, "openmps run: the shim (lib/openmps/libcuda.so.1) is not installed beside %s\n",
			argv[0]);
		return 1;
	}
	if (asprintf(&path, "%s%s%s", dir, old && *old ? ":" : "", old ? old : "") < 0)
		return 1;
	setenv("LD_LIBRARY_PATH", path, 1);
	free(path);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "openmps run: cannot run %s: %s\n", argv[optind], strerror(errno));
	return 127;
}

/* One answer of openmps-control (installed beside us) to a command given
 * as its arguments, into out; its exit status. Its errors go to stderr. */
static int ask(const char *ctl, const char *cmd, char *out, size_t len)
{
	char line[PATH_MAX + 128];
	size_t n = 0, got;
	FILE *p;

	snprintf(line, sizeof(line), "'%s' %s", ctl, cmd);
	p = popen(line, "r");
	if (!p)
		return -1;
	while (n + 1 < len && (got = fread(out + n, 1, len - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	return pclose(p);
}

/* status: the daemon's servers, labelled, then its clients (ps). */
static int status(char **argv)
{
	static char list[4096], st[512], ps[1 << 16];
	char self[PATH_MAX], ctl[PATH_MAX + 32], cmd[64], *pid, *save = NULL;
	int n = 0;

	(void)argv;
	signal(SIGPIPE, SIG_IGN); /* openmps-control may exit before reading all (no daemon) */
	if (omps_self_dir(self, sizeof(self)) < 0 || strchr(self, '\''))
		return 1;
	snprintf(ctl, sizeof(ctl), "%s/openmps-control", self);
	if (ask(ctl, "get_server_list", list, sizeof(list)) != 0)
		return 1; /* no daemon: openmps-control said so */
	printf("openmps daemon at %s\n", omps_pipe_dir());
	for (pid = strtok_r(list, "\n", &save); pid; pid = strtok_r(NULL, "\n", &save), n++) {
		snprintf(cmd, sizeof(cmd), "get_server_status %.16s", pid);
		if (ask(ctl, cmd, st, sizeof(st)) != 0)
			snprintf(st, sizeof(st), "gone\n");
		printf("server %s: %s", pid, st);
	}
	if (!n)
		printf("no server running\n");
	if (ask(ctl, "ps", ps, sizeof(ps)) != 0)
		return 1;
	printf("clients:\n%s", ps);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: openmps run [--trace[=FILE]] -- PROGRAM [ARGS...]\n"
		   "       openmps status\n"
		   "       openmps --version\n\n"
		   "  run     runs PROGRAM with the openmps client shim as its CUDA driver. With no daemon\n"
		   "          (openmps-control -d) the shim forwards every call to the real driver, natively.\n"
		   "          --trace logs every driver call with its arguments, result and duration to\n"
		   "          stderr or FILE (the same as OPENMPS_TRACE=1 and OPENMPS_TRACE_FILE=FILE).\n"
		   "  status  the daemon's servers, each with its state, and its clients (ps)\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("openmps %s, protocol %d\n", OPENMPS_VERSION, OMPS_PROTOCOL_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return status(argv + 1);
	fprintf(stderr, "openmps: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
