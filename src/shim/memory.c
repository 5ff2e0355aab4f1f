/* Memory in remote mode: device pointers are the server's real device
 * addresses. Allocation, freeing, information and device-to-host copies wait
 * for the server; sets, host-to-device and device-to-device copies are posted
 * and report a failure at the next synchronous call. Host data travels in the
 * request ring, in records of up to shim_post_max() bytes. A device-to-host
 * copy on a stream is done by the time it returns: stricter than the driver,
 * never wrong. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

static CUresult need_context(int *dev)
{
	*dev = shim_current_device();
	return *dev < 0 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

CUresult shim_mem_alloc(CUdeviceptr *dptr, size_t bytesize)
{
	struct omps_call_alloc m = {.bytes = bytesize};
	struct omps_reply_ptr rep = {{0}, 0};
	CUresult r;

	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	r = shim_call(OMPS_CALL_MEM_ALLOC, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	*dptr = rep.ptr;
	shim_range_add(&(struct shim_range){.base = rep.ptr, .bytes = bytesize, .kind = SHIM_RANGE_DEVICE,
					    .dev = m.dev});
	return CUDA_SUCCESS;
}

static CUresult mem_free(CUdeviceptr dptr)
{
	struct omps_call_ptr m = {.ptr = dptr};
	struct omps_reply rep;
	struct shim_range mr;
	CUresult r;

	if (dptr && !shim_range_find(dptr, &mr) && mr.managed) { /* cuMemAllocManaged's: host memory (managed.c) */
		if (mr.base != dptr)
			return CUDA_ERROR_INVALID_VALUE;
		shim_managed_forget(mr.id);
		return shim_host_free((void *)(uintptr_t)dptr);
	}
	r = shim_call(OMPS_CALL_MEM_FREE, &m, sizeof(m), &rep, sizeof(rep));

	if (r == CUDA_SUCCESS && dptr)
		shim_range_remove(dptr, NULL);
	return r;
}

static CUresult mem_get_info(size_t *free_bytes, size_t *total)
{
	struct omps_call_dev m;
	struct omps_reply_info rep = {{0}, 0, 0};
	CUresult r;

	if (!free_bytes || !total)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	r = shim_call(OMPS_CALL_MEM_GET_INFO, &m, sizeof(m), &rep, sizeof(rep));
	*free_bytes = rep.free;
	*total = rep.total;
	return r;
}

