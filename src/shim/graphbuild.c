/* CUDA graphs built node by node, in remote mode: the server builds them in
 * its context (graphbuild.c there). A CUgraph is the same record as a
 * captured graph's (graph.c); a CUgraphNode carries the server's handle in
 * its value and needs no record: the server checks every handle it is given.
 *
 * Served: empty, kernel, memset, memcpy (device memory, and host memory
 * that the server maps too: cuMemHostAlloc's), event record and wait, child
 * graph and conditional nodes, host nodes (hostfn.c: the function runs
 * here at each launch, by its graph slot; the server's node is a child
 * graph); dependencies; clone; new parameters for a node of a graph or of
 * an executable graph. Refused, with one line: new parameters for a host
 * node, copies of pageable host memory or of CUDA arrays, and the other
 * node kinds. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define NODE_TAG 0x6e6f6465ull /* "node", above the server's handle */

static CUgraphNode node_value(uint32_t handle)
{
	return (CUgraphNode)(uintptr_t)(NODE_TAG << 32 | handle);
}

static uint32_t node_handle(CUgraphNode n)
{
	uint64_t v = (uint64_t)(uintptr_t)n;

	return v >> 32 == NODE_TAG ? (uint32_t)v : 0;
}

static CUresult graph_handle(CUgraph g, uint32_t *h)
{
	struct shim_object *o = shim_object(g, GRAPH_MAGIC);

	if (!o)
		return CUDA_ERROR_INVALID_VALUE;
	*h = o->handle;
	return CUDA_SUCCESS;
}

static CUresult graph_create(CUgraph *graph, unsigned int flags)
{
	struct omps_call_graph_create m = {.dev = shim_current_device(), .flags = flags};
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUresult r;

	if (!graph)
		return CUDA_ERROR_INVALID_VALUE;
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	r = shim_call(OMPS_CALL_GRAPH_CREATE, &m, sizeof(m), &rep, sizeof(rep));
	return r == CUDA_SUCCESS ? shim_graph_new(GRAPH_MAGIC, rep.handle, (void **)graph) : r;
}

static CUresult graph_clone(CUgraph *clone, CUgraph graph)
{
	struct omps_call_handle m;
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUresult r = clone ? graph_handle(graph, &m.handle) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		r = shim_call(OMPS_CALL_GRAPH_CLONE, &m, sizeof(m), &rep, sizeof(rep));
	return r == CUDA_SUCCESS ? shim_graph_new(GRAPH_MAGIC, rep.handle, (void **)clone) : r;
}

