// A minimal CUDA client for probing a multi-process service: initialise,
// allocate, report, sleep (so the service can be inspected), then launch a
// kernel and report the result of every step.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__global__ void fill(int *p, int v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = v;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5;
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
	int *d = NULL, sms = 0;
	size_t freeb = 0, totalb = 0;
	cudaError_t e = cudaFree(0);
	printf("client %d: init %s\n", getpid(), cudaGetErrorString(e));
	cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
	cudaMemGetInfo(&freeb, &totalb);
	printf("client %d: sms %d free %zu MiB total %zu MiB\n", getpid(), sms, freeb >> 20, totalb >> 20);
	e = cudaMalloc(&d, mib << 20);
	printf("client %d: malloc %zu MiB: %s\n", getpid(), mib, cudaGetErrorString(e));
	fflush(stdout);
	sleep(secs);
	fill<<<64, 256>>>(d, 7, 64 * 256);
	e = cudaDeviceSynchronize();
	printf("client %d: kernel+sync: %s (%d)\n", getpid(), cudaGetErrorString(e), (int)e);
	return e == cudaSuccess ? 0 : 1;
}
