/* openmps top: each client's work, live, as top shows processes. Every
 * interval it asks the daemon for ps --json over one front-end session
 * (not logged: a monitor's query) and shows, per client, its share, its
 * memory against its limit, and the kernels, copies, bytes and calls a
 * second it asked of the server since the last frame. NVIDIA's tools see
 * one process, the server: this is where a client's own figures are.
 *   -b      plain frames on stdout, no terminal needed (scripts, logs)
 *   -n N    stop after N frames
 *   -d S    seconds between frames (0.1 to 3600; 1)
 *   -s KEY  sort by k kernels/s, g GPU%, c copies/s, b bytes/s, m memory, p pid, n command
 * GPU% is the share of the interval it had work queued on the GPU (from
 * an asynchronous call to its next good synchronize): its GPU time at most,
 * and the time its work waited behind others'.
 * Keys while it runs: the same letters sort, q quits. */
#include <curses.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "memsize.h"
#include "paths.h"
#include "ui.h"

#define MAX_ROWS 4096
#define LINE	 512

struct row {
	int server, pid, id, uid, priority, sms;
	double share;
	uint64_t used, limit; /* over its devices; limit 0: none */
	uint64_t calls, kernels, copies, bytes;
	double queued;  /* seconds with work queued on the GPU, so far */
	double rate[5]; /* a second: calls, kernels, copies, bytes, queued seconds; NAN: not yet known */
	char command[160];
};

struct frame {
	struct row rows[MAX_ROWS];
	size_t n;
	char servers[8][LINE]; /* one line a server */
	int nservers;
	uint64_t at_us;
};

enum { R_CALLS, R_KERNELS, R_COPIES, R_BYTES, R_QUEUED, NRATES };

static const char SORT_KEYS[] = "kcbmpng";
static char sort_key = 'k';

static uint64_t u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static void take_client(struct frame *f, int server, json_t *k)
{
	struct row *r = &f->rows[f->n++];
	json_t *m;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->server = server;
	r->pid = (int)u64(k, "pid");
	r->id = (int)u64(k, "id");
	r->uid = (int)u64(k, "user");
	r->priority = (int)u64(k, "priority");
	r->sms = (int)u64(k, "sms");
	r->share = json_number_value(json_object_get(k, "active_thread_percentage"));
	snprintf(r->command, sizeof(r->command), "%s", json_string_value(json_object_get(k, "command")) ?: "?");
	json_array_foreach(json_object_get(k, "memory"), i, m) {
		r->used += u64(m, "used");
		r->limit += u64(m, "limit");
	}
	r->calls = u64(k, "calls");
	r->kernels = u64(k, "kernels");
	r->copies = u64(k, "copies");
	r->bytes = u64(k, "copy_bytes");
	r->queued = json_number_value(json_object_get(k, "queued_seconds"));
	for (i = 0; i < NRATES; i++)
		r->rate[i] = NAN;
}

static void take_server(struct frame *f, json_t *s)
{
	const char *late = json_string_value(json_object_get(s, "late"));
	json_t *dev = json_array_get(json_object_get(s, "devices"), 0), *k;
	char mem[32] = "?";
	size_t i;
	int pid = (int)u64(s, "pid");

	if (dev)
		omps_memsize_format(u64(dev, "memory_total"), mem, sizeof(mem));
	if (f->nservers < (int)(sizeof(f->servers) / sizeof(f->servers[0])))
		snprintf(f->servers[f->nservers++], LINE, "server %d, user %d: %s%s%s; GPU 0 %s, %d SMs, %s", pid,
			 (int)u64(s, "user"), json_string_value(json_object_get(s, "state")) ?: "?",
			 late ? ", " : "", late ? late : "",
			 dev ? json_string_value(json_object_get(dev, "name")) ?: "?" : "none", (int)u64(dev, "sms"),
			 mem);
	json_array_foreach(json_object_get(s, "clients"), i, k) {
		if (f->n < MAX_ROWS)
			take_client(f, pid, k);
	}
}

/* The figures a second since prev, for the clients in both. */
static void rates(struct frame *f, const struct frame *prev)
{
	double dt = prev ? (double)(f->at_us - prev->at_us) / 1e6 : 0;
	size_t i, j;

	for (i = 0; dt > 0 && i < f->n; i++) {
		struct row *r = &f->rows[i];

		for (j = 0; j < prev->n; j++) {
			const struct row *p = &prev->rows[j];

			if (p->pid != r->pid || p->id != r->id || p->server != r->server)
				continue;
			r->rate[R_CALLS] = (double)(r->calls - p->calls) / dt;
			r->rate[R_KERNELS] = (double)(r->kernels - p->kernels) / dt;
			r->rate[R_COPIES] = (double)(r->copies - p->copies) / dt;
			r->rate[R_BYTES] = (double)(r->bytes - p->bytes) / dt;
			r->rate[R_QUEUED] = (r->queued - p->queued) / dt;
			break;
		}
	}
}

