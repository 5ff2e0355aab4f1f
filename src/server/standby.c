/* The warm standby: a second server process, started ahead, that has
 * loaded the driver and made its contexts, and waits. After a GPU fault the
 * server writes its record down as for a new image (handover.c), but hands
 * the record and every descriptor it names to the standby over a socket,
 * tells the daemon the standby's pid, and exits; the standby reads the
 * record as a new image would and serves on. That takes the execve (the
 * kernel tearing down the faulted image) and the driver's start (about 200
 * of the 225 ms an H200 took) off the path from the fault to serving again.
 *
 * The standby is the server's child until the server exits; then the
 * daemon, a child subreaper, adopts it. Without a standby that answers
 * (OPENMPS_FAULT_STANDBY=0, a GPU in exclusive-process mode, a standby
 * that died), the server makes itself anew in its own process as before.
 *
 * The socket between them (SOCK_SEQPACKET), each message a struct
 * standby_msg: the standby sends 'R' once it is ready; the server then
 * sends each of its memory chunks (and each new one as it is made, and
 * each it gives back), which the standby maps at once at the same address
 * (arena.c): after a fault it need not, and where this process has that
 * address taken ('X'), the server starts another standby while there is
 * no fault (up to MAX_REDOS times), since a successor without it loses the
 * clients whose memory is there. After a fault the server sends the
 * descriptors, at most BATCH a message; the standby answers 'T' once it
 * has them all, and from then on it is the server. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "sock.h"

#define BATCH	       OMPS_MAX_PASS_FDS
/* For a standby still starting when the fault comes. One takes 0.9-4.4 s
 * to start on the H200; yet waiting for it is sooner than making the server
 * anew in its own process, whose driver and context take as long beside
 * busy clients: in soaks of faults one after another, 740-800 ms from the
 * fault seen to serving again waiting, 1.5-1.7 s not waiting (100 ms). */
#define READY_WAIT_MS  2000
#define TAKEN_WAIT_MS  2000
#define SEND_WAIT_MS   500 /* a blocking send to the standby, at most */
#define CHILD_SOCK_FD  3 /* where the standby finds its socket, and the log */
#define CHILD_LOG_FD   4
#define MAX_FDS	       65536
#define MAX_REDOS      8 /* standbys started again for a chunk they could not map */
#define STR_(x)	       #x
#define STR(x)	       STR_(x)

extern char **environ;

/* BATCH: a fault's record and its descriptors (take over now); RECORD: a
 * record kept against a crash (checkpoint.c), in place of the one before;
 * WORDS: the memfd of the clients' words, once; FORGET: no client is to be
 * kept now, the record before is dropped; QUIT: the server exits with no
 * crash, and so does the standby. */
enum { STANDBY_BATCH, STANDBY_CHUNK, STANDBY_UNCHUNK, STANDBY_RECORD, STANDBY_WORDS, STANDBY_QUIT, STANDBY_FORGET };

struct standby_msg {
	uint32_t kind;
	int32_t dev;	 /* a chunk's */
	uint64_t base, size;
	uint32_t total; /* a batch: descriptors in all */
	uint32_t count; /* in this message */
	uint32_t first; /* the place of its first in the batch */
};

/* The server's side. Workers tell it of chunks (arena.c) while the main
 * thread may replace it: the lock. */
static struct {
	pthread_mutex_t lock;
	pid_t pid; /* 0: none */
	int fd;	   /* the server's end of the socket; -1: none */
	int ready;
	int words_sent; /* the words' memfd went to this standby */
	unsigned redos;
} standby = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

int srv_standby_enabled(void)
{
	const char *v = getenv("OPENMPS_FAULT_STANDBY");

	return srv_handover_enabled() && (!v || strcmp(v, "0"));
}

static int named(const char *var, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(var, name, n) && var[n] == '=';
}

/* The environment without the variables that name descriptors or address
 * windows: the standby is told its own, and the server's windows (windows:
 * "NAME=..."), which it reserves as it starts. */
