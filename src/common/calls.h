/* The data channel's calls: the records a client posts in its request ring
 * and the replies it gets in its reply ring (ring.h), shim <-> server.
 *
 * OMPS_CALLS is the one list of calls. Each row says:
 *   NAME    OMPS_CALL_NAME, its number on the wire (rows keep their order:
 *           the numbers are the protocol's, OMPS_PROTOCOL_VERSION covers them)
 *   family  the file on each side that serves it (src/server/FAMILY.c)
 *   handler the server's function for it: srv_FAMILY_HANDLER (calls alike
 *           may share one, which tells them apart by c->call)
 *   record  struct omps_call_RECORD, the fixed part of the record
 *   shape   FIXED: exactly the record; TAIL: the record, then data
 *           (the handler gets both); RAW: bytes only, no record
 *   reply   SYNC: exactly one reply record (after any data records);
 *           ASYNC: none, a failure is reported at the client's next
 *           synchronous call, as the driver reports asynchronous errors;
 *           MIXED: as the record says (a 2D copy from the device is SYNC)
 *   log     what server.log calls it
 * The enum, the names, the sizes, and the server's dispatch table and
 * handler prototypes (src/server/dispatch.c, server.h) all come from it.
 */
#ifndef OPENMPS_CALLS_H
#define OPENMPS_CALLS_H

#include <stddef.h>
#include <stdint.h>

enum omps_reply_type {
	OMPS_REPLY = 1,	 /* omps_reply or a larger struct starting with it */
	OMPS_REPLY_DATA, /* raw bytes of a device-to-host copy */
};

struct omps_call_dev {
	int32_t dev;
};

struct omps_call_alloc {
	int32_t dev;
	uint32_t reserved;
	uint64_t bytes;
};

/* Stream-ordered allocations come from the client's own pool on the device
 * (one a client and device, made at its first use): its attributes are the
 * client's to set, and it goes with the client. */
struct omps_call_free_async {
	int32_t dev;
	uint32_t stream;
	uint64_t ptr;
};

#define OMPS_POOL_TRIM 0xffffffffu /* attr: cuMemPoolTrimTo(value) */

struct omps_call_pool_attr {
	int32_t dev;
	uint32_t attr; /* a CUmemPool_attribute, or OMPS_POOL_TRIM */
	uint32_t set;
	uint32_t reserved;
	uint64_t value; /* int attributes travel widened */
};

struct omps_call_ptr {
	uint64_t ptr;
};

/* A stream handle of 0 is the client's NULL stream on device `dev`; others
 * are handles the server gave out, whose own device is used. */
struct omps_call_memset {
	int32_t dev;
	uint32_t value;
	uint32_t elem; /* 1, 2 or 4 bytes */
	uint32_t stream;
	uint64_t ptr;
	uint64_t count; /* elements */
};

struct omps_call_copy {
	int32_t dev;
	uint32_t stream;
	uint64_t dst, src; /* device addresses; the host side is the record or the reply */
	uint64_t bytes;
};

enum omps_copy_kind { OMPS_COPY_HTOD = 1, OMPS_COPY_DTOH, OMPS_COPY_DTOD };

/* A copy between two devices' memory (cuMemcpyPeer): on stream, or, for 0,
 * on the source device's NULL stream, after the client's work on both
 * devices and before its later work on the destination's, as the driver
 * orders it. The two ordinals are the client's; the handler translates. */
struct omps_call_copy_peer {
	int32_t src_dev, dst_dev;
	uint32_t stream;
	uint32_t reserved;
	uint64_t dst, src, bytes;
};

/* Rows of width bytes; on the host side the rows are packed (pitch = width).
 * A device side may be a CUDA array of the client's (dst_array, src_array:
 * its handle, 0 for linear memory): then dst/src is the x offset in bytes,
 * and the rows start at row y of slice z. */
struct omps_call_copy2d {
	int32_t dev;
	uint32_t stream;
	uint32_t kind; /* enum omps_copy_kind */
	uint32_t reserved;
	uint64_t dst, dst_pitch, src, src_pitch; /* the device sides' */
	uint64_t width, height;
	uint32_t dst_array, src_array;
	uint64_t dst_y, dst_z, src_y, src_z; /* arrays only */
};

/* CUDA arrays (cuArray3DCreate's descriptor, as the driver's fields). */
struct omps_call_array_create {
	int32_t dev;
	uint32_t format, channels, flags;
	uint64_t width, height, depth;
};

/* A mipmapped array: its levels are arrays of the client's once asked for
 * (MIPMAP_LEVEL gives the same handle for the same level), which go with it. */
struct omps_call_mipmap_create {
	struct omps_call_array_create a;
	uint32_t levels;
	uint32_t reserved;
};

struct omps_call_mipmap_level {
	uint32_t handle; /* the mipmapped array's */
	uint32_t level;
};

