/* The entry points that hand out other entry points. cudart (static, as nvcc
 * links it by default, or shared) resolves ~320 functions through
 * cuGetProcAddress_v2 at its first call and asks cuGetExportTable for
 * undocumented tables. The real driver answers; when the shim must see the
 * calls (tracing, or remote mode) the driver's pointer is swapped for the
 * shim's own entry point of the same function. Natively, the program gets
 * the driver's pointers and runs at full speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

/* The pointer to hand out for one the driver returned. */
static void *redirect(void *real, const char *symbol)
{
	void *self;

	if (!real || (!shim_trace_on && shim_mode() == SHIM_NATIVE))
		return real;
	self = shim_self_for_real(real);
	if (!self)
		shim_trace_note("%s: the driver's entry point has no exported twin; its calls are not traced",
				symbol);
	return self ? self : real; /* a trampoline's calls are not traced either */
}

SHIM_EXPORT CUresult CUDAAPI cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
						 cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus)
{
	CUresult (*fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *) =
		(CUresult(*)(const char *, void **, int, cuuint64_t,
			     CUdriverProcAddressQueryResult *))shim_real[SHIM_EP_cuGetProcAddress_v2];
	uint64_t t0 = shim_trace_now();
	CUresult r;

	if (!fn)
		return shim_no_entry(SHIM_EP_cuGetProcAddress_v2);
	shim_mode();
	r = fn(symbol, pfn, cudaVersion, flags, symbolStatus);
	if (r == CUDA_SUCCESS && pfn)
		*pfn = redirect(*pfn, symbol);
	if (shim_trace_on)
		shim_trace(SHIM_EP_cuGetProcAddress_v2, t0, r, "symbol=%s, pfn=%p, cudaVersion=%d, flags=%llu",
			   symbol ? symbol : "(null)", pfn ? *pfn : NULL, cudaVersion, (unsigned long long)flags);
	return r;
}

SHIM_EXPORT CUresult CUDAAPI cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	CUresult (*fn)(const char *, void **, int, cuuint64_t) =
		(CUresult(*)(const char *, void **, int, cuuint64_t))shim_real[SHIM_EP_cuGetProcAddress];
	uint64_t t0 = shim_trace_now();
	CUresult r;

	if (!fn)
		return shim_no_entry(SHIM_EP_cuGetProcAddress);
	shim_mode();
	r = fn(symbol, pfn, cudaVersion, flags);
	if (r == CUDA_SUCCESS && pfn)
		*pfn = redirect(*pfn, symbol);
	if (shim_trace_on)
		shim_trace(SHIM_EP_cuGetProcAddress, t0, r, "symbol=%s, pfn=%p, cudaVersion=%d, flags=%llu",
			   symbol ? symbol : "(null)", pfn ? *pfn : NULL, cudaVersion, (unsigned long long)flags);
	return r;
}

/* OPENMPS_TRACE_EXPORTS: unset or 0, the tables as they are; "args", slots
 * logged with arguments; anything else, slots counted. */
static enum shim_slot_kind exports_traced(void)
{
	const char *v = getenv("OPENMPS_TRACE_EXPORTS");

	if (!shim_trace_on || !v || !*v || !strcmp(v, "0"))
		return SHIM_SLOT_NONE;
	return strcmp(v, "args") ? SHIM_SLOT_TRACED : SHIM_SLOT_LOGGED;
}

/* Natively the driver's tables, or traced copies of them with
 * OPENMPS_TRACE_EXPORTS=1; in remote mode, the shim's (export_tables.c). */
SHIM_EXPORT CUresult CUDAAPI cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
	uint64_t t0 = shim_trace_now();
	const unsigned char *u = pExportTableId ? (const unsigned char *)pExportTableId->bytes : NULL;
	char id[40] = "(null)";
	CUresult r;

	if (shim_mode() == SHIM_BROKEN)
		return CUDA_ERROR_MPS_CONNECTION_FAILED;
	r = shim_export_table(ppExportTable, pExportTableId, exports_traced());
	if (!shim_trace_on)
		return r;
	if (u)
		snprintf(id, sizeof(id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
			 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
			 u[15]);
	shim_trace(SHIM_EP_cuGetExportTable, t0, r, "table=%p, id=%s",
		   ppExportTable && r == CUDA_SUCCESS ? (const void *)*ppExportTable : NULL, id);
	return r;
}
