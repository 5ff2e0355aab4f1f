/* What the CUDA runtime asks of the driver, asked through openmps in remote
 * mode (over fakecuda in CI): the export tables cudart uses, with its
 * integrity check; libraries and kernels; globals; function attributes and
 * occupancy; cuLaunchKernelEx and cooperative launches; pitched memory and
 * 2D/3D copies; page-locked host memory and unified addressing; context
 * limits. Prints a line a verified area, then "runtime_probe: PASS", or the
 * first check that failed. */
#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "integrity.h"
#include "twice_ptx.h"

#define FAIL(...)                                            \
	do {                                                 \
		printf("runtime_probe: FAIL " __VA_ARGS__);  \
		printf(" (line %d)\n", __LINE__);            \
		exit(1);                                     \
	} while (0)
#define EXPECT(call, want)                                                          \
	do {                                                                        \
		CUresult r_ = (call);                                               \
		if (r_ != (want))                                                   \
			FAIL("%s = %d, expected %d", #call, (int)r_, (int)(want)); \
	} while (0)
#define CK(call)   EXPECT(call, CUDA_SUCCESS)
#define TRUE(cond) do { if (!(cond)) FAIL("%s", #cond); } while (0)

static const CUuuid cudart_id = {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12,
				  0xfd, 0x9d, 0xf9}};
static const CUuuid integrity_id = {{(char)0xd4, 0x08, 0x20, 0x55, (char)0xbd, (char)0xe6, 0x70, 0x4b,
				     (char)0x8d, 0x34, (char)0xba, 0x12, 0x3c, 0x66, (char)0xe1, (char)0xf2}};
static const CUuuid checks_id = {{0x26, 0x3e, (char)0x88, 0x60, 0x7c, (char)0xd2, 0x61, 0x43, (char)0x92,
				  (char)0xf6, (char)0xbb, (char)0xd5, 0x00, 0x6d, (char)0xfa, 0x7e}};
static const CUuuid tools_context_id = {{0x21, 0x31, (char)0x8c, 0x60, (char)0x97, 0x14, 0x32, 0x48, (char)0x8c,
					 (char)0xa6, 0x41, (char)0xff, 0x73, 0x24, (char)0xc8, (char)0xf2}};
static const CUuuid module_functions_id = {{0x6e, 0x16, 0x3f, (char)0xbe, (char)0xb9, 0x58, 0x44, 0x4d, (char)0x83,
					    0x5c, (char)0xe1, (char)0x82, (char)0xaf, (char)0xf1, (char)0x99, 0x1e}};
static const CUuuid cls_id = {{(char)0xc6, (char)0x93, 0x33, 0x6e, 0x11, 0x21, (char)0xdf, 0x11, (char)0xa8,
			       (char)0xc3, 0x68, (char)0xf3, 0x55, (char)0xd8, (char)0x95, (char)0x93}};

typedef CUresult (*integrity_fn)(uint32_t, uint64_t, uint64_t *);
typedef CUresult (*primary_fn)(CUcontext *, CUdevice);
typedef CUresult (*refused_fn)(void);
typedef CUresult (*cls_put_fn)(CUcontext, void *, void *, void (*)(CUcontext, void *, void *));
typedef CUresult (*cls_del_fn)(CUcontext, void *);
typedef CUresult (*cls_get_fn)(void **, CUcontext, void *);
typedef CUresult (*valid_fn)(CUcontext, uint64_t *);
typedef CUresult (*object_fn)(CUcontext, uint64_t, uint64_t **);
typedef CUresult (*query_fn)(CUcontext, const uint64_t *, uint64_t *);