/* A texture (kind 0) or surface (kind 1) object over a resource: a CUDA
 * array of the client's (res_type 0, CU_RESOURCE_TYPE_ARRAY), a mipmapped one (1), linear device
 * memory (2) or pitched 2D memory (3); the descriptors' fields as the
 * driver's, flattened. */
struct omps_call_tex_create {
	int32_t dev;
	uint32_t kind;
	uint32_t res_type, array; /* array: the client's handle */
	uint64_t ptr, bytes, width, height, pitch;
	uint32_t format, channels, res_flags, has_view;
	uint32_t address_mode[3], filter_mode, tex_flags, max_anisotropy, mipmap_filter_mode;
	float mipmap_bias, min_mipmap_clamp, max_mipmap_clamp, border[4];
	uint32_t view_format, view_first_mip, view_last_mip, view_first_layer, view_last_layer;
	uint64_t view_width, view_height, view_depth;
};

struct omps_call_tex_destroy {
	uint64_t object; /* the texture or surface object the server gave */
	uint32_t kind;
	uint32_t reserved;
};

/* The JIT linker (cuLink*): a link state of the client's in the server.
 * Only options whose value is a number travel (omps_jit_scalar); the log
 * buffers are the server's, of the sizes the client has (read back with
 * LINK_READ), and its wall time comes back in the reply. An input's bytes go
 * first in OMPS_CALL_IMAGE_DATA records, as a module image does. */
#define OMPS_LINK_MAX_OPTIONS 32
#define OMPS_LINK_MAX_LOG     (256u << 10) /* bytes of a log the server keeps */
#define OMPS_LINK_MAX_NAME    256

struct omps_jit_option {
	uint32_t option; /* a CUjit_option */
	uint32_t reserved;
	uint64_t value;
};

/* Whether a JIT option's value is a number (it travels as one); the others
 * are addresses in the client: the logs and the wall time the shim handles,
 * the rest are refused. */
static inline int omps_jit_scalar(uint32_t option)
{
	switch (option) {
	case 0: case 1: case 7: case 8: case 9: case 10: case 11: case 12: case 13: case 14: case 15: case 16:
	case 20: case 21: case 22: case 23: case 24: case 29: case 30: case 31: case 32: case 33: case 34:
		return 1; /* CU_JIT_MAX_REGISTERS .. CU_JIT_SPLIT_COMPILE, less those with addresses */
	}
	return 0;
}

struct omps_call_link_create {
	int32_t dev;
	uint32_t nopts;
	uint32_t info_log, error_log; /* bytes the client has for each log; 0: none */
	uint32_t wall_time;	      /* 1: it asked for CU_JIT_WALL_TIME */
	uint32_t reserved;
	struct omps_jit_option opts[OMPS_LINK_MAX_OPTIONS];
};

struct omps_call_link_add {
	uint32_t handle; /* its link state */
	uint32_t type;	 /* a CUjitInputType */
	uint64_t bytes;	 /* sent before in OMPS_CALL_IMAGE_DATA records */
	uint32_t nopts;
	uint32_t reserved;
	struct omps_jit_option opts[OMPS_LINK_MAX_OPTIONS];
	char name[OMPS_LINK_MAX_NAME]; /* NUL-terminated */
};

enum omps_link_part { OMPS_LINK_CUBIN, OMPS_LINK_INFO_LOG, OMPS_LINK_ERROR_LOG };

struct omps_call_link_read {
	uint32_t handle;
	uint32_t part;	/* an omps_link_part */
	uint64_t bytes; /* exactly as the last reply_link said: they come as data records */
};

struct omps_call_memset2d {
	int32_t dev;
	uint32_t value;
	uint32_t elem; /* 1, 2 or 4 bytes */
	uint32_t stream;
	uint64_t ptr, pitch; /* pitch in bytes */
	uint64_t width, height; /* width in elements */
};

/* Large copies of pageable memory go through shared page-locked staging
 * buffers the client owns: it fills one while the DMA empties another. */
#define OMPS_STAGE_SLOTS 2

struct omps_call_staged {
	int32_t dev;
	uint32_t stream;
	uint32_t to_device;
	uint32_t slot; /* < OMPS_STAGE_SLOTS: an event marks the copy's end */
	uint64_t device, host, bytes; /* host: in a shared staging buffer */
	uint64_t done;		      /* shared host word the GPU sets to seq after the copy */
	uint32_t seq;
	uint32_t reserved;
};

/* Host functions and stream callbacks run in the client, in stream order,
 * without the caller waiting. The client shares one page-locked area with
 * the server. For ticket t (slot t % OMPS_HOSTFN_SLOTS) the stream sets
 * reached[slot], then doorbell, to t; wakes the client's futex on doorbell;
 * then waits until done[slot] - t, as a signed 32-bit number, is >= 0, which
 * the client makes so once the function has returned.
 *
 * A host function in a graph runs once a launch, so it cannot have a ticket:
 * it has a graph slot g, which the client gives it (with its function and
 * data) when it is captured or added as a node. Each launch sets graph[g] to
 * 1 and doorbell to 0x80000000 | g, wakes the client, waits until graph[g]
 * >= 2 (the client sets 2 once the function has returned), and sets it back
 * to 0. A slot is the function's until no graph of the client lives: the
 * server then bumps graph_epoch, and slots given before are free again. */
