/* A client's graphs written down, so that a server made anew after a GPU
 * fault makes them again behind the same handles (handover.c). A graph is
 * walked through the driver (its nodes, their parameters, its edges) into
 * a description: each node as a GRAPH_ADD_NODE record would say it (a child
 * graph node with its graph's description inside), which
 * graphbuild.c turns back into the driver's parameters in the successor,
 * checked as a client's record is. A graph built node by node is written
 * down as it is built, from the client's records (srv_graphdesc_added and
 * the like: no walk, whatever its size); a captured one is walked as its
 * capture ends (its instantiation would walk it then anyway), and again
 * after a change that could not be written down when its client pauses
 * 1 ms or its worker parks it (srv_graphdesc_take, beside moddata.c's
 * copy) or at its
 * instantiation, whichever comes first. An executable graph keeps the
 * description it was made from; a walked kernel node, its attributes too
 * (cluster dimensions, priority and the like). What cannot be made again
 * (captured host functions, conditional and memory nodes met by a walk,
 * copies of CUDA arrays, kernels it has no handle for, edges with data) is
 * written down as why, and costs the client its context at a fault
 * (server.log says which). A conditional node added by a record holds its
 * bodies' descriptions, as a child graph node holds its graph's; a body is
 * also a graph of the client's, whose description is the one the node
 * holds until the body changes (then the node's graph holds the copy the
 * change was written into: repoint); the graph's conditional handles are
 * written down as made, for a successor to make again to the same values.
 *
 * Invariants: a graph's desc is NULL from a change not written down until
 * its next walk; a node handle of the client's is node `place` of its
 * graph's desc; an executable graph's desc is what it was made from, its
 * own once a node of it was set (cuGraphExecNodeSetParams), the graph's it
 * was updated from (cuGraphExecUpdate), NULL if that could not be written
 * down. A desc shared (refs > 1) never changes: it is
 * copied first. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

#define DEPTH_MAX 8 /* child graphs in child graphs */

#define PUT(p, x) srv_pack_put((p), &(x), sizeof(x))
#define GET(u, x) srv_unpack_get((u), &(x), sizeof(x))

/* What a node's description holds. */
static void node_put(struct srv_graph_node_desc *nd)
{
	free(nd->args);
	free(nd->attrs);
	srv_graphdesc_put(nd->child);
	for (uint32_t k = 0; nd->bodies && k < nd->rec.cond_size; k++)
		srv_graphdesc_put(nd->bodies[k].desc);
	free(nd->bodies);
	nd->args = NULL;
	nd->attrs = NULL;
	nd->child = NULL;
	nd->bodies = NULL;
}

void srv_graphdesc_put(struct srv_graph_desc *d)
{
	uint32_t i;

	if (!d || --d->refs)
		return;
	for (i = 0; i < d->n; i++)
		node_put(&d->nodes[i]);
	free(d->nodes);
	free(d->edges);
	free(d->conds);
	free(d);
}

void srv_graphdesc_changed(struct srv_object *g)
{
	srv_graphdesc_put(g->desc);
	g->desc = NULL;
}

static struct srv_graph_desc *empty(void)
{
	struct srv_graph_desc *d = calloc(1, sizeof(*d));

	if (d)
		d->refs = 1;
	return d;
}

void srv_graphdesc_created(struct srv_object *g)
{
	g->desc = empty();
}

/* Room for one more node and for more edges. */
static int grow(struct srv_graph_desc *d, uint32_t more_edges)
{
	void *t;

	if (d->n == d->ncap) {
		uint32_t cap = d->ncap ? 2 * d->ncap : 16;

		if (!(t = realloc(d->nodes, cap * sizeof(*d->nodes))))
			return -1;
		d->nodes = t;
		d->ncap = cap;
	}
	if (d->nedges + more_edges > d->ecap) {
		uint32_t cap = d->ecap ? 2 * d->ecap : 16;

		while (cap < d->nedges + more_edges)
			cap *= 2;
		if (!(t = realloc(d->edges, cap * sizeof(*d->edges))))
			return -1;
		d->edges = t;
		d->ecap = cap;
	}
	return 0;
}

/* A conditional node's bodies, each description one reference more. */
static struct srv_graph_body *bodies_ref(const struct srv_graph_body *b, uint32_t n)
{
	struct srv_graph_body *k = calloc(n + 1, sizeof(*k));

	for (uint32_t i = 0; k && i < n; i++) {
		k[i].desc = b[i].desc;
		if (k[i].desc)
			k[i].desc->refs++;
	}
	return k;
}

static struct srv_graph_desc *copy(const struct srv_graph_desc *d)
{
	struct srv_graph_desc *c = empty();
	uint32_t i;

	if (!c)
		return NULL;
	c->why = d->why;
	c->nodes = calloc(d->n + 1, sizeof(*c->nodes));
	c->edges = calloc(d->nedges + 1, sizeof(*c->edges));
	c->conds = calloc(d->nconds + 1, sizeof(*c->conds));
	if (!c->nodes || !c->edges || !c->conds)
		goto fail;
	if (d->nconds)
		memcpy(c->conds, d->conds, d->nconds * sizeof(*c->conds));
	c->nconds = d->nconds;
	c->ncap = d->n + 1;
	c->ecap = d->nedges + 1;
	for (i = 0; i < d->n; i++) {
		struct srv_graph_node_desc *nd = &c->nodes[i];

		*nd = d->nodes[i];
		nd->args = NULL;
		nd->attrs = NULL;
		nd->bodies = NULL;
		c->n = i + 1; /* from here, put lets go of what it holds */
		if (nd->child)
			nd->child->refs++;
		if (d->nodes[i].bodies && !(nd->bodies = bodies_ref(d->nodes[i].bodies, nd->rec.cond_size)))
			goto fail;
		if ((d->nodes[i].args && !(nd->args = malloc(d->nodes[i].rec.args_size + 1))) ||
		    (nd->nattrs && !(nd->attrs = malloc(nd->nattrs * sizeof(*nd->attrs)))))
			goto fail;
		if (nd->args)
			memcpy(nd->args, d->nodes[i].args, d->nodes[i].rec.args_size);
		if (nd->attrs)
			memcpy(nd->attrs, d->nodes[i].attrs, nd->nattrs * sizeof(*nd->attrs));
	}
	if (d->nedges)
		memcpy(c->edges, d->edges, d->nedges * sizeof(*d->edges));
	c->nedges = d->nedges;
	return c;
fail:
	srv_graphdesc_put(c);
	return NULL;
}

static int by_node(const void *a, const void *b)
{
	const struct srv_graph_node_index *x = a, *y = b;

	return x->node < y->node ? -1 : x->node > y->node;
}

/* d's nodes by handle (NULL: out of memory), for place_of. */
static struct srv_graph_node_index *index_nodes(const struct srv_graph_desc *d)
{
	struct srv_graph_node_index *x = malloc((d->n + 1) * sizeof(*x));
	uint32_t i;

	if (!x)
		return NULL;
	for (i = 0; i < d->n; i++)
		x[i] = (struct srv_graph_node_index){d->nodes[i].node, i};
	qsort(x, d->n, sizeof(*x), by_node);
	return x;
}

static uint32_t place_of(const struct srv_graph_node_index *x, uint32_t n, CUgraphNode node)
{
	struct srv_graph_node_index key = {node, 0}, *hit = bsearch(&key, x, n, sizeof(*x), by_node);

	return hit ? hit->i : UINT32_MAX;
}

static uint32_t handle_of(const struct srv_object *t, uint32_t n, const void *obj)
{
	for (uint32_t i = 0; obj && i < n; i++)
		if (t[i].obj == obj)
			return i + 1;
	return 0;
}

static uint32_t function_handle(const struct srv_client *c, CUfunction fn)
{
	for (uint32_t i = 0; fn && i < c->mod.nfunctions; i++)
		if (c->mod.functions[i] && c->mod.functions[i]->fn == fn)
			return i + 1;
	return 0;
}

