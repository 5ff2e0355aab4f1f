/* The daemon's watch on a server (src/control/watch.c): a server silent
 * past the bound is killed; one whose answer waits unread in the daemon's
 * socket is not: the daemon reads it first, and judges on it. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "sock.h"
#include "task.h"

/* A stand-in for a server's process: what the watch kills. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

/* A running server whose ping went three seconds ago, on a two-second watch. */
static void late_server(struct ctl_daemon *d, struct ctl_server *s, int fd)
{
	memset(d, 0, sizeof(*d));
	memset(s, 0, sizeof(*s));
	d->watchdog_s = 2;
	d->servers = s;
	s->fd = fd;
	s->pid = sleeper();
	s->state = CTL_SERVER_ACTIVE;
	s->ping_seq = 7;
	s->ping_sent = ctl_now() - 3;
}

TEST(watch_reads_a_waiting_answer_first)
{
	struct ctl_daemon d;
	struct ctl_server s;
	struct omps_ping pong = {.seq = 7};
	struct omps_msg hdr;
	char buf[64];
	double next = 0;
	int sp[2], status;
	ssize_t n;

	ASSERT_EQ(omps_sock_pair(sp), 0);
	late_server(&d, &s, sp[0]);
	/* The server answered; the daemon, late, has not read it yet. */
	ASSERT_EQ(omps_send(sp[1], OMPS_MSG_SERVER_PONG, 0, 0, &pong, sizeof(pong), -1, 0), 0);
	ctl_watch_timers(&d, &next);
	ASSERT_EQ(s.wedged, 0);
	ASSERT_EQ(waitpid(s.pid, &status, WNOHANG), 0);
	ASSERT(next > 0 && next <= ctl_now()); /* it wakes at once to read it */

	n = omps_recv(sp[0], &hdr, buf, sizeof(buf), NULL);
	ASSERT_EQ(n, (ssize_t)sizeof(pong));
	ctl_watch_pong(&s, buf, (size_t)n);
	ASSERT(s.ping_sent == 0);
	next = 0;
	ctl_watch_timers(&d, &next);
	ASSERT_EQ(s.wedged, 0);
	ASSERT_EQ(waitpid(s.pid, &status, WNOHANG), 0);

	kill(s.pid, SIGKILL);
	waitpid(s.pid, &status, 0);
	close(sp[0]);
	close(sp[1]);
}

TEST(watch_kills_a_silent_server)
{
	struct ctl_daemon d;
	struct ctl_server s;
	double next = 0;
	int sp[2], status;

	ASSERT_EQ(omps_sock_pair(sp), 0);
	late_server(&d, &s, sp[0]);
	ctl_watch_timers(&d, &next);
	ASSERT_EQ(s.wedged, 1);
	ASSERT_EQ(waitpid(s.pid, &status, 0), s.pid);
	ASSERT(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGKILL);
	close(sp[0]);
	close(sp[1]);
}