static CUresult set(CUdeviceptr dst, uint32_t value, uint32_t elem, size_t n, CUstream stream)
{
	struct omps_call_memset m = {.value = value, .elem = elem, .ptr = dst, .count = n};
	CUresult r;

	if ((r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	return shim_post(OMPS_CALL_MEMSET, &m, sizeof(m), NULL, 0);
}

static CUresult memset_d8(CUdeviceptr d, unsigned char v, size_t n)
{
	return set(d, v, 1, n, NULL);
}

static CUresult memset_d16(CUdeviceptr d, unsigned short v, size_t n)
{
	return set(d, v, 2, n, NULL);
}

static CUresult memset_d32(CUdeviceptr d, unsigned int v, size_t n)
{
	return set(d, v, 4, n, NULL);
}

static CUresult memset_d8_async(CUdeviceptr d, unsigned char v, size_t n, CUstream s)
{
	return set(d, v, 1, n, s);
}

static CUresult memset_d16_async(CUdeviceptr d, unsigned short v, size_t n, CUstream s)
{
	return set(d, v, 2, n, s);
}

static CUresult memset_d32_async(CUdeviceptr d, unsigned int v, size_t n, CUstream s)
{
	return set(d, v, 4, n, s);
}

/* Large copies of pageable memory: through two shared page-locked staging
 * buffers, one filled here while the DMA empties the other (as the driver
 * stages pageable copies itself). Smaller copies, and any copy when the
 * buffers cannot be shared, travel in the ring. */
#define STAGE_MIN   (1u << 20)
#define STAGE_BYTES (8u << 20)

static struct {
	pthread_mutex_t lock; /* one staged copy at a time */
	void *buf[OMPS_STAGE_SLOTS];
	_Atomic uint32_t *done[OMPS_STAGE_SLOTS]; /* after each buffer: the GPU sets it to seq */
	uint32_t seq[OMPS_STAGE_SLOTS];		  /* of the slot's last copy */
	int busy[OMPS_STAGE_SLOTS];		  /* a copy may still use it */
	int word_unreliable;			  /* wait on the server, not the word */
	int state;				  /* 0 not tried, 1 ready, -1 unavailable */
} stage = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int stage_ready(void)
{
	int i;

	if (stage.state)
		return stage.state > 0;
	stage.state = -1;
	for (i = 0; i < OMPS_STAGE_SLOTS; i++) {
		if (shim_host_alloc_shared(&stage.buf[i], STAGE_BYTES + 64) != CUDA_SUCCESS)
			return 0;
		stage.done[i] = (_Atomic uint32_t *)((char *)stage.buf[i] + STAGE_BYTES);
	}
	stage.state = 1;
	return 1;
}

/* Waits until the slot's last copy is done. The GPU's word says so, most
 * often while this thread spins (a DMA of a whole buffer takes a fraction of
 * a millisecond); past STAGE_SPIN_NS, or where the word was once found not
 * written, the server waits for the copy's event. */
#define STAGE_SPIN_NS 3000000

static int stage_word_done(int slot)
{
	uint64_t t0 = 0;
	int i;

	for (i = 0;; i++) {
		if (atomic_load(stage.done[slot]) == stage.seq[slot])
			return 1;
		if (stage.word_unreliable && i >= 2000)
			return 0;
		if ((i & 255) == 0) {
			uint64_t t = shim_trace_now();

			if (!t0)
				t0 = t;
			else if (t - t0 > STAGE_SPIN_NS)
				return 0;
		}
	}
}

static CUresult stage_free(int slot)
{
	struct omps_call_handle m = {.handle = (uint32_t)slot};
	struct omps_reply rep;
	CUresult r;

	if (!stage.busy[slot] || stage_word_done(slot)) {
		stage.busy[slot] = 0;
		return CUDA_SUCCESS;
	}
	r = shim_call(OMPS_CALL_STAGE_WAIT, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && atomic_load(stage.done[slot]) != stage.seq[slot])
		stage.word_unreliable = 1; /* the server could not have the GPU write it */
	stage.busy[slot] = 0;
	return r;
}

static CUresult stage_post(struct omps_call_staged *m, int slot, uint64_t device, size_t n)
{
	m->slot = (uint32_t)slot;
	m->device = device;
	m->host = (uintptr_t)stage.buf[slot];
	m->bytes = n;
	m->done = (uintptr_t)stage.done[slot];
	m->seq = ++stage.seq[slot];
	stage.busy[slot] = 1;
	return shim_post(OMPS_CALL_MEMCPY_STAGED, m, sizeof(*m), NULL, 0);
}

/* As the driver: returns once the data is staged, before the DMA ends. */
static CUresult htod_staged(struct omps_call_staged *m, CUdeviceptr dst, const unsigned char *src, size_t bytes)
{
	CUresult r = CUDA_SUCCESS;
	size_t off, n;
	int k = 0;

	for (off = 0; off < bytes && r == CUDA_SUCCESS; off += n, k = (k + 1) % OMPS_STAGE_SLOTS) {
		n = bytes - off < STAGE_BYTES ? bytes - off : STAGE_BYTES;
		if ((r = stage_free(k)) != CUDA_SUCCESS)
			break;
		shim_copy_parallel(stage.buf[k], src + off, n);
		r = stage_post(m, k, dst + off, n);
	}
	return r;
}

/* The next piece's DMA runs while this piece is copied out. */
static CUresult dtoh_staged(struct omps_call_staged *m, unsigned char *dst, CUdeviceptr src, size_t bytes)
{
	size_t off = 0, n = bytes < STAGE_BYTES ? bytes : STAGE_BYTES, next;
	CUresult r;
	int k = 0;

	if ((r = stage_free(0)) != CUDA_SUCCESS || (r = stage_post(m, 0, src, n)) != CUDA_SUCCESS)
		return r;
	for (; off < bytes && r == CUDA_SUCCESS; off = next, k = (k + 1) % OMPS_STAGE_SLOTS) {
		next = off + n;
		if (next < bytes) {
			size_t n2 = bytes - next < STAGE_BYTES ? bytes - next : STAGE_BYTES;
			int k2 = (k + 1) % OMPS_STAGE_SLOTS;

			if ((r = stage_free(k2)) != CUDA_SUCCESS || (r = stage_post(m, k2, src + next, n2)) != CUDA_SUCCESS)
				break;
		}
		if ((r = stage_free(k)) != CUDA_SUCCESS)
			break;
		shim_copy_parallel(dst + off, stage.buf[k], n);
		n = bytes - next < STAGE_BYTES ? bytes - next : STAGE_BYTES;
	}
	return r;
}

/* A staged copy, or CUDA_ERROR_NOT_SUPPORTED where staging does not apply. */
static CUresult staged(int to_device, CUdeviceptr device, void *host, size_t bytes, CUstream stream, int dev)
{
	struct omps_call_staged m = {.dev = dev, .to_device = (uint32_t)to_device};
	CUresult r;

	if (bytes < STAGE_MIN || (r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&stage.lock);
	r = stage_ready() ? CUDA_SUCCESS : CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = to_device ? htod_staged(&m, device, host, bytes) : dtoh_staged(&m, host, device, bytes);
	pthread_mutex_unlock(&stage.lock);
	return r;
}

/* A copy of pageable memory in a capture: natively a node that reads or
 * writes the program's memory at each launch; the server cannot reach that
 * memory. Here the node is a buffer shared with the server, a host function
 * that copies between it and the program's memory in the client (hostfn.c:
 * it runs at each launch), and the copy to or from the buffer, all captured.
 * The buffer lives as long as the process: a graph may be launched until it
 * exits. */
struct pageable_copy {
	void *buf, *host;
	size_t bytes;
};

static void pageable_in(void *p)
{
	struct pageable_copy *c = p;

	memcpy(c->buf, c->host, c->bytes);
}

static void pageable_out(void *p)
{
	struct pageable_copy *c = p;

	memcpy(c->host, c->buf, c->bytes);
}

static CUresult captured_pageable(struct omps_call_copy *m, int to_device, CUdeviceptr device, void *host,
				  size_t bytes, CUstream stream)
{
	struct pageable_copy *c = calloc(1, sizeof(*c));
	CUresult r = c ? shim_host_alloc_shared(&c->buf, bytes ? bytes : 1) : CUDA_ERROR_OUT_OF_MEMORY;

	if (r != CUDA_SUCCESS) {
		free(c);
		return r;
	}
	c->host = host;
	c->bytes = bytes;
	if (to_device) {
		m->dst = device, m->src = (uintptr_t)c->buf, m->bytes = bytes;
		r = shim_launch_host_func(stream, pageable_in, c);
		if (r == CUDA_SUCCESS)
			r = shim_post(OMPS_CALL_MEMCPY_HTOD_HOST, m, sizeof(*m), NULL, 0);
	} else {
		m->dst = (uintptr_t)c->buf, m->src = device, m->bytes = bytes;
		r = shim_post(OMPS_CALL_MEMCPY_DTOH_HOST, m, sizeof(*m), NULL, 0);
		if (r == CUDA_SUCCESS)
			r = shim_launch_host_func(stream, pageable_out, c);
	}
	return r; /* c stays: the graph may hold it even if the capture went wrong after */
}

/* What every copy with host memory checks first: its stream, its host
 * pointer, a current context. */
static CUresult copy_start(struct omps_call_copy *m, CUstream stream, const void *host, size_t bytes)
{
	CUresult r = shim_stream_handle(stream, &m->stream);

	if (r != CUDA_SUCCESS)
		return r;
	if (!host && bytes)
		return CUDA_ERROR_INVALID_VALUE;
	return need_context(&m->dev);
}

/* Host to device. From shared memory the server copies itself (and a
 * synchronous copy waits for it); other memory travels in the ring, so the
 * program may reuse it at once. */
static CUresult htod_on(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream, int sync)
{
	struct omps_call_copy m = {0};
	const unsigned char *p = src;
	size_t chunk = shim_post_max() - sizeof(m), off;
	CUresult r;

	if ((r = copy_start(&m, stream, src, bytes)) != CUDA_SUCCESS)
		return r;
	if (shim_shared_host(src, bytes)) {
		m.dst = dst, m.src = (uintptr_t)src, m.bytes = bytes;
		r = shim_post(OMPS_CALL_MEMCPY_HTOD_HOST, &m, sizeof(m), NULL, 0);
		return r == CUDA_SUCCESS && sync ? shim_stream_sync(stream) : r;
	}
	if (!sync && shim_stream_capturing(stream))
		return captured_pageable(&m, 1, dst, (void *)(uintptr_t)src, bytes, stream);
	r = staged(1, dst, (void *)(uintptr_t)src, bytes, stream, m.dev);
	if (r != CUDA_ERROR_NOT_SUPPORTED)
		return r;
	r = CUDA_SUCCESS;
	for (off = 0; off < bytes && r == CUDA_SUCCESS; off += chunk) {
		m.dst = dst + off;
		m.bytes = bytes - off < chunk ? bytes - off : chunk;
		r = shim_post(OMPS_CALL_MEMCPY_HTOD, &m, sizeof(m), p + off, m.bytes);
	}
	return r;
}

static CUresult htod(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream)
{
	return htod_on(dst, src, bytes, stream, 0);
}

/* Device to host. Into shared memory: posted, and waited for only when
 * synchronous; into other memory the data comes back through the reply
 * ring, so even an asynchronous copy is done on return. */
static CUresult dtoh_on(void *dst, CUdeviceptr src, size_t bytes, CUstream stream, int sync)
{
	struct omps_call_copy m = {.dst = (uintptr_t)dst, .src = src, .bytes = bytes};
	CUresult r;

	if ((r = copy_start(&m, stream, dst, bytes)) != CUDA_SUCCESS)
		return r;
	if (shim_shared_host(dst, bytes)) {
		r = shim_post(OMPS_CALL_MEMCPY_DTOH_HOST, &m, sizeof(m), NULL, 0);
		return r == CUDA_SUCCESS && sync ? shim_stream_sync(stream) : r;
	}
	if (!sync && shim_stream_capturing(stream))
		return captured_pageable(&m, 0, src, dst, bytes, stream);
	r = staged(0, src, dst, bytes, stream, m.dev);
	if (r != CUDA_ERROR_NOT_SUPPORTED)
		return r;
	m.dst = 0;
	return shim_call_read(OMPS_CALL_MEMCPY_DTOH, &m, sizeof(m), dst, bytes);
}

static CUresult dtoh(void *dst, CUdeviceptr src, size_t bytes, CUstream stream)
{
	return dtoh_on(dst, src, bytes, stream, 0);
}

static CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream)
{
	struct omps_call_copy m = {.dst = dst, .src = src, .bytes = bytes};
	CUresult r;

	if ((r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	return shim_post(OMPS_CALL_MEMCPY_DTOD, &m, sizeof(m), NULL, 0);
}

/* Between two contexts' devices: the server's contexts reach each other. */
static CUresult peer_async(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t bytes,
			   CUstream stream)
{
	struct omps_call_copy_peer m = {.src_dev = shim_ctx_device(src_ctx), .dst_dev = shim_ctx_device(dst_ctx),
					.dst = dst, .src = src, .bytes = bytes};
	CUresult r;

	if (m.src_dev < 0 || m.dst_dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS || !bytes)
		return r;
	return shim_post(OMPS_CALL_MEMCPY_PEER, &m, sizeof(m), NULL, 0);
}

static CUresult memcpy_peer(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t bytes)
{
	return peer_async(dst, dst_ctx, src, src_ctx, bytes, NULL);
}

static CUresult memcpy_htod(CUdeviceptr dst, const void *src, size_t n)
{
	return htod_on(dst, src, n, NULL, 1);
}

static CUresult memcpy_dtoh(void *dst, CUdeviceptr src, size_t n)
{
	return dtoh_on(dst, src, n, NULL, 1);
}

static CUresult memcpy_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	return dtod(dst, src, n, NULL);
}

static int on_device(CUdeviceptr p)
{
	struct shim_range r;

	return !shim_range_find(p, &r) && r.kind == SHIM_RANGE_DEVICE;
}

/* Unified addressing: the direction follows from where each pointer lies. */
static CUresult copy_on(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, int sync)
{
	int d = on_device(dst), s = on_device(src);
	CUresult r;

	if (d && s)
		return dtod(dst, src, bytes, stream);
	if (d)
		return htod_on(dst, (const void *)(uintptr_t)src, bytes, stream, sync);
	if (s)
		return dtoh_on((void *)(uintptr_t)dst, src, bytes, stream, sync);
	/* Host to host, in stream order: after what the stream has queued. */
	r = shim_stream_sync(stream);
	if (r == CUDA_SUCCESS && bytes)
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
	return r;
}

static CUresult copy_any(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream)
{
	return copy_on(dst, src, bytes, stream, 0);
}

static CUresult memcpy_any(CUdeviceptr dst, CUdeviceptr src, size_t bytes)
{
	return copy_on(dst, src, bytes, NULL, 1);
}

static CUresult get_address_range(CUdeviceptr *base, size_t *size, CUdeviceptr p)
{
	struct shim_range r;

	if (shim_range_find(p, &r) || (r.kind != SHIM_RANGE_DEVICE && !r.managed))
		return CUDA_ERROR_NOT_FOUND;
	if (base)
		*base = r.base;
	if (size)
		*size = r.bytes;
	return CUDA_SUCCESS;
}

/* One attribute of a known range (found) or of an unknown pointer. */
static CUresult attribute(void *data, CUpointer_attribute a, CUdeviceptr p, const struct shim_range *r, int found)
{
	int dev = r->dev < 0 ? 0 : r->dev;

	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:
		if (found)
			return shim_table[SHIM_EP_cuDevicePrimaryCtxRetain]
				       ? ((__typeof__(&cuDevicePrimaryCtxRetain))shim_table[SHIM_EP_cuDevicePrimaryCtxRetain])(
						 (CUcontext *)data, dev)
				       : CUDA_ERROR_INVALID_VALUE;
		*(CUcontext *)data = NULL;
		break;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
		*(unsigned int *)data = !found ? 0 : r->kind == SHIM_RANGE_DEVICE ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
		break;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
		*(CUdeviceptr *)data = found && (r->kind == SHIM_RANGE_DEVICE || r->managed) ? p : 0;
		break;
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
		*(void **)data = found && r->kind == SHIM_RANGE_HOST ? (void *)(uintptr_t)p : NULL;
		break;
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
	case CU_POINTER_ATTRIBUTE_MAPPED:
		*(int *)data = found;
		break;
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
	case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
		*(unsigned long long *)data = found ? r->id : 0;
		break;
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
		*(int *)data = found && r->managed;
		break;
	case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
	case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
		*(int *)data = 0;
		break;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
		*(int *)data = found ? dev : -2;
		break;
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
	case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
		*(void **)data = found ? (void *)(uintptr_t)r->base : NULL;
		break;
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
	case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
		*(size_t *)data = found ? r->bytes : 0;
		break;
	case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
		*(unsigned int *)data = found && r->kind == SHIM_RANGE_DEVICE ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE
									      : CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE;
		break;
	case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
		*(void **)data = NULL;
		break;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

static CUresult pointer_get_attribute(void *data, CUpointer_attribute a, CUdeviceptr p)
{
	struct shim_range r = {0};

	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	if (shim_range_find(p, &r))
		return CUDA_ERROR_INVALID_VALUE; /* not memory CUDA knows, as the driver says */
	return attribute(data, a, p, &r, 1);
}

/* Unknown pointers get the attributes' empty values, without an error. */
static CUresult pointer_get_attributes(unsigned int n, CUpointer_attribute *attrs, void **data, CUdeviceptr p)
{
	struct shim_range r = {.dev = -1};
	int found = !shim_range_find(p, &r);
	unsigned int i;
	CUresult res;

	if (!attrs || !data)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < n; i++)
		if (data[i] && (res = attribute(data[i], attrs[i], p, &r, found)) != CUDA_SUCCESS)
			return res;
	return CUDA_SUCCESS;
}

void shim_memory_install(void)
{
	SHIM_INSTALL(cuMemAlloc_v2, shim_mem_alloc);
	SHIM_INSTALL(cuMemFree_v2, mem_free);
	SHIM_INSTALL(cuMemGetInfo_v2, mem_get_info);
	SHIM_INSTALL(cuMemsetD8_v2, memset_d8);
	SHIM_INSTALL(cuMemsetD16_v2, memset_d16);
	SHIM_INSTALL(cuMemsetD32_v2, memset_d32);
	SHIM_INSTALL(cuMemsetD8Async, memset_d8_async);
	SHIM_INSTALL(cuMemsetD16Async, memset_d16_async);
	SHIM_INSTALL(cuMemsetD32Async, memset_d32_async);
	SHIM_INSTALL(cuMemcpyHtoD_v2, memcpy_htod);
	SHIM_INSTALL(cuMemcpyDtoH_v2, memcpy_dtoh);
	SHIM_INSTALL(cuMemcpyDtoD_v2, memcpy_dtod);
	SHIM_INSTALL(cuMemcpyHtoDAsync_v2, htod);
	SHIM_INSTALL(cuMemcpyDtoHAsync_v2, dtoh);
	SHIM_INSTALL(cuMemcpyDtoDAsync_v2, dtod);
	SHIM_INSTALL(cuMemcpyPeer, memcpy_peer);
	SHIM_INSTALL(cuMemcpyPeerAsync, peer_async);
	SHIM_INSTALL(cuMemcpy, memcpy_any);
	SHIM_INSTALL(cuMemcpyAsync, copy_any);
	SHIM_LOCAL(cuMemGetAddressRange_v2, get_address_range);
	SHIM_LOCAL(cuPointerGetAttribute, pointer_get_attribute);
	SHIM_LOCAL(cuPointerGetAttributes, pointer_get_attributes);
}
