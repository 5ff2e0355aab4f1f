/* CUDA arrays with the driver API, as image and volume programs use them:
 * the same program passes natively (a GPU) and through openmps.
 *   omps-array-probe
 * A 2D array of floats filled from pitched host memory and read back; a 3D
 * array filled slice by slice, copied to pitched device memory and back,
 * one slice alone; a 1D array through the HtoA, DtoA, AtoA, AtoD and AtoH
 * copies; its descriptor; a texture object over it, over linear memory and
 * over pitched memory, and a surface object, with their resource
 * descriptors; the array destroyed while a texture still reads it; a copy
 * outside an array refused; a mipmapped array's levels filled and read
 * back, and a texture over it. Prints "array_probe: PASS" or what failed. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE "array_probe"
#define PROBE_FAIL return 1
#include "probe.h"

enum { W = 64, H = 16, D = 3 };

static float host[W * H * D], back[W * H * D];

static void fill(unsigned n, float base)
{
	unsigned i;

	for (i = 0; i < n; i++)
		host[i] = base + (float)i;
	memset(back, 0, sizeof(back));
}

static int same(unsigned n, const char *what)
{
	unsigned i;

	for (i = 0; i < n; i++)
		CHECK(back[i] == host[i], "%s: element %u is %g, expected %g", what, i, back[i], host[i]);
	return 0;
}

static int array_2d(void)
{
	CUDA_ARRAY3D_DESCRIPTOR d = {.Width = W, .Height = H, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1}, got;
	CUDA_MEMCPY2D in = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = host, .srcPitch = W * 4,
			    .dstMemoryType = CU_MEMORYTYPE_ARRAY, .WidthInBytes = W * 4, .Height = H};
	CUDA_MEMCPY2D out = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .dstMemoryType = CU_MEMORYTYPE_HOST,
			     .dstHost = back, .dstPitch = W * 4, .WidthInBytes = W * 4, .Height = H};
	CUarray a;
	CUresult r1, r2;

	CK(cuArray3DCreate(&a, &d));
	CK(cuArray3DGetDescriptor(&got, a));
	CHECK(got.Width == W && got.Height == H && got.Depth == 0 && got.Format == CU_AD_FORMAT_FLOAT &&
		      got.NumChannels == 1,
	      "the descriptor read back is %zux%zux%zu", got.Width, got.Height, got.Depth);
	fill(W * H, 1);
	in.dstArray = a;
	out.srcArray = a;
	CK(cuMemcpy2D(&in));
	CK(cuMemcpy2D(&out));
	if (same(W * H, "2D array, host and back"))
		return 1;
	/* Rows 4..7 of columns 8..15 alone. */
	memset(back, 0, sizeof(back));
	out.srcXInBytes = 8 * 4, out.srcY = 4, out.WidthInBytes = 8 * 4, out.Height = 4;
	CK(cuMemcpy2D(&out));
	CHECK(back[0] == host[4 * W + 8] && back[W + 7] == host[5 * W + 15], "a window of the array: %g %g",
	      back[0], back[W + 7]);
	/* One row past its end: refused (at once natively, by the next synchronize through openmps). */
	out.srcY = H - 1, out.Height = 2;
	r1 = cuMemcpy2D(&out);
	r2 = cuCtxSynchronize();
	CHECK(r1 != CUDA_SUCCESS || r2 != CUDA_SUCCESS, "a copy past the array's last row succeeded");
	CK(cuArrayDestroy(a));
	printf("2D array verified\n");
	return 0;
}

static int array_3d(void)
{
	CUDA_ARRAY3D_DESCRIPTOR d = {.Width = W, .Height = H, .Depth = D, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
	CUDA_MEMCPY3D c = {0};
	CUdeviceptr lin;
	size_t pitch;
	CUarray a;

	CK(cuArray3DCreate(&a, &d));
	CK(cuMemAllocPitch(&lin, &pitch, W * 4, H * D, 4));
	fill(W * H * D, 1000);
	c = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = host, .srcPitch = W * 4, .srcHeight = H,
			    .dstMemoryType = CU_MEMORYTYPE_ARRAY, .dstArray = a, .WidthInBytes = W * 4, .Height = H,
			    .Depth = D};
	CK(cuMemcpy3D(&c));
	c = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
			    .dstDevice = lin, .dstPitch = pitch, .dstHeight = H, .WidthInBytes = W * 4, .Height = H,
			    .Depth = D};
	CK(cuMemcpy3D(&c));
	c = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = lin, .srcPitch = pitch, .srcHeight = H,
			    .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = W * 4, .dstHeight = H,
			    .WidthInBytes = W * 4, .Height = H, .Depth = D};
	CK(cuMemcpy3D(&c));
	if (same(W * H * D, "3D array to pitched device memory and back"))
		return 1;
	/* Slice 2 alone, from the array. */
	memset(back, 0, sizeof(back));
	c = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_ARRAY, .srcArray = a, .srcZ = 2,
			    .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = W * 4, .dstHeight = H,
			    .WidthInBytes = W * 4, .Height = H, .Depth = 1};
	CK(cuMemcpy3D(&c));
	CHECK(back[0] == host[2 * W * H] && back[W * H - 1] == host[3 * W * H - 1], "slice 2: %g .. %g", back[0],
	      back[W * H - 1]);
	CK(cuMemFree(lin));
	CK(cuArrayDestroy(a));
	printf("3D array verified\n");
	return 0;
}

