/* The JIT linker with the driver API, as NVRTC programs, numba and CuPy use
 * it: the same program passes natively (a GPU) and through openmps.
 *   omps-link-probe
 * Two PTX inputs, one from memory and one from a file, where a kernel calls a
 * function the other defines, linked with log buffers, verbose logging and
 * the wall time asked for; the image loaded and its kernel run and checked.
 * Then the failures a program must be told of: PTX that does not parse
 * (CUDA_ERROR_INVALID_PTX, the error log says so), and a link that leaves
 * the call undefined (fails, with an error log). cuModuleLoadDataEx with log
 * buffers, of good PTX and of bad. Prints "link_probe: PASS"
 * or what failed. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "link_probe"
#define PROBE_FAIL return 1
#include "probe.h"

enum { N = 1000 };

static char info[8192], error[8192];

/* A link state with both logs, verbose, and the wall time asked for. */
static int create(CUlinkState *st, void **values)
{
	CUjit_option opt[6] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
			       CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE, CU_JIT_WALL_TIME};

	memset(info, 0, sizeof(info));
	memset(error, 0, sizeof(error));
	values[0] = info;
	values[1] = (void *)(uintptr_t)sizeof(info);
	values[2] = error;
	values[3] = (void *)(uintptr_t)sizeof(error);
	values[4] = (void *)(uintptr_t)1;
	values[5] = NULL;
	CK(cuLinkCreate(6, opt, values, st));
	return 0;
}

static int linked(void)
{
	char path[] = "/tmp/omps-link-probe.XXXXXX";
	unsigned host[N], i;
	void *values[6], *cubin = NULL;
	size_t size = 0;
	float ms;
	CUlinkState st;
	CUmodule mod;
	CUfunction fn;
	CUdeviceptr d;
	int fd = mkstemp(path);
	unsigned n = N;
	void *args[2] = {&d, &n};

	CHECK(fd >= 0 && write(fd, callee_ptx, strlen(callee_ptx)) == (ssize_t)strlen(callee_ptx) && close(fd) == 0,
	      "cannot write %s", path);
	if (create(&st, values))
		return 1;
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, (void *)caller_ptx, sizeof(caller_ptx), "caller.ptx", 0, NULL, NULL));
	CK(cuLinkAddFile(st, CU_JIT_INPUT_PTX, path, 0, NULL, NULL));
	unlink(path);
	CK(cuLinkComplete(st, &cubin, &size));
	CHECK(cubin && size > 0, "the linked image is %p, %zu bytes", cubin, size);
	memcpy(&ms, &values[5], sizeof(ms));
	CHECK(ms >= 0 && ms < 60000, "the wall time is %g ms", ms);
	CHECK(info[0] != '\0', "the info log is empty after a verbose link");
	CHECK((uintptr_t)values[1] > 0 && (uintptr_t)values[1] <= sizeof(info), "the info log's size says %zu",
	      (size_t)(uintptr_t)values[1]);
	printf("info log: %.*s\n", (int)strcspn(info, "\n"), info);
	CK(cuModuleLoadData(&mod, cubin));
	CK(cuLinkDestroy(st)); /* the module is loaded: the image may go */
	CK(cuModuleGetFunction(&fn, mod, "twice"));
	for (i = 0; i < N; i++)
		host[i] = i * 3 + 1;
	CK(cuMemAlloc(&d, sizeof(host)));
	CK(cuMemcpyHtoD(d, host, sizeof(host)));
	CK(cuLaunchKernel(fn, (N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(host, d, sizeof(host)));
	for (i = 0; i < N; i++)
		CHECK(host[i] == 2 * (i * 3 + 1), "element %u is %u, expected %u", i, host[i], 2 * (i * 3 + 1));
	CK(cuMemFree(d));
	CK(cuModuleUnload(mod));
	printf("linked kernel verified\n");
	return 0;
}

static int failures(void)
{
	static const char broken[] = ".version 8.0\n.target sm_90\nthis is not ptx;\n";
	void *values[6], *cubin;
	size_t size;
	CUlinkState st;
	CUresult r;

	if (create(&st, values))
		return 1;
	EXPECT(cuLinkAddData(st, CU_JIT_INPUT_PTX, (void *)broken, sizeof(broken), "broken.ptx", 0, NULL, NULL),
	       CUDA_ERROR_INVALID_PTX);
	CHECK(error[0] != '\0', "no error log for PTX that does not parse");
	printf("error log (bad PTX): %.*s\n", (int)strcspn(error, "\n"), error);
	CK(cuLinkDestroy(st));

	if (create(&st, values))
		return 1;
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, (void *)caller_ptx, sizeof(caller_ptx), "caller.ptx", 0, NULL, NULL));
	r = cuLinkComplete(st, &cubin, &size);
	CHECK(r != CUDA_SUCCESS, "a link with dbl undefined succeeded");
	CHECK(error[0] != '\0', "no error log for an undefined reference (result %d)", (int)r);
	printf("error log (undefined): %.*s\n", (int)strcspn(error, "\n"), error);
	CK(cuLinkDestroy(st));
	printf("link failures verified\n");
	return 0;
}

/* cuModuleLoadDataEx with log buffers: PTX JIT-compiled with its logs; PTX
 * that does not parse refused with its error log. */
static int load_ex(void)
{
	static const char broken[] = ".version 8.0\n.target sm_90\nnot ptx either;\n";
	CUjit_option opt[5] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
			       CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE};
	void *values[5] = {info, (void *)(uintptr_t)sizeof(info), error, (void *)(uintptr_t)sizeof(error),
			   (void *)(uintptr_t)1};
	unsigned host[N], i, n = N;
	CUdeviceptr d;
	CUmodule mod;
	CUfunction fn;
	void *args[2] = {&d, &n};

	memset(info, 0, sizeof(info));
	CK(cuModuleLoadDataEx(&mod, twice_ptx, 5, opt, values));
	/* The driver's JIT cache may answer without compiling, and then logs nothing. */
	CHECK((uintptr_t)values[1] <= sizeof(info), "the info log's size says %zu", (size_t)(uintptr_t)values[1]);
	printf("load info log: %.*s\n", (int)strcspn(info, "\n"), info);
	CK(cuModuleGetFunction(&fn, mod, "twice"));
	for (i = 0; i < N; i++)
		host[i] = i;
	CK(cuMemAlloc(&d, sizeof(host)));
	CK(cuMemcpyHtoD(d, host, sizeof(host)));
	CK(cuLaunchKernel(fn, (N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(host, d, sizeof(host)));
	for (i = 0; i < N; i++)
		CHECK(host[i] == 2 * i, "element %u is %u, expected %u", i, host[i], 2 * i);
	CK(cuMemFree(d));
	CK(cuModuleUnload(mod));
	memset(error, 0, sizeof(error));
	values[1] = (void *)(uintptr_t)sizeof(info);
	values[3] = (void *)(uintptr_t)sizeof(error);
	EXPECT(cuModuleLoadDataEx(&mod, broken, 5, opt, values), CUDA_ERROR_INVALID_PTX);
	CHECK(error[0] != '\0', "no error log for PTX that does not parse");
	printf("load error log: %.*s\n", (int)strcspn(error, "\n"), error);
	printf("cuModuleLoadDataEx with logs verified\n");
	return 0;
}

int main(void)
{
	CUcontext ctx;
	CUdevice dev;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	if (linked() || failures() || load_ex())
		return 1;
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("link_probe: PASS\n");
	return 0;
}
