/* Page-locked host memory shared with a client: the client's memfd mapped
 * here at the client's address and registered with the driver, so that
 * copies between it and the device are DMA on the client's streams, and
 * kernels reach it through its device pointer. The main thread maps and
 * unmaps (the descriptors come on the client's socket); the worker checks
 * copies against the list, under the client's lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "sock.h"

struct srv_host {
	struct srv_host *next;
	uint64_t addr, bytes, device_ptr;
};

static CUresult map(struct srv_client *c, struct omps_host_map *m, int fd, char *why, size_t len)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_host *h = calloc(1, sizeof(*h));
	void *p = MAP_FAILED;
	CUdeviceptr d = 0;
	CUresult r;

	if (!h)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!m->bytes || m->addr % 4096 || m->bytes % 4096) {
		snprintf(why, len, "not whole pages");
		r = CUDA_ERROR_INVALID_VALUE;
		goto fail;
	}
	p = mmap((void *)(uintptr_t)m->addr, m->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd,
		 0);
	if (p == MAP_FAILED || p != (void *)(uintptr_t)m->addr) {
		snprintf(why, len, "the address is taken in the server (%s)", p == MAP_FAILED ? strerror(errno) : "moved");
		r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
		goto fail;
	}
	r = drv->ctx_set_current(c->srv->ctx[0]);
	srv_beat_doing("page-locking %llu bytes of host memory of client process %d", (unsigned long long)m->bytes,
		       (int)c->pid);
	if (r == CUDA_SUCCESS)
		r = drv->mem_host_register(p, m->bytes, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
	if (r == CUDA_SUCCESS && drv->mem_host_get_device_pointer(&d, p, 0) != CUDA_SUCCESS)
		d = 0;
	if (r != CUDA_SUCCESS) {
		snprintf(why, len, "the driver would not register it");
		goto fail;
	}
	m->device_ptr = d;
	h->addr = m->addr;
	h->bytes = m->bytes;
	h->device_ptr = d;
	pthread_mutex_lock(&c->host.lock);
	h->next = c->host.maps;
	c->host.maps = h;
	pthread_mutex_unlock(&c->host.lock);
	return CUDA_SUCCESS;
fail:
	if (p != MAP_FAILED)
		munmap(p, m->bytes);
	free(h);
	return r;
}

static void drop(struct srv_client *c, struct srv_host *h)
{
	if (c->srv->drv->ctx_set_current(c->srv->ctx[0]) == CUDA_SUCCESS)
		c->srv->drv->mem_host_unregister((void *)(uintptr_t)h->addr);
	munmap((void *)(uintptr_t)h->addr, h->bytes);
	free(h);
}

static CUresult unmap(struct srv_client *c, uint64_t addr)
{
	struct srv_host **pp, *h;

	pthread_mutex_lock(&c->host.lock);
	for (pp = &c->host.maps; (h = *pp); pp = &h->next)
		if (h->addr == addr)
			break;
	if (h)
		*pp = h->next;
	pthread_mutex_unlock(&c->host.lock);
	if (!h)
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	drop(c, h);
	return CUDA_SUCCESS;
}

/* A HOST_MAP or HOST_UNMAP message; the answer is HOST_MAPPED. */
void srv_host_message(struct srv_client *c, const struct omps_msg *hdr, const void *buf, size_t n, int fd)
{
	struct omps_host_map m = {0};
	char why[128] = "";
	CUresult r;

	if (n != sizeof(m) || !c->map || (hdr->type == OMPS_MSG_HOST_MAP && fd < 0)) {
		r = CUDA_ERROR_INVALID_VALUE;
		snprintf(why, sizeof(why), "malformed request");
	} else {
		memcpy(&m, buf, sizeof(m));
		r = hdr->type == OMPS_MSG_HOST_MAP ? map(c, &m, fd, why, sizeof(why)) : unmap(c, m.addr);
	}
	if (fd >= 0)
		close(fd);
	if (r != CUDA_SUCCESS && hdr->type == OMPS_MSG_HOST_MAP)
		omps_log("Client process %d: cannot share %llu bytes of host memory at 0x%llx: %s", (int)c->pid,
			 (unsigned long long)m.bytes, (unsigned long long)m.addr, why);
	omps_send(c->fd, OMPS_MSG_HOST_MAPPED, (uint32_t)r, 0, &m, sizeof(m), -1, 0);
}

int srv_host_owned(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	return srv_host_device_ptr(c, addr, bytes) != 0;
}

uint64_t srv_host_device_ptr_locked(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	struct srv_host *h;

	for (h = c->host.maps; h; h = h->next)
		if (addr >= h->addr && bytes <= h->bytes && addr - h->addr <= h->bytes - bytes)
			return h->device_ptr ? h->device_ptr + (addr - h->addr) : addr;
	return 0;
}

uint64_t srv_host_device_ptr(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	uint64_t d;

	pthread_mutex_lock(&c->host.lock);
	d = srv_host_device_ptr_locked(c, addr, bytes);
	pthread_mutex_unlock(&c->host.lock);
	return d;
}

/* When the client goes, after its streams are done. */
void srv_host_release(struct srv_client *c)
{
	struct srv_host *h;

	uint32_t i;

	pthread_mutex_lock(&c->host.lock);
	h = c->host.maps;
	c->host.maps = NULL;
	pthread_mutex_unlock(&c->host.lock);
	for (i = 0; h && i < c->srv->devices.ndevices; i++)
		srv_sync_device(c, (int)i); /* no copy may be left using it */
	while (h) {
		struct srv_host *next = h->next;

		drop(c, h);
		h = next;
	}
}
