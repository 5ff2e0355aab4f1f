/* Pitched memory in remote mode: cuMemAllocPitch, 2D and 3D copies, 2D
 * sets. A 2D copy to the device sends its rows packed, as many whole rows a
 * record as fit, and the server copies them with cuMemcpy2DAsync; from the
 * device, the rows come back packed and are spread here. Device to device
 * is one record. A 3D copy is a 2D copy a slice. A CUDA array (array.c) is
 * a device side named by its handle, x (bytes), y and z. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define PITCH_ALIGN 512 /* as the driver pitches rows on current GPUs */

static CUresult alloc_pitch(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height, unsigned int elem)
{
	size_t align = PITCH_ALIGN, p;
	int attr = shim_device_attr(shim_current_device(), CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT);
	CUresult r;

	if (!dptr || !pitch || !width || !height || (elem != 4 && elem != 8 && elem != 16))
		return CUDA_ERROR_INVALID_VALUE;
	if (attr > 0 && (size_t)attr > align)
		align = (size_t)attr;
	p = (width + align - 1) / align * align;
	if (height > SIZE_MAX / p)
		return CUDA_ERROR_INVALID_VALUE;
	r = shim_mem_alloc(dptr, p * height);
	if (r == CUDA_SUCCESS)
		*pitch = p;
	return r;
}

/* One side of a copy: on the device or in this process, at addr; or a
 * CUDA array (handle), at x = addr bytes into row y of slice z. */
struct side {
	int device;
	uint64_t addr, pitch;
	uint32_t array;
	uint64_t y, z;
};

static CUresult resolve(CUmemorytype type, const void *host, CUdeviceptr dev, CUarray array, size_t x, size_t y,
			size_t z, size_t pitch, struct side *s)
{
	struct shim_range r;
	int adev; /* the server checks it against the copy's */

	memset(s, 0, sizeof(*s));
	if (type == CU_MEMORYTYPE_ARRAY) {
		if (shim_array(array, &s->array, &adev))
			return CUDA_ERROR_INVALID_HANDLE;
		s->device = 1, s->addr = x, s->y = y, s->z = z; /* no pitch: rows are the array's */
		return CUDA_SUCCESS;
	}
	if (type == CU_MEMORYTYPE_HOST)
		s->addr = (uintptr_t)host, s->device = 0;
	else if (type == CU_MEMORYTYPE_DEVICE)
		s->addr = dev, s->device = 1;
	else if (type == CU_MEMORYTYPE_UNIFIED)
		s->addr = dev, s->device = !shim_range_find(dev, &r) && r.kind == SHIM_RANGE_DEVICE;
	else
		return CUDA_ERROR_INVALID_VALUE;
	s->pitch = pitch;
	s->addr += y * pitch + x;
	return CUDA_SUCCESS;
}

/* Rows to the device, packed, as many a record as fit. */
static CUresult to_device(struct omps_call_copy2d *m, const struct side *src, size_t height)
{
	size_t per = (shim_post_max() - sizeof(*m)) / m->width, row, k, i;
	unsigned char *buf = malloc(per * m->width);
	CUresult r = buf ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	uint64_t dst = m->dst, dst_y = m->dst_y;

	for (row = 0; r == CUDA_SUCCESS && row < height; row += k) {
		k = height - row < per ? height - row : per;
		for (i = 0; i < k; i++)
			memcpy(buf + i * m->width, (const char *)(uintptr_t)(src->addr + (row + i) * src->pitch),
			       m->width);
		if (m->dst_array)
			m->dst_y = dst_y + row;
		else
			m->dst = dst + row * m->dst_pitch;
		m->height = k;
		r = shim_post(OMPS_CALL_MEMCPY_2D, m, sizeof(*m), buf, k * m->width);
	}
	free(buf);
	return r;
}

