/* The three parts of a GPU fault's scene, each a client of its own.
 *   omps-fault-probe            the culprit: a kernel writes where it has no
 *                               memory (as bad<<<1,32>>>((float *)0x10)); on
 *                               a GPU, and in fakecuda with
 *                               FAKECUDA_STICKY_FAULTS=1, the launch succeeds
 *                               and the fault poisons the context. Then it
 *                               synchronizes, and asks for memory (once GATE
 *                               exists, with --then GATE).
 *   omps-fault-probe --no-sync  the culprit, waiting for nothing (30 s at most)
 *   omps-fault-probe --idle GATE
 *                               a neighbour with data in device memory, a
 *                               module, a stream, an event and page-locked
 *                               memory, idle until GATE exists; then it reads
 *                               its data back and runs its kernel again
 *                               (with modules of its own: one with __constant__
 *                               data whose kernel ran, one with __device__ data
 *                               whose kernel did not)
 *   omps-fault-probe --data-ran GATE, --data-late GATE, --data-address GATE
 *                               a neighbour with a module of __device__ data
 *                               whose kernel (fakecuda's "tally") counted to 3
 *                               before a synchronize; with late, once more
 *                               after it, done before the fault though no
 *                               synchronize waited; once GATE exists it
 *                               synchronizes and counts once more: 4 (5 with
 *                               late) means its data was kept. With address
 *                               it asked for the variable's address, wrote it
 *                               from the host and gave it to a kernel; after
 *                               the fault it is told the same address, finds
 *                               its data there, and copies, sets and
 *                               launches on it
 *   omps-fault-probe --two-streams GATE
 *                               a neighbour that queued work on two streams
 *                               and synchronized one; once GATE exists it
 *                               synchronizes the other
 *   omps-fault-probe --two-devices GATE
 *                               the same with work on GPUs 0 and 1, GPU 1's
 *                               context synchronized
 *   omps-fault-probe --capture-late GATE
 *                               a neighbour that begins a capture once GATE
 *                               exists, captures a kernel, ends and launches
 *   omps-fault-probe --cond GATE
 *                               a neighbour holding a graph with a
 *                               conditional node, built node by node, and
 *                               an executable graph of it: launches it once
 *                               GATE exists, and builds on its body
 *   omps-fault-probe --host-late GATE
 *                               a neighbour that asks for page-locked memory
 *                               once GATE exists, and has a kernel double it
 *   omps-fault-probe --free GATE
 *                               a neighbour that frees memory as its first call
 *                               once GATE exists (held over a fault not seen
 *                               yet, freed by the server made anew)
 *   omps-fault-probe --hostfn GATE
 *                               a neighbour that ran a host function on a
 *                               stream of its own; runs another once GATE
 *                               exists
 *   omps-fault-probe --pool GATE
 *                               a neighbour whose data is in stream-ordered
 *                               memory (cuMemAllocAsync), one block of it freed
 *                               and taken again in its stream; once GATE
 *                               exists it synchronizes, reads its data back,
 *                               and allocates and frees so again
 *   omps-fault-probe --graph GATE
 *                               a neighbour holding graphs, one captured, one
 *                               built node by node (a child graph and a host
 *                               function in it), and an executable graph of
 *                               each, and one updated from another capture,
 *                               and a captured graph whose node it listed:
 *                               launches them once GATE exists, checks what
 *                               they did, sets the listed kernel node's
 *                               argument, and builds on
 *   omps-fault-probe --graph-host GATE
 *                               a neighbour holding a captured graph that runs
 *                               a host function: launches it once GATE exists,
 *                               and it runs
 *   omps-fault-probe --ipc-export GATE, --ipc-import GATE
 *                               neighbours sharing memory and events by CUDA
 *                               IPC: the exporter gives out handles of two
 *                               allocations and two events (in
 *                               $FAULT_IPC.ipc); the importer opens the first
 *                               of each before the fault (.opened), and the
 *                               exporter frees that allocation (.freed), now
 *                               the importer's; after the fault the importer
 *                               finds it, opens the second of each (a handle
 *                               of the server before), writes the second
 *                               allocation and says so (.done); the exporter
 *                               finds what it wrote
 *   omps-fault-probe --vmm GATE
 *                               a neighbour with virtual memory of its own
 *                               (cuMemAddressReserve, cuMemCreate, cuMemMap,
 *                               cuMemSetAccess) that a kernel of it doubled:
 *                               after the fault the same range holds its data,
 *                               and it works on in it
 *   omps-fault-probe --link GATE
 *                               a neighbour that used the JIT linker: one link
 *                               done and destroyed, one done and not, one
 *                               under way; once GATE exists it adds to that
 *                               one (its first call), completes it and runs
 *                               all three linked kernels
 *   omps-fault-probe --capture GATE
 *                               a neighbour in the middle of a stream capture
 *                               (forked to a second stream; a second capture
 *                               began and ended meanwhile): once GATE
 *                               exists it captures more, ends the capture and
 *                               launches the graph (with FAULT_CAPTURE_ALLOC
 *                               set, the capture holds graph memory too)
 *   omps-fault-probe --unload GATE
 *                               a neighbour whose kernel of a module of its
 *                               own ran: its first call after GATE unloads
 *                               the module; then it loads it again and runs
 *   omps-fault-probe --capture-split GATE
 *                               the same, the second capture still under way
 *                               at the fault: once GATE exists it ends that
 *                               one and runs its graph, says "ready 2" and
 *                               waits for GATE.2 (a second fault) to go on
 *   omps-fault-probe --exec-set GATE
 *                               a neighbour whose executable graphs' nodes it
 *                               set (and its graph's after one was made):
 *                               after the fault each gives what it gave, and
 *                               their nodes can be set on
 *   omps-fault-probe --load GATE
 *                               a neighbour whose first call once GATE
 *                               exists loads a module
 *   omps-fault-probe --graph-add GATE
 *                               a neighbour building a graph node by node
 *                               whose first call once GATE exists adds a
 *                               host node; then the graph runs
 *   omps-fault-probe --busy GATE
 *                               a neighbour that launches without waiting until
 *                               GATE exists; then it synchronizes (its work
 *                               was in flight: the error is expected), and
 *                               works on
 * Each prints "fault_probe: pid PID" first. The culprit prints
 * "fault_probe: launched", "fault_probe: synchronize = CODE",
 * "fault_probe: then alloc = CODE"; the neighbours "ready", then their
 * facts and PASS or FAIL. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "fault_probe"
#define PROBE_FAIL return 1
#include "probe.h"

#define WORDS 4096

static CUfunction fn;
static CUmodule mod_of_fn; /* fn's */

static CUresult twice_with(CUfunction k, CUdeviceptr p, unsigned n, CUstream s)
{
	void *args[2] = {&p, &n};

	return cuLaunchKernel(k, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, NULL);
}

static CUresult twice(CUdeviceptr p, unsigned n, CUstream s)
{
	return twice_with(fn, p, n, s);
}

/* A module of the client's own from image, and its kernel. */
static CUresult own_module(const char *image, CUfunction *k)
{
	CUmodule m;
	CUresult r = cuModuleLoadData(&m, image);

	return r ? r : cuModuleGetFunction(k, m, "twice");
}

static int wait_for(const char *gate)
{
	for (int i = 0; i < 600 && access(gate, F_OK) < 0; i++)
		usleep(50000);
	return access(gate, F_OK);
}