#define OMPS_HOSTFN_SLOTS	256
#define OMPS_HOSTFN_GRAPH_SLOTS 256

struct omps_hostfn_area {
	uint32_t doorbell;
	uint32_t graph_epoch;
	uint32_t reserved[14];
	uint32_t reached[OMPS_HOSTFN_SLOTS];
	uint32_t done[OMPS_HOSTFN_SLOTS];
	uint32_t graph[OMPS_HOSTFN_GRAPH_SLOTS];
};

struct omps_call_hostfn {
	int32_t dev;
	uint32_t stream;
	uint32_t ticket;
	uint32_t graph_slot; /* HOST_FUNC_CAPTURE: its slot + 1, if the stream is capturing */
};

#define OMPS_MAX_IMAGE	   (512u << 20) /* largest module image a client may send */
#define OMPS_MAX_PARAMS	   256		 /* kernel parameters described to the client */
#define OMPS_MAX_NAME	   1024

struct omps_call_module_load {
	int32_t dev;
	uint32_t reserved;
	uint64_t bytes; /* the image, sent before in OMPS_CALL_IMAGE_DATA records */
};

struct omps_call_handle {
	uint32_t handle; /* a module or function of this client, numbered by the server */
};

/* A synchronize the GPU may answer: of the context on dev (handle 0), of
 * stream handle, or of event handle (kind OMPS_SIGNAL_EVENT). The server
 * either waits itself and replies value 0, or queues a write of seq into
 * the reply ring's signal word after the work (omps_ring_signalled) and
 * replies value 1 at once. */
#define OMPS_SIGNAL_EVENT 1
struct omps_call_sync_signal {
	int32_t dev;
	uint32_t handle;
	uint32_t seq;
	uint32_t kind; /* 0: a context or stream; OMPS_SIGNAL_EVENT */
};

struct omps_call_get_function {
	uint32_t module;
	char name[OMPS_MAX_NAME];
};

struct omps_call_func_index {
	uint32_t module;
	uint32_t index; /* in the driver's enumeration order */
};

struct omps_call_launch {
	uint32_t function;
	int32_t dev;
	uint32_t grid[3], block[3];
	uint32_t shared_mem;
	uint32_t args_size; /* the packed arguments follow the attributes */
	uint32_t stream;
	uint32_t nattrs; /* cuLaunchKernelEx's attributes follow, as omps_launch_attr */
};

#define OMPS_MAX_LAUNCH_ATTRS 8

/* Launches on one stream one after another, as a worker finds them waiting
 * in a client's ring (the server gathers them; a client may send one too):
 * count entries, each a uint32_t length, four bytes of zero, then a LAUNCH
 * record of that length, padded to 8 bytes. The server launches a run of
 * plain launches as a graph, else each as a LAUNCH. */
struct omps_call_launch_run {
	uint32_t count;
	uint32_t reserved;
};

#define OMPS_MAX_RUN 32
/* The bytes a LAUNCH_RUN's entry for a LAUNCH record of len bytes takes. */
#define OMPS_RUN_ENTRY(len) (8 + (((size_t)(len) + 7) & ~(size_t)7))

/* A CUlaunchAttribute, byte for byte: its id, then its value. */
struct omps_launch_attr {
	uint32_t id;
	uint32_t reserved;
	unsigned char value[64];
};

struct omps_call_func_attr {
	uint32_t function;
	int32_t attrib; /* a CUfunction_attribute */
	int32_t value;	/* set: the value */
	uint32_t set;	/* 0: cuFuncGetAttribute, 1: cuFuncSetAttribute */
};

enum omps_occupancy {
	OMPS_OCC_BLOCKS_PER_SM, /* cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags */
	OMPS_OCC_DYNAMIC_SMEM,	/* cuOccupancyAvailableDynamicSMemPerBlock */
	OMPS_OCC_CLUSTERS,	/* cuOccupancyMaxActiveClusters */
	OMPS_OCC_CLUSTER_SIZE,	/* cuOccupancyMaxPotentialClusterSize */
};

struct omps_call_occupancy {
	uint32_t function;
	uint32_t what; /* enum omps_occupancy */
	int32_t block_size, num_blocks;
	uint32_t flags;
	uint32_t grid[3], block[3], cluster[3]; /* OMPS_OCC_CLUSTER*: the launch; cluster 0s: none */
	uint64_t smem;
};

struct omps_call_create {
	int32_t dev;
	uint32_t flags;
	int32_t priority;
	uint32_t reserved;
};

