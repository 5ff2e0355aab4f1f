/* Context-wide settings a client asks for. Every client of a device shares
 * its one context, so a limit is the most any client needs: a client may
 * raise it, and a request below the current value changes nothing (the
 * client still gets at least what it asked for). A raise costs GPU memory
 * for the context's life, so a client with a memory limit may raise a
 * limit only by what its limit has left (security review M6). A context
 * synchronize waits for the client's own work only. */
#include <stdio.h>

#include "log.h"
#include "server.h"

/* Raising these costs the others nothing but memory; the rest are fixed. */
static int raisable(uint32_t limit)
{
	return limit == CU_LIMIT_STACK_SIZE || limit == CU_LIMIT_PRINTF_FIFO_SIZE ||
	       limit == CU_LIMIT_MALLOC_HEAP_SIZE || limit == CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH ||
	       limit == CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT;
}

/* The device memory raising limit from now to value takes: the stack for
 * every thread the device holds at once, the heap and the printf FIFO as
 * they are; the others next to nothing. */
static uint64_t raise_cost(struct srv_client *c, int dev, uint32_t limit, uint64_t now, uint64_t value)
{
	int sms = 0, threads = 0;

	if (limit == CU_LIMIT_MALLOC_HEAP_SIZE || limit == CU_LIMIT_PRINTF_FIFO_SIZE)
		return value - now;
	if (limit != CU_LIMIT_STACK_SIZE ||
	    c->srv->drv->device_get_attribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) != CUDA_SUCCESS ||
	    c->srv->drv->device_get_attribute(&threads, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, dev) !=
		    CUDA_SUCCESS)
		return 0;
	return (value - now) * (uint64_t)(sms > 0 ? sms : 0) * (uint64_t)(threads > 0 ? threads : 0);
}

static const char *limit_name(uint32_t limit)
{
	return limit == CU_LIMIT_STACK_SIZE ? "the stack size" : limit == CU_LIMIT_MALLOC_HEAP_SIZE ? "the heap size"
							      : "the printf FIFO size";
}

void srv_context_limit(struct srv_client *c, const struct omps_call_ctx_limit *m)
{
	char what[64];
	size_t now = 0;
	CUresult r = srv_use_device(c, m->dev, NULL);

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->ctx_get_limit(&now, (CUlimit)m->limit);
	if (r == CUDA_SUCCESS && m->set && m->value > now) {
		if (!raisable(m->limit)) {
			omps_log("Client process %d: context limit %u is shared and cannot be changed", (int)c->pid,
				 m->limit);
			r = CUDA_ERROR_NOT_SUPPORTED;
		} else {
			snprintf(what, sizeof(what), "raising %s limit", limit_name(m->limit));
			r = srv_qos_mem_check(c, m->dev, raise_cost(c, m->dev, m->limit, now, m->value), what);
		}
		if (r == CUDA_SUCCESS) {
			r = c->srv->drv->ctx_set_limit((CUlimit)m->limit, m->value);
			if (r == CUDA_SUCCESS)
				r = c->srv->drv->ctx_get_limit(&now, (CUlimit)m->limit);
		}
	}
	srv_reply_value(c, r, (int64_t)now);
}

/* The context: all of the client's streams on the device, not the others'. */
void srv_context_synchronize(struct srv_client *c, const struct omps_call_dev *m)
{
	srv_reply_result(c, srv_sync_device(c, m->dev));
}

/* Whether the GPU may answer this synchronize: the client has no error to
 * hear first, its signal word is page-locked, the driver has not refused
 * a signal, the stream is not being captured (the write would join the
 * graph), the wait covers one stream (the one named, or the NULL stream of
 * a client with no other there: a context's streams would need a write
 * each), and the server is not crowded (there a spinning client takes a
 * CPU the launches need, and wait_done's rule says who spins). */
