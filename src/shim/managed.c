/* Managed memory in remote mode (docs/architecture.md, "Managed memory").
 * The program touches it from the CPU while kernels in the server use it,
 * and the machine may have no pageable memory access: so it is page-locked
 * host memory shared with the server at the same address in both
 * processes (host.c maps it there; the server maps it at that address and
 * registers it), which the GPU reaches at that address too. One pointer is
 * then good on the CPU, in kernels and in copies, with no migration: the
 * pages stay in host memory and the GPU reaches them over the bus.
 * Prefetches and advice are hints, accepted: there is nothing to move.
 * Where the GPU would reach registered memory at another address, or the
 * client may share no more host memory, cuMemAllocManaged is refused with
 * a line. */
#include <stdatomic.h>
#include <stdio.h>

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
	(void)loc;
	return flags ? CUDA_ERROR_INVALID_VALUE : hint(p, bytes, s);
}

static CUresult prefetch_v1(CUdeviceptr p, size_t bytes, CUdevice dev, CUstream s)
{
	(void)dev;
	return hint(p, bytes, s);
}

static CUresult advise(CUdeviceptr p, size_t bytes, CUmem_advise advice, CUmemLocation loc)
{
	(void)loc;
	return advice < CU_MEM_ADVISE_SET_READ_MOSTLY || advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY
		       ? CUDA_ERROR_INVALID_VALUE
		       : hint(p, bytes, NULL);
}

static CUresult advise_v1(CUdeviceptr p, size_t bytes, CUmem_advise advice, CUdevice dev)
{
	CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev};

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
	/* The unversioned names: a device ordinal where _v2 has a location. */
	SHIM_LOCAL_UNTYPED(cuMemPrefetchAsync, prefetch_v1);
	SHIM_LOCAL_UNTYPED(cuMemAdvise, advise_v1);
}