struct omps_call_pair {
	uint32_t first, second; /* (stream, event) for WAIT and RECORD; (start, end) for ELAPSED; (exec, graph)
				   for GRAPH_EXEC_UPDATE, answered with the CUgraphExecUpdateResult */
	uint32_t flags;
	uint32_t reserved;
};

struct omps_reply {
	int32_t result; /* a CUresult */
	uint32_t reserved;
};

struct omps_reply_ptr {
	struct omps_reply r;
	uint64_t ptr;
};

struct omps_reply_info {
	struct omps_reply r;
	uint64_t free, total;
};

struct omps_reply_handle {
	struct omps_reply r;
	uint32_t handle;
	uint32_t reserved;
};

struct omps_reply_elapsed {
	struct omps_reply r;
	float ms;
	uint32_t reserved;
};

/* A stream's capture: the server captures in relaxed mode whatever the
 * client asks (mode is logged, not applied), so that no other client's call
 * can invalidate it; the NULL stream cannot be captured. */
struct omps_call_capture {
	uint32_t stream;
	uint32_t mode; /* a CUstreamCaptureMode */
};

struct omps_call_instantiate {
	uint32_t graph;
	uint32_t reserved;
	uint64_t flags; /* CUgraphInstantiate_flags */
};

struct omps_reply_capture {
	struct omps_reply r;
	uint32_t status; /* a CUstreamCaptureStatus */
	uint32_t reserved;
	uint64_t id;
};

/* Graphs built node by node. A node is a handle into the client's table,
 * tied to its graph: it goes when the graph goes. GRAPH_ADD_NODE carries
 * ndeps node handles after the record (uint32_t each), then a kernel
 * node's packed arguments (args_size bytes). GRAPH_NODE_SET and
 * GRAPH_EXEC_NODE_SET carry the same record for the node `node` (of the
 * executable graph `exec`), with no dependencies. */
enum omps_node_kind {
	OMPS_NODE_EMPTY = 1,
	OMPS_NODE_KERNEL,	/* object: the function */
	OMPS_NODE_MEMSET,	/* dst, dst_pitch, value, elem, width (elements), height */
	OMPS_NODE_MEMCPY,	/* dst and src, each device memory or host memory it shares */
	OMPS_NODE_EVENT_RECORD, /* object: the event */
	OMPS_NODE_EVENT_WAIT,	/* object: the event */
	OMPS_NODE_CHILD,	/* object: the graph, copied into the node */
	OMPS_NODE_CONDITIONAL,	/* cond_*: the reply names its body graphs */
	OMPS_NODE_HOST,		/* object: the host function's graph slot (struct omps_hostfn_area) */
	/* Graph memory, in what the server writes down of a captured graph only
	 * (graphdesc.c); a client's record of these kinds is refused. */
	OMPS_NODE_MEM_ALLOC, /* dst: the client's address for it; width: its bytes */
	OMPS_NODE_MEM_FREE,  /* dst */
};

#define OMPS_MAX_NODE_DEPS   1024
#define OMPS_GRAPH_ARGS_MAX  32768 /* a kernel node's packed arguments */
#define OMPS_MAX_COND_BODIES 16

struct omps_call_graph_node {
	uint32_t graph;
	uint32_t kind; /* enum omps_node_kind */
	uint32_t ndeps;
	uint32_t object;
	uint32_t grid[3], block[3];
	uint32_t shared_mem, args_size;
	uint64_t dst, dst_pitch, dst_height; /* a copy's rows per slice: dst_height, src_height */
	uint64_t src, src_pitch, src_height;
	uint64_t width, height, depth; /* a copy's in bytes, a memset's in elements */
	uint32_t value, elem;
	uint32_t dst_host, src_host; /* 1: the address is the client's, in host memory it shares */
	uint64_t cond_handle;
	uint32_t cond_type, cond_size;
	uint32_t node, exec; /* GRAPH_NODE_SET, GRAPH_EXEC_NODE_SET */
};

struct omps_reply_node {
	struct omps_reply r;
	uint32_t handle;
	uint32_t nbodies;
	uint32_t bodies[OMPS_MAX_COND_BODIES]; /* a conditional node's body graphs */
};

/* GRAPH_QUERY: a graph's nodes, edges or root nodes, or a node's
 * dependencies or dependent nodes, as the driver has them, in its order:
 * count 0 asks how many (the reply's value); else the first count (at
 * most that many), as data, each an omps_graph_edge (from alone for
 * nodes), then the reply. A node the client has no handle for (a captured
 * graph's) gets one, the same each time it is named. */
enum omps_graph_query {
	OMPS_GRAPH_EDGES = 1,
	OMPS_GRAPH_ROOTS,
	OMPS_GRAPH_DEPS,
	OMPS_GRAPH_DEPENDENTS,
	OMPS_GRAPH_NODES,
};

