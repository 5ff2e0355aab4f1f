/* Page-locked host memory shared with a client: the client's memfd mapped
 * here at the client's address and registered with the driver, so that
 * copies between it and the device are DMA on the client's streams, and
 * kernels reach it through its device pointer. The requests come on the
 * client's socket, to the main thread, which hands each to a thread of its
 * own: page-locking takes the driver milliseconds a GiB, and giving memory
 * back waits for the GPU, whose streams may wait for any client's host
 * functions, and the main loop waits for neither (docs/architecture.md,
 * "Liveness"). The shim sends one request at a time a process, so a
 * client's stay in order; its release waits for the one under way. The
 * worker checks copies against the list, under the client's lock. */
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

struct host_job {
	struct srv_client *c;
	uint32_t type;
	struct omps_host_map m;
	int fd;
};

/* Done, and the last touch of the client: its release may go on. */
static void job_done(struct srv_client *c)
{
	pthread_mutex_lock(&c->host.lock);
	c->host.jobs--;
	pthread_cond_broadcast(&c->host.idle);
	pthread_mutex_unlock(&c->host.lock);
}

static void *run_job(void *arg)
{
	struct host_job *j = arg;
	struct srv_client *c = j->c;
	char why[128] = "";

	pthread_setname_np(pthread_self(), "omps-hostmem");
	CUresult r = j->type == OMPS_MSG_HOST_MAP ? map(c, &j->m, j->fd, why, sizeof(why)) : unmap(c, j->m.addr);

	if (j->fd >= 0)
		close(j->fd);
	if (r != CUDA_SUCCESS && j->type == OMPS_MSG_HOST_MAP)
		omps_log("Client process %d: cannot share %llu bytes of host memory at 0x%llx: %s", (int)c->pid,
			 (unsigned long long)j->m.bytes, (unsigned long long)j->m.addr, why);
	omps_send(c->fd, OMPS_MSG_HOST_MAPPED, (uint32_t)r, 0, &j->m, sizeof(j->m), -1, 0);
	free(j);
	job_done(c);
	return NULL;
}

/* The thread of the last request, once done: joined, so that no thread of
 * a client's outlives its release (a detached one, still exiting, also
 * upset LeakSanitizer's thread tracer in the fuzz targets). Lock held:
 * dropped for the join, which waits only for a thread past job_done. */
static void join_done_locked(struct srv_client *c)
{
	pthread_t t = c->host.thread;

	if (!c->host.joinable || c->host.jobs)
		return;
	c->host.joinable = 0;
	pthread_mutex_unlock(&c->host.lock);
	pthread_join(t, NULL);
	pthread_mutex_lock(&c->host.lock);
}

/* A HOST_MAP or HOST_UNMAP message; the answer is HOST_MAPPED, from the
 * request's own thread. */
void srv_host_message(struct srv_client *c, const struct omps_msg *hdr, const void *buf, size_t n, int fd)
{
	struct host_job *j = NULL;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	int err;

	if (n == sizeof(j->m) && c->map && (hdr->type == OMPS_MSG_HOST_UNMAP || fd >= 0)) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		j = malloc(sizeof(*j));
	}
	pthread_mutex_lock(&c->host.lock);
	join_done_locked(c);
	if (j && c->host.jobs) { /* the shim waits for each answer: only a raw client asks twice */
		free(j);
		j = NULL;
		r = CUDA_ERROR_NOT_PERMITTED;
	}
	if (j)
		c->host.jobs++;
	pthread_mutex_unlock(&c->host.lock);
	if (j) {
		*j = (struct host_job){.c = c, .type = hdr->type, .fd = fd};
		memcpy(&j->m, buf, sizeof(j->m));
		err = pthread_create(&c->host.thread, NULL, run_job, j);
		if (!err) {
			pthread_mutex_lock(&c->host.lock);
			c->host.joinable = 1;
			pthread_mutex_unlock(&c->host.lock);
			return;
		}
		free(j);
		job_done(c);
		omps_log("Client process %d: cannot start a thread for its host memory: %s", (int)c->pid, strerror(err));
	}
	if (fd >= 0)
		close(fd);
	omps_send(c->fd, OMPS_MSG_HOST_MAPPED, (uint32_t)r, 0, &(struct omps_host_map){0}, sizeof(struct omps_host_map),
		  -1, 0);
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

/* When the client goes, after its streams are done, and after the request
 * under way for it (its host functions' waits are let go already). */
void srv_host_release(struct srv_client *c)
{
	struct srv_host *h;

	uint32_t i;

	pthread_mutex_lock(&c->host.lock);
	while (c->host.jobs)
		pthread_cond_wait(&c->host.idle, &c->host.lock);
	join_done_locked(c);
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