/* One side of a copy: device memory, or host memory the server maps too. */
static CUresult copy_side(CUmemorytype type, const void *host, CUdeviceptr dev, size_t x, size_t y, size_t z,
			  size_t pitch, size_t rows, const CUDA_MEMCPY3D *c, uint64_t *addr, uint32_t *is_host)
{
	uint64_t base = type == CU_MEMORYTYPE_HOST ? (uint64_t)(uintptr_t)host : dev;
	uint64_t off = x + y * pitch + z * rows * pitch;
	uint64_t span = c->WidthInBytes + (c->Height ? c->Height - 1 : 0) * pitch +
			(c->Depth ? c->Depth - 1 : 0) * rows * pitch;
	struct shim_range r;

	if (type == CU_MEMORYTYPE_ARRAY)
		return shim_unsupported("a graph memcpy node with a CUDA array");
	if (type == CU_MEMORYTYPE_UNIFIED) /* the driver tells by the address */
		type = !shim_range_find(dev, &r) && r.kind == SHIM_RANGE_HOST ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
	if (type != CU_MEMORYTYPE_HOST && type != CU_MEMORYTYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	*addr = base + off;
	*is_host = type == CU_MEMORYTYPE_HOST;
	if (*is_host && !shim_shared_host((const void *)(uintptr_t)*addr, span))
		return shim_unsupported("a graph memcpy node with pageable host memory (use cuMemHostAlloc's)");
	return CUDA_SUCCESS;
}

static CUresult describe_copy(const CUDA_MEMCPY3D *c, struct omps_call_graph_node *m)
{
	CUresult r;

	m->kind = OMPS_NODE_MEMCPY;
	m->width = c->WidthInBytes;
	m->height = c->Height ? c->Height : 1;
	m->depth = c->Depth ? c->Depth : 1;
	m->src_pitch = c->srcPitch ? c->srcPitch : c->WidthInBytes;
	m->dst_pitch = c->dstPitch ? c->dstPitch : c->WidthInBytes;
	m->src_height = c->srcHeight;
	m->dst_height = c->dstHeight;
	r = copy_side(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcXInBytes, c->srcY, c->srcZ, m->src_pitch,
		      c->srcHeight, c, &m->src, &m->src_host);
	if (r == CUDA_SUCCESS)
		r = copy_side(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstXInBytes, c->dstY, c->dstZ,
			      m->dst_pitch, c->dstHeight, c, &m->dst, &m->dst_host);
	return r;
}

/* The record for a node, and a kernel's packed arguments in args. */
static CUresult describe(const CUgraphNodeParams *p, struct omps_call_graph_node *m, unsigned char *args,
			 size_t *args_len)
{
	const CUDA_KERNEL_NODE_PARAMS_v3 *k = &p->kernel;
	struct shim_function *f;
	struct shim_object *o;
	const void *packed;
	CUresult r;

	*args_len = 0;
	switch (p->type) {
	case CU_GRAPH_NODE_TYPE_EMPTY:
		m->kind = OMPS_NODE_EMPTY;
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_KERNEL:
		f = shim_function(k->func ? k->func : (CUfunction)k->kern);
		if (!f)
			return CUDA_ERROR_INVALID_VALUE;
		if (f->args_size > OMPS_GRAPH_ARGS_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		r = shim_launch_pack(f, k->kernelParams, k->extra, args, &packed, args_len);
		if (r != CUDA_SUCCESS)
			return r;
		if (*args_len > OMPS_GRAPH_ARGS_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		if (packed != args)
			memmove(args, packed, *args_len);
		*m = (struct omps_call_graph_node){.kind = OMPS_NODE_KERNEL, .object = f->handle,
						   .grid = {k->gridDimX, k->gridDimY, k->gridDimZ},
						   .block = {k->blockDimX, k->blockDimY, k->blockDimZ},
						   .shared_mem = k->sharedMemBytes, .args_size = (uint32_t)*args_len};
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_MEMSET:
		*m = (struct omps_call_graph_node){.kind = OMPS_NODE_MEMSET, .dst = p->memset.dst,
						   .dst_pitch = p->memset.pitch, .value = p->memset.value,
						   .elem = p->memset.elementSize, .width = p->memset.width,
						   .height = p->memset.height ? p->memset.height : 1};
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_MEMCPY:
		return describe_copy(&p->memcpy.copyParams, m);
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		o = shim_object(p->eventRecord.event, EVENT_MAGIC);
		if (!o)
			return CUDA_ERROR_INVALID_VALUE;
		m->kind = p->type == CU_GRAPH_NODE_TYPE_EVENT_RECORD ? OMPS_NODE_EVENT_RECORD : OMPS_NODE_EVENT_WAIT;
		m->object = o->handle;
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_GRAPH:
		m->kind = OMPS_NODE_CHILD;
		return graph_handle(p->graph.graph, &m->object);
	case CU_GRAPH_NODE_TYPE_CONDITIONAL:
		if (p->conditional.size > OMPS_MAX_COND_BODIES)
			return shim_unsupported("a conditional graph node with more than 16 bodies");
		m->kind = OMPS_NODE_CONDITIONAL;
		m->cond_handle = p->conditional.handle;
		m->cond_type = (uint32_t)p->conditional.type;
		m->cond_size = p->conditional.size;
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_HOST: /* add_node gives it its slot */
		return shim_unsupported("new parameters for a graph's host node");
	default:
		return shim_unsupported("this kind of graph node (memory, semaphore or batch memory operation)");
	}
}

/* Sends one GRAPH_* node record: m, then ndeps handles, then args. */
static CUresult send_node(uint32_t type, struct omps_call_graph_node *m, const CUgraphNode *deps, size_t ndeps,
			  const unsigned char *args, size_t args_len, struct omps_reply_node *rep)
{
	static __thread unsigned char buf[sizeof(*m) + OMPS_MAX_NODE_DEPS * 4 + OMPS_GRAPH_ARGS_MAX];
	size_t i, len;

	if (ndeps > OMPS_MAX_NODE_DEPS || (ndeps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	m->ndeps = (uint32_t)ndeps;
	len = sizeof(*m) + ndeps * 4 + args_len;
	if (len > shim_post_max())
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(buf, m, sizeof(*m));
	for (i = 0; i < ndeps; i++) {
		uint32_t h = node_handle(deps[i]);

		if (!h)
			return CUDA_ERROR_INVALID_VALUE;
		memcpy(buf + sizeof(*m) + 4 * i, &h, 4);
	}
	memcpy(buf + sizeof(*m) + ndeps * 4, args, args_len);
	return shim_call(type, buf, len, rep, sizeof(*rep));
}

/* A conditional node's bodies: records the program may build on, kept for
 * the node's life (the process's, on one list: a few bytes a node). */
struct bodies {
	struct bodies *next;
	CUgraph graph[OMPS_MAX_COND_BODIES];
};

static CUresult bodies(CUgraphNodeParams *p, const struct omps_reply_node *rep)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct bodies *all;
	struct bodies *b = calloc(1, sizeof(*b));
	uint32_t i;

	if (!b || rep->nbodies != p->conditional.size) {
		free(b);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_lock(&lock);
	b->next = all;
	all = b;
	pthread_mutex_unlock(&lock);
	for (i = 0; i < rep->nbodies; i++)
		if (shim_graph_new(GRAPH_MAGIC, rep->bodies[i], (void **)&b->graph[i]) != CUDA_SUCCESS)
			return CUDA_ERROR_OUT_OF_MEMORY;
	p->conditional.phGraph_out = b->graph;
	return CUDA_SUCCESS;
}

/* Edges as cuGraphAddDependencies makes them without edge data: no ports, the default type. */
static int plain_edges(const CUgraphEdgeData *edges, size_t n)
{
	size_t i;

	for (i = 0; edges && i < n; i++)
		if (edges[i].type != CU_GRAPH_DEPENDENCY_TYPE_DEFAULT || edges[i].from_port || edges[i].to_port)
			return 0;
	return 1;
}

/* Host nodes of this process, for cuGraphHostNodeGetParams (a few bytes a
 * node, kept for the process's life as conditional bodies are). */
struct host_node {
	struct host_node *next;
	uint32_t handle;
	CUDA_HOST_NODE_PARAMS params;
};

static struct host_node *host_nodes;
static pthread_mutex_t host_nodes_lock = PTHREAD_MUTEX_INITIALIZER;

static CUresult add_host_node(CUgraphNode *node, uint32_t graph, const CUgraphNode *deps, size_t ndeps,
			      const CUgraphNodeParams *p)
{
	struct omps_call_graph_node m = {.graph = graph, .kind = OMPS_NODE_HOST};
	struct host_node *h = calloc(1, sizeof(*h));
	struct omps_reply_node rep;
	int slot = h && p->host.fn ? shim_hostfn_graph_slot(p->host.fn, p->host.userData) : -1;
	CUresult r;

	if (slot < 0) {
		free(h);
		return !p->host.fn ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_OUT_OF_MEMORY;
	}
	m.object = (uint32_t)slot;
	memset(&rep, 0, sizeof(rep));
	r = send_node(OMPS_CALL_GRAPH_ADD_NODE, &m, deps, ndeps, (const unsigned char *)"", 0, &rep);
	shim_hostfn_graph_settle(slot, r == CUDA_SUCCESS);
	if (r != CUDA_SUCCESS) {
		free(h);
		return r;
	}
	*h = (struct host_node){.handle = rep.handle, .params = {p->host.fn, p->host.userData}};
	pthread_mutex_lock(&host_nodes_lock);
	h->next = host_nodes;
	host_nodes = h;
	pthread_mutex_unlock(&host_nodes_lock);
	*node = node_value(rep.handle);
	return CUDA_SUCCESS;
}

static CUresult host_node_params(CUgraphNode node, CUDA_HOST_NODE_PARAMS *out)
{
	uint32_t handle = node_handle(node);
	struct host_node *h;

	if (!out || !handle)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&host_nodes_lock);
	for (h = host_nodes; h && h->handle != handle; h = h->next)
		;
	if (h)
		*out = h->params;
	pthread_mutex_unlock(&host_nodes_lock);
	return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult add_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, const CUgraphEdgeData *edges,
			 size_t ndeps, CUgraphNodeParams *p)
{
	static __thread unsigned char args[OMPS_GRAPH_ARGS_MAX];
	struct omps_call_graph_node m;
	struct omps_reply_node rep;
	size_t args_len;
	CUresult r;

	if (!node || !p)
		return CUDA_ERROR_INVALID_VALUE;
	if (!plain_edges(edges, ndeps))
		return shim_unsupported("a graph edge with a port or a programmatic type");
	if (p->type == CU_GRAPH_NODE_TYPE_HOST) {
		r = graph_handle(graph, &m.graph);
		return r == CUDA_SUCCESS ? add_host_node(node, m.graph, deps, ndeps, p) : r;
	}
	memset(&m, 0, sizeof(m));
	memset(&rep, 0, sizeof(rep));
	r = describe(p, &m, args, &args_len);
	if (r == CUDA_SUCCESS)
		r = graph_handle(graph, &m.graph);
	if (r == CUDA_SUCCESS)
		r = send_node(OMPS_CALL_GRAPH_ADD_NODE, &m, deps, ndeps, args, args_len, &rep);
	if (r == CUDA_SUCCESS && p->type == CU_GRAPH_NODE_TYPE_CONDITIONAL)
		r = bodies(p, &rep);
	if (r == CUDA_SUCCESS)
		*node = node_value(rep.handle);
	return r;
}

static CUresult add_node_v1(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
			    CUgraphNodeParams *p)
{
	return add_node(node, graph, deps, NULL, ndeps, p);
}

static CUresult kernel_params(const CUDA_KERNEL_NODE_PARAMS *k, CUgraphNodeParams *p)
{
	if (!k)
		return CUDA_ERROR_INVALID_VALUE;
	memset(p, 0, sizeof(*p));
	p->type = CU_GRAPH_NODE_TYPE_KERNEL;
	p->kernel = (CUDA_KERNEL_NODE_PARAMS_v3){k->func,	     k->gridDimX,	k->gridDimY, k->gridDimZ,
						  k->blockDimX,	     k->blockDimY,	k->blockDimZ, k->sharedMemBytes,
						  k->kernelParams,   k->extra,		k->kern,      k->ctx};
	return CUDA_SUCCESS;
}

static CUresult add_kernel_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				const CUDA_KERNEL_NODE_PARAMS *k)
{
	CUgraphNodeParams p;
	CUresult r = kernel_params(k, &p);

	return r == CUDA_SUCCESS ? add_node(node, graph, deps, NULL, ndeps, &p) : r;
}

/* The unversioned ABI: parameters without a CUkernel or a context. */
static CUresult kernel_params_v1(const CUDA_KERNEL_NODE_PARAMS_v1 *k, CUDA_KERNEL_NODE_PARAMS *k2)
{
	if (!k)
		return CUDA_ERROR_INVALID_VALUE;
	memset(k2, 0, sizeof(*k2));
	k2->func = k->func;
	k2->gridDimX = k->gridDimX, k2->gridDimY = k->gridDimY, k2->gridDimZ = k->gridDimZ;
	k2->blockDimX = k->blockDimX, k2->blockDimY = k->blockDimY, k2->blockDimZ = k->blockDimZ;
	k2->sharedMemBytes = k->sharedMemBytes;
	k2->kernelParams = k->kernelParams;
	k2->extra = k->extra;
	return CUDA_SUCCESS;
}

static CUresult add_kernel_node_v1(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				   const CUDA_KERNEL_NODE_PARAMS_v1 *k)
{
	CUDA_KERNEL_NODE_PARAMS k2;
	CUresult r = kernel_params_v1(k, &k2);

	return r == CUDA_SUCCESS ? add_kernel_node(node, graph, deps, ndeps, &k2) : r;
}

static CUresult memset_params(const CUDA_MEMSET_NODE_PARAMS *s, CUcontext ctx, CUgraphNodeParams *p)
{
	if (!s)
		return CUDA_ERROR_INVALID_VALUE;
	memset(p, 0, sizeof(*p));
	p->type = CU_GRAPH_NODE_TYPE_MEMSET;
	p->memset = (CUDA_MEMSET_NODE_PARAMS_v2){s->dst, s->pitch, s->value, s->elementSize, s->width, s->height, ctx};
	return CUDA_SUCCESS;
}

static CUresult memcpy_params(const CUDA_MEMCPY3D *c, CUcontext ctx, CUgraphNodeParams *p)
{
	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	memset(p, 0, sizeof(*p));
	p->type = CU_GRAPH_NODE_TYPE_MEMCPY;
	p->memcpy.copyCtx = ctx;
	p->memcpy.copyParams = *c;
	return CUDA_SUCCESS;
}

static CUresult add_memset_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				const CUDA_MEMSET_NODE_PARAMS *s, CUcontext ctx)
{
	CUgraphNodeParams p;
	CUresult r = memset_params(s, ctx, &p);

	return r == CUDA_SUCCESS ? add_node(node, graph, deps, NULL, ndeps, &p) : r;
}

static CUresult add_memcpy_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				const CUDA_MEMCPY3D *c, CUcontext ctx)
{
	CUgraphNodeParams p;
	CUresult r = memcpy_params(c, ctx, &p);

	return r == CUDA_SUCCESS ? add_node(node, graph, deps, NULL, ndeps, &p) : r;
}

static CUresult add_host_node_v1(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				 const CUDA_HOST_NODE_PARAMS *h)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_HOST};

	if (!h)
		return CUDA_ERROR_INVALID_VALUE;
	p.host.fn = h->fn;
	p.host.userData = h->userData;
	return add_node(node, graph, deps, NULL, ndeps, &p);
}

