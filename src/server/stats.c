/* What each client asks of the server, counted as its calls are
 * dispatched: calls, kernel and graph launches, copies and the bytes they
 * move, synchronizes (and those the GPU signalled, counted by context.c),
 * for the daemon's ps --json, openmps top and its metrics; and the
 * time it has work queued on the GPU (fault.c marks it: from an
 * asynchronous call to its next good synchronize). A launch the driver
 * refuses later still counts: these are requests. Its worker
 * counts (relaxed: one writer); the main loop reads the counters about
 * four times a second and sends the daemon those that moved, so an idle client
 * costs nothing and a busy one four messages a second. */
#include <string.h>

#include "clock.h"
#include "server.h"
#include "sock.h"

static void bump(_Atomic uint64_t *x, uint64_t by)
{
	atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + by, memory_order_relaxed);
}

/* The bytes a copy moves; 0 and no copy for another call. */
static int copy_bytes(uint32_t type, const unsigned char *rec, uint64_t *bytes)
{
	struct omps_call_copy2d c2;
	struct omps_call_staged st;
	struct omps_call_copy_peer pe;
	struct omps_call_copy cp;

	switch (type) {
	case OMPS_CALL_MEMCPY_HTOD:
	case OMPS_CALL_MEMCPY_DTOH:
	case OMPS_CALL_MEMCPY_DTOD:
	case OMPS_CALL_MEMCPY_HTOD_HOST:
	case OMPS_CALL_MEMCPY_DTOH_HOST:
		memcpy(&cp, rec, sizeof(cp));
		*bytes = cp.bytes;
		return 1;
	case OMPS_CALL_MEMCPY_2D:
		memcpy(&c2, rec, sizeof(c2));
		*bytes = c2.width * c2.height;
		return 1;
	case OMPS_CALL_MEMCPY_STAGED:
		memcpy(&st, rec, sizeof(st));
		*bytes = st.bytes;
		return 1;
	case OMPS_CALL_MEMCPY_PEER:
		memcpy(&pe, rec, sizeof(pe));
		*bytes = pe.bytes;
		return 1;
	}
	return 0;
}

/* On its worker; rec has passed the dispatcher's length check for type. */
void srv_stats_count(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len)
{
	enum omps_call_reply reply;
	uint64_t bytes;

	bump(&c->stats.calls, 1);
	/* Memory figures held back by qos.c's rate go out once it allows, not
	 * only when the client pauses: a client that never pauses for long
	 * (a call every few ms) showed no memory in ps. */
	if (c->usage_dirty)
		srv_qos_usage_changed(c, 0);
	reply = omps_call_info(type)->reply;
	c->noting = reply == OMPS_REPLY_ASYNC || reply == OMPS_REPLY_MIXED;
	if (c->noting) {
		if (c->signal.clean && c->signal.at && omps_ring_signalled(&c->rep, c->signal.seq))
			c->work_any = 0, c->work_devs = 0; /* all it queued was done (the signal said so): noted afresh */
		c->signal.clean = 0; /* the GPU's signal, if any, came before this */
		srv_fault_queued(c, 1); /* work on the GPU that no one waited for yet */
		srv_fault_work(c, type, rec, len);
	}
	if (type == OMPS_CALL_LAUNCH) {
		bump(&c->stats.kernels, 1);
	} else if (type == OMPS_CALL_LAUNCH_RUN) { /* each launch is a call of the client's */
		struct omps_call_launch_run m;

		memcpy(&m, rec, sizeof(m));
		m.count = m.count > OMPS_MAX_RUN ? 1 : m.count; /* malformed: refused by its handler */
		bump(&c->stats.calls, m.count - (m.count > 0));
		bump(&c->stats.kernels, m.count);
	} else if (type == OMPS_CALL_SYNCHRONIZE || type == OMPS_CALL_STREAM_SYNC || type == OMPS_CALL_EVENT_SYNC ||
		   type == OMPS_CALL_SYNC_SIGNAL) {
		bump(&c->stats.syncs, 1);
		srv_fault_sync(c, type, rec, len);
	} else if (type == OMPS_CALL_GRAPH_LAUNCH) {
		bump(&c->stats.graphs, 1);
	} else if (copy_bytes(type, rec, &bytes)) {
		bump(&c->stats.copies, 1);
		bump(&c->stats.copy_bytes, bytes);
	}
}

/* signal.c: one of its synchronizes went to the GPU's signal. */
void srv_stats_signalled(struct srv_client *c)
{
	bump(&c->stats.syncs_signalled, 1);
}

/* fault.c's mark changed: an interval of queued work begins or ends. */
void srv_stats_queued(struct srv_client *c, int queued)
{
	uint64_t now = omps_now_us(), since;

	if (queued) {
		atomic_store(&c->stats.queued_since, now);
		return;
	}
	since = atomic_exchange(&c->stats.queued_since, 0);
	if (since && now > since)
		atomic_fetch_add(&c->stats.queued_us, now - since);
}

/* Its queued time so far, never less than last sent (a sweep that meets an
 * interval as it closes might count it twice, then once). */
static uint64_t queued_us(struct srv_client *c)
{
	uint64_t since = atomic_load(&c->stats.queued_since), now = omps_now_us();
	uint64_t t = atomic_load(&c->stats.queued_us) + (since && now > since ? now - since : 0);

	return t > c->stats.sent_queued ? t : c->stats.sent_queued;
}

/* On the main loop: each client whose counters moved since it last told. */
void srv_stats_sweep(struct srv_state *s)
{
	struct srv_client *c;

	for (c = s->clients; c; c = c->next) {
		struct omps_client_stats m = {.pid = c->pid};

		m.calls = atomic_load_explicit(&c->stats.calls, memory_order_relaxed);
		m.queued_us = queued_us(c);
		m.flags = c->poison != CUDA_SUCCESS ? OMPS_CLIENT_FAULTED : 0; /* set before its worker ran */
		/* counted as its handler answers, after the call was */
		m.syncs_signalled = atomic_load_explicit(&c->stats.syncs_signalled, memory_order_relaxed);
		if (m.calls == c->stats.sent_calls && m.queued_us == c->stats.sent_queued &&
		    m.flags == c->stats.sent_flags && m.syncs_signalled == c->stats.sent_signalled)
			continue;
		m.kernels = atomic_load_explicit(&c->stats.kernels, memory_order_relaxed);
		m.graphs = atomic_load_explicit(&c->stats.graphs, memory_order_relaxed);
		m.copies = atomic_load_explicit(&c->stats.copies, memory_order_relaxed);
		m.copy_bytes = atomic_load_explicit(&c->stats.copy_bytes, memory_order_relaxed);
		m.syncs = atomic_load_explicit(&c->stats.syncs, memory_order_relaxed);
		/* Not blocking: a daemon that is behind gets it next time. */
		if (s->control_fd >= 0 &&
		    omps_send(s->control_fd, OMPS_MSG_CLIENT_STATS, 0, 0, &m, sizeof(m), -1, 0) == 0) {
			c->stats.sent_calls = m.calls;
			c->stats.sent_queued = m.queued_us;
			c->stats.sent_flags = m.flags;
			c->stats.sent_signalled = m.syncs_signalled;
		}
	}
}
