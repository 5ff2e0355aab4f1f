/* The servers the daemon starts: one process per user (or one for all with
 * -M), spawned with a control socketpair and the server log inherited, then
 * watched until they exit. Also the device_query helper processes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "devinfo.h"
#include "log.h"
#include "paths.h"
#include "settings.h"
#include "sock.h"

#define LOST_GRACE 5.0 /* s: a server that closed its socket, to exit */
#define FORCE_GRACE 2.0 /* seconds a forced server gets before SIGKILL */
#define TAKEOVER_WAIT 3.0 /* s: for the standby of a server that stopped with no word to say it serves */

const char *ctl_server_state_name(enum ctl_server_state st)
{
	switch (st) {
	case CTL_SERVER_INITIALIZING:
		return "INITIALIZING";
	case CTL_SERVER_ACTIVE:
		return "ACTIVE";
	case CTL_SERVER_SHUTTING_DOWN:
		return "SHUTTING_DOWN";
	}
	return "UNKNOWN";
}

struct ctl_server *ctl_server_find(struct ctl_daemon *d, pid_t pid)
{
	struct ctl_server *s;

	for (s = d->servers; s; s = s->next)
		if (s->pid == pid)
			return s;
	return NULL;
}

int ctl_server_send(struct ctl_server *s, uint32_t type, const void *payload, size_t len, int fd)
{
	if (s->fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	return omps_send(s->fd, type, 0, 0, payload, len, fd, 0);
}

static int set_fd_env(const char *name, int fd)
{
	char v[16];
	int flags = fcntl(fd, F_GETFD);

	snprintf(v, sizeof(v), "%d", fd);
	return flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0 || setenv(name, v, 1) < 0 ? -1 : 0;
}

/* In the child: become the user, keep the two descriptors, exec. */
static void exec_server(struct ctl_daemon *d, uid_t uid, int ctl_fd)
{
	char msg[512], name[64];
	int log_fd = d->server_log_fd;
	sigset_t none;

	/* Another user's server logs to a file of its own: it could write
	 * anything to one it shares with root's servers (security review L5). */
	if (uid != d->uid) {
		snprintf(name, sizeof(name), "server-%u.log", (unsigned)uid);
		log_fd = omps_log_open(d->log_dirfd, name);
		if (log_fd < 0) {
			snprintf(msg, sizeof(msg), "cannot open %s: %s", name, strerror(errno));
			goto fail;
		}
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (uid != geteuid()) {
		struct passwd *pw = getpwuid(uid);
		gid_t gid = pw ? pw->pw_gid : (gid_t)uid;

		if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0) {
			snprintf(msg, sizeof(msg), "cannot become user %u: %s", (unsigned)uid, strerror(errno));
			goto fail;
		}
	}
	if (set_fd_env("OPENMPS_CONTROL_FD", ctl_fd) < 0 || set_fd_env("OPENMPS_LOG_FD", log_fd) < 0) {
		snprintf(msg, sizeof(msg), "cannot pass descriptors: %s", strerror(errno));
		goto fail;
	}
	if (chdir("/") < 0) {
		snprintf(msg, sizeof(msg), "cannot chdir to /: %s", strerror(errno));
		goto fail;
	}
	execl(d->server_path, "openmps-server", (char *)NULL);
	snprintf(msg, sizeof(msg), "cannot run %.400s: %s", d->server_path, strerror(errno));
fail:
	omps_send(ctl_fd, OMPS_MSG_REFUSED, 0, 0, msg, strlen(msg), -1, 1);
	_exit(127);
}

struct ctl_server *ctl_server_start(struct ctl_daemon *d, uid_t uid)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	int sp[2];

	if (!s)
		return NULL;
	if (omps_sock_pair(sp) < 0) {
		omps_log("Cannot start a server for user %u: %s", (unsigned)uid, strerror(errno));
		free(s);
		return NULL;
	}
	s->started = ctl_now();
	s->pid = fork();
	if (s->pid < 0) {
		omps_log("Cannot start a server for user %u: %s", (unsigned)uid, strerror(errno));
		close(sp[0]);
		close(sp[1]);
		free(s);
		return NULL;
	}
	if (s->pid == 0) {
		close(sp[0]);
		exec_server(d, uid, sp[1]);
	}
	close(sp[1]);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	s->fd = sp[0];
	s->uid = uid;
	s->state = CTL_SERVER_INITIALIZING;
	s->settings = d->defaults;
	s->next = d->servers;
	d->servers = s;
	omps_log("Starting new server %d for user %u", (int)s->pid, (unsigned)uid);
	return s;
}

