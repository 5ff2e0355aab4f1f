// Events: every creation flag, record, query, synchronize, elapsed time
// around a kernel of known length.
#define NAME "rt_events"
#include "check.cuh"

#include <time.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(void)
{
	cudaEvent_t a, b, blocking, untimed;
	float ms = 0;

	CK(cudaEventCreate(&a));
	CK(cudaEventCreateWithFlags(&b, cudaEventDefault));
	CK(cudaEventCreateWithFlags(&blocking, cudaEventBlockingSync));
	CK(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming));
	spin<<<1, 1>>>(1000); // warm
	CK(cudaDeviceSynchronize());
	CK(cudaEventRecord(a, 0));
	double launched = now_ms();
	spin<<<1, 1>>>(100 * 1000 * 1000); // about 50 ms at 2 GHz
	CK(cudaEventRecord(b, 0));
	CK(cudaEventRecord(blocking, 0));
	CK(cudaEventRecord(untimed, 0));
	cudaError_t q = cudaEventQuery(b);
	double waited = now_ms() - launched;
	if (q != cudaErrorNotReady) {
		float k = -1;
		cudaEventSynchronize(b);
		cudaEventElapsedTime(&k, a, b);
		printf("query of an event behind a 50 ms kernel: %s, %.1f ms after the launch; the kernel took %.1f ms\n",
		       cudaGetErrorName(q), waited, k);
		// Done is right only if the query came after the kernel: with other
		// processes on the GPU (8 at once), the driver can hold up a call that
		// long (docs/architecture.md, "Calls one client makes can wait").
		EXPECT(q == cudaSuccess && waited >= k);
	}
	CK(cudaEventSynchronize(blocking));
	CK(cudaEventSynchronize(b));
	EXPECT(cudaEventQuery(b) == cudaSuccess && cudaEventQuery(untimed) == cudaSuccess);
	CK(cudaEventElapsedTime(&ms, a, b));
	EXPECT(ms > 2.0f && ms < 1000.0f);
	EXPECT(cudaEventElapsedTime(&ms, a, untimed) == cudaErrorInvalidResourceHandle);
	printf("kernel of 100M cycles: %.2f ms\n", ms);
	CK(cudaEventDestroy(a));
	CK(cudaEventDestroy(b));
	CK(cudaEventDestroy(blocking));
	CK(cudaEventDestroy(untimed));
	return pass();
}