static char **child_env(char *windows)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + 4, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!named(environ[i], "OPENMPS_STANDBY_FD") && !named(environ[i], "OPENMPS_LOG_FD") &&
		    !named(environ[i], SRV_ARENA_WINDOWS_ENV))
			env[k++] = environ[i];
	env[k++] = "OPENMPS_STANDBY_FD=" STR(CHILD_SOCK_FD);
	env[k++] = "OPENMPS_LOG_FD=" STR(CHILD_LOG_FD);
	if (strchr(windows, '=')[1])
		env[k++] = windows;
	return env;
}

/* Reaps a standby that is gone, or kills and reaps one that failed us. */
static void drop(const char *why)
{
	pthread_mutex_lock(&standby.lock);
	if (why)
		omps_log("The standby server process %d %s; without it a GPU fault makes the server anew in its own "
			 "process",
			 (int)standby.pid, why);
	if (standby.pid > 0) {
		kill(standby.pid, SIGKILL);
		waitpid(standby.pid, NULL, 0);
	}
	if (standby.fd >= 0)
		close(standby.fd);
	standby.pid = 0;
	standby.fd = -1;
	standby.ready = 0;
	standby.words_sent = 0;
	pthread_mutex_unlock(&standby.lock);
}

void srv_standby_start(struct srv_state *s)
{
	posix_spawn_file_actions_t fa;
	int sv[2] = {-1, -1}, child = -1, log_fd = -1, r;
	char *argv[] = {"openmps-server", "--standby", NULL}, **env = NULL;
	char windows[512] = SRV_ARENA_WINDOWS_ENV "=";
	size_t w = strlen(windows);
	pid_t pid;

	if (!srv_standby_enabled() || standby.pid)
		return;
	srv_arena_windows(s, windows + w, sizeof(windows) - w);
	if (omps_sock_pair(sv) < 0 || (child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (s->log_fd >= 0 && (log_fd = fcntl(s->log_fd, F_DUPFD_CLOEXEC, 10)) < 0) ||
	    !(env = child_env(windows))) {
		omps_log("Cannot start a standby server process: %s", strerror(errno));
		goto out;
	}
	/* dup2 to another number clears close-on-exec there, and only there. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, child, CHILD_SOCK_FD);
	if (log_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, log_fd, CHILD_LOG_FD);
	r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		omps_log("Cannot start a standby server process: %s", strerror(r));
		goto out;
	}
	/* A standby that does not read for this long is broken: a send to it
	 * fails rather than hold the main loop (a record, a fault's hand-over). */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){.tv_usec = SEND_WAIT_MS * 1000},
		   sizeof(struct timeval));
	pthread_mutex_lock(&standby.lock);
	standby.pid = pid;
	standby.fd = sv[0];
	pthread_mutex_unlock(&standby.lock);
	sv[0] = -1;
	omps_log("Standby server process %d started: it makes its contexts now, to take over after a GPU fault",
		 (int)pid);
out:
	free(env);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (child >= 0)
		close(child);
	if (log_fd >= 0)
		close(log_fd);
}