static int check_words(const unsigned *h, unsigned times, const char *what)
{
	for (unsigned i = 0; i < WORDS; i++)
		CHECK(h[i] == i * times, "%s: word %u is %u, expected %u", what, i, h[i], i * times);
	printf(PROBE ": %s: intact\n", what);
	return 0;
}

/* After the fault: its data as it was, then its kernels (of its own
 * modules too), stream, event and page-locked memory at work again. */
static int idle_after(CUdeviceptr d, unsigned *h, CUstream s, CUevent e, CUfunction k[2])
{
	memset(h, 0, WORDS * 4);
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 2, "its memory after the fault"))
		return 1;
	CK(twice_with(k[0], d, WORDS, s));
	CK(twice_with(k[1], d, WORDS, s));
	CK(twice_with(k[1], d, WORDS, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 16, "the kernels of its own modules after the fault"))
		return 1;
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoD(d, h, WORDS * 4));
	CK(twice(d, WORDS, s));
	CK(twice(d, WORDS, s));
	CK(cuEventRecord(e, s));
	CK(cuEventSynchronize(e));
	CK(cuMemcpyDtoHAsync(h, d, WORDS * 4, s));
	CK(cuStreamSynchronize(s));
	return check_words(h, 4, "its kernel, stream and page-locked memory after the fault");
}

/* A neighbour with state, idle while the fault happens. Whatever it finds,
 * it lets go of what it made (a leak check runs it too). */
static int idle(const char *gate)
{
	CUfunction k[2]; /* of its own modules: __constant__ data, ran; __device__ data, not yet */
	CUdeviceptr d, hd;
	CUstream s;
	CUevent e;
	unsigned *h;
	int bad;

	CK(own_module(twice_const_ptx, &k[0]));
	CK(own_module(twice_counter_ptx, &k[1]));
	CK(cuMemAlloc(&d, WORDS * 4));
	CK(twice_with(k[0], d, WORDS, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemAllocHost((void **)&h, WORDS * 4));
	CK(cuMemHostGetDevicePointer(&hd, h, 0));
	CHECK(hd == (CUdeviceptr)(uintptr_t)h, "its page-locked memory at %p has device address 0x%llx", (void *)h,
	      (unsigned long long)hd);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoDAsync(d, h, WORDS * 4, s));
	CK(twice(d, WORDS, s));
	CK(cuEventRecord(e, s));
	CK(cuEventSynchronize(e));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	bad = idle_after(d, h, s, e, k);
	bad |= cuEventDestroy(e) != CUDA_SUCCESS;
	bad |= cuStreamDestroy(s) != CUDA_SUCCESS;
	bad |= cuMemFreeHost(h) != CUDA_SUCCESS;
	bad |= cuMemFree(d) != CUDA_SUCCESS;
	if (!bad)
		printf(PROBE ": PASS\n");
	return bad;
}

static void CUDA_CB count_up(void *n)
{
	++*(volatile int *)n;
}

/* A neighbour holding a graph built node by node with a conditional node
 * (an IF whose handle defaults to 1, a kernel doubling d in its body, a
 * kernel after it in the graph) and an executable graph of it, launched
 * once before the fault. After it, the executable graph, one made anew
 * from the graph, and a node added to the body run; a second handle of the
 * graph is the next value. */
static int conditional(const char *gate)
{
	unsigned n = WORDS, h[WORDS];
	void *args[2];
	CUgraphConditionalHandle c, c2;
	CUDA_KERNEL_NODE_PARAMS kp;
	CUgraphNode cn, kn, after, more;
	CUgraphNodeParams p;
	CUgraphExec x, y;
	CUcontext ctx;
	CUdeviceptr d;
	CUgraph g, body;

	CK(cuCtxGetCurrent(&ctx));
	CK(cuMemAlloc(&d, WORDS * 4));
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoD(d, h, WORDS * 4));
	args[0] = &d;
	args[1] = &n;
	kp = (CUDA_KERNEL_NODE_PARAMS){.func = fn, .gridDimX = (WORDS + 255) / 256, .gridDimY = 1, .gridDimZ = 1,
				       .blockDimX = 256, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphConditionalHandleCreate(&c, g, ctx, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
	memset(&p, 0, sizeof(p));
	p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
	p.conditional.handle = c;
	p.conditional.type = CU_GRAPH_COND_TYPE_IF;
	p.conditional.size = 1;
	p.conditional.ctx = ctx;
	CK(cuGraphAddNode(&cn, g, NULL, NULL, 0, &p));
	body = p.conditional.phGraph_out[0];
	CK(cuGraphAddKernelNode(&kn, body, NULL, 0, &kp));
	CK(cuGraphAddKernelNode(&after, g, &cn, 1, &kp));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 4, "its conditional graph before the fault"))
		return 1;
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CK(cuGraphLaunch(x, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 16, "its executable conditional graph after the fault"))
		return 1;
	CK(cuGraphAddKernelNode(&more, body, &kn, 1, &kp)); /* the body, twice as much */
	CK(cuGraphInstantiate(&y, g, 0));
	CK(cuGraphLaunch(y, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 128, "a conditional graph made from it and its body after the fault"))
		return 1;
	{ /* a host node, added to the graph after the fault */
		static int ran;
		CUDA_HOST_NODE_PARAMS hp = {.fn = count_up, .userData = &ran};
		CUgraphNode hn;

		CK(cuGraphAddHostNode(&hn, g, &after, 1, &hp));
	}
	CK(cuGraphConditionalHandleCreate(&c2, g, ctx, 0, 0));
	CHECK(c2 == c + 1, "its second conditional handle is 0x%llx after 0x%llx", (unsigned long long)c2,
	      (unsigned long long)c);
	CK(cuGraphExecDestroy(y));
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour with work queued on two streams that synchronized one of
 * them only: its other stream's work was not waited for, so at a fault it
 * is one with work in flight (that synchronize returns the fault), not an
 * idle one; what it did wait for is kept. */
static int two_streams(const char *gate)
{
	unsigned h[WORDS];
	CUdeviceptr d, e;
	CUstream s[2];

	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuMemAlloc(&e, WORDS * 4));
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoD(d, h, WORDS * 4));
	CK(cuMemcpyHtoD(e, h, WORDS * 4));
	CK(cuStreamCreate(&s[0], CU_STREAM_NON_BLOCKING));
	CK(cuStreamCreate(&s[1], CU_STREAM_NON_BLOCKING));
	CK(twice(d, WORDS, s[0]));
	CK(twice(e, WORDS, s[1]));
	CK(cuStreamSynchronize(s[0]));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuStreamSynchronize(s[1]));
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 2, "what its synchronized stream did"))
		return 1;
	CK(cuStreamDestroy(s[0]));
	CK(cuStreamDestroy(s[1]));
	CK(cuMemFree(e));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour that queued work on its NULL streams of GPUs 0 and 1 and
 * synchronized GPU 1's context: GPU 0's work was in flight. */
