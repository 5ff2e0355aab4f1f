/* The worker threads: one pool serves every client's request ring, however
 * many clients there are. A client with work holds a thread; an idle one is
 * parked: its ring says so, and the eventfd its producer then rings waits in
 * the pool's epoll set (one-shot: one thread takes it). Idle clients thus
 * cost no thread. The pool keeps one thread waiting for the next client to
 * wake, growing up to its limit; threads idle for long exit, down to a few
 * spares. A thread blocked in a synchronize does not count against the
 * limit (as Go's runtime does for system calls): clients waiting for long
 * kernels cannot starve the others, and threads stay at most the limit plus
 * one a client waiting for work that still runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#include "log.h"
#include "server.h"
#include "settings.h"

#define SPARE	     2	  /* threads kept waiting when there is nothing to do */
#define IDLE_EXIT_MS 2000 /* a thread beyond the spares waits this long, then exits */
#define MAX_LIMIT    1024
#define TIMER_SLACK_NS 2000 /* the default 50 us made a sleeping synchronize 84 us, not 12 */

static int spawn_locked(struct srv_state *s);
static struct srv_state *the_server; /* for the synchronize wrappers */
/* The client this worker thread serves (thread_main), whose reply ring
 * gets the advice of its synchronizes (wait_done); NULL on other threads. */
static __thread struct srv_client *serving;
static CUresult (*stream_synchronize)(CUstream), (*stream_query)(CUstream);
static CUresult (*event_synchronize)(CUevent), (*event_query)(CUevent);

/* Whether no thread waits for the next client while fewer than the limit serve. */
static int need_thread_locked(struct srv_workers *w)
{
	return !atomic_load(&w->idle) && w->total - w->blocked < w->max;
}

static void *thread_main(void *arg)
{
	struct srv_state *s = arg;
	struct srv_workers *w = &s->workers;

	pthread_setname_np(pthread_self(), "omps-worker"); /* ps -L, /proc/PID/task/N/comm */
	prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS); /* a sleeping synchronize wakes on time */
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(w->epfd, &ev, 1, IDLE_EXIT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&w->lock);
		if (atomic_load(&w->stopping)) {
			atomic_fetch_sub(&w->idle, 1);
			w->total--;
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		if (n <= 0) {
			if (atomic_load(&w->idle) > SPARE) {
				atomic_fetch_sub(&w->idle, 1);
				w->total--;
				pthread_mutex_unlock(&w->lock);
				return NULL;
			}
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		/* The last waiting thread takes a client: start another, so that
		 * the next client to wake does not wait for this one. */
		atomic_fetch_sub(&w->idle, 1);
		if (need_thread_locked(w))
			spawn_locked(s);
		pthread_mutex_unlock(&w->lock);
		atomic_fetch_add(&w->serving, 1);
		serving = ev.data.ptr;
		srv_channel_run(serving);
		serving = NULL;
		atomic_fetch_sub(&w->serving, 1);
		atomic_fetch_add(&w->idle, 1);
	}
}

static int spawn_locked(struct srv_state *s)
{
	struct srv_workers *w = &s->workers;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, thread_main, s);
	pthread_attr_destroy(&attr);
	if (r) {
		if (!w->spawn_failed)
			omps_log("Cannot start a worker thread (%s); serving with %u", strerror(r), w->total);
		w->spawn_failed = 1;
		return -1;
	}
	w->total++;
	atomic_fetch_add(&w->idle, 1);
	return 0;
}

/* Returns how many threads were blocked before this one. */
static unsigned block(void)
{
	struct srv_workers *w = &the_server->workers;
	unsigned before;

	pthread_mutex_lock(&w->lock);
	before = w->blocked++;
	if (need_thread_locked(w))
		spawn_locked(the_server);
	pthread_mutex_unlock(&w->lock);
	return before;
}

static void unblock(void)
{
	struct srv_workers *w = &the_server->workers;

	pthread_mutex_lock(&w->lock);
	w->blocked--;
	pthread_mutex_unlock(&w->lock);
}

/* Sleeps until query says the work is done, looking again after an eighth
 * of the time waited so far (10 us to 1 ms): at most an eighth late, and a
 * long wait costs a look a millisecond. The query answers as the
 * synchronize would, success or the same error. */