static int load(int fd, struct frame *f, char *err, size_t errlen)
{
	json_t *doc = cli_snapshot(fd, err, errlen), *s;
	size_t i;

	f->n = 0;
	f->nservers = 0;
	f->at_us = omps_now_us();
	if (!doc)
		return -1;
	json_array_foreach(json_object_get(doc, "servers"), i, s) take_server(f, s);
	json_decref(doc);
	return 0;
}

static double sort_value(const struct row *r)
{
	switch (sort_key) {
	case 'c':
		return r->rate[R_COPIES];
	case 'b':
		return r->rate[R_BYTES];
	case 'm':
		return (double)r->used;
	case 'p':
		return -(double)r->pid;
	case 'g':
		return r->rate[R_QUEUED];
	}
	return r->rate[R_KERNELS];
}

/* Highest first (pid and command: lowest first); unknown rates last. */
static int by_key(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double vx, vy;

	if (sort_key == 'n')
		return strcmp(x->command, y->command);
	vx = sort_value(x);
	vy = sort_value(y);
	if (isnan(vx) || isnan(vy))
		return isnan(vx) - isnan(vy);
	return vx < vy ? 1 : vx > vy ? -1 : x->pid - y->pid;
}

static void user_name(int uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw)
		snprintf(buf, len, "%.8s", pw->pw_name);
	else
		snprintf(buf, len, "%d", uid);
}

static void rate_text(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v >= 1e7)
		snprintf(buf, len, "%.0fM", v / 1e6);
	else
		snprintf(buf, len, "%.0f", v);
}

static void mem_text(uint64_t bytes, int none_dash, char *buf, size_t len)
{
	if (!bytes && none_dash)
		snprintf(buf, len, "-");
	else if (bytes >= (1ull << 30))
		snprintf(buf, len, "%.1fG", (double)bytes / (1 << 30));
	else
		snprintf(buf, len, "%.1fM", (double)bytes / (1 << 20));
}

/* The frame as lines of text, into out (at most max); their count. */
static int render(struct frame *f, const char *err, char (*out)[LINE], int max)
{
	static const char *const names[] = {"KERN/S", "COPY/S", "MB/S", "MEM", "PID", "COMMAND", "GPU%"};
	char clock[16], hdr[LINE], k[16], cp[16], mb[16], calls[16], used[16], limit[16], user[16], gpu[16];
	time_t now = time(NULL);
	int n = 0, i;
	size_t j;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	snprintf(out[n++], LINE, "openmps top - %s - daemon at %s - %d server%s, %zu client%s", clock,
		 omps_pipe_dir(), f->nservers, f->nservers == 1 ? "" : "s", f->n, f->n == 1 ? "" : "s");
	if (err)
		snprintf(out[n++], LINE, "%s", err);
	for (i = 0; i < f->nservers && n < max; i++)
		snprintf(out[n++], LINE, "%s", f->servers[i]);
	snprintf(hdr, sizeof(hdr), "%7s %-8s %6s %4s %3s %7s %7s %5s %8s %7s %7s %8s %-6s %s", "PID", "USER", "SHARE",
		 "SMS", "PRI", "MEM", "LIMIT", "GPU%", "KERN/S", "COPY/S", "MB/S", "CALLS/S", "STATE", "COMMAND");
	for (i = 0; i < 7; i++) /* the sorted column's name, marked */
		if (SORT_KEYS[i] == sort_key) {
			char *at = strstr(hdr, names[i]);

			if (at && at > hdr && at[-1] == ' ')
				at[-1] = '*';
		}
	if (n < max)
		snprintf(out[n++], LINE, "%s", hdr);
	qsort(f->rows, f->n, sizeof(f->rows[0]), by_key);
	for (j = 0; j < f->n && n < max; j++) {
		const struct row *r = &f->rows[j];

		rate_text(r->rate[R_KERNELS], k, sizeof(k));
		rate_text(r->rate[R_COPIES], cp, sizeof(cp));
		rate_text(r->rate[R_CALLS], calls, sizeof(calls));
		if (isnan(r->rate[R_BYTES]))
			snprintf(mb, sizeof(mb), "-");
		else
			snprintf(mb, sizeof(mb), "%.1f", r->rate[R_BYTES] / (1 << 20));
		if (isnan(r->rate[R_QUEUED]))
			snprintf(gpu, sizeof(gpu), "-");
		else
			snprintf(gpu, sizeof(gpu), "%.0f", fmin(100.0, 100.0 * r->rate[R_QUEUED]));
		mem_text(r->used, 0, used, sizeof(used));
		mem_text(r->limit, 1, limit, sizeof(limit));
		user_name(r->uid, user, sizeof(user));
		snprintf(out[n++], LINE, "%7d %-8s %5.1f%% %4d %3d %7s %7s %5s %8s %7s %7s %8s %-6s %s", r->pid, user,
			 r->share, r->sms, r->priority, used, limit, gpu, k, cp, mb, calls,
			 isnan(r->rate[R_CALLS]) ? "-" : r->rate[R_CALLS] > 0 ? "active" : "idle", r->command);
	}
	return n;
}

