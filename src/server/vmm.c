/* Virtual memory management on a client's behalf (cuMemAddressReserve,
 * cuMemCreate, cuMemMap, cuMemSetAccess and their undoing), in the server's
 * context. Physical memory is a handle into the client's own table and
 * counts against its memory limit; a mapping must lie in one of its own
 * reservations and name one of its handles; a range it made accessible
 * joins its allocation table, so copies, memsets and graphs may use it as
 * they use cuMemAlloc's. A mapping is zeroed, after the client's work, before
 * it is unmapped: physical memory goes back to the driver, which may hand
 * the pages to another client of this context. Exporting a handle
 * (shareable handles) is not served.
 *
 * Across a GPU fault (handover.c): physical memory is made exportable and
 * held open as a file descriptor, as the arena's chunks are, so it outlives
 * the poisoned process; the successor reserves the client's ranges at the
 * same addresses, imports its memory, maps and opens it again. A range is
 * reserved in the arena's address window where it has room (one the
 * driver placed may hold the successor's own mappings by then), and given
 * back there. */
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

struct srv_vmm_range {
	struct srv_vmm_range *next;
	CUdeviceptr ptr;
	uint64_t size;
	uint32_t handle; /* a mapping's physical memory */
	int dev;
	uint64_t offset; /* a mapping's, in its physical memory */
};

struct srv_vmm_phys {
	CUmemGenericAllocationHandle h; /* 0 once released */
	uint64_t size;
	int dev;
	int fd; /* held open for a successor after a fault; -1: none */
};

static struct srv_vmm_range *within(struct srv_vmm_range *list, CUdeviceptr ptr, uint64_t size)
{
	for (; list; list = list->next)
		if (srv_span_holds(list->ptr, list->size, ptr, size))
			return list;
	return NULL;
}

static struct srv_vmm_phys *phys_of(struct srv_client *c, uint32_t handle)
{
	if (handle && handle <= c->vmm.nphys && c->vmm.phys[handle - 1].h)
		return &c->vmm.phys[handle - 1];
	srv_bad_handle(c, "physical memory", handle);
	return NULL;
}

static CUmemAllocationProp device_prop(int dev)
{
	CUmemAllocationProp p;

	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = dev;
	return p;
}

/* Physical memory that a successor can take over: made exportable, and
 * its descriptor held. Where the driver will not, as before: the client
 * is not kept at a fault. */
static CUresult create_kept(struct srv_client *c, int dev, uint64_t size, CUmemGenericAllocationHandle *h, int *fd)
{
	struct srv_driver *drv = c->srv->drv;
	CUmemAllocationProp p = device_prop(dev);
	CUresult r = CUDA_ERROR_NOT_SUPPORTED;

	*fd = -1;
	p.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	if (drv->mem_export_to_shareable_handle && srv_handover_enabled())
		r = drv->mem_create(h, size, &p, 0);
	if (r != CUDA_SUCCESS) {
		p.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
		return drv->mem_create(h, size, &p, 0);
	}
	if (drv->mem_export_to_shareable_handle(fd, *h, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0) != CUDA_SUCCESS)
		*fd = -1;
	if (*fd >= 0 && !srv_handover_fd_keepable(*fd)) {
		close(*fd);
		*fd = -1;
	}
	return CUDA_SUCCESS;
}

static CUresult ready(struct srv_client *c, int dev, void *fn)
{
	CUresult r = srv_use_device(c, dev, NULL);

	return r == CUDA_SUCCESS && !fn ? CUDA_ERROR_NOT_SUPPORTED : r;
}

void srv_vmm_granularity(struct srv_client *c, const struct omps_call_vmm *m)
{
	CUmemAllocationProp p = device_prop(m->dev);
	size_t g = 0;
	CUresult r = ready(c, m->dev, (void *)c->srv->drv->mem_get_allocation_granularity);

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_get_allocation_granularity(&g, &p, (CUmemAllocationGranularity_flags)m->flags);
	srv_reply_value(c, r, (int64_t)g);
}