struct omps_call_graph_query {
	uint32_t handle; /* the graph's, or the node's */
	uint32_t what;	 /* enum omps_graph_query */
	uint32_t count;
	uint32_t reserved;
};

struct omps_graph_edge {
	uint32_t from, to;
	uint8_t data[8]; /* its CUgraphEdgeData, as the driver gives it */
};

/* GRAPH_NODE_ENABLE: a node of an executable graph turned on or off (set
 * 1: to value), or asked whether it is on (the reply's value). */
struct omps_call_node_enable {
	uint32_t exec, node;
	uint32_t value, set;
};

/* GRAPH_KERNEL_NODE: a kernel node's function, shape and argument size;
 * GRAPH_KERNEL_ARGS: its packed arguments (bytes: that size), as data. */
struct omps_call_kernel_node {
	uint32_t node;
	uint32_t bytes;
};

struct omps_reply_kernel_node {
	struct omps_reply r;
	uint32_t function; /* the client's handle */
	uint32_t grid[3], block[3];
	uint32_t shared_mem, args_size;
	uint32_t graph; /* the node's */
};

/* GRAPH_ADD_DEPS: count edges follow, as count `from` handles, then count `to`. */
struct omps_call_graph_deps {
	uint32_t graph;
	uint32_t count;
};

struct omps_call_graph_create {
	int32_t dev;
	uint32_t flags;
};

/* cuGraphConditionalHandleCreate -> reply_value, the handle kernels set */
struct omps_call_cond_handle {
	uint32_t graph;
	uint32_t default_value;
	uint32_t flags;
	uint32_t reserved;
};

/* CUDA IPC between clients of one server: the memory is in one context, so
 * an importer uses the exporter's addresses, with no copy and no mapping.
 * The handle carries a random token, the capability, and the server's pid,
 * so that a handle of another server is told apart. */
#define OMPS_IPC_TOKEN 16

struct omps_call_ipc_open {
	unsigned char token[OMPS_IPC_TOKEN];
	int32_t server_pid; /* as the handle says */
	uint32_t flags;	    /* cuIpcOpenMemHandle's */
};

struct omps_reply_ipc {
	struct omps_reply r;
	unsigned char token[OMPS_IPC_TOKEN];
	int32_t server_pid;
	int32_t dev;
	uint64_t ptr, bytes; /* IPC_OPEN: the allocation; IPC_GET: the allocation the address is in;
			      * IPC_EVENT_OPEN: ptr is the event's handle for the importer */
};

/* Virtual memory management: address reservations, physical allocations
 * (handles into the client's table) and the mappings between them, all in
 * the server's context. One record for every call; each uses its fields:
 *   GRANULARITY: dev, flags (the option)            -> reply_value
 *   RESERVE: size, alignment, ptr (a wish), flags   -> reply_ptr
 *   ADDR_FREE, UNMAP: ptr, size
 *   CREATE: dev, size, flags                        -> reply_handle
 *   RELEASE: handle
 *   MAP: ptr, size, offset, handle
 *   ACCESS: ptr, size, dev, flags (CUmemAccess_flags) */
struct omps_call_vmm {
	uint64_t ptr, size, offset, alignment;
	uint32_t handle;
	int32_t dev;
	uint32_t flags;
	uint32_t reserved;
};

/* Stream memory operations (cuStreamWriteValue32 and its kin): a word of
 * the client's device memory, or of host memory it shares, written or
 * waited for in stream order. */
enum omps_memop { OMPS_MEMOP_WRITE32 = 1, OMPS_MEMOP_WAIT32, OMPS_MEMOP_WRITE64, OMPS_MEMOP_WAIT64 };

struct omps_call_memop {
	int32_t dev;
	uint32_t stream;
	uint32_t op; /* enum omps_memop */
	uint32_t flags;
	uint64_t addr, value;
};

/* A context limit is shared by every client of the device: a client may
 * raise one (set), never lower it; a lower value leaves it as it is. */
struct omps_call_ctx_limit {
	int32_t dev;
	uint32_t limit; /* a CUlimit */
	uint32_t set;
	uint32_t reserved;
	uint64_t value;
};

struct omps_reply_value {
	struct omps_reply r;
	int64_t value;
};

struct omps_reply_name {
	struct omps_reply r;
	char name[OMPS_MAX_NAME]; /* NUL-terminated */
};

struct omps_reply_global {
	struct omps_reply r;
	uint64_t ptr, bytes;
};

struct omps_param {
	uint32_t offset, size;
};

struct omps_reply_function {
	struct omps_reply r;
	uint32_t handle;
	uint32_t nparams;
	int32_t max_threads;	  /* per block: launches beyond are refused at once */
	int32_t max_dynamic_smem; /* bytes, until the client raises it */
	struct omps_param params[OMPS_MAX_PARAMS];
};

