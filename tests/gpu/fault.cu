// A kernel that faults, of each kind issue 15 names, and a neighbour:
//   fault illegal      writes to address 0x10 (CUDA_ERROR_ILLEGAL_ADDRESS)
//   fault trap         __trap()                (CUDA_ERROR_LAUNCH_FAILED)
//   fault assert       a device-side assert    (CUDA_ERROR_ASSERT)
//   fault misaligned   an 8-byte load at an odd address (CUDA_ERROR_MISALIGNED_ADDRESS)
//   fault instruction  a breakpoint with no debugger (an illegal instruction)
//   fault pc           a call through a pointer to 0x10 (an invalid program counter)
//   fault stack        recursion without end (the call stack overflows)
//   fault neighbour FILE   fills 64 MiB, and 4 MiB of stream-ordered memory
//                          (cudaMallocAsync) by a captured graph (its
//                          executable graph updated from a second capture,
//                          cudaGraphExecUpdate), checks
//                          them, waits until FILE exists, then checks them
//                          again, runs a kernel, and launches the graph again;
//                          and __constant__ and __device__ variables it set
//                          from the host (cudaMemcpyToSymbol) and gave a
//                          kernel the address of: the same after the fault
//   fault neighbour-sync FILE
//                          the same, with a cudaDeviceSynchronize after it
//                          filled its memory (idle as the server counts it)
//   fault ipc-export FILE, fault ipc-import FILE
//                          two neighbours sharing memory and events by CUDA
//                          IPC (FILE.ipc): the importer opens the first of
//                          each before the fault (FILE.opened), the exporter
//                          frees that allocation (FILE.freed); once FILE
//                          exists the importer checks it, opens the second
//                          of each (a handle of the server before), fills the
//                          second allocation (FILE.done), and the exporter
//                          checks that
//   fault vmm FILE         fills memory of its own mapped with the driver's
//                          virtual memory calls (cuMemAddressReserve,
//                          cuMemCreate, cuMemMap, cuMemSetAccess: as NCCL and
//                          PyTorch's expandable segments) and checks it
//                          again, at the same address, once FILE exists
//   fault link FILE        has a JIT link under way (cuLinkCreate, the
//                          caller's PTX added); once FILE exists it adds the
//                          callee, completes the link, loads the image and
//                          runs its kernel
//   fault capture FILE     in the middle of a stream capture (forked onto a
//                          second stream) at the fault; once FILE exists it
//                          joins back, captures more, ends, launches, checks
//   fault cond FILE        holds a graph with a WHILE node built node by node
//                          (its kernel sets the condition through the handle)
//                          and an executable graph of it; once FILE exists it
//                          launches it, builds on the body, makes it anew
// A culprit launches, then synchronizes and prints what that returned:
// "fault MODE: synchronize = NAME". A neighbour prints "fault neighbour:
// PASS" or what it found.
#include <assert.h>
#include <cuda.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>
#include <string>
#include <unistd.h>

#include "../e2e/twice_ptx.h" // caller_ptx and callee_ptx: one kernel in two for the linker

__global__ void illegal(float *p) { p[threadIdx.x] = 1.0f; }
__global__ void trap(void) { __trap(); }
__global__ void fail_assert(int x) { assert(x == 0); }
__global__ void misaligned(const char *p, long long *out) { *out = *(const long long *)(p + 1); }
__global__ void instruction(void) { asm volatile("brkpt;"); }
typedef void (*device_fn)(void);
__global__ void bad_pc(unsigned long long where) { ((device_fn)where)(); }
// Each call holds a frame the compiler cannot drop (a volatile array read
// after the call returns), and none returns.
__device__ unsigned deeper(unsigned n)
{
	volatile unsigned pad[64];

	pad[n % 64] = n;
	return deeper(n + 1) + pad[(n * 7) % 64];
}
__global__ void overflow(unsigned *out) { *out = deeper(1); }
__global__ void fill(unsigned *p, size_t n, unsigned k)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		p[i] = (unsigned)i * 2654435761u + k;
}

