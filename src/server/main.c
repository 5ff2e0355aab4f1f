/* openmps-server: owns the GPU contexts and serves the clients that the
 * control daemon hands to it. Started by openmps-control, never by hand. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "devices.h"
#include "devinfo.h"
#include "driver.h"
#include "log.h"
#include "memsize.h"
#include "server.h"
#include "settings.h"
#include "sock.h"

static struct srv_driver drv;

static int env_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long fd;

	if (!v)
		return -1;
	fd = strtol(v, &end, 10);
	unsetenv(name);
	return *end || fd < 0 || fd > 65535 ? -1 : (int)fd;
}

/* --query-chunks: each device's "UUID SMS CHUNKS CHUNK_SMS", for the
 * daemon's static partitions (-S); the chunks are qos.c's slots. */
static int query_chunks(void)
{
	static CUdevResource res[SRV_MAX_SLOTS];
	struct omps_server_ready r;
	char err[256], uuid[64];
	unsigned n;
	uint32_t i;
	CUresult e;

	if (srv_driver_load(&drv, err, sizeof(err)) < 0 || srv_devices_open(&drv, &r, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "openmps-server: %s\n", err);
		return 1;
	}
	for (i = 0; i < r.ndevices; i++) {
		n = SRV_MAX_SLOTS;
		e = srv_device_chunks(&drv, r.dev[i].ordinal, 0, res, &n);
		if (e != CUDA_SUCCESS) {
			srv_driver_strerror(&drv, e, err, sizeof(err));
			fprintf(stderr, "openmps-server: device %d cannot be split into SM partitions: %s\n",
				r.dev[i].ordinal, err);
			return 1;
		}
		omps_uuid_format(r.dev[i].uuid, uuid, sizeof(uuid));
		printf("%s %d %u %u\n", uuid, r.dev[i].sm_count, n, res[0].sm.smCount);
	}
	return 0;
}

static int query_devices(int csv)
{
	struct omps_server_ready r;
	char err[256], table[16384] = "";

	if (srv_driver_load(&drv, err, sizeof(err)) < 0 || srv_devices_open(&drv, &r, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "openmps-server: %s\n", err);
		return 1;
	}
	omps_device_table(&r, csv, table, sizeof(table));
	fputs(table, stdout);
	return 0;
}

/* The daemon's first word: a WELCOME carrying the server-wide settings. */
static int handshake(struct srv_state *s)
{
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	ssize_t n;

	if (omps_send_hello(s->control_fd, OMPS_ROLE_SERVER, NULL, 0) < 0)
		return -1;
	n = omps_recv(s->control_fd, &hdr, buf, sizeof(buf), NULL);
	if (n < 0)
		return -1;
	if (hdr.type != OMPS_MSG_WELCOME || (size_t)n != sizeof(s->settings)) {
		omps_log("Unexpected answer from the control daemon (type %u, %zd bytes)", hdr.type, n);
		return -1;
	}
	memcpy(&s->settings, buf, sizeof(s->settings));
	if (!omps_settings_valid(&s->settings)) {
		omps_log("The control daemon sent invalid settings");
		return -1;
	}
	return 0;
}

static void shutdown_now(struct srv_state *s, const char *why)
{
	srv_standby_quit(); /* no crash: it must not take these clients over */
	while (s->clients)
		srv_client_remove(s, s->clients, why);
	srv_workers_stop(s, 5000); /* their workers release them meanwhile */
	srv_fault_stop();
	srv_devices_close(&drv, &s->devices);
	omps_log("Exiting");
	exit(0);
}

#define ROUND_US	100000
#define STATS_EVERY_MS 250 /* the clients' counters (stats.c) go to the daemon this often: top's 1 s frames see 4 */
#define FIRST_CLIENT   3    /* in the poll set, after the daemon's socket, the fault watch's, the standby's */

