// CUDA graphs updated in place, as llama.cpp runs a model: each step is
// captured again with its own parameters, and the executable graph made
// once is updated from the new capture (cudaGraphExecUpdate) rather than
// made again; a step whose graph has another shape (one more kernel) is
// refused with cudaErrorGraphExecUpdateFailure and a topology result, the
// error cleared and the graph made again, as llama.cpp does. Every step's
// words are checked, and the executable graph left as it was by a refusal.
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
	CK(cudaFree(x));
	CK(cudaFree(y));
	CK(cudaStreamDestroy(s));
	free(h);
	return pass();
}