/* Whether the standby said it is ready within ms (0: just look). */
static int is_ready(int ms)
{
	uint64_t end = omps_now_us() + (uint64_t)ms * 1000;
	char b = 0;

	while (!standby.ready) {
		struct pollfd p = {.fd = standby.fd, .events = POLLIN};
		int64_t left = (int64_t)(end - omps_now_us()) / 1000;
		int n = poll(&p, 1, left > 0 ? (int)left : 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (recv(standby.fd, &b, 1, 0) != 1 || b != 'R') {
			drop(b == 'X' ? "could not map a chunk" : "is gone (server.log says why)");
			return 0;
		}
		pthread_mutex_lock(&standby.lock);
		standby.ready = 1; /* offered no chunks: after the fault it maps them itself */
		pthread_mutex_unlock(&standby.lock);
	}
	return 1;
}

/* One message and its descriptors. block 0 for word of a chunk, which a
 * worker sends holding its arena's lock: a standby that falls behind maps
 * it at the handover. */
static int send_msg(int sock, const struct standby_msg *m, const int *fds, uint32_t nfds, int block)
{
	struct iovec iov = {(void *)m, sizeof(*m)};

	return omps_send_fds(sock, &iov, 1, fds, nfds, block);
}

void srv_standby_chunk(int dev, CUdeviceptr base, uint64_t size, int fd)
{
	struct standby_msg m = {.kind = STANDBY_CHUNK, .dev = dev, .base = base, .size = size};

	pthread_mutex_lock(&standby.lock);
	if (standby.ready && fd >= 0)
		send_msg(standby.fd, &m, &fd, 1, 0);
	pthread_mutex_unlock(&standby.lock);
}

void srv_standby_unchunk(int dev, CUdeviceptr base, uint64_t size)
{
	struct standby_msg m = {.kind = STANDBY_UNCHUNK, .dev = dev, .base = base, .size = size};

	pthread_mutex_lock(&standby.lock);
	if (standby.ready)
		send_msg(standby.fd, &m, NULL, 0, 0); /* missed: let go at the handover */
	pthread_mutex_unlock(&standby.lock);
}

int srv_standby_fd(void)
{
	return standby.fd;
}

int srv_standby_readable(struct srv_state *s)
{
	char b = 0;
	ssize_t n = recv(standby.fd, &b, 1, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 1 && b == 'R' && !standby.ready) {
		pthread_mutex_lock(&standby.lock);
		standby.ready = 1;
		pthread_mutex_unlock(&standby.lock);
		return 1;
	}
	if (n == 1 && b == 'X' && standby.redos < MAX_REDOS) {
		standby.redos++;
		drop(NULL); /* it said why in server.log */
		srv_standby_start(s);
		return 0;
	}
	drop(n == 1 && b == 'X' ? "could not map a chunk, as the ones before it" : "is gone (server.log says why)");
	return 0;
}

int srv_standby_ready(void)
{
	return standby.ready;
}

/* The descriptors of a record (kind BATCH or RECORD), BATCH at a time,
 * each message saying where its first stands (the caller holds
 * standby.lock where a worker may send a chunk meanwhile). 0, or -1. */
static int send_batch(uint32_t kind, const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i += BATCH) {
		struct standby_msg m = {.kind = kind, .total = n, .count = n - i < BATCH ? n - i : BATCH, .first = i};

		if (send_msg(standby.fd, &m, fds + i, m.count, 1) < 0)
			return -1;
	}
	return 0;
}

/* The main loop's, as standby.ready is written only by it. A standby that
 * does not take it is let go, and another started. */
int srv_standby_record(struct srv_state *s, const int *fds, unsigned n)
{
	struct standby_msg w = {.kind = STANDBY_WORDS};
	int words = srv_checkpoint_fd(), r = 0;

	if (!standby.ready || words < 0)
		return -1;
	pthread_mutex_lock(&standby.lock);
	if (!standby.words_sent)
		r = send_msg(standby.fd, &w, &words, 1, 1);
	standby.words_sent = r == 0;
	if (r == 0 && !n)
		r = send_msg(standby.fd, &(struct standby_msg){.kind = STANDBY_FORGET}, NULL, 0, 1);
	else if (r == 0)
		r = send_batch(STANDBY_RECORD, fds, n);
	pthread_mutex_unlock(&standby.lock);
	if (r == 0)
		return 0;
	omps_log("Cannot hand the standby server process %d a record against a crash: %s", (int)standby.pid,
		 errno == EAGAIN ? "it did not read its socket within " STR(SEND_WAIT_MS) " ms" : strerror(errno));
	drop(NULL); /* said just now */
	srv_standby_start(s);
	return -1;
}

void srv_standby_quit(void)
{
	struct standby_msg m = {.kind = STANDBY_QUIT};

	pthread_mutex_lock(&standby.lock);
	if (standby.fd >= 0)
		send_msg(standby.fd, &m, NULL, 0, 1);
	pthread_mutex_unlock(&standby.lock);
}