/* The export tables, as cudart uses them. */
static CUcontext tables(void)
{
	CUresult (*get)(const void **, const CUuuid *) = NULL;
	const uint64_t *cudart, *check, *checks, *cls, *tools;
	uint64_t words[2] = {0, 0}, *object = NULL;
	struct shim_integrity_device devs[8];
	struct shim_integrity_msg m = {.version = 13002, .unix_seconds = (uint64_t)time(NULL)};
	uint64_t got[2], want[2];
	int n, driver, i;
	CUcontext ctx, mine;
	void *v = NULL;
	static int key, value;

	CK(cuGetProcAddress("cuGetExportTable", (void **)&get, 3000, 0, NULL));
	CK(get((const void **)&cudart, &cudart_id));
	CK(get((const void **)&check, &integrity_id));
	CK(get((const void **)&checks, &checks_id));
	CK(get((const void **)&cls, &cls_id));
	TRUE(cudart[0] >= 13 * 8 && check[0] >= 3 * 8 && checks[0] >= 15 * 8);
	/* The integrity hash over the tables this process was handed. */
	CK(((integrity_fn)check[1])(m.version, m.unix_seconds, got));
	CK(cuDriverGetVersion(&driver));
	CK(cuDeviceGetCount(&n));
	for (i = 0; i < n && i < 8; i++) {
		CUuuid u;

		CK(cuDeviceGetUuid(&u, i));
		memcpy(devs[i].uuid, u.bytes, 16);
		CK(cuDeviceGetAttribute(&devs[i].pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i));
		CK(cuDeviceGetAttribute(&devs[i].pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i));
		CK(cuDeviceGetAttribute(&devs[i].pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i));
	}
	m.driver_version = (uint32_t)driver;
	m.pid = (uint32_t)getpid();
	m.thread = (uint32_t)(uintptr_t)pthread_self();
	m.cudart_table = (uint64_t)(uintptr_t)cudart;
	m.integrity_table = (uint64_t)(uintptr_t)check;
	m.slot = check[1];
	shim_integrity_hash(&m, devs, n, want);
	TRUE(!memcmp(got, want, sizeof(got)));
	printf("integrity check verified\n");
	/* The cudart interface: a device's primary context. */
	CK(((primary_fn)cudart[2])(&ctx, 0));
	CK(cuDevicePrimaryCtxRetain(&mine, 0));
	TRUE(ctx == mine);
	CK(cuCtxSetCurrent(ctx));
	EXPECT(((refused_fn)cudart[3])(), CUDA_ERROR_NOT_SUPPORTED);
	/* Context-local storage, by context or the current one. */
	CK(((cls_put_fn)cls[0])(ctx, &key, &value, NULL));
	CK(((cls_get_fn)cls[2])(&v, NULL, &key));
	TRUE(v == &value);
	CK(((cls_del_fn)cls[1])(ctx, &key));
	EXPECT(((cls_get_fn)cls[2])(&v, ctx, &key), CUDA_ERROR_INVALID_HANDLE);
	/* The tools-context slots cuBLAS calls, answered as the driver does. */
	CK(get((const void **)&tools, &tools_context_id));
	CK(((valid_fn)tools[4])(NULL, words));
	TRUE(words[0] == 1);
	CK(((object_fn)tools[51])(NULL, 0, &object));
	TRUE(object && object[0] == 1);
	CK(((query_fn)tools[39])(NULL, object, words));
	TRUE(words[0] == 7 && words[1] == (uint64_t)(uintptr_t)ctx);
	EXPECT(((refused_fn)tools[5])(), CUDA_ERROR_NOT_SUPPORTED);
	printf("export tables verified\n");
	return ctx;
}

typedef unsigned long (*each_fn)(CUcontext, CUmodule, void (*)(void *, CUfunction), void *);

struct found {
	CUfunction fn[8];
	int n;
};

static void found_one(void *arg, CUfunction fn)
{
	struct found *f = arg;

	if (f->n < 8)
		f->fn[f->n++] = fn;
}

/* A module's functions as cuFFT finds its kernels (slot 7 of 6e163fbe-…
 * hands each to a callback and returns the count) and as
 * cuModuleEnumerateFunctions gives them; the one named "twice" launches
 * (d holds n words, each doubled again). */
