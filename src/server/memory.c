/* Device memory on a client's behalf: allocations recorded per client, every
 * pointer range a client names checked against its own allocations (so it
 * cannot touch another client's memory through the API), copies and sets on
 * the client's own stream, and everything it left freed when it goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "log.h"
#include "server.h"

#define ARGS_MAX (32u << 10) /* a kernel's parameters at most (32,764 bytes since CUDA 12.1) */

/* Whether a is now at an address other than the one its client knows it by
 * (a module variable, or a graph's allocation, after a fault). */
static int is_moved(const struct srv_alloc *a)
{
	return a->at && a->at != a->ptr;
}

/* The allocation of this client that holds [ptr, ptr + bytes), or NULL.
 * One it freed while it held graphs is not its own any more, but for its
 * graphs made again after a fault (graphdesc.c), which may name it. */
static struct srv_alloc *holding(struct srv_client *c, uint64_t ptr, uint64_t bytes, int retired_too)
{
	struct srv_alloc *a, *b;

	for (a = c->mem.allocs; a; a = a->next)
		if ((!a->retired || retired_too) && srv_span_holds(a->ptr, a->bytes, ptr, bytes))
			break;
	if (!a || !c->mem.moved)
		return a;
	/* Where a fault moved a global of its, the new context may since have
	 * put memory of its at the address it knows the global by. */
	for (b = c->mem.allocs; b; b = b->next)
		if (b != a && (!b->retired || retired_too) && srv_span_holds(b->ptr, b->bytes, ptr, bytes)) {
			srv_refused(c, "device memory at 0x%llx names both a variable of its module %u, moved by a "
				    "GPU fault, and memory it had since",
				    (unsigned long long)ptr, a->module ? a->module : b->module);
			return NULL;
		}
	return a;
}

static struct srv_alloc *find(struct srv_client *c, uint64_t ptr, uint64_t bytes)
{
	return holding(c, ptr, bytes, c->graph.rebuilding);
}

int srv_memory_names(struct srv_client *c, uint64_t ptr, uint64_t bytes)
{
	return holding(c, ptr, bytes, 1) != NULL;
}

static void refuse_span(struct srv_client *c, uint64_t ptr, uint64_t bytes)
{
	srv_refused(c, "device memory at 0x%llx (%llu bytes) is not within its allocations", (unsigned long long)ptr,
		    (unsigned long long)bytes);
}

static struct srv_alloc *owned(struct srv_client *c, uint64_t ptr, uint64_t bytes)
{
	struct srv_alloc *a = find(c, ptr, bytes);

	if (!a)
		refuse_span(c, ptr, bytes);
	return a;
}

/* Where the device side of a copy or memset may be: the client's device
 * memory, or host memory it shares that the GPU reaches at the same
 * address (its managed memory: the shim's managed.c). *ptr becomes the
 * address the driver knows: another only within a global a fault moved
 * (handover.c), whose data the host may now change (moddata.c). */
static int usable(struct srv_client *c, uint64_t *ptr, uint64_t bytes)
{
	struct srv_alloc *a = find(c, *ptr, bytes);
	uint64_t d;

	if (a && a->module)
		srv_moddata_touched(c, a->module);
	if (a && a->at)
		*ptr = a->at + (*ptr - a->ptr);
	if (a)
		return 1;
	d = bytes ? srv_host_device_ptr(c, *ptr, bytes) : 0; /* 0: not host memory it shares */
	if (d && d == *ptr)
		return 1;
	refuse_span(c, *ptr, bytes);
	return 0;
}

/* Every client's memory comes from one pool per device: a pool of each
 * client's own cost 32 MiB of GPU memory a client at its first allocation
 * (H100, driver 580). Tenants stay apart all the same: memory is zeroed
 * before it goes back to the pool, and the pool never makes one client's
 * stream wait for another's (no internal dependencies); it reuses memory
 * only once its free is done, or along the program's own event waits. */
static CUresult shared_pool(struct srv_client *c, int dev, CUmemoryPool *pool)
{
	CUmemPoolProps props = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
				.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev}};
	struct srv_state *s = c->srv;
	CUmemAccessDesc access[OMPS_MAX_DEVICES];
	CUmemoryPool p = NULL;
	CUresult r = CUDA_SUCCESS;
	unsigned n;
	int no = 0;

	pthread_mutex_lock(&s->pool_lock);
	if (!s->pool[dev]) {
		r = s->drv->mem_pool_create(&p, &props);
		if (r == CUDA_SUCCESS)
			r = s->drv->mem_pool_set_attribute(p, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &no);
		if (r == CUDA_SUCCESS && (n = srv_devices_access(s->peers, s->devices.ndevices, dev, access)) > 1)
			r = s->drv->mem_pool_set_access(p, access + 1, n - 1); /* its peers; its own device has it */
		if (r == CUDA_SUCCESS)
			s->pool[dev] = p;
		else if (p)
			s->drv->mem_pool_destroy(p);
	}
	*pool = s->pool[dev];
	pthread_mutex_unlock(&s->pool_lock);
	return r;
}

static void account(struct srv_client *c, int dev, uint64_t bytes, int add)
{
	struct srv_pool_view *v = &c->mem.pool[dev];

	v->used = add ? v->used + bytes : v->used - bytes;
	if (v->used > v->high)
		v->high = v->used;
	srv_qos_usage_changed(c, 0);
}

void srv_memory_account(struct srv_client *c, int dev, uint64_t bytes, int add)
{
	account(c, dev, bytes, add);
}

