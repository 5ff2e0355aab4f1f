/* Devices and contexts in remote mode. Device facts come from the cache the
 * server sent when the channel opened, so queries cost no round trip (cudart
 * asks for attributes a hundred times at start-up). Contexts are the
 * client's own handles for the server's one primary context per device. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#include <cudaProfiler.h> /* after shim.h: the driver's internal view of cuda.h */

static struct omps_device_info devs[OMPS_MAX_DEVICES];
static int ndevs;

/* A context handle is the address of its device's slot. */
static struct {
	int dev;
} ctxs[OMPS_MAX_DEVICES];
static __thread int current = -1;

int shim_current_device(void)
{
	return current;
}

int shim_device_attr(int dev, CUdevice_attribute a)
{
	return dev >= 0 && dev < ndevs && a > 0 && a < OMPS_MAX_ATTRS ? devs[dev].attrs[a] : 0;
}

static int valid(CUdevice d)
{
	return d >= 0 && d < ndevs;
}

static CUresult device_get_count(int *count)
{
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = ndevs;
	return CUDA_SUCCESS;
}

static CUresult device_get(CUdevice *device, int ordinal)
{
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(ordinal))
		return CUDA_ERROR_INVALID_DEVICE;
	*device = ordinal;
	return CUDA_SUCCESS;
}

static CUresult device_get_name(char *name, int len, CUdevice dev)
{
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	strncpy(name, devs[dev].dev.name, (size_t)len - 1);
	name[len - 1] = '\0';
	return CUDA_SUCCESS;
}

static CUresult device_get_attribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	if (!pi || attrib <= 0 || attrib >= OMPS_MAX_ATTRS)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	*pi = devs[dev].attrs[attrib];
	return CUDA_SUCCESS;
}

static CUresult device_total_mem(size_t *bytes, CUdevice dev)
{
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	*bytes = devs[dev].dev.total_mem;
	return CUDA_SUCCESS;
}

static CUresult device_get_uuid(CUuuid *uuid, CUdevice dev)
{
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	memcpy(uuid->bytes, devs[dev].dev.uuid, sizeof(uuid->bytes));
	return CUDA_SUCCESS;
}

static CUresult primary_ctx_retain(CUcontext *pctx, CUdevice dev)
{
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	*pctx = (CUcontext)&ctxs[dev];
	return CUDA_SUCCESS;
}