static void module_functions(CUlibrary lib, CUdeviceptr d, unsigned int n)
{
	CUresult (*get)(const void **, const CUuuid *) = NULL;
	struct found found = {.n = 0};
	unsigned int count = 0, i, h[256];
	CUfunction fns[4], twice = NULL;
	const char *name, *other;
	void *args[] = {&d, &n};
	const uint64_t *t;
	CUkernel ks[2];
	CUcontext ctx;
	CUmodule mod;

	CK(cuGetProcAddress("cuGetExportTable", (void **)&get, 3000, 0, NULL));
	CK(get((const void **)&t, &module_functions_id));
	CK(cuLibraryGetModule(&mod, lib));
	CK(cuModuleGetFunctionCount(&count, mod));
	TRUE(count == 4);
	CK(cuCtxGetCurrent(&ctx));
	TRUE(((each_fn)t[7])(ctx, mod, found_one, &found) == 4);
	TRUE(found.n == 4);
	CK(cuModuleEnumerateFunctions(fns, 4, mod));
	for (i = 0; i < 4; i++) {
		CK(cuFuncGetName(&name, found.fn[i]));
		CK(cuFuncGetName(&other, fns[i]));
		TRUE(!strcmp(name, other)); /* one order */
		if (!strcmp(name, "twice"))
			twice = found.fn[i];
	}
	TRUE(twice != NULL);
	CK(cuLibraryEnumerateKernels(ks, 2, lib));
	CK(cuFuncGetName(&name, (CUfunction)ks[1]));
	CK(cuFuncGetName(&other, fns[1]));
	TRUE(!strcmp(name, other));
	EXPECT(cuModuleEnumerateFunctions(NULL, 4, mod), CUDA_ERROR_INVALID_VALUE);
	CK(cuLaunchKernel(twice, 1, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(h, d, sizeof(h)));
	for (i = 0; i < n; i++)
		if (h[i] != i * 16)
			FAIL("word %u is %u after a launch of the function slot 7 gave", i, h[i]);
	printf("module functions verified\n");
}

/* cudart's wrapper of a fat binary; here it wraps the PTX. */
static const struct {
	uint32_t magic, version;
	const void *data, *unused;
} wrapped = {0x466243b1u, 1, twice_counter_ptx, NULL};

static void kernels(void)
{
	unsigned int h[256], n = 256, i, counter[4] = {1, 2, 3, 4}, back[4];
	CUdeviceptr d, g;
	CUlibrary lib;
	CUkernel k;
	CUfunction f;
	size_t gsize;
	int v;
	void *args[] = {&d, &n};
	CUlaunchAttribute prio = {.id = CU_LAUNCH_ATTRIBUTE_PRIORITY, .value.priority = 0};
	CUlaunchAttribute event = {.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT};
	CUlaunchAttribute cluster = {.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, .value.clusterDim = {4, 1, 1}};
	CUlaunchConfig cfg = {1, 1, 1, 256, 1, 1, 0, NULL, &prio, 1};
	size_t smem;

	CK(cuLibraryLoadData(&lib, &wrapped, NULL, NULL, 0, NULL, NULL, 0));
	EXPECT(cuLibraryGetKernel(&k, lib, "nosuch"), CUDA_ERROR_NOT_FOUND);
	CK(cuLibraryGetKernel(&k, lib, "twice"));
	CK(cuKernelGetFunction(&f, k));
	for (i = 0; i < n; i++)
		h[i] = i;
	CK(cuMemAlloc(&d, sizeof(h)));
	CK(cuMemcpyHtoD(d, h, sizeof(h)));
	CK(cuLaunchKernel((CUfunction)k, 1, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	CK(cuLaunchKernelEx(&cfg, f, args, NULL));
	CK(cuLaunchCooperativeKernel(f, 1, 1, 1, 256, 1, 1, 0, NULL, args));
	CK(cuMemcpyDtoH(h, d, sizeof(h)));
	for (i = 0; i < n; i++)
		if (h[i] != i * 8)
			FAIL("word %u is %u after three launches", i, h[i]);
	module_functions(lib, d, n);
	/* Refused at once, as the driver refuses them. */
	EXPECT(cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 200 << 10, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
	/* Attributes naming objects are not remoted: reported at the next sync. */
	cfg.attrs = &event;
	CK(cuLaunchKernelEx(&cfg, f, args, NULL));
	EXPECT(cuCtxSynchronize(), CUDA_ERROR_NOT_SUPPORTED);
	/* Function attributes; raising the dynamic shared memory lets it launch. */
	CK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
	TRUE(v == 1024);
	CK(cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 200 << 10, k, 0));
	CK(cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k, 0));
	TRUE(v == 200 << 10);
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 200 << 10, NULL, args, NULL));
	EXPECT(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1 << 30),
	       CUDA_ERROR_INVALID_VALUE);
	/* Occupancy (fakecuda: 132 SMs of 2048 threads, 228 KiB). */
	CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&v, f, 256, 0));
	TRUE(v == 8);
	CK(cuOccupancyAvailableDynamicSMemPerBlock(&smem, f, 4, 256));
	TRUE(smem == (228 << 10) / 4);
	cfg.attrs = &cluster;
	CK(cuOccupancyMaxActiveClusters(&v, f, &cfg));
	TRUE(v == 33);
	printf("kernels verified\n");
	/* A module global, and its bounds. */
	CK(cuLibraryGetGlobal(&g, &gsize, lib, "counter"));
	TRUE(gsize == sizeof(counter));
	CK(cuMemcpyHtoD(g, counter, sizeof(counter)));
	CK(cuMemcpyDtoH(back, g + 4, 12));
	TRUE(back[0] == 2 && back[2] == 4);
	EXPECT(cuMemcpyDtoH(back, g + 4, 16), CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemFree(g), CUDA_ERROR_INVALID_VALUE);
	CK(cuLibraryUnload(lib));
	EXPECT(cuMemcpyDtoH(back, g, 4), CUDA_ERROR_INVALID_VALUE); /* gone with its library */
	CK(cuMemFree(d));
	printf("globals verified\n");
}