void srv_vmm_reserve(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct srv_vmm_range *v = calloc(1, sizeof(*v));
	struct omps_reply_ptr rep = {{0}, 0};
	CUdeviceptr p = 0;
	CUresult r = v ? ready(c, 0, (void *)c->srv->drv->mem_address_reserve) : CUDA_ERROR_OUT_OF_MEMORY;

	if (r == CUDA_SUCCESS && !m->ptr && !m->flags) /* in a window: a successor has it too */
		p = srv_arena_range_take(c->srv, m->size, m->alignment);
	if (r == CUDA_SUCCESS && !p)
		r = c->srv->drv->mem_address_reserve(&p, m->size, m->alignment, m->ptr, m->flags);
	if (r == CUDA_SUCCESS) {
		*v = (struct srv_vmm_range){c->vmm.reserved, p, m->size, 0, 0, 0};
		c->vmm.reserved = v;
		v = NULL;
	}
	free(v);
	rep.r.result = srv_with_sticky(c, r);
	rep.ptr = p;
	srv_reply(c, &rep, sizeof(rep));
}

/* A range reserved given back: to its window, or to the driver. */
static CUresult unreserve(struct srv_client *c, const struct srv_vmm_range *v)
{
	CUresult r;

	if (srv_arena_range_give(c->srv, v->ptr, v->size))
		return CUDA_SUCCESS;
	r = ready(c, 0, (void *)c->srv->drv->mem_address_free);
	return r == CUDA_SUCCESS ? c->srv->drv->mem_address_free(v->ptr, v->size) : r;
}

void srv_vmm_addr_free(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct srv_vmm_range **pp, *v;
	CUresult r;

	for (pp = &c->vmm.reserved; (v = *pp) && (v->ptr != m->ptr || v->size != m->size); pp = &v->next)
		;
	if (!v || within(c->vmm.mapped, m->ptr, 1) || within(c->vmm.mapped, m->ptr + m->size - 1, 1)) {
		srv_refused(c, "cuMemAddressFree of a range it did not reserve, or still maps");
		srv_reply_result(c, CUDA_ERROR_INVALID_VALUE);
		return;
	}
	r = unreserve(c, v);
	if (r == CUDA_SUCCESS) {
		*pp = v->next;
		free(v);
	}
	srv_reply_result(c, r);
}