static int two_devices(const char *gate)
{
	CUcontext ctx[2];
	CUdeviceptr d[2];
	CUfunction k;
	unsigned h[WORDS];

	for (int i = 0; i < 2; i++) {
		CK(cuDevicePrimaryCtxRetain(&ctx[i], i));
		CK(cuCtxSetCurrent(ctx[i]));
		CK(own_module(twice_ptx, &k));
		CK(cuMemAlloc(&d[i], WORDS * 4));
		for (unsigned j = 0; j < WORDS; j++)
			h[j] = j;
		CK(cuMemcpyHtoD(d[i], h, WORDS * 4));
		CK(twice_with(k, d[i], WORDS, NULL));
	}
	CK(cuCtxSynchronize()); /* GPU 1's */
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	CK(cuCtxSetCurrent(ctx[0]));
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CK(cuCtxSetCurrent(ctx[1]));
	CK(cuMemcpyDtoH(h, d[1], WORDS * 4));
	if (check_words(h, 2, "what its synchronize on GPU 1 waited for"))
		return 1;
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour whose page-locked memory is shared as the fault shows
 * (FAKECUDA_FAULT_AT_REGISTER): told its host address as the device's,
 * which a kernel then reaches in the server made anew. */
static int host_late(const char *gate)
{
	CUdeviceptr hd;
	CUstream s;
	unsigned *h;

	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	CK(cuMemAllocHost((void **)&h, WORDS * 4));
	CK(cuMemHostGetDevicePointer(&hd, h, 0));
	CHECK(hd == (CUdeviceptr)(uintptr_t)h, "its page-locked memory at %p has device address 0x%llx", (void *)h,
	      (unsigned long long)hd);
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(twice(hd, WORDS, s));
	CK(cuStreamSynchronize(s));
	if (check_words(h, 2, "its page-locked memory, doubled by a kernel after the fault"))
		return 1;
	CK(cuMemFreeHost(h));
	CK(cuStreamDestroy(s));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour that knows the address of its module's variable: the host
 * writes it (as cudaMemcpyToSymbol), a kernel of the module counts in it
 * ("tally": its first word), and another is given the address of its
 * second word. After the fault the address it knows still names it. */
static int data_address(const char *gate, CUmodule m, CUfunction tally, CUdeviceptr d)
{
	unsigned w[4] = {100, 21, 0, 0}, t[4] = {5, 6, 7, 8}, n = 0;
	CUdeviceptr global, again, table;
	CUmodule cm;
	CUfunction tw;
	size_t bytes;

	/* __constant__ data only the host writes (cudaMemcpyToSymbol) */
	CK(cuModuleLoadData(&cm, twice_const_ptx));
	CK(cuModuleGetGlobal(&table, &bytes, cm, "table"));
	CK(cuMemcpyHtoD(table, t, sizeof(t)));
	memset(t, 0, sizeof(t));
	CK(cuModuleGetGlobal(&global, &bytes, m, "counter"));
	CHECK(bytes == sizeof(w), "the variable has %zu bytes", bytes);
	CK(cuModuleGetFunction(&tw, m, "twice"));
	CK(cuMemcpyHtoD(global, w, sizeof(w)));
	CK(twice_with(tally, d, 1, NULL));	   /* 101 */
	CK(twice_with(tw, global + 4, 1, NULL)); /* 42 */
	CK(cuCtxSynchronize());
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CK(cuModuleGetGlobal(&again, &bytes, m, "counter"));
	CHECK(again == global, "its variable was at 0x%llx, now it is told 0x%llx", (unsigned long long)global,
	      (unsigned long long)again);
	CK(cuMemcpyDtoH(w, global, sizeof(w)));
	CHECK(w[0] == 101 && w[1] == 42, "its variable holds %u %u after the fault, not 101 42", w[0], w[1]);
	CK(cuMemcpyDtoH(t, table, sizeof(t)));
	CHECK(t[0] == 5 && t[3] == 8, "its __constant__ data holds %u .. %u after the fault, not 5 .. 8", t[0], t[3]);
	CK(cuModuleUnload(cm));
	CK(twice_with(tw, global + 4, 1, NULL));
	CK(twice_with(tally, d, 1, NULL));
	CK(cuMemsetD32(global + 8, 7, 2));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(w, global, sizeof(w)));
	CK(cuMemcpyDtoH(&n, d, 4));
	printf(PROBE ": variable = %u %u %u %u, tally = %u\n", w[0], w[1], w[2], w[3], n);
	CHECK(w[0] == 102 && w[1] == 84 && w[2] == 7 && w[3] == 7 && n == 102,
	      "its variable is not as its calls and kernels left it");
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour with a module of __device__ data that a kernel of it, or the
 * host through its address, changed. */
static int data(const char *gate, const char *how)
{
	CUdeviceptr d;
	CUfunction k;
	CUmodule m;
	unsigned n = 0;
	int i;

	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuModuleLoadData(&m, twice_counter_ptx));
	CK(cuModuleGetFunction(&k, m, "tally"));
	if (!strcmp(how, "address"))
		return data_address(gate, m, k, d);
	for (i = 0; i < 3; i++)
		CK(twice_with(k, d, 1, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(&n, d, 4));
	CHECK(n == 3, "tally = %u before the fault", n);
	if (!strcmp(how, "late")) {
		CK(twice_with(k, d, 1, NULL));
		usleep(200000); /* the server sees its work done as it goes idle */
	}
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CK(twice_with(k, d, 1, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(&n, d, 4));
	printf(PROBE ": tally = %u\n", n);
	CHECK(n == (strcmp(how, "late") ? 4u : 5u), "its module's data is not as its last kernel left it");
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
	printf(PROBE ": PASS\n");
	return 0;
}

static int fill_words(CUdeviceptr d, unsigned times)
{
	static unsigned w[WORDS];

	for (unsigned i = 0; i < WORDS; i++)
		w[i] = i * times;
	CK(cuMemcpyHtoD(d, w, sizeof(w)));
	return 0;
}

static int words_are(CUdeviceptr d, unsigned times, const char *what)
{
	static unsigned w[WORDS];

	CK(cuMemcpyDtoH(w, d, sizeof(w)));
	return check_words(w, times, what);
}

/* Where the IPC neighbours leave their handles, and say they are done. */
static const char *ipc_file(const char *ext)
{
	static char path[1024];
	const char *base = getenv("FAULT_IPC");

	snprintf(path, sizeof(path), "%s.%s", base ? base : "fault-ipc", ext);
	return path;
}

static int ipc_export(const char *gate)
{
	char tmp[1024];
	CUipcMemHandle h[2];
	CUipcEventHandle eh[2];
	CUdeviceptr d[2];
	CUevent e[2];
	FILE *f;

	for (int k = 0; k < 2; k++) {
		CK(cuMemAlloc(&d[k], WORDS * 4));
		CHECK(fill_words(d[k], 3 + k) == 0, "filling");
		CK(cuIpcGetMemHandle(&h[k], d[k]));
		CK(cuEventCreate(&e[k], CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING));
		CK(cuIpcGetEventHandle(&eh[k], e[k]));
	}
	CHECK((f = fopen(ipc_file("tmp"), "w")) && fwrite(h, sizeof(h), 1, f) == 1 && fwrite(eh, sizeof(eh), 1, f) == 1 &&
		      fclose(f) == 0,
	      "writing the handles");
	snprintf(tmp, sizeof(tmp), "%s", ipc_file("tmp"));
	CHECK(rename(tmp, ipc_file("ipc")) == 0, "writing the handles");
	printf(PROBE ": ready\n");
	CHECK(wait_for(ipc_file("opened")) == 0, "the importer did not open its handle");
	CK(cuMemFree(d[0])); /* the importer's now, until it closes it */
	CHECK((f = fopen(ipc_file("freed"), "w")) && fclose(f) == 0, "saying so");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CHECK(wait_for(ipc_file("done")) == 0, "the importer did not finish");
	CHECK(words_are(d[1], 7, "what its importer wrote after the fault") == 0, "its memory");
	for (int k = 0; k < 2; k++) {
		CK(cuEventRecord(e[k], NULL));
		CK(cuEventSynchronize(e[k]));
		CK(cuEventDestroy(e[k]));
	}
	CK(cuMemFree(d[1]));
	printf(PROBE ": PASS\n");
	return 0;
}

static int ipc_import(const char *gate)
{
	CUipcMemHandle h[2];
	CUipcEventHandle eh[2];
	CUdeviceptr p[2];
	CUevent e[2];
	FILE *f;

	CHECK((f = fopen(ipc_file("ipc"), "r")) && fread(h, sizeof(h), 1, f) == 1 && fread(eh, sizeof(eh), 1, f) == 1,
	      "no handles");
	fclose(f);
	CK(cuIpcOpenMemHandle(&p[0], h[0], CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	CK(cuIpcOpenEventHandle(&e[0], eh[0]));
	CHECK(words_are(p[0], 3, "the memory it opened") == 0, "its import");
	CHECK((f = fopen(ipc_file("opened"), "w")) && fclose(f) == 0, "saying so");
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CHECK(words_are(p[0], 3, "the memory it opened, which its exporter freed, after the fault") == 0,
	      "its import");
	CK(cuIpcOpenMemHandle(&p[1], h[1], CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)); /* the server before's handle */
	CHECK(words_are(p[1], 4, "the memory it opened after the fault") == 0, "its import");
	CK(cuIpcOpenEventHandle(&e[1], eh[1])); /* the server before's handle */
	CHECK(fill_words(p[1], 7) == 0, "writing");
	for (int k = 0; k < 2; k++) {
		CK(cuEventRecord(e[k], NULL));
		CK(cuEventSynchronize(e[k]));
		CK(cuEventDestroy(e[k]));
	}
	CK(cuCtxSynchronize());
	CK(cuIpcCloseMemHandle(p[0]));
	CK(cuIpcCloseMemHandle(p[1]));
	CHECK((f = fopen(ipc_file("done"), "w")) && fclose(f) == 0, "saying so");
	printf(PROBE ": PASS\n");
	return 0;
}

static int vmm(const char *gate)
{
	CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
				    .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
	CUmemAccessDesc rw = {{CU_MEM_LOCATION_TYPE_DEVICE, 0}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
	CUmemGenericAllocationHandle h;
	CUdeviceptr base;
	size_t g = 0, size;

	CK(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	size = ((WORDS * 4 + g - 1) / g) * g;
	CK(cuMemAddressReserve(&base, 2 * size, 0, 0, 0));
	CK(cuMemCreate(&h, size, &prop, 0));
	CK(cuMemMap(base + size, size, 0, h, 0)); /* the second half: not where the range begins */
	CK(cuMemSetAccess(base + size, size, &rw, 1));
	CHECK(fill_words(base + size, 1) == 0, "filling");
	CK(twice(base + size, WORDS, NULL));
	CK(cuCtxSynchronize());
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CHECK(words_are(base + size, 2, "its virtual memory after the fault") == 0, "its memory");
	CK(twice(base + size, WORDS, NULL));
	CK(cuCtxSynchronize());
	CHECK(words_are(base + size, 4, "its virtual memory, worked on after the fault") == 0, "its memory");
	CK(cuMemUnmap(base + size, size));
	CK(cuMemRelease(h));
	CK(cuMemAddressFree(base, 2 * size));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour that runs host functions. */
static int hostfn(const char *gate)
{
	static volatile int n;
	CUstream s;

	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuLaunchHostFunc(s, count_up, (void *)&n));
	CK(cuStreamSynchronize(s));
	CHECK(n == 1, "the host function before the fault ran %d times", n);
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	CK(cuLaunchHostFunc(s, count_up, (void *)&n));
	CK(cuStreamSynchronize(s));
	CHECK(n == 2, "the host function after the fault: %d runs in all", n);
	CK(cuStreamDestroy(s));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour whose captured graph runs a host function: launches it once
 * GATE exists, and the host function runs again. */
static int graph_host(const char *gate)
{
	static volatile int n;
	CUgraphExec x;
	CUstream s;
	CUgraph g;

	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuLaunchHostFunc(s, count_up, (void *)&n));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	CHECK(n == 1, "its captured host function ran %d times", n);
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuStreamSynchronize(s));
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	CHECK(n == 2, "its captured host function after the fault: %d runs in all", n);
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	CK(cuStreamDestroy(s));
	printf(PROBE ": PASS\n");
	return 0;
}

static char link_info[4096]; /* the info log of the last link made */

/* A link state of the inputs (PTX), made with an info log. */
static int link_of(CUlinkState *st, const char *const *inputs, unsigned n)
{
	CUjit_option opt[2] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
	static void *val[2];

	val[0] = link_info;
	val[1] = (void *)(uintptr_t)sizeof(link_info);
	CK(cuLinkCreate(2, opt, val, st));
	for (unsigned i = 0; i < n; i++)
		CK(cuLinkAddData(*st, CU_JIT_INPUT_PTX, (void *)inputs[i], strlen(inputs[i]) + 1, "input.ptx", 0, NULL,
				 NULL));
	return 0;
}

/* Link state st completed, its image loaded, and its kernel. */
static int linked_twice(CUlinkState st, CUmodule *m, CUfunction *k)
{
	size_t size = 0;
	void *cubin;

	CK(cuLinkComplete(st, &cubin, &size));
	CK(cuModuleLoadData(m, cubin));
	CK(cuModuleGetFunction(k, *m, "twice"));
	return 0;
}

/* A neighbour that used the JIT linker: a link completed, its image loaded
 * and the link destroyed; one completed and not destroyed; one under way,
 * the caller added. Once GATE exists its first call adds the callee to the
 * one under way (held over a fault not seen yet), which it completes,
 * loads and runs; then each of its three kernels doubles its data. */
static int linker(const char *gate)
{
	static const char *const both[2] = {caller_ptx, callee_ptx};
	CUlinkState st[3];
	CUfunction k[3];
	CUmodule m[3];
	CUdeviceptr d;
	unsigned i;

	if (link_of(&st[0], both, 2) || linked_twice(st[0], &m[0], &k[0]) || link_of(&st[1], both, 2) ||
	    linked_twice(st[1], &m[1], &k[1]) || link_of(&st[2], both, 1))
		return 1;
	CK(cuLinkDestroy(st[0]));
	CK(cuMemAlloc(&d, WORDS * 4));
	CHECK(fill_words(d, 1) == 0, "filling");
	CK(twice_with(k[0], d, WORDS, NULL));
	CK(cuCtxSynchronize());
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": link add = %d\n",
	       (int)cuLinkAddData(st[2], CU_JIT_INPUT_PTX, (void *)callee_ptx, sizeof(callee_ptx), "dbl.ptx", 0, NULL,
				  NULL));
	if (linked_twice(st[2], &m[2], &k[2]))
		return 1;
	/* fakecuda's log: both inputs, the one added before the fault too */
	CHECK(strstr(link_info, "linked 2 inputs"), "the link under way completed with: %s", link_info);
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	CHECK(words_are(d, 2, "its data after the fault") == 0, "its data");
	for (i = 0; i < 3; i++)
		CK(twice_with(k[i], d, WORDS, NULL));
	CK(cuCtxSynchronize());
	CHECK(words_are(d, 16, "its data, doubled by each linked kernel") == 0, "its data");
	CK(cuLinkDestroy(st[1]));
	CK(cuLinkDestroy(st[2]));
	for (i = 0; i < 3; i++)
		CK(cuModuleUnload(m[i]));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* Ends the capture on stream s, runs its graph once and lets it go. */
static int end_and_run(CUstream s)
{
	CUgraphExec x;
	CUgraph g;

	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	return 0;
}

/* With --capture-split, s3's capture is still under way at the first gate
 * (work went into s's capture after it began): it ends then, its graph
 * runs, and a second gate (GATE.2) waits for the next fault. */
static int split;

/* A neighbour in the middle of a stream capture at the fault: s captures
 * a kernel on d, forks to s2 (an event), which captures a kernel on e and
 * records another event; meanwhile a second capture, on s3, of a kernel on
 * e began and ended, and its graph ran. Once GATE exists it finds s still
 * capturing, its data untouched, joins s2 back, captures one more kernel
 * on d and ends the capture: launched, the graph doubles d twice and e
 * once (e: 4 times its first value in all). */
static int capture_over(const char *gate, CUdeviceptr d, CUdeviceptr e, CUstream s[3], CUevent ev[2])
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	char gate2[4096];
	CUgraphExec x;
	CUgraph g;

	CHECK(fill_words(d, 1) == 0 && fill_words(e, 1) == 0, "filling");
	CK(cuCtxSynchronize());
	CK(cuStreamBeginCapture(s[0], CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuStreamBeginCapture(s[2], CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(e, WORDS, s[2]));
	CK(twice(d, WORDS, s[0]));
	if (!split) /* one capture ends, the other goes on */
		CHECK(end_and_run(s[2]) == 0, "the capture ended before the fault");
	CK(cuEventRecord(ev[0], s[0]));
	CK(cuStreamWaitEvent(s[1], ev[0], 0));
	CK(twice(e, WORDS, s[1]));
	CK(cuEventRecord(ev[1], s[1]));
	if (getenv("FAULT_CAPTURE_ALLOC")) { /* graph memory in it: not kept */
		CUdeviceptr a;

		CK(cuMemAllocAsync(&a, 4096, s[0]));
		CK(cuMemFreeAsync(a, s[0]));
	}
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	CK(cuStreamIsCapturing(s[0], &st));
	CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE, "its stream's capture after the fault: status %d", (int)st);
	CK(cuStreamIsCapturing(s[2], &st));
	CHECK(st == (split ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE),
	      "the stream whose capture %s: status %d", split ? "goes on" : "ended", (int)st);
	if (split) {
		CHECK(end_and_run(s[2]) == 0, "the capture ended after the fault");
		CHECK(words_are(e, 2, "what the capture ended after the fault did to e") == 0, "e");
		snprintf(gate2, sizeof(gate2), "%s.2", gate);
		usleep(200000); /* the server copies its module's data as it goes idle */
		printf(PROBE ": ready 2\n");
		CHECK(wait_for(gate2) == 0, "no second gate");
	}
	CHECK(words_are(d, 1, "its data, captured on and not run") == 0, "its data");
	CK(cuStreamWaitEvent(s[0], ev[1], 0));
	CK(twice(d, WORDS, s[0]));
	CK(cuStreamEndCapture(s[0], &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, s[0]));
	printf(PROBE ": synchronize = %d\n", (int)cuStreamSynchronize(s[0]));
	CHECK(words_are(d, 4, "what the graph captured over the fault did to d") == 0, "d");
	CHECK(words_are(e, 4, "... and to e, on the stream it forked to (after the other capture's)") == 0, "e");
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	return 0;
}

/* Whatever it finds, it lets go of what it made (a leak check runs it too). */
/* Its module of __device__ data, whose kernel counted to 3 before the
 * capture began, counts on to 4 after it: copied while it captured. */
static int capturing(const char *gate)
{
	CUdeviceptr d, e, t;
	CUfunction tally;
	CUstream s[3];
	CUevent ev[2];
	CUmodule m;
	unsigned n = 0;
	int bad;

	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuMemAlloc(&e, WORDS * 4));
	CK(cuMemAlloc(&t, 4));
	CK(cuModuleLoadData(&m, twice_counter_ptx));
	CK(cuModuleGetFunction(&tally, m, "tally"));
	for (int i = 0; i < 3; i++)
		CK(twice_with(tally, t, 1, NULL));
	for (int i = 0; i < 3; i++)
		CK(cuStreamCreate(&s[i], CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&ev[0], CU_EVENT_DISABLE_TIMING));
	CK(cuEventCreate(&ev[1], CU_EVENT_DISABLE_TIMING));
	bad = capture_over(gate, d, e, s, ev);
	if (!bad) {
		CK(twice_with(tally, t, 1, NULL));
		CK(cuCtxSynchronize());
		CK(cuMemcpyDtoH(&n, t, 4));
		CHECK(n == 4, "its module's data counted to %u, not 4: not as before the capture", n);
	}
	bad |= cuModuleUnload(m) != CUDA_SUCCESS;
	bad |= cuMemFree(t) != CUDA_SUCCESS;
	bad |= cuEventDestroy(ev[0]) != CUDA_SUCCESS;
	bad |= cuEventDestroy(ev[1]) != CUDA_SUCCESS;
	for (int i = 0; i < 3; i++)
		bad |= cuStreamDestroy(s[i]) != CUDA_SUCCESS;
	bad |= cuMemFree(e) != CUDA_SUCCESS;
	bad |= cuMemFree(d) != CUDA_SUCCESS;
	if (!bad)
		printf(PROBE ": PASS\n");
	return bad;
}

/* A neighbour that begins a capture as its first call after the gate
 * (the fault shows just after: FAKECUDA_FAULT_AT_CAPTURE_INFO), then
 * captures a kernel, ends, launches and checks. */
static int capture_late(const char *gate)
{
	unsigned h[WORDS];
	CUdeviceptr d;
	CUgraphExec x;
	CUstream s;
	CUgraph g;

	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoD(d, h, WORDS * 4));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
	CK(twice(d, WORDS, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 2, "what its capture begun at the fault did"))
		return 1;
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

static int capturing_split(const char *gate)
{
	split = 1;
	return capturing(gate);
}

/* *d: device memory of its own, filled (word i is i) and synchronized. */
static int words_at(CUdeviceptr *d)
{
	CK(cuMemAlloc(d, WORDS * 4));
	CHECK(fill_words(*d, 1) == 0, "filling");
	CK(cuCtxSynchronize());
	return 0;
}

/* A neighbour whose first call after the gate loads a module of its own
 * (held over a fault not seen yet: its image must come with it). */
static int load_first(const char *gate)
{
	CUdeviceptr d;
	CUfunction k;
	CUmodule m;

	CHECK(words_at(&d) == 0, "its memory");
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": load = %d\n", (int)cuModuleLoadData(&m, twice_counter_ptx));
	CK(cuModuleGetFunction(&k, m, "twice"));
	CK(twice_with(k, d, WORDS, NULL)); /* fakecuda's twice: by its name */
	CK(cuCtxSynchronize());
	CHECK(words_are(d, 2, "its data, doubled by the module it loaded after the fault") == 0, "its data");
	CK(cuModuleUnload(m));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour building a graph node by node (never launched yet, as the
 * suite's rt_graph_nodes) whose first call after the gate adds a host node
 * (held over a fault not seen yet: a poisoned context refuses a graph node,
 * and the reply carried that, 719 on the H200); then the graph runs. */
static int graph_add(const char *gate)
{
	static int ran;
	unsigned n = WORDS;
	void *args[2];
	CUDA_KERNEL_NODE_PARAMS kp;
	CUDA_HOST_NODE_PARAMS hp = {.fn = count_up, .userData = &ran};
	CUgraphNode kn, hn;
	CUgraphExec x;
	CUdeviceptr d;
	CUgraph g;
	CUresult r;

	CHECK(words_at(&d) == 0, "its memory");
	args[0] = &d;
	args[1] = &n;
	kp = (CUDA_KERNEL_NODE_PARAMS){.func = fn, .gridDimX = (WORDS + 255) / 256, .gridDimY = 1, .gridDimZ = 1,
				       .blockDimX = 256, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphAddKernelNode(&kn, g, NULL, 0, &kp));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	r = cuGraphAddHostNode(&hn, g, &kn, 1, &hp);
	printf(PROBE ": add = %d\n", (int)r);
	CHECK(r == CUDA_SUCCESS, "its host node was refused: %d", (int)r);
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, NULL));
	CK(cuCtxSynchronize());
	CHECK(ran == 1, "its host node ran %d times", ran);
	CHECK(words_are(d, 2, "its data, doubled by its graph built across the fault") == 0, "its data");
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* Its own module loaded into *m, and its kernel run once on d. */
static int own_twice(CUdeviceptr d, CUmodule *m)
{
	CUfunction k;

	CK(cuModuleLoadData(m, twice_counter_ptx));
	CK(cuModuleGetFunction(&k, *m, "twice"));
	CK(twice_with(k, d, WORDS, NULL));
	CK(cuCtxSynchronize());
	return 0;
}

/* A neighbour whose first call after the gate unloads a module of its own
 * whose kernel ran (a soak on the H200 found it held, and then refused by
 * the server made anew: "module handle 1 is not one of its own"). */
static int unload_first(const char *gate)
{
	CUdeviceptr d;
	CUmodule m;

	CK(cuMemAlloc(&d, WORDS * 4));
	CHECK(fill_words(d, 1) == 0 && own_twice(d, &m) == 0, "filling and doubling");
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": unload = %d\n", (int)cuModuleUnload(m));
	CHECK(own_twice(d, &m) == 0, "its module loaded again");
	CHECK(words_are(d, 4, "its data, doubled before the fault and after it") == 0, "its data");
	CK(cuModuleUnload(m));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour whose first call after the gate is a free. */
static int free_first(const char *gate)
{
	CUdeviceptr d, e;

	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuMemAlloc(&e, WORDS * 4));
	CK(cuCtxSynchronize());
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": free = %d\n", (int)cuMemFree(d));
	CK(cuMemFree(e));
	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour with work in flight while the fault happens. */
static int busy(const char *gate)
{
	unsigned h[WORDS];
	CUdeviceptr d;

	CK(cuMemAlloc(&d, WORDS * 4));
	printf(PROBE ": ready\n");
	while (access(gate, F_OK) < 0)
		if (twice(d, WORDS, NULL) != CUDA_SUCCESS)
			break;
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoD(d, h, sizeof(h)));
	CK(twice(d, WORDS, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(h, d, sizeof(h)));
	if (check_words(h, 2, "its work after the fault"))
		return 1;
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour idle at first (a record of it is made: the server's
 * checkpoint.c), then launching until a call fails: for a server that
 * stops with no word, the client whose word moved since the record. It
 * passes if it is told it lost its context, the call failing as the
 * shim's calls do once the server let it go (806). */
static int then_busy(const char *gate)
{
	CUresult r = CUDA_SUCCESS;
	CUdeviceptr d;
	unsigned long n = 0;

	CK(cuMemAlloc(&d, WORDS * 4));
	CK(twice(d, WORDS, NULL));
	CK(cuCtxSynchronize());
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	/* Said once the server has run a call of this run (its record of us
	 * is out of date), not before: a kill between the saying and a first
	 * launch no worker took yet would find us rightly kept. */
	CK(twice(d, WORDS, NULL));
	CK(cuCtxSynchronize());
	printf(PROBE ": launching\n");
	for (; r == CUDA_SUCCESS && n < 100000000; n++)
		r = twice(d, WORDS, NULL);
	if (r == CUDA_SUCCESS)
		r = cuCtxSynchronize();
	printf(PROBE ": after %lu launches: %d\n", n, (int)r);
	CHECK(r == CUDA_ERROR_MPS_RPC_FAILURE, "its calls fail with %d, not 806", (int)r);
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour whose memory came from the stream-ordered allocator. */
static int pool(const char *gate)
{
	unsigned h[WORDS];
	CUdeviceptr d, t;
	CUstream s;

	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAllocAsync(&d, WORDS * 4, s));
	CK(cuMemAllocAsync(&t, WORDS * 4, s));
	CK(cuMemFreeAsync(t, s));
	CK(cuMemAllocAsync(&t, WORDS * 4, s)); /* in the stream's order, behind its free */
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoDAsync(d, h, sizeof(h), s));
	CK(twice(d, WORDS, s));
	CK(cuMemcpyDtoDAsync(t, d, sizeof(h), s));
	CK(cuStreamSynchronize(s));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuStreamSynchronize(s));
	memset(h, 0, sizeof(h));
	CK(cuMemcpyDtoH(h, t, sizeof(h)));
	if (check_words(h, 2, "its stream-ordered memory after the fault"))
		return 1;
	CK(twice(t, WORDS, s));
	CK(cuMemFreeAsync(d, s));
	CK(cuMemAllocAsync(&d, WORDS * 4, s));
	CK(cuMemcpyDtoDAsync(d, t, sizeof(h), s));
	CK(cuMemcpyDtoHAsync(h, d, sizeof(h), s));
	CK(cuStreamSynchronize(s));
	if (check_words(h, 4, "its kernel and stream-ordered allocation after the fault"))
		return 1;
	CK(cuMemFreeAsync(d, s));
	CK(cuMemFreeAsync(t, s));
	CK(cuStreamDestroy(s));
	printf(PROBE ": PASS\n");
	return 0;
}

static volatile int host_calls; /* by the built graph's host node */

/* Graph b, built node by node: a memset of e to 3, the kernel (6), a child
 * graph of the kernel again (12), a copy to h, a host function (counts
 * host_calls), an event record; its nodes by handle (the child's not). */
static CUresult built_graph(CUdeviceptr e, unsigned *h, CUevent ev, CUgraph *b, CUgraphNode node[4])
{
	CUDA_HOST_NODE_PARAMS hp = {.fn = count_up, .userData = (void *)&host_calls};
	CUgraphNode in_child, child_node, host;
	CUgraph child;
	static unsigned n = WORDS;
	void *args[2] = {&e, &n};
	CUDA_MEMSET_NODE_PARAMS ms = {.dst = e, .value = 3, .elementSize = 4, .width = WORDS, .height = 1};
	CUDA_KERNEL_NODE_PARAMS kp = {.func = fn, .gridDimX = (WORDS + 255) / 256, .gridDimY = 1, .gridDimZ = 1,
				      .blockDimX = 256, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
	CUDA_MEMCPY3D cp = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = e, .dstMemoryType = CU_MEMORYTYPE_HOST,
			    .dstHost = h, .WidthInBytes = WORDS * 4, .Height = 1, .Depth = 1};
	CUcontext ctx;
	CUresult r = cuCtxGetCurrent(&ctx);

	if (r == CUDA_SUCCESS)
		r = cuGraphCreate(b, 0);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddMemsetNode(&node[0], *b, NULL, 0, &ms, ctx);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddKernelNode(&node[1], *b, &node[0], 1, &kp);
	if (r == CUDA_SUCCESS)
		r = cuGraphCreate(&child, 0);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddKernelNode(&in_child, child, NULL, 0, &kp);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddChildGraphNode(&child_node, *b, &node[1], 1, child);
	if (r == CUDA_SUCCESS)
		r = cuGraphDestroy(child); /* the node holds a copy */
	if (r == CUDA_SUCCESS)
		r = cuGraphAddMemcpyNode(&node[2], *b, &child_node, 1, &cp, ctx);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddHostNode(&host, *b, &node[2], 1, &hp);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddEventRecordNode(&node[3], *b, &host, 1, ev);
	return r;
}

static int all_are(const unsigned *h, unsigned v, const char *what)
{
	for (unsigned i = 0; i < WORDS; i++)
		CHECK(h[i] == v, "%s: word %u is %u, expected %u", what, i, h[i], v);
	printf(PROBE ": %s: intact\n", what);
	return 0;
}

/* A neighbour holding graphs: an executable graph of one captured (the
 * kernel on d, and one launched with a priority attribute; the graph itself
 * destroyed), one built node by node
 * (built_graph) and an executable graph of it, launched before the fault;
 * device and page-locked memory freed while it held them (retired). After it: each launched again, their data checked;
 * the built graph grows by a node behind one of its own, and is made
 * executable again. */
static int graph(const char *gate)
{
	CUlaunchAttribute prio = {.id = CU_LAUNCH_ATTRIBUTE_PRIORITY, .value.priority = -3};
	CUlaunchConfig cfg = {.gridDimX = 1, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 32, .blockDimY = 1,
			      .blockDimZ = 1, .attrs = &prio, .numAttrs = 1};
	CUdeviceptr d, e, t, pr, gm, o;
	CUfunction prio_fn;
	unsigned one = 1;
	int plain = 0, before = 0, after = 0;
	CUgraphNode node[4], more;
	CUgraphExec x, y, z, w, u;
	CUgraphExecUpdateResultInfo info;
	CUdeviceptr uq, ur;
	CUgraphNode ln, lns[2];
	CUgraphNodeType lt;
	CUDA_KERNEL_NODE_PARAMS kp;
	size_t nl;
	CUgraph g, b, lg;
	CUstream s;
	CUevent ev;
	unsigned *h;
	void *hp;
	CUDA_MEMSET_NODE_PARAMS five = {.value = 5, .elementSize = 4, .width = WORDS, .height = 1};
	CUcontext ctx;

	CK(cuCtxGetCurrent(&ctx));
	CK(cuMemAlloc(&d, WORDS * 4));
	CK(cuMemAlloc(&e, WORDS * 4));
	CK(cuMemAllocHost((void **)&h, WORDS * 4));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
	for (unsigned i = 0; i < WORDS; i++)
		h[i] = i;
	CK(cuMemcpyHtoD(d, h, WORDS * 4));
	CK(cuModuleGetFunction(&prio_fn, mod_of_fn, "stream_priority"));
	CK(cuMemAlloc(&pr, 4));
	CK(cuLaunchKernel(prio_fn, 1, 1, 1, 32, 1, 1, 0, s, (void *[]){&pr, &one}, NULL));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(&plain, pr, 4));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(d, WORDS, s));
	cfg.hStream = s;
	CK(cuLaunchKernelEx(&cfg, prio_fn, (void *[]){&pr, &one}, NULL)); /* its node carries the priority */
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphDestroy(g)); /* the executable graph is made again from what it was made from */
	CK(built_graph(e, h, ev, &b, node));
	CK(cuGraphInstantiate(&y, b, 0));
	/* A graph with memory of its own (allocation and free nodes): made
	 * again after the fault, its kernel's argument naming it where it is. */
	CK(cuMemAlloc(&o, WORDS * 4));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuMemAllocAsync(&gm, WORDS * 4, s));
	CK(cuMemsetD32Async(gm, 9, WORDS, s));
	CK(twice(gm, WORDS, s));
	CK(cuMemcpyDtoDAsync(o, gm, WORDS * 4, s));
	CK(cuMemFreeAsync(gm, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&w, g, 0));
	CK(cuGraphDestroy(g));
	CK(cuGraphLaunch(w, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, o, WORDS * 4));
	if (all_are(h, 18, "its graph with memory of its own before the fault"))
		return 1;
	CK(cuMemAlloc(&t, 4096));
	CK(cuMemFree(t)); /* retired while graphs live: kept so over the fault */
	CK(cuMemAllocHost(&hp, 4096));
	CK(cuMemFreeHost(hp)); /* page-locked memory too: the server keeps it registered */
	CK(cuGraphLaunch(x, s));
	CK(cuGraphLaunch(y, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(&before, pr, 4));
	CHECK(before != plain, "the captured launch's priority (%d) is its stream's (%d)", before, plain);
	if (all_are(h, 12, "the built graph before the fault"))
		return 1;
	CHECK(host_calls == 1, "its graph's host function ran %d times before the fault", host_calls);
	/* An executable graph updated from another capture (cuGraphExecUpdate),
	 * both graphs gone: made again with the update's parameters. */
	CK(cuMemAlloc(&uq, WORDS * 4));
	CK(cuMemAlloc(&ur, WORDS * 4));
	CK(cuMemsetD32(uq, 1, WORDS));
	CK(cuMemsetD32(ur, 1, WORDS));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(uq, WORDS, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&u, g, 0));
	CK(cuGraphDestroy(g));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(twice(ur, WORDS, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphExecUpdate(u, g, &info));
	CK(cuGraphDestroy(g));
	/* A captured graph whose node it listed (as llama.cpp reads its
	 * kernels' parameters): the handle names the node after the fault. */
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK(cuMemsetD32Async(uq, 1, WORDS, s));
	CK(twice(uq, WORDS, s));
	CK(cuStreamEndCapture(s, &lg));
	nl = 2;
	CK(cuGraphGetNodes(lg, lns, &nl));
	CK(cuGraphNodeGetType(lns[1], &lt));
	CHECK(nl == 2 && lt == CU_GRAPH_NODE_TYPE_KERNEL, "its listed graph: %zu nodes, the second of type %d", nl,
	      (int)lt);
	ln = lns[1];
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	CK(cuGraphLaunch(x, s));
	printf(PROBE ": synchronize = %d\n", (int)cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, d, WORDS * 4));
	if (check_words(h, 4, "its captured graph after the fault"))
		return 1;
	CK(cuMemcpyDtoH(&after, pr, 4));
	CHECK(after == before, "the captured launch ran at priority %d after the fault, %d before", after, before);
	memset(h, 0, WORDS * 4);
	CK(cuGraphLaunch(y, s));
	CK(cuStreamSynchronize(s));
	CK(cuEventQuery(ev));
	if (all_are(h, 12, "its built graph after the fault"))
		return 1;
	CHECK(host_calls == 2, "its graph's host function after the fault: %d calls in all", host_calls);
	CK(cuMemsetD32(o, 0, WORDS));
	CK(cuGraphLaunch(w, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, o, WORDS * 4));
	if (all_are(h, 18, "its graph with memory of its own after the fault"))
		return 1;
	CK(cuGraphLaunch(u, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(h, ur, WORDS * 4));
	if (all_are(h, 2, "its updated executable graph after the fault"))
		return 1;
	CK(cuMemcpyDtoH(h, uq, WORDS * 4));
	if (all_are(h, 1, "... not the memory of the graph it was made from"))
		return 1;
	CK(cuGraphKernelNodeGetParams(ln, &kp));
	CHECK(kp.kernelParams && *(CUdeviceptr *)kp.kernelParams[0] == uq, "its listed kernel node after the fault");
	*(CUdeviceptr *)kp.kernelParams[0] = ur;
	CK(cuGraphKernelNodeSetParams(ln, &kp));
	CK(cuGraphInstantiate(&z, lg, 0));
	CK(cuGraphLaunch(z, s));
	CK(cuStreamSynchronize(s));
	CK(cuGraphExecDestroy(z));
	CK(cuGraphDestroy(lg));
	CK(cuMemcpyDtoH(h, ur, WORDS * 4));
	if (all_are(h, 4, "its listed kernel node set after the fault"))
		return 1;
	CK(cuMemcpyDtoH(h, uq, WORDS * 4));
	if (all_are(h, 1, "... and its memset node's memory"))
		return 1;
	five.dst = e;
	CK(cuGraphAddMemsetNode(&more, b, &node[2], 1, &five, ctx));
	CK(cuGraphInstantiate(&z, b, 0));
	CK(cuGraphLaunch(z, s));
	CK(cuStreamSynchronize(s));
	if (all_are(h, 12, "its built graph grown after the fault"))
		return 1;
	CK(cuMemcpyDtoH(h, e, WORDS * 4));
	if (all_are(h, 5, "... and its new node"))
		return 1;
	CK(cuGraphExecDestroy(w));
	CK(cuGraphExecDestroy(u));
	CK(cuMemFree(uq));
	CK(cuMemFree(ur));
	CK(cuMemFree(o));
	CK(cuGraphExecDestroy(z));
	CK(cuGraphExecDestroy(y));
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(b));
	CK(cuEventDestroy(ev));
	CK(cuStreamDestroy(s));
	CK(cuMemFreeHost(h));
	CK(cuMemFree(pr));
	CK(cuMemFree(e));
	CK(cuMemFree(d));
	printf(PROBE ": PASS\n");
	return 0;
}