__global__ void add(unsigned *p, size_t n, unsigned k)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		p[i] += k;
}

// A while loop's body: adds 1, and the first thread counts *left down and
// sets the loop's condition (its handle a kernel argument, as a successor
// must make again to the same value).
__global__ void count_down(unsigned *p, size_t n, int *left, cudaGraphConditionalHandle h)
{
	size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;

	if (i < n)
		p[i] += 1;
	if (i == 0)
		cudaGraphSetConditional(h, --*left > 0);
}

__constant__ unsigned table[4];
__device__ unsigned counter[4];
__global__ void use_table(unsigned *out) { out[threadIdx.x] = table[threadIdx.x] + atomicAdd(&counter[threadIdx.x], 1); }
__global__ void bump(unsigned *p) { p[0] += 1000; }

// The module's variables: set from the host, counted in by a kernel, one
// named by address to another; each step's result checked (want).
static cudaError_t variables(unsigned *pc, unsigned *o, const unsigned want[8])
{
	unsigned got[8];
	cudaError_t e;

	use_table<<<1, 4>>>(o);
	bump<<<1, 1>>>(pc);
	if ((e = cudaMemcpy(got, o, 16, cudaMemcpyDeviceToHost)) ||
	    (e = cudaMemcpyFromSymbol(got + 4, counter, 16)))
		return e;
	for (int i = 0; i < 8; i++)
		if (got[i] != want[i]) {
			printf("fault neighbour: its module's variables: word %d is %u, not %u\n", i, got[i], want[i]);
			return cudaErrorInvalidValue;
		}
	return cudaSuccess;
}

// Whether p's n words are fill's with k; says which word is not.
static bool filled(const unsigned *p, size_t n, unsigned k, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned)i * 2654435761u + k) {
			printf("fault neighbour: %s: word %zu lost\n", what, i);
			return false;
		}
	return true;
}

static int neighbour(const char *gate, bool sync)
{
	const size_t n = 16 << 20, m = 1 << 20;
	unsigned *d, *a, *o, *pc, *h = new unsigned[n];
	const unsigned t[4] = {5, 6, 7, 8}, c[4] = {100, 200, 300, 400};
	const unsigned before[8] = {105, 206, 307, 408, 1101, 201, 301, 401};
	const unsigned after[8] = {1106, 207, 308, 409, 2102, 202, 302, 402};
	cudaStream_t s;
	cudaGraph_t g;
	cudaGraphExec_t x;
	cudaGraphExecUpdateResultInfo info;
	cudaError_t e;

	if ((e = cudaMalloc(&d, n * 4)) != cudaSuccess || (e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)) ||
	    (e = cudaMallocAsync(&a, m * 4, s)) || (e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed))) {
		printf("fault neighbour: setting up: %s\n", cudaGetErrorName(e));
		return 1;
	}
	fill<<<64, 256, 0, s>>>(a, m, 10);
	if ((e = cudaStreamEndCapture(s, &g)) || (e = cudaGraphInstantiate(&x, g, 0)) || (e = cudaGraphDestroy(g)) ||
	    (e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed))) {
		printf("fault neighbour: its graph: %s\n", cudaGetErrorName(e));
		return 1;
	}
	fill<<<64, 256, 0, s>>>(a, m, 11); /* the executable graph updated from it, as llama.cpp does */
	if ((e = cudaStreamEndCapture(s, &g)) || (e = cudaGraphExecUpdate(x, g, &info)) || (e = cudaGraphDestroy(g)) ||
	    (e = cudaGraphLaunch(x, s)) || (e = cudaStreamSynchronize(s))) {
		printf("fault neighbour: its graph: %s\n", cudaGetErrorName(e));
		return 1;
	}
	if ((e = cudaMalloc(&o, 16)) || (e = cudaMemcpyToSymbol(table, t, 16)) ||
	    (e = cudaMemcpyToSymbol(counter, c, 16)) || (e = cudaGetSymbolAddress((void **)&pc, counter)) ||
	    (e = variables(pc, o, before))) {
		printf("fault neighbour: its module's variables: %s\n", cudaGetErrorName(e));
		return 1;
	}
	fill<<<256, 256>>>(d, n, 7);
	e = cudaMemcpy(h, d, n * 4, cudaMemcpyDeviceToHost);
	if (e == cudaSuccess && sync)
		e = cudaDeviceSynchronize(); /* idle as the server counts it, not only as the GPU is */
	printf("fault neighbour: filled, %s\n", cudaGetErrorName(e));
	fflush(stdout);
	while (access(gate, F_OK) < 0)
		usleep(10000);
	memset(h, 0, n * 4);
	e = cudaMemcpy(h, d, n * 4, cudaMemcpyDeviceToHost);
	if (e == cudaSuccess && !filled(h, n, 7, "its memory"))
		return 1;
	if (e == cudaSuccess)
		e = cudaMemcpy(h, a, m * 4, cudaMemcpyDeviceToHost);
	if (e == cudaSuccess && !filled(h, m, 11, "its stream-ordered memory"))
		return 1;
	if (e == cudaSuccess) {
		fill<<<256, 256>>>(d, n, 9);
		e = cudaDeviceSynchronize();
	}
	if (e == cudaSuccess && (e = cudaMemsetAsync(a, 0, m * 4, s)) == cudaSuccess &&
	    (e = cudaGraphLaunch(x, s)) == cudaSuccess && (e = cudaStreamSynchronize(s)) == cudaSuccess)
		e = cudaMemcpy(h, a, m * 4, cudaMemcpyDeviceToHost);
	if (e == cudaSuccess && !filled(h, m, 11, "its graph launched again"))
		return 1;
	if (e == cudaSuccess)
		e = variables(pc, o, after);
	printf("fault neighbour: %s\n", e == cudaSuccess ? "PASS" : cudaGetErrorName(e));
	return e != cudaSuccess;
}

