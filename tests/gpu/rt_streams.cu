// Streams: several, with flags and priorities; asynchronous copies and
// kernels on each; one stream waits on another's event; query and
// synchronize. Each stream's result is checked.
#define NAME "rt_streams"
#include "check.cuh"

__global__ void scale(float *x, float f, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] *= f;
}

int main(void)
{
	const int n = 1 << 18, ns = 4;
	int lo = 0, hi = 0;
	cudaStream_t s[ns];
	float *h, *d[ns];
	cudaEvent_t e;

	CK(cudaDeviceGetStreamPriorityRange(&lo, &hi));
	EXPECT(hi <= lo);
	h = (float *)malloc(n * sizeof(float));
	for (int i = 0; i < n; i++)
		h[i] = (float)i;
	for (int k = 0; k < ns; k++) {
		CK(cudaStreamCreateWithPriority(&s[k], cudaStreamNonBlocking, k % 2 ? hi : lo));
		CK(cudaMalloc(&d[k], n * sizeof(float)));
		CK(cudaMemcpyAsync(d[k], h, n * sizeof(float), cudaMemcpyHostToDevice, s[k]));
		scale<<<(n + 255) / 256, 256, 0, s[k]>>>(d[k], (float)(k + 2), n);
		CK(cudaGetLastError());
	}
	// Stream 1 doubles stream 0's data after stream 0 is done with it.
	CK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
	CK(cudaEventRecord(e, s[0]));
	CK(cudaStreamWaitEvent(s[1], e, 0));
	scale<<<(n + 255) / 256, 256, 0, s[1]>>>(d[0], 2.0f, n);
	spin<<<1, 1, 0, s[3]>>>(50 * 1000 * 1000);
	EXPECT(cudaStreamQuery(s[3]) == cudaErrorNotReady);
	for (int k = 0; k < ns; k++)
		CK(cudaStreamSynchronize(s[k]));
	EXPECT(cudaStreamQuery(s[3]) == cudaSuccess);
	for (int k = 0; k < ns; k++) {
		float *back = (float *)malloc(n * sizeof(float));
		float f = (float)(k + 2) * (k == 0 ? 2.0f : 1.0f);

		CK(cudaMemcpy(back, d[k], n * sizeof(float), cudaMemcpyDeviceToHost));
		for (int i = 0; i < n; i += 97)
			EXPECT(back[i] == h[i] * f);
		free(back);
		CK(cudaStreamDestroy(s[k]));
		CK(cudaFree(d[k]));
	}
	CK(cudaEventDestroy(e));
	return pass();
}
