/* Streams and events in remote mode: a handle is the client's small record
 * of the server's handle and its device. Creating, synchronising, querying
 * and timing wait for the server; recording, waiting and destroying are
 * posted. The NULL stream (and CU_STREAM_LEGACY, CU_STREAM_PER_THREAD) is the
 * client's own NULL stream in the server. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "shim.h"

#define STREAM_MAGIC 0x7374726du

struct shim_object *shim_object(void *h, uint32_t magic)
{
	struct shim_object *o = h;

	return o && o->magic == magic ? o : NULL;
}


__thread int shim_ptds;

static CUresult create(uint32_t type, uint32_t magic, unsigned int flags, int priority, void **out);

/* The per-thread default stream: a blocking stream of the thread's own on
 * each device, made at its first use, so that it is ordered with the legacy
 * NULL stream and with nothing else, as the driver's. */
static __thread struct shim_object *per_thread[OMPS_MAX_DEVICES];
static __thread unsigned per_thread_epoch[OMPS_MAX_DEVICES];
static atomic_uint reset_epoch[OMPS_MAX_DEVICES]; /* a context reset ends every thread's stream there */

void shim_stream_reset(int dev)
{
	atomic_fetch_add(&reset_epoch[dev], 1);
}

static CUresult per_thread_stream(uint32_t *handle)
{
	int dev = shim_current_device();
	unsigned epoch;
	CUresult r;

	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	epoch = atomic_load(&reset_epoch[dev]);
	if (per_thread[dev] && per_thread_epoch[dev] != epoch) { /* the server's went with the reset */
		per_thread[dev]->magic = 0;
		free(per_thread[dev]);
		per_thread[dev] = NULL;
	}
	per_thread_epoch[dev] = epoch;
	if (!per_thread[dev]) {
		r = create(OMPS_CALL_STREAM_CREATE, STREAM_MAGIC, CU_STREAM_DEFAULT, 0, (void **)&per_thread[dev]);
		if (r != CUDA_SUCCESS)
			return r;
	}
	*handle = per_thread[dev]->handle;
	return CUDA_SUCCESS;
}

CUresult shim_stream_handle(CUstream s, uint32_t *handle)
{
	struct shim_object *o;

	if (s == CU_STREAM_PER_THREAD || (!s && shim_ptds))
		return per_thread_stream(handle);
	if (!s || s == CU_STREAM_LEGACY) {
		*handle = 0;
		return CUDA_SUCCESS;
	}
	o = shim_object(s, STREAM_MAGIC);
	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	*handle = o->handle;
	return CUDA_SUCCESS;
}

static CUresult create(uint32_t type, uint32_t magic, unsigned int flags, int priority, void **out)
{
	struct omps_call_create m = {.dev = shim_current_device(), .flags = flags, .priority = priority};
	struct omps_reply_handle rep = {{0}, 0, 0};
	struct shim_object *o;
	CUresult r;

	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	o = malloc(sizeof(*o));
	if (!o)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = shim_call(type, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS) {
		free(o);
		return r;
	}
	*o = (struct shim_object){.magic = magic, .handle = rep.handle, .dev = m.dev, .flags = flags,
				  .priority = priority};
	*out = o;
	return CUDA_SUCCESS;
}

static CUresult stream_create(CUstream *s, unsigned int flags)
{
	return create(OMPS_CALL_STREAM_CREATE, STREAM_MAGIC, flags, 0, (void **)s);
}

static CUresult stream_create_with_priority(CUstream *s, unsigned int flags, int priority)
{
	return create(OMPS_CALL_STREAM_CREATE, STREAM_MAGIC, flags, priority, (void **)s);
}

static CUresult event_create(CUevent *e, unsigned int flags)
{
	return create(OMPS_CALL_EVENT_CREATE, EVENT_MAGIC, flags, 0, (void **)e);
}

CUresult shim_object_destroy(uint32_t type, uint32_t magic, void *h)
{
	struct shim_object *o = shim_object(h, magic);
	struct omps_call_handle m;

	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	m.handle = o->handle;
	o->magic = 0;
	free(o);
	return shim_post(type, &m, sizeof(m), NULL, 0);
}

