/* Client admission: who may run now, on which server, with which limits,
 * and who waits. A client stays connected to the daemon for its whole life;
 * that connection is how the daemon counts it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "devinfo.h"
#include "log.h"
#include "settings.h"
#include "sock.h"

static void refuse(struct ctl_daemon *d, struct ctl_conn *c, const char *why)
{
	omps_log("NEW CLIENT %d from user %u refused: %s", (int)c->pid, (unsigned)c->uid, why);
	omps_send(c->fd, OMPS_MSG_REFUSED, 0, 0, why, strlen(why), -1, 0);
	ctl_conn_close(d, c);
}

static unsigned long pid_namespace(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* A server's main loop stuck on a driver call for a client (opening its
 * data channel, say) is killed by the watch, and the client's shim, which
 * must ask again after a lost server (a fault, a crash: the next one serves
 * it), would stop a new server the same way: four of them, with every other
 * client of each, before its program heard why. A second stop is no
 * accident: such a process is refused from then on. The first is forgiven:
 * a loop may wait on a driver held up by the GPU another client hung,
 * which the kill ended. */
#define STUCK_REFUSED 2

static struct ctl_stuck *stuck_find(struct ctl_daemon *d, pid_t pid, unsigned long long start)
{
	unsigned i;

	for (i = 0; i < CTL_STUCK_MAX; i++)
		if (d->stuck[i].pid == pid && d->stuck[i].start == start)
			return &d->stuck[i];
	return NULL;
}

void ctl_client_stuck(struct ctl_daemon *d, pid_t pid, const char *what)
{
	unsigned long long start;
	struct ctl_stuck *e;

	if (pid <= 0 || ctl_proc_stat(pid, NULL, &start) < 0)
		return; /* gone: it asks nobody again */
	e = stuck_find(d, pid, start);
	if (!e) {
		e = &d->stuck[d->stuck_next++ % CTL_STUCK_MAX];
		*e = (struct ctl_stuck){.pid = pid, .start = start};
	}
	e->times++;
	snprintf(e->what, sizeof(e->what), "%s", what);
	if (e->times >= STUCK_REFUSED)
		omps_log("Client process %d stopped %u servers' main loops (the last: %s): it is refused from now on",
			 (int)pid, e->times, what);
}

/* Why client process pid is refused for having stopped servers; NULL: it is not. */
static const char *stuck_refusal(struct ctl_daemon *d, pid_t pid, char *why, size_t len)
{
	unsigned long long start;
	struct ctl_stuck *e;

	if (ctl_proc_stat(pid, NULL, &start) < 0 || !(e = stuck_find(d, pid, start)) || e->times < STUCK_REFUSED)
		return NULL;
	snprintf(why, len,
		 "%u servers stopped answering while they worked for this process (the last: %s) and were "
		 "killed; it is not served again",
		 e->times, e->what);
	return why;
}

/* A client's text, for ps (an operator's terminal) and the metrics: its
 * control characters made '?'. src need not end within len. */
