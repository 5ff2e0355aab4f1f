// Page-locked host memory: cudaMallocHost, cudaHostAlloc, cudaHostRegister,
// asynchronous copies from and to it, in stream order with a kernel.
#define NAME "rt_pinned"
#include "check.cuh"

__global__ void inc(int *x, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] += 1;
}

int main(void)
{
	const int n = 1 << 20;
	int *p, *q, *r, *d;
	unsigned int flags = 0;
	cudaStream_t s;

	CK(cudaMallocHost(&p, n * sizeof(int)));
	CK(cudaHostAlloc(&q, n * sizeof(int), cudaHostAllocPortable));
	r = (int *)malloc(n * sizeof(int));
	CK(cudaHostRegister(r, n * sizeof(int), cudaHostRegisterDefault));
	CK(cudaHostGetFlags(&flags, q));
	EXPECT(flags & cudaHostAllocPortable);
	for (int i = 0; i < n; i++)
		p[i] = i;
	CK(cudaMalloc(&d, n * sizeof(int)));
	CK(cudaStreamCreate(&s));
	CK(cudaMemcpyAsync(d, p, n * sizeof(int), cudaMemcpyHostToDevice, s));
	inc<<<(n + 255) / 256, 256, 0, s>>>(d, n);
	CK(cudaMemcpyAsync(q, d, n * sizeof(int), cudaMemcpyDeviceToHost, s));
	inc<<<(n + 255) / 256, 256, 0, s>>>(d, n);
	CK(cudaMemcpyAsync(r, d, n * sizeof(int), cudaMemcpyDeviceToHost, s));
	CK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		EXPECT(q[i] == i + 1 && r[i] == i + 2);
	CK(cudaHostUnregister(r));
	CK(cudaFreeHost(p));
	CK(cudaFreeHost(q));
	return pass();
}
