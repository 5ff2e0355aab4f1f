/* A client's data channel: the two rings in the memfd it sent, the device
 * cache it is given, the doorbell it rings when its ring is parked, and the
 * loop a worker thread runs to execute its calls. Once the channel is open
 * the worker pool owns the client: the main thread only sets `stop`, and a
 * worker releases everything the client held and frees it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "settings.h"
#include "devices.h"
#include "log.h"
#include "server.h"
#include "sock.h"

#define MIN_RING (64u << 10)
#define MAX_RING (64u << 20)

static int ring_size_ok(uint32_t n)
{
	return n >= MIN_RING && n <= MAX_RING && (n & (n - 1)) == 0;
}

/* The client's own memory and descriptors, once its call families have
 * released what they held on its behalf (channel.c's release). */
void srv_client_free(struct srv_client *c)
{
	srv_fault_forget(c); /* its worker is done with it: nothing more is queued */
	if (c->map)
		munmap(c->map, c->map_len);
	if (c->bell >= 0)
		close(c->bell);
	if (c->ring_fd >= 0)
		close(c->ring_fd);
	/* The standby holds a copy of the socket (checkpoint.c): shut, the
	 * client sees it closed all the same. */
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	pthread_mutex_destroy(&c->run_lock);
	pthread_mutex_destroy(&c->host.lock);
	pthread_cond_destroy(&c->host.idle);
	srv_qos_release(c);
	free(c->held);
	free(c->buf);
	free(c);
}

/* The rings and the record buffer page-locked: copies between them and the
 * device are then DMA, without the driver's own staging. Optional: a
 * driver that refuses leaves them pageable. */
/* Whether the GPUs may signal clients' synchronizes (context.c): unless
 * OPENMPS_SYNC_SIGNAL=0, where every GPU of the server reaches page-locked
 * memory at its host address (CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM), so
 * that one address of the word serves in every context. Decided once. */
static int signals_on(struct srv_state *s)
{
	static atomic_int known = -1;
	int on = (int)omps_env_range("OPENMPS_SYNC_SIGNAL", 0, 1, "", 1);

	if (atomic_load(&known) >= 0)
		return atomic_load(&known);
	if (!on)
		omps_log("Synchronizes wait in the server, not for the GPU's signal (OPENMPS_SYNC_SIGNAL=0)");
	else if (!srv_host_same_address(s)) {
		omps_log("A GPU cannot reach page-locked memory at its host address: synchronizes wait in the server");
		on = 0;
	}
	atomic_store(&known, on);
	return on;
}

/* The reply ring's signal word, which the GPU may write (SYNC_SIGNAL). */
static void signal_word(struct srv_client *c)
{
	c->signal.at = (c->pinned & 1) && signals_on(c->srv) ? (CUdeviceptr)(uintptr_t)omps_ring_signal_word(&c->rep)
							     : 0;
}

static void pin(struct srv_client *c, int on)
{
	struct srv_driver *drv = c->srv->drv;

	if (drv->ctx_set_current(c->srv->ctx[0]) != CUDA_SUCCESS)
		return;
	if (on) {
		c->pinned = drv->mem_host_register(c->map, c->map_len, CU_MEMHOSTREGISTER_PORTABLE) == CUDA_SUCCESS;
		c->pinned |= (drv->mem_host_register(c->buf, c->buf_len, CU_MEMHOSTREGISTER_PORTABLE) == CUDA_SUCCESS)
			     << 1;
		signal_word(c);
		return;
	}
	c->signal.at = 0;
	if (c->pinned & 1)
		drv->mem_host_unregister(c->map);
	if (c->pinned & 2)
		drv->mem_host_unregister(c->buf);
	c->pinned = 0;
}