static CUresult stream_destroy(CUstream s)
{
	return shim_object_destroy(OMPS_CALL_STREAM_DESTROY, STREAM_MAGIC, s);
}

static CUresult event_destroy(CUevent e)
{
	return shim_object_destroy(OMPS_CALL_EVENT_DESTROY, EVENT_MAGIC, e);
}

static CUresult ask(uint32_t type, uint32_t handle)
{
	struct omps_call_handle m = {.handle = handle};
	struct omps_reply rep;

	return shim_call(type, &m, sizeof(m), &rep, sizeof(rep));
}

CUresult shim_device_wait(int dev)
{
	struct omps_call_dev m = {.dev = dev};

	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	return shim_call_signalled(OMPS_CALL_SYNCHRONIZE, &m, sizeof(m), dev, 0, 0);
}

/* The NULL stream's work is the client's whole NULL stream on its device. */
static CUresult null_stream_sync(void)
{
	return shim_device_wait(shim_current_device());
}

/* Synchronize or query. The NULL stream is always waited for: for a query,
 * never wrong, only slower. */
static CUresult on_stream(CUstream s, uint32_t type)
{
	uint32_t h;
	CUresult r = shim_stream_handle(s, &h);

	if (r != CUDA_SUCCESS)
		return r;
	if (h && type == OMPS_CALL_STREAM_SYNC) {
		struct omps_call_handle m = {.handle = h};

		return shim_call_signalled(type, &m, sizeof(m), 0, h, 0);
	}
	return h ? ask(type, h) : null_stream_sync();
}

CUresult shim_stream_sync(CUstream s)
{
	CUresult r = on_stream(s, OMPS_CALL_STREAM_SYNC);

	if (r == CUDA_SUCCESS)
		shim_managed_vars_pull();
	return r;
}

static CUresult stream_query(CUstream s)
{
	return on_stream(s, OMPS_CALL_STREAM_QUERY);
}

static CUresult event_synchronize(CUevent e)
{
	struct shim_object *o = shim_object(e, EVENT_MAGIC);
	struct omps_call_handle m = {.handle = o ? o->handle : 0};
	CUresult r;

	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	/* one made to block its waiter (BLOCKING_SYNC) is waited for by the server, not spun on */
	r = o->flags & CU_EVENT_BLOCKING_SYNC ? ask(OMPS_CALL_EVENT_SYNC, o->handle)
					      : shim_call_signalled(OMPS_CALL_EVENT_SYNC, &m, sizeof(m), o->dev, o->handle,
								    OMPS_SIGNAL_EVENT);

	if (r == CUDA_SUCCESS)
		shim_managed_vars_pull();
	return r;
}

