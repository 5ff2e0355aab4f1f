/* CUDA graphs by stream capture, as PyTorch's CUDAGraph uses them, with the
 * driver API: the same program runs natively (fakecuda or a GPU) and through
 * openmps, and must print the same.
 *   omps-graph-probe [--words N] [--replays R]
 *     a capture that forks to a second stream and joins back (memset, two
 *     kernels, an event each way, a device copy, a host function); nothing runs until the
 *     graph is launched; R launches give the expected words; the capture's
 *     status and id along the way; the NULL stream cannot be captured; a
 *     synchronize inside a capture invalidates it.
 *     A second capture of pageable copies around a kernel: each launch reads
 *     and writes the program's pageable memory as it is then. A third of
 *     stream-ordered memory allocated and freed in it (graph memory nodes):
 *     each launch allocates, works in and frees it; and one allocated in it
 *     and freed after each launch, outside the graph. An executable graph
 *     updated from graphs captured again (cuGraphExecUpdate). A captured
 *     graph's nodes listed, typed, a kernel node's parameters read, changed
 *     and set, as llama.cpp does.
 *   omps-graph-probe --refused
 *     through openmps only: a stream callback in a capture spoils it (as
 *     natively).
 *   omps-graph-probe --unload
 *     through openmps: a graph's kernel still runs after the program
 *     unloaded its module, and memory freed while a graph may write it is not
 *     handed out again (the server keeps both while graphs live).
 *   omps-graph-probe --own GATE --after DONE
 *     through openmps: captures a kernel of a module another client shares,
 *     sets an attribute of it (the server gives it a copy of its own),
 *     creates GATE, waits for DONE (the other client gone), then launches
 *     the graph: its kernel was the shared module's, which must still be
 *     loaded.
 *   omps-graph-probe --hold FILE
 *     begins a capture, captures a kernel, prints "capturing" and waits
 *     until FILE exists (a client killed mid-capture), then ends it.
 * Ends with "graph_probe: PASS" or the first call that failed. */
#include <cuda.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "graph_probe"
#define PROBE_FAIL goto out
#include "probe.h"

static CUresult twice(CUfunction f, CUdeviceptr p, unsigned n, CUstream s)
{
	void *args[] = {&p, &n};

	return cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, s, args, NULL);
}

/* A kernel node's two arguments (twice's pointer and count), from its
 * array of pointers or its buffer (as fakecuda gives them). */
