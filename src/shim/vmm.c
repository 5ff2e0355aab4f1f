/* Virtual memory management in remote mode (vmm.c in the server): address
 * reservations, physical memory and mappings are the server's, in its
 * context; a physical-memory handle is the server's index for it. A range
 * made accessible joins the client's map of its device memory, so that
 * copies find their direction. Served for device memory; refused with a
 * line: shareable (exportable) handles, host locations, compression. */
#include <string.h>

#include "shim.h"

static CUresult vmm(uint32_t type, struct omps_call_vmm *m, void *reply, size_t len)
{
	struct omps_reply rep;

	if (!reply)
		return shim_call(type, m, sizeof(*m), &rep, sizeof(rep));
	return shim_call(type, m, sizeof(*m), reply, len);
}

/* Device memory, as the server serves it: its device from the properties. */
static CUresult device_of(const CUmemAllocationProp *p, int *dev)
{
	int n = 0;

	if (!p || p->type != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return shim_unsupported("virtual memory management of host memory (a host location)");
	((__typeof__(&cuDeviceGetCount))shim_table[SHIM_EP_cuDeviceGetCount])(&n);
	if (p->location.id < 0 || p->location.id >= n)
		return CUDA_ERROR_INVALID_DEVICE;
	*dev = p->location.id;
	return CUDA_SUCCESS;
}

static CUresult granularity(size_t *g, const CUmemAllocationProp *prop, CUmemAllocationGranularity_flags option)
{
	struct omps_call_vmm m = {.flags = (uint32_t)option};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r = g ? device_of(prop, &m.dev) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		r = vmm(OMPS_CALL_VMM_GRANULARITY, &m, &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*g = (size_t)rep.value;
	return r;
}

static CUresult reserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr, unsigned long long flags)
{
	struct omps_call_vmm m = {.size = size, .alignment = alignment, .ptr = addr, .flags = (uint32_t)flags};
	struct omps_reply_ptr rep = {{0}, 0};
	CUresult r = ptr && !(flags >> 32) ? vmm(OMPS_CALL_VMM_RESERVE, &m, &rep, sizeof(rep)) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*ptr = rep.ptr;
	return r;
}

static CUresult address_free(CUdeviceptr ptr, size_t size)
{
	struct omps_call_vmm m = {.ptr = ptr, .size = size};

	return vmm(OMPS_CALL_VMM_ADDR_FREE, &m, NULL, 0);
}

static CUresult create(CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop,
		       unsigned long long flags)
{
	struct omps_call_vmm m = {.size = size};
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUresult r = h && !flags ? device_of(prop, &m.dev) : CUDA_ERROR_INVALID_VALUE;

	if (r != CUDA_SUCCESS)
		return r;
	if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE)
		return shim_unsupported("cuMemCreate with a shareable handle type (exporting physical memory)");
	if (prop->allocFlags.compressionType)
		return shim_unsupported("cuMemCreate of compressible memory");
	r = vmm(OMPS_CALL_VMM_CREATE, &m, &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*h = rep.handle;
	return r;
}

static CUresult release(CUmemGenericAllocationHandle h)
{
	struct omps_call_vmm m = {.handle = (uint32_t)h};

	return h >> 32 ? CUDA_ERROR_INVALID_VALUE : vmm(OMPS_CALL_VMM_RELEASE, &m, NULL, 0);
}

static CUresult map(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle h,
		    unsigned long long flags)
{
	struct omps_call_vmm m = {.ptr = ptr, .size = size, .offset = offset, .handle = (uint32_t)h};

	return flags || h >> 32 ? CUDA_ERROR_INVALID_VALUE : vmm(OMPS_CALL_VMM_MAP, &m, NULL, 0);
}

static CUresult unmap(CUdeviceptr ptr, size_t size)
{
	struct omps_call_vmm m = {.ptr = ptr, .size = size};
	CUresult r = vmm(OMPS_CALL_VMM_UNMAP, &m, NULL, 0);
	struct shim_range range;

	while (r == CUDA_SUCCESS && !shim_range_find(ptr, &range) && range.base >= ptr && range.base - ptr < size)
		shim_range_remove(range.base, NULL);
	return r;
}

static CUresult set_access(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	struct omps_call_vmm m = {.ptr = ptr, .size = size};
	struct shim_range range;
	CUresult r = CUDA_SUCCESS;
	size_t i;

	if (!desc || !count)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < count && r == CUDA_SUCCESS; i++) {
		if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE)
			return shim_unsupported("cuMemSetAccess for a host location");
		m.dev = desc[i].location.id;
		m.flags = (uint32_t)desc[i].flags;
		r = vmm(OMPS_CALL_VMM_ACCESS, &m, NULL, 0);
	}
	if (r != CUDA_SUCCESS)
		return r;
	if (!shim_range_find(ptr, &range) && range.base == ptr)
		shim_range_remove(ptr, NULL);
	if (desc[count - 1].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE)
		shim_range_add(&(struct shim_range){.base = ptr, .bytes = size, .kind = SHIM_RANGE_DEVICE,
						    .dev = desc[count - 1].location.id});
	return CUDA_SUCCESS;
}

void shim_vmm_install(void)
{
	SHIM_INSTALL(cuMemGetAllocationGranularity, granularity);
	SHIM_INSTALL(cuMemAddressReserve, reserve);
	SHIM_INSTALL(cuMemAddressFree, address_free);
	SHIM_INSTALL(cuMemCreate, create);
	SHIM_INSTALL(cuMemRelease, release);
	SHIM_INSTALL(cuMemMap, map);
	SHIM_INSTALL(cuMemUnmap, unmap);
	SHIM_INSTALL(cuMemSetAccess, set_access);
}
