/* The driver's undocumented export tables, as the shim hands them out
 * (cuGetExportTable). cudart 13 asks for seven tables at start-up and calls
 * some of their slots directly (docs/traces/2026-11-23-h100-export-tables.md).
 *
 * Natively the driver's own tables go out, unless OPENMPS_TRACE_EXPORTS=1
 * asks for traced copies. In remote mode there is no driver context in the
 * process, so the tables whose slots take or make contexts are the shim's:
 *
 *   6bd5fb6c-… cudart interface: 2 = a device's primary context; 1, 6, 8 =
 *              a module from a fat binary; the rest are refused.
 *   d4082055-… integrity check: 1 = the hash over the tables handed out
 *              (integrity.h); copies of tables need it recomputed, so the
 *              traced copies use it too.
 *   263e8860-… context checks: 2 = says the context is a plain one; 3 = 0.
 *   c693336e-… context-local storage (no size word): 0 = put, 1 = delete,
 *              2 = get, per (context, key), kept in the shim.
 *
 * Slots not listed are refused with CUDA_ERROR_NOT_SUPPORTED and one line
 * naming them. Other tables (tools hooks, tools TLS, f8cff951-…, cuBLAS's)
 * take no context in the slots seen so far and are the driver's own; the
 * driver is initialised (cuInit, never a context) before it hands them out. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integrity.h"
#include "shim.h"

#define CALL(name, ...) ((__typeof__(&name))shim_table[SHIM_EP_##name])(__VA_ARGS__)

enum table { CUDART, INTEGRITY, CTX_CHECKS, CLS, TOOLS_CONTEXT, MODULE_FUNCTIONS, NTABLES };

static const struct {
	unsigned char id[16];
	size_t words; /* at least: the driver's size word may say more */
} known[NTABLES] = {
	[CUDART] = {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9},
		    13},
	[INTEGRITY] = {{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1,
			0xf2},
		       3},
	[CTX_CHECKS] = {{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa,
			 0x7e},
			15},
	[CLS] = {{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93}, 16},
	[TOOLS_CONTEXT] = {{0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8,
			    0xf2},
			   93},
	[MODULE_FUNCTIONS] = {{0x6e, 0x16, 0x3f, 0xbe, 0xb9, 0x58, 0x44, 0x4d, 0x83, 0x5c, 0xe1, 0x82, 0xaf, 0xf1, 0x99,
			    0x1e},
			   16},
};

/* The tools-context table (21318c60-…, which cuBLAS uses) is the driver's
 * but for the three slots cuBLAS calls with a context: the driver has none
 * in remote mode. Their answers are those the driver gives natively (traced
 * with OPENMPS_TRACE_EXPORTS=args on the H100). */
static int driver_slot_kept(enum table which, size_t k)
{
	return which == TOOLS_CONTEXT && k != 4 && k != 39 && k != 51;
}

/* The table cuFFT asks for after it loads its kernels (6e163fbe-…): slot 7
 * hands each function of a module to a callback of cuFFT's. Traced natively
 * on the H200 (driver 580, OPENMPS_TRACE_EXPORTS=args): it takes (context,
 * module, callback, its argument), the callback stores the function it is
 * given (mov [rdi], rsi; ret), and the slot returns 1 for cuFFT's modules of
 * one kernel: the count. Answering 1 without the callback left cuFFT with no
 * kernel, and it unloaded the module and failed the plan
 * (CUFFT_INTERNAL_ERROR). The table's other slots are refused. */
static unsigned long module_functions_each(CUcontext ctx, CUmodule module, void (*each)(void *, CUfunction),
					   void *arg)
{
	CUfunction fns[64];
	unsigned int n = 0, i;

	(void)ctx;
	if (!each || CALL(cuModuleGetFunctionCount, &n, module) != CUDA_SUCCESS)
		return 0;
	if (n > sizeof(fns) / sizeof(fns[0]))
		n = sizeof(fns) / sizeof(fns[0]);
	if (CALL(cuModuleEnumerateFunctions, fns, n, module) != CUDA_SUCCESS)
		return 0;
	for (i = 0; i < n; i++)
		each(arg, fns[i]);
	if (shim_trace_on)
		shim_trace_note("export table 6e163fbe slot 7 (served): %u functions of module %p", n, (void *)module);
	return n;
}

