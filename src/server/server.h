/* openmps-server: one per user (or one for all with -M), started by the
 * control daemon, which brokers every client connection to it. */
#ifndef OPENMPS_SERVER_H
#define OPENMPS_SERVER_H

#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "calls.h"
#include "driver.h"
#include "protocol.h"
#include "ring.h"

struct srv_state;

/* One allocation a client made; its frees and pointer ranges are checked
 * against these, and whatever is left is freed when the client goes. */
/* An allocation made in a capture is a graph's (its allocation node's):
 * where it stands. */
enum srv_graph_alloc {
	SRV_GRAPH_ALLOC_NONE,  /* not a graph's */
	SRV_GRAPH_ALLOC_LIVE,  /* its graph does not free it: the program does, after a launch */
	SRV_GRAPH_ALLOC_OWN,   /* freed in a capture too: its graphs allocate and free it at each
				  launch, nothing else frees it */
	SRV_GRAPH_ALLOC_FREED, /* freed by the program: a launch makes it again */
};

struct srv_alloc {
	struct srv_alloc *next;
	CUdeviceptr ptr;
	uint64_t bytes;
	int dev;
	uint32_t module; /* a global of this module: the module frees it, not the client */
	char *name;	 /* a global's name in its module */
	CUdeviceptr at;	 /* a global: where it is now; ptr, as the client was told, unless a fault moved it */
	int retired;	 /* freed by the client while it held graphs (memory.c) */
	int graph;	 /* enum srv_graph_alloc: allocated in a capture, its graph's */
	int vmm;		       /* a mapping of its physical memory: vmm.c unmaps it */
	struct srv_ipc_export *export; /* its CUDA IPC handle, once it gave one out (ipc.c) */
	struct srv_ipc_export *import; /* another client's memory it opened, */
	unsigned import_refs;	       /* this many times */
};

/* A module several clients loaded from the same image, which holds no data
 * (image.h): loaded once. */
struct srv_shared_module {
	struct srv_shared_module *next;
	unsigned char hash[32]; /* SHA-256 of the image */
	uint64_t len;
	int dev;
	unsigned refs;
	CUmodule mod;
	unsigned char *image; /* kept: a client that needs its own copy loads it */
	int image_fd;	      /* the memfd image is mapped from; -1: in the heap (srv_image_alloc) */
};

/* The bytes of its own modules' images the server keeps for one client, so
 * that a successor can load them again after a fault; a module past that
 * costs its client its context at a fault (handover.c says so). */
#define SRV_KEPT_IMAGES_MAX (32ull << 20)

/* A module image's bytes and the NUL after them, in a memfd of their own
 * where one can be had (*fd), so that a record names the descriptor rather
 * than copying the bytes (handover.c; checkpoint.c writes one often); else
 * in the heap (*fd -1). NULL if out of memory. */
unsigned char *srv_image_alloc(uint64_t len, int *fd);
void srv_image_free(unsigned char *image, uint64_t len, int fd);

/* The image of a client's own module, kept so that a successor can load
 * the module again after a fault (handover.c); one copy an image, however
 * many modules were loaded from it. module.c, under modules_lock. */
struct srv_kept_image {
	struct srv_kept_image *next;
	unsigned char hash[32]; /* SHA-256 of the image */
	uint64_t len;
	unsigned refs;
	uint32_t place;	      /* handover.c: its place in the record, + 1; 0: not in it */
	unsigned char *image; /* with a NUL after it */
	int image_fd;	      /* as srv_shared_module's */
};

/* A module or function of a client; its handle is its index + 1. */
struct srv_module {
	CUmodule mod;
	int dev;
	uint64_t data_bytes; /* its module data, counted against the client's limit */
	int64_t writable;    /* of that, bytes its kernels may write (image.h); -1: not told */
	int ran;	     /* with writable data: a kernel of it was launched or put in a graph */
	struct srv_module_data *data; /* with writable data: its variables, and their copy (moddata.c) */
	struct srv_kept_image *image;	  /* a module of its own: its image, or NULL if not kept */
	struct srv_shared_module *shared; /* NULL: the client's own */
	int kept; /* unloaded by the client while it held graphs: loaded until it goes */
	struct srv_shared_module *left; /* the shared one it had when it got its own copy while it held
					   graphs: their kernels may be that one's, so it stays until the client goes */
};

struct srv_function {
	CUfunction fn;
	char *name;
	uint32_t attr_set; /* bit a: the client set attribute a to attr[a] */
	int attr[CU_FUNC_ATTRIBUTE_MAX];
	uint32_t module;
	uint32_t data;	    /* its module has writable data (srv_module.ran) */
	uint32_t args_size; /* bytes the packed arguments must have */
	uint32_t nparams;
	struct omps_param params[OMPS_MAX_PARAMS];
};

/* A client's graph written down (graphdesc.c): its nodes, each as a
 * GRAPH_ADD_NODE record says it, and its edges. */
/* A conditional node's body graph: its description, as the node holds it
 * (the body graph's own, until either changes), and where a successor made
 * it again (the driver's, made with the node). */
struct srv_graph_body {
	struct srv_graph_desc *desc;
	CUgraph made;
};

struct srv_graph_node_desc {
	struct omps_call_graph_node rec; /* without deps: edges say them */
	unsigned char *args;		 /* a kernel's rec.args_size packed bytes */
	CUgraphNode node;		 /* the node it was walked from, or made again as */
	struct srv_graph_desc *child;	 /* a child graph node's graph, as the node holds it */
	struct srv_graph_body *bodies;	 /* a conditional node's rec.cond_size bodies */
	uint32_t nattrs;		 /* a walked kernel node's attributes not at their defaults */
	CUlaunchAttribute *attrs;
};

/* A conditional handle made for the graph, in the order made: a successor
 * makes them again in that order, and the driver numbers a graph's handles
 * alike in a fresh context (tests/gpu/handle_values.c), so kernels that
 * hold the values set the same conditions. */
struct srv_graph_cond {
	uint64_t value;
	uint32_t default_value, flags;
};

struct srv_graph_node_index {
	CUgraphNode node;
	uint32_t i;
};

struct srv_graph_desc {
	unsigned refs; /* its graph's and the executable graphs made from it */
	uint32_t n, nedges, ncap, ecap;
	struct srv_graph_node_desc *nodes;
	uint32_t (*edges)[2]; /* from, to: indexes into nodes */
	const char *why;      /* why it cannot be made again; NULL: it can */
	uint32_t nconds;
	struct srv_graph_cond *conds;
};

/* A stream or event of a client; its handle is its index + 1. */
struct srv_object {
	void *obj; /* CUstream or CUevent; NULL once destroyed */
	int dev;
	int priority;	    /* a stream's, as the client asked (qos.c maps it) */
	int blocking;	    /* a stream the legacy NULL stream waits for, and that waits for it */
	int dirty;	    /* work queued since the NULL stream last waited for it */
	uint64_t null_seen; /* the NULL stream's epoch it last waited for */
	uint32_t owner;	    /* a graph node's graph, a conditional body's parent graph (graphbuild.c),
			       an executable graph's graph */
	unsigned flags;	    /* an event's, as created; an executable graph's instantiation flags */
	struct srv_graph_desc *desc; /* a graph's or executable graph's, written down (graphdesc.c) */
	uint32_t place;		     /* a graph node's index in its graph's desc */
	uint32_t cond_node, body;    /* a conditional body's node (its handle) and which body it is */
	uint32_t conds;		     /* a graph's conditional handles made (graphdesc.c) */
	struct srv_ipc_event *shared; /* an event given out or opened by IPC handle (ipc.c) */
};

/* A client. Until its data channel opens, the main thread owns it; after,
 * the worker pool does (workers.c), and the main thread only asks it to
 * stop. */
