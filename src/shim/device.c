/* Devices and contexts in remote mode. Device facts come from the cache the
 * server sent when the channel opened, so queries cost no round trip (cudart
 * asks for attributes a hundred times at start-up). Contexts are the
 * client's own handles for the server's one primary context per device. */
#include <string.h>

#include "shim.h"

static struct omps_device_info devs[OMPS_MAX_DEVICES];
static int ndevs;

/* A context handle is the address of its device's slot. */
static struct {
	int dev;
} ctxs[OMPS_MAX_DEVICES];
static __thread int current = -1;

int omps_current_device(void)
{
	return current;
}

int omps_device_attr(int dev, CUdevice_attribute a)
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

static CUresult primary_ctx_get_state(CUdevice dev, unsigned int *flags, int *active)
{
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	*flags = 0;
	*active = 1;
	return CUDA_SUCCESS;
}

static int ctx_device(CUcontext ctx)
{
	void *p = ctx;

	if (p < (void *)&ctxs[0] || p >= (void *)&ctxs[ndevs])
		return -1;
	return (int)(((char *)p - (char *)&ctxs[0]) / (long)sizeof(ctxs[0]));
}

static CUresult ctx_set_current(CUcontext ctx)
{
	int dev = ctx ? ctx_device(ctx) : -1;

	if (ctx && dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	current = dev;
	return CUDA_SUCCESS;
}

static CUresult ctx_get_current(CUcontext *pctx)
{
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = current >= 0 ? (CUcontext)&ctxs[current] : NULL;
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
	int dev = ctx ? ctx_device(ctx) : current;
	struct omps_call_dev m = {.dev = dev};
	struct omps_reply rep;

	if (dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	return omps_call(OMPS_CALL_SYNCHRONIZE, &m, sizeof(m), &rep, sizeof(rep));
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

/* The server's contexts are plain primary contexts. */
static CUresult ctx_get_flags(unsigned int *flags)
{
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (current < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*flags = 0;
	return CUDA_SUCCESS;
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

/* One server owns the devices; peer access between them is not remoted. */
static CUresult device_can_access_peer(int *can, CUdevice dev, CUdevice peer)
{
	if (!can)
		return CUDA_ERROR_INVALID_VALUE;
	if (!valid(dev) || !valid(peer))
		return CUDA_ERROR_INVALID_DEVICE;
	*can = 0;
	return CUDA_SUCCESS;
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
	r = omps_call(OMPS_CALL_CTX_LIMIT, &m, sizeof(m), &rep, sizeof(rep));
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

void omps_device_install(const struct omps_device_info *info, int n)
{
	int i;

	ndevs = n;
	memcpy(devs, info, sizeof(devs[0]) * (size_t)n);
	for (i = 0; i < n; i++)
		ctxs[i].dev = i;
	OMPS_INSTALL(cuDeviceGetCount, device_get_count);
	OMPS_INSTALL(cuDeviceGet, device_get);
	OMPS_INSTALL(cuDeviceGetName, device_get_name);
	OMPS_INSTALL(cuDeviceGetAttribute, device_get_attribute);
	OMPS_INSTALL(cuDeviceTotalMem_v2, device_total_mem);
	OMPS_INSTALL(cuDeviceGetUuid, device_get_uuid);
	OMPS_INSTALL(cuDeviceGetUuid_v2, device_get_uuid);
	OMPS_INSTALL(cuDevicePrimaryCtxRetain, primary_ctx_retain);
	OMPS_INSTALL(cuDevicePrimaryCtxRelease, primary_ctx_release);
	OMPS_INSTALL(cuDevicePrimaryCtxRelease_v2, primary_ctx_release);
	OMPS_INSTALL(cuDevicePrimaryCtxGetState, primary_ctx_get_state);
	OMPS_INSTALL(cuCtxSetCurrent, ctx_set_current);
	OMPS_INSTALL(cuCtxGetCurrent, ctx_get_current);
	OMPS_INSTALL(cuCtxGetDevice, ctx_get_device);
	OMPS_INSTALL(cuCtxGetDevice_v2, ctx_get_device_v2);
	OMPS_INSTALL(cuCtxGetStreamPriorityRange, ctx_get_stream_priority_range);
	OMPS_INSTALL(cuCtxSynchronize, ctx_synchronize);
	OMPS_INSTALL(cuCtxSynchronize_v2, ctx_synchronize_v2);
	OMPS_INSTALL(cuCtxGetLimit, ctx_get_limit);
	OMPS_INSTALL(cuCtxGetFlags, ctx_get_flags);
	OMPS_INSTALL(cuCtxGetApiVersion, ctx_get_api_version);
	OMPS_INSTALL(cuCtxGetId, ctx_get_id);
	OMPS_INSTALL(cuDeviceCanAccessPeer, device_can_access_peer);
	OMPS_INSTALL(cuCtxSetLimit, ctx_set_limit);
}