static void pitched(void)
{
	enum { W = 1000, H = 300, D = 4 };
	static unsigned char h[D][H][W], back[D][H][W];
	CUdeviceptr a, b, c;
	size_t pa, pb, pc, x, y, z;
	CUDA_MEMCPY2D p = {0};
	CUDA_MEMCPY3D q = {0};
	CUstream s;

	for (z = 0; z < D; z++)
		for (y = 0; y < H; y++)
			for (x = 0; x < W; x++)
				h[z][y][x] = (unsigned char)(x * 3 + y * 5 + z * 7);
	CK(cuMemAllocPitch(&a, &pa, W, H, 4));
	CK(cuMemAllocPitch(&b, &pb, W, H, 4));
	TRUE(pa >= W && pa % 512 == 0);
	CK(cuMemsetD2D8(a, pa, 9, W, H));
	p.srcMemoryType = CU_MEMORYTYPE_DEVICE, p.srcDevice = a, p.srcPitch = pa;
	p.dstMemoryType = CU_MEMORYTYPE_HOST, p.dstHost = back, p.dstPitch = W;
	p.WidthInBytes = W, p.Height = H;
	CK(cuMemcpy2D(&p));
	for (x = 0; x < W * H; x++)
		if ((&back[0][0][0])[x] != 9)
			FAIL("byte %zu after the 2D set", x);
	/* Host -> pitched -> other pitched -> host, the host side at an offset. */
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	p = (CUDA_MEMCPY2D){.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = h, .srcPitch = W,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = a, .dstPitch = pa,
			    .WidthInBytes = W, .Height = H};
	CK(cuMemcpy2DAsync(&p, s));
	p = (CUDA_MEMCPY2D){.srcMemoryType = CU_MEMORYTYPE_UNIFIED, .srcDevice = a, .srcPitch = pa,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = b, .dstPitch = pb,
			    .WidthInBytes = W, .Height = H};
	CK(cuMemcpy2DAsync(&p, s));
	p = (CUDA_MEMCPY2D){.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = b, .srcPitch = pb, .srcY = 10,
			    .srcXInBytes = 7, .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = W,
			    .WidthInBytes = W - 7, .Height = H - 10};
	memset(back, 0, sizeof(back));
	CK(cuMemcpy2DAsync(&p, s));
	CK(cuStreamSynchronize(s));
	for (y = 0; y < H - 10; y++)
		if (memcmp(back[0][y], &h[0][y + 10][7], W - 7))
			FAIL("row %zu after the 2D copies", y);
	/* Past the allocation's end: refused at the next sync. */
	p = (CUDA_MEMCPY2D){.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = h, .srcPitch = W,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = a, .dstPitch = pa,
			    .WidthInBytes = W, .Height = H + 1};
	CK(cuMemcpy2D(&p));
	EXPECT(cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
	/* 3D: four slices there and back. */
	CK(cuMemAllocPitch(&c, &pc, W, H * D, 4));
	q.srcMemoryType = CU_MEMORYTYPE_HOST, q.srcHost = h, q.srcPitch = W, q.srcHeight = H;
	q.dstMemoryType = CU_MEMORYTYPE_DEVICE, q.dstDevice = c, q.dstPitch = pc, q.dstHeight = H;
	q.WidthInBytes = W, q.Height = H, q.Depth = D;
	CK(cuMemcpy3D(&q));
	q = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = c, .srcPitch = pc, .srcHeight = H,
			    .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = W, .dstHeight = H,
			    .WidthInBytes = W, .Height = H, .Depth = D};
	memset(back, 0, sizeof(back));
	CK(cuMemcpy3D(&q));
	TRUE(!memcmp(back, h, sizeof(h)));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(a));
	CK(cuMemFree(b));
	CK(cuMemFree(c));
	printf("pitched copies verified\n");
}