static CUresult add_empty_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};

	return add_node(node, graph, deps, NULL, ndeps, &p);
}

static CUresult add_event_record_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				      CUevent e)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_EVENT_RECORD};

	p.eventRecord.event = e;
	return add_node(node, graph, deps, NULL, ndeps, &p);
}

static CUresult add_event_wait_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
				    CUevent e)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_WAIT_EVENT};

	p.eventWait.event = e;
	return add_node(node, graph, deps, NULL, ndeps, &p);
}

static CUresult add_child_node(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps, size_t ndeps,
			       CUgraph child)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};

	p.graph.graph = child;
	return add_node(node, graph, deps, NULL, ndeps, &p);
}

static CUresult add_deps(CUgraph graph, const CUgraphNode *from, const CUgraphNode *to, const CUgraphEdgeData *edges,
			 size_t n)
{
	static __thread uint32_t buf[2 + 2 * OMPS_MAX_NODE_DEPS];
	struct omps_call_graph_deps m = {.count = (uint32_t)n};
	struct omps_reply rep;
	size_t i;
	CUresult r = graph_handle(graph, &m.graph);

	if (r != CUDA_SUCCESS)
		return r;
	if (n > OMPS_MAX_NODE_DEPS || (n && (!from || !to)))
		return CUDA_ERROR_INVALID_VALUE;
	if (!plain_edges(edges, n))
		return shim_unsupported("a graph edge with a port or a programmatic type");
	memcpy(buf, &m, sizeof(m));
	for (i = 0; i < n; i++) {
		buf[2 + i] = node_handle(from[i]);
		buf[2 + n + i] = node_handle(to[i]);
		if (!buf[2 + i] || !buf[2 + n + i])
			return CUDA_ERROR_INVALID_VALUE;
	}
	return shim_call(OMPS_CALL_GRAPH_ADD_DEPS, buf, sizeof(m) + 8 * n, &rep, sizeof(rep));
}