/* A kernel's packed arguments, from the node's extra options or its array
 * of pointers (the function's parameters say where each goes). */
static const char *kernel_args(const struct srv_function *f, const CUDA_KERNEL_NODE_PARAMS *k,
			       unsigned char *out)
{
	const void *buf = NULL;
	size_t have = 0;
	uint32_t i;

	if (k->extra) {
		for (i = 0; i < 16 && k->extra[i] != CU_LAUNCH_PARAM_END; i += 2)
			if (k->extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
				buf = k->extra[i + 1];
			else if (k->extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && k->extra[i + 1])
				have = *(const size_t *)k->extra[i + 1];
		if (!buf || have < f->args_size)
			return "a kernel node's arguments could not be read";
		memcpy(out, buf, f->args_size);
		return NULL;
	}
	if (f->nparams && !k->kernelParams)
		return "a kernel node's arguments could not be read";
	for (i = 0; i < f->nparams; i++)
		memcpy(out + f->params[i].offset, k->kernelParams[i], f->params[i].size);
	return NULL;
}

/* The attributes a kernel node may carry that graphbuild.c's records do
 * not: read back from a captured node, those not at their defaults kept. */
static const CUlaunchAttributeID node_attrs[] = {
    CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW,
    CU_LAUNCH_ATTRIBUTE_COOPERATIVE,
    CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION,
    CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE,
    CU_LAUNCH_ATTRIBUTE_PRIORITY,
    CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP,
    CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN,
    CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION,
};
#define NODE_ATTRS (sizeof(node_attrs) / sizeof(node_attrs[0]))

static const char *kernel_attrs(struct srv_client *c, CUgraphNode node, struct srv_graph_node_desc *nd)
{
	static const CUkernelNodeAttrValue none;
	CUkernelNodeAttrValue v;
	uint32_t i;

	nd->attrs = calloc(NODE_ATTRS, sizeof(*nd->attrs));
	if (!nd->attrs)
		return "out of memory";
	for (i = 0; i < NODE_ATTRS; i++) {
		memset(&v, 0, sizeof(v));
		if (c->srv->drv->graph_kernel_node_get_attribute(node, node_attrs[i], &v) != CUDA_SUCCESS)
			continue; /* one this device or driver has not */
		if (!memcmp(&v, &none, sizeof(v)))
			continue;
		nd->attrs[nd->nattrs].id = node_attrs[i];
		nd->attrs[nd->nattrs++].value = v;
	}
	return NULL;
}

/* A kernel node's function (the client's handle), shape and arguments. */
static const char *kernel_of(struct srv_client *c, CUgraphNode node, struct srv_graph_node_desc *nd)
{
	struct omps_call_graph_node *m = &nd->rec;
	CUDA_KERNEL_NODE_PARAMS k;
	struct srv_function *f;
	uint32_t h;

	memset(&k, 0, sizeof(k));
	if (c->srv->drv->graph_kernel_node_get_params(node, &k) != CUDA_SUCCESS)
		return "a kernel node's parameters could not be read";
	h = function_handle(c, k.func);
	if (!h)
		return "a kernel node of a function it has no handle for";
	f = c->mod.functions[h - 1];
	nd->args = calloc(1, f->args_size + 1);
	if (!nd->args)
		return "out of memory";
	m->kind = OMPS_NODE_KERNEL;
	m->object = h;
	m->grid[0] = k.gridDimX, m->grid[1] = k.gridDimY, m->grid[2] = k.gridDimZ;
	m->block[0] = k.blockDimX, m->block[1] = k.blockDimY, m->block[2] = k.blockDimZ;
	m->shared_mem = k.sharedMemBytes;
	m->args_size = f->args_size;
	return kernel_args(f, &k, nd->args);
}

static const char *walk_kernel(struct srv_client *c, CUgraphNode node, struct srv_graph_node_desc *nd)
{
	const char *why = kernel_of(c, node, nd);

	if (nd->args)
		srv_memory_args_known(c, nd->args, nd->rec.args_size); /* as its launch named them */
	return why ? why : kernel_attrs(c, node, nd);
}

CUresult srv_graphdesc_kernel(struct srv_client *c, CUgraphNode node, struct srv_graph_node_desc *nd)
{
	const char *why = c->srv->drv->graph_kernel_node_get_params ? kernel_of(c, node, nd) : "no driver call";

	if (!why)
		return CUDA_SUCCESS;
	srv_refused(c, "cuGraphKernelNodeGetParams: %s", why);
	return CUDA_ERROR_NOT_SUPPORTED;
}

static const char *walk_memset(struct srv_client *c, CUgraphNode node, struct omps_call_graph_node *m)
{
	CUDA_MEMSET_NODE_PARAMS s;

	memset(&s, 0, sizeof(s));
	if (c->srv->drv->graph_memset_node_get_params(node, &s) != CUDA_SUCCESS)
		return "a memset node's parameters could not be read";
	m->kind = OMPS_NODE_MEMSET;
	m->dst = srv_memory_known(c, s.dst);
	m->value = s.value;
	m->elem = s.elementSize;
	m->width = s.width;
	m->height = s.height ? s.height : 1;
	m->dst_pitch = s.pitch ? s.pitch : s.width * s.elementSize;
	return NULL;
}

/* One side of a copy: an address of the client's device memory, or of
 * host memory it shares (*host), the offsets folded in. */
static const char *copy_side(struct srv_client *c, CUmemorytype type, CUdeviceptr dev, const void *hostp,
			     size_t x, size_t y, size_t z, size_t pitch, size_t rows, uint64_t *addr,
			     uint32_t *host)
{
	uint64_t off = (uint64_t)z * rows * pitch + (uint64_t)y * pitch + x;

	*host = type == CU_MEMORYTYPE_HOST;
	if (type == CU_MEMORYTYPE_ARRAY)
		return "a copy node of a CUDA array";
	*addr = *host ? (uint64_t)(uintptr_t)hostp + off : srv_memory_known(c, dev + off);
	if (*host || srv_memory_names(c, *addr, 1))
		return NULL;
	if (srv_host_device_ptr(c, *addr, 1) == *addr) /* shared host memory, named by its device address */
		return *host = 1, NULL;
	return "a copy node names memory not its own";
}

static const char *walk_memcpy(struct srv_client *c, CUgraphNode node, struct omps_call_graph_node *m)
{
	CUDA_MEMCPY3D p;
	const char *why;

	memset(&p, 0, sizeof(p));
	if (c->srv->drv->graph_memcpy_node_get_params(node, &p) != CUDA_SUCCESS)
		return "a copy node's parameters could not be read";
	m->kind = OMPS_NODE_MEMCPY;
	m->width = p.WidthInBytes;
	m->height = p.Height ? p.Height : 1;
	m->depth = p.Depth ? p.Depth : 1;
	m->src_pitch = p.srcPitch ? p.srcPitch : p.WidthInBytes;
	m->src_height = p.srcHeight ? p.srcHeight : m->height;
	m->dst_pitch = p.dstPitch ? p.dstPitch : p.WidthInBytes;
	m->dst_height = p.dstHeight ? p.dstHeight : m->height;
	why = copy_side(c, p.srcMemoryType, p.srcDevice, p.srcHost, p.srcXInBytes, p.srcY, p.srcZ,
			m->src_pitch, m->src_height, &m->src, &m->src_host);
	return why ? why
		   : copy_side(c, p.dstMemoryType, p.dstDevice, p.dstHost, p.dstXInBytes, p.dstY, p.dstZ,
			       m->dst_pitch, m->dst_height, &m->dst, &m->dst_host);
}

static const char *walk_event(struct srv_client *c, CUgraphNode node, int record,
			      struct omps_call_graph_node *m)
{
	const struct srv_driver *drv = c->srv->drv;
	CUevent e = NULL;
	CUresult r = record ? drv->graph_event_record_node_get_event(node, &e)
			    : drv->graph_event_wait_node_get_event(node, &e);

	m->kind = record ? OMPS_NODE_EVENT_RECORD : OMPS_NODE_EVENT_WAIT;
	m->object = r == CUDA_SUCCESS ? handle_of(c->events, c->nevents, e) : 0;
	return m->object ? NULL : "an event node of an event it has no handle for";
}

/* Graph memory: an allocation the graph frees too (the client's record of
 * it is only for its graphs), on its device, for it alone. */
static const char *walk_mem_alloc(struct srv_client *c, CUgraphNode node, struct omps_call_graph_node *m)
{
	CUDA_MEM_ALLOC_NODE_PARAMS p;
	int mine;

	memset(&p, 0, sizeof(p));
	if (!c->srv->drv->graph_mem_alloc_node_get_params ||
	    c->srv->drv->graph_mem_alloc_node_get_params(node, &p) != CUDA_SUCCESS)
		return "a graph memory node's parameters could not be read";
	if (p.poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE || p.accessDescCount ||
	    p.poolProps.allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
		return "it allocates graph memory of another kind than its device's";
	m->kind = OMPS_NODE_MEM_ALLOC;
	m->dst = srv_memory_known(c, p.dptr);
	m->width = p.bytesize;
	mine = srv_memory_graph_alloc(c, m->dst, m->width);
	return mine > 0 ? NULL : mine < 0 ? "it allocates graph memory it does not free in the graph"
					  : "it has a graph memory node of memory not its own";
}

static const char *walk_mem_free(struct srv_client *c, CUgraphNode node, struct omps_call_graph_node *m)
{
	CUdeviceptr d = 0;

	if (!c->srv->drv->graph_mem_free_node_get_params ||
	    c->srv->drv->graph_mem_free_node_get_params(node, &d) != CUDA_SUCCESS)
		return "a graph memory node's parameters could not be read";
	m->kind = OMPS_NODE_MEM_FREE;
	m->dst = srv_memory_known(c, d);
	return NULL;
}

static const char *kind_not_kept(CUgraphNodeType t)
{
	switch (t) {
	case CU_GRAPH_NODE_TYPE_HOST:
		return "it has a host function node";
	case CU_GRAPH_NODE_TYPE_GRAPH:
		return "it has a child graph node";
	case CU_GRAPH_NODE_TYPE_CONDITIONAL:
		return "it has a conditional node";
	case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP:
		return "it has a stream memory operation node";
	default:
		return "it has a node of a kind not made again";
	}
}

static struct srv_graph_desc *walk_graph(struct srv_client *c, CUgraph g, unsigned depth,
					 struct srv_graph_node_index **index);

/* The graph slot of a host function's graph as srv_hostfn_graph makes it
 * (a captured host function is a child graph node of one): its first
 * node writes 1 to the slot's state word. -1: not such a graph. */
static int hostfn_slot(struct srv_client *c, CUgraph g)
{
	const struct srv_driver *drv = c->srv->drv;
	CUDA_BATCH_MEM_OP_NODE_PARAMS p;
	CUgraphNodeType t;
	CUgraphNode first;
	size_t n = 1;

	memset(&p, 0, sizeof(p));
	if (!drv->graph_batch_mem_op_node_get_params || drv->graph_get_nodes(g, &first, &n) != CUDA_SUCCESS ||
	    n < 1 || drv->graph_node_get_type(first, &t) != CUDA_SUCCESS || t != CU_GRAPH_NODE_TYPE_BATCH_MEM_OP ||
	    drv->graph_batch_mem_op_node_get_params(first, &p) != CUDA_SUCCESS || p.count != 1 || !p.paramArray ||
	    p.paramArray[0].operation != CU_STREAM_MEM_OP_WRITE_VALUE_32 || p.paramArray[0].writeValue.value != 1)
		return -1;
	return srv_hostfn_graph_slot(c, p.paramArray[0].writeValue.address);
}

static const char *walk_child(struct srv_client *c, CUgraphNode node, unsigned depth,
			      struct srv_graph_node_desc *nd)
{
	CUgraph g = NULL;
	int slot;

	nd->rec.kind = OMPS_NODE_CHILD;
	if (depth >= DEPTH_MAX)
		return "its child graphs nest too deep";
	if (c->srv->drv->graph_child_graph_node_get_graph(node, &g) != CUDA_SUCCESS)
		return "a child graph node's graph could not be read";
	if ((slot = hostfn_slot(c, g)) >= 0) { /* a captured host function: made again as a host node */
		nd->rec.kind = OMPS_NODE_HOST;
		nd->rec.object = (uint32_t)slot;
		return NULL;
	}
	nd->child = walk_graph(c, g, depth + 1, NULL);
	return !nd->child ? "out of memory" : nd->child->why;
}

static const char *walk_node(struct srv_client *c, CUgraphNode node, unsigned depth,
			     struct srv_graph_node_desc *nd)
{
	CUgraphNodeType t;

	nd->node = node;
	if (c->srv->drv->graph_node_get_type(node, &t) != CUDA_SUCCESS)
		return "a node's kind could not be read";
	switch (t) {
	case CU_GRAPH_NODE_TYPE_EMPTY:
		nd->rec.kind = OMPS_NODE_EMPTY;
		return NULL;
	case CU_GRAPH_NODE_TYPE_KERNEL:
		return walk_kernel(c, node, nd);
	case CU_GRAPH_NODE_TYPE_MEMSET:
		return walk_memset(c, node, &nd->rec);
	case CU_GRAPH_NODE_TYPE_MEMCPY:
		return walk_memcpy(c, node, &nd->rec);
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		return walk_event(c, node, t == CU_GRAPH_NODE_TYPE_EVENT_RECORD, &nd->rec);
	case CU_GRAPH_NODE_TYPE_GRAPH:
		return walk_child(c, node, depth, nd);
	case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
		return walk_mem_alloc(c, node, &nd->rec);
	case CU_GRAPH_NODE_TYPE_MEM_FREE:
		return walk_mem_free(c, node, &nd->rec);
	default:
		return kind_not_kept(t);
	}
}

static const char *walk_edges(struct srv_client *c, CUgraph g, struct srv_graph_desc *d,
			      const struct srv_graph_node_index *x)
{
	const struct srv_driver *drv = c->srv->drv;
	CUgraphNode *from = NULL, *to = NULL;
	CUgraphEdgeData *data = NULL;
	const char *why = NULL;
	size_t n = 0, i;

	if (drv->graph_get_edges(g, NULL, NULL, NULL, &n) != CUDA_SUCCESS)
		return "its edges could not be read";
	if (!n)
		return NULL;
	from = calloc(n, sizeof(*from));
	to = calloc(n, sizeof(*to));
	data = calloc(n, sizeof(*data));
	d->edges = calloc(n, sizeof(*d->edges));
	if (!from || !to || !data || !d->edges)
		why = "out of memory";
	else if (drv->graph_get_edges(g, from, to, data, &n) != CUDA_SUCCESS)
		why = "its edges could not be read";
	for (i = 0; !why && i < n; i++) {
		d->edges[i][0] = place_of(x, d->n, from[i]);
		d->edges[i][1] = place_of(x, d->n, to[i]);
		if (data[i].type || data[i].from_port || data[i].to_port)
			why = "it has an edge with data (a programmatic launch)";
		else if (d->edges[i][0] == UINT32_MAX || d->edges[i][1] == UINT32_MAX)
			why = "its edges name a node it does not have";
	}
	d->nedges = why ? 0 : (uint32_t)n;
	d->ecap = (uint32_t)n;
	free(from);
	free(to);
	free(data);
	return why;
}

static int walkable(const struct srv_driver *drv)
{
	return drv->graph_get_edges && drv->graph_node_get_type && drv->graph_kernel_node_get_params &&
	       drv->graph_memset_node_get_params && drv->graph_memcpy_node_get_params &&
	       drv->graph_event_record_node_get_event && drv->graph_event_wait_node_get_event &&
	       drv->graph_child_graph_node_get_graph && drv->graph_kernel_node_get_attribute &&
	       drv->graph_kernel_node_set_attribute && drv->graph_create && drv->graph_add_node &&
	       drv->graph_add_dependencies;
}

/* Its node handles of graph `graph` (walked as d) placed in d. */
static void place_nodes(struct srv_client *c, uint32_t graph, const struct srv_graph_desc *d,
			const struct srv_graph_node_index *x)
{
	for (uint32_t i = 0; i < c->graph.nnodes; i++)
		if (c->graph.nodes[i].obj && c->graph.nodes[i].owner == graph)
			c->graph.nodes[i].place = x ? place_of(x, d->n, c->graph.nodes[i].obj) : UINT32_MAX;
}

/* g written down (NULL: out of memory), *index (if asked) its nodes by
 * handle; its device's context is current. */
static struct srv_graph_desc *walk_graph(struct srv_client *c, CUgraph g, unsigned depth,
					 struct srv_graph_node_index **index)
{
	const struct srv_driver *drv = c->srv->drv;
	struct srv_graph_desc *d = empty();
	struct srv_graph_node_index *x = NULL;
	CUgraphNode *nodes = NULL;
	size_t n = 0, i;

	if (!d)
		return NULL;
	if (!walkable(drv)) {
		d->why = "the driver cannot describe graphs";
		return d;
	}
	if (drv->graph_get_nodes(g, NULL, &n) != CUDA_SUCCESS || n > UINT32_MAX - 1) {
		d->why = "its nodes could not be read";
		return d;
	}
	nodes = calloc(n + 1, sizeof(*nodes));
	d->nodes = calloc(n + 1, sizeof(*d->nodes));
	if (!nodes || !d->nodes || drv->graph_get_nodes(g, nodes, &n) != CUDA_SUCCESS) {
		d->why = "its nodes could not be read";
		free(nodes);
		return d;
	}
	d->n = d->ncap = (uint32_t)n;
	for (i = 0; i < n && !d->why; i++)
		d->why = walk_node(c, nodes[i], depth, &d->nodes[i]);
	free(nodes);
	if (!d->why && !(x = index_nodes(d)))
		d->why = "out of memory";
	if (!d->why)
		d->why = walk_edges(c, g, d, x);
	if (index)
		*index = x;
	else
		free(x);
	return d;
}

static void repoint(struct srv_client *c, uint32_t graph);

struct srv_graph_desc *srv_graphdesc_of(struct srv_client *c, uint32_t graph)
{
	struct srv_object *g = &c->graph.graphs[graph - 1];
	struct srv_graph_node_index *x = NULL;

	if (g->desc || srv_use_device(c, g->dev, NULL) != CUDA_SUCCESS)
		return g->desc;
	g->desc = walk_graph(c, g->obj, 0, &x);
	if (g->desc)
		place_nodes(c, graph, g->desc, x);
	if (g->desc && g->conds && !g->desc->why) /* the driver cannot list them */
		g->desc->why = "its conditional handles are not written down";
	free(x);
	repoint(c, graph);
	return g->desc;
}

/* *d, its holder's own to change: copied first if shared (NULL, let go, if
 * that runs out of memory). */
static struct srv_graph_desc *unshared(struct srv_graph_desc **d)
{
	struct srv_graph_desc *k;

	if (*d && (*d)->refs > 1) {
		k = copy(*d);
		srv_graphdesc_put(*d);
		*d = k;
	}
	return *d;
}

/* Graph `graph`'s description, its own to change (copied if an
 * executable graph shares it); NULL when there is nothing to write: it had
 * none, and the walk made now has the change already (or no memory). */
static struct srv_graph_desc *edit(struct srv_client *c, uint32_t graph)
{
	struct srv_object *g = &c->graph.graphs[graph - 1];
	struct srv_graph_desc *d = g->desc;

	if (!d) {
		srv_graphdesc_of(c, graph);
		return NULL;
	}
	if (unshared(&g->desc) != d) /* a body's is shared with its node, always: copied at each change */
		repoint(c, graph);
	return g->desc;
}

/* Where body graph g sits in pd, its conditional node's graph's
 * description: that node's body slot; NULL if pd does not have it. */
static struct srv_graph_body *body_of(const struct srv_client *c, const struct srv_object *g,
				      const struct srv_graph_desc *pd)
{
	const struct srv_object *n;
	struct srv_graph_node_desc *nd;

	if (!pd || !g->cond_node || g->cond_node > c->graph.nnodes)
		return NULL;
	n = &c->graph.nodes[g->cond_node - 1];
	nd = n->obj && n->place < pd->n ? &pd->nodes[n->place] : NULL;
	return nd && nd->node == n->obj && nd->bodies && g->body < nd->rec.cond_size ? &nd->bodies[g->body] : NULL;
}

/* A conditional node's body graph `graph` has a new description: the
 * node's graph holds that one from now on (its own description, copied
 * first if an executable graph shares it, keeps the old one there). A
 * body with none (out of memory) costs its node's graph its keeping. */
static void repoint(struct srv_client *c, uint32_t graph)
{
	struct srv_object *g = &c->graph.graphs[graph - 1];
	struct srv_graph_body *b;
	struct srv_graph_desc *pd;

	if (!g->cond_node || !g->owner || g->owner > c->graph.ngraphs)
		return;
	pd = edit(c, g->owner);
	if (!pd)
		return; /* walked: a conditional node says why */
	b = body_of(c, g, pd);
	if (!b || !g->desc) {
		pd->why = pd->why ? pd->why : "a conditional node's body is not written down";
		return;
	}
	if (b->desc == g->desc)
		return;
	srv_graphdesc_put(b->desc);
	b->desc = g->desc;
	b->desc->refs++;
}

/* A change not written down: walked again later. */
static void changed(struct srv_client *c, uint32_t graph)
{
	srv_graphdesc_changed(&c->graph.graphs[graph - 1]);
	repoint(c, graph);
}

void srv_graphdesc_bodies(struct srv_client *c, uint32_t graph, uint32_t node, const uint32_t *bodies, uint32_t n)
{
	const struct srv_object *p = &c->graph.graphs[graph - 1], *nn = &c->graph.nodes[node - 1];
	struct srv_graph_node_desc *nd = NULL;
	struct srv_graph_desc *d;
	uint32_t k;

	for (k = 0; k < n; k++) {
		struct srv_object *b = &c->graph.graphs[bodies[k] - 1];

		b->cond_node = node;
		b->body = k;
		srv_graphdesc_created(b);
	}
	if (!(d = p->desc))
		return; /* walked when the node was added: a conditional node says why */
	if (nn->place < d->n && d->nodes[nn->place].node == nn->obj && !d->nodes[nn->place].bodies &&
	    d->nodes[nn->place].rec.kind == OMPS_NODE_CONDITIONAL && d->nodes[nn->place].rec.cond_size == n)
		nd = &d->nodes[nn->place];
	if (!nd || !(nd->bodies = calloc(n, sizeof(*nd->bodies)))) {
		d->why = d->why ? d->why : "a conditional node's bodies are not written down";
		return;
	}
	for (k = 0; k < n; k++) {
		nd->bodies[k].desc = c->graph.graphs[bodies[k] - 1].desc;
		if (nd->bodies[k].desc)
			nd->bodies[k].desc->refs++;
		else
			d->why = d->why ? d->why : "a conditional node's bodies are not written down";
	}
	if (p->cond_node && !d->why)
		d->why = "it has a conditional node in a conditional node's body";
}

void srv_graphdesc_cond(struct srv_client *c, uint32_t graph, uint32_t default_value, uint32_t flags,
			uint64_t value)
{
	struct srv_object *g = &c->graph.graphs[graph - 1];
	struct srv_graph_cond *t;
	struct srv_graph_desc *d;

	g->conds++;
	if (!(d = edit(c, graph)))
		return; /* walked: g->conds says why */
	if (g->cond_node) {
		d->why = d->why ? d->why : "it made a conditional handle for a conditional node's body";
		return;
	}
	if (!(t = realloc(d->conds, (d->nconds + 1) * sizeof(*t)))) {
		changed(c, graph); /* walked again later: g->conds says why */
		return;
	}
	d->conds = t;
	d->conds[d->nconds++] = (struct srv_graph_cond){value, default_value, flags};
}

/* m's node in d, at place: the record, its arguments copied; a child
 * graph node's graph as it is now (a reference to its description). */
static int put_node(struct srv_client *c, struct srv_graph_desc *d, uint32_t place,
		    const struct omps_call_graph_node *m, const unsigned char *args, CUgraphNode node)
{
	struct srv_graph_node_desc *nd = &d->nodes[place];
	struct srv_graph_desc *child = NULL;
	unsigned char *a = m->args_size ? malloc(m->args_size) : NULL;

	if (m->kind == OMPS_NODE_CHILD && m->object && m->object <= c->graph.ngraphs)
		child = srv_graphdesc_of(c, m->object);
	if ((m->args_size && !a) || (m->kind == OMPS_NODE_CHILD && !child)) {
		free(a);
		return -1;
	}
	if (a)
		memcpy(a, args, m->args_size);
	if (child)
		child->refs++;
	if (place < d->n)
		node_put(nd);
	nd->nattrs = 0; /* a record's node has none but what its record says */
	nd->attrs = NULL;
	nd->rec = *m;
	nd->rec.graph = nd->rec.ndeps = nd->rec.node = nd->rec.exec = 0;
	nd->rec.object = m->kind == OMPS_NODE_CHILD ? 0 : m->object; /* the child: its description */
	nd->args = a;
	nd->node = node;
	nd->child = child;
	nd->bodies = NULL; /* a conditional node's: srv_graphdesc_bodies, next */
	d->why = d->why ? d->why : child ? child->why : NULL;
	return 0;
}

void srv_graphdesc_added(struct srv_client *c, uint32_t graph, const struct omps_call_graph_node *m,
			 const unsigned char *args, uint32_t handle, const uint32_t *deps)
{
	struct srv_object *n = &c->graph.nodes[handle - 1];
	struct srv_graph_desc *d = edit(c, graph);
	uint32_t i;

	if (!d)
		return;
	if (grow(d, m->ndeps) < 0 || put_node(c, d, d->n, m, args, n->obj) < 0) {
		changed(c, graph); /* walked again later */
		return;
	}
	n->place = d->n++;
	for (i = 0; i < m->ndeps; i++) {
		d->edges[d->nedges][0] = c->graph.nodes[deps[i] - 1].place;
		d->edges[d->nedges++][1] = n->place;
	}
}

void srv_graphdesc_linked(struct srv_client *c, uint32_t graph, const uint32_t *from, const uint32_t *to,
			  uint32_t count)
{
	struct srv_graph_desc *d = edit(c, graph);
	uint32_t i;

	if (!d)
		return;
	if (grow(d, count) < 0) {
		changed(c, graph);
		return;
	}
	for (i = 0; i < count; i++) {
		d->edges[d->nedges][0] = c->graph.nodes[from[i] - 1].place;
		d->edges[d->nedges++][1] = c->graph.nodes[to[i] - 1].place;
	}
}

void srv_graphdesc_set(struct srv_client *c, uint32_t graph, uint32_t handle,
		       const struct omps_call_graph_node *m, const unsigned char *args)
{
	const struct srv_object *n = &c->graph.nodes[handle - 1];
	struct srv_graph_desc *d = edit(c, graph);

	if (d && (n->place >= d->n || put_node(c, d, n->place, m, args, n->obj) < 0))
		changed(c, graph);
}

void srv_graphdesc_exec_set(struct srv_client *c, struct srv_object *e, const struct srv_object *n,
			    const struct omps_call_graph_node *m, const unsigned char *args)
{
	struct srv_graph_desc *d = unshared(&e->desc); /* shared with its graph: its own from now on */

	if (d && (n->place >= d->n || d->nodes[n->place].node != n->obj || put_node(c, d, n->place, m, args, n->obj) < 0)) {
		srv_graphdesc_put(d); /* not written down: lost at a fault */
		e->desc = NULL;
	}
}

/* Why an executable graph with a node turned off is not made again: which
 * of its nodes are off is not written down (a successor would run them). */
static const char disabled[] = "a node of it was turned off (cuGraphNodeSetEnabled), which is not written down";

void srv_graphdesc_placed(struct srv_client *c, uint32_t graph)
{
	const struct srv_graph_desc *d = c->graph.graphs[graph - 1].desc;
	struct srv_graph_node_index *x;

	if (!d)
		return; /* placed as it is walked */
	x = index_nodes(d);
	place_nodes(c, graph, d, x); /* without memory: none placed, and the client not kept at a fault */
	free(x);
}

/* Its parameters are graph's now, node for node: graph's description is
 * its own too, as at an instantiation. Its owner stays the graph it was
 * made from, whose nodes still name its nodes: a successor makes it from
 * that graph if it is the one updated from, else from the description
 * (exec_from), and refuses then a set of its nodes, as after any change of
 * shape. */
void srv_graphdesc_exec_update(struct srv_client *c, struct srv_object *e, uint32_t graph)
{
	struct srv_graph_desc *d = srv_graphdesc_of(c, graph);
	int off = e->desc && e->desc->why == disabled; /* its nodes stay off */

	if (d)
		d->refs++;
	srv_graphdesc_put(e->desc); /* NULL (none written down): lost at a fault */
	e->desc = d;
	if (off)
		srv_graphdesc_exec_disabled(e);
}

void srv_graphdesc_exec_disabled(struct srv_object *e)
{
	struct srv_graph_desc *d = unshared(&e->desc); /* shared with its graph: its own from now on */

	if (d)
		d->why = disabled;
}

void srv_graphdesc_cloned(struct srv_client *c, uint32_t from, uint32_t clone)
{
	const struct srv_graph_desc *d = c->graph.graphs[from - 1].desc;
	struct srv_graph_desc *k = d ? copy(d) : NULL;

	for (uint32_t i = 0; k && i < k->n; i++)
		k->nodes[i].node =
		    NULL; /* the clone's are the driver's: no handle of the client's names them */
	c->graph.graphs[clone - 1].desc = k;
	c->graph.graphs[clone - 1].conds = c->graph.graphs[from - 1].conds; /* a walk of it cannot list them */
}

void srv_graphdesc_take(struct srv_client *c)
{
	for (uint32_t i = 0; i < c->graph.ngraphs; i++)
		if (c->graph.graphs[i].obj && !c->graph.graphs[i].desc)
			srv_graphdesc_of(c, i + 1);
}

/* Whether each of its node handles is in its graph's description. */
static int nodes_found(const struct srv_client *c)
{
	for (uint32_t i = 0; i < c->graph.nnodes; i++) {
		const struct srv_object *n = &c->graph.nodes[i];
		const struct srv_graph_desc *d;

		if (!n->obj)
			continue;
		d = n->owner && n->owner <= c->graph.ngraphs ? c->graph.graphs[n->owner - 1].desc : NULL;
		if (!d || n->place >= d->n || d->nodes[n->place].node != n->obj)
			return 0;
	}
	return 1;
}

/* Whether d's conditional nodes have their bodies written down, each one
 * that can be made again, and its child graphs too. */
static int complete(const struct srv_graph_desc *d, unsigned depth)
{
	if (depth > DEPTH_MAX)
		return 0;
	for (uint32_t i = 0; i < d->n; i++) {
		const struct srv_graph_node_desc *nd = &d->nodes[i];

		if (nd->rec.kind == OMPS_NODE_CHILD && (!nd->child || !complete(nd->child, depth + 1)))
			return 0;
		if (nd->rec.kind != OMPS_NODE_CONDITIONAL)
			continue;
		if (!nd->bodies)
			return 0;
		for (uint32_t k = 0; k < nd->rec.cond_size; k++)
			if (!nd->bodies[k].desc || nd->bodies[k].desc->why || !complete(nd->bodies[k].desc, depth + 1))
				return 0;
	}
	return 1;
}

/* Whether body graph g is the one its conditional node's graph holds. */
static int body_bound(const struct srv_client *c, const struct srv_object *g)
{
	const struct srv_graph_body *b;

	if (!g->owner || g->owner > c->graph.ngraphs)
		return 0;
	b = body_of(c, g, c->graph.graphs[g->owner - 1].desc);
	return b && b->desc == g->desc;
}

/* Why a graph of table t (what) cannot be made again, written into buf;
 * NULL if each can. unwritten: what a missing description means. */
static const char *lost_in(const struct srv_object *t, uint32_t n, const char *what, const char *unwritten,
			   char *buf, size_t len)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!t[i].obj || (t[i].desc && !t[i].desc->why && complete(t[i].desc, 0)))
			continue;
		if (!t[i].desc)
			snprintf(buf, len, "its %s %u %s", what, i + 1, unwritten);
		else
			snprintf(buf, len, "its %s %u cannot be made again: %s", what, i + 1,
				 t[i].desc->why ? t[i].desc->why : "a conditional node's body cannot");
		return buf;
	}
	return NULL;
}

