/* A fault in the shared context. A kernel's illegal address, trap, device
 * assert, illegal instruction or misaligned access poisons the one context
 * every client's work runs in: from then on every call on it returns that
 * error, for every client. Detected two ways: a driver result of one of
 * those errors (call.c hands each client's failures here), and a watch
 * thread that queries a stream of its own on each device every
 * FAULT_WATCH_MS, so a fault is seen whether or not a client waits.
 *
 * What follows: the main loop logs the fault, its time and which clients
 * had work on the GPU since their last synchronize, and handover.c makes
 * the server anew in this process, keeping the clients it can. Where it
 * cannot, the server exits with OMPS_SERVER_EXIT_FAULT: every client loses
 * its context, as under NVIDIA MPS, and the daemon starts a fresh server
 * for the next client. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"

#define FAULT_WATCH_MS 5	 /* between probes while a client has work queued */
#define FAULT_IDLE_MS  1000 /* ... and while none has for FAULT_DOZE_TICKS looks */
#define FAULT_DOZE_TICKS 20
#define FAULT_WATCH_MAX 60000
#define PAUSE_COPY_MAX (4ull << 20) /* module data copied 1 ms into a pause, a module */

static struct {
	int poke;   /* eventfd: a client's call saw a fatal error; probe now */
	int notify; /* eventfd the main loop polls: the context is poisoned */
	CUstream probe[OMPS_MAX_DEVICES];
	_Atomic CUresult error; /* the fault; CUDA_SUCCESS: none */
	atomic_int device;
	_Atomic uint64_t at_us, last_good_us;
	atomic_int queued; /* clients with work queued since their last synchronize */
	atomic_int active; /* a client queued work since the watch last looked */
	atomic_int dozing; /* the watch sleeps at its idle pace: the next client with work wakes it */
	atomic_int stop;   /* the server is closing its contexts: no more probes */
	int busy_ms, idle_ms; /* the watch's paces */
	int running;
	pthread_t thread;
} fault = {.poke = -1, .notify = -1};

/* By the client's worker: it queued work (an asynchronous call), or a
 * synchronize of its came back good. */
void srv_fault_queued(struct srv_client *c, int queued)
{
	uint64_t one = 1;

	if (!queued)
		c->work_any = 0, c->work_devs = 0;
	if (atomic_load_explicit(&c->queued, memory_order_relaxed) == queued ||
	    atomic_exchange(&c->queued, queued) == queued)
		return; /* the common case, a launch after a launch, costs a load */
	srv_stats_queued(c, queued);
	/* A client with work wakes the watch to its quick pace, if it dozes.
	 * The watch dozes only after FAULT_DOZE_TICKS looks with no work
	 * queued, so a client that launches and synchronizes in a loop never
	 * pokes it (an eventfd write and a thread woken each round trip cost
	 * 1-2 us of it on the H200). */
	atomic_fetch_add(&fault.queued, queued ? 1 : -1);
	if (!queued)
		return;
	if (!atomic_load_explicit(&fault.active, memory_order_relaxed))
		atomic_store_explicit(&fault.active, 1, memory_order_relaxed);
	if (atomic_load(&fault.dozing) && atomic_exchange(&fault.dozing, 0) && fault.poke >= 0)
		(void)!write(fault.poke, &one, sizeof(one));
}

/* An asynchronous record: the stream its work went to. */
void srv_fault_work(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len)
{
	int64_t stream = srv_capture_stream_of(type, rec, len);
	struct omps_call_pair p;

	if (!c->work_any) {
		c->work_any = 1;
		c->work_on = stream;
	} else if (c->work_on != stream) {
		c->work_on = -1;
	}
	c->work_event = 0;
	if (type == OMPS_CALL_EVENT_RECORD && stream >= 0 && c->work_on == stream && len >= sizeof(p)) {
		memcpy(&p, rec, sizeof(p)); /* (event, stream) */
		c->work_event = p.first;
	}
}

/* A device's synchronize waits for all of it when it all went to that
 * device; a stream's, only when all of it went to that stream; an
 * event's, only when the event was recorded after all of it, on that
 * stream (the NULL stream is one a device: all on one device too). The
 * rest waits until its worker parks it and finds each stream done
 * (srv_fault_settle). */