static CUresult add_deps_v1(CUgraph graph, const CUgraphNode *from, const CUgraphNode *to, size_t n)
{
	return add_deps(graph, from, to, NULL, n);
}

/* New parameters for a node of a graph (exec NULL) or of an executable graph. */
static CUresult set_params(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams *p)
{
	static __thread unsigned char args[OMPS_GRAPH_ARGS_MAX];
	struct omps_call_graph_node m;
	struct omps_reply_node rep;
	struct shim_object *e = exec ? shim_object(exec, EXEC_MAGIC) : NULL;
	size_t args_len;
	CUresult r;

	if (!p || !node_handle(node) || (exec && !e))
		return CUDA_ERROR_INVALID_VALUE;
	memset(&m, 0, sizeof(m));
	r = describe(p, &m, args, &args_len);
	if (r != CUDA_SUCCESS)
		return r;
	m.node = node_handle(node);
	m.exec = e ? e->handle : 0;
	return send_node(e ? OMPS_CALL_GRAPH_EXEC_NODE_SET : OMPS_CALL_GRAPH_NODE_SET, &m, NULL, 0, args, args_len,
			 &rep);
}

static CUresult node_set_params(CUgraphNode node, CUgraphNodeParams *p)
{
	return set_params(NULL, node, p);
}

