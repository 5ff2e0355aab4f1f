// Runtime API: allocate, copy, launch, copy back, check against the CPU.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

__global__ void add(const float *a, const float *b, float *c, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		c[i] = a[i] + b[i];
}

int main(void)
{
	const int n = 1 << 20;
	size_t bytes = n * sizeof(float);
	float *a = (float *)malloc(bytes), *b = (float *)malloc(bytes), *c = (float *)malloc(bytes);
	float *da, *db, *dc;
	for (int i = 0; i < n; i++) {
		a[i] = i * 0.5f;
		b[i] = 1.0f - i;
	}
	cudaMalloc(&da, bytes);
	cudaMalloc(&db, bytes);
	cudaMalloc(&dc, bytes);
	cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice);
	cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice);
	add<<<(n + 255) / 256, 256>>>(da, db, dc, n);
	cudaError_t e = cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost);
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += c[i] != a[i] + b[i];
	printf("vector_add: %s (%s, %d wrong)\n", e == cudaSuccess && !bad ? "PASS" : "FAIL", cudaGetErrorString(e), bad);
	return e == cudaSuccess && !bad ? 0 : 1;
}
