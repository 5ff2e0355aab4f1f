/* Page-locked host memory shared with a client: the client's memfd mapped
 * here at the client's address and registered with the driver, so that
 * copies between it and the device are DMA on the client's streams, and
 * kernels reach it through its device pointer. The requests come on the
 * client's socket, to the main thread, which waits for neither
 * (docs/architecture.md, "Liveness"): a HOST_MAP goes to a thread of its own
 * (page-locking takes the driver milliseconds a GiB); a HOST_UNMAP to the
 * client's worker, the one thread that knows what its streams and graphs
 * may still touch. The shim sends one request at a time a process, so a
 * client's stay in order; its release waits for the one under way. The
 * worker checks copies against the list, under the client's lock.
 *
 * Only a memfd sealed against shrinking is mapped, so that the server can
 * never take SIGBUS from it; memory that a graph or a capture of the client
 * may name stays mapped and registered until none is left (security review
 * H4), as its device memory does (memory.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "sock.h"

/* The most ranges of host memory one client may share at once: each is a
 * mapping in the server, and the kernel allows a process 65,530 by default
 * (security review M5). */
#define HOST_MAPS_PER_CLIENT 4096

struct srv_host {
	struct srv_host *next;
	uint64_t addr, bytes, device_ptr;
	int fd; /* the client's memfd, kept for a successor (handover.c) */
};

/* The client cannot make the file smaller (SIGBUS in the server) nor punch
 * a hole in huge pages, which the kernel may not refill (SIGBUS too). */
static int safe_file(int fd, uint64_t bytes, char *why, size_t len)
{
	int seals = fcntl(fd, F_GET_SEALS);
	struct statfs fs;
	struct stat st;

	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		snprintf(why, len, "not a memfd sealed against shrinking (F_SEAL_SHRINK)");
		return 0;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < bytes) {
		snprintf(why, len, "the file is smaller than the memory");
		return 0;
	}
	if (fstatfs(fd, &fs) < 0 || fs.f_type == HUGETLBFS_MAGIC) {
		snprintf(why, len, "a file of huge pages");
		return 0;
	}
	return 1;
}

static void uncount_map(struct srv_client *c, uint64_t bytes)
{
	atomic_fetch_sub(&c->srv->host_maps, 1);
	pthread_mutex_lock(&c->host.lock);
	c->host.nmaps--;
	c->host.bytes -= bytes;
	pthread_mutex_unlock(&c->host.lock);
}

/* Room for one more mapping of bytes: the client's own count and bytes
 * (page-locked in the server, outside the client's RLIMIT_MEMLOCK), then
 * the server's count. */
static int count_map(struct srv_client *c, uint64_t bytes, char *why, size_t len)
{
	struct srv_state *s = c->srv;
	int count_ok, bytes_ok;

	pthread_mutex_lock(&c->host.lock);
	count_ok = c->host.nmaps < HOST_MAPS_PER_CLIENT;
	bytes_ok = bytes <= s->host_bytes_max && c->host.bytes <= s->host_bytes_max - bytes;
	if (count_ok && bytes_ok) {
		c->host.nmaps++;
		c->host.bytes += bytes;
	}
	pthread_mutex_unlock(&c->host.lock);
	if (!count_ok) {
		snprintf(why, len, "it shares %u ranges already, the most a client may", HOST_MAPS_PER_CLIENT);
		return 0;
	}
	if (!bytes_ok) {
		snprintf(why, len, "it would share more than %llu MiB, the most a client may (OPENMPS_CLIENT_HOST_MEMORY_MB)",
			 (unsigned long long)(s->host_bytes_max >> 20));
		return 0;
	}
	if (atomic_fetch_add(&s->host_maps, 1) < s->host_maps_max)
		return 1;
	snprintf(why, len, "the server shares %u ranges for all its clients, half of vm.max_map_count",
		 s->host_maps_max);
	uncount_map(c, bytes);
	return 0;
}

/* Whether every GPU of the server reaches page-locked memory at its host
 * address (CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM): then that is its
 * device address even where the driver gives none. Asked once. */
