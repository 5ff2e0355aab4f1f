// cuBLAS: one SGEMM checked against a CPU product.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	const int n = 256;
	size_t bytes = n * n * sizeof(float);
	float *a = (float *)malloc(bytes), *b = (float *)malloc(bytes), *c = (float *)malloc(bytes), *da, *db, *dc;
	float one = 1.0f, zero = 0.0f;
	for (int i = 0; i < n * n; i++) {
		a[i] = (float)(i % 7) - 3.0f;
		b[i] = (float)(i % 5) * 0.25f;
	}
	cudaMalloc(&da, bytes);
	cudaMalloc(&db, bytes);
	cudaMalloc(&dc, bytes);
	cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice);
	cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice);
	cublasHandle_t h;
	cublasStatus_t s = cublasCreate(&h);
	if (s == CUBLAS_STATUS_SUCCESS)
		s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, da, n, db, n, &zero, dc, n);
	cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost);
	double worst = 0;
	for (int col = 0; col < n; col++)
		for (int row = 0; row < n; row++) {
			double ref = 0;
			for (int k = 0; k < n; k++)
				ref += (double)a[k * n + row] * b[col * n + k];
			double err = fabs(ref - c[col * n + row]);
			worst = err > worst ? err : worst;
		}
	int ok = s == CUBLAS_STATUS_SUCCESS && worst < 1e-2;
	printf("cublas_sgemm: %s (status %d, max error %g)\n", ok ? "PASS" : "FAIL", (int)s, worst);
	cublasDestroy(h);
	return !ok;
}