static void draw(char (*lines)[LINE], int n)
{
	int i;

	erase();
	for (i = 0; i < n && i < LINES - 1; i++) {
		int header = !strncmp(lines[i], "    PID", 7) || !strncmp(lines[i], "   *PID", 7);

		if (header)
			attron(A_REVERSE);
		mvaddnstr(i, 0, lines[i], COLS);
		if (header)
			attroff(A_REVERSE);
	}
	mvaddnstr(LINES - 1, 0, "sort: k kernels/s  g GPU%  c copies/s  b bytes/s  m memory  p pid  n command    q quit",
		  COLS);
	refresh();
}

static int parse_args(int argc, char **argv, int *batch, long *frames, double *delay)
{
	int opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "bn:d:s:h")) != -1) {
		switch (opt) {
		case 'b':
			*batch = 1;
			break;
		case 'n':
			*frames = strtol(optarg, NULL, 10);
			if (*frames < 1)
				goto bad;
			break;
		case 'd':
			*delay = strtod(optarg, NULL);
			if (!(*delay >= 0.1 && *delay <= 3600))
				goto bad;
			break;
		case 's':
			if (strlen(optarg) != 1 || !strchr(SORT_KEYS, optarg[0]))
				goto bad;
			sort_key = optarg[0];
			break;
		default:
			goto bad;
		}
	}
	if (optind == argc)
		return 0;
bad:
	fprintf(stderr, "Usage: openmps top [-b] [-n FRAMES] [-d SECONDS (0.1 to 3600)] [-s k|g|c|b|m|p|n]\n");
	return -1;
}

int cli_top(int argc, char **argv)
{
	static struct frame frames[2];
	static char lines[MAX_ROWS + 16][LINE];
	char err[512];
	double delay = 1.0;
	long count = 0, frames_max = -1;
	int batch = 0, fd, cur = 0, n, key = 0, failed;

	if (parse_args(argc, argv, &batch, &frames_max, &delay) < 0)
		return 2;
	fd = omps_ui_open(err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || !initscr())) {
		fprintf(stderr, "openmps top: needs a terminal; -b prints plain frames\n");
		close(fd);
		return 1;
	}
	if (!batch) {
		cbreak();
		noecho();
		curs_set(0);
		keypad(stdscr, TRUE);
	}
	for (;;) {
		struct frame *f = &frames[cur];

		failed = load(fd, f, err, sizeof(err)) < 0;
		rates(f, count ? &frames[!cur] : NULL);
		n = render(f, failed ? err : NULL, lines, (int)(sizeof(lines) / sizeof(lines[0])));
		count++;
		if (batch) {
			for (int i = 0; i < n; i++)
				puts(lines[i]);
			putchar('\n');
			fflush(stdout);
		} else {
			draw(lines, n);
		}
		if (failed || (frames_max > 0 && count >= frames_max))
			break;
		cur = !cur;
		if (batch) {
			usleep((useconds_t)(delay * 1e6));
			continue;
		}
		/* Keys until the next frame: a sort redraws this one at once. */
		for (uint64_t until = omps_now_us() + (uint64_t)(delay * 1e6), now; (now = omps_now_us()) < until;) {
			timeout((int)((until - now) / 1000) + 1);
			key = getch();
			if (key == 'q' || key == 'Q')
				goto out;
			if (key > 0 && key < 128 && strchr(SORT_KEYS, key)) {
				sort_key = (char)key;
				n = render(&frames[!cur], NULL, lines, (int)(sizeof(lines) / sizeof(lines[0])));
				draw(lines, n);
			} else if (key == KEY_RESIZE) {
				draw(lines, n);
			}
		}
	}
out:
	if (!batch)
		endwin();
	close(fd);
	if (failed)
		fprintf(stderr, "openmps top: %s\n", err);
	return failed;
}