const char *srv_graphdesc_unkeepable(struct srv_client *c, char *buf, size_t len)
{
	const char *why;

	if ((why = srv_capture_unkeepable(c)))
		return why;
	if ((why = lost_in(c->graph.graphs, c->graph.ngraphs, "graph",
			   "changed since its worker last parked (not written down yet)", buf, len)) ||
	    (why = lost_in(c->graph.execs, c->graph.nexecs, "executable graph",
			   "had parameters set (a node's, or a graph's by an update) that could not be written down",
			   buf, len)))
		return why;
	for (uint32_t i = 0; i < c->graph.ngraphs; i++)
		if (c->graph.graphs[i].obj && c->graph.graphs[i].cond_node && !body_bound(c, &c->graph.graphs[i])) {
			snprintf(buf, len, "its graph %u, a conditional node's body, is not as the node's graph holds it",
				 i + 1);
			return buf;
		}
	return nodes_found(c) ? NULL : "a node it holds is not in its graph as written down";
}

static void save_desc(const struct srv_graph_desc *d, struct srv_pack *p)
{
	uint32_t i;

	PUT(p, d->nconds);
	srv_pack_put(p, d->conds, d->nconds * sizeof(*d->conds));
	PUT(p, d->n);
	for (i = 0; i < d->n; i++) {
		PUT(p, d->nodes[i].rec);
		srv_pack_put(p, d->nodes[i].args, d->nodes[i].args ? d->nodes[i].rec.args_size : 0);
		PUT(p, d->nodes[i].nattrs);
		srv_pack_put(p, d->nodes[i].attrs, d->nodes[i].nattrs * sizeof(*d->nodes[i].attrs));
		if (d->nodes[i].rec.kind == OMPS_NODE_CHILD)
			save_desc(d->nodes[i].child, p);
		for (uint32_t k = 0; d->nodes[i].rec.kind == OMPS_NODE_CONDITIONAL && k < d->nodes[i].rec.cond_size; k++)
			save_desc(d->nodes[i].bodies[k].desc, p); /* complete() checked them */
	}
	PUT(p, d->nedges);
	srv_pack_put(p, d->edges, (size_t)d->nedges * sizeof(*d->edges));
}

