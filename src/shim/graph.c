/* CUDA graphs by stream capture, in remote mode: the server captures the
 * client's stream in its own context (graph.c there), so every launch, copy,
 * memset and event between begin and end becomes a node of a graph the
 * server holds; a host function becomes a graph slot's (hostfn.c), a copy of
 * pageable memory a shared buffer and a host function (memory.c). A CUgraph
 * or CUgraphExec here is a small record of the server's handle. Graphs built
 * node by node are graphbuild.c's.
 *
 * Capture status is asked of the server only while this process has a
 * capture under way: frameworks ask it often (PyTorch, at each allocation
 * during a capture), and with none under way every stream's is NONE. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static atomic_int captures; /* begun here and not yet ended */
static __thread CUstreamCaptureMode thread_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

int shim_capturing_any(void)
{
	return atomic_load(&captures) > 0;
}

CUresult shim_graph_new(uint32_t magic, uint32_t handle, void **out)
{
	struct shim_object *g = malloc(sizeof(*g));

	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*g = (struct shim_object){.magic = magic, .handle = handle};
	*out = g;
	return CUDA_SUCCESS;
}

static CUresult begin_capture(CUstream s, CUstreamCaptureMode mode)
{
	struct omps_call_capture m = {.mode = (uint32_t)mode};
	struct omps_reply rep;
	CUresult r = shim_stream_handle(s, &m.stream);

	if (r == CUDA_SUCCESS)
		r = shim_call(OMPS_CALL_CAPTURE_BEGIN, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		atomic_fetch_add(&captures, 1);
	return r;
}

/* The unversioned ABI: global mode. */
static CUresult begin_capture_v1(CUstream s)
{
	return begin_capture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

static CUresult end_capture(CUstream s, CUgraph *graph)
{
	struct omps_call_handle m;
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUresult r;

	if (!graph)
		return CUDA_ERROR_INVALID_VALUE;
	*graph = NULL;
	r = shim_stream_handle(s, &m.handle);
	if (r != CUDA_SUCCESS)
		return r;
	r = shim_call(OMPS_CALL_CAPTURE_END, &m, sizeof(m), &rep, sizeof(rep));
	/* These end the capture; the others leave it under way. */
	if ((r == CUDA_SUCCESS || r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED ||
	     r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED) &&
	    atomic_load(&captures) > 0)
		atomic_fetch_sub(&captures, 1);
	if (r == CUDA_SUCCESS)
		r = shim_graph_new(GRAPH_MAGIC, rep.handle, (void **)graph);
	return r;
}

/* The graph and its dependencies are the server's: none are given out. */
static CUresult capture_info(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
			     const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps)
{
	struct omps_call_capture m = {0};
	struct omps_reply_capture rep;
	CUresult r = status ? shim_stream_handle(s, &m.stream) : CUDA_ERROR_INVALID_VALUE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && m.stream && atomic_load(&captures) > 0)
		r = shim_call(OMPS_CALL_CAPTURE_INFO, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	*status = (CUstreamCaptureStatus)rep.status;
	if (id)
		*id = rep.id;
	if (graph)
		*graph = NULL;
	if (deps)
		*deps = NULL;
	if (edges)
		*edges = NULL;
	if (ndeps)
		*ndeps = 0;
	return CUDA_SUCCESS;
}

static CUresult capture_info_v2(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id, CUgraph *graph,
				const CUgraphNode **deps, size_t *ndeps)
{
	return capture_info(s, status, id, graph, deps, NULL, ndeps);
}

static CUresult capture_info_v1(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id)
{
	return capture_info(s, status, id, NULL, NULL, NULL, NULL);
}

static CUresult is_capturing(CUstream s, CUstreamCaptureStatus *status)
{
	return capture_info(s, status, NULL, NULL, NULL, NULL, NULL);
}

int shim_stream_capturing(CUstream s)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;

	return atomic_load(&captures) > 0 && is_capturing(s, &st) == CUDA_SUCCESS &&
	       st == CU_STREAM_CAPTURE_STATUS_ACTIVE;
}

/* The mode is the thread's to keep; the server captures in relaxed mode
 * (protocol.h), so a mode guards nothing across clients. */
static CUresult exchange_capture_mode(CUstreamCaptureMode *mode)
{
	CUstreamCaptureMode old;

	if (!mode || *mode > CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_ERROR_INVALID_VALUE;
	old = thread_mode;
	thread_mode = *mode;
	*mode = old;
	return CUDA_SUCCESS;
}

static CUresult instantiate(CUgraphExec *exec, CUgraph graph, unsigned long long flags)
{
	struct shim_object *g = shim_object(graph, GRAPH_MAGIC);
	struct omps_call_instantiate m = {.flags = flags};
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUresult r;

	if (!exec)
		return CUDA_ERROR_INVALID_VALUE;
	if (!g)
		return CUDA_ERROR_INVALID_HANDLE;
	m.graph = g->handle;
	r = shim_call(OMPS_CALL_GRAPH_INSTANTIATE, &m, sizeof(m), &rep, sizeof(rep));
	return r == CUDA_SUCCESS ? shim_graph_new(EXEC_MAGIC, rep.handle, (void **)exec) : r;
}

/* The unversioned and _v2 ABI: an error node and a log, which stay empty. */
static CUresult instantiate_v1(CUgraphExec *exec, CUgraph graph, CUgraphNode *err_node, char *log, size_t log_size)
{
	if (err_node)
		*err_node = NULL;
	if (log && log_size)
		log[0] = '\0';
	return instantiate(exec, graph, 0);
}

static CUresult on_exec(uint32_t type, CUgraphExec exec, CUstream s)
{
	struct shim_object *e = shim_object(exec, EXEC_MAGIC);
	struct omps_call_pair m = {0};
	CUresult r = e ? shim_stream_handle(s, &m.second) : CUDA_ERROR_INVALID_HANDLE;

	if (r != CUDA_SUCCESS)
		return r;
	m.first = e->handle;
	return shim_post(type, &m, sizeof(m), NULL, 0);
}

static CUresult launch(CUgraphExec exec, CUstream s)
{
	shim_managed_vars_push(s);
	return on_exec(OMPS_CALL_GRAPH_LAUNCH, exec, s);
}

static CUresult upload(CUgraphExec exec, CUstream s)
{
	return on_exec(OMPS_CALL_GRAPH_UPLOAD, exec, s);
}

static CUresult instantiate_with_params(CUgraphExec *exec, CUgraph graph, CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	r = instantiate(exec, graph, p->flags & ~(cuuint64_t)CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD);
	if (r == CUDA_SUCCESS && (p->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD))
		r = upload(*exec, p->hUploadStream);
	p->hErrNode_out = NULL;
	p->result_out = r == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
	return r;
}

/* The server's driver updates its executable graph; the error node, which
 * would be one of the server's, is left NULL (a generic error's, as the
 * driver has it). */
static CUresult exec_update(CUgraphExec exec, CUgraph graph, CUgraphExecUpdateResultInfo *info)
{
	struct shim_object *e = shim_object(exec, EXEC_MAGIC), *g = shim_object(graph, GRAPH_MAGIC);
	struct omps_call_pair m = {0};
	struct omps_reply_value rep = {{0}, CU_GRAPH_EXEC_UPDATE_ERROR};
	CUresult r;

	if (!info)
		return CUDA_ERROR_INVALID_VALUE;
	*info = (CUgraphExecUpdateResultInfo){.result = CU_GRAPH_EXEC_UPDATE_ERROR};
	if (!e || !g)
		return CUDA_ERROR_INVALID_VALUE;
	m.first = e->handle;
	m.second = g->handle;
	r = shim_call(OMPS_CALL_GRAPH_EXEC_UPDATE, &m, sizeof(m), &rep, sizeof(rep));
	if (rep.value >= CU_GRAPH_EXEC_UPDATE_SUCCESS && rep.value <= CU_GRAPH_EXEC_UPDATE_ERROR_ATTRIBUTES_CHANGED)
		info->result = (CUgraphExecUpdateResult)rep.value;
	if (r != CUDA_SUCCESS && info->result == CU_GRAPH_EXEC_UPDATE_SUCCESS)
		info->result = CU_GRAPH_EXEC_UPDATE_ERROR;
	return r;
}

/* The unversioned ABI (CUDA 11): the error node and the result apart. */
static CUresult exec_update_v1(CUgraphExec exec, CUgraph graph, CUgraphNode *err_node, CUgraphExecUpdateResult *result)
{
	CUgraphExecUpdateResultInfo info;
	CUresult r = exec_update(exec, graph, &info);

	if (err_node)
		*err_node = NULL;
	if (result)
		*result = info.result;
	return r;
}

/* As the driver: a handle that is not a graph is an invalid value. */
static CUresult graph_destroy(CUgraph g)
{
	struct shim_object *o = shim_object(g, GRAPH_MAGIC);
	uint32_t handle = o ? o->handle : 0;
	CUresult r = o ? shim_object_destroy(OMPS_CALL_GRAPH_DESTROY, GRAPH_MAGIC, g) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		shim_graphbuild_forget(handle);
	return r;
}

static CUresult exec_destroy(CUgraphExec e)
{
	return shim_object(e, EXEC_MAGIC) ? shim_object_destroy(OMPS_CALL_GRAPH_EXEC_DESTROY, EXEC_MAGIC, e)
					   : CUDA_ERROR_INVALID_VALUE;
}

void shim_graph_install(void)
{
	SHIM_INSTALL(cuStreamBeginCapture_v2, begin_capture);
	SHIM_INSTALL(cuStreamEndCapture, end_capture);
	SHIM_INSTALL(cuStreamIsCapturing, is_capturing);
	SHIM_INSTALL(cuStreamGetCaptureInfo_v2, capture_info_v2);
	SHIM_INSTALL(cuStreamGetCaptureInfo_v3, capture_info);
	SHIM_LOCAL(cuThreadExchangeStreamCaptureMode, exchange_capture_mode);
	SHIM_INSTALL(cuGraphInstantiateWithFlags, instantiate);
	SHIM_INSTALL(cuGraphInstantiateWithParams, instantiate_with_params);
	SHIM_INSTALL(cuGraphLaunch, launch);
	SHIM_INSTALL(cuGraphUpload, upload);
	SHIM_INSTALL(cuGraphDestroy, graph_destroy);
	SHIM_INSTALL(cuGraphExecDestroy, exec_destroy);
	SHIM_INSTALL(cuGraphExecUpdate_v2, exec_update);
	/* Names whose prototypes cuda.h gives only to the driver's own build
	 * (the unversioned ABI): typed here, by hand. */
	SHIM_UNTYPED(cuStreamBeginCapture, begin_capture_v1);
	SHIM_UNTYPED(cuStreamGetCaptureInfo, capture_info_v1);
	SHIM_UNTYPED(cuGraphInstantiate, instantiate_v1);
	SHIM_UNTYPED(cuGraphInstantiate_v2, instantiate_v1);
	SHIM_UNTYPED(cuGraphExecUpdate, exec_update_v1);
}
