/* Kernel launches on a client's behalf, and the occupancy queries that
 * plan them. A launch is posted: its arguments arrive packed by the client
 * after the function's layout (module.c), and go to the driver as one
 * buffer (CU_LAUNCH_PARAM_BUFFER_POINTER) on the client's stream; a failure
 * is logged with the kernel's name and shape and reported at the client's
 * next synchronous call. */
#include <string.h>

#include "log.h"
#include "server.h"

/* cuLaunchKernelEx's attributes that carry only values; those naming
 * events or graph nodes are not remoted. */
static int plain_attribute(uint32_t id)
{
	switch (id) {
	case CU_LAUNCH_ATTRIBUTE_IGNORE:
	case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
	case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
	case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
	case CU_LAUNCH_ATTRIBUTE_PRIORITY:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
		return 1;
	default:
		return 0;
	}
}

/* A failed launch named in the log with its shape: the client hears of it
 * only at its next synchronous call, from whatever call that is. */
static void launched(struct srv_client *c, const struct srv_function *f, const struct omps_call_launch *m,
		     CUresult r)
{
	if (!f) {
		srv_deferred(c, r);
		return;
	}
	if (r == CUDA_ERROR_INVALID_CLUSTER_SIZE && srv_qos_fine(c, m->dev) && !c->qos.cluster_told) {
		c->qos.cluster_told = 1;
		omps_log("Client process %d: its SM share is split finely, where clusters of more than 2 blocks "
			 "do not run; OPENMPS_SM_SPLIT=coscheduled for the server keeps clusters of up to 8",
			 (int)c->pid);
	}
	srv_deferred_on(c, r, "launch of %.80s (grid %u,%u,%u, block %u,%u,%u, %u bytes of shared memory, %u attributes)",
			f->name, m->grid[0], m->grid[1], m->grid[2], m->block[0], m->block[1], m->block[2],
			m->shared_mem, m->nattrs);
}

/* One launch; what it returned (logged and kept for the client's next
 * synchronous call when it failed). */
