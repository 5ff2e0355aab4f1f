/* CUDA graphs built node by node with the driver API: the same program runs
 * natively (fakecuda or a GPU) and through openmps, and must print the same.
 *   omps-graph-nodes-probe [--words N] [--replays R]
 *     a graph of a copy from page-locked host memory, a kernel, a child
 *     graph, a memset, an event record, a copy back added before the nodes
 *     it depends on (edges added after: cuGraphAddDependencies), and an IF
 *     node whose body doubles a buffer; R launches give the expected words;
 *     then the executable graph's kernel node on half the words, a clone,
 *     and a node of another graph refused as a dependency; its edges,
 *     roots, dependencies and dependents read back; the executable
 *     graph's child graph and event record node set anew, and a node of it
 *     turned off for a launch.
 *   omps-graph-nodes-probe --refused
 *     through openmps only: a copy node of pageable memory and a host node
 *     are refused (CUDA_ERROR_NOT_SUPPORTED), and a destroyed graph's node is
 *     an invalid value.
 * Ends with "graph_nodes_probe: PASS" or the first call that failed. */
#include <cuda.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "graph_nodes_probe"
#define PROBE_FAIL goto out
#include "probe.h"

/* twice(p, n): p[i] *= 2 for i < n */
static CUDA_KERNEL_NODE_PARAMS twice(CUfunction f, void **args, unsigned n)
{
	CUDA_KERNEL_NODE_PARAMS k;

	memset(&k, 0, sizeof(k));
	k.func = f;
	k.gridDimX = (n + 127) / 128;
	k.gridDimY = k.gridDimZ = 1;
	k.blockDimX = 128;
	k.blockDimY = k.blockDimZ = 1;
	k.kernelParams = args;
	return k;
}

static CUDA_MEMCPY3D copy(CUmemorytype st, const void *sh, CUdeviceptr sd, CUmemorytype dt, void *dh,
			  CUdeviceptr dd, size_t bytes)
{
	CUDA_MEMCPY3D c;

	memset(&c, 0, sizeof(c));
	c.srcMemoryType = st;
	c.srcHost = sh;
	c.srcDevice = sd;
	c.dstMemoryType = dt;
	c.dstHost = dh;
	c.dstDevice = dd;
	c.WidthInBytes = bytes;
	c.Height = c.Depth = 1;
	return c;
}

/* in[i] = i; the graph: in -> a, a *= 2, child: a *= 2, a -> out; b = 5, if (1) b *= 2. */
static int check(const unsigned *out, const unsigned *bh, unsigned n, unsigned half, const char *what)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		unsigned want = i * (i < half ? 4 : 2);

		if (out[i] != want) {
			printf("graph_nodes_probe: FAIL %s: out[%u] = %u, expected %u\n", what, i, out[i], want);
			return -1;
		}
		if (bh[i] != 10) {
			printf("graph_nodes_probe: FAIL %s: b[%u] = %u, expected 10\n", what, i, bh[i]);
			return -1;
		}
	}
	return 0;
}

/* The host node's function: it runs after the copy back, at each launch. */
struct host_seen {
	const unsigned *out;
	unsigned calls, last;
};

/* --exit-in-host: the process ends inside a graph's host function, while
 * the launch waits for it in the server. */
static void exit_now(void *code)
{
	fflush(stdout);
	_exit(*(int *)code);
}

static void on_host(void *p)
{
	struct host_seen *h = p;

	h->calls++;
	h->last = h->out[1];
}