/* Slot 4: a flag word that says the context is valid. */
static CUresult tools_context_valid(CUcontext ctx, uint64_t *out)
{
	(void)ctx;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	out[0] = 1;
	return CUDA_SUCCESS;
}

/* Slot 51: an object describing the context, whose first word is 1. */
static CUresult tools_context_object(CUcontext ctx, uint64_t arg, uint64_t **out)
{
	static uint64_t object[64] = {1};

	(void)ctx, (void)arg;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	*out = object;
	return CUDA_SUCCESS;
}

/* Slot 39: given that object, a pair of words: 7, and the context. */
static CUresult tools_context_query(CUcontext ctx, const uint64_t *object, uint64_t *out)
{
	CUcontext cur = NULL;

	if (!object || !out)
		return CUDA_ERROR_INVALID_VALUE;
	CALL(cuCtxGetCurrent, &cur);
	out[0] = 7;
	out[1] = (uint64_t)(uintptr_t)(ctx ? ctx : cur);
	return CUDA_SUCCESS;
}

#define MAX_HANDED 16

/* Every table handed out, once per id, so that repeated asks (and the
 * integrity hash) see one address. */
static struct {
	unsigned char id[16];
	const void *table;
} handed[MAX_HANDED];
static size_t nhanded;
static const void *handed_cudart, *handed_integrity;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;


/* d4082055-… slot 1. */
static CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t result[2])
{
	struct shim_integrity_device devs[OMPS_MAX_DEVICES];
	struct shim_integrity_msg m = {.version = version, .unix_seconds = unix_seconds};
	int driver = 0, n = 0, i;

	if (!result)
		return CUDA_ERROR_INVALID_VALUE;
	if (CALL(cuDriverGetVersion, &driver) != CUDA_SUCCESS || CALL(cuDeviceGetCount, &n) != CUDA_SUCCESS)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (n > OMPS_MAX_DEVICES)
		n = OMPS_MAX_DEVICES;
	for (i = 0; i < n; i++) {
		CUdevice d;
		CUuuid u;

		if (CALL(cuDeviceGet, &d, i) != CUDA_SUCCESS || CALL(cuDeviceGetUuid, &u, d) != CUDA_SUCCESS ||
		    CALL(cuDeviceGetAttribute, &devs[i].pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d) ||
		    CALL(cuDeviceGetAttribute, &devs[i].pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d) ||
		    CALL(cuDeviceGetAttribute, &devs[i].pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d))
			return CUDA_ERROR_INVALID_DEVICE;
		memcpy(devs[i].uuid, u.bytes, sizeof(devs[i].uuid));
	}
	m.driver_version = (uint32_t)driver;
	m.pid = (uint32_t)getpid();
	m.thread = (uint32_t)(uintptr_t)pthread_self();
	m.cudart_table = (uint64_t)(uintptr_t)handed_cudart;
	m.integrity_table = (uint64_t)(uintptr_t)handed_integrity;
	m.slot = (uint64_t)(uintptr_t)integrity_check;
	shim_integrity_hash(&m, devs, n, result);
	return CUDA_SUCCESS;
}

/* 6bd5fb6c-… slot 2: cudart's way to the primary context. */
static CUresult primary_context(CUcontext *pctx, CUdevice dev)
{
	return CALL(cuDevicePrimaryCtxRetain, pctx, dev);
}

static CUresult module_from_wrapper(CUmodule *module, const struct shim_fatbin_wrapper *w)
{
	if (!module || !w || w->magic != SHIM_FATBIN_WRAPPER_MAGIC || !w->data)
		return CUDA_ERROR_INVALID_VALUE;
	return shim_module_load(module, w);
}

static CUresult module_from_fatbin1(CUmodule *module, const struct shim_fatbin_wrapper *w)
{
	return module_from_wrapper(module, w);
}

static CUresult module_from_fatbin6(CUmodule *module, const struct shim_fatbin_wrapper *w, void *a3, void *a4,
				    uint32_t a5)
{
	(void)a3, (void)a4, (void)a5;
	return module_from_wrapper(module, w);
}

static CUresult module_from_fatbin8(const void *fatbin, CUmodule *module, void *a3, void *a4, uint32_t a5)
{
	(void)a3, (void)a4, (void)a5;
	if (!fatbin || !module)
		return CUDA_ERROR_INVALID_VALUE;
	return shim_module_load(module, fatbin);
}

