/* Virtual memory management on a client's behalf (cuMemAddressReserve,
 * cuMemCreate, cuMemMap, cuMemSetAccess and their undoing), in the server's
 * context. Physical memory is a handle into the client's own table and
 * counts against its memory limit; a mapping must lie in one of its own
 * reservations and name one of its handles; a range it made accessible
 * joins its allocation table, so copies, memsets and graphs may use it as
 * they use cuMemAlloc's. A mapping is zeroed, after the client's work, before
 * it is unmapped: physical memory goes back to the driver, which may hand
 * the pages to another client of this context. Exporting a handle
 * (shareable handles) is not served. */
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
};

struct srv_vmm_phys {
	CUmemGenericAllocationHandle h; /* 0 once released */
	uint64_t size;
	int dev;
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

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_address_reserve(&p, m->size, m->alignment, m->ptr, m->flags);
	if (r == CUDA_SUCCESS) {
		*v = (struct srv_vmm_range){c->vmm.reserved, p, m->size, 0, 0};
		c->vmm.reserved = v;
		v = NULL;
	}
	free(v);
	rep.r.result = r;
	rep.ptr = p;
	srv_reply(c, &rep, sizeof(rep));
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
	r = ready(c, 0, (void *)c->srv->drv->mem_address_free);
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_address_free(v->ptr, v->size);
	if (r == CUDA_SUCCESS) {
		*pp = v->next;
		free(v);
	}
	srv_reply_result(c, r);
}

void srv_vmm_create(struct srv_client *c, const struct omps_call_vmm *m)
{
	CUmemAllocationProp p = device_prop(m->dev);
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUmemGenericAllocationHandle h = 0;
	struct srv_vmm_phys *t;
	CUresult r = ready(c, m->dev, (void *)c->srv->drv->mem_create);

	if (r == CUDA_SUCCESS && (m->flags || !m->size))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_qos_mem_check(c, m->dev, m->size, "cuMemCreate");
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->mem_create(&h, m->size, &p, 0);
	if (r == CUDA_SUCCESS) {
		t = realloc(c->vmm.phys, (c->vmm.nphys + 1) * sizeof(*t));
		if (!t) {
			c->srv->drv->mem_release(h);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			c->vmm.phys = t;
			t[c->vmm.nphys] = (struct srv_vmm_phys){h, m->size, m->dev};
			rep.handle = ++c->vmm.nphys;
			srv_memory_account(c, m->dev, m->size, 1);
		}
	}
	rep.r.result = r;
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
		*v = (struct srv_vmm_range){c->vmm.mapped, m->ptr, m->size, m->handle, p->dev};
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
						.vmm = 1};
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
	forget_access(c, v->ptr, v->size);
	if (r == CUDA_SUCCESS)
		r = drv->mem_unmap(v->ptr, v->size);
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
		free(v);
	}
	for (i = 0; i < c->vmm.nphys; i++)
		if (c->vmm.phys[i].h)
			release_phys(c, &c->vmm.phys[i]);
	while ((v = c->vmm.reserved)) {
		c->vmm.reserved = v->next;
		if (ready(c, 0, (void *)c->srv->drv->mem_address_free) == CUDA_SUCCESS)
			c->srv->drv->mem_address_free(v->ptr, v->size);
		free(v);
	}
	free(c->vmm.phys);
	c->vmm.phys = NULL;
	c->vmm.nphys = 0;
}
