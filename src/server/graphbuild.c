/* CUDA graphs built node by node, on a client's behalf. Graphs, nodes and
 * the body graphs of conditional nodes are handles into the client's own
 * tables, so that one client cannot name another's. A node belongs to its
 * graph (srv_object.owner = the graph's handle) and a body graph to its
 * conditional node's graph: when a graph goes, what it owns is forgotten
 * with it, so that no handle outlives what the driver freed.
 *
 * What a node names is checked as a call would be: device memory must be
 * the client's own, host memory must be memory it shares with the server
 * (its device address is used), a function, event or graph must be one of
 * its handles. Memory freed or host memory unshared while its graphs live
 * is retired, not given back (graph.c, srv_graph_live). */
#include <string.h>

#include "log.h"
#include "server.h"

/* The client's graph of that handle, which it may build on. */
static struct srv_object *graph_of(struct srv_client *c, uint32_t handle)
{
	return srv_object_find(c, c->graph.graphs, c->graph.ngraphs, handle, "graph");
}

static struct srv_object *node_of(struct srv_client *c, uint32_t handle)
{
	return srv_object_find(c, c->graph.nodes, c->graph.nnodes, handle, "graph node");
}

/* The nodes a record names, all of graph `graph`. */
static CUresult deps_of(struct srv_client *c, uint32_t graph, const uint32_t *h, uint32_t n, CUgraphNode *out)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct srv_object *d = node_of(c, h[i]);

		if (d && d->owner != graph)
			srv_refused(c, "graph node %u is not a node of graph %u", h[i], graph);
		if (!d || d->owner != graph)
			return CUDA_ERROR_INVALID_VALUE;
		out[i] = d->obj;
	}
	return CUDA_SUCCESS;
}