void ctl_server_shutdown(struct ctl_daemon *d, struct ctl_server *s, int force)
{
	struct omps_shutdown m = {.force = force ? 1u : 0u};

	(void)d;
	s->yielding = 0; /* asked for itself: not called off when a waiting client leaves */
	if (force)
		omps_log("Force shutting down server %d", (int)s->pid);
	else if (s->state == CTL_SERVER_SHUTTING_DOWN)
		return;
	else
		omps_log("Try shutting down server %d: it exits once its %u clients have left", (int)s->pid,
			 s->nclients);
	s->state = CTL_SERVER_SHUTTING_DOWN;
	if (ctl_server_send(s, OMPS_MSG_SERVER_SHUTDOWN, &m, sizeof(m), -1) < 0 || force) {
		/* Unreachable or forced: it gets a grace period, then SIGKILL. */
		if (!s->kill_at)
			s->kill_at = ctl_now() + (force ? FORCE_GRACE : 0.0);
	}
}

static void on_hello(struct ctl_daemon *d, struct ctl_server *s, const struct omps_msg *hdr, const char *buf,
		     ssize_t n)
{
	char err[256];

	(void)d;
	if (omps_check_hello(buf, (size_t)n, hdr, err, sizeof(err)) < 0) {
		omps_log("Server %d refused: %s", (int)s->pid, err);
		snprintf(s->failure, sizeof(s->failure), "%s", err);
		omps_send(s->fd, OMPS_MSG_REFUSED, 0, 0, err, strlen(err), -1, 0);
		kill(s->pid, SIGKILL);
		return;
	}
	ctl_server_send(s, OMPS_MSG_WELCOME, &s->settings, sizeof(s->settings), -1);
}

/* The front ends whose start_server started s: ready (why NULL), or not. */
static void answer_start(struct ctl_daemon *d, struct ctl_server *s, const char *why)
{
	struct ctl_conn *c, *next;
	char text[512];
	int len = 0;

	if (why)
		len = snprintf(text, sizeof(text), "%s\n", why);
	for (c = d->conns; c; c = next) {
		next = c->next; /* an answer that cannot be sent closes c */
		if (c->role != CONN_UI || c->wait_start != s->pid)
			continue;
		c->wait_start = 0;
		if (why)
			omps_log_lines(text);
		ctl_answer(d, c, text, (size_t)len, why != NULL);
	}
}

static void on_ready(struct ctl_daemon *d, struct ctl_server *s, const char *buf, ssize_t n, int beat_fd)
{
	ctl_watch_ready(s, beat_fd);
	if ((size_t)n != sizeof(s->devices)) {
		omps_log("Server %d sent a malformed ready message", (int)s->pid);
		kill(s->pid, SIGKILL);
		return;
	}
	memcpy(&s->devices, buf, sizeof(s->devices));
	if (s->devices.ndevices > OMPS_MAX_DEVICES)
		s->devices.ndevices = OMPS_MAX_DEVICES;
	if (s->state == CTL_SERVER_INITIALIZING)
		s->state = CTL_SERVER_ACTIVE;
	omps_log("NEW SERVER %d: Ready", (int)s->pid);
	answer_start(d, s, NULL);
	ctl_schedule(d);
}

/* The client of server s that is process pid, as the server names it. */
static struct ctl_conn *client_of(struct ctl_daemon *d, const struct ctl_server *s, pid_t pid)
{
	struct ctl_conn *c;

	for (c = d->conns; c; c = c->next)
		if (c->role == CONN_CLIENT && c->server == s && c->pid == pid)
			return c;
	return NULL;
}

/* A client its server let go of at terminate_client: no longer its server's
 * (ps, get_client_list and the drain count skip it), nor waiting for one. */
