// cudaSetDeviceFlags as simpleZeroCopy and the blocking-sync samples use it:
// blocking sync and mapped host memory set before the first call that
// needs a context, read back; a kernel writes mapped host memory through
// its device pointer; the PCI bus id names the device back; the occupancy
// calculator's block size; profiling start and stop; cudaFreeAsync(NULL).
#define NAME "rt_device_flags"
#include "check.cuh"
#include <cuda_profiler_api.h>

__global__ void square(const int *in, int *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = in[i] * in[i];
}

int main(void)
{
	const int n = 1 << 16;
	unsigned int flags = 0;
	int *in, *out, *din, *dout, dev = -1, grid = 0, block = 0;
	char bus[64];

	CK(cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync | cudaDeviceMapHost));
	CK(cudaGetDeviceFlags(&flags));
	EXPECT((flags & cudaDeviceScheduleMask) == cudaDeviceScheduleBlockingSync);
	EXPECT(flags & cudaDeviceMapHost);
	CK(cudaHostAlloc(&in, n * sizeof(int), cudaHostAllocMapped));
	CK(cudaHostAlloc(&out, n * sizeof(int), cudaHostAllocMapped));
	CK(cudaHostGetDevicePointer(&din, in, 0));
	CK(cudaHostGetDevicePointer(&dout, out, 0));
	for (int i = 0; i < n; i++)
		in[i] = i % 1000, out[i] = -1;
	CK(cudaOccupancyMaxPotentialBlockSize(&grid, &block, square, 0, 0));
	EXPECT(grid > 0 && block > 0 && block <= 1024 && block % 32 == 0);
	CK(cudaProfilerStart());
	square<<<(n + block - 1) / block, block>>>(din, dout, n);
	CK(cudaGetLastError());
	CK(cudaDeviceSynchronize());
	CK(cudaProfilerStop());
	for (int i = 0; i < n; i++)
		EXPECT(out[i] == (i % 1000) * (i % 1000));
	CK(cudaDeviceGetPCIBusId(bus, sizeof(bus), 0));
	CK(cudaDeviceGetByPCIBusId(&dev, bus));
	EXPECT(dev == 0);
	CK(cudaFreeAsync(NULL, 0));
	CK(cudaStreamSynchronize(0));
	CK(cudaFreeHost(in));
	CK(cudaFreeHost(out));
	return pass();
}