static void release(struct srv_client *c)
{
	struct srv_state *srv = c->srv;
	uint32_t i;

	/* The main thread may still be in srv_channel_stop: wait it out. */
	pthread_mutex_lock(&c->run_lock);
	pthread_mutex_unlock(&c->run_lock);
	srv_hostfn_release(c); /* first: its streams must be able to drain */
	srv_hostfn_drain(c);
	srv_launch_release(c); /* before its modules: its graphs name their functions */
	srv_graph_release(c);  /* before its streams: a capture left open ends */
	srv_module_release(c);
	srv_link_release(c);
	srv_array_release(c);
	srv_vmm_release(c); /* before memory: its mappings are in the allocation table */
	srv_memory_release(c);
	srv_host_release(c);
	srv_signal_release(c); /* its waits on its streams and events first */
	srv_stream_release(c);
	for (i = 0; i < OMPS_MAX_DEVICES; i++)
		if (c->stream[i] && srv_use_device(c, (int)i, NULL) == CUDA_SUCCESS)
			c->srv->drv->stream_destroy(c->stream[i]);
	pin(c, 0);
	srv_workers_forget(c);
	omps_log("Client process %d: all it held released, %.1f ms after it left", (int)c->pid,
		 (double)(omps_now_us() - c->stopped_us) / 1000.0);
	srv_client_free(c);
	atomic_fetch_sub(&srv->workers.channels, 1); /* last: the contexts may go now */
}

/* Back to the pool's epoll set, unless the client was stopped or poked
 * meanwhile (both under run_lock, so that neither is missed).
 * Returns 0 once parked: from then on another thread may own the client. */
static int park(struct srv_client *c)
{
	int r = -1;

	pthread_mutex_lock(&c->run_lock);
	if (!atomic_load(&c->stop) && !atomic_load(&c->req.poked)) { /* a poke since: not parked */
		c->parked = 1;
		r = srv_workers_park(c, 0);
		if (r < 0) {
			c->parked = 0;
			omps_log("Client process %d: cannot wait for its doorbell: %s", (int)c->pid,
				 strerror(errno));
		}
	}
	pthread_mutex_unlock(&c->run_lock);
	return r;
}

#define HOLD_WAIT_US 2000000 /* for the server to start handing over, after a held call */

/* The record just served failed only because the context is poisoned
 * (call.c's hold): kept, not answered, and it queued nothing. The worker
 * waits for the handover, which keeps the record for the server made anew
 * (handover.c); if none comes, the context was not poisoned after all and
 * the record is served again here, answered whatever it returns. */
static void hold_record(struct srv_client *c, uint32_t type, uint32_t len)
{
	uint64_t t0 = omps_now_us();

	srv_fault_queued(c, c->was_queued);
	free(c->held);
	c->held = malloc(len ? len : 1);
	if (c->held) {
		memcpy(c->held, c->buf, len);
		c->held_type = type;
		c->held_len = len;
		if (!c->held_told++)
			omps_log("Client process %d: %s failed on the poisoned context; it is held and served again "
				 "once the server is made anew", (int)c->pid, omps_call_name(type));
		while (!atomic_load(&c->srv->handing_over) && !atomic_load(&c->stop) &&
		       omps_now_us() - t0 < HOLD_WAIT_US)
			usleep(1000);
		if (atomic_load(&c->srv->handing_over) || atomic_load(&c->stop))
			return;
		free(c->held);
		c->held = NULL;
	}
	c->holding = 0;
	c->no_hold = 1; /* served again here, once, and answered */
	srv_dispatch(c, type, c->buf, len);
}

/* The record the server before this one held (handover.c), served first. */
static void serve_held(struct srv_client *c)
{
	uint32_t type = c->held_type, len = c->held_len;

	if (len > c->buf_len) { /* not a record this server could have held */
		free(c->held);
		c->held = NULL;
		srv_give_up(c, "the call held over the fault does not fit a record");
		return;
	}
	memcpy(c->buf, c->held, len);
	free(c->held);
	c->held = NULL;
	srv_qos_check(c);
	srv_dispatch(c, type, c->buf, len);
}

static int joins(const struct omps_call_launch *first, uint32_t type, int64_t len, const struct omps_call_launch *next)
{
	return type == OMPS_CALL_LAUNCH && len >= (int64_t)sizeof(*next) && !next->nattrs &&
	       next->stream == first->stream && next->dev == first->dev;
}

/* One entry of a run at off in c->buf, its record already there after the
 * entry's 8 bytes: the length, the padding zeroed. Returns the next off. */
static size_t entry(struct srv_client *c, size_t off, uint32_t len)
{
	memcpy(c->buf + off, &len, sizeof(len));
	memset(c->buf + off + 4, 0, 4);
	memset(c->buf + off + 8 + len, 0, OMPS_RUN_ENTRY(len) - 8 - len);
	return off + OMPS_RUN_ENTRY(len);
}