pid_t srv_standby_take(struct srv_state *s, const int *fds, unsigned n)
{
	struct pollfd p;
	pid_t pid = standby.pid;
	char b = 0;
	int r;

	if (!standby.pid)
		return 0;
	if (!is_ready(READY_WAIT_MS)) {
		if (standby.pid)
			drop("was not ready within " STR(READY_WAIT_MS) " ms of the fault");
		return 0;
	}
	if (send_batch(STANDBY_BATCH, fds, n) < 0) {
		drop("could not be handed the clients");
		return 0;
	}
	p = (struct pollfd){.fd = standby.fd, .events = POLLIN};
	do
		r = poll(&p, 1, TAKEN_WAIT_MS);
	while (r < 0 && errno == EINTR);
	while (r == 1 && recv(standby.fd, &b, 1, 0) == 1 && b == 'R')
		r = poll(&p, 1, TAKEN_WAIT_MS); /* a ready word the main loop had not read yet */
	if (r != 1 || b != 'T') {
		drop("did not take the clients over"); /* killed: never two servers */
		return 0;
	}
	if (s->control_fd >= 0)
		omps_send(s->control_fd, OMPS_MSG_SERVER_SUCCESSOR, 0, 0, &(int32_t){pid}, sizeof(int32_t), -1, 1);
	return pid;
}

/* ---- the standby's side */

static void close_all(const int *fds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		close(fds[i]);
}

/* One message, and the descriptors it carries (at most BATCH) at fds;
 * their count; -1 once the server is gone (or the socket failed); -2 for
 * a message cut short or whose descriptors did not all fit (this process's
 * limit): those it did bring are closed. */
static int receive(int sock, struct standby_msg *m, int *fds)
{
	struct iovec iov = {m, sizeof(*m)};
	union {
		char buf[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	int got = 0;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && !got) {
			got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), (size_t)got * sizeof(int));
		}
	if (n != (ssize_t)sizeof(*m) || (msg.msg_flags & MSG_CTRUNC)) {
		close_all(fds, (uint32_t)got);
		return -2;
	}
	return got;
}

/* A chunk the server made: mapped here now, at its address; 'X' and -1
 * where this process cannot have it there. */
static int chunk_ahead(struct srv_state *s, int sock, const struct standby_msg *m, int fd)
{
	if (srv_arena_map_ahead(s, m->dev, m->base, m->size, fd) == 0)
		return 0;
	omps_log("Cannot map the server's memory chunk at 0x%llx there: this process has the address taken; the "
		 "server starts another standby",
		 (unsigned long long)m->base);
	(void)!send(sock, "X", 1, MSG_NOSIGNAL);
	/* Until the server lets go: a socket closed with messages unread
	 * resets its peer, which would then read an error, not the 'X'. */
	for (int fds[BATCH], k; (k = receive(sock, &(struct standby_msg){0}, fds)) >= 0;)
		close_all(fds, (uint32_t)k);
	return -1;
}

/* Descriptors coming in batches: a fault's record, or one kept against a
 * crash. */
struct batch {
	int *fds; /* room for MAX_FDS and one message more */
	uint32_t kind, total, have;
};

static int batch_init(struct batch *b)
{
	b->have = b->total = 0;
	b->fds = malloc((MAX_FDS + BATCH) * sizeof(*b->fds));
	return b->fds ? 0 : -1;
}

static void batch_drop(struct batch *b)
{
	if (b->fds)
		close_all(b->fds, b->have);
	b->have = b->total = 0;
}

/* A message of k descriptors (landed at b->fds + b->have) added; -1 if it
 * does not fit the batch under way (its descriptors closed). */