/* Whether the first two of got are a and b, in either order. */
static int same_pair(const CUgraphNode *got, CUgraphNode a, CUgraphNode b)
{
	return (got[0] == a && got[1] == b) || (got[0] == b && got[1] == a);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"words", required_argument, 0, 'w'},
					      {"replays", required_argument, 0, 'r'},
					      {"refused", no_argument, 0, 'x'},
					      {"exit-in-host", no_argument, 0, 'e'},
					      {0, 0, 0, 0}};
	static int code = 3;
	unsigned n = 4096, replays = 3, half, i, *in = NULL, *out = NULL, *bh = NULL, *pageable = NULL;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod = NULL;
	CUfunction f;
	CUdeviceptr a = 0, b = 0, c = 0;
	CUstream s = NULL;
	CUevent ev = NULL, ev2 = NULL;
	CUgraph g = NULL, child = NULL, child2 = NULL, other = NULL, clone = NULL, gone = NULL;
	CUgraphExec e = NULL, ec = NULL;
	CUgraphNode n_in, n_k, n_child, n_out, n_set, n_rec, n_join, n_if, n_body, n_bout, n_other, n_gone, n_host, x;
	struct host_seen seen = {0};
	CUDA_HOST_NODE_PARAMS hp;
	CUgraphConditionalHandle cond;
	CUgraphNodeParams p;
	CUDA_KERNEL_NODE_PARAMS kp;
	CUDA_MEMSET_NODE_PARAMS ms;
	CUDA_MEMCPY3D cp;
	void *args_a[2], *args_b[2], *args_half[2], *args_c[2] = {&c, &n};
	CUgraphNode deps[2], ef[12], et[12], some[4];
	unsigned on = 0;
	int opt, status = 1, refused = 0, exit_in_host = 0;
	size_t bytes, count = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'w')
			n = (unsigned)atoi(optarg);
		else if (opt == 'r')
			replays = (unsigned)atoi(optarg);
		else if (opt == 'x')
			refused = 1;
		else if (opt == 'e')
			exit_in_host = 1;
		else
			return 2;
	}
	bytes = (size_t)n * 4;
	half = n / 2;
	args_a[0] = &a, args_a[1] = &n;
	args_b[0] = &b, args_b[1] = &n;
	args_half[0] = &a, args_half[1] = &half;
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuMemAlloc(&a, bytes));
	CK(cuMemAlloc(&b, bytes));
	CK(cuMemHostAlloc((void **)&in, bytes, 0));
	CK(cuMemHostAlloc((void **)&out, bytes, 0));
	CK(cuMemHostAlloc((void **)&bh, bytes, 0));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&ev, CU_EVENT_DEFAULT));
	for (i = 0; i < n; i++)
		in[i] = i;
	CK(cuGraphCreate(&g, 0));

	if (exit_in_host) {
		CUDA_HOST_NODE_PARAMS bye = {exit_now, &code};

		CK(cuGraphAddHostNode(&n_host, g, NULL, 0, &bye));
		CK(cuGraphInstantiate(&e, g, 0));
		printf("launching a graph whose host function exits\n");
		CK(cuGraphLaunch(e, s));
		CK(cuStreamSynchronize(s));
		printf("graph_nodes_probe: FAIL the process outlived its host function\n");
		goto out;
	}

	if (refused) { /* through openmps: what a graph in the server cannot reach */
		pageable = calloc(n, 4);
		if (!pageable)
			goto out;
		cp = copy(CU_MEMORYTYPE_HOST, pageable, 0, CU_MEMORYTYPE_DEVICE, NULL, a, bytes);
		EXPECT(cuGraphAddMemcpyNode(&x, g, NULL, 0, &cp, ctx), CUDA_ERROR_NOT_SUPPORTED);
		memset(&p, 0, sizeof(p));
		p.type = CU_GRAPH_NODE_TYPE_HOST;
		p.host.fn = on_host;
		p.host.userData = &seen;
		CK(cuGraphAddNode(&x, g, NULL, NULL, 0, &p));
		EXPECT(cuGraphNodeSetParams(x, &p), CUDA_ERROR_NOT_SUPPORTED);
		CK(cuGraphCreate(&gone, 0));
		CK(cuGraphAddEmptyNode(&n_gone, gone, NULL, 0));
		CK(cuGraphDestroy(gone));
		EXPECT(cuGraphAddEmptyNode(&x, g, &n_gone, 1), CUDA_ERROR_INVALID_VALUE);
		printf("pageable copies and new host node parameters refused; a destroyed graph's node is invalid\n");
		printf("graph_nodes_probe: PASS\n");
		status = 0;
		goto out;
	}

	/* The copy back first, with no dependencies yet: edges come later. */
	cp = copy(CU_MEMORYTYPE_DEVICE, NULL, a, CU_MEMORYTYPE_HOST, out, 0, bytes);
	CK(cuGraphAddMemcpyNode(&n_out, g, NULL, 0, &cp, ctx));
	cp = copy(CU_MEMORYTYPE_HOST, in, 0, CU_MEMORYTYPE_DEVICE, NULL, a, bytes);
	CK(cuGraphAddMemcpyNode(&n_in, g, NULL, 0, &cp, ctx));
	kp = twice(f, args_a, n);
	CK(cuGraphAddKernelNode(&n_k, g, &n_in, 1, &kp));
	CK(cuGraphCreate(&child, 0));
	CK(cuGraphAddKernelNode(&x, child, NULL, 0, &kp));
	CK(cuGraphAddChildGraphNode(&n_child, g, &n_k, 1, child));
	CK(cuGraphAddEventRecordNode(&n_rec, g, &n_child, 1, ev));
	CK(cuGraphAddDependencies(g, &n_child, &n_out, NULL, 1));

	memset(&ms, 0, sizeof(ms));
	ms.dst = b;
	ms.value = 5;
	ms.elementSize = 4;
	ms.width = n;
	ms.height = 1;
	CK(cuGraphAddMemsetNode(&n_set, g, NULL, 0, &ms, ctx));
	CK(cuGraphConditionalHandleCreate(&cond, g, ctx, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
	memset(&p, 0, sizeof(p));
	p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
	p.conditional.handle = cond;
	p.conditional.type = CU_GRAPH_COND_TYPE_IF;
	p.conditional.size = 1;
	p.conditional.ctx = ctx;
	CK(cuGraphAddNode(&n_if, g, &n_set, NULL, 1, &p));
	CHECK(p.conditional.phGraph_out && p.conditional.phGraph_out[0], "no body graph for the IF node");
	kp = twice(f, args_b, n);
	CK(cuGraphAddKernelNode(&n_body, p.conditional.phGraph_out[0], NULL, 0, &kp));
	cp = copy(CU_MEMORYTYPE_DEVICE, NULL, b, CU_MEMORYTYPE_HOST, bh, 0, bytes);
	CK(cuGraphAddMemcpyNode(&n_bout, g, &n_if, 1, &cp, ctx));
	deps[0] = n_out, deps[1] = n_bout;
	CK(cuGraphAddEmptyNode(&n_join, g, deps, 2));
	seen.out = out;
	hp = (CUDA_HOST_NODE_PARAMS){on_host, &seen};
	CK(cuGraphAddHostNode(&n_host, g, &n_join, 1, &hp));
	memset(&hp, 0, sizeof(hp));
	CK(cuGraphHostNodeGetParams(n_host, &hp));
	CHECK(hp.fn == on_host && hp.userData == &seen, "the host node's parameters read back differ");
	CK(cuGraphGetNodes(g, NULL, &count));
	CHECK(count == 10, "the graph has %zu nodes, expected 10", count);

	/* Its shape read back: 9 edges (the one added later among them), its
	 * roots, a node's dependencies and dependents, in any order. */
	CK(cuGraphGetEdges(g, NULL, NULL, NULL, &count));
	CHECK(count == 9, "the graph has %zu edges, expected 9", count);
	count = 12;
	CK(cuGraphGetEdges(g, ef, et, NULL, &count));
	CHECK(count == 9 && !ef[9] && !et[11], "its edges listed: %zu", count);
	for (i = 0; i < 9 && !(ef[i] == n_child && et[i] == n_out); i++)
		;
	CHECK(i < 9, "the edge added later is not among its edges");
	count = 4;
	CK(cuGraphGetRootNodes(g, some, &count));
	CHECK(count == 2 && same_pair(some, n_in, n_set) && !some[2], "its roots: %zu", count);
	count = 4;
	CK(cuGraphNodeGetDependencies(n_join, some, NULL, &count));
	CHECK(count == 2 && same_pair(some, n_out, n_bout), "the join node's dependencies: %zu", count);
	count = 4;
	CK(cuGraphNodeGetDependentNodes(n_child, some, NULL, &count));
	CHECK(count == 2 && same_pair(some, n_rec, n_out), "the child graph node's dependents: %zu", count);
	CK(cuGraphNodeGetDependencies(n_set, NULL, NULL, &count));
	CHECK(count == 0, "the memset node has %zu dependencies, expected none", count);
	printf("its edges, roots, dependencies and dependents read back\n");

	/* A node of another graph is not a dependency. */
	CK(cuGraphCreate(&other, 0));
	CK(cuGraphAddEmptyNode(&n_other, other, NULL, 0));
	EXPECT(cuGraphAddEmptyNode(&x, g, &n_other, 1), CUDA_ERROR_INVALID_VALUE);

	CK(cuGraphInstantiate(&e, g, 0));
	for (i = 0; i < replays; i++) {
		memset(out, 0, bytes);
		memset(bh, 0, bytes);
		CK(cuGraphLaunch(e, s));
		CK(cuStreamSynchronize(s));
		if (check(out, bh, n, n, "a launch"))
			goto out;
		CHECK(seen.calls == i + 1 && seen.last == 4, "after launch %u the host node ran %u times and saw %u",
		      i + 1, seen.calls, seen.last);
	}
	CK(cuEventQuery(ev));
	printf("%u launches of a graph built node by node: out[i] = 4i, b = 10\n", replays);
	printf("its host node ran once a launch, after the copy back\n");

	kp = twice(f, args_half, half);
	CK(cuGraphExecKernelNodeSetParams(e, n_k, &kp));
	CK(cuGraphLaunch(e, s));
	CK(cuStreamSynchronize(s));
	if (check(out, bh, n, half, "after the kernel node's update"))
		goto out;
	printf("the executable graph's kernel node updated: half the words\n");

	/* A graph with a conditional node cannot be cloned (the driver's
	 * CUDA_ERROR_NOT_SUPPORTED); its child can: a = 4i by the graph, x2. */
	EXPECT(cuGraphClone(&clone, g), CUDA_ERROR_NOT_SUPPORTED);
	kp = twice(f, args_a, n);
	CK(cuGraphExecKernelNodeSetParams(e, n_k, &kp));
	CK(cuGraphLaunch(e, s));
	CK(cuGraphClone(&clone, child));
	CK(cuGraphInstantiate(&ec, clone, 0));
	CK(cuGraphLaunch(ec, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(out, a, bytes));
	for (i = 0; i < n; i++)
		CHECK(out[i] == 8 * i, "the clone of the child graph: a[%u] = %u, expected %u", i, out[i], 8 * i);
	printf("a clone runs as its graph did\n");

	/* The typed setters: the executable graph's child graph swapped for one
	 * of its shape (twice on c, not on a), its event record node's event
	 * for another, and the graph's own record node's too. */
	CK(cuMemAlloc(&c, bytes));
	CK(cuMemsetD32(c, 3, n));
	CK(cuGraphCreate(&child2, 0));
	kp = twice(f, args_c, n);
	CK(cuGraphAddKernelNode(&x, child2, NULL, 0, &kp));
	CK(cuEventCreate(&ev2, CU_EVENT_DEFAULT));
	CK(cuGraphExecChildGraphNodeSetParams(e, n_child, child2));
	CK(cuGraphExecEventRecordNodeSetEvent(e, n_rec, ev2));
	CK(cuGraphEventRecordNodeSetEvent(n_rec, ev2));
	memset(out, 0, bytes);
	CK(cuGraphLaunch(e, s));
	CK(cuStreamSynchronize(s));
	CK(cuEventQuery(ev2));
	for (i = 0; i < n; i++)
		CHECK(out[i] == 2 * i, "its child graph set anew: a[%u] = %u, expected %u", i, out[i], 2 * i);
	CK(cuMemcpyDtoH(out, c, bytes));
	for (i = 0; i < n; i++)
		CHECK(out[i] == 6, "its child graph set anew: c[%u] = %u, expected 6", i, out[i]);
	printf("an executable graph's child graph and event set anew\n");
	/* Its child graph node turned off: c as it was; on again: doubled. */
	CK(cuGraphNodeSetEnabled(e, n_child, 0));
	CK(cuGraphNodeGetEnabled(e, n_child, &on));
	CHECK(!on, "the child graph node turned off reads as on");
	CK(cuGraphLaunch(e, s));
	CK(cuGraphNodeSetEnabled(e, n_child, 1));
	CK(cuGraphNodeGetEnabled(e, n_child, &on));
	CHECK(on, "the child graph node turned on again reads as off");
	CK(cuGraphLaunch(e, s));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(out, c, bytes));
	for (i = 0; i < n; i++)
		CHECK(out[i] == 12, "its child graph node off for one launch, on for the next: c[%u] = %u, expected 12", i,
		      out[i]);
	EXPECT(cuGraphNodeSetEnabled(e, n_other, 0), CUDA_ERROR_INVALID_VALUE);
	printf("a node of the executable graph turned off and on again\n");
	printf("graph_nodes_probe: PASS\n");
	status = 0;
out:
	if (ec)
		cuGraphExecDestroy(ec);
	if (e)
		cuGraphExecDestroy(e);
	if (clone)
		cuGraphDestroy(clone);
	if (other)
		cuGraphDestroy(other);
	if (child)
		cuGraphDestroy(child);
	if (child2)
		cuGraphDestroy(child2);
	if (ev2)
		cuEventDestroy(ev2);
	if (c)
		cuMemFree(c);
	if (g)
		cuGraphDestroy(g);
	if (ev)
		cuEventDestroy(ev);
	if (s)
		cuStreamDestroy(s);
	if (in)
		cuMemFreeHost(in);
	if (out)
		cuMemFreeHost(out);
	if (bh)
		cuMemFreeHost(bh);
	if (a)
		cuMemFree(a);
	if (b)
		cuMemFree(b);
	if (mod)
		cuModuleUnload(mod);
	free(pageable);
	return status;
}