int srv_host_same_address(struct srv_state *s)
{
	static atomic_int known = -1;
	int v, same = 1;
	uint32_t i;

	if (atomic_load(&known) >= 0)
		return atomic_load(&known);
	for (i = 0; i < s->devices.ndevices && same; i++)
		same = s->drv->device_get_attribute(&v, CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM,
						    (CUdevice)i) == CUDA_SUCCESS &&
		       v == 1;
	atomic_store(&known, same);
	return same;
}

/* A registration that met a GPU fault (a soak on the H200 met one): the
 * range is kept unregistered and the client told its host address, which
 * the server made anew registers it at and checks (srv_host_restore), as
 * for every range it finds in the record. Where no successor comes, or the
 * address may differ, the request fails as before. */
static int met_fault(struct srv_client *c, const struct omps_host_map *m, CUresult r)
{
	if (!srv_fault_fatal(r) || !srv_fault_can_hold() || !srv_host_same_address(c->srv))
		return 0;
	omps_log("Client process %d: its host memory at 0x%llx (%llu bytes) met the GPU fault; the server made anew "
		 "page-locks it",
		 (int)c->pid, (unsigned long long)m->addr, (unsigned long long)m->bytes);
	return 1;
}

static CUresult map(struct srv_client *c, struct omps_host_map *m, int fd, char *why, size_t len)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_host *h = calloc(1, sizeof(*h));
	void *p = MAP_FAILED;
	CUdeviceptr d = 0;
	int counted = 0;
	CUresult r;

	if (!h)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!m->bytes || m->addr % 4096 || m->bytes % 4096) {
		snprintf(why, len, "not whole pages");
		r = CUDA_ERROR_INVALID_VALUE;
		goto fail;
	}
	if (!safe_file(fd, m->bytes, why, len)) {
		r = CUDA_ERROR_INVALID_VALUE;
		goto fail;
	}
	if (!count_map(c, m->bytes, why, len)) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto fail;
	}
	counted = 1;
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
	if (r != CUDA_SUCCESS && met_fault(c, m, r))
		r = CUDA_SUCCESS; /* kept unregistered: the server made anew registers it */
	else if (r == CUDA_SUCCESS && drv->mem_host_get_device_pointer(&d, p, 0) != CUDA_SUCCESS)
		d = 0;
	if (r != CUDA_SUCCESS) {
		snprintf(why, len, "the driver would not register it");
		goto fail;
	}
	if (!d && !srv_host_same_address(c->srv)) {
		drv->mem_host_unregister(p);
		snprintf(why, len, "the driver gave it no device address");
		r = CUDA_ERROR_INVALID_VALUE;
		goto fail;
	}
	m->device_ptr = d ? d : m->addr;
	h->addr = m->addr;
	h->bytes = m->bytes;
	h->device_ptr = m->device_ptr;
	h->fd = fd; /* the job's no more */
	if (!srv_handover_fd_keepable(fd)) { /* the client cannot be kept through a fault */
		close(fd);
		h->fd = -1;
	}
	pthread_mutex_lock(&c->host.lock);
	h->next = c->host.maps;
	c->host.maps = h;
	pthread_mutex_unlock(&c->host.lock);
	return CUDA_SUCCESS;
fail:
	if (p != MAP_FAILED)
		munmap(p, m->bytes);
	if (counted)
		uncount_map(c, m->bytes);
	free(h);
	return r;
}

