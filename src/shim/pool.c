/* Stream-ordered allocation in remote mode. The device's "default pool" a
 * program sees is, in the server, its view of the pool all clients share:
 * the policies it sets are its own and change nothing for the others, and
 * the usage it reads is its own allocations'. An
 * allocation waits for the server (the pointer comes back); a free is
 * posted, in stream order. A pool the program creates is another handle
 * for the same view (its allocations come from the shared pool, its
 * attributes are the view's): device memory pools of one device differ
 * only in policy, and the policies are the client's own either way.
 * Pools with export handle types or host locations are refused. */
#include <stdatomic.h>
#include <stdlib.h>

#include "shim.h"

#define POOL_MAGIC 0x706f6f6cu

struct pool {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	int dev;
	int created; /* by cuMemPoolCreate: cuMemPoolDestroy frees it */
};

static struct pool pools[OMPS_MAX_DEVICES];
static _Atomic(struct pool *) current_pool[OMPS_MAX_DEVICES]; /* cuDeviceSetMemPool's; NULL: the default */

static struct pool *pool_of(CUmemoryPool p)
{
	struct pool *q = (struct pool *)p;

	return q && q->magic == POOL_MAGIC ? q : NULL;
}

static int device_ok(CUdevice dev)
{
	int n = 0;

	((__typeof__(&cuDeviceGetCount))shim_table[SHIM_EP_cuDeviceGetCount])(&n);
	return dev >= 0 && dev < n && dev < OMPS_MAX_DEVICES;
}