/* Back where it came from (a chunk of the arena, or the shared pool), on s
 * after s's work, zeroed first. */
static CUresult zero_and_free(struct srv_client *c, int dev, CUdeviceptr ptr, uint64_t bytes, CUstream s)
{
	CUresult r;

	if (srv_arena_holds(c->srv, dev, ptr))
		return srv_arena_free(c->srv, dev, ptr, bytes, s);
	r = c->srv->drv->memset_d8_async(ptr, 0, bytes, s);
	return r == CUDA_SUCCESS ? c->srv->drv->mem_free_async(ptr, s) : r;
}

static CUresult give_back(struct srv_client *c, const struct srv_alloc *a, CUstream s)
{
	CUresult r = zero_and_free(c, a->dev, a->ptr, a->bytes, s);

	if (r == CUDA_SUCCESS)
		account(c, a->dev, a->bytes, 0);
	return r;
}

/* The client's memory comes from the pool in stream order on a quiet
 * stream of its own: the driver's cuMemFree synchronizes the whole device,
 * so one client's free would wait for every client's kernels, and hold up
 * their calls meanwhile. Allocation waits for that quiet stream only, so the
 * memory is usable at once, on any stream, as cuMemAlloc's. */
static CUresult quiet_stream(struct srv_client *c, int dev, CUstream *s)
{
	CUresult r = CUDA_SUCCESS;

	if (!c->mem.quiet[dev])
		r = c->srv->drv->stream_create(&c->mem.quiet[dev], CU_STREAM_NON_BLOCKING);
	*s = c->mem.quiet[dev];
	return r;
}

/* From the arena (arena.c), or where the device has no virtual memory
 * management, from the shared pool. */
static CUresult alloc_now(struct srv_client *c, int dev, uint64_t bytes, CUdeviceptr *ptr)
{
	CUmemoryPool pool;
	CUstream s;
	CUresult r = quiet_stream(c, dev, &s);

	if (r == CUDA_SUCCESS) {
		r = srv_arena_alloc(c->srv, dev, bytes, s, ptr);
		if (r != CUDA_ERROR_NOT_SUPPORTED)
			return r;
		r = shared_pool(c, dev, &pool);
	}
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_alloc_from_pool_async(ptr, bytes, pool, s);
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->stream_synchronize(s);
	return r;
}