/* 263e8860-… slots 2 and 3: every context here is a plain primary one. */
static CUresult context_check(CUcontext ctx, uint32_t *flags, const void **extra)
{
	(void)ctx;
	if (flags)
		*flags = 0;
	if (extra)
		*extra = NULL;
	return CUDA_SUCCESS;
}

static uint32_t check3(void)
{
	return 0;
}

/* c693336e-…: values that cudart keeps per context. */
struct cls_entry {
	struct cls_entry *next;
	CUcontext ctx;
	void *key, *value;
	void (*dtor)(CUcontext, void *, void *);
};

static struct cls_entry *cls;
static pthread_mutex_t cls_lock = PTHREAD_MUTEX_INITIALIZER;

static CUresult cls_context(CUcontext *ctx)
{
	if (*ctx)
		return CUDA_SUCCESS;
	if (CALL(cuCtxGetCurrent, ctx) != CUDA_SUCCESS || !*ctx)
		return CUDA_ERROR_INVALID_CONTEXT;
	return CUDA_SUCCESS;
}

static struct cls_entry **cls_find(CUcontext ctx, void *key)
{
	struct cls_entry **pp;

	for (pp = &cls; *pp; pp = &(*pp)->next)
		if ((*pp)->ctx == ctx && (*pp)->key == key)
			break;
	return pp;
}

static CUresult cls_put(CUcontext ctx, void *key, void *value, void (*dtor)(CUcontext, void *, void *))
{
	struct cls_entry **pp, *e;
	CUresult r = cls_context(&ctx);

	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cls_lock);
	pp = cls_find(ctx, key);
	e = *pp;
	if (!e && (e = calloc(1, sizeof(*e)))) {
		*e = (struct cls_entry){.ctx = ctx, .key = key};
		*pp = e;
	}
	if (e) {
		e->value = value;
		e->dtor = dtor;
	}
	pthread_mutex_unlock(&cls_lock);
	return e ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

static CUresult cls_delete(CUcontext ctx, void *key)
{
	struct cls_entry **pp, *e;
	CUresult r = cls_context(&ctx);

	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cls_lock);
	pp = cls_find(ctx, key);
	if ((e = *pp))
		*pp = e->next;
	pthread_mutex_unlock(&cls_lock);
	free(e);
	return CUDA_SUCCESS;
}

static CUresult cls_get(void **value, CUcontext ctx, void *key)
{
	struct cls_entry *e;
	CUresult r;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cls_context(&ctx)) != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cls_lock);
	e = *cls_find(ctx, key);
	if (e)
		*value = e->value;
	pthread_mutex_unlock(&cls_lock);
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static int driver_code(uint64_t word)
{
	Dl_info a, b;

	return word && shim_real[SHIM_EP_cuInit] && dladdr((void *)(uintptr_t)word, &a) &&
	       dladdr(shim_real[SHIM_EP_cuInit], &b) && a.dli_fbase == b.dli_fbase;
}