struct srv_client {
	struct srv_client *next;
	struct srv_state *srv;
	int fd;
	pid_t pid;
	uid_t uid;
	uint32_t id;
	int greeted;
	/* The GPUs it sees (its CUDA_VISIBLE_DEVICES): its device k is the
	 * server's view[k]. Its records name its own ordinals; dispatch turns
	 * them into the server's (remapped: not all of them, in order). */
	uint32_t nview;
	int remapped;
	int32_t view[OMPS_MAX_DEVICES];
	/* its limits (qos.c): effective follows the server's and its own
	 * request; the main thread changes it under qos_lock and bumps qos_gen,
	 * and its worker applies it into qos before its next call */
	struct omps_settings effective, requested;
	pthread_mutex_t qos_lock;
	atomic_uint qos_gen;
	struct srv_qos {
		unsigned gen; /* of what was applied; 0: nothing yet */
		uint32_t atp_milli;
		int priority;
		uint64_t mem_limit[OMPS_MAX_DEVICES]; /* bytes; 0: none */
		struct srv_partition *part[OMPS_MAX_DEVICES]; /* NULL: every SM */
		int counted_normal; /* in srv_state's normal_clients */
		int static_dev;	    /* its static SM partition's device; -1: none */
		unsigned static_start, static_count;
		unsigned epoch;	    /* of srv_state's normal_epoch, when applied */
		int cluster_told;   /* server.log said why its clusters do not fit */
	} qos;
	uint64_t usage_sent_us; /* last told the daemon (ps) */
	int usage_dirty;
	atomic_int queued; /* fault.c: work queued since its last good synchronize */
	/* fault.c: where that work went (work_on: a stream's handle, 0 the
	 * NULL stream, -1 several), so that a synchronize of one stream counts
	 * as the client's only when all of it went there (sync_covers) */
	int work_any, sync_covers;
	int64_t work_on;
	uint32_t work_event; /* an event recorded after all of it, on that stream (0: none) */
	uint64_t work_devs;  /* the devices it went to (srv_stream notes them) */
	int noting;	     /* the record being served queues work */
	struct { /* stats.c: its worker counts, the main loop reads and sends */
		_Atomic uint64_t calls, kernels, graphs, copies, copy_bytes, syncs, syncs_signalled;
		_Atomic uint64_t queued_us, queued_since; /* time with work queued; since when (0: not now) */
		uint64_t sent_calls, sent_queued, sent_signalled; /* as last sent: the main loop's */
		uint32_t sent_flags;
	} stats;

	/* the data channel (channel.c, workers.c) */
	void *map;
	size_t map_len;
	struct omps_ring req, rep;
	int bell;	 /* eventfd its shim writes when it posts to a parked ring */
	int ring_fd;	 /* the rings' memfd, kept for a successor (handover.c) */
	struct omps_channel_open ring_sizes;
	int quiet;	  /* under run_lock: its worker left it for a handover */
	int handed;	  /* handover.c: kept, written down for the successor */
	int32_t slot;	  /* checkpoint.c: its word's place; -1: none (never kept at a crash) */
	int ck_held;	  /* checkpoint.c, the main loop's: its run_lock held for the record being written */
	CUresult poison;  /* the culprit of a fault: every call of its fails with this */
	int has_worker;	 /* the pool owns it */
	pthread_mutex_t run_lock; /* orders parking against stop */
	int parked;		  /* under run_lock: waiting in the pool's epoll set */
	atomic_int stop; /* set by the main thread once the client is off its list */
	uint64_t stopped_us; /* when (CLOCK_MONOTONIC) */
	int dead;	 /* a worker gave up on the client, which waits for stop */
	unsigned char *buf; /* one request record, copied out of the ring */
	size_t buf_len;
	int pinned;	/* 1: the rings, 2: buf, are page-locked */
	int pin_later; /* a successor's: its worker page-locks them as it first serves it */
	int settled;   /* srv_fault_settle ran since its worker last served a record */
	struct { /* signal.c: synchronizes the GPU signals (SYNC_SIGNAL) */
		CUdeviceptr at; /* the reply ring's signal word, page-locked; 0: none (or the driver refused one) */
		uint32_t seq;	/* the last one queued */
		int clean;	/* nothing was queued since it */
		CUstream stream[OMPS_MAX_DEVICES]; /* where a write after several streams goes */
		CUevent event[OMPS_MAX_DEVICES];   /* recorded on each of those streams in turn */
		CUstream last; /* where the last write went, on device last_dev */
		int last_dev;
		uint64_t sent_us; /* when the last write was queued */
		uint32_t wait_us; /* how long the last wait took; 0: not known, SIGNAL_WAIT_LONG: past the spin */
		int awaited;	  /* its worker spun for the last write already */
		CUstream waited; /* where srv_signal_wait last had the GPU write, on device waited_dev */
		int waited_dev;
	} signal;

	/* answering calls (call.c) */
	atomic_uint refusals; /* logged so far (srv_refused), from its worker or its host thread */
	CUresult sticky; /* the first failure of an asynchronous call, reported at the next sync */
	uint32_t call;	 /* the OMPS_CALL_* being served, for srv_deferred's log line */
	/* A call that failed only because the context was poisoned: not
	 * answered, but held and served again by the server made anew. */
	int holding;	     /* the record being served is held: no reply goes out */
	int no_hold;	     /* ... cannot be: part of its reply went out, or it was held once */
	int was_queued;	     /* c->queued before this record (a held one queued nothing) */
	unsigned char *held; /* the held record, for handover.c */
	uint32_t held_type;
	uint32_t held_len;
	int held_told; /* server.log said so (once a client) */
	CUresult replied; /* the result of the last reply made (sent or not) */
	int replaying;	  /* a successor serves kept records again: no reply goes out (capture.c) */

	struct { /* memory.c */
		struct srv_alloc *allocs;
		struct srv_pool_view {	    /* the default pool as it sees it */
			uint64_t used, high; /* its own bytes in the shared pool */
			uint64_t threshold;  /* as it set them; the shared pool keeps its own */
			int reuse_off[3];    /* zero: on, the driver's default */
		} pool[OMPS_MAX_DEVICES];
		CUstream quiet[OMPS_MAX_DEVICES]; /* where its memory is allocated and freed */
		CUevent stage[OMPS_STAGE_SLOTS];  /* the end of each staging buffer's last copy */
		unsigned moved;			  /* its globals a fault moved (at != ptr) */
		uint64_t span[2][2];		  /* what they span, as it knows them and where they are */
		unsigned char *args;		  /* a launch's arguments, moved globals' addresses changed */
	} mem;
	struct { /* array.c: CUDA arrays (handle = index + 1), texture and surface objects */
		struct srv_array *arrays;
		uint32_t narrays;
		struct srv_texobj *objects;
	} arr;
	struct { /* link.c: JIT link states (handle = index + 1) */
		struct srv_link *links;
		uint32_t nlinks;
		uint64_t kept; /* bytes of the inputs of its links under way, kept for a fault */
	} link;
	struct { /* vmm.c: reservations, physical memory and mappings */
		struct srv_vmm_range *reserved, *mapped;
		struct srv_vmm_phys *phys; /* handle = index + 1 */
		uint32_t nphys;
	} vmm;
	struct { /* module.c */
		uint64_t data_bytes[OMPS_MAX_DEVICES]; /* its private modules' data */
		unsigned char *image;		       /* a module image being received */
		uint64_t image_len, image_cap;
		uint64_t kept_image_bytes; /* of its own modules' images, kept */
		uint64_t launches;	   /* kernels launched or put in graphs, ever (moddata.c) */
		uint64_t synced;	   /* launches at its last good synchronize */
		int data_ran;		   /* a kernel of a module with writable data was */
		unsigned copied;	   /* modules whose variables moddata.c copies */
		unsigned copies_refused;   /* ... and those past its bound */
		struct srv_module *modules;
		uint32_t nmodules;
		struct srv_function **functions;
		uint32_t nfunctions;
	} mod;
	/* stream.c: streams and events */
	CUstream stream[OMPS_MAX_DEVICES];     /* its NULL stream on each device */
	uint64_t null_epoch[OMPS_MAX_DEVICES]; /* work queued on it so far */
	CUevent legacy[OMPS_MAX_DEVICES];      /* orders it with the blocking streams */
	struct srv_object *streams, *events;
	uint32_t nstreams, nevents;
	struct { /* launch.c: graphs that launch runs of its kernels, by stream */
		struct srv_run_graphs *by_stream; /* the one used last first */
		unsigned failed;		  /* graphs the driver would not make */
	} runs;
	struct { /* graph.c */
		struct srv_object *graphs, *execs; /* CUgraph, CUgraphExec */
		struct srv_object *nodes;	   /* CUgraphNode of graphs built node by node, or listed */
		uint32_t ngraphs, nexecs, nnodes;
		uint32_t *free_nodes; /* node handles let go with their graphs, given out again first */
		uint32_t nfree_nodes, free_cap;
		unsigned captures; /* begun and not yet ended */
		int spoiled;	   /* something in them could not be captured */
		struct {	   /* capture.c: the records of its captures under way */
			unsigned char *buf;
			size_t len, cap;
			const char *broken; /* why they cannot be made again; NULL: they can */
		} journal;
		int rebuilding;	   /* a successor's: memory it freed while it held graphs is still its own */
	} graph;
	struct { /* host.c: host memory shared with it */
		struct srv_host *maps;
		struct srv_host *retired; /* unshared while its graphs could name it */
		uint64_t unshare;	  /* the address a HOST_UNMAP asks its worker to let go, */
		int unsharing;		  /* while this is set */
		unsigned nmaps;		  /* in maps and retired, */
		uint64_t bytes;		  /* and their bytes */
		pthread_mutex_t lock;
		pthread_cond_t idle; /* jobs fell to 0 */
		unsigned jobs;	     /* requests under way on threads of their own */
		pthread_t thread;    /* the last one's, */
		int joinable;	     /* not joined yet */
	} host;
	struct { /* hostfn.c */
		uint64_t area;	/* its struct omps_hostfn_area, shared; 0: none */
		uint32_t last;	/* the last ticket queued */
		int pending;	/* some were queued */
		int graphs;	/* host functions in graphs since graph_epoch last moved */
	} hostfn;
};

