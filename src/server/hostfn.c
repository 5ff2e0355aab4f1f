/* Host functions and stream callbacks, which run in the client: the stream
 * tells the client its function is reached and waits on the GPU until the
 * client says it has returned (protocol.h, struct omps_hostfn_area). The
 * stream never blocks a driver thread: the driver's host function here only
 * wakes the client's futex, which is safe even once the client is gone (a
 * futex call on an address no longer mapped fails, it does not fault). */
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"

static void wake_client(void *doorbell)
{
	syscall(SYS_futex, doorbell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void srv_hostfn_area(struct srv_client *c, const struct omps_call_ptr *m)
{
	CUresult r = CUDA_SUCCESS;

	if (c->hostfn.area || m->ptr % 64 || !srv_host_device_ptr(c, m->ptr, sizeof(struct omps_hostfn_area)))
		r = CUDA_ERROR_INVALID_VALUE; /* set before, or not in memory it shares with us */
	else
		__atomic_store_n(&c->hostfn.area, m->ptr, __ATOMIC_RELEASE);
	srv_reply_result(c, r);
}

static CUresult word(struct srv_client *c, size_t offset, CUdeviceptr *d)
{
	*d = c->hostfn.area ? srv_host_device_ptr(c, c->hostfn.area + offset, 4) : 0;
	return *d ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* A host function in a graph (graph slot `slot`, struct omps_hostfn_area),
 * as operations on s, which is being captured. */
static CUresult graph_ops(struct srv_client *c, CUstream s, uint32_t slot)
{
	struct srv_driver *drv = c->srv->drv;
	CUdeviceptr state, bell;
	CUresult r = slot < OMPS_HOSTFN_GRAPH_SLOTS ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, graph) + 4 * (size_t)slot, &state);
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, doorbell), &bell);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, state, 1, 0);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, bell, 0x80000000u | slot, 0);
	if (r == CUDA_SUCCESS)
		r = drv->launch_host_func(s, wake_client, (void *)(uintptr_t)c->hostfn.area);
	if (r == CUDA_SUCCESS)
		r = drv->stream_wait_value32(s, state, 2, CU_STREAM_WAIT_VALUE_GEQ);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, state, 0, 0);
	if (r == CUDA_SUCCESS)
		__atomic_store_n(&c->hostfn.graphs, 1, __ATOMIC_RELEASE);
	return r;
}

int srv_hostfn_graph_slot(struct srv_client *c, CUdeviceptr addr)
{
	CUdeviceptr base;

	if (word(c, offsetof(struct omps_hostfn_area, graph), &base) != CUDA_SUCCESS || addr < base ||
	    (addr - base) % 4 || (addr - base) / 4 >= OMPS_HOSTFN_GRAPH_SLOTS)
		return -1;
	return (int)((addr - base) / 4);
}

CUresult srv_hostfn_graph(struct srv_client *c, uint32_t slot, CUgraph *out)
{
	struct srv_driver *drv = c->srv->drv;
	CUstream s = NULL;
	CUgraph g = NULL;
	CUresult r = drv->stream_create(&s, CU_STREAM_NON_BLOCKING), end;

	if (r == CUDA_SUCCESS) {
		r = drv->stream_begin_capture(s, CU_STREAM_CAPTURE_MODE_RELAXED);
		if (r == CUDA_SUCCESS) {
			r = graph_ops(c, s, slot);
			end = drv->stream_end_capture(s, &g);
			r = r == CUDA_SUCCESS ? end : r;
		}
		drv->stream_destroy(s);
	}
	if (r != CUDA_SUCCESS && g)
		drv->graph_destroy(g);
	*out = r == CUDA_SUCCESS ? g : NULL;
	return r;
}

/* A host function captured on s: one child graph node of the operations
 * that run it (srv_hostfn_graph), where the capture stands, as the driver
 * makes one host node. */
static CUresult capture_host(struct srv_client *c, CUstream s, uint32_t slot)
{
	struct srv_driver *drv = c->srv->drv;
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	const CUgraphEdgeData *edges = NULL;
	const CUgraphNode *deps = NULL;
	CUgraphNode node = NULL;
	CUgraph g = NULL;
	cuuint64_t id = 0;
	size_t n = 0;
	CUresult r = drv->graph_add_node && drv->stream_update_capture_dependencies ? CUDA_SUCCESS
										      : CUDA_ERROR_NOT_SUPPORTED;

	if (r == CUDA_SUCCESS)
		r = drv->stream_get_capture_info(s, &st, &id, &g, &deps, &edges, &n);
	if (r == CUDA_SUCCESS && (st != CU_STREAM_CAPTURE_STATUS_ACTIVE || !g))
		r = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	if (r == CUDA_SUCCESS)
		r = srv_hostfn_graph(c, slot, &p.graph.graph);
	if (r == CUDA_SUCCESS)
		r = drv->graph_add_node(&node, g, deps, edges, n, &p);
	if (p.graph.graph)
		drv->graph_destroy(p.graph.graph); /* the node holds a copy */
	if (r == CUDA_SUCCESS)
		r = drv->stream_update_capture_dependencies(s, &node, NULL, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES);
	return r;
}

/* HOST_FUNC, and HOST_FUNC_CAPTURE (answered: 1 if captured with its graph
 * slot, 0 if queued with its ticket). */
