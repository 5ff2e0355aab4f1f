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
 *                         (calls.h)
 */
#ifndef OPENMPS_PROTOCOL_H
#define OPENMPS_PROTOCOL_H

#include <stdint.h>

#define OMPS_MAGIC	      0x53504d4fu /* "OMPS" */
#define OMPS_PROTOCOL_VERSION 12 /* the seeds in tests/fuzz/corpus/messages carry it */
#define OMPS_FAREWELL_MAX     512 /* a server's words to a client it lets go, at most */
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
	OMPS_MSG_REFUSED,	    /* text: why; the sender closes next (a server to a client it lets go too) */
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
	OMPS_MSG_SERVER_PING,	    /* daemon -> server: omps_ping, about once a second */
	OMPS_MSG_SERVER_PONG,	    /* server -> daemon: the same omps_ping, from its main loop */
	OMPS_MSG_SERVER_RESUME,	    /* daemon -> server: a drain that was not forced is called off */
	OMPS_MSG_SERVER_CLIENT_LEFT, /* daemon -> server: omps_client_left: its daemon connection closed */
	OMPS_MSG_CLIENT_STATS,	     /* server -> daemon: omps_client_stats, 4 times a second while it changes */
	OMPS_MSG_SERVER_FAULT,	     /* server -> daemon: text, what a GPU fault cost, once it serves again */
	OMPS_MSG_SERVER_SUCCESSOR,   /* server -> daemon: int32 pid, its standby, now the server (standby.c) */
	OMPS_MSG_TYPE_END
};

/* A server's exit status after a GPU fault poisoned its context (fault.c). */
#define OMPS_SERVER_EXIT_FAULT 3

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
	/* In a Kubernetes pod (KUBERNETES_SERVICE_HOST is set), for the
	 * metrics' labels (informational: as the client says): POD_NAME, else
	 * HOSTNAME; POD_NAMESPACE, else the service account's namespace file;
	 * CONTAINER_NAME. "" where unknown, and outside a pod. */
	char pod[64], pod_namespace[64], container[64];
	char sm_partition[96]; /* CUDA_MPS_SM_PARTITION: "GPU-UUID/ID", a static SM partition */
	char visible_devices[256]; /* CUDA_VISIBLE_DEVICES, when flags has OMPS_CLIENT_VISIBLE_SET */
	uint32_t flags;		   /* OMPS_CLIENT_VISIBLE_SET, OMPS_CLIENT_PCI_ORDER */
	uint32_t reserved;
};

#define OMPS_CLIENT_VISIBLE_SET 1u /* CUDA_VISIBLE_DEVICES is set, maybe to "" */
#define OMPS_CLIENT_PCI_ORDER 2u   /* CUDA_DEVICE_ORDER=PCI_BUS_ID */

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
	char note[384]; /* for the program's stderr: why it sees fewer GPUs than it named; "" */
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
	/* Its static SM partition (openmps-control -S): chunks [start, start +
	 * count) of the server's device part_dev; part_dev -1: none. */
	int32_t part_dev;
	uint32_t part_start, part_count, part_id;
	/* The GPUs it sees (CUDA_VISIBLE_DEVICES, resolved by the daemon): its
	 * device k is the server's view[k]; its calls name its own ordinals. */
	uint32_t nview;
	int32_t view[OMPS_MAX_DEVICES];
};

/* What a client uses now, for ps. */
struct omps_client_usage {
	int32_t pid;
	uint32_t sms; /* SMs its kernels may run on (device 0); 0 = not known yet */
	uint64_t used[OMPS_MAX_DEVICES]; /* device memory it holds, bytes */
};

/* What a client has asked of the server so far (server/stats.c): calls,
 * kernel and graph launches, copies and the bytes they move, synchronizes
 * of contexts, streams and events and how many of them the GPU signalled, and the time
 * it had work queued on the GPU (from an asynchronous call to its next
 * good synchronize: at least its GPU time, and the waits it did not make). */
#define OMPS_CLIENT_FAULTED 1u /* the culprit of a GPU fault: every call of its fails */
struct omps_client_stats {
	int32_t pid;
	uint32_t flags; /* OMPS_CLIENT_* */
	uint64_t calls, kernels, graphs, copies, copy_bytes;
	uint64_t queued_us;
	uint64_t syncs, syncs_signalled; /* of contexts, streams, events; those the GPU signalled */
};

/* The daemon's watch on a server: the main loop answers each ping; one not
 * answered for long (OPENMPS_SERVER_WATCHDOG_S) gets the server killed and
 * its clients a new one. */
struct omps_ping {
	uint32_t seq;
	uint32_t reserved;
};

/* What a server's main loop is doing, in a page of shared memory it sends
 * with SERVER_READY, so that the daemon can say where it was stuck.
 * busy_since_us: CLOCK_MONOTONIC when the loop took the event it handles,
 * 0 while it waits for one; doing: what it does, and client: the client
 * process it does it for (the daemon's pid, 0: none), whole while seq is
 * even. */
struct omps_server_beat {
	uint64_t busy_since_us;
	uint32_t seq;
	int32_t client;
	char doing[240];
};

struct omps_shutdown {
	uint32_t force; /* 0: exit once the last client has left; 1: now */
};

struct omps_terminate {
	uint32_t seq;
	int32_t pid;
	int32_t result; /* a CUresult, set in the reply */
};

/* The daemon counts, lists and terminates a client by its connection: a
 * client that closes it while it keeps working is dropped by its server. */
struct omps_client_left {
	uint32_t client_id;
	uint32_t reserved;
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
	uint64_t peers; /* bit k: its kernels and copies reach the client's device k's memory */
	int32_t attrs[OMPS_MAX_ATTRS]; /* 0 where the driver has no such attribute */
};

_Static_assert(sizeof(struct omps_msg) + sizeof(struct omps_device_info) <= OMPS_MSG_MAX,
	       "device info must fit one packet");
_Static_assert(sizeof(struct omps_msg) + sizeof(struct omps_server_ready) <= OMPS_MSG_MAX,
	       "server ready message must fit one packet");
_Static_assert(sizeof(struct omps_msg) + sizeof(struct omps_hello) + sizeof(struct omps_client_info) <=
		       OMPS_MSG_MAX,
	       "client hello must fit one packet");

#endif