/* The widest 2D array a GPU makes (131072 four-float elements: rows of
 * 2 MiB, wider than a ring record), filled and read back whole. */
static int wide_2d(void)
{
	CUDA_ARRAY_DESCRIPTOR d = {.Width = 131072, .Height = 3, .Format = CU_AD_FORMAT_UNSIGNED_INT32, .NumChannels = 4};
	size_t row = d.Width * 16, n = row / 4 * d.Height, i;
	unsigned *in = malloc(n * 4), *out = calloc(n, 4);
	CUDA_MEMCPY2D c = {0};
	CUarray a;

	CHECK(in && out, "no memory for 2 x 6 MiB");
	for (i = 0; i < n; i++)
		in[i] = (unsigned)(i * 2654435761u);
	CK(cuArrayCreate(&a, &d));
	c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = in, c.srcPitch = row;
	c.dstMemoryType = CU_MEMORYTYPE_ARRAY, c.dstArray = a;
	c.WidthInBytes = row, c.Height = d.Height;
	CK(cuMemcpy2D(&c));
	memset(&c, 0, sizeof(c));
	c.srcMemoryType = CU_MEMORYTYPE_ARRAY, c.srcArray = a;
	c.dstMemoryType = CU_MEMORYTYPE_HOST, c.dstHost = out, c.dstPitch = row;
	c.WidthInBytes = row, c.Height = d.Height;
	CK(cuMemcpy2D(&c));
	for (i = 0; i < n; i++)
		CHECK(out[i] == in[i], "wide 2D array: element %zu is %u, expected %u", i, out[i], in[i]);
	CK(cuArrayDestroy(a));
	free(in);
	free(out);
	return 0;
}

static int array_1d(void)
{
	CUDA_ARRAY_DESCRIPTOR d = {.Width = W, .Height = 0, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1}, got;
	CUarray a, b;
	CUdeviceptr lin;

	CK(cuArrayCreate(&a, &d));
	CK(cuArrayCreate(&b, &d));
	CK(cuArrayGetDescriptor(&got, b));
	CHECK(got.Width == W && got.Height == 0, "the 1D descriptor read back is %zux%zu", got.Width, got.Height);
	CK(cuMemAlloc(&lin, W * 4));
	fill(W, 7);
	CK(cuMemcpyHtoA(a, 0, host, W * 4));
	CK(cuMemcpyAtoA(b, 0, a, 0, W * 4));
	CK(cuMemcpyAtoD(lin, b, 0, W * 4));
	CK(cuMemcpyDtoA(a, 4 * 4, lin, (W - 4) * 4)); /* shifted by four */
	CK(cuMemcpyAtoH(back, a, 0, W * 4));
	CHECK(back[0] == host[0] && back[4] == host[0] && back[W - 1] == host[W - 5], "1D copies: %g %g %g", back[0],
	      back[4], back[W - 1]);
	CK(cuMemFree(lin));
	CK(cuArrayDestroy(a));
	CK(cuArrayDestroy(b));
	if (wide_2d())
		return 1;
	printf("1D array verified\n");
	return 0;
}

/* A mipmapped 2D array of three levels: each level is an array of half the
 * size of the last (the same CUarray each time it is asked for), filled and
 * read back; a texture object over the whole; the mipmapped array destroyed
 * while the texture reads it. */