static CUresult launch_one(struct srv_client *c, const struct omps_call_launch *m, const unsigned char *data,
			   size_t len)
{
	struct srv_function *f = srv_function_of(c, m->function);
	CUlaunchAttribute attrs[OMPS_MAX_LAUNCH_ATTRS];
	size_t attr_bytes = (size_t)m->nattrs * sizeof(attrs[0]);
	const unsigned char *args = data + (m->nattrs <= OMPS_MAX_LAUNCH_ATTRS ? attr_bytes : 0);
	size_t size; /* the layout's, whatever the client's buffer */
	void *extra[5], **ex = NULL;
	CUlaunchConfig cfg;
	uint32_t i;
	CUstream s;
	int dev = m->dev;
	CUresult r = f ? srv_stream_on(c, m->stream, &dev, &s) : CUDA_ERROR_INVALID_HANDLE;

	if (f)
		srv_function_ran(c, f);
	if (m->nattrs > OMPS_MAX_LAUNCH_ATTRS || len < attr_bytes || m->args_size != len - attr_bytes) {
		srv_malformed(c, OMPS_CALL_LAUNCH, sizeof(*m) + len);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (r == CUDA_SUCCESS && m->args_size < f->args_size)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		ex = srv_function_extra(f, srv_memory_args(c, args, f->args_size), extra, &size);
	if (r == CUDA_SUCCESS && !m->nattrs) {
		r = c->srv->drv->launch_kernel(f->fn, m->grid[0], m->grid[1], m->grid[2], m->block[0], m->block[1],
					       m->block[2], m->shared_mem, s, NULL, ex);
		launched(c, f, m, r);
		return r;
	}
	if (r == CUDA_SUCCESS) {
		memcpy(attrs, data, attr_bytes);
		for (i = 0; i < m->nattrs && r == CUDA_SUCCESS; i++) {
			if (!plain_attribute(attrs[i].id)) {
				omps_log("Client process %d: launch attribute %u is not supported", (int)c->pid,
					 attrs[i].id);
				r = CUDA_ERROR_NOT_SUPPORTED;
			}
			if (attrs[i].id == CU_LAUNCH_ATTRIBUTE_PRIORITY) /* as its streams' (security review L4) */
				attrs[i].value.priority = srv_qos_priority(c, dev, attrs[i].value.priority);
		}
	}
	if (r == CUDA_SUCCESS) {
		cfg = (CUlaunchConfig){m->grid[0], m->grid[1], m->grid[2], m->block[0], m->block[1], m->block[2],
				       m->shared_mem, s, attrs, m->nattrs};
		r = c->srv->drv->launch_kernel_ex(&cfg, f->fn, NULL, ex);
	}
	launched(c, f, m, r);
	return r;
}

void srv_launch_kernel(struct srv_client *c, const struct omps_call_launch *m, const unsigned char *data, size_t len)
{
	launch_one(c, m, data, len);
}

void srv_launch_occupancy(struct srv_client *c, const struct omps_call_occupancy *m)
{
	struct srv_function *f = srv_function_of(c, m->function);
	CUlaunchAttribute cluster = {.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION};
	CUlaunchConfig cfg;
	size_t smem = 0;
	int64_t value = 0;
	int v = 0;
	CUstream s = NULL; /* the client's: clusters fit as its SM share lets them */
	CUresult r = f ? srv_use_device(c, srv_function_dev(c, f), &s) : CUDA_ERROR_INVALID_HANDLE;

	if (r != CUDA_SUCCESS) {
		srv_reply_value(c, r, 0);
		return;
	}
	switch (m->what) {
	case OMPS_OCC_BLOCKS_PER_SM:
		r = c->srv->drv->occupancy_blocks(&v, f->fn, m->block_size, m->smem, m->flags);
		value = v;
		break;
	case OMPS_OCC_DYNAMIC_SMEM:
		r = c->srv->drv->occupancy_dynamic_smem(&smem, f->fn, m->num_blocks, m->block_size);
		value = (int64_t)smem;
		break;
	case OMPS_OCC_CLUSTERS:
	case OMPS_OCC_CLUSTER_SIZE: /* on its stream: as its SM share lets clusters run */
		cluster.value.clusterDim.x = m->cluster[0];
		cluster.value.clusterDim.y = m->cluster[1];
		cluster.value.clusterDim.z = m->cluster[2];
		cfg = (CUlaunchConfig){m->grid[0], m->grid[1],	    m->grid[2], m->block[0], m->block[1], m->block[2],
				       (unsigned int)m->smem, s, &cluster,	    m->cluster[0] ? 1 : 0};
		if (m->what == OMPS_OCC_CLUSTERS)
			r = c->srv->drv->occupancy_clusters(&v, f->fn, &cfg);
		else
			r = c->srv->drv->occupancy_cluster_size ? c->srv->drv->occupancy_cluster_size(&v, f->fn, &cfg)
								: CUDA_ERROR_NOT_SUPPORTED;
		value = v;
		break;
	default:
		r = CUDA_ERROR_INVALID_VALUE;
	}
	srv_reply_value(c, r, value);
}

/* ---- Runs of launches (issue 21)
 * One process's launch path tops out near 0.6-0.7M small kernels a second
 * on the H200 however many threads launch, and the same kernels as graph
 * launches went 40-67 % faster, past NVIDIA MPS, even with every node's
 * parameters set anew each time (bench/results/2026-12-04-h200-window.md).
 * So the launches a worker finds waiting in a client's ring, one after
 * another on one stream (channel.c gathers them into a LAUNCH_RUN), go to
 * the GPU as graph launches: chains of 2, 4, ... OMPS_MAX_RUN kernel nodes,
 * made once per client and stream and size, their nodes' parameters set
 * anew each time. Launches the graphs cannot take (attributes, a stream
 * being captured, a client with an SM share, whose green context a graph
 * launch is not known to keep; anything the driver refuses) go one by one
 * as LAUNCH records do, so every error is said as before. */
#define RUN_SIZES    5 /* chains of 2, 4, 8, 16, 32 */
#define RUN_STREAMS  8 /* streams a client keeps graphs for */
#define RUN_FAILURES 4 /* graphs the driver refused before a client's runs stop */

struct srv_run_graphs {
	struct srv_run_graphs *next;
	CUstream stream;
	CUgraph graph[RUN_SIZES];
	CUgraphExec exec[RUN_SIZES];
	CUgraphNode node[RUN_SIZES][OMPS_MAX_RUN];
};

struct run_entry {
	struct omps_call_launch m;
	const unsigned char *args;
	size_t len;
};

static void run_graphs_free(struct srv_driver *drv, struct srv_run_graphs *g)
{
	for (int i = 0; i < RUN_SIZES; i++) {
		if (g->exec[i])
			drv->graph_exec_destroy(g->exec[i]); /* freed by the driver once its launches are done */
		if (g->graph[i])
			drv->graph_destroy(g->graph[i]);
	}
	free(g);
}

void srv_launch_release(struct srv_client *c)
{
	struct srv_run_graphs *g;

	while ((g = c->runs.by_stream)) {
		c->runs.by_stream = g->next;
		run_graphs_free(c->srv->drv, g);
	}
}

/* The graphs for stream s, first in the list from now on; NULL if out of
 * memory. The least used of more than RUN_STREAMS goes. */
static struct srv_run_graphs *graphs_for(struct srv_client *c, CUstream s)
{
	struct srv_run_graphs **pp = &c->runs.by_stream, *g;
	unsigned n = 0;

	for (; (g = *pp); pp = &g->next, n++)
		if (g->stream == s) {
			*pp = g->next;
			g->next = c->runs.by_stream;
			c->runs.by_stream = g;
			return g;
		}
	if (n >= RUN_STREAMS) { /* the last one */
		for (pp = &c->runs.by_stream; (*pp)->next; pp = &(*pp)->next)
			;
		run_graphs_free(c->srv->drv, *pp);
		*pp = NULL;
	}
	if (!(g = calloc(1, sizeof(*g))))
		return NULL;
	g->stream = s;
	g->next = c->runs.by_stream;
	c->runs.by_stream = g;
	return g;
}

/* The chain of k nodes for e[0..k) made, or its nodes set to them. */
static CUresult chain(struct srv_client *c, struct srv_run_graphs *g, int size, const struct run_entry *e,
		      struct srv_function **f, unsigned k)
{
	struct srv_driver *drv = c->srv->drv;
	CUgraphNode *node = g->node[size];
	CUgraphNodeParams p;
	void *extra[5];
	size_t bytes;
	CUresult r = CUDA_SUCCESS;
	unsigned i;

	if (g->exec[size]) {
		for (i = 0; i < k && r == CUDA_SUCCESS; i++) {
			srv_function_node(f[i], e[i].m.grid, e[i].m.block, e[i].m.shared_mem, e[i].args, extra, &bytes,
					  &p);
			r = drv->graph_exec_node_set_params(g->exec[size], node[i], &p);
		}
		return r;
	}
	r = drv->graph_create(&g->graph[size], 0);
	for (i = 0; i < k && r == CUDA_SUCCESS; i++) {
		srv_function_node(f[i], e[i].m.grid, e[i].m.block, e[i].m.shared_mem, e[i].args, extra, &bytes, &p);
		r = drv->graph_add_node(&node[i], g->graph[size], i ? &node[i - 1] : NULL, NULL, i ? 1 : 0, &p);
	}
	if (r == CUDA_SUCCESS)
		r = drv->graph_instantiate(&g->exec[size], g->graph[size], 0);
	if (r != CUDA_SUCCESS) {
		if (g->graph[size])
			drv->graph_destroy(g->graph[size]);
		g->graph[size] = NULL;
		g->exec[size] = NULL;
		if (++c->runs.failed == RUN_FAILURES)
			omps_log("Client process %d: the driver would not make graphs of its launches %u times (last: "
				 "error %d); they go one by one from now on",
				 (int)c->pid, RUN_FAILURES, (int)r);
	}
	return r;
}

/* Whether e[0..n) can go as graphs: plain launches of known functions,
 * whole, on one stream of a device where the client has the whole GPU, and
 * no global of its moved by a fault (launch_one changes their addresses). */
static int graphable(struct srv_client *c, const struct run_entry *e, unsigned n, struct srv_function **f)
{
	const struct srv_driver *drv = c->srv->drv;
	int dev = e[0].m.dev;

	if (c->srv->runs_off || c->runs.failed >= RUN_FAILURES || n < 2 || !drv->graph_create || c->mem.moved ||
	    !drv->graph_add_node || !drv->graph_exec_node_set_params || dev < 0 ||
	    dev >= (int)c->srv->devices.ndevices || c->qos.part[dev])
		return 0;
	for (unsigned i = 0; i < n; i++) {
		f[i] = srv_function_of(c, e[i].m.function);
		if (!f[i] || e[i].m.nattrs || e[i].m.stream != e[0].m.stream || e[i].m.dev != dev ||
		    e[i].m.args_size != e[i].len || e[i].m.args_size < f[i]->args_size ||
		    srv_function_dev(c, f[i]) != dev)
			return 0;
	}
	for (unsigned i = 0; i < n; i++)
		srv_function_ran(c, f[i]);
	return 1;
}

static void one_by_one(struct srv_client *c, const struct run_entry *e, unsigned from, unsigned n)
{
	for (unsigned i = from; i < n; i++)
		if (launch_one(c, &e[i].m, e[i].args, e[i].len) == CUDA_SUCCESS)
			c->no_hold = 1; /* a later failure cannot be held: this one ran on the old context */
}

/* As many of e[0..n) as graphs, from the first: how many went. */
static unsigned as_graphs(struct srv_client *c, const struct run_entry *e, unsigned n)
{
	struct srv_function *f[OMPS_MAX_RUN];
	struct srv_run_graphs *g;
	unsigned done = 0, k;
	int size;
	CUstream s;

	if (!graphable(c, e, n, f) || srv_stream(c, e[0].m.stream, e[0].m.dev, &s) != CUDA_SUCCESS ||
	    srv_capturing(c, s) || !(g = graphs_for(c, s)))
		return 0;
	while (n - done >= 2) {
		for (size = RUN_SIZES - 1; (2u << size) > n - done; size--)
			;
		k = 2u << size;
		if (chain(c, g, size, e + done, f + done, k) != CUDA_SUCCESS ||
		    c->srv->drv->graph_launch(g->exec[size], s) != CUDA_SUCCESS)
			break; /* these go one by one, and say why */
		atomic_fetch_add(&c->srv->runs_launched, 1);
		done += k;
	}
	if (done)
		c->no_hold = 1;
	return done;
}

void srv_launch_run(struct srv_client *c, const struct omps_call_launch_run *m, const unsigned char *data, size_t len)
{
	struct run_entry e[OMPS_MAX_RUN];
	size_t off = 0;
	unsigned i;

	for (i = 0; i < m->count && m->count <= OMPS_MAX_RUN; i++) {
		uint32_t n = 0;

		if (len - off < 8)
			break;
		memcpy(&n, data + off, sizeof(n));
		if (n < sizeof(e[i].m) || n > len - off - 8 || OMPS_RUN_ENTRY(n) > len - off)
			break;
		memcpy(&e[i].m, data + off + 8, sizeof(e[i].m));
		e[i].m.dev = srv_view_dev(c, e[i].m.dev); /* as dispatch does a LAUNCH's */
		e[i].args = data + off + 8 + sizeof(e[i].m);
		e[i].len = n - sizeof(e[i].m);
		off += OMPS_RUN_ENTRY(n);
	}
	if (!m->count || i != m->count || off != len) {
		srv_malformed(c, OMPS_CALL_LAUNCH_RUN, sizeof(*m) + len);
		return;
	}
	one_by_one(c, e, as_graphs(c, e, m->count), m->count);
}
