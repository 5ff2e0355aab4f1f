/* The client shim's internals. The shim is libcuda.so.1: it exports every
 * driver entry point (entrypoints.c, generated from cuda.h). Natively each
 * goes to the real driver, which it loads by absolute path at load time
 * (real.c); in remote mode (remote.c) the call families below post or call
 * through the data channel (channel.c) to the server. With OPENMPS_TRACE set
 * it logs every call (trace.c). */
#ifndef OPENMPS_SHIM_H
#define OPENMPS_SHIM_H

/* The driver's internal view of cuda.h: every exported name is declared as
 * itself (legacy unversioned and per-thread-stream ones too), not mapped by
 * cuda.h's #defines onto the newest version. */
#define __CUDA_API_VERSION_INTERNAL
#include <cuda.h>
#include <stdint.h>

#include "entrypoints.h"
#include "calls.h"
#include "protocol.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The real driver's entry points, by enum shim_entry; NULL where missing. */
extern void *shim_real[SHIM_EP_COUNT];
/* What each exported entry point calls. */
extern void *shim_table[SHIM_EP_COUNT];
extern int shim_trace_on;

/* remote.c */
enum shim_mode { SHIM_NATIVE, SHIM_REMOTE, SHIM_BROKEN };
/* Decides, once, whether calls go to the real driver or to a server. */
enum shim_mode shim_mode(void);

/* channel.c: the data channel (open: 0, -1 refused, -2 the server went).
 * Calls wait for their reply; posts do not. */
struct shim_connection;
int shim_channel_open(const struct shim_connection *conn, struct omps_device_info *devs, int *ndevs, char *err,
		      size_t errlen);
CUresult shim_call(uint32_t type, const void *args, size_t len, void *reply, size_t reply_len);
CUresult shim_call_signalled(uint32_t type, const void *args, size_t len, int32_t dev, uint32_t handle,
			     uint32_t kind);
CUresult shim_post(uint32_t type, const void *args, size_t len, const void *data, size_t data_len);
CUresult shim_call_read(uint32_t type, const void *args, size_t len, void *dst, uint64_t bytes);
uint32_t shim_post_max(void); /* the most data one posted record carries beside its arguments */
CUresult shim_host_share(uint64_t addr, uint64_t bytes, int fd, uint64_t *device_ptr);
void shim_channel_schedule(unsigned int sched); /* a CU_CTX_SCHED_* value: how replies are waited for */

/* Puts fn behind entry point `name`; the compiler checks that fn has the
 * toolkit's prototype for it. SHIM_INSTALL: fn goes to the server;
 * SHIM_LOCAL: fn answers in the client. The two differ only in what
 * docs/api-coverage.md (gen_coverage.py) says of the entry point. */
