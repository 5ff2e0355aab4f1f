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
	trampolines();
	return 0;
}