static void serve(struct srv_state *s)
{
	struct pollfd *pfd = NULL;
	struct srv_client **who = NULL;
	size_t cap = 0, next = 0;
	uint64_t swept = 0;

	for (;;) {
		struct srv_client *c;
		size_t n = 0, i, k;
		uint64_t t0;
		int wait_ms;

		if (s->exit_why || (s->draining && !s->nclients))
			shutdown_now(s, s->exit_why ? s->exit_why : "");
		if (cap < s->nclients + FIRST_CLIENT) {
			cap = 2 * (s->nclients + FIRST_CLIENT);
			pfd = realloc(pfd, cap * sizeof(*pfd));
			who = realloc(who, cap * sizeof(*who));
			if (!pfd || !who) {
				omps_log("Out of memory");
				exit(1);
			}
		}
		pfd[n].fd = s->control_fd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = srv_fault_fd(); /* readable once the shared context is poisoned */
		pfd[n++].events = POLLIN;
		pfd[n].fd = srv_standby_fd(); /* -1 (none) is left out by poll */
		pfd[n++].events = POLLIN;
		for (c = s->clients; c; c = c->next) {
			who[n] = c;
			pfd[n].fd = c->fd;
			pfd[n++].events = POLLIN;
		}
		wait_ms = srv_checkpoint_tick(s);
		if (s->nclients && (wait_ms < 0 || wait_ms > STATS_EVERY_MS))
			wait_ms = STATS_EVERY_MS;
		if (poll(pfd, n, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			omps_log("poll failed: %s", strerror(errno));
			exit(1);
		}
		/* Clients first: handling one can only remove that one, while a
		 * daemon message (terminate, forced shutdown) may remove any. A
		 * round takes the ready ones from where the last stopped, for
		 * 100 ms at most: a burst of channels to page-lock must not keep
		 * the daemon's pings waiting (its watch) nor starve the last. */
		if (pfd[1].revents)
			srv_fault_handle(s); /* does not return */
		if (pfd[2].revents && srv_standby_readable(s)) {
			srv_arena_offer(s);
			srv_checkpoint_again();
		}
		t0 = omps_now_us();
		for (k = 1; k <= n - FIRST_CLIENT && omps_now_us() - t0 < ROUND_US; k++) {
			i = FIRST_CLIENT + (next + k - 1) % (n - FIRST_CLIENT);
			if (!pfd[i].revents)
				continue;
			srv_beat_doing(who[i]->pid, "reading a message of client process %d", (int)who[i]->pid);
			srv_client_readable(s, who[i]);
		}
		next += k - 1;
		/* Then the daemon's queue, for as long again: a ping waiting
		 * behind hundreds of admissions is answered within rounds. */
		t0 = omps_now_us();
		while (pfd[0].revents && !s->exit_why && omps_now_us() - t0 < ROUND_US) {
			srv_beat_doing(0, "reading a message of the control daemon");
			if (!srv_control_readable(s) || s->control_fd < 0)
				break;
			pfd[0].fd = s->control_fd; /* its socket blocks: read on only what is there */
			if (poll(pfd, 1, 0) != 1)
				break;
		}
		if (s->nclients && omps_now_us() - swept >= STATS_EVERY_MS * 1000) {
			srv_beat_doing(0, "sending the daemon its clients' counters");
			srv_stats_sweep(s);
			swept = omps_now_us();
		}
		srv_beat_idle();
	}
}

/* What a server made anew does before it serves: its workers, its fault
 * watch, and the next standby. Exits if it cannot. */
static void serve_after_fault(struct srv_state *s, int ok, const char *err)
{
	char why[512];

	if (ok && (srv_workers_start(s, why, sizeof(why)) < 0 || srv_fault_start(s, why, sizeof(why)) < 0)) {
		ok = 0;
		err = why;
	}
	if (!ok) {
		omps_log("The server cannot make itself anew after the fault: %s. Every client loses its context; "
			 "the next client gets a new server",
			 err);
		_exit(OMPS_SERVER_EXIT_FAULT);
	}
	srv_standby_start(s);
	serve(s);
}

/* --resume: this process was a server whose context a GPU fault poisoned;
 * it wrote down its clients and ran itself again (handover.c). If that
 * cannot be read back, it exits as a faulted server always did. */
static int resume_after_fault(struct srv_state *s)
{
	char err[512] = "started without its record";
	int fd = env_fd("OPENMPS_RESUME_FD");

	omps_log("Startup after a GPU fault, in the same process");
	serve_after_fault(s, s->control_fd >= 0 && fd >= 0 &&
				     srv_handover_resume(s, &drv, fd, NULL, 0, NULL, err, sizeof(err)) == 0, err);
	return 0;
}

/* --standby: started by a server (standby.c), this process loads the
 * driver and makes its contexts now, then waits; after a GPU fault it is
 * handed the server's record and descriptors and serves on. If the server
 * stops with no word (killed, crashed), it takes over from the last record
 * the server kept against that (checkpoint.c), and tells the daemon itself.
 * If the server exits as it should, so does the standby, quietly. */
static int standby(struct srv_state *s, char *arg)
{
	int sock = env_fd("OPENMPS_STANDBY_FD"), *given = NULL, how;
	uint64_t t0 = omps_now_us();
	struct srv_words w = {0};
	unsigned n = 0;
	pid_t from = 0;
	char err[512];
	int ok;

	omps_log_init("Standby", s->log_fd, 0);
	if (sock < 0) {
		fprintf(stderr, "openmps-server: --standby is for the server to start\n");
		return 2;
	}
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	if (s->log_fd >= 0)
		fcntl(s->log_fd, F_SETFD, FD_CLOEXEC);
	if (srv_state_init(s, &drv, err, sizeof(err)) < 0) {
		omps_log("Cannot stand by for the server: %s; after a GPU fault the server makes itself anew in its "
			 "own process",
			 err);
		exit(1); /* from here, as the server exits: its state is the process's */
	}
	omps_log("Standing by to take over after a GPU fault (the driver and contexts ready in %.0f ms)",
		 (double)(omps_now_us() - t0) / 1000.0);
	omps_sock_peer(sock, &from, NULL, NULL); /* who made the pair: the server */
	how = srv_standby_wait(s, sock, &given, &n, &w);
	if (how < 0) {
		srv_devices_close(&drv, &s->devices);
		exit(0);
	}
	memset(arg, 0, strlen(arg)); /* ps shows a server, not a standby, from now on */
	omps_log_init("Server", s->log_fd, 0);
	close(sock);
	w.from = from;
	if (how == 1)
		omps_log("Startup after server process %d stopped without handing over, from its last record",
			 (int)from);
	else
		omps_log("Startup after a GPU fault, taking over from the faulted server process %d", (int)from);
	ok = srv_handover_resume(s, &drv, given[0], given, n, how == 1 ? &w : NULL, err, sizeof(err)) == 0;
	free(given);
	if (ok && how == 1 && s->control_fd >= 0) /* the server before cannot say it */
		omps_send(s->control_fd, OMPS_MSG_SERVER_SUCCESSOR, 1, 0, &(int32_t){getpid()}, sizeof(int32_t), -1,
			  1);
	serve_after_fault(s, ok, err);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: openmps-server [--query-devices [--csv]]\n"
		   "  The openmps server is started by openmps-control for each user; do not start it by hand.\n"
		   "  --query-devices   print the devices this server would drive, and exit\n"
		   "  --version         print the version, and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"query-devices", no_argument, 0, 'q'},
					      {"csv", no_argument, 0, 'c'},
					      {"query-chunks", no_argument, 0, 'k'},
					      {"help", no_argument, 0, 'h'},
					      {"version", no_argument, 0, 'v'},
					      {"resume", no_argument, 0, 'r'},
					      {"standby", no_argument, 0, 's'},
					      {0, 0, 0, 0}};
	struct srv_state s = {.control_fd = -1, .usage_fd = -1};
	char err[512];
	int opt, query = 0, csv = 0, resume = 0, beat;
	char *standing_by = NULL;

	while ((opt = getopt_long(argc, argv, "hqv", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			query = 1;
			break;
		case 'c':
			csv = 1;
			break;
		case 'k':
			return query_chunks();
		case 'r':
			resume = 1;
			break;
		case 's':
			standing_by = argv[optind - 1]; /* "--standby", blanked once it serves */
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("openmps-server %s, protocol %d\n", OPENMPS_VERSION, OMPS_PROTOCOL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (query)
		return query_devices(csv);
	signal(SIGPIPE, SIG_IGN);
	/* The real driver must never try NVIDIA MPS on the server's behalf. */
	unsetenv("CUDA_MPS_PIPE_DIRECTORY");
	s.log_fd = env_fd("OPENMPS_LOG_FD");
	omps_log_init("Server", s.log_fd, 0);
	s.control_fd = env_fd("OPENMPS_CONTROL_FD");
	/* Run as /proc/self/exe, whose name the kernel would show (ps, top). */
	prctl(PR_SET_NAME, "openmps-server");
	if (standing_by)
		return standby(&s, standing_by);
	if (resume)
		return resume_after_fault(&s);
	if (s.control_fd < 0) {
		fprintf(stderr, "openmps-server: started without a control daemon; "
				"start openmps-control -d and let it start servers\n");
		return 2;
	}
	omps_log("Startup");
	if (handshake(&s) < 0) {
		omps_log("Handshake with the control daemon failed: %s", strerror(errno));
		return 1;
	}
	omps_log("Initializing server process");
	if (srv_state_init(&s, &drv, err, sizeof(err)) < 0 || srv_workers_start(&s, err, sizeof(err)) < 0 ||
	    srv_fault_start(&s, err, sizeof(err)) < 0) {
		omps_log("Server failed to start: %s", err);
		omps_send(s.control_fd, OMPS_MSG_REFUSED, 0, 0, err, strlen(err), -1, 1);
		return 1;
	}
	s.usage_fd = fcntl(s.control_fd, F_DUPFD_CLOEXEC, 0);
	omps_log("openmps server version %s, protocol %d", OPENMPS_VERSION, OMPS_PROTOCOL_VERSION);
	omps_log("CUDA driver API version: %d", s.devices.driver_version);
	srv_log_settings(&s.settings);
	beat = srv_beat_init(); /* without it, the daemon's watch cannot say where the loop was */
	if (omps_send(s.control_fd, OMPS_MSG_SERVER_READY, 0, 0, &s.devices, sizeof(s.devices), beat, 1) < 0) {
		omps_log("Cannot reach the control daemon: %s", strerror(errno));
		return 1;
	}
	omps_log("Server has started"); /* beat's memfd stays open: a successor maps it again */
	srv_standby_start(&s);
	serve(&s);
	return 0;
}
