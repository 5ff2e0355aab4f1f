/* CUDA IPC between clients of one server (memory; events at the end). Every client's memory is in the
 * server's one context, so an importer is given the exporter's own device
 * addresses: no copy, no mapping. A handle names an export by a random
 * 128-bit token, the capability: whoever holds the handle's bytes may open
 * it, as natively. A handle of another server (its pid) is refused with a
 * line; between servers the memory is in another context.
 *
 * An export lives while its exporter holds the allocation or an importer
 * has it open: memory its exporter frees while importers have it open
 * becomes theirs, and the last to close gives it back to the pool, zeroed.
 * So memory an importer can reach is never handed to a third client. The
 * exports are the server's (ipc_lock); each client's allocation list stays
 * its own worker's. */
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

struct srv_ipc_export {
	struct srv_ipc_export *next;
	unsigned char token[OMPS_IPC_TOKEN];
	CUdeviceptr ptr;
	uint64_t bytes;
	int dev;
	unsigned opens;	 /* importers' allocations naming it */
	int orphan;	 /* its exporter let it go: the last close frees it */
};

static void unlink_export(struct srv_state *s, struct srv_ipc_export *e)
{
	struct srv_ipc_export **pp;

	for (pp = &s->exports; *pp && *pp != e; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = e->next;
}

static struct srv_ipc_export *new_export(struct srv_client *c, const struct srv_alloc *a)
{
	struct srv_ipc_export *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (getrandom(e->token, sizeof(e->token), 0) != (ssize_t)sizeof(e->token)) {
		free(e);
		return NULL;
	}
	e->ptr = a->ptr;
	e->bytes = a->bytes;
	e->dev = a->dev;
	pthread_mutex_lock(&c->srv->ipc_lock);
	e->next = c->srv->exports;
	c->srv->exports = e;
	pthread_mutex_unlock(&c->srv->ipc_lock);
	return e;
}

void srv_ipc_get(struct srv_client *c, const struct omps_call_ptr *m)
{
	struct srv_alloc *a = srv_memory_alloc_of(c, m->ptr, 1);
	struct omps_reply_ipc rep;
	CUresult r = a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && (a->module || a->import || a->vmm)) { /* as the driver: its cuMemAlloc's only */
		srv_refused(c, "an IPC handle for memory it did not allocate (0x%llx)", (unsigned long long)m->ptr);
		r = CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS && !a->export && !(a->export = new_export(c, a)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		memcpy(rep.token, a->export->token, sizeof(rep.token));
		rep.server_pid = (int32_t)getpid();
		rep.dev = srv_client_dev(c, a->dev);
		rep.ptr = a->ptr;
		rep.bytes = a->bytes;
	}
	rep.r.result = r;
	srv_reply(c, &rep, sizeof(rep));
}

/* The export of that token, still open to new importers. */
static struct srv_ipc_export *find_locked(struct srv_state *s, const unsigned char *token)
{
	struct srv_ipc_export *e;

	for (e = s->exports; e; e = e->next)
		if (!memcmp(e->token, token, sizeof(e->token)))
			return e->orphan ? NULL : e;
	return NULL;
}

static CUresult open_export(struct srv_client *c, const struct omps_call_ipc_open *m, struct srv_alloc **out)
{
	struct srv_ipc_export *e;
	struct srv_alloc *a, *mine = calloc(1, sizeof(*mine));
	CUresult r = CUDA_SUCCESS;

	if (!mine)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&c->srv->ipc_lock);
	e = find_locked(c->srv, m->token);
	for (a = c->mem.allocs; e && a && a->export != e && a->import != e; a = a->next)
		;
	if (!e)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (a && a->export == e)
		r = CUDA_ERROR_INVALID_CONTEXT; /* as the driver: a process cannot open its own handle */
	else if (a)
		a->import_refs++; /* opened again: the same address */
	else
		e->opens++;
	pthread_mutex_unlock(&c->srv->ipc_lock);
	if (r != CUDA_SUCCESS || a) {
		free(mine);
		*out = a;
		return r;
	}
	*mine = (struct srv_alloc){.next = c->mem.allocs, .ptr = e->ptr, .bytes = e->bytes, .dev = e->dev,
				   .import = e, .import_refs = 1};
	c->mem.allocs = mine;
	*out = mine;
	return CUDA_SUCCESS;
}

void srv_ipc_open(struct srv_client *c, const struct omps_call_ipc_open *m)
{
	struct srv_alloc *a = NULL;
	struct omps_reply_ipc rep;
	CUresult r = m->flags & ~(uint32_t)CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && m->server_pid != (int32_t)getpid()) {
		srv_refused(c, "a CUDA IPC handle of another server (process %d): its memory is in another context",
			    (int)m->server_pid);
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	if (r == CUDA_SUCCESS)
		r = open_export(c, m, &a);
	if (r == CUDA_ERROR_INVALID_VALUE)
		srv_refused(c, "a CUDA IPC handle that names no memory open to it (freed, or never given out)");
	if (r == CUDA_SUCCESS) {
		rep.ptr = a->ptr;
		rep.bytes = a->bytes;
		rep.dev = srv_client_dev(c, a->dev);
		rep.server_pid = (int32_t)getpid();
	}
	rep.r.result = r;
	srv_reply(c, &rep, sizeof(rep));
}