static CUresult kernel_args(const CUDA_KERNEL_NODE_PARAMS *k, CUdeviceptr *p, unsigned *n)
{
	size_t off[2], size;
	const char *buf = NULL;

	if (k->kernelParams) {
		*p = *(const CUdeviceptr *)k->kernelParams[0];
		*n = *(const unsigned *)k->kernelParams[1];
		return CUDA_SUCCESS;
	}
	for (unsigned i = 0; k->extra && k->extra[i] != CU_LAUNCH_PARAM_END; i += 2)
		if (k->extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
			buf = k->extra[i + 1];
	if (!buf || cuFuncGetParamInfo(k->func, 0, &off[0], &size) || cuFuncGetParamInfo(k->func, 1, &off[1], &size))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(p, buf + off[0], sizeof(*p));
	memcpy(n, buf + off[1], sizeof(*n));
	return CUDA_SUCCESS;
}

static void count(void *calls)
{
	(*(unsigned *)calls)++;
}

static void callback(CUstream s, CUresult r, void *data)
{
	(void)s, (void)r, (void)data;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"words", required_argument, 0, 'w'},
					      {"replays", required_argument, 0, 'r'},
					      {"hold", required_argument, 0, 'h'},
					      {"refused", no_argument, 0, 'x'},
					      {"unload", no_argument, 0, 'u'},
					      {"own", required_argument, 0, 'o'},
					      {"after", required_argument, 0, 'A'},
					      {0, 0, 0, 0}};
	unsigned n = 4096, replays = 3, i, k, *host = NULL, host_calls = 0, *pg_in = NULL, *pg_out = NULL;
	const char *hold = NULL, *own = NULL, *own_after = NULL;
	CUstreamCaptureStatus st;
	CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
	cuuint64_t id = 0;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod = NULL;
	CUfunction f;
	CUdeviceptr a = 0, b = 0, c = 0, d = 0;
	CUstream s = NULL, s2 = NULL;
	CUevent fork = NULL, join = NULL;
	CUgraph g = NULL, bad = NULL;
	CUgraphExec e = NULL, e2 = NULL;
	CUgraphExecUpdateResultInfo info;
	CUgraphNode list[4], kernel;
	CUgraphNodeType type;
	CUDA_KERNEL_NODE_PARAMS kp;
	CUdeviceptr arg_ptr = 0;
	unsigned arg_n = 0;
	int opt, status = 1, refused = 0, unload = 0;
	size_t bytes, nodes = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'w')
			n = (unsigned)atoi(optarg);
		else if (opt == 'r')
			replays = (unsigned)atoi(optarg);
		else if (opt == 'h')
			hold = optarg;
		else if (opt == 'x')
			refused = 1;
		else if (opt == 'u')
			unload = 1;
		else if (opt == 'o')
			own = optarg;
		else if (opt == 'A')
			own_after = optarg;
		else
			return 2;
	}
	bytes = (size_t)n * 4;
	host = malloc(bytes);
	if (!host)
		return 1;
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuMemAlloc(&a, bytes));
	CK(cuMemAlloc(&b, bytes));
	CK(cuMemAlloc(&c, bytes));
	for (i = 0; i < n; i++)
		host[i] = i;
	CK(cuMemcpyHtoD(a, host, bytes));
	CK(cuMemsetD32(c, 0, n));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
	CK(cuEventCreate(&join, CU_EVENT_DISABLE_TIMING));

	if (refused) { /* through openmps: a stream callback cannot be captured (nor natively) */
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
		CK(twice(f, a, n, s));
		cuStreamAddCallback(s, callback, NULL, 0); /* posted: its error comes later */
		EXPECT(cuStreamEndCapture(s, &bad), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
		CK(cuStreamIsCapturing(s, &st));
		CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "after a refused capture: status %d", (int)st);
		CK(cuStreamSynchronize(s));
		printf("a stream callback in a capture invalidates it\n");
		printf("graph_probe: PASS\n");
		status = 0;
		goto out;
	}
	if (unload) { /* through openmps: the module stays loaded while a graph may launch its kernel */
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		CK(twice(f, a, n, s));
		CK(cuStreamEndCapture(s, &g));
		CK(cuGraphInstantiate(&e, g, 0));
		CK(cuModuleUnload(mod));
		mod = NULL;
		CK(cuGraphLaunch(e, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(host, a, bytes));
		CHECK(host[3] == 6, "the graph's kernel after its module's unload: a[3] = %u", host[3]);
		printf("a graph's kernel runs after its module was unloaded\n");
		/* Memory the graph writes, freed: not given to anyone else while the graph lives. */
		CK(cuMemFree(a));
		CK(cuMemAlloc(&d, bytes));
		CHECK(d != a, "memory freed while a graph writes it was handed out again");
		a = 0;
		CK(cuMemsetD32(d, 5, n));
		CK(cuGraphLaunch(e, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(host, d, bytes));
		CHECK(host[0] == 5 && host[n - 1] == 5, "a graph launched after a free wrote new memory: %u", host[0]);
		CK(cuMemFree(d));
		d = 0;
		printf("memory freed while a graph lives is not handed out again\n");
		printf("graph_probe: PASS\n");
		status = 0;
		goto out;
	}
	if (own) { /* through openmps: its own copy of a shared module, taken while it holds a graph */
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		CK(twice(f, a, n, s));
		CK(cuStreamEndCapture(s, &g));
		CK(cuGraphInstantiate(&e, g, 0));
		CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 0)); /* lower: not the others' */
		fclose(fopen(own, "w")); /* the other client that shares the module may go now */
		while (access(own_after, F_OK) < 0)
			usleep(10000);
		CK(cuGraphLaunch(e, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(host, a, bytes));
		CHECK(host[3] == 6, "the graph's kernel after the module's other client left: a[3] = %u", host[3]);
		printf("a graph's kernel runs after its shared module's other client left\n");
		printf("graph_probe: PASS\n");
		status = 0;
		goto out;
	}
	if (hold) {
		CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		CK(twice(f, a, n, s));
		printf("capturing\n");
		fflush(stdout);
		while (access(hold, F_OK) < 0)
			usleep(10000);
		CK(cuStreamEndCapture(s, &g));
		printf("graph_probe: PASS\n");
		status = 0;
		goto out;
	}

	CK(cuStreamIsCapturing(s, &st));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "a new stream's capture status is %d", (int)st);
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuStreamGetCaptureInfo(s, &st, &id, NULL, NULL, NULL, NULL));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE && id, "capturing: status %d, id %llu", (int)st,
	      (unsigned long long)id);
	printf("capture %s, id set\n", "active");
	/* a: twice each launch; b: set to 7, then twice on the forked stream;
	 * c: a copy of b, after the join. */
	CK(twice(f, a, n, s));
	CK(cuMemsetD32Async(b, 7, n, s));
	CK(cuEventRecord(fork, s));
	CK(cuStreamWaitEvent(s2, fork, 0));
	CK(cuStreamIsCapturing(s2, &st));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE, "a stream that waited for a captured event: status %d",
	      (int)st);
	CK(twice(f, b, n, s2));
	CK(cuEventRecord(join, s2));
	CK(cuStreamWaitEvent(s, join, 0));
	CK(cuMemcpyDtoDAsync(c, b, bytes, s));
	CK(cuLaunchHostFunc(s, count, &host_calls));
	/* Nothing has run yet. A synchronous copy is no part of the capture:
	 * allowed in relaxed mode, as PyTorch allows its allocator's calls. */
	CK(cuThreadExchangeStreamCaptureMode(&mode));
	CHECK(mode == CU_STREAM_CAPTURE_MODE_GLOBAL, "the thread's capture mode was %d", (int)mode);
	CK(cuMemcpyDtoH(host, c, bytes));
	CK(cuThreadExchangeStreamCaptureMode(&mode));
	CHECK(host[0] == 0 && host[n - 1] == 0 && !host_calls, "the capture ran its work: c[0] = %u, %u host calls",
	      host[0], host_calls);
	CK(cuStreamEndCapture(s, &g));
	CK(cuStreamIsCapturing(s, &st));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "after the capture: status %d", (int)st);
	CK(cuStreamIsCapturing(s2, &st));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "the joined stream after the capture: status %d", (int)st);
	CK(cuMemcpyDtoH(host, a, bytes));
	CHECK(host[1] == 1 && host[n - 1] == n - 1, "a changed before the graph was launched: a[1] = %u", host[1]);
	printf("nothing ran during the capture\n");

	CK(cuGraphGetNodes(g, NULL, &nodes));
	CHECK(nodes == 5, "the graph has %zu nodes, expected 5 (two kernels, a memset, a copy, a host function)", nodes);
	printf("a graph of %zu nodes\n", nodes);
	CK(cuGraphInstantiate(&e, g, 0));
	CK(cuGraphDestroy(g)); /* the executable graph stands alone */
	g = NULL;
	for (i = 0; i < replays; i++)
		CK(cuGraphLaunch(e, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(host, a, bytes));
	for (i = 0; i < n; i++)
		CHECK(host[i] == i << replays, "after %u launches a[%u] = %u, expected %u", replays, i, host[i],
		      i << replays);
	CK(cuMemcpyDtoH(host, c, bytes));
	for (i = 0; i < n; i++)
		CHECK(host[i] == 14, "after the launches c[%u] = %u, expected 14", i, host[i]);
	CHECK(host_calls == replays, "the captured host function ran %u times in %u launches", host_calls, replays);
	printf("%u launches: data verified, the host function ran once each\n", replays);

	/* Pageable copies in a capture: read and written at each launch. */
	pg_in = malloc(bytes);
	pg_out = malloc(bytes);
	CHECK(pg_in && pg_out, "no memory for two pageable buffers");
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuMemcpyHtoDAsync(c, pg_in, bytes, s));
	CK(twice(f, c, n, s));
	CK(cuMemcpyDtoHAsync(pg_out, c, bytes, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&e2, g, 0));
	CK(cuGraphDestroy(g));
	g = NULL;
	for (k = 1; k <= 3; k++) {
		for (i = 0; i < n; i++)
			pg_in[i] = i + k, pg_out[i] = 0;
		CK(cuGraphLaunch(e2, s));
		CK(cuStreamSynchronize(s));
		for (i = 0; i < n; i++)
			CHECK(pg_out[i] == 2 * (i + k), "launch %u of the pageable copies: out[%u] = %u, expected %u", k,
			      i, pg_out[i], 2 * (i + k));
	}
	CK(cuGraphExecDestroy(e2));
	e2 = NULL;
	printf("pageable copies in a capture: read and written at each launch\n");

	/* Graph memory: t allocated and freed in the capture, at each launch. */
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuMemAllocAsync(&d, bytes, s));
	CK(cuMemsetD32Async(d, 3, n, s));
	CK(twice(f, d, n, s));
	CK(cuMemcpyDtoDAsync(c, d, bytes, s));
	CK(cuMemFreeAsync(d, s));
	CK(cuStreamEndCapture(s, &g));
	d = 0;
	CK(cuGraphInstantiate(&e2, g, 0));
	for (k = 1; k <= 3; k++) {
		CK(cuMemsetD32Async(c, 0, n, s)); /* on s: the NULL stream does not order a non-blocking one */
		CK(cuGraphLaunch(e2, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(host, c, bytes));
		CHECK(host[0] == 6 && host[n - 1] == 6, "launch %u of the graph with memory of its own: c[0] = %u", k,
		      host[0]);
	}
	CK(cuGraphExecDestroy(e2));
	e2 = NULL;
	CK(cuGraphDestroy(g));
	g = NULL;
	/* Allocated in the capture, not freed there: the program's after each
	 * launch, until it frees it. */
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuMemAllocAsync(&d, bytes, s));
	CK(cuMemsetD32Async(d, 5, n, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&e2, g, 0));
	for (k = 1; k <= 2; k++) {
		CK(cuGraphLaunch(e2, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(host, d, bytes));
		CHECK(host[0] == 5 && host[n - 1] == 5, "launch %u: the graph's allocation holds %u", k, host[0]);
		CK(cuMemFreeAsync(d, s));
	}
	CK(cuStreamSynchronize(s));
	d = 0;
	CK(cuGraphExecDestroy(e2));
	e2 = NULL;
	CK(cuGraphDestroy(g));
	g = NULL;
	printf("graph memory: allocated and freed at each launch, in the graph or after it\n");

	/* cuGraphExecUpdate, as llama.cpp recaptures and updates: a graph of
	 * the same shape gives its parameters (the graphs may go after); one of
	 * another shape is refused, and the executable graph stays as it was. */
	CK(cuMemAlloc(&d, bytes));
	CK(cuMemsetD32(d, 1, n));
	CK(cuMemsetD32(c, 1, n));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(f, c, n, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&e2, g, 0));
	CK(cuGraphLaunch(e2, s));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(f, d, n, s));
	CK(cuStreamEndCapture(s, &bad));
	CK(cuGraphExecUpdate(e2, bad, &info));
	CHECK(info.result == CU_GRAPH_EXEC_UPDATE_SUCCESS, "an update of the same shape: result %d", (int)info.result);
	CK(cuGraphDestroy(g));
	CK(cuGraphDestroy(bad));
	g = bad = NULL;
	CK(cuGraphLaunch(e2, s)); /* d doubled, c not */
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(f, c, n, s));
	CK(twice(f, d, n, s));
	CK(cuStreamEndCapture(s, &g));
	EXPECT(cuGraphExecUpdate(e2, g, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
	CHECK(info.result == CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, "an update of two nodes for one: result %d",
	      (int)info.result);
	CK(cuGraphDestroy(g));
	g = NULL;
	CK(cuGraphLaunch(e2, s)); /* as it was: d again */
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(host, c, bytes));
	CHECK(host[0] == 2 && host[n - 1] == 2, "after the updates, the first graph's memory holds %u", host[0]);
	CK(cuMemcpyDtoH(host, d, bytes));
	CHECK(host[0] == 4 && host[n - 1] == 4, "after the updates, the second graph's memory holds %u", host[0]);
	CK(cuGraphExecDestroy(e2));
	e2 = NULL;
	CK(cuMemFree(d));
	d = 0;
	printf("an executable graph updated: a graph of its shape gives its parameters, another is refused\n");

	/* A captured graph's nodes read and set, as llama.cpp keeps its graph:
	 * listed (the same handles each time, NULL past the last), their
	 * types, a kernel node's parameters read, an argument written through
	 * them and set back, and the executable graph updated from the graph. */
	CK(cuMemAlloc(&d, bytes));
	CK(cuMemsetD32(c, 1, n));
	CK(cuMemsetD32(d, 1, n));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuMemsetD32Async(b, 3, n, s));
	CK(twice(f, c, n, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&e2, g, 0));
	nodes = 4;
	CK(cuGraphGetNodes(g, list, &nodes));
	CHECK(nodes == 2 && list[0] && list[1] && !list[2] && !list[3], "a graph of two nodes listed: %zu", nodes);
	nodes = 1;
	CK(cuGraphGetNodes(g, &kernel, &nodes));
	CHECK(nodes == 1 && kernel == list[0], "its nodes listed again are not the same handles");
	kernel = NULL;
	for (k = 0; k < 2; k++) {
		CK(cuGraphNodeGetType(list[k], &type));
		CHECK(type == CU_GRAPH_NODE_TYPE_KERNEL || type == CU_GRAPH_NODE_TYPE_MEMSET, "node %u: type %d", k,
		      (int)type);
		if (type == CU_GRAPH_NODE_TYPE_KERNEL)
			kernel = list[k];
		else
			EXPECT(cuGraphKernelNodeGetParams(list[k], &kp), CUDA_ERROR_INVALID_VALUE);
	}
	CHECK(kernel, "no kernel node among its nodes");
	CK(cuGraphKernelNodeGetParams(kernel, &kp));
	CK(kernel_args(&kp, &arg_ptr, &arg_n));
	CHECK(kp.func == f && kp.gridDimX == (n + 127) / 128 && kp.blockDimX == 128 && arg_ptr == c && arg_n == n,
	      "its kernel node read back: grid %u, block %u, arguments %#llx %u", kp.gridDimX, kp.blockDimX,
	      (unsigned long long)arg_ptr, arg_n);
	if (kp.kernelParams) { /* as llama.cpp changes an argument: through the pointers read */
		*(CUdeviceptr *)kp.kernelParams[0] = d;
	} else { /* fakecuda itself gives them as a buffer */
		void *fresh[] = {&d, &arg_n};

		kp.kernelParams = fresh;
		kp.extra = NULL;
		CK(cuGraphKernelNodeSetParams(kernel, &kp));
		kp.kernelParams = NULL;
	}
	if (kp.kernelParams)
		CK(cuGraphKernelNodeSetParams(kernel, &kp));
	CK(cuGraphExecUpdate(e2, g, &info));
	CK(cuGraphLaunch(e2, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(host, d, bytes));
	CHECK(host[0] == 2 && host[n - 1] == 2, "the kernel node set to other memory: it holds %u", host[0]);
	CK(cuMemcpyDtoH(host, c, bytes));
	CHECK(host[0] == 1 && host[n - 1] == 1, "the kernel node set to other memory: its old memory holds %u", host[0]);
	CK(cuGraphExecDestroy(e2));
	e2 = NULL;
	CK(cuGraphDestroy(g));
	g = NULL;
	CK(cuMemFree(d));
	d = 0;
	printf("a captured graph's nodes listed, typed, a kernel node's parameters read and set\n");

	EXPECT(cuStreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	printf("the NULL stream cannot be captured\n");
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(f, a, n, s));
	EXPECT(cuStreamSynchronize(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	EXPECT(cuStreamEndCapture(s, &bad), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	CHECK(!bad, "an invalidated capture gave a graph");
	CK(cuStreamIsCapturing(s, &st));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE, "after an invalidated capture: status %d", (int)st);
	CK(cuMemcpyDtoH(host, a, bytes));
	CHECK(host[1] == 1u << replays, "the invalidated capture ran: a[1] = %u", host[1]);
	printf("a synchronize in a capture invalidates it\n");
	/* A stream destroyed in its capture: the capture goes with it. */
	CK(cuStreamBeginCapture(s2, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(f, a, n, s2));
	CK(cuStreamDestroy(s2));
	s2 = NULL;
	CK(twice(f, a, n, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(host, a, bytes));
	CHECK(host[1] == 2u << replays, "after a stream went in its capture: a[1] = %u", host[1]);
	printf("a stream destroyed in its capture takes the capture with it\n");
	printf("graph_probe: PASS\n");
	status = 0;
out:
	if (own && access(own, F_OK) < 0) /* the other client is not left waiting */
		fclose(fopen(own, "w"));
	if (e)
		cuGraphExecDestroy(e);
	if (e2)
		cuGraphExecDestroy(e2);
	free(pg_in);
	free(pg_out);
	if (g)
		cuGraphDestroy(g);
	if (fork)
		cuEventDestroy(fork);
	if (join)
		cuEventDestroy(join);
	if (s)
		cuStreamDestroy(s);
	if (s2)
		cuStreamDestroy(s2);
	if (a)
		cuMemFree(a);
	if (b)
		cuMemFree(b);
	if (c)
		cuMemFree(c);
	if (mod)
		cuModuleUnload(mod);
	free(host);
	return status;
}
