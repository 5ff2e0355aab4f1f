/* fakecuda: a CPU implementation of the CUDA driver calls openmps-server
 * makes, so that CI runs the whole service without a GPU. The server loads
 * it through OPENMPS_DRIVER_PATH. Knobs:
 *   FAKECUDA_DEVICES=N        number of devices (default 1, at most 8); as the
 *                             real driver, CUDA_VISIBLE_DEVICES (indices, GPU-UUIDs
 *                             and their prefixes) picks and renumbers them, and
 *                             CUDA_DEVICE_ORDER=PCI_BUS_ID orders them by bus
 *   FAKECUDA_NO_PEER=1        no two devices can have peer access
 *   FAKECUDA_PCI_BUS_REVERSED=1  the first device has the highest PCI bus, so
 *                             that PCI_BUS_ID order is the reverse of the default
 *   FAKECUDA_INIT_ERROR=R     cuInit fails with CUresult R
 *   FAKECUDA_INIT_DELAY_MS=T  cuInit takes T milliseconds (a slow start)
 *   FAKECUDA_MEMORY_MB=M      device memory (default 80 GiB): host memory backs it
 *   FAKECUDA_SYNC_DELAY_MS=T  a stream or event synchronize takes T milliseconds
 *                             even on finished work, as a preempted caller would
 *                             (and a fault that shows meanwhile fails it)
 *   FAKECUDA_STREAM_BUSY=1    a stream query says not ready, so that the server
 *                             synchronizes rather than finding the work done
 *   FAKECUDA_REGISTER_DELAY_MS=T  page-locking host memory takes T milliseconds
 *   FAKECUDA_REGISTER_GATE=FILE   ... and waits while FILE exists (30 s at most)
 *   FAKECUDA_UNREGISTER_GATE=FILE giving it back waits while FILE exists (30 s at most)
 *   FAKECUDA_EVENT_GATE=FILE  events' work runs while FILE exists (a long kernel)
 *   FAKECUDA_LOAD_LOG=FILE    a line for each module load, for tests to count
 *   FAKECUDA_ACCESS_LOG=FILE  a line for each cuMemSetAccess and cuMemPoolSetAccess: the devices
 *   FAKECUDA_WAIT_LOG=FILE    a line for each stream wait on an event
 *   FAKECUDA_SYNC_LOG=FILE    a line for each cuStreamSynchronize (read at each call)
 *   FAKECUDA_HOST_DEVPTR_NONE=FILE  while FILE exists, the next cuMemHostGetDevicePointer
 *                             fails, and FILE goes (once)
 *   FAKECUDA_VA_TAKEN=FILE    while FILE exists, the next cuMemAddressReserve asked for an
 *                             address gives another, as where the real driver has it taken;
 *                             FILE holds how many more times (empty: once), and goes when
 *                             none are left (in whichever processes come first)
 * Some are read at each call rather than at cuInit, as their comments say.
 * It also stands in for the real driver behind the shim (OPENMPS_REAL_DRIVER). */
#include <cuda.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 8

static int ndevices = -1;
static int nphys;		  /* FAKECUDA_DEVICES */
static int phys[8];		  /* a visible ordinal's physical device: its name, UUID and bus */
static size_t fake_total_mem = (size_t)80 << 30; /* FAKECUDA_MEMORY_MB */
static int retained[MAX_DEVICES];

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : fallback;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	if (ms > 0)
		nanosleep(&ts, NULL);
}

/* A call a real driver may hold up: it waits while the file the variable
 * knob names exists, 30 s at most. */
static void wait_gate(const char *knob)
{
	const char *gate = getenv(knob);

	for (int waited = 0; gate && *gate && access(gate, F_OK) == 0 && waited < 3000; waited++)
		sleep_ms(10);
}

static int pci_bus(int p)
{
	return 0x10 + (env_int("FAKECUDA_PCI_BUS_REVERSED", 0) ? nphys - 1 - p : p);
}

static void uuid_of(int p, unsigned char *u)
{
	int i;

	for (i = 0; i < 16; i++)
		u[i] = (unsigned char)(0xfa + p * 16 + i);
}

/* The physical device an entry of CUDA_VISIBLE_DEVICES names, among the
 * enumeration order: an index, or a unique prefix of "GPU-<uuid>"; -1. */
static int named(const char *e, const int *order)
{
	char text[64];
	unsigned char u[16];
	int p, found = -1;

	if (*e >= '0' && *e <= '9')
		return atoi(e) < nphys ? order[atoi(e)] : -1;
	for (p = 0; p < nphys && !strncasecmp(e, "GPU-", 4); p++) {
		uuid_of(p, u);
		snprintf(text, sizeof(text), "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
			 u[15]);
		if (!strncasecmp(text, e, strlen(e)))
			found = found < 0 ? p : MAX_DEVICES; /* more than one: none */
	}
	return found < MAX_DEVICES ? found : -1;
}

