/* The control daemon's life: taking the pipe directory, the poll loop over
 * its socket, its connections, its servers and their signals, and quitting. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "paths.h"
#include "settings.h"
#include "sock.h"

/* -M: one context for every user, and nothing between their kernels. */
#define MULTIUSER_WARNING                                                                          \
	"-M: the clients of every user share one GPU context; their kernels can read and write each " \
	"other's memory, so these users trust each other"

double ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ctl_wake_at(double *next, double at)
{
	if (!*next || at < *next)
		*next = at;
}

static int take_lock(struct ctl_daemon *d, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", omps_pipe_dir(), OMPS_CONTROL_LOCK);
	fd = openat(d->pipe_dirfd, OMPS_CONTROL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "An instance of this daemon is already running (pipe directory %s)",
				 omps_pipe_dir());
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd; /* held, and so the lock, until the daemon exits */
}

/* A new file, never through a symbolic link someone left there. */
static int write_pid_file(struct ctl_daemon *d)
{
	FILE *f;
	int fd;

	snprintf(d->pid_path, sizeof(d->pid_path), "%s/%s", omps_pipe_dir(), OMPS_CONTROL_PID);
	unlinkat(d->pipe_dirfd, OMPS_CONTROL_PID, 0);
	fd = openat(d->pipe_dirfd, OMPS_CONTROL_PID, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

/* The socket, in the directory held open: bound through /proc/self/fd, so
 * that it lands where the checks were made, mode 0666 from the umask (no
 * chmod by path afterwards). */
static int listen_socket(struct ctl_daemon *d)
{
	char at[64];
	mode_t old;
	int fd;

	snprintf(at, sizeof(at), "/proc/self/fd/%d/%s", d->pipe_dirfd, OMPS_CONTROL_SOCKET);
	unlinkat(d->pipe_dirfd, OMPS_CONTROL_SOCKET, 0); /* we hold the lock: one there is a dead daemon's */
	old = umask(0111);
	fd = omps_sock_listen(at, 128);
	umask(old);
	return fd;
}

static int find_server_binary(struct ctl_daemon *d)
{
	char self[PATH_MAX];

	if (omps_self_dir(self, sizeof(self)) < 0)
		return -1;
	if (snprintf(d->server_path, sizeof(d->server_path), "%.*s/openmps-server",
		     (int)(sizeof(d->server_path) - 32), self) < 0)
		return -1;
	return access(d->server_path, X_OK);
}

/* Raises the descriptor limit: every client holds one connection here. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int setup(struct ctl_daemon *d, int foreground, char *err, size_t errlen)
{
	int log_fd;

	d->uid = geteuid();
	d->listen_fd = -1;
	omps_settings_defaults(&d->defaults);
	if (find_server_binary(d) < 0) {
		snprintf(err, errlen, "cannot find openmps-server beside openmps-control (%s)", d->server_path);
		return -1;
	}
	if (d->static_parts && ctl_partitions_init(d, err, errlen) < 0)
		return -1; /* before the directories: a failed start takes nothing */
	/* The pipe directory is created private (0700), or for the allowed
	 * groups, who may reach the socket in it (0710, the first group's);
	 * one made beforehand by an operator may be wider, to let other
	 * users' clients in. */
	d->pipe_dirfd = ctl_access_take_dir(omps_pipe_dir(), "pipe", d->nallow ? 0710 : 0700,
					    d->nallow ? d->allow[0] : (gid_t)-1, err, errlen);
	if (d->pipe_dirfd < 0)
		return -1;
	d->log_dirfd = ctl_access_take_dir(omps_log_dir(), "log", 0755, (gid_t)-1, err, errlen);
	if (d->log_dirfd < 0 || take_lock(d, err, errlen) < 0)
		return -1;
	log_fd = omps_log_open(d->log_dirfd, "control.log");
	d->server_log_fd = omps_log_open(d->log_dirfd, "server.log");
	if (log_fd < 0 || d->server_log_fd < 0) {
		snprintf(err, errlen, "cannot open the logs in %s: %s", omps_log_dir(), strerror(errno));
		return -1;
	}
	omps_log_init("Control", log_fd, foreground);
	if (omps_pipe_path(d->socket_path, sizeof(d->socket_path), OMPS_CONTROL_SOCKET) < 0) {
		snprintf(err, errlen, "the pipe directory %s is too long for a socket path", omps_pipe_dir());
		return -1;
	}
	d->listen_fd = listen_socket(d);
	if (d->listen_fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", d->socket_path, strerror(errno));
		return -1;
	}
	if (write_pid_file(d) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", d->pid_path, strerror(errno));
		return -1;
	}
	raise_nofile();
	omps_log("Starting control daemon using socket %s", d->socket_path);
	omps_log("To connect CUDA applications to this daemon, set env OPENMPS_PIPE_DIRECTORY=%s",
		 omps_pipe_dir());
	omps_log("openmps control version %s, protocol %d%s", OPENMPS_VERSION, OMPS_PROTOCOL_VERSION,
		 d->multiuser ? ", multi-user server" : "");
	if (d->multiuser)
		omps_log("%s", MULTIUSER_WARNING);
	return 0;
}

struct ctl_conn *ctl_conn_by_serial(struct ctl_daemon *d, uint64_t serial)
{
	struct ctl_conn *c;

	for (c = d->conns; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

void ctl_conn_close(struct ctl_daemon *d, struct ctl_conn *c)
{
	struct ctl_conn **pp;

	if (c->role == CONN_CLIENT)
		ctl_client_gone(d, c);
	else if (c->role == CONN_UI)
		omps_log("UI closed");
	for (pp = &d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	close(c->fd);
	free(c);
}

/* Sends an answer in packets that each fit the protocol's limit. */
void ctl_answer(struct ctl_daemon *d, struct ctl_conn *c, const char *text, size_t len, int failed)
{
	const size_t chunk = OMPS_MSG_MAX - sizeof(struct omps_msg);

	do {
		size_t n = len < chunk ? len : chunk;
		uint32_t more = len > n ? OMPS_MSGF_MORE : 0;

		if (omps_send(c->fd, OMPS_MSG_UI_ANSWER, failed, more, text, n, -1, 0) < 0) {
			omps_log("Cannot answer UI (pid %d): %s", (int)c->pid, strerror(errno));
			ctl_conn_close(d, c);
			return;
		}
		text += n;
		len -= n;
	} while (len);
}

static void ui_command(struct ctl_daemon *d, struct ctl_conn *c, const char *payload, ssize_t n)
{
	struct ctl_reply r = {0};
	char line[4096], *text = NULL;
	size_t len = 0;

	if (c->wait_seq || c->wait_job || c->wait_start) {
		const char *busy = "One command at a time: the previous one is still running\n";

		ctl_answer(d, c, busy, strlen(busy), 1);
		return;
	}
	if ((size_t)n >= sizeof(line) || memchr(payload, '\0', (size_t)n)) {
		const char *bad = "Command line too long or not text\n";

		ctl_answer(d, c, bad, strlen(bad), 1);
		return;
	}
	memcpy(line, payload, (size_t)n);
	line[n] = '\0';
	r.unlogged = ctl_command_unlogged(line);
	if (!r.unlogged)
		omps_log("Cmd:%s", line);
	r.out = open_memstream(&text, &len);
	if (!r.out) {
		omps_log("Out of memory");
		ctl_conn_close(d, c);
		return;
	}
	ctl_command(d, c, line, &r);
	fclose(r.out);
	if (!r.deferred) {
		if (!r.unlogged)
			omps_log_lines(text);
		ctl_answer(d, c, text, len, r.failed);
	}
	free(text);
}

static void conn_hello(struct ctl_daemon *d, struct ctl_conn *c, const struct omps_msg *hdr, const char *buf,
		       ssize_t n)
{
	struct omps_hello h;
	char err[256];

	if (omps_check_hello(buf, (size_t)n, hdr, err, sizeof(err)) < 0)
		goto refuse;
	if (!ctl_access_allowed(d, c->fd, c->uid, err, sizeof(err)))
		goto refuse;
	memcpy(&h, buf, sizeof(h));
	if (h.role == OMPS_ROLE_UI && (size_t)n == sizeof(h)) {
		c->role = CONN_UI;
		omps_log("NEW UI");
		if (omps_send(c->fd, OMPS_MSG_WELCOME, 0, 0, NULL, 0, -1, 0) < 0)
			ctl_conn_close(d, c);
		return;
	}
	if (h.role == OMPS_ROLE_CLIENT) {
		ctl_client_hello(d, c, buf + sizeof(h), (size_t)n - sizeof(h));
		return;
	}
	snprintf(err, sizeof(err), "role %u is not accepted on this socket", h.role);
refuse:
	omps_log("Connection from pid %d user %u refused: %s", (int)c->pid, (unsigned)c->uid, err);
	omps_send(c->fd, OMPS_MSG_REFUSED, 0, 0, err, strlen(err), -1, 0);
	ctl_conn_close(d, c);
}

void ctl_conn_readable(struct ctl_daemon *d, struct ctl_conn *c)
{
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	ssize_t n = omps_recv(c->fd, &hdr, buf, sizeof(buf), NULL);

	if (n < 0) {
		if (errno == EAGAIN)
			return;
		if (errno != ECONNRESET)
			omps_log("Dropping connection of pid %d: %s", (int)c->pid,
				 errno == EMSGSIZE ? "oversized message" : "malformed message");
		ctl_conn_close(d, c);
		return;
	}
	if (c->role == CONN_NEW) {
		conn_hello(d, c, &hdr, buf, n);
	} else if (c->role == CONN_UI && hdr.type == OMPS_MSG_UI_COMMAND) {
		ui_command(d, c, buf, n);
	} else {
		omps_log("Unexpected message type %u from pid %d; closing its connection", hdr.type,
			 (int)c->pid);
		ctl_conn_close(d, c);
	}
}

/* A connection that says nothing for this long is dropped; a user other
 * than root and the daemon's keeps at most CONNS_PER_USER at once
 * (security review M4: silent connections took every descriptor). */
#define HELLO_TIMEOUT_S 10.0
#define CONNS_PER_USER 1024
#define CONNS_REFUSED 16 /* of a user --allow-group leaves out */

/* A line for a dropped connection, at most one a second: a flood of them
 * must not flood the log. Those held back are counted, and told with the
 * last of them a second later (drops_flush). */
static void dropped(struct ctl_daemon *d, pid_t pid, uid_t uid, const char *why)
{
	if (ctl_now() - d->drops_logged < 1.0) {
		d->drops_unlogged++;
		snprintf(d->drop_last, sizeof(d->drop_last), "pid %d user %u: %s", (int)pid, (unsigned)uid, why);
		return;
	}
	omps_log("Dropping the connection of pid %d user %u: %s", (int)pid, (unsigned)uid, why);
	d->drops_logged = ctl_now();
}

static void drops_flush(struct ctl_daemon *d, double *next)
{
	double at = d->drops_logged + 1.0;

	if (!d->drops_unlogged)
		return;
	if (ctl_now() < at) {
		ctl_wake_at(next, at);
		return;
	}
	omps_log("Dropped %u more connections in a second; the last: %s", d->drops_unlogged, d->drop_last);
	d->drops_unlogged = 0;
	d->drops_logged = ctl_now();
}

static unsigned conns_of(const struct ctl_daemon *d, uid_t uid)
{
	const struct ctl_conn *c;
	unsigned n = 0;

	for (c = d->conns; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* Whom the daemon keeps: checked at accept, before a byte is read. */
static int welcome(struct ctl_daemon *d, int fd, pid_t pid, uid_t uid)
{
	char why[256];

	/* A user the daemon will refuse at hello keeps a few connections, to be
	 * told why there. */
	unsigned most = ctl_access_allowed(d, fd, uid, why, sizeof(why)) ? CONNS_PER_USER : CONNS_REFUSED;

	if (uid == 0 || uid == d->uid || conns_of(d, uid) < most)
		return 1;
	snprintf(why, sizeof(why), "the user has %u connections, the most one may", most);
	dropped(d, pid, uid, why);
	return 0;
}

/* Connections still silent past their time are dropped; next: when the
 * first of the others runs out. */
static void silent_conns(struct ctl_daemon *d, double *next)
{
	double now = ctl_now();
	struct ctl_conn *c, *after;

	for (c = d->conns; c; c = after) {
		after = c->next;
		if (c->role != CONN_NEW)
			continue;
		if (now >= c->accepted + HELLO_TIMEOUT_S) {
			dropped(d, c->pid, c->uid, "it said nothing for 10 s");
			ctl_conn_close(d, c);
		} else {
			ctl_wake_at(next, c->accepted + HELLO_TIMEOUT_S);
		}
	}
}

static void accept_conns(struct ctl_daemon *d)
{
	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		pid_t pid;
		uid_t uid;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* Polling a listener it cannot accept from would spin: rest a second. */
			if (ctl_now() >= d->listen_paused_until + 1.0)
				omps_log("accept failed: %s; not accepting for a second", strerror(errno));
			d->listen_paused_until = ctl_now() + 1.0;
			return;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				omps_log("accept failed: %s", strerror(errno));
			return;
		}
		if (omps_sock_peer(fd, &pid, &uid, NULL) < 0 || !welcome(d, fd, pid, uid) || !ctl_conn_add(d, fd, pid, uid))
			close(fd);
	}
}

struct ctl_conn *ctl_conn_add(struct ctl_daemon *d, int fd, pid_t pid, uid_t uid)
{
	struct ctl_conn *c = calloc(1, sizeof(*c)), **pp;

	if (!c)
		return NULL;
	c->pid = pid;
	c->uid = uid;
	c->accepted = ctl_now();
	c->fd = fd;
	c->serial = ++d->next_serial;
	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		;
	*pp = c;
	return c;
}

void ctl_begin_quit(struct ctl_daemon *d, int timeout)
{
	struct ctl_server *s;

	if (d->quitting)
		return;
	d->quitting = 1;
	if (timeout >= 0)
		omps_log("quit command issued with timeout of %d", timeout);
	else
		omps_log("quit command issued");
	if (timeout >= 0)
		d->quit_force_at = ctl_now() + timeout;
	close(d->listen_fd);
	d->listen_fd = -1;
	unlinkat(d->pipe_dirfd, OMPS_CONTROL_SOCKET, 0);
	for (s = d->servers; s; s = s->next)
		ctl_server_shutdown(d, s, 0);
	ctl_schedule(d); /* refuses whoever still waits */
}

static int make_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void on_signal(struct ctl_daemon *d, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue; /* reaped below, whatever the count */
		if (si.ssi_signo == SIGHUP)
			continue;
		omps_log("Received signal %u, quitting", si.ssi_signo);
		ctl_begin_quit(d, 5);
	}
	ctl_servers_reap(d);
}

static void cleanup(struct ctl_daemon *d)
{
	while (d->conns)
		ctl_conn_close(d, d->conns);
	ctl_metrics_stop(d);
	free(d->smdev);
	d->smdev = NULL;
	unlinkat(d->pipe_dirfd, OMPS_CONTROL_PID, 0);
	omps_log("Exit with status 0");
}

struct pollset {
	struct pollfd *pfd;
	void **who;
	char *kind;
	size_t n, cap;
};

static void add(struct pollset *p, int fd, short events, char kind, void *who)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->pfd = realloc(p->pfd, p->cap * sizeof(*p->pfd));
		p->who = realloc(p->who, p->cap * sizeof(*p->who));
		p->kind = realloc(p->kind, p->cap);
		if (!p->pfd || !p->who || !p->kind) {
			omps_log("Out of memory");
			exit(1);
		}
	}
	p->pfd[p->n] = (struct pollfd){.fd = fd, .events = events};
	p->who[p->n] = who;
	p->kind[p->n++] = kind;
}

/* Still on the lists? An earlier handler in the same round may have freed it. */
static int alive(struct ctl_daemon *d, char kind, void *who)
{
	void *x = NULL;

	if (!who)
		return 1; /* the signalfd and the listening socket */
	if (kind == 'c')
		for (x = d->conns; x && x != who; x = ((struct ctl_conn *)x)->next)
			;
	else if (kind == 's')
		for (x = d->servers; x && x != who; x = ((struct ctl_server *)x)->next)
			;
	else if (kind == 'j')
		for (x = d->jobs; x && x != who; x = ((struct ctl_job *)x)->next)
			;
	return x != NULL;
}

static void loop(struct ctl_daemon *d, int sfd)
{
	struct pollset p = {0};

	while (!d->quitting || d->servers) {
		struct ctl_server *s;
		struct ctl_conn *c;
		struct ctl_job *j;
		double next = 0;
		int timeout = -1;
		size_t i;

		silent_conns(d, &next); /* before the poll set is made: it may close some */
		drops_flush(d, &next);
		p.n = 0;
		add(&p, sfd, POLLIN, 'g', NULL);
		if (d->listen_fd >= 0 && ctl_now() >= d->listen_paused_until)
			add(&p, d->listen_fd, POLLIN, 'l', NULL);
		for (s = d->servers; s; s = s->next)
			if (s->fd >= 0)
				add(&p, s->fd, s->backlogged ? POLLIN | POLLOUT : POLLIN, 's', s);
		for (c = d->conns; c; c = c->next)
			add(&p, c->fd, POLLIN, 'c', c);
		for (j = d->jobs; j; j = j->next)
			add(&p, j->fd, POLLIN, 'j', j);
		if (d->metrics_fd >= 0)
			add(&p, d->metrics_fd, POLLIN, 'm', NULL);
		ctl_servers_timers(d, &next);
		ctl_metrics_timers(d, &next);
		if (d->listen_fd >= 0 && d->listen_paused_until > ctl_now())
			ctl_wake_at(&next, d->listen_paused_until);
		if (next > 0) {
			double ms = (next - ctl_now()) * 1000.0;

			timeout = ms < 0 ? 0 : (int)ms + 1;
		}
		if (poll(p.pfd, p.n, timeout) < 0 && errno != EINTR) {
			omps_log("poll failed: %s", strerror(errno));
			break;
		}
		for (i = 0; i < p.n; i++) {
			if (!p.pfd[i].revents || !alive(d, p.kind[i], p.who[i]))
				continue;
			switch (p.kind[i]) {
			case 'g':
				on_signal(d, sfd);
				break;
			case 'l':
				if (d->listen_fd >= 0)
					accept_conns(d);
				break;
			case 's':
				s = p.who[i];
				if (p.pfd[i].revents & POLLOUT && s->backlogged) {
					s->backlogged = 0;
					ctl_schedule(d);
				}
				if (p.pfd[i].revents & ~POLLOUT && alive(d, 's', s))
					ctl_server_readable(d, s);
				break;
			case 'c':
				ctl_conn_readable(d, p.who[i]);
				break;
			case 'j':
				ctl_job_readable(d, p.who[i]);
				break;
			}
		}
		ctl_metrics_run(d); /* its sockets, and its timeouts: it does nothing when nothing is due */
		if (d->schedule_again)
			ctl_schedule(d);
	}
	free(p.pfd);
	free(p.who);
	free(p.kind);
}

/* With -d the parent returns once the child listens, or with its error. */
static int daemonize(int *report_fd)
{
	int pfd[2];
	pid_t pid;
	char msg[512];
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(pfd[1]);
		n = read(pfd[0], msg, sizeof(msg) - 1);
		if (n > 0) {
			msg[n] = '\0';
			fprintf(stderr, "%s\n", msg);
			_exit(1);
		}
		_exit(n == 0 ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	*report_fd = pfd[1];
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int ctl_daemon_run(const struct ctl_options *o)
{
	struct ctl_daemon d = {.multiuser = o->multiuser, .nallow = o->nallow, .metrics_fd = -1,
			       .static_parts = o->static_parts};
	int foreground = o->foreground, multiuser = o->multiuser;
	char err[512];
	int report = -1, sfd;

	memcpy(d.allow, o->allow, sizeof(d.allow));
	snprintf(d.allow_names, sizeof(d.allow_names), "%s", o->allow_names);
	signal(SIGPIPE, SIG_IGN);
	if (multiuser && geteuid() != 0) {
		fprintf(stderr, "Only root user may enable -multiuser-server!\n");
		return 1;
	}
	if (multiuser)
		fprintf(stderr, "openmps-control: %s\n", MULTIUSER_WARNING);
	if (!foreground && daemonize(&report) < 0) {
		perror("openmps-control: cannot start the daemon");
		return 1;
	}
	sfd = make_signalfd();
	/* A server's standby outlives the server after a fault: the daemon
	 * adopts it, to reap it as it reaps the server it replaces. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* The endpoint first: an address in use fails the start, before the
	 * daemon takes the pipe directory. */
	if (sfd < 0 || (o->metrics && ctl_metrics_start(&d, o->metrics, err, sizeof(err)) < 0) ||
	    setup(&d, foreground, err, sizeof(err)) < 0) {
		if (sfd < 0)
			snprintf(err, sizeof(err), "cannot set up signals: %s", strerror(errno));
		ctl_metrics_stop(&d);
		free(d.smdev);
		if (report >= 0)
			(void)!write(report, err, strlen(err));
		else
			fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* Logged before the caller of -d goes on: a script that reads the
	 * log right after the start finds these lines (e2e_partitions did not,
	 * once, under AddressSanitizer). */
	if (d.metrics)
		omps_log("Metrics at %s", d.metrics_url);
	for (unsigned i = 0; i < d.nsmdev; i++)
		omps_log("Static SM partitions (-S): %s has %u chunks of %u SMs", d.smdev[i].uuid, d.smdev[i].chunks,
			 d.smdev[i].chunk_sms);
	if (report >= 0) {
		close(report);
		detach_stdio();
	}
	ctl_watch_init(&d);
	loop(&d, sfd);
	cleanup(&d);
	return 0;
}
