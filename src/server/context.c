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
