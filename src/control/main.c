/* openmps-control: the control daemon (-d, -f) and its front end (no flag),
 * driven like nvidia-cuda-mps-control. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "protocol.h"

static void usage(FILE *f)
{
	fprintf(f,
		"openmps control, version %s: a drop-in for nvidia-cuda-mps-control.\n\n"
		"  Lets several CUDA processes share one GPU context, run by openmps-server.\n"
		"  With no option, reads commands from standard input (one a line) or takes one\n"
		"  command from the arguments, sends them to the running daemon, prints the answers,\n"
		"  and exits non-zero if any command failed.\n\n"
		"openmps-control [options] [command]\n"
		"OPTIONS:\n"
		"  -h,--help                Print this message\n"
		"  -v,--version             Print the version\n"
		"  -d,--daemon              Start the daemon in the background\n"
		"  -f,--foreground          Run the daemon in the foreground, logging to stderr too\n"
		"  -M,--multiuser-server    Run one server for all users (root only)\n"
		"  -g,--allow-group GROUP   Only root, the daemon's user and members of GROUP may\n"
		"                           connect (repeatable; a name or a number)\n"
		"  -q,--ready-devices       Accepted for compatibility; devices are queried when asked\n"
		"  -S,--static-partitioning Clients run in static SM partitions (sm_partition, lspart;\n"
		"                           CUDA_MPS_SM_PARTITION=GPU-UUID/ID)\n"
		"  --metrics [HOST:]PORT    Serve Prometheus metrics at http://HOST:PORT/metrics\n"
		"                           (HOST 127.0.0.1 unless named; off unless given)\n\n"
		"ENVIRONMENT:\n"
		"  OPENMPS_PIPE_DIRECTORY   sockets and lock (default /tmp/openmps-pipe, created 0700)\n"
		"  OPENMPS_LOG_DIRECTORY    control.log and server.log (default /tmp/openmps-log)\n\n"
		"COMMAND:\n",
		OPENMPS_VERSION);
	ctl_print_command_help(f);
	fprintf(f, "\nSee docs/control.md for every command's output and errors.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},		  {"version", no_argument, 0, 'v'},
		{"daemon", no_argument, 0, 'd'},	  {"foreground", no_argument, 0, 'f'},
		{"forground", no_argument, 0, 'f'},	  {"multiuser-server", no_argument, 0, 'M'},
		{"ready-devices", no_argument, 0, 'q'},	  {"allow-group", required_argument, 0, 'g'},
		{"metrics", required_argument, 0, 'm'},	  {"static-partitioning", no_argument, 0, 'S'},
		{0, 0, 0, 0}};
	struct ctl_options o = {0};
	int opt, daemon = 0, i;

	/* NVIDIA also spells the flag with one dash. */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-multiuser-server"))
			argv[i] = "-M";
	while ((opt = getopt_long(argc, argv, "+hvdfMqSg:", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("openmps control, version %s, protocol %d\n", OPENMPS_VERSION,
			       OMPS_PROTOCOL_VERSION);
			return 0;
		case 'd':
			daemon = 1;
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 'M':
			o.multiuser = 1;
			break;
		case 'g':
			if (o.nallow == CTL_MAX_GROUPS || ctl_access_parse_group(optarg, &o.allow[o.nallow]) < 0) {
				fprintf(stderr, "openmps-control: %s: %s\n", optarg,
					o.nallow == CTL_MAX_GROUPS ? "too many groups" : "no such group");
				return 2;
			}
			snprintf(o.allow_names + strlen(o.allow_names), sizeof(o.allow_names) - strlen(o.allow_names),
				 "%s%s", o.nallow ? ", " : "", optarg);
			o.nallow++;
			break;
		case 'm':
			o.metrics = optarg;
			break;
		case 'S':
			o.static_parts = 1;
			break;
		case 'q':
			break;
		default:
			fprintf(stderr, "Try 'openmps-control --help'.\n");
			return 2;
		}
	}
	if (daemon && o.foreground) {
		fprintf(stderr, "openmps-control: -d and -f exclude each other\n");
		return 2;
	}
	if (daemon || o.foreground) {
		if (optind < argc) {
			fprintf(stderr, "openmps-control: unexpected argument \"%s\" with -d or -f\n", argv[optind]);
			return 2;
		}
		return ctl_daemon_run(&o);
	}
	if (o.multiuser || o.nallow || o.metrics || o.static_parts) {
		fprintf(stderr, "openmps-control: %s applies to the daemon: use it with -d or -f\n",
			o.multiuser ? "-M" : o.nallow ? "-g" : o.metrics ? "--metrics" : "-S");
		return 2;
	}
	return ctl_frontend(argc - optind, argv + optind);
}