static void id_text(const unsigned char *u, char *out, size_t len)
{
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* The number of words of a table that begins with its size. */
static size_t sized_words(const uint64_t *t)
{
	return t && t[0] % 8 == 0 && t[0] >= 16 && t[0] / 8 <= 256 ? t[0] / 8 : 0;
}

/* The shim's own table: the driver's words where it has one, each driver
 * function refused, then the slots served. */
static const void *serve(enum table which, const uint64_t *real, const char *id, enum shim_slot_kind trace)
{
	size_t n = known[which].words, have, k, first = which == CLS ? 0 : 1;
	uint64_t *t;

	have = which == CLS ? (real ? n : 0) : sized_words(real);
	if (have > n)
		n = have;
	t = calloc(n, sizeof(*t));
	if (!t)
		return NULL;
	if (which != CLS)
		t[0] = n * 8;
	/* Driver functions are refused; without the driver's table, so is
	 * every slot (but in the unsized table, whose layout is not known). */
	for (k = first; k < n; k++) {
		int refuse = k < have ? driver_code(real[k]) && !driver_slot_kept(which, k) : which != CLS;

		t[k] = refuse ? (uint64_t)(uintptr_t)shim_slot_stub(id, (unsigned)k, NULL, SHIM_SLOT_REFUSED)
		       : k < have ? real[k]
				  : 0;
		if (!refuse && k < have && trace != SHIM_SLOT_NONE && driver_code(real[k])) {
			void *stub = shim_slot_stub(id, (unsigned)k, (void *)(uintptr_t)real[k], trace);

			if (stub) /* a driver slot kept: traced as natively */
				t[k] = (uint64_t)(uintptr_t)stub;
		}
	}
	shim_slot_stubs_seal();
#define SLOT(k, fn) (t[k] = (uint64_t)(uintptr_t)(fn))
	switch (which) {
	case CUDART:
		SLOT(1, module_from_fatbin1);
		SLOT(2, primary_context);
		SLOT(6, module_from_fatbin6);
		SLOT(8, module_from_fatbin8);
		break;
	case INTEGRITY:
		SLOT(1, integrity_check);
		break;
	case CTX_CHECKS:
		SLOT(2, context_check);
		SLOT(3, check3);
		break;
	case TOOLS_CONTEXT:
		SLOT(4, tools_context_valid);
		SLOT(39, tools_context_query);
		SLOT(51, tools_context_object);
		break;
	case MODULE_FUNCTIONS:
		SLOT(7, module_functions_each);
		break;
	case CLS:
		SLOT(0, cls_put);
		SLOT(1, cls_delete);
		SLOT(2, cls_get);
		SLOT(3, NULL);
		break;
	default:
		break;
	}
#undef SLOT
	return t;
}

/* A copy of a sized driver table with every function slot traced, but the
 * integrity check answering for the copies. */
static const void *traced(const uint64_t *real, const char *id, int integrity, enum shim_slot_kind kind)
{
	size_t n = sized_words(real), k;
	uint64_t *t;

	if (!n || !(t = malloc(n * 8)))
		return real;
	memcpy(t, real, n * 8);
	for (k = 1; k < n; k++) {
		void *stub = real[k] ? shim_slot_stub(id, (unsigned)k, (void *)(uintptr_t)real[k], kind) : NULL;

		if (stub)
			t[k] = (uint64_t)(uintptr_t)stub;
	}
	shim_slot_stubs_seal();
	if (integrity && n > 1)
		t[1] = (uint64_t)(uintptr_t)integrity_check;
	return t;
}

static enum table which_table(const unsigned char *id)
{
	int i;

	for (i = 0; i < NTABLES; i++)
		if (!memcmp(known[i].id, id, 16))
			return (enum table)i;
	return NTABLES;
}

CUresult shim_export_table(const void **out, const CUuuid *uuid, enum shim_slot_kind trace_slots)
{
	CUresult (*get)(const void **, const CUuuid *) =
		(CUresult(*)(const void **, const CUuuid *))shim_real[SHIM_EP_cuGetExportTable];
	int remote = shim_mode() == SHIM_REMOTE;
	const void *real = NULL, *mine = NULL;
	enum table which;
	CUresult r;
	char id[40];
	size_t i;

	if (!out || !uuid)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	for (i = 0; i < nhanded; i++)
		if (!memcmp(handed[i].id, uuid->bytes, 16)) {
			*out = handed[i].table;
			pthread_mutex_unlock(&lock);
			return CUDA_SUCCESS;
		}
	which = which_table((const unsigned char *)uuid->bytes);
	id_text((const unsigned char *)uuid->bytes, id, sizeof(id));
	if (remote && (which == NTABLES || which == TOOLS_CONTEXT))
		shim_real_init(); /* its slots may need it */
	r = get ? get(&real, uuid) : CUDA_ERROR_NOT_FOUND;
	if (remote && which != NTABLES) {
		mine = serve(which, r == CUDA_SUCCESS ? real : NULL, id, trace_slots);
		r = mine ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	} else if (r == CUDA_SUCCESS) {
		mine = trace_slots != SHIM_SLOT_NONE ? traced(real, id, which == INTEGRITY, trace_slots) : real;
	}
	if (r == CUDA_SUCCESS) {
		if (which == CUDART)
			handed_cudart = mine;
		if (which == INTEGRITY)
			handed_integrity = mine;
		if (nhanded < MAX_HANDED) {
			memcpy(handed[nhanded].id, uuid->bytes, 16);
			handed[nhanded++].table = mine;
		}
		*out = mine;
	}
	pthread_mutex_unlock(&lock);
	return r;
}