static void drop(struct srv_client *c, struct srv_host *h)
{
	if (c->srv->drv->ctx_set_current(c->srv->ctx[0]) == CUDA_SUCCESS)
		c->srv->drv->mem_host_unregister((void *)(uintptr_t)h->addr);
	munmap((void *)(uintptr_t)h->addr, h->bytes);
	uncount_map(c, h->bytes);
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

static struct srv_host *take_locked(struct srv_client *c, uint64_t addr)
{
	struct srv_host **pp, *h;

	for (pp = &c->host.maps; (h = *pp); pp = &h->next)
		if (h->addr == addr) {
			*pp = h->next;
			return h;
		}
	return NULL;
}

/* No copy of the client's may still be using what goes. */
static void sync_all(struct srv_client *c)
{
	uint32_t i;

	for (i = 0; i < c->srv->devices.ndevices; i++)
		srv_sync_device(c, (int)i);
}

static void drop_list(struct srv_client *c, struct srv_host *h)
{
	while (h) {
		struct srv_host *next = h->next;

		drop(c, h);
		h = next;
	}
}

struct host_job {
	struct srv_client *c;
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

/* The answer (a send that does not wait), and done, in one step under the
 * lock: the client's next request, which its answer lets it send, finds
 * this one over. */
static void answer_done(struct srv_client *c, CUresult r, const struct omps_host_map *m)
{
	pthread_mutex_lock(&c->host.lock);
	omps_send(c->fd, OMPS_MSG_HOST_MAPPED, (uint32_t)r, 0, m, sizeof(*m), -1, 0);
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
	CUresult r = map(c, &j->m, j->fd, why, sizeof(why));

	if (r != CUDA_SUCCESS)
		close(j->fd); /* mapped, it is the map's */
	if (r != CUDA_SUCCESS) /* logged as a refusal: a client asking in a loop fills no log */
		srv_refused(c, "cannot share %llu bytes of host memory at 0x%llx: %s", (unsigned long long)j->m.bytes,
			    (unsigned long long)j->m.addr, why);
	answer_done(c, r, &j->m);
	free(j);
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

/* One request at a time: the shim waits for each answer, so only a raw
 * client asks again before it has one. */
static CUresult start_job_locked(struct srv_client *c)
{
	join_done_locked(c);
	if (c->host.jobs)
		return CUDA_ERROR_NOT_PERMITTED;
	c->host.jobs++;
	return CUDA_SUCCESS;
}

static CUresult start_map(struct srv_client *c, const struct omps_host_map *m, int fd)
{
	struct host_job *j = malloc(sizeof(*j));
	CUresult r;
	int err;

	if (!j)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&c->host.lock);
	r = start_job_locked(c);
	pthread_mutex_unlock(&c->host.lock);
	if (r != CUDA_SUCCESS) {
		free(j);
		return r;
	}
	*j = (struct host_job){.c = c, .m = *m, .fd = fd};
	err = pthread_create(&c->host.thread, NULL, run_job, j);
	if (err) {
		free(j);
		job_done(c);
		omps_log("Client process %d: cannot start a thread for its host memory: %s", (int)c->pid, strerror(err));
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_lock(&c->host.lock);
	c->host.joinable = 1;
	pthread_mutex_unlock(&c->host.lock);
	return CUDA_SUCCESS;
}

static CUresult start_unshare(struct srv_client *c, const struct omps_host_map *m)
{
	CUresult r;

	pthread_mutex_lock(&c->host.lock);
	r = start_job_locked(c);
	if (r == CUDA_SUCCESS) {
		c->host.unsharing = 1;
		c->host.unshare = m->addr;
	}
	pthread_mutex_unlock(&c->host.lock);
	if (r == CUDA_SUCCESS)
		srv_channel_poke(c);
	return r;
}

/* A HOST_MAP or HOST_UNMAP message, once the client has its channel; the
 * answer is HOST_MAPPED, from whichever thread does the work. */
void srv_host_message(struct srv_client *c, const struct omps_msg *hdr, const void *buf, size_t n, int fd)
{
	struct omps_host_map m;
	CUresult r = CUDA_ERROR_INVALID_VALUE;

	if (n == sizeof(m) && c->map) {
		memcpy(&m, buf, sizeof(m));
		if (hdr->type == OMPS_MSG_HOST_UNMAP)
			r = start_unshare(c, &m);
		else if (fd >= 0)
			r = start_map(c, &m, fd);
		if (r == CUDA_SUCCESS)
			return; /* the descriptor is the job's */
	}
	if (fd >= 0)
		close(fd);
	omps_send(c->fd, OMPS_MSG_HOST_MAPPED, (uint32_t)r, 0, &(struct omps_host_map){0}, sizeof(struct omps_host_map),
		  -1, 0);
}

/* What a HOST_UNMAP asked for, on the client's worker. Memory that its
 * graphs or captures may name is only retired: a launch can no longer name
 * it, but it stays mapped and registered (srv_host_free_retired). */
void srv_host_unshare(struct srv_client *c)
{
	struct omps_host_map m = {0};
	struct srv_host *h;
	int keep = srv_graph_live(c);

	pthread_mutex_lock(&c->host.lock);
	if (!c->host.unsharing) {
		pthread_mutex_unlock(&c->host.lock);
		return;
	}
	c->host.unsharing = 0;
	m.addr = c->host.unshare;
	h = take_locked(c, m.addr);
	if (h && keep) {
		h->next = c->host.retired;
		c->host.retired = h;
	}
	pthread_mutex_unlock(&c->host.lock);
	if (h && keep) {
		omps_log("Client process %d: host memory at 0x%llx unshared while it holds graphs; kept until they go",
			 (int)c->pid, (unsigned long long)m.addr);
	} else if (h) {
		sync_all(c);
		drop(c, h);
	}
	answer_done(c, h ? CUDA_SUCCESS : CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, &m);
}

void srv_host_free_retired(struct srv_client *c)
{
	struct srv_host *h;

	pthread_mutex_lock(&c->host.lock);
	h = c->host.retired;
	c->host.retired = NULL;
	pthread_mutex_unlock(&c->host.lock);
	if (!h)
		return;
	sync_all(c); /* a graph launched before its destruction may still run */
	drop_list(c, h);
	omps_log("Client process %d: host memory it unshared while it held graphs now let go", (int)c->pid);
}

int srv_host_owned(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	return srv_host_device_ptr(c, addr, bytes) != 0;
}

/* Where the device sees the range, as the client was told: the driver's
 * address, or (none given: 0) its host address. */
static uint64_t device_base(const struct srv_host *h)
{
	return h->device_ptr ? h->device_ptr : h->addr;
}

uint64_t srv_host_device_ptr_locked(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	struct srv_host *h;

	for (h = c->host.maps; h; h = h->next)
		if (srv_span_holds(h->addr, h->bytes, addr, bytes))
			return device_base(h) + (addr - h->addr);
	return 0;
}

static int within(const struct srv_host *h, uint64_t addr, uint64_t bytes)
{
	for (; h; h = h->next)
		if (srv_span_holds(h->addr, h->bytes, addr, bytes))
			return 1;
	return 0;
}

int srv_host_mapped_locked(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	return within(c->host.maps, addr, bytes) || within(c->host.retired, addr, bytes);
}

uint64_t srv_host_device_ptr(struct srv_client *c, uint64_t addr, uint64_t bytes)
{
	uint64_t d;

	pthread_mutex_lock(&c->host.lock);
	d = srv_host_device_ptr_locked(c, addr, bytes);
	pthread_mutex_unlock(&c->host.lock);
	return d;
}

/* When the client goes, on its worker, after its streams are done: the
 * request under way first (an unshare it was poked for is done here). */
void srv_host_release(struct srv_client *c)
{
	struct srv_host *h, *retired;

	srv_host_unshare(c);
	pthread_mutex_lock(&c->host.lock);
	while (c->host.jobs)
		pthread_cond_wait(&c->host.idle, &c->host.lock);
	join_done_locked(c);
	h = c->host.maps;
	retired = c->host.retired;
	c->host.maps = c->host.retired = NULL;
	pthread_mutex_unlock(&c->host.lock);
	if (h || retired)
		sync_all(c); /* no copy may be left using it */
	drop_list(c, h);
	drop_list(c, retired);
}

static int fds_open(const struct srv_host *h)
{
	for (; h; h = h->next)
		if (h->fd < 0)
			return 0;
	return 1;
}

int srv_host_keepable(struct srv_client *c)
{
	return fds_open(c->host.maps) && fds_open(c->host.retired);
}

static void save_list(const struct srv_host *list, struct srv_pack *p)
{
	const struct srv_host *h;
	uint32_t n = 0;

	for (h = list; h; h = h->next)
		n++;
	srv_pack_put(p, &n, sizeof(n));
	for (h = list; h; h = h->next) {
		srv_pack_put(p, &h->addr, sizeof(h->addr));
		srv_pack_put(p, &h->bytes, sizeof(h->bytes));
		srv_pack_put(p, &h->device_ptr, sizeof(h->device_ptr));
		srv_pack_fd(p, h->fd);
	}
}

/* What it shares, then what it unshared while it held graphs (retired:
 * its graphs may still name it, so the successor keeps it registered). */
void srv_host_save(struct srv_client *c, struct srv_pack *p)
{
	save_list(c->host.maps, p);
	save_list(c->host.retired, p);
}

/* Which step of sharing a range again failed: its address is taken here,
 * the driver would not page-lock it, or its device pointer moved. */
static void said_why(struct srv_client *c, const struct srv_host *h, const void *p, CUresult r, CUdeviceptr d)
{
	char err[64];

	if (p != (void *)(uintptr_t)h->addr) {
		omps_log("Client process %d: its host memory at 0x%llx (%llu bytes) cannot be mapped there again: %s",
			 (int)c->pid, (unsigned long long)h->addr, (unsigned long long)h->bytes,
			 p == MAP_FAILED ? strerror(errno) : "another address was given");
		return;
	}
	if (r == CUDA_ERROR_INVALID_VALUE) {
		omps_log("Client process %d: its host memory at 0x%llx has another device address now (0x%llx, was "
			 "0x%llx)",
			 (int)c->pid, (unsigned long long)h->addr, (unsigned long long)d,
			 (unsigned long long)device_base(h));
		return;
	}
	srv_driver_strerror(c->srv->drv, r, err, sizeof(err));
	omps_log("Client process %d: its host memory at 0x%llx (%llu bytes) cannot be page-locked again: %s",
		 (int)c->pid, (unsigned long long)h->addr, (unsigned long long)h->bytes, err);
}

/* Each range of a list mapped at its address again and registered, into
 * *list; the client cannot be kept if the device pointer it was told moved. */
static const char *restore_list(struct srv_client *c, struct srv_unpack *u, struct srv_host **list)
{
	struct srv_driver *drv = c->srv->drv;
	const char *why = NULL;
	uint32_t n, i;

	if (srv_unpack_get(u, &n, sizeof(n)) < 0)
		return "its record is cut short";
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_host *h = calloc(1, sizeof(*h));
		CUdeviceptr d = 0;
		void *p = MAP_FAILED;
		CUresult r;

		if (!h)
			return "out of memory";
		srv_unpack_get(u, &h->addr, sizeof(h->addr));
		srv_unpack_get(u, &h->bytes, sizeof(h->bytes));
		srv_unpack_get(u, &h->device_ptr, sizeof(h->device_ptr));
		h->fd = srv_unpack_fd(u);
		if (u->failed || why || h->fd < 0 ||
		    !count_map(c, h->bytes, NULL, 0)) {
			why = why ? why : "its host memory cannot be shared again";
			if (!u->failed && h->fd >= 0)
				close(h->fd);
			free(h);
			continue;
		}
		p = mmap((void *)(uintptr_t)h->addr, h->bytes, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED_NOREPLACE, h->fd, 0);
		r = p == (void *)(uintptr_t)h->addr ? drv->ctx_set_current(c->srv->ctx[0]) : CUDA_ERROR_ALREADY_MAPPED;
		if (r == CUDA_SUCCESS)
			r = drv->mem_host_register(p, h->bytes, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
		/* As the client was told: the driver gave none when it was shared
		 * (seen on the H200 when that met a fault) and it was told its host address. */
		if (r == CUDA_SUCCESS &&
		    (drv->mem_host_get_device_pointer(&d, p, 0) != CUDA_SUCCESS || d != device_base(h)))
			r = CUDA_ERROR_INVALID_VALUE; /* registered, dropped below */
		if (r == CUDA_SUCCESS) {
			h->next = *list;
			*list = h;
			continue;
		}
		why = "its host memory cannot be shared again at the same address";
		said_why(c, h, p, r, d);
		if (r == CUDA_ERROR_INVALID_VALUE) {
			h->next = *list; /* dropped with the client */
			*list = h;
			continue;
		}
		if (p != MAP_FAILED)
			munmap(p, h->bytes);
		uncount_map(c, h->bytes);
		close(h->fd);
		free(h);
	}
	return u->failed ? "its record is cut short" : why;
}

const char *srv_host_restore(struct srv_client *c, struct srv_unpack *u)
{
	const char *why = restore_list(c, u, &c->host.maps);
	const char *retired = restore_list(c, u, &c->host.retired); /* read whatever the first said */

	return why ? why : retired;
}