/* After each LINK_ADD and LINK_COMPLETE: what there is to read. */
struct omps_reply_link {
	struct omps_reply r;
	uint64_t cubin_bytes;		  /* after a complete that succeeded */
	uint32_t info_bytes, error_bytes; /* each log's text, its NUL not counted */
	uint64_t info_filled, error_filled; /* the driver's CU_JIT_*_LOG_BUFFER_SIZE_BYTES out values */
	float wall_ms;
	uint32_t reserved;
};

/* The records whose dev names a device: the client's own ordinal (its
 * CUDA_VISIBLE_DEVICES), which the server's dispatch turns into its own
 * before a handler sees it. Every record with a dev is here (the test
 * calls_device_records checks). */
#define OMPS_DEVICE_RECORDS(X)                                                                      \
	X(dev) X(alloc) X(free_async) X(pool_attr) X(memset) X(copy) X(copy2d) X(array_create)      \
	X(tex_create) X(link_create) X(memset2d) X(staged) X(hostfn) X(module_load) X(launch)        \
	X(create) X(graph_create) X(vmm) X(memop) X(ctx_limit) X(sync_signal)

/* X(NAME, family, handler, record, shape, reply, log) */
#define OMPS_CALLS(X)                                                                                  \
	X(MEM_ALLOC, memory, alloc, alloc, FIXED, SYNC, "memory allocation") /* -> reply_ptr */         \
	X(MEM_FREE, memory, free, ptr, FIXED, SYNC, "memory free")                                    \
	X(MEM_GET_INFO, memory, get_info, dev, FIXED, SYNC, "memory information query") /* -> info */ \
	X(MEMSET, memory, memset, memset, FIXED, ASYNC, "memset")                                     \
	X(MEMCPY_HTOD, memory, copy_htod, copy, TAIL, ASYNC, "copy to the device") /* the bytes */    \
	X(MEMCPY_DTOH, memory, copy_dtoh, copy, FIXED, SYNC, "copy from the device") /* data, reply */ \
	X(MEMCPY_DTOD, memory, copy_dtod, copy, FIXED, ASYNC, "copy on the device")                   \
	X(SYNCHRONIZE, context, synchronize, dev, FIXED, SYNC, "context synchronize")                 \
	X(IMAGE_DATA, module, image_data, none, RAW, QUIET, "module image upload") /* gathered */      \
	X(MODULE_LOAD, module, load, module_load, FIXED, SYNC, "module load") /* -> reply_handle */    \
	X(MODULE_UNLOAD, module, unload, handle, FIXED, SYNC, "module unload")                        \
	X(GET_FUNCTION, module, get_function, get_function, FIXED, SYNC, "function lookup")           \
	X(LAUNCH, launch, kernel, launch, TAIL, ASYNC, "kernel launch") /* attrs, packed args */      \
	X(STREAM_CREATE, stream, create, create, FIXED, SYNC, "stream create") /* -> reply_handle */   \
	X(STREAM_DESTROY, stream, on_handle, handle, FIXED, QUIET, "stream destroy")                    \
	X(STREAM_SYNC, stream, on_handle, handle, FIXED, SYNC, "stream synchronize")                \
	X(STREAM_QUERY, stream, on_handle, handle, FIXED, SYNC, "stream query") /* NOT_READY: busy */      \
	X(STREAM_WAIT, stream, on_pair, pair, FIXED, ASYNC, "stream wait on an event")             \
	X(EVENT_CREATE, stream, create, create, FIXED, SYNC, "event create")                    \
	X(EVENT_DESTROY, stream, on_handle, handle, FIXED, QUIET, "event destroy")                \
	X(EVENT_RECORD, stream, on_pair, pair, FIXED, ASYNC, "event record")                     \
	X(EVENT_SYNC, stream, on_handle, handle, FIXED, SYNC, "event synchronize")            \
	X(EVENT_QUERY, stream, on_handle, handle, FIXED, SYNC, "event query")                       \
	X(EVENT_ELAPSED, stream, on_pair, pair, FIXED, SYNC, "event elapsed time")              \
	X(GET_GLOBAL, module, get_global, get_function, FIXED, SYNC, "global lookup")                 \
	X(FUNC_ATTR, module, func_attr, func_attr, FIXED, SYNC, "function attribute")                 \
	X(OCCUPANCY, launch, occupancy, occupancy, FIXED, SYNC, "occupancy query")                    \
	X(CTX_LIMIT, context, limit, ctx_limit, FIXED, SYNC, "context limit") /* -> the limit now */   \
	X(MEMCPY_2D, memory, copy_2d, copy2d, TAIL, MIXED, "2D copy")                                 \
	X(MEMSET_2D, memory, memset_2d, memset2d, FIXED, ASYNC, "2D memset")                          \
	X(MEM_ALLOC_ASYNC, memory, alloc_async, alloc, FIXED, SYNC, "stream-ordered allocation")      \
	X(MEM_FREE_ASYNC, memory, free_async, free_async, FIXED, ASYNC, "stream-ordered free")        \
	X(POOL_ATTR, memory, pool_attr, pool_attr, FIXED, SYNC, "memory pool attribute")              \
	X(MEMCPY_HTOD_HOST, memory, copy_host, copy, FIXED, ASYNC, "copy from shared host memory") \
	X(MEMCPY_DTOH_HOST, memory, copy_host, copy, FIXED, ASYNC, "copy to shared host memory")   \
	X(MEMCPY_STAGED, memory, copy_staged, staged, FIXED, ASYNC, "staged copy")                    \
	X(STAGE_WAIT, memory, stage_wait, handle, FIXED, SYNC, "staged copy wait") /* the slot */      \
	X(HOSTFN_AREA, hostfn, area, ptr, FIXED, SYNC, "host function area")                          \
	X(HOST_FUNC, hostfn, call, hostfn, FIXED, ASYNC, "host function")                             \
	X(CAPTURE_BEGIN, graph, capture_begin, capture, FIXED, SYNC, "stream capture begin")          \
	X(CAPTURE_END, graph, capture_end, handle, FIXED, SYNC, "stream capture end") /* a graph */    \
	X(CAPTURE_INFO, graph, capture_info, capture, FIXED, SYNC, "stream capture query")            \
	X(GRAPH_INSTANTIATE, graph, instantiate, instantiate, FIXED, SYNC, "graph instantiate")       \
	X(GRAPH_LAUNCH, graph, on_exec, pair, FIXED, ASYNC, "graph launch") /* (exec, stream) */        \
	X(GRAPH_UPLOAD, graph, on_exec, pair, FIXED, ASYNC, "graph upload")                            \
	X(GRAPH_DESTROY, graph, destroy, handle, FIXED, QUIET, "graph destroy")                       \
	X(GRAPH_EXEC_DESTROY, graph, destroy, handle, FIXED, QUIET, "executable graph destroy")  \
	X(GRAPH_NODES, graph, nodes, handle, FIXED, SYNC, "graph node count") /* -> reply_value */        \
	X(MODULE_FUNC_COUNT, module, function_count, handle, FIXED, SYNC, "module function count") /* -> value */ \
	X(GRAPH_CREATE, graphbuild, create, graph_create, FIXED, SYNC, "graph create") /* -> reply_handle */     \
	X(GRAPH_ADD_NODE, graphbuild, add_node, graph_node, TAIL, SYNC, "graph node add") /* -> reply_node */   \
	X(GRAPH_NODE_SET, graphbuild, add_node, graph_node, TAIL, SYNC, "graph node update")                   \
	X(GRAPH_EXEC_NODE_SET, graphbuild, add_node, graph_node, TAIL, SYNC, "executable graph node update")   \
	X(GRAPH_ADD_DEPS, graphbuild, add_deps, graph_deps, TAIL, SYNC, "graph dependencies add")               \
	X(GRAPH_CLONE, graphbuild, clone, handle, FIXED, SYNC, "graph clone") /* -> reply_handle */             \
	X(COND_HANDLE, graphbuild, cond_handle, cond_handle, FIXED, SYNC, "graph conditional handle create") /* -> value */ \
	X(IPC_GET, ipc, get, ptr, FIXED, SYNC, "IPC memory handle") /* -> reply_ipc */                       \
	X(IPC_OPEN, ipc, open, ipc_open, FIXED, SYNC, "IPC memory handle open") /* -> reply_ipc */            \
	X(IPC_CLOSE, ipc, close, ptr, FIXED, SYNC, "IPC memory handle close")                                 \
	X(VMM_GRANULARITY, vmm, granularity, vmm, FIXED, SYNC, "allocation granularity query")                \
	X(VMM_RESERVE, vmm, reserve, vmm, FIXED, SYNC, "address range reserve")                               \
	X(VMM_ADDR_FREE, vmm, addr_free, vmm, FIXED, SYNC, "address range free")                              \
	X(VMM_CREATE, vmm, create, vmm, FIXED, SYNC, "physical memory create")                                \
	X(VMM_RELEASE, vmm, release_handle, vmm, FIXED, SYNC, "physical memory release")                       \
	X(VMM_MAP, vmm, map, vmm, FIXED, SYNC, "memory map")                                                  \
	X(VMM_UNMAP, vmm, unmap, vmm, FIXED, SYNC, "memory unmap")                                            \
	X(VMM_ACCESS, vmm, access, vmm, FIXED, SYNC, "memory access set")                                    \
	X(CTX_RESET, context, reset, dev, FIXED, SYNC, "primary context reset")                               \
	X(STREAM_MEMOP, stream, memop, memop, FIXED, ASYNC, "stream memory operation")                          \
	X(MODULE_FUNC_NAME, module, function_name, func_index, FIXED, SYNC, "module function name") /* -> name */ \
	X(IPC_EVENT_GET, ipc, event_get, handle, FIXED, SYNC, "IPC event handle") /* -> reply_ipc */              \
	X(IPC_EVENT_OPEN, ipc, event_open, ipc_open, FIXED, SYNC, "IPC event handle open") /* -> reply_ipc */ \
	X(ARRAY_CREATE, array, create, array_create, FIXED, SYNC, "array create") /* -> reply_handle */    \
	X(ARRAY_DESTROY, array, destroy, handle, FIXED, SYNC, "array destroy")                              \
	X(TEX_CREATE, array, tex_create, tex_create, FIXED, SYNC, "texture or surface object create") /* -> value */ \
	X(TEX_DESTROY, array, tex_destroy, tex_destroy, FIXED, SYNC, "texture or surface object destroy") \
	X(LINK_CREATE, link, create, link_create, FIXED, SYNC, "JIT link create") /* -> reply_handle */     \
	X(LINK_ADD, link, add, link_add, FIXED, SYNC, "JIT link input") /* -> reply_link */                 \
	X(LINK_COMPLETE, link, complete, handle, FIXED, SYNC, "JIT link complete") /* -> reply_link */      \
	X(LINK_READ, link, read, link_read, FIXED, SYNC, "JIT link output read") /* data, reply */          \
	X(LINK_DESTROY, link, destroy, handle, FIXED, SYNC, "JIT link destroy")                              \
	X(MIPMAP_CREATE, array, mipmap_create, mipmap_create, FIXED, SYNC, "mipmapped array create") /* -> reply_handle */ \
	X(MIPMAP_LEVEL, array, mipmap_level, mipmap_level, FIXED, SYNC, "mipmapped array level") /* -> reply_handle */ \
	X(HOST_FUNC_CAPTURE, hostfn, call, hostfn, FIXED, SYNC, "host function, maybe captured") /* -> value: 1 captured */ \
	X(MEMCPY_PEER, memory, copy_peer, copy_peer, FIXED, ASYNC, "peer copy")                              \
	X(LAUNCH_RUN, launch, run, launch_run, TAIL, ASYNC, "run of kernel launches") /* entries */ \
	X(SYNC_SIGNAL, signal, sync, sync_signal, FIXED, SYNC, "synchronize the GPU may signal") /* -> value */ \
	X(GRAPH_EXEC_UPDATE, graph, exec_update, pair, FIXED, SYNC, "executable graph update") /* (exec, graph) -> value */ \
	X(GRAPH_NODE_TYPE, graphbuild, node_type, handle, FIXED, SYNC, "graph node type") /* -> value */ \
	X(GRAPH_KERNEL_NODE, graphbuild, kernel_node, kernel_node, FIXED, SYNC, "kernel node query") /* -> reply_kernel_node */ \
	X(GRAPH_KERNEL_ARGS, graphbuild, kernel_node, kernel_node, FIXED, SYNC, "kernel node arguments") /* data */ \
	X(GRAPH_QUERY, graph, query, graph_query, FIXED, SYNC, "graph edges query") /* -> value, or data: edges */ \
	X(GRAPH_NODE_ENABLE, graphbuild, node_enable, node_enable, FIXED, SYNC, "executable graph node enable") /* -> value */

