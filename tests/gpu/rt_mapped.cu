// Mapped (zero-copy) host memory: a kernel reads and writes page-locked host
// memory through its device pointer, which under unified addressing is the
// host address itself.
#define NAME "rt_mapped"
#include "check.cuh"

__global__ void square(const int *in, int *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = in[i] * in[i];
}

int main(void)
{
	const int n = 4096;
	int *in, *out, *din, *dout;

	CK(cudaHostAlloc(&in, n * sizeof(int), cudaHostAllocMapped));
	CK(cudaHostAlloc(&out, n * sizeof(int), cudaHostAllocMapped));
	for (int i = 0; i < n; i++)
		in[i] = i - 100;
	CK(cudaHostGetDevicePointer(&din, in, 0));
	CK(cudaHostGetDevicePointer(&dout, out, 0));
	EXPECT(din == in && dout == out);
	square<<<n / 256, 256>>>(din, dout, n);
	CK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		EXPECT(out[i] == (i - 100) * (i - 100));
	return pass();
}