/* The LAUNCH just popped into c->buf (n bytes), and the plain launches on
 * its stream right behind it in the ring, as one LAUNCH_RUN in c->buf
 * (launch.c sends it to the GPU as graphs). Only what already waits: no
 * launch is held back to make a run. Returns the record's length, *type
 * LAUNCH_RUN if more than one joined. */
static int64_t gather(struct srv_client *c, uint32_t *type, int64_t n)
{
	const size_t head = sizeof(struct omps_call_launch_run), cap = c->buf_len;
	struct omps_call_launch first, next;
	struct omps_call_launch_run run = {.count = 1};
	uint32_t t = 0;
	int64_t len, got;
	size_t off;

	if (c->srv->runs_off || n < (int64_t)sizeof(first))
		return n;
	memcpy(&first, c->buf, sizeof(first));
	len = omps_ring_peek(&c->req, &t, &next, sizeof(next));
	if (first.nattrs || !joins(&first, t, len, &next) ||
	    head + 16 + (size_t)n + (size_t)len + 16 > cap)
		return n;
	memmove(c->buf + head + 8, c->buf, (size_t)n);
	off = entry(c, head, (uint32_t)n);
	do {
		got = omps_ring_pop(&c->req, &t, c->buf + off + 8, cap - off - 8);
		if (got < 0)
			break; /* the next pop in the loop says what is wrong */
		if (got != len || t != OMPS_CALL_LAUNCH) { /* its ring changed under the server */
			srv_give_up(c, "its request ring changed between two reads");
			break;
		}
		off = entry(c, off, (uint32_t)got);
		run.count++;
		len = omps_ring_peek(&c->req, &t, &next, sizeof(next));
	} while (run.count < OMPS_MAX_RUN && joins(&first, t, len, &next) && off + 16 + (size_t)len <= cap);
	memcpy(c->buf, &run, sizeof(run));
	*type = OMPS_CALL_LAUNCH_RUN;
	return (int64_t)off;
}

/* A client that pauses this long is settled (srv_fault_settle: its graphs
 * written down; if nothing is queued since its last synchronize, its module
 * data copied), so that a fault in the rest of the park delay keeps it as
 * its park would. At most once a pause, never while it posts faster. */
#define SETTLE_MS 1

/* Whether a record came within ms (after the spin for a signalled
 * synchronize's word, while the server is not crowded: srv_signal_await);
 * at once when every thread of the pool is busy. */
static int wait_for_work(struct srv_client *c, int ms)
{
	struct srv_state *s = c->srv;

	if (srv_workers_saturated(s) || ms < 0)
		ms = 0;
	else if (c->signal.last && !srv_workers_crowded(s) && srv_signal_await(c))
		return 1;
	return omps_ring_wait_data(&c->req, c->settled ? 0 : s->workers.spin_us, ms);
}

/* Serves until the client is idle, then parks it; a worker keeps a client
 * that paused only briefly (its futex), and lets go at once when every
 * thread of the pool is busy, so that the others get their turn. */