int srv_fault_covers(const struct srv_client *c, uint32_t type, uint32_t handle, int dev)
{
	if (!c->work_any)
		return 1;
	if (type == OMPS_CALL_SYNCHRONIZE)
		return dev >= 0 && dev < OMPS_MAX_DEVICES && !(c->work_devs & ~(1ull << dev));
	if (!handle)
		return 0;
	if (type == OMPS_CALL_STREAM_SYNC)
		return c->work_on == (int64_t)handle;
	return c->work_event == handle && !(c->work_devs & (c->work_devs - 1));
}

/* The record being served queued work on a stream of dev (srv_stream). */
void srv_fault_work_on(struct srv_client *c, int dev)
{
	if (c->noting && dev >= 0 && dev < OMPS_MAX_DEVICES)
		c->work_devs |= 1ull << dev;
}

/* A synchronize the server serves itself (SYNC_SIGNAL says its own, in
 * signal.c): whether it waits for all that work, for call.c once it is
 * done. */
void srv_fault_sync(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len)
{
	struct omps_call_dev d = {.dev = -1};
	uint32_t handle = 0;

	if (type == OMPS_CALL_SYNC_SIGNAL)
		return;
	if (type == OMPS_CALL_SYNCHRONIZE && len >= sizeof(d))
		memcpy(&d, rec, sizeof(d)); /* in the client's ordinals still */
	else if (len >= sizeof(handle))
		memcpy(&handle, rec, sizeof(handle)); /* struct omps_call_handle: a stream's or event's */
	c->sync_covers = srv_fault_covers(c, type, handle, srv_view_dev(c, d.dev));
}

/* By its worker as the client pauses (1 ms), and as it parks (ask: work
 * queued that no synchronize waited for may be done already, in a program
 * that reads its results with a synchronous copy, or never waits; its
 * streams are asked only then, as before, so that a client that pauses
 * briefly between launches stays one with work queued). */
void srv_fault_settle(struct srv_client *c, int ask)
{
	srv_graphdesc_take(c); /* its graphs as they are: no GPU work waits for that */
	if (atomic_load_explicit(&c->queued, memory_order_relaxed)) {
		if (srv_fault_busy(c) && (!ask || !srv_streams_idle(c)))
			return;
		srv_fault_queued(c, 0);
	}
	/* idle: its modules' data as it will stay; at a pause, up to 4 MiB a
	 * module (under 0.2 ms of a copy engine), the rest as it parks, since
	 * a client may pause so between every two launches */
	srv_moddata_take(c, ask ? UINT64_MAX : PAUSE_COPY_MAX);
}

/* Work queued since its last good synchronize, the GPU's signal of one
 * counted once the word is written (if nothing was queued since), as the
 * server's own synchronize is once it returns. Read by the main loop too,
 * as the fault is handled: the GPU writes no more then. */
int srv_fault_busy(struct srv_client *c)
{
	return atomic_load(&c->queued) &&
	       !(c->signal.clean && c->signal.at && omps_ring_signalled(&c->rep, c->signal.seq));
}

/* Clients that left with work queued, lately: a culprit that saw its own
 * error may be gone before the watch says so (the main loop's). */
#define LEFT_KEPT 8
static struct left {
	pid_t pid;
	uint32_t id;
	uint64_t at_us;
} left[LEFT_KEPT];
static unsigned nleft;

void srv_fault_left(struct srv_client *c)
{
	if (srv_fault_busy(c))
		left[nleft++ % LEFT_KEPT] = (struct left){.pid = c->pid, .id = c->id, .at_us = omps_now_us()};
}

/* By the main loop, as it lets a client go. */
void srv_fault_forget(struct srv_client *c)
{
	srv_fault_queued(c, 0);
}