void srv_ipc_close(struct srv_client *c, const struct omps_call_ptr *m)
{
	struct srv_alloc **pp, *a;

	for (pp = &c->mem.allocs; (a = *pp); pp = &a->next)
		if (a->import && a->ptr == m->ptr)
			break;
	if (!a) {
		srv_refused(c, "cuIpcCloseMemHandle of 0x%llx, which it did not open", (unsigned long long)m->ptr);
		srv_reply_result(c, CUDA_ERROR_INVALID_VALUE);
		return;
	}
	if (!--a->import_refs) {
		*pp = a->next;
		srv_ipc_unimport(c, a);
		free(a);
	}
	srv_reply_result(c, CUDA_SUCCESS);
}

int srv_ipc_unexport(struct srv_client *c, struct srv_alloc *a)
{
	struct srv_ipc_export *e = a->export;
	int held;

	pthread_mutex_lock(&c->srv->ipc_lock);
	held = e->opens > 0;
	if (held)
		e->orphan = 1;
	else
		unlink_export(c->srv, e);
	pthread_mutex_unlock(&c->srv->ipc_lock);
	if (!held)
		free(e);
	a->export = NULL;
	return held;
}

void srv_ipc_unimport(struct srv_client *c, struct srv_alloc *a)
{
	struct srv_ipc_export *e = a->import;
	int last;

	pthread_mutex_lock(&c->srv->ipc_lock);
	last = !--e->opens && e->orphan;
	if (last)
		unlink_export(c->srv, e);
	pthread_mutex_unlock(&c->srv->ipc_lock);
	a->import = NULL;
	if (!last)
		return;
	omps_log("Client process %d: closed the last IPC handle of %llu bytes its exporter had freed; freed now",
		 (int)c->pid, (unsigned long long)e->bytes);
	srv_deferred(c, srv_memory_give_back_orphan(c, e->dev, e->ptr, e->bytes));
	free(e);
}

/* IPC events: an event given out by handle is shared, not copied. The
 * exporter's event object and every importer's name one CUevent, which
 * goes with the last of them; a handle opens while any holds it. */
struct srv_ipc_event {
	struct srv_ipc_event *next;
	unsigned char token[OMPS_IPC_TOKEN];
	CUevent ev;
	int dev;
	unsigned refs; /* event objects naming it, the exporter's included */
};

void srv_ipc_event_put(struct srv_client *c, struct srv_object *o)
{
	struct srv_ipc_event *e = o->shared, **pp;
	int last;

	if (!e) {
		c->srv->drv->event_destroy(o->obj);
		return;
	}
	pthread_mutex_lock(&c->srv->ipc_lock);
	last = !--e->refs;
	for (pp = &c->srv->ipc_events; last && *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&c->srv->ipc_lock);
	o->shared = NULL;
	if (!last)
		return;
	c->srv->drv->event_destroy(e->ev);
	free(e);
}

/* As the driver: only an event made with CU_EVENT_INTERPROCESS (and so
 * without timing) has a handle. */
void srv_ipc_event_get(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_object *o = srv_object_find(c, c->events, c->nevents, m->handle, "event");
	struct srv_ipc_event *e;
	struct omps_reply_ipc rep;
	CUresult r = o ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !(o->flags & CU_EVENT_INTERPROCESS))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !o->shared) {
		e = calloc(1, sizeof(*e));
		if (!e || getrandom(e->token, sizeof(e->token), 0) != (ssize_t)sizeof(e->token)) {
			free(e);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			e->ev = o->obj;
			e->dev = o->dev;
			e->refs = 1;
			pthread_mutex_lock(&c->srv->ipc_lock);
			e->next = c->srv->ipc_events;
			c->srv->ipc_events = e;
			pthread_mutex_unlock(&c->srv->ipc_lock);
			o->shared = e;
		}
	}
	if (r == CUDA_SUCCESS) {
		memcpy(rep.token, o->shared->token, sizeof(rep.token));
		rep.server_pid = (int32_t)getpid();
		rep.dev = srv_client_dev(c, o->dev);
	}
	rep.r.result = r;
	srv_reply(c, &rep, sizeof(rep));
}

/* A new event object of the client's for the shared event of that token:
 * it waits, records, queries and synchronizes as the exporter's. */
void srv_ipc_event_open(struct srv_client *c, const struct omps_call_ipc_open *m)
{
	struct srv_ipc_event *e;
	struct omps_reply_ipc rep;
	uint32_t h = 0;
	CUresult r = m->flags ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && m->server_pid != (int32_t)getpid()) {
		srv_refused(c, "a CUDA IPC event handle of another server (process %d): its event is in another context",
			    (int)m->server_pid);
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	pthread_mutex_lock(&c->srv->ipc_lock);
	for (e = c->srv->ipc_events; r == CUDA_SUCCESS && e; e = e->next)
		if (!memcmp(e->token, m->token, sizeof(e->token)))
			break;
	if (r == CUDA_SUCCESS && !e)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		e->refs++; /* kept while the object is made */
	pthread_mutex_unlock(&c->srv->ipc_lock);
	if (r == CUDA_ERROR_INVALID_VALUE)
		srv_refused(c, "a CUDA IPC event handle that names no event (destroyed, or never given out)");
	if (r == CUDA_SUCCESS && !(h = srv_object_add(&c->events, &c->nevents, e->ev, e->dev))) {
		struct srv_object gone = {.obj = e->ev, .shared = e};

		srv_ipc_event_put(c, &gone);
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS) {
		c->events[h - 1].shared = e;
		c->events[h - 1].flags = CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING;
		rep.ptr = h;
		rep.dev = srv_client_dev(c, e->dev);
		rep.server_pid = (int32_t)getpid();
	}
	rep.r.result = r;
	srv_reply(c, &rep, sizeof(rep));
}