/* An allocation's answer: recorded as the client's (a) if it was made. */
static void reply_alloc(struct srv_client *c, const struct omps_call_alloc *m, struct srv_alloc *a, CUresult r,
			CUdeviceptr ptr)
{
	struct omps_reply_ptr rep;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS) {
		*a = (struct srv_alloc){.next = c->mem.allocs, .ptr = ptr, .bytes = m->bytes, .dev = m->dev};
		c->mem.allocs = a;
		account(c, m->dev, m->bytes, 1);
		rep.ptr = ptr;
	} else {
		free(a);
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_memory_alloc(struct srv_client *c, const struct omps_call_alloc *m)
{
	struct srv_alloc *a = calloc(1, sizeof(*a));
	CUdeviceptr ptr = 0;
	CUresult r = a ? srv_use_device(c, m->dev, NULL) : CUDA_ERROR_OUT_OF_MEMORY;

	if (r == CUDA_SUCCESS && !m->bytes)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_qos_mem_check(c, m->dev, m->bytes, "cuMemAlloc");
	if (r == CUDA_SUCCESS)
		r = alloc_now(c, m->dev, m->bytes, &ptr);
	reply_alloc(c, m, a, r, ptr);
}

/* The client's quiet stream on dev, made to wait for all its work queued so far. */
static CUresult after_its_work(struct srv_client *c, int dev, CUstream *s)
{
	CUresult r = srv_use_device(c, dev, NULL);

	if (r == CUDA_SUCCESS)
		r = quiet_stream(c, dev, s);
	return r == CUDA_SUCCESS ? srv_stream_after_all(c, dev, *s) : r;
}

/* Freed once the client's work queued so far, on any of its streams, is
 * done; nobody waits for it. */
static CUresult free_one(struct srv_client *c, struct srv_alloc *a)
{
	int held = 0;
	CUstream s;
	CUresult r;

	if (a->graph == SRV_GRAPH_ALLOC_LIVE && after_its_work(c, a->dev, &s) == CUDA_SUCCESS)
		c->srv->drv->mem_free_async(a->ptr, s); /* an error if its graph has not made it: nothing to free */
	if (a->graph)
		return CUDA_SUCCESS;
	if (a->import) { /* another client's memory: closed, never freed here */
		srv_ipc_unimport(c, a);
		return CUDA_SUCCESS;
	}
	if (a->vmm) /* a mapping: vmm.c unmaps it */
		return CUDA_SUCCESS;
	held = a->export && srv_ipc_unexport(c, a);
	r = after_its_work(c, a->dev, &s);
	if (r != CUDA_SUCCESS || !held)
		return r == CUDA_SUCCESS ? give_back(c, a, s) : r;
	r = c->srv->drv->stream_synchronize(s); /* the importers' now: its writes done before they may free it */
	account(c, a->dev, a->bytes, 0);
	return r;
}

/* A graph's allocation (*pp) freed outside a graph: back to the graphs'
 * pool at once. While the client holds graphs, one may make it again at
 * its next launch, at the same address, so the client's record of it
 * stays. Not zeroed: a memset would fault if no graph made it since (the
 * driver answers that free with an error, as natively). */
static CUresult free_graph_alloc(struct srv_client *c, struct srv_alloc **pp, CUstream s)
{
	struct srv_alloc *a = *pp;
	CUresult r = c->srv->drv->mem_free_async(a->ptr, s);

	if (r != CUDA_SUCCESS)
		return r;
	a->graph = SRV_GRAPH_ALLOC_FREED;
	if (srv_graph_live(c))
		return r;
	*pp = a->next;
	account(c, a->dev, a->bytes, 0);
	free(a);
	return r;
}

/* A graph's allocation freed in a capture: a free node, after a memset
 * node that zeroes it (the graphs' pool gives its memory to any client's
 * graph next). The graph allocates and frees it at each launch from now
 * on; the client's address for it is no allocation of its any more. */
static CUresult free_in_graph(struct srv_client *c, struct srv_alloc *a, CUstream s)
{
	CUresult r = c->srv->drv->memset_d8_async(a->ptr, 0, a->bytes, s);

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_free_async(a->ptr, s);
	if (r != CUDA_SUCCESS)
		return r;
	a->graph = SRV_GRAPH_ALLOC_OWN;
	a->retired = 1; /* for its graphs' nodes only (graphdesc.c) */
	account(c, a->dev, a->bytes, 0);
	return CUDA_SUCCESS;
}

CUresult srv_memory_give_back_orphan(struct srv_client *c, int dev, CUdeviceptr ptr, uint64_t bytes)
{
	CUstream s;
	CUresult r = after_its_work(c, dev, &s);

	return r == CUDA_SUCCESS ? zero_and_free(c, dev, ptr, bytes, s) : r;
}

struct srv_alloc *srv_memory_alloc_of(struct srv_client *c, uint64_t ptr, uint64_t bytes)
{
	return owned(c, ptr, bytes);
}

/* While the client holds graphs or has captures under way, memory it frees
 * is only retired: a graph launched later may still write it, and the
 * shared pool would have given it to another client meanwhile. It stays counted, and unusable through the
 * API, until its last graph and capture go (srv_memory_free_retired) or it
 * does. */
static int retire(struct srv_client *c, struct srv_alloc *a)
{
	if (!srv_graph_live(c))
		return 0;
	a->retired = 1;
	return 1;
}

void srv_memory_free_retired(struct srv_client *c)
{
	struct srv_alloc **pp = &c->mem.allocs, *a;
	unsigned n = 0;

	while ((a = *pp)) {
		if (!a->retired && a->graph != SRV_GRAPH_ALLOC_FREED) {
			pp = &a->next;
			continue;
		}
		if (a->graph == SRV_GRAPH_ALLOC_FREED) /* and no graph left to make it again */
			account(c, a->dev, a->bytes, 0);
		else
			srv_deferred(c, free_one(c, a));
		c->mem.moved -= is_moved(a); /* a graph's, placed anew after a fault */
		n += !a->graph;
		*pp = a->next;
		free(a);
	}
	if (n)
		omps_log("Client process %d: %u allocations freed while it held graphs now freed", (int)c->pid, n);
}

void srv_memory_free(struct srv_client *c, const struct omps_call_ptr *m)
{
	struct srv_alloc **pp, *a;
	CUstream s;
	CUresult r;

	for (pp = &c->mem.allocs; (a = *pp); pp = &a->next)
		if (a->ptr == m->ptr && !a->retired)
			break;
	if (!m->ptr) {
		srv_reply_result(c, CUDA_SUCCESS); /* as the driver: freeing 0 does nothing */
		return;
	}
	if (!a || a->module || a->import || a->vmm) {
		omps_log("Client process %d: cuMemFree of 0x%llx, which it did not allocate", (int)c->pid,
			 (unsigned long long)m->ptr);
		srv_reply_result(c, CUDA_ERROR_INVALID_VALUE);
		return;
	}
	if (a->graph) {
		r = after_its_work(c, a->dev, &s);
		srv_reply_result(c, r == CUDA_SUCCESS ? free_graph_alloc(c, pp, s) : r);
		return;
	}
	if (retire(c, a)) {
		srv_reply_result(c, CUDA_SUCCESS);
		return;
	}
	*pp = a->next;
	r = free_one(c, a);
	if (srv_fault_fatal(r) && !a->export) { /* held over the fault: the successor frees it (handover.c) */
		a->next = c->mem.allocs;
		c->mem.allocs = a;
	} else {
		free(a);
	}
	srv_reply_result(c, r);
}

void srv_memory_get_info(struct srv_client *c, const struct omps_call_dev *m)
{
	struct omps_reply_info rep;
	size_t free_b = 0, total = 0;
	CUresult r = srv_use_device(c, m->dev, NULL);

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_get_info(&free_b, &total);
	if (r == CUDA_SUCCESS) {
		free_b += srv_arena_spare(c->srv, m->dev); /* cuMemAlloc's to give */
		free_b = free_b > total ? total : free_b;
		srv_qos_mem_info(c, m->dev, &free_b, &total);
	}
	rep.free = free_b;
	rep.total = total;
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_memory_memset(struct srv_client *c, const struct omps_call_memset *m)
{
	struct srv_driver *drv = c->srv->drv;
	uint64_t ptr = m->ptr;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && ((m->elem != 1 && m->elem != 2 && m->elem != 4) || m->count > UINT64_MAX / 4 ||
				  m->ptr % m->elem || !usable(c, &ptr, m->count * m->elem)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && m->elem == 1)
		r = drv->memset_d8_async(ptr, (unsigned char)m->value, m->count, s);
	else if (r == CUDA_SUCCESS && m->elem == 2)
		r = drv->memset_d16_async(ptr, (unsigned short)m->value, m->count, s);
	else if (r == CUDA_SUCCESS)
		r = drv->memset_d32_async(ptr, m->value, m->count, s);
	srv_deferred(c, r);
}

void srv_memory_copy_htod(struct srv_client *c, const struct omps_call_copy *m, const unsigned char *data,
			 size_t len)
{
	uint64_t dst = m->dst;
	int dev = m->dev;
	CUstream s;
	CUresult r = srv_stream_on(c, m->stream, &dev, &s);

	if (r == CUDA_SUCCESS && (m->bytes != len || !usable(c, &dst, m->bytes)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_capture_refuse(c, s, "a copy of pageable host memory to the device");
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->memcpy_htod_async(dst, data, len, s);
	/* The data lives in the worker's record buffer, reused by the next call. */
	if (r == CUDA_SUCCESS)
		r = srv_signal_wait(c, dev, s);
	srv_deferred(c, r);
}

struct dtoh {
	struct srv_client *c;
	uint64_t src;
	CUstream s;
	int dev;
};

/* A piece of a copy from the device, straight into the client's reply ring. */
static CUresult dtoh_piece(void *dst, uint64_t off, uint32_t n, void *arg)
{
	const struct dtoh *d = arg;
	CUresult r = d->c->srv->drv->memcpy_dtoh_async(dst, d->src + off, n, d->s);

	return r == CUDA_SUCCESS ? srv_signal_wait(d->c, d->dev, d->s) : r;
}

void srv_memory_copy_dtoh(struct srv_client *c, const struct omps_call_copy *m)
{
	struct dtoh d = {.c = c, .src = m->src, .dev = m->dev};
	CUresult r = srv_stream_on(c, m->stream, &d.dev, &d.s);

	if (r == CUDA_SUCCESS && !usable(c, &d.src, m->bytes))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_capture_refuse(c, d.s, "a copy of device memory to pageable host memory");
	if (r == CUDA_SUCCESS)
		r = srv_reply_chunks(c, m->bytes, dtoh_piece, &d);
	srv_reply_result(c, r);
}

void srv_memory_copy_dtod(struct srv_client *c, const struct omps_call_copy *m)
{
	uint64_t src = m->src, dst = m->dst;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && (!usable(c, &src, m->bytes) || !usable(c, &dst, m->bytes)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->memcpy_dtod_async(dst, src, m->bytes, s);
	srv_deferred(c, r);
}

/* On the NULL stream it is ordered as the driver orders it: after the
 * client's work on both devices, before its later work on the destination's. */
void srv_memory_copy_peer(struct srv_client *c, const struct omps_call_copy_peer *m)
{
	int sd = srv_view_dev(c, m->src_dev), dd = srv_view_dev(c, m->dst_dev);
	uint64_t src = m->src, dst = m->dst;
	CUstream s = NULL, z = NULL;
	CUresult r = srv_use_device(c, dd, &z);

	if (r == CUDA_SUCCESS)
		r = srv_use_device(c, sd, NULL); /* checked: a stream of its own names no device */
	if (r == CUDA_SUCCESS)
		r = srv_stream(c, m->stream, sd, &s);
	if (r == CUDA_SUCCESS && (!usable(c, &src, m->bytes) || !usable(c, &dst, m->bytes)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !m->stream && (r = srv_use_device(c, dd, NULL)) == CUDA_SUCCESS &&
	    (r = srv_stream_after_all(c, dd, s)) == CUDA_SUCCESS)
		r = srv_use_device(c, sd, NULL);
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->memcpy_peer_async(dst, c->srv->ctx[dd], src, c->srv->ctx[sd], m->bytes, s);
	if (r == CUDA_SUCCESS && !m->stream)
		r = srv_stream_after_all(c, sd, z);
	srv_deferred(c, r);
}

int srv_memory_owns(struct srv_client *c, uint64_t *ptr, uint64_t bytes)
{
	return usable(c, ptr, bytes);
}

/* The bytes a pitched region spans: height rows of width, pitch apart. */
static int span(uint64_t pitch, uint64_t width, uint64_t height, uint64_t *bytes)
{
	if (!height || !width)
		return *bytes = 0, 0;
	if (width > pitch || height - 1 > (UINT64_MAX - width) / pitch)
		return -1;
	*bytes = (height - 1) * pitch + width;
	return 0;
}

int srv_span3d(uint64_t pitch, uint64_t rows, uint64_t width, uint64_t height, uint64_t depth, uint64_t *bytes)
{
	uint64_t plane, slice;

	*bytes = 0;
	if (!width || !height || !depth)
		return 0;
	if (height == 1 && depth == 1) /* the pitch is unused */
		return *bytes = width, 0;
	if (span(pitch, width, height, &plane))
		return -1;
	if (depth == 1)
		return *bytes = plane, 0;
	if (rows < height || rows > UINT64_MAX / pitch)
		return -1;
	slice = rows * pitch;
	if (depth - 1 > (UINT64_MAX - plane) / slice)
		return -1;
	*bytes = (depth - 1) * slice + plane;
	return 0;
}

/* One 2D copy with the host side packed at host (pitch = width); rows
 * [first, first + rows) of the copy. A side that is a CUDA array (its
 * CUarray in arr) goes through cuMemcpy3DAsync, which can name its slice. */
static CUresult copy2d(struct srv_client *c, const struct omps_call_copy2d *m, void *host, uint64_t rows,
		       uint64_t first, CUstream s, CUarray dst_arr, CUarray src_arr)
{
	CUDA_MEMCPY3D p = {0};

	p.WidthInBytes = m->width;
	p.Height = rows;
	p.Depth = 1;
	if (m->kind == OMPS_COPY_HTOD) {
		p.srcMemoryType = CU_MEMORYTYPE_HOST;
		p.srcHost = host;
		p.srcPitch = m->width;
	} else if (src_arr) {
		p.srcMemoryType = CU_MEMORYTYPE_ARRAY;
		p.srcArray = src_arr;
		p.srcXInBytes = m->src;
		p.srcY = m->src_y + first;
		p.srcZ = m->src_z;
	} else {
		p.srcMemoryType = CU_MEMORYTYPE_DEVICE;
		p.srcDevice = m->src + first * m->src_pitch;
		p.srcPitch = m->src_pitch;
	}
	if (m->kind == OMPS_COPY_DTOH) {
		p.dstMemoryType = CU_MEMORYTYPE_HOST;
		p.dstHost = host;
		p.dstPitch = m->width;
	} else if (dst_arr) {
		p.dstMemoryType = CU_MEMORYTYPE_ARRAY;
		p.dstArray = dst_arr;
		p.dstXInBytes = m->dst;
		p.dstY = m->dst_y + first;
		p.dstZ = m->dst_z;
	} else {
		p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
		p.dstDevice = m->dst + first * m->dst_pitch;
		p.dstPitch = m->dst_pitch;
	}
	if (dst_arr || src_arr)
		return c->srv->drv->memcpy_3d_async ? c->srv->drv->memcpy_3d_async(&p, s) : CUDA_ERROR_NOT_SUPPORTED;
	return c->srv->drv->memcpy_2d_async(&(CUDA_MEMCPY2D){.srcMemoryType = p.srcMemoryType, .srcHost = p.srcHost,
							      .srcDevice = p.srcDevice, .srcPitch = p.srcPitch,
							      .dstMemoryType = p.dstMemoryType, .dstHost = p.dstHost,
							      .dstDevice = p.dstDevice, .dstPitch = p.dstPitch,
							      .WidthInBytes = p.WidthInBytes, .Height = p.Height},
					    s);
}

/* A device side of a 2D copy: the client's linear memory (its address in
 * m made the driver's: usable), or its array. */
static int side_ok(struct srv_client *c, struct omps_call_copy2d *m, int dst, CUarray *arr)
{
	uint32_t h = dst ? m->dst_array : m->src_array;
	uint64_t bytes;

	if (h) {
		*arr = srv_array_span(c, h, m->dev, dst ? m->dst : m->src, m->width, dst ? m->dst_y : m->src_y,
				      m->height, dst ? m->dst_z : m->src_z);
		return *arr != NULL;
	}
	return dst ? !span(m->dst_pitch, m->width, m->height, &bytes) && usable(c, &m->dst, bytes)
		   : !span(m->src_pitch, m->width, m->height, &bytes) && usable(c, &m->src, bytes);
}

void srv_memory_copy_2d(struct srv_client *c, const struct omps_call_copy2d *call, const unsigned char *data,
		       size_t len)
{
	struct omps_call_copy2d copy = *call, *m = &copy;
	uint32_t max = omps_ring_max_payload(&c->rep);
	uint64_t row = 0, n, deadline = srv_reply_deadline(m->width * m->height);
	CUarray dst_arr = NULL, src_arr = NULL;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && (m->kind < OMPS_COPY_HTOD || m->kind > OMPS_COPY_DTOD || !m->width ||
				  (m->kind == OMPS_COPY_HTOD && len != m->width * m->height) ||
				  (m->kind == OMPS_COPY_DTOH && m->width > max)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && m->kind != OMPS_COPY_HTOD && !side_ok(c, m, 0, &src_arr))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && m->kind != OMPS_COPY_DTOH && !side_ok(c, m, 1, &dst_arr))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && m->kind != OMPS_COPY_DTOD)
		r = srv_capture_refuse(c, s, "a 2D copy with pageable host memory");
	if (m->kind != OMPS_COPY_DTOH) {
		if (r == CUDA_SUCCESS)
			r = copy2d(c, m, (void *)data, m->height, 0, s, dst_arr, src_arr); /* read only: to the device */
		if (r == CUDA_SUCCESS && m->kind == OMPS_COPY_HTOD) /* the record buffer is reused */
			r = c->srv->drv->stream_synchronize(s);
		srv_deferred(c, r);
		return;
	}
	/* Back to the client as packed rows, straight into its reply ring. */
	for (; r == CUDA_SUCCESS && row < m->height; row += n) {
		void *dst;

		n = m->height - row < max / m->width ? m->height - row : max / m->width;
		dst = srv_reply_space(c, (uint32_t)(n * m->width), deadline);
		if (!dst) {
			r = CUDA_ERROR_MPS_RPC_FAILURE;
			break;
		}
		r = copy2d(c, m, dst, n, row, s, NULL, src_arr);
		if (r == CUDA_SUCCESS)
			r = c->srv->drv->stream_synchronize(s);
		omps_ring_commit(&c->rep);
	}
	srv_reply_result(c, r);
}

void srv_memory_memset_2d(struct srv_client *c, const struct omps_call_memset2d *m)
{
	struct srv_driver *drv = c->srv->drv;
	uint64_t bytes, ptr = m->ptr;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && ((m->elem != 1 && m->elem != 2 && m->elem != 4) || m->width > UINT64_MAX / 4 ||
				  m->ptr % m->elem || m->pitch % m->elem ||
				  span(m->pitch, m->width * m->elem, m->height, &bytes) || !usable(c, &ptr, bytes)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && m->elem == 1)
		r = drv->memset_d2d8_async(ptr, m->pitch, (unsigned char)m->value, m->width, m->height, s);
	else if (r == CUDA_SUCCESS && m->elem == 2)
		r = drv->memset_d2d16_async(ptr, m->pitch, (unsigned short)m->value, m->width, m->height, s);
	else if (r == CUDA_SUCCESS)
		r = drv->memset_d2d32_async(ptr, m->pitch, m->value, m->width, m->height, s);
	srv_deferred(c, r);
}

/* cuMemAllocAsync on stream s: from the arena too, so that it outlives a
 * fault as cuMemAlloc's does, and takes stream memory operations, which pool
 * memory refuses. In a capture, from the pool: the driver makes it a node
 * of the graph, which allocates at each launch. */
static CUresult alloc_ordered(struct srv_client *c, int dev, uint64_t bytes, CUstream s, int capturing,
			      CUdeviceptr *ptr)
{
	CUmemoryPool pool;
	CUstream z;
	CUresult r;

	if (!capturing) {
		r = quiet_stream(c, dev, &z);
		if (r == CUDA_SUCCESS)
			r = srv_arena_alloc_async(c->srv, dev, bytes, z, s, ptr);
		if (r != CUDA_ERROR_NOT_SUPPORTED)
			return r;
	}
	r = shared_pool(c, dev, &pool);
	return r == CUDA_SUCCESS ? c->srv->drv->mem_alloc_from_pool_async(ptr, bytes, pool, s) : r;
}

/* On the stream's device, as the driver allocates from the pool current
 * to the stream's device. */
void srv_memory_alloc_async(struct srv_client *c, const struct omps_call_alloc *m)
{
	struct srv_alloc *a = calloc(1, sizeof(*a));
	struct omps_call_alloc on = *m;
	CUdeviceptr ptr = 0;
	CUstream s;
	CUresult r = a ? srv_stream_on(c, m->reserved, &on.dev, &s) : CUDA_ERROR_OUT_OF_MEMORY;
	int graph = 0; /* allocated in a capture: the driver makes it an allocation node */

	if (r == CUDA_SUCCESS && !m->bytes)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_qos_mem_check(c, on.dev, m->bytes, "cuMemAllocAsync");
	if (r == CUDA_SUCCESS) {
		graph = srv_capturing(c, s);
		r = alloc_ordered(c, on.dev, m->bytes, s, graph, &ptr);
	}
	reply_alloc(c, &on, a, r, ptr);
	if (r == CUDA_SUCCESS && graph)
		a->graph = SRV_GRAPH_ALLOC_LIVE;
}

void srv_memory_free_async(struct srv_client *c, const struct omps_call_free_async *m)
{
	struct srv_alloc **pp, *a;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	for (pp = &c->mem.allocs; (a = *pp); pp = &a->next)
		if (a->ptr == m->ptr && !a->module && !a->retired)
			break;
	if (r == CUDA_SUCCESS && (!a || a->import || a->vmm)) { /* as cuMemFree: its own allocations only */
		omps_log("Client process %d: cuMemFreeAsync of 0x%llx, which it did not allocate", (int)c->pid,
			 (unsigned long long)m->ptr);
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS && a->graph) {
		srv_deferred(c, srv_capturing(c, s) ? free_in_graph(c, a, s) : free_graph_alloc(c, pp, s));
		return;
	}
	if (r == CUDA_SUCCESS && !retire(c, a)) {
		/* A plain allocation may be freed so too; one it gave an IPC handle
		 * for goes as cuMemFree's, its importers' while they have it open. */
		r = a->export ? free_one(c, a) : give_back(c, a, s);
		*pp = a->next;
		free(a);
	}
	srv_deferred(c, r);
}

/* The client's default pool is its view of the shared one: the policies it
 * sets are kept and reported back but do not change the shared pool's; the
 * usage it reads is its own. Attribute values: the REUSE_ flags are ints,
 * the rest 64-bit. */
static CUresult view_attr(struct srv_pool_view *v, uint32_t attr, int set, uint64_t *value)
{
	if (attr >= CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES &&
	    attr <= CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES) {
		int *off = &v->reuse_off[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES];

		if (set)
			*off = !*value;
		*value = (uint64_t)!*off;
		return CUDA_SUCCESS;
	}
	switch (attr) {
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		if (set)
			v->threshold = *value;
		*value = v->threshold;
		return CUDA_SUCCESS;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
		if (set && *value)
			return CUDA_ERROR_INVALID_VALUE; /* only a reset, to 0 */
		if (set)
			v->high = v->used;
		*value = v->high;
		return CUDA_SUCCESS;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
	case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
		*value = v->used;
		return set ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	}
	return CUDA_ERROR_INVALID_VALUE;
}

void srv_memory_pool_attr(struct srv_client *c, const struct omps_call_pool_attr *m)
{
	uint64_t v = m->value;
	CUmemoryPool pool;
	CUresult r = srv_use_device(c, m->dev, NULL);

	if (r == CUDA_SUCCESS && m->attr == OMPS_POOL_TRIM) { /* frees only what nobody uses */
		srv_arena_trim(c->srv, m->dev); /* where cuMemAllocAsync's memory is now */
		r = shared_pool(c, m->dev, &pool);
		if (r == CUDA_SUCCESS)
			r = c->srv->drv->mem_pool_trim_to(pool, m->value);
	} else if (r == CUDA_SUCCESS)
		r = view_attr(&c->mem.pool[m->dev], m->attr, (int)m->set, &v);
	srv_reply_value(c, r, (int64_t)v);
}

/* A DMA between the client's shared host memory and its device memory, both
 * checked, on its stream s; nothing waits for it here. */
static CUresult dma(struct srv_client *c, int to_device, uint64_t dev, uint64_t host, uint64_t bytes, CUstream s)
{
	if (!srv_host_owned(c, host, bytes) || !usable(c, &dev, bytes))
		return CUDA_ERROR_INVALID_VALUE;
	if (to_device)
		return c->srv->drv->memcpy_htod_async(dev, (const void *)(uintptr_t)host, bytes, s);
	return c->srv->drv->memcpy_dtoh_async((void *)(uintptr_t)host, dev, bytes, s);
}

/* Copies with shared host memory: MEMCPY_HTOD_HOST, MEMCPY_DTOH_HOST. */
void srv_memory_copy_host(struct srv_client *c, const struct omps_call_copy *m)
{
	int to_device = c->call == OMPS_CALL_MEMCPY_HTOD_HOST;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS)
		r = dma(c, to_device, to_device ? m->dst : m->src, to_device ? m->src : m->dst, m->bytes, s);
	srv_deferred(c, r);
}

/* One piece of a large pageable copy, through a staging buffer. */
void srv_memory_copy_staged(struct srv_client *c, const struct omps_call_staged *m)
{
	struct srv_driver *drv = c->srv->drv;
	uint64_t done;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && m->slot >= OMPS_STAGE_SLOTS)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) /* the staging buffer holds other bytes by the graph's launch */
		r = srv_capture_refuse(c, s, "an asynchronous copy of pageable host memory");
	if (r == CUDA_SUCCESS && !c->mem.stage[m->slot])
		r = drv->event_create(&c->mem.stage[m->slot], CU_EVENT_DISABLE_TIMING);
	if (r == CUDA_SUCCESS)
		r = dma(c, (int)m->to_device, m->device, m->host, m->bytes, s);
	if (r == CUDA_SUCCESS)
		r = drv->event_record(c->mem.stage[m->slot], s);
	/* The fast way for the client to know: a word the GPU sets. Optional;
	 * STAGE_WAIT on the event is the sure one. */
	if (r == CUDA_SUCCESS && (done = srv_host_device_ptr(c, m->done, 4)))
		drv->stream_write_value32(s, done, m->seq, 0);
	srv_deferred(c, r);
}

void srv_memory_stage_wait(struct srv_client *c, const struct omps_call_handle *m)
{
	CUresult r = m->handle < OMPS_STAGE_SLOTS ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS && c->mem.stage[m->handle])
		r = c->srv->drv->event_synchronize(c->mem.stage[m->handle]);
	srv_reply_result(c, r);
}

