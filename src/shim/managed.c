/* Managed memory in remote mode (docs/architecture.md, "Managed memory").
 * The program touches it from the CPU while kernels in the server use it,
 * and the machine may have no pageable memory access: so it is page-locked
 * host memory shared with the server at the same address in both
 * processes (host.c maps it there; the server maps it at that address and
 * registers it), which the GPU reaches at that address too. One pointer is
 * then good on the CPU, in kernels and in copies, with no migration: the
 * pages stay in host memory and the GPU reaches them over the bus.
 * Prefetches and advice are hints, accepted: there is nothing to move; but
 * what was asked is remembered a page at a time, for cuMemRangeGetAttribute.
 * Where the GPU would reach registered memory at another address, or the
 * client may share no more host memory, cuMemAllocManaged is refused with
 * a line. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static CUresult refuse(const char *why)
{
	static atomic_int said;

	if (!atomic_exchange(&said, 1))
		fprintf(stderr, "openmps: cuMemAllocManaged: %s; it returns CUDA_ERROR_NOT_SUPPORTED\n", why);
	return CUDA_ERROR_NOT_SUPPORTED;
}

static CUresult alloc_managed(CUdeviceptr *dptr, size_t bytes, unsigned int flags)
{
	struct shim_range r;
	void *p = NULL;
	CUresult res;

	if (!dptr || !bytes || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
		return CUDA_ERROR_INVALID_VALUE;
	if (shim_current_device() < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	res = shim_host_alloc_shared(&p, bytes);
	if (res == CUDA_ERROR_OUT_OF_MEMORY)
		return res;
	if (res != CUDA_SUCCESS) {
		shim_host_free(p);
		return refuse("the server could not share more host memory with this program (see its log)");
	}
	if (shim_range_remove((uintptr_t)p, &r) || r.device_ptr != (uintptr_t)p) {
		shim_host_free(p);
		return refuse("this GPU reaches page-locked memory at another address than the CPU's");
	}
	r.managed = 1;
	if (shim_range_add(&r)) {
		shim_host_free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*dptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

/* What the program advised and prefetched, a host page at a time, for one
 * managed allocation (made at its first advice or prefetch; keyed by the
 * range's id, never reused). A location: a device, -1 the CPU (host),
 * -3 - N host NUMA node N, -2 none. */
#define PAGE 4096u
#define NOWHERE (-2)

struct advice {
	struct advice *next;
	uint64_t id, base;
	size_t pages;
	unsigned char *read_mostly;
	int32_t *preferred, *prefetched;
	uint64_t *accessed; /* a bit a device */
};

static struct advice *advices;
static pthread_mutex_t advice_lock = PTHREAD_MUTEX_INITIALIZER;

static struct advice *advice_new(const struct shim_range *r)
{
	struct advice *a = calloc(1, sizeof(*a));
	size_t i;

	if (!a)
		return NULL;
	a->id = r->id;
	a->base = r->base;
	a->pages = (r->bytes + PAGE - 1) / PAGE;
	a->read_mostly = calloc(a->pages, 1);
	a->preferred = malloc(a->pages * sizeof(int32_t));
	a->prefetched = malloc(a->pages * sizeof(int32_t));
	a->accessed = calloc(a->pages, sizeof(uint64_t));
	if (!a->read_mostly || !a->preferred || !a->prefetched || !a->accessed) {
		free(a->read_mostly), free(a->preferred), free(a->prefetched), free(a->accessed), free(a);
		return NULL;
	}
	for (i = 0; i < a->pages; i++)
		a->preferred[i] = a->prefetched[i] = NOWHERE;
	a->next = advices;
	advices = a;
	return a;
}

/* Under advice_lock: the record of r, made if make. */
static struct advice *advice_of(const struct shim_range *r, int make)
{
	struct advice *a;

	for (a = advices; a; a = a->next)
		if (a->id == r->id)
			return a;
	return make ? advice_new(r) : NULL;
}

void shim_managed_forget(uint64_t id)
{
	struct advice **pp, *a;

	pthread_mutex_lock(&advice_lock);
	for (pp = &advices; (a = *pp) && a->id != id; pp = &a->next)
		;
	if (a)
		*pp = a->next;
	pthread_mutex_unlock(&advice_lock);
	if (a)
		free(a->read_mostly), free(a->preferred), free(a->prefetched), free(a->accessed), free(a);
}

static int32_t location(CUmemLocation loc)
{
	switch (loc.type) {
	case CU_MEM_LOCATION_TYPE_DEVICE:
		return loc.id;
	case CU_MEM_LOCATION_TYPE_HOST_NUMA:
		return -3 - loc.id;
	default:
		return -1; /* the host, or its current NUMA node */
	}
}

