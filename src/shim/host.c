/* Page-locked host memory in remote mode (the server's twin is
 * src/server/host.c): cuMemHostAlloc, cuMemAllocHost, cuMemHostRegister and
 * their kin. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* Page-locked host memory: a memfd mapped here and, at the same address, in
 * the server, which registers it with the driver. Copies from and to it are
 * then DMA on the stream, with no data through the rings, and kernels reach
 * it. Where the server cannot map it (its address is taken there), it stays
 * this process's only, and a line says so. */
#define PAGE 4096ul

static uint64_t page_down(uint64_t a)
{
	return a & ~(PAGE - 1);
}

static uint64_t page_up(uint64_t a)
{
	return (a + PAGE - 1) & ~(PAGE - 1);
}

static void not_shared(const void *p, CUresult r)
{
	static int said;

	if (!said++)
		fprintf(stderr, "openmps: page-locked memory at %p is not shared with the server (error %d): its copies "
				"go through the channel and kernels cannot reach it\n",
			p, (int)r);
}

/* Where to try next: a random 2 MiB boundary in a 16 TiB window that
 * processes rarely use, so that clients, whose own mappings tend to land at
 * like addresses, seldom collide in the server's address space. */
static void *random_address(void)
{
	static __thread unsigned int seed;
	uint64_t slot;

	if (!seed)
		seed = (unsigned int)getpid() ^ (unsigned int)(uintptr_t)&seed ^ (unsigned int)time(NULL);
	slot = ((uint64_t)rand_r(&seed) << 16 ^ (uint64_t)rand_r(&seed)) % (1u << 23);
	return (void *)(uintptr_t)(0x500000000000ull + (slot << 21));
}

/* A new memfd of len bytes mapped shared: at `at` in place of what is there
 * (its contents kept), or at a random free address. */