/* Fills phys[] as the real driver reads its environment; how many. */
static int visible_devices(void)
{
	const char *spec = getenv("CUDA_VISIBLE_DEVICES"), *order_env = getenv("CUDA_DEVICE_ORDER");
	int order[MAX_DEVICES], n = 0, i, j, p;
	char buf[256], *save = NULL, *e;

	for (i = 0; i < nphys; i++) {
		for (j = i; j > 0 && order_env && !strcmp(order_env, "PCI_BUS_ID") && pci_bus(i) < pci_bus(order[j - 1]);
		     j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	if (!spec) {
		memcpy(phys, order, sizeof(order[0]) * (size_t)nphys);
		return nphys;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (e = strtok_r(buf, ", ", &save); e; e = strtok_r(NULL, ", ", &save)) {
		if ((p = named(e, order)) < 0)
			break;
		for (j = 0; j < n && phys[j] != p; j++)
			;
		if (j < n)
			break;
		phys[n++] = p;
	}
	return n;
}

CUresult CUDAAPI cuInit(unsigned int flags)
{
	int delay = env_int("FAKECUDA_INIT_DELAY_MS", 0);
	int err = env_int("FAKECUDA_INIT_ERROR", 0);
	const char *log = getenv("FAKECUDA_INIT_LOG"), *queues = getenv("CUDA_DEVICE_MAX_CONNECTIONS");
	FILE *f;

	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	sleep_ms(delay);
	if (err)
		return (CUresult)err;
	/* What the driver reads at cuInit, for tests of what the server sets. */
	if (log && *log && (f = fopen(log, "a"))) {
		fprintf(f, "CUDA_DEVICE_MAX_CONNECTIONS=%s\n", queues ? queues : "(unset)");
		fclose(f);
	}
	nphys = env_int("FAKECUDA_DEVICES", 1);
	if (env_int("FAKECUDA_MEMORY_MB", 0) > 0)
		fake_total_mem = (size_t)env_int("FAKECUDA_MEMORY_MB", 0) << 20;
	if (nphys < 0 || nphys > MAX_DEVICES)
		nphys = MAX_DEVICES;
	ndevices = visible_devices();
	return ndevices ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

static CUresult check(CUdevice dev)
{
	if (ndevices < 0)
		return CUDA_ERROR_NOT_INITIALIZED;
	return dev >= 0 && dev < ndevices ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult CUDAAPI cuDriverGetVersion(int *version)
{
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = CUDA_VERSION;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int *count)
{
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	if (ndevices < 0)
		return CUDA_ERROR_NOT_INITIALIZED;
	*count = ndevices;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *dev, int ordinal)
{
	CUresult r = check(ordinal);

	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*dev = ordinal;
	return r;
}

CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult r = check(dev);

	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		snprintf(name, (size_t)len, "openmps fakecuda device %d", phys[dev]);
	return r;
}

CUresult CUDAAPI cuDeviceGetPCIBusId(char *id, int len, CUdevice dev)
{
	CUresult r = check(dev);

	if (!id || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		snprintf(id, (size_t)len, "%08x:%02x:%02x.0", 0u, (unsigned)pci_bus(phys[dev]), 0u);
	return r;
}

CUresult CUDAAPI cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	CUresult r = check(dev);
	unsigned char u[16];

	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	if (r != CUDA_SUCCESS)
		return r;
	uuid_of(phys[dev], u);
	memcpy(uuid->bytes, u, sizeof(u));
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult r = check(dev);

	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*bytes = fake_total_mem; /* FAKECUDA_MEMORY_MB, as cuMemGetInfo's */
	return r;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *value, CUdevice_attribute attr, CUdevice dev)
{
	CUresult r = check(dev);

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if (r != CUDA_SUCCESS)
		return r;
	switch (attr) {
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
		*value = 132;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
		*value = 2048;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		*value = 1024;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
		*value = 32;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: /* as a GPU has them */
	case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
	case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: /* openmps reports it absent */
		*value = 1;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
		*value = 9;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
		*value = 0;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
		*value = 0;
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
		*value = pci_bus(phys[dev]);
		return CUDA_SUCCESS;
	case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
		*value = 0;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev)
{
	CUresult r = check(dev);

	if (!ctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (r != CUDA_SUCCESS)
		return r;
	retained[dev]++;
	*ctx = (CUcontext)&retained[dev];
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	CUresult r = check(dev);

	if (r != CUDA_SUCCESS)
		return r;
	if (retained[dev] == 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	retained[dev]--;
	return CUDA_SUCCESS;
}

/* Contexts, streams and memory: device memory is host memory, a device
 * pointer is its address, and work on a stream is done before the call
 * returns, so synchronising has nothing to wait for. */
#define FAKE_TOTAL_MEM fake_total_mem

static _Atomic size_t mem_used;
static _Thread_local CUcontext current;

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx)
{
	if (ctx && (ctx < (CUcontext)&retained[0] || ctx > (CUcontext)&retained[MAX_DEVICES - 1]))
		return CUDA_ERROR_INVALID_CONTEXT;
	current = ctx;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext *ctx)
{
	if (!ctx)
		return CUDA_ERROR_INVALID_VALUE;
	*ctx = current;
	return CUDA_SUCCESS;
}

/* A stream knows its priority and the SMs its kernels may run on: every
 * SM, or a green context's partition. */
#define FAKE_SMS     132
#define FAKE_SM_UNIT 8 /* partitions come in multiples of this, as on an H100 */
#define FAKE_SM_FINE 2 /* ... or of this, ignoring coscheduling, where clusters */
#define FAKE_CLUSTER 8 /* of 2 at most run (else of 8), as on an H200 */
struct fake_graph;
/* An event holds the time it was recorded, or the capture it was recorded in. */
struct fake_event {
	struct timespec t; /* first: read as a struct timespec */
	unsigned long long capture_id;
};

struct fake_stream {
	int priority;
	unsigned first_sm, nsms, max_cluster;
	struct fake_graph *capture; /* under graph_lock: the capture it is in, or NULL */
	int origin;		    /* it began that capture */
	int waits;		    /* it waits for an event still busy (cuStreamWaitEvent): */
	struct fake_event after;    /* ... this one, as it was then */
	int late;		    /* writes of its still to be made (written_late) */
};

/* Until the writes queued on s are made: a synchronize, or its destroy,
 * as the driver keeps a stream's resources until its work is done. */
static struct fake_stream *stream_of(CUstream s); /* NULL for the NULL, legacy or per-thread stream */

static void late_writes_done(CUstream s)
{
	struct fake_stream *fs = stream_of(s);

	while (fs && __atomic_load_n(&fs->late, __ATOMIC_ACQUIRE) > 0)
		sleep_ms(1);
}

/* Stream capture: work queued on a capturing stream becomes a node of its
 * graph instead of running; launching the graph runs the nodes in order. An
 * event recorded in a capture is an edge, as in the driver: no node.
 * These kinds are captured; anything else on a capturing stream spoils the
 * capture with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, as the driver does
 * for what it cannot capture. */
enum fake_node_kind {
	NODE_MEMSET,
	NODE_COPY,
	NODE_KERNEL,
	NODE_RECORD,
	NODE_HOSTFN,
	NODE_WRITE32, /* dst, value */
	NODE_WAIT32,  /* dst, value: until *dst - value >= 0, signed */
	/* graphs built node by node (cuGraphAddNode) */
	NODE_EMPTY,
	NODE_COPY3D,
	NODE_EVENT_RECORD,
	NODE_EVENT_WAIT,
	NODE_CHILD,
	NODE_COND,
	/* graph memory (cuMemAllocAsync, cuMemFreeAsync in a capture): data, the allocation */
	NODE_MEM_ALLOC,
	NODE_MEM_FREE,
};
#define FAKE_COND_BODIES 16
struct fake_cond {
	struct fake_cond *next;
	unsigned value, default_value, flags;
};
struct fake_node {
	enum fake_node_kind kind;
	void *dst;
	const void *src;
	size_t n; /* bytes to copy, elements to set, or the kernel's word count */
	unsigned value, elem;
	const char *kernel;
	const void *module; /* the kernel's, which must still be loaded at a launch */
	struct fake_stream on; /* the kernel's stream: its SMs and priority */
	uint64_t threads, blocks;
	CUhostFn fn;
	void *data;
	size_t pitch, height; /* a 2D memset's */
	CUDA_MEMCPY3D copy;
	struct fake_graph *child; /* NODE_CHILD: a copy of the graph, the node's own */
	struct fake_cond *cond;	  /* NODE_COND: */
	CUgraphConditionalNodeType cond_type;
	struct fake_graph *bodies[FAKE_COND_BODIES];
	unsigned nbodies;
	size_t orig; /* in an executable graph: the node's index in its graph */
	int off;     /* in an executable graph: turned off (cuGraphNodeSetEnabled), it does nothing */
	/* NODE_KERNEL: what cuGraphKernelNodeGetParams says of it */
	CUfunction func;
	unsigned grid[3], block[3], smem;
	unsigned char args[16]; /* packed, as the function's parameters lie (cuFuncGetParamInfo) */
	size_t args_size;
	int prio, prio_set; /* its CU_LAUNCH_ATTRIBUTE_PRIORITY, captured or set */
};

/* A graph's allocation: its address is the graph's for good (the copies'
 * too: an executable graph's), its memory live from its allocation node's
 * run to its free (a free node, or cuMemFreeAsync). */
struct fake_galloc {
	struct fake_galloc *next;
	void *p;
	size_t bytes;
	unsigned refs; /* allocation nodes naming it, in graphs and their copies */
	int live;
};
static struct fake_galloc *gallocs;
static pthread_mutex_t galloc_lock = PTHREAD_MUTEX_INITIALIZER;

static struct fake_galloc *galloc_new(size_t bytes)
{
	struct fake_galloc *a = bytes <= fake_total_mem ? calloc(1, sizeof(*a)) : NULL; /* more: out of memory */

	if (!a || !(a->p = calloc(1, bytes ? bytes : 1))) {
		free(a);
		return NULL;
	}
	a->bytes = bytes;
	a->refs = 1;
	pthread_mutex_lock(&galloc_lock);
	a->next = gallocs;
	gallocs = a;
	pthread_mutex_unlock(&galloc_lock);
	return a;
}

static struct fake_galloc *galloc_at(const void *p)
{
	struct fake_galloc *a;

	pthread_mutex_lock(&galloc_lock);
	for (a = gallocs; a && a->p != p; a = a->next)
		;
	pthread_mutex_unlock(&galloc_lock);
	return a;
}

static void live_add_range(uintptr_t base, size_t bytes);
static void live_remove_range(uintptr_t base);

static void galloc_put(struct fake_galloc *a)
{
	struct fake_galloc **pp;

	pthread_mutex_lock(&galloc_lock);
	if (--a->refs) {
		pthread_mutex_unlock(&galloc_lock);
		return;
	}
	for (pp = &gallocs; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	pthread_mutex_unlock(&galloc_lock);
	if (a->live)
		live_remove_range((uintptr_t)a->p);
	free(a->p);
	free(a);
}

/* Its allocation node's run, or its free's: an allocation still live is
 * launched again only after it was freed, as the driver asks. */
static CUresult galloc_live(struct fake_galloc *a, int on)
{
	int was;

	pthread_mutex_lock(&galloc_lock);
	was = a->live;
	a->live = on;
	pthread_mutex_unlock(&galloc_lock);
	if (was == on)
		return CUDA_ERROR_INVALID_VALUE;
	if (on)
		live_add_range((uintptr_t)a->p, a->bytes);
	else
		live_remove_range((uintptr_t)a->p);
	return CUDA_SUCCESS;
}

static int capturing(CUstream s);
static CUresult spoil(CUstream s);
static CUresult record(CUstream s, const struct fake_node *n);
static CUresult capture_wait(CUstream s, const struct fake_event *e);
static void capture_leave(struct fake_stream *s);

static CUresult new_stream(CUstream *stream, int priority, unsigned first_sm, unsigned nsms, unsigned max_cluster)
{
	struct fake_stream *s;

	if (!stream)
		return CUDA_ERROR_INVALID_VALUE;
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	s = malloc(sizeof(*s));
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	/* As on an H100: priorities 0 (lowest) to -5, clamped. */
	*s = (struct fake_stream){.priority = priority > 0 ? 0 : priority < -5 ? -5 : priority,
				  .first_sm = first_sm, .nsms = nsms, .max_cluster = max_cluster};
	*stream = (CUstream)s;
	return CUDA_SUCCESS;
}

/* FAKECUDA_STICKY_FAULTS=1: a kernel's bad address poisons the context as
 * a real GPU's does: its launch succeeds, and from then on every call that
 * touches the context (synchronizes, queries, launches, copies, memsets,
 * allocations, registrations) returns CUDA_ERROR_ILLEGAL_ADDRESS, until the
 * process ends. Unset, the launch itself fails and nothing sticks.
 * FAKECUDA_FAULT_ERROR=R: the fault is CUresult R instead (a trap's 719,
 * an assert's 710, an illegal instruction's 715, ...).
 * FAKECUDA_FAULT_AFTER_MS=N: the kernel runs N ms before it faults.
 * FAKECUDA_FAULT_AT_UNLOAD=FILE: while FILE exists, another kernel's fault
 * shows just as the next cuModuleUnload is called (after the synchronize
 * before it), as a soak on the H200 met it, and FILE goes (once, in
 * whichever process). A module unload fails on a poisoned context.
 * FAKECUDA_FAULT_AT_REGISTER=FILE: the same at the next cuMemHostRegister,
 * which then fails (a soak on the H200 met one); FAKECUDA_FAULT_AT_CAPTURE_INFO
 * at the next cuStreamGetCaptureInfo (another). */
static CUresult poison;
static uint64_t poison_at_ns; /* CLOCK_MONOTONIC: when the poison shows */

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static CUresult poisoned(void)
{
	CUresult p = __atomic_load_n(&poison, __ATOMIC_ACQUIRE);

	return p != CUDA_SUCCESS && mono_ns() >= __atomic_load_n(&poison_at_ns, __ATOMIC_ACQUIRE) ? p : CUDA_SUCCESS;
}

static void poison_now(CUresult r)
{
	const char *after = getenv("FAKECUDA_FAULT_AFTER_MS");
	uint64_t ms = after ? strtoull(after, NULL, 10) : 0;

	__atomic_store_n(&poison_at_ns, mono_ns() + ms * 1000000u, __ATOMIC_RELEASE);
	__atomic_store_n(&poison, r, __ATOMIC_RELEASE);
}

static int sticky_faults(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FAKECUDA_STICKY_FAULTS") && atoi(getenv("FAKECUDA_STICKY_FAULTS"));
	return on;
}

/* Another kernel's fault shows now, where the file named by `knob` exists
 * (it goes: once, in whichever process). */
static void fault_shows_if(const char *knob)
{
	const char *at = getenv(knob);

	if (sticky_faults() && at && !poisoned() && unlink(at) == 0) {
		__atomic_store_n(&poison_at_ns, mono_ns(), __ATOMIC_RELEASE);
		__atomic_store_n(&poison, CUDA_ERROR_LAUNCH_FAILED, __ATOMIC_RELEASE);
	}
}

#define POISONED()                                                              \
	do {                                                                    \
		CUresult p_ = poisoned();                                       \
		if (p_ != CUDA_SUCCESS)                                         \
			return p_;                                              \
	} while (0)

CUresult CUDAAPI cuStreamCreate(CUstream *stream, unsigned int flags)
{
	POISONED();
	(void)flags;
	return new_stream(stream, 0, 0, FAKE_SMS, FAKE_CLUSTER);
}

/* FAKECUDA_SLOW_STREAM_DESTROY_MS: each cuStreamDestroy takes that long,
 * as letting a big program go takes a real server a while. */
CUresult CUDAAPI cuStreamDestroy(CUstream stream)
{
	const char *slow = getenv("FAKECUDA_SLOW_STREAM_DESTROY_MS");

	if (slow && *slow)
		usleep((useconds_t)atoi(slow) * 1000);
	late_writes_done(stream);
	capture_leave((struct fake_stream *)stream);
	free(stream);
	return CUDA_SUCCESS;
}

/* A line into the file log names (FAKECUDA_*_LOG), for tests to count. */
static void logged(const char *log, const char *line)
{
	FILE *f;

	if (log && *log && (f = fopen(log, "a"))) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

CUresult CUDAAPI cuStreamSynchronize(CUstream stream)
{
	POISONED();
	if (capturing(stream))
		return spoil(stream);
	logged(getenv("FAKECUDA_SYNC_LOG"), "synchronize");
	sleep_ms(env_int("FAKECUDA_SYNC_DELAY_MS", 0));
	POISONED(); /* a fault while it waited */
	late_writes_done(stream);
	return current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

/* The live allocations, so that a kernel given a wrong address fails as
 * the GPU's memory protection would have it, instead of writing anywhere. */
static struct live_block {
	uintptr_t base;
	size_t bytes;
} *live;
static size_t nlive, live_cap;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void live_add_range(uintptr_t base, size_t bytes)
{
	pthread_mutex_lock(&live_lock);
	if (nlive == live_cap) {
		struct live_block *n = realloc(live, (live_cap ? 2 * live_cap : 64) * sizeof(*live));

		if (!n)
			abort();
		live = n;
		live_cap = live_cap ? 2 * live_cap : 64;
	}
	live[nlive++] = (struct live_block){base, bytes};
	pthread_mutex_unlock(&live_lock);
}

static void live_add(const size_t *p)
{
	live_add_range((uintptr_t)(p + 2), p[0]);
}

static void live_remove_range(uintptr_t base)
{
	size_t i;

	pthread_mutex_lock(&live_lock);
	for (i = 0; i < nlive; i++)
		if (live[i].base == base) {
			live[i] = live[--nlive];
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(const size_t *p)
{
	live_remove_range((uintptr_t)(p + 2));
}

/* Blocks side by side (mappings of virtual memory) hold what spans them. */
static int live_holds(uintptr_t addr, uint64_t bytes)
{
	int found = 0, more = 1;
	size_t i;

	pthread_mutex_lock(&live_lock);
	while (more && !found) {
		more = 0;
		for (i = 0; i < nlive; i++) {
			uint64_t left;

			if (addr < live[i].base || addr - live[i].base >= live[i].bytes)
				continue;
			left = live[i].bytes - (addr - live[i].base);
			found = bytes <= left;
			more = !found;
			addr += left;
			bytes -= found ? 0 : left;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
	return found;
}

/* Each allocation carries its size in front, for cuMemFree's accounting. */
CUresult CUDAAPI cuMemAlloc(CUdeviceptr *dptr, size_t bytes)
{
	POISONED();
	size_t *p;

	if (!dptr || !bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (bytes > FAKE_TOTAL_MEM - atomic_load(&mem_used) || !(p = calloc(1, bytes + 16))) /* fresh memory is zero */
		return CUDA_ERROR_OUT_OF_MEMORY;
	p[0] = bytes;
	p[1] = 0;
	atomic_fetch_add(&mem_used, bytes);
	live_add(p);
	*dptr = (CUdeviceptr)(uintptr_t)(p + 2);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr dptr)
{
	size_t *p = (size_t *)(uintptr_t)dptr - 2;
	struct fake_galloc *a = dptr ? galloc_at((void *)(uintptr_t)dptr) : NULL;

	if (a)
		return galloc_live(a, 0);
	if (!dptr)
		return CUDA_SUCCESS;
	atomic_fetch_sub(&mem_used, p[0]);
	live_remove(p);
	free(p);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetInfo(size_t *free_bytes, size_t *total)
{
	if (!free_bytes || !total)
		return CUDA_ERROR_INVALID_VALUE;
	*total = FAKE_TOTAL_MEM;
	*free_bytes = FAKE_TOTAL_MEM - atomic_load(&mem_used);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s)
{
	POISONED();
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_MEMSET, .dst = (void *)(uintptr_t)dst, .n = n, .value = v, .elem = 1});
	(void)s;
	memset((void *)(uintptr_t)dst, v, n);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr dst, unsigned short v, size_t n, CUstream s)
{
	POISONED();
	unsigned short *p = (unsigned short *)(uintptr_t)dst;

	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_MEMSET, .dst = (void *)(uintptr_t)dst, .n = n, .value = v, .elem = 2});
	(void)s;
	while (n--)
		*p++ = v;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream s)
{
	POISONED();
	unsigned int *p = (unsigned int *)(uintptr_t)dst;

	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_MEMSET, .dst = (void *)(uintptr_t)dst, .n = n, .value = v, .elem = 4});
	(void)s;
	while (n--)
		*p++ = v;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
	POISONED();
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_COPY, .dst = (void *)(uintptr_t)dst, .src = src, .n = n});
	(void)s;
	memcpy((void *)(uintptr_t)dst, src, n);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
	POISONED();
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_COPY, .dst = dst, .src = (const void *)(uintptr_t)src, .n = n});
	(void)s;
	memcpy(dst, (const void *)(uintptr_t)src, n);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
	POISONED();
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_COPY, .dst = (void *)(uintptr_t)dst, .src = (const void *)(uintptr_t)src, .n = n});
	(void)s;
	memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
	return CUDA_SUCCESS;
}

/* The synchronous forms a native probe uses: fakecuda's work is done when a call returns. */
CUresult CUDAAPI cuMemsetD8(CUdeviceptr dst, unsigned char v, size_t n)
{
	return cuMemsetD8Async(dst, v, n, NULL);
}

/* Peer access: every two devices can have it; bit j of peer_on[i]: the
 * context of device i has it to j's. */
static atomic_uint peer_on[MAX_DEVICES];

static int ctx_dev(CUcontext ctx)
{
	int i;

	for (i = 0; i < ndevices; i++)
		if (ctx == (CUcontext)&retained[i])
			return i;
	return -1;
}

CUresult CUDAAPI cuDeviceCanAccessPeer(int *can, CUdevice dev, CUdevice peer)
{
	if (!can)
		return CUDA_ERROR_INVALID_VALUE;
	if (check(dev) != CUDA_SUCCESS || check(peer) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_DEVICE;
	*can = dev != peer && !env_int("FAKECUDA_NO_PEER", 0);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags)
{
	int me = ctx_dev(current), p = ctx_dev(peer), can = 0;

	if (me < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (p < 0 || flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (p == me)
		return CUDA_ERROR_INVALID_DEVICE;
	if (cuDeviceCanAccessPeer(&can, me, p) != CUDA_SUCCESS || !can)
		return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
	return atomic_fetch_or(&peer_on[me], 1u << p) >> p & 1 ? CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED
							       : CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxDisablePeerAccess(CUcontext peer)
{
	int me = ctx_dev(current), p = ctx_dev(peer);

	if (me < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (p < 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (p == me)
		return CUDA_ERROR_INVALID_DEVICE;
	return atomic_fetch_and(&peer_on[me], ~(1u << p)) >> p & 1 ? CUDA_SUCCESS : CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
}

CUresult CUDAAPI cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t n,
				   CUstream s)
{
	if (ctx_dev(dst_ctx) < 0 || ctx_dev(src_ctx) < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	return cuMemcpyDtoDAsync(dst, src, n, s);
}

CUresult CUDAAPI cuMemcpyPeer(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t n)
{
	return cuMemcpyPeerAsync(dst, dst_ctx, src, src_ctx, n, NULL);
}

/* Streams finish their work before calls return; events hold the time they
 * were recorded. */
CUresult CUDAAPI cuStreamCreateWithPriority(CUstream *stream, unsigned int flags, int priority)
{
	POISONED();
	(void)flags;
	return new_stream(stream, priority, 0, FAKE_SMS, FAKE_CLUSTER);
}

/* Green contexts: the SMs split into groups of whole units; a group's
 * first SM rides in the resource's internal bytes. */
struct fake_green {
	unsigned first_sm, nsms, max_cluster;
};

CUresult CUDAAPI cuDeviceGetDevResource(CUdevice dev, CUdevResource *res, CUdevResourceType type)
{
	if (check(dev) != CUDA_SUCCESS || !res || type != CU_DEV_RESOURCE_TYPE_SM)
		return CUDA_ERROR_INVALID_VALUE;
	memset(res, 0, sizeof(*res));
	res->type = CU_DEV_RESOURCE_TYPE_SM;
	res->sm.smCount = FAKE_SMS;
	res->sm.minSmPartitionSize = FAKE_SM_UNIT;
	res->sm.smCoscheduledAlignment = FAKE_SM_UNIT;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevSmResourceSplitByCount(CUdevResource *result, unsigned int *nbGroups, const CUdevResource *input,
					     CUdevResource *remaining, unsigned int useFlags, unsigned int minCount)
{
	unsigned unit = useFlags & CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING ? FAKE_SM_FINE : FAKE_SM_UNIT;
	unsigned size = (minCount + unit - 1) / unit * unit, n, i;

	(void)remaining;
	if (!nbGroups || !input || input->type != CU_DEV_RESOURCE_TYPE_SM || minCount > input->sm.smCount)
		return CUDA_ERROR_INVALID_VALUE;
	if (getenv("FAKECUDA_NO_FINE_SPLIT") && unit == FAKE_SM_FINE)
		return CUDA_ERROR_INVALID_VALUE; /* a driver without the flag */
	if (size < unit)
		size = unit;
	n = input->sm.smCount / size;
	if (result && n > *nbGroups)
		n = *nbGroups;
	*nbGroups = n;
	for (i = 0; result && i < n; i++) {
		unsigned first = i * size;

		result[i] = *input;
		result[i].sm.smCount = size;
		memcpy(result[i]._internal_padding, &first, sizeof(first));
		memcpy(result[i]._internal_padding + sizeof(first), &unit, sizeof(unit));
	}
	return CUDA_SUCCESS;
}

/* One group, or several of one split that follow each other (the SMs of
 * a fake green context are a range). */
CUresult CUDAAPI cuDevResourceGenerateDesc(CUdevResourceDesc *desc, CUdevResource *res, unsigned int n)
{
	struct fake_green *g;
	unsigned first, next, i;

	if (!desc || !res || !n || res->type != CU_DEV_RESOURCE_TYPE_SM)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&first, res[0]._internal_padding, sizeof(first));
	for (i = 1; i < n; i++) {
		memcpy(&next, res[i]._internal_padding, sizeof(next));
		if (res[i].type != CU_DEV_RESOURCE_TYPE_SM || next != first + i * res[0].sm.smCount)
			return CUDA_ERROR_INVALID_VALUE;
	}
	if (!(g = malloc(sizeof(*g))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	g->first_sm = first;
	g->nsms = n * res[0].sm.smCount;
	memcpy(&g->max_cluster, res[0]._internal_padding + sizeof(first), sizeof(g->max_cluster));
	g->max_cluster = g->max_cluster == FAKE_SM_FINE ? FAKE_SM_FINE : FAKE_CLUSTER;
	*desc = (CUdevResourceDesc)g; /* kept: a green context made from it refers to it */
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGreenCtxCreate(CUgreenCtx *ctx, CUdevResourceDesc desc, CUdevice dev, unsigned int flags)
{
	(void)flags;
	if (!ctx || !desc || check(dev) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	*ctx = (CUgreenCtx)desc;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGreenCtxStreamCreate(CUstream *stream, CUgreenCtx ctx, unsigned int flags, int priority)
{
	const struct fake_green *g = (const struct fake_green *)ctx;

	if (!g || !(flags & CU_STREAM_NON_BLOCKING)) /* as the driver: it must be non-blocking */
		return CUDA_ERROR_INVALID_VALUE;
	return new_stream(stream, priority, g->first_sm, g->nsms, g->max_cluster);
}

CUresult CUDAAPI cuStreamQuery(CUstream stream)
{
	POISONED();
	if (capturing(stream))
		return spoil(stream);
	return stream_of(stream) && env_int("FAKECUDA_STREAM_BUSY", 0) ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

static int gate_closed(void);
static int busy(const struct fake_event *e);

/* Streams run at once here, so an ordering between them cannot be seen;
 * FAKECUDA_WAIT_LOG names a file that gets a line a wait, for tests to
 * count the dependencies the server made. */
CUresult CUDAAPI cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int flags)
{
	POISONED();
	const char *log = getenv("FAKECUDA_WAIT_LOG");
	CUresult r;

	(void)flags;
	if (!event)
		return CUDA_ERROR_INVALID_HANDLE;
	r = capture_wait(stream, (struct fake_event *)event);
	if (r != CUDA_SUCCESS)
		return r;
	if (stream_of(stream) && !capturing(stream) && (gate_closed() || busy((struct fake_event *)event))) {
		stream_of(stream)->waits = 1;
		stream_of(stream)->after = *(struct fake_event *)event;
	}
	logged(log, "wait");
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventCreate(CUevent *event, unsigned int flags)
{
	(void)flags;
	if (!event)
		return CUDA_ERROR_INVALID_VALUE;
	*event = (CUevent)calloc(1, sizeof(struct fake_event));
	return *event ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuEventDestroy(CUevent event)
{
	free(event);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream)
{
	POISONED();
	if (!event)
		return CUDA_ERROR_INVALID_HANDLE;
	if (capturing(stream))
		return record(stream, &(struct fake_node){.kind = NODE_RECORD, .dst = event});
	((struct fake_event *)event)->capture_id = 0;
	clock_gettime(CLOCK_MONOTONIC, (struct timespec *)event);
	return CUDA_SUCCESS;
}

/* An event's work still runs while the file that FAKECUDA_EVENT_GATE names
 * exists: a long kernel, for tests of what a server does while clients
 * wait. A synchronize waits for it (at most 30 s); a query says not ready.
 * FAKECUDA_EVENT_BUSY_MS: likewise for that long after the event's record,
 * and a synchronize then spins, as the driver's does by default. */
static int gate_closed(void)
{
	const char *gate = getenv("FAKECUDA_EVENT_GATE");

	return gate && *gate && access(gate, F_OK) == 0;
}

/* Milliseconds from a to b: events' times. */
static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int busy(const struct fake_event *e)
{
	int ms = env_int("FAKECUDA_EVENT_BUSY_MS", 0);
	struct timespec now;

	if (!ms)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ms_between(&e->t, &now) < ms;
}

CUresult CUDAAPI cuEventSynchronize(CUevent event)
{
	POISONED();
	int i;

	if (!event)
		return CUDA_ERROR_INVALID_HANDLE;
	sleep_ms(env_int("FAKECUDA_SYNC_DELAY_MS", 0));
	for (i = 0; i < 3000 && gate_closed(); i++)
		sleep_ms(10);
	while (busy((const struct fake_event *)event))
		;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventQuery(CUevent event)
{
	POISONED();
	if (!event)
		return CUDA_ERROR_INVALID_HANDLE;
	return gate_closed() || busy((const struct fake_event *)event) ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent start, CUevent end)
{
	const struct timespec *a = (const struct timespec *)start, *b = (const struct timespec *)end;

	if (!ms || !start || !end)
		return CUDA_ERROR_INVALID_VALUE;
	*ms = (float)ms_between(a, b);
	return CUDA_SUCCESS;
}

/* Modules: an image whose first line starts with "// fakecuda" holds the
 * built-in CPU kernels. "twice(unsigned *p, unsigned n)" doubles the first n
 * words of p, one thread a word, as many as the grid has threads. The same
 * image can be real PTX after that line, so that one test program runs on
 * the GPU and here. */
static const char twice_name[] = "twice";
/* "smid(unsigned *out, unsigned n)": out[b] = the SM block b ran on, for
 * the first n blocks: spread over the SMs its stream may use. */
static const char smid_name[] = "smid";
/* "stream_priority(int *out, unsigned n)": out[0] = its stream's priority,
 * as the driver holds it (tests see how the server mapped it). */
static const char priority_name[] = "stream_priority";
/* "spin(float *p, unsigned iters)": the benchmarks' kernel; nothing here. */
static const char spin_name[] = "spin";
/* "tally(unsigned *p, unsigned n)": in a module with the global "counter",
 * adds one to its first word and writes that to p[0] (n >= 1): a kernel
 * that changes its module's data. Found by name; not counted or listed
 * among a module's functions. */
static const char tally_name[] = "tally";

/* A module holds the three functions, whose dynamic shared memory limit
 * can be raised, and one global: "counter" (four words), or "table", the
 * same as __constant__ data. */
struct fake_function {
	const char *name; /* one of the names above: all that is read of a handle before it is trusted */
	int max_dynamic_smem;
	int cluster_width; /* required, 0: none */
	const void *module;
};

struct fake_module {
	struct fake_function fn[5];
	int has_counter;   /* the image declares the global "counter" */
	int has_table;	   /* the image declares the __constant__ "table" */
	unsigned *counter; /* either's four words, on a page of its own (global_page) */
};

#define GLOBAL_BYTES 16

/* Where a module's global goes: a page asked for near a place drawn from
 * the clock, so that a new process (a server made anew after a fault)
 * puts a module's variables elsewhere, as a new context on a GPU does. */
static unsigned *global_page(void)
{
	static _Atomic uint64_t next;
	struct timespec t;
	uint64_t base, page = (uint64_t)sysconf(_SC_PAGESIZE);
	void *p;

	if (!atomic_load(&next)) {
		clock_gettime(CLOCK_REALTIME, &t);
		base = 0x500000000000ull + ((uint64_t)t.tv_nsec % 65536) * 64 * page;
		atomic_compare_exchange_strong(&next, &(uint64_t){0}, base);
	}
	p = mmap((void *)(uintptr_t)atomic_fetch_add(&next, page), page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static struct fake_function *fake_fn(CUfunction f)
{
	struct fake_function *fn = (struct fake_function *)f;

	return fn && (fn->name == twice_name || fn->name == smid_name || fn->name == priority_name ||
		      fn->name == spin_name || fn->name == tally_name)
		       ? fn
		       : NULL;
}

/* The modules loaded: a graph's kernel whose module is gone fails at its
 * launch, as a real one would fault, instead of running here. */
static void *loaded[4096];
static pthread_mutex_t loaded_lock = PTHREAD_MUTEX_INITIALIZER;

static void set_loaded(void *m, int on)
{
	size_t i;

	pthread_mutex_lock(&loaded_lock);
	for (i = 0; i < sizeof(loaded) / sizeof(loaded[0]); i++)
		if (loaded[i] == (on ? NULL : m)) {
			loaded[i] = on ? m : NULL;
			break;
		}
	pthread_mutex_unlock(&loaded_lock);
}

static int is_loaded(const void *m)
{
	size_t i;
	int yes = 0;

	pthread_mutex_lock(&loaded_lock);
	for (i = 0; i < sizeof(loaded) / sizeof(loaded[0]) && !yes; i++)
		yes = loaded[i] == m;
	pthread_mutex_unlock(&loaded_lock);
	return yes;
}

CUresult CUDAAPI cuModuleLoadData(CUmodule *module, const void *image)
{
	POISONED();
	struct fake_module *m;

	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	const char *log = getenv("FAKECUDA_LOAD_LOG"); /* a line a load, for tests to count */
	FILE *f;

	if (strncmp(image, "// fakecuda", 11))
		return CUDA_ERROR_INVALID_IMAGE;
	m = calloc(1, sizeof(*m));
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	m->fn[0] = (struct fake_function){twice_name, 48 << 10, 0, m};
	m->fn[1] = (struct fake_function){smid_name, 48 << 10, 0, m};
	m->fn[2] = (struct fake_function){priority_name, 48 << 10, 0, m};
	m->fn[3] = (struct fake_function){spin_name, 48 << 10, 0, m};
	m->fn[4] = (struct fake_function){tally_name, 48 << 10, 0, m};
	m->has_counter = strstr(image, ".global .align 4 .b8 counter[16];") != NULL;
	m->has_table = !m->has_counter && strstr(image, ".const .align 4 .b8 table[16];") != NULL;
	if ((m->has_counter || m->has_table) && !(m->counter = global_page())) {
		free(m);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (m->counter) /* a global is device memory: kernels reach it */
		live_add_range((uintptr_t)m->counter, GLOBAL_BYTES);
	if (log && *log && (f = fopen(log, "a"))) {
		fputs("load\n", f);
		fclose(f);
	}
	set_loaded(m, 1);
	*module = (CUmodule)m;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUmodule module, const char *name)
{
	struct fake_module *m = (struct fake_module *)module;

	if (!m || !name)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(m->has_counter && !strcmp(name, "counter")) && !(m->has_table && !strcmp(name, "table")))
		return CUDA_ERROR_NOT_FOUND;
	if (dptr)
		*dptr = (CUdeviceptr)(uintptr_t)m->counter;
	if (bytes)
		*bytes = GLOBAL_BYTES;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule module)
{
	fault_shows_if("FAKECUDA_FAULT_AT_UNLOAD");
	POISONED();
	if (module && ((struct fake_module *)module)->counter) {
		live_remove_range((uintptr_t)((struct fake_module *)module)->counter);
		munmap(((struct fake_module *)module)->counter, (size_t)sysconf(_SC_PAGESIZE));
	}
	set_loaded(module, 0);
	free(module);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction *f, CUmodule module, const char *name)
{
	struct fake_module *m = (struct fake_module *)module;
	int i;

	if (!f || !module || !name)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < 5; i++)
		if (!strcmp(name, m->fn[i].name)) {
			*f = (CUfunction)&m->fn[i];
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_NOT_FOUND;
}

CUresult CUDAAPI cuModuleGetFunctionCount(unsigned int *count, CUmodule module)
{
	struct fake_module *m = (struct fake_module *)module;

	if (!count || !m)
		return CUDA_ERROR_INVALID_VALUE;
	*count = 4; /* not tally */
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleEnumerateFunctions(CUfunction *fns, unsigned int n, CUmodule module)
{
	struct fake_module *m = (struct fake_module *)module;
	unsigned int i;

	if (!fns || !m || n > 4) /* not tally */
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < n; i++)
		fns[i] = (CUfunction)&m->fn[i];
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetName(const char **name, CUfunction f)
{
	struct fake_function *fn = fake_fn(f);

	if (!name || !fn)
		return CUDA_ERROR_INVALID_VALUE;
	*name = fn->name;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetParamInfo(CUfunction f, size_t index, size_t *offset, size_t *size)
{
	if (!fake_fn(f) || !offset || !size || index > 1)
		return CUDA_ERROR_INVALID_VALUE;
	*offset = index ? 8 : 0;
	*size = index ? 4 : 8;
	return CUDA_SUCCESS;
}

/* A launch's own priority (CU_LAUNCH_ATTRIBUTE_PRIORITY), over its stream's. */
static __thread int launch_priority, launch_priority_set;

static CUresult run_kernel(const char *name, const void *module, const struct fake_stream *s, uint64_t threads,
			   uint64_t blocks, unsigned *p, unsigned n)
{
	static const struct fake_stream whole = {.nsms = FAKE_SMS, .max_cluster = FAKE_CLUSTER};
	struct fake_module *m = (struct fake_module *)module;
	uint64_t i;

	if (!s || s == (const void *)CU_STREAM_LEGACY || s == (const void *)CU_STREAM_PER_THREAD)
		s = &whole;
	if (name == spin_name)
		n = 0;
	else if (name == priority_name || name == tally_name)
		n = n ? 1 : 0;
	if (name == tally_name && !m->has_counter)
		return CUDA_ERROR_INVALID_VALUE;
	else if (n > (name == smid_name ? blocks : threads))
		n = (unsigned int)(name == smid_name ? blocks : threads);
	if (n && !live_holds((uintptr_t)p, (uint64_t)n * sizeof(*p))) {
		if (!sticky_faults())
			return CUDA_ERROR_ILLEGAL_ADDRESS; /* the GPU's memory protection */
		poison_now((CUresult)env_int("FAKECUDA_FAULT_ERROR", CUDA_ERROR_ILLEGAL_ADDRESS));
		return CUDA_SUCCESS; /* asynchronous: its error comes later, to everyone */
	}
	for (i = 0; i < n; i++) {
		if (name == twice_name)
			p[i] *= 2;
		else if (name == smid_name)
			p[i] = s->first_sm + (unsigned)(i % s->nsms);
		else if (name == tally_name)
			p[i] = ++m->counter[0];
		else
			p[i] = (unsigned)(launch_priority_set ? launch_priority : s->priority);
	}
	return CUDA_SUCCESS;
}

/* A kernel node's function, shape and packed arguments (those of the
 * kernels here: a pointer, then a count), for cuGraphKernelNodeGetParams. */
static void kernel_shape(struct fake_node *k, CUfunction f, const unsigned dims[6], unsigned smem)
{
	memcpy(k->grid, dims, sizeof(k->grid));
	memcpy(k->block, dims + 3, sizeof(k->block));
	k->func = f;
	k->smem = smem;
	k->args_size = 12;
	memcpy(k->args, &k->dst, sizeof(k->dst));
	memcpy(k->args + 8, &(unsigned){(unsigned)k->n}, 4);
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
				unsigned int by, unsigned int bz, unsigned int smem, CUstream stream, void **params,
				void **extra)
{
	POISONED();
	uint64_t threads = (uint64_t)gx * gy * gz * bx * by * bz;
	unsigned int *p = NULL, n = 0;

	(void)stream;
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (smem > (unsigned int)fake_fn(f)->max_dynamic_smem)
		return CUDA_ERROR_INVALID_VALUE; /* as the driver, past the function's limit */
	if (params) {
		memcpy(&p, params[0], sizeof(p));
		memcpy(&n, params[1], sizeof(n));
	} else if (extra && extra[0] == CU_LAUNCH_PARAM_BUFFER_POINTER && extra[2] == CU_LAUNCH_PARAM_BUFFER_SIZE &&
		   *(size_t *)extra[3] >= 12) {
		memcpy(&p, extra[1], sizeof(p));
		memcpy(&n, (char *)extra[1] + 8, sizeof(n));
	} else {
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (capturing(stream)) {
		struct fake_node k = {.kind = NODE_KERNEL, .kernel = fake_fn(f)->name, .module = fake_fn(f)->module,
				      .on = *(const struct fake_stream *)stream, .threads = threads,
				      .blocks = (uint64_t)gx * gy * gz, .dst = p, .n = n};

		kernel_shape(&k, f, (const unsigned[6]){gx, gy, gz, bx, by, bz}, smem);
		k.prio = launch_priority; /* cuLaunchKernelEx's attribute, captured into the node */
		k.prio_set = launch_priority_set;
		return record(stream, &k);
	}
	return run_kernel(fake_fn(f)->name, fake_fn(f)->module, (const struct fake_stream *)stream, threads, (uint64_t)gx * gy * gz, p,
			  n);
}

/* Function attributes: the dynamic shared memory limit can be set (up to
 * 227 KiB, as on an H100); the rest are fixed. */
CUresult CUDAAPI cuFuncGetAttribute(int *v, CUfunction_attribute attr, CUfunction f)
{
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!v)
		return CUDA_ERROR_INVALID_VALUE;
	switch (attr) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		*v = 1024;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_NUM_REGS:
		*v = 16;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		*v = fake_fn(f)->max_dynamic_smem;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction f, CUfunction_attribute attr, int v)
{
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (attr == CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH && v >= 0 && v <= 8) {
		fake_fn(f)->cluster_width = v;
		return CUDA_SUCCESS;
	}
	if (attr != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || v < 0 || v > (227 << 10))
		return CUDA_ERROR_INVALID_VALUE;
	fake_fn(f)->max_dynamic_smem = v;
	return CUDA_SUCCESS;
}

/* Occupancy as on a device of 132 SMs of 2048 threads each. */
CUresult CUDAAPI cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *n, CUfunction f, int block, size_t smem,
								       unsigned int flags)
{
	(void)smem, (void)flags;
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!n || block <= 0 || block > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	*n = 2048 / block;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuOccupancyAvailableDynamicSMemPerBlock(size_t *smem, CUfunction f, int blocks, int block)
{
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!smem || blocks <= 0 || block <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	*smem = (size_t)(228 << 10) / (size_t)blocks;
	return CUDA_SUCCESS;
}

/* The blocks in a cluster of a launch's attributes (1: none). */
static unsigned cluster_size(const CUlaunchConfig *c)
{
	unsigned size = 1, i;

	for (i = 0; i < c->numAttrs; i++)
		if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
			size = c->attrs[i].value.clusterDim.x * c->attrs[i].value.clusterDim.y *
			       c->attrs[i].value.clusterDim.z;
	return size;
}

/* The largest cluster a stream's SMs hold: a green context of a fine
 * split's runs clusters of 2 at most. */
static unsigned max_cluster(CUstream stream)
{
	const struct fake_stream *s = stream_of(stream);

	return s ? s->max_cluster : FAKE_CLUSTER;
}

CUresult CUDAAPI cuOccupancyMaxActiveClusters(int *n, CUfunction f, const CUlaunchConfig *c)
{
	const struct fake_stream *s;
	unsigned size;

	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!n || !c)
		return CUDA_ERROR_INVALID_VALUE;
	size = cluster_size(c);
	s = stream_of(c->hStream);
	*n = size && size <= max_cluster(c->hStream) ? (int)((s ? s->nsms : FAKE_SMS) / size) : 0;
	return CUDA_SUCCESS;
}

/* The largest cluster its stream's SMs run (as the H200's driver, 8 for
 * a whole GPU, without the non-portable attribute). */
CUresult CUDAAPI cuOccupancyMaxPotentialClusterSize(int *size, CUfunction f, const CUlaunchConfig *c)
{
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!size || !c)
		return CUDA_ERROR_INVALID_VALUE;
	*size = (int)max_cluster(c->hStream);
	return CUDA_SUCCESS;
}

/* Attributes are checked for being known ones, then ignored. */
CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f, void **params, void **extra)
{
	POISONED();
	unsigned i;

	if (!c || (c->numAttrs && !c->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r;

	for (i = 0; i < c->numAttrs; i++) {
		if (c->attrs[i].id > CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING)
			return CUDA_ERROR_INVALID_VALUE;
		if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_PRIORITY) { /* clamped to the range, as streams' */
			launch_priority = c->attrs[i].value.priority > 0 ? 0 : c->attrs[i].value.priority < -5 ? -5
													 : c->attrs[i].value.priority;
			launch_priority_set = 1;
		}
	}
	if (cluster_size(c) > max_cluster(c->hStream))
		return CUDA_ERROR_INVALID_CLUSTER_SIZE;
	r = cuLaunchKernel(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
			   c->sharedMemBytes, c->hStream, params, extra);
	launch_priority_set = 0;
	return r;
}

/* A write queued behind a wait for an event still busy is made once the
 * event is done (30 s at most), by a thread of its own, as the GPU would. */
struct late_write {
	struct fake_event after;
	cuuint32_t *at, value;
	struct fake_stream *on;
};

static void *write_late(void *arg)
{
	struct late_write *w = arg;
	int i;

	for (i = 0; i < 30000 && (gate_closed() || busy(&w->after)); i++)
		sleep_ms(1);
	__atomic_store_n(w->at, w->value, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&w->on->late, 1, __ATOMIC_RELEASE);
	free(w);
	return NULL;
}

/* Whether the write waits (and is now a late one's to make). */
static int written_late(CUstream s, CUdeviceptr addr, cuuint32_t value)
{
	struct fake_stream *fs = stream_of(s);
	struct late_write *w;
	pthread_t t;

	if (!fs || !fs->waits || !(gate_closed() || busy(&fs->after)) || !(w = malloc(sizeof(*w)))) {
		if (fs)
			fs->waits = 0;
		return 0;
	}
	*w = (struct late_write){fs->after, (cuuint32_t *)(uintptr_t)addr, value, fs};
	__atomic_add_fetch(&fs->late, 1, __ATOMIC_ACQ_REL);
	if (pthread_create(&t, NULL, write_late, w) != 0) {
		__atomic_sub_fetch(&fs->late, 1, __ATOMIC_RELEASE);
		free(w);
		return 0;
	}
	pthread_detach(t);
	return 1;
}

/* Stream memory operations: streams run at once here, but for a wait on
 * an event still busy (written_late).
 * FAKECUDA_LOSE_WRITES=1: a write is queued but never made, as when a
 * fault stops the stream before it (for the waits that must not hang). */
CUresult CUDAAPI cuStreamWriteValue32(CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
	POISONED();
	(void)flags;
	if (!addr)
		return CUDA_ERROR_INVALID_VALUE;
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_WRITE32, .dst = (void *)(uintptr_t)addr, .value = value});
	if (env_int("FAKECUDA_LOSE_WRITES", 0) || written_late(s, addr, value))
		return CUDA_SUCCESS;
	__atomic_store_n((cuuint32_t *)(uintptr_t)addr, value, __ATOMIC_RELEASE);
	return CUDA_SUCCESS;
}

/* Waits by polling, as the GPU polls host memory; gives up after 10 s so
 * that a test that never releases the wait fails instead of hanging. */
CUresult CUDAAPI cuStreamWaitValue32(CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
	struct timespec nap = {0, 10000};
	time_t end = time(NULL) + 10;

	if (!addr || flags != CU_STREAM_WAIT_VALUE_GEQ)
		return addr ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_WAIT32, .dst = (void *)(uintptr_t)addr, .value = value});
	while ((int32_t)(__atomic_load_n((cuuint32_t *)(uintptr_t)addr, __ATOMIC_ACQUIRE) - value) < 0) {
		if (time(NULL) > end)
			return CUDA_ERROR_LAUNCH_TIMEOUT;
		nanosleep(&nap, NULL);
	}
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamWriteValue64(CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
	(void)flags;
	if (capturing(s))
		return spoil(s);
	if (!addr)
		return CUDA_ERROR_INVALID_VALUE;
	__atomic_store_n((cuuint64_t *)(uintptr_t)addr, value, __ATOMIC_RELEASE);
	return CUDA_SUCCESS;
}

/* GEQ only, as cuStreamWaitValue32 here, and no waiting: a test's value is there. */
CUresult CUDAAPI cuStreamWaitValue64(CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
	if (capturing(s))
		return spoil(s);
	if (!addr || flags != CU_STREAM_WAIT_VALUE_GEQ)
		return addr ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
	return (int64_t)(__atomic_load_n((cuuint64_t *)(uintptr_t)addr, __ATOMIC_ACQUIRE) - value) >= 0
		       ? CUDA_SUCCESS
		       : CUDA_ERROR_LAUNCH_TIMEOUT;
}

CUresult CUDAAPI cuLaunchHostFunc(CUstream s, CUhostFn fn, void *data)
{
	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	if (capturing(s))
		return record(s, &(struct fake_node){.kind = NODE_HOSTFN, .fn = fn, .data = data});
	fn(data);
	return CUDA_SUCCESS;
}

/* Page-locked host memory: every address is reachable here. Page-locking
 * takes a real driver milliseconds: FAKECUDA_REGISTER_DELAY_MS says how many. */
CUresult CUDAAPI cuMemHostRegister(void *p, size_t bytes, unsigned int flags)
{
	fault_shows_if("FAKECUDA_FAULT_AT_REGISTER");
	POISONED();
	(void)flags;
	sleep_ms(env_int("FAKECUDA_REGISTER_DELAY_MS", 0));
	wait_gate("FAKECUDA_REGISTER_GATE");
	if (!p || !bytes)
		return CUDA_ERROR_INVALID_VALUE;
	live_add_range((uintptr_t)p, bytes); /* kernels reach it */
	return CUDA_SUCCESS;
}

/* A real driver waits for the GPU here: FAKECUDA_UNREGISTER_GATE makes it
 * wait while a file exists (30 s at most), as for a stream held by a
 * client's host function. */
CUresult CUDAAPI cuMemHostUnregister(void *p)
{
	wait_gate("FAKECUDA_UNREGISTER_GATE");
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	live_remove_range((uintptr_t)p);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostGetDevicePointer(CUdeviceptr *d, void *p, unsigned int flags)
{
	const char *none = getenv("FAKECUDA_HOST_DEVPTR_NONE");

	if (!d || !p || flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (none && unlink(none) == 0)
		return CUDA_ERROR_ILLEGAL_ADDRESS; /* as when a fault meets it */
	*d = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

/* Memory pools: a pool keeps its attributes and counts what it holds;
 * stream-ordered allocations are plain ones (streams run at once here). */
struct fake_pool {
	int dev;
	cuuint64_t threshold, used;
	int reuse[3];
};

CUresult CUDAAPI cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
	struct fake_pool *p;

	if (!pool || !props || props->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(p = calloc(1, sizeof(*p))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	p->dev = props->location.id;
	p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
	*pool = (CUmemoryPool)p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolDestroy(CUmemoryPool pool)
{
	free(pool);
	return CUDA_SUCCESS;
}

/* As the driver's pools, memory freed to a pool is handed out again, as it
 * is, to the next allocation of its size: the last 16 blocks freed. */
#define POOL_BLOCK 0x706f6f6cu
static pthread_mutex_t freed_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t *freed[16];
static int nfreed;

static size_t *reuse_block(size_t bytes)
{
	size_t *p = NULL;
	int i;

	pthread_mutex_lock(&freed_lock);
	for (i = nfreed - 1; i >= 0 && !p; i--)
		if (freed[i][0] == bytes) {
			p = freed[i];
			freed[i] = freed[--nfreed];
		}
	pthread_mutex_unlock(&freed_lock);
	if (p) {
		atomic_fetch_add(&mem_used, bytes);
		live_add(p);
	}
	return p;
}

CUresult CUDAAPI cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s)
{
	struct fake_galloc *a;
	size_t *p;
	CUresult r = CUDA_SUCCESS;

	if (!pool || !dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if (capturing(s)) { /* an allocation node: the graph's memory */
		if (!(a = galloc_new(bytes)))
			return CUDA_ERROR_OUT_OF_MEMORY;
		*dptr = (CUdeviceptr)(uintptr_t)a->p;
		r = record(s, &(struct fake_node){.kind = NODE_MEM_ALLOC, .dst = a->p, .n = bytes, .data = a});
		if (r != CUDA_SUCCESS)
			galloc_put(a);
		return r;
	}
	if ((p = reuse_block(bytes)))
		*dptr = (CUdeviceptr)(uintptr_t)(p + 2);
	else
		r = cuMemAlloc(dptr, bytes);
	if (r == CUDA_SUCCESS) {
		((size_t *)(uintptr_t)*dptr)[-1] = POOL_BLOCK;
		((struct fake_pool *)pool)->used += bytes;
	}
	return r;
}

/* The device's default pool, for programs that run natively on fakecuda. */
CUresult CUDAAPI cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream s)
{
	static struct fake_pool whole = {.reuse = {1, 1, 1}};

	return cuMemAllocFromPoolAsync(dptr, bytes, (CUmemoryPool)&whole, s);
}

CUresult CUDAAPI cuMemFreeAsync(CUdeviceptr dptr, CUstream s)
{
	size_t *p = (size_t *)(uintptr_t)dptr - 2;
	struct fake_galloc *a = dptr ? galloc_at((void *)(uintptr_t)dptr) : NULL;

	if (a && capturing(s)) /* a free node */
		return record(s, &(struct fake_node){.kind = NODE_MEM_FREE, .dst = a->p, .data = a});
	if (a)
		return galloc_live(a, 0);
	if (capturing(s))
		return spoil(s);
	if (!dptr || p[1] != POOL_BLOCK)
		return cuMemFree(dptr);
	live_remove(p);
	pthread_mutex_lock(&freed_lock);
	if (nfreed == 16) { /* the oldest goes back for good; it is not counted as used */
		free(freed[0]);
		freed[0] = freed[--nfreed];
	}
	freed[nfreed++] = p;
	atomic_fetch_sub(&mem_used, p[0]);
	pthread_mutex_unlock(&freed_lock);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *v)
{
	struct fake_pool *p = (struct fake_pool *)pool;

	if (!p || !v)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr >= CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES &&
	    attr <= CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES)
		p->reuse[attr - 1] = *(int *)v;
	else if (attr == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
		p->threshold = *(cuuint64_t *)v;
	else
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *v)
{
	struct fake_pool *p = (struct fake_pool *)pool;

	if (!p || !v)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr >= CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES &&
	    attr <= CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES)
		*(int *)v = p->reuse[attr - 1];
	else if (attr == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
		*(cuuint64_t *)v = p->threshold;
	else if (attr >= CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT && attr <= CU_MEMPOOL_ATTR_USED_MEM_HIGH)
		*(cuuint64_t *)v = p->used;
	else
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolTrimTo(CUmemoryPool pool, size_t keep)
{
	(void)keep;
	return pool ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* 2D copies and sets: device memory is host memory here. */
CUresult CUDAAPI cuMemcpy2DAsync(const CUDA_MEMCPY2D *p, CUstream s)
{
	POISONED();
	const unsigned char *src;
	unsigned char *dst;
	size_t y;

	if (capturing(s))
		return spoil(s);
	if (!p || p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY)
		return CUDA_ERROR_INVALID_VALUE;
	src = p->srcMemoryType == CU_MEMORYTYPE_HOST ? (const unsigned char *)p->srcHost
						      : (const unsigned char *)(uintptr_t)p->srcDevice;
	dst = p->dstMemoryType == CU_MEMORYTYPE_HOST ? (unsigned char *)p->dstHost
						      : (unsigned char *)(uintptr_t)p->dstDevice;
	if (p->WidthInBytes > p->srcPitch || p->WidthInBytes > p->dstPitch)
		return CUDA_ERROR_INVALID_VALUE;
	src += p->srcY * p->srcPitch + p->srcXInBytes;
	dst += p->dstY * p->dstPitch + p->dstXInBytes;
	for (y = 0; y < p->Height; y++)
		memmove(dst + y * p->dstPitch, src + y * p->srcPitch, p->WidthInBytes);
	return CUDA_SUCCESS;
}

/* CUDA arrays: host memory, rows packed (pitch = width times the element),
 * slices after each other; counted as device memory. */
#define FAKE_ARRAY 0x61727261u

struct fake_array {
	unsigned magic;
	CUDA_ARRAY3D_DESCRIPTOR d;
	size_t row, rows, slices;
	unsigned char *data;
};

static size_t fake_format_bytes(CUarray_format f)
{
	return f == CU_AD_FORMAT_UNSIGNED_INT8 || f == CU_AD_FORMAT_SIGNED_INT8 ? 1
	       : f == CU_AD_FORMAT_UNSIGNED_INT16 || f == CU_AD_FORMAT_SIGNED_INT16 || f == CU_AD_FORMAT_HALF ? 2
	       : f == CU_AD_FORMAT_UNSIGNED_INT32 || f == CU_AD_FORMAT_SIGNED_INT32 || f == CU_AD_FORMAT_FLOAT ? 4
																   : 0;
}

static struct fake_array *fake_array(CUarray a)
{
	struct fake_array *f = (struct fake_array *)a;

	return f && f->magic == FAKE_ARRAY ? f : NULL;
}

CUresult CUDAAPI cuArray3DCreate_v2(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
	POISONED();
	struct fake_array *a;
	size_t elem, bytes;

	if (!out || !d || !d->Width || !(elem = fake_format_bytes(d->Format) * d->NumChannels))
		return CUDA_ERROR_INVALID_VALUE;
	/* An H200's limits (maximum texture 1D/2D width 131072, 3D 16384). */
	if (d->Width > (d->Depth ? 16384u : 131072u) || d->Height > (d->Depth ? 16384u : 65536u) || d->Depth > 16384u)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(a = calloc(1, sizeof(*a))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	a->magic = FAKE_ARRAY;
	a->d = *d;
	a->row = d->Width * elem;
	a->rows = d->Height ? d->Height : 1;
	a->slices = d->Depth ? d->Depth : 1;
	bytes = a->row * a->rows * a->slices;
	if (bytes > FAKE_TOTAL_MEM - atomic_load(&mem_used) || !(a->data = calloc(1, bytes))) {
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	atomic_fetch_add(&mem_used, bytes);
	*out = (CUarray)a;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuArrayDestroy(CUarray h)
{
	struct fake_array *a = fake_array(h);

	if (!a)
		return CUDA_ERROR_INVALID_HANDLE;
	atomic_fetch_sub(&mem_used, a->row * a->rows * a->slices);
	a->magic = 0;
	free(a->data);
	free(a);
	return CUDA_SUCCESS;
}

/* The JIT linker: inputs must be fakecuda images; the linked image is
 * "// fakecuda: linked" and the inputs after it, so it loads as any fakecuda
 * module. A call of an .extern .func that no input defines (".visible
 * .func") fails the link, as nvlink's undefined reference does. The logs and
 * the wall time are written where the options say, as the driver does. */
#define FAKE_LINK 0x6c696e6bu

struct fake_link {
	unsigned magic;
	char *out;
	size_t len;
	unsigned inputs;
	int calls, defines; /* an input calls an external function; one defines one */
	char *log[2];	    /* info, error */
	size_t cap[2];
	void **size_out[2], **wall_out;
};

static struct fake_link *fake_link(CUlinkState h)
{
	struct fake_link *l = (struct fake_link *)h;

	return l && l->magic == FAKE_LINK ? l : NULL;
}

static void fake_link_log(struct fake_link *l, int which, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!l->log[which] || !l->cap[which])
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->log[which], l->cap[which], fmt, ap);
	va_end(ap);
	if (l->size_out[which])
		*l->size_out[which] = (void *)(uintptr_t)((size_t)n + 1 < l->cap[which] ? (size_t)n + 1 : l->cap[which]);
}

CUresult CUDAAPI cuLinkCreate(unsigned int n, CUjit_option *options, void **values, CUlinkState *out)
{
	POISONED();
	struct fake_link *l;
	unsigned i;

	if (!out || (n && (!options || !values)))
		return CUDA_ERROR_INVALID_VALUE;
	if (!(l = calloc(1, sizeof(*l))) || !(l->out = strdup("// fakecuda: linked\n"))) {
		free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	l->magic = FAKE_LINK;
	l->len = strlen(l->out);
	for (i = 0; i < n; i++) {
		if (options[i] > CU_JIT_SPLIT_COMPILE) {
			free(l->out);
			free(l);
			return CUDA_ERROR_INVALID_VALUE;
		}
		if (options[i] == CU_JIT_INFO_LOG_BUFFER || options[i] == CU_JIT_ERROR_LOG_BUFFER)
			l->log[options[i] == CU_JIT_ERROR_LOG_BUFFER] = values[i];
		if (options[i] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES || options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
			int which = options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES;

			l->cap[which] = (uintptr_t)values[i];
			l->size_out[which] = &values[i];
		}
		if (options[i] == CU_JIT_WALL_TIME)
			l->wall_out = &values[i];
	}
	*out = (CUlinkState)l;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLinkAddData(CUlinkState h, CUjitInputType type, void *data, size_t size, const char *name,
			       unsigned int n, CUjit_option *options, void **values)
{
	POISONED();
	struct fake_link *l = fake_link(h);
	char *grown;

	(void)n, (void)options, (void)values;
	if (!l || !data || !size || type >= CU_JIT_NUM_INPUT_TYPES)
		return l ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_INVALID_HANDLE;
	if (size < 11 || strncmp(data, "// fakecuda", 11)) {
		fake_link_log(l, 1, "fakecuda: input %s: not a fakecuda image", name ? name : "(unnamed)");
		return type == CU_JIT_INPUT_PTX ? CUDA_ERROR_INVALID_PTX : CUDA_ERROR_INVALID_IMAGE;
	}
	if (!(grown = realloc(l->out, l->len + size + 2)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	l->out = grown;
	memcpy(l->out + l->len, data, size);
	l->len += strnlen(l->out + l->len, size); /* up to its NUL */
	l->out[l->len++] = '\n';
	l->out[l->len] = '\0';
	l->calls |= memmem(data, size, ".extern .func", 13) != NULL;
	l->defines |= memmem(data, size, ".visible .func", 14) != NULL;
	l->inputs++;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLinkComplete(CUlinkState h, void **cubin, size_t *size)
{
	POISONED();
	struct fake_link *l = fake_link(h);
	float ms = 0.25f;

	if (!l || !cubin || !size)
		return l ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_INVALID_HANDLE;
	if (!l->inputs || (l->calls && !l->defines)) {
		fake_link_log(l, 1, "fakecuda: undefined reference in %u inputs", l->inputs);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	fake_link_log(l, 0, "fakecuda: linked %u inputs into %zu bytes", l->inputs, l->len + 1);
	if (l->wall_out)
		memcpy(l->wall_out, &ms, sizeof(ms));
	*cubin = l->out;
	*size = l->len + 1;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLinkDestroy(CUlinkState h)
{
	struct fake_link *l = fake_link(h);

	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	l->magic = 0;
	free(l->out);
	free(l);
	return CUDA_SUCCESS;
}

/* A mipmapped array: its levels are fake arrays, halved in each dimension. */
#define FAKE_MIPMAP 0x6d69706du

struct fake_mipmap {
	unsigned magic;
	unsigned levels;
	CUarray level[32];
};

static struct fake_mipmap *fake_mipmap(CUmipmappedArray h)
{
	struct fake_mipmap *m = (struct fake_mipmap *)h;

	return m && m->magic == FAKE_MIPMAP ? m : NULL;
}

CUresult CUDAAPI cuMipmappedArrayDestroy(CUmipmappedArray h)
{
	struct fake_mipmap *m = fake_mipmap(h);
	unsigned l;

	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	for (l = 0; l < m->levels; l++)
		cuArrayDestroy(m->level[l]);
	m->magic = 0;
	free(m);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMipmappedArrayCreate(CUmipmappedArray *out, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned int levels)
{
	POISONED();
	CUDA_ARRAY3D_DESCRIPTOR l;
	struct fake_mipmap *m;
	CUresult r = CUDA_SUCCESS;

	if (!out || !d || !levels || levels > 32)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(m = calloc(1, sizeof(*m))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	m->magic = FAKE_MIPMAP;
	l = *d;
	for (m->levels = 0; m->levels < levels && r == CUDA_SUCCESS; m->levels++) {
		r = cuArray3DCreate_v2(&m->level[m->levels], &l);
		l.Width = l.Width > 1 ? l.Width / 2 : 1;
		l.Height = l.Height > 1 ? l.Height / 2 : l.Height;
		l.Depth = l.Depth > 1 ? l.Depth / 2 : l.Depth;
	}
	if (r != CUDA_SUCCESS) {
		m->levels--; /* the one that failed */
		cuMipmappedArrayDestroy((CUmipmappedArray)m);
		return r;
	}
	*out = (CUmipmappedArray)m;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMipmappedArrayGetLevel(CUarray *out, CUmipmappedArray h, unsigned int level)
{
	struct fake_mipmap *m = fake_mipmap(h);

	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!out || level >= m->levels)
		return CUDA_ERROR_INVALID_VALUE;
	*out = m->level[level];
	return CUDA_SUCCESS;
}

/* One side of a 3D copy: its first byte and pitches, bounds checked for arrays. */
static unsigned char *side3d(CUmemorytype type, const void *host, CUdeviceptr dev, CUarray arr, size_t x, size_t y,
			     size_t z, size_t pitch, size_t height, const CUDA_MEMCPY3D *p, size_t *rp, size_t *sp)
{
	struct fake_array *a;

	if (type == CU_MEMORYTYPE_ARRAY) {
		if (!(a = fake_array(arr)) || x + p->WidthInBytes > a->row || y + p->Height > a->rows ||
		    z + (p->Depth ? p->Depth : 1) > a->slices)
			return NULL;
		*rp = a->row;
		*sp = a->row * a->rows;
		return a->data + z * *sp + y * *rp + x;
	}
	*rp = pitch;
	*sp = pitch * height;
	return (type == CU_MEMORYTYPE_HOST ? (unsigned char *)host : (unsigned char *)(uintptr_t)dev) + z * *sp +
	       y * pitch + x;
}

CUresult CUDAAPI cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *p, CUstream s)
{
	POISONED();
	unsigned char *src, *dst;
	size_t srp = 0, ssp = 0, drp = 0, dsp = 0, y, z;

	if (capturing(s))
		return spoil(s);
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	src = side3d(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY, p->srcZ,
		     p->srcPitch, p->srcHeight, p, &srp, &ssp);
	dst = side3d(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY, p->dstZ,
		     p->dstPitch, p->dstHeight, p, &drp, &dsp);
	if (!src || !dst)
		return CUDA_ERROR_INVALID_VALUE;
	for (z = 0; z < (p->Depth ? p->Depth : 1); z++)
		for (y = 0; y < p->Height; y++)
			memmove(dst + z * dsp + y * drp, src + z * ssp + y * srp, p->WidthInBytes);
	return CUDA_SUCCESS;
}

/* Texture and surface objects: numbers, live until destroyed. */
static pthread_mutex_t objects_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long next_object = 0x1000, live_objects;

static CUresult object_new(unsigned long long *out, const CUDA_RESOURCE_DESC *res)
{
	if (!out || !res || (res->resType == CU_RESOURCE_TYPE_ARRAY && !fake_array(res->res.array.hArray)) ||
	    (res->resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY && !fake_mipmap(res->res.mipmap.hMipmappedArray)))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&objects_lock);
	*out = next_object++;
	live_objects++;
	pthread_mutex_unlock(&objects_lock);
	return CUDA_SUCCESS;
}

static CUresult object_gone(unsigned long long obj)
{
	if (!obj)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&objects_lock);
	live_objects--;
	pthread_mutex_unlock(&objects_lock);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuTexObjectCreate(CUtexObject *obj, const CUDA_RESOURCE_DESC *res, const CUDA_TEXTURE_DESC *tex,
				   const CUDA_RESOURCE_VIEW_DESC *view)
{
	POISONED();
	(void)view;
	return tex ? object_new(obj, res) : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuTexObjectDestroy(CUtexObject obj)
{
	return object_gone(obj);
}

CUresult CUDAAPI cuSurfObjectCreate(CUsurfObject *obj, const CUDA_RESOURCE_DESC *res)
{
	POISONED();
	if (res && res->resType != CU_RESOURCE_TYPE_ARRAY)
		return CUDA_ERROR_INVALID_VALUE;
	return object_new(obj, res);
}

CUresult CUDAAPI cuSurfObjectDestroy(CUsurfObject obj)
{
	return object_gone(obj);
}

#define MEMSET_2D(name, type)                                                                              \
	CUresult CUDAAPI name(CUdeviceptr d, size_t pitch, type v, size_t w, size_t h, CUstream s)         \
	{                                                                                                  \
		size_t x, y;                                                                               \
		if (capturing(s))                                                                          \
			return spoil(s);                                                                   \
		if (w * sizeof(type) > pitch)                                                              \
			return CUDA_ERROR_INVALID_VALUE;                                                   \
		for (y = 0; y < h; y++)                                                                    \
			for (x = 0; x < w; x++)                                                            \
				memcpy((char *)(uintptr_t)d + y * pitch + x * sizeof(type), &v, sizeof(type)); \
		return CUDA_SUCCESS;                                                                       \
	}
MEMSET_2D(cuMemsetD2D8Async, unsigned char)
MEMSET_2D(cuMemsetD2D16Async, unsigned short)
MEMSET_2D(cuMemsetD2D32Async, unsigned int)

/* Stream capture (see struct fake_node). A capture is a graph being built;
 * streams that wait for an event recorded in it join it. One lock guards
 * every capture: the server's workers capture for several clients at once. */
struct fake_graph {
	struct fake_graph *next; /* the captures under way */
	unsigned long long id;
	int invalid;
	struct fake_node *nodes;
	size_t n, cap;
	struct fake_stream *joined[16]; /* the streams in it, the origin first */
	unsigned njoined;
	size_t (*edges)[2]; /* node indices, (from, to): none in a captured graph */
	size_t nedges;
	struct fake_node_ref **refs; /* the CUgraphNode handles given out */
	size_t nrefs;
	int owned; /* a conditional node's body: its graph frees it */
	struct fake_graph *parent; /* a body's: the graph of its node */
	struct fake_cond **conds;  /* its conditional handles: handle k is conds[k - 1], as the */
	unsigned nconds;	   /* H200's driver numbers a graph's handles from 1 */
	const struct fake_graph *from; /* an executable graph's: the graph it was made from (compared only) */
	size_t from_edges;	       /* and how many edges that had */
};

static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_graph *captures;
static unsigned long long capture_ids;

/* NULL for the NULL stream and its aliases, which never capture. */
static struct fake_stream *stream_of(CUstream s)
{
	return !s || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD ? NULL : (struct fake_stream *)s;
}

static int capturing(CUstream s)
{
	struct fake_stream *fs = stream_of(s);
	int on;

	if (!fs)
		return 0;
	pthread_mutex_lock(&graph_lock);
	on = fs->capture != NULL;
	pthread_mutex_unlock(&graph_lock);
	return on;
}

static CUresult spoil(CUstream s)
{
	struct fake_stream *fs = stream_of(s);

	pthread_mutex_lock(&graph_lock);
	if (fs && fs->capture)
		fs->capture->invalid = 1;
	pthread_mutex_unlock(&graph_lock);
	return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

static int append(struct fake_graph *g, const struct fake_node *n)
{
	if (g->n == g->cap) {
		struct fake_node *t = realloc(g->nodes, (g->cap ? 2 * g->cap : 16) * sizeof(*t));

		if (!t)
			return -1;
		g->nodes = t;
		g->cap = g->cap ? 2 * g->cap : 16;
	}
	g->nodes[g->n++] = *n;
	return 0;
}

static CUresult record(CUstream s, const struct fake_node *n)
{
	struct fake_stream *fs = stream_of(s);
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&graph_lock);
	if (n->kind == NODE_RECORD) /* an edge for the streams that wait for it, not a node */
		((struct fake_event *)n->dst)->capture_id = fs->capture->id;
	else if (append(fs->capture, n))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_unlock(&graph_lock);
	return r;
}

static struct fake_graph *capture_by_id(unsigned long long id)
{
	struct fake_graph *g;

	for (g = captures; g && g->id != id; g = g->next)
		;
	return g;
}

/* A stream that waits for an event recorded in a capture joins it; a
 * capturing stream may wait only for its own capture's events. */
static CUresult capture_wait(CUstream s, const struct fake_event *e)
{
	struct fake_stream *fs = stream_of(s);
	struct fake_graph *g;
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&graph_lock);
	g = e->capture_id ? capture_by_id(e->capture_id) : NULL;
	if (fs && fs->capture && fs->capture != g) {
		fs->capture->invalid = 1;
		r = CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
	} else if (g && !fs) {
		r = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT; /* the NULL stream cannot join */
	} else if (g && !fs->capture) {
		if (g->njoined < sizeof(g->joined) / sizeof(g->joined[0])) {
			g->joined[g->njoined++] = fs;
			fs->capture = g;
		} else {
			g->invalid = 1;
			r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* more streams than this fake keeps */
		}
	}
	pthread_mutex_unlock(&graph_lock);
	return r;
}

static void capture_leave(struct fake_stream *s)
{
	if (!stream_of((CUstream)s))
		return;
	unsigned i;

	pthread_mutex_lock(&graph_lock);
	if (s->capture) {
		for (i = 0; i < s->capture->njoined; i++)
			if (s->capture->joined[i] == s)
				s->capture->joined[i] = NULL;
		if (s->origin)
			s->capture->invalid = 1;
	}
	s->capture = NULL;
	pthread_mutex_unlock(&graph_lock);
}

CUresult CUDAAPI cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode)
{
	struct fake_stream *fs = stream_of(s);
	struct fake_graph *g;
	CUresult r = CUDA_SUCCESS;

	if (mode > CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_ERROR_INVALID_VALUE;
	if (!fs)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	g = calloc(1, sizeof(*g));
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&graph_lock);
	if (fs->capture) {
		r = CUDA_ERROR_ILLEGAL_STATE;
		free(g);
	} else {
		g->id = ++capture_ids;
		g->joined[g->njoined++] = fs;
		g->next = captures;
		captures = g;
		fs->capture = g;
		fs->origin = 1;
	}
	pthread_mutex_unlock(&graph_lock);
	return r;
}

CUresult CUDAAPI cuStreamEndCapture(CUstream s, CUgraph *graph)
{
	struct fake_stream *fs = stream_of(s);
	struct fake_graph *g, **pp;
	unsigned i;

	if (!graph)
		return CUDA_ERROR_INVALID_VALUE;
	*graph = NULL;
	pthread_mutex_lock(&graph_lock);
	g = fs ? fs->capture : NULL;
	if (!g || !fs->origin) {
		pthread_mutex_unlock(&graph_lock);
		return g ? CUDA_ERROR_STREAM_CAPTURE_UNMATCHED : CUDA_ERROR_ILLEGAL_STATE;
	}
	for (pp = &captures; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	for (i = 0; i < g->njoined; i++) /* the streams that joined leave with it */
		if (g->joined[i])
			g->joined[i]->capture = NULL;
	fs->capture = NULL;
	fs->origin = 0;
	pthread_mutex_unlock(&graph_lock);
	if (g->invalid) {
		free(g->nodes);
		free(g);
		return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	}
	*graph = (CUgraph)g;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status)
{
	struct fake_stream *fs = stream_of(s);

	if (!status)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&graph_lock);
	*status = !fs || !fs->capture ? CU_STREAM_CAPTURE_STATUS_NONE
		  : fs->capture->invalid ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
					 : CU_STREAM_CAPTURE_STATUS_ACTIVE;
	pthread_mutex_unlock(&graph_lock);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus *status, cuuint64_t *id,
					   CUgraph *graph, const CUgraphNode **deps, const CUgraphEdgeData **edges,
					   size_t *ndeps)
{
	struct fake_stream *fs = stream_of(s);
	CUresult r;

	fault_shows_if("FAKECUDA_FAULT_AT_CAPTURE_INFO");
	POISONED();
	if ((r = cuStreamIsCapturing(s, status)) != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&graph_lock);
	if (id)
		*id = fs && fs->capture ? fs->capture->id : 0;
	if (graph)
		*graph = fs && fs->capture ? (CUgraph)fs->capture : NULL;
	pthread_mutex_unlock(&graph_lock);
	if (deps)
		*deps = NULL;
	if (edges)
		*edges = NULL;
	if (ndeps)
		*ndeps = 0;
	return CUDA_SUCCESS;
}

/* A capture here is its order: the node just added is where it stands already. */
CUresult CUDAAPI cuStreamUpdateCaptureDependencies(CUstream s, CUgraphNode *deps, const CUgraphEdgeData *edges,
						   size_t n, unsigned int flags)
{
	(void)edges;
	if (!capturing(s))
		return CUDA_ERROR_ILLEGAL_STATE;
	return (n && !deps) || flags > CU_STREAM_SET_CAPTURE_DEPENDENCIES ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

static struct fake_graph *graph_copy(const struct fake_graph *g, int sorted);
static void graph_free(struct fake_graph *g);

/* An executable graph is a copy of the graph's nodes, in an order that
 * keeps every edge (captured graphs: the order of capture). */
CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph, unsigned long long flags)
{
	const struct fake_graph *g = (const struct fake_graph *)graph;
	struct fake_graph *e;

	(void)flags;
	if (!exec || !g)
		return CUDA_ERROR_INVALID_VALUE;
	e = graph_copy(g, 1);
	if (!e)
		return CUDA_ERROR_INVALID_VALUE; /* a cycle, or no memory */
	e->from = g;
	e->from_edges = g->nedges;
	*exec = (CUgraphExec)e;
	return CUDA_SUCCESS;
}

/* The executable graph takes graph's nodes if graph has its shape: as many
 * nodes and edges, the same kinds in the same order of their graphs. Its
 * nodes keep the indices they had, so that the nodes of the graph it was
 * made from still name them. */
CUresult CUDAAPI cuGraphExecUpdate(CUgraphExec exec, CUgraph graph, CUgraphExecUpdateResultInfo *info)
{
	struct fake_graph *e = (struct fake_graph *)exec, *c;
	const struct fake_graph *g = (const struct fake_graph *)graph;
	struct fake_node *swap;
	size_t i;

	POISONED();
	if (!info)
		return CUDA_ERROR_INVALID_VALUE;
	*info = (CUgraphExecUpdateResultInfo){.result = CU_GRAPH_EXEC_UPDATE_ERROR};
	if (!e || !g || !e->from)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(c = graph_copy(g, 1)))
		return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
	info->result = c->n != e->n || g->nedges != e->from_edges ? CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED
								   : CU_GRAPH_EXEC_UPDATE_SUCCESS;
	for (i = 0; info->result == CU_GRAPH_EXEC_UPDATE_SUCCESS && i < c->n; i++)
		if (c->nodes[i].orig != e->nodes[i].orig)
			info->result = CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
		else if (c->nodes[i].kind != e->nodes[i].kind)
			info->result = CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED;
	if (info->result == CU_GRAPH_EXEC_UPDATE_SUCCESS) {
		swap = e->nodes, e->nodes = c->nodes, c->nodes = swap;
		i = e->cap, e->cap = c->cap, c->cap = i;
	}
	graph_free(c); /* the nodes the executable graph had, or the copy */
	return info->result == CU_GRAPH_EXEC_UPDATE_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
}

static CUresult run_graph(const struct fake_graph *e);

static CUresult run_graph(const struct fake_graph *e);

/* Device memory is host memory here: a copy is row by row. */
static CUresult copy3d(const CUDA_MEMCPY3D *c)
{
	size_t y, z;

	for (z = 0; z < (c->Depth ? c->Depth : 1); z++)
		for (y = 0; y < (c->Height ? c->Height : 1); y++)
			memmove((char *)(uintptr_t)c->dstDevice + (z * c->dstHeight + y) * c->dstPitch,
				(const char *)(uintptr_t)c->srcDevice + (z * c->srcHeight + y) * c->srcPitch,
				c->WidthInBytes);
	return CUDA_SUCCESS;
}

/* No kernel here sets a condition: its value is the default it was given
 * (CU_GRAPH_COND_ASSIGN_DEFAULT) or 0, and a while loop runs at most once. */
static CUresult run_cond(const struct fake_node *n)
{
	unsigned v = n->cond->flags & CU_GRAPH_COND_ASSIGN_DEFAULT ? n->cond->default_value : n->cond->value;

	switch (n->cond_type) {
	case CU_GRAPH_COND_TYPE_IF:
		return v ? run_graph(n->bodies[0]) : n->nbodies > 1 ? run_graph(n->bodies[1]) : CUDA_SUCCESS;
	case CU_GRAPH_COND_TYPE_WHILE:
		return v ? run_graph(n->bodies[0]) : CUDA_SUCCESS;
	case CU_GRAPH_COND_TYPE_SWITCH:
		return v < n->nbodies ? run_graph(n->bodies[v]) : CUDA_SUCCESS;
	}
	return CUDA_ERROR_INVALID_VALUE;
}

static CUresult run_node(const struct fake_node *n)
{
	switch (n->kind) {
	case NODE_MEMSET:
		if (n->height > 1) {
			size_t y;
			CUresult r = CUDA_SUCCESS;

			for (y = 0; y < n->height && r == CUDA_SUCCESS; y++) {
				struct fake_node row = *n;

				row.dst = (char *)n->dst + y * n->pitch;
				row.height = 1;
				r = run_node(&row);
			}
			return r;
		}
		return n->elem == 1   ? cuMemsetD8Async((CUdeviceptr)(uintptr_t)n->dst, (unsigned char)n->value, n->n, NULL)
		       : n->elem == 2 ? cuMemsetD16Async((CUdeviceptr)(uintptr_t)n->dst, (unsigned short)n->value, n->n,
							 NULL)
				      : cuMemsetD32Async((CUdeviceptr)(uintptr_t)n->dst, n->value, n->n, NULL);
	case NODE_COPY:
		memmove(n->dst, n->src, n->n);
		return CUDA_SUCCESS;
	case NODE_KERNEL: {
		CUresult r;

		if (!is_loaded(n->module))
			return CUDA_ERROR_INVALID_HANDLE;
		launch_priority = n->prio;
		launch_priority_set = n->prio_set;
		r = run_kernel(n->kernel, n->module, &n->on, n->threads, n->blocks, n->dst, (unsigned)n->n);
		launch_priority_set = 0;
		return r;
	}
	case NODE_RECORD: /* never in a graph (record) */
		return CUDA_ERROR_INVALID_VALUE;
	case NODE_HOSTFN:
		n->fn(n->data);
		return CUDA_SUCCESS;
	case NODE_WRITE32:
		return cuStreamWriteValue32(NULL, (CUdeviceptr)(uintptr_t)n->dst, n->value, 0);
	case NODE_WAIT32:
		return cuStreamWaitValue32(NULL, (CUdeviceptr)(uintptr_t)n->dst, n->value, CU_STREAM_WAIT_VALUE_GEQ);
	case NODE_EMPTY:
	case NODE_EVENT_WAIT: /* events are recorded in order: nothing to wait for */
		return CUDA_SUCCESS;
	case NODE_COPY3D:
		return copy3d(&n->copy);
	case NODE_EVENT_RECORD:
		((struct fake_event *)n->dst)->capture_id = 0;
		clock_gettime(CLOCK_MONOTONIC, (struct timespec *)n->dst);
		return CUDA_SUCCESS;
	case NODE_CHILD:
		return run_graph(n->child);
	case NODE_COND:
		return run_cond(n);
	case NODE_MEM_ALLOC:
		return galloc_live(n->data, 1);
	case NODE_MEM_FREE:
		return galloc_live(n->data, 0);
	}
	return CUDA_ERROR_INVALID_VALUE;
}

static CUresult run_graph(const struct fake_graph *e)
{
	CUresult r = CUDA_SUCCESS;
	size_t i;

	for (i = 0; i < e->n && r == CUDA_SUCCESS; i++)
		r = e->nodes[i].off ? CUDA_SUCCESS : run_node(&e->nodes[i]);
	return r;
}

/* On a capturing stream, the graph's nodes join that capture (a child graph). */
CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream s)
{
	POISONED();
	const struct fake_graph *e = (const struct fake_graph *)exec;
	CUresult r = CUDA_SUCCESS;
	size_t i;

	if (!e)
		return CUDA_ERROR_INVALID_VALUE;
	if (!capturing(s))
		return run_graph(e);
	for (i = 0; i < e->n && r == CUDA_SUCCESS; i++)
		r = record(s, &e->nodes[i]);
	return r;
}

CUresult CUDAAPI cuGraphUpload(CUgraphExec exec, CUstream s)
{
	(void)s;
	return exec ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGraphDestroy(CUgraph graph)
{
	struct fake_graph *g = (struct fake_graph *)graph;

	if (!g || g->owned)
		return CUDA_ERROR_INVALID_VALUE;
	graph_free(g);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec exec)
{
	return cuGraphDestroy((CUgraph)exec);
}

/* Graphs built node by node. A CUgraphNode is a reference: the graph and
 * the node's index in it. */
struct fake_node_ref {
	struct fake_graph *g;
	size_t i;
};

static void graph_free(struct fake_graph *g)
{
	size_t i, j;

	if (!g)
		return;
	for (i = 0; i < g->n; i++) {
		graph_free(g->nodes[i].child);
		for (j = 0; j < g->nodes[i].nbodies; j++)
			graph_free(g->nodes[i].bodies[j]);
		if (g->nodes[i].kind == NODE_MEM_ALLOC)
			galloc_put(g->nodes[i].data);
	}
	for (i = 0; i < g->nrefs; i++)
		free(g->refs[i]);
	free(g->refs);
	free(g->edges);
	free(g->nodes);
	free(g->conds);
	free(g);
}

/* A node's own graphs, copied with it. */
static int node_copy(struct fake_node *n, int sorted)
{
	unsigned j;

	if (n->kind == NODE_MEM_ALLOC) { /* the same allocation, the copy's too */
		pthread_mutex_lock(&galloc_lock);
		((struct fake_galloc *)n->data)->refs++;
		pthread_mutex_unlock(&galloc_lock);
	}
	if (n->child && !(n->child = graph_copy(n->child, sorted)))
		return -1;
	for (j = 0; j < n->nbodies; j++) {
		n->bodies[j] = graph_copy(n->bodies[j], sorted);
		if (!n->bodies[j])
			return -1;
		n->bodies[j]->owned = 1;
	}
	return 0;
}

/* A deep copy; sorted: the nodes in an order that keeps every edge (Kahn's,
 * the lowest index first, so that a captured graph keeps its order), each
 * knowing its index in g. NULL on a cycle or without memory. */
static struct fake_graph *graph_copy(const struct fake_graph *g, int sorted)
{
	struct fake_graph *c = calloc(1, sizeof(*c));
	size_t *indeg = calloc(g->n + 1, sizeof(*indeg)), i, k, done = 0;
	char *placed = calloc(g->n + 1, 1);

	if (!c || !indeg || !placed || (g->n && !(c->nodes = calloc(g->n, sizeof(*c->nodes)))))
		goto fail;
	c->cap = g->n;
	if (!sorted && g->nedges) {
		c->edges = malloc(g->nedges * sizeof(*c->edges));
		if (!c->edges)
			goto fail;
		memcpy(c->edges, g->edges, g->nedges * sizeof(*c->edges));
		c->nedges = g->nedges;
	}
	for (k = 0; k < g->nedges; k++)
		indeg[g->edges[k][1]]++;
	while (done < g->n) {
		for (i = 0; i < g->n && (placed[i] || (sorted && indeg[i])); i++)
			;
		if (i == g->n)
			goto fail; /* a cycle */
		if (!sorted)
			i = done;
		placed[i] = 1;
		c->nodes[c->n] = g->nodes[i]; /* its graphs are g's until copied */
		c->nodes[c->n].orig = i;
		if (node_copy(&c->nodes[c->n], sorted)) {
			c->nodes[c->n].child = NULL; /* what was copied leaks: a fake out of memory */
			c->nodes[c->n].nbodies = 0;
			goto fail;
		}
		c->n++;
		for (k = 0; sorted && k < g->nedges; k++)
			if (g->edges[k][0] == i)
				indeg[g->edges[k][1]]--;
		done++;
	}
	free(indeg);
	free(placed);
	return c;
fail:
	free(indeg);
	free(placed);
	graph_free(c);
	return NULL;
}

static struct fake_graph *new_graph(void)
{
	return calloc(1, sizeof(struct fake_graph));
}

CUresult CUDAAPI cuGraphCreate(CUgraph *graph, unsigned int flags)
{
	struct fake_graph *g;

	POISONED();
	if (!graph || flags)
		return CUDA_ERROR_INVALID_VALUE;
	g = new_graph();
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*graph = (CUgraph)g;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphClone(CUgraph *clone, CUgraph graph)
{
	const struct fake_graph *g = (const struct fake_graph *)graph;
	size_t i;

	if (!clone || !g)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < g->n; i++)
		if (g->nodes[i].kind == NODE_COND)
			return CUDA_ERROR_NOT_SUPPORTED; /* as the driver (H200, driver 580) */
	*clone = (CUgraph)graph_copy((const struct fake_graph *)graph, 0);
	return *clone ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuGraphConditionalHandleCreate(CUgraphConditionalHandle *h, CUgraph graph, CUcontext ctx,
						unsigned int default_value, unsigned int flags)
{
	static struct fake_cond *all; /* kept for the process's life: clones and executable graphs name them */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct fake_graph *g = (struct fake_graph *)graph;
	struct fake_cond *c, **t;

	(void)ctx;
	if (!h || !graph)
		return CUDA_ERROR_INVALID_VALUE;
	c = calloc(1, sizeof(*c));
	t = realloc(g->conds, (g->nconds + 1) * sizeof(*t));
	if (t)
		g->conds = t;
	if (!c || !t) {
		free(c);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	g->conds[g->nconds++] = c;
	pthread_mutex_lock(&lock);
	c->next = all;
	all = c;
	pthread_mutex_unlock(&lock);
	c->value = c->default_value = default_value;
	c->flags = flags;
	*h = g->nconds;
	return CUDA_SUCCESS;
}

/* What a node does, from the driver's parameters (not a conditional's). */
static CUresult node_from(const CUgraphNodeParams *p, struct fake_node *n)
{
	const CUDA_KERNEL_NODE_PARAMS_v3 *k = &p->kernel;
	unsigned int *ptr = NULL, words = 0;

	memset(n, 0, sizeof(*n));
	switch (p->type) {
	case CU_GRAPH_NODE_TYPE_EMPTY:
		n->kind = NODE_EMPTY;
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_KERNEL:
		if (!fake_fn(k->func))
			return CUDA_ERROR_INVALID_HANDLE;
		if (k->kernelParams) {
			memcpy(&ptr, k->kernelParams[0], sizeof(ptr));
			memcpy(&words, k->kernelParams[1], sizeof(words));
		} else if (k->extra && k->extra[0] == CU_LAUNCH_PARAM_BUFFER_POINTER && *(size_t *)k->extra[3] >= 12) {
			memcpy(&ptr, k->extra[1], sizeof(ptr));
			memcpy(&words, (char *)k->extra[1] + 8, sizeof(words));
		} else {
			return CUDA_ERROR_INVALID_VALUE;
		}
		*n = (struct fake_node){.kind = NODE_KERNEL, .kernel = fake_fn(k->func)->name,
					.module = fake_fn(k->func)->module, .on = {.nsms = FAKE_SMS, .max_cluster = FAKE_CLUSTER},
					.threads = (uint64_t)k->gridDimX * k->gridDimY * k->gridDimZ * k->blockDimX *
						   k->blockDimY * k->blockDimZ,
					.blocks = (uint64_t)k->gridDimX * k->gridDimY * k->gridDimZ, .dst = ptr,
					.n = words};
		kernel_shape(n, k->func,
			     (const unsigned[6]){k->gridDimX, k->gridDimY, k->gridDimZ, k->blockDimX, k->blockDimY,
						 k->blockDimZ},
			     k->sharedMemBytes);
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {
		struct fake_galloc *a;

		if (p->alloc.poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE || !p->alloc.bytesize)
			return CUDA_ERROR_INVALID_VALUE;
		if (!(a = galloc_new(p->alloc.bytesize)))
			return CUDA_ERROR_OUT_OF_MEMORY;
		*n = (struct fake_node){.kind = NODE_MEM_ALLOC, .dst = a->p, .n = p->alloc.bytesize, .data = a};
		return CUDA_SUCCESS;
	}
	case CU_GRAPH_NODE_TYPE_MEM_FREE: {
		struct fake_galloc *a = galloc_at((void *)(uintptr_t)p->free.dptr);

		if (!a)
			return CUDA_ERROR_INVALID_VALUE;
		*n = (struct fake_node){.kind = NODE_MEM_FREE, .dst = a->p, .data = a};
		return CUDA_SUCCESS;
	}
	case CU_GRAPH_NODE_TYPE_HOST:
		if (!p->host.fn)
			return CUDA_ERROR_INVALID_VALUE;
		*n = (struct fake_node){.kind = NODE_HOSTFN, .fn = p->host.fn, .data = p->host.userData};
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_MEMSET:
		if (p->memset.elementSize != 1 && p->memset.elementSize != 2 && p->memset.elementSize != 4)
			return CUDA_ERROR_INVALID_VALUE;
		*n = (struct fake_node){.kind = NODE_MEMSET, .dst = (void *)(uintptr_t)p->memset.dst,
					.n = p->memset.width, .value = p->memset.value, .elem = p->memset.elementSize,
					.pitch = p->memset.pitch, .height = p->memset.height};
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_MEMCPY: /* host memory is device memory here */
		n->kind = NODE_COPY3D;
		n->copy = p->memcpy.copyParams;
		if (n->copy.srcMemoryType == CU_MEMORYTYPE_HOST)
			n->copy.srcDevice = (CUdeviceptr)(uintptr_t)n->copy.srcHost;
		if (n->copy.dstMemoryType == CU_MEMORYTYPE_HOST)
			n->copy.dstDevice = (CUdeviceptr)(uintptr_t)n->copy.dstHost;
		if (!n->copy.srcPitch)
			n->copy.srcPitch = n->copy.WidthInBytes;
		if (!n->copy.dstPitch)
			n->copy.dstPitch = n->copy.WidthInBytes;
		return n->copy.srcMemoryType == CU_MEMORYTYPE_ARRAY || n->copy.dstMemoryType == CU_MEMORYTYPE_ARRAY
			       ? CUDA_ERROR_NOT_SUPPORTED
			       : CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		if (!p->eventRecord.event)
			return CUDA_ERROR_INVALID_VALUE;
		n->kind = p->type == CU_GRAPH_NODE_TYPE_EVENT_RECORD ? NODE_EVENT_RECORD : NODE_EVENT_WAIT;
		n->dst = p->eventRecord.event;
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_GRAPH:
		if (!p->graph.graph)
			return CUDA_ERROR_INVALID_VALUE;
		n->kind = NODE_CHILD;
		n->child = graph_copy((const struct fake_graph *)p->graph.graph, 0);
		return n->child ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	default:
		return CUDA_ERROR_NOT_SUPPORTED;
	}
}

/* A conditional node of graph g: its handle is g's, or that of the graph
 * g is a body of, and so on up. */
static CUresult cond_from(struct fake_graph *g, CUgraphNodeParams *p, struct fake_node *n)
{
	const struct fake_graph *o;
	unsigned i;

	memset(n, 0, sizeof(*n));
	if (!p->conditional.handle || !p->conditional.size || p->conditional.size > FAKE_COND_BODIES)
		return CUDA_ERROR_INVALID_VALUE;
	for (o = g; o && p->conditional.handle > o->nconds; o = o->parent)
		;
	if (!o)
		return CUDA_ERROR_INVALID_VALUE;
	n->kind = NODE_COND;
	n->cond = o->conds[p->conditional.handle - 1];
	n->cond_type = p->conditional.type;
	for (i = 0; i < p->conditional.size; i++) {
		n->bodies[i] = new_graph();
		if (!n->bodies[i])
			return CUDA_ERROR_OUT_OF_MEMORY;
		n->bodies[i]->owned = 1;
		n->bodies[i]->parent = g;
		n->nbodies++;
	}
	p->conditional.phGraph_out = (CUgraph *)n->bodies; /* the driver's array, as long as the node */
	return CUDA_SUCCESS;
}

static const struct fake_node_ref *ref_of(CUgraphNode node)
{
	return (const struct fake_node_ref *)node;
}

CUresult CUDAAPI cuGraphAddNode(CUgraphNode *out, CUgraph graph, const CUgraphNode *deps,
				const CUgraphEdgeData *edges, size_t ndeps, CUgraphNodeParams *p)
{
	struct fake_graph *g = (struct fake_graph *)graph;
	struct fake_node_ref *ref, **refs;
	size_t (*e)[2];
	struct fake_node n;
	CUresult r;
	size_t i;

	POISONED(); /* as the H200's: a node added after a fault, 700 */
	if (!out || !g || !p || edges || (ndeps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < ndeps; i++)
		if (!deps[i] || ref_of(deps[i])->g != g)
			return CUDA_ERROR_INVALID_VALUE;
	r = p->type == CU_GRAPH_NODE_TYPE_CONDITIONAL ? cond_from(g, p, &n) : node_from(p, &n);
	ref = malloc(sizeof(*ref));
	refs = realloc(g->refs, (g->nrefs + 1) * sizeof(*refs));
	if (refs)
		g->refs = refs;
	e = realloc(g->edges, (g->nedges + ndeps + 1) * sizeof(*e));
	if (e)
		g->edges = e;
	if (r == CUDA_SUCCESS && (!ref || !refs || !e || append(g, &n)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r != CUDA_SUCCESS) {
		free(ref);
		for (i = 0; i < n.nbodies; i++)
			graph_free(n.bodies[i]);
		graph_free(n.child);
		if (n.kind == NODE_MEM_ALLOC && n.data)
			galloc_put(n.data);
		return r;
	}
	for (i = 0; i < ndeps; i++) {
		g->edges[g->nedges][0] = ref_of(deps[i])->i;
		g->edges[g->nedges++][1] = g->n - 1;
	}
	*ref = (struct fake_node_ref){g, g->n - 1};
	g->refs[g->nrefs++] = ref;
	if (p->type == CU_GRAPH_NODE_TYPE_CONDITIONAL) /* the bodies stay where the node is */
		p->conditional.phGraph_out = (CUgraph *)g->nodes[g->n - 1].bodies;
	if (p->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) /* the graph's address for it */
		p->alloc.dptr = (CUdeviceptr)(uintptr_t)g->nodes[g->n - 1].dst;
	*out = (CUgraphNode)ref;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphAddDependencies(CUgraph graph, const CUgraphNode *from, const CUgraphNode *to,
					const CUgraphEdgeData *edges, size_t n)
{
	struct fake_graph *g = (struct fake_graph *)graph;
	size_t (*e)[2], i;

	if (!g || edges || (n && (!from || !to)))
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < n; i++)
		if (!from[i] || !to[i] || ref_of(from[i])->g != g || ref_of(to[i])->g != g)
			return CUDA_ERROR_INVALID_VALUE;
	e = realloc(g->edges, (g->nedges + n + 1) * sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	g->edges = e;
	for (i = 0; i < n; i++) {
		g->edges[g->nedges][0] = ref_of(from[i])->i;
		g->edges[g->nedges++][1] = ref_of(to[i])->i;
	}
	return CUDA_SUCCESS;
}

/* New parameters of the same kind, in place. */
static CUresult node_update(struct fake_node *old, CUgraphNodeParams *p)
{
	struct fake_node n;
	CUresult r;

	if (p->type == CU_GRAPH_NODE_TYPE_CONDITIONAL)
		return CUDA_ERROR_INVALID_VALUE;
	r = node_from(p, &n);
	if (r != CUDA_SUCCESS)
		return r;
	if (n.kind != old->kind) {
		graph_free(n.child);
		return CUDA_ERROR_INVALID_VALUE;
	}
	graph_free(old->child);
	n.orig = old->orig;
	n.off = old->off;
	*old = n;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphNodeSetParams(CUgraphNode node, CUgraphNodeParams *p)
{
	const struct fake_node_ref *ref = ref_of(node);

	if (!ref || !p)
		return CUDA_ERROR_INVALID_VALUE;
	return node_update(&ref->g->nodes[ref->i], p);
}

/* The node of executable graph exec that node names: a node of the graph
 * it was made from, as the driver checks; NULL if none. */
static struct fake_node *exec_node(CUgraphExec exec, CUgraphNode node)
{
	struct fake_graph *e = (struct fake_graph *)exec;
	const struct fake_node_ref *ref = ref_of(node);
	size_t i;

	if (!e || !ref || ref->g != e->from)
		return NULL;
	for (i = 0; i < e->n; i++)
		if (e->nodes[i].orig == ref->i)
			return &e->nodes[i];
	return NULL;
}

CUresult CUDAAPI cuGraphNodeSetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int on)
{
	struct fake_node *n = exec_node(exec, node);

	if (!n)
		return CUDA_ERROR_INVALID_VALUE;
	n->off = !on;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphNodeGetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int *on)
{
	const struct fake_node *n = exec_node(exec, node);

	if (!n || !on)
		return CUDA_ERROR_INVALID_VALUE;
	*on = !n->off;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams *p)
{
	struct fake_node *n = exec_node(exec, node);

	return n && p ? node_update(n, p) : CUDA_ERROR_INVALID_VALUE;
}

/* The handle of node i of g: the one cuGraphAddNode gave, or one made now
 * (a captured node's). */
static CUgraphNode ref_at(struct fake_graph *g, size_t i)
{
	struct fake_node_ref *ref, **refs;
	size_t k;

	for (k = 0; k < g->nrefs; k++)
		if (g->refs[k]->i == i)
			return (CUgraphNode)g->refs[k];
	ref = malloc(sizeof(*ref));
	refs = realloc(g->refs, (g->nrefs + 1) * sizeof(*refs));
	if (refs)
		g->refs = refs;
	if (!ref || !refs) {
		free(ref);
		return NULL;
	}
	*ref = (struct fake_node_ref){g, i};
	g->refs[g->nrefs++] = ref;
	return (CUgraphNode)ref;
}

CUresult CUDAAPI cuGraphGetNodes(CUgraph graph, CUgraphNode *nodes, size_t *count)
{
	struct fake_graph *g = (struct fake_graph *)graph;
	size_t i;

	if (!g || !count)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; nodes && i < *count && i < g->n; i++)
		if (!(nodes[i] = ref_at(g, i)))
			return CUDA_ERROR_OUT_OF_MEMORY;
	if (!nodes || *count > g->n)
		*count = g->n;
	return CUDA_SUCCESS;
}

/* A captured graph's edges are its order here: it has none to give. */
CUresult CUDAAPI cuGraphGetEdges(CUgraph graph, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *data,
				 size_t *count)
{
	struct fake_graph *g = (struct fake_graph *)graph;
	size_t i;

	if (!g || !count || (from && !to) || (to && !from))
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; from && i < *count && i < g->nedges; i++) {
		from[i] = ref_at(g, g->edges[i][0]);
		to[i] = ref_at(g, g->edges[i][1]);
		if (!from[i] || !to[i])
			return CUDA_ERROR_OUT_OF_MEMORY;
		if (data)
			memset(&data[i], 0, sizeof(data[i]));
	}
	for (; from && i < *count; i++) /* past the last: NULL, as the driver's */
		from[i] = to[i] = NULL;
	if (!from || *count > g->nedges)
		*count = g->nedges;
	return CUDA_SUCCESS;
}

/* A node's edges: those to it (its dependencies) or from it (its
 * dependent nodes), the other ends in *count places, the rest NULL. */
static CUresult node_edges(CUgraphNode node, int dependents, CUgraphNode *out, CUgraphEdgeData *data, size_t *count)
{
	const struct fake_node_ref *ref = ref_of(node);
	size_t k, n = 0;

	if (!ref || !count)
		return CUDA_ERROR_INVALID_VALUE;
	for (k = 0; k < ref->g->nedges; k++) {
		if (ref->g->edges[k][dependents ? 0 : 1] != ref->i)
			continue;
		if (out && n < *count) {
			if (!(out[n] = ref_at(ref->g, ref->g->edges[k][dependents ? 1 : 0])))
				return CUDA_ERROR_OUT_OF_MEMORY;
			if (data)
				memset(&data[n], 0, sizeof(data[n]));
		}
		n++;
	}
	for (k = n; out && k < *count; k++)
		out[k] = NULL;
	if (!out || *count > n)
		*count = n;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphNodeGetDependencies(CUgraphNode node, CUgraphNode *deps, CUgraphEdgeData *data, size_t *count)
{
	return node_edges(node, 0, deps, data, count);
}

CUresult CUDAAPI cuGraphNodeGetDependentNodes(CUgraphNode node, CUgraphNode *out, CUgraphEdgeData *data,
					      size_t *count)
{
	return node_edges(node, 1, out, data, count);
}

/* The nodes no edge leads to, in the graph's order. */
CUresult CUDAAPI cuGraphGetRootNodes(CUgraph graph, CUgraphNode *roots, size_t *count)
{
	struct fake_graph *g = (struct fake_graph *)graph;
	size_t i, k, n = 0;

	if (!g || !count)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < g->n; i++) {
		for (k = 0; k < g->nedges && g->edges[k][1] != i; k++)
			;
		if (k < g->nedges)
			continue;
		if (roots && n < *count && !(roots[n] = ref_at(g, i)))
			return CUDA_ERROR_OUT_OF_MEMORY;
		n++;
	}
	for (i = n; roots && i < *count; i++)
		roots[i] = NULL;
	if (!roots || *count > n)
		*count = n;
	return CUDA_SUCCESS;
}

static const struct fake_node *node_at(CUgraphNode node)
{
	const struct fake_node_ref *ref = ref_of(node);

	return ref && ref->i < ref->g->n ? &ref->g->nodes[ref->i] : NULL;
}

CUresult CUDAAPI cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType *type)
{
	static const CUgraphNodeType of[] = {
		[NODE_KERNEL] = CU_GRAPH_NODE_TYPE_KERNEL,	   [NODE_MEMSET] = CU_GRAPH_NODE_TYPE_MEMSET,
		[NODE_COPY] = CU_GRAPH_NODE_TYPE_MEMCPY,	   [NODE_COPY3D] = CU_GRAPH_NODE_TYPE_MEMCPY,
		[NODE_HOSTFN] = CU_GRAPH_NODE_TYPE_HOST,	   [NODE_EMPTY] = CU_GRAPH_NODE_TYPE_EMPTY,
		[NODE_EVENT_RECORD] = CU_GRAPH_NODE_TYPE_EVENT_RECORD, [NODE_EVENT_WAIT] = CU_GRAPH_NODE_TYPE_WAIT_EVENT,
		[NODE_CHILD] = CU_GRAPH_NODE_TYPE_GRAPH,	   [NODE_COND] = CU_GRAPH_NODE_TYPE_CONDITIONAL,
		[NODE_WRITE32] = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, [NODE_WAIT32] = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP,
		[NODE_MEM_ALLOC] = CU_GRAPH_NODE_TYPE_MEM_ALLOC,  [NODE_MEM_FREE] = CU_GRAPH_NODE_TYPE_MEM_FREE,
	};
	const struct fake_node *n = node_at(node);

	if (!n || !type || n->kind == NODE_RECORD)
		return CUDA_ERROR_INVALID_VALUE;
	*type = of[n->kind];
	return CUDA_SUCCESS;
}

/* The arguments as extra options, in the node, as the driver's are. */
CUresult CUDAAPI cuGraphKernelNodeGetParams(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS *k)
{
	const struct fake_node_ref *ref = ref_of(node);
	struct fake_node *n = ref && ref->i < ref->g->n ? &ref->g->nodes[ref->i] : NULL;
	static __thread void *extra[5];

	if (!n || !k || n->kind != NODE_KERNEL)
		return CUDA_ERROR_INVALID_VALUE;
	extra[0] = CU_LAUNCH_PARAM_BUFFER_POINTER;
	extra[1] = n->args;
	extra[2] = CU_LAUNCH_PARAM_BUFFER_SIZE;
	extra[3] = &n->args_size;
	extra[4] = CU_LAUNCH_PARAM_END;
	*k = (CUDA_KERNEL_NODE_PARAMS){.func = n->func, .gridDimX = n->grid[0], .gridDimY = n->grid[1],
				       .gridDimZ = n->grid[2], .blockDimX = n->block[0], .blockDimY = n->block[1],
				       .blockDimZ = n->block[2], .sharedMemBytes = n->smem, .extra = extra};
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphMemAllocNodeGetParams(CUgraphNode node, CUDA_MEM_ALLOC_NODE_PARAMS *p)
{
	const struct fake_node *n = node_at(node);

	if (!n || !p || n->kind != NODE_MEM_ALLOC)
		return CUDA_ERROR_INVALID_VALUE;
	memset(p, 0, sizeof(*p));
	p->poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p->poolProps.location = (CUmemLocation){CU_MEM_LOCATION_TYPE_DEVICE, 0};
	p->bytesize = n->n;
	p->dptr = (CUdeviceptr)(uintptr_t)n->dst;
	return CUDA_SUCCESS;
}

/* A stream memory operation node: one operation, kept with the thread. */
CUresult CUDAAPI cuGraphBatchMemOpNodeGetParams(CUgraphNode node, CUDA_BATCH_MEM_OP_NODE_PARAMS *p)
{
	static __thread CUstreamBatchMemOpParams op;
	const struct fake_node *n = node_at(node);

	if (!n || !p || (n->kind != NODE_WRITE32 && n->kind != NODE_WAIT32))
		return CUDA_ERROR_INVALID_VALUE;
	memset(&op, 0, sizeof(op));
	if (n->kind == NODE_WRITE32) {
		op.writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
		op.writeValue.address = (CUdeviceptr)(uintptr_t)n->dst;
		op.writeValue.value = n->value;
	} else {
		op.waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
		op.waitValue.address = (CUdeviceptr)(uintptr_t)n->dst;
		op.waitValue.value = n->value;
		op.waitValue.flags = CU_STREAM_WAIT_VALUE_GEQ;
	}
	*p = (CUDA_BATCH_MEM_OP_NODE_PARAMS){.count = 1, .paramArray = &op};
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphMemFreeNodeGetParams(CUgraphNode node, CUdeviceptr *dptr)
{
	const struct fake_node *n = node_at(node);

	if (!n || !dptr || n->kind != NODE_MEM_FREE)
		return CUDA_ERROR_INVALID_VALUE;
	*dptr = (CUdeviceptr)(uintptr_t)n->dst;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphMemsetNodeGetParams(CUgraphNode node, CUDA_MEMSET_NODE_PARAMS *m)
{
	const struct fake_node *n = node_at(node);

	if (!n || !m || n->kind != NODE_MEMSET)
		return CUDA_ERROR_INVALID_VALUE;
	*m = (CUDA_MEMSET_NODE_PARAMS){.dst = (CUdeviceptr)(uintptr_t)n->dst, .pitch = n->pitch, .value = n->value,
				       .elementSize = n->elem, .width = n->n, .height = n->height ? n->height : 1};
	return CUDA_SUCCESS;
}

/* A captured 1D copy as the driver has it: unified addresses, one row. */
CUresult CUDAAPI cuGraphMemcpyNodeGetParams(CUgraphNode node, CUDA_MEMCPY3D *c)
{
	const struct fake_node *n = node_at(node);

	if (!n || !c || (n->kind != NODE_COPY && n->kind != NODE_COPY3D))
		return CUDA_ERROR_INVALID_VALUE;
	if (n->kind == NODE_COPY3D) {
		*c = n->copy;
		return CUDA_SUCCESS;
	}
	*c = (CUDA_MEMCPY3D){.srcMemoryType = CU_MEMORYTYPE_UNIFIED, .srcDevice = (CUdeviceptr)(uintptr_t)n->src,
			     .dstMemoryType = CU_MEMORYTYPE_UNIFIED, .dstDevice = (CUdeviceptr)(uintptr_t)n->dst,
			     .WidthInBytes = n->n, .Height = 1, .Depth = 1};
	return CUDA_SUCCESS;
}

static CUresult node_event(CUgraphNode node, enum fake_node_kind kind, CUevent *e)
{
	const struct fake_node *n = node_at(node);

	if (!n || !e || n->kind != kind)
		return CUDA_ERROR_INVALID_VALUE;
	*e = (CUevent)n->dst;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphEventRecordNodeGetEvent(CUgraphNode node, CUevent *e)
{
	return node_event(node, NODE_EVENT_RECORD, e);
}

CUresult CUDAAPI cuGraphEventWaitNodeGetEvent(CUgraphNode node, CUevent *e)
{
	return node_event(node, NODE_EVENT_WAIT, e);
}

/* A kernel node's attributes: its priority kept and given back; the rest
 * taken and read as their defaults (zero). */
CUresult CUDAAPI cuGraphKernelNodeGetAttribute(CUgraphNode node, CUkernelNodeAttrID attr, CUkernelNodeAttrValue *v)
{
	const struct fake_node *n = node_at(node);

	if (!n || !v || n->kind != NODE_KERNEL || attr > CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING)
		return CUDA_ERROR_INVALID_VALUE;
	memset(v, 0, sizeof(*v));
	if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY)
		v->priority = n->prio_set ? n->prio : 0;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphKernelNodeSetAttribute(CUgraphNode node, CUkernelNodeAttrID attr,
					       const CUkernelNodeAttrValue *v)
{
	const struct fake_node_ref *ref = ref_of(node);
	struct fake_node *n = ref && ref->i < ref->g->n ? &ref->g->nodes[ref->i] : NULL;

	if (!n || !v || n->kind != NODE_KERNEL || attr > CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY) {
		n->prio = v->priority > 0 ? 0 : v->priority < -5 ? -5 : v->priority;
		n->prio_set = 1;
	}
	return CUDA_SUCCESS;
}

/* The node's own copy, as long as the node. */
CUresult CUDAAPI cuGraphChildGraphNodeGetGraph(CUgraphNode node, CUgraph *g)
{
	const struct fake_node *n = node_at(node);

	if (!n || !g || n->kind != NODE_CHILD)
		return CUDA_ERROR_INVALID_VALUE;
	*g = (CUgraph)n->child;
	return CUDA_SUCCESS;
}

/* The synchronous forms, for programs that run natively on fakecuda. */
CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t n)
{
	POISONED();
	return cuMemcpyHtoDAsync(dst, src, n, NULL);
}

CUresult CUDAAPI cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t n)
{
	POISONED();
	return cuMemcpyDtoHAsync(dst, src, n, NULL);
}

CUresult CUDAAPI cuMemsetD32(CUdeviceptr dst, unsigned int v, size_t n)
{
	POISONED();
	return cuMemsetD32Async(dst, v, n, NULL);
}

CUresult CUDAAPI cuCtxSynchronize(void)
{
	POISONED();
	return current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult CUDAAPI cuMemHostAlloc(void **p, size_t bytes, unsigned int flags)
{
	(void)flags;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	*p = malloc(bytes);
	return *p ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult CUDAAPI cuMemFreeHost(void *p)
{
	free(p);
	return CUDA_SUCCESS;
}

static __thread CUstreamCaptureMode thread_capture_mode; /* kept, not enforced */

CUresult CUDAAPI cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
	CUstreamCaptureMode old = thread_capture_mode;

	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	thread_capture_mode = *mode;
	*mode = old;
	return CUDA_SUCCESS;
}

/* Context limits, by CUlimit, as a fresh H100 context has them. */
static size_t limits[CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED + 1] = {
	[CU_LIMIT_STACK_SIZE] = 1024, [CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20, [CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20,
	[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048, [CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 32,
};

CUresult CUDAAPI cuCtxGetLimit(size_t *value, CUlimit limit)
{
	if (!value || (unsigned)limit >= sizeof(limits) / sizeof(limits[0]))
		return CUDA_ERROR_INVALID_VALUE;
	*value = limits[limit];
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetLimit(CUlimit limit, size_t value)
{
	if ((unsigned)limit >= sizeof(limits) / sizeof(limits[0]))
		return CUDA_ERROR_INVALID_VALUE;
	limits[limit] = value;
	return CUDA_SUCCESS;
}

/* Banks 4 bytes wide, fixed, as since Maxwell: the setting does nothing. */
CUresult CUDAAPI cuCtxGetSharedMemConfig(CUsharedconfig *config)
{
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	*config = CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetSharedMemConfig(CUsharedconfig config)
{
	return config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetSharedMemConfig(CUfunction f, CUsharedconfig config)
{
	if (!fake_fn(f))
		return CUDA_ERROR_INVALID_HANDLE;
	return config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* FAKECUDA_API_VERSION_GATE: waits while the file it names exists (30 s
 * at most): the server asks it only as it opens a client's data channel. */
CUresult CUDAAPI cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	wait_gate("FAKECUDA_API_VERSION_GATE");
	(void)ctx;
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = 3020;
	return CUDA_SUCCESS;
}

/* As on an H100: priorities 0 (lowest) to -5. */
CUresult CUDAAPI cuCtxGetStreamPriorityRange(int *least, int *greatest)
{
	if (least)
		*least = 0;
	if (greatest)
		*greatest = -5;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **name)
{
	static const struct {
		CUresult r;
		const char *name;
	} names[] = {
		{CUDA_SUCCESS, "CUDA_SUCCESS"},
		{CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE"},
		{CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED"},
		{CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE"},
		{CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE"},
		{CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT"},
		{CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"},
		{CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED"},
		{CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND"},
		{CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE"},
		{CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE"},
		{CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS"},
		{CUDA_ERROR_ASSERT, "CUDA_ERROR_ASSERT"},
		{CUDA_ERROR_HARDWARE_STACK_ERROR, "CUDA_ERROR_HARDWARE_STACK_ERROR"},
		{CUDA_ERROR_ILLEGAL_INSTRUCTION, "CUDA_ERROR_ILLEGAL_INSTRUCTION"},
		{CUDA_ERROR_MISALIGNED_ADDRESS, "CUDA_ERROR_MISALIGNED_ADDRESS"},
		{CUDA_ERROR_INVALID_ADDRESS_SPACE, "CUDA_ERROR_INVALID_ADDRESS_SPACE"},
		{CUDA_ERROR_INVALID_PC, "CUDA_ERROR_INVALID_PC"},
		{CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED"},
		{CUDA_ERROR_INVALID_CLUSTER_SIZE, "CUDA_ERROR_INVALID_CLUSTER_SIZE"},
	};
	size_t i;

	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].r == error) {
			*name = names[i].name;
			return CUDA_SUCCESS;
		}
	}
	*name = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

/* An export table shaped like the driver's (its size in bytes, then
 * functions), under the UUID of the first table cudart asks for. Its slots
 * take arguments in every integer register and in vector registers, so a
 * test can see that the shim's slot tracer passes them all through. */
static long long slot_sum(long long a, long long b, long long c, long long d, long long e, long long f, double x)
{
	return a + b + c + d + e + f + (long long)x;
}

static double slot_scale(double x, double y, float z)
{
	return x * y + (double)z;
}

static const uint64_t export_table[] = {3 * sizeof(uint64_t), (uint64_t)(uintptr_t)slot_sum,
					(uint64_t)(uintptr_t)slot_scale};

CUresult CUDAAPI cuGetExportTable(const void **table, const CUuuid *id)
{
	static const unsigned char f8[16] = {0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e,
					     0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9};

	if (!table || !id)
		return CUDA_ERROR_INVALID_VALUE;
	if (memcmp(id->bytes, f8, 16))
		return CUDA_ERROR_NOT_FOUND;
	*table = export_table;
	return CUDA_SUCCESS;
}

/* Resolves names to this library's own functions, as the driver resolves
 * its own (a dlsym would find the shim's, which come first in global scope). */
CUresult CUDAAPI cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
				     CUdriverProcAddressQueryResult *status)
{
#define FN(name, f) {name, (void *)f}
	static const struct {
		const char *name;
		void *fn;
	} table[] = {
		FN("cuInit", cuInit), FN("cuDriverGetVersion", cuDriverGetVersion),
		FN("cuDeviceGetCount", cuDeviceGetCount), FN("cuDeviceGet", cuDeviceGet),
		FN("cuDeviceGetName", cuDeviceGetName), FN("cuDeviceCanAccessPeer", cuDeviceCanAccessPeer),
		FN("cuCtxEnablePeerAccess", cuCtxEnablePeerAccess), FN("cuCtxDisablePeerAccess", cuCtxDisablePeerAccess),
		FN("cuMemcpyPeer", cuMemcpyPeer), FN("cuMemcpyPeerAsync", cuMemcpyPeerAsync),
		FN("cuDeviceGetPCIBusId", cuDeviceGetPCIBusId), FN("cuDeviceGetUuid", cuDeviceGetUuid_v2),
		FN("cuDeviceTotalMem", cuDeviceTotalMem_v2), FN("cuDeviceGetAttribute", cuDeviceGetAttribute),
		FN("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain),
		FN("cuDevicePrimaryCtxRelease", cuDevicePrimaryCtxRelease_v2), FN("cuGetErrorName", cuGetErrorName),
		FN("cuGetProcAddress", cuGetProcAddress_v2), FN("cuGetExportTable", cuGetExportTable),
	};
#undef FN
	size_t i;

	(void)version, (void)flags;
	if (!symbol || !pfn)
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, symbol))
			*pfn = table[i].fn;
	if (status)
		*status = *pfn ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	return *pfn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/* An interop entry point (cudaVDPAU.h), which the shim forwards through a
 * trampoline; the VDPAU types are plain integers and pointers. */
CUresult CUDAAPI cuVDPAUGetDevice(CUdevice *dev, unsigned int vdp_device, void *get_proc_address);
CUresult CUDAAPI cuVDPAUGetDevice(CUdevice *dev, unsigned int vdp_device, void *get_proc_address)
{
	(void)vdp_device, (void)get_proc_address;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	*dev = 7;
	return CUDA_SUCCESS;
}

/* Every function the server resolves (SRV_DRIVER_CALLS, driver.h) is one of
 * fakecuda's: with one missing, this library does not link (no undefined
 * symbols allowed), instead of the server failing at its start in CI. */
#include "driver.h"
#define FAKECUDA_NEEDED(field, name) (void *)&name,
__attribute__((used)) static void *const server_calls[] = {SRV_DRIVER_CALLS(FAKECUDA_NEEDED, FAKECUDA_NEEDED)};

/* Virtual memory management: a reservation is an inaccessible range of
 * this process's (at the address asked for when it is free, as the driver
 * takes it as a hint), physical memory a memfd, a mapping that file mapped
 * shared, so mappings of one handle alias and a handle exported as a file
 * descriptor can be imported and mapped by another process (the server's
 * successor after a fault, handover.c). Counted as device memory from
 * cuMemCreate or the import to cuMemRelease. */
#define FAKE_VMM_GRANULE ((size_t)2 << 20)

struct fake_phys {
	size_t size;
	int fd;
};

CUresult CUDAAPI cuMemGetAllocationGranularity(size_t *g, const CUmemAllocationProp *prop,
					       CUmemAllocationGranularity_flags option)
{
	(void)option;
	if (!g || !prop || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	*g = FAKE_VMM_GRANULE;
	return CUDA_SUCCESS;
}

#define BIG_VA	    ((size_t)1 << 30)
#define BIG_VA_BASE ((uintptr_t)0x200000000000) /* 32 TiB */
#define BIG_VA_END  ((uintptr_t)0x300000000000)

/* FAKECUDA_VA_TAKEN: whether this wanted address is refused, counting it. */
static int va_taken(const char *path)
{
	FILE *f = fopen(path, "r+");
	int n = 1;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &n) != 1)
		n = 1;
	if (n > 1) {
		rewind(f);
		fprintf(f, "%d\n", n - 1);
	}
	fclose(f);
	return n > 1 || unlink(path) == 0;
}

CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr,
				     unsigned long long flags)
{
	int mf = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = MAP_FAILED;
	const char *taken = getenv("FAKECUDA_VA_TAKEN");

	(void)align, (void)flags;
	if (!ptr || !size || size % FAKE_VMM_GRANULE)
		return CUDA_ERROR_INVALID_VALUE;
	if (addr && !(taken && va_taken(taken)))
		p = mmap((void *)(uintptr_t)addr, size, PROT_NONE, mf | MAP_FIXED_NOREPLACE, -1, 0);
	/* Large ones first-fit from a fixed address, the same in every process,
	 * as the real driver places them (H200, driver 580: from 0x302000000,
	 * in a region of its own below the randomized mappings). */
	for (uintptr_t at = BIG_VA_BASE; p == MAP_FAILED && !addr && size >= BIG_VA && at < BIG_VA_END; at += BIG_VA)
		p = mmap((void *)at, size, PROT_NONE, mf | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		p = mmap(NULL, size, PROT_NONE, mf, -1, 0);
	if (p == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*ptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	return munmap((void *)(uintptr_t)ptr, size) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

static CUresult phys_new(CUmemGenericAllocationHandle *h, size_t size, int fd)
{
	struct fake_phys *ph;

	if (size > FAKE_TOTAL_MEM - atomic_load(&mem_used) || !(ph = malloc(sizeof(*ph))))
		return CUDA_ERROR_OUT_OF_MEMORY; /* device memory, as cuMemAlloc's */
	atomic_fetch_add(&mem_used, size);
	ph->size = size;
	ph->fd = fd;
	*h = (CUmemGenericAllocationHandle)(uintptr_t)ph;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop,
			     unsigned long long flags)
{
	int fd;
	CUresult r;

	if (!h || !prop || !size || size % FAKE_VMM_GRANULE || flags)
		return CUDA_ERROR_INVALID_VALUE;
	fd = memfd_create("fakecuda-vmm", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		if (fd >= 0)
			close(fd);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	r = phys_new(h, size, fd);
	if (r != CUDA_SUCCESS)
		close(fd);
	return r;
}

CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle h)
{
	struct fake_phys *ph = (struct fake_phys *)(uintptr_t)h;

	if (!ph)
		return CUDA_ERROR_INVALID_VALUE;
	atomic_fetch_sub(&mem_used, ph->size);
	close(ph->fd);
	free(ph);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemExportToShareableHandle(void *out, CUmemGenericAllocationHandle h,
					      CUmemAllocationHandleType type, unsigned long long flags)
{
	struct fake_phys *ph = (struct fake_phys *)(uintptr_t)h;
	int fd;

	if (!out || !ph || flags || type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_INVALID_VALUE;
	fd = fcntl(ph->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*(int *)out = fd;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemImportFromShareableHandle(CUmemGenericAllocationHandle *h, void *handle,
						CUmemAllocationHandleType type)
{
	struct stat st;
	int fd;
	CUresult r;

	if (!h || type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_INVALID_VALUE;
	fd = fcntl((int)(intptr_t)handle, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || !st.st_size || st.st_size % FAKE_VMM_GRANULE) {
		if (fd >= 0)
			close(fd);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	r = phys_new(h, (size_t)st.st_size, fd);
	if (r != CUDA_SUCCESS)
		close(fd);
	return r;
}

CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle h,
			  unsigned long long flags)
{
	struct fake_phys *ph = (struct fake_phys *)(uintptr_t)h;

	if (!ph || flags || offset + size > ph->size)
		return CUDA_ERROR_INVALID_VALUE;
	if (mmap((void *)(uintptr_t)ptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ph->fd,
		 (off_t)offset) == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	live_add_range((uintptr_t)ptr, size);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	live_remove_range((uintptr_t)ptr);
	return mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		    -1, 0) == MAP_FAILED
		       ? CUDA_ERROR_INVALID_VALUE
		       : CUDA_SUCCESS;
}

/* FAKECUDA_ACCESS_LOG=FILE: a line for each grant, "WHAT: devices D,D...",
 * for tests to see who may reach memory. */
static void access_log(const char *what, const CUmemAccessDesc *desc, size_t count)
{
	const char *log = getenv("FAKECUDA_ACCESS_LOG");
	FILE *f = log ? fopen(log, "a") : NULL;
	size_t i;

	if (!f)
		return;
	fprintf(f, "%s: devices", what);
	for (i = 0; i < count; i++)
		fprintf(f, "%s%d", i ? "," : " ", desc[i].location.id);
	fprintf(f, "\n");
	fclose(f);
}

CUresult CUDAAPI cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
	(void)ptr, (void)size;
	if (!desc || !count)
		return CUDA_ERROR_INVALID_VALUE;
	access_log("memory", desc, count);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *desc, size_t count)
{
	if (!pool || !desc || !count)
		return CUDA_ERROR_INVALID_VALUE;
	access_log("pool", desc, count);
	return CUDA_SUCCESS;
}

/* The typed forms, for programs that run natively on fakecuda. */
static CUDA_KERNEL_NODE_PARAMS_v3 kernel_v3(const CUDA_KERNEL_NODE_PARAMS *k)
{
	return (CUDA_KERNEL_NODE_PARAMS_v3){k->func,	     k->gridDimX,    k->gridDimY, k->gridDimZ, k->blockDimX,
					    k->blockDimY,    k->blockDimZ,   k->sharedMemBytes, k->kernelParams,
					    k->extra,	     k->kern,	     k->ctx};
}

CUresult CUDAAPI cuGraphAddKernelNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n,
				      const CUDA_KERNEL_NODE_PARAMS *k)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_KERNEL};

	if (!k)
		return CUDA_ERROR_INVALID_VALUE;
	p.kernel = kernel_v3(k);
	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphAddMemcpyNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n,
				      const CUDA_MEMCPY3D *c, CUcontext ctx)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_MEMCPY};

	if (!c)
		return CUDA_ERROR_INVALID_VALUE;
	p.memcpy.copyCtx = ctx;
	p.memcpy.copyParams = *c;
	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphAddMemsetNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n,
				      const CUDA_MEMSET_NODE_PARAMS *m, CUcontext ctx)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_MEMSET};

	if (!m)
		return CUDA_ERROR_INVALID_VALUE;
	p.memset = (CUDA_MEMSET_NODE_PARAMS_v2){m->dst, m->pitch, m->value, m->elementSize, m->width, m->height, ctx};
	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphAddHostNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n,
				    const CUDA_HOST_NODE_PARAMS *h)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_HOST};

	if (!h)
		return CUDA_ERROR_INVALID_VALUE;
	p.host.fn = h->fn;
	p.host.userData = h->userData;
	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphHostNodeGetParams(CUgraphNode node, CUDA_HOST_NODE_PARAMS *h)
{
	const struct fake_node_ref *ref = ref_of(node);
	const struct fake_node *n;

	if (!ref || !h)
		return CUDA_ERROR_INVALID_VALUE;
	n = &ref->g->nodes[ref->i];
	if (n->kind != NODE_HOSTFN)
		return CUDA_ERROR_INVALID_VALUE;
	h->fn = n->fn;
	h->userData = n->data;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphAddEmptyNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_EMPTY};

	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphAddEventRecordNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n, CUevent e)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_EVENT_RECORD};

	p.eventRecord.event = e;
	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphAddChildGraphNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n,
					  CUgraph child)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};

	p.graph.graph = child;
	return cuGraphAddNode(node, g, deps, NULL, n, &p);
}

CUresult CUDAAPI cuGraphExecChildGraphNodeSetParams(CUgraphExec e, CUgraphNode node, CUgraph child)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_GRAPH};

	p.graph.graph = child;
	return cuGraphExecNodeSetParams(e, node, &p);
}

CUresult CUDAAPI cuGraphEventRecordNodeSetEvent(CUgraphNode node, CUevent ev)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_EVENT_RECORD};

	p.eventRecord.event = ev;
	return cuGraphNodeSetParams(node, &p);
}

CUresult CUDAAPI cuGraphExecEventRecordNodeSetEvent(CUgraphExec e, CUgraphNode node, CUevent ev)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_EVENT_RECORD};

	p.eventRecord.event = ev;
	return cuGraphExecNodeSetParams(e, node, &p);
}

CUresult CUDAAPI cuGraphKernelNodeSetParams(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *k)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_KERNEL};

	if (!k)
		return CUDA_ERROR_INVALID_VALUE;
	p.kernel = kernel_v3(k);
	return cuGraphNodeSetParams(node, &p);
}

CUresult CUDAAPI cuGraphExecKernelNodeSetParams(CUgraphExec e, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *k)
{
	CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_KERNEL};

	if (!k)
		return CUDA_ERROR_INVALID_VALUE;
	p.kernel = kernel_v3(k);
	return cuGraphExecNodeSetParams(e, node, &p);
}
