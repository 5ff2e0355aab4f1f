// What every GPU-suite program shares: NAME is set before including this.
// A program prints "NAME: PASS", or "NAME: FAIL <what>" for the first check
// that failed, and exits 0 or 1.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK(call)                                                                                         \
	do {                                                                                             \
		cudaError_t e_ = (call);                                                                 \
		if (e_ != cudaSuccess) {                                                                 \
			printf("%s: FAIL %s = %s (line %d)\n", NAME, #call, cudaGetErrorName(e_), __LINE__); \
			exit(1);                                                                         \
		}                                                                                        \
	} while (0)

#define EXPECT(cond)                                                               \
	do {                                                                       \
		if (!(cond)) {                                                     \
			printf("%s: FAIL %s (line %d)\n", NAME, #cond, __LINE__); \
			exit(1);                                                   \
		}                                                                  \
	} while (0)

static inline int pass(void)
{
	printf("%s: PASS\n", NAME);
	return 0;
}

// Spins for about `ns` nanoseconds of GPU time.
__global__ void spin(long long ns)
{
	long long t0 = clock64();
	while (clock64() - t0 < ns)
		;
}