/* a, at an address other than its client's now: counted, and within the
 * span moved_word looks in (never narrowed: a word outside it is surely
 * not in a moved allocation). */
static void moved(struct srv_client *c, const struct srv_alloc *a)
{
	const uint64_t ends[2][2] = {{a->ptr, a->ptr + a->bytes}, {a->at, a->at + a->bytes}};

	for (int k = 0; k < 2; k++) {
		uint64_t *span = c->mem.span[k];

		if (!c->mem.moved || ends[k][0] < span[0])
			span[0] = ends[k][0];
		if (!c->mem.moved || ends[k][1] > span[1])
			span[1] = ends[k][1];
	}
	c->mem.moved++;
}

static struct srv_alloc *new_global(struct srv_client *c, uint32_t module, int dev, const char *name,
				    CUdeviceptr ptr, CUdeviceptr at, uint64_t bytes)
{
	struct srv_alloc *a = calloc(1, sizeof(*a));

	if (!a || !(a->name = strdup(name))) {
		free(a);
		return NULL;
	}
	a->ptr = ptr;
	a->at = at;
	a->bytes = bytes;
	a->dev = dev;
	a->module = module;
	a->next = c->mem.allocs;
	c->mem.allocs = a;
	if (at != ptr)
		moved(c, a);
	return a;
}