static std::string beside(const char *gate, const char *ext) { return std::string(gate) + "." + ext; }

static void wait_file(const std::string &path)
{
	for (int i = 0; i < 6000 && access(path.c_str(), F_OK) < 0; i++)
		usleep(10000);
}

static void touch(const std::string &path)
{
	FILE *f = fopen(path.c_str(), "w");

	if (f)
		fclose(f);
}

// Whether the device memory p holds fill's n words with k.
static bool holds(const unsigned *p, size_t n, unsigned k, unsigned *h, const char *what)
{
	cudaError_t e = cudaMemcpy(h, p, n * 4, cudaMemcpyDeviceToHost);

	if (e != cudaSuccess) {
		printf("fault neighbour: %s: %s\n", what, cudaGetErrorName(e));
		return false;
	}
	return filled(h, n, k, what);
}

struct ipc_handles {
	cudaIpcMemHandle_t mem[2];
	cudaIpcEventHandle_t ev[2];
};

static int ipc_export(const char *gate)
{
	const size_t n = 1 << 18;
	unsigned *d[2], *h = new unsigned[n];
	cudaEvent_t ev[2];
	ipc_handles ih;
	cudaError_t e = cudaSuccess;
	FILE *f;

	for (int k = 0; k < 2 && e == cudaSuccess; k++) {
		if ((e = cudaMalloc(&d[k], n * 4)))
			break;
		fill<<<64, 256>>>(d[k], n, 3 + k);
		if ((e = cudaDeviceSynchronize()) || (e = cudaIpcGetMemHandle(&ih.mem[k], d[k])) ||
		    (e = cudaEventCreateWithFlags(&ev[k], cudaEventInterprocess | cudaEventDisableTiming)))
			break;
		e = cudaIpcGetEventHandle(&ih.ev[k], ev[k]);
	}
	if (e != cudaSuccess || !(f = fopen(beside(gate, "tmp").c_str(), "w")) || fwrite(&ih, sizeof(ih), 1, f) != 1 ||
	    fclose(f) || rename(beside(gate, "tmp").c_str(), beside(gate, "ipc").c_str())) {
		printf("fault neighbour: giving out its handles: %s\n", cudaGetErrorName(e));
		return 1;
	}
	printf("fault neighbour: filled, its handles given out\n");
	fflush(stdout);
	wait_file(beside(gate, "opened"));
	e = cudaFree(d[0]); // the importer's now, until it closes it
	touch(beside(gate, "freed"));
	wait_file(gate);
	wait_file(beside(gate, "done"));
	if (e == cudaSuccess && !holds(d[1], n, 7, h, "what its importer wrote after the fault"))
		return 1;
	for (int k = 0; k < 2 && e == cudaSuccess; k++)
		if ((e = cudaEventRecord(ev[k])) == cudaSuccess)
			e = cudaEventSynchronize(ev[k]);
	printf("fault neighbour: %s\n", e == cudaSuccess ? "PASS" : cudaGetErrorName(e));
	return e != cudaSuccess;
}