/* Rows from the device: packed in chunks, then spread. */
static CUresult from_device(struct omps_call_copy2d *m, const struct side *dst, size_t height)
{
	size_t per = (16u << 20) / m->width, row, k, i;
	unsigned char *buf;
	uint64_t src = m->src, src_y = m->src_y;
	CUresult r;

	if (!per)
		per = 1;
	buf = malloc(per * m->width);
	r = buf ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	for (row = 0; r == CUDA_SUCCESS && row < height; row += k) {
		k = height - row < per ? height - row : per;
		if (m->src_array)
			m->src_y = src_y + row;
		else
			m->src = src + row * m->src_pitch;
		m->height = k;
		r = shim_call_read(OMPS_CALL_MEMCPY_2D, m, sizeof(*m), buf, k * m->width);
		for (i = 0; r == CUDA_SUCCESS && i < k; i++)
			memcpy((char *)(uintptr_t)(dst->addr + (row + i) * dst->pitch), buf + i * m->width, m->width);
	}
	free(buf);
	return r;
}

static CUresult copy_2d_at(const CUDA_MEMCPY2D *p, size_t src_z, size_t dst_z, CUstream stream);

/* A copy whose rows are wider than a record, with an array side: bands of
 * at most band bytes a row, each an ordinary 2D copy further along x (on
 * every kind of side, x adds to where the row starts). */
static CUresult copy_columns(const CUDA_MEMCPY2D *p, size_t src_z, size_t dst_z, CUstream stream, size_t band)
{
	CUresult r = CUDA_SUCCESS;
	size_t x;

	band -= band % 16; /* whole elements of any format */
	for (x = 0; r == CUDA_SUCCESS && x < p->WidthInBytes; x += band) {
		CUDA_MEMCPY2D q = *p;

		q.srcXInBytes += x;
		q.dstXInBytes += x;
		q.WidthInBytes = p->WidthInBytes - x < band ? p->WidthInBytes - x : band;
		r = copy_2d_at(&q, src_z, dst_z, stream);
	}
	return r;
}

/* A 2D copy; an array side's rows are in slice src_z or dst_z. */
static CUresult copy_2d_at(const CUDA_MEMCPY2D *p, size_t src_z, size_t dst_z, CUstream stream)
{
	struct omps_call_copy2d m = {0};
	struct side src, dst;
	size_t y;
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = resolve(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY, src_z,
			 p->srcPitch, &src)) != CUDA_SUCCESS ||
	    (r = resolve(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY, dst_z,
			 p->dstPitch, &dst)) != CUDA_SUCCESS)
		return r;
	if (!p->WidthInBytes || !p->Height)
		return CUDA_SUCCESS;
	if ((!src.array && p->WidthInBytes > p->srcPitch) || (!dst.array && p->WidthInBytes > p->dstPitch))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	m.dev = shim_current_device();
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	m.width = p->WidthInBytes;
	m.dst = dst.addr, m.dst_pitch = dst.pitch;
	m.src = src.addr, m.src_pitch = src.pitch;
	m.dst_array = dst.array, m.dst_y = dst.y, m.dst_z = dst.z;
	m.src_array = src.array, m.src_y = src.y, m.src_z = src.z;
	if (src.device && dst.device) {
		m.kind = OMPS_COPY_DTOD;
		m.height = p->Height;
		return shim_post(OMPS_CALL_MEMCPY_2D, &m, sizeof(m), NULL, 0);
	}
	if (dst.device && m.width <= shim_post_max() - sizeof(m)) {
		m.kind = OMPS_COPY_HTOD;
		return to_device(&m, &src, p->Height);
	}
	if (src.device && m.width <= shim_post_max()) {
		m.kind = OMPS_COPY_DTOH;
		return from_device(&m, &dst, p->Height);
	}
	if (src.array || dst.array) /* rows wider than a record: a band of columns at a time */
		return copy_columns(p, src_z, dst_z, stream, src.device ? shim_post_max() : shim_post_max() - sizeof(m));
	if (src.device || dst.device) { /* rows wider than a record: one copy a row */
		for (y = 0; r == CUDA_SUCCESS && y < p->Height; y++)
			r = ((__typeof__(&cuMemcpyAsync))shim_table[SHIM_EP_cuMemcpyAsync])(
				dst.addr + y * dst.pitch, src.addr + y * src.pitch, m.width, stream);
		return r;
	}
	r = stream ? shim_stream_sync(stream) : CUDA_SUCCESS; /* host to host, in stream order */
	for (y = 0; r == CUDA_SUCCESS && y < p->Height; y++)
		memmove((char *)(uintptr_t)(dst.addr + y * dst.pitch), (const char *)(uintptr_t)(src.addr + y * src.pitch),
			m.width);
	return r;
}