void srv_hostfn_call(struct srv_client *c, const struct omps_call_hostfn *m)
{
	struct srv_driver *drv = c->srv->drv;
	size_t slot = m->ticket % OMPS_HOSTFN_SLOTS;
	int reply = c->call == OMPS_CALL_HOST_FUNC_CAPTURE;
	CUdeviceptr reached, bell, done;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && reply && m->graph_slot && srv_capturing(c, s)) {
		r = capture_host(c, s, m->graph_slot - 1);
		if (r != CUDA_SUCCESS)
			srv_refused(c, "a host function could not be captured (CUresult %d)", (int)r);
		srv_reply_value(c, r, 1);
		return;
	}
	if (r == CUDA_SUCCESS) /* its ticket would be replayed */
		r = srv_capture_refuse(c, s, "a host function or stream callback");
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, reached) + 4 * slot, &reached);
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, doorbell), &bell);
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, done) + 4 * slot, &done);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, reached, m->ticket, 0);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, bell, m->ticket, 0);
	if (r == CUDA_SUCCESS)
		r = drv->launch_host_func(s, wake_client, (void *)(uintptr_t)c->hostfn.area);
	if (r == CUDA_SUCCESS)
		r = drv->stream_wait_value32(s, done, m->ticket, CU_STREAM_WAIT_VALUE_GEQ);
	if (r == CUDA_SUCCESS) {
		__atomic_store_n(&c->hostfn.last, m->ticket, __ATOMIC_RELEASE);
		__atomic_store_n(&c->hostfn.pending, 1, __ATOMIC_RELEASE);
	}
	if (reply)
		srv_reply_value(c, srv_with_sticky(c, r), 0);
	else
		srv_deferred(c, r);
}

/* The client's area, with the hosts lock held so that it cannot be unmapped
 * meanwhile; NULL (the lock still held) if it shares none. The caller
 * unlocks c->host.lock. */
static struct omps_hostfn_area *area_locked(struct srv_client *c)
{
	uint64_t area = __atomic_load_n(&c->hostfn.area, __ATOMIC_ACQUIRE);

	pthread_mutex_lock(&c->host.lock);
	return area && srv_host_mapped_locked(c, area, sizeof(struct omps_hostfn_area))
		       ? (struct omps_hostfn_area *)(uintptr_t)area
		       : NULL;
}

/* Each graph slot's word set to 2 (its function returned), so that a launch
 * waiting on one goes on. */
static void graphs_let_go(struct srv_client *c)
{
	struct omps_hostfn_area *a = area_locked(c);
	size_t i;

	for (i = 0; a && i < OMPS_HOSTFN_GRAPH_SLOTS; i++)
		__atomic_store_n(&a->graph[i], 2, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->host.lock);
}

uint32_t srv_hostfn_graph_called(struct srv_client *c)
{
	struct omps_hostfn_area *a;
	uint32_t i, slot = 0;

	if (!__atomic_load_n(&c->hostfn.graphs, __ATOMIC_ACQUIRE))
		return 0;
	a = area_locked(c);
	for (i = 0; a && i < OMPS_HOSTFN_GRAPH_SLOTS && !slot; i++)
		if (__atomic_load_n(&a->graph[i], __ATOMIC_ACQUIRE) == 1)
			slot = i + 1;
	pthread_mutex_unlock(&c->host.lock);
	return slot;
}

void srv_hostfn_graphs_gone(struct srv_client *c)
{
	struct omps_hostfn_area *a;

	if (!__atomic_load_n(&c->hostfn.graphs, __ATOMIC_ACQUIRE) || srv_graph_live(c))
		return;
	if ((a = area_locked(c)))
		__atomic_fetch_add(&a->graph_epoch, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->host.lock);
	__atomic_store_n(&c->hostfn.graphs, 0, __ATOMIC_RELEASE);
}

/* On its worker, as it is released: a launch of a graph with host functions
 * may be queued several times over, each waiting again once the one before
 * set its word back to 0, so the words are set until its streams are idle
 * (at most 5 s). Before its host memory goes: the GPU writes the area. */
void srv_hostfn_drain(struct srv_client *c)
{
	uint64_t end = omps_now_us() + 5000000;

	if (!__atomic_load_n(&c->hostfn.graphs, __ATOMIC_ACQUIRE))
		return;
	for (;;) {
		graphs_let_go(c);
		if (srv_streams_idle(c))
			return;
		if (omps_now_us() > end)
			break;
		usleep(1000);
	}
	omps_log("Client process %d: its graphs' host functions still wait after 5 s; its memory is released anyway",
		 (int)c->pid);
}

/* A client that is gone runs no more functions: every wait of its streams is
 * let go, so that its streams drain before its memory is released. Under the
 * hosts lock, so that the area cannot be unmapped meanwhile. From the main
 * thread as soon as the client is gone (srv_channel_stop), and again from
 * its worker's release: the worker may itself be in the driver behind such
 * a wait (fakecuda waits synchronously), and a record it was serving when
 * the client went may hold a ticket past the last one read here, so every
 * ticket up to 2^30 past it is let go (the comparison is a signed one). */
void srv_hostfn_release(struct srv_client *c)
{
	uint32_t all = __atomic_load_n(&c->hostfn.last, __ATOMIC_ACQUIRE) + (1u << 30);
	struct omps_hostfn_area *a;
	size_t i;

	if (__atomic_load_n(&c->hostfn.graphs, __ATOMIC_ACQUIRE))
		graphs_let_go(c);
	if (!__atomic_load_n(&c->hostfn.pending, __ATOMIC_ACQUIRE))
		return;
	a = area_locked(c);
	for (i = 0; a && i < OMPS_HOSTFN_SLOTS; i++)
		__atomic_store_n(&a->done[i], all, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->host.lock);
}