void srv_vmm_create(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUmemGenericAllocationHandle h = 0;
	struct srv_vmm_phys *t;
	int fd = -1;
	CUresult r = ready(c, m->dev, (void *)c->srv->drv->mem_create);

	if (r == CUDA_SUCCESS && (m->flags || !m->size))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_qos_mem_check(c, m->dev, m->size, "cuMemCreate");
	if (r == CUDA_SUCCESS)
		r = create_kept(c, m->dev, m->size, &h, &fd);
	if (r == CUDA_SUCCESS) {
		t = realloc(c->vmm.phys, (c->vmm.nphys + 1) * sizeof(*t));
		if (!t) {
			c->srv->drv->mem_release(h);
			if (fd >= 0)
				close(fd);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			c->vmm.phys = t;
			t[c->vmm.nphys] = (struct srv_vmm_phys){h, m->size, m->dev, fd};
			rep.handle = ++c->vmm.nphys;
			srv_memory_account(c, m->dev, m->size, 1);
		}
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* Released as the driver releases: the memory goes once no mapping holds it. */
static CUresult release_phys(struct srv_client *c, struct srv_vmm_phys *p)
{
	CUresult r = ready(c, p->dev, (void *)c->srv->drv->mem_release);

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_release(p->h);
	if (r == CUDA_SUCCESS) {
		srv_memory_account(c, p->dev, p->size, 0);
		p->h = 0;
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
	}
	return r;
}

void srv_vmm_release_handle(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct srv_vmm_phys *p = phys_of(c, m->handle);

	srv_reply_result(c, p ? release_phys(c, p) : CUDA_ERROR_INVALID_VALUE);
}

void srv_vmm_map(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct srv_vmm_phys *p = phys_of(c, m->handle);
	struct srv_vmm_range *v = calloc(1, sizeof(*v));
	CUresult r = p && v ? ready(c, p->dev, (void *)c->srv->drv->mem_map) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS && (!within(c->vmm.reserved, m->ptr, m->size) || m->offset > p->size ||
				  m->size > p->size - m->offset)) {
		srv_refused(c, "cuMemMap of 0x%llx (%llu bytes) outside its reservations or its memory",
			    (unsigned long long)m->ptr, (unsigned long long)m->size);
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_map(m->ptr, m->size, m->offset, p->h, 0);
	if (r == CUDA_SUCCESS) {
		*v = (struct srv_vmm_range){c->vmm.mapped, m->ptr, m->size, m->handle, p->dev, m->offset};
		c->vmm.mapped = v;
		v = NULL;
	}
	free(v);
	srv_reply_result(c, r);
}

/* The allocation-table entries of mappings within [ptr, ptr + size). */
static void forget_access(struct srv_client *c, CUdeviceptr ptr, uint64_t size)
{
	struct srv_alloc **pp = &c->mem.allocs, *a;

	while ((a = *pp)) {
		if (a->vmm && a->ptr >= ptr && a->ptr - ptr < size) {
			*pp = a->next;
			free(a);
		} else {
			pp = &a->next;
		}
	}
}

/* The mapping at ptr when mappings of one device cover [ptr, ptr + size). */
static struct srv_vmm_range *covered(struct srv_client *c, CUdeviceptr ptr, uint64_t size)
{
	struct srv_vmm_range *first = within(c->vmm.mapped, ptr, 1), *v = first;
	CUdeviceptr at = ptr;

	if (!size || ptr + size < ptr)
		return NULL;
	while (v && v->dev == first->dev) {
		if (v->ptr + v->size - at >= ptr + size - at)
			return first;
		at = v->ptr + v->size;
		v = within(c->vmm.mapped, at, 1);
	}
	return NULL;
}

void srv_vmm_access(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct srv_vmm_range *v = covered(c, m->ptr, m->size);
	struct srv_alloc *a = calloc(1, sizeof(*a));
	CUmemAccessDesc d;
	CUresult r = v && a ? ready(c, v->dev, (void *)c->srv->drv->mem_set_access) : CUDA_ERROR_INVALID_VALUE;

	if (!v)
		srv_refused(c, "cuMemSetAccess of 0x%llx (%llu bytes), which it has not mapped",
			    (unsigned long long)m->ptr, (unsigned long long)m->size);
	if (r == CUDA_SUCCESS && (m->dev != v->dev || m->flags > CU_MEM_ACCESS_FLAGS_PROT_READWRITE))
		r = CUDA_ERROR_INVALID_VALUE; /* its own device's access only */
	if (r == CUDA_SUCCESS) {
		d = (CUmemAccessDesc){{CU_MEM_LOCATION_TYPE_DEVICE, m->dev}, (CUmemAccess_flags)m->flags};
		r = c->srv->drv->mem_set_access(m->ptr, m->size, &d, 1);
	}
	if (r == CUDA_SUCCESS) {
		forget_access(c, m->ptr, m->size);
		if (m->flags != CU_MEM_ACCESS_FLAGS_PROT_NONE) {
			*a = (struct srv_alloc){.next = c->mem.allocs, .ptr = m->ptr, .bytes = m->size, .dev = v->dev,
						.vmm = (int)m->flags}; /* READ or READWRITE: not 0 */
			c->mem.allocs = a;
			a = NULL;
		}
	}
	free(a);
	srv_reply_result(c, r);
}

/* Its accessible parts zeroed after the client's work, then unmapped. */
static CUresult unmap_one(struct srv_client *c, const struct srv_vmm_range *v)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_alloc *a;
	CUstream s = NULL;
	CUresult r = srv_use_device(c, v->dev, &s);

	if (r == CUDA_SUCCESS && !drv->mem_unmap)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = srv_sync_device(c, v->dev);
	for (a = c->mem.allocs; a && r == CUDA_SUCCESS; a = a->next)
		if (a->vmm && a->ptr >= v->ptr && a->ptr - v->ptr < v->size)
			r = drv->memset_d8_async(a->ptr, 0, a->bytes, s);
	if (r == CUDA_SUCCESS)
		r = srv_sync_device(c, v->dev);
	if (r == CUDA_SUCCESS)
		r = drv->mem_unmap(v->ptr, v->size);
	if (r == CUDA_SUCCESS) /* still mapped (a call held over a fault): its access stays in the record */
		forget_access(c, v->ptr, v->size);
	return r;
}

void srv_vmm_unmap(struct srv_client *c, const struct omps_call_vmm *m)
{
	struct srv_vmm_range **pp, *v;
	CUresult r;

	for (pp = &c->vmm.mapped; (v = *pp) && (v->ptr != m->ptr || v->size != m->size); pp = &v->next)
		;
	if (!v) {
		srv_refused(c, "cuMemUnmap of 0x%llx (%llu bytes), which it did not map", (unsigned long long)m->ptr,
			    (unsigned long long)m->size);
		srv_reply_result(c, CUDA_ERROR_INVALID_VALUE);
		return;
	}
	r = unmap_one(c, v);
	if (r == CUDA_SUCCESS) {
		*pp = v->next;
		free(v);
	}
	srv_reply_result(c, r);
}

void srv_vmm_release(struct srv_client *c)
{
	struct srv_vmm_range *v;
	uint32_t i;

	while ((v = c->vmm.mapped)) {
		c->vmm.mapped = v->next;
		unmap_one(c, v);
		forget_access(c, v->ptr, v->size);
		free(v);
	}
	for (i = 0; i < c->vmm.nphys; i++)
		if (c->vmm.phys[i].h)
			release_phys(c, &c->vmm.phys[i]);
	while ((v = c->vmm.reserved)) {
		c->vmm.reserved = v->next;
		unreserve(c, v);
		free(v);
	}
	free(c->vmm.phys);
	c->vmm.phys = NULL;
	c->vmm.nphys = 0;
}

/* ---- Across a fault (handover.c) */

const char *srv_vmm_unkeepable(const struct srv_client *c)
{
	uint32_t i;

	for (i = 0; i < c->vmm.nphys; i++)
		if (c->vmm.phys[i].h && c->vmm.phys[i].fd < 0)
			return "its virtual memory could not be held for a successor (not exportable, or the server's "
			       "descriptor limit)";
	return NULL;
}

static void save_ranges(const struct srv_vmm_range *v, struct srv_pack *p)
{
	const struct srv_vmm_range *w;
	uint32_t n = 0;

	for (w = v; w; w = w->next)
		n++;
	srv_pack_put(p, &n, sizeof(n));
	for (; v; v = v->next) {
		srv_pack_put(p, &v->ptr, sizeof(v->ptr));
		srv_pack_put(p, &v->size, sizeof(v->size));
		srv_pack_put(p, &v->handle, sizeof(v->handle));
		srv_pack_put(p, &v->dev, sizeof(v->dev));
		srv_pack_put(p, &v->offset, sizeof(v->offset));
	}
}

void srv_vmm_save(const struct srv_client *c, struct srv_pack *p)
{
	uint32_t i;

	save_ranges(c->vmm.reserved, p);
	srv_pack_put(p, &c->vmm.nphys, sizeof(c->vmm.nphys));
	for (i = 0; i < c->vmm.nphys; i++) {
		const struct srv_vmm_phys *ph = &c->vmm.phys[i];
		uint8_t live = ph->h != 0;

		srv_pack_put(p, &live, sizeof(live));
		srv_pack_put(p, &ph->size, sizeof(ph->size));
		srv_pack_put(p, &ph->dev, sizeof(ph->dev));
		if (live)
			srv_pack_fd(p, ph->fd);
	}
	save_ranges(c->vmm.mapped, p);
}

/* One list of ranges: the client's own again at the same addresses
 * (reserve: asked for there; otherwise: mapped), kept in *list. */
static const char *restore_ranges(struct srv_client *c, struct srv_unpack *u, struct srv_vmm_range **list,
				  int reserve, const char *why)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_vmm_range v = {0}, *n;
	uint32_t count = 0, i;
	CUdeviceptr got;
	CUresult r;

	if (srv_unpack_get(u, &count, sizeof(count)) < 0)
		return "its record is cut short";
	for (i = 0; i < count && !u->failed; i++) {
		srv_unpack_get(u, &v.ptr, sizeof(v.ptr));
		srv_unpack_get(u, &v.size, sizeof(v.size));
		srv_unpack_get(u, &v.handle, sizeof(v.handle));
		srv_unpack_get(u, &v.dev, sizeof(v.dev));
		srv_unpack_get(u, &v.offset, sizeof(v.offset));
		if (u->failed || why)
			continue;
		if (!(n = malloc(sizeof(*n)))) {
			why = "out of memory";
			continue;
		}
		if (reserve && srv_arena_range_claim(c->srv, v.ptr, v.size) == 0) {
			r = CUDA_SUCCESS; /* in the window, as the server before had it */
		} else if (reserve) {
			got = 0;
			r = drv->mem_address_reserve ? drv->mem_address_reserve(&got, v.size, 0, v.ptr, 0)
						     : CUDA_ERROR_NOT_SUPPORTED;
			if (r == CUDA_SUCCESS && got != v.ptr) {
				drv->mem_address_free(got, v.size);
				r = CUDA_ERROR_ALREADY_MAPPED;
			}
			if (r != CUDA_SUCCESS)
				omps_log("Client process %d: its reservation at 0x%llx (%llu bytes) cannot be had again: "
					 "error %d",
					 (int)c->pid, (unsigned long long)v.ptr, (unsigned long long)v.size, (int)r);
		} else {
			r = v.handle && v.handle <= c->vmm.nphys && c->vmm.phys[v.handle - 1].h
				    ? drv->mem_map(v.ptr, v.size, v.offset, c->vmm.phys[v.handle - 1].h, 0)
				    : CUDA_ERROR_INVALID_HANDLE;
		}
		if (r != CUDA_SUCCESS) {
			free(n);
			why = reserve ? "its virtual address range is taken in the new process"
				      : "its virtual memory cannot be mapped again";
			continue;
		}
		*n = v;
		n->next = *list;
		*list = n;
	}
	return u->failed ? "its record is cut short" : why;
}