/* A neighbour whose executable graphs' nodes were set: graph b (a memset
 * of e to a value, then twice on e) made executable twice; x's memset set
 * to 7 (cuGraphExecMemsetNodeSetParams), then b's own memset to 4, after
 * y was made (y keeps 3). After the fault each gives what it gave, and
 * setting their nodes still works (the client's node handles name them). */
static int exec_set(const char *gate)
{
	CUDA_MEMSET_NODE_PARAMS ms = {.value = 3, .elementSize = 4, .width = WORDS, .height = 1};
	static unsigned n = WORDS;
	CUdeviceptr e;
	void *args[2] = {&e, &n};
	CUDA_KERNEL_NODE_PARAMS kp = {.func = fn, .gridDimX = (WORDS + 255) / 256, .gridDimY = 1, .gridDimZ = 1,
				      .blockDimX = 256, .blockDimY = 1, .blockDimZ = 1, .kernelParams = args};
	static unsigned h[WORDS];
	CUgraphNode set, k;
	CUgraphExec x, y;
	CUcontext ctx;
	CUstream s;
	CUgraph b;
	struct {
		CUgraphExec x;
		unsigned value, want;
		const char *what;
	} runs[] = {{0, 0, 14, "the executable graph whose memset it set to 7, after the fault"},
		    {0, 0, 6, "the one made before its graph's memset went to 4, after the fault"},
		    {0, 8, 16, "the first, its memset set to 8 after the fault"},
		    {0, 9, 18, "the second, its memset set to 9 after the fault"}};

	CK(cuCtxGetCurrent(&ctx));
	CK(cuMemAlloc(&e, WORDS * 4));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	ms.dst = e;
	CK(cuGraphCreate(&b, 0));
	CK(cuGraphAddMemsetNode(&set, b, NULL, 0, &ms, ctx));
	CK(cuGraphAddKernelNode(&k, b, &set, 1, &kp));
	CK(cuGraphInstantiate(&x, b, 0));
	CK(cuGraphInstantiate(&y, b, 0));
	if (getenv("FAULT_GRAPH_OFF")) { /* a node turned off, and on: not written down, not kept */
		CK(cuGraphNodeSetEnabled(y, k, 0));
		CK(cuGraphNodeSetEnabled(y, k, 1));
	}
	ms.value = 7;
	CK(cuGraphExecMemsetNodeSetParams(x, set, &ms, ctx));
	ms.value = 4;
	CK(cuGraphMemsetNodeSetParams(set, &ms));
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	printf(PROBE ": ready\n");
	CHECK(wait_for(gate) == 0, "no gate");
	printf(PROBE ": synchronize = %d\n", (int)cuStreamSynchronize(s));
	runs[0].x = runs[2].x = x;
	runs[1].x = runs[3].x = y;
	for (unsigned i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		if (runs[i].value) {
			ms.value = runs[i].value;
			CK(cuGraphExecMemsetNodeSetParams(runs[i].x, set, &ms, ctx));
		}
		CK(cuGraphLaunch(runs[i].x, s));
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(h, e, sizeof(h)));
		if (all_are(h, runs[i].want, runs[i].what))
			return 1;
	}
	CK(cuGraphExecDestroy(y));
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(b));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(e));
	printf(PROBE ": PASS\n");
	return 0;
}