static void forget_terminated(struct ctl_daemon *d, struct ctl_server *s, pid_t pid)
{
	struct ctl_conn *c = client_of(d, s, pid);

	if (!c)
		return;
	s->nclients--;
	c->server = NULL;
	c->terminated = 1;
}

/* A front end waits for this answer to terminate_client. */
static void on_terminated(struct ctl_daemon *d, struct ctl_server *s, const char *buf, ssize_t n)
{
	struct omps_terminate m;
	struct ctl_conn *c;
	char text[128];
	int len;

	if ((size_t)n != sizeof(m))
		return;
	memcpy(&m, buf, sizeof(m));
	if (m.result == 0)
		forget_terminated(d, s, m.pid);
	for (c = d->conns; c; c = c->next)
		if (c->role == CONN_UI && c->wait_seq == m.seq)
			break;
	if (!c)
		return;
	c->wait_seq = 0;
	if (m.result == 0)
		len = snprintf(text, sizeof(text), "0\n");
	else
		len = snprintf(text, sizeof(text), "Invalid process %d!\n1\n", (int)m.pid);
	omps_log_lines(text);
	ctl_answer(d, c, text, (size_t)len, m.result != 0);
}

/* What one of its clients uses now (ps shows it). */
static void on_usage(struct ctl_daemon *d, struct ctl_server *s, const char *buf, ssize_t n)
{
	struct omps_client_usage u;
	struct ctl_conn *c;

	if ((size_t)n != sizeof(u))
		return;
	memcpy(&u, buf, sizeof(u));
	if ((c = client_of(d, s, u.pid)))
		c->usage = u;
}

static void on_stats(struct ctl_daemon *d, struct ctl_server *s, const char *buf, ssize_t n)
{
	struct omps_client_stats m;
	struct ctl_conn *c;

	if ((size_t)n != sizeof(m))
		return;
	memcpy(&m, buf, sizeof(m));
	if ((c = client_of(d, s, m.pid)))
		c->stats = m;
}

/* Its socket broke (it is going: a GPU fault, say). Its exit is handled
 * when it is reaped; until then it takes no one, so a client waits for the
 * next server. Its socket is ctl_server_readable's to drain and close. */
void ctl_server_lost(struct ctl_server *s)
{
	if (s->state == CTL_SERVER_ACTIVE)
		s->state = CTL_SERVER_SHUTTING_DOWN;
	if (!s->kill_at) /* one that closed its end but lives on */
		s->kill_at = ctl_now() + LOST_GRACE;
}

static void on_successor(struct ctl_daemon *d, struct ctl_server *s, const struct omps_msg *hdr, const char *buf,
			 ssize_t n);

int ctl_server_readable(struct ctl_daemon *d, struct ctl_server *s)
{
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	int fd = -1;
	ssize_t n = omps_recv(s->fd, &hdr, buf, sizeof(buf) - 1, &fd);

	if (n >= 0 && fd >= 0 && hdr.type != OMPS_MSG_SERVER_READY) {
		close(fd); /* only the ready message carries one (its loop's page) */
		fd = -1;
	}
	if (n < 0) {
		if (errno == EAGAIN)
			return 0;
		close(s->fd);
		s->fd = -1;
		ctl_server_lost(s);
		return 0;
	}
	switch (hdr.type) {
	case OMPS_MSG_HELLO:
		on_hello(d, s, &hdr, buf, n);
		break;
	case OMPS_MSG_SERVER_READY:
		on_ready(d, s, buf, n, fd);
		break;
	case OMPS_MSG_SERVER_PONG:
		ctl_watch_pong(s, buf, (size_t)n);
		break;
	case OMPS_MSG_SERVER_TERMINATED:
		on_terminated(d, s, buf, n);
		break;
	case OMPS_MSG_CLIENT_USAGE:
		on_usage(d, s, buf, n);
		break;
	case OMPS_MSG_CLIENT_STATS:
		on_stats(d, s, buf, n);
		break;
	case OMPS_MSG_SERVER_FAULT:
		buf[n] = '\0';
		omps_log("Server %d: %s", (int)s->pid, buf);
		break;
	case OMPS_MSG_SERVER_SUCCESSOR:
		on_successor(d, s, &hdr, buf, n);
		break;
	case OMPS_MSG_REFUSED:
		buf[n] = '\0';
		snprintf(s->failure, sizeof(s->failure), "%.255s", buf);
		omps_log("Server %d failed to start: %s", (int)s->pid, s->failure);
		break;
	default:
		omps_log("Unexpected message type %u from server %d", hdr.type, (int)s->pid);
	}
	return 1;
}

