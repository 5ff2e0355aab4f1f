// CUDA graphs built node by node with the runtime API, as simpleCudaGraphs
// and graphConditionalNodes build them: a copy from page-locked host
// memory, kernels, a memset, a child graph, an edge added after its nodes,
// a copy back; a host node (the program's function, after the copy back, each launch);
// a WHILE node whose body kernel counts down and sets the
// condition on the device; the executable graph's kernel node updated; a
// clone. Every word is checked against the CPU after each launch.
#define NAME "rt_graph_nodes"
#include "check.cuh"

__global__ void scale(float *x, float v, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] *= v;
}

// The loop's body: y += 1 each pass; the last block's thread 0 counts down.
__global__ void step(float *y, int n, int *left, cudaGraphConditionalHandle h)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] += 1.0f;
	if (i == 0) {
		int l = --*left;
		cudaGraphSetConditional(h, l > 0);
	}
}

struct seen {
	const float *yh;
	int calls;
	float y0;
};

static void look(void *p)
{
	struct seen *s = (struct seen *)p;

	s->calls++;
	s->y0 = s->yh[0];
}

static cudaKernelNodeParams kernel(void *fn, void **args, int n)
{
	cudaKernelNodeParams k;

	memset(&k, 0, sizeof(k));
	k.func = fn;
	k.gridDim = dim3((n + 255) / 256);
	k.blockDim = dim3(256);
	k.kernelParams = args;
	return k;
}

static cudaMemcpy3DParms copy(void *dst, const void *src, size_t bytes)
{
	cudaMemcpy3DParms c;

	memset(&c, 0, sizeof(c));
	c.srcPtr = make_cudaPitchedPtr((void *)src, bytes, bytes, 1);
	c.dstPtr = make_cudaPitchedPtr(dst, bytes, bytes, 1);
	c.extent = make_cudaExtent(bytes, 1, 1);
	c.kind = cudaMemcpyDefault;
	return c;
}

static void check(const float *out, const float *y, int n, int half, int loops, const char *what)
{
	for (int i = 0; i < n; i++) {
		float want = (float)i * (i < half ? 6.0f : 3.0f);
		if (out[i] != want || y[i] != (float)loops) {
			printf("%s: FAIL %s: out[%d] = %g (want %g), y[%d] = %g (want %d)\n", NAME, what, i, out[i],
			       want, i, y[i], loops);
			exit(1);
		}
	}
}

