/* A learning aid for telling a fault's culprit apart beside busy
 * neighbours (issue 15): one context cannot say whose kernel faulted, but
 * the driver can write a GPU core dump on an exception, naming the grid
 * that faulted. Is a lightweight one, without the abort, quick enough to
 * take at every fault, and what does it hold? And does enabling it cost
 * launches anything when nothing faults?
 *   coredump_probe fault FILE   a lightweight dump to FILE, no abort; a
 *                               kernel writes to 0x10: prints the error,
 *                               the time from launch to the synchronize's
 *                               return, the file's size, and whether the
 *                               process goes on. Enabled for the context,
 *                               once made (no file was written so on the
 *                               H200, 2026-12-04)
 *   coredump_probe fault-global FILE
 *                               the same, enabled for the process before
 *                               its context is made
 *   coredump_probe fault-env FILE
 *                               the same, enabled by the caller's
 *                               environment (CUDA_ENABLE_COREDUMP_ON_EXCEPTION
 *                               and the rest, read at cuInit, as debuggers
 *                               document it)
 *   coredump_probe cost on|off  20,000 launches of an empty kernel and a
 *                               synchronize, with dumps enabled or not:
 *                               prints microseconds a launch
 * Prints lines that begin "coredump_probe: ". */
#include <cuda.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../e2e/twice_ptx.h"

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* The attributes as the driver takes them: a bool is one byte; the flags
 * an int. Each step that fails is said. */
static CUresult enable(const char *file, int global)
{
	CUresult (*set)(CUcoredumpSettings, void *, size_t *) = global ? cuCoredumpSetAttributeGlobal
								       : cuCoredumpSetAttribute;
	bool on = true;
	int flags = CU_COREDUMP_LIGHTWEIGHT_FLAGS | CU_COREDUMP_SKIP_ABORT;
	size_t size = sizeof(on);
	CUresult r = set(CU_COREDUMP_ENABLE_ON_EXCEPTION, &on, &size);

	if (r != CUDA_SUCCESS)
		return printf("coredump_probe: CU_COREDUMP_ENABLE_ON_EXCEPTION (a bool): error %d\n", (int)r), r;
	size = sizeof(flags);
	r = set(CU_COREDUMP_GENERATION_FLAGS, &flags, &size);
	if (r != CUDA_SUCCESS)
		return printf("coredump_probe: CU_COREDUMP_GENERATION_FLAGS (an int): error %d\n", (int)r), r;
	if (file) {
		size = strlen(file) + 1;
		r = set(CU_COREDUMP_FILE, (void *)file, &size);
		if (r != CUDA_SUCCESS)
			printf("coredump_probe: CU_COREDUMP_FILE: error %d\n", (int)r);
	}
	return r;
}

int main(int argc, char **argv)
{
	CUdeviceptr bad = 0x10, d;
	unsigned n = 32;
	void *args[2] = {&bad, &n};
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;
	CUdevice dev;
	struct stat st;
	double t0;
	CUresult r;

	if (argc < 3 || cuInit(0) || cuDeviceGet(&dev, 0))
		return printf("coredump_probe: usage: fault|fault-global|fault-env FILE | cost on|off (or no device)\n"), 2;
	if (!strcmp(argv[1], "fault-global") && (r = enable(argv[2], 1)))
		return printf("coredump_probe: enabling a lightweight dump for the process: error %d\n", (int)r), 1;
	if (cuCtxCreate(&ctx, NULL, 0, dev) || cuModuleLoadData(&mod, twice_ptx) ||
	    cuModuleGetFunction(&fn, mod, "twice"))
		return printf("coredump_probe: no context or module\n"), 2;
	if (!strcmp(argv[1], "cost")) {
		if (!strcmp(argv[2], "on") && (r = enable(NULL, 0)))
			return printf("coredump_probe: enabling dumps: error %d\n", (int)r), 1;
		n = 0;
		cuMemAlloc(&d, 4);
		args[0] = &d;
		cuCtxSynchronize();
		t0 = now_us();
		for (int i = 0; i < 20000; i++)
			cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL);
		r = cuCtxSynchronize();
		printf("coredump_probe: dumps %s: %.2f us a launch (%d)\n", argv[2], (now_us() - t0) / 20000, (int)r);
		return r != CUDA_SUCCESS;
	}
	if (!strcmp(argv[1], "fault") && (r = enable(argv[2], 0)))
		return printf("coredump_probe: enabling a lightweight dump without abort: error %d\n", (int)r), 1;
	t0 = now_us();
	cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL);
	r = cuCtxSynchronize();
	printf("coredump_probe: %s: the fault: error %d after %.1f ms; the dump: %lld bytes\n", argv[1], (int)r,
	       (now_us() - t0) / 1e3, stat(argv[2], &st) ? -1LL : (long long)st.st_size);
	printf("coredump_probe: the process goes on\n");
	return 0;
}