int ctl_proc_stat(pid_t pid, pid_t *parent, unsigned long long *start)
{
	char path[64], buf[512], *p;
	unsigned long long st = 0;
	int ppid = -1, ok = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	/* After the command's ")": state, ppid, then 18 fields to starttime. */
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		ok = sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			    &ppid, &st) == 2;
	fclose(f);
	if (!ok)
		return -1;
	if (parent)
		*parent = ppid;
	if (start)
		*start = st;
	return 0;
}

/* The parent of process pid, from /proc; -1 if it cannot be read. */
static pid_t parent_of(pid_t pid)
{
	pid_t ppid;

	return ctl_proc_stat(pid, &ppid, NULL) == 0 ? ppid : -1;
}

/* Whether pid is the standby server s started: its child, or, once s has
 * exited, the daemon's (a subreaper adopts it), and no other server's or
 * helper's: the daemon will signal and reap it. */
static int standby_of(struct ctl_daemon *d, const struct ctl_server *s, pid_t pid)
{
	pid_t parent = pid > 0 ? parent_of(pid) : -1;
	struct ctl_job *j;

	if (parent == s->pid)
		return 1;
	if (parent != getpid() || ctl_server_find(d, pid))
		return 0;
	for (j = d->jobs; j; j = j->next)
		if (j->pid == pid)
			return 0;
	return 1;
}

/* A server ready again after its standby took over: the watch starts
 * afresh with it. */
static void heir_serves(struct ctl_server *s, pid_t pid)
{
	s->pid = pid;
	s->wedged = 0;
	s->ping_sent = 0;
	s->next_ping = ctl_now() + 1.0;
}

/* After a GPU fault the server handed its clients to its standby
 * (src/server/standby.c): from now on that process is the server. Status
 * 1: the standby says so itself, having taken over from a server that
 * stopped with no word (killed, crashed: src/server/checkpoint.c). */
static void on_successor(struct ctl_daemon *d, struct ctl_server *s, const struct omps_msg *hdr, const char *buf,
			 ssize_t n)
{
	int32_t pid;

	if (n != (ssize_t)sizeof(pid) || s->handed_from) {
		omps_log("Server %d sent a malformed successor message", (int)s->pid);
		return;
	}
	memcpy(&pid, buf, sizeof(pid));
	if (s->taking_over && pid == s->pid) { /* its server was reaped first (take_over) */
		omps_log("Process %d serves the clients of the server that stopped", (int)pid);
		s->taking_over = 0;
		s->kill_at = 0;
		heir_serves(s, pid);
		return;
	}
	if (!standby_of(d, s, pid)) {
		omps_log("Server %d named process %d its successor, which it did not start; ignored", (int)s->pid,
			 (int)pid);
		return;
	}
	if (hdr->status == 1 && s->state != CTL_SERVER_ACTIVE) {
		omps_log("Server %d stopped as it was shutting down; its standby, process %d, took its clients over: "
			 "killing it",
			 (int)s->pid, (int)pid);
		kill(pid, SIGKILL);
		return;
	}
	omps_log("Server %d handed its clients to its standby, process %d, %s", (int)s->pid, (int)pid,
		 hdr->status == 1 ? "which took over as it stopped with no word (killed or crashed)"
				  : "after a GPU fault");
	s->handed_from = s->pid;
	heir_serves(s, pid);
}

/* The standby a server that stopped left behind: a child of the daemon
 * now (a subreaper adopts it) that is no server's and no helper's; 0 if
 * none. */
static pid_t orphan_standby(struct ctl_daemon *d, const struct ctl_server *s)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (!dir)
		return 0;
	while (!found && (e = readdir(dir))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid > 0 && pid != s->pid && parent_of(pid) == getpid() && standby_of(d, s, pid))
			found = pid;
	}
	closedir(dir);
	return found;
}