static CUresult event_query(CUevent e)
{
	struct shim_object *o = shim_object(e, EVENT_MAGIC);

	return o ? ask(OMPS_CALL_EVENT_QUERY, o->handle) : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult pair(uint32_t type, uint32_t first, uint32_t second, unsigned int flags)
{
	struct omps_call_pair m = {.first = first, .second = second, .flags = flags};

	return shim_post(type, &m, sizeof(m), NULL, 0);
}

/* The server's handles for an event and a stream, both checked. */
static CUresult event_and_stream(CUevent e, CUstream s, uint32_t *event, uint32_t *stream)
{
	struct shim_object *o = shim_object(e, EVENT_MAGIC);
	CUresult r = shim_stream_handle(s, stream);

	if (r == CUDA_SUCCESS && !o)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (o)
		*event = o->handle;
	return r;
}

static CUresult event_record(CUevent e, CUstream s)
{
	uint32_t ev, st;
	CUresult r = event_and_stream(e, s, &ev, &st);

	return r != CUDA_SUCCESS ? r : pair(OMPS_CALL_EVENT_RECORD, ev, st, 0);
}

static CUresult stream_wait_event(CUstream s, CUevent e, unsigned int flags)
{
	uint32_t ev, st;
	CUresult r = event_and_stream(e, s, &ev, &st);

	return r != CUDA_SUCCESS ? r : pair(OMPS_CALL_STREAM_WAIT, st, ev, flags);
}

static CUresult event_elapsed_time(float *ms, CUevent start, CUevent end)
{
	struct shim_object *a = shim_object(start, EVENT_MAGIC), *b = shim_object(end, EVENT_MAGIC);
	struct omps_call_pair m;
	struct omps_reply_elapsed rep = {{0}, 0, 0};
	CUresult r;

	if (!ms)
		return CUDA_ERROR_INVALID_VALUE;
	if (!a || !b)
		return CUDA_ERROR_INVALID_HANDLE;
	m = (struct omps_call_pair){.first = a->handle, .second = b->handle};
	r = shim_call(OMPS_CALL_EVENT_ELAPSED, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*ms = rep.ms;
	return r;
}

/* The default record; external records (graph event nodes) are not remoted. */
static CUresult event_record_with_flags(CUevent e, CUstream s, unsigned int flags)
{
	static atomic_int said;

	if (flags == CU_EVENT_RECORD_DEFAULT)
		return event_record(e, s);
	if (!atomic_exchange(&said, 1))
		fprintf(stderr, "openmps: cuEventRecordWithFlags with flags %u (graphs) is not supported through openmps "
				"yet; it returns CUDA_ERROR_NOT_SUPPORTED\n",
			flags);
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* What a stream was made with; the NULL stream's are the driver's. */
static CUresult stream_get(CUstream s, struct shim_object *out)
{
	uint32_t h;
	CUresult r = shim_stream_handle(s, &h);

	if (r != CUDA_SUCCESS)
		return r;
	*out = h ? *shim_object(s, STREAM_MAGIC) : (struct shim_object){.dev = shim_current_device()};
	return out->dev < 0 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

static CUresult stream_get_priority(CUstream s, int *priority)
{
	struct shim_object o;
	CUresult r = priority ? stream_get(s, &o) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*priority = o.priority;
	return r;
}

static CUresult stream_get_flags(CUstream s, unsigned int *flags)
{
	struct shim_object o;
	CUresult r = flags ? stream_get(s, &o) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*flags = o.flags;
	return r;
}

/* The client's NULL stream is 0 here; its own streams count from 1. */
static CUresult stream_get_id(CUstream s, unsigned long long *id)
{
	struct shim_object o;
	CUresult r = id ? stream_get(s, &o) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*id = o.handle;
	return r;
}

static CUresult stream_get_device(CUstream s, CUdevice *dev)
{
	struct shim_object o;
	CUresult r = dev ? stream_get(s, &o) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*dev = o.dev;
	return r;
}

static CUresult stream_get_ctx(CUstream s, CUcontext *ctx)
{
	struct shim_object o;
	CUresult r = ctx ? stream_get(s, &o) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		r = ((__typeof__(&cuDevicePrimaryCtxRetain))shim_table[SHIM_EP_cuDevicePrimaryCtxRetain])(ctx, o.dev);
	return r;
}

static CUresult stream_get_ctx_v2(CUstream s, CUcontext *ctx, CUgreenCtx *green)
{
	if (green)
		*green = NULL;
	return stream_get_ctx(s, ctx);
}

/* Stream memory operations, posted in stream order (the server's
 * srv_stream_memop). The word's address is the same on both sides. */
static CUresult memop(CUstream s, uint32_t op, CUdeviceptr addr, uint64_t value, unsigned int flags)
{
	struct omps_call_memop m = {.dev = shim_current_device(), .op = op, .flags = flags, .addr = addr,
				    .value = value};
	CUresult r;

	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!addr)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = shim_stream_handle(s, &m.stream)) != CUDA_SUCCESS)
		return r;
	return shim_post(OMPS_CALL_STREAM_MEMOP, &m, sizeof(m), NULL, 0);
}

static CUresult write_value32(CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
	return memop(s, OMPS_MEMOP_WRITE32, addr, value, flags);
}

static CUresult wait_value32(CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
	return memop(s, OMPS_MEMOP_WAIT32, addr, value, flags);
}

static CUresult write_value64(CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
	return memop(s, OMPS_MEMOP_WRITE64, addr, value, flags);
}

static CUresult wait_value64(CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
	return memop(s, OMPS_MEMOP_WAIT64, addr, value, flags);
}

/* One post an operation; a flush of remote writes and a barrier are what
 * the stream's order gives already. */
static CUresult batch_mem_op(CUstream s, unsigned int count, CUstreamBatchMemOpParams *ops, unsigned int flags)
{
	CUresult r = CUDA_SUCCESS;
	unsigned int i;

	if (flags || (count && !ops))
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < count && r == CUDA_SUCCESS; i++) {
		const CUstreamBatchMemOpParams *p = &ops[i];

		switch (p->operation) {
		case CU_STREAM_MEM_OP_WRITE_VALUE_32:
			r = memop(s, OMPS_MEMOP_WRITE32, p->writeValue.address, p->writeValue.value, p->writeValue.flags);
			break;
		case CU_STREAM_MEM_OP_WRITE_VALUE_64:
			r = memop(s, OMPS_MEMOP_WRITE64, p->writeValue.address, p->writeValue.value64,
				  p->writeValue.flags);
			break;
		case CU_STREAM_MEM_OP_WAIT_VALUE_32:
			r = memop(s, OMPS_MEMOP_WAIT32, p->waitValue.address, p->waitValue.value, p->waitValue.flags);
			break;
		case CU_STREAM_MEM_OP_WAIT_VALUE_64:
			r = memop(s, OMPS_MEMOP_WAIT64, p->waitValue.address, p->waitValue.value64, p->waitValue.flags);
			break;
		case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
		case CU_STREAM_MEM_OP_BARRIER:
			break;
		default:
			r = CUDA_ERROR_INVALID_VALUE;
		}
	}
	return r;
}

