/* Streams and events on a client's behalf. Handles index the client's own
 * tables, so one client cannot use another's; handle 0 is the client's NULL
 * stream, which the server gives each client per device. In the server it is
 * a non-blocking stream (clients must not wait for each other), and the
 * legacy semantics are kept here, per client: work on the NULL stream waits
 * for the client's blocking streams' earlier work, and their work waits for
 * the NULL stream's, through an event recorded on one and waited for on the
 * other when the client switches between them. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

/* Handles index the client's own table, so another client's can never be named. */
struct srv_object *srv_object_find(struct srv_client *c, struct srv_object *tab, uint32_t n, uint32_t handle,
				   const char *what)
{
	if (!handle || handle > n || !tab[handle - 1].obj) {
		srv_bad_handle(c, what, handle);
		return NULL;
	}
	return &tab[handle - 1];
}

/* `to` waits for the work queued so far on `from`. Not while either is in
 * a capture: an event recorded there is a node of the graph, and a stream
 * that waits for it joins the capture. */
static CUresult follow(struct srv_client *c, int dev, CUstream from, CUstream to)
{
	struct srv_driver *drv = c->srv->drv;
	CUresult r = CUDA_SUCCESS;

	if (srv_capturing(c, from) || srv_capturing(c, to))
		return CUDA_SUCCESS;
	if (!c->legacy[dev])
		r = drv->event_create(&c->legacy[dev], CU_EVENT_DISABLE_TIMING);
	if (r == CUDA_SUCCESS)
		r = drv->event_record(c->legacy[dev], from);
	if (r == CUDA_SUCCESS)
		r = drv->stream_wait_event(to, c->legacy[dev], 0);
	return r;
}

CUresult srv_stream_after_all(struct srv_client *c, int dev, CUstream to)
{
	CUresult r = CUDA_SUCCESS;
	uint32_t i;

	if (c->stream[dev])
		r = follow(c, dev, c->stream[dev], to);
	for (i = 0; i < c->nstreams && r == CUDA_SUCCESS; i++)
		if (c->streams[i].obj && c->streams[i].dev == dev)
			r = follow(c, dev, c->streams[i].obj, to);
	return r;
}

/* Work about to go on the NULL stream: after the blocking streams' work. */
static CUresult null_after_blocking(struct srv_client *c, int dev, CUstream null_stream)
{
	CUresult r = CUDA_SUCCESS;
	uint32_t i;

	for (i = 0; i < c->nstreams && r == CUDA_SUCCESS; i++) {
		struct srv_object *o = &c->streams[i];

		if (o->obj && o->dev == dev && o->blocking && o->dirty) {
			r = follow(c, dev, o->obj, null_stream);
			o->dirty = 0;
		}
	}
	c->null_epoch[dev]++;
	return r;
}

CUresult srv_stream_on(struct srv_client *c, uint32_t handle, int *dev, CUstream *stream)
{
	struct srv_object *o;
	CUstream null_stream;
	CUresult r;

	if (*dev < 0 || (uint32_t)*dev >= c->srv->devices.ndevices)
		return CUDA_ERROR_INVALID_DEVICE; /* named with a stream too: callers index by it */
	if (!handle) {
		srv_fault_work_on(c, *dev);
		r = srv_use_device(c, *dev, stream);
		return r == CUDA_SUCCESS ? null_after_blocking(c, *dev, *stream) : r;
	}
	o = srv_object_find(c, c->streams, c->nstreams, handle, "stream");
	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	*dev = o->dev;
	srv_fault_work_on(c, o->dev);
	r = srv_use_device(c, o->dev, &null_stream);
	*stream = o->obj;
	if (r != CUDA_SUCCESS || !o->blocking)
		return r;
	/* A blocking stream: after the NULL stream's work it has not waited for. */
	if (o->null_seen != c->null_epoch[o->dev]) {
		r = follow(c, o->dev, null_stream, o->obj);
		o->null_seen = c->null_epoch[o->dev];
	}
	o->dirty = 1;
	return r;
}

CUresult srv_stream(struct srv_client *c, uint32_t handle, int dev, CUstream *stream)
{
	return srv_stream_on(c, handle, &dev, stream);
}