/* Whether executable graph e's description is its graph g's but for the
 * parameters of some nodes (set on g, or on e, since e was made): the same
 * driver nodes, the same edges, the same child graphs. A successor then
 * makes e from g and sets those nodes' parameters on it, so that the
 * client's node handles name e's nodes, as they did. */
static int same_bodies(const struct srv_graph_node_desc *a, const struct srv_graph_node_desc *b)
{
	if (a->rec.kind != OMPS_NODE_CONDITIONAL)
		return 1;
	for (uint32_t k = 0; k < a->rec.cond_size; k++)
		if (!a->bodies || !b->bodies || a->bodies[k].desc != b->bodies[k].desc)
			return 0;
	return 1;
}

static int same_shape(const struct srv_graph_desc *g, const struct srv_graph_desc *e)
{
	if (!g || !e || g->n != e->n || g->nedges != e->nedges ||
	    (e->nedges && memcmp(g->edges, e->edges, e->nedges * sizeof(*e->edges))))
		return 0;
	for (uint32_t i = 0; i < e->n; i++)
		if (g->nodes[i].node != e->nodes[i].node || g->nodes[i].rec.kind != e->nodes[i].rec.kind ||
		    g->nodes[i].child != e->nodes[i].child || !same_bodies(&g->nodes[i], &e->nodes[i]))
			return 0;
	return 1;
}

