/* A client whose kernel writes where it has no memory, as
 * bad<<<1,32>>>((float *)0x10) does: on a GPU (and in fakecuda with
 * FAKECUDA_STICKY_FAULTS=1) the launch succeeds and the fault poisons the
 * context.
 *   omps-fault-probe            then synchronizes: prints what that returned
 *   omps-fault-probe --no-sync  then sleeps, waiting for nothing (30 s at most)
 * Prints "fault_probe: launched", then "fault_probe: synchronize = CODE". */
#include <cuda.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "fault_probe"
#define PROBE_FAIL return 1
#include "probe.h"

int main(int argc, char **argv)
{
	CUdeviceptr bad = 0x10;
	unsigned int n = 32;
	void *args[2] = {&bad, &n};
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CK(cuInit(0));
	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&fn, mod, "twice"));
	CK(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	printf(PROBE ": launched\n");
	if (argc > 1 && !strcmp(argv[1], "--no-sync")) {
		sleep(30);
		return 0;
	}
	printf(PROBE ": synchronize = %d\n", (int)cuCtxSynchronize());
	return 0;
}