enum omps_call {
	OMPS_CALL_NONE_, /* 0 is no call */
#define OMPS_CALL_ENUM_(NAME, family, handler, record, shape, reply, log) OMPS_CALL_##NAME,
	OMPS_CALLS(OMPS_CALL_ENUM_)
#undef OMPS_CALL_ENUM_
	OMPS_CALL_END
};

enum omps_call_shape { OMPS_SHAPE_FIXED = 1, OMPS_SHAPE_TAIL, OMPS_SHAPE_RAW };
/* SYNC: answered. ASYNC: not answered; queues work on the GPU (a fault may
 * be its). MIXED: either, by its record. QUIET: not answered, and no work
 * on the GPU of its own (data for a later call, a destroy). */
enum omps_call_reply { OMPS_REPLY_SYNC = 1, OMPS_REPLY_ASYNC, OMPS_REPLY_MIXED, OMPS_REPLY_QUIET };

/* What the table says of a call (calls.c). The size is the fixed record's
 * (0 for RAW); an unknown type has size 0 and shape 0. */
struct omps_call_info {
	const char *name; /* "MEM_ALLOC" */
	const char *family;
	const char *log; /* "memory allocation": for log lines */
	uint32_t size;
	enum omps_call_shape shape;
	enum omps_call_reply reply;
};
const struct omps_call_info *omps_call_info(uint32_t type); /* NULL: no such call */
/* "kernel launch", "memset", ...; "call of an unknown kind" for no call. */
const char *omps_call_name(uint32_t type);
/* Whether len bytes are a well-formed record of the call (its shape and size). */
int omps_call_len_ok(uint32_t type, size_t len);

#endif