int srv_fault_fatal(CUresult r)
{
	switch (r) {
	case CUDA_ERROR_ILLEGAL_ADDRESS:
	case CUDA_ERROR_ASSERT:
	case CUDA_ERROR_HARDWARE_STACK_ERROR:
	case CUDA_ERROR_ILLEGAL_INSTRUCTION:
	case CUDA_ERROR_MISALIGNED_ADDRESS:
	case CUDA_ERROR_INVALID_ADDRESS_SPACE:
	case CUDA_ERROR_INVALID_PC:
	case CUDA_ERROR_LAUNCH_FAILED:
	case CUDA_ERROR_TENSOR_MEMORY_LEAK:
	case CUDA_ERROR_ECC_UNCORRECTABLE:
		return 1;
	default:
		return 0;
	}
}

void srv_fault_seen(CUresult r)
{
	uint64_t one = 1;

	if (srv_fault_fatal(r) && fault.poke >= 0)
		(void)!write(fault.poke, &one, sizeof(one));
}

/* Each device's probe stream: empty, so a query answers at once, with the
 * context's sticky error if it has one. 1 if one device is poisoned. */
static int probe_all(struct srv_state *s)
{
	struct srv_driver *drv = s->drv;
	uint64_t one = 1;
	CUresult r;
	uint32_t i;

	for (i = 0; i < s->devices.ndevices; i++) {
		if (!fault.probe[i] || drv->ctx_set_current(s->ctx[i]) != CUDA_SUCCESS)
			continue;
		r = drv->stream_query(fault.probe[i]);
		if (!srv_fault_fatal(r))
			continue;
		atomic_store(&fault.device, (int)i);
		atomic_store(&fault.at_us, omps_now_us());
		atomic_store(&fault.error, r);
		(void)!write(fault.notify, &one, sizeof(one));
		return 1;
	}
	atomic_store(&fault.last_good_us, omps_now_us());
	return 0;
}

/* By the watch: a client has work queued, or queued some since the last look. */
static int worked(void)
{
	return atomic_load(&fault.queued) > 0 || atomic_exchange(&fault.active, 0);
}

static void *watch(void *arg)
{
	struct srv_state *s = arg;
	struct pollfd p = {.fd = fault.poke, .events = POLLIN};
	int idle_looks = 0, doze;
	uint64_t n;

	while (!atomic_load(&fault.stop) && !probe_all(s)) {
		idle_looks = worked() ? 0 : idle_looks + 1;
		doze = idle_looks >= FAULT_DOZE_TICKS;
		if (doze) {
			atomic_store(&fault.dozing, 1); /* before the look at queued: a client's first work then pokes */
			if (worked()) {
				atomic_store(&fault.dozing, 0);
				doze = idle_looks = 0;
			}
		}
		if (poll(&p, 1, doze ? fault.idle_ms : fault.busy_ms) > 0)
			(void)!read(fault.poke, &n, sizeof(n));
	}
	return NULL; /* stopped, or the main loop takes it from here */
}

/* OPENMPS_FAULT_WATCH_MS: the busy pace, 1 to 60000 (a slower watch for
 * a GPU where a query costs more; tests use it to leave a fault unseen). */
static int watch_pace(char *err, size_t errlen)
{
	const char *v = getenv("OPENMPS_FAULT_WATCH_MS");
	char *end;
	long ms;

	fault.busy_ms = FAULT_WATCH_MS;
	if (v && *v) {
		errno = 0;
		ms = strtol(v, &end, 10);
		if (errno || *end || ms < 1 || ms > FAULT_WATCH_MAX) {
			snprintf(err, errlen, "OPENMPS_FAULT_WATCH_MS=%s: not a number of milliseconds from 1 to %d", v,
				 FAULT_WATCH_MAX);
			return -1;
		}
		fault.busy_ms = (int)ms;
	}
	fault.idle_ms = fault.busy_ms > FAULT_IDLE_MS ? fault.busy_ms : FAULT_IDLE_MS;
	return 0;
}

/* By the main loop, as a client connects: one that arrives after a fault
 * the watch has not seen yet must not be let into the poisoned context. */
int srv_fault_check(struct srv_state *s)
{
	return atomic_load(&fault.error) != CUDA_SUCCESS || (fault.running && probe_all(s));
}