// The k-th allocation and event of the exporter's handles opened.
static bool open_pair(const ipc_handles &ih, int k, unsigned **p, cudaEvent_t *ev, const char *when)
{
	cudaError_t e;

	if ((e = cudaIpcOpenMemHandle((void **)p, ih.mem[k], cudaIpcMemLazyEnablePeerAccess)) ||
	    (e = cudaIpcOpenEventHandle(ev, ih.ev[k]))) {
		printf("fault neighbour: opening %s: %s\n", when, cudaGetErrorName(e));
		return false;
	}
	return true;
}

static int ipc_import(const char *gate)
{
	const size_t n = 1 << 18;
	unsigned *p[2], *h = new unsigned[n];
	cudaEvent_t ev[2];
	ipc_handles ih;
	cudaError_t e;
	FILE *f;

	wait_file(beside(gate, "ipc"));
	if (!(f = fopen(beside(gate, "ipc").c_str(), "r")) || fread(&ih, sizeof(ih), 1, f) != 1) {
		printf("fault neighbour: no handles\n");
		return 1;
	}
	fclose(f);
	if (!open_pair(ih, 0, &p[0], &ev[0], "before the fault") || !holds(p[0], n, 3, h, "the memory it opened"))
		return 1;
	touch(beside(gate, "opened"));
	printf("fault neighbour: filled, its handles opened\n");
	fflush(stdout);
	wait_file(gate);
	if (!holds(p[0], n, 3, h, "the memory it opened, which its exporter freed, after the fault"))
		return 1;
	if (!open_pair(ih, 1, &p[1], &ev[1], "after the fault") ||
	    !holds(p[1], n, 4, h, "the memory it opened after the fault"))
		return 1;
	fill<<<64, 256>>>(p[1], n, 7);
	e = cudaDeviceSynchronize();
	for (int k = 0; k < 2 && e == cudaSuccess; k++)
		if ((e = cudaEventRecord(ev[k])) == cudaSuccess)
			e = cudaEventSynchronize(ev[k]);
	if (e == cudaSuccess && (e = cudaIpcCloseMemHandle(p[0])) == cudaSuccess)
		e = cudaIpcCloseMemHandle(p[1]);
	touch(beside(gate, "done"));
	printf("fault neighbour: %s\n", e == cudaSuccess ? "PASS" : cudaGetErrorName(e));
	return e != cudaSuccess;
}

