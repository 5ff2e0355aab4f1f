// CUDA arrays, textures and surfaces with the runtime API, as image and
// volume samples use them (simpleTexture, simpleSurfaceWrite,
// simpleTexture3D): a 2D array read through a texture object (point and
// linear filtering, normalized coordinates), written through a surface
// object and read back; a linear texture fetched by index; a 3D array
// filled with cudaMemcpy3D and read through tex3D; a mipmapped array's
// three levels filled and read through one texture with tex2DLod. Each
// checked against the CPU.
#define NAME "rt_texture"
#include "check.cuh"
#include <math.h>

__global__ void read2d(cudaTextureObject_t t, float *out, int w, int h, float shift)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
	if (x < w && y < h)
		out[y * w + x] = tex2D<float>(t, x + 0.5f + shift, y + 0.5f);
}

__global__ void write2d(cudaSurfaceObject_t s, int w, int h)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
	if (x < w && y < h) {
		float v;
		surf2Dread(&v, s, x * sizeof(float), y);
		surf2Dwrite(v * 2.0f + 1.0f, s, x * sizeof(float), y);
	}
}

__global__ void fetch1d(cudaTextureObject_t t, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = tex1Dfetch<float>(t, n - 1 - i);
}

__global__ void read3d(cudaTextureObject_t t, float *out, int w, int h, int d)
{
	int x = threadIdx.x, y = blockIdx.x, z = blockIdx.y;
	if (x < w && y < h && z < d)
		out[(z * h + y) * w + x] = tex3D<float>(t, x + 0.5f, y + 0.5f, z + 0.5f);
}

// One level of a mipmapped texture, by normalized coordinates and tex2DLod.
__global__ void read_lod(cudaTextureObject_t t, float *out, int w, int h, float level)
{
	int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
	if (x < w && y < h)
		out[y * w + x] = tex2DLod<float>(t, (x + 0.5f) / w, (y + 0.5f) / h, level);
}

static cudaTextureObject_t texture(cudaResourceDesc *res, cudaTextureFilterMode filter)
{
	cudaTextureDesc td;
	cudaTextureObject_t t;

	memset(&td, 0, sizeof(td));
	td.addressMode[0] = td.addressMode[1] = td.addressMode[2] = cudaAddressModeClamp;
	td.filterMode = filter;
	td.readMode = cudaReadModeElementType;
	CK(cudaCreateTextureObject(&t, res, &td, NULL));
	return t;
}

