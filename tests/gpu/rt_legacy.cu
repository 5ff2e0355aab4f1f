// The legacy default stream: work on it waits for earlier work on blocking
// streams, and their later work waits for it; non-blocking streams are not
// ordered with it.
#define NAME "rt_legacy"
#include "check.cuh"

__global__ void slow_set(int *x, int v)
{
	long long t0 = clock64();
	while (clock64() - t0 < 20 * 1000 * 1000)
		;
	*x = v;
}

__global__ void copy(const int *from, int *to)
{
	*to = *from;
}

int main(void)
{
	int *d, h[2] = {0, 0};
	cudaStream_t blocking;

	CK(cudaStreamCreate(&blocking)); // blocking, as cudaStreamCreate makes them
	CK(cudaMalloc(&d, 2 * sizeof(int)));
	CK(cudaMemset(d, 0, 2 * sizeof(int)));
	slow_set<<<1, 1, 0, blocking>>>(d, 1);
	copy<<<1, 1>>>(d, d + 1); // the NULL stream: after slow_set
	CK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	EXPECT(h[0] == 1 && h[1] == 1);
	slow_set<<<1, 1>>>(d, 2);		// the NULL stream, slowly
	copy<<<1, 1, 0, blocking>>>(d, d + 1); // a blocking stream: after it
	CK(cudaStreamSynchronize(blocking));
	CK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	EXPECT(h[0] == 2 && h[1] == 2);
	return pass();
}
