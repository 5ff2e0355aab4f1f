// Programs that end badly, for the liveness soak (scripts/gpu-check.d/11):
//   misbehave unsupported   a call openmps does not remote yet, then exit 1
//   misbehave pending       kernels and copies queued, then exit without a synchronize
//   misbehave hostfn        a host function still pending at exit
//   misbehave spin          a kernel of a few seconds (the soak kills it midway)
//   misbehave early         exit before the first CUDA call returns its work
// Each prints "misbehave MODE: done" if it got as far as it meant to.
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__global__ void spin_for(long long cycles)
{
	long long t0 = clock64();
	while (clock64() - t0 < cycles)
		;
}

static void CUDART_CB slow(void *arg)
{
	(void)arg;
	sleep(2);
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	int *d = NULL, *h = NULL;
	cudaStream_t s;

	if (!strcmp(m, "early")) {
		cudaFree(0);
		printf("misbehave early: done\n");
		return 0;
	}
	cudaStreamCreate(&s);
	cudaMalloc(&d, 64 << 20);
	cudaMallocHost(&h, 4 << 20);
	if (!strcmp(m, "unsupported")) {
		cudaChannelFormatDesc desc = cudaCreateChannelDesc<float>();
		cudaArray_t array;
		cudaError_t e = cudaMallocArray(&array, &desc, 64, 64); /* CUDA arrays: not remoted yet */

		printf("misbehave unsupported: done (%s)\n", cudaGetErrorName(e));
		return 1;
	}
	if (!strcmp(m, "pending")) {
		for (int i = 0; i < 50; i++) {
			spin_for<<<132, 128, 0, s>>>(2000000);
			cudaMemcpyAsync(h, d, 4 << 20, cudaMemcpyDeviceToHost, s);
		}
		printf("misbehave pending: done\n");
		return 0;
	}
	if (!strcmp(m, "hostfn")) {
		spin_for<<<1, 1, 0, s>>>(100000000);
		cudaLaunchHostFunc(s, slow, NULL);
		spin_for<<<1, 1, 0, s>>>(1000);
		printf("misbehave hostfn: done\n");
		return 0;
	}
	if (!strcmp(m, "spin")) {
		printf("misbehave spin: done\n");
		fflush(stdout);
		spin_for<<<132, 128, 0, s>>>(10000000000LL);
		cudaStreamSynchronize(s);
		return 0;
	}
	fprintf(stderr, "misbehave: unsupported|pending|hostfn|spin|early\n");
	return 2;
}