/* control.log: how a server ended. */
static void said_gone(const struct ctl_server *s, int status)
{
	if (WIFSIGNALED(status) && s->wedged)
		omps_log("Server %d was killed: %s", (int)s->pid,
			 s->state == CTL_SERVER_INITIALIZING ? s->failure : "it did not answer");
	else if (WIFSIGNALED(status))
		omps_log("Server %d was killed by signal %d", (int)s->pid, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == OMPS_SERVER_EXIT_FAULT)
		omps_log("Server %d exited: a GPU fault poisoned its context (server.log says when, and which clients "
			 "had work on the GPU); its clients lost it, and the next client gets a new server",
			 (int)s->pid);
	else
		omps_log("Server %d exited with status %d", (int)s->pid, WEXITSTATUS(status));
}

/* A server that stopped with no word (killed, crashed, not a GPU fault nor
 * an exit it chose) while serving: its standby takes over the clients its
 * last record named and says so (on_successor); until then, for at most
 * TAKEOVER_WAIT, it stands in for the server. 1 if there is one. */
static int take_over(struct ctl_daemon *d, struct ctl_server *s, int status)
{
	pid_t heir;

	if (s->state != CTL_SERVER_ACTIVE || s->taking_over ||
	    (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == OMPS_SERVER_EXIT_FAULT)) ||
	    !(heir = orphan_standby(d, s)))
		return 0;
	said_gone(s, status);
	omps_log("Server %d: its standby, process %d, takes over the clients idle since its last record, if it has "
		 "one",
		 (int)s->pid, (int)heir);
	s->pid = heir;
	s->taking_over = 1;
	s->kill_at = ctl_now() + TAKEOVER_WAIT;
	return 1;
}

/* Everyone who depended on a server that is gone. */
static void server_gone(struct ctl_daemon *d, struct ctl_server *s, int status)
{
	struct ctl_server **pp;
	struct ctl_conn *c, *next;
	char why[384];

	/* What it said before dying (why it failed, say) may still be queued. */
	while (s->fd >= 0 && ctl_server_readable(d, s))
		;
	if (s->taking_over)
		omps_log("The standby process %d did not take over (server.log says why): the clients of the server "
			 "before it lost their server",
			 (int)s->pid);
	else
		said_gone(s, status);
	if (s->state == CTL_SERVER_INITIALIZING) {
		snprintf(why, sizeof(why), "the server for user %u failed to start: %s", (unsigned)s->uid,
			 s->failure[0] ? s->failure : "see server.log");
		answer_start(d, s, why);
	}
	for (c = d->conns; c; c = next) {
		next = c->next;
		if (c->role == CONN_UI && c->wait_seq) {
			const char *t = "Server exited before the client was terminated\n1\n";

			c->wait_seq = 0;
			ctl_answer(d, c, t, strlen(t), 1);
		} else if (c->role == CONN_CLIENT && c->server == s) {
			omps_log("Client %d lost its server %d", (int)c->pid, (int)s->pid);
			c->server = NULL;
			ctl_conn_close(d, c);
		} else if (c->role == CONN_CLIENT && !c->server && s->state == CTL_SERVER_INITIALIZING &&
			   (d->multiuser || c->uid == s->uid)) {
			omps_log("NEW CLIENT %d refused: %s", (int)c->pid, why);
			omps_send(c->fd, OMPS_MSG_REFUSED, 0, 0, why, strlen(why), -1, 0);
			ctl_conn_close(d, c);
		}
	}
	for (pp = &d->servers; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (s->fd >= 0)
		close(s->fd);
	ctl_watch_release(s);
	free(s);
}

/* Whether pid is a server that handed its clients to its standby: its
 * end is that handover's, not the server's. */
static int handed_over(struct ctl_daemon *d, pid_t pid)
{
	struct ctl_server *s;

	for (s = d->servers; s; s = s->next)
		if (s->handed_from == pid) {
			omps_log("Server process %d has exited; process %d serves its clients", (int)pid,
				 (int)s->pid);
			s->handed_from = 0;
			return 1;
		}
	return 0;
}

void ctl_servers_reap(struct ctl_daemon *d)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct ctl_server *s = ctl_server_find(d, pid);
		struct ctl_job *j;

		/* What it sent before its exit first: a successor, say. */
		while (s && s->pid == pid && s->fd >= 0 && ctl_server_readable(d, s))
			;
		if (handed_over(d, pid))
			continue;
		if (s && take_over(d, s, status))
			continue;
		if (s) {
			server_gone(d, s, status);
			continue;
		}
		for (j = d->jobs; j; j = j->next)
			if (j->pid == pid)
				break;
		if (j)
			j->pid = -status - 1; /* exited; finished at end of output */
	}
	ctl_schedule(d);
}

