// nvcc: --default-stream per-thread
// The per-thread default stream (built with --default-stream per-thread):
// two host threads each work on their own default stream at once, and the
// legacy stream still orders with them.
#define NAME "rt_ptds"
#include <pthread.h>

#include "check.cuh"

__global__ void fill(int *x, int v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] = v;
}

static const int n = 1 << 20;

static void *work(void *arg)
{
	int *d = (int *)arg, *h = (int *)malloc(n * sizeof(int));
	int v = 7;

	spin<<<1, 1>>>(10 * 1000 * 1000); // on this thread's stream
	fill<<<n / 256, 256>>>(d, v, n);
	CK(cudaStreamSynchronize(cudaStreamPerThread));
	CK(cudaMemcpy(h, d, n * sizeof(int), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i += 4099)
		EXPECT(h[i] == v);
	free(h);
	return NULL;
}

int main(void)
{
	int *a, *b, h = 0;
	pthread_t t;

	CK(cudaMalloc(&a, n * sizeof(int)));
	CK(cudaMalloc(&b, n * sizeof(int)));
	pthread_create(&t, NULL, work, a);
	work(b);
	pthread_join(t, NULL);
	// The legacy stream waits for the per-thread stream's work.
	fill<<<n / 256, 256>>>(a, 3, n);
	CK(cudaMemcpyAsync(&h, a + n - 1, sizeof(int), cudaMemcpyDeviceToHost, cudaStreamLegacy));
	CK(cudaStreamSynchronize(cudaStreamLegacy));
	EXPECT(h == 3);
	return pass();
}