static int mipmapped(void)
{
	CUDA_ARRAY3D_DESCRIPTOR d = {.Width = W, .Height = H, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1}, got;
	CUDA_RESOURCE_DESC res = {.resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY};
	CUDA_TEXTURE_DESC tex = {.filterMode = CU_TR_FILTER_MODE_POINT, .mipmapFilterMode = CU_TR_FILTER_MODE_POINT,
				 .maxMipmapLevelClamp = 2.0f};
	CUmipmappedArray mm;
	CUarray level[3], again;
	CUtexObject t;
	unsigned l;

	CK(cuMipmappedArrayCreate(&mm, &d, 3));
	for (l = 0; l < 3; l++) {
		unsigned w = W >> l, h = H >> l;
		CUDA_MEMCPY2D in = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = host, .srcPitch = w * 4,
				    .dstMemoryType = CU_MEMORYTYPE_ARRAY, .WidthInBytes = w * 4, .Height = h};
		CUDA_MEMCPY2D out = {.srcMemoryType = CU_MEMORYTYPE_ARRAY, .dstMemoryType = CU_MEMORYTYPE_HOST,
				     .dstHost = back, .dstPitch = w * 4, .WidthInBytes = w * 4, .Height = h};

		CK(cuMipmappedArrayGetLevel(&level[l], mm, l));
		CK(cuMipmappedArrayGetLevel(&again, mm, l));
		CHECK(again == level[l], "level %u asked twice gave two arrays", l);
		CK(cuArray3DGetDescriptor(&got, level[l]));
		CHECK(got.Width == w && got.Height == h && got.Depth == 0, "level %u is %zux%zux%zu, expected %ux%u", l,
		      got.Width, got.Height, got.Depth, w, h);
		fill(w * h, 100.0f * (float)l);
		in.dstArray = level[l];
		out.srcArray = level[l];
		CK(cuMemcpy2D(&in));
		CK(cuMemcpy2D(&out));
		if (same(w * h, "a mipmap level"))
			return 1;
	}
	EXPECT(cuMipmappedArrayGetLevel(&again, mm, 3), CUDA_ERROR_INVALID_VALUE);
	res.res.mipmap.hMipmappedArray = mm;
	CK(cuTexObjectCreate(&t, &res, &tex, NULL));
	CK(cuMipmappedArrayDestroy(mm)); /* the texture still reads it */
	CK(cuTexObjectDestroy(t));
	CK(cuCtxSynchronize());
	printf("mipmapped array verified\n");
	return 0;
}

static int objects(void)
{
	CUDA_ARRAY3D_DESCRIPTOR d = {.Width = W, .Height = H, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1,
				     .Flags = CUDA_ARRAY3D_SURFACE_LDST};
	CUDA_RESOURCE_DESC res = {.resType = CU_RESOURCE_TYPE_ARRAY}, got;
	CUDA_TEXTURE_DESC tex = {.addressMode = {CU_TR_ADDRESS_MODE_CLAMP, CU_TR_ADDRESS_MODE_CLAMP},
				 .filterMode = CU_TR_FILTER_MODE_POINT};
	CUtexObject t, tl, tp;
	CUsurfObject s;
	CUdeviceptr lin, pitched;
	size_t pitch;
	CUarray a;

	CK(cuArray3DCreate(&a, &d));
	res.res.array.hArray = a;
	CK(cuTexObjectCreate(&t, &res, &tex, NULL));
	CK(cuTexObjectGetResourceDesc(&got, t));
	CHECK(got.resType == CU_RESOURCE_TYPE_ARRAY && got.res.array.hArray == a, "the texture's resource differs");
	CK(cuSurfObjectCreate(&s, &res));
	CK(cuSurfObjectGetResourceDesc(&got, s));
	CHECK(got.res.array.hArray == a, "the surface's resource differs");
	CK(cuMemAlloc(&lin, W * 4));
	memset(&res, 0, sizeof(res));
	res.resType = CU_RESOURCE_TYPE_LINEAR;
	res.res.linear.devPtr = lin;
	res.res.linear.format = CU_AD_FORMAT_FLOAT;
	res.res.linear.numChannels = 1;
	res.res.linear.sizeInBytes = W * 4;
	CK(cuTexObjectCreate(&tl, &res, &tex, NULL));
	CK(cuMemAllocPitch(&pitched, &pitch, W * 4, H, 4));
	memset(&res, 0, sizeof(res));
	res.resType = CU_RESOURCE_TYPE_PITCH2D;
	res.res.pitch2D.devPtr = pitched;
	res.res.pitch2D.format = CU_AD_FORMAT_FLOAT;
	res.res.pitch2D.numChannels = 1;
	res.res.pitch2D.width = W;
	res.res.pitch2D.height = H;
	res.res.pitch2D.pitchInBytes = pitch;
	CK(cuTexObjectCreate(&tp, &res, &tex, NULL));
	CK(cuArrayDestroy(a)); /* the texture and surface still read it */
	CK(cuSurfObjectDestroy(s));
	CK(cuTexObjectDestroy(t));
	CK(cuTexObjectDestroy(tl));
	CK(cuTexObjectDestroy(tp));
	CK(cuMemFree(lin));
	CK(cuMemFree(pitched));
	CK(cuCtxSynchronize());
	printf("texture and surface objects verified\n");
	return 0;
}

int main(void)
{
	CUcontext ctx;
	CUdevice dev;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	if (array_2d() || array_3d() || array_1d() || mipmapped() || objects())
		return 1;
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("array_probe: PASS\n");
	return 0;
}