struct srv_workers {
	int epfd; /* the parked clients' doorbells */
	pthread_mutex_t lock;
	unsigned total, max;
	unsigned blocked; /* threads in a synchronize: not counted against max */
	atomic_uint idle; /* threads waiting in epoll_wait */
	atomic_uint channels; /* clients with a data channel not yet released */
	atomic_int stopping;
	int wake_fd; /* readable once stopping: every thread's epoll_wait returns */
	int spawn_failed;
	int spin_us; /* a worker's spin for its client's next request before it sleeps */
	int signal_spin_us; /* the longest spin for a signalled synchronize's word (signal.c) */
	int park_ms; /* how long a worker keeps a client with nothing to do before it parks it */
	unsigned sync_crowd;	/* clients served at once past which the server is crowded */
	unsigned sync_spinners; /* synchronizes that spin at once then; the rest sleep */
	atomic_uint serving;	/* threads serving a client */
};

/* One of the equal groups of SMs a device splits into for a share: a
 * green context, made at its first use (qos.c). */
struct srv_partition {
	struct srv_partition *next;
	int dev;
	unsigned start, slots; /* the run of the device's slots it holds */
	unsigned sms;	       /* slots x the slot's SMs */
	struct srv_slots *of;  /* the split its slots are of */
	CUgreenCtx green;
	unsigned users;
};

/* A device's SMs in the smallest groups of one split of the driver's
 * (devices.h), and how many clients' partitions hold each (qos.c, under
 * part_lock). */
#define SRV_MAX_SLOTS 256
struct srv_slots {
	unsigned n, sms; /* slots, and SMs in each; 0: not made yet */
	int fine;	 /* the split ignores the GPU's hierarchy (clusters of 2 at most) */
	CUdevResource res[SRV_MAX_SLOTS];
	unsigned users[SRV_MAX_SLOTS];
};

struct srv_state {
	int control_fd;	 /* to the daemon; -1 once it is gone */
	int log_fd;	 /* server.log, as the daemon opened it */
	atomic_int handing_over; /* handover.c: workers leave their clients */
	int usage_fd;	 /* the same socket, for workers' usage figures; never closed */
	int draining;	 /* exit once the last client has left */
	unsigned nclients;
	struct srv_client *clients;
	struct omps_settings settings; /* server-wide, from the daemon */
	struct omps_server_ready devices;
	struct srv_driver *drv;
	CUcontext ctx[OMPS_MAX_DEVICES]; /* the primary contexts every client shares */
	uint64_t peers[OMPS_MAX_DEVICES]; /* bit j of i: peer access from i to j is on (devices.h) */
	pthread_mutex_t pool_lock;
	pthread_mutex_t modules_lock;
	pthread_mutex_t ipc_lock;
	struct srv_ipc_export *exports; /* ipc.c */
	int32_t ipc_pids[32];		/* servers before it after faults, whose IPC handles are its own */
	unsigned nipc_pids;
	struct srv_ipc_event *ipc_events; /* ipc.c */
	atomic_uint host_maps;	 /* host memory ranges every client shares (host.c), */
	unsigned host_maps_max; /* at most this many */
	const char *exit_why;	/* the daemon said to exit now: why, for each client's log line */
	uint64_t host_bytes_max; /* bytes of host memory one client may share (OPENMPS_CLIENT_HOST_MEMORY_MB) */
	struct srv_shared_module *shared_modules; /* module.c */
	struct srv_kept_image *kept_images;	  /* module.c */
	int runs_off;		      /* OPENMPS_LAUNCH_RUNS=0: each launch on its own (launch.c) */
	atomic_ulong runs_launched;   /* runs launched as graphs, for tests */
	CUmemoryPool pool[OMPS_MAX_DEVICES]; /* clients' stream-ordered memory (memory.c) */
	struct srv_arena *arena[OMPS_MAX_DEVICES]; /* clients' cuMemAlloc memory (arena.c) */
	struct srv_workers workers;
	pthread_mutex_t part_lock;
	struct srv_partition *parts; /* qos.c */
	struct srv_slots *slots[OMPS_MAX_DEVICES];  /* shares' slots, made at a device's first share */
	struct srv_slots *chunks[OMPS_MAX_DEVICES]; /* static partitions' (coscheduled), at the first */
	int sm_split;				    /* OPENMPS_SM_SPLIT: 1 fine (the default), 0 coscheduled */
	atomic_int part_warned;
	uint32_t reserve_milli; /* of the SMs, kept from below-normal clients (qos.c) */
	atomic_uint normal_clients; /* ... while there are normal ones: */
	atomic_uint normal_epoch;   /* bumped as their count leaves or reaches 0 */
	atomic_int reserve_logged;
	int prio_least[OMPS_MAX_DEVICES], prio_greatest[OMPS_MAX_DEVICES];
};

/* Whether [addr, addr + bytes) lies within [base, base + size), without overflow. */
static inline int srv_span_holds(uint64_t base, uint64_t size, uint64_t addr, uint64_t bytes)
{
	return addr >= base && bytes <= size && addr - base <= size - bytes;
}

/* clients.c */
struct srv_pack;
struct srv_unpack;
struct srv_client *srv_client_add(struct srv_state *s, int fd, const struct omps_admit *a);
struct srv_client *srv_client_find(struct srv_state *s, pid_t pid);
void srv_client_remove(struct srv_state *s, struct srv_client *c, const char *why);
void srv_client_readable(struct srv_state *s, struct srv_client *c);

/* channel.c */
int srv_channel_open(struct srv_client *c, int memfd, const void *payload, size_t len, char *err,
		     size_t errlen);
void srv_channel_stop(struct srv_client *c);
/* A successor's: the rings and doorbell a client had, parked with the pool. */
int srv_channel_adopt(struct srv_client *c, int ring_fd, int bell, const struct omps_channel_open *o);
/* Work for the client's worker, from another thread: see srv_host_unshare. */
void srv_channel_poke(struct srv_client *c);
/* The client's own memory and descriptors, once its call families have
 * released what they held (or it never opened its channel). */
void srv_client_free(struct srv_client *c);
/* A worker serves the client until it parks, or releases it once stopped. */
void srv_channel_run(struct srv_client *c);

