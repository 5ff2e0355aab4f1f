/* Memory in remote mode: device pointers are the server's real device
 * addresses. Allocation, freeing, information and device-to-host copies wait
 * for the server; sets, host-to-device and device-to-device copies are posted
 * and report a failure at the next synchronous call. Host data travels in the
 * request ring, in records of up to omps_post_max() bytes. A device-to-host
 * copy on a stream is done by the time it returns: stricter than the driver,
 * never wrong. */
#include <string.h>
#include <sys/mman.h>

#include "shim.h"

static CUresult need_context(int *dev)
{
	*dev = omps_current_device();
	return *dev < 0 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

CUresult omps_mem_alloc(CUdeviceptr *dptr, size_t bytesize)
{
	struct omps_call_alloc m = {.bytes = bytesize};
	struct omps_reply_ptr rep = {{0}, 0};
	CUresult r;

	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	r = omps_call(OMPS_CALL_MEM_ALLOC, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	*dptr = rep.ptr;
	omps_range_add(&(struct omps_range){.base = rep.ptr, .bytes = bytesize, .kind = OMPS_RANGE_DEVICE,
					    .dev = m.dev});
	return CUDA_SUCCESS;
}

static CUresult mem_free(CUdeviceptr dptr)
{
	struct omps_call_ptr m = {.ptr = dptr};
	struct omps_reply rep;
	CUresult r = omps_call(OMPS_CALL_MEM_FREE, &m, sizeof(m), &rep, sizeof(rep));

	if (r == CUDA_SUCCESS && dptr)
		omps_range_remove(dptr, NULL);
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
	r = omps_call(OMPS_CALL_MEM_GET_INFO, &m, sizeof(m), &rep, sizeof(rep));
	*free_bytes = rep.free;
	*total = rep.total;
	return r;
}

static CUresult set(CUdeviceptr dst, uint32_t value, uint32_t elem, size_t n, CUstream stream)
{
	struct omps_call_memset m = {.value = value, .elem = elem, .ptr = dst, .count = n};
	CUresult r;

	if ((r = omps_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	return omps_post(OMPS_CALL_MEMSET, &m, sizeof(m), NULL, 0);
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

static CUresult htod(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream)
{
	struct omps_call_copy m = {0};
	const unsigned char *p = src;
	size_t chunk = omps_post_max() - sizeof(m), off;
	CUresult r;

	if ((r = omps_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if (!src && bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	for (off = 0; off < bytes && r == CUDA_SUCCESS; off += chunk) {
		m.dst = dst + off;
		m.bytes = bytes - off < chunk ? bytes - off : chunk;
		r = omps_post(OMPS_CALL_MEMCPY_HTOD, &m, sizeof(m), p + off, m.bytes);
	}
	return r;
}

static CUresult dtoh(void *dst, CUdeviceptr src, size_t bytes, CUstream stream)
{
	struct omps_call_copy m = {.src = src, .bytes = bytes};
	CUresult r;

	if ((r = omps_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if (!dst && bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	return omps_call_read(OMPS_CALL_MEMCPY_DTOH, &m, sizeof(m), dst, bytes);
}

static CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream)
{
	struct omps_call_copy m = {.dst = dst, .src = src, .bytes = bytes};
	CUresult r;

	if ((r = omps_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	return omps_post(OMPS_CALL_MEMCPY_DTOD, &m, sizeof(m), NULL, 0);
}

static CUresult memcpy_htod(CUdeviceptr dst, const void *src, size_t n)
{
	return htod(dst, src, n, NULL);
}

static CUresult memcpy_dtoh(void *dst, CUdeviceptr src, size_t n)
{
	return dtoh(dst, src, n, NULL);
}

static CUresult memcpy_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	return dtod(dst, src, n, NULL);
}

/* Page-locked host memory. For now it is the client's alone: copies from
 * and to it travel through the rings like any host memory, and kernels
 * cannot reach it (cuMemHostGetDevicePointer is refused). */
static CUresult host_alloc(void **pp, size_t bytes, unsigned int flags)
{
	void *p;

	if (!pp || !bytes || flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
						CU_MEMHOSTALLOC_WRITECOMBINED))
		return CUDA_ERROR_INVALID_VALUE;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (omps_range_add(&(struct omps_range){.base = (uintptr_t)p, .bytes = bytes, .kind = OMPS_RANGE_HOST,
						.dev = omps_current_device(), .flags = flags})) {
		munmap(p, bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pp = p;
	return CUDA_SUCCESS;
}

static CUresult alloc_host(void **pp, size_t bytes)
{
	return host_alloc(pp, bytes, 0);
}

static CUresult free_host(void *p)
{
	struct omps_range r;

	if (omps_range_find((uintptr_t)p, &r) || r.kind != OMPS_RANGE_HOST || r.base != (uintptr_t)p ||
	    r.registered)
		return CUDA_ERROR_INVALID_VALUE;
	omps_range_remove(r.base, NULL);
	munmap(p, r.bytes);
	return CUDA_SUCCESS;
}

static CUresult host_register(void *p, size_t bytes, unsigned int flags)
{
	struct omps_range r = {.base = (uintptr_t)p, .bytes = bytes, .kind = OMPS_RANGE_HOST,
			       .dev = omps_current_device(), .flags = flags, .registered = 1};

	if (!p || !bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (!omps_range_find(r.base, NULL) || !omps_range_find(r.base + bytes - 1, NULL))
		return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	return omps_range_add(&r) ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

static CUresult host_unregister(void *p)
{
	struct omps_range r;

	if (omps_range_find((uintptr_t)p, &r) || !r.registered || r.base != (uintptr_t)p)
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	omps_range_remove(r.base, NULL);
	return CUDA_SUCCESS;
}

static CUresult host_get_flags(unsigned int *flags, void *p)
{
	struct omps_range r;

	if (!flags || omps_range_find((uintptr_t)p, &r) || r.kind != OMPS_RANGE_HOST)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = r.flags;
	return CUDA_SUCCESS;
}

static CUresult host_get_device_pointer(CUdeviceptr *dptr, void *p, unsigned int flags)
{
	(void)dptr, (void)p, (void)flags;
	return omps_no_entry(OMPS_EP_cuMemHostGetDevicePointer_v2);
}

static int on_device(CUdeviceptr p)
{
	struct omps_range r;

	return !omps_range_find(p, &r) && r.kind == OMPS_RANGE_DEVICE;
}

/* Unified addressing: the direction follows from where each pointer lies. */
static CUresult copy_any(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream)
{
	int d = on_device(dst), s = on_device(src);
	CUresult r;

	if (d && s)
		return dtod(dst, src, bytes, stream);
	if (d)
		return htod(dst, (const void *)(uintptr_t)src, bytes, stream);
	if (s)
		return dtoh((void *)(uintptr_t)dst, src, bytes, stream);
	/* Host to host, in stream order. */
	r = stream ? omps_stream_sync(stream) : CUDA_SUCCESS;
	if (r == CUDA_SUCCESS && bytes)
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
	return r;
}

static CUresult memcpy_any(CUdeviceptr dst, CUdeviceptr src, size_t bytes)
{
	return copy_any(dst, src, bytes, NULL);
}

static CUresult get_address_range(CUdeviceptr *base, size_t *size, CUdeviceptr p)
{
	struct omps_range r;

	if (omps_range_find(p, &r) || r.kind != OMPS_RANGE_DEVICE)
		return CUDA_ERROR_NOT_FOUND;
	if (base)
		*base = r.base;
	if (size)
		*size = r.bytes;
	return CUDA_SUCCESS;
}

/* One attribute of a known range (found) or of an unknown pointer. */
static CUresult attribute(void *data, CUpointer_attribute a, CUdeviceptr p, const struct omps_range *r, int found)
{
	int dev = r->dev < 0 ? 0 : r->dev;

	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:
		if (found)
			return omps_table[OMPS_EP_cuDevicePrimaryCtxRetain]
				       ? ((__typeof__(&cuDevicePrimaryCtxRetain))omps_table[OMPS_EP_cuDevicePrimaryCtxRetain])(
						 (CUcontext *)data, dev)
				       : CUDA_ERROR_INVALID_VALUE;
		*(CUcontext *)data = NULL;
		break;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
		*(unsigned int *)data = !found ? 0 : r->kind == OMPS_RANGE_DEVICE ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
		break;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
		*(CUdeviceptr *)data = found && r->kind == OMPS_RANGE_DEVICE ? p : 0;
		break;
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
		*(void **)data = found && r->kind == OMPS_RANGE_HOST ? (void *)(uintptr_t)p : NULL;
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
		*(unsigned int *)data = found && r->kind == OMPS_RANGE_DEVICE ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE
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
	struct omps_range r = {0};

	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	if (omps_range_find(p, &r))
		return CUDA_ERROR_INVALID_VALUE; /* not memory CUDA knows, as the driver says */
	return attribute(data, a, p, &r, 1);
}

/* Unknown pointers get the attributes' empty values, without an error. */
static CUresult pointer_get_attributes(unsigned int n, CUpointer_attribute *attrs, void **data, CUdeviceptr p)
{
	struct omps_range r = {.dev = -1};
	int found = !omps_range_find(p, &r);
	unsigned int i;
	CUresult res;

	if (!attrs || !data)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < n; i++)
		if (data[i] && (res = attribute(data[i], attrs[i], p, &r, found)) != CUDA_SUCCESS)
			return res;
	return CUDA_SUCCESS;
}

void omps_memory_install(void)
{
	OMPS_INSTALL(cuMemAlloc_v2, omps_mem_alloc);
	OMPS_INSTALL(cuMemFree_v2, mem_free);
	OMPS_INSTALL(cuMemGetInfo_v2, mem_get_info);
	OMPS_INSTALL(cuMemsetD8_v2, memset_d8);
	OMPS_INSTALL(cuMemsetD16_v2, memset_d16);
	OMPS_INSTALL(cuMemsetD32_v2, memset_d32);
	OMPS_INSTALL(cuMemsetD8Async, memset_d8_async);
	OMPS_INSTALL(cuMemsetD16Async, memset_d16_async);
	OMPS_INSTALL(cuMemsetD32Async, memset_d32_async);
	OMPS_INSTALL(cuMemcpyHtoD_v2, memcpy_htod);
	OMPS_INSTALL(cuMemcpyDtoH_v2, memcpy_dtoh);
	OMPS_INSTALL(cuMemcpyDtoD_v2, memcpy_dtod);
	OMPS_INSTALL(cuMemcpyHtoDAsync_v2, htod);
	OMPS_INSTALL(cuMemcpyDtoHAsync_v2, dtoh);
	OMPS_INSTALL(cuMemcpyDtoDAsync_v2, dtod);
	OMPS_INSTALL(cuMemcpy, memcpy_any);
	OMPS_INSTALL(cuMemcpyAsync, copy_any);
	OMPS_INSTALL(cuMemcpy_ptds, memcpy_any);
	OMPS_INSTALL(cuMemcpyAsync_ptsz, copy_any);
	OMPS_INSTALL(cuMemcpyHtoD_v2_ptds, memcpy_htod);
	OMPS_INSTALL(cuMemcpyDtoH_v2_ptds, memcpy_dtoh);
	OMPS_INSTALL(cuMemcpyDtoD_v2_ptds, memcpy_dtod);
	OMPS_INSTALL(cuMemcpyHtoDAsync_v2_ptsz, htod);
	OMPS_INSTALL(cuMemcpyDtoHAsync_v2_ptsz, dtoh);
	OMPS_INSTALL(cuMemcpyDtoDAsync_v2_ptsz, dtod);
	OMPS_INSTALL(cuMemGetAddressRange_v2, get_address_range);
	OMPS_INSTALL(cuMemHostAlloc, host_alloc);
	OMPS_INSTALL(cuMemAllocHost_v2, alloc_host);
	OMPS_INSTALL(cuMemFreeHost, free_host);
	OMPS_INSTALL(cuMemHostRegister_v2, host_register);
	OMPS_INSTALL(cuMemHostUnregister, host_unregister);
	OMPS_INSTALL(cuMemHostGetFlags, host_get_flags);
	OMPS_INSTALL(cuMemHostGetDevicePointer_v2, host_get_device_pointer);
	OMPS_INSTALL(cuPointerGetAttribute, pointer_get_attribute);
	OMPS_INSTALL(cuPointerGetAttributes, pointer_get_attributes);
}
