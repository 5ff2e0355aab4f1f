/* A driver-API program linked against libcuda.so.1, for the shim's tests:
 * it initialises, asks a few questions directly and through
 * cuGetProcAddress, and prints what it got, one fact a line. */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>

/* Interop entry points, exported by the shim as trampolines. */
static void trampolines(void)
{
	CUresult (*vdpau)(CUdevice *, unsigned int, void *) = (CUresult(*)(CUdevice *, unsigned int, void *))dlsym(
		RTLD_DEFAULT, "cuVDPAUGetDevice");
	CUresult (*gl_init)(void) = (CUresult(*)(void))dlsym(RTLD_DEFAULT, "cuGLInit");
	CUdevice dev = -1;
	int r = vdpau ? (int)vdpau(&dev, 0, NULL) : -1;

	printf("trampoline %d %d\n", r, (int)dev);
	printf("missing trampoline %d\n", gl_init ? (int)gl_init() : -1);
}

/* The first export table cudart asks for; fakecuda serves a test one. */
static void export_slots(void)
{
	static const CUuuid f8 = {{(char)0xf8, (char)0xcf, (char)0xf9, 0x51, 0x21, 0x46, (char)0x8b, 0x4e, (char)0xb9,
				   (char)0xe2, (char)0xfb, 0x46, (char)0x9e, 0x7c, 0x0d, (char)0xd9}};
	const unsigned long long *t = NULL;
	long long (*sum)(long long, long long, long long, long long, long long, long long, double);
	double (*scale)(double, double, float);

	if (cuGetExportTable((const void **)&t, &f8) != CUDA_SUCCESS || !t)
		return;
	sum = (long long (*)(long long, long long, long long, long long, long long, long long, double))t[1];
	scale = (double (*)(double, double, float))t[2];
	printf("export slots %lld %lld %.2f\n", sum(1, 2, 3, 4, 5, 6, 7.9), sum(10, 20, 30, 40, 50, 60, 0.5),
	       scale(2.5, 3.0, 0.25f));
}

int main(void)
{
	CUresult (*count_fn)(int *) = NULL;
	CUdriverProcAddressQueryResult st;
	const char *ename = NULL;
	char name[128] = "";
	CUdevice dev;
	int n = -1, n2 = -1;
	CUresult r;

	r = cuInit(0);
	printf("cuInit %d\n", (int)r);
	if (r != CUDA_SUCCESS) {
		trampolines();
		return 1;
	}
	cuDeviceGetCount(&n);
	cuDeviceGet(&dev, 0);
	cuDeviceGetName(name, sizeof(name), dev);
	printf("devices %d\nname %s\n", n, name);
	r = cuGetProcAddress("cuDeviceGetCount", (void **)&count_fn, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &st);
	printf("procaddress %d %s\n", (int)r,
	       (void *)count_fn == dlsym(RTLD_DEFAULT, "cuDeviceGetCount") ? "shim" : "driver");
	if (count_fn && count_fn(&n2) == CUDA_SUCCESS)
		printf("devices via procaddress %d\n", n2);
	cuGetErrorName(CUDA_ERROR_NO_DEVICE, &ename);
	printf("error name %s\n", ename ? ename : "?");
	export_slots();
	trampolines();
	return 0;
}
