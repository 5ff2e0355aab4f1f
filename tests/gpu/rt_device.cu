// Device queries: count, properties (a storm of attributes), the driver and
// runtime versions, memory information; checked for consistency.
#define NAME "rt_device"
#include "check.cuh"

int main(void)
{
	int n = 0, dev = -1, sms = 0, drv = 0, rt = 0, major = 0;
	size_t free_b = 0, total = 0;
	cudaDeviceProp p;

	CK(cudaGetDeviceCount(&n));
	EXPECT(n >= 1);
	CK(cudaSetDevice(n - 1));
	CK(cudaGetDevice(&dev));
	EXPECT(dev == n - 1);
	CK(cudaGetDeviceProperties(&p, dev));
	CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
	CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
	EXPECT(sms > 0 && sms == p.multiProcessorCount && major == p.major && p.name[0]);
	CK(cudaDriverGetVersion(&drv));
	CK(cudaRuntimeGetVersion(&rt));
	EXPECT(drv >= rt && rt >= 13000);
	CK(cudaMemGetInfo(&free_b, &total));
	EXPECT(total == p.totalGlobalMem && free_b > 0 && free_b <= total);
	CK(cudaDeviceSynchronize());
	printf("%s, %d SMs, cc %d.%d, driver %d, runtime %d\n", p.name, sms, p.major, p.minor, drv, rt);
	return pass();
}