static void printable(char *dst, size_t len, const char *src)
{
	size_t i;

	snprintf(dst, len, "%.*s", (int)strnlen(src, len - 1), src);
	for (i = 0; dst[i]; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

void ctl_client_hello(struct ctl_daemon *d, struct ctl_conn *c, const void *payload, size_t len)
{
	struct omps_client_info info;
	char err[512];

	c->role = CONN_CLIENT;
	if (len != sizeof(info)) {
		refuse(d, c, "malformed client hello");
		return;
	}
	memcpy(&info, payload, sizeof(info));
	if (omps_client_request_parse(&info, &c->requested, err, sizeof(err)) < 0) {
		refuse(d, c, err);
		return;
	}
	info.sm_partition[sizeof(info.sm_partition) - 1] = '\0';
	printable(c->visible, sizeof(c->visible), info.visible_devices);
	c->vis_flags = info.flags & (OMPS_CLIENT_VISIBLE_SET | OMPS_CLIENT_PCI_ORDER);
	if (ctl_partition_bind(d, c, info.sm_partition, err, sizeof(err)) < 0) {
		refuse(d, c, err);
		return;
	}
	printable(c->comm, sizeof(c->comm), info.comm);
	printable(c->pod, sizeof(c->pod), info.pod);
	printable(c->pod_namespace, sizeof(c->pod_namespace), info.pod_namespace);
	printable(c->container, sizeof(c->container), info.container);
	c->pidns = pid_namespace(c->pid);
	c->id = ++d->next_client_id;
	if (d->quitting) {
		refuse(d, c, "the control daemon is shutting down");
		return;
	}
	if (stuck_refusal(d, c->pid, err, sizeof(err))) {
		refuse(d, c, err);
		return;
	}
	ctl_schedule(d);
}

void ctl_client_gone(struct ctl_daemon *d, struct ctl_conn *c)
{
	ctl_partition_unbind(d, c);
	if (!c->server && !c->terminated)
		d->schedule_again = 1; /* a server may have drained for it alone */
	if (c->server) {
		struct omps_client_left m = {.client_id = c->id};

		c->server->nclients--;
		omps_log("Client %d disconnected from server %d", (int)c->pid, (int)c->server->pid);
		ctl_server_send(c->server, OMPS_MSG_SERVER_CLIENT_LEFT, &m, sizeof(m), -1);
		c->server = NULL;
	}
}

/* The GPUs of s the client sees (its CUDA_VISIBLE_DEVICES, as CUDA reads
 * it), into a; its own limits keyed by its ordinals turned into the
 * server's (those beyond what it sees name nothing, and go), into req. */
static void client_view(const struct ctl_conn *c, const struct ctl_server *s, struct omps_admit *a,
			struct omps_settings *req, char *note, size_t len)
{
	const char *spec = c->vis_flags & OMPS_CLIENT_VISIBLE_SET ? c->visible : NULL;
	int n = omps_visible_devices(spec, !!(c->vis_flags & OMPS_CLIENT_PCI_ORDER), &s->devices, a->view, note, len);
	char key[16], list[160] = "";
	size_t off = 0;
	uint32_t i;
	int k;

	a->nview = (uint32_t)n;
	*req = c->requested;
	req->nmem = 0;
	for (i = 0; i < c->requested.nmem; i++) {
		const struct omps_memlimit *m = &c->requested.mem[i];

		if (!isdigit((unsigned char)m->dev[0])) { /* a UUID names the same GPU for both */
			omps_memlimit_set(req, m->dev, m->bytes);
			continue;
		}
		if ((k = atoi(m->dev)) >= n)
			continue; /* a GPU it does not see */
		snprintf(key, sizeof(key), "%d", (int)a->view[k]);
		omps_memlimit_set(req, key, m->bytes);
	}
	for (k = 0; k < n && a->view[k] == k; k++)
		;
	if (k == (int)s->devices.ndevices && !note[0])
		return; /* all of them, in the server's order, as it asked */
	for (k = 0; k < n && off < sizeof(list); k++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d", k ? "," : "", (int)a->view[k]);
	omps_log("Client %d sees %d of server %d's %u GPUs, as its devices 0..%d: the server's %s "
		 "(CUDA_VISIBLE_DEVICES=%s%s)%s%s",
		 (int)c->pid, n, (int)s->pid, s->devices.ndevices, n - 1, n ? list : "none", spec ? spec : "",
		 c->vis_flags & OMPS_CLIENT_PCI_ORDER ? ", CUDA_DEVICE_ORDER=PCI_BUS_ID" : "", note[0] ? "; " : "",
		 note);
}

/* 0: admitted; -1: refused; 1: the server's socket is full, so the client
 * stays pending until it drains (a burst of clients starting at once). */
static int admit(struct ctl_daemon *d, struct ctl_conn *c, struct ctl_server *s)
{
	struct omps_admit a = {.pid = c->pid, .uid = c->uid, .client_id = c->id};
	struct omps_admitted reply = {.server_pid = s->pid, .client_id = c->id};
	struct omps_settings req;
	uint64_t sees = 0; /* bit i: it sees the server's device i */
	uint32_t i;
	int sp[2];

	client_view(c, s, &a, &req, reply.note, sizeof(reply.note));
	for (i = 0; i < a.nview; i++)
		sees |= 1ull << a.view[i];
	omps_settings_effective(&s->settings, &req, &c->effective);
	a.effective = reply.effective = c->effective;
	a.requested = req;
	if (ctl_partition_admit(d, c, s, &a) < 0) {
		refuse(d, c, "its static SM partition is on a GPU its server does not drive");
		return -1;
	}
	if (a.part_dev >= 0 && !(sees >> a.part_dev & 1)) {
		refuse(d, c, "its static SM partition is on a GPU that its CUDA_VISIBLE_DEVICES leaves out");
		return -1;
	}
	if (omps_sock_pair(sp) < 0) {
		char why[128];

		snprintf(why, sizeof(why), "cannot create a connection to the server: %s%s", strerror(errno),
			 errno == EMFILE ? " (raise the daemon's ulimit -n)" : "");
		refuse(d, c, why);
		return -1;
	}
	if (ctl_server_send(s, OMPS_MSG_SERVER_ADMIT, &a, sizeof(a), sp[0]) < 0) {
		int full = errno == EAGAIN || errno == EWOULDBLOCK;

		close(sp[0]);
		close(sp[1]);
		if (full) {
			s->backlogged = 1;
			return 1;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			/* It is going and not reaped yet: the client waits for the next one. */
			omps_log("Server %d is gone; client %d waits for the next one", (int)s->pid, (int)c->pid);
			ctl_server_lost(s);
			return 1;
		}
		omps_log("Cannot send client %d to server %d: %s", (int)c->pid, (int)s->pid, strerror(errno));
		refuse(d, c, "cannot reach the server");
		return -1;
	}
	close(sp[0]);
	c->asked = req;
	c->sees = sees;
	c->first_dev = a.nview ? a.view[0] : -1;
	c->server = s;
	s->nclients++;
	if (omps_send(c->fd, OMPS_MSG_CLIENT_ADMITTED, 0, 0, &reply, sizeof(reply), sp[1], 0) < 0)
		omps_log("Client %d left during admission", (int)c->pid); /* the server sees its end close */
	close(sp[1]);
	return 0;
}

static int is_pending(const struct ctl_conn *c)
{
	return c->role == CONN_CLIENT && !c->server && !c->terminated;
}

/* The single live server, if any (see the invariant in control.h). */
static struct ctl_server *live_server(struct ctl_daemon *d)
{
	return d->servers;
}

/* Whether a client of another user than s's waits, or start_server asked
 * for another user. */
static int other_user_waits(struct ctl_daemon *d, const struct ctl_server *s)
{
	const struct ctl_conn *c;

	if (d->start_pending && d->start_uid != s->uid)
		return 1;
	for (c = d->conns; c; c = c->next)
		if (is_pending(c) && (d->multiuser ? d->uid : c->uid) != s->uid)
			return 1;
	return 0;
}

/* A server that drained only for another user's client serves again once
 * nobody of another user waits (security review M3): one connection
 * attempt, given up, no longer locks its users out until their last
 * client ends. */
static void resume_if_unneeded(struct ctl_daemon *d, struct ctl_server *s)
{
	if (!s || !s->yielding || s->state != CTL_SERVER_SHUTTING_DOWN || other_user_waits(d, s))
		return;
	if (ctl_server_send(s, OMPS_MSG_SERVER_RESUME, NULL, 0, -1) < 0)
		return; /* it goes; the next client gets a new one */
	s->yielding = 0;
	s->state = CTL_SERVER_ACTIVE;
	omps_log("Server %d of user %u serves again: no client of another user waits any more", (int)s->pid,
		 (unsigned)s->uid);
}

/* Places waiting clients, oldest first; starts or drains servers as needed.
 * Called after anything that may let someone in. */
void ctl_schedule(struct ctl_daemon *d)
{
	struct ctl_conn *c, *next;

	d->schedule_again = 0;
	if (!d->quitting)
		resume_if_unneeded(d, live_server(d));

	for (c = d->conns; c; c = next) {
		struct ctl_server *s = live_server(d);
		uid_t want;

		next = c->next;
		if (!is_pending(c))
			continue;
		if (d->quitting) {
			refuse(d, c, "the control daemon is shutting down");
			continue;
		}
		want = d->multiuser ? d->uid : c->uid;
		if (!s) {
			s = ctl_server_start(d, want);
			if (!s) {
				refuse(d, c, "cannot start a server; see control.log");
				continue;
			}
		}
		if (s->uid == want && s->state == CTL_SERVER_ACTIVE) {
			int r = admit(d, c, s);

			if (r == 0)
				omps_log("NEW CLIENT %d from user %u: Server already exists", (int)c->pid,
					 (unsigned)c->uid);
			if (r == 1)
				break; /* the rest wait their turn, oldest first */
			continue;
		}
		if (s->uid != want && s->state == CTL_SERVER_ACTIVE) {
			omps_log("Server %d of user %u must drain before user %u can run", (int)s->pid,
				 (unsigned)s->uid, (unsigned)want);
			ctl_server_shutdown(d, s, 0);
			s->yielding = 1;
		}
		if (!c->wait_logged) {
			c->wait_logged = 1;
			omps_log("NEW CLIENT %d from user %u: Server is not ready, push client to pending list",
				 (int)c->pid, (unsigned)c->uid);
		}
	}
	if (d->start_pending && !d->quitting) {
		struct ctl_server *s = live_server(d);

		if (!s) {
			d->start_pending = 0;
			ctl_server_start(d, d->start_uid);
		} else if (s->uid == d->start_uid) {
			d->start_pending = 0;
		} else {
			ctl_server_shutdown(d, s, 0);
		}
	}
}
