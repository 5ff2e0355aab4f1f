/* Tensor maps in remote mode: cuTensorMapEncode* only write a descriptor in
 * the caller's memory from its arguments (the global address is a number:
 * the server's device address, which is the client's), so the local driver
 * answers them, once initialised (no context). */
#include "shim.h"

#define REAL(name) ((__typeof__(&name))shim_real[SHIM_EP_##name])

static CUresult encode_tiled(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *addr,
			     const cuuint64_t *dim, const cuuint64_t *strides, const cuuint32_t *box,
			     const cuuint32_t *elem_strides, CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
			     CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill fill)
{
	shim_real_init();
	return REAL(cuTensorMapEncodeTiled) ? REAL(cuTensorMapEncodeTiled)(map, type, rank, addr, dim, strides, box,
									     elem_strides, interleave, swizzle, l2, fill)
					    : shim_no_entry(SHIM_EP_cuTensorMapEncodeTiled);
}

static CUresult encode_im2col(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *addr,
			      const cuuint64_t *dim, const cuuint64_t *strides, const int *lower, const int *upper,
			      cuuint32_t channels, cuuint32_t pixels, const cuuint32_t *elem_strides,
			      CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
			      CUtensorMapFloatOOBfill fill)
{
	shim_real_init();
	return REAL(cuTensorMapEncodeIm2col)
		       ? REAL(cuTensorMapEncodeIm2col)(map, type, rank, addr, dim, strides, lower, upper, channels, pixels,
						       elem_strides, interleave, swizzle, l2, fill)
		       : shim_no_entry(SHIM_EP_cuTensorMapEncodeIm2col);
}

static CUresult encode_im2col_wide(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *addr,
				   const cuuint64_t *dim, const cuuint64_t *strides, int lower, int upper,
				   cuuint32_t channels, cuuint32_t pixels, const cuuint32_t *elem_strides,
				   CUtensorMapInterleave interleave, CUtensorMapIm2ColWideMode mode,
				   CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill fill)
{
	shim_real_init();
	return REAL(cuTensorMapEncodeIm2colWide)
		       ? REAL(cuTensorMapEncodeIm2colWide)(map, type, rank, addr, dim, strides, lower, upper, channels,
							   pixels, elem_strides, interleave, mode, swizzle, l2, fill)
		       : shim_no_entry(SHIM_EP_cuTensorMapEncodeIm2colWide);
}

static CUresult replace_address(CUtensorMap *map, void *addr)
{
	shim_real_init();
	return REAL(cuTensorMapReplaceAddress) ? REAL(cuTensorMapReplaceAddress)(map, addr)
					       : shim_no_entry(SHIM_EP_cuTensorMapReplaceAddress);
}

void shim_tensormap_install(void)
{
	SHIM_LOCAL(cuTensorMapEncodeTiled, encode_tiled);
	SHIM_LOCAL(cuTensorMapEncodeIm2col, encode_im2col);
	SHIM_LOCAL(cuTensorMapEncodeIm2colWide, encode_im2col_wide);
	SHIM_LOCAL(cuTensorMapReplaceAddress, replace_address);
}