static void host_memory(void)
{
	unsigned int *pinned, *plain = malloc(4096), flags = 0, type = 0, *back;
	CUpointer_attribute attrs[2] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
	int ordinal = 7;
	void *data[2] = {&type, &ordinal};
	CUdeviceptr d, base, mapped;
	size_t size, i;
	unsigned int n = 1024;
	void *args[] = {&mapped, &n};
	CUmodule mod;
	CUfunction f;

	CK(cuMemHostAlloc((void **)&pinned, 4096, CU_MEMHOSTALLOC_PORTABLE));
	CK(cuMemHostGetFlags(&flags, pinned));
	TRUE(flags == CU_MEMHOSTALLOC_PORTABLE);
	CK(cuMemAllocHost((void **)&back, 4096));
	CK(cuMemHostRegister(plain, 4096, 0));
	EXPECT(cuMemHostRegister(plain, 4096, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	for (i = 0; i < 1024; i++)
		pinned[i] = (unsigned int)i * 3;
	CK(cuMemAlloc(&d, 4096));
	/* Unified addressing: cuMemcpy finds each side. */
	CK(cuMemcpy(d, (CUdeviceptr)(uintptr_t)pinned, 4096));
	CK(cuMemcpy((CUdeviceptr)(uintptr_t)plain, d, 4096));
	CK(cuMemcpyAsync((CUdeviceptr)(uintptr_t)back, (CUdeviceptr)(uintptr_t)plain, 4096, NULL));
	TRUE(!memcmp(back, pinned, 4096));
	CK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 100));
	TRUE(type == CU_MEMORYTYPE_DEVICE);
	CK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)(pinned + 3)));
	TRUE(type == CU_MEMORYTYPE_HOST);
	CK(cuMemGetAddressRange(&base, &size, d + 100));
	TRUE(base == d && size == 4096);
	CK(cuPointerGetAttributes(2, attrs, data, (CUdeviceptr)(uintptr_t)&ordinal)); /* not CUDA's */
	TRUE(type == 0 && ordinal == -2);
	EXPECT(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)&ordinal),
	       CUDA_ERROR_INVALID_VALUE);
	/* Shared with the server at the same address: a kernel works on it in
	 * place, and copies into it are the server's own. */
	CK(cuMemHostGetDevicePointer(&mapped, pinned, 0));
	TRUE(mapped == (CUdeviceptr)(uintptr_t)pinned);
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	for (i = 0; i < 1024; i++)
		if (pinned[i] != (unsigned int)i * 6)
			FAIL("mapped word %zu is %u", i, pinned[i]);
	CK(cuMemcpyDtoHAsync(plain, d, 4096, NULL)); /* into registered memory */
	CK(cuStreamSynchronize(NULL));
	TRUE(plain[5] == 15);
	CK(cuModuleUnload(mod));
	CK(cuMemHostUnregister(plain));
	CK(cuMemFreeHost(pinned));
	CK(cuMemFreeHost(back));
	EXPECT(cuMemFreeHost(plain), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemFree(d));
	free(plain);
	printf("host memory verified\n");
}

