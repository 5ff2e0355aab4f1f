// The idle neighbour of a GPU fault that holds a CUDA graph of library
// kernels (gpu-check 13): a captured graph of a cuBLAS SGEMM on
// stream-ordered memory and a kernel of its own, launched once, its
// result kept; then it waits until the file argv[1] exists, launches the
// graph again on fresh inputs (the same values) and compares bit for bit.
// Prints "graph neighbour: filled", then "graph neighbour: PASS" or what it
// found. Through openmps after another client's fault, server.log says
// whether the server kept it, or why not.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__global__ void scale(float *p, int n, float k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;

	if (i < n)
		p[i] *= k;
}

#define CHECK(x)                                                                        \
	do {                                                                            \
		cudaError_t e_ = (x);                                                   \
		if (e_ != cudaSuccess) {                                                \
			printf("graph neighbour: %s = %s\n", #x, cudaGetErrorName(e_)); \
			return 1;                                                       \
		}                                                                       \
	} while (0)

int main(int argc, char **argv)
{
	const int n = 256, nn = n * n;
	const size_t bytes = nn * sizeof(float);
	float *a = (float *)malloc(bytes), *b = (float *)malloc(bytes), *c0 = (float *)malloc(bytes),
	      *c1 = (float *)malloc(bytes), *da, *db, *dc, one = 1.0f, zero = 0.0f;
	cudaGraphExec_t x;
	cublasHandle_t h;
	cudaStream_t s;
	cudaGraph_t g;

	if (argc < 2)
		return 2;
	for (int i = 0; i < nn; i++) {
		a[i] = (float)(i % 7) - 3.0f;
		b[i] = (float)(i % 5) * 0.25f;
	}
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaMallocAsync(&da, bytes, s));
	CHECK(cudaMallocAsync(&db, bytes, s));
	CHECK(cudaMallocAsync(&dc, bytes, s));
	if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS || cublasSetStream(h, s) != CUBLAS_STATUS_SUCCESS) {
		printf("graph neighbour: cuBLAS did not start\n");
		return 1;
	}
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
	cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, da, n, db, n, &zero, dc, n);
	scale<<<(nn + 255) / 256, 256, 0, s>>>(dc, nn, 0.5f);
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaGraphInstantiate(&x, g, 0));
	CHECK(cudaMemcpyAsync(da, a, bytes, cudaMemcpyHostToDevice, s));
	CHECK(cudaMemcpyAsync(db, b, bytes, cudaMemcpyHostToDevice, s));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaMemcpyAsync(c0, dc, bytes, cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	printf("graph neighbour: filled\n");
	fflush(stdout);
	while (access(argv[1], F_OK) < 0)
		usleep(10000);
	CHECK(cudaMemsetAsync(dc, 0, bytes, s));
	CHECK(cudaMemcpyAsync(da, a, bytes, cudaMemcpyHostToDevice, s));
	CHECK(cudaMemcpyAsync(db, b, bytes, cudaMemcpyHostToDevice, s));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaMemcpyAsync(c1, dc, bytes, cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	if (memcmp(c0, c1, bytes)) {
		printf("graph neighbour: the graph's result differs after the fault\n");
		return 1;
	}
	printf("graph neighbour: PASS\n");
	return 0;
}