static CUresult primary_ctx_release(CUdevice dev)
{
	return valid(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* A context's flags are the client's: recorded, reported, and the
 * scheduling one honoured in how the client waits for the server
 * (channel.c). The server's context keeps its own; host memory is mapped
 * for the device whatever CU_CTX_MAP_HOST says, as with UVA natively. */
static unsigned int primary_flags[OMPS_MAX_DEVICES];

static int valid_flags(unsigned int flags)
{
	unsigned int sched = flags & CU_CTX_SCHED_MASK;

	return !(flags & ~(unsigned int)CU_CTX_FLAGS_MASK) &&
	       (sched == CU_CTX_SCHED_AUTO || sched == CU_CTX_SCHED_SPIN || sched == CU_CTX_SCHED_YIELD ||
		sched == CU_CTX_SCHED_BLOCKING_SYNC);
}

static CUresult primary_ctx_set_flags(CUdevice dev, unsigned int flags)
{
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	if (!valid_flags(flags) || (flags & CU_CTX_MAP_HOST)) /* the driver's answer (H200, driver 580) */
		return CUDA_ERROR_INVALID_VALUE;
	primary_flags[dev] = flags;
	shim_channel_schedule(flags & CU_CTX_SCHED_MASK);
	return CUDA_SUCCESS;
}

static CUresult primary_ctx_get_state(CUdevice dev, unsigned int *flags, int *active)
{
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	*flags = primary_flags[dev] | CU_CTX_MAP_HOST; /* always on, with unified addressing */
	*active = 1;
	return CUDA_SUCCESS;
}

/* A context the program created: another handle for its device's context in
 * the server. Its work, memory and modules are the client's, as with the
 * primary context; destroying it frees the handle only. */
#define CTX_MAGIC 0x63747874u

struct created_ctx {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	int dev;
	unsigned int flags;
};

static int ctx_device(CUcontext ctx)
{
	void *p = ctx;
	struct created_ctx *c = p;

	if (p >= (void *)&ctxs[0] && p < (void *)&ctxs[ndevs])
		return (int)(((char *)p - (char *)&ctxs[0]) / (long)sizeof(ctxs[0]));
	return c && c->magic == CTX_MAGIC ? c->dev : -1;
}

/* The thread's context stack: its top is the current context. */
#define CTX_STACK 32
static __thread CUcontext stack[CTX_STACK];
static __thread int depth;

static CUresult ctx_set_current(CUcontext ctx)
{
	int dev = ctx ? ctx_device(ctx) : -1;

	if (ctx && dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!depth)
		depth = 1;
	stack[depth - 1] = ctx;
	current = dev;
	return CUDA_SUCCESS;
}

static CUresult ctx_get_current(CUcontext *pctx)
{
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = depth ? stack[depth - 1] : NULL;
	return CUDA_SUCCESS;
}

static CUresult ctx_push_current(CUcontext ctx)
{
	int dev = ctx_device(ctx);

	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (depth == CTX_STACK)
		return CUDA_ERROR_OUT_OF_MEMORY;
	stack[depth++] = ctx;
	current = dev;
	return CUDA_SUCCESS;
}

static CUresult ctx_pop_current(CUcontext *pctx)
{
	if (!depth || !stack[depth - 1])
		return CUDA_ERROR_INVALID_CONTEXT;
	if (pctx)
		*pctx = stack[depth - 1];
	depth--;
	current = depth && stack[depth - 1] ? ctx_device(stack[depth - 1]) : -1;
	return CUDA_SUCCESS;
}

static CUresult ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	struct created_ctx *c;
	CUresult r;

	if (!pctx || !valid_flags(flags))
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	c = malloc(sizeof(*c));
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*c = (struct created_ctx){CTX_MAGIC, dev, flags};
	shim_channel_schedule(flags & CU_CTX_SCHED_MASK);
	r = ctx_push_current((CUcontext)c); /* as the driver: the new context is current */
	if (r != CUDA_SUCCESS) {
		free(c);
		return r;
	}
	*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

static CUresult ctx_create_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev)
{
	if (params && (params->execAffinityParams || params->cigParams)) {
		fprintf(stderr, "openmps: cuCtxCreate with execution affinity or CIG parameters is not supported "
				"through openmps yet; it returns CUDA_ERROR_NOT_SUPPORTED\n");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	return ctx_create(pctx, flags, dev);
}

static CUresult ctx_destroy(CUcontext ctx)
{
	struct created_ctx *c = (struct created_ctx *)ctx;
	int i;

	if (ctx_device(ctx) < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((void *)ctx >= (void *)&ctxs[0] && (void *)ctx < (void *)&ctxs[ndevs])
		return CUDA_ERROR_INVALID_CONTEXT; /* a primary context is released, not destroyed */
	for (i = 0; i < depth; i++) /* the driver leaves no thread's stack naming it: this one's at least */
		if (stack[i] == ctx)
			stack[i] = NULL;
	if (depth && !stack[depth - 1])
		current = -1;
	c->magic = 0;
	free(c);
	return CUDA_SUCCESS;
}

static CUresult ctx_get_device(CUdevice *device)
{
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*device = current;
	return CUDA_SUCCESS;
}

static CUresult ctx_get_device_v2(CUdevice *device, CUcontext ctx)
{
	int dev = ctx ? ctx_device(ctx) : current;

	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*device = dev;
	return CUDA_SUCCESS;
}

static CUresult ctx_get_stream_priority_range(int *least, int *greatest)
{
	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (least)
		*least = devs[current].least_priority;
	if (greatest)
		*greatest = devs[current].greatest_priority;
	return CUDA_SUCCESS;
}


static CUresult ctx_synchronize_v2(CUcontext ctx)
{
	CUresult r = shim_device_wait(ctx ? ctx_device(ctx) : current);

	if (r == CUDA_SUCCESS)
		shim_managed_vars_pull();
	return r;
}

static CUresult ctx_get_api_version(CUcontext ctx, unsigned int *version)
{
	int dev = ctx ? ctx_device(ctx) : current;

	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*version = devs[dev].api_version;
	return CUDA_SUCCESS;
}

/* The flags of the thread's current context: a created one's, or its
 * device's primary context's. */
static unsigned int *current_flags(void)
{
	CUcontext ctx = depth ? stack[depth - 1] : NULL;
	struct created_ctx *c = (struct created_ctx *)ctx;

	if (current < 0)
		return NULL;
	if ((void *)ctx >= (void *)&ctxs[0] && (void *)ctx < (void *)&ctxs[ndevs])
		return &primary_flags[current];
	return c && c->magic == CTX_MAGIC ? &c->flags : &primary_flags[current];
}

static CUresult ctx_get_flags(unsigned int *flags)
{
	unsigned int *f = current_flags();

	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (!f)
		return CUDA_ERROR_INVALID_CONTEXT;
	*flags = *f | CU_CTX_MAP_HOST; /* always on, with unified addressing */
	return CUDA_SUCCESS;
}

static CUresult ctx_set_flags(unsigned int flags)
{
	unsigned int *f = current_flags();

	if (!f)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!valid_flags(flags))
		return CUDA_ERROR_INVALID_VALUE;
	*f = flags;
	shim_channel_schedule(flags & CU_CTX_SCHED_MASK);
	return CUDA_SUCCESS;
}

/* Cache and shared-memory bank preferences: the driver may ignore them; in
 * one context shared by every client, a client's preference is its own and
 * is only recorded. */
static __thread CUfunc_cache cache_pref = CU_FUNC_CACHE_PREFER_NONE;

static CUresult ctx_get_cache_config(CUfunc_cache *config)
{
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*config = cache_pref;
	return CUDA_SUCCESS;
}

static CUresult ctx_set_cache_config(CUfunc_cache config)
{
	if (config > CU_FUNC_CACHE_PREFER_EQUAL)
		return CUDA_ERROR_INVALID_VALUE;
	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	cache_pref = config;
	return CUDA_SUCCESS;
}

static CUresult func_set_cache_config(CUfunction f, CUfunc_cache config)
{
	if (!shim_function(f))
		return CUDA_ERROR_INVALID_HANDLE;
	return config > CU_FUNC_CACHE_PREFER_EQUAL ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

static CUresult kernel_set_cache_config(CUkernel k, CUfunc_cache config, CUdevice dev)
{
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	return func_set_cache_config((CUfunction)k, config);
}

/* Shared memory banks have been 4 bytes wide, fixed, since Maxwell: the
 * setting does nothing, as natively, and the width read back is 4 bytes. */
static CUresult ctx_get_shared_config(CUsharedconfig *config)
{
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*config = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
	return CUDA_SUCCESS;
}

static CUresult ctx_set_shared_config(CUsharedconfig config)
{
	if (config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE)
		return CUDA_ERROR_INVALID_VALUE;
	return current < 0 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

static CUresult func_set_shared_config(CUfunction f, CUsharedconfig config)
{
	if (!shim_function(f))
		return CUDA_ERROR_INVALID_HANDLE;
	return config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

static CUresult device_compute_capability(int *major, int *minor, CUdevice dev)
{
	if (!major || !minor)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	*major = devs[dev].attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
	*minor = devs[dev].attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
	return CUDA_SUCCESS;
}

/* "0000:1b:00.0", as the driver writes it. */
static void pci_bus_id(CUdevice dev, char *out, size_t len)
{
	snprintf(out, len, "%08x:%02x:%02x.0", (unsigned)devs[dev].attrs[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID],
		 (unsigned)devs[dev].attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID],
		 (unsigned)devs[dev].attrs[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]);
}

static CUresult device_get_pci_bus_id(char *id, int len, CUdevice dev)
{
	char buf[32];

	if (!id || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	pci_bus_id(dev, buf, sizeof(buf));
	snprintf(id, (size_t)len, "%s", buf);
	return CUDA_SUCCESS;
}

/* Domain, bus and device as numbers: "1b:00.0", "0000:1b:00.0" and the
 * driver's eight-digit domain all name the same device. */
static CUresult device_get_by_pci_bus_id(CUdevice *dev, const char *id)
{
	unsigned int domain = 0, bus, device, fn = 0;
	int i;

	if (!dev || !id)
		return CUDA_ERROR_INVALID_VALUE;
	if (sscanf(id, "%x:%x:%x.%x", &domain, &bus, &device, &fn) < 3) {
		domain = 0;
		if (sscanf(id, "%x:%x.%x", &bus, &device, &fn) < 2)
			return CUDA_ERROR_INVALID_VALUE;
	}
	for (i = 0; i < ndevs; i++)
		if ((unsigned)devs[i].attrs[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] == domain &&
		    (unsigned)devs[i].attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] == bus &&
		    (unsigned)devs[i].attrs[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] == device) {
			*dev = i;
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_INVALID_DEVICE;
}

/* Everything the program made on the device goes (the server's
 * srv_context_reset): its handles for them are dead, as natively. */
static CUresult primary_ctx_reset(CUdevice dev)
{
	struct omps_call_dev m = {.dev = dev};
	struct omps_reply rep;
	CUresult r;

	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	r = shim_call(OMPS_CALL_CTX_RESET, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	shim_stream_reset(dev); /* functions stay: their modules do (srv_context_reset) */
	shim_range_forget_device(dev);
	primary_flags[dev] = 0;
	shim_channel_schedule(CU_CTX_SCHED_AUTO);
	return CUDA_SUCCESS;
}

/* Profiling: tools attach to the server, which runs every client's work;
 * a client's start and stop are accepted and change nothing. */
static CUresult profiler_start(void)
{
	return current < 0 ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

static CUresult ctx_get_id(CUcontext ctx, unsigned long long *id)
{
	int dev = ctx ? ctx_device(ctx) : current;

	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*id = (unsigned long long)dev + 1;
	return CUDA_SUCCESS;
}

/* The server enabled peer access between all its contexts that can have it
 * (peers, from its device facts); a program's enabling is kept here, per
 * device of its current context, for the driver's answers. */
static CUresult device_can_access_peer(int *can, CUdevice dev, CUdevice peer)
{
	if (!can)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev) || !valid(peer))
		return CUDA_ERROR_INVALID_DEVICE;
	*can = (int)(devs[dev].peers >> peer & 1);
	return CUDA_SUCCESS;
}

static atomic_ullong peer_on[OMPS_MAX_DEVICES];

int shim_ctx_device(CUcontext ctx)
{
	return ctx_device(ctx);
}

/* What the driver says of enabling (on) or disabling access from the
 * current context to peer's memory, and the bit of it. */
static CUresult peer_access(CUcontext peer, int on, unsigned long long *bit, int *me)
{
	int p = ctx_device(peer);

	*me = shim_current_device();
	if (*me < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (p < 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (p == *me)
		return CUDA_ERROR_INVALID_DEVICE;
	if (on && !(devs[*me].peers >> p & 1))
		return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
	*bit = 1ull << p;
	return CUDA_SUCCESS;
}

static CUresult ctx_enable_peer_access(CUcontext peer, unsigned int flags)
{
	unsigned long long bit = 0;
	int me;
	CUresult r = flags ? CUDA_ERROR_INVALID_VALUE : peer_access(peer, 1, &bit, &me);

	if (r != CUDA_SUCCESS)
		return r;
	return atomic_fetch_or(&peer_on[me], bit) & bit ? CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED : CUDA_SUCCESS;
}

static CUresult ctx_disable_peer_access(CUcontext peer)
{
	unsigned long long bit = 0;
	int me;
	CUresult r = peer_access(peer, 0, &bit, &me);

	if (r != CUDA_SUCCESS)
		return r;
	return atomic_fetch_and(&peer_on[me], ~bit) & bit ? CUDA_SUCCESS : CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
}

static CUresult ctx_synchronize(void)
{
	return ctx_synchronize_v2(NULL);
}

static CUresult ctx_limit(CUlimit limit, int set, size_t value, size_t *out)
{
	struct omps_call_ctx_limit m = {.dev = current, .limit = (uint32_t)limit, .set = (uint32_t)set,
					.value = value};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	r = shim_call(OMPS_CALL_CTX_LIMIT, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && out)
		*out = (size_t)rep.value;
	return r;
}

static CUresult ctx_get_limit(size_t *value, CUlimit limit)
{
	return value ? ctx_limit(limit, 0, 0, value) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult ctx_set_limit(CUlimit limit, size_t value)
{
	return ctx_limit(limit, 1, value, NULL);
}

/* Features the device has and openmps does not serve yet: reported absent,
 * so that a program that asks first (as the CUDA samples and most
 * frameworks do) takes its other path instead of failing in a refused call.
 * docs/api-coverage.md lists them (gen_coverage.py reads this table). */
static const CUdevice_attribute absent[] = {
	CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS,
	CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1,
	CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS_V1,
	CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR_V1,
	CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES,
	CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_HOST_NUMA_MULTINODE_IPC_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
	CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED,
};

void shim_device_install(const struct omps_device_info *info, int n)
{
	size_t a;
	int i;

	ndevs = n;
	memcpy(devs, info, sizeof(devs[0]) * (size_t)n);
	for (i = 0; i < n; i++) {
		ctxs[i].dev = i;
		for (a = 0; a < sizeof(absent) / sizeof(absent[0]); a++)
			if (absent[a] < OMPS_MAX_ATTRS)
				devs[i].attrs[absent[a]] = 0;
	}
	SHIM_LOCAL(cuDeviceGetCount, device_get_count);
	SHIM_LOCAL(cuDeviceGet, device_get);
	SHIM_LOCAL(cuDeviceGetName, device_get_name);
	SHIM_LOCAL(cuDeviceGetAttribute, device_get_attribute);
	SHIM_LOCAL(cuDeviceTotalMem_v2, device_total_mem);
	SHIM_LOCAL(cuDeviceGetUuid, device_get_uuid);
	SHIM_LOCAL(cuDeviceGetUuid_v2, device_get_uuid);
	SHIM_LOCAL(cuDevicePrimaryCtxRetain, primary_ctx_retain);
	SHIM_LOCAL(cuDevicePrimaryCtxRelease, primary_ctx_release);
	SHIM_LOCAL(cuDevicePrimaryCtxRelease_v2, primary_ctx_release);
	SHIM_LOCAL(cuDevicePrimaryCtxGetState, primary_ctx_get_state);
	SHIM_LOCAL(cuCtxSetCurrent, ctx_set_current);
	SHIM_LOCAL(cuCtxGetCurrent, ctx_get_current);
	SHIM_LOCAL(cuCtxPushCurrent_v2, ctx_push_current);
	SHIM_LOCAL(cuCtxPopCurrent_v2, ctx_pop_current);
	SHIM_LOCAL(cuCtxCreate_v2, ctx_create);
	SHIM_LOCAL(cuCtxCreate_v4, ctx_create_v4);
	SHIM_LOCAL(cuCtxDestroy_v2, ctx_destroy);
	SHIM_LOCAL(cuCtxGetDevice, ctx_get_device);
	SHIM_LOCAL(cuCtxGetDevice_v2, ctx_get_device_v2);
	SHIM_LOCAL(cuCtxGetStreamPriorityRange, ctx_get_stream_priority_range);
	SHIM_INSTALL(cuCtxSynchronize, ctx_synchronize);
	SHIM_INSTALL(cuCtxSynchronize_v2, ctx_synchronize_v2);
	SHIM_INSTALL(cuCtxGetLimit, ctx_get_limit);
	SHIM_LOCAL(cuCtxGetFlags, ctx_get_flags);
	SHIM_LOCAL(cuCtxGetApiVersion, ctx_get_api_version);
	SHIM_LOCAL(cuCtxGetId, ctx_get_id);
	SHIM_LOCAL(cuDeviceCanAccessPeer, device_can_access_peer);
	SHIM_LOCAL(cuCtxEnablePeerAccess, ctx_enable_peer_access);
	SHIM_LOCAL(cuCtxDisablePeerAccess, ctx_disable_peer_access);
	SHIM_INSTALL(cuCtxSetLimit, ctx_set_limit);
	SHIM_LOCAL(cuDevicePrimaryCtxSetFlags_v2, primary_ctx_set_flags);
	SHIM_INSTALL(cuDevicePrimaryCtxReset_v2, primary_ctx_reset);
	SHIM_UNTYPED(cuDevicePrimaryCtxReset, primary_ctx_reset);
	SHIM_LOCAL(cuCtxSetFlags, ctx_set_flags);
	SHIM_LOCAL(cuCtxGetCacheConfig, ctx_get_cache_config);
	SHIM_LOCAL(cuCtxSetCacheConfig, ctx_set_cache_config);
	SHIM_LOCAL(cuFuncSetCacheConfig, func_set_cache_config);
	/* Deprecated in cuda.h, still called (cudaDeviceSetSharedMemConfig). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	SHIM_LOCAL(cuCtxGetSharedMemConfig, ctx_get_shared_config);
	SHIM_LOCAL(cuCtxSetSharedMemConfig, ctx_set_shared_config);
	SHIM_LOCAL(cuFuncSetSharedMemConfig, func_set_shared_config);
#pragma GCC diagnostic pop
	SHIM_LOCAL(cuKernelSetCacheConfig, kernel_set_cache_config);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* still called: served */
	SHIM_LOCAL(cuDeviceComputeCapability, device_compute_capability);
#pragma GCC diagnostic pop
	SHIM_LOCAL(cuDeviceGetPCIBusId, device_get_pci_bus_id);
	SHIM_LOCAL(cuDeviceGetByPCIBusId, device_get_by_pci_bus_id);
	SHIM_LOCAL(cuProfilerStart, profiler_start);
	SHIM_LOCAL(cuProfilerStop, profiler_start);
}
