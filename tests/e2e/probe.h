/* What the driver-API probes share: checks that print the call, the code
 * it returned and the one expected. Before including it, a probe defines
 * PROBE (its name, as its lines start) and PROBE_FAIL (what a failed check
 * does: return 1, or goto its cleanup). */
#ifndef OPENMPS_E2E_PROBE_H
#define OPENMPS_E2E_PROBE_H

#include <stdio.h>

#define CK(call) EXPECT(call, CUDA_SUCCESS)
#define EXPECT(call, want)                                                                            \
	do {                                                                                          \
		CUresult r_ = (call);                                                                 \
		if (r_ != (want)) {                                                                   \
			printf(PROBE ": FAIL %s = %d, expected %d\n", #call, (int)r_, (int)(want));  \
			PROBE_FAIL;                                                                   \
		}                                                                                     \
	} while (0)
#define CHECK(cond, ...)                              \
	do {                                          \
		if (!(cond)) {                        \
			printf(PROBE ": FAIL ");      \
			printf(__VA_ARGS__);          \
			printf("\n");                 \
			PROBE_FAIL;                   \
		}                                     \
	} while (0)

#endif