int main(void)
{
	const int w = 256, h = 64, d = 8, n = 4096;
	float *img = (float *)malloc(sizeof(float) * w * h * d), *back = (float *)malloc(sizeof(float) * w * h * d);
	float *dout, *lin;
	cudaChannelFormatDesc f = cudaCreateChannelDesc<float>();
	cudaArray_t a, v;
	cudaResourceDesc res;
	cudaTextureObject_t t, tl, t3;
	cudaSurfaceObject_t s;

	for (int i = 0; i < w * h * d; i++)
		img[i] = (float)((i * 37) % 1001);
	CK(cudaMalloc(&dout, sizeof(float) * w * h * d));

	// 2D: texture reads, point then linear (half a texel over: the mean of two).
	CK(cudaMallocArray(&a, &f, w, h, cudaArraySurfaceLoadStore));
	CK(cudaMemcpy2DToArray(a, 0, 0, img, w * sizeof(float), w * sizeof(float), h, cudaMemcpyHostToDevice));
	memset(&res, 0, sizeof(res));
	res.resType = cudaResourceTypeArray;
	res.res.array.array = a;
	t = texture(&res, cudaFilterModePoint);
	read2d<<<dim3((w + 127) / 128, h), 128>>>(t, dout, w, h, 0.0f);
	CK(cudaMemcpy(back, dout, sizeof(float) * w * h, cudaMemcpyDeviceToHost));
	for (int i = 0; i < w * h; i++)
		EXPECT(back[i] == img[i]);
	CK(cudaDestroyTextureObject(t));
	t = texture(&res, cudaFilterModeLinear);
	read2d<<<dim3((w + 127) / 128, h), 128>>>(t, dout, w, h, 0.5f);
	CK(cudaMemcpy(back, dout, sizeof(float) * w * h, cudaMemcpyDeviceToHost));
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w - 1; x++)
			EXPECT(fabsf(back[y * w + x] - 0.5f * (img[y * w + x] + img[y * w + x + 1])) < 1.0f);

	// Surface: read, write 2v+1, back to the host from the array.
	CK(cudaCreateSurfaceObject(&s, &res));
	write2d<<<dim3((w + 127) / 128, h), 128>>>(s, w, h);
	CK(cudaMemcpy2DFromArray(back, w * sizeof(float), a, 0, 0, w * sizeof(float), h, cudaMemcpyDeviceToHost));
	for (int i = 0; i < w * h; i++)
		EXPECT(back[i] == 2.0f * img[i] + 1.0f);
	CK(cudaDestroySurfaceObject(s));
	CK(cudaDestroyTextureObject(t));
	CK(cudaFreeArray(a));

	// Linear memory fetched by index, reversed.
	CK(cudaMalloc(&lin, sizeof(float) * n));
	CK(cudaMemcpy(lin, img, sizeof(float) * n, cudaMemcpyHostToDevice));
	memset(&res, 0, sizeof(res));
	res.resType = cudaResourceTypeLinear;
	res.res.linear.devPtr = lin;
	res.res.linear.desc = f;
	res.res.linear.sizeInBytes = sizeof(float) * n;
	tl = texture(&res, cudaFilterModePoint);
	fetch1d<<<(n + 255) / 256, 256>>>(tl, dout, n);
	CK(cudaMemcpy(back, dout, sizeof(float) * n, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(back[i] == img[n - 1 - i]);
	CK(cudaDestroyTextureObject(tl));
	CK(cudaFree(lin));

	// 3D: cudaMemcpy3D into the array, tex3D out.
	CK(cudaMalloc3DArray(&v, &f, make_cudaExtent(w, h, d)));
	cudaMemcpy3DParms p;
	memset(&p, 0, sizeof(p));
	p.srcPtr = make_cudaPitchedPtr(img, w * sizeof(float), w, h);
	p.dstArray = v;
	p.extent = make_cudaExtent(w, h, d);
	p.kind = cudaMemcpyHostToDevice;
	CK(cudaMemcpy3D(&p));
	memset(&res, 0, sizeof(res));
	res.resType = cudaResourceTypeArray;
	res.res.array.array = v;
	t3 = texture(&res, cudaFilterModePoint);
	read3d<<<dim3(h, d), w>>>(t3, dout, w, h, d);
	CK(cudaMemcpy(back, dout, sizeof(float) * w * h * d, cudaMemcpyDeviceToHost));
	for (int i = 0; i < w * h * d; i++)
		EXPECT(back[i] == img[i]);
	CK(cudaDestroyTextureObject(t3));
	CK(cudaFreeArray(v));

	// Mipmapped: three levels, each filled through its level array, each
	// read back through one texture with tex2DLod at that level.
	cudaMipmappedArray_t mm;
	CK(cudaMallocMipmappedArray(&mm, &f, make_cudaExtent(w, h, 0), 3));
	for (int l = 0; l < 3; l++) {
		cudaArray_t lv;
		CK(cudaGetMipmappedArrayLevel(&lv, mm, l));
		for (int i = 0; i < (w >> l) * (h >> l); i++)
			img[i] = (float)(l * 100000 + i);
		CK(cudaMemcpy2DToArray(lv, 0, 0, img, (w >> l) * sizeof(float), (w >> l) * sizeof(float), h >> l,
				       cudaMemcpyHostToDevice));
	}
	memset(&res, 0, sizeof(res));
	res.resType = cudaResourceTypeMipmappedArray;
	res.res.mipmap.mipmap = mm;
	cudaTextureDesc td;
	memset(&td, 0, sizeof(td));
	td.addressMode[0] = td.addressMode[1] = cudaAddressModeClamp;
	td.filterMode = cudaFilterModePoint;
	td.mipmapFilterMode = cudaFilterModePoint;
	td.readMode = cudaReadModeElementType;
	td.normalizedCoords = 1;
	td.maxMipmapLevelClamp = 2.0f;
	CK(cudaCreateTextureObject(&t, &res, &td, NULL));
	for (int l = 0; l < 3; l++) {
		int lw = w >> l, lh = h >> l;
		read_lod<<<dim3((lw + 127) / 128, lh), 128>>>(t, dout, lw, lh, (float)l);
		CK(cudaMemcpy(back, dout, sizeof(float) * lw * lh, cudaMemcpyDeviceToHost));
		for (int i = 0; i < lw * lh; i++)
			EXPECT(back[i] == (float)(l * 100000 + i));
	}
	CK(cudaDestroyTextureObject(t));
	CK(cudaFreeMipmappedArray(mm));
	CK(cudaFree(dout));
	return pass();
}