static void free_global(struct srv_client *c, struct srv_alloc *a)
{
	c->mem.moved -= is_moved(a);
	free(a->name);
	free(a);
}

CUdeviceptr srv_memory_add_global(struct srv_client *c, uint32_t module, int dev, const char *name, CUdeviceptr at,
				  uint64_t bytes)
{
	struct srv_alloc *a;

	for (a = c->mem.allocs; a; a = a->next)
		if (a->module == module && a->at == at)
			return a->ptr; /* asked for again: as it was told, before a fault or after */
	a = new_global(c, module, dev, name, at, at, bytes);
	return a ? a->ptr : 0;
}

int srv_memory_graph_placed(struct srv_client *c, CUdeviceptr ptr, CUdeviceptr at)
{
	struct srv_alloc *a;

	for (a = c->mem.allocs; a && !(a->graph == SRV_GRAPH_ALLOC_OWN && a->ptr == ptr); a = a->next)
		;
	if (!a || (a->at && a->at != at))
		return -1;
	if (a->at == at)
		return 0; /* placed so already */
	a->at = at;
	if (at != ptr)
		moved(c, a);
	return 0;
}

int srv_memory_graph_alloc(struct srv_client *c, CUdeviceptr ptr, uint64_t bytes)
{
	struct srv_alloc *a;

	for (a = c->mem.allocs; a; a = a->next)
		if (a->graph && a->ptr == ptr)
			return a->graph == SRV_GRAPH_ALLOC_OWN && a->bytes == bytes ? 1 : -1;
	return 0;
}

