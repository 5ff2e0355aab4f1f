// Pitched memory and 2D/3D copies as cudart makes them: cudaMallocPitch,
// cudaMemcpy2D in every direction, cudaMemset2D, cudaMalloc3D + cudaMemcpy3D.
#define NAME "rt_memcpy2d"
#include "check.cuh"

int main(void)
{
	const int w = 1000, hgt = 300; // bytes per row, rows
	unsigned char *h = (unsigned char *)malloc(w * hgt), *back = (unsigned char *)calloc(w, hgt), *d, *e;
	size_t pitch = 0, pitch2 = 0;

	for (int i = 0; i < w * hgt; i++)
		h[i] = (unsigned char)(i % 251);
	CK(cudaMallocPitch((void **)&d, &pitch, w, hgt));
	CK(cudaMallocPitch((void **)&e, &pitch2, w, hgt));
	EXPECT(pitch >= (size_t)w && pitch2 >= (size_t)w);
	CK(cudaMemset2D(d, pitch, 7, w, hgt));
	CK(cudaMemcpy2D(back, w, d, pitch, w, hgt, cudaMemcpyDeviceToHost));
	for (int i = 0; i < w * hgt; i++)
		EXPECT(back[i] == 7);
	CK(cudaMemcpy2D(d, pitch, h, w, w, hgt, cudaMemcpyHostToDevice));
	CK(cudaMemcpy2D(e, pitch2, d, pitch, w, hgt, cudaMemcpyDeviceToDevice));
	memset(back, 0, w * hgt);
	CK(cudaMemcpy2D(back, w, e, pitch2, w, hgt, cudaMemcpyDeviceToHost));
	EXPECT(!memcmp(back, h, w * hgt));

	// 3D: a 64 x 32 x 8 box of bytes.
	cudaExtent ext = make_cudaExtent(64, 32, 8);
	cudaPitchedPtr dp;
	unsigned char box[8][32][64], box2[8][32][64];
	cudaMemcpy3DParms p = {};

	for (int z = 0; z < 8; z++)
		for (int y = 0; y < 32; y++)
			for (int x = 0; x < 64; x++)
				box[z][y][x] = (unsigned char)(x + 3 * y + 7 * z);
	CK(cudaMalloc3D(&dp, ext));
	p.srcPtr = make_cudaPitchedPtr(box, 64, 64, 32);
	p.dstPtr = dp;
	p.extent = ext;
	p.kind = cudaMemcpyHostToDevice;
	CK(cudaMemcpy3D(&p));
	memset(&p, 0, sizeof(p));
	p.srcPtr = dp;
	p.dstPtr = make_cudaPitchedPtr(box2, 64, 64, 32);
	p.extent = ext;
	p.kind = cudaMemcpyDeviceToHost;
	CK(cudaMemcpy3D(&p));
	EXPECT(!memcmp(box, box2, sizeof(box)));
	return pass();
}
