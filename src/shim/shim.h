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

#define OMPS_EXPORT __attribute__((visibility("default")))

/* The real driver's entry points, by enum omps_entry; NULL where missing. */
extern void *omps_real[OMPS_EP_COUNT];
/* What each exported entry point calls. */
extern void *omps_table[OMPS_EP_COUNT];
extern int omps_trace_on;

/* remote.c */
enum omps_mode { OMPS_NATIVE, OMPS_REMOTE, OMPS_BROKEN };
/* Decides, once, whether calls go to the real driver or to a server. */
enum omps_mode omps_mode(void);

/* channel.c: the data channel. Calls wait for their reply; posts do not. */
struct omps_connection;
int omps_channel_open(const struct omps_connection *conn, struct omps_device_info *devs, int *ndevs, char *err,
		      size_t errlen);
CUresult omps_call(uint32_t type, const void *args, size_t len, void *reply, size_t reply_len);
CUresult omps_post(uint32_t type, const void *args, size_t len, const void *data, size_t data_len);
CUresult omps_call_read(uint32_t type, const void *args, size_t len, void *dst, uint64_t bytes);
uint32_t omps_post_max(void); /* the most data one posted record carries beside its arguments */
CUresult omps_host_share(uint64_t addr, uint64_t bytes, int fd, uint64_t *device_ptr);

/* Puts fn behind entry point `name`; the compiler checks that fn has the
 * toolkit's prototype for it. */
#define OMPS_INSTALL(name, fn)                                  \
	do {                                                    \
		__typeof__(&name) checked_ = (fn);              \
		omps_table[OMPS_EP_##name] = (void *)checked_;  \
	} while (0)

/* device.c */
void omps_device_install(const struct omps_device_info *devs, int n);
int omps_current_device(void); /* of the calling thread's context; -1 if none */
int omps_device_attr(int dev, CUdevice_attribute a); /* from the cache; 0 if unknown */

/* ranges.c: the client's device allocations and page-locked host memory. */
enum omps_range_kind { OMPS_RANGE_DEVICE = 1, OMPS_RANGE_HOST };
struct omps_range {
	uint64_t base, bytes;
	enum omps_range_kind kind;
	int dev;
	unsigned int flags; /* host memory: cuMemHostAlloc's or cuMemHostRegister's */
	int registered;	    /* host memory the program allocated itself */
	int shared;	    /* host memory the server maps too, at device_ptr for kernels */
	uint64_t device_ptr;
	uint64_t id;	    /* process-wide, never reused */
};
int omps_range_add(const struct omps_range *r);
int omps_range_remove(uint64_t base, struct omps_range *out);
int omps_range_find(uint64_t addr, struct omps_range *out); /* the range holding addr */

/* The call families, each installing its entry points in remote mode: one
 * file each (memory.c, host.c, module.c, launch.c, stream.c, graph.c,
 * pitched.c for 2D and 3D copies, pool.c, hostfn.c). */
void omps_memory_install(void);
void omps_host_install(void);
void omps_module_install(void);
void omps_launch_install(void);
void omps_stream_install(void);
void omps_graph_install(void);
void omps_pitched_install(void);
void omps_pool_install(void);
void omps_hostfn_install(void);
CUresult omps_mem_alloc(CUdeviceptr *dptr, size_t bytes); /* memory.c */
CUresult omps_host_alloc_shared(void **pp, size_t bytes); /* host.c */
int omps_shared_host(const void *p, size_t bytes); /* host.c: memory the server maps too */
/* thread.c: a detached thread of the shim's own, with every signal blocked,
 * so that the program's handlers never run on it. 0, or an errno. */
int omps_thread_start(void *(*fn)(void *), void *arg);
void omps_copy_parallel(void *dst, const void *src, size_t bytes); /* copier.c */
/* stream.c: the server's handle for s (0: the client's NULL stream). */
CUresult omps_stream_handle(CUstream s, uint32_t *handle);
/* A stream, event, graph or executable graph: the client's record of the
 * server's handle for it (stream.c). */
struct omps_object {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	uint32_t handle;
	int dev;
	unsigned int flags; /* as created */
	int priority;
};
struct omps_object *omps_object(void *h, uint32_t magic); /* NULL if h is not one of magic's */
/* Frees the record and posts `type` with its handle; CUDA_ERROR_INVALID_HANDLE if h is not one. */
CUresult omps_object_destroy(uint32_t type, uint32_t magic, void *h);
/* Set while a per-thread-default-stream entry point (_ptsz, _ptds) runs: a
 * NULL stream then means the calling thread's own stream. */
extern __thread int omps_ptds;
CUresult omps_stream_sync(CUstream s);

/* real.c */
CUresult omps_no_entry(enum omps_entry ep);
void omps_use_driver_locally(enum omps_entry ep); /* in remote mode: calls that need no GPU */
/* The shim's own entry point for a real driver function, or NULL. */
void *omps_self_for_real(void *real);

/* A function of a module the server loaded (module.c): the handle the
 * program holds, and the layout its launches are packed by (launch.c). */
#define FUNCTION_MAGIC 0x666e6374u
struct omps_function {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	uint32_t module;
	struct omps_function *next; /* all functions, to free a module's on unload */
	uint32_t handle;
	uint32_t nparams;
	uint32_t args_size;
	int max_threads, max_dynamic_smem; /* launches beyond are refused here, as the driver would */
	char *name;
	struct omps_param params[OMPS_MAX_PARAMS];
};
struct omps_function *omps_function(CUfunction h); /* NULL if h is not one */

/* cudart's wrapper of a fat binary, as it registers it and passes it to
 * cuLibraryLoadData and the cudart-interface export table. */
struct omps_fatbin_wrapper {
	uint32_t magic;
	uint32_t version;
	const void *data; /* the fat binary, with its header */
	const void *filename_or_fatbins;
};

#define OMPS_FATBIN_WRAPPER_MAGIC 0x466243b1u

/* module.c: loads an image (cubin, fatbin, PTX, or a wrapped fatbin) on the
 * current device. */
CUresult omps_module_load(CUmodule *module, const void *image);

enum omps_slot_kind { OMPS_SLOT_NONE, OMPS_SLOT_TRACED, OMPS_SLOT_LOGGED, OMPS_SLOT_REFUSED };

/* export_tables.c: the table the program gets for id; with trace_slots,
 * copies of the driver's with every function slot traced (or logged, with
 * its arguments and result). */
CUresult omps_export_table(const void **table, const CUuuid *id, enum omps_slot_kind trace_slots);


/* export_slots.c: a stub for slot `index` of table `table` (its id in text),
 * that traces calls to target or refuses them; NULL where it cannot be made.
 * Stubs run once sealed. */
void *omps_slot_stub(const char *table, unsigned index, void *target, enum omps_slot_kind kind);
void omps_slot_stubs_seal(void);

/* trace.c */
void omps_trace_init(void);
uint64_t omps_trace_now(void);
void omps_trace(enum omps_entry ep, uint64_t t0, CUresult r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void omps_trace_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