void srv_channel_run(struct srv_client *c)
{
	uint64_t rang;

	pthread_mutex_lock(&c->run_lock);
	if (atomic_load(&c->srv->handing_over)) { /* woken as the server hands over: it stays as it was */
		c->quiet = 1;
		pthread_mutex_unlock(&c->run_lock);
		return;
	}
	c->parked = 0;
	srv_checkpoint_touch(c); /* before it serves anything: a record of it no longer holds */
	pthread_mutex_unlock(&c->run_lock);
	if (read(c->bell, &rang, sizeof(rang)) < 0) {
		/* EAGAIN: nothing rang; a spurious wake */
	}
	if (c->pin_later) {
		c->pin_later = 0;
		pin(c, 1);
	}
	for (;;) {
		uint32_t type;
		int64_t n;

		if (atomic_load(&c->stop)) {
			release(c);
			return;
		}
		if (atomic_load_explicit(&c->srv->handing_over, memory_order_relaxed)) {
			pthread_mutex_lock(&c->run_lock);
			c->quiet = 1; /* between records: handover.c keeps it as it stands */
			pthread_mutex_unlock(&c->run_lock);
			return;
		}
		if (c->held && !c->holding) {
			serve_held(c);
			c->settled = 0;
			continue;
		}
		if (omps_ring_poked(&c->req))
			srv_host_unshare(c);
		if (!c->dead && !c->settled && !wait_for_work(c, SETTLE_MS)) {
			srv_fault_settle(c, 0);
			c->settled = 1;
			continue; /* a handover, a stop or a poke may have come meanwhile */
		}
		if (c->dead || (!wait_for_work(c, c->srv->workers.park_ms - SETTLE_MS) && !omps_ring_park(&c->req))) {
			srv_qos_usage_flush(c);
			srv_fault_settle(c, 1);
			if (park(c) == 0)
				return;
			if (!atomic_load(&c->stop)) /* cannot park: serve it from here */
				omps_ring_wait_data(&c->req, 0, 1000);
			continue;
		}
		n = omps_ring_pop(&c->req, &type, c->buf, omps_ring_max_payload(&c->req));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0) {
			srv_give_up(c, errno == EPROTO ? "its request ring is corrupt" : "a request too large");
			continue;
		}
		c->settled = 0;
		srv_qos_check(c);
		if (type == OMPS_CALL_LAUNCH)
			n = gather(c, &type, n);
		srv_dispatch(c, type, c->buf, (size_t)n);
		if (__builtin_expect(c->holding, 0))
			hold_record(c, type, (uint32_t)n);
		c->no_hold = 0;
	}
}

/* The buffer one request record is copied into, page-aligned (pin() page-locks it). */
static int record_buffer(struct srv_client *c)
{
	c->buf_len = (omps_ring_max_payload(&c->req) + 4095) & ~(size_t)4095;
	if (posix_memalign((void **)&c->buf, 4096, c->buf_len))
		c->buf = NULL;
	return c->buf ? 0 : -1;
}

static int map_rings(struct srv_client *c, int memfd, const struct omps_channel_open *o, char *err,
		     size_t errlen)
{
	size_t req = omps_ring_bytes(o->request_ring), need = req + omps_ring_bytes(o->reply_ring);
	struct stat st;
	int seals = fcntl(memfd, F_GET_SEALS);

	if (!ring_size_ok(o->request_ring) || !ring_size_ok(o->reply_ring)) {
		snprintf(err, errlen, "ring sizes must be powers of two from 64 KiB to 64 MiB");
		return -1;
	}
	/* Unsealed, the client could shrink the file under us: SIGBUS. */
	if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(memfd, &st) < 0 || (size_t)st.st_size < need) {
		snprintf(err, errlen, "the channel memory must be a memfd sealed against shrinking, of %zu bytes",
			 need);
		return -1;
	}
	c->map = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		snprintf(err, errlen, "cannot map the channel memory: %s", strerror(errno));
		return -1;
	}
	c->map_len = need;
	if (omps_ring_attach(&c->req, c->map, req) < 0 ||
	    omps_ring_attach(&c->rep, (char *)c->map + req, need - req) < 0) {
		snprintf(err, errlen, "the rings are not formatted");
		return -1;
	}
	return 0;
}

