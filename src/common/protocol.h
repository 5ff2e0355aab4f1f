/* The wire protocol between openmps-control, openmps-server and clients.
 *
 * Every socket is AF_UNIX SOCK_SEQPACKET: one message is one packet, so there
 * is no framing and a short read is a protocol error. Every message starts
 * with struct omps_msg. The first message on a connection is OMPS_MSG_HELLO
 * with the sender's protocol version; a peer of another version is answered
 * OMPS_MSG_REFUSED with a reason and closed. All parties run on one host, so
 * structures travel in native byte order; sizes are fixed and checked.
 *
 * Connections:
 *   front end  -> daemon  <pipe dir>/control, role UI: command lines, answers
 *   client     -> daemon  <pipe dir>/control, role CLIENT: admission; the
 *                         connection stays open for the client's life
 *   daemon    <-> server  a socketpair made at spawn (OPENMPS_CONTROL_FD)
 *   client    <-> server  a socketpair made by the daemon at admission, one
 *                         end passed to each with SCM_RIGHTS; over it the
 *                         client opens its data channel: a memfd holding a
 *                         request ring and a reply ring (ring.h) that carry
 *                         the driver calls as OMPS_CALL_* records
 */
#ifndef OPENMPS_PROTOCOL_H
#define OPENMPS_PROTOCOL_H

#include <stdint.h>

#define OMPS_MAGIC	      0x53504d4fu /* "OMPS" */
#define OMPS_PROTOCOL_VERSION 6 /* the seeds in tests/fuzz/corpus/messages carry it */
#define OMPS_MSG_MAX	      65536 /* largest packet, header included */

#define OMPS_MAX_DEVICES   64
#define OMPS_MAX_MEMLIMITS 16
#define OMPS_DEVKEY_MAX	   48  /* "0".."63" or a GPU UUID, NUL included */
#define OMPS_COMM_MAX	   256 /* a client's command line as ps shows it */

enum omps_role {
	OMPS_ROLE_UI = 1,     /* the openmps-control front end */
	OMPS_ROLE_CLIENT = 2, /* a CUDA program through the shim */
	OMPS_ROLE_SERVER = 3, /* openmps-server on its control socketpair */
};

enum omps_msg_type {
	OMPS_MSG_HELLO = 1,	    /* first message: struct omps_hello [+ omps_client_info] */
	OMPS_MSG_WELCOME,	    /* hello accepted (UI, server) */
	OMPS_MSG_REFUSED,	    /* text: why; the sender closes next */
	OMPS_MSG_UI_COMMAND,	    /* UI -> daemon: one command line, text */
	OMPS_MSG_UI_ANSWER,	    /* daemon -> UI: output text, status 0 or 1, OMPS_MSGF_MORE */
	OMPS_MSG_CLIENT_ADMITTED,   /* daemon -> client: omps_admitted + server socket fd */
	OMPS_MSG_SERVER_READY,	    /* server -> daemon: omps_server_ready */
	OMPS_MSG_SERVER_SETTINGS,   /* daemon -> server: omps_settings (server-wide) */
	OMPS_MSG_SERVER_ADMIT,	    /* daemon -> server: omps_admit + client socket fd */
	OMPS_MSG_SERVER_SHUTDOWN,   /* daemon -> server: omps_shutdown */
	OMPS_MSG_SERVER_TERMINATE,  /* daemon -> server: omps_terminate */
	OMPS_MSG_SERVER_TERMINATED, /* server -> daemon: omps_terminate, result set */
	OMPS_MSG_CHANNEL_OPEN,	    /* client -> server: omps_channel_open + memfd of the rings */
	OMPS_MSG_DEVICE_INFO,	    /* server -> client: omps_device_info, one per device */
	OMPS_MSG_CHANNEL_READY,	    /* server -> client: status 0 + the doorbell eventfd, or a CUresult and text */
	OMPS_MSG_HOST_MAP,	    /* client -> server: omps_host_map + memfd: share page-locked memory */
	OMPS_MSG_HOST_UNMAP,	    /* client -> server: omps_host_map (addr): stop sharing it */
	OMPS_MSG_HOST_MAPPED,	    /* server -> client: status (a CUresult), omps_host_map */
	OMPS_MSG_CLIENT_USAGE,	    /* server -> daemon: omps_client_usage, when it changes */
	OMPS_MSG_TYPE_END
};