static void *map_shared(void *at, size_t len, int *fd)
{
	struct iovec local, remote;
	ssize_t copied;
	void *p;
	int i;

	/* Sealed, as the server requires: a file it maps can never shrink. */
	*fd = memfd_create("openmps-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0 || ftruncate(*fd, (off_t)len) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	if (!at) {
		for (i = 0; i < 8; i++) {
			p = mmap(random_address(), len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, *fd,
				 0);
			if (p != MAP_FAILED)
				return p;
		}
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
		if (p == MAP_FAILED)
			goto fail;
		return p;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	/* Whole pages, other objects' bytes on them too: read by the kernel. */
	local.iov_base = p;
	remote.iov_base = at;
	local.iov_len = remote.iov_len = len;
	copied = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	munmap(p, len);
	if (copied != (ssize_t)len)
		goto fail;
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, *fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	return p;
fail:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return NULL;
}

static CUresult host_alloc(void **pp, size_t bytes, unsigned int flags)
{
	struct shim_range r = {.kind = SHIM_RANGE_HOST, .dev = shim_current_device(), .flags = flags};
	void *failed[4] = {0}, *p = NULL;
	size_t len = page_up(bytes), i;
	CUresult res = CUDA_SUCCESS;
	int fd = -1;

	if (!pp || !bytes || flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
						CU_MEMHOSTALLOC_WRITECOMBINED))
		return CUDA_ERROR_INVALID_VALUE;
	/* Where the server has the address taken, another one; rarely needed. */
	for (i = 0; i < 4; i++) {
		p = map_shared(NULL, len, &fd);
		if (!p)
			break;
		res = shim_host_share((uintptr_t)p, len, fd, &r.device_ptr);
		close(fd);
		if (res != CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED)
			break;
		failed[i] = p;
	}
	for (i = 0; i < 4; i++)
		if (failed[i] && failed[i] != p)
			munmap(failed[i], len);
	if (!p)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r.shared = res == CUDA_SUCCESS;
	if (!r.shared)
		not_shared(p, res);
	r.base = (uintptr_t)p;
	r.bytes = bytes;
	if (shim_range_add(&r)) {
		munmap(p, len);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pp = p;
	return CUDA_SUCCESS;
}

static CUresult alloc_host(void **pp, size_t bytes)
{
	return host_alloc(pp, bytes, 0);
}

/* Before the server lets go of host memory: no copy may still use it. */
static void sync_all_devices(void)
{
	int n = 0, d;

	((__typeof__(&cuDeviceGetCount))shim_table[SHIM_EP_cuDeviceGetCount])(&n);
	for (d = 0; d < n; d++)
		shim_device_wait(d);
}

static void stop_sharing(const struct shim_range *r)
{
	if (!r->shared)
		return;
	sync_all_devices();
	shim_host_share(page_down(r->base), page_up(r->base + r->bytes) - page_down(r->base), -1, NULL);
}

static CUresult free_host(void *p)
{
	struct shim_range r;

	if (shim_range_find((uintptr_t)p, &r) || r.kind != SHIM_RANGE_HOST || r.base != (uintptr_t)p ||
	    r.registered || r.managed)
		return CUDA_ERROR_INVALID_VALUE;
	return shim_host_free(p);
}

CUresult shim_host_free(void *p)
{
	struct shim_range r;

	if (shim_range_find((uintptr_t)p, &r) || r.kind != SHIM_RANGE_HOST || r.base != (uintptr_t)p)
		return CUDA_ERROR_INVALID_VALUE;
	stop_sharing(&r);
	shim_range_remove(r.base, NULL);
	munmap(p, page_up(r.bytes));
	return CUDA_SUCCESS;
}

/* The program's own memory: its pages become a shared memfd in place, their
 * contents kept, so that the server can map them too. */
static CUresult host_register(void *p, size_t bytes, unsigned int flags)
{
	struct shim_range r = {.base = (uintptr_t)p, .bytes = bytes, .kind = SHIM_RANGE_HOST,
			       .dev = shim_current_device(), .flags = flags, .registered = 1};
	uint64_t base = page_down((uintptr_t)p), len = page_up((uintptr_t)p + bytes) - base, dptr = 0;
	CUresult res = CUDA_ERROR_OUT_OF_MEMORY;
	int fd;

	if (!p || !bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (!shim_range_find(r.base, NULL) || !shim_range_find(r.base + bytes - 1, NULL))
		return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	if (map_shared((void *)(uintptr_t)base, len, &fd)) {
		res = shim_host_share(base, len, fd, &dptr);
		close(fd);
	}
	r.shared = res == CUDA_SUCCESS;
	r.device_ptr = r.shared ? dptr + ((uintptr_t)p - base) : 0;
	if (!r.shared)
		not_shared(p, res);
	return shim_range_add(&r) ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

static CUresult host_unregister(void *p)
{
	struct shim_range r;

	if (shim_range_find((uintptr_t)p, &r) || !r.registered || r.base != (uintptr_t)p)
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	stop_sharing(&r);
	shim_range_remove(r.base, NULL);
	return CUDA_SUCCESS;
}

static CUresult host_get_flags(unsigned int *flags, void *p)
{
	struct shim_range r;

	if (!flags || shim_range_find((uintptr_t)p, &r) || r.kind != SHIM_RANGE_HOST)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = r.flags;
	return CUDA_SUCCESS;
}

/* Under unified addressing, the host address itself on current GPUs. */
static CUresult host_get_device_pointer(CUdeviceptr *dptr, void *p, unsigned int flags)
{
	struct shim_range r;

	if (!dptr || flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (shim_range_find((uintptr_t)p, &r) || r.kind != SHIM_RANGE_HOST)
		return CUDA_ERROR_INVALID_VALUE;
	if (!r.shared)
		return CUDA_ERROR_NOT_SUPPORTED; /* not_shared() said why */
	*dptr = r.device_ptr + ((uintptr_t)p - r.base);
	return CUDA_SUCCESS;
}

/* Whether [p, p + bytes) is host memory the server maps too. */
int shim_shared_host(const void *p, size_t bytes)
{
	struct shim_range r;

	return bytes && !shim_range_find((uintptr_t)p, &r) && r.kind == SHIM_RANGE_HOST && r.shared &&
	       (uintptr_t)p - r.base <= r.bytes - bytes;
}

/* Page-locked memory the server maps too, for the shim's own use. */
CUresult shim_host_alloc_shared(void **pp, size_t bytes)
{
	CUresult r = host_alloc(pp, bytes, 0);

	if (r == CUDA_SUCCESS && !shim_shared_host(*pp, bytes))
		r = CUDA_ERROR_NOT_SUPPORTED; /* the memory stays the caller's: each caller asks once */
	return r;
}

void shim_host_install(void)
{
	SHIM_INSTALL(cuMemHostAlloc, host_alloc);
	SHIM_INSTALL(cuMemAllocHost_v2, alloc_host);
	SHIM_INSTALL(cuMemFreeHost, free_host);
	SHIM_INSTALL(cuMemHostRegister_v2, host_register);
	SHIM_INSTALL(cuMemHostUnregister, host_unregister);
	SHIM_LOCAL(cuMemHostGetFlags, host_get_flags);
	SHIM_LOCAL(cuMemHostGetDevicePointer_v2, host_get_device_pointer);
}