/* dispatch.c: a record of the client's request ring to its handler, its
 * length checked against OMPS_CALLS first. */
void srv_dispatch(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len);
/* A record served again by a successor (capture.c): its handler only. */
void srv_dispatch_again(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len);

/* The handlers, one a row of OMPS_CALLS, each in its family's file:
 * srv_FAMILY_HANDLER(c, the record[, the data after it]). */
#define SRV_HANDLER_FIXED(family, handler, record) \
	void srv_##family##_##handler(struct srv_client *c, const struct omps_call_##record *m);
#define SRV_HANDLER_TAIL(family, handler, record)                                                  \
	void srv_##family##_##handler(struct srv_client *c, const struct omps_call_##record *m, \
				      const unsigned char *data, size_t len);
#define SRV_HANDLER_RAW(family, handler, record) \
	void srv_##family##_##handler(struct srv_client *c, const unsigned char *data, size_t len);
#define SRV_HANDLER(NAME, family, handler, record, shape, reply, log) SRV_HANDLER_##shape(family, handler, record)
OMPS_CALLS(SRV_HANDLER)
#undef SRV_HANDLER

/* call.c: what every handler uses to answer. A reply begins with a
 * struct omps_reply; its result is noted in c->replied, sent or not (a held
 * call, or one a successor serves again, sends nothing). */
int srv_reply(struct srv_client *c, const void *reply, size_t len);
/* Room for a data record of n bytes in the reply ring, waited for until the
 * deadline (srv_reply_deadline: by the copy's size); NULL: the client is let
 * go, with a line. */
void *srv_reply_space(struct srv_client *c, uint32_t n, uint64_t deadline_us);
uint64_t srv_reply_deadline(uint64_t bytes);
/* bytes to the client as data records, a record's worth at a time, each
 * written straight into the reply ring by fill (n bytes from offset off);
 * the first failure ends it. The caller replies after. */
CUresult srv_reply_chunks(struct srv_client *c, uint64_t bytes,
			  CUresult (*fill)(void *dst, uint64_t off, uint32_t n, void *arg), void *arg);