static const char *restore_phys(struct srv_client *c, struct srv_unpack *u, const char *why)
{
	struct srv_driver *drv = c->srv->drv;
	uint32_t n = 0, i;

	if (srv_unpack_get(u, &n, sizeof(n)) < 0 || n > u->len ||
	    !(c->vmm.phys = calloc(n + 1, sizeof(*c->vmm.phys))))
		return "its record is cut short";
	c->vmm.nphys = n;
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_vmm_phys *ph = &c->vmm.phys[i];
		uint8_t live = 0;

		ph->fd = -1;
		srv_unpack_get(u, &live, sizeof(live));
		srv_unpack_get(u, &ph->size, sizeof(ph->size));
		srv_unpack_get(u, &ph->dev, sizeof(ph->dev));
		if (!live)
			continue;
		ph->fd = srv_unpack_fd(u); /* this process's now: closed with the memory */
		if (!u->failed && !why &&
		    (ph->fd < 0 || !drv->mem_import_from_shareable_handle ||
		     srv_use_device(c, ph->dev, NULL) != CUDA_SUCCESS ||
		     drv->mem_import_from_shareable_handle(&ph->h, (void *)(intptr_t)ph->fd,
							   CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) != CUDA_SUCCESS)) {
			ph->h = 0;
			why = "its virtual memory cannot be taken over";
		}
		if (!ph->h) { /* not taken over: its descriptor goes now, not with the memory */
			if (ph->fd >= 0)
				close(ph->fd);
			ph->fd = -1;
			continue;
		}
		srv_memory_account(c, ph->dev, ph->size, 1);
	}
	return u->failed ? "its record is cut short" : why;
}