int srv_stream_waited(struct srv_client *c, const struct srv_object *o, int dev)
{
	return o->obj && o->dev == dev && !srv_capturing(c, o->obj);
}

CUresult srv_sync_device(struct srv_client *c, int dev)
{
	struct srv_driver *drv = c->srv->drv;
	CUstream null_stream;
	CUresult r = srv_use_device(c, dev, &null_stream);
	uint32_t i;

	if (r == CUDA_SUCCESS)
		r = drv->stream_synchronize(null_stream);
	for (i = 0; i < c->nstreams && r == CUDA_SUCCESS; i++)
		if (srv_stream_waited(c, &c->streams[i], dev))
			r = drv->stream_synchronize(c->streams[i].obj);
	return r;
}

int srv_streams_on(struct srv_client *c, int dev)
{
	uint32_t i;

	for (i = 0; i < c->nstreams; i++)
		if (srv_stream_waited(c, &c->streams[i], dev))
			return 1;
	return 0;
}

/* Whether every stream of the client has finished its work, asked without
 * waiting (cuStreamQuery): what its worker checks as it goes idle. */
int srv_streams_idle(struct srv_client *c)
{
	struct srv_driver *drv = c->srv->drv;
	CUresult r = CUDA_SUCCESS;
	uint32_t i;
	int dev;

	for (dev = 0; dev < OMPS_MAX_DEVICES && r == CUDA_SUCCESS; dev++)
		if (c->stream[dev] && (r = drv->ctx_set_current(c->srv->ctx[dev])) == CUDA_SUCCESS)
			r = drv->stream_query(c->stream[dev]);
	for (i = 0; i < c->nstreams && r == CUDA_SUCCESS; i++)
		if (c->streams[i].obj && !srv_capturing(c, c->streams[i].obj) &&
		    (r = drv->ctx_set_current(c->srv->ctx[c->streams[i].dev])) == CUDA_SUCCESS)
			r = drv->stream_query(c->streams[i].obj);
	srv_fault_seen(r);
	return r == CUDA_SUCCESS;
}

uint32_t srv_object_add(struct srv_object **tab, uint32_t *n, void *obj, int dev)
{
	struct srv_object *t = realloc(*tab, (*n + 1) * sizeof(**tab));

	if (!t)
		return 0;
	*tab = t;
	t[*n] = (struct srv_object){.obj = obj, .dev = dev};
	return ++*n;
}