/* [first, last] pages of [p, p + bytes) in the allocation r. */
static void page_span(const struct shim_range *r, CUdeviceptr p, size_t bytes, size_t *first, size_t *last)
{
	*first = (p - r->base) / PAGE;
	*last = (p - r->base + (bytes ? bytes : 1) - 1) / PAGE;
}

/* What an advice or a prefetch (advice < 0) changes, page by page. */
static CUresult remember(CUdeviceptr p, size_t bytes, int advice, CUmemLocation loc)
{
	struct shim_range r;
	struct advice *a;
	size_t first, last, i;
	int32_t where = location(loc);

	if (shim_range_find(p, &r))
		return CUDA_ERROR_INVALID_VALUE;
	if (advice == CU_MEM_ADVISE_SET_ACCESSED_BY || advice == CU_MEM_ADVISE_UNSET_ACCESSED_BY) {
		if (loc.type != CU_MEM_LOCATION_TYPE_DEVICE) /* the CPU's access needs no advice here */
			return CUDA_SUCCESS;
		if (loc.id < 0 || loc.id >= 64)
			return CUDA_ERROR_INVALID_DEVICE;
	}
	page_span(&r, p, bytes, &first, &last);
	pthread_mutex_lock(&advice_lock);
	a = advice_of(&r, 1);
	for (i = first; a && i <= last && i < a->pages; i++) {
		if (advice < 0)
			a->prefetched[i] = where;
		else if (advice == CU_MEM_ADVISE_SET_READ_MOSTLY || advice == CU_MEM_ADVISE_UNSET_READ_MOSTLY)
			a->read_mostly[i] = advice == CU_MEM_ADVISE_SET_READ_MOSTLY;
		else if (advice == CU_MEM_ADVISE_SET_PREFERRED_LOCATION)
			a->preferred[i] = where;
		else if (advice == CU_MEM_ADVISE_UNSET_PREFERRED_LOCATION)
			a->preferred[i] = NOWHERE;
		else if (advice == CU_MEM_ADVISE_SET_ACCESSED_BY)
			a->accessed[i] |= 1ull << loc.id;
		else
			a->accessed[i] &= ~(1ull << loc.id);
	}
	pthread_mutex_unlock(&advice_lock);
	return a ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

/* One location every page of the span shares, or NOWHERE. */
static int32_t common(const int32_t *v, size_t first, size_t last)
{
	size_t i;

	for (i = first + 1; i <= last; i++)
		if (v[i] != v[first])
			return NOWHERE;
	return v[first];
}

static CUresult location_type_id(int32_t where, int type, void *data, size_t size)
{
	if (type) {
		CUmemLocationType t = where >= 0	  ? CU_MEM_LOCATION_TYPE_DEVICE
				      : where == -1	  ? CU_MEM_LOCATION_TYPE_HOST
				      : where <= -3	  ? CU_MEM_LOCATION_TYPE_HOST_NUMA
							  : CU_MEM_LOCATION_TYPE_INVALID;

		if (size != sizeof(t))
			return CUDA_ERROR_INVALID_VALUE;
		memcpy(data, &t, sizeof(t));
		return CUDA_SUCCESS;
	}
	if (size != 4)
		return CUDA_ERROR_INVALID_VALUE;
	*(int32_t *)data = where >= 0 ? where : where <= -3 ? -3 - where : NOWHERE;
	return CUDA_SUCCESS;
}

static CUresult range_attribute(void *data, size_t size, CUmem_range_attribute attr, CUdeviceptr p, size_t bytes)
{
	struct shim_range r;
	struct advice *a;
	size_t first, last, i, n = 0;
	int32_t v = NOWHERE;
	uint64_t all = ~0ull;
	CUresult res = CUDA_SUCCESS;

	if (!data || !size || !bytes || shim_range_find(p, &r) || !r.managed || p - r.base > r.bytes ||
	    bytes > r.bytes - (p - r.base))
		return CUDA_ERROR_INVALID_VALUE;
	page_span(&r, p, bytes, &first, &last);
	pthread_mutex_lock(&advice_lock);
	a = advice_of(&r, 0);
	switch (attr) {
	case CU_MEM_RANGE_ATTRIBUTE_READ_MOSTLY:
		if (size != 4) {
			res = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		for (i = first, v = a != NULL; a && i <= last; i++)
			v &= a->read_mostly[i];
		*(int32_t *)data = v;
		break;
	case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION:
	case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION:
		if (size != 4) {
			res = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		v = !a ? NOWHERE
		       : common(attr == CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION ? a->preferred : a->prefetched,
				first, last);
		*(int32_t *)data = v <= -3 ? -1 : v; /* a host NUMA node is the CPU here */
		break;
	case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_TYPE:
	case CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_ID:
		v = a ? common(a->preferred, first, last) : NOWHERE;
		res = location_type_id(v, attr == CU_MEM_RANGE_ATTRIBUTE_PREFERRED_LOCATION_TYPE, data, size);
		break;
	case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_TYPE:
	case CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_ID:
		v = a ? common(a->prefetched, first, last) : NOWHERE;
		res = location_type_id(v, attr == CU_MEM_RANGE_ATTRIBUTE_LAST_PREFETCH_LOCATION_TYPE, data, size);
		break;
	case CU_MEM_RANGE_ATTRIBUTE_ACCESSED_BY:
		if (size % 4) {
			res = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		for (i = first; i <= last; i++)
			all &= a ? a->accessed[i] : 0;
		for (i = 0; i < 64 && n < size / 4; i++)
			if (all >> i & 1)
				((int32_t *)data)[n++] = (int32_t)i;
		while (n < size / 4)
			((int32_t *)data)[n++] = NOWHERE;
		break;
	default:
		res = CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_unlock(&advice_lock);
	return res;
}

static CUresult range_attributes(void **data, size_t *sizes, CUmem_range_attribute *attrs, size_t n, CUdeviceptr p,
				 size_t bytes)
{
	CUresult r = data && sizes && attrs && n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	size_t i;

	for (i = 0; r == CUDA_SUCCESS && i < n; i++)
		r = range_attribute(data[i], sizes[i], attrs[i], p, bytes);
	return r;
}

/* [p, p + bytes) within one managed allocation. */
static int managed(CUdeviceptr p, size_t bytes)
{
	struct shim_range r;

	return !shim_range_find(p, &r) && r.managed && p - r.base <= r.bytes && bytes <= r.bytes - (p - r.base);
}

static CUresult hint(CUdeviceptr p, size_t bytes, CUstream s)
{
	uint32_t h;
	CUresult r = s ? shim_stream_handle(s, &h) : CUDA_SUCCESS;

	if (r != CUDA_SUCCESS)
		return r;
	return managed(p, bytes) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult prefetch(CUdeviceptr p, size_t bytes, CUmemLocation loc, unsigned int flags, CUstream s)
{
	CUresult r = flags ? CUDA_ERROR_INVALID_VALUE : hint(p, bytes, s);

	return r == CUDA_SUCCESS ? remember(p, bytes, -1, loc) : r;
}

static CUresult prefetch_v1(CUdeviceptr p, size_t bytes, CUdevice dev, CUstream s)
{
	CUmemLocation loc = {.type = dev == CU_DEVICE_CPU ? CU_MEM_LOCATION_TYPE_HOST : CU_MEM_LOCATION_TYPE_DEVICE,
			     .id = dev};

	return prefetch(p, bytes, loc, 0, s);
}

static CUresult advise(CUdeviceptr p, size_t bytes, CUmem_advise advice, CUmemLocation loc)
{
	CUresult r = advice < CU_MEM_ADVISE_SET_READ_MOSTLY || advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY
			     ? CUDA_ERROR_INVALID_VALUE
			     : hint(p, bytes, NULL);

	return r == CUDA_SUCCESS ? remember(p, bytes, (int)advice, loc) : r;
}

static CUresult advise_v1(CUdeviceptr p, size_t bytes, CUmem_advise advice, CUdevice dev)
{
	CUmemLocation loc = {.type = dev == CU_DEVICE_CPU ? CU_MEM_LOCATION_TYPE_HOST : CU_MEM_LOCATION_TYPE_DEVICE,
			     .id = dev};

	return advise(p, bytes, advice, loc);
}

/* Attaching decides which streams may touch it concurrently with the CPU:
 * host memory needs no such promise. */
static CUresult attach(CUstream s, CUdeviceptr p, size_t bytes, unsigned int flags)
{
	if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE)
		return CUDA_ERROR_INVALID_VALUE;
	return hint(p, bytes ? bytes : 1, s);
}

void shim_managed_install(void)
{
	SHIM_LOCAL(cuMemAllocManaged, alloc_managed);
	SHIM_LOCAL(cuMemPrefetchAsync_v2, prefetch);
	SHIM_LOCAL(cuMemAdvise_v2, advise);
	SHIM_LOCAL(cuStreamAttachMemAsync, attach);
	SHIM_LOCAL(cuMemRangeGetAttribute, range_attribute);
	SHIM_LOCAL(cuMemRangeGetAttributes, range_attributes);
	/* The unversioned names: a device ordinal where _v2 has a location. */
	SHIM_LOCAL_UNTYPED(cuMemPrefetchAsync, prefetch_v1);
	SHIM_LOCAL_UNTYPED(cuMemAdvise, advise_v1);
}
