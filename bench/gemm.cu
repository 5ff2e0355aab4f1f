// One worker of the matrix-multiply benchmark: SGEMM through cuBLAS on
// SIZE x SIZE matrices, from a common start time for a fixed time. Several
// workers run as processes, or as THREADS threads of one process, each with
// its own handle, stream and matrices.
//   gemm START DURATION_SECONDS SIZE [THREADS]   (START: as bench.h's bench_start)
// Prints "flops F seconds S" (2 SIZE^3 a multiply, all workers).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

static struct bench_line line; // arg and threads set by main
static double duration;
static int size;

/* Wall-clock time: the workers, separate processes, start at one instant. */
static double now(void)
{
	return bench_now(CLOCK_REALTIME);
}

static void *worker(void *out)
{
	double *flops = (double *)out;
	size_t bytes = (size_t)size * size * sizeof(float);
	const float one = 1.0f, zero = 0.0f;
	float *a, *b, *c;
	cublasHandle_t h;
	cudaStream_t s;
	int warm = !cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) && !cudaMalloc(&a, bytes) &&
		   !cudaMalloc(&b, bytes) && !cudaMalloc(&c, bytes) && !cudaMemset(a, 0, bytes) &&
		   !cudaMemset(b, 0, bytes) && cublasCreate(&h) == CUBLAS_STATUS_SUCCESS &&
		   cublasSetStream(h, s) == CUBLAS_STATUS_SUCCESS &&
		   !cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, size, size, size, &one, a, size, b, size, &zero, c, size) &&
		   !cudaStreamSynchronize(s); // warm up
	double start = bench_line_wait(&line);

	if (!warm)
		return NULL;
	while (now() < start + duration) {
		for (int k = 0; k < 4; k++)
			if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, size, size, size, &one, a, size, b, size, &zero, c,
					size))
				return NULL;
		if (cudaStreamSynchronize(s))
			return NULL;
		*flops += 4 * 2.0 * size * size * size;
	}
	cublasDestroy(h);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
	cudaStreamDestroy(s);
	return out;
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	double flops[64] = {0}, total = 0;
	int threads = argc > 4 ? atoi(argv[4]) : 1, failed = 0;
	void *ok;

	if (argc < 4 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: gemm START DURATION_SECONDS SIZE [THREADS]\n");
		return 2;
	}
	line.arg = argv[1];
	line.threads = threads;
	duration = atof(argv[2]);
	size = atoi(argv[3]);
	if (cudaFree(0)) {
		fprintf(stderr, "gemm: no CUDA device\n");
		return 1;
	}
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, &flops[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], &ok);
		failed |= !ok;
		total += flops[i];
	}
	if (failed) {
		fprintf(stderr, "gemm: a CUDA or cuBLAS call failed\n");
		return 1;
	}
	printf("flops %.0f seconds %.3f\n", total, now() - line.start);
	return 0;
}