/* Stream-ordered allocation from the device's pool: this client's view of
 * the server's shared pool, with its own policies and its own usage. */
static void pools(void)
{
	CUmemoryPool pool;
	cuuint64_t threshold = 1 << 20, v = 0, before = 0, high = 0, reset = 0, bad = 5;
	int follow = 0, internal = 0;
	unsigned int h[64];
	CUdeviceptr d;
	CUstream s;

	CK(cuDeviceGetDefaultMemPool(&pool, 0));
	CK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &v));
	TRUE(v == 1 << 20);
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES, &follow));
	TRUE(follow == 1);
	CK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &internal));
	internal = 7;
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &internal));
	TRUE(internal == 0);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &before));
	CK(cuMemAllocAsync(&d, sizeof(h), s));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &v));
	TRUE(v == before + sizeof(h)); /* its own bytes, exactly */
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &high));
	TRUE(high >= v);
	EXPECT(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &bad), CUDA_ERROR_INVALID_VALUE);
	EXPECT(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &reset), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemsetD32Async(d, 77, 64, s));
	CK(cuMemcpyDtoHAsync(h, d, sizeof(h), s));
	CK(cuMemFreeAsync(d, s));
	CK(cuStreamSynchronize(s));
	TRUE(h[0] == 77 && h[63] == 77);
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &v));
	TRUE(v == before);
	CK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &reset));
	CK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &high));
	TRUE(high == before);
	CK(cuMemFreeAsync(d, s)); /* again: refused at the next sync */
	EXPECT(cuStreamSynchronize(s), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAllocFromPoolAsync(&d, 4096, pool, NULL));
	CK(cuMemPoolTrimTo(pool, 0));
	CK(cuStreamDestroy(s));
	printf("pools verified\n"); /* d stays: the server frees it with the pool */
}

/* Host functions and callbacks: in this process, after the stream's work,
 * before the stream's later work, and without the caller waiting. */
static int order[4], norder;
static atomic_int released;

/* Returns once the caller that queued it has let it go: a caller that
 * waited for it would never do so. */
static void gate(void *arg)
{
	int i;

	for (i = 0; i < 5000 && !atomic_load(&released); i++)
		usleep(1000);
	*(unsigned int *)arg = atomic_load(&released) ? 99 : 13;
}

static void host_fn(void *arg)
{
	order[norder++] = *(int *)arg;
}

static void callback(CUstream s, CUresult status, void *arg)
{
	(void)s;
	order[norder++] = status == CUDA_SUCCESS ? (int)*(unsigned int *)arg : -1;
}