#define OMPS_MSGF_MORE 1u /* another packet of the same answer follows */

struct omps_msg {
	uint32_t type;
	int32_t status;
	uint32_t flags;
	uint32_t reserved;
};

struct omps_hello {
	uint32_t magic;
	uint32_t version;
	uint32_t role;
	int32_t pid; /* informative: peer credentials are what is trusted */
};

/* Follows omps_hello from a client: what the client asks for, as the user
 * wrote it in the environment, so that the daemon validates and logs it. */
struct omps_client_info {
	char comm[OMPS_COMM_MAX];
	char active_thread_percentage[32]; /* CUDA_MPS_ACTIVE_THREAD_PERCENTAGE */
	char pinned_mem_limit[256];	   /* CUDA_MPS_PINNED_DEVICE_MEM_LIMIT */
	char priority[16];		   /* CUDA_MPS_CLIENT_PRIORITY */
};

struct omps_memlimit {
	char dev[OMPS_DEVKEY_MAX]; /* device ordinal or UUID, as given */
	uint64_t bytes;
};

/* Limits at one level (daemon default, one server, one client). */
struct omps_settings {
	uint32_t atp_milli; /* active thread percentage x 1000; 0 = not set */
	int32_t priority;   /* 0 normal, 1 below normal, -1 = not set */
	uint32_t nmem;
	uint32_t reserved;
	struct omps_memlimit mem[OMPS_MAX_MEMLIMITS];
};

struct omps_admitted {
	int32_t server_pid;
	uint32_t client_id;
	struct omps_settings effective;
};

struct omps_device {
	int32_t ordinal;
	int32_t sm_count;
	int32_t pci_domain, pci_bus, pci_device, pci_function;
	uint64_t total_mem;
	uint8_t uuid[16];
	char name[96];
};

struct omps_server_ready {
	int32_t driver_version;
	uint32_t ndevices;
	struct omps_device dev[OMPS_MAX_DEVICES];
};

struct omps_admit {
	int32_t pid;
	uint32_t uid;
	uint32_t client_id;
	uint32_t reserved;
	struct omps_settings effective;
	struct omps_settings requested; /* the client's own: effective again once the server's change */
};

/* What a client uses now, for ps. */
struct omps_client_usage {
	int32_t pid;
	uint32_t sms; /* SMs its kernels may run on (device 0); 0 = not known yet */
	uint64_t used[OMPS_MAX_DEVICES]; /* device memory it holds, bytes */
};

struct omps_shutdown {
	uint32_t force; /* 0: exit once the last client has left; 1: now */
};

struct omps_terminate {
	uint32_t seq;
	int32_t pid;
	int32_t result; /* a CUresult, set in the reply */
};

/* ---- The data channel ---- */

#define OMPS_MAX_ATTRS 256 /* device attributes cached by the client, by CUdevice_attribute */

/* Page-locked host memory is a memfd that client and server map at the same
 * address; the server registers it with the driver, so copies from and to
 * it are DMA and kernels can reach it at device_ptr (the same address on
 * current GPUs). */
struct omps_host_map {
	uint64_t addr, bytes;
	uint64_t device_ptr; /* the server's answer */
	uint32_t flags;	     /* CU_MEMHOSTREGISTER_* */
	uint32_t reserved;
};

struct omps_channel_open {
	uint32_t request_ring; /* bytes of records in each ring; the memfd holds */
	uint32_t reply_ring;   /* the request ring, then the reply ring */
};

struct omps_device_info {
	struct omps_device dev;
	int32_t least_priority, greatest_priority; /* cuCtxGetStreamPriorityRange in the server's context */
	uint32_t api_version;			   /* cuCtxGetApiVersion of it */
	uint32_t reserved;
	int32_t attrs[OMPS_MAX_ATTRS]; /* 0 where the driver has no such attribute */
};