static CUresult exec_node_set_params(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams *p)
{
	return exec ? set_params(exec, node, p) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult kernel_node_set_params(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *k)
{
	CUgraphNodeParams p;
	CUresult r = kernel_params(k, &p);

	return r == CUDA_SUCCESS ? set_params(NULL, node, &p) : r;
}

static CUresult exec_kernel_node_set_params(CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *k)
{
	CUgraphNodeParams p;
	CUresult r = exec ? kernel_params(k, &p) : CUDA_ERROR_INVALID_VALUE;

	return r == CUDA_SUCCESS ? set_params(exec, node, &p) : r;
}

/* The graph's own node: its context is the one it was added with, which
 * the server's is (it ignores the one given). */
static CUresult memcpy_node_set_params(CUgraphNode node, const CUDA_MEMCPY3D *c)
{
	CUgraphNodeParams p;
	CUresult r = memcpy_params(c, NULL, &p);

	return r == CUDA_SUCCESS ? set_params(NULL, node, &p) : r;
}

static CUresult memset_node_set_params(CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS *s)
{
	CUgraphNodeParams p;
	CUresult r = memset_params(s, NULL, &p);

	return r == CUDA_SUCCESS ? set_params(NULL, node, &p) : r;
}

static CUresult exec_memcpy_node_set_params(CUgraphExec exec, CUgraphNode node, const CUDA_MEMCPY3D *c,
					    CUcontext ctx)
{
	CUgraphNodeParams p;
	CUresult r = exec ? memcpy_params(c, ctx, &p) : CUDA_ERROR_INVALID_VALUE;

	return r == CUDA_SUCCESS ? set_params(exec, node, &p) : r;
}

static CUresult exec_memset_node_set_params(CUgraphExec exec, CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS *s,
					    CUcontext ctx)
{
	CUgraphNodeParams p;
	CUresult r = exec ? memset_params(s, ctx, &p) : CUDA_ERROR_INVALID_VALUE;

	return r == CUDA_SUCCESS ? set_params(exec, node, &p) : r;
}

static CUresult cond_handle_create(CUgraphConditionalHandle *out, CUgraph graph, CUcontext ctx,
				   unsigned int default_value, unsigned int flags)
{
	struct omps_call_cond_handle m = {.default_value = default_value, .flags = flags};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r = out ? graph_handle(graph, &m.graph) : CUDA_ERROR_INVALID_VALUE;

	(void)ctx; /* the graph's device's context: the only one a client has there */
	if (r == CUDA_SUCCESS)
		r = shim_call(OMPS_CALL_COND_HANDLE, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*out = (CUgraphConditionalHandle)rep.value;
	return r;
}

/* The typed setters of child graph and event nodes, through the generic one
 * (XLA's command buffers set a child graph of an executable graph so). */
static CUresult exec_child_set(CUgraphExec exec, CUgraphNode node, CUgraph child)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};

	p.graph.graph = child;
	return exec ? set_params(exec, node, &p) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult event_set(CUgraphExec exec, CUgraphNode node, CUevent ev, CUgraphNodeType type)
{
	CUgraphNodeParams p = {.type = type};

	if (type == CU_GRAPH_NODE_TYPE_EVENT_RECORD)
		p.eventRecord.event = ev;
	else
		p.eventWait.event = ev;
	return set_params(exec, node, &p);
}

static CUresult record_node_set_event(CUgraphNode node, CUevent ev)
{
	return event_set(NULL, node, ev, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
}

static CUresult wait_node_set_event(CUgraphNode node, CUevent ev)
{
	return event_set(NULL, node, ev, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
}

static CUresult exec_record_node_set_event(CUgraphExec exec, CUgraphNode node, CUevent ev)
{
	return exec ? event_set(exec, node, ev, CU_GRAPH_NODE_TYPE_EVENT_RECORD) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult exec_wait_node_set_event(CUgraphExec exec, CUgraphNode node, CUevent ev)
{
	return exec ? event_set(exec, node, ev, CU_GRAPH_NODE_TYPE_WAIT_EVENT) : CUDA_ERROR_INVALID_VALUE;
}

/* A graph's nodes, edges or roots, a node's dependencies or dependents:
 * the count, or the first *count (each node named by its handle, made for
 * a captured graph's as it is listed), the rest NULL. Without room for
 * edge data, an edge that has some makes it lossy, as the driver says. */
static CUresult query(uint32_t handle, uint32_t what, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *data,
		      size_t *count)
{
	static const unsigned char plain[sizeof(((struct omps_graph_edge *)0)->data)];
	struct omps_call_graph_query m = {.handle = handle, .what = what};
	struct omps_reply_value rep = {{0}, 0};
	struct omps_graph_edge *e;
	int lossy = 0;
	size_t i;
	CUresult r;

	if (!count || !handle)
		return CUDA_ERROR_INVALID_VALUE;
	r = shim_call(OMPS_CALL_GRAPH_QUERY, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	if (rep.value < 0 || (uint64_t)rep.value > UINT32_MAX)
		return CUDA_ERROR_MPS_RPC_FAILURE;
	if (!from) {
		*count = (size_t)rep.value;
		return CUDA_SUCCESS;
	}
	m.count = (uint32_t)((size_t)rep.value < *count ? (size_t)rep.value : *count);
	e = calloc(m.count + 1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = m.count ? shim_call_read(OMPS_CALL_GRAPH_QUERY, &m, sizeof(m), e, (uint64_t)m.count * sizeof(*e))
		    : CUDA_SUCCESS;
	for (i = 0; r == CUDA_SUCCESS && i < *count; i++) {
		from[i] = i < m.count ? node_value(e[i].from) : NULL;
		if (to)
			to[i] = i < m.count ? node_value(e[i].to) : NULL;
		if (data)
			memcpy(&data[i], i < m.count ? e[i].data : plain, sizeof(data[i]));
		else if (i < m.count && memcmp(e[i].data, plain, sizeof(plain)))
			lossy = 1;
	}
	if (r == CUDA_SUCCESS)
		*count = m.count;
	free(e);
	return r == CUDA_SUCCESS && lossy ? CUDA_ERROR_LOSSY_QUERY : r;
}

static CUresult get_nodes(CUgraph graph, CUgraphNode *nodes, size_t *count)
{
	uint32_t h;
	CUresult r = graph_handle(graph, &h);

	return r == CUDA_SUCCESS ? query(h, OMPS_GRAPH_NODES, nodes, NULL, NULL, count) : r;
}

static CUresult get_edges(CUgraph graph, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *data, size_t *count)
{
	uint32_t h;
	CUresult r = graph_handle(graph, &h);

	if (r != CUDA_SUCCESS || (from && !to) || (to && !from))
		return r != CUDA_SUCCESS ? r : CUDA_ERROR_INVALID_VALUE;
	return query(h, OMPS_GRAPH_EDGES, from, to, data, count);
}

static CUresult get_root_nodes(CUgraph graph, CUgraphNode *roots, size_t *count)
{
	uint32_t h;
	CUresult r = graph_handle(graph, &h);

	return r == CUDA_SUCCESS ? query(h, OMPS_GRAPH_ROOTS, roots, NULL, NULL, count) : r;
}

static CUresult node_dependencies(CUgraphNode node, CUgraphNode *deps, CUgraphEdgeData *data, size_t *count)
{
	return query(node_handle(node), OMPS_GRAPH_DEPS, deps, NULL, data, count);
}

static CUresult node_dependents(CUgraphNode node, CUgraphNode *out, CUgraphEdgeData *data, size_t *count)
{
	return query(node_handle(node), OMPS_GRAPH_DEPENDENTS, out, NULL, data, count);
}

/* The unversioned ABI: no edge data. */
static CUresult get_edges_v1(CUgraph graph, CUgraphNode *from, CUgraphNode *to, size_t *count)
{
	return get_edges(graph, from, to, NULL, count);
}

static CUresult node_dependencies_v1(CUgraphNode node, CUgraphNode *deps, size_t *count)
{
	return node_dependencies(node, deps, NULL, count);
}

static CUresult node_dependents_v1(CUgraphNode node, CUgraphNode *out, size_t *count)
{
	return node_dependents(node, out, NULL, count);
}

/* A node of an executable graph turned off or on, or asked (on: NULL). */
static CUresult node_enable(CUgraphExec exec, CUgraphNode node, unsigned int value, unsigned int *on)
{
	struct shim_object *e = shim_object(exec, EXEC_MAGIC);
	struct omps_call_node_enable m = {.node = node_handle(node), .value = value, .set = !on};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (!e || !m.node)
		return CUDA_ERROR_INVALID_VALUE;
	m.exec = e->handle;
	r = shim_call(OMPS_CALL_GRAPH_NODE_ENABLE, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && on)
		*on = rep.value != 0;
	return r;
}

static CUresult node_set_enabled(CUgraphExec exec, CUgraphNode node, unsigned int value)
{
	return node_enable(exec, node, value, NULL);
}

static CUresult node_get_enabled(CUgraphExec exec, CUgraphNode node, unsigned int *on)
{
	return on ? node_enable(exec, node, 0, on) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult node_get_type(CUgraphNode node, CUgraphNodeType *type)
{
	struct omps_call_handle m = {.handle = node_handle(node)};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (!type || !m.handle)
		return CUDA_ERROR_INVALID_VALUE;
	r = shim_call(OMPS_CALL_GRAPH_NODE_TYPE, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*type = (CUgraphNodeType)rep.value;
	return r;
}

/* A kernel node's arguments as cuGraphKernelNodeGetParams gives them: its
 * kernelParams point in here, and stay valid until the node's graph goes,
 * as the driver's (llama.cpp writes an argument through them, then sets
 * the node's parameters with them). A node read again reuses its place. */
struct node_args {
	struct node_args *next;
	uint32_t node, graph, size, nparams;
	void **ptrs;
	unsigned char *args;
};
static struct node_args *node_args;
static pthread_mutex_t node_args_lock = PTHREAD_MUTEX_INITIALIZER;

static struct node_args *node_args_for(uint32_t node, uint32_t graph, const struct shim_function *f)
{
	struct node_args *a;

	for (a = node_args; a; a = a->next)
		if (a->node == node && a->size == f->args_size && a->nparams == f->nparams)
			return a;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->args = calloc(1, f->args_size + 1)) || !(a->ptrs = calloc(f->nparams + 1, sizeof(*a->ptrs)))) {
		if (a)
			free(a->args);
		free(a);
		return NULL;
	}
	a->next = node_args;
	a->node = node;
	a->graph = graph;
	a->size = f->args_size;
	a->nparams = f->nparams;
	for (uint32_t i = 0; i < f->nparams; i++)
		a->ptrs[i] = a->args + f->params[i].offset;
	node_args = a;
	return a;
}

void shim_graphbuild_forget(uint32_t graph)
{
	struct node_args **pp = &node_args, *a;

	pthread_mutex_lock(&node_args_lock);
	while ((a = *pp)) {
		if (a->graph != graph) {
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		free(a->ptrs);
		free(a->args);
		free(a);
	}
	pthread_mutex_unlock(&node_args_lock);
}

/* The server describes the node; its function is the one this process
 * has of that handle (cudart maps it back to its kernel). */
static CUresult kernel_node_get_params(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS *k)
{
	struct omps_call_kernel_node m = {.node = node_handle(node)};
	struct omps_reply_kernel_node rep;
	struct shim_function *f;
	struct node_args *a = NULL;
	unsigned char *args;
	CUresult r;

	if (!k || !m.node)
		return CUDA_ERROR_INVALID_VALUE;
	memset(&rep, 0, sizeof(rep));
	r = shim_call(OMPS_CALL_GRAPH_KERNEL_NODE, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	f = shim_function_of(rep.function);
	if (!f)
		return shim_unsupported("cuGraphKernelNodeGetParams of a kernel this process has no function for");
	if (f->args_size != rep.args_size)
		return CUDA_ERROR_MPS_RPC_FAILURE;
	m.bytes = f->args_size;
	args = calloc(1, m.bytes + 1);
	r = !args ? CUDA_ERROR_OUT_OF_MEMORY
	    : m.bytes ? shim_call_read(OMPS_CALL_GRAPH_KERNEL_ARGS, &m, sizeof(m), args, m.bytes)
		      : CUDA_SUCCESS;
	if (r == CUDA_SUCCESS) { /* no lock held across the call */
		pthread_mutex_lock(&node_args_lock);
		a = node_args_for(m.node, rep.graph, f);
		if (a)
			memcpy(a->args, args, m.bytes);
		pthread_mutex_unlock(&node_args_lock);
		r = a ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	}
	free(args);
	if (r != CUDA_SUCCESS)
		return r;
	memset(k, 0, sizeof(*k));
	k->func = (CUfunction)f;
	k->gridDimX = rep.grid[0], k->gridDimY = rep.grid[1], k->gridDimZ = rep.grid[2];
	k->blockDimX = rep.block[0], k->blockDimY = rep.block[1], k->blockDimZ = rep.block[2];
	k->sharedMemBytes = rep.shared_mem;
	k->kernelParams = a->ptrs;
	return CUDA_SUCCESS;
}

/* The unversioned ABI: parameters without a CUkernel or a context. */
static CUresult kernel_node_get_params_v1(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1 *k)
{
	CUDA_KERNEL_NODE_PARAMS k2 = {0};
	CUresult r = k ? kernel_node_get_params(node, &k2) : CUDA_ERROR_INVALID_VALUE;

	if (r != CUDA_SUCCESS)
		return r;
	*k = (CUDA_KERNEL_NODE_PARAMS_v1){k2.func,	    k2.gridDimX,    k2.gridDimY, k2.gridDimZ, k2.blockDimX,
					  k2.blockDimY,	    k2.blockDimZ,   k2.sharedMemBytes, k2.kernelParams,
					  k2.extra};
	return CUDA_SUCCESS;
}

static CUresult kernel_node_set_params_v1(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1 *k)
{
	CUDA_KERNEL_NODE_PARAMS k2;
	CUresult r = kernel_params_v1(k, &k2);

	return r == CUDA_SUCCESS ? kernel_node_set_params(node, &k2) : r;
}

static CUresult exec_kernel_node_set_params_v1(CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1 *k)
{
	CUDA_KERNEL_NODE_PARAMS k2;
	CUresult r = kernel_params_v1(k, &k2);

	return r == CUDA_SUCCESS ? exec_kernel_node_set_params(exec, node, &k2) : r;
}

void shim_graphbuild_install(void)
{
	SHIM_INSTALL(cuGraphCreate, graph_create);
	SHIM_INSTALL(cuGraphClone, graph_clone);
	SHIM_INSTALL(cuGraphAddNode_v2, add_node);
	SHIM_INSTALL(cuGraphAddKernelNode_v2, add_kernel_node);
	SHIM_INSTALL(cuGraphAddMemsetNode, add_memset_node);
	SHIM_INSTALL(cuGraphAddMemcpyNode, add_memcpy_node);
	SHIM_INSTALL(cuGraphAddEmptyNode, add_empty_node);
	SHIM_INSTALL(cuGraphAddHostNode, add_host_node_v1);
	SHIM_LOCAL(cuGraphHostNodeGetParams, host_node_params);
	SHIM_INSTALL(cuGraphAddEventRecordNode, add_event_record_node);
	SHIM_INSTALL(cuGraphAddEventWaitNode, add_event_wait_node);
	SHIM_INSTALL(cuGraphAddChildGraphNode, add_child_node);
	SHIM_INSTALL(cuGraphAddDependencies_v2, add_deps);
	SHIM_INSTALL(cuGraphNodeSetParams, node_set_params);
	SHIM_INSTALL(cuGraphExecNodeSetParams, exec_node_set_params);
	SHIM_INSTALL(cuGraphKernelNodeSetParams_v2, kernel_node_set_params);
	SHIM_INSTALL(cuGraphExecKernelNodeSetParams_v2, exec_kernel_node_set_params);
	SHIM_INSTALL(cuGraphMemcpyNodeSetParams, memcpy_node_set_params);
	SHIM_INSTALL(cuGraphMemsetNodeSetParams, memset_node_set_params);
	SHIM_INSTALL(cuGraphExecMemcpyNodeSetParams, exec_memcpy_node_set_params);
	SHIM_INSTALL(cuGraphExecMemsetNodeSetParams, exec_memset_node_set_params);
	SHIM_INSTALL(cuGraphConditionalHandleCreate, cond_handle_create);
	SHIM_INSTALL(cuGraphGetNodes, get_nodes);
	SHIM_INSTALL(cuGraphExecChildGraphNodeSetParams, exec_child_set);
	SHIM_INSTALL(cuGraphEventRecordNodeSetEvent, record_node_set_event);
	SHIM_INSTALL(cuGraphEventWaitNodeSetEvent, wait_node_set_event);
	SHIM_INSTALL(cuGraphExecEventRecordNodeSetEvent, exec_record_node_set_event);
	SHIM_INSTALL(cuGraphExecEventWaitNodeSetEvent, exec_wait_node_set_event);
	SHIM_INSTALL(cuGraphNodeGetType, node_get_type);
	SHIM_INSTALL(cuGraphNodeSetEnabled, node_set_enabled);
	SHIM_INSTALL(cuGraphNodeGetEnabled, node_get_enabled);
	SHIM_INSTALL(cuGraphGetEdges_v2, get_edges);
	SHIM_INSTALL(cuGraphGetRootNodes, get_root_nodes);
	SHIM_INSTALL(cuGraphNodeGetDependencies_v2, node_dependencies);
	SHIM_INSTALL(cuGraphNodeGetDependentNodes_v2, node_dependents);
	SHIM_INSTALL(cuGraphKernelNodeGetParams_v2, kernel_node_get_params);
	/* The unversioned ABI, typed by hand (cuda.h gives it to the driver's build only). */
	SHIM_UNTYPED(cuGraphAddNode, add_node_v1);
	SHIM_UNTYPED(cuGraphAddDependencies, add_deps_v1);
	SHIM_UNTYPED(cuGraphAddKernelNode, add_kernel_node_v1);
	SHIM_UNTYPED(cuGraphKernelNodeGetParams, kernel_node_get_params_v1);
	SHIM_UNTYPED(cuGraphKernelNodeSetParams, kernel_node_set_params_v1);
	SHIM_UNTYPED(cuGraphExecKernelNodeSetParams, exec_kernel_node_set_params_v1);
	SHIM_UNTYPED(cuGraphGetEdges, get_edges_v1);
	SHIM_UNTYPED(cuGraphNodeGetDependencies, node_dependencies_v1);
	SHIM_UNTYPED(cuGraphNodeGetDependentNodes, node_dependents_v1);
}