static int vmm(const char *gate)
{
	CUmemAllocationProp prop = {};
	CUmemAccessDesc rw = {};
	CUmemGenericAllocationHandle h;
	CUdeviceptr base;
	size_t g = 0, size, n;
	unsigned *hbuf;
	CUresult r;

	prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
	rw.location = prop.location;
	rw.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	cudaFree(0); // the runtime's context, current
	if ((r = cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM)) ||
	    (size = 16 * g, n = size / 4, r = cuMemAddressReserve(&base, 2 * size, 0, 0, 0)) ||
	    (r = cuMemCreate(&h, size, &prop, 0)) || (r = cuMemMap(base + size, size, 0, h, 0)) ||
	    (r = cuMemSetAccess(base + size, size, &rw, 1))) {
		printf("fault neighbour: its virtual memory: error %d\n", (int)r);
		return 1;
	}
	hbuf = new unsigned[n];
	fill<<<64, 256>>>((unsigned *)(base + size), n, 13);
	if (!holds((unsigned *)(base + size), n, 13, hbuf, "its virtual memory"))
		return 1;
	printf("fault neighbour: filled its virtual memory\n");
	fflush(stdout);
	wait_file(gate);
	if (!holds((unsigned *)(base + size), n, 13, hbuf, "its virtual memory after the fault"))
		return 1;
	fill<<<64, 256>>>((unsigned *)(base + size), n, 17);
	if (!holds((unsigned *)(base + size), n, 17, hbuf, "its virtual memory, worked on after the fault"))
		return 1;
	r = cuMemUnmap(base + size, size);
	if (r == CUDA_SUCCESS)
		r = cuMemRelease(h);
	if (r == CUDA_SUCCESS)
		r = cuMemAddressFree(base, 2 * size);
	printf("fault neighbour: %s\n", r == CUDA_SUCCESS ? "PASS" : "its virtual memory let go: error");
	return r != CUDA_SUCCESS;
}

// In the middle of a stream capture at the fault (forked onto a second
// stream); after it, joins back, captures more, ends, launches and checks.
static int capture_under_way(const char *gate)
{
	const size_t n = 1 << 20;
	unsigned *d, *e, *h = new unsigned[n];
	cudaStream_t s, s2;
	cudaEvent_t fork, join;
	cudaStreamCaptureStatus st;
	cudaGraphExec_t x;
	cudaGraph_t g;
	cudaError_t r;

	cudaMalloc(&d, n * 4);
	cudaMalloc(&e, n * 4);
	cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking);
	cudaEventCreateWithFlags(&fork, cudaEventDisableTiming);
	cudaEventCreateWithFlags(&join, cudaEventDisableTiming);
	fill<<<64, 256>>>(d, n, 1);
	fill<<<64, 256>>>(e, n, 2);
	if (!holds(d, n, 1, h, "its data") || (r = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal))) {
		printf("fault neighbour: its capture: %s\n", cudaGetErrorName(cudaGetLastError()));
		return 1;
	}
	add<<<64, 256, 0, s>>>(d, n, 10);
	cudaEventRecord(fork, s);
	cudaStreamWaitEvent(s2, fork, 0);
	add<<<64, 256, 0, s2>>>(e, n, 20);
	cudaEventRecord(join, s2);
	printf("fault neighbour: filled, its capture under way\n");
	fflush(stdout);
	wait_file(gate);
	if ((r = cudaStreamIsCapturing(s, &st)) || st != cudaStreamCaptureStatusActive) {
		printf("fault neighbour: its capture after the fault: %s, status %d\n", cudaGetErrorName(r), (int)st);
		return 1;
	}
	cudaStreamWaitEvent(s, join, 0);
	add<<<64, 256, 0, s>>>(d, n, 100);
	if ((r = cudaStreamEndCapture(s, &g)) || (r = cudaGraphInstantiate(&x, g, 0)) || (r = cudaGraphLaunch(x, s)) ||
	    (r = cudaStreamSynchronize(s))) {
		printf("fault neighbour: its capture, ended after the fault: %s\n", cudaGetErrorName(r));
		return 1;
	}
	if (!holds(d, n, 111, h, "what its graph did to d") || !holds(e, n, 22, h, "... and to e"))
		return 1;
	printf("fault neighbour: PASS\n");
	return 0;
}