#define SHIM_INSTALL(name, fn)                                  \
	do {                                                    \
		__typeof__(&name) checked_ = (fn);              \
		shim_table[SHIM_EP_##name] = (void *)checked_;  \
	} while (0)
#define SHIM_LOCAL(name, fn) SHIM_INSTALL(name, fn)
/* For names whose prototype cuda.h gives only to the driver's own build
 * (the unversioned ABI): typed by hand, unchecked. */
#define SHIM_UNTYPED(name, fn)	     (shim_table[SHIM_EP_##name] = (void *)(fn))
#define SHIM_LOCAL_UNTYPED(name, fn) SHIM_UNTYPED(name, fn)

/* device.c */
void shim_device_install(const struct omps_device_info *devs, int n);
int shim_current_device(void); /* of the calling thread's context; -1 if none */
int shim_ctx_device(CUcontext ctx);  /* the device of one of its contexts; -1 if none */
int shim_device_attr(int dev, CUdevice_attribute a); /* from the cache; 0 if unknown */

/* ranges.c: the client's device allocations and page-locked host memory. */
enum shim_range_kind { SHIM_RANGE_DEVICE = 1, SHIM_RANGE_HOST };
struct shim_range {
	uint64_t base, bytes;
	enum shim_range_kind kind;
	int dev;
	unsigned int flags; /* host memory: cuMemHostAlloc's or cuMemHostRegister's */
	int registered;	    /* host memory the program allocated itself */
	int shared;	    /* host memory the server maps too, at device_ptr for kernels */
	int managed;	    /* cuMemAllocManaged's: shared, at the same address on both sides (managed.c) */
	uint64_t device_ptr;
	uint64_t id;	    /* process-wide, never reused */
};
int shim_range_add(const struct shim_range *r);
int shim_range_remove(uint64_t base, struct shim_range *out);
int shim_range_find(uint64_t addr, struct shim_range *out); /* the range holding addr */

/* The call families, each installing its entry points in remote mode: one
 * file each (memory.c, host.c, module.c, launch.c, stream.c, graph.c,
 * pitched.c for 2D and 3D copies, pool.c, hostfn.c). */
void shim_say_no_driver(void); /* natively: one line on stderr if no driver was found */
void shim_memory_install(void);
void shim_host_install(void);
void shim_module_install(void);
void shim_launch_install(void);
void shim_stream_install(void);
void shim_graph_install(void);
void shim_graphbuild_install(void);
void shim_graphbuild_forget(uint32_t graph); /* graph destroyed: what its nodes' reads left */
void shim_ipc_install(void);
void shim_managed_install(void);
void shim_managed_forget(uint64_t id); /* a managed range's advice, as it is freed */
void shim_vmm_install(void);
void shim_tensormap_install(void);
void shim_pitched_install(void);
void shim_array_install(void);
/* array.c: a CUarray of this process's: its server handle and device; -1
 * if it is none. */
int shim_array(CUarray a, uint32_t *handle, int *dev);
void shim_pool_install(void);
void shim_hostfn_install(void);
CUresult shim_mem_alloc(CUdeviceptr *dptr, size_t bytes); /* memory.c */
CUresult shim_host_alloc_shared(void **pp, size_t bytes); /* host.c */
CUresult shim_host_free(void *p);			   /* host.c: cuMemFreeHost */
int shim_shared_host(const void *p, size_t bytes); /* host.c: memory the server maps too */
/* thread.c: a detached thread of the shim's own, with every signal blocked,
 * so that the program's handlers never run on it. 0, or an errno. */
int shim_thread_start(void *(*fn)(void *), void *arg);
void shim_copy_parallel(void *dst, const void *src, size_t bytes); /* copier.c */
/* stream.c: the server's handle for s (0: the client's NULL stream). */
CUresult shim_stream_handle(CUstream s, uint32_t *handle);
/* A stream, event, graph or executable graph: the client's record of the
 * server's handle for it (stream.c). */
struct shim_object {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	uint32_t handle;
	int dev;
	unsigned int flags; /* as created */
	int priority;
};
struct shim_object *shim_object(void *h, uint32_t magic); /* NULL if h is not one of magic's */
#define EVENT_MAGIC 0x6576656eu
#define GRAPH_MAGIC 0x67726170u
#define EXEC_MAGIC  0x67657865u
/* graph.c: a new record of a server's graph or executable graph handle. */
CUresult shim_graph_new(uint32_t magic, uint32_t handle, void **out);
/* graph.c: a capture begun here is under way (some stream may be capturing). */
int shim_capturing_any(void);
int shim_stream_capturing(CUstream s); /* s is capturing (asked only while one is under way) */
/* hostfn.c: a graph slot for fn (struct omps_hostfn_area), or -1 (said in a
 * line); settle it with shim_hostfn_graph_settle: kept (in a graph) or not. */
int shim_hostfn_graph_slot(CUhostFn fn, void *data);
/* cuLaunchHostFunc, for the shim's own functions. */
CUresult shim_launch_host_func(CUstream s, CUhostFn fn, void *data);
void shim_hostfn_graph_settle(int slot, int kept);
/* Frees the record and posts `type` with its handle; CUDA_ERROR_INVALID_HANDLE if h is not one. */
CUresult shim_object_destroy(uint32_t type, uint32_t magic, void *h);
/* Set while a per-thread-default-stream entry point (_ptsz, _ptds) runs: a
 * NULL stream then means the calling thread's own stream. */
extern __thread int shim_ptds;
CUresult shim_stream_sync(CUstream s);
/* stream.c: waits for all the client's work on dev (its NULL stream and
 * every stream it made there), and nothing more: no managed-variable pull. */
CUresult shim_device_wait(int dev);

/* real.c */
CUresult shim_no_entry(enum shim_entry ep);
void shim_use_driver_locally(enum shim_entry ep); /* in remote mode: calls that need no GPU */
void shim_real_init(void); /* the real driver's cuInit, once (no context) */
/* CUDA_ERROR_NOT_SUPPORTED, and once a kind (what: a string literal) one
 * line "openmps: WHAT is not supported through openmps yet; ..." */
CUresult shim_unsupported(const char *what);
/* The shim's own entry point for a real driver function, or NULL. */
void *shim_self_for_real(void *real);

/* A function of a module the server loaded (module.c): the handle the
 * program holds, and the layout its launches are packed by (launch.c). */
#define FUNCTION_MAGIC 0x666e6374u
struct shim_function {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	uint32_t module;
	struct shim_function *next; /* all functions, to free a module's on unload */
	uint32_t handle;
	uint32_t nparams;
	uint32_t args_size;
	int max_threads, max_dynamic_smem; /* launches beyond are refused here, as the driver would */
	unsigned attr_known;		   /* bit a: attr[a] read from the server (atomic builtins) */
	int attr[8];			   /* the attributes no call can change (module.c) */
	char *name;
	struct omps_param params[OMPS_MAX_PARAMS];
};
struct shim_function *shim_function(CUfunction h); /* NULL if h is not one */
/* The function the server numbers handle, as this process first had it
 * (cudart knows its kernels by that CUfunction); NULL if none. */
struct shim_function *shim_function_of(uint32_t handle);
void shim_stream_reset(int dev);		    /* stream.c: cuDevicePrimaryCtxReset ends threads' default streams on dev */
void shim_range_forget_device(int dev);		    /* ranges.c: ... and its device memory */
/* launch.c: a launch's arguments, packed into buf (args_size bytes at
 * least) from kernelParams, or as `extra` gives them (*args: where). */
CUresult shim_launch_pack(struct shim_function *f, void **params, void **extra, unsigned char *buf,
			  const void **args, size_t *len);

/* cudart's wrapper of a fat binary, as it registers it and passes it to
 * cuLibraryLoadData and the cudart-interface export table. */
struct shim_fatbin_wrapper {
	uint32_t magic;
	uint32_t version;
	const void *data; /* the fat binary, with its header */
	const void *filename_or_fatbins;
};

#define SHIM_FATBIN_WRAPPER_MAGIC 0x466243b1u

/* module.c: loads an image (cubin, fatbin, PTX, or a wrapped fatbin) on the
 * current device. */
CUresult shim_module_load(CUmodule *module, const void *image);
/* Sends size bytes in IMAGE_DATA records, then the call that takes them,
 * and waits for its reply; one image at a time, whichever thread sends. */
CUresult shim_send_image(const void *image, size_t size, uint32_t type, const void *args, size_t len, void *reply,
			 size_t reply_len);
/* A whole file, a NUL after its bytes (*bytes does not count it); free it. */
CUresult shim_read_file(const char *path, unsigned char **out, size_t *bytes);
void shim_link_install(void); /* link.c: the JIT linker */
/* managedvar.c: __managed__ module variables, kept in step with a view the
 * program's CPU reaches: push before GPU work on s, pull after a synchronize. */
void shim_managedvar_install(void);
void shim_managed_vars_push(CUstream s);
void shim_managed_vars_pull(void);
void shim_managed_vars_forget(uint32_t module); /* its module unloaded */
CUresult shim_module_get_global(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name); /* module.c */
/* link.c: PTX with JIT options (cuModuleLoadDataEx): linked by the server
 * with them, its logs and wall time where the options say, then loaded. */
CUresult shim_link_load(CUmodule *module, const char *ptx, unsigned int n, CUjit_option *options, void **values);

enum shim_slot_kind { SHIM_SLOT_NONE, SHIM_SLOT_TRACED, SHIM_SLOT_LOGGED, SHIM_SLOT_REFUSED };

/* export_tables.c: the table the program gets for id; with trace_slots,
 * copies of the driver's with every function slot traced (or logged, with
 * its arguments and result). */
CUresult shim_export_table(const void **table, const CUuuid *id, enum shim_slot_kind trace_slots);


/* export_slots.c: a stub for slot `index` of table `table` (its id in text),
 * that traces calls to target or refuses them; NULL where it cannot be made.
 * Stubs run once sealed. */
void *shim_slot_stub(const char *table, unsigned index, void *target, enum shim_slot_kind kind);
void shim_slot_stubs_seal(void);

/* trace.c */
void shim_trace_init(void);
uint64_t shim_trace_now(void);
void shim_trace(enum shim_entry ep, uint64_t t0, CUresult r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void shim_trace_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
