/* A learning aid for the fault handover (issue 15): where the driver puts
 * device address ranges in a process, and whether a fresh process can have
 * the same. It prints the process's mappings of 1 GiB and more after cuInit
 * and after a context, then reserves ranges of growing size (hint 0) and
 * says where each went; given ADDR:SIZE (hex) it first asks for that range
 * at that address, before and after making its context, and says whether it
 * got it.
 *   va_layout [ADDR:SIZE]
 * Run it twice, the second time with a range the first printed. */
#include <cuda.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void big_mappings(const char *when)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long long lo, hi;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi - lo >= (1ull << 30))
			printf("va_layout: %s: %llx-%llx (%llu GiB)\n", when, lo, hi, (hi - lo) >> 30);
	if (f)
		fclose(f);
}

static void ask(const char *when, CUdeviceptr want, size_t size)
{
	CUdeviceptr got = 0;
	CUresult r = cuMemAddressReserve(&got, size, 2 << 20, want, 0);

	printf("va_layout: %s: asked 0x%llx (%zu GiB): result %d, got 0x%llx: %s\n", when, (unsigned long long)want,
	       size >> 30, (int)r, (unsigned long long)got, r == CUDA_SUCCESS && got == want ? "HAD" : "NOT HAD");
	if (r == CUDA_SUCCESS)
		cuMemAddressFree(got, size);
}

int main(int argc, char **argv)
{
	unsigned long long want = 0, wsize = 0;
	CUcontext ctx;
	CUdevice dev;

	if (argc > 1 && sscanf(argv[1], "%llx:%llx", &want, &wsize) != 2)
		return 2;
	if (cuInit(0) || cuDeviceGet(&dev, 0))
		return 1;
	big_mappings("after cuInit");
	if (want)
		ask("before a context", want, wsize);
	if (cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx))
		return 1;
	big_mappings("after a context");
	if (want)
		ask("after a context", want, wsize);
	for (size_t gib = 1; gib <= 1024; gib *= 4) {
		CUdeviceptr p = 0;
		CUresult r = cuMemAddressReserve(&p, gib << 30, 2 << 20, 0, 0);

		printf("va_layout: reserve %zu GiB: result %d at 0x%llx\n", gib, (int)r, (unsigned long long)p);
		if (r == CUDA_SUCCESS)
			cuMemAddressFree(p, gib << 30);
	}
	return 0;
}