// A graph built node by node with a WHILE node (left = 3, the body
// count_down), and an executable graph of it, launched before the fault;
// after it: launched again, a node added to the body and the graph made
// executable anew, and a second handle of the graph the next value.
static int conditional(const char *gate)
{
	const size_t n = 1 << 20;
	unsigned *d, *h = new unsigned[n], ten = 10;
	int *left;
	cudaGraphConditionalHandle c, c2;
	cudaGraphNode_t nset, nloop, nk, nk2;
	cudaGraphExec_t x, y;
	cudaStream_t s;
	cudaGraph_t g;
	cudaError_t r;

	cudaMalloc(&d, n * 4);
	cudaMalloc(&left, sizeof(int));
	cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	fill<<<64, 256, 0, s>>>(d, n, 0);
	cudaGraphCreate(&g, 0);
	cudaMemsetParams ms = {};
	ms.dst = left;
	ms.value = 3;
	ms.elementSize = 4;
	ms.width = 1;
	ms.height = 1;
	cudaGraphAddMemsetNode(&nset, g, NULL, 0, &ms);
	cudaGraphConditionalHandleCreate(&c, g, 1, cudaGraphCondAssignDefault);
	cudaGraphNodeParams wp = {};
	wp.type = cudaGraphNodeTypeConditional;
	wp.conditional.handle = c;
	wp.conditional.type = cudaGraphCondTypeWhile;
	wp.conditional.size = 1;
	if ((r = cudaGraphAddNode(&nloop, g, &nset, NULL, 1, &wp))) {
		printf("fault neighbour: its conditional node: %s\n", cudaGetErrorName(r));
		return 1;
	}
	cudaGraph_t body = wp.conditional.phGraph_out[0];
	void *args[] = {&d, (void *)&n, &left, &c}, *args2[] = {&d, (void *)&n, &ten};
	cudaKernelNodeParams kp = {};
	kp.func = (void *)count_down;
	kp.gridDim = dim3((unsigned)(n / 256));
	kp.blockDim = dim3(256);
	kp.kernelParams = args;
	cudaKernelNodeParams kp2 = kp;
	kp2.func = (void *)add;
	kp2.kernelParams = args2;
	if ((r = cudaGraphAddKernelNode(&nk, body, NULL, 0, &kp)) || (r = cudaGraphInstantiate(&x, g, 0)) ||
	    (r = cudaGraphLaunch(x, s)) || (r = cudaStreamSynchronize(s))) {
		printf("fault neighbour: its conditional graph: %s\n", cudaGetErrorName(r));
		return 1;
	}
	if (!holds(d, n, 3, h, "its data after its loop ran three times"))
		return 1;
	printf("fault neighbour: filled, a conditional graph\n");
	fflush(stdout);
	wait_file(gate);
	if ((r = cudaGraphLaunch(x, s)) || (r = cudaStreamSynchronize(s))) {
		printf("fault neighbour: its conditional graph after the fault: %s\n", cudaGetErrorName(r));
		return 1;
	}
	if (!holds(d, n, 6, h, "its data after its executable graph ran after the fault"))
		return 1;
	/* A node added to the body once the graph was instantiated: the H200's
	 * driver (580) refuses it natively too (cudaErrorNotSupported; gpu-check
	 * 13, 2026-12-05), so that is no loss of the fault's. */
	r = cudaGraphAddKernelNode(&nk2, body, &nk, 1, &kp2);
	if (r == cudaErrorNotSupported) {
		printf("fault neighbour: a node added to its body: cudaErrorNotSupported, as natively\n");
	} else if (r || (r = cudaGraphInstantiate(&y, g, 0)) || (r = cudaGraphLaunch(y, s)) ||
		   (r = cudaStreamSynchronize(s))) {
		printf("fault neighbour: its body built on after the fault: %s\n", cudaGetErrorName(r));
		return 1;
	} else if (!holds(d, n, 6 + 3 * 11, h, "its data after the loop of a graph made after the fault")) {
		return 1;
	}
	if ((r = cudaGraphConditionalHandleCreate(&c2, g, 0, 0)) || c2 != c + 1) {
		printf("fault neighbour: its second handle: %s, %llu after %llu\n", cudaGetErrorName(r),
		       (unsigned long long)c2, (unsigned long long)c);
		return 1;
	}
	printf("fault neighbour: PASS\n");
	return 0;
}