static CUresult copy_2d_async(const CUDA_MEMCPY2D *p, CUstream stream)
{
	return copy_2d_at(p, 0, 0, stream);
}

static CUresult copy_2d(const CUDA_MEMCPY2D *p)
{
	return copy_2d_async(p, NULL);
}

/* A slice at a time; each slice is a 2D copy some rows further on (an
 * array's: its next slice). */
static CUresult copy_3d_async(const CUDA_MEMCPY3D *p, CUstream stream)
{
	int src_arr = p && p->srcMemoryType == CU_MEMORYTYPE_ARRAY, dst_arr = p && p->dstMemoryType == CU_MEMORYTYPE_ARRAY;
	CUresult r = CUDA_SUCCESS;
	size_t z;

	if (!p || p->srcLOD || p->dstLOD || p->reserved0 || p->reserved1 ||
	    (p->Depth > 1 && ((!src_arr && !p->srcHeight) || (!dst_arr && !p->dstHeight))))
		return CUDA_ERROR_INVALID_VALUE;
	for (z = 0; r == CUDA_SUCCESS && z < p->Depth; z++) {
		CUDA_MEMCPY2D q = {
			.srcXInBytes = p->srcXInBytes,
			.srcY = src_arr ? p->srcY : p->srcY + (p->srcZ + z) * p->srcHeight,
			.srcMemoryType = p->srcMemoryType, .srcHost = p->srcHost, .srcDevice = p->srcDevice,
			.srcArray = p->srcArray, .srcPitch = p->srcPitch,
			.dstXInBytes = p->dstXInBytes,
			.dstY = dst_arr ? p->dstY : p->dstY + (p->dstZ + z) * p->dstHeight,
			.dstMemoryType = p->dstMemoryType, .dstHost = p->dstHost, .dstDevice = p->dstDevice,
			.dstArray = p->dstArray, .dstPitch = p->dstPitch,
			.WidthInBytes = p->WidthInBytes, .Height = p->Height,
		};

		r = copy_2d_at(&q, src_arr ? p->srcZ + z : 0, dst_arr ? p->dstZ + z : 0, stream);
	}
	return r;
}

static CUresult copy_3d(const CUDA_MEMCPY3D *p)
{
	return copy_3d_async(p, NULL);
}

/* The copies with a 1D array: one row, offset bytes in (a handle that is
 * no array is refused as any copy's). */
static void array_row(CUDA_MEMCPY2D *q, int dst, CUarray a, size_t offset)
{
	if (dst)
		q->dstMemoryType = CU_MEMORYTYPE_ARRAY, q->dstArray = a, q->dstXInBytes = offset;
	else
		q->srcMemoryType = CU_MEMORYTYPE_ARRAY, q->srcArray = a, q->srcXInBytes = offset;
}

static CUresult copy_1d(CUDA_MEMCPY2D *q, size_t bytes, CUstream s)
{
	q->WidthInBytes = bytes;
	q->Height = 1;
	if (q->srcMemoryType != CU_MEMORYTYPE_ARRAY)
		q->srcPitch = bytes;
	if (q->dstMemoryType != CU_MEMORYTYPE_ARRAY)
		q->dstPitch = bytes;
	return copy_2d_async(q, s);
}

static CUresult htoa_async(CUarray dst, size_t off, const void *src, size_t bytes, CUstream s)
{
	CUDA_MEMCPY2D q = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = src};

	array_row(&q, 1, dst, off);
	return copy_1d(&q, bytes, s);
}

static CUresult htoa(CUarray dst, size_t off, const void *src, size_t bytes)
{
	return htoa_async(dst, off, src, bytes, NULL);
}

static CUresult atoh_async(void *dst, CUarray src, size_t off, size_t bytes, CUstream s)
{
	CUDA_MEMCPY2D q = {.dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = dst};

	array_row(&q, 0, src, off);
	return copy_1d(&q, bytes, s);
}

static CUresult atoh(void *dst, CUarray src, size_t off, size_t bytes)
{
	return atoh_async(dst, src, off, bytes, NULL);
}