int srv_memory_moved_global(struct srv_client *c, uint32_t module, int dev, const char *name, CUdeviceptr ptr,
			    CUdeviceptr at, uint64_t bytes)
{
	return new_global(c, module, dev, name, ptr, at, bytes) ? 0 : -1;
}

/* A word as the client knows it made the driver's (to_client 0), or the
 * other way; the same outside the globals a fault moved. */
static uint64_t moved_word(struct srv_client *c, uint64_t w, int to_client)
{
	const uint64_t *span = c->mem.span[to_client ? 1 : 0];
	const struct srv_alloc *a;

	if (w < span[0] || w >= span[1])
		return w; /* nearly every word: a launch's arguments are looked at whole */
	for (a = c->mem.allocs; a; a = a->next) {
		uint64_t from = to_client ? a->at : a->ptr, to = to_client ? a->ptr : a->at;

		if (is_moved(a) && w >= from && w - from < a->bytes)
			return to + (w - from);
	}
	return w;
}

uint64_t srv_memory_known(struct srv_client *c, uint64_t at)
{
	return c->mem.moved ? moved_word(c, at, 1) : at;
}

/* Every aligned word of args, made the driver's or the client's (to_client). */
static void moved_words(struct srv_client *c, unsigned char *args, size_t size, int to_client)
{
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8) {
		memcpy(&w, args + i, 8);
		w = moved_word(c, w, to_client);
		memcpy(args + i, &w, 8);
	}
}