void shim_stream_install(void)
{
	SHIM_INSTALL(cuStreamWriteValue32_v2, write_value32);
	SHIM_INSTALL(cuStreamWaitValue32_v2, wait_value32);
	SHIM_INSTALL(cuStreamWriteValue64_v2, write_value64);
	SHIM_INSTALL(cuStreamWaitValue64_v2, wait_value64);
	SHIM_INSTALL(cuStreamBatchMemOp_v2, batch_mem_op);
	SHIM_UNTYPED(cuStreamWriteValue32, write_value32); /* the unversioned names: the same calls */
	SHIM_UNTYPED(cuStreamWaitValue32, wait_value32);
	SHIM_UNTYPED(cuStreamWriteValue64, write_value64);
	SHIM_UNTYPED(cuStreamWaitValue64, wait_value64);
	SHIM_INSTALL(cuStreamCreate, stream_create);
	SHIM_INSTALL(cuStreamCreateWithPriority, stream_create_with_priority);
	SHIM_INSTALL(cuStreamDestroy_v2, stream_destroy);
	SHIM_INSTALL(cuStreamSynchronize, shim_stream_sync);
	SHIM_INSTALL(cuStreamQuery, stream_query);
	SHIM_INSTALL(cuStreamWaitEvent, stream_wait_event);
	SHIM_INSTALL(cuEventCreate, event_create);
	SHIM_INSTALL(cuEventDestroy_v2, event_destroy);
	SHIM_INSTALL(cuEventRecord, event_record);
	SHIM_INSTALL(cuEventSynchronize, event_synchronize);
	SHIM_INSTALL(cuEventQuery, event_query);
	SHIM_INSTALL(cuEventElapsedTime, event_elapsed_time);
	SHIM_INSTALL(cuEventElapsedTime_v2, event_elapsed_time);
	SHIM_INSTALL(cuEventRecordWithFlags, event_record_with_flags);
	SHIM_LOCAL(cuStreamGetPriority, stream_get_priority);
	SHIM_LOCAL(cuStreamGetFlags, stream_get_flags);
	SHIM_LOCAL(cuStreamGetId, stream_get_id);
	SHIM_LOCAL(cuStreamGetDevice, stream_get_device);
	SHIM_LOCAL(cuStreamGetCtx, stream_get_ctx);
	SHIM_LOCAL(cuStreamGetCtx_v2, stream_get_ctx_v2);
}
