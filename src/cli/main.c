/* openmps: the user's command line.
 *   openmps run [--trace[=FILE]] -- PROGRAM [ARGS...]   run a program as a client
 *   openmps status [--json]                             what the daemon is running
 *   openmps top [-b] [-n N] [-d SECONDS] [-s KEY]       each client's work, live
 * run puts the shim (lib/openmps/libcuda.so.1, found beside this binary) first
 * on LD_LIBRARY_PATH and executes the program, which stays unmodified. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
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

static void usage(FILE *f)
{
	fprintf(f, "Usage: openmps run [--trace[=FILE]] -- PROGRAM [ARGS...]\n"
		   "       openmps status [--json]\n"
		   "       openmps top [-b] [-n FRAMES] [-d SECONDS] [-s k|g|c|b|m|p|n]\n"
		   "       openmps --version\n\n"
		   "  run     runs PROGRAM with the openmps client shim as its CUDA driver. With no daemon\n"
		   "          (openmps-control -d) the shim forwards every call to the real driver, natively.\n"
		   "          --trace logs every driver call with its arguments, result and duration to\n"
		   "          stderr or FILE (the same as OPENMPS_TRACE=1 and OPENMPS_TRACE_FILE=FILE).\n"
		   "  status  the daemon's servers, each with its state, and its clients (ps);\n"
		   "          --json: all of it, with what each client asked so far, as JSON\n"
		   "  top     each client's work, live: its share, memory, GPU%%, kernels, copies and calls\n"
		   "          a second, sorted (keys k g c b m p n, q quits); -b: plain frames on stdout\n");
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
		return cli_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "top"))
		return cli_top(argc - 1, argv + 1);
	fprintf(stderr, "openmps: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