int srv_channel_open(struct srv_client *c, int memfd, const void *payload, size_t len, char *err, size_t errlen)
{
	struct omps_channel_open o;
	uint32_t k, j;

	if (c->map || len != sizeof(o) || memfd < 0) {
		snprintf(err, errlen, "malformed channel request");
		return -1;
	}
	memcpy(&o, payload, sizeof(o));
	if (map_rings(c, memfd, &o, err, errlen) < 0)
		return -1;
	c->ring_fd = memfd; /* the caller's no more */
	c->ring_sizes = o;
	if (record_buffer(c) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv_beat_doing(c->pid, "opening the data channel of client process %d", (int)c->pid);
	for (k = 0; k < c->nview; k++) { /* the GPUs it sees, in its order */
		int i = c->view[k];
		struct omps_device_info info = {.dev = c->srv->devices.dev[i]};

		info.dev.ordinal = (int32_t)k;
		for (j = 0; j < c->nview; j++) /* in its ordinals */
			info.peers |= (c->srv->peers[i] >> c->view[j] & 1) << j;
		srv_device_attrs(c->srv->drv, (int)i, info.attrs, OMPS_MAX_ATTRS);
		if (c->srv->drv->ctx_set_current(c->srv->ctx[i]) == CUDA_SUCCESS) {
			srv_qos_priority_range(c->srv, (int)i, &info.least_priority, &info.greatest_priority);
			c->srv->drv->ctx_get_api_version(c->srv->ctx[i], &info.api_version);
		}
		/* Never blocking: this is the main loop, and a client that does
		 * not read its socket must not stop it (it is refused instead). */
		if (omps_send(c->fd, OMPS_MSG_DEVICE_INFO, 0, 0, &info, sizeof(info), -1, 0) < 0) {
			snprintf(err, errlen, "cannot send device information: %s",
				 errno == EAGAIN ? "its socket is full: it does not read it" : strerror(errno));
			return -1;
		}
	}
	/* Parked before the client hears it may post: its first record rings. */
	c->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->bell >= 0) {
		omps_ring_park(&c->req); /* empty: the client may not post yet */
		c->parked = 1;
	}
	if (c->bell < 0 || srv_workers_park(c, 1) < 0) {
		snprintf(err, errlen, "cannot make its doorbell: %s", strerror(errno));
		return -1;
	}
	/* Its worker page-locks the rings as it first serves it (pin_later):
	 * 10-30 ms a client on the H200, and seconds behind a faulting GPU,
	 * which the main loop spent here, admitting nobody meanwhile. */
	c->pin_later = 1;
	c->has_worker = 1;
	atomic_fetch_add(&c->srv->workers.channels, 1);
	omps_log("Client {PID: %d, ID: %u} opened its data channel", (int)c->pid, c->id);
	if (omps_send(c->fd, OMPS_MSG_CHANNEL_READY, 0, 0, NULL, 0, c->bell, 0) < 0)
		srv_give_up(c, "its socket is full: it does not read it"); /* the main loop sees it leave */
	return 0;
}

/* From another thread: work for the client's own worker (srv_channel_run
 * takes it before its next record), which is woken if it sleeps or is
 * parked. */
void srv_channel_poke(struct srv_client *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->run_lock);
	omps_ring_poke(&c->req);
	if (c->parked && write(c->bell, &one, sizeof(one)) < 0)
		omps_log("Client process %d: cannot wake its worker: %s", (int)c->pid, strerror(errno));
	pthread_mutex_unlock(&c->run_lock);
}

/* From the main thread. Whoever owns the client releases it: a worker that
 * serves it sees stop; a parked one is woken through its doorbell. c may be
 * freed once run_lock is let go. */
void srv_channel_stop(struct srv_client *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->run_lock);
	c->stopped_us = omps_now_us();
	omps_ring_interrupt(&c->req);
	atomic_store(&c->stop, 1);
	srv_qos_left(c);
	srv_hostfn_release(c); /* its streams' waits for its host functions end now */
	if (c->parked && write(c->bell, &one, sizeof(one)) < 0)
		omps_log("Client process %d: cannot wake a worker to release it: %s", (int)c->pid,
			 strerror(errno));
	pthread_mutex_unlock(&c->run_lock);
}

/* A successor's (handover.c): the rings where they stand, the doorbell the
 * shim has, parked with the pool; its worker serves what waits in them once
 * the pool runs, rung here so that it looks at once. */
int srv_channel_adopt(struct srv_client *c, int ring_fd, int bell, const struct omps_channel_open *o)
{
	char err[128];
	uint64_t one = 1;

	c->ring_fd = ring_fd; /* the client's from here, closed with it */
	c->bell = bell;
	c->ring_sizes = *o;
	if (ring_fd < 0 || bell < 0 || map_rings(c, ring_fd, o, err, sizeof(err)) < 0 || record_buffer(c) < 0)
		return -1;
	c->parked = 1;
	if (srv_workers_park(c, 1) < 0)
		return -1;
	/* Page-locking 12 MiB and more took a client 10-30 ms of the successor's
	 * start on the H200: its worker does it, once serving has begun, as
	 * for a new client. */
	c->pin_later = 1;
	c->has_worker = 1;
	atomic_fetch_add(&c->srv->workers.channels, 1);
	(void)!write(c->bell, &one, sizeof(one));
	return 0;
}
