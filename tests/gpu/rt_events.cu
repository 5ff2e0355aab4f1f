// Events: every creation flag, record, query, synchronize, elapsed time
// around a kernel of known length.
#define NAME "rt_events"
#include "check.cuh"

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
	spin<<<1, 1>>>(100 * 1000 * 1000); // about 50 ms at 2 GHz
	CK(cudaEventRecord(b, 0));
	CK(cudaEventRecord(blocking, 0));
	CK(cudaEventRecord(untimed, 0));
	cudaError_t q = cudaEventQuery(b);
	if (q != cudaErrorNotReady)
		printf("query of an event behind a 50 ms kernel: %s\n", cudaGetErrorName(q));
	EXPECT(q == cudaErrorNotReady);
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
