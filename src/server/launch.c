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

void srv_launch_kernel(struct srv_client *c, const struct omps_call_launch *m, const unsigned char *data, size_t len)
{
	struct srv_function *f = srv_function_of(c, m->function);
	CUlaunchAttribute attrs[OMPS_MAX_LAUNCH_ATTRS];
	size_t attr_bytes = (size_t)m->nattrs * sizeof(attrs[0]);
	size_t size = f ? f->args_size : 0; /* the layout's size, whatever the client's buffer */
	const unsigned char *args = data + (m->nattrs <= OMPS_MAX_LAUNCH_ATTRS ? attr_bytes : 0);
	void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, (void *)args, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
			 CU_LAUNCH_PARAM_END};
	CUlaunchConfig cfg;
	uint32_t i;
	CUstream s;
	CUresult r = f ? srv_stream(c, m->stream, m->dev, &s) : CUDA_ERROR_INVALID_HANDLE;

	if (m->nattrs > OMPS_MAX_LAUNCH_ATTRS || len < attr_bytes || m->args_size != len - attr_bytes) {
		srv_malformed(c, OMPS_CALL_LAUNCH, sizeof(*m) + len);
		return;
	}
	if (r == CUDA_SUCCESS && m->args_size < f->args_size)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !m->nattrs) {
		r = c->srv->drv->launch_kernel(f->fn, m->grid[0], m->grid[1], m->grid[2], m->block[0], m->block[1],
					       m->block[2], m->shared_mem, s, NULL, size ? extra : NULL);
		launched(c, f, m, r);
		return;
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
				attrs[i].value.priority = srv_qos_priority(c, m->dev, attrs[i].value.priority);
		}
	}
	if (r == CUDA_SUCCESS) {
		cfg = (CUlaunchConfig){m->grid[0], m->grid[1], m->grid[2], m->block[0], m->block[1], m->block[2],
				       m->shared_mem, s, attrs, m->nattrs};
		r = c->srv->drv->launch_kernel_ex(&cfg, f->fn, NULL, size ? extra : NULL);
	}
	launched(c, f, m, r);
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
		cluster.value.clusterDim.x = m->cluster[0];
		cluster.value.clusterDim.y = m->cluster[1];
		cluster.value.clusterDim.z = m->cluster[2];
		cfg = (CUlaunchConfig){m->grid[0], m->grid[1],	    m->grid[2], m->block[0], m->block[1], m->block[2],
				       (unsigned int)m->smem, s, &cluster,	    m->cluster[0] ? 1 : 0};
		r = c->srv->drv->occupancy_clusters(&v, f->fn, &cfg);
		value = v;
		break;
	default:
		r = CUDA_ERROR_INVALID_VALUE;
	}
	srv_reply_value(c, r, value);
}
