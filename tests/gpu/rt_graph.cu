// CUDA graphs as PyTorch's CUDAGraph makes them: a warm-up, then a capture
// in global mode on a side stream that forks to a second stream and joins
// back (kernels, a memset, a device copy, a host function), with the thread's capture mode
// relaxed around a cudaMalloc as PyTorch's allocator does; the capture's
// status along the way; the graph instantiated, launched several times, and
// every word checked; nothing ran during the capture. Then a capture of
// pageable copies around a kernel, launched three times with new data.
#define NAME "rt_graph"
#include "check.cuh"

__global__ void add(float *x, float v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] += v;
}

static void bump(void *calls)
{
	__atomic_fetch_add((int *)calls, 1, __ATOMIC_RELAXED);
}

int main(void)
{
	const int n = 1 << 16, launches = 5;
	const size_t bytes = n * sizeof(float);
	cudaStream_t s, s2;
	cudaEvent_t fork, join;
	cudaStreamCaptureStatus st;
	cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
	unsigned long long id = 0;
	cudaGraph_t g;
	cudaGraphExec_t e;
	float *a, *b, *c, *extra, *h = (float *)malloc(bytes);
	int calls = 0;
	size_t count = 0;

	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
	CK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
	CK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
	CK(cudaMalloc(&a, bytes));
	CK(cudaMalloc(&b, bytes));
	CK(cudaMalloc(&c, bytes));
	CK(cudaMemsetAsync(a, 0, bytes, s)); // on s: a non-blocking stream does not wait for the NULL one
	add<<<n / 256, 256, 0, s>>>(a, 0.0f, n); // warm-up, as PyTorch does before capturing
	CK(cudaStreamSynchronize(s));

	CK(cudaStreamIsCapturing(s, &st));
	EXPECT(st == cudaStreamCaptureStatusNone);
	CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	CK(cudaStreamGetCaptureInfo(s, &st, &id));
	EXPECT(st == cudaStreamCaptureStatusActive && id != 0);
	add<<<n / 256, 256, 0, s>>>(a, 1.0f, n);
	CK(cudaMemsetAsync(b, 0, bytes, s));
	CK(cudaEventRecord(fork, s));
	CK(cudaStreamWaitEvent(s2, fork, 0));
	CK(cudaStreamIsCapturing(s2, &st));
	EXPECT(st == cudaStreamCaptureStatusActive);
	add<<<n / 256, 256, 0, s2>>>(b, 2.0f, n);
	CK(cudaEventRecord(join, s2));
	CK(cudaStreamWaitEvent(s, join, 0));
	CK(cudaMemcpyAsync(c, b, bytes, cudaMemcpyDeviceToDevice, s));
	CK(cudaLaunchHostFunc(s, bump, &calls));
	CK(cudaThreadExchangeStreamCaptureMode(&mode)); // relaxed, around an allocation
	CK(cudaMalloc(&extra, bytes));
	CK(cudaThreadExchangeStreamCaptureMode(&mode));
	EXPECT(mode == cudaStreamCaptureModeRelaxed);
	CK(cudaStreamEndCapture(s, &g));
	CK(cudaStreamIsCapturing(s, &st));
	EXPECT(st == cudaStreamCaptureStatusNone);
	CK(cudaMemcpy(h, a, bytes, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i += 101)
		EXPECT(h[i] == 0.0f); // nothing ran during the capture
	EXPECT(calls == 0);
	CK(cudaGraphGetNodes(g, NULL, &count));
	EXPECT(count == 5); // two kernels, a memset, a copy, the host function

	CK(cudaGraphInstantiate(&e, g, 0));
	for (int k = 0; k < launches; k++)
		CK(cudaGraphLaunch(e, s));
	CK(cudaStreamSynchronize(s));
	EXPECT(calls == launches);
	CK(cudaMemcpy(h, a, bytes, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == (float)launches);
	CK(cudaMemcpy(h, c, bytes, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(h[i] == 2.0f);
	CK(cudaGraphExecDestroy(e));
	CK(cudaGraphDestroy(g));

	// Pageable copies in a capture: each launch reads and writes the
	// program's pageable memory as it is then.
	float *pin = (float *)malloc(bytes), *pout = (float *)malloc(bytes);
	CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
	CK(cudaMemcpyAsync(c, pin, bytes, cudaMemcpyHostToDevice, s));
	add<<<n / 256, 256, 0, s>>>(c, 0.5f, n);
	CK(cudaMemcpyAsync(pout, c, bytes, cudaMemcpyDeviceToHost, s));
	CK(cudaStreamEndCapture(s, &g));
	CK(cudaGraphInstantiate(&e, g, 0));
	for (int k = 1; k <= 3; k++) {
		for (int i = 0; i < n; i++)
			pin[i] = (float)(i + k), pout[i] = 0.0f;
		CK(cudaGraphLaunch(e, s));
		CK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			EXPECT(pout[i] == (float)(i + k) + 0.5f);
	}
	CK(cudaGraphExecDestroy(e));
	CK(cudaGraphDestroy(g));
	free(pin);
	free(pout);
	CK(cudaFree(extra));
	CK(cudaFree(a));
	CK(cudaFree(b));
	CK(cudaFree(c));
	return pass();
}
