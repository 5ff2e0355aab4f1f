// Memory: allocate, set, copy in every direction (explicit kinds and
// cudaMemcpyDefault), pointer attributes, free; checked against the CPU.
#define NAME "rt_memory"
#include "check.cuh"

int main(void)
{
	const size_t n = 3 << 20; // bytes: more than one ring record
	unsigned char *h = (unsigned char *)malloc(n), *back = (unsigned char *)malloc(n), *a, *b;
	cudaPointerAttributes attr;

	for (size_t i = 0; i < n; i++)
		h[i] = (unsigned char)(i * 7 + 3);
	CK(cudaMalloc(&a, n));
	CK(cudaMalloc(&b, n));
	CK(cudaMemset(a, 0xab, n));
	CK(cudaMemcpy(back, a, n, cudaMemcpyDeviceToHost));
	for (size_t i = 0; i < n; i++)
		EXPECT(back[i] == 0xab);
	CK(cudaMemcpy(a, h, n, cudaMemcpyHostToDevice));
	CK(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
	memset(back, 0, n);
	CK(cudaMemcpy(back, b, n, cudaMemcpyDeviceToHost));
	EXPECT(!memcmp(back, h, n));
	// Unified addressing: the direction from the pointers.
	CK(cudaMemcpy(b + 1, h + 5, 1000, cudaMemcpyDefault));
	CK(cudaMemcpy(back, b, 1001, cudaMemcpyDefault));
	EXPECT(back[0] == h[0] && !memcmp(back + 1, h + 5, 1000));
	CK(cudaPointerGetAttributes(&attr, b + 100));
	EXPECT(attr.type == cudaMemoryTypeDevice && attr.devicePointer == b + 100);
	CK(cudaPointerGetAttributes(&attr, h));
	EXPECT(attr.type == cudaMemoryTypeUnregistered);
	CK(cudaFree(a));
	CK(cudaFree(b));
	CK(cudaFree(NULL));
	return pass();
}
