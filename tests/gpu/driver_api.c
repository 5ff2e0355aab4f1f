/* Driver API: context, allocation, memset, copies, a PTX module and a
 * launch, checked against the CPU. */
#include <cuda.h>
#include <stdio.h>

#include "../e2e/twice_ptx.h"

#define CK(x)                                                                        \
	do {                                                                         \
		CUresult r_ = (x);                                                   \
		if (r_ != CUDA_SUCCESS) {                                            \
			const char *s_ = "?";                                        \
			cuGetErrorName(r_, &s_);                                     \
			printf("driver_api: FAIL %s = %s\n", #x, s_);                \
			return 1;                                                    \
		}                                                                    \
	} while (0)

int main(void)
{
	unsigned int host[4096], n = 4096, i, bad = 0;
	CUdeviceptr d;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdevice dev;
	void *args[] = {&d, &n};

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, sizeof(host)));
	CK(cuMemsetD32(d, 21, n));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuLaunchKernel(f, n / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(host, d, sizeof(host)));
	for (i = 0; i < n; i++)
		bad += host[i] != 42;
	CK(cuMemFree(d));
	CK(cuModuleUnload(mod));
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("driver_api: %s (%u wrong)\n", bad ? "FAIL" : "PASS", bad);
	return bad != 0;
}
