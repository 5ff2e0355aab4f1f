/* Memory in remote mode: device pointers are the server's real device
 * addresses. Allocation, freeing, information and device-to-host copies wait
 * for the server; sets, host-to-device and device-to-device copies are posted
 * and report a failure at the next synchronous call. Host data travels in the
 * request ring, in records of up to omps_post_max() bytes. A device-to-host
 * copy on a stream is done by the time it returns: stricter than the driver,
 * never wrong. */
#include "shim.h"

static CUresult need_context(int *dev)
{
	*dev = omps_current_device();
	return *dev < 0 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

static CUresult mem_alloc(CUdeviceptr *dptr, size_t bytesize)
{
	struct omps_call_alloc m = {.bytes = bytesize};
	struct omps_reply_ptr rep = {{0}, 0};
	CUresult r;

	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = need_context(&m.dev)) != CUDA_SUCCESS)
		return r;
	r = omps_call(OMPS_CALL_MEM_ALLOC, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*dptr = rep.ptr;
	return r;
}

static CUresult mem_free(CUdeviceptr dptr)
{
	struct omps_call_ptr m = {.ptr = dptr};
	struct omps_reply rep;

	return omps_call(OMPS_CALL_MEM_FREE, &m, sizeof(m), &rep, sizeof(rep));
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

void omps_memory_install(void)
{
	OMPS_INSTALL(cuMemAlloc_v2, mem_alloc);
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
}