/* Records in the request ring. Calls marked (sync) get exactly one reply
 * record, or several for data, in order; the others are fire-and-forget and
 * report a failure at the client's next synchronous call, as the driver
 * reports asynchronous errors. */
enum omps_call {
	OMPS_CALL_MEM_ALLOC = 1, /* (sync) omps_call_alloc -> omps_reply_ptr */
	OMPS_CALL_MEM_FREE,	 /* (sync) omps_call_ptr -> omps_reply */
	OMPS_CALL_MEM_GET_INFO,	 /* (sync) omps_call_dev -> omps_reply_info */
	OMPS_CALL_MEMSET,	 /* omps_call_memset */
	OMPS_CALL_MEMCPY_HTOD,	 /* omps_call_copy, then the bytes in the same record */
	OMPS_CALL_MEMCPY_DTOH,	 /* (sync) omps_call_copy -> data records, then omps_reply */
	OMPS_CALL_MEMCPY_DTOD,	 /* omps_call_copy */
	OMPS_CALL_SYNCHRONIZE,	 /* (sync) omps_call_dev -> omps_reply */
	OMPS_CALL_IMAGE_DATA,	 /* the next bytes of a module image (raw), gathered by the server */
	OMPS_CALL_MODULE_LOAD,	 /* (sync) omps_call_module_load -> omps_reply_handle */
	OMPS_CALL_MODULE_UNLOAD, /* (sync) omps_call_handle -> omps_reply */
	OMPS_CALL_GET_FUNCTION,	 /* (sync) omps_call_get_function -> omps_reply_function */
	OMPS_CALL_LAUNCH,	 /* omps_call_launch, then the packed arguments */
	OMPS_CALL_STREAM_CREATE, /* (sync) omps_call_create -> omps_reply_handle */
	OMPS_CALL_STREAM_DESTROY, /* omps_call_handle */
	OMPS_CALL_STREAM_SYNC,	 /* (sync) omps_call_handle -> omps_reply */
	OMPS_CALL_STREAM_QUERY,	 /* (sync) omps_call_handle -> omps_reply (CUDA_ERROR_NOT_READY while busy) */
	OMPS_CALL_STREAM_WAIT,	 /* omps_call_pair: stream waits for event */
	OMPS_CALL_EVENT_CREATE,	 /* (sync) omps_call_create -> omps_reply_handle */
	OMPS_CALL_EVENT_DESTROY, /* omps_call_handle */
	OMPS_CALL_EVENT_RECORD,	 /* omps_call_pair: event recorded on stream */
	OMPS_CALL_EVENT_SYNC,	 /* (sync) omps_call_handle -> omps_reply */
	OMPS_CALL_EVENT_QUERY,	 /* (sync) omps_call_handle -> omps_reply */
	OMPS_CALL_EVENT_ELAPSED, /* (sync) omps_call_pair: start, end -> omps_reply_elapsed */
	OMPS_CALL_GET_GLOBAL,	 /* (sync) omps_call_get_function (a global's name) -> omps_reply_global */
	OMPS_CALL_FUNC_ATTR,	 /* (sync) omps_call_func_attr -> omps_reply_value */
	OMPS_CALL_OCCUPANCY,	 /* (sync) omps_call_occupancy -> omps_reply_value */
	OMPS_CALL_CTX_LIMIT,	 /* (sync) omps_call_ctx_limit -> omps_reply_value (the limit now) */
	OMPS_CALL_MEMCPY_2D,	 /* omps_call_copy2d; to the device: the rows follow, packed; from it:
				    (sync) the rows come back packed in data records, then omps_reply */
	OMPS_CALL_MEMSET_2D,	 /* omps_call_memset2d */
	OMPS_CALL_MEM_ALLOC_ASYNC, /* (sync) omps_call_alloc (stream in reserved) -> omps_reply_ptr */
	OMPS_CALL_MEM_FREE_ASYNC,  /* omps_call_free_async */
	OMPS_CALL_POOL_ATTR,	   /* (sync) omps_call_pool_attr -> omps_reply_value */
	OMPS_CALL_MEMCPY_HTOD_HOST, /* omps_call_copy: src is shared host memory; no data travels */
	OMPS_CALL_MEMCPY_DTOH_HOST, /* omps_call_copy: dst is shared host memory */
	OMPS_CALL_MEMCPY_STAGED,    /* omps_call_staged: a copy through a shared staging buffer */
	OMPS_CALL_STAGE_WAIT,	    /* (sync) omps_call_handle (the slot) -> omps_reply once its copy is done */
	OMPS_CALL_HOSTFN_AREA,	    /* (sync) omps_call_ptr: the client's omps_hostfn_area -> omps_reply */
	OMPS_CALL_HOST_FUNC,	    /* omps_call_hostfn: a host function's place in a stream */
	/* Graphs, from stream capture (graph.c): handles index the client's tables */
	OMPS_CALL_CAPTURE_BEGIN,   /* (sync) omps_call_capture -> omps_reply */
	OMPS_CALL_CAPTURE_END,	   /* (sync) omps_call_handle (the stream) -> omps_reply_handle (a graph) */
	OMPS_CALL_CAPTURE_INFO,	   /* (sync) omps_call_capture (the stream) -> omps_reply_capture */
	OMPS_CALL_GRAPH_INSTANTIATE, /* (sync) omps_call_instantiate -> omps_reply_handle (an executable graph) */
	OMPS_CALL_GRAPH_LAUNCH,	     /* omps_call_pair: (executable graph, stream) */
	OMPS_CALL_GRAPH_UPLOAD,	     /* omps_call_pair: (executable graph, stream) */
	OMPS_CALL_GRAPH_DESTROY,     /* omps_call_handle (a graph) */
	OMPS_CALL_GRAPH_EXEC_DESTROY, /* omps_call_handle (an executable graph) */
	OMPS_CALL_GRAPH_NODES,	      /* (sync) omps_call_handle (a graph) -> omps_reply_value (its node count) */
	OMPS_CALL_END
};

