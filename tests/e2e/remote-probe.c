/* A driver-API program for remote mode: device queries, a context, and
 * memory through the server, checked against what it wrote.
 *   omps-remote-probe [--bytes N] [--hold-ms T] [--gate FILE] [--leak]
 *     (--hold-ms and --gate wait after allocating: T ms, or until FILE exists)
 *   omps-remote-probe --reuse [--bytes N]
 *   omps-remote-probe --module-hold T --smem V [--cluster W] [--counter] [--read-smem]
 *     (--read-smem: after the hold, reads the function's shared memory limit
 *     and raises it only when below V, as the CUDA runtime does)
 *   omps-remote-probe --paced T
 *     (posts an asynchronous memset every 200 us for T ms, as a host-bound
 *     program launches: how long the server spins between them shows)
 *   omps-remote-probe --waits N
 *     (records and synchronizes its event N times, each said as below)
 * Its event synchronize says when it starts, then how long it waited and
 * the CPU time it took.
 * Prints one fact a line and ends with "remote_probe: PASS" or with the
 * first call that failed: "remote_probe: FAIL cuXxx = <code>". */
#include <cuda.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "twice_ptx.h"

#define CK(call) EXPECT(call, CUDA_SUCCESS)

#define EXPECT(call, want)                                                                          \
	do {                                                                                        \
		CUresult r_ = (call);                                                               \
		if (r_ != (want)) {                                                                 \
			if ((want) == CUDA_SUCCESS)                                                 \
				printf("remote_probe: FAIL %s = %d\n", #call, (int)r_);           \
			else                                                                        \
				printf("remote_probe: FAIL %s = %d, expected %d\n", #call, (int)r_, \
				       (int)(want));                                                \
			goto out;                                                                   \
		}                                                                                   \
	} while (0)

static double ms_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"bytes", required_argument, 0, 'b'},
					      {"hold-ms", required_argument, 0, 'h'},
					      {"leak", no_argument, 0, 'l'},
					      {"reuse", no_argument, 0, 'r'},
					      {"module-hold", required_argument, 0, 'm'},
					      {"smem", required_argument, 0, 's'},
					      {"counter", no_argument, 0, 'c'},
					      {"cluster", required_argument, 0, 'w'},
					      {"gate", required_argument, 0, 'g'},
					      {"read-smem", no_argument, 0, 'q'},
					      {"paced", required_argument, 0, 'p'},
					      {"waits", required_argument, 0, 'n'},
					      {0, 0, 0, 0}};
	size_t bytes = 6 << 20, free0, free1, total, i, n;
	int opt, hold = 0, leak = 0, reuse = 0, module_hold = -1, smem = 0, counter = 0, cluster = 0, count, sms;
	int read_smem = 0, limit = 0, paced = -1, waits = 1, k;
	unsigned int *host, *out, nn, nfn;
	CUdeviceptr a = 0, b = 0;
	CUmodule mod = NULL;
	static unsigned char zeros[64]; /* not a function the shim handed out */
	CUfunction fn, bogus = (CUfunction)zeros;
	size_t off, sz, psz;
	struct {
		CUdeviceptr p;
		unsigned int n, pad;
	} packed;
	void *args[2], *extra[5];
	int status = 1;
	CUcontext ctx;
	char name[128];
	CUdevice dev;
	CUstream s = NULL;
	CUevent e0 = NULL, e1 = NULL;
	void *args_b[2];
	float ms = -1;
	double t0, c0;
	const char *gate = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0); /* tests watch its progress */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'b')
			bytes = strtoul(optarg, NULL, 10) & ~(size_t)7;
		else if (opt == 'h')
			hold = atoi(optarg);
		else if (opt == 'l')
			leak = 1;
		else if (opt == 'g')
			gate = optarg;
		else if (opt == 'r')
			reuse = 1;
		else if (opt == 'm')
			module_hold = atoi(optarg);
		else if (opt == 's')
			smem = atoi(optarg);
		else if (opt == 'c')
			counter = 1; /* the image with a module global */
		else if (opt == 'w')
			cluster = atoi(optarg);
		else if (opt == 'q')
			read_smem = 1;
		else if (opt == 'p')
			paced = atoi(optarg);
		else if (opt == 'n')
			waits = atoi(optarg);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = bytes / 4;
	host = malloc(bytes);
	out = malloc(bytes);
	CK(cuInit(0));
	CK(cuDeviceGetCount(&count));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDeviceGetName(name, sizeof(name), dev));
	CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
	printf("devices %d\nname %s\nsms %d\n", count, name, sms);
	EXPECT(cuMemAlloc(&a, bytes), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	if (paced >= 0) {
		CK(cuMemAlloc(&a, 4));
		for (i = 0; i < (size_t)paced * 5; i++) {
			CK(cuMemsetD32Async(a, (unsigned int)i, 1, NULL));
			usleep(200);
		}
		CK(cuCtxSynchronize());
		printf("remote_probe: PASS\n");
		status = 0;
		goto out;
	}
	if (reuse) { /* what another client left must not show: then leave some */
		CK(cuMemAlloc(&a, bytes));
		CK(cuMemcpyDtoH(out, a, bytes));
		for (i = 0; i < n && !out[i]; i++)
			;
		printf("got 0x%llx, %s\n", (unsigned long long)a, i == n ? "all zero" : "NOT ZERO");
		CK(cuMemsetD32(a, 0xabababab, n));
		CK(cuCtxSynchronize());
		CK(cuMemFree(a));
		a = 0;
		printf("remote_probe: PASS\n");
		status = 0;
		goto out;
	}
	if (module_hold >= 0) { /* a module, held a while, then a function attribute set */
		nn = 256;
		args[0] = &a;
		args[1] = &nn;
		CK(cuMemAlloc(&a, 1024));
		CK(cuModuleLoadData(&mod, counter ? twice_counter_ptx : twice_ptx));
		CK(cuModuleGetFunction(&fn, mod, "twice"));
		for (i = 0; i < 2; i++) {
			CK(cuMemsetD32(a, 21, 256));
			/* After the hold, with the dynamic shared memory just allowed. */
			CK(cuLaunchKernel(fn, 1, 1, 1, 256, 1, 1, i ? (unsigned int)smem : 0, NULL, args, NULL));
			CK(cuMemcpyDtoH(out, a, 1024));
			if (out[0] != 42 || out[255] != 42) {
				printf("remote_probe: FAIL the kernel gave %u\n", out[0]);
				goto out;
			}
			if (i)
				break;
			printf("loaded\n");
			/* T ms, or until the file OMPS_PROBE_RELEASE names exists. */
			for (n = 0; n < (size_t)module_hold / 10; n++) {
				const char *go = getenv("OMPS_PROBE_RELEASE");

				if (go && access(go, F_OK) == 0)
					break;
				usleep(10000);
			}
			if (read_smem) {
				CK(cuFuncGetAttribute(&limit, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, fn));
				printf("limit %d\n", limit);
			}
			if (!read_smem || limit < smem)
				CK(cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem));
			if (cluster)
				CK(cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH, cluster));
		}
		CK(cuModuleUnload(mod));
		printf("remote_probe: PASS\n");
		status = 0;
		goto out;
	}
	CK(cuMemGetInfo(&free0, &total));
	CK(cuMemAlloc(&a, bytes));
	CK(cuMemAlloc(&b, bytes));
	CK(cuMemGetInfo(&free1, &total));
	printf("allocated %zu bytes of %zu free\n", free0 - free1, free0);
	if (hold)
		usleep((useconds_t)hold * 1000);
	while (gate && access(gate, F_OK) < 0)
		usleep(10000);
	for (i = 0; i < n; i++)
		host[i] = (unsigned int)(i * 2654435761u);
	CK(cuMemsetD32(a, 0x01020304u, n));
	CK(cuMemcpyHtoD(b, host, bytes));
	CK(cuMemcpyDtoD(a + bytes / 2, b, bytes / 2));
	CK(cuMemcpyDtoH(out, a, bytes));
	for (i = 0; i < n; i++)
		if (out[i] != (i < n / 2 ? 0x01020304u : host[i - n / 2])) {
			printf("remote_probe: FAIL word %zu is 0x%08x\n", i, out[i]);
			goto out;
		}
	printf("data verified\n");
	/* Another process's memory, or none: refused, and nothing else changes. */
	EXPECT(cuMemFree((CUdeviceptr)0xdead0000), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemsetD32(a + bytes - 4, 0, 2)); /* one word past the end: reported at the next sync */
	EXPECT(cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
	CK(cuCtxSynchronize());
	EXPECT(cuMemcpyDtoH(out, a + bytes - 4, 8), CUDA_ERROR_INVALID_VALUE);
	{
		CUgraphicsResource res = NULL;

		EXPECT(cuGraphicsMapResources(1, &res, NULL), CUDA_ERROR_NOT_SUPPORTED); /* not remoted yet */
	}

	/* Kernels: load, describe, launch with kernelParams and with a packed buffer. */
	CK(cuModuleLoadData(&mod, twice_ptx));
	EXPECT(cuModuleGetFunction(&fn, mod, "nosuch"), CUDA_ERROR_NOT_FOUND);
	CK(cuModuleGetFunction(&fn, mod, "twice"));
	CK(cuModuleGetFunctionCount(&nfn, mod));
	printf("module functions: %u\n", nfn);
	if (!nfn) {
		printf("remote_probe: FAIL a module of no functions\n");
		goto out;
	}
	CK(cuFuncGetParamInfo(fn, 1, &off, &sz));
	printf("param 1 at %zu, %zu bytes\n", off, sz);
	nn = (unsigned int)n;
	CK(cuMemsetD32(a, 21, n));
	args[0] = &a;
	args[1] = &nn;
	CK(cuLaunchKernel(fn, (nn + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	packed.p = a;
	packed.n = nn;
	packed.pad = 0;
	psz = sizeof(packed);
	extra[0] = CU_LAUNCH_PARAM_BUFFER_POINTER;
	extra[1] = &packed;
	extra[2] = CU_LAUNCH_PARAM_BUFFER_SIZE;
	extra[3] = &psz;
	extra[4] = CU_LAUNCH_PARAM_END;
	CK(cuLaunchKernel(fn, (nn + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, NULL, extra));
	CK(cuMemcpyDtoH(out, a, bytes));
	for (i = 0; i < n; i++)
		if (out[i] != 84) {
			printf("remote_probe: FAIL after two launches word %zu is %u\n", i, out[i]);
			goto out;
		}
	EXPECT(cuLaunchKernel(bogus, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_HANDLE);

	/* A stream of its own, events on it, the NULL stream waiting for it. */
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&e0, CU_EVENT_DEFAULT));
	CK(cuEventCreate(&e1, CU_EVENT_DEFAULT));
	CK(cuEventRecord(e0, s));
	CK(cuMemsetD32Async(b, 5, n, s));
	args_b[0] = &b;
	args_b[1] = &nn;
	CK(cuLaunchKernel(fn, (nn + 255) / 256, 1, 1, 256, 1, 1, 0, s, args_b, NULL));
	CK(cuEventRecord(e1, s));
	CK(cuStreamWaitEvent(NULL, e1, 0));
	for (k = 0; k < waits; k++) {
		if (k)
			CK(cuEventRecord(e1, s));
		printf("event synchronize: waiting\n");
		t0 = ms_now(CLOCK_MONOTONIC);
		c0 = ms_now(CLOCK_THREAD_CPUTIME_ID);
		CK(cuEventSynchronize(e1));
		printf("event synchronize: waited %.1f ms, %.2f ms of CPU\n", ms_now(CLOCK_MONOTONIC) - t0,
		       ms_now(CLOCK_THREAD_CPUTIME_ID) - c0);
	}
	CK(cuEventQuery(e1));
	CK(cuStreamQuery(s));
	CK(cuEventElapsedTime(&ms, e0, e1));
	CK(cuMemcpyDtoHAsync(out, b, bytes, s));
	CK(cuStreamSynchronize(s));
	for (i = 0; i < n; i++)
		if (out[i] != 10) {
			printf("remote_probe: FAIL on its stream word %zu is %u\n", i, out[i]);
			goto out;
		}
	EXPECT(cuEventRecord((CUevent)zeros, s), CUDA_ERROR_INVALID_HANDLE);
	CK(cuEventDestroy(e0));
	e0 = NULL;
	CK(cuEventDestroy(e1));
	e1 = NULL;
	CK(cuStreamDestroy(s));
	s = NULL;
	printf("streams verified (%s elapsed)\n", ms >= 0 ? "non-negative" : "negative");
	CK(cuModuleUnload(mod));
	EXPECT(cuModuleUnload(mod), CUDA_ERROR_INVALID_HANDLE);
	mod = NULL;
	printf("kernels verified\n");
	if (leak) {
		printf("remote_probe: PASS (leaving its memory)\n");
		a = b = 0; /* the server frees them, not us */
		status = 0;
		goto out;
	}
	CK(cuMemFree(a));
	CK(cuMemFree(b));
	EXPECT(cuMemFree(a), CUDA_ERROR_INVALID_VALUE);
	a = b = 0;
	printf("remote_probe: PASS\n");
	status = 0;
out: /* also after a failure: what it made is let go, so that LeakSanitizer sees none */
	if (e0)
		cuEventDestroy(e0);
	if (e1)
		cuEventDestroy(e1);
	if (s)
		cuStreamDestroy(s);
	if (a)
		cuMemFree(a);
	if (b)
		cuMemFree(b);
	free(host);
	free(out);
	return status;
}