/* How an executable graph is made again: from its graph as it is, from
 * its graph with its own nodes' parameters set, or from its own description
 * (its node handles then name nothing of it). */
enum exec_from { EXEC_FROM_GRAPH = 1, EXEC_FROM_GRAPH_SET, EXEC_FROM_OWN };

static enum exec_from exec_from(const struct srv_client *c, const struct srv_object *e)
{
	const struct srv_object *g = e->owner && e->owner <= c->graph.ngraphs ? &c->graph.graphs[e->owner - 1] : NULL;

	if (!g || !g->obj)
		return EXEC_FROM_OWN;
	if (g->desc == e->desc)
		return EXEC_FROM_GRAPH;
	return same_shape(g->desc, e->desc) ? EXEC_FROM_GRAPH_SET : EXEC_FROM_OWN;
}

void srv_graphdesc_save(struct srv_client *c, struct srv_pack *p)
{
	uint32_t i, zero = 0, one = 1, body = 2, idx;

	PUT(p, c->graph.ngraphs);
	for (i = 0; i < c->graph.ngraphs; i++) {
		const struct srv_object *g = &c->graph.graphs[i];

		if (!g->obj) {
			PUT(p, zero);
			continue;
		}
		if (g->cond_node) { /* made with its node: which one (body_bound checked it) */
			PUT(p, body);
			PUT(p, g->dev);
			PUT(p, g->owner);
			PUT(p, g->cond_node);
			PUT(p, c->graph.nodes[g->cond_node - 1].place);
			PUT(p, g->body);
			continue;
		}
		PUT(p, one);
		PUT(p, g->dev);
		save_desc(g->desc, p);
	}
	PUT(p, c->graph.nexecs);
	for (i = 0; i < c->graph.nexecs; i++) {
		const struct srv_object *e = &c->graph.execs[i];
		uint32_t from;

		if (!e->obj) {
			PUT(p, zero);
			continue;
		}
		from = exec_from(c, e);
		PUT(p, one);
		PUT(p, e->dev);
		PUT(p, e->owner);
		PUT(p, e->flags);
		PUT(p, from);
		if (from != EXEC_FROM_GRAPH)
			save_desc(e->desc, p);
	}
	PUT(p, c->graph.nnodes);
	for (i = 0; i < c->graph.nnodes; i++) {
		const struct srv_object *n = &c->graph.nodes[i];

		idx = n->obj ? n->place : UINT32_MAX; /* nodes_found checked it */
		PUT(p, n->owner);
		PUT(p, idx);
	}
}