void ctl_servers_timers(struct ctl_daemon *d, double *next)
{
	double now = ctl_now();
	struct ctl_server *s;

	if (d->quitting && d->quit_force_at > 0 && now >= d->quit_force_at) {
		d->quit_force_at = 0;
		for (s = d->servers; s; s = s->next)
			if (!s->kill_at)
				ctl_server_shutdown(d, s, 1);
	}
	for (s = d->servers; s; s = s->next) {
		if (s->kill_at && now >= s->kill_at) {
			if (s->taking_over)
				omps_log("The standby process %d did not take over within %.0f s; killing it",
					 (int)s->pid, TAKEOVER_WAIT);
			else
				omps_log("Server %d did not exit in time; killing it", (int)s->pid);
			kill(s->pid, SIGKILL);
			s->kill_at = now + 3600; /* once */
		}
		if (s->kill_at)
			ctl_wake_at(next, s->kill_at);
	}
	if (d->quitting && d->quit_force_at > 0)
		ctl_wake_at(next, d->quit_force_at);
	ctl_watch_timers(d, next);
}

/* device_query runs `openmps-server --query-devices` as a helper, so that
 * the daemon itself never loads the driver; its output is the answer. */
int ctl_job_start(struct ctl_daemon *d, struct ctl_conn *c, int csv, char *tail, int json)
{
	struct ctl_job *j = calloc(1, sizeof(*j));
	int out[2];

	if (!j || pipe2(out, O_CLOEXEC) < 0) {
		free(j);
		return -1;
	}
	j->pid = fork();
	if (j->pid < 0) {
		close(out[0]);
		close(out[1]);
		free(j);
		return -1;
	}
	if (j->pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		execl(d->server_path, "openmps-server", "--query-devices", csv ? "--csv" : (char *)NULL,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	j->fd = out[0];
	j->conn_serial = c->serial;
	j->tail = tail;
	j->json = json;
	j->out = open_memstream(&j->text, &j->len);
	if (j->out)
		fputs("Default\n", j->out);
	j->next = d->jobs;
	d->jobs = j;
	c->wait_job = j->pid;
	return 0;
}

static void job_done(struct ctl_daemon *d, struct ctl_job *j, int status)
{
	struct ctl_conn *c = ctl_conn_by_serial(d, j->conn_serial);
	struct ctl_job **pp;
	int failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

	if (j->tail)
		fputs(j->tail, j->out);
	fclose(j->out);
	if (c && j->json && !failed) {
		char *doc = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&doc, &len);

		failed = !f || ctl_report_devices_json(d, j->text, f) < 0;
		if (f)
			fclose(f);
		c->wait_job = 0;
		ctl_answer(d, c, failed ? "Out of memory\n" : doc, failed ? 14 : len, failed);
		free(doc);
		c = NULL;
	}
	if (c) {
		c->wait_job = 0;
		omps_log_lines(j->text);
		ctl_answer(d, c, j->text, j->len, failed);
	}
	for (pp = &d->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	close(j->fd);
	free(j->text);
	free(j->tail);
	free(j);
}

void ctl_job_readable(struct ctl_daemon *d, struct ctl_job *j)
{
	char buf[4096];
	ssize_t n = read(j->fd, buf, sizeof(buf));
	int status;

	if (n > 0) {
		fwrite(buf, 1, (size_t)n, j->out);
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	/* End of output: the helper has exited or is about to. */
	if (j->pid > 0 && waitpid(j->pid, &status, 0) != j->pid)
		status = 1 << 8;
	else if (j->pid < 0)
		status = -j->pid - 1;
	job_done(d, j, status);
}
