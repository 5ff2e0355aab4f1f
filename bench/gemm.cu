// One worker of the matrix-multiply benchmark: SGEMM through cuBLAS on
// SIZE x SIZE matrices, from a common start time for a fixed time. Several
// workers run as processes, or as THREADS threads of one process, each with
// its own handle, stream and matrices.
//   gemm START DURATION_SECONDS SIZE [THREADS]   (START: as bench.h's bench_start)
// Prints "flops F seconds S" (2 SIZE^3 a multiply, all workers).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdbool.h>
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

/* A failed call is said with its name and error: a worker that fails is left
 * out of the count, and bench/run shows the first lines it printed. */
#define CUDA_OK(call) ok_cuda((call), #call)
#define BLAS_OK(call) ok_blas((call), #call)
static bool ok_cuda(cudaError_t e, const char *what)
{
	if (e != cudaSuccess)
		fprintf(stderr, "gemm %d: %s: %s\n", size, what, cudaGetErrorString(e));
	return e == cudaSuccess;
}

static bool ok_blas(cublasStatus_t e, const char *what)
{
	if (e != CUBLAS_STATUS_SUCCESS)
		fprintf(stderr, "gemm %d: %s: %s\n", size, what, cublasGetStatusString(e));
	return e == CUBLAS_STATUS_SUCCESS;
}

static bool multiply(cublasHandle_t h, const float *a, const float *b, float *c)
{
	const float one = 1.0f, zero = 0.0f;

	return BLAS_OK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, size, size, size, &one, a, size, b, size, &zero, c,
				   size));
}

static void *worker(void *out)
{
	double *flops = (double *)out;
	size_t bytes = (size_t)size * size * sizeof(float);
	float *a = NULL, *b = NULL, *c = NULL;
	cublasHandle_t h = NULL;
	cudaStream_t s = NULL;
	bool ok = CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)) && CUDA_OK(cudaMalloc(&a, bytes)) &&
		  CUDA_OK(cudaMalloc(&b, bytes)) && CUDA_OK(cudaMalloc(&c, bytes)) &&
		  CUDA_OK(cudaMemset(a, 0, bytes)) && CUDA_OK(cudaMemset(b, 0, bytes)) && BLAS_OK(cublasCreate(&h)) &&
		  BLAS_OK(cublasSetStream(h, s)) && multiply(h, a, b, c) &&
		  CUDA_OK(cudaStreamSynchronize(s)); // warm up
	double start = bench_line_wait(&line); // reached even after a failure: the others wait for it

	while (ok && now() < start + duration) {
		for (int k = 0; ok && k < 4; k++)
			ok = multiply(h, a, b, c);
		ok = ok && CUDA_OK(cudaStreamSynchronize(s));
		if (ok)
			*flops += 4 * 2.0 * size * size * size;
	}
	if (h)
		cublasDestroy(h);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
	if (s)
		cudaStreamDestroy(s);
	return ok ? out : NULL;
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
		fprintf(stderr, "gemm %d: a worker failed (said above)\n", size);
		return 1;
	}
	printf("flops %.0f seconds %.3f\n", total, now() - line.start);
	return 0;
}