/* What save_desc wrote; NULL if cut short or out of memory. */
static struct srv_graph_desc *read_desc(struct srv_unpack *u, unsigned depth)
{
	struct srv_graph_desc *d = empty();
	uint32_t i;

	if (!d)
		return NULL;
	if (GET(u, d->nconds) < 0 || d->nconds > u->len || !(d->conds = calloc(d->nconds + 1, sizeof(*d->conds))) ||
	    srv_unpack_get(u, d->conds, d->nconds * sizeof(*d->conds)) < 0)
		goto fail;
	if (GET(u, d->n) < 0 || d->n > u->len || !(d->nodes = calloc(d->n + 1, sizeof(*d->nodes))))
		goto fail;
	d->ncap = d->n + 1;
	for (i = 0; i < d->n; i++) {
		struct srv_graph_node_desc *nd = &d->nodes[i];

		if (GET(u, nd->rec) < 0 || nd->rec.args_size > OMPS_GRAPH_ARGS_MAX ||
		    !(nd->args = malloc(nd->rec.args_size + 1)) ||
		    srv_unpack_get(u, nd->args, nd->rec.args_size) < 0 || GET(u, nd->nattrs) < 0 ||
		    nd->nattrs > NODE_ATTRS || !(nd->attrs = calloc(nd->nattrs + 1, sizeof(*nd->attrs))) ||
		    srv_unpack_get(u, nd->attrs, nd->nattrs * sizeof(*nd->attrs)) < 0)
			goto fail;
		if (nd->rec.kind == OMPS_NODE_CHILD &&
		    (depth >= DEPTH_MAX || !(nd->child = read_desc(u, depth + 1))))
			goto fail;
		if (nd->rec.kind == OMPS_NODE_CONDITIONAL &&
		    (depth >= DEPTH_MAX || !nd->rec.cond_size || nd->rec.cond_size > OMPS_MAX_COND_BODIES ||
		     !(nd->bodies = calloc(nd->rec.cond_size, sizeof(*nd->bodies)))))
			goto fail;
		for (uint32_t k = 0; nd->rec.kind == OMPS_NODE_CONDITIONAL && k < nd->rec.cond_size; k++)
			if (!(nd->bodies[k].desc = read_desc(u, depth + 1)))
				goto fail;
	}
	if (GET(u, d->nedges) < 0 || d->nedges > u->len ||
	    !(d->edges = calloc(d->nedges + 1, sizeof(*d->edges))) ||
	    srv_unpack_get(u, d->edges, (size_t)d->nedges * sizeof(*d->edges)) < 0)
		goto fail;
	d->ecap = d->nedges + 1;
	for (i = 0; i < d->nedges; i++)
		if (d->edges[i][0] >= d->n || d->edges[i][1] >= d->n)
			goto fail;
	return d;
fail:
	u->failed = 1;
	d->n = d->nodes ? d->n : 0;
	srv_graphdesc_put(d);
	return NULL;
}