/* "kernel launch", "memset", ...: for log lines (protocol.c). */
const char *omps_call_name(uint32_t type);

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

/* Rows of width bytes; on the host side the rows are packed (pitch = width). */
struct omps_call_copy2d {
	int32_t dev;
	uint32_t stream;
	uint32_t kind; /* enum omps_copy_kind */
	uint32_t reserved;
	uint64_t dst, dst_pitch, src, src_pitch; /* the device sides' */
	uint64_t width, height;
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
 * the client makes so once the function has returned. */
#define OMPS_HOSTFN_SLOTS 256

struct omps_hostfn_area {
	uint32_t doorbell;
	uint32_t reserved[15];
	uint32_t reached[OMPS_HOSTFN_SLOTS];
	uint32_t done[OMPS_HOSTFN_SLOTS];
};

struct omps_call_hostfn {
	int32_t dev;
	uint32_t stream;
	uint32_t ticket;
	uint32_t reserved;
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

struct omps_call_get_function {
	uint32_t module;
	char name[OMPS_MAX_NAME];
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
};

struct omps_call_occupancy {
	uint32_t function;
	uint32_t what; /* enum omps_occupancy */
	int32_t block_size, num_blocks;
	uint32_t flags;
	uint32_t grid[3], block[3], cluster[3]; /* OMPS_OCC_CLUSTERS: the launch; cluster 0s: none */
	uint64_t smem;
};

struct omps_call_create {
	int32_t dev;
	uint32_t flags;
	int32_t priority;
	uint32_t reserved;
};

struct omps_call_pair {
	uint32_t first, second; /* (stream, event) for WAIT and RECORD; (start, end) for ELAPSED */
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

_Static_assert(sizeof(struct omps_msg) + sizeof(struct omps_device_info) <= OMPS_MSG_MAX,
	       "device info must fit one packet");
_Static_assert(sizeof(struct omps_msg) + sizeof(struct omps_server_ready) <= OMPS_MSG_MAX,
	       "server ready message must fit one packet");
_Static_assert(sizeof(struct omps_msg) + sizeof(struct omps_hello) + sizeof(struct omps_client_info) <=
		       OMPS_MSG_MAX,
	       "client hello must fit one packet");

#endif