int main(void)
{
	const int n = 1 << 16, loops = 7, launches = 4;
	const size_t bytes = n * sizeof(float);
	int half = n / 2, *left, *left_h;
	float *a, *y, *in, *out, *yh, two = 2.0f, three = 3.0f;
	cudaGraph_t g, child, clone;
	cudaGraphExec_t e, ec;
	cudaGraphNode_t n_out, n_in, n_k, n_child, n_set, n_left, n_loop, n_yout, x;
	cudaGraphConditionalHandle h;
	cudaStream_t s;
	size_t count = 0;

	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CK(cudaMalloc(&a, bytes));
	CK(cudaMalloc(&y, bytes));
	CK(cudaMalloc(&left, sizeof(int)));
	CK(cudaMallocHost(&in, bytes));
	CK(cudaMallocHost(&out, bytes));
	CK(cudaMallocHost(&yh, bytes));
	CK(cudaMallocHost(&left_h, sizeof(int)));
	for (int i = 0; i < n; i++)
		in[i] = (float)i;
	*left_h = loops;

	CK(cudaGraphCreate(&g, 0));
	cudaMemcpy3DParms cp = copy(out, a, bytes);
	CK(cudaGraphAddMemcpyNode(&n_out, g, NULL, 0, &cp)); // its edge comes later
	cp = copy(a, in, bytes);
	CK(cudaGraphAddMemcpyNode(&n_in, g, NULL, 0, &cp));
	void *args2[] = {&a, &two, (void *)&n};
	cudaKernelNodeParams kp = kernel((void *)scale, args2, n);
	CK(cudaGraphAddKernelNode(&n_k, g, &n_in, 1, &kp));
	void *args3[] = {&a, &three, (void *)&n};
	cudaKernelNodeParams kp3 = kernel((void *)scale, args3, n);
	CK(cudaGraphCreate(&child, 0));
	CK(cudaGraphAddKernelNode(&x, child, NULL, 0, &kp3));
	CK(cudaGraphAddChildGraphNode(&n_child, g, &n_k, 1, child));
	CK(cudaGraphAddDependencies(g, &n_child, &n_out, NULL, 1));

	// y = 0; left = loops; while (left) { y += 1; --left }
	cudaMemsetParams ms;
	memset(&ms, 0, sizeof(ms));
	ms.dst = y;
	ms.value = 0;
	ms.elementSize = 4;
	ms.width = n;
	ms.height = 1;
	CK(cudaGraphAddMemsetNode(&n_set, g, NULL, 0, &ms));
	cp = copy(left, left_h, sizeof(int));
	CK(cudaGraphAddMemcpyNode(&n_left, g, &n_set, 1, &cp));
	CK(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
	cudaGraphNodeParams wp = {};
	wp.type = cudaGraphNodeTypeConditional;
	wp.conditional.handle = h;
	wp.conditional.type = cudaGraphCondTypeWhile;
	wp.conditional.size = 1;
	CK(cudaGraphAddNode(&n_loop, g, &n_left, NULL, 1, &wp));
	void *sargs[] = {&y, (void *)&n, &left, &h};
	cudaKernelNodeParams sp = kernel((void *)step, sargs, n);
	CK(cudaGraphAddKernelNode(&x, wp.conditional.phGraph_out[0], NULL, 0, &sp));
	cp = copy(yh, y, bytes);
	CK(cudaGraphAddMemcpyNode(&n_yout, g, &n_loop, 1, &cp));
	struct seen seen = {yh, 0, 0.0f};
	cudaHostNodeParams hp = {look, &seen};
	cudaGraphNode_t n_host;
	CK(cudaGraphAddHostNode(&n_host, g, &n_yout, 1, &hp));
	CK(cudaGraphGetNodes(g, NULL, &count));
	EXPECT(count == 9);

	CK(cudaGraphInstantiate(&e, g, 0));
	for (int l = 0; l < launches; l++) {
		memset(out, 0, bytes);
		memset(yh, 0, bytes);
		CK(cudaGraphLaunch(e, s));
		CK(cudaStreamSynchronize(s));
		check(out, yh, n, n, loops, "a launch");
		EXPECT(seen.calls == l + 1 && seen.y0 == (float)loops); // after the copy back, once a launch
	}

	void *args_half[] = {&a, &two, (void *)&half};
	cudaKernelNodeParams kh = kernel((void *)scale, args_half, half);
	CK(cudaGraphExecKernelNodeSetParams(e, n_k, &kh));
	CK(cudaGraphLaunch(e, s));
	CK(cudaStreamSynchronize(s));
	check(out, yh, n, half, loops, "after the kernel node's update");

	// A graph with a conditional node cannot be cloned (cudaErrorNotSupported);
	// its child can: a = 6i by the graph (its kernel node back on all n), x3.
	EXPECT(cudaGraphClone(&clone, g) == cudaErrorNotSupported);
	CK(cudaGraphExecKernelNodeSetParams(e, n_k, &kp));
	CK(cudaGraphLaunch(e, s));
	CK(cudaGraphClone(&clone, child));
	CK(cudaGraphInstantiate(&ec, clone, 0));
	CK(cudaGraphLaunch(ec, s));
	CK(cudaStreamSynchronize(s));
	CK(cudaMemcpy(out, a, bytes, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++)
		EXPECT(out[i] == 18.0f * i);

	CK(cudaGraphExecDestroy(ec));
	CK(cudaGraphExecDestroy(e));
	CK(cudaGraphDestroy(clone));
	CK(cudaGraphDestroy(child));
	CK(cudaGraphDestroy(g));
	return pass();
}
