/* CUDA graphs made by stream capture, on a client's behalf. The client's
 * streams are captured in the server's context in relaxed mode, whatever
 * mode the client asked: in global or thread-local mode another client's
 * cuMemAlloc, on any worker thread, would invalidate this client's capture,
 * and a client's calls are served by whichever worker is free. Graphs and
 * executable graphs are handles into the client's own tables, so one client
 * cannot launch or destroy another's; all are destroyed when it goes.
 *
 * What cannot be captured (a copy whose bytes travel in the request record
 * or through a staging buffer, a stream callback) is refused with
 * CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and spoils the capture, which then
 * ends with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, as the driver would. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

int srv_capturing(struct srv_client *c, CUstream s)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;

	if (!c->graph.captures) /* the common case: no driver call */
		return 0;
	return c->srv->drv->stream_is_capturing(s, &st) == CUDA_SUCCESS && st != CU_STREAM_CAPTURE_STATUS_NONE;
}

CUresult srv_capture_refuse(struct srv_client *c, CUstream s, const char *what)
{
	if (!srv_capturing(c, s))
		return CUDA_SUCCESS;
	srv_refused(c, "%s cannot be captured in a graph through openmps; its capture is invalidated", what);
	c->graph.spoiled = 1;
	return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

/* What it freed while graphs or captures could name it comes back once
 * none is left (srv_graph_live). */
static void retired_back(struct srv_client *c)
{
	if (srv_graph_live(c))
		return;
	srv_hostfn_graphs_gone(c);
	srv_memory_free_retired(c);
	srv_host_free_retired(c);
}

/* The stream a capture call names, with its device's context current. */
static CUresult capture_stream(struct srv_client *c, uint32_t handle, CUstream *s, int *dev)
{
	struct srv_object *o = srv_object_find(c, c->streams, c->nstreams, handle, "stream");

	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	*dev = o->dev;
	return srv_stream(c, handle, o->dev, s);
}

/* Whether the driver's answer to cuStreamEndCapture ended a capture; the
 * others (not capturing, a joined stream) leave it under way. */
static int ended(CUresult r)
{
	return r == CUDA_SUCCESS || r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED || r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
}

void srv_graph_capture_begin(struct srv_client *c, const struct omps_call_capture *m)
{
	CUstream s;
	int dev;
	CUresult r;

	if (!m->stream) { /* as the legacy NULL stream, which the driver does not capture */
		srv_refused(c, "cuStreamBeginCapture on the NULL stream: not supported");
		srv_reply_result(c, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
		return;
	}
	r = m->mode <= CU_STREAM_CAPTURE_MODE_RELAXED ? capture_stream(c, m->stream, &s, &dev)
						       : CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->stream_begin_capture(s, CU_STREAM_CAPTURE_MODE_RELAXED);
	if (r == CUDA_SUCCESS)
		c->graph.captures++;
	srv_reply_result(c, r);
}

void srv_graph_capture_end(struct srv_client *c, const struct omps_call_handle *m)
{
	uint32_t handle = m->handle;
	struct srv_driver *drv = c->srv->drv;
	struct omps_reply_handle rep;
	CUgraph g = NULL;
	CUstream s;
	int dev = 0;
	CUresult r = capture_stream(c, handle, &s, &dev);

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS) {
		r = drv->stream_end_capture(s, &g);
		if (ended(r) && c->graph.captures && !--c->graph.captures && c->graph.spoiled) {
			c->graph.spoiled = 0;
			if (c->sticky == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
				c->sticky = CUDA_SUCCESS; /* reported as this, not again later */
			r = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
		}
	}
	if (r == CUDA_SUCCESS) {
		rep.handle = srv_object_add(&c->graph.graphs, &c->graph.ngraphs, g, dev);
		if (!rep.handle)
			r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS) /* written down now, as its instantiation would: kept from here if a fault comes */
		srv_graphdesc_of(c, rep.handle);
	if (r != CUDA_SUCCESS && g)
		drv->graph_destroy(g);
	retired_back(c); /* freed during a capture that left no graph */
	/* an asynchronous error meanwhile spoils the capture: reported as that;
	 * a fault's is held (no sticky error taken) */
	rep.r.result = r == CUDA_SUCCESS ? 0 : srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_graph_capture_info(struct srv_client *c, const struct omps_call_capture *m)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	struct omps_reply_capture rep;
	cuuint64_t id = 0;
	CUstream s;
	int dev;
	CUresult r = CUDA_SUCCESS;

	memset(&rep, 0, sizeof(rep));
	if (m->stream) /* the NULL stream never captures */
		r = capture_stream(c, m->stream, &s, &dev);
	if (r == CUDA_SUCCESS && m->stream)
		r = c->srv->drv->stream_get_capture_info(s, &st, &id, NULL, NULL, NULL, NULL);
	rep.status = st;
	rep.id = id;
	rep.r.result = r == CUDA_SUCCESS ? 0 : srv_with_sticky(c, r); /* a fault's: held (no sticky error taken) */
	srv_reply(c, &rep, sizeof(rep));
}

void srv_graph_instantiate(struct srv_client *c, const struct omps_call_instantiate *m)
{
	struct srv_object *g = srv_object_find(c, c->graph.graphs, c->graph.ngraphs, m->graph, "graph");
	struct omps_reply_handle rep;
	CUgraphExec e = NULL;
	CUresult r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_instantiate(&e, g->obj, m->flags);
	if (r == CUDA_SUCCESS) {
		rep.handle = srv_object_add(&c->graph.execs, &c->graph.nexecs, e, g->dev);
		if (!rep.handle) {
			c->srv->drv->graph_exec_destroy(e);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	if (r == CUDA_SUCCESS) { /* what it was made from, for a successor (graphdesc.c) */
		struct srv_object *x = &c->graph.execs[rep.handle - 1];

		x->owner = m->graph;
		x->flags = (unsigned)m->flags;
		x->desc = srv_graphdesc_of(c, m->graph);
		if (x->desc)
			x->desc->refs++;
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* How many nodes a graph has (PyTorch warns of an empty capture). */
void srv_graph_nodes(struct srv_client *c, const struct omps_call_handle *m)
{
	uint32_t handle = m->handle;
	struct srv_object *g = srv_object_find(c, c->graph.graphs, c->graph.ngraphs, handle, "graph");
	size_t n = 0;
	CUresult r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_get_nodes(g->obj, NULL, &n);
	srv_reply_value(c, r, (int64_t)n);
}

struct node_at {
	CUgraphNode node;
	uint32_t handle;
};

static int by_node(const void *a, const void *b)
{
	const struct node_at *x = a, *y = b;

	return x->node < y->node ? -1 : x->node > y->node;
}

/* The client's handle of node (of graph `graph`): the one it has (known,
 * sorted by node), or one made now; 0 without memory. */
static uint32_t node_handle(struct srv_client *c, uint32_t graph, int dev, CUgraphNode node,
			    const struct node_at *known, size_t nknown, int *made)
{
	struct node_at key = {node, 0}, *hit = nknown ? bsearch(&key, known, nknown, sizeof(*known), by_node) : NULL;
	uint32_t h;

	if (hit)
		return hit->handle;
	h = srv_graphbuild_node_add(c, node, dev, graph);
	*made |= h != 0;
	return h;
}

/* The handles the client has of graph's nodes, sorted by node, for
 * node_handle (NULL without memory; *n: how many). */
static struct node_at *known_nodes(const struct srv_client *c, uint32_t graph, size_t *n)
{
	struct node_at *known = calloc(c->graph.nnodes + 1, sizeof(*known));
	uint32_t i;

	*n = 0;
	for (i = 0; known && i < c->graph.nnodes; i++)
		if (c->graph.nodes[i].obj && c->graph.nodes[i].owner == graph)
			known[(*n)++] = (struct node_at){c->graph.nodes[i].obj, i + 1};
	if (*n)
		qsort(known, *n, sizeof(*known), by_node);
	return known;
}

/* What GRAPH_QUERY asks of the driver: up to *n, from (nodes) and to
 * (edges' other ends) and data given; all NULL: how many. */
static CUresult query_driver(const struct srv_driver *drv, uint32_t what, CUgraph g, CUgraphNode node,
			     CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *data, size_t *n)
{
	switch (what) {
	case OMPS_GRAPH_NODES:
		return drv->graph_get_nodes(g, from, n);
	case OMPS_GRAPH_EDGES:
		return drv->graph_get_edges ? drv->graph_get_edges(g, from, to, data, n) : CUDA_ERROR_NOT_SUPPORTED;
	case OMPS_GRAPH_ROOTS:
		return drv->graph_get_root_nodes ? drv->graph_get_root_nodes(g, from, n) : CUDA_ERROR_NOT_SUPPORTED;
	case OMPS_GRAPH_DEPS:
		return drv->graph_node_get_dependencies ? drv->graph_node_get_dependencies(node, from, data, n)
							: CUDA_ERROR_NOT_SUPPORTED;
	case OMPS_GRAPH_DEPENDENTS:
		return drv->graph_node_get_dependent_nodes ? drv->graph_node_get_dependent_nodes(node, from, data, n)
							   : CUDA_ERROR_NOT_SUPPORTED;
	}
	return CUDA_ERROR_INVALID_VALUE;
}

/* The edges and nodes GRAPH_QUERY found, each node the client's handle. */
static CUresult query_handles(struct srv_client *c, uint32_t graph, int dev, const CUgraphNode *from,
			      const CUgraphNode *to, const CUgraphEdgeData *data, uint32_t n, struct omps_graph_edge *out)
{
	size_t nknown;
	struct node_at *known = known_nodes(c, graph, &nknown);
	CUresult r = known ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	int made = 0;

	for (uint32_t i = 0; r == CUDA_SUCCESS && i < n; i++) {
		out[i].from = node_handle(c, graph, dev, from[i], known, nknown, &made);
		out[i].to = to ? node_handle(c, graph, dev, to[i], known, nknown, &made) : 0;
		memcpy(out[i].data, &data[i], sizeof(out[i].data));
		if (!out[i].from || (to && !out[i].to))
			r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (made)
		srv_graphdesc_placed(c, graph);
	free(known);
	return r;
}

/* GRAPH_QUERY: a graph's nodes (in the driver's order: llama.cpp reads its
 * captured kernels' parameters through them; asked twice, the same
 * handles), edges or roots, a node's dependencies or dependents: how many
 * (count 0), or the first count of them, as data. */
void srv_graph_query(struct srv_client *c, const struct omps_call_graph_query *m)
{
	int of_graph = m->what == OMPS_GRAPH_NODES || m->what == OMPS_GRAPH_EDGES || m->what == OMPS_GRAPH_ROOTS;
	struct srv_object *o = of_graph ? srv_object_find(c, c->graph.graphs, c->graph.ngraphs, m->handle, "graph")
				       : srv_object_find(c, c->graph.nodes, c->graph.nnodes, m->handle, "graph node");
	CUresult r = o ? srv_use_device(c, o->dev, NULL) : CUDA_ERROR_INVALID_VALUE;
	uint32_t graph = o ? (of_graph ? m->handle : o->owner) : 0;
	CUgraph g = of_graph && o ? o->obj : NULL;
	CUgraphNode node = !of_graph && o ? o->obj : NULL, *from = NULL, *to = NULL;
	CUgraphEdgeData *data = NULL;
	struct omps_graph_edge *out = NULL;
	size_t n = 0;

	if (r == CUDA_SUCCESS)
		r = query_driver(c->srv->drv, m->what, g, node, NULL, NULL, NULL, &n);
	if (r != CUDA_SUCCESS || !m->count) {
		srv_reply_value(c, r, (int64_t)n);
		return;
	}
	if (m->count > n)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		from = calloc(n, sizeof(*from));
		to = calloc(n, sizeof(*to));
		data = calloc(n, sizeof(*data));
		out = calloc(m->count, sizeof(*out));
		r = from && to && data && out ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS)
		r = query_driver(c->srv->drv, m->what, g, node, from, m->what == OMPS_GRAPH_EDGES ? to : NULL,
				 of_graph && m->what != OMPS_GRAPH_EDGES ? NULL : data, &n);
	if (r == CUDA_SUCCESS && n < m->count)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = query_handles(c, graph, o->dev, from, m->what == OMPS_GRAPH_EDGES ? to : NULL, data, m->count, out);
	if (r == CUDA_SUCCESS)
		r = srv_reply_chunks(c, (uint64_t)m->count * sizeof(*out), srv_bytes_piece, out);
	free(from);
	free(to);
	free(data);
	free(out);
	srv_reply_result(c, r);
}

/* Launch or upload: (executable graph, stream), posted. */
void srv_graph_on_exec(struct srv_client *c, const struct omps_call_pair *m)
{
	uint32_t type = c->call;
	struct srv_object *e = srv_object_find(c, c->graph.execs, c->graph.nexecs, m->first, "executable graph");
	CUstream s;
	CUresult r = e ? srv_stream(c, m->second, e->dev, &s) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && type == OMPS_CALL_GRAPH_LAUNCH)
		c->mod.launches++; /* its kernels may change their modules' data (moddata.c) */
	if (r == CUDA_SUCCESS)
		r = type == OMPS_CALL_GRAPH_LAUNCH ? c->srv->drv->graph_launch(e->obj, s)
						   : c->srv->drv->graph_upload(e->obj, s);
	srv_deferred(c, r);
}

/* cuGraphExecUpdate: the executable graph takes the parameters of a graph
 * of the same shape (the driver checks it; a refusal leaves it as it was).
 * The nodes that name its nodes stay those of the graph it was made from,
 * as natively. The reply's value: the driver's CUgraphExecUpdateResult. */
void srv_graph_exec_update(struct srv_client *c, const struct omps_call_pair *m)
{
	struct srv_object *e = srv_object_find(c, c->graph.execs, c->graph.nexecs, m->first, "executable graph");
	struct srv_object *g = srv_object_find(c, c->graph.graphs, c->graph.ngraphs, m->second, "graph");
	CUgraphExecUpdateResultInfo info = {.result = CU_GRAPH_EXEC_UPDATE_ERROR};
	CUresult r = e && g ? srv_use_device(c, e->dev, NULL) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS && !c->srv->drv->graph_exec_update)
		r = CUDA_ERROR_NOT_SUPPORTED;
	else if (r == CUDA_SUCCESS && g->dev != e->dev) /* its kernels' context would change */
		r = CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
	else if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_exec_update(e->obj, g->obj, &info);
	if (r == CUDA_SUCCESS)
		srv_graphdesc_exec_update(c, e, m->second);
	srv_reply_value(c, r, r == CUDA_SUCCESS ? CU_GRAPH_EXEC_UPDATE_SUCCESS : info.result);
}

/* GRAPH_DESTROY, GRAPH_EXEC_DESTROY */
void srv_graph_destroy(struct srv_client *c, const struct omps_call_handle *m)
{
	uint32_t type = c->call, handle = m->handle;
	int exec = type == OMPS_CALL_GRAPH_EXEC_DESTROY;
	struct srv_object *o = exec ? srv_object_find(c, c->graph.execs, c->graph.nexecs, handle, "executable graph")
				    : srv_object_find(c, c->graph.graphs, c->graph.ngraphs, handle, "graph");
	CUresult r = o ? srv_use_device(c, o->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && !exec && o->owner) /* a conditional node's body: its graph owns it */
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		r = exec ? c->srv->drv->graph_exec_destroy(o->obj) : c->srv->drv->graph_destroy(o->obj);
		o->obj = NULL;
		srv_graphdesc_changed(o);
		if (!exec)
			srv_graphbuild_forget(c, handle);
		retired_back(c);
	}
	srv_deferred(c, r);
}

void srv_capture_abandon(struct srv_client *c, CUstream s)
{
	CUgraph g = NULL;
	CUresult r;

	if (!srv_capturing(c, s))
		return;
	r = c->srv->drv->stream_end_capture(s, &g);
	if (g)
		c->srv->drv->graph_destroy(g);
	if (ended(r) && c->graph.captures && !--c->graph.captures)
		c->graph.spoiled = 0;
	retired_back(c);
}

/* Before its streams go: a capture it left open is ended, its graphs and
 * executable graphs destroyed. */
void srv_graph_release(struct srv_client *c)
{
	struct srv_driver *drv = c->srv->drv;
	uint32_t i;

	for (i = 0; c->graph.captures && i < c->nstreams; i++)
		if (c->streams[i].obj && srv_use_device(c, c->streams[i].dev, NULL) == CUDA_SUCCESS)
			srv_capture_abandon(c, c->streams[i].obj);
	for (i = 0; i < c->graph.nexecs; i++)
		if (c->graph.execs[i].obj && srv_use_device(c, c->graph.execs[i].dev, NULL) == CUDA_SUCCESS)
			drv->graph_exec_destroy(c->graph.execs[i].obj);
	for (i = 0; i < c->graph.ngraphs; i++) /* bodies go with the graphs that own them */
		if (c->graph.graphs[i].obj && !c->graph.graphs[i].owner &&
		    srv_use_device(c, c->graph.graphs[i].dev, NULL) == CUDA_SUCCESS)
			drv->graph_destroy(c->graph.graphs[i].obj);
	for (i = 0; i < c->graph.nexecs; i++) /* a successor's too, where a client was not kept */
		srv_graphdesc_put(c->graph.execs[i].desc);
	for (i = 0; i < c->graph.ngraphs; i++)
		srv_graphdesc_put(c->graph.graphs[i].desc);
	free(c->graph.execs);
	free(c->graph.graphs);
	free(c->graph.nodes);
	free(c->graph.free_nodes);
	c->graph.execs = c->graph.graphs = c->graph.nodes = NULL;
	c->graph.free_nodes = NULL;
	c->graph.nexecs = c->graph.ngraphs = c->graph.nnodes = 0;
	c->graph.nfree_nodes = c->graph.free_cap = 0;
	c->graph.captures = 0;
	srv_capture_release(c);
}

int srv_graph_live(const struct srv_client *c)
{
	uint32_t i;

	if (c->graph.captures) /* a capture names what its work touches, as a graph does */
		return 1;
	for (i = 0; i < c->graph.ngraphs; i++)
		if (c->graph.graphs[i].obj)
			return 1;
	for (i = 0; i < c->graph.nexecs; i++)
		if (c->graph.execs[i].obj)
			return 1;
	return 0;
}
