/* The client shim's internals. The shim is libcuda.so.1: it exports every
 * driver entry point (entrypoints.c, generated from cuda.h) and, for now,
 * forwards each to the real driver, which it loads by absolute path at load
 * time (real.c). With OPENMPS_TRACE set it logs every call (trace.c). */
#ifndef OPENMPS_SHIM_H
#define OPENMPS_SHIM_H

/* The driver's internal view of cuda.h: every exported name is declared as
 * itself (legacy unversioned and per-thread-stream ones too), not mapped by
 * cuda.h's #defines onto the newest version. */
#define __CUDA_API_VERSION_INTERNAL
#include <cuda.h>
#include <stdint.h>

#include "entrypoints.h"

#define OMPS_EXPORT __attribute__((visibility("default")))

/* The real driver's entry points, by enum omps_entry; NULL where missing. */
extern void *omps_real[OMPS_EP_COUNT];
extern int omps_trace_on;

/* real.c */
CUresult omps_no_entry(enum omps_entry ep);
/* The shim's own entry point for a real driver function, or NULL. */
void *omps_self_for_real(void *real);

/* trace.c */
void omps_trace_init(void);
uint64_t omps_trace_now(void);
void omps_trace(enum omps_entry ep, uint64_t t0, CUresult r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void omps_trace_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
