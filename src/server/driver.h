/* The real CUDA driver, loaded by path with dlopen: OPENMPS_DRIVER_PATH
 * (tests point it at tests/fakecuda) or the system's libcuda.so.1. The
 * server must never load the openmps shim in its place. */
#ifndef OPENMPS_DRIVER_H
#define OPENMPS_DRIVER_H

#include <cuda.h>
#include <stddef.h>

/* Every driver function the server calls: X(field, cuName), or OPT for one
 * it does without (CUDA 12.4 and later: without green contexts SM shares
 * are logged as not enforced; other calls answer CUDA_ERROR_NOT_SUPPORTED). A field's type is the function's own from
 * cuda.h, and the symbol looked up is the name cuda.h's #defines map it to
 * (cuMemAlloc: "cuMemAlloc_v2"), so both are checked by the compiler;
 * tests/fakecuda is checked against the same list. */
#define SRV_DRIVER_CALLS(X, OPT) \
	X(init, cuInit) \
	X(driver_get_version, cuDriverGetVersion) \
	X(device_get_count, cuDeviceGetCount) \
	X(device_get, cuDeviceGet) \
	X(device_get_name, cuDeviceGetName) \
	X(device_get_uuid, cuDeviceGetUuid) \
	X(device_get_attribute, cuDeviceGetAttribute) \
	X(device_total_mem, cuDeviceTotalMem) \
	X(primary_ctx_retain, cuDevicePrimaryCtxRetain) \
	X(primary_ctx_release, cuDevicePrimaryCtxRelease) \
	X(get_error_name, cuGetErrorName) \
	X(ctx_set_current, cuCtxSetCurrent) \
	X(stream_create, cuStreamCreate) \
	X(stream_destroy, cuStreamDestroy) \
	X(stream_synchronize, cuStreamSynchronize) \
	X(mem_alloc, cuMemAlloc) \
	X(mem_free, cuMemFree) \
	X(mem_get_info, cuMemGetInfo) \
	X(memset_d8_async, cuMemsetD8Async) \
	X(memset_d16_async, cuMemsetD16Async) \
	X(memset_d32_async, cuMemsetD32Async) \
	X(memcpy_htod_async, cuMemcpyHtoDAsync) \
	X(memcpy_dtoh_async, cuMemcpyDtoHAsync) \
	X(memcpy_dtod_async, cuMemcpyDtoDAsync) \
	X(memcpy_peer_async, cuMemcpyPeerAsync) \
	X(device_can_access_peer, cuDeviceCanAccessPeer) \
	X(ctx_enable_peer_access, cuCtxEnablePeerAccess) \
	X(module_load_data, cuModuleLoadData) \
	X(module_unload, cuModuleUnload) \
	X(module_get_function, cuModuleGetFunction) \
	X(func_get_param_info, cuFuncGetParamInfo) \
	X(launch_kernel, cuLaunchKernel) \
	X(stream_create_with_priority, cuStreamCreateWithPriority) \
	X(stream_query, cuStreamQuery) \
	X(stream_wait_event, cuStreamWaitEvent) \
	X(event_create, cuEventCreate) \
	X(event_destroy, cuEventDestroy) \
	X(event_record, cuEventRecord) \
	X(event_synchronize, cuEventSynchronize) \
	X(event_query, cuEventQuery) \
	X(event_elapsed_time, cuEventElapsedTime) \
	X(module_get_global, cuModuleGetGlobal) \
	X(func_get_attribute, cuFuncGetAttribute) \
	X(func_set_attribute, cuFuncSetAttribute) \
	X(occupancy_blocks, cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags) \
	X(occupancy_dynamic_smem, cuOccupancyAvailableDynamicSMemPerBlock) \
	X(occupancy_clusters, cuOccupancyMaxActiveClusters) \
	OPT(occupancy_cluster_size, cuOccupancyMaxPotentialClusterSize) \
	X(launch_kernel_ex, cuLaunchKernelEx) \
	X(ctx_get_stream_priority_range, cuCtxGetStreamPriorityRange) \
	X(ctx_get_api_version, cuCtxGetApiVersion) \
	X(ctx_get_limit, cuCtxGetLimit) \
	X(ctx_set_limit, cuCtxSetLimit) \
	X(memcpy_2d_async, cuMemcpy2DAsync) \
	X(memset_d2d8_async, cuMemsetD2D8Async) \
	X(memset_d2d16_async, cuMemsetD2D16Async) \
	X(memset_d2d32_async, cuMemsetD2D32Async) \
	X(mem_pool_create, cuMemPoolCreate) \
	X(mem_pool_destroy, cuMemPoolDestroy) \
	X(mem_alloc_from_pool_async, cuMemAllocFromPoolAsync) \
	X(mem_free_async, cuMemFreeAsync) \
	X(mem_pool_set_attribute, cuMemPoolSetAttribute) \
	X(mem_pool_set_access, cuMemPoolSetAccess) \
	X(mem_pool_get_attribute, cuMemPoolGetAttribute) \
	X(mem_pool_trim_to, cuMemPoolTrimTo) \
	X(mem_host_register, cuMemHostRegister) \
	X(mem_host_unregister, cuMemHostUnregister) \
	X(mem_host_get_device_pointer, cuMemHostGetDevicePointer) \
	X(stream_write_value32, cuStreamWriteValue32) \
	X(stream_wait_value32, cuStreamWaitValue32) \
	X(launch_host_func, cuLaunchHostFunc) \
	X(stream_begin_capture, cuStreamBeginCapture) \
	X(stream_end_capture, cuStreamEndCapture) \
	X(stream_is_capturing, cuStreamIsCapturing) \
	X(stream_get_capture_info, cuStreamGetCaptureInfo) \
	X(graph_instantiate, cuGraphInstantiateWithFlags) \
	X(graph_launch, cuGraphLaunch) \
	X(graph_upload, cuGraphUpload) \
	X(graph_destroy, cuGraphDestroy) \
	X(graph_exec_destroy, cuGraphExecDestroy) \
	X(graph_get_nodes, cuGraphGetNodes) \
	OPT(graph_create, cuGraphCreate) \
	OPT(graph_add_node, cuGraphAddNode) \
	OPT(graph_add_dependencies, cuGraphAddDependencies) \
	OPT(graph_clone, cuGraphClone) \
	OPT(graph_node_set_params, cuGraphNodeSetParams) \
	OPT(graph_exec_node_set_params, cuGraphExecNodeSetParams) \
	OPT(graph_exec_update, cuGraphExecUpdate) \
	OPT(graph_conditional_handle_create, cuGraphConditionalHandleCreate) \
	OPT(graph_get_edges, cuGraphGetEdges) \
	OPT(graph_get_root_nodes, cuGraphGetRootNodes) \
	OPT(graph_node_get_dependencies, cuGraphNodeGetDependencies) \
	OPT(graph_node_get_dependent_nodes, cuGraphNodeGetDependentNodes) \
	OPT(graph_node_set_enabled, cuGraphNodeSetEnabled) \
	OPT(graph_node_get_enabled, cuGraphNodeGetEnabled) \
	OPT(graph_node_get_type, cuGraphNodeGetType) \
	OPT(graph_kernel_node_get_params, cuGraphKernelNodeGetParams) \
	OPT(graph_memset_node_get_params, cuGraphMemsetNodeGetParams) \
	OPT(graph_memcpy_node_get_params, cuGraphMemcpyNodeGetParams) \
	OPT(graph_event_record_node_get_event, cuGraphEventRecordNodeGetEvent) \
	OPT(graph_event_wait_node_get_event, cuGraphEventWaitNodeGetEvent) \
	OPT(graph_child_graph_node_get_graph, cuGraphChildGraphNodeGetGraph) \
	OPT(graph_kernel_node_get_attribute, cuGraphKernelNodeGetAttribute) \
	OPT(graph_kernel_node_set_attribute, cuGraphKernelNodeSetAttribute) \
	OPT(graph_mem_alloc_node_get_params, cuGraphMemAllocNodeGetParams) \
	OPT(graph_mem_free_node_get_params, cuGraphMemFreeNodeGetParams) \
	OPT(graph_batch_mem_op_node_get_params, cuGraphBatchMemOpNodeGetParams) \
	OPT(stream_update_capture_dependencies, cuStreamUpdateCaptureDependencies) \
	OPT(mem_get_allocation_granularity, cuMemGetAllocationGranularity) \
	OPT(stream_write_value64, cuStreamWriteValue64) \
	OPT(stream_wait_value64, cuStreamWaitValue64) \
	OPT(mem_address_reserve, cuMemAddressReserve) \
	OPT(mem_address_free, cuMemAddressFree) \
	OPT(mem_create, cuMemCreate) \
	OPT(mem_release, cuMemRelease) \
	OPT(mem_map, cuMemMap) \
	OPT(mem_unmap, cuMemUnmap) \
	OPT(mem_set_access, cuMemSetAccess) \
	OPT(mem_export_to_shareable_handle, cuMemExportToShareableHandle) \
	OPT(mem_import_from_shareable_handle, cuMemImportFromShareableHandle) \
	OPT(module_get_function_count, cuModuleGetFunctionCount) \
	OPT(module_enumerate_functions, cuModuleEnumerateFunctions) \
	OPT(func_get_name, cuFuncGetName) \
	OPT(array_3d_create, cuArray3DCreate) \
	OPT(array_destroy, cuArrayDestroy) \
	OPT(memcpy_3d_async, cuMemcpy3DAsync) \
	OPT(tex_object_create, cuTexObjectCreate) \
	OPT(tex_object_destroy, cuTexObjectDestroy) \
	OPT(surf_object_create, cuSurfObjectCreate) \
	OPT(surf_object_destroy, cuSurfObjectDestroy) \
	OPT(mipmapped_array_create, cuMipmappedArrayCreate) \
	OPT(mipmapped_array_get_level, cuMipmappedArrayGetLevel) \
	OPT(mipmapped_array_destroy, cuMipmappedArrayDestroy) \
	OPT(link_create, cuLinkCreate) \
	OPT(link_add_data, cuLinkAddData) \
	OPT(link_complete, cuLinkComplete) \
	OPT(link_destroy, cuLinkDestroy) \
	OPT(device_get_dev_resource, cuDeviceGetDevResource) \
	OPT(dev_sm_resource_split_by_count, cuDevSmResourceSplitByCount) \
	OPT(dev_resource_generate_desc, cuDevResourceGenerateDesc) \
	OPT(green_ctx_create, cuGreenCtxCreate) \
	OPT(green_ctx_stream_create, cuGreenCtxStreamCreate)

struct srv_driver {
	void *handle;
#define SRV_DRIVER_FIELD(field, name) __typeof__(&name) field;
	SRV_DRIVER_CALLS(SRV_DRIVER_FIELD, SRV_DRIVER_FIELD)
#undef SRV_DRIVER_FIELD
};

/* Loads and resolves the driver; on failure writes why to err. */
int srv_driver_load(struct srv_driver *drv, char *err, size_t errlen);

/* "CUDA_ERROR_NO_DEVICE (100)" */
void srv_driver_strerror(const struct srv_driver *drv, CUresult r, char *buf, size_t len);

#endif