void srv_memory_args_known(struct srv_client *c, unsigned char *args, size_t size)
{
	if (c->mem.moved)
		moved_words(c, args, size, 1);
}

/* Few clients ever have a global moved; for them every aligned word of a
 * launch's arguments is looked at, so that a pointer within a struct is
 * changed too. A word that merely equals such an address is changed as
 * well: the price of not knowing the kernel's types. */
const void *srv_memory_args(struct srv_client *c, const void *args, size_t size)
{
	if (!c->mem.moved || !size)
		return args;
	if (!c->mem.args && !(c->mem.args = malloc(ARGS_MAX)))
		return args; /* not changed: memory ran out for 32 KiB */
	if (size > ARGS_MAX)
		size = ARGS_MAX;
	memcpy(c->mem.args, args, size);
	moved_words(c, c->mem.args, size, 0);
	return c->mem.args;
}

void srv_memory_forget_module(struct srv_client *c, uint32_t module)
{
	struct srv_alloc **pp = &c->mem.allocs, *a;

	while ((a = *pp)) {
		if (a->module == module) {
			*pp = a->next;
			free_global(c, a);
		} else {
			pp = &a->next;
		}
	}
}

unsigned srv_memory_reset(struct srv_client *c, int dev)
{
	struct srv_alloc **pp = &c->mem.allocs, *a;
	unsigned n = 0;

	while ((a = *pp)) {
		if (a->dev != dev || a->module || a->vmm) { /* globals go with their modules */
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		free_one(c, a);
		free(a);
		n++;
	}
	return n;
}

void srv_memory_release(struct srv_client *c)
{
	uint64_t bytes = 0;
	unsigned n = 0, i;

	while (c->mem.allocs) {
		struct srv_alloc *a = c->mem.allocs;

		c->mem.allocs = a->next;
		if (!a->module) {
			int imported = a->import != NULL;

			free_one(c, a);
			bytes += imported ? 0 : a->bytes;
			n += !imported;
			free(a);
		} else {
			free_global(c, a);
		}
	}
	free(c->mem.args);
	c->mem.args = NULL;
	for (i = 0; i < OMPS_MAX_DEVICES; i++) {
		if (!c->mem.quiet[i] || srv_use_device(c, (int)i, NULL) != CUDA_SUCCESS)
			continue;
		/* Its frees done (they follow its last work), so that the chunks
		 * it emptied go back now, not at the next client's leaving. */
		if (n)
			c->srv->drv->stream_synchronize(c->mem.quiet[i]);
		c->srv->drv->stream_destroy(c->mem.quiet[i]);
		/* What the pool holds unused goes back to the device: a tenant's
		 * peak is not kept for ever after it left. */
		if (n) {
			CUmemoryPool pool;

			pthread_mutex_lock(&c->srv->pool_lock);
			pool = c->srv->pool[i];
			pthread_mutex_unlock(&c->srv->pool_lock);
			if (pool)
				c->srv->drv->mem_pool_trim_to(pool, 0);
		}
		/* And idle chunks, its own frees' too: trimmed only after a client
		 * that left memory behind, a chunk emptied by frees stayed while
		 * the clients after it freed their own (e2e_kill_stress: 32 MiB
		 * and its descriptor kept, now and then). */
		srv_arena_trim(c->srv, (int)i);
	}
	for (i = 0; i < OMPS_STAGE_SLOTS; i++)
		if (c->mem.stage[i])
			c->srv->drv->event_destroy(c->mem.stage[i]);
	if (n)
		omps_log("Freed %u allocations (%llu bytes) that client process %d left", n,
			 (unsigned long long)bytes, (int)c->pid);
}
