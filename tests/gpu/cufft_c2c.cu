// cuFFT as CuPy calls it: a plan for a batch of 1D complex transforms, a
// forward transform checked bin by bin against a DFT on the CPU, and the
// inverse, which gives back n times the input.
#define NAME "cufft_c2c"
#include "check.cuh"
#include <cufft.h>
#include <math.h>

#define CF(call)                                                                               \
	do {                                                                                   \
		cufftResult r_ = (call);                                                       \
		if (r_ != CUFFT_SUCCESS) {                                                     \
			printf("%s: FAIL %s = %d (line %d)\n", NAME, #call, (int)r_, __LINE__); \
			exit(1);                                                               \
		}                                                                              \
	} while (0)

int main(void)
{
	const int n = 1024, batch = 4;
	const size_t bytes = sizeof(cufftComplex) * n * batch;
	cufftComplex *h = (cufftComplex *)malloc(bytes), *f = (cufftComplex *)malloc(bytes), *d;
	cufftHandle plan;
	cudaStream_t s;

	for (int i = 0; i < n * batch; i++) {
		h[i].x = (float)((i * 7919) % 97) / 97.0f - 0.5f;
		h[i].y = (float)((i * 104729) % 89) / 89.0f - 0.5f;
	}
	CK(cudaStreamCreate(&s));
	CK(cudaMalloc(&d, bytes));
	CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
	CF(cufftPlan1d(&plan, n, CUFFT_C2C, batch));
	CF(cufftSetStream(plan, s));
	CF(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
	CK(cudaStreamSynchronize(s));
	CK(cudaMemcpy(f, d, bytes, cudaMemcpyDeviceToHost));
	for (int b = 0; b < batch; b++)
		for (int k = 0; k < n; k += 37) {
			double re = 0, im = 0;
			for (int j = 0; j < n; j++) {
				double a = -2.0 * M_PI * (double)j * k / n;
				re += h[b * n + j].x * cos(a) - h[b * n + j].y * sin(a);
				im += h[b * n + j].x * sin(a) + h[b * n + j].y * cos(a);
			}
			EXPECT(fabs(f[b * n + k].x - re) < 1e-2 && fabs(f[b * n + k].y - im) < 1e-2);
		}
	CF(cufftExecC2C(plan, d, d, CUFFT_INVERSE));
	CK(cudaMemcpy(f, d, bytes, cudaMemcpyDeviceToHost));
	for (int i = 0; i < n * batch; i++)
		EXPECT(fabs(f[i].x / n - h[i].x) < 1e-4 && fabs(f[i].y / n - h[i].y) < 1e-4);
	CF(cufftDestroy(plan));
	CK(cudaFree(d));
	return pass();
}