static CUresult dtoa(CUarray dst, size_t off, CUdeviceptr src, size_t bytes)
{
	CUDA_MEMCPY2D q = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = src};

	array_row(&q, 1, dst, off);
	return copy_1d(&q, bytes, NULL);
}

static CUresult atod(CUdeviceptr dst, CUarray src, size_t off, size_t bytes)
{
	CUDA_MEMCPY2D q = {.dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = dst};

	array_row(&q, 0, src, off);
	return copy_1d(&q, bytes, NULL);
}

static CUresult atoa(CUarray dst, size_t doff, CUarray src, size_t soff, size_t bytes)
{
	CUDA_MEMCPY2D q = {0};

	array_row(&q, 1, dst, doff);
	array_row(&q, 0, src, soff);
	return copy_1d(&q, bytes, NULL);
}

static CUresult set_2d(CUdeviceptr d, size_t pitch, unsigned int value, unsigned int elem, size_t w, size_t h,
		       CUstream stream)
{
	struct omps_call_memset2d m = {.value = value, .elem = elem, .ptr = d, .pitch = pitch, .width = w,
				       .height = h};
	CUresult r = shim_stream_handle(stream, &m.stream);

	if (r != CUDA_SUCCESS)
		return r;
	m.dev = shim_current_device();
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	return shim_post(OMPS_CALL_MEMSET_2D, &m, sizeof(m), NULL, 0);
}

static CUresult set_2d8(CUdeviceptr d, size_t pitch, unsigned char v, size_t w, size_t h)
{
	return set_2d(d, pitch, v, 1, w, h, NULL);
}

static CUresult set_2d16(CUdeviceptr d, size_t pitch, unsigned short v, size_t w, size_t h)
{
	return set_2d(d, pitch, v, 2, w, h, NULL);
}

static CUresult set_2d32(CUdeviceptr d, size_t pitch, unsigned int v, size_t w, size_t h)
{
	return set_2d(d, pitch, v, 4, w, h, NULL);
}

static CUresult set_2d8_async(CUdeviceptr d, size_t pitch, unsigned char v, size_t w, size_t h, CUstream s)
{
	return set_2d(d, pitch, v, 1, w, h, s);
}

static CUresult set_2d16_async(CUdeviceptr d, size_t pitch, unsigned short v, size_t w, size_t h, CUstream s)
{
	return set_2d(d, pitch, v, 2, w, h, s);
}

static CUresult set_2d32_async(CUdeviceptr d, size_t pitch, unsigned int v, size_t w, size_t h, CUstream s)
{
	return set_2d(d, pitch, v, 4, w, h, s);
}

void shim_pitched_install(void)
{
	SHIM_INSTALL(cuMemAllocPitch_v2, alloc_pitch);
	SHIM_INSTALL(cuMemcpy2D_v2, copy_2d);
	SHIM_INSTALL(cuMemcpy2DUnaligned_v2, copy_2d);
	SHIM_INSTALL(cuMemcpy2DAsync_v2, copy_2d_async);
	SHIM_INSTALL(cuMemcpy3D_v2, copy_3d);
	SHIM_INSTALL(cuMemcpy3DAsync_v2, copy_3d_async);
	SHIM_INSTALL(cuMemcpyHtoA_v2, htoa);
	SHIM_INSTALL(cuMemcpyHtoAAsync_v2, htoa_async);
	SHIM_INSTALL(cuMemcpyAtoH_v2, atoh);
	SHIM_INSTALL(cuMemcpyAtoHAsync_v2, atoh_async);
	SHIM_INSTALL(cuMemcpyDtoA_v2, dtoa);
	SHIM_INSTALL(cuMemcpyAtoD_v2, atod);
	SHIM_INSTALL(cuMemcpyAtoA_v2, atoa);
	SHIM_INSTALL(cuMemsetD2D8_v2, set_2d8);
	SHIM_INSTALL(cuMemsetD2D16_v2, set_2d16);
	SHIM_INSTALL(cuMemsetD2D32_v2, set_2d32);
	SHIM_INSTALL(cuMemsetD2D8Async, set_2d8_async);
	SHIM_INSTALL(cuMemsetD2D16Async, set_2d16_async);
	SHIM_INSTALL(cuMemsetD2D32Async, set_2d32_async);
}