/* Its ranges opened again as they were (the allocation table's vmm
 * entries say how); -1 if one cannot be. */
static int reopen(struct srv_client *c)
{
	struct srv_alloc *a;
	CUmemAccessDesc d;

	for (a = c->mem.allocs; a; a = a->next) {
		if (!a->vmm)
			continue;
		d = (CUmemAccessDesc){{CU_MEM_LOCATION_TYPE_DEVICE, a->dev}, (CUmemAccess_flags)a->vmm};
		if (srv_use_device(c, a->dev, NULL) != CUDA_SUCCESS || !c->srv->drv->mem_set_access ||
		    c->srv->drv->mem_set_access(a->ptr, a->bytes, &d, 1) != CUDA_SUCCESS)
			return -1;
	}
	return 0;
}

const char *srv_vmm_restore(struct srv_client *c, struct srv_unpack *u, const char *why)
{
	why = restore_ranges(c, u, &c->vmm.reserved, 1, why);
	why = restore_phys(c, u, why);
	why = restore_ranges(c, u, &c->vmm.mapped, 0, why);
	if (!why && reopen(c) < 0)
		why = "its virtual memory cannot be opened again";
	if (why) /* nothing of it reachable: its release must not zero what is not open */
		forget_access(c, 0, UINT64_MAX);
	return why;
}
