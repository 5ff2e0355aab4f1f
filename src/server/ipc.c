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
 * its own worker's.
 *
 * Across a GPU fault (handover.c) each export and import goes into the
 * record with its allocation, by token; the successor makes the exports
 * again as it reads them, and answers handles that name the servers before
 * it (srv_ipc_ours) as its own. */
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
	int exporter;	 /* a successor's, as it reads the record: its exporter was read */
	int claimed;	 /* ... and its memory was claimed in the arena */
};

static void unlink_export(struct srv_state *s, struct srv_ipc_export *e)
{
	struct srv_ipc_export **pp;

	for (pp = &s->exports; *pp && *pp != e; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = e->next;
}

/* The export of a by token, in the server's list (ipc_lock held); NULL out
 * of memory. */
static struct srv_ipc_export *export_entry(struct srv_state *s, const struct srv_alloc *a,
					   const unsigned char *token)
{
	struct srv_ipc_export *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	memcpy(e->token, token, sizeof(e->token));
	e->ptr = a->ptr;
	e->bytes = a->bytes;
	e->dev = a->dev;
	e->next = s->exports;
	s->exports = e;
	return e;
}

static struct srv_ipc_export *new_export(struct srv_client *c, const struct srv_alloc *a)
{
	unsigned char token[OMPS_IPC_TOKEN];
	struct srv_ipc_export *e;

	if (getrandom(token, sizeof(token), 0) != (ssize_t)sizeof(token))
		return NULL;
	pthread_mutex_lock(&c->srv->ipc_lock);
	e = export_entry(c->srv, a, token);
	pthread_mutex_unlock(&c->srv->ipc_lock);
	return e;
}

void srv_ipc_get(struct srv_client *c, const struct omps_call_ptr *m)
{
	struct srv_alloc *a = srv_memory_alloc_of(c, m->ptr, 1);
	struct omps_reply_ipc rep;
	CUresult r = a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && (a->module || a->import || a->vmm || a->graph)) { /* as the driver: its cuMemAlloc's only */
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
	rep.r.result = srv_with_sticky(c, r);
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

int srv_ipc_ours(struct srv_state *s, int32_t pid)
{
	unsigned i;

	if (pid == (int32_t)getpid())
		return 1;
	for (i = 0; i < s->nipc_pids; i++)
		if (s->ipc_pids[i] == pid)
			return 1;
	return 0;
}

void srv_ipc_open(struct srv_client *c, const struct omps_call_ipc_open *m)
{
	struct srv_alloc *a = NULL;
	struct omps_reply_ipc rep;
	CUresult r = m->flags & ~(uint32_t)CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !srv_ipc_ours(c->srv, m->server_pid)) {
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
	rep.r.result = srv_with_sticky(c, r);
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

/* ---- Across a fault: what an allocation's record says of IPC. */
enum { SAVED_NONE, SAVED_EXPORT, SAVED_IMPORT };

void srv_ipc_save(const struct srv_alloc *a, struct srv_pack *p)
{
	const struct srv_ipc_export *e = a->export ? a->export : a->import;
	uint8_t kind = a->export ? SAVED_EXPORT : a->import ? SAVED_IMPORT : SAVED_NONE;

	srv_pack_put(p, &kind, sizeof(kind));
	if (!e)
		return;
	srv_pack_put(p, e->token, sizeof(e->token));
	srv_pack_put(p, &a->import_refs, sizeof(a->import_refs));
}

int srv_ipc_read(struct srv_unpack *u, struct srv_ipc_saved *sv)
{
	memset(sv, 0, sizeof(*sv));
	if (srv_unpack_get(u, &sv->kind, sizeof(sv->kind)) < 0 || sv->kind > SAVED_IMPORT)
		return u->failed = 1, -1;
	if (sv->kind == SAVED_NONE)
		return 0;
	srv_unpack_get(u, sv->token, sizeof(sv->token));
	srv_unpack_get(u, &sv->refs, sizeof(sv->refs));
	return u->failed || (sv->kind == SAVED_IMPORT && !sv->refs) ? (u->failed = 1, -1) : 0;
}

/* The export of that token as the successor makes them again: the first
 * allocation read that names it makes it (ipc_lock held). */
static struct srv_ipc_export *remade(struct srv_state *s, const struct srv_alloc *a, const unsigned char *token)
{
	struct srv_ipc_export *e;

	for (e = s->exports; e; e = e->next)
		if (!memcmp(e->token, token, sizeof(e->token)))
			return e->ptr == a->ptr && e->bytes == a->bytes && e->dev == a->dev ? e : NULL;
	return export_entry(s, a, token);
}

int srv_ipc_link(struct srv_client *c, struct srv_alloc *a, const struct srv_ipc_saved *sv)
{
	struct srv_ipc_export *e;
	int claim;

	if (sv->kind == SAVED_NONE)
		return 1;
	pthread_mutex_lock(&c->srv->ipc_lock);
	e = remade(c->srv, a, sv->token);
	if (e && sv->kind == SAVED_EXPORT && e->exporter)
		e = NULL; /* two exporters: not a record this server wrote */
	if (e && sv->kind == SAVED_EXPORT) {
		e->exporter = 1;
		a->export = e;
	} else if (e) {
		e->opens++;
		a->import = e;
		a->import_refs = sv->refs;
	}
	claim = e && !e->claimed;
	if (claim)
		e->claimed = 1; /* by this allocation, for all that name it */
	pthread_mutex_unlock(&c->srv->ipc_lock);
	return e ? claim : -1;
}

void srv_ipc_unlink(struct srv_client *c, struct srv_alloc *a)
{
	struct srv_ipc_export *e = a->export ? a->export : a->import;

	if (!e)
		return;
	pthread_mutex_lock(&c->srv->ipc_lock);
	if (a->export)
		e->exporter = 0;
	else
		e->opens--;
	e->claimed = 0; /* only its claimer is unlinked so: the claim failed */
	pthread_mutex_unlock(&c->srv->ipc_lock);
	a->export = a->import = NULL;
}

/* Once every client is read: an export whose exporter was not read
 * (it freed the memory before the fault, or is not kept) belongs to its
 * importers, and goes with the last; one nobody claimed goes now. */
void srv_ipc_settle(struct srv_state *s)
{
	struct srv_ipc_export **pp = &s->exports, *e;

	pthread_mutex_lock(&s->ipc_lock);
	while ((e = *pp)) {
		e->orphan = !e->exporter;
		if (!e->claimed || (!e->exporter && !e->opens)) {
			*pp = e->next;
			free(e);
			continue;
		}
		pp = &e->next;
	}
	pthread_mutex_unlock(&s->ipc_lock);
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

/* The shared event of token, o's CUevent, its one holder so far
 * (ipc_lock held); NULL out of memory. */
static struct srv_ipc_event *event_entry(struct srv_state *s, const struct srv_object *o,
					 const unsigned char *token)
{
	struct srv_ipc_event *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	memcpy(e->token, token, sizeof(e->token));
	e->ev = o->obj;
	e->dev = o->dev;
	e->refs = 1;
	e->next = s->ipc_events;
	s->ipc_events = e;
	return e;
}

/* As the driver: only an event made with CU_EVENT_INTERPROCESS (and so
 * without timing) has a handle. */
void srv_ipc_event_get(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_object *o = srv_object_find(c, c->events, c->nevents, m->handle, "event");
	unsigned char token[OMPS_IPC_TOKEN];
	struct srv_ipc_event *e;
	struct omps_reply_ipc rep;
	CUresult r = o ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !(o->flags & CU_EVENT_INTERPROCESS))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !o->shared) {
		e = NULL;
		if (getrandom(token, sizeof(token), 0) == (ssize_t)sizeof(token)) {
			pthread_mutex_lock(&c->srv->ipc_lock);
			e = event_entry(c->srv, o, token);
			pthread_mutex_unlock(&c->srv->ipc_lock);
		}
		o->shared = e;
		r = e ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS) {
		memcpy(rep.token, o->shared->token, sizeof(rep.token));
		rep.server_pid = (int32_t)getpid();
		rep.dev = srv_client_dev(c, o->dev);
	}
	rep.r.result = srv_with_sticky(c, r);
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
	if (r == CUDA_SUCCESS && !srv_ipc_ours(c->srv, m->server_pid)) {
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
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* Across a fault: each shared event of the client's by its index and
 * token, then UINT32_MAX. The successor made every event again on its own
 * (srv_stream_restore); those of one token become one again, the first
 * read its CUevent. */
void srv_ipc_events_save(const struct srv_client *c, struct srv_pack *p)
{
	uint32_t i, end = UINT32_MAX;

	for (i = 0; i < c->nevents; i++) {
		if (!c->events[i].obj || !c->events[i].shared)
			continue;
		srv_pack_put(p, &i, sizeof(i));
		srv_pack_put(p, c->events[i].shared->token, sizeof(c->events[i].shared->token));
	}
	srv_pack_put(p, &end, sizeof(end));
}

static int share_event(struct srv_client *c, struct srv_object *o, const unsigned char *token)
{
	struct srv_ipc_event *e;

	pthread_mutex_lock(&c->srv->ipc_lock);
	for (e = c->srv->ipc_events; e; e = e->next)
		if (!memcmp(e->token, token, sizeof(e->token)))
			break;
	if (!e) { /* the first holder read: its own CUevent is the shared one */
		o->shared = event_entry(c->srv, o, token);
		pthread_mutex_unlock(&c->srv->ipc_lock);
		return o->shared ? 0 : -1;
	}
	if (e->dev == o->dev)
		e->refs++;
	else
		e = NULL;
	pthread_mutex_unlock(&c->srv->ipc_lock);
	if (!e)
		return -1;
	if (srv_use_device(c, o->dev, NULL) == CUDA_SUCCESS)
		c->srv->drv->event_destroy(o->obj); /* its own, made a moment ago */
	o->obj = e->ev;
	o->shared = e;
	return 0;
}

const char *srv_ipc_events_restore(struct srv_client *c, struct srv_unpack *u, const char *why)
{
	unsigned char token[OMPS_IPC_TOKEN];
	uint32_t i = 0;

	while (srv_unpack_get(u, &i, sizeof(i)) == 0 && i != UINT32_MAX) {
		if (srv_unpack_get(u, token, sizeof(token)) < 0)
			break;
		if (why || i >= c->nevents || !c->events[i].obj)
			continue;
		if (share_event(c, &c->events[i], token) < 0)
			why = "an event it shares by IPC cannot be shared again";
	}
	return u->failed ? "its record is cut short" : why;
}