static CUresult sleep_until_done(CUresult (*query)(void *), void *h)
{
	uint64_t start = omps_now_us(), us;
	CUresult r;

	while ((r = query(h)) == CUDA_ERROR_NOT_READY) {
		us = (omps_now_us() - start) / 8;
		us = us < 10 ? 10 : us > 1000 ? 1000 : us;
		nanosleep(&(struct timespec){.tv_nsec = (long)us * 1000}, NULL);
	}
	return r;
}

/* Tells the served client, through its reply ring, whether this wait
 * sleeps, so that it sleeps too rather than spin for the reply. */
static void advise(int sleep)
{
	if (serving)
		omps_ring_advise(&serving->rep, sleep);
}

/* A synchronize counts as blocked only when its work is still running: one
 * on finished work (most of them) returns at once, and taking it for a long
 * wait would start a thread for nothing, and let the pool pass its limit
 * whenever a worker is merely preempted inside the call. The query gives
 * what the synchronize would: success, or the same error.
 * The driver spins in a synchronize, and a client spins for the reply:
 * two busy cores a client. While the clients served fit half the CPUs
 * (sync_crowd), every synchronize spins; past that, sync_spinners at once
 * and the others sleep, or the workers that launch wait for a CPU. On the
 * H200's 16 cores, small kernels (issue 21): 8 clients 424k kernels/s
 * spinning, 384k with 2 spinners; 16 clients 371k with 8 spinners, 703k with
 * 2; 64 clients 357k and 527k. */
static CUresult wait_done(CUresult (*query)(void *), CUresult (*sync)(void *), void *h)
{
	struct srv_workers *w = &the_server->workers;
	CUresult r = query(h);
	unsigned before;
	int sleep;

	if (r != CUDA_ERROR_NOT_READY) {
		advise(0);
		return r;
	}
	before = block();
	sleep = srv_workers_crowded(the_server) && before >= w->sync_spinners;
	advise(sleep); /* before the reply, which the client may wait for next */
	r = sleep ? sleep_until_done(query, h) : sync(h);
	unblock();
	return r;
}

static CUresult query_stream(void *h)
{
	return stream_query(h);
}

static CUresult sync_stream(void *h)
{
	return stream_synchronize(h);
}

static CUresult query_event(void *h)
{
	return event_query(h);
}

static CUresult sync_event(void *h)
{
	return event_synchronize(h);
}

static CUresult blocking_stream_synchronize(CUstream st)
{
	return wait_done(query_stream, sync_stream, st);
}

static CUresult blocking_event_synchronize(CUevent ev)
{
	return wait_done(query_event, sync_event, ev);
}

/* The limit: OPENMPS_SERVER_THREADS, else four a core, at least 16. */
static unsigned limit(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	n = n > 0 ? 4 * n : 16;
	n = n < 16 ? 16 : n > 256 ? 256 : n;
	return (unsigned)omps_env_range("OPENMPS_SERVER_THREADS", 1, MAX_LIMIT, "", n);
}

/* OPENMPS_SYNC_CROWD: past how many clients served at once the server is
 * crowded (default half the CPUs, at least 1); OPENMPS_SYNC_SPINNERS: how
 * many synchronizes spin at once then (default an eighth of the CPUs, at
 * least 1; 0: none). */
static unsigned per_cpus(const char *name, long divisor)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) / divisor;

	return (unsigned)omps_env_range(name, 0, MAX_LIMIT, "", n > 1 ? n : 1);
}

/* OPENMPS_SERVER_SPIN_US: how long a worker spins for its client's next
 * request before it sleeps on the ring's futex (waking it then costs the
 * client a system call and tens of microseconds). Spinning is a core per
 * client that posts faster than this. */
#define SPIN_US 50

/* OPENMPS_SERVER_PARK_MS: how long a worker keeps a client with nothing to
 * do before it parks it (its doorbell then wakes a thread of the pool). A
 * client that pauses 1 ms is settled first (channel.c). */
#define PARK_MS 20

/* OPENMPS_SIGNAL_SPIN_US: the longest a worker spins for the word of a
 * synchronize the GPU signals (signal.c), where the client's waits are
 * that long; 0: none. */
#define SIGNAL_SPIN_US 4000

/* The pool's lock and epoll set, without threads (the fuzz targets and
 * unit tests run the workers' loop themselves). */
