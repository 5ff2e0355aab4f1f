/* The daemon's watch on its servers. A server's main loop admits clients,
 * terminates them and lets the gone ones be released; if it stops turning,
 * every new client waits for ever. So the daemon pings each running server
 * about once a second, and the loop answers. A ping may queue behind a
 * burst of admissions the loop is working through: a loop seen to turn (the
 * seq of its page moves) is alive though its answer is late. One that has
 * neither answered nor turned for OPENMPS_SERVER_WATCHDOG_S seconds
 * (default 10, 0: no watch) is logged
 * with what its loop was doing, from the page it shares (protocol.h, struct
 * omps_server_beat), and killed: its clients get an error at once, the
 * waiting ones a new server, as after a crash. A server not ready six
 * times that long after its start is killed too, its waiting clients
 * refused with the reason. The watch is the last line:
 * the server's rule is that its loop never waits on a client. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "log.h"
#include "settings.h"
#include "sock.h"

#define PING_EVERY   1.0 /* seconds between a pong and the next ping, and between looks at the page */
#define START_FACTOR 6	 /* a server not ready after this many times the bound is killed */

void ctl_watch_init(struct ctl_daemon *d)
{
	d->watchdog_s = (int)omps_env_range("OPENMPS_SERVER_WATCHDOG_S", 0, 3600, " seconds (0: no watch)", 10);
	if (!d->watchdog_s)
		omps_log("Servers are not watched (OPENMPS_SERVER_WATCHDOG_S=0)");
}

void ctl_watch_ready(struct ctl_server *s, int beat_fd)
{
	void *p;

	if (beat_fd < 0)
		return;
	p = mmap(NULL, sizeof(*s->beat), PROT_READ, MAP_SHARED, beat_fd, 0);
	close(beat_fd);
	if (p != MAP_FAILED)
		s->beat = p;
}

void ctl_watch_release(struct ctl_server *s)
{
	if (s->beat)
		munmap((void *)s->beat, sizeof(*s->beat));
	s->beat = NULL;
}

void ctl_watch_pong(struct ctl_server *s, const char *buf, size_t n)
{
	struct omps_ping m;

	if (n != sizeof(m))
		return;
	memcpy(&m, buf, sizeof(m));
	if (s->ping_sent > 0 && m.seq == s->ping_seq) {
		s->ping_sent = 0;
		s->next_ping = ctl_now() + PING_EVERY;
	}
}

/* What the loop was doing, and for how long: "" when the page says nothing.
 * *client: the client process it did it for (0: none, or not busy). */
static void doing(const struct ctl_server *s, char *out, size_t len, pid_t *client)
{
	const struct omps_server_beat *b = s->beat;
	char text[sizeof(b->doing)];
	uint64_t since = 0;
	int32_t who = 0;
	uint32_t seq;
	int tries;

	*out = '\0';
	if (client)
		*client = 0;
	if (!b)
		return;
	for (tries = 0; tries < 100; tries++) {
		seq = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		since = __atomic_load_n(&b->busy_since_us, __ATOMIC_ACQUIRE);
		who = b->client;
		memcpy(text, b->doing, sizeof(text));
		if (__atomic_load_n(&b->seq, __ATOMIC_ACQUIRE) == seq)
			break;
	}
	text[sizeof(text) - 1] = '\0'; /* the server's own words: no client's text is in them */
	if (tries < 100 && since) {
		snprintf(out, len, "%s, for %.1f s", text, (double)(omps_now_us() - since) / 1e6);
		if (client)
			*client = who;
	} else if (tries < 100) {
		snprintf(out, len, "waiting for messages");
	}
}

/* Since when the server has shown no sign of life (0: it has): its ping
 * unanswered, and its loop not seen to turn since. */
static double silent_since(const struct ctl_server *s)
{
	if (s->ping_sent <= 0)
		return 0;
	return s->turned_at > s->ping_sent ? s->turned_at : s->ping_sent;
}

/* A look at the page: has the loop turned since the last look? */
static void look(struct ctl_server *s, double now)
{
	uint32_t seq;

	if (!s->beat)
		return;
	seq = __atomic_load_n(&s->beat->seq, __ATOMIC_ACQUIRE);
	if (seq != s->beat_seen) {
		s->beat_seen = seq;
		s->turned_at = now;
	}
}

/* Whether a message from it waits to be read. The daemon reads one message
 * of a server a turn, after its timers: a pong may sit behind the server's
 * notices, or behind a turn of the daemon's own that ran long (a burst of
 * clients under the sanitizers on a busy machine). Such a server answered;
 * the daemon has not heard it yet. */
static int unread(const struct ctl_server *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && p.revents;
}

int ctl_watch_describe(const struct ctl_server *s, char *out, size_t len)
{
	double since = silent_since(s);
	char what[320];

	if (!since || ctl_now() - since < 2 * PING_EVERY)
		return 0;
	doing(s, what, sizeof(what), NULL);
	snprintf(out, len, "not answering for %.1f s%s%s", ctl_now() - since, *what ? ": " : "", what);
	return 1;
}

void ctl_watch_timers(struct ctl_daemon *d, double *next)
{
	double now = ctl_now(), at, since;
	struct ctl_server *s;
	char what[320];
	pid_t client;

	if (!d->watchdog_s)
		return;
	for (s = d->servers; s; s = s->next) {
		if (s->fd < 0 || s->wedged || s->taking_over) /* a standby taking over: pinged once it serves */
			continue;
		if (s->state == CTL_SERVER_INITIALIZING) {
			/* A driver's start takes seconds, not minutes. */
			at = s->started + START_FACTOR * d->watchdog_s;
			if (now >= at) {
				snprintf(s->failure, sizeof(s->failure), "it was not ready after %d s",
					 START_FACTOR * d->watchdog_s);
				omps_log("Server %d was not ready after %d s; killing it", (int)s->pid,
					 START_FACTOR * d->watchdog_s);
				kill(s->pid, SIGKILL);
				s->wedged = 1;
				continue;
			}
			ctl_wake_at(next, at);
			continue;
		}
		look(s, now); /* before a ping: a turn seen now is not one after it */
		if (!s->ping_sent && now >= s->next_ping) {
			struct omps_ping m = {.seq = ++s->ping_seq};

			if (ctl_server_send(s, OMPS_MSG_SERVER_PING, &m, sizeof(m), -1) == 0 || errno == EAGAIN)
				s->ping_sent = now; /* a full socket is a loop that does not read */
		}
		since = silent_since(s);
		if (since && now - since >= d->watchdog_s && unread(s)) {
			ctl_wake_at(next, now); /* read it first: judge on what it said */
			continue;
		}
		if (since && now - since >= d->watchdog_s) {
			doing(s, what, sizeof(what), &client);
			omps_log("Server %d has not answered for %d s (its main loop: %s); killing it: its clients get "
				 "an error, and the next a new server",
				 (int)s->pid, d->watchdog_s, *what ? what : "no record of what it was doing");
			kill(s->pid, SIGKILL);
			s->wedged = 1;
			ctl_client_stuck(d, client, what);
			continue;
		}
		/* Late: look at its page again in a while, or kill it then. */
		at = since ? since + d->watchdog_s : s->next_ping;
		if (since && now + PING_EVERY < at)
			at = now + PING_EVERY;
		ctl_wake_at(next, at);
	}
}