static CUresult default_pool(CUmemoryPool *pool, CUdevice dev)
{
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	if (!device_ok(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	pools[dev] = (struct pool){POOL_MAGIC, dev, 0};
	*pool = (CUmemoryPool)&pools[dev];
	return CUDA_SUCCESS;
}

static CUresult get_mem_pool(CUmemoryPool *pool, CUdevice dev)
{
	struct pool *p = device_ok(dev) ? atomic_load(&current_pool[dev]) : NULL;

	if (!pool || !p)
		return default_pool(pool, dev);
	*pool = (CUmemoryPool)p;
	return CUDA_SUCCESS;
}

static CUresult set_mem_pool(CUdevice dev, CUmemoryPool pool)
{
	struct pool *p = pool_of(pool);

	if (!device_ok(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	if (!p || p->dev != dev)
		return CUDA_ERROR_INVALID_VALUE;
	atomic_store(&current_pool[dev], p->created ? p : NULL);
	return CUDA_SUCCESS;
}

static CUresult pool_create(CUmemoryPool *pool, const CUmemPoolProps *props)
{
	struct pool *p;

	if (!pool || !props || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE || props->handleTypes != CU_MEM_HANDLE_TYPE_NONE)
		return shim_unsupported("cuMemPoolCreate of a pool in host memory or with export handle types");
	if (!device_ok(props->location.id))
		return CUDA_ERROR_INVALID_DEVICE;
	p = malloc(sizeof(*p));
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*p = (struct pool){POOL_MAGIC, props->location.id, 1};
	*pool = (CUmemoryPool)p;
	return CUDA_SUCCESS;
}

/* Its allocations stay good until they are freed, as natively. */
static CUresult pool_destroy(CUmemoryPool pool)
{
	struct pool *p = pool_of(pool), *expected;

	if (!p || !p->created)
		return CUDA_ERROR_INVALID_VALUE;
	expected = p;
	atomic_compare_exchange_strong(&current_pool[p->dev], &expected, NULL);
	p->magic = 0;
	free(p);
	return CUDA_SUCCESS;
}

static CUresult alloc(CUdeviceptr *dptr, size_t bytes, int dev, CUstream stream)
{
	struct omps_call_alloc m = {.dev = dev, .bytes = bytes};
	struct omps_reply_ptr rep = {{0}, 0};
	CUresult r;

	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = shim_stream_handle(stream, &m.reserved)) != CUDA_SUCCESS)
		return r;
	r = shim_call(OMPS_CALL_MEM_ALLOC_ASYNC, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	*dptr = rep.ptr;
	shim_range_add(&(struct shim_range){.base = rep.ptr, .bytes = bytes, .kind = SHIM_RANGE_DEVICE, .dev = dev});
	return CUDA_SUCCESS;
}

static CUresult alloc_async(CUdeviceptr *dptr, size_t bytes, CUstream stream)
{
	return alloc(dptr, bytes, shim_current_device(), stream);
}

/* Its own device's access is read and write; another's, none. */
static CUresult pool_get_access(CUmemAccess_flags *flags, CUmemoryPool pool, CUmemLocation *loc)
{
	struct pool *p = pool_of(pool);

	if (!flags || !p || !loc || loc->type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = loc->id == p->dev ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : CU_MEM_ACCESS_FLAGS_PROT_NONE;
	return CUDA_SUCCESS;
}

static CUresult alloc_from_pool_async(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
	struct pool *p = pool_of(pool);

	return p ? alloc(dptr, bytes, p->dev, stream) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult free_async(CUdeviceptr dptr, CUstream stream)
{
	struct omps_call_free_async m = {.dev = shim_current_device(), .ptr = dptr};
	CUresult r;

	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if (!dptr) /* as the driver: freeing 0 does nothing */
		return CUDA_SUCCESS;
	r = shim_post(OMPS_CALL_MEM_FREE_ASYNC, &m, sizeof(m), NULL, 0);
	if (r == CUDA_SUCCESS)
		shim_range_remove(dptr, NULL);
	return r;
}

static CUresult attr(CUmemoryPool pool, uint32_t which, int set, uint64_t value, uint64_t *out)
{
	struct pool *p = pool_of(pool);
	struct omps_call_pool_attr m = {.attr = which, .set = (uint32_t)set, .value = value};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	m.dev = p->dev;
	r = shim_call(OMPS_CALL_POOL_ATTR, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && out)
		*out = (uint64_t)rep.value;
	return r;
}

/* The REUSE_ flags are ints; the others 64-bit. */
static int wide(CUmemPool_attribute a)
{
	return a >= CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
}

static CUresult pool_set_attribute(CUmemoryPool pool, CUmemPool_attribute a, void *value)
{
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	return attr(pool, a, 1, wide(a) ? *(cuuint64_t *)value : (uint64_t)(int64_t) * (int *)value, NULL);
}

static CUresult pool_get_attribute(CUmemoryPool pool, CUmemPool_attribute a, void *value)
{
	uint64_t v = 0;
	CUresult r = value ? attr(pool, a, 0, 0, &v) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS && wide(a))
		*(cuuint64_t *)value = v;
	else if (r == CUDA_SUCCESS)
		*(int *)value = (int)v;
	return r;
}

static CUresult pool_trim_to(CUmemoryPool pool, size_t keep)
{
	return attr(pool, OMPS_POOL_TRIM, 1, keep, NULL);
}

void shim_pool_install(void)
{
	SHIM_LOCAL(cuDeviceGetDefaultMemPool, default_pool);
	SHIM_LOCAL(cuDeviceGetMemPool, get_mem_pool);
	SHIM_LOCAL(cuDeviceSetMemPool, set_mem_pool);
	SHIM_LOCAL(cuMemPoolCreate, pool_create);
	SHIM_LOCAL(cuMemPoolDestroy, pool_destroy);
	SHIM_LOCAL(cuMemPoolGetAccess, pool_get_access);
	SHIM_INSTALL(cuMemAllocAsync, alloc_async);
	SHIM_INSTALL(cuMemAllocFromPoolAsync, alloc_from_pool_async);
	SHIM_INSTALL(cuMemFreeAsync, free_async);
	SHIM_INSTALL(cuMemPoolSetAttribute, pool_set_attribute);
	SHIM_INSTALL(cuMemPoolGetAttribute, pool_get_attribute);
	SHIM_INSTALL(cuMemPoolTrimTo, pool_trim_to);
}
