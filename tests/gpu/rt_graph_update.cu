// CUDA graphs updated in place, as llama.cpp runs a model: each step is
// captured again with its own parameters, and the executable graph made
// once is updated from the new capture (cudaGraphExecUpdate) rather than
// made again; a step whose graph has another shape (one more kernel) is
// refused with cudaErrorGraphExecUpdateFailure and a topology result, the
// error cleared and the graph made again, as llama.cpp does. Every step's
// words are checked, and the executable graph left as it was by a refusal.
// Then llama.cpp's other habit (until mid-2025): the captured graph's nodes
// listed, a kernel node's parameters read, one argument written through
// them and set back, and the executable graph updated from the graph.
#define NAME "rt_graph_update"
#include "check.cuh"

__global__ void add(float *x, float v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] += v;
}

// Step k: x += k, then, every fourth step, y += 1 (a second kernel).
static cudaGraph_t capture(cudaStream_t s, float *x, float *y, int k, int n)
{
	cudaGraph_t g;

	CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
	add<<<n / 256, 256, 0, s>>>(x, (float)k, n);
	if (k % 4 == 0)
		add<<<n / 256, 256, 0, s>>>(y, 1.0f, n);
	CK(cudaStreamEndCapture(s, &g));
	return g;
}

int main(void)
{
	const int n = 1 << 16, steps = 12;
	const size_t bytes = n * sizeof(float);
	cudaGraphExecUpdateResultInfo info;
	cudaGraphExec_t e = NULL;
	cudaStream_t s;
	float *x, *y, *h = (float *)malloc(bytes);
	int updated = 0, remade = 0, shape = 0;
	float want_x = 0.0f, want_y = 0.0f;

	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CK(cudaMalloc(&x, bytes));
	CK(cudaMalloc(&y, bytes));
	CK(cudaMemset(x, 0, bytes));
	CK(cudaMemset(y, 0, bytes));
	for (int k = 1; k <= steps; k++) {
		cudaGraph_t g = capture(s, x, y, k, n);
		int kernels = k % 4 == 0 ? 2 : 1;

		if (!e) {
			CK(cudaGraphInstantiate(&e, g, 0));
			shape = kernels;
		} else {
			cudaError_t r = cudaGraphExecUpdate(e, g, &info);

			if (kernels == shape) {
				CK(r);
				EXPECT(info.result == cudaGraphExecUpdateSuccess);
				updated++;
			} else {
				EXPECT(r == cudaErrorGraphExecUpdateFailure);
				EXPECT(info.result == cudaGraphExecUpdateErrorTopologyChanged);
				EXPECT(cudaGetLastError() == cudaErrorGraphExecUpdateFailure); // cleared, as llama.cpp does
				EXPECT(cudaGetLastError() == cudaSuccess);
				CK(cudaGraphExecDestroy(e));
				CK(cudaGraphInstantiate(&e, g, 0));
				shape = kernels;
				remade++;
			}
		}
		CK(cudaGraphDestroy(g)); // the executable graph keeps what it took
		CK(cudaGraphLaunch(e, s));
		want_x += (float)k;
		want_y += kernels == 2 ? 1.0f : 0.0f;
		CK(cudaStreamSynchronize(s));
		CK(cudaMemcpy(h, x, bytes, cudaMemcpyDeviceToHost));
		for (int i = 0; i < n; i += 97)
			EXPECT(h[i] == want_x);
		CK(cudaMemcpy(h, y, bytes, cudaMemcpyDeviceToHost));
		for (int i = 0; i < n; i += 97)
			EXPECT(h[i] == want_y);
	}
	EXPECT(updated == 6 && remade == 5); // steps 2, 3, 6, 7, 10, 11 updated; 4, 5, 8, 9, 12 made again

	// A refused update leaves the executable graph as it was: step 12's.
	cudaGraph_t other = capture(s, x, y, 1, n); // one kernel: not its shape
	EXPECT(cudaGraphExecUpdate(e, other, &info) == cudaErrorGraphExecUpdateFailure);
	EXPECT(cudaGetLastError() == cudaErrorGraphExecUpdateFailure);
	CK(cudaGraphDestroy(other));
	CK(cudaGraphLaunch(e, s));
	CK(cudaStreamSynchronize(s));
	CK(cudaMemcpy(h, x, bytes, cudaMemcpyDeviceToHost));
	EXPECT(h[0] == want_x + 12.0f && h[n - 1] == want_x + 12.0f);
	CK(cudaGraphExecDestroy(e));

	// llama.cpp's maintain_cuda_graph: the graph's nodes listed and typed,
	// the kernel node's parameters read (its function is add's), an
	// argument changed through them and set, the executable graph updated.
	cudaGraph_t g = capture(s, x, y, 1, n); // x += 1
	cudaGraphNode_t nodes[2] = {NULL, NULL};
	cudaGraphNodeType type;
	cudaKernelNodeParams kp;
	size_t count = 0;
	float before;

	CK(cudaGraphInstantiate(&e, g, 0));
	CK(cudaGraphGetNodes(g, NULL, &count));
	EXPECT(count == 1);
	count = 2;
	CK(cudaGraphGetNodes(g, nodes, &count));
	EXPECT(count == 1 && nodes[0] && !nodes[1]);
	CK(cudaGraphNodeGetType(nodes[0], &type));
	EXPECT(type == cudaGraphNodeTypeKernel);
	CK(cudaGraphKernelNodeGetParams(nodes[0], &kp));
	EXPECT(kp.func == (void *)add && kp.blockDim.x == 256 && kp.gridDim.x == (unsigned)n / 256);
	EXPECT(*(float **)kp.kernelParams[0] == x && *(float *)kp.kernelParams[1] == 1.0f);
	*(float *)kp.kernelParams[1] = 5.0f;
	CK(cudaGraphKernelNodeSetParams(nodes[0], &kp));
	CK(cudaGraphExecUpdate(e, g, &info));
	EXPECT(info.result == cudaGraphExecUpdateSuccess);
	CK(cudaMemcpy(&before, x, sizeof(before), cudaMemcpyDeviceToHost));
	CK(cudaGraphLaunch(e, s));
	CK(cudaStreamSynchronize(s));
	CK(cudaMemcpy(h, x, bytes, cudaMemcpyDeviceToHost));
	EXPECT(h[0] == before + 5.0f && h[n - 1] == before + 5.0f);
	CK(cudaGraphExecDestroy(e));
	CK(cudaGraphDestroy(g));
	CK(cudaFree(x));
	CK(cudaFree(y));
	CK(cudaStreamDestroy(s));
	free(h);
	return pass();
}
