/* Kernel launches in remote mode, and the occupancy queries that plan them.
 * cuLaunchKernel packs kernelParams after the function's layout (module.c)
 * into one buffer and posts it without waiting; what the driver would
 * refuse at once is refused here, since a posted launch could only fail at
 * the next synchronous call. */
#include <string.h>

#include "replies.h"
#include "shim.h"

/* The packed arguments: from `extra` as given, or from kernelParams laid
 * out as the server described the function. */
CUresult shim_launch_pack(struct shim_function *f, void **params, void **extra, unsigned char *buf,
			  const void **args, size_t *len)
{
	uint32_t i;

	if (extra) {
		const void *p = NULL;
		size_t *n = NULL;

		for (i = 0; extra[i] != CU_LAUNCH_PARAM_END && i < 8; i += 2) {
			if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
				p = extra[i + 1];
			else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE)
				n = extra[i + 1];
			else
				return CUDA_ERROR_INVALID_VALUE;
		}
		if (!p || !n)
			return CUDA_ERROR_INVALID_VALUE;
		*args = p;
		*len = *n;
		return CUDA_SUCCESS;
	}
	if (f->nparams && !params)
		return CUDA_ERROR_INVALID_VALUE;
	shim_pack_params(f->params, f->nparams, f->args_size, params, buf);
	*args = buf;
	*len = f->args_size;
	return CUDA_SUCCESS;
}

/* What the driver refuses at once, refused here too: a posted launch could
 * only fail at the next synchronous call. */
static int bad_shape(const struct shim_function *f, const unsigned int grid[3], const unsigned int block[3],
		     unsigned int smem, int dev)
{
	static const CUdevice_attribute max_block[3] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X,
							CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
							CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
	static const CUdevice_attribute max_grid[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X,
						       CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
						       CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
	uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
	int i;

	for (i = 0; i < 3; i++) {
		int mb = shim_device_attr(dev, max_block[i]), mg = shim_device_attr(dev, max_grid[i]);

		if (!block[i] || !grid[i] || (mb > 0 && block[i] > (unsigned)mb) || (mg > 0 && grid[i] > (unsigned)mg))
			return 1;
	}
	return (f->max_threads > 0 && threads > (uint64_t)f->max_threads) ||
	       (f->max_dynamic_smem > 0 && smem > (unsigned)f->max_dynamic_smem);
}

/* Packs and posts one launch; attrs (cuLaunchKernelEx's) travel first. */
static CUresult launch(struct shim_function *f, const unsigned int grid[3], const unsigned int block[3],
		       unsigned int smem, CUstream stream, const CUlaunchAttribute *attrs, unsigned int nattrs,
		       void **params, void **extra)
{
	static __thread unsigned char buf[32768];
	size_t attr_bytes = (size_t)nattrs * sizeof(*attrs), len;
	struct omps_call_launch m;
	const void *args;
	CUresult r;

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (f->args_size + attr_bytes > sizeof(buf) || nattrs > OMPS_MAX_LAUNCH_ATTRS || (nattrs && !attrs))
		return CUDA_ERROR_INVALID_VALUE;
	m = (struct omps_call_launch){.function = f->handle, .dev = shim_current_device(),
				      .grid = {grid[0], grid[1], grid[2]}, .block = {block[0], block[1], block[2]},
				      .shared_mem = smem, .nattrs = nattrs};
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (bad_shape(f, grid, block, smem, m.dev))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = shim_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	r = shim_launch_pack(f, params, extra, buf + attr_bytes, &args, &len);
	if (r != CUDA_SUCCESS)
		return r;
	if (len + attr_bytes > shim_post_max() - sizeof(m))
		return CUDA_ERROR_INVALID_VALUE;
	m.args_size = (uint32_t)len;
	shim_managed_vars_push(stream);
	if (!nattrs)
		return shim_post(OMPS_CALL_LAUNCH, &m, sizeof(m), args, len);
	memcpy(buf, attrs, attr_bytes);
	if (args != buf + attr_bytes) /* extra's buffer: after the attributes */
		memmove(buf + attr_bytes, args, len);
	return shim_post(OMPS_CALL_LAUNCH, &m, sizeof(m), buf, attr_bytes + len);
}

static CUresult launch_kernel(CUfunction hfunc, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
			      unsigned int by, unsigned int bz, unsigned int smem, CUstream stream, void **params,
			      void **extra)
{
	const unsigned int grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};

	return launch(shim_function(hfunc), grid, block, smem, stream, NULL, 0, params, extra);
}

