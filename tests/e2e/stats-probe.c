/* A client of known work, for what the server counts of it (ps --json,
 * the metrics endpoint):
 *   omps-stats-probe N BYTES GATE [PACE_MS]
 *     its kernel's register count asked 100 times (the server is asked
 *     once: the shim keeps what no call can change); N times: a copy of
 *     BYTES to the device, then a kernel on them; one
 *     copy of BYTES back, checked; prints "stats_probe: worked", and stays
 *     (its counters with it) until the file GATE exists: idle, or with
 *     PACE_MS a copy and a kernel, PACE_MS milliseconds, a synchronize, and
 *     again: work queued on the GPU nearly all the time. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "stats_probe"
#define PROBE_FAIL return 1
#include "probe.h"

int main(int argc, char **argv)
{
	unsigned *host, words, i, k, n;
	CUdeviceptr dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;
	void *args[2] = {&dev, &words};
	size_t bytes;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: omps-stats-probe N BYTES GATE [PACE_MS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = (unsigned)atoi(argv[1]);
	bytes = strtoul(argv[2], NULL, 10) & ~(size_t)3;
	words = (unsigned)(bytes / 4);
	host = malloc(bytes);
	CHECK(host && words, "no memory for %zu bytes", bytes);
	for (i = 0; i < words; i++)
		host[i] = i;
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&dev, bytes));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&fn, mod, "twice"));
	for (k = 0; k < 100; k++) {
		int regs = -1;

		CK(cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, fn));
		CHECK(regs >= 0, "a register count of %d", regs);
	}
	for (k = 0; k < n; k++) {
		CK(cuMemcpyHtoD(dev, host, bytes));
		CK(cuLaunchKernel(fn, (words + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	}
	CK(cuMemcpyDtoH(host, dev, bytes));
	for (i = 0; i < words; i++)
		CHECK(host[i] == (n ? 2 * i : i), "word %u is %u", i, host[i]);
	printf(PROBE ": worked\n");
	while (access(argv[3], F_OK) < 0) {
		if (argc < 5) {
			usleep(10000);
			continue;
		}
		CK(cuMemcpyHtoD(dev, host, bytes));
		CK(cuLaunchKernel(fn, (words + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
		usleep((useconds_t)atoi(argv[4]) * 1000); /* its work queued all the while */
		CK(cuCtxSynchronize());
	}
	free(host);
	printf(PROBE ": PASS\n");
	return 0;
}