int srv_fault_start(struct srv_state *s, char *err, size_t errlen)
{
	struct srv_driver *drv = s->drv;
	CUresult r;
	uint32_t i;

	if (watch_pace(err, errlen) < 0)
		return -1;
	fault.poke = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fault.notify = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fault.poke < 0 || fault.notify < 0) {
		snprintf(err, errlen, "cannot make the fault watch's eventfds: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < s->devices.ndevices; i++) {
		r = drv->ctx_set_current(s->ctx[i]);
		if (r == CUDA_SUCCESS)
			r = drv->stream_create(&fault.probe[i], CU_STREAM_NON_BLOCKING);
		if (r != CUDA_SUCCESS) {
			snprintf(err, errlen, "cannot make the fault watch's stream on device %u: error %d", i, (int)r);
			return -1;
		}
	}
	if (pthread_create(&fault.thread, NULL, watch, s) != 0) {
		snprintf(err, errlen, "cannot start the fault watch: %s", strerror(errno));
		return -1;
	}
	fault.running = 1;
	return 0;
}

/* Before the server lets its contexts go: the watch's probes end first. */
void srv_fault_stop(void)
{
	uint64_t one = 1;

	if (!fault.running)
		return;
	atomic_store(&fault.stop, 1);
	(void)!write(fault.poke, &one, sizeof(one));
	pthread_join(fault.thread, NULL);
	fault.running = 0;
}

/* Whether a call that failed on a poisoned context may be held for the
 * server made anew: the watch runs (it will see the poison) and the
 * server hands over rather than exits. */
int srv_fault_can_hold(void)
{
	return fault.running && !atomic_load(&fault.stop) && srv_handover_enabled();
}

int srv_fault_fd(void)
{
	return fault.notify;
}

/* The clients, as "PID (ID n)", that had work queued since their last
 * synchronize (busy) or not. */
static void list_clients(struct srv_state *s, int busy, char *out, size_t len)
{
	struct srv_client *c;
	size_t off = 0;
	int n;

	*out = '\0';
	for (c = s->clients; c && off < len; c = c->next) {
		if (srv_fault_busy(c) != busy)
			continue;
		n = snprintf(out + off, len - off, "%s%d (ID %u)", off ? ", " : "", (int)c->pid, c->id);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (!*out)
		snprintf(out, len, "none");
}

void srv_fault_handle(struct srv_state *s)
{
	char err[64], busy[1024], idle[1024], when[32], gone[512] = "";
	uint64_t at = atomic_load(&fault.at_us), good = atomic_load(&fault.last_good_us);
	struct timespec now;
	time_t secs;

	srv_driver_strerror(s->drv, atomic_load(&fault.error), err, sizeof(err));
	clock_gettime(CLOCK_REALTIME, &now);
	secs = now.tv_sec - (time_t)((omps_now_us() - at) / 1000000);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&secs));
	list_clients(s, 1, busy, sizeof(busy));
	list_clients(s, 0, idle, sizeof(idle));
	for (unsigned i = 0, off = 0; i < LEFT_KEPT && off < sizeof(gone); i++) {
		if (!left[i].at_us || omps_now_us() - left[i].at_us > 2000000)
			continue;
		off += (unsigned)snprintf(gone + off, sizeof(gone) - off, "%s%d (ID %u), %.0f ms before", off ? ", " : "",
					  (int)left[i].pid, left[i].id, (double)(omps_now_us() - left[i].at_us) / 1000.0);
	}
	omps_log("A GPU fault poisoned the shared context of device %d: %s, seen at %s, %.1f ms after the last look "
		 "that found it well",
		 atomic_load(&fault.device), err, when, at > good ? (double)(at - good) / 1000.0 : 0.0);
	omps_log("Clients with work on the GPU since their last synchronize: %s; idle: %s%s%s", busy, idle,
		 *gone ? "; left with work queued: " : "", gone);
	srv_handover(s, atomic_load(&fault.error), atomic_load(&fault.device), at); /* returns only if it cannot */
	omps_log("Every client of this server loses its context, as under NVIDIA MPS. The server exits; the next "
		 "client gets a new one");
	for (struct srv_client *c = s->clients; c; c = c->next)
		srv_farewell(c, "a GPU fault in the shared context cost every program its context, this one too (%s)",
			     err);
	srv_standby_quit(); /* a record against a crash is not for this exit */
	_exit(OMPS_SERVER_EXIT_FAULT); /* the driver frees the context with the process */
}
