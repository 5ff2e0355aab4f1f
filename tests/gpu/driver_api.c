/* Driver API: context, allocation, memset, copies, a PTX module and a
 * launch, checked against the CPU. */
#include <cuda.h>
#include <stdio.h>

static const char *ptx = ".version 8.0\n.target sm_90\n.address_size 64\n"
			 ".visible .entry twice(.param .u64 p, .param .u32 n)\n{\n"
			 " .reg .b32 r<6>; .reg .b64 rd<5>; .reg .pred q;\n"
			 " ld.param.u64 rd1, [p]; ld.param.u32 r1, [n];\n"
			 " mov.u32 r2, %ctaid.x; mov.u32 r3, %ntid.x; mov.u32 r4, %tid.x;\n"
			 " mad.lo.s32 r5, r2, r3, r4; setp.ge.u32 q, r5, r1; @q bra done;\n"
			 " cvta.to.global.u64 rd2, rd1; mul.wide.u32 rd3, r5, 4; add.s64 rd4, rd2, rd3;\n"
			 " ld.global.u32 r2, [rd4]; shl.b32 r2, r2, 1; st.global.u32 [rd4], r2;\n"
			 "done:\n ret;\n}\n";

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
	CK(cuModuleLoadData(&mod, ptx));
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