static int signal_fits(struct srv_client *c, const struct omps_call_sync_signal *m, CUstream s)
{
	return c->signal.at && !c->signal.off && c->sticky == CUDA_SUCCESS && !srv_workers_crowded(c->srv) &&
	       !srv_capturing(c, s) && (m->handle || !srv_streams_on(c, m->dev));
}

/* SYNC_SIGNAL: a write of seq to the client's signal word goes on the
 * stream after the work waited for, and the reply goes at once; the client
 * spins on the word as the driver spins on its own semaphore. The server's
 * synchronize and its late reply leave the round trip (an empty kernel's
 * launch and synchronize on the H200: 9.2-9.9 us so, 12.4-13.9 us with the
 * server's synchronize, bench/results/2026-12-04-h200-signal.md), and its
 * worker is free at once. Its work stays queued for fault.c until the word
 * says done. Otherwise the server waits as for SYNCHRONIZE or STREAM_SYNC,
 * and replies 0. OPENMPS_SYNC_SIGNAL=0 turns it off (channel.c). */
void srv_context_sync_signal(struct srv_client *c, const struct omps_call_sync_signal *m)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_object *o = NULL;
	CUstream s = NULL;
	CUresult r;

	if (m->handle) {
		o = srv_object_find(c, c->streams, c->nstreams, m->handle, "stream");
		r = o ? srv_use_device(c, o->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;
		s = o ? o->obj : NULL;
	} else {
		r = srv_use_device(c, m->dev, &s);
	}
	if (r == CUDA_SUCCESS && signal_fits(c, m, s)) {
		r = drv->stream_write_value32(s, c->signal.at, m->seq, CU_STREAM_WRITE_VALUE_DEFAULT);
		if (r == CUDA_SUCCESS) {
			c->signal.seq = m->seq;
			c->signal.clean = !m->handle;
			atomic_store_explicit(&c->stats.syncs_signalled,
					      atomic_load_explicit(&c->stats.syncs_signalled, memory_order_relaxed) + 1,
					      memory_order_relaxed); /* its worker's alone to write */
			omps_ring_advise(&c->rep, 0);
			srv_reply_value(c, r, 1);
			return;
		}
		if (!srv_fault_fatal(r)) {
			omps_log("Client process %d: the GPU cannot signal its synchronizes (error %d); the server waits "
				 "for them", (int)c->pid, (int)r);
			c->signal.off = 1;
			r = CUDA_SUCCESS;
		}
	}
	if (r == CUDA_SUCCESS)
		r = m->handle ? drv->stream_synchronize(s) : srv_sync_device(c, m->dev);
	if (r == CUDA_SUCCESS && c->sticky == CUDA_SUCCESS)
		srv_fault_queued(c, 0);
	srv_reply_value(c, r, 0);
}

/* cuDevicePrimaryCtxReset: what the client made on the device goes, as
 * natively with its context (after its work is done): its memory, streams
 * and events there, and its graphs and virtual memory on every device. Its
 * handles for them are dead from then on (those of memory, streams and
 * events are never given out again; graphs' and physical memory's tables
 * start anew). Its modules stay: the runtime loads its kernels as
 * libraries, which natively outlive a context (cudart keeps its CUkernel
 * handles across cudaDeviceReset, and the H200 run showed its next launch
 * failing when they went), and the shim makes every library a module.
 * Its page-locked host memory and its connection stay. */
void srv_context_reset(struct srv_client *c, const struct omps_call_dev *m)
{
	unsigned n;
	CUresult r = srv_use_device(c, m->dev, NULL);

	if (r == CUDA_SUCCESS)
		r = srv_sync_device(c, m->dev);
	if (r == CUDA_SUCCESS) {
		srv_graph_release(c);
		srv_array_release(c); /* all its devices': arrays are rare beyond one */
		srv_vmm_release(c);
		n = srv_memory_reset(c, m->dev);
		srv_stream_reset(c, m->dev);
		omps_log("Client process %d: reset its context on device %d: what it made there is gone (%u allocations)",
			 (int)c->pid, m->dev, n);
	}
	srv_reply_result(c, r);
}