int srv_workers_init(struct srv_state *s, char *err, size_t errlen)
{
	struct srv_workers *w = &s->workers;

	pthread_mutex_init(&w->lock, NULL);
	w->park_ms = (int)omps_env_range("OPENMPS_SERVER_PARK_MS", 2, 10000, " milliseconds", PARK_MS);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->wake_fd < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &(struct epoll_event){.events = EPOLLIN}) < 0) {
		snprintf(err, errlen, "cannot create the worker threads' epoll set: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int srv_workers_start(struct srv_state *s, char *err, size_t errlen)
{
	struct srv_workers *w = &s->workers;
	int r;

	w->max = limit();
	w->spin_us = (int)omps_env_range("OPENMPS_SERVER_SPIN_US", 0, 1000, " microseconds", SPIN_US);
	w->signal_spin_us = (int)omps_env_range("OPENMPS_SIGNAL_SPIN_US", 0, 20000, " microseconds", SIGNAL_SPIN_US);
	w->sync_crowd = per_cpus("OPENMPS_SYNC_CROWD", 2);
	w->sync_spinners = per_cpus("OPENMPS_SYNC_SPINNERS", 8);
	the_server = s;
	stream_synchronize = s->drv->stream_synchronize;
	stream_query = s->drv->stream_query;
	event_synchronize = s->drv->event_synchronize;
	event_query = s->drv->event_query;
	s->drv->stream_synchronize = blocking_stream_synchronize;
	s->drv->event_synchronize = blocking_event_synchronize;
	pthread_mutex_lock(&w->lock);
	r = spawn_locked(s);
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		snprintf(err, errlen, "cannot start a worker thread");
		return -1;
	}
	omps_log("Serving clients with up to %u worker threads", w->max);
	if (w->spin_us != SPIN_US)
		omps_log("Workers spin %d us for a client's next request (OPENMPS_SERVER_SPIN_US)", w->spin_us);
	if (w->signal_spin_us != SIGNAL_SPIN_US)
		omps_log("Workers spin up to %d us for a signalled synchronize's word (OPENMPS_SIGNAL_SPIN_US)",
			 w->signal_spin_us);
	if (w->park_ms != PARK_MS)
		omps_log("Workers park a client after %d ms with nothing to do (OPENMPS_SERVER_PARK_MS)", w->park_ms);
	omps_log("Synchronizes spin, but for %u at once past %u clients served (OPENMPS_SYNC_SPINNERS, "
		 "OPENMPS_SYNC_CROWD)", w->sync_spinners, w->sync_crowd);
	return 0;
}

int srv_workers_saturated(struct srv_state *s)
{
	return atomic_load(&s->workers.idle) == 0;
}

int srv_workers_crowded(struct srv_state *s)
{
	return atomic_load(&s->workers.serving) > s->workers.sync_crowd;
}

/* Arms (or rearms) the client's doorbell: the next ring wakes one thread. */
int srv_workers_park(struct srv_client *c, int first)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};

	return epoll_ctl(c->srv->workers.epfd, first ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->bell, &ev);
}

void srv_workers_forget(struct srv_client *c)
{
	epoll_ctl(c->srv->workers.epfd, EPOLL_CTL_DEL, c->bell, NULL);
}

/* Whether cond(w) came true within deadline_us (a shutdown: polled). */
static int wait_until(struct srv_workers *w, int (*cond)(struct srv_workers *), uint64_t deadline_us)
{
	while (!cond(w)) {
		if (omps_now_us() >= deadline_us)
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return 1;
}

static int all_released(struct srv_workers *w)
{
	return atomic_load(&w->channels) == 0;
}

static int all_exited(struct srv_workers *w)
{
	unsigned n;

	pthread_mutex_lock(&w->lock);
	n = w->total;
	pthread_mutex_unlock(&w->lock);
	return n == 0;
}

void srv_workers_stop(struct srv_state *s, int timeout_ms)
{
	struct srv_workers *w = &s->workers;
	uint64_t deadline = omps_now_us() + (uint64_t)timeout_ms * 1000;
	uint64_t one = 1;

	if (!wait_until(w, all_released, deadline)) {
		/* A client's kernel that never ends holds its worker in a synchronize. */
		omps_log("%u clients not yet released after %d ms; exiting without them",
			 atomic_load(&w->channels), timeout_ms);
		return;
	}
	atomic_store(&w->stopping, 1);
	if (write(w->wake_fd, &one, sizeof(one)) < 0 || !wait_until(w, all_exited, deadline))
		omps_log("The worker threads did not stop within %d ms", timeout_ms);
}