/* STREAM_CREATE, EVENT_CREATE */
void srv_stream_create(struct srv_client *c, const struct omps_call_create *m)
{
	uint32_t type = c->call;
	struct srv_driver *drv = c->srv->drv;
	struct omps_reply_handle rep;
	void *obj = NULL;
	CUresult r = srv_use_device(c, m->dev, NULL);

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && type == OMPS_CALL_STREAM_CREATE)
		r = srv_qos_stream_create(c, m->dev, m->priority, (CUstream *)&obj);
	else if (r == CUDA_SUCCESS)
		r = drv->event_create((CUevent *)&obj, m->flags);
	if (r == CUDA_SUCCESS) {
		rep.handle = type == OMPS_CALL_STREAM_CREATE ? srv_object_add(&c->streams, &c->nstreams, obj, m->dev)
							     : srv_object_add(&c->events, &c->nevents, obj, m->dev);
		if (rep.handle && type == OMPS_CALL_EVENT_CREATE)
			c->events[rep.handle - 1].flags = m->flags;
		if (rep.handle && type == OMPS_CALL_STREAM_CREATE) { /* waits for the NULL stream's earlier work */
			c->streams[rep.handle - 1].blocking = !(m->flags & CU_STREAM_NON_BLOCKING);
			c->streams[rep.handle - 1].priority = m->priority;
		}
		if (!rep.handle) {
			if (type == OMPS_CALL_STREAM_CREATE)
				drv->stream_destroy(obj);
			else
				drv->event_destroy(obj);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* The calls on one stream or event: destroy, synchronize, query. */
void srv_stream_on_handle(struct srv_client *c, const struct omps_call_handle *m)
{
	uint32_t type = c->call, handle = m->handle;
	struct srv_driver *drv = c->srv->drv;
	int is_stream = type == OMPS_CALL_STREAM_DESTROY || type == OMPS_CALL_STREAM_SYNC || type == OMPS_CALL_STREAM_QUERY;
	struct srv_object *o = is_stream ? srv_object_find(c, c->streams, c->nstreams, handle, "stream")
					 : srv_object_find(c, c->events, c->nevents, handle, "event");
	/* Its device's context current, or why not. */
	CUresult r = o ? srv_use_device(c, o->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS) {
		switch (type) {
		case OMPS_CALL_STREAM_DESTROY:
		case OMPS_CALL_EVENT_DESTROY:
			if (is_stream) {
				srv_capture_abandon(c, o->obj);
				srv_signal_stream_gone(c, o->dev, o->obj);
				r = drv->stream_destroy(o->obj);
			}
			else
				srv_ipc_event_put(c, o);
			o->obj = NULL;
			break;
		case OMPS_CALL_STREAM_SYNC:
			r = drv->stream_synchronize(o->obj);
			break;
		case OMPS_CALL_STREAM_QUERY:
			r = drv->stream_query(o->obj);
			break;
		case OMPS_CALL_EVENT_SYNC:
			r = drv->event_synchronize(o->obj);
			break;
		case OMPS_CALL_EVENT_QUERY:
			r = drv->event_query(o->obj);
			break;
		}
	}
	if (type == OMPS_CALL_STREAM_DESTROY || type == OMPS_CALL_EVENT_DESTROY)
		srv_deferred(c, r); /* posted: reported at the next synchronous call */
	else
		srv_reply_result(c, r);
}

/* STREAM_WAIT, EVENT_RECORD, EVENT_ELAPSED */
void srv_stream_on_pair(struct srv_client *c, const struct omps_call_pair *m)
{
	uint32_t type = c->call;
	struct srv_driver *drv = c->srv->drv;
	struct omps_reply_elapsed rep;
	CUstream s = NULL;
	CUresult r;

	if (type == OMPS_CALL_EVENT_ELAPSED) {
		struct srv_object *a = srv_object_find(c, c->events, c->nevents, m->first, "event");
		struct srv_object *b = srv_object_find(c, c->events, c->nevents, m->second, "event");

		memset(&rep, 0, sizeof(rep));
		r = a && b ? srv_use_device(c, a->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;
		if (r == CUDA_SUCCESS)
			r = drv->event_elapsed_time(&rep.ms, a->obj, b->obj);
		rep.r.result = srv_with_sticky(c, r);
		srv_reply(c, &rep, sizeof(rep));
		return;
	}
	/* WAIT: (stream, event); RECORD: (event, stream). */
	{
		uint32_t sh = type == OMPS_CALL_STREAM_WAIT ? m->first : m->second;
		uint32_t eh = type == OMPS_CALL_STREAM_WAIT ? m->second : m->first;
		struct srv_object *e = srv_object_find(c, c->events, c->nevents, eh, "event");

		r = e ? srv_stream(c, sh, e->dev, &s) : CUDA_ERROR_INVALID_HANDLE;
		if (r == CUDA_SUCCESS && type == OMPS_CALL_STREAM_WAIT)
			r = drv->stream_wait_event(s, e->obj, m->flags);
		else if (r == CUDA_SUCCESS)
			r = drv->event_record(e->obj, s);
		srv_deferred(c, r);
	}
}

/* Posted: a failure is the client's next synchronous call's. The word must
 * be the client's own (device memory, or host memory it shares at the
 * same address); waits on it block only its own stream. */
void srv_stream_memop(struct srv_client *c, const struct omps_call_memop *m)
{
	struct srv_driver *drv = c->srv->drv;
	uint64_t bytes = m->op == OMPS_MEMOP_WRITE64 || m->op == OMPS_MEMOP_WAIT64 ? 8 : 4, addr = m->addr;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS && (m->addr % bytes || !srv_memory_owns(c, &addr, bytes)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && bytes == 8 && !(m->op == OMPS_MEMOP_WRITE64 ? (void *)drv->stream_write_value64
									     : (void *)drv->stream_wait_value64))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r != CUDA_SUCCESS) {
		srv_deferred(c, r);
		return;
	}
	switch (m->op) {
	case OMPS_MEMOP_WRITE32:
		r = drv->stream_write_value32(s, addr, (cuuint32_t)m->value, m->flags);
		break;
	case OMPS_MEMOP_WAIT32:
		r = drv->stream_wait_value32(s, addr, (cuuint32_t)m->value, m->flags);
		break;
	case OMPS_MEMOP_WRITE64:
		r = drv->stream_write_value64(s, addr, m->value, m->flags);
		break;
	case OMPS_MEMOP_WAIT64:
		r = drv->stream_wait_value64(s, addr, m->value, m->flags);
		break;
	default:
		r = CUDA_ERROR_INVALID_VALUE;
	}
	srv_deferred(c, r);
}

/* A live object on dev (any device: dev < 0), its device's context current. */
static int live_on(struct srv_client *c, const struct srv_object *o, int dev)
{
	return o->obj && (dev < 0 || o->dev == dev) && srv_use_device(c, o->dev, NULL) == CUDA_SUCCESS;
}

/* Its streams and events on dev (all: dev < 0) destroyed, their handles left dead. */
static void destroy_objects(struct srv_client *c, int dev)
{
	uint32_t i;

	for (i = 0; i < c->nevents; i++)
		if (live_on(c, &c->events[i], dev)) {
			srv_ipc_event_put(c, &c->events[i]);
			c->events[i].obj = NULL;
		}
	for (i = 0; i < c->nstreams; i++)
		if (live_on(c, &c->streams[i], dev)) {
			srv_signal_stream_gone(c, c->streams[i].dev, c->streams[i].obj);
			c->srv->drv->stream_destroy(c->streams[i].obj);
			c->streams[i].obj = NULL;
		}
}

void srv_stream_reset(struct srv_client *c, int dev)
{
	destroy_objects(c, dev);
}

void srv_stream_release(struct srv_client *c)
{
	uint32_t i;

	destroy_objects(c, -1);
	for (i = 0; i < OMPS_MAX_DEVICES; i++)
		if (c->legacy[i] && srv_use_device(c, (int)i, NULL) == CUDA_SUCCESS)
			c->srv->drv->event_destroy(c->legacy[i]);
	free(c->events);
	free(c->streams);
}

/* The successor's (handover.c): the tables as the client had them, each
 * live stream and event made anew (an event as never recorded). */
const char *srv_stream_restore(struct srv_client *c, struct srv_unpack *u)
{
	struct srv_driver *drv = c->srv->drv;
	const char *why = NULL;
	uint32_t i;

	if (srv_unpack_get(u, &c->nstreams, sizeof(c->nstreams)) < 0 || c->nstreams > u->len ||
	    !(c->streams = calloc(c->nstreams + 1, sizeof(*c->streams))) ||
	    srv_unpack_get(u, c->streams, c->nstreams * sizeof(*c->streams)) < 0 ||
	    srv_unpack_get(u, &c->nevents, sizeof(c->nevents)) < 0 || c->nevents > u->len ||
	    !(c->events = calloc(c->nevents + 1, sizeof(*c->events))) ||
	    srv_unpack_get(u, c->events, c->nevents * sizeof(*c->events)) < 0) {
		c->nstreams = c->streams ? c->nstreams : 0;
		c->nevents = c->events ? c->nevents : 0;
		for (i = 0; i < c->nstreams; i++)
			c->streams[i].obj = NULL;
		for (i = 0; i < c->nevents; i++)
			c->events[i].obj = NULL;
		return "its record is cut short";
	}
	for (i = 0; i < c->nstreams; i++) {
		struct srv_object *o = &c->streams[i];

		o->shared = NULL;
		o->dirty = 0;
		o->null_seen = 0;
		if (o->obj && (why || srv_use_device(c, o->dev, NULL) != CUDA_SUCCESS ||
			       srv_qos_stream_create(c, o->dev, o->priority, (CUstream *)&o->obj) != CUDA_SUCCESS)) {
			o->obj = NULL;
			why = "a stream of its cannot be made again";
		}
	}
	for (i = 0; i < c->nevents; i++) {
		struct srv_object *o = &c->events[i];

		o->shared = NULL;
		if (o->obj && (why || srv_use_device(c, o->dev, NULL) != CUDA_SUCCESS ||
			       drv->event_create((CUevent *)&o->obj, o->flags) != CUDA_SUCCESS)) {
			o->obj = NULL;
			why = "an event of its cannot be made again";
		}
	}
	return why;
}