static CUresult build(struct srv_client *c, struct srv_graph_desc *d, int dev, CUgraph *out);
static CUresult fill(struct srv_client *c, struct srv_graph_desc *d, int dev, CUgraph g);

/* A child graph node holds a copy of its graph: made, added, let go. */
static CUresult build_node(struct srv_client *c, struct srv_graph_node_desc *nd, int dev, CUgraph g)
{
	const struct srv_driver *drv = c->srv->drv;
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};
	size_t args_size = 0;
	void *extra[5];
	CUresult r;

	if (nd->rec.kind != OMPS_NODE_CHILD) {
		r = srv_graphbuild_params(c, &nd->rec, dev, nd->args, &args_size, extra, &p);
		if (r == CUDA_SUCCESS)
			r = drv->graph_add_node(&nd->node, g, NULL, NULL, 0, &p);
		for (uint32_t k = 0; r == CUDA_SUCCESS && nd->rec.kind == OMPS_NODE_CONDITIONAL && k < nd->rec.cond_size;
		     k++) {
			nd->bodies[k].made = p.conditional.phGraph_out[k];
			r = fill(c, nd->bodies[k].desc, dev, nd->bodies[k].made);
		}
		if (r == CUDA_SUCCESS && nd->rec.kind == OMPS_NODE_MEM_ALLOC &&
		    srv_memory_graph_placed(c, nd->rec.dst, p.alloc.dptr) < 0)
			r = CUDA_ERROR_INVALID_VALUE; /* two of its graphs made again hold it */
		if (nd->rec.kind == OMPS_NODE_HOST && p.type == CU_GRAPH_NODE_TYPE_GRAPH && p.graph.graph)
			drv->graph_destroy(p.graph.graph); /* the node holds a copy */
		for (uint32_t i = 0; i < nd->nattrs && r == CUDA_SUCCESS; i++)
			r = drv->graph_kernel_node_set_attribute(nd->node, nd->attrs[i].id,
								 &nd->attrs[i].value);
		return r;
	}
	r = build(c, nd->child, dev, &p.graph.graph);
	if (r == CUDA_SUCCESS) {
		r = drv->graph_add_node(&nd->node, g, NULL, NULL, 0, &p);
		drv->graph_destroy(p.graph.graph);
	}
	return r;
}

/* d's conditional handles made again for g, in order: each must have
 * the value it had, which the client's kernels may hold. */
static CUresult make_conds(struct srv_client *c, const struct srv_graph_desc *d, int dev, CUgraph g)
{
	const struct srv_driver *drv = c->srv->drv;
	CUgraphConditionalHandle h = 0;
	CUresult r = CUDA_SUCCESS;

	for (uint32_t i = 0; i < d->nconds && r == CUDA_SUCCESS; i++) {
		r = drv->graph_conditional_handle_create
			? drv->graph_conditional_handle_create(&h, g, c->srv->ctx[dev], d->conds[i].default_value,
							       d->conds[i].flags)
			: CUDA_ERROR_NOT_SUPPORTED;
		if (r == CUDA_SUCCESS && h != d->conds[i].value) {
			omps_log("Client process %d: a conditional handle of its graph came out as 0x%llx, not 0x%llx",
				 (int)c->pid, (unsigned long long)h, (unsigned long long)d->conds[i].value);
			r = CUDA_ERROR_INVALID_VALUE;
		}
	}
	return r;
}

/* d made again as a graph of the current context (fill). */
static CUresult build(struct srv_client *c, struct srv_graph_desc *d, int dev, CUgraph *out)
{
	const struct srv_driver *drv = c->srv->drv;
	CUgraph g = NULL;
	CUresult r = walkable(drv) ? drv->graph_create(&g, 0) : CUDA_ERROR_NOT_SUPPORTED;

	if (r == CUDA_SUCCESS)
		r = fill(c, d, dev, g);
	if (r != CUDA_SUCCESS && g)
		drv->graph_destroy(g);
	*out = r == CUDA_SUCCESS ? g : NULL;
	return r;
}

/* d made again in the empty graph g, its nodes' handles written into it:
 * the client's memory, functions and events as its calls would name them
 * (graphbuild.c checks them so); a conditional node's bodies into the
 * graphs the driver made with it. */
static CUresult fill(struct srv_client *c, struct srv_graph_desc *d, int dev, CUgraph g)
{
	const struct srv_driver *drv = c->srv->drv;
	CUgraphNode *from = NULL, *to = NULL;
	uint32_t i;
	CUresult r = make_conds(c, d, dev, g);

	/* Its graph memory first: the other nodes name it where it is now. */
	for (i = 0; i < d->n && r == CUDA_SUCCESS; i++)
		if (d->nodes[i].rec.kind == OMPS_NODE_MEM_ALLOC)
			r = build_node(c, &d->nodes[i], dev, g);
	for (i = 0; i < d->n && r == CUDA_SUCCESS; i++)
		if (d->nodes[i].rec.kind != OMPS_NODE_MEM_ALLOC)
			r = build_node(c, &d->nodes[i], dev, g);
	if (r == CUDA_SUCCESS && d->nedges) {
		from = calloc(d->nedges, sizeof(*from));
		to = calloc(d->nedges, sizeof(*to));
		r = from && to ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
		for (i = 0; i < d->nedges && r == CUDA_SUCCESS; i++) {
			from[i] = d->nodes[d->edges[i][0]].node;
			to[i] = d->nodes[d->edges[i][1]].node;
		}
		if (r == CUDA_SUCCESS)
			r = drv->graph_add_dependencies(g, from, to, NULL, d->nedges);
	}
	free(from);
	free(to);
	return r;
}