void srv_graphbuild_create(struct srv_client *c, const struct omps_call_graph_create *m)
{
	struct omps_reply_handle rep;
	CUgraph g = NULL;
	CUresult r = srv_use_device(c, m->dev, NULL);

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !c->srv->drv->graph_create)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_create(&g, m->flags);
	if (r == CUDA_SUCCESS) {
		rep.handle = srv_object_add(&c->graph.graphs, &c->graph.ngraphs, g, m->dev);
		if (!rep.handle) {
			c->srv->drv->graph_destroy(g);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	if (r == CUDA_SUCCESS)
		srv_graphdesc_created(&c->graph.graphs[rep.handle - 1]);
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* One side of a copy: the client's device memory, or host memory it
 * shares, reached at its device address. */
static CUresult copy_side(struct srv_client *c, uint64_t addr, int host, uint64_t pitch, uint64_t rows,
			  const struct omps_call_graph_node *m, CUdeviceptr *out)
{
	uint64_t bytes;

	if (srv_span3d(pitch, rows, m->width, m->height, m->depth, &bytes))
		return CUDA_ERROR_INVALID_VALUE;
	*out = host ? srv_host_device_ptr(c, addr, bytes) : srv_memory_owns(c, &addr, bytes) ? addr : 0;
	if (!*out && host)
		srv_refused(c, "host memory at 0x%llx (%llu bytes) is not memory it shares",
			    (unsigned long long)addr, (unsigned long long)bytes);
	return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult memcpy_params(struct srv_client *c, const struct omps_call_graph_node *m, int dev,
			      CUgraphNodeParams *p)
{
	CUDA_MEMCPY3D *cp = &p->memcpy.copyParams;
	CUresult r;

	p->memcpy.copyCtx = c->srv->ctx[dev];
	cp->srcMemoryType = cp->dstMemoryType = CU_MEMORYTYPE_DEVICE;
	cp->WidthInBytes = m->width;
	cp->Height = m->height;
	cp->Depth = m->depth;
	cp->srcPitch = m->src_pitch;
	cp->srcHeight = m->src_height;
	cp->dstPitch = m->dst_pitch;
	cp->dstHeight = m->dst_height;
	r = copy_side(c, m->src, m->src_host, m->src_pitch, m->src_height, m, &cp->srcDevice);
	if (r == CUDA_SUCCESS)
		r = copy_side(c, m->dst, m->dst_host, m->dst_pitch, m->dst_height, m, &cp->dstDevice);
	return r;
}

/* Graph memory, as a successor makes a captured graph again (graphdesc.c):
 * a client's own records never name it. A free names the allocation where
 * the graph made again put it. */
static CUresult graph_memory(struct srv_client *c, const struct omps_call_graph_node *m, int dev,
			     CUgraphNodeParams *p)
{
	uint64_t dst = m->dst;

	if (m->kind == OMPS_NODE_MEM_FREE) {
		if (!srv_memory_owns(c, &dst, 1))
			return CUDA_ERROR_INVALID_VALUE;
		p->type = CU_GRAPH_NODE_TYPE_MEM_FREE;
		p->free.dptr = dst;
		return CUDA_SUCCESS;
	}
	if (srv_memory_graph_alloc(c, m->dst, m->width) <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	p->type = CU_GRAPH_NODE_TYPE_MEM_ALLOC;
	p->alloc.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p->alloc.poolProps.location = (CUmemLocation){CU_MEM_LOCATION_TYPE_DEVICE, dev};
	p->alloc.bytesize = m->width;
	return CUDA_SUCCESS;
}

CUresult srv_graphbuild_params(struct srv_client *c, const struct omps_call_graph_node *m, int dev,
			       const unsigned char *args, size_t *args_size, void **extra, CUgraphNodeParams *p)
{
	struct srv_function *f;
	struct srv_object *o;
	uint64_t bytes, dst = m->dst;

	memset(p, 0, sizeof(*p));
	switch (m->kind) {
	case OMPS_NODE_EMPTY:
		p->type = CU_GRAPH_NODE_TYPE_EMPTY;
		return CUDA_SUCCESS;
	case OMPS_NODE_MEM_ALLOC:
	case OMPS_NODE_MEM_FREE:
		return c->graph.rebuilding ? graph_memory(c, m, dev, p) : CUDA_ERROR_NOT_SUPPORTED;
	case OMPS_NODE_KERNEL:
		f = srv_function_of(c, m->object);
		if (!f)
			return CUDA_ERROR_INVALID_HANDLE;
		if (m->args_size < f->args_size)
			return CUDA_ERROR_INVALID_VALUE;
		srv_function_ran(c, f);
		srv_function_node(f, m->grid, m->block, m->shared_mem, srv_memory_args(c, args, f->args_size), extra,
				  args_size, p);
		return CUDA_SUCCESS;
	case OMPS_NODE_MEMSET:
		if ((m->elem != 1 && m->elem != 2 && m->elem != 4) || m->width > UINT64_MAX / m->elem ||
		    srv_span3d(m->dst_pitch, m->height, m->width * m->elem, m->height, 1, &bytes) ||
		    !srv_memory_owns(c, &dst, bytes))
			return CUDA_ERROR_INVALID_VALUE;
		p->type = CU_GRAPH_NODE_TYPE_MEMSET;
		p->memset = (CUDA_MEMSET_NODE_PARAMS_v2){dst, m->dst_pitch, m->value, m->elem, m->width, m->height,
							  c->srv->ctx[dev]};
		return CUDA_SUCCESS;
	case OMPS_NODE_MEMCPY:
		p->type = CU_GRAPH_NODE_TYPE_MEMCPY;
		return memcpy_params(c, m, dev, p);
	case OMPS_NODE_EVENT_RECORD:
	case OMPS_NODE_EVENT_WAIT:
		o = srv_object_find(c, c->events, c->nevents, m->object, "event");
		if (!o)
			return CUDA_ERROR_INVALID_HANDLE;
		p->type = m->kind == OMPS_NODE_EVENT_RECORD ? CU_GRAPH_NODE_TYPE_EVENT_RECORD : CU_GRAPH_NODE_TYPE_WAIT_EVENT;
		p->eventRecord.event = o->obj; /* eventWait has the same layout */
		return CUDA_SUCCESS;
	case OMPS_NODE_CHILD:
		o = graph_of(c, m->object);
		if (!o)
			return CUDA_ERROR_INVALID_HANDLE;
		p->type = CU_GRAPH_NODE_TYPE_GRAPH;
		p->graph.graph = o->obj; /* copied into the node: ownership stays the client's */
		return CUDA_SUCCESS;
	case OMPS_NODE_HOST: /* a child graph of the operations that run it in the client */
		p->type = CU_GRAPH_NODE_TYPE_GRAPH;
		return srv_hostfn_graph(c, m->object, &p->graph.graph);
	case OMPS_NODE_CONDITIONAL:
		if (!m->cond_size || m->cond_size > OMPS_MAX_COND_BODIES)
			return CUDA_ERROR_INVALID_VALUE;
		p->type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
		p->conditional.handle = m->cond_handle;
		p->conditional.type = (CUgraphConditionalNodeType)m->cond_type;
		p->conditional.size = m->cond_size;
		p->conditional.ctx = c->srv->ctx[dev];
		return CUDA_SUCCESS;
	}
	return CUDA_ERROR_INVALID_VALUE;
}

/* A conditional node's body graphs become the client's, owned by `graph`. */
static CUresult add_bodies(struct srv_client *c, uint32_t graph, int dev, const CUgraphNodeParams *p,
			   struct omps_reply_node *rep)
{
	uint32_t i;

	for (i = 0; i < p->conditional.size; i++) {
		uint32_t h = srv_object_add(&c->graph.graphs, &c->graph.ngraphs, p->conditional.phGraph_out[i], dev);

		if (!h)
			return CUDA_ERROR_OUT_OF_MEMORY;
		c->graph.graphs[h - 1].owner = graph;
		rep->bodies[rep->nbodies++] = h;
	}
	return CUDA_SUCCESS;
}

static void set_params(struct srv_client *c, const struct omps_call_graph_node *m, const unsigned char *args,
		       size_t len)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_object *n = node_of(c, m->node), *e = NULL, *g = n ? graph_of(c, n->owner) : NULL;
	CUgraphNodeParams p;
	size_t args_size = 0;
	void *extra[5];
	CUresult r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && c->call == OMPS_CALL_GRAPH_EXEC_NODE_SET) {
		e = srv_object_find(c, c->graph.execs, c->graph.nexecs, m->exec, "executable graph");
		r = e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
	}
	if (r == CUDA_SUCCESS && (m->args_size != len || m->kind == OMPS_NODE_CONDITIONAL || m->kind == OMPS_NODE_HOST))
		r = CUDA_ERROR_INVALID_VALUE; /* a conditional node's parameters are fixed; a host node's are its slot's */
	if (r == CUDA_SUCCESS)
		r = srv_graphbuild_params(c, m, g->dev, args, &args_size, extra, &p);
	if (r == CUDA_SUCCESS && (e ? !drv->graph_exec_node_set_params : !drv->graph_node_set_params))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = e ? drv->graph_exec_node_set_params(e->obj, n->obj, &p) : drv->graph_node_set_params(n->obj, &p);
	if (r == CUDA_SUCCESS && e) {
		srv_graphdesc_exec_set(c, e, n, m, args);
	} else if (r == CUDA_SUCCESS) {
		srv_graphdesc_set(c, n->owner, m->node, m, args);
	}
	srv_reply_result(c, r);
}

/* GRAPH_ADD_NODE; GRAPH_NODE_SET and GRAPH_EXEC_NODE_SET (set_params). */
void srv_graphbuild_add_node(struct srv_client *c, const struct omps_call_graph_node *m, const unsigned char *data,
			     size_t len)
{
	struct srv_driver *drv = c->srv->drv;
	CUgraphNode deps[OMPS_MAX_NODE_DEPS], node = NULL;
	uint32_t hdeps[OMPS_MAX_NODE_DEPS];
	size_t dep_bytes = (size_t)m->ndeps * sizeof(uint32_t), args_size = 0;
	struct omps_reply_node rep;
	struct srv_object *g;
	CUgraphNodeParams p;
	void *extra[5];
	CUresult r;

	if (m->ndeps > OMPS_MAX_NODE_DEPS || len < dep_bytes) {
		srv_malformed(c, c->call, sizeof(*m) + len);
		return;
	}
	if (c->call != OMPS_CALL_GRAPH_ADD_NODE) {
		set_params(c, m, data + dep_bytes, len - dep_bytes);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	memset(&p, 0, sizeof(p)); /* read below even when node_params was not reached */
	memcpy(hdeps, data, dep_bytes); /* the record may be unaligned for uint32_t */
	g = graph_of(c, m->graph);
	r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && m->args_size != len - dep_bytes)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = deps_of(c, m->graph, hdeps, m->ndeps, deps);
	if (r == CUDA_SUCCESS)
		r = srv_graphbuild_params(c, m, g->dev, data + dep_bytes, &args_size, extra, &p);
	if (r == CUDA_SUCCESS && !drv->graph_add_node)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = drv->graph_add_node(&node, g->obj, m->ndeps ? deps : NULL, NULL, m->ndeps, &p);
	if (m->kind == OMPS_NODE_HOST && p.type == CU_GRAPH_NODE_TYPE_GRAPH && p.graph.graph)
		drv->graph_destroy(p.graph.graph); /* the node holds a copy */
	if (r == CUDA_SUCCESS) {
		rep.handle = srv_graphbuild_node_add(c, node, g->dev, m->graph);
		r = rep.handle ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS)
		srv_graphdesc_added(c, m->graph, m, data + dep_bytes, rep.handle, hdeps);
	if (r == CUDA_SUCCESS && m->kind == OMPS_NODE_CONDITIONAL)
		r = add_bodies(c, m->graph, g->dev, &p, &rep);
	if (r == CUDA_SUCCESS && m->kind == OMPS_NODE_CONDITIONAL)
		srv_graphdesc_bodies(c, m->graph, rep.handle, rep.bodies, rep.nbodies);
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_graphbuild_add_deps(struct srv_client *c, const struct omps_call_graph_deps *m, const unsigned char *data,
			     size_t len)
{
	CUgraphNode from[OMPS_MAX_NODE_DEPS], to[OMPS_MAX_NODE_DEPS];
	uint32_t h[2 * OMPS_MAX_NODE_DEPS];
	struct srv_object *g;
	CUresult r;

	if (m->count > OMPS_MAX_NODE_DEPS || len != (size_t)m->count * 2 * sizeof(uint32_t)) {
		srv_malformed(c, c->call, sizeof(*m) + len);
		return;
	}
	memcpy(h, data, len);
	g = graph_of(c, m->graph);
	r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS)
		r = deps_of(c, m->graph, h, m->count, from);
	if (r == CUDA_SUCCESS)
		r = deps_of(c, m->graph, h + m->count, m->count, to);
	if (r == CUDA_SUCCESS && !c->srv->drv->graph_add_dependencies)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_add_dependencies(g->obj, from, to, NULL, m->count);
	if (r == CUDA_SUCCESS)
		srv_graphdesc_linked(c, m->graph, h, h + m->count, m->count);
	srv_reply_result(c, r);
}

/* The clone's nodes are the driver's; the client gets the graph only. */
void srv_graphbuild_clone(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_object *g = graph_of(c, m->handle);
	struct omps_reply_handle rep;
	CUgraph clone = NULL;
	CUresult r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !c->srv->drv->graph_clone)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_clone(&clone, g->obj);
	if (r == CUDA_SUCCESS) {
		rep.handle = srv_object_add(&c->graph.graphs, &c->graph.ngraphs, clone, g->dev);
		if (!rep.handle) {
			c->srv->drv->graph_destroy(clone);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	if (r == CUDA_SUCCESS)
		srv_graphdesc_cloned(c, m->handle, rep.handle);
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* GRAPH_NODE_TYPE: the driver's CUgraphNodeType of a node of the client's. */
void srv_graphbuild_node_type(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_object *n = node_of(c, m->handle);
	CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
	CUresult r = n ? srv_use_device(c, n->dev, NULL) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS && !c->srv->drv->graph_node_get_type)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_node_get_type(n->obj, &t);
	srv_reply_value(c, r, (int64_t)t);
}

/* GRAPH_NODE_ENABLE: a node of an executable graph turned off or on, or
 * asked whether it is on (XLA's command buffers turn nodes off so). A
 * node turned off is not written down: at a fault the executable graph
 * is not made again, and its client is let go then (graphdesc.c). */
void srv_graphbuild_node_enable(struct srv_client *c, const struct omps_call_node_enable *m)
{
	struct srv_object *e = srv_object_find(c, c->graph.execs, c->graph.nexecs, m->exec, "executable graph");
	struct srv_object *n = node_of(c, m->node);
	const struct srv_driver *drv = c->srv->drv;
	unsigned on = 0;
	CUresult r = e && n ? srv_use_device(c, e->dev, NULL) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS && (!drv->graph_node_set_enabled || !drv->graph_node_get_enabled))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS && m->set)
		r = drv->graph_node_set_enabled(e->obj, n->obj, m->value);
	else if (r == CUDA_SUCCESS)
		r = drv->graph_node_get_enabled(e->obj, n->obj, &on);
	if (r == CUDA_SUCCESS && m->set && !m->value)
		srv_graphdesc_exec_disabled(e);
	srv_reply_value(c, r, (int64_t)on);
}

/* GRAPH_KERNEL_NODE: a kernel node's function (the client's handle),
 * shape and argument size; GRAPH_KERNEL_ARGS: its packed arguments, as
 * data: the shim lays them out as the function's parameters lie. */
void srv_graphbuild_kernel_node(struct srv_client *c, const struct omps_call_kernel_node *m)
{
	struct srv_object *n = node_of(c, m->node);
	struct omps_reply_kernel_node rep;
	struct srv_graph_node_desc nd;
	CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
	CUresult r = n ? srv_use_device(c, n->dev, NULL) : CUDA_ERROR_INVALID_VALUE;

	memset(&rep, 0, sizeof(rep));
	memset(&nd, 0, sizeof(nd));
	if (r == CUDA_SUCCESS && !c->srv->drv->graph_node_get_type)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_node_get_type(n->obj, &t);
	if (r == CUDA_SUCCESS && t != CU_GRAPH_NODE_TYPE_KERNEL)
		r = CUDA_ERROR_INVALID_VALUE; /* as the driver answers for another kind */
	if (r == CUDA_SUCCESS)
		r = srv_graphdesc_kernel(c, n->obj, &nd);
	if (c->call == OMPS_CALL_GRAPH_KERNEL_ARGS) {
		if (r == CUDA_SUCCESS && m->bytes != nd.rec.args_size)
			r = CUDA_ERROR_INVALID_VALUE;
		if (r == CUDA_SUCCESS && m->bytes)
			r = srv_reply_chunks(c, m->bytes, srv_bytes_piece, nd.args);
		free(nd.args);
		srv_reply_result(c, r);
		return;
	}
	rep.function = nd.rec.object;
	memcpy(rep.grid, nd.rec.grid, sizeof(rep.grid));
	memcpy(rep.block, nd.rec.block, sizeof(rep.block));
	rep.shared_mem = nd.rec.shared_mem;
	rep.args_size = nd.rec.args_size;
	rep.graph = n ? n->owner : 0;
	free(nd.args);
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_graphbuild_cond_handle(struct srv_client *c, const struct omps_call_cond_handle *m)
{
	struct srv_object *g = graph_of(c, m->graph);
	CUgraphConditionalHandle h = 0;
	CUresult r = g ? srv_use_device(c, g->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && !c->srv->drv->graph_conditional_handle_create)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->graph_conditional_handle_create(&h, g->obj, c->srv->ctx[g->dev], m->default_value,
								 m->flags);
	if (r == CUDA_SUCCESS)
		srv_graphdesc_cond(c, m->graph, m->default_value, m->flags, h);
	srv_reply_value(c, r, (int64_t)h);
}

/* Graph `handle` is going: its nodes and the body graphs it owns go with
 * it (the driver frees them), and theirs in turn. */
/* A node handle given out again: a client that captures a graph, lists
 * its nodes and destroys it at every step (llama.cpp reads its kernels so)
 * must not grow its table for ever. Handles are not otherwise reused: a
 * stale one names nothing, or (like a driver's dangling node) another node
 * of its. */
uint32_t srv_graphbuild_node_add(struct srv_client *c, CUgraphNode node, int dev, uint32_t graph)
{
	uint32_t h = c->graph.nfree_nodes ? c->graph.free_nodes[--c->graph.nfree_nodes]
					  : srv_object_add(&c->graph.nodes, &c->graph.nnodes, node, dev);

	if (h)
		c->graph.nodes[h - 1] = (struct srv_object){.obj = node, .dev = dev, .owner = graph};
	return h;
}

static void node_let_go(struct srv_client *c, uint32_t i)
{
	uint32_t *more;

	c->graph.nodes[i] = (struct srv_object){0};
	if (c->graph.nfree_nodes == c->graph.free_cap) {
		more = realloc(c->graph.free_nodes, (c->graph.free_cap * 2 + 16) * sizeof(*more));
		if (!more)
			return; /* not given out again */
		c->graph.free_nodes = more;
		c->graph.free_cap = c->graph.free_cap * 2 + 16;
	}
	c->graph.free_nodes[c->graph.nfree_nodes++] = i + 1;
}

void srv_graphbuild_forget(struct srv_client *c, uint32_t handle)
{
	uint32_t i;

	for (i = 0; i < c->graph.nnodes; i++)
		if (c->graph.nodes[i].owner == handle)
			node_let_go(c, i);
	for (i = 0; i < c->graph.ngraphs; i++)
		if (c->graph.graphs[i].owner == handle && c->graph.graphs[i].obj) {
			srv_graphdesc_put(c->graph.graphs[i].desc);
			c->graph.graphs[i] = (struct srv_object){0};
			srv_graphbuild_forget(c, i + 1);
		}
}
