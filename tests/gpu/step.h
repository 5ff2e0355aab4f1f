/* What the standalone driver-API programs of tests/gpu share: STEP(call)
 * makes the call and prints "PROBE: call = CUDA_ERROR_NAME", returning its
 * result. Define PROBE (the program's name, as its lines start) before
 * including it. */
#ifndef OPENMPS_GPU_STEP_H
#define OPENMPS_GPU_STEP_H

#include <cuda.h>
#include <stdio.h>

static CUresult step(const char *what, CUresult r)
{
	const char *name = "?";

	cuGetErrorName(r, &name);
	printf(PROBE ": %s = %s\n", what, name);
	return r;
}

#define STEP(call) step(#call, (call))

#endif