/* One graph slot of the record: made again unless why is set already. */
static const char *restore_graph(struct srv_client *c, struct srv_unpack *u, struct srv_object *g,
				 const char *why)
{
	uint32_t live = 0;
	CUgraph obj;

	if (GET(u, live) < 0 || !live)
		return why;
	if (live == 2) /* a conditional node's body: bound once its node's graph is made (bind_body) */
		return GET(u, g->dev) < 0 || GET(u, g->owner) < 0 || GET(u, g->cond_node) < 0 || GET(u, g->place) < 0 ||
			       GET(u, g->body) < 0 || !g->cond_node
			   ? "its record is cut short"
			   : why;
	if (GET(u, g->dev) < 0 || !(g->desc = read_desc(u, 0)))
		return "its record is cut short";
	g->conds = g->desc->nconds;
	if (why)
		return why;
	if (g->dev < 0 || g->dev >= (int)c->srv->devices.ndevices ||
	    srv_use_device(c, g->dev, NULL) != CUDA_SUCCESS ||
	    build(c, g->desc, g->dev, &obj) != CUDA_SUCCESS)
		return "a graph of its cannot be made again";
	g->obj = obj;
	return NULL;
}

/* Body graph g: the driver's graph its node was made again with, and its
 * description (the node's: one, as before the fault). */
static const char *bind_body(struct srv_client *c, struct srv_object *g)
{
	const struct srv_object *p = g->owner && g->owner <= c->graph.ngraphs ? &c->graph.graphs[g->owner - 1] : NULL;
	struct srv_graph_node_desc *nd = p && p->obj && p->desc && g->place < p->desc->n ? &p->desc->nodes[g->place] : NULL;

	if (!nd || nd->rec.kind != OMPS_NODE_CONDITIONAL || !nd->bodies || g->body >= nd->rec.cond_size ||
	    !nd->bodies[g->body].made || p->dev != g->dev)
		return "a conditional node's body of its cannot be made again";
	g->obj = nd->bodies[g->body].made;
	g->desc = nd->bodies[g->body].desc;
	g->desc->refs++;
	g->place = 0;
	return NULL;
}

static int same_params(const struct srv_graph_node_desc *a, const struct srv_graph_node_desc *b)
{
	return !memcmp(&a->rec, &b->rec, sizeof(a->rec)) &&
	       (!a->rec.args_size || !memcmp(a->args, b->args, a->rec.args_size));
}

/* Executable graph e, made from graph g, given the parameters its own
 * description has where they are not g's; its nodes then are g's. */
static CUresult set_own(struct srv_client *c, struct srv_object *e, const struct srv_graph_desc *g)
{
	const struct srv_driver *drv = c->srv->drv;
	CUresult r = CUDA_SUCCESS;

	for (uint32_t i = 0; i < g->n && r == CUDA_SUCCESS; i++) {
		struct srv_graph_node_desc *nd = &e->desc->nodes[i];
		CUgraphNodeParams p;
		size_t args_size = 0;
		void *extra[5];

		nd->node = g->nodes[i].node;
		if (nd->rec.kind == OMPS_NODE_CHILD || nd->rec.kind == OMPS_NODE_CONDITIONAL ||
		    same_params(nd, &g->nodes[i]))
			continue; /* as its graph has it (a child graph or bodies: the same, same_shape says) */
		r = drv->graph_exec_node_set_params
			? srv_graphbuild_params(c, &nd->rec, e->dev, nd->args, &args_size, extra, &p)
			: CUDA_ERROR_NOT_SUPPORTED;
		if (r == CUDA_SUCCESS)
			r = drv->graph_exec_node_set_params(e->obj, nd->node, &p);
	}
	return r;
}

static const char *restore_exec(struct srv_client *c, struct srv_unpack *u, struct srv_object *e,
				const char *why)
{
	const struct srv_driver *drv = c->srv->drv;
	uint32_t live = 0, from = 0;
	struct srv_object *g = NULL;
	CUgraph temp = NULL;
	CUgraphExec obj = NULL;
	CUresult r;

	if (GET(u, live) < 0 || !live)
		return why;
	if (GET(u, e->dev) < 0 || GET(u, e->owner) < 0 || GET(u, e->flags) < 0 || GET(u, from) < 0 ||
	    from < EXEC_FROM_GRAPH || from > EXEC_FROM_OWN)
		return "its record is cut short";
	if (from != EXEC_FROM_OWN && e->owner && e->owner <= c->graph.ngraphs)
		g = &c->graph.graphs[e->owner - 1];
	if (from != EXEC_FROM_GRAPH && !(e->desc = read_desc(u, 0)))
		return "its record is cut short";
	if (why)
		return why;
	if (from != EXEC_FROM_OWN && (!g || !g->obj || !g->desc || (from == EXEC_FROM_GRAPH_SET && g->desc->n != e->desc->n)))
		return "an executable graph of its cannot be made again";
	if (from == EXEC_FROM_GRAPH) {
		e->desc = g->desc;
		e->desc->refs++;
	}
	r = srv_use_device(c, e->dev, NULL);
	if (r == CUDA_SUCCESS && from == EXEC_FROM_OWN)
		r = build(c, e->desc, e->dev, &temp);
	if (r == CUDA_SUCCESS)
		r = drv->graph_instantiate(&obj, temp ? temp : g->obj, e->flags);
	if (temp) {
		drv->graph_destroy(temp); /* the executable graph is a copy */
		for (uint32_t i = 0; i < e->desc->n; i++)
			e->desc->nodes[i].node = NULL;
	}
	e->obj = r == CUDA_SUCCESS ? obj : NULL;
	if (r == CUDA_SUCCESS && from == EXEC_FROM_GRAPH_SET)
		r = set_own(c, e, g->desc);
	if (r != CUDA_SUCCESS)
		return "an executable graph of its cannot be made again";
	return NULL;
}

const char *srv_graphdesc_restore(struct srv_client *c, struct srv_unpack *u, const char *why)
{
	uint64_t launches = c->mod.launches; /* a kernel node made again is no launch */
	uint32_t i, n = 0, owner, idx;

	c->graph.rebuilding = 1;
	if (GET(u, n) < 0 || n > u->len || !(c->graph.graphs = calloc(n + 1, sizeof(*c->graph.graphs))))
		goto short_;
	c->graph.ngraphs = n;
	for (i = 0; i < n && !u->failed; i++)
		why = restore_graph(c, u, &c->graph.graphs[i], why);
	for (i = 0; i < n && !u->failed && !why; i++)
		if (c->graph.graphs[i].cond_node)
			why = bind_body(c, &c->graph.graphs[i]);
	if (GET(u, n) < 0 || n > u->len || !(c->graph.execs = calloc(n + 1, sizeof(*c->graph.execs))))
		goto short_;
	c->graph.nexecs = n;
	for (i = 0; i < n && !u->failed; i++)
		why = restore_exec(c, u, &c->graph.execs[i], why);
	if (GET(u, n) < 0 || n > u->len || !(c->graph.nodes = calloc(n + 1, sizeof(*c->graph.nodes))))
		goto short_;
	c->graph.nnodes = n;
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_object *g;

		if (GET(u, owner) < 0 || GET(u, idx) < 0 || idx == UINT32_MAX)
			continue;
		g = owner && owner <= c->graph.ngraphs ? &c->graph.graphs[owner - 1] : NULL;
		if (!g || !g->desc || idx >= g->desc->n) {
			why = why ? why : "a node of its names no graph";
			continue;
		}
		c->graph.nodes[i] = (struct srv_object){
		    .obj = g->desc->nodes[idx].node, .dev = g->dev, .owner = owner, .place = idx};
	}
	c->graph.rebuilding = 0;
	c->mod.launches = launches;
	return u->failed ? "its record is cut short" : why;
short_:
	c->graph.rebuilding = 0;
	c->mod.launches = launches;
	u->failed = 1;
	return "its record is cut short";
}
