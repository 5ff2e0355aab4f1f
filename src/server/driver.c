#include "driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

struct sym {
	const char *name;
	size_t offset;
};

#define SYM(field, name) {name, offsetof(struct omps_driver, field)}

/* Versioned names as cuda.h's #defines map them for CUDA 13. */
static const struct sym syms[] = {
	SYM(init, "cuInit"),
	SYM(driver_get_version, "cuDriverGetVersion"),
	SYM(device_get_count, "cuDeviceGetCount"),
	SYM(device_get, "cuDeviceGet"),
	SYM(device_get_name, "cuDeviceGetName"),
	SYM(device_get_uuid, "cuDeviceGetUuid_v2"),
	SYM(device_get_attribute, "cuDeviceGetAttribute"),
	SYM(device_total_mem, "cuDeviceTotalMem_v2"),
	SYM(primary_ctx_retain, "cuDevicePrimaryCtxRetain"),
	SYM(primary_ctx_release, "cuDevicePrimaryCtxRelease_v2"),
	SYM(get_error_name, "cuGetErrorName"),
	SYM(ctx_set_current, "cuCtxSetCurrent"),
	SYM(stream_create, "cuStreamCreate"),
	SYM(stream_destroy, "cuStreamDestroy_v2"),
	SYM(stream_synchronize, "cuStreamSynchronize"),
	SYM(mem_alloc, "cuMemAlloc_v2"),
	SYM(mem_free, "cuMemFree_v2"),
	SYM(mem_get_info, "cuMemGetInfo_v2"),
	SYM(memset_d8_async, "cuMemsetD8Async"),
	SYM(memset_d16_async, "cuMemsetD16Async"),
	SYM(memset_d32_async, "cuMemsetD32Async"),
	SYM(memcpy_htod_async, "cuMemcpyHtoDAsync_v2"),
	SYM(memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2"),
	SYM(memcpy_dtod_async, "cuMemcpyDtoDAsync_v2"),
	SYM(module_load_data, "cuModuleLoadData"),
	SYM(module_unload, "cuModuleUnload"),
	SYM(module_get_function, "cuModuleGetFunction"),
	SYM(func_get_param_info, "cuFuncGetParamInfo"),
	SYM(launch_kernel, "cuLaunchKernel"),
	SYM(stream_create_with_priority, "cuStreamCreateWithPriority"),
	SYM(stream_query, "cuStreamQuery"),
	SYM(stream_wait_event, "cuStreamWaitEvent"),
	SYM(event_create, "cuEventCreate"),
	SYM(event_destroy, "cuEventDestroy_v2"),
	SYM(event_record, "cuEventRecord"),
	SYM(event_synchronize, "cuEventSynchronize"),
	SYM(event_query, "cuEventQuery"),
	SYM(event_elapsed_time, "cuEventElapsedTime_v2"),
	SYM(module_get_global, "cuModuleGetGlobal_v2"),
	SYM(func_get_attribute, "cuFuncGetAttribute"),
	SYM(func_set_attribute, "cuFuncSetAttribute"),
	SYM(occupancy_blocks, "cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags"),
	SYM(occupancy_dynamic_smem, "cuOccupancyAvailableDynamicSMemPerBlock"),
	SYM(occupancy_clusters, "cuOccupancyMaxActiveClusters"),
	SYM(launch_kernel_ex, "cuLaunchKernelEx"),
	SYM(ctx_get_stream_priority_range, "cuCtxGetStreamPriorityRange"),
	SYM(ctx_get_api_version, "cuCtxGetApiVersion"),
	SYM(ctx_get_limit, "cuCtxGetLimit"),
	SYM(ctx_set_limit, "cuCtxSetLimit"),
	SYM(memcpy_2d_async, "cuMemcpy2DAsync_v2"),
	SYM(memset_d2d8_async, "cuMemsetD2D8Async"),
	SYM(memset_d2d16_async, "cuMemsetD2D16Async"),
	SYM(memset_d2d32_async, "cuMemsetD2D32Async"),
	SYM(mem_pool_create, "cuMemPoolCreate"),
	SYM(mem_pool_destroy, "cuMemPoolDestroy"),
	SYM(mem_alloc_from_pool_async, "cuMemAllocFromPoolAsync"),
	SYM(mem_free_async, "cuMemFreeAsync"),
	SYM(mem_pool_set_attribute, "cuMemPoolSetAttribute"),
	SYM(mem_pool_get_attribute, "cuMemPoolGetAttribute"),
	SYM(mem_pool_trim_to, "cuMemPoolTrimTo"),
	SYM(mem_host_register, "cuMemHostRegister_v2"),
	SYM(mem_host_unregister, "cuMemHostUnregister"),
	SYM(mem_host_get_device_pointer, "cuMemHostGetDevicePointer_v2"),
	SYM(stream_write_value32, "cuStreamWriteValue32_v2"),
	SYM(stream_wait_value32, "cuStreamWaitValue32_v2"),
	SYM(launch_host_func, "cuLaunchHostFunc"),
	SYM(stream_begin_capture, "cuStreamBeginCapture_v2"),
	SYM(stream_end_capture, "cuStreamEndCapture"),
	SYM(stream_is_capturing, "cuStreamIsCapturing"),
	SYM(stream_get_capture_info, "cuStreamGetCaptureInfo_v3"),
	SYM(graph_instantiate, "cuGraphInstantiateWithFlags"),
	SYM(graph_launch, "cuGraphLaunch"),
	SYM(graph_upload, "cuGraphUpload"),
	SYM(graph_destroy, "cuGraphDestroy"),
	SYM(graph_exec_destroy, "cuGraphExecDestroy"),
	SYM(graph_get_nodes, "cuGraphGetNodes"),
};

/* Used where present: without them, SM shares are logged as not enforced. */
static const struct sym optional_syms[] = {
	SYM(device_get_dev_resource, "cuDeviceGetDevResource"),
	SYM(dev_sm_resource_split_by_count, "cuDevSmResourceSplitByCount"),
	SYM(dev_resource_generate_desc, "cuDevResourceGenerateDesc"),
	SYM(green_ctx_create, "cuGreenCtxCreate"),
	SYM(green_ctx_stream_create, "cuGreenCtxStreamCreate"),
};

int omps_driver_load(struct omps_driver *drv, char *err, size_t errlen)
{
	const char *path = getenv("OPENMPS_DRIVER_PATH");
	size_t i;

	if (!path || !*path)
		path = "libcuda.so.1";
	drv->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!drv->handle) {
		snprintf(err, errlen, "cannot load the CUDA driver %s: %s", path, dlerror());
		return -1;
	}
	if (dlsym(drv->handle, "openmps_shim_version")) {
		snprintf(err, errlen,
			 "%s is the openmps client shim, not the CUDA driver: remove the shim's directory "
			 "from the daemon's LD_LIBRARY_PATH or set OPENMPS_DRIVER_PATH",
			 path);
		goto fail;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(drv->handle, syms[i].name);

		if (!f) {
			snprintf(err, errlen, "the CUDA driver %s lacks %s", path, syms[i].name);
			goto fail;
		}
		*(void **)((char *)drv + syms[i].offset) = f;
	}
	for (i = 0; i < sizeof(optional_syms) / sizeof(optional_syms[0]); i++)
		*(void **)((char *)drv + optional_syms[i].offset) = dlsym(drv->handle, optional_syms[i].name);
	return 0;
fail:
	dlclose(drv->handle);
	drv->handle = NULL;
	return -1;
}

void omps_driver_strerror(const struct omps_driver *drv, CUresult r, char *buf, size_t len)
{
	const char *name = NULL;

	if (drv->get_error_name && drv->get_error_name(r, &name) != CUDA_SUCCESS)
		name = NULL;
	snprintf(buf, len, "%s (%d)", name ? name : "CUDA error", (int)r);
}
