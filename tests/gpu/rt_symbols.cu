// Module globals: __device__ and __constant__ variables written and read
// with cudaMemcpyToSymbol / FromSymbol, their addresses, and kernels that
// use them.
#define NAME "rt_symbols"
#include "check.cuh"

__device__ int counter[4];
__constant__ float coeff[8];

__global__ void use(float *out)
{
	int i = threadIdx.x;
	out[i] = coeff[i] * 2.0f;
	atomicAdd(&counter[i % 4], i);
}

int main(void)
{
	float c[8], out[8], *d;
	int zero[4] = {0, 0, 0, 0}, got[4];
	int *addr = NULL;
	size_t size = 0;

	for (int i = 0; i < 8; i++)
		c[i] = 1.5f * i;
	CK(cudaMemcpyToSymbol(coeff, c, sizeof(c)));
	CK(cudaMemcpyToSymbol(counter, zero, sizeof(zero)));
	CK(cudaGetSymbolAddress((void **)&addr, counter));
	CK(cudaGetSymbolSize(&size, counter));
	EXPECT(addr && size == sizeof(counter));
	CK(cudaMalloc(&d, sizeof(out)));
	use<<<1, 8>>>(d);
	CK(cudaMemcpy(out, d, sizeof(out), cudaMemcpyDeviceToHost));
	CK(cudaMemcpyFromSymbol(got, counter, sizeof(got)));
	for (int i = 0; i < 8; i++)
		EXPECT(out[i] == c[i] * 2.0f);
	EXPECT(got[0] == 0 + 4 && got[1] == 1 + 5 && got[2] == 2 + 6 && got[3] == 3 + 7);
	CK(cudaMemcpy(got, addr, sizeof(got), cudaMemcpyDeviceToHost)); // through the address, too
	EXPECT(got[3] == 10);
	return pass();
}