static int link_under_way(const char *gate)
{
	const unsigned n = 4096;
	CUlinkState st;
	CUmodule mod;
	CUfunction k;
	unsigned *d, h[4096];
	void *cubin, *args[2] = {&d, (void *)&n};
	size_t size;
	CUresult r;

	cudaFree(0); // the runtime's context, current
	if ((r = cuLinkCreate(0, NULL, NULL, &st)) ||
	    (r = cuLinkAddData(st, CU_JIT_INPUT_PTX, (void *)caller_ptx, sizeof(caller_ptx), "caller.ptx", 0, NULL,
			       NULL))) {
		printf("fault neighbour: its link: error %d\n", (int)r);
		return 1;
	}
	for (unsigned i = 0; i < n; i++)
		h[i] = i;
	cudaMalloc(&d, sizeof(h));
	cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice);
	printf("fault neighbour: filled, its link under way\n");
	fflush(stdout);
	wait_file(gate);
	if ((r = cuLinkAddData(st, CU_JIT_INPUT_PTX, (void *)callee_ptx, sizeof(callee_ptx), "callee.ptx", 0, NULL,
			       NULL)) ||
	    (r = cuLinkComplete(st, &cubin, &size)) || (r = cuModuleLoadData(&mod, cubin)) ||
	    (r = cuLinkDestroy(st)) || (r = cuModuleGetFunction(&k, mod, "twice")) ||
	    (r = cuLaunchKernel(k, n / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL))) {
		printf("fault neighbour: its link after the fault: error %d\n", (int)r);
		return 1;
	}
	cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
	for (unsigned i = 0; i < n; i++)
		if (h[i] != 2 * i) {
			printf("fault neighbour: the linked kernel's word %u is %u, not %u\n", i, h[i], 2 * i);
			return 1;
		}
	printf("fault neighbour: PASS\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	char *buf;
	long long *out;

	if (!strcmp(m, "neighbour") && argc > 2)
		return neighbour(argv[2], false);
	if (!strcmp(m, "neighbour-sync") && argc > 2)
		return neighbour(argv[2], true);
	if (!strcmp(m, "ipc-export") && argc > 2)
		return ipc_export(argv[2]);
	if (!strcmp(m, "ipc-import") && argc > 2)
		return ipc_import(argv[2]);
	if (!strcmp(m, "vmm") && argc > 2)
		return vmm(argv[2]);
	if (!strcmp(m, "link") && argc > 2)
		return link_under_way(argv[2]);
	if (!strcmp(m, "capture") && argc > 2)
		return capture_under_way(argv[2]);
	if (!strcmp(m, "cond") && argc > 2)
		return conditional(argv[2]);
	cudaMalloc(&buf, 64);
	cudaMalloc(&out, 8);
	if (!strcmp(m, "illegal"))
		illegal<<<1, 32>>>((float *)0x10);
	else if (!strcmp(m, "trap"))
		trap<<<1, 1>>>();
	else if (!strcmp(m, "assert"))
		fail_assert<<<1, 1>>>(1);
	else if (!strcmp(m, "misaligned"))
		misaligned<<<1, 1>>>(buf, out);
	else if (!strcmp(m, "instruction"))
		instruction<<<1, 1>>>();
	else if (!strcmp(m, "pc"))
		bad_pc<<<1, 1>>>(0x10);
	else if (!strcmp(m, "stack"))
		overflow<<<1, 1>>>((unsigned *)out);
	else {
		fprintf(stderr, "usage: fault illegal|trap|assert|misaligned|instruction|pc|stack|neighbour FILE|"
				"neighbour-sync FILE|ipc-export FILE|ipc-import FILE|vmm FILE|link FILE|capture FILE|cond FILE\n");
		return 2;
	}
	printf("fault %s: synchronize = %s\n", m, cudaGetErrorName(cudaDeviceSynchronize()));
	return 0;
}
