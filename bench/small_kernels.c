/* One worker of the kernel-throughput benchmarks: launches kernels of BLOCKS
 * blocks (16: a small fraction of the GPU; a few per SM: the whole of it)
 * that each spin ITERATIONS dependent steps, in batches of 32 followed by a
 * synchronize, from a common start time for a fixed time, and prints how
 * many it completed. Several workers run at once as separate processes
 * (time-sliced without a service, concurrent under NVIDIA MPS or openmps),
 * or as THREADS threads of this one process, each with a stream of its own
 * (the "streams in one process" mode). SMALL_GREEN=1 gives each thread a
 * green context over all the SMs of its own, its module loaded there: do
 * green contexts get hardware queues (CUDA_DEVICE_MAX_CONNECTIONS) of their
 * own, where streams of one context share them (issue 21)? SMALL_GRAPH=1
 * launches each batch as one graph of its 32 kernels, captured once;
 * SMALL_GRAPH=2 also sets each node's parameters again before each launch
 * (what a server batching a client's launches would do): is one process's
 * ceiling its launches, and do graphs lift it (issue 21)?
 *   small_kernels START DURATION_SECONDS [ITERATIONS [BLOCKS [THREADS]]]
 * START: the start's wall-clock epoch, or a file that will hold it
 * (bench_start). Prints "kernels N seconds S". */
#include <cuda.h>
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

#define CK BENCH_CK

static struct bench_line line = {.threads = 1};
static double duration;
static unsigned int iters = 4000, blocks = 16;
static CUcontext ctx;
static CUfunction spin; /* in the primary context */
static CUdevResource sms; /* SMALL_GREEN: all the SMs, for each thread's green context */
static int graph_mode;	  /* SMALL_GRAPH */

/* A batch of 32 kernels as one graph, captured on s; its nodes in nodes. */
static int batch_graph(CUstream s, CUfunction f, void **args, CUgraphExec *exec, CUgraphNode *nodes)
{
	size_t n = 32;
	CUgraph g;
	int i;

	if (cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
		return 1;
	for (i = 0; i < 32; i++)
		cuLaunchKernel(f, blocks, 1, 1, 128, 1, 1, 0, s, args, NULL);
	return cuStreamEndCapture(s, &g) || cuGraphGetNodes(g, nodes, &n) || n != 32 ||
	       cuGraphInstantiate(exec, g, 0);
}

/* One batch: 32 launches, or the graph (its nodes' parameters set again first). */
static int batch(CUstream s, CUfunction f, void **args, CUgraphExec exec, const CUgraphNode *nodes)
{
	CUDA_KERNEL_NODE_PARAMS p = {.func = f, .gridDimX = blocks, .gridDimY = 1, .gridDimZ = 1,
				     .blockDimX = 128, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
	int i;

	if (!graph_mode) {
		for (i = 0; i < 32; i++)
			if (cuLaunchKernel(f, blocks, 1, 1, 128, 1, 1, 0, s, args, NULL))
				return 1;
		return 0;
	}
	for (i = 0; graph_mode == 2 && i < 32; i++)
		if (cuGraphExecKernelNodeSetParams(exec, nodes[i], &p))
			return 1;
	return cuGraphLaunch(exec, s) != CUDA_SUCCESS;
}

/* The thread's own green context over every SM, current, and the kernel
 * loaded in it (a module belongs to the context it was loaded in). */
static int green(CUfunction *fn)
{
	CUdevResourceDesc desc;
	CUgreenCtx g;
	CUcontext c;
	CUmodule m;

	return cuDevResourceGenerateDesc(&desc, &sms, 1) || cuGreenCtxCreate(&g, desc, 0, CU_GREEN_CTX_DEFAULT_STREAM) ||
	       cuCtxFromGreenCtx(&c, g) || cuCtxSetCurrent(c) || cuModuleLoadData(&m, bench_spin_ptx) ||
	       cuModuleGetFunction(fn, m, "spin");
}

/* Wall-clock time: the workers, separate processes, start at one instant. */
static double now(void)
{
	return bench_now(CLOCK_REALTIME);
}

static void *worker(void *out)
{
	long *kernels = out;
	CUdeviceptr d;
	CUstream s;
	void *args[2] = {&d, &iters};
	double start;
	CUfunction f = spin;
	CUgraphExec exec = NULL;
	CUgraphNode nodes[32];
	int warm = !cuCtxSetCurrent(ctx) && !(sms.type && green(&f)) && !cuMemAlloc(&d, 256) &&
		   !cuStreamCreate(&s, CU_STREAM_NON_BLOCKING) &&
		   !(graph_mode && batch_graph(s, f, args, &exec, nodes)) &&
		   !cuLaunchKernel(f, blocks, 1, 1, 128, 1, 1, 0, s, args, NULL) && !cuStreamSynchronize(s);

	start = bench_line_wait(&line);
	if (!warm)
		return NULL;
	while (now() < start + duration) {
		if (batch(s, f, args, exec, nodes) || cuStreamSynchronize(s))
			return NULL;
		*kernels += 32;
	}
	cuStreamDestroy(s);
	cuMemFree(d);
	return out;
}

int main(int argc, char **argv)
{
	pthread_t tid[256];
	long counts[256] = {0}, kernels = 0;
	int i, failed = 0;
	CUmodule mod;
	void *ok;

	if (argc < 3) {
		fprintf(stderr, "usage: small_kernels START DURATION_SECONDS [ITERATIONS [BLOCKS [THREADS]]]\n");
		return 2;
	}
	line.arg = argv[1];
	duration = atof(argv[2]);
	if (argc > 3)
		iters = (unsigned int)atoi(argv[3]);
	if (argc > 4)
		blocks = (unsigned int)atoi(argv[4]);
	if (argc > 5)
		line.threads = atoi(argv[5]);
	if (line.threads < 1 || line.threads > 256)
		return 2;
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoadData(&mod, bench_spin_ptx));
	CK(cuModuleGetFunction(&spin, mod, "spin"));
	graph_mode = getenv("SMALL_GRAPH") ? atoi(getenv("SMALL_GRAPH")) : 0;
	if (getenv("SMALL_GREEN") && atoi(getenv("SMALL_GREEN")))
		CK(cuDeviceGetDevResource(0, &sms, CU_DEV_RESOURCE_TYPE_SM));
	for (i = 0; i < line.threads; i++)
		if (pthread_create(&tid[i], NULL, worker, &counts[i]))
			return 1;
	for (i = 0; i < line.threads; i++) {
		pthread_join(tid[i], &ok);
		failed |= !ok;
		kernels += counts[i];
	}
	if (failed) {
		fprintf(stderr, "small_kernels: a worker's driver call failed\n");
		return 1;
	}
	printf("kernels %ld seconds %.3f\n", kernels, now() - line.start);
	cuModuleUnload(mod);
	return 0;
}
