/* The real CUDA driver, loaded by path with dlopen: OPENMPS_DRIVER_PATH
 * (tests point it at tests/fakecuda) or the system's libcuda.so.1. The
 * server must never load the openmps shim in its place. */
#ifndef OPENMPS_DRIVER_H
#define OPENMPS_DRIVER_H

#include <cuda.h>
#include <stddef.h>

struct omps_driver {
	void *handle;
	CUresult (*init)(unsigned int);
	CUresult (*driver_get_version)(int *);
	CUresult (*device_get_count)(int *);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*device_get_name)(char *, int, CUdevice);
	CUresult (*device_get_uuid)(CUuuid *, CUdevice);
	CUresult (*device_get_attribute)(int *, CUdevice_attribute, CUdevice);
	CUresult (*device_total_mem)(size_t *, CUdevice);
	CUresult (*primary_ctx_retain)(CUcontext *, CUdevice);
	CUresult (*primary_ctx_release)(CUdevice);
	CUresult (*get_error_name)(CUresult, const char **);
	CUresult (*ctx_set_current)(CUcontext);
	CUresult (*stream_create)(CUstream *, unsigned int);
	CUresult (*stream_destroy)(CUstream);
	CUresult (*stream_synchronize)(CUstream);
	CUresult (*mem_alloc)(CUdeviceptr *, size_t);
	CUresult (*mem_free)(CUdeviceptr);
	CUresult (*mem_get_info)(size_t *, size_t *);
	CUresult (*memset_d8_async)(CUdeviceptr, unsigned char, size_t, CUstream);
	CUresult (*memset_d16_async)(CUdeviceptr, unsigned short, size_t, CUstream);
	CUresult (*memset_d32_async)(CUdeviceptr, unsigned int, size_t, CUstream);
	CUresult (*memcpy_htod_async)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*memcpy_dtoh_async)(void *, CUdeviceptr, size_t, CUstream);
	CUresult (*memcpy_dtod_async)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
	CUresult (*module_load_data)(CUmodule *, const void *);
	CUresult (*module_unload)(CUmodule);
	CUresult (*module_get_function)(CUfunction *, CUmodule, const char *);
	CUresult (*func_get_param_info)(CUfunction, size_t, size_t *, size_t *);
	CUresult (*launch_kernel)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int,
				  unsigned int, unsigned int, CUstream, void **, void **);
	CUresult (*stream_create_with_priority)(CUstream *, unsigned int, int);
	CUresult (*stream_query)(CUstream);
	CUresult (*stream_wait_event)(CUstream, CUevent, unsigned int);
	CUresult (*event_create)(CUevent *, unsigned int);
	CUresult (*event_destroy)(CUevent);
	CUresult (*event_record)(CUevent, CUstream);
	CUresult (*event_synchronize)(CUevent);
	CUresult (*event_query)(CUevent);
	CUresult (*event_elapsed_time)(float *, CUevent, CUevent);
	CUresult (*module_get_global)(CUdeviceptr *, size_t *, CUmodule, const char *);
	CUresult (*func_get_attribute)(int *, CUfunction_attribute, CUfunction);
	CUresult (*func_set_attribute)(CUfunction, CUfunction_attribute, int);
	CUresult (*occupancy_blocks)(int *, CUfunction, int, size_t, unsigned int);
	CUresult (*occupancy_dynamic_smem)(size_t *, CUfunction, int, int);
	CUresult (*occupancy_clusters)(int *, CUfunction, const CUlaunchConfig *);
	CUresult (*launch_kernel_ex)(const CUlaunchConfig *, CUfunction, void **, void **);
	CUresult (*ctx_get_stream_priority_range)(int *, int *);
	CUresult (*ctx_get_api_version)(CUcontext, unsigned int *);
	CUresult (*ctx_get_limit)(size_t *, CUlimit);
	CUresult (*ctx_set_limit)(CUlimit, size_t);
	CUresult (*memcpy_2d_async)(const CUDA_MEMCPY2D *, CUstream);
	CUresult (*memset_d2d8_async)(CUdeviceptr, size_t, unsigned char, size_t, size_t, CUstream);
	CUresult (*memset_d2d16_async)(CUdeviceptr, size_t, unsigned short, size_t, size_t, CUstream);
	CUresult (*memset_d2d32_async)(CUdeviceptr, size_t, unsigned int, size_t, size_t, CUstream);
	CUresult (*mem_pool_create)(CUmemoryPool *, const CUmemPoolProps *);
	CUresult (*mem_pool_destroy)(CUmemoryPool);
	CUresult (*mem_alloc_from_pool_async)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
	CUresult (*mem_free_async)(CUdeviceptr, CUstream);
	CUresult (*mem_pool_set_attribute)(CUmemoryPool, CUmemPool_attribute, void *);
	CUresult (*mem_pool_get_attribute)(CUmemoryPool, CUmemPool_attribute, void *);
	CUresult (*mem_pool_trim_to)(CUmemoryPool, size_t);
	CUresult (*mem_host_register)(void *, size_t, unsigned int);
	CUresult (*mem_host_unregister)(void *);
	CUresult (*mem_host_get_device_pointer)(CUdeviceptr *, void *, unsigned int);
	CUresult (*stream_write_value32)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
	CUresult (*stream_wait_value32)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
	CUresult (*launch_host_func)(CUstream, CUhostFn, void *);
	CUresult (*stream_begin_capture)(CUstream, CUstreamCaptureMode);
	CUresult (*stream_end_capture)(CUstream, CUgraph *);
	CUresult (*stream_is_capturing)(CUstream, CUstreamCaptureStatus *);
	CUresult (*stream_get_capture_info)(CUstream, CUstreamCaptureStatus *, cuuint64_t *, CUgraph *,
					    const CUgraphNode **, const CUgraphEdgeData **, size_t *);
	CUresult (*graph_instantiate)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*graph_launch)(CUgraphExec, CUstream);
	CUresult (*graph_upload)(CUgraphExec, CUstream);
	CUresult (*graph_destroy)(CUgraph);
	CUresult (*graph_exec_destroy)(CUgraphExec);
	CUresult (*graph_get_nodes)(CUgraph, CUgraphNode *, size_t *);
	/* Green contexts (CUDA 12.4 and later): NULL where the driver lacks them. */
	CUresult (*device_get_dev_resource)(CUdevice, CUdevResource *, CUdevResourceType);
	CUresult (*dev_sm_resource_split_by_count)(CUdevResource *, unsigned int *, const CUdevResource *,
						   CUdevResource *, unsigned int, unsigned int);
	CUresult (*dev_resource_generate_desc)(CUdevResourceDesc *, CUdevResource *, unsigned int);
	CUresult (*green_ctx_create)(CUgreenCtx *, CUdevResourceDesc, CUdevice, unsigned int);
	CUresult (*green_ctx_stream_create)(CUstream *, CUgreenCtx, unsigned int, int);
};

/* Loads and resolves the driver; on failure writes why to err. */
int omps_driver_load(struct omps_driver *drv, char *err, size_t errlen);

/* "CUDA_ERROR_NO_DEVICE (100)" */
void omps_driver_strerror(const struct omps_driver *drv, CUresult r, char *buf, size_t len);

#endif