static void host_functions(void)
{
	static unsigned int seen;
	unsigned int *pinned;
	int one = 1;
	CUdeviceptr d;
	CUstream s;

	unsigned int flags = 0;
	int prio = 1;
	CUevent e;

	CK(cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, -1));
	CK(cuStreamGetFlags(s, &flags));
	CK(cuStreamGetPriority(s, &prio));
	TRUE(flags == CU_STREAM_NON_BLOCKING && prio == -1);
	CK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
	CK(cuEventRecordWithFlags(e, s, CU_EVENT_RECORD_DEFAULT));
	CK(cuEventSynchronize(e));
	CK(cuEventDestroy(e));
	CK(cuMemAlloc(&d, 4));
	CK(cuMemsetD32Async(d, 42, 1, s));
	CK(cuMemcpyDtoHAsync(&seen, d, 4, s));
	CK(cuLaunchHostFunc(s, host_fn, &one));
	CK(cuStreamAddCallback(s, callback, &seen, 0));
	CK(cuStreamSynchronize(s));
	TRUE(norder == 2 && order[0] == 1 && order[1] == 42);
	EXPECT(cuStreamAddCallback(s, callback, &seen, 1), CUDA_ERROR_INVALID_VALUE);
	/* The gate writes pinned memory the stream then copies: 99 on the device
	 * only if it ran before the copy and after this thread went on. */
	CK(cuMemHostAlloc((void **)&pinned, 4, 0));
	*pinned = 0;
	CK(cuLaunchHostFunc(s, gate, pinned));
	atomic_store(&released, 1);
	CK(cuMemcpyHtoDAsync(d, pinned, 4, s));
	CK(cuMemcpyDtoHAsync(&seen, d, 4, s));
	CK(cuStreamSynchronize(s));
	TRUE(seen == 99);
	CK(cuMemFreeHost(pinned));
	CK(cuStreamDestroy(s));
	CK(cuMemFree(d));
	printf("host functions verified\n");
}

static void context(void)
{
	size_t v = 0, v0 = 0;
	unsigned int api = 0;
	int least = 1, greatest = 1;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_ACTIVE;

	/* Shared by every client: it only grows (others may raise it meanwhile). */
	CK(cuCtxGetLimit(&v0, CU_LIMIT_PRINTF_FIFO_SIZE));
	TRUE(v0 >= 1 << 20);
	CK(cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, 4096));
	CK(cuCtxGetLimit(&v, CU_LIMIT_PRINTF_FIFO_SIZE));
	TRUE(v >= v0);
	CK(cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, v0 + 4096));
	CK(cuCtxGetLimit(&v, CU_LIMIT_PRINTF_FIFO_SIZE));
	TRUE(v >= v0 + 4096);
	EXPECT(cuCtxSetLimit(CU_LIMIT_MAX_L2_FETCH_GRANULARITY, 128), CUDA_ERROR_NOT_SUPPORTED);
	CK(cuCtxGetStreamPriorityRange(&least, &greatest));
	TRUE(least == 0 && greatest == -4); /* fakecuda's -5 is kept for normal clients' -4 (qos.c) */
	CK(cuCtxGetApiVersion(NULL, &api));
	TRUE(api == 3020); /* the server's context's, as fakecuda says */
	CK(cuStreamIsCapturing(NULL, &st));
	TRUE(st == CU_STREAM_CAPTURE_STATUS_NONE);
	printf("context verified\n");
}

/* As cudart calls it when built for the per-thread default stream. */
CUresult CUDAAPI cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char v, size_t n, CUstream s);

/* Contexts the program creates, pushes and pops: handles for its device's
 * context in the server. */
