// __managed__ variables, as the unified-memory samples use them: written by
// the CPU, updated by kernels (atomics on the variable itself), read by the
// CPU after a synchronize; a managed array passed to a kernel as a pointer.
#define NAME "rt_managed_var"
#include "check.cuh"

__managed__ int counter[4];
__managed__ float table[256];

__global__ void bump(int times)
{
	for (int i = 0; i < times; i++)
		atomicAdd(&counter[threadIdx.x & 3], 1);
}

__global__ void scale(float *t, float v)
{
	t[threadIdx.x] *= v;
}

int main(void)
{
	CK(cudaFree(0));
	counter[0] = 100;
	bump<<<1, 64>>>(2);
	CK(cudaDeviceSynchronize());
	EXPECT(counter[0] == 132 && counter[1] == 32 && counter[3] == 32);
	counter[1] = -5; // a CPU write with no launch between two synchronizes
	CK(cudaDeviceSynchronize());
	EXPECT(counter[1] == -5);
	bump<<<1, 4>>>(1);
	CK(cudaDeviceSynchronize());
	EXPECT(counter[0] == 133 && counter[1] == -4);
	for (int i = 0; i < 256; i++)
		table[i] = (float)i;
	scale<<<1, 256>>>(table, 3.0f);
	cudaStream_t s;
	CK(cudaStreamCreate(&s));
	scale<<<1, 256, 0, s>>>(table, 2.0f);
	CK(cudaStreamSynchronize(s));
	for (int i = 0; i < 256; i++)
		EXPECT(table[i] == 6.0f * i);
	CK(cudaStreamDestroy(s));
	return pass();
}
