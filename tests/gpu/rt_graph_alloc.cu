// Graph memory: cudaMallocAsync and cudaFreeAsync in a stream capture make
// allocation and free nodes, so the executable graph allocates and frees
// at each launch; launched three times, its result copied out each time.
// And an allocation the graph makes but does not free, used after a launch
// and freed outside the graph before the next.
#define NAME "rt_graph_alloc"
#include "check.cuh"

__global__ void iota(int *x, int n, int k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] = i * k;
}

int main(void)
{
	const int n = 1 << 16;
	int *d, *kept, *h = (int *)malloc(n * sizeof(int)), *out;
	cudaStream_t s;
	cudaGraph_t g;
	cudaGraphExec_t x;

	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CK(cudaMalloc(&out, n * sizeof(int)));
	CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	CK(cudaMallocAsync(&d, n * sizeof(int), s));
	iota<<<(n + 255) / 256, 256, 0, s>>>(d, n, 3);
	CK(cudaMemcpyAsync(out, d, n * sizeof(int), cudaMemcpyDeviceToDevice, s));
	CK(cudaFreeAsync(d, s));
	CK(cudaStreamEndCapture(s, &g));
	CK(cudaGraphInstantiate(&x, g, 0));
	for (int round = 0; round < 3; round++) {
		CK(cudaMemsetAsync(out, 0, n * sizeof(int), s)); // s does not wait for the NULL stream
		CK(cudaGraphLaunch(x, s));
		CK(cudaStreamSynchronize(s));
		CK(cudaMemcpy(h, out, n * sizeof(int), cudaMemcpyDeviceToHost));
		for (int i = 0; i < n; i++)
			EXPECT(h[i] == i * 3);
	}
	CK(cudaGraphExecDestroy(x));
	CK(cudaGraphDestroy(g));

	// Not freed in the graph: the program's after a launch, until it frees it.
	CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	CK(cudaMallocAsync(&kept, n * sizeof(int), s));
	iota<<<(n + 255) / 256, 256, 0, s>>>(kept, n, 5);
	CK(cudaStreamEndCapture(s, &g));
	CK(cudaGraphInstantiate(&x, g, 0));
	for (int round = 0; round < 2; round++) {
		CK(cudaGraphLaunch(x, s));
		CK(cudaMemcpyAsync(h, kept, n * sizeof(int), cudaMemcpyDeviceToHost, s));
		CK(cudaFreeAsync(kept, s));
		CK(cudaStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			EXPECT(h[i] == i * 5);
	}
	CK(cudaGraphExecDestroy(x));
	CK(cudaGraphDestroy(g));
	CK(cudaFree(out));
	return pass();
}