/* For srv_reply_chunks: bytes that are in memory already (from). */
CUresult srv_bytes_piece(void *dst, uint64_t off, uint32_t n, void *from);
void srv_reply_result(struct srv_client *c, CUresult r);
void srv_reply_value(struct srv_client *c, CUresult r, int64_t value); /* omps_reply_value */
/* r, or else the sticky error of an earlier asynchronous call (then cleared). */
int32_t srv_with_sticky(struct srv_client *c, CUresult r);
void srv_deferred(struct srv_client *c, CUresult r); /* logged as the call c->call */
void srv_deferred_on(struct srv_client *c, CUresult r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A client that cannot be served any more: disconnected, with a line. */
void srv_give_up(struct srv_client *c, const char *why);
/* Tells the client's shim, which prints it once, why the server lets it go
 * (OMPS_MSG_REFUSED on its socket, which closes next); not to one whose
 * data channel is not open yet. */
void srv_farewell(struct srv_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A record that breaks the protocol: the client is disconnected, with a line. */
void srv_malformed(struct srv_client *c, uint32_t type, size_t len);
/* What a client asked for and was refused: logged, its first 16, so that a
 * hostile client cannot fill the disk. */
void srv_refused(struct srv_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A handle that names none of the client's objects. */
void srv_bad_handle(struct srv_client *c, const char *what, uint32_t handle);
/* The server's ordinal of the client's device dev; for one it does not
 * see, one that no device has (handlers refuse it as they refuse any). */
static inline int32_t srv_view_dev(const struct srv_client *c, int32_t dev)
{
	if (!c->remapped || dev < 0)
		return dev;
	return (uint32_t)dev < c->nview ? c->view[dev] : INT32_MAX;
}
/* The client's ordinal of the server's device dev; -1: it does not see it. */
int32_t srv_client_dev(const struct srv_client *c, int dev);
/* Makes dev's context current (and the client's NULL stream on it, made at
 * its first use, *stream if asked). */
int srv_use_device(struct srv_client *c, int dev, CUstream *stream);

/* state.c: the server's state, made once: its locks, the driver, each
 * device's primary context, the QoS defaults and the worker pool's epoll set
 * (srv_workers_start starts the threads). main.c, the fuzz fixture and the
 * unit tests all make it here. drv becomes s->drv. */
int srv_state_init(struct srv_state *s, struct srv_driver *drv, char *err, size_t errlen);

/* beat.c: what the main loop does, for the daemon's watch (protocol.h). */
int srv_beat_init(void); /* the page's memfd, sent with SERVER_READY; -1 if none */
void srv_beat_adopt(int fd); /* a successor's: the page it had, from its memfd */
/* What the loop does now, and for which client process (0: none). */
void srv_beat_doing(pid_t client, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srv_beat_idle(void); /* back in poll */

/* workers.c */
int srv_workers_init(struct srv_state *s, char *err, size_t errlen);
/* Starts the threads; a synchronize by a worker counts as blocked from then on. */
int srv_workers_start(struct srv_state *s, char *err, size_t errlen);
int srv_workers_saturated(struct srv_state *s);
int srv_workers_crowded(struct srv_state *s); /* more clients served than sync_crowd */
int srv_workers_park(struct srv_client *c, int first);
void srv_workers_forget(struct srv_client *c);
/* Waits (up to timeout_ms) for every stopped client to be released, then for
 * the threads to exit: only then may the contexts be destroyed. */
void srv_workers_stop(struct srv_state *s, int timeout_ms);

/* qos.c */
void srv_qos_init(struct srv_state *s);
void srv_qos_client_init(struct srv_client *c, const struct omps_settings *effective,
			 const struct omps_settings *requested, const struct omps_admit *a);
void srv_qos_settings_changed(struct srv_state *s);
void srv_qos_apply(struct srv_client *c);
/* Applies a change of the client's settings, if any, before its next call. */
static inline void srv_qos_check(struct srv_client *c)
{
	if (atomic_load_explicit(&c->qos_gen, memory_order_relaxed) != c->qos.gen ||
	    (c->qos.priority >= 1 && atomic_load_explicit(&c->srv->normal_epoch, memory_order_relaxed) != c->qos.epoch))
		srv_qos_apply(c);
}
void srv_qos_left(struct srv_client *c);
void srv_qos_release(struct srv_client *c);
/* What the client's streams are made with: its partition, its priority mapped. */
CUresult srv_qos_stream_create(struct srv_client *c, int dev, int asked_priority, CUstream *out);
/* The level a stream or a launch of the client that asked for this
 * priority runs at: below-normal clients' under every normal one's. */
int srv_qos_priority(const struct srv_client *c, int dev, int asked);
/* The range a client sees: one level fewer than the device's, the lowest kept for priority 1. */
void srv_qos_priority_range(const struct srv_state *s, int dev, int *least, int *greatest);
unsigned srv_qos_sms(const struct srv_client *c, int dev);
/* 1: the client's partition on dev is of the fine split (clusters of 2 at most). */
int srv_qos_fine(const struct srv_client *c, int dev);
uint64_t srv_qos_used(const struct srv_client *c, int dev);
/* CUDA_ERROR_OUT_OF_MEMORY (logged) when bytes more would pass its limit. */
CUresult srv_qos_mem_check(struct srv_client *c, int dev, uint64_t bytes, const char *what);
void srv_qos_mem_info(const struct srv_client *c, int dev, size_t *free_b, size_t *total);
void srv_qos_usage_changed(struct srv_client *c, int force);
void srv_qos_usage_flush(struct srv_client *c);

/* fault.c: a GPU fault in the shared context, seen and answered */
int srv_fault_fatal(CUresult r); /* one of the errors that poison a context */
void srv_fault_seen(CUresult r); /* a call's result: a fatal one has the watch look now */
int srv_fault_can_hold(void);	 /* a call failed by a fault may be held for the next image */
int srv_handover_enabled(void);	 /* OPENMPS_FAULT_HANDOVER is not 0 */
/* Whether a descriptor may stay open for a successor: only below half the
 * descriptor limit, which is for the clients' sockets first, and half of
 * what a record carries. Descriptors are numbered lowest free first, so the
 * number says about how many are open. */
int srv_handover_fd_keepable(int fd);
void srv_fault_queued(struct srv_client *c, int queued);
void srv_fault_work(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len); /* queued */
/* Whether a synchronize (type; a stream's or event's handle, or for a
 * device's, the server's device) waited for all the work the client
 * queued since it was last idle. */
int srv_fault_covers(const struct srv_client *c, uint32_t type, uint32_t handle, int dev);
void srv_fault_work_on(struct srv_client *c, int dev); /* srv_stream: the work's device */
void srv_fault_sync(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len); /* sets sync_covers */
int64_t srv_capture_stream_of(uint32_t type, const unsigned char *rec, size_t len); /* -1: none or unknown */
void srv_fault_forget(struct srv_client *c);
void srv_fault_left(struct srv_client *c); /* the main loop, as it lets one go */
void srv_fault_settle(struct srv_client *c, int ask); /* its worker, going idle: is its work done? */
int srv_fault_busy(struct srv_client *c);    /* work queued, and not signalled done */
int srv_fault_start(struct srv_state *s, char *err, size_t errlen);
void srv_fault_stop(void); /* before the contexts go */
int srv_fault_check(struct srv_state *s); /* 1: poisoned (a probe now, by the main loop) */
int srv_fault_fd(void); /* readable once the context is poisoned: srv_fault_handle */
void srv_fault_handle(struct srv_state *s) __attribute__((noreturn));

/* handover.c: after a fault, the server makes itself anew (execve, the
 * same process) and keeps the clients it can: their connections, rings,
 * memory at the same addresses, modules, streams, events and host memory,
 * written down before and read back after (docs/architecture.md). */
struct srv_pack {
	FILE *f;
	int failed;
	int *fds; /* the descriptors written, which the new image inherits */
	unsigned nfds, max_fds;
	int dup; /* each one written now is a copy (the writer closes them once handed over) */
	unsigned dups_from, dups_to; /* where in fds the copies are */
};
struct srv_unpack {
	const unsigned char *p;
	size_t len, off;
	int failed;
	const int (*fdmap)[2]; /* the old numbers of descriptors and their new, by old; NULL: the same */
	unsigned nfdmap;
	unsigned char *taken; /* by fdmap's index: read by srv_unpack_fd (the rest close at the end) */
};
void srv_pack_put(struct srv_pack *p, const void *v, size_t n);
void srv_pack_fd(struct srv_pack *p, int fd); /* written, and inherited by the new image */
int srv_unpack_get(struct srv_unpack *u, void *v, size_t n); /* -1 (and failed) past the end */
int srv_unpack_fd(struct srv_unpack *u); /* one srv_pack_fd wrote, as this process numbers it; -1: none */
/* A string, by its length; read back shorter than max bytes (malloc'd;
 * NULL, and failed, if not). */
void srv_pack_str(struct srv_pack *p, const char *str);
char *srv_unpack_str(struct srv_unpack *u, size_t max);
/* By the main loop once the context is poisoned: returns only if the
 * server cannot make itself anew (then it exits as before). */
void srv_handover(struct srv_state *s, CUresult fault, int device, uint64_t seen_us);
/* After a crash (checkpoint.c), not a fault: each client's word as the
 * server left it, and when; a client whose word moved after the record is
 * passed over. NULL after a fault. */
struct srv_words {
	const uint64_t *words;
	uint32_t n;
	uint64_t seen_us, record_us; /* when the server was seen gone; when it wrote the record */
	pid_t from;
};
/* By main, for --resume: the server's state back from the memfd at fd.
 * given: NULL in the same process (the state is made here; descriptors
 * keep their numbers); in a standby, whose state is made, the descriptors
 * it was handed, in the order of the record's list; w: after a crash. */
int srv_handover_resume(struct srv_state *s, struct srv_driver *drv, int fd, const int *given, unsigned ngiven,
			const struct srv_words *w, char *err, size_t errlen);
/* checkpoint.c, with the run_lock of each client parked with nothing
 * queued held (c->ck_held): the record of those clients, as for a fault;
 * its descriptors (its memfd first) in fds; those of memory chunks and module images are copies
 * (made under their structures' locks, which a busy client's worker may
 * take next to close one), at [dups[0], dups[1]). 0; 1 if no client is to
 * be kept (nothing written); -1 (said in the log). */
int srv_handover_record(struct srv_state *s, int *fds, unsigned max, unsigned *n, unsigned dups[2]);
int srv_handover_beat_fd(void); /* the beat's memfd, kept for the successor */

/* standby.c: a server process started ahead, to take over after a fault. */
int srv_standby_enabled(void); /* OPENMPS_FAULT_STANDBY, and handing over at all */
void srv_standby_start(struct srv_state *s);
/* Hands the descriptors (the record's memfd first) to a ready standby and
 * tells the daemon: its pid, or 0 if there is none that took them. */
pid_t srv_standby_take(struct srv_state *s, const int *fds, unsigned n);
/* In the standby: says it is ready, maps the server's chunks as they come
 * (srv_arena_map_ahead), and waits for the descriptors; -1 if the server
 * went without handing over, or a chunk cannot be mapped here. */
int srv_standby_wait(struct srv_state *s, int sock, int **fds, unsigned *n, struct srv_words *w);
/* The server's, the main loop's: a record kept against a crash (its memfd
 * first), handed to a ready standby in place of the one before; 0, or -1. */
int srv_standby_record(struct srv_state *s, const int *fds, unsigned n); /* n 0: the one before dropped */
int srv_standby_ready(void);
/* Before an exit that is no crash: the standby goes too, not taking over. */
void srv_standby_quit(void);
/* The server's chunks, told to a ready standby (from arena.c). */
void srv_standby_chunk(int dev, CUdeviceptr base, uint64_t size, int fd);
void srv_standby_unchunk(int dev, CUdeviceptr base, uint64_t size);
/* The standby's socket, for the main loop (-1: none); its word read:
 * 1 if it has just become ready (offer it the chunks), else 0. */
int srv_standby_fd(void);
int srv_standby_readable(struct srv_state *s);

/* checkpoint.c: the record kept current while every client is parked,
 * so that a standby can take over the idle clients of a server that is
 * killed or crashes (not a fault). Each client has a word in a memfd the
 * standby maps, moved whenever what the record says of it may change. */
void srv_checkpoint_join(struct srv_client *c);	 /* the main loop: a slot, its word moved */
void srv_checkpoint_leave(struct srv_client *c); /* the main loop: its word moved, its slot free */
void srv_checkpoint_touch(struct srv_client *c); /* any thread: its record may change now */
uint64_t srv_checkpoint_word(const struct srv_client *c);
void srv_checkpoint_again(void); /* a new standby is ready: it needs a record */
int srv_checkpoint_fd(void); /* the words' memfd; -1: none */
/* The main loop, each turn: writes a record when one is due and every
 * client is parked. The poll timeout it asks for (ms), or -1. */
int srv_checkpoint_tick(struct srv_state *s);

/* stats.c */
void srv_stats_count(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len);
void srv_stats_queued(struct srv_client *c, int queued);
void srv_stats_signalled(struct srv_client *c); /* signal.c: a synchronize went to the GPU's signal */
void srv_stats_sweep(struct srv_state *s);

/* stream.c */
int srv_streams_idle(struct srv_client *c);
int srv_streams_on(struct srv_client *c, int dev); /* has it streams of its own there, not capturing */
/* signal.c */
void srv_signal_stream_gone(struct srv_client *c, int dev, CUstream s); /* before s goes */
void srv_signal_release(struct srv_client *c); /* as it goes, before its rings are unregistered */
/* Its signal stream on dev (current), joined on each of its streams there;
 * NULL if none can be (moddata.c queues its copies on it). */
CUstream srv_signal_join_all(struct srv_client *c, int dev, CUstream null_stream);
void srv_signal_drain(struct srv_client *c, int dev); /* waits for its signal stream on dev */
int srv_signal_await(struct srv_client *c); /* 1: a record came while its worker spun for the word */
CUresult srv_signal_wait(struct srv_client *c, int dev, CUstream s); /* the server's wait for s's work (dev current) */
/* How long a worker spins for a client's word, given its last wait, and
 * that wait learned from a spin of spun_us (landed: the word came after
 * waited_us); SIGNAL_WAIT_LONG: past the most the spin may take. */
#define SIGNAL_WAIT_LONG UINT32_MAX
uint32_t srv_signal_spin_bound(uint32_t wait_us, int most_us);
uint32_t srv_signal_learn(uint32_t before, uint32_t spun_us, int landed, uint32_t waited_us, int most_us);

/* moddata.c: the __device__ variables of a client's own modules, copied as
 * it goes idle, put back by a successor after a fault. */
struct srv_module_data;
/* m just loaded (current context) from image: where its variables are. */
void srv_moddata_init(struct srv_client *c, struct srv_module *m, const void *image, size_t len);
void srv_moddata_free(struct srv_client *c, struct srv_module *m);
/* As its worker sees it idle (srv_fault_settle): copies of the modules
 * whose kernels ran since the last, those of at most most bytes. */
void srv_moddata_take(struct srv_client *c, uint64_t most);
/* Why m's data would be lost at a fault now (busy: the client had work in
 * flight, which it is told it lost), or NULL. */
const char *srv_moddata_lost(struct srv_client *c, const struct srv_module *m, int busy);
void srv_moddata_save(const struct srv_module *m, struct srv_pack *p);
/* The successor's, once m is loaded again from its kept image. */
const char *srv_moddata_restore(struct srv_client *c, struct srv_module *m, struct srv_unpack *u);
void srv_moddata_skip(struct srv_unpack *u); /* what srv_moddata_save wrote, read and let go */
/* A variable of m the client asked the address of: copied with the rest
 * from now on, since the host may write it (any global, __constant__ too).
 * -1 if it cannot be. */
int srv_moddata_add(struct srv_client *c, struct srv_module *m, const char *name, CUdeviceptr ptr, uint64_t bytes);
/* The host named a global of module (1-based) in a call: its data may change. */
void srv_moddata_touched(struct srv_client *c, uint32_t module);
/* The stream a call names: 0 is the client's NULL stream on dev. Also makes
 * that stream's device's context current. dev must be one of the server's
 * either way (callers index by it). */
CUresult srv_stream(struct srv_client *c, uint32_t handle, int dev, CUstream *stream);
/* The same, *dev becoming the stream's device: the call's, as the driver has it. */
CUresult srv_stream_on(struct srv_client *c, uint32_t handle, int *dev, CUstream *stream);
/* Waits for all of the client's work on dev: its NULL stream and every
 * stream it created there. */
CUresult srv_sync_device(struct srv_client *c, int dev);
/* One of its streams that a synchronize of its context on dev waits for:
 * live, there, and not being captured (a capture runs nothing). */
int srv_stream_waited(struct srv_client *c, const struct srv_object *o, int dev);
/* Makes `to` wait for the work queued so far on all the client's streams on dev. */
CUresult srv_stream_after_all(struct srv_client *c, int dev, CUstream to);
void srv_stream_release(struct srv_client *c);
void srv_stream_reset(struct srv_client *c, int dev); /* its streams and events on dev destroyed */
/* A successor's: the client's streams and events made again behind the
 * same handles (handover.c); why not, or NULL. */
const char *srv_stream_restore(struct srv_client *c, struct srv_unpack *u);
/* A client's table of streams, events or graphs: handle = index + 1. Find
 * logs a handle that is not the client's and returns NULL. */
struct srv_object *srv_object_find(struct srv_client *c, struct srv_object *tab, uint32_t n, uint32_t handle,
				   const char *what);
uint32_t srv_object_add(struct srv_object **tab, uint32_t *n, void *obj, int dev); /* 0: no memory */

/* graph.c */
void srv_graph_release(struct srv_client *c);
/* launch.c: the graphs its runs of launches used (before its modules go). */
void srv_launch_release(struct srv_client *c);
/* It holds a graph or an executable graph, or has a capture under way: what
 * it frees is then retired, not given back (memory.c), and a module it
 * unloads kept (module.c), since their work may still name them. */
int srv_graph_live(const struct srv_client *c);
/* Whether s is in a capture (cheap while the client has none under way). */
int srv_capturing(struct srv_client *c, CUstream s);
/* A capture s is in ends, its graph thrown away: s is going. */
void srv_capture_abandon(struct srv_client *c, CUstream s);
/* capture.c: each record served while a capture is under way (before:
 * c->sticky before it), kept if it put work into a capturing stream;
 * across a fault, why its captures cannot be made again (or NULL), what is
 * written down, and the successor's: those records served again. */
void srv_capture_journal(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len, CUresult before);
const char *srv_capture_unkeepable(const struct srv_client *c);
void srv_capture_release(struct srv_client *c);
void srv_capture_save(const struct srv_client *c, struct srv_pack *p);
const char *srv_capture_restore(struct srv_client *c, struct srv_unpack *u, const char *why);
/* CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (logged; the capture is spoiled)
 * when s is capturing: for work that a graph cannot replay. */
CUresult srv_capture_refuse(struct srv_client *c, CUstream s, const char *what);

/* ipc.c: an allocation that carries an IPC export or import is going.
 * unexport: 1 if importers still have it open, the memory now theirs (the
 * last to close frees it); 0 if it may be freed now. */
int srv_ipc_unexport(struct srv_client *c, struct srv_alloc *a);
void srv_ipc_unimport(struct srv_client *c, struct srv_alloc *a);
/* An event object is going: its CUevent destroyed, or, shared by IPC
 * handle, destroyed with its last holder. Its device's context is current. */
void srv_ipc_event_put(struct srv_client *c, struct srv_object *o);
/* Whether an IPC handle of the server process pid is one of this server's:
 * its own, or one of those it took over from after faults. */
int srv_ipc_ours(struct srv_state *s, int32_t pid);
/* Across a fault (handover.c): an allocation's export or import written
 * down by token; read back; linked to the export the successor makes again
 * from the first allocation read that names it: 1 if the caller claims the
 * memory for all of them, 0 if another did, -1 if it cannot be linked.
 * unlink: the claim failed and the allocation is not kept. settle: every
 * client read, exports without exporter are their importers'. */
struct srv_ipc_saved {
	uint8_t kind;
	unsigned char token[OMPS_IPC_TOKEN];
	unsigned refs;
};
void srv_ipc_save(const struct srv_alloc *a, struct srv_pack *p);
int srv_ipc_read(struct srv_unpack *u, struct srv_ipc_saved *sv);
int srv_ipc_link(struct srv_client *c, struct srv_alloc *a, const struct srv_ipc_saved *sv);
void srv_ipc_unlink(struct srv_client *c, struct srv_alloc *a);
void srv_ipc_settle(struct srv_state *s);
/* Its events shared by IPC, written down by token after its events; read
 * back once they are made again, those of one token one CUevent again. */
void srv_ipc_events_save(const struct srv_client *c, struct srv_pack *p);
const char *srv_ipc_events_restore(struct srv_client *c, struct srv_unpack *u, const char *why);

/* vmm.c: everything it mapped unmapped (zeroed), created released, reserved freed. */
void srv_vmm_release(struct srv_client *c);
/* Across a fault (handover.c): why its virtual memory cannot be taken
 * over, or NULL; written down (its physical memory as descriptors); read
 * back and made again at the same addresses, after its allocation table. */
const char *srv_vmm_unkeepable(const struct srv_client *c);
void srv_vmm_save(const struct srv_client *c, struct srv_pack *p);
const char *srv_vmm_restore(struct srv_client *c, struct srv_unpack *u, const char *why);

/* array.c: its texture and surface objects, then its arrays, destroyed. */
void srv_array_release(struct srv_client *c);
/* For a 2D copy's array side: the array of that handle, with
 * [x, x + width) bytes of rows [y, y + rows) of slice z inside it; NULL
 * (logged) if not. */
CUarray srv_array_span(struct srv_client *c, uint32_t handle, int dev, uint64_t x, uint64_t width, uint64_t y,
		       uint64_t rows, uint64_t z);

/* link.c: its JIT link states destroyed. */
void srv_link_release(struct srv_client *c);
/* Across a fault (handover.c): why a link under way cannot be made again,
 * or NULL; written down with the inputs added; read back and made again. */
const char *srv_link_unkeepable(const struct srv_client *c);
void srv_link_save(const struct srv_client *c, struct srv_pack *p);
const char *srv_link_restore(struct srv_client *c, struct srv_unpack *u, const char *why);

/* graphbuild.c: graph `handle` is going; its nodes and body graphs go too. */
void srv_graphbuild_forget(struct srv_client *c, uint32_t handle);
/* A handle for node of graph `graph` (a slot let go first); 0 without memory. */
uint32_t srv_graphbuild_node_add(struct srv_client *c, CUgraphNode node, int dev, uint32_t graph);
/* The driver's parameters for the node record m describes, on dev, checked
 * as the client's call (args: a kernel node's packed arguments; extra holds
 * 5; both and *args_size must last until the driver has the node). A host
 * node's is a child graph node whose graph is the caller's to destroy once
 * the node is added. */
CUresult srv_graphbuild_params(struct srv_client *c, const struct omps_call_graph_node *m, int dev,
			       const unsigned char *args, size_t *args_size, void **extra, CUgraphNodeParams *p);

/* graphdesc.c: the client's graphs written down, for a successor. */
void srv_graphdesc_put(struct srv_graph_desc *d); /* a reference less */
void srv_graphdesc_changed(struct srv_object *g); /* the graph changed: walked again later */
/* Graph `graph`'s description, walked now if a change was not written
 * down (NULL: out of memory). */
struct srv_graph_desc *srv_graphdesc_of(struct srv_client *c, uint32_t graph);
/* graphbuild.c's changes, written down as they are made: a graph created,
 * node `handle` added by record m (args: a kernel's; deps: m->ndeps node
 * handles), edges linked, a node's parameters set, a graph cloned. */
void srv_graphdesc_created(struct srv_object *g);
void srv_graphdesc_bodies(struct srv_client *c, uint32_t graph, uint32_t node, const uint32_t *bodies, uint32_t n);
void srv_graphdesc_cond(struct srv_client *c, uint32_t graph, uint32_t default_value, uint32_t flags,
			uint64_t value);
void srv_graphdesc_added(struct srv_client *c, uint32_t graph, const struct omps_call_graph_node *m,
			 const unsigned char *args, uint32_t handle, const uint32_t *deps);
void srv_graphdesc_linked(struct srv_client *c, uint32_t graph, const uint32_t *from, const uint32_t *to,
			  uint32_t count);
void srv_graphdesc_set(struct srv_client *c, uint32_t graph, uint32_t handle, const struct omps_call_graph_node *m,
		       const unsigned char *args);
/* A node n of executable graph e set: e's description its own, with n's
 * new parameters. */
void srv_graphdesc_exec_set(struct srv_client *c, struct srv_object *e, const struct srv_object *n,
			    const struct omps_call_graph_node *m, const unsigned char *args);
void srv_graphdesc_cloned(struct srv_client *c, uint32_t from, uint32_t clone);
/* Node handles of graph `graph` made for its nodes: placed in its desc. */
void srv_graphdesc_placed(struct srv_client *c, uint32_t graph);
/* A kernel node's function, shape and packed arguments, as a walk writes
 * them down into nd (its args the caller's to free). */
CUresult srv_graphdesc_kernel(struct srv_client *c, CUgraphNode node, struct srv_graph_node_desc *nd);
/* A node of executable graph e was turned off: not made again at a fault. */
void srv_graphdesc_exec_disabled(struct srv_object *e);
/* Executable graph e took graph's parameters (cuGraphExecUpdate). */
void srv_graphdesc_exec_update(struct srv_client *c, struct srv_object *e, uint32_t graph);
/* On its worker as it goes idle: the graphs that changed walked. */
void srv_graphdesc_take(struct srv_client *c);
/* Why its graphs cannot be made again (perhaps written into buf), or NULL. */
const char *srv_graphdesc_unkeepable(struct srv_client *c, char *buf, size_t len);
void srv_graphdesc_save(struct srv_client *c, struct srv_pack *p);
/* A successor's: its graphs, executable graphs and nodes made again behind
 * the same handles, unless why is set already (the record is read all
 * the same); why not, or NULL. */
const char *srv_graphdesc_restore(struct srv_client *c, struct srv_unpack *u, const char *why);

/* control.c: the daemon's messages */
/* Takes one message of the daemon's: 1 if it took one, 0 if none was there. */
int srv_control_readable(struct srv_state *s);
void srv_log_settings(const struct omps_settings *st);

/* host.c */
void srv_host_message(struct srv_client *c, const struct omps_msg *hdr, const void *buf, size_t n, int fd);
/* Its shared host memory for a successor: addresses and descriptors, each
 * descriptor added to fds; mapped and registered again (why not, or NULL). */
void srv_host_save(struct srv_client *c, struct srv_pack *p);
int srv_host_keepable(struct srv_client *c); /* 0: a range's descriptor could not stay open */
int srv_host_same_address(struct srv_state *s); /* GPUs reach page-locked memory at its host address */
const char *srv_host_restore(struct srv_client *c, struct srv_unpack *u);
int srv_host_owned(struct srv_client *c, uint64_t addr, uint64_t bytes);
/* Where the GPU reaches shared host memory at addr; 0 if not the client's. */
uint64_t srv_host_device_ptr(struct srv_client *c, uint64_t addr, uint64_t bytes);
uint64_t srv_host_device_ptr_locked(struct srv_client *c, uint64_t addr, uint64_t bytes); /* hosts_lock held */
/* Whether [addr, addr + bytes) is mapped in the server, shared or retired. */
int srv_host_mapped_locked(struct srv_client *c, uint64_t addr, uint64_t bytes);
/* On the client's worker: the HOST_UNMAP it was poked for. */
void srv_host_unshare(struct srv_client *c);
/* On the client's worker: what it unshared while it held graphs, once it
 * holds none. */
void srv_host_free_retired(struct srv_client *c);
void srv_host_release(struct srv_client *c);

/* hostfn.c */
void srv_hostfn_release(struct srv_client *c);
/* A host function of the client in a graph (graph slot `slot`, struct
 * omps_hostfn_area): the operations that run it, captured on a stream of
 * its own into a graph (the current context's), for a child graph node;
 * destroyed once added. */
CUresult srv_hostfn_graph(struct srv_client *c, uint32_t slot, CUgraph *out);
/* The graph slot whose state word is at device address addr, or -1: how a
 * walk knows such a graph again (graphdesc.c). */
int srv_hostfn_graph_slot(struct srv_client *c, CUdeviceptr addr);
/* It holds no graph any more: its graph slots are free again. */
void srv_hostfn_graphs_gone(struct srv_client *c);
/* A graph slot whose host function was called and has not returned
 * (slot + 1), or 0: a graph made again after a fault would take its late
 * return for its own next call's. */
uint32_t srv_hostfn_graph_called(struct srv_client *c);
/* Its worker, releasing it: launches waiting on graph host functions go on. */
void srv_hostfn_drain(struct srv_client *c);

/* module.c */
void srv_module_release(struct srv_client *c);
/* The image received (IMAGE_DATA) used by the call being served: let go,
 * unless that call is held (served again with it). */
void srv_module_image_used(struct srv_client *c);
/* Across a fault: an image being received, or one a held call needs. */
void srv_module_image_save(const struct srv_client *c, struct srv_pack *p);
int srv_module_image_restore(struct srv_client *c, struct srv_unpack *u);
/* The client's function of that handle, or NULL (logged). */
struct srv_function *srv_function_of(struct srv_client *c, uint32_t handle);
/* f's packed arguments at args as the driver's extra options (extra holds
 * 5; they, args and *size must last through the call that takes them):
 * extra, or NULL when f takes none. */
void **srv_function_extra(const struct srv_function *f, const void *args, void **extra, size_t *size);
/* A kernel node's parameters: f on grid and block (srv_function_extra's
 * rules for args, extra and size; the driver copies them). */
void srv_function_node(const struct srv_function *f, const uint32_t grid[3], const uint32_t block[3],
		       uint32_t shared_mem, const void *args, void **extra, size_t *size, CUgraphNodeParams *p);
/* A successor's: the function f names found again in its module, its
 * attributes set again. */
CUresult srv_module_function_restore(struct srv_client *c, struct srv_function *f);
/* The image of a client's own module, kept (a reference more), or NULL
 * when its images kept would pass a client's bound; and letting one go. */
struct srv_kept_image *srv_module_keep_image(struct srv_client *c, const unsigned char *image, uint64_t len);
void srv_module_drop_image(struct srv_client *c, struct srv_kept_image *k);
/* A successor's, once every client is restored: the shared modules and
 * kept images no client it kept holds go. */
void srv_module_prune(struct srv_state *s);
/* A launch of f or a kernel node of it, before the driver has it: its
 * module's data may change. */
static inline void srv_function_ran(struct srv_client *c, struct srv_function *f)
{
	c->mod.launches++;
	if (f->data) {
		c->mod.modules[f->module - 1].ran = 1;
		c->mod.data_ran = 1;
	}
}
/* The device of the module a function of the client belongs to. */
int srv_function_dev(struct srv_client *c, const struct srv_function *f);

/* arena.c: clients' cuMemAlloc memory, in chunks of cuMemCreate memory.
 * The caller has made dev's context current. */
int srv_arena_init(struct srv_state *s);
/* The chunks' address windows, for a successor's environment: it reserves
 * the same ranges as it starts (srv_arena_init). */
#define SRV_ARENA_WINDOWS_ENV "OPENMPS_ARENA_WINDOWS"
void srv_arena_windows(struct srv_state *s, char *buf, size_t len);
/* bytes, zero, at an address of a chunk; CUDA_ERROR_NOT_SUPPORTED when the
 * device has no virtual memory management (the pool serves). A new chunk is
 * zeroed on z and waited for. */
CUresult srv_arena_alloc(struct srv_state *s, int dev, uint64_t bytes, CUstream z, CUdeviceptr *ptr);
/* cuMemAllocAsync's: the same, or a block freed on stream order of that
 * length, which order is made to wait for. */
CUresult srv_arena_alloc_async(struct srv_state *s, int dev, uint64_t bytes, CUstream z, CUstream order,
			       CUdeviceptr *ptr);
int srv_arena_holds(struct srv_state *s, int dev, CUdeviceptr ptr);
/* Zeroed after the work queued on q, and used again once that is done. */
CUresult srv_arena_free(struct srv_state *s, int dev, CUdeviceptr ptr, uint64_t bytes, CUstream q);
void srv_arena_trim(struct srv_state *s, int dev); /* idle chunks back to the device */
/* Bytes its chunks hold for nobody: cuMemGetInfo counts them free. */
uint64_t srv_arena_spare(struct srv_state *s, int dev);
/* The handover after a fault (handover.c): the chunks as file descriptors
 * (-1: one is not exportable), mapped again at their addresses by the
 * successor, the kept clients' blocks claimed back, the rest zeroed. */
int srv_arena_save(struct srv_state *s, int dev, struct srv_pack *p);
int srv_arena_restore(struct srv_state *s, int dev, struct srv_unpack *u);
/* A standby's chunks mapped ahead (standby.c): one the server made (0, or
 * -1 if it cannot be where the server has it), one it gave back; and the
 * server's every chunk, offered to a standby that is ready. */
int srv_arena_map_ahead(struct srv_state *s, int dev, CUdeviceptr base, uint64_t size, int fd);
void srv_arena_unmap_ahead(struct srv_state *s, int dev, CUdeviceptr base);
void srv_arena_offer(struct srv_state *s);
int srv_arena_claim(struct srv_state *s, int dev, CUdeviceptr ptr, uint64_t bytes);
/* A client's virtual address range of size bytes in a window (aligned to
 * align, at least the granule), so that a successor has it at the same
 * address; 0 if none has room (the caller asks the driver). */
CUdeviceptr srv_arena_range_take(struct srv_state *s, uint64_t size, uint64_t align);
/* In a successor: exactly that range again; -1 if no window holds it free. */
int srv_arena_range_claim(struct srv_state *s, CUdeviceptr ptr, uint64_t size);
/* Given back to its window: 1; 0 if no window holds it (the driver's). */
int srv_arena_range_give(struct srv_state *s, CUdeviceptr ptr, uint64_t size);
CUresult srv_arena_settle(struct srv_state *s, int dev, CUstream z);

/* memory.c */
void srv_memory_release(struct srv_client *c);
unsigned srv_memory_reset(struct srv_client *c, int dev); /* its allocations on dev freed: how many */
/* A module's global, named name and now at at, becomes a range the client
 * may copy to and from, until the module goes: the address the client
 * knows it by (at, unless a fault moved it), or 0 out of memory. */
CUdeviceptr srv_memory_add_global(struct srv_client *c, uint32_t module, int dev, const char *name, CUdeviceptr at,
				  uint64_t bytes);
/* A global of the client's as it was before a fault (handover.c): told to
 * the client at ptr, now at at. -1 out of memory. */
int srv_memory_moved_global(struct srv_client *c, uint32_t module, int dev, const char *name, CUdeviceptr ptr,
			    CUdeviceptr at, uint64_t bytes);
void srv_memory_forget_module(struct srv_client *c, uint32_t module);
/* A graph's allocation the client knows at ptr, freed in its graph, made
 * again by a successor's graph at at (graphdesc.c): -1 if it is not one,
 * or a graph made again already placed it elsewhere. */
int srv_memory_graph_placed(struct srv_client *c, CUdeviceptr ptr, CUdeviceptr at);
/* Whether the client's graph allocation at ptr of bytes is one its graph
 * frees (1), one it does not (-1), or none of its (0). */
int srv_memory_graph_alloc(struct srv_client *c, CUdeviceptr ptr, uint64_t bytes);
/* Whether [*ptr, *ptr + bytes) is the client's device memory, or its
 * managed memory (a refusal is logged); *ptr becomes the address the
 * driver knows it by (another only within a global a fault moved). */
int srv_memory_owns(struct srv_client *c, uint64_t *ptr, uint64_t bytes);
/* A kernel's packed arguments, each 8-byte word naming a global a fault
 * moved changed to its new address (a buffer of the client's), or args
 * as they are. */
const void *srv_memory_args(struct srv_client *c, const void *args, size_t size);
/* The other way, for what a graph captured holds (graphdesc.c): an address
 * as the driver knows it made the client's; arguments changed in place. */
uint64_t srv_memory_known(struct srv_client *c, uint64_t at);
void srv_memory_args_known(struct srv_client *c, unsigned char *args, size_t size);
/* Whether [ptr, ptr + bytes) is in its allocations, those it freed while it
 * held graphs too; nothing logged. */
int srv_memory_names(struct srv_client *c, uint64_t ptr, uint64_t bytes);
/* The bytes a 3D region spans: depth slices of rows rows, height rows of
 * width bytes used each, pitch apart; -1 if it cannot be. */
int srv_span3d(uint64_t pitch, uint64_t rows, uint64_t width, uint64_t height, uint64_t depth, uint64_t *bytes);
/* Bytes of the client's on dev in its view of the pool: add or take away. */
void srv_memory_account(struct srv_client *c, int dev, uint64_t bytes, int add);
/* Memory nobody owns any more (an IPC export's, after its exporter freed it)
 * back to the pool, zeroed, once c's work so far is done. */
CUresult srv_memory_give_back_orphan(struct srv_client *c, int dev, CUdeviceptr ptr, uint64_t bytes);
/* The client's allocation that holds [ptr, ptr + bytes), or NULL (logged). */
struct srv_alloc *srv_memory_alloc_of(struct srv_client *c, uint64_t ptr, uint64_t bytes);
/* Frees what the client freed while it held graphs: it holds none now. */
void srv_memory_free_retired(struct srv_client *c);

#endif