static void contexts(CUcontext primary)
{
	CUcontext c, cur, popped;
	CUdeviceptr d;
	CUdevice dev = -1;
	unsigned int v = 0;

	CK(cuCtxCreate(&c, NULL, 0, 0));
	TRUE(c != primary);
	CK(cuCtxGetCurrent(&cur));
	TRUE(cur == c);
	CK(cuCtxGetDevice(&dev));
	TRUE(dev == 0);
	CK(cuMemAlloc(&d, 4));
	CK(cuMemsetD32(d, 9, 1));
	CK(cuCtxPushCurrent(primary));
	CK(cuCtxGetCurrent(&cur));
	TRUE(cur == primary);
	CK(cuMemcpyDtoH(&v, d, 4)); /* one context in the server: the memory is there */
	TRUE(v == 9);
	CK(cuCtxPopCurrent(&popped));
	TRUE(popped == primary);
	CK(cuCtxGetCurrent(&cur));
	TRUE(cur == c);
	CK(cuMemFree(d));
	EXPECT(cuCtxDestroy(primary), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxDestroy(c));
	CK(cuCtxGetCurrent(&cur));
	TRUE(cur == NULL);
	EXPECT(cuMemAlloc(&d, 4), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxSetCurrent(primary));
	printf("contexts verified\n");
}

/* The legacy NULL stream with a blocking and a non-blocking stream, and the
 * per-thread default stream: each switch between the NULL stream and a
 * blocking one needs an ordering (five here); the others none. */
static void legacy(void)
{
	CUstream blocking, nonblocking;
	CUcontext ctx;
	CUdeviceptr d;

	CK(cuDevicePrimaryCtxRetain(&ctx, 0));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, 64));
	CK(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
	CK(cuStreamCreate(&nonblocking, CU_STREAM_NON_BLOCKING));
	CK(cuMemsetD8Async(d, 1, 64, blocking));
	CK(cuMemsetD8Async(d, 2, 64, NULL)); /* waits for the blocking stream */
	CK(cuMemsetD8Async(d, 3, 64, NULL));
	CK(cuMemsetD8Async(d, 4, 64, blocking)); /* waits for the NULL stream */
	CK(cuMemsetD8Async(d, 5, 64, blocking));
	CK(cuMemsetD8Async(d, 6, 64, nonblocking));
	CK(cuMemsetD8Async(d, 7, 64, CU_STREAM_LEGACY)); /* waits for the blocking stream again */
	CK(cuMemsetD8Async(d, 8, 64, nonblocking));
	/* The per-thread default stream: a blocking stream of this thread's. */
	CK(cuMemsetD8Async_ptsz(d, 9, 64, NULL)); /* waits for the NULL stream */
	CK(cuMemsetD8Async(d, 10, 64, CU_STREAM_PER_THREAD)); /* the same stream */
	CK(cuMemsetD8Async(d, 11, 64, NULL)); /* waits for it */
	CK(cuCtxSynchronize());
	/* The server's waits so far, as fakecuda logged them (FAKECUDA_WAIT_LOG). */
	if (getenv("FAKECUDA_WAIT_LOG")) {
		FILE *f = fopen(getenv("FAKECUDA_WAIT_LOG"), "r");
		int waits = 0, ch;

		while (f && (ch = fgetc(f)) != EOF)
			waits += ch == '\n';
		if (f)
			fclose(f);
		printf("waits %d\n", waits);
	}
	CK(cuStreamDestroy(blocking));
	CK(cuStreamDestroy(nonblocking));
	CK(cuMemFree(d));
	printf("legacy stream verified\n");
}

int main(int argc, char **argv)
{
	CUcontext ctx;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CK(cuInit(0));
	if (argc > 1 && !strcmp(argv[1], "--legacy")) {
		legacy();
		printf("runtime_probe: PASS\n");
		return 0;
	}
	ctx = tables();
	contexts(ctx);
	kernels();
	pitched();
	host_memory();
	pools();
	host_functions();
	context();
	CK(cuCtxSynchronize());
	printf("runtime_probe: PASS\n");
	return 0;
}