_Static_assert(sizeof(CUlaunchAttribute) == sizeof(struct omps_launch_attr), "sent byte for byte");

static CUresult launch_cooperative(CUfunction hfunc, unsigned int gx, unsigned int gy, unsigned int gz,
				   unsigned int bx, unsigned int by, unsigned int bz, unsigned int smem, CUstream stream,
				   void **params)
{
	const unsigned int grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
	CUlaunchAttribute coop = {.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE, .value.cooperative = 1};

	return launch(shim_function(hfunc), grid, block, smem, stream, &coop, 1, params, NULL);
}

static CUresult launch_kernel_ex(const CUlaunchConfig *c, CUfunction hfunc, void **params, void **extra)
{
	const unsigned int grid[3] = {c ? c->gridDimX : 0, c ? c->gridDimY : 0, c ? c->gridDimZ : 0};
	const unsigned int block[3] = {c ? c->blockDimX : 0, c ? c->blockDimY : 0, c ? c->blockDimZ : 0};

	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	return launch(shim_function(hfunc), grid, block, c->sharedMemBytes, c->hStream, c->attrs, c->numAttrs, params,
		      extra);
}

static CUresult occupancy(struct omps_call_occupancy *m, CUfunction hfunc, int64_t *out)
{
	struct shim_function *f = shim_function(hfunc);
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	m->function = f->handle;
	r = shim_call(OMPS_CALL_OCCUPANCY, m, sizeof(*m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*out = rep.value;
	return r;
}

static CUresult occupancy_blocks(int *blocks, CUfunction func, int block_size, size_t smem, unsigned int flags)
{
	struct omps_call_occupancy m = {.what = OMPS_OCC_BLOCKS_PER_SM, .block_size = block_size, .smem = smem,
					.flags = flags};
	int64_t v = 0;
	CUresult r = blocks ? occupancy(&m, func, &v) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*blocks = (int)v;
	return r;
}

static CUresult occupancy_blocks_default(int *blocks, CUfunction func, int block_size, size_t smem)
{
	return occupancy_blocks(blocks, func, block_size, smem, 0);
}

static CUresult occupancy_dynamic_smem(size_t *smem, CUfunction func, int num_blocks, int block_size)
{
	struct omps_call_occupancy m = {.what = OMPS_OCC_DYNAMIC_SMEM, .num_blocks = num_blocks,
					.block_size = block_size};
	int64_t v = 0;
	CUresult r = smem ? occupancy(&m, func, &v) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*smem = (size_t)v;
	return r;
}

/* Only the cluster dimension among the attributes changes the answer. */
static CUresult occupancy_cluster_query(uint32_t what, int *out, CUfunction func, const CUlaunchConfig *c)
{
	struct omps_call_occupancy m;
	int64_t v = 0;
	unsigned int i;
	CUresult r;

	if (!out || !c || (c->numAttrs && !c->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	m = (struct omps_call_occupancy){.what = what, .grid = {c->gridDimX, c->gridDimY, c->gridDimZ},
					 .block = {c->blockDimX, c->blockDimY, c->blockDimZ},
					 .smem = c->sharedMemBytes};
	for (i = 0; i < c->numAttrs; i++) {
		if (c->attrs[i].id != CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
			continue;
		m.cluster[0] = c->attrs[i].value.clusterDim.x;
		m.cluster[1] = c->attrs[i].value.clusterDim.y;
		m.cluster[2] = c->attrs[i].value.clusterDim.z;
	}
	r = occupancy(&m, func, &v);
	if (r == CUDA_SUCCESS)
		*out = (int)v;
	return r;
}

static CUresult occupancy_clusters(int *clusters, CUfunction func, const CUlaunchConfig *c)
{
	return occupancy_cluster_query(OMPS_OCC_CLUSTERS, clusters, func, c);
}

/* The largest cluster that runs: within the client's SM share, which may
 * hold smaller clusters than the GPU (a fine split's: 2 blocks). */
static CUresult occupancy_cluster_size(int *size, CUfunction func, const CUlaunchConfig *c)
{
	return occupancy_cluster_query(OMPS_OCC_CLUSTER_SIZE, size, func, c);
}

/* The block size with the most threads resident on an SM, as the driver
 * finds it: each multiple of the warp size from the largest allowed down,
 * one occupancy query each, stopping at a full SM. The dynamic shared
 * memory a block size needs comes from the program's callback, if given. */
static CUresult potential_block_size(int *min_grid, int *block_size, CUfunction func, CUoccupancyB2DSize smem_of,
				     size_t smem, int limit, unsigned int flags)
{
	struct shim_function *f = shim_function(func);
	int dev = shim_current_device() < 0 ? 0 : shim_current_device();
	int sm_threads = shim_device_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
	int warp = shim_device_attr(dev, CU_DEVICE_ATTRIBUTE_WARP_SIZE);
	int max = shim_device_attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK), best = 0, best_blocks = 0, size;
	int64_t best_threads = 0;

	if (!min_grid || !block_size)
		return CUDA_ERROR_INVALID_VALUE;
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (warp <= 0 || max <= 0 || sm_threads <= 0)
		return CUDA_ERROR_INVALID_DEVICE;
	if (f->max_threads > 0 && f->max_threads < max)
		max = f->max_threads;
	if (limit > 0 && limit < max)
		max = limit;
	for (size = (max + warp - 1) / warp * warp; size > 0; size -= warp) {
		int block = size < max ? size : max, blocks = 0;
		CUresult r = occupancy_blocks(&blocks, func, block, smem_of ? smem_of(block) : smem, flags);

		if (r != CUDA_SUCCESS)
			return r;
		if ((int64_t)blocks * block > best_threads) {
			best = block;
			best_blocks = blocks;
			best_threads = (int64_t)blocks * block;
		}
		if (best_threads == sm_threads)
			break;
	}
	*block_size = best;
	*min_grid = best_blocks * shim_device_attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
	return CUDA_SUCCESS;
}

static CUresult potential_block_size_default(int *min_grid, int *block_size, CUfunction func,
					     CUoccupancyB2DSize smem_of, size_t smem, int limit)
{
	return potential_block_size(min_grid, block_size, func, smem_of, smem, limit, 0);
}

void shim_launch_install(void)
{
	SHIM_INSTALL(cuLaunchKernel, launch_kernel);
	SHIM_INSTALL(cuLaunchKernelEx, launch_kernel_ex);
	SHIM_INSTALL(cuLaunchCooperativeKernel, launch_cooperative);
	SHIM_INSTALL(cuOccupancyMaxActiveBlocksPerMultiprocessor, occupancy_blocks_default);
	SHIM_INSTALL(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, occupancy_blocks);
	SHIM_INSTALL(cuOccupancyMaxPotentialClusterSize, occupancy_cluster_size);
	SHIM_INSTALL(cuOccupancyAvailableDynamicSMemPerBlock, occupancy_dynamic_smem);
	SHIM_INSTALL(cuOccupancyMaxActiveClusters, occupancy_clusters);
	SHIM_INSTALL(cuOccupancyMaxPotentialBlockSize, potential_block_size_default);
	SHIM_INSTALL(cuOccupancyMaxPotentialBlockSizeWithFlags, potential_block_size);
}