static int batch_add(struct batch *b, const struct standby_msg *m, int k)
{
	if ((uint32_t)k != m->count || !m->total || m->total > MAX_FDS || m->first != b->have ||
	    (b->have && (m->total != b->total || m->kind != b->kind)) || m->count > m->total - b->have) {
		close_all(b->fds + b->have, (uint32_t)k);
		return -1;
	}
	b->kind = m->kind;
	b->total = m->total;
	b->have += (uint32_t)k;
	return 0;
}

/* The words' memfd mapped, for a takeover after a crash. */
static int map_words(int fd, struct srv_words *w)
{
	struct stat st;
	void *m;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    (m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return -1;
	w->words = m;
	w->n = (uint32_t)((size_t)st.st_size / sizeof(uint64_t));
	w->seen_us = omps_now_us();
	return 0;
}

int srv_standby_wait(struct srv_state *s, int sock, int **fds, unsigned *n, struct srv_words *w)
{
	struct batch cur = {0}, rec = {0}, t;
	struct standby_msg m;
	int k, words = -1, r = -1;
	unsigned cut = 0;

	if (send(sock, "R", 1, MSG_NOSIGNAL) != 1 || batch_init(&cur) < 0 || batch_init(&rec) < 0)
		goto out;
	for (;;) {
		k = receive(sock, &m, cur.fds + cur.have);
		if (k == -2 || (k >= 0 && m.kind == STANDBY_RECORD && batch_add(&cur, &m, k) < 0)) {
			/* A record not had whole: the one before stays (its words say
			 * whom it still holds for); a fault's hand-over fails. */
			if (cur.have && cur.kind == STANDBY_BATCH)
				goto out;
			if (!cut++)
				omps_log("A record against a crash did not come whole (this process's descriptor "
					 "limit?); the one before stays");
			batch_drop(&cur);
			continue;
		}
		if (k < 0) { /* the server is gone: with no word, a crash */
			if (rec.have && rec.have == rec.total && map_words(words, w) == 0) {
				omps_log("The server stopped without handing over (killed or crashed): taking over "
					 "the clients its last record named");
				*fds = rec.fds;
				*n = rec.have;
				rec.fds = NULL;
				r = 1;
			} else {
				omps_log("The server stopped without handing over, and had no record of its clients "
					 "(none was idle, or OPENMPS_CRASH_RECORD=0): they lose their server");
			}
			goto out;
		}
		if (m.kind == STANDBY_CHUNK && !cur.have) {
			if (k != 1 || chunk_ahead(s, sock, &m, cur.fds[0]) < 0) {
				close_all(cur.fds, (uint32_t)k > 1 ? (uint32_t)k : 0);
				goto out;
			}
			continue;
		}
		if (m.kind == STANDBY_WORDS && k == 1 && !cur.have) {
			if (words >= 0)
				close(words);
			words = cur.fds[0];
			continue;
		}
		if (m.kind != STANDBY_BATCH && m.kind != STANDBY_RECORD) { /* RECORD: added above */
			close_all(cur.fds + cur.have, (uint32_t)k);
			if (m.kind == STANDBY_UNCHUNK && !cur.have)
				srv_arena_unmap_ahead(s, m.dev, m.base);
			if (m.kind == STANDBY_QUIT)
				goto out; /* the server exits with no crash */
			if (m.kind == STANDBY_FORGET && !cur.have)
				batch_drop(&rec);
			continue;
		}
		if (m.kind == STANDBY_BATCH && batch_add(&cur, &m, k) < 0)
			goto out;
		if (cur.have < cur.total)
			continue;
		if (cur.kind == STANDBY_BATCH)
			break;
		batch_drop(&rec); /* the record before, replaced */
		t = rec;
		rec = cur;
		cur = t;
	}
	if (send(sock, "T", 1, MSG_NOSIGNAL) != 1)
		goto out;
	*fds = cur.fds;
	*n = cur.have;
	cur.fds = NULL;
	r = 0;
out:
	batch_drop(&cur);
	batch_drop(&rec);
	free(cur.fds);
	free(rec.fds);
	if (words >= 0)
		close(words); /* mapped, if it is to be read */
	return r;
}