/* The neighbours, each by its flag; its argument is the gate. */
static const struct {
	const char *flag;
	int (*run)(const char *gate);
} neighbours[] = {
	{"--idle", idle},	{"--pool", pool},	      {"--graph-host", graph_host},
	{"--graph", graph},	{"--free", free_first},	      {"--hostfn", hostfn},
	{"--ipc-export", ipc_export}, {"--ipc-import", ipc_import}, {"--vmm", vmm},
	{"--busy", busy},	{"--link", linker},	      {"--load", load_first},
	{"--capture", capturing}, {"--exec-set", exec_set}, {"--capture-split", capturing_split},
	{"--unload", unload_first}, {"--host-late", host_late}, {"--cond", conditional},
	{"--capture-late", capture_late}, {"--two-streams", two_streams}, {"--two-devices", two_devices},
	{"--then-busy", then_busy}, {"--graph-add", graph_add},
};

int main(int argc, char **argv)
{
	CUdeviceptr bad = 0x10, p;
	unsigned int n = 32;
	void *args[2] = {&bad, &n};
	CUcontext ctx;
	CUmodule mod;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&fn, mod, "twice"));
	mod_of_fn = mod;
	printf(PROBE ": pid %d\n", (int)getpid());
	for (size_t i = 0; argc > 2 && i < sizeof(neighbours) / sizeof(neighbours[0]); i++)
		if (!strcmp(argv[1], neighbours[i].flag))
			return neighbours[i].run(argv[2]);
	if (argc > 2 && !strncmp(argv[1], "--data-", 7))
		return data(argv[2], argv[1] + 7);
	CK(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	printf(PROBE ": launched\n");
	if (argc > 1 && !strcmp(argv[1], "--no-sync")) {
		sleep(30);
		return 0;
	}
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	if (argc > 2 && !strcmp(argv[1], "--then"))
		wait_for(argv[2]);
	printf(PROBE ": then alloc = %d\n", (int)cuMemAlloc(&p, 4096));
	return 0;
}
