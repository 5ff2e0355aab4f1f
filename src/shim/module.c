/* Modules in remote mode. An image's size comes from its own header (ELF
 * cubin, fatbin) or its terminating NUL (PTX); it is sent in pieces, then
 * loaded by the server. A function handle is the client's copy of the
 * function's argument layout, so cuFuncGetParamInfo needs no round trip and
 * a launch (launch.c) packs kernelParams into one buffer. */
#include <elf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replies.h"
#include "shim.h"

#define FATBIN_MAGIC   0xba55ed50u


static struct shim_function *functions;
static pthread_mutex_t functions_lock = PTHREAD_MUTEX_INITIALIZER;

/* A module's functions die with it, as the driver's do. */
static void forget_functions(uint32_t module)
{
	struct shim_function **pp = &functions, *f;

	pthread_mutex_lock(&functions_lock);
	while ((f = *pp)) {
		if (f->module == module) {
			*pp = f->next;
			f->magic = 0;
			free(f->name);
			free(f);
		} else {
			pp = &f->next;
		}
	}
	pthread_mutex_unlock(&functions_lock);
}

static size_t elf_size(const unsigned char *p)
{
	Elf64_Ehdr eh;
	size_t end, i;

	memcpy(&eh, p, sizeof(eh));
	end = eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize;
	for (i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;

		memcpy(&sh, p + eh.e_shoff + i * eh.e_shentsize, sizeof(sh));
		if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > end)
			end = sh.sh_offset + sh.sh_size;
	}
	return end;
}

/* Neither a cubin (ELF), a fat binary nor cudart's wrapper of one: PTX text. */
static int is_ptx(const void *image)
{
	const unsigned char *p = image;
	uint32_t magic;

	memcpy(&magic, p, sizeof(magic));
	return !(!memcmp(p, ELFMAG, SELFMAG) && p[EI_CLASS] == ELFCLASS64) && magic != FATBIN_MAGIC &&
	       magic != SHIM_FATBIN_WRAPPER_MAGIC;
}

static size_t image_size(const void *image)
{
	const unsigned char *p = image;
	struct {
		uint32_t magic;
		uint16_t version, header_size;
		uint64_t fat_size;
	} h;

	if (is_ptx(image))
		return strlen(image) + 1;
	if (!memcmp(p, ELFMAG, SELFMAG))
		return elf_size(p);
	memcpy(&h, p, sizeof(h)); /* a fat binary's header */
	return h.header_size + h.fat_size;
}

CUresult shim_send_image(const void *image, size_t size, uint32_t type, const void *args, size_t len, void *reply,
			 size_t reply_len)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* one image in flight: the server gathers one */
	size_t off, chunk = shim_post_max();
	CUresult r = CUDA_SUCCESS;

	if (size > OMPS_MAX_IMAGE)
		return CUDA_ERROR_INVALID_IMAGE;
	pthread_mutex_lock(&lock);
	for (off = 0; off < size && r == CUDA_SUCCESS; off += chunk)
		r = shim_post(OMPS_CALL_IMAGE_DATA, NULL, 0, (const char *)image + off,
			      size - off < chunk ? size - off : chunk);
	if (r == CUDA_SUCCESS)
		r = shim_call(type, args, len, reply, reply_len);
	pthread_mutex_unlock(&lock);
	return r;
}

static CUresult load(CUmodule *module, const void *image, int dev)
{
	struct omps_call_module_load m = {.dev = dev};
	struct omps_reply_handle rep = {{0}, 0, 0};
	uint32_t magic;
	CUresult r;

	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&magic, image, sizeof(magic));
	if (magic == SHIM_FATBIN_WRAPPER_MAGIC) /* as cudart passes it to cuLibraryLoadData */
		image = ((const struct shim_fatbin_wrapper *)image)->data;
	if (!image)
		return CUDA_ERROR_INVALID_IMAGE;
	m.bytes = image_size(image);
	r = shim_send_image(image, m.bytes, OMPS_CALL_MODULE_LOAD, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*module = (CUmodule)(uintptr_t)rep.handle;
	return r;
}

CUresult shim_module_load(CUmodule *module, const void *image)
{
	int dev = shim_current_device();

	return dev < 0 ? CUDA_ERROR_INVALID_CONTEXT : load(module, image, dev);
}


/* A whole file, with a NUL after it (a PTX file has none of its own). */
CUresult shim_read_file(const char *path, unsigned char **out, size_t *bytes)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	unsigned char *buf = NULL;
	long n = -1;

	if (!path)
		return CUDA_ERROR_INVALID_VALUE;
	if (!f)
		return CUDA_ERROR_FILE_NOT_FOUND;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
		buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return buf ? CUDA_ERROR_FILE_NOT_FOUND : CUDA_ERROR_OUT_OF_MEMORY;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*bytes = (size_t)n;
	return CUDA_SUCCESS;
}

/* A module or library from a file (what Triton and torch.compile load). */
static CUresult load_file(CUmodule *module, const char *path, int dev)
{
	unsigned char *buf;
	size_t n;
	CUresult r = shim_read_file(path, &buf, &n);

	if (r != CUDA_SUCCESS)
		return r;
	r = dev < 0 ? CUDA_ERROR_INVALID_CONTEXT : load(module, buf, dev);
	free(buf);
	return r;
}

static CUresult module_load(CUmodule *module, const char *path)
{
	return load_file(module, path, shim_current_device());
}

static CUresult module_load_fat_binary(CUmodule *module, const void *fatbin)
{
	return shim_module_load(module, fatbin);
}

/* Options of an image that needs no JIT: its logs are empty, as it compiles nothing. */
static void empty_logs(unsigned int n, const CUjit_option *options, void **values)
{
	unsigned int i, j;

	for (i = 0; options && values && i < n; i++) {
		if (options[i] != CU_JIT_INFO_LOG_BUFFER && options[i] != CU_JIT_ERROR_LOG_BUFFER)
			continue;
		for (j = 0; j < n; j++)
			if (options[j] == options[i] + 1 && (uintptr_t)values[j] && values[i]) {
				*(char *)values[i] = '\0';
				values[j] = NULL; /* bytes of it filled */
			}
	}
}

/* With JIT options, PTX goes through the linker (link.c), which serves the
 * same options and logs as the driver's JIT; the linked image is loaded.
 * A cubin or fat binary needs no JIT. */
static CUresult module_load_data_ex(CUmodule *module, const void *image, unsigned int n, CUjit_option *options,
				    void **values)
{
	if (!n || !image)
		return shim_module_load(module, image);
	if (is_ptx(image))
		return shim_link_load(module, image, n, options, values);
	empty_logs(n, options, values);
	return shim_module_load(module, image);
}

static CUresult module_unload(CUmodule hmod)
{
	struct omps_call_handle m = {.handle = (uint32_t)(uintptr_t)hmod};
	struct omps_reply rep;
	CUresult r = shim_call(OMPS_CALL_MODULE_UNLOAD, &m, sizeof(m), &rep, sizeof(rep));

	if (r == CUDA_SUCCESS) {
		forget_functions(m.handle);
		shim_managed_vars_forget(m.handle);
	}
	return r;
}

static CUresult module_get_function(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	static struct omps_call_get_function m;
	static struct omps_reply_function rep;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* m and rep are large: static, one call at a time */
	struct shim_function *f;
	uint32_t args_size;
	CUresult r;

	if (!hfunc || !name)
		return CUDA_ERROR_INVALID_VALUE;
	if (strlen(name) >= sizeof(m.name))
		return CUDA_ERROR_NOT_FOUND;
	f = calloc(1, sizeof(*f));
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&lock);
	m.module = (uint32_t)(uintptr_t)hmod;
	strcpy(m.name, name);
	r = shim_call(OMPS_CALL_GET_FUNCTION, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && shim_reply_function_check(&rep, &args_size) < 0) {
		fprintf(stderr, "openmps: the server described function %s with %u parameters out of bounds\n", name,
			rep.nparams);
		r = CUDA_ERROR_MPS_RPC_FAILURE;
	}
	if (r != CUDA_SUCCESS) {
		pthread_mutex_unlock(&lock);
		free(f);
		return r;
	}
	*f = (struct shim_function){.magic = FUNCTION_MAGIC, .module = m.module, .handle = rep.handle,
				    .nparams = rep.nparams, .args_size = args_size, .name = strdup(name),
				    .max_threads = rep.max_threads, .max_dynamic_smem = rep.max_dynamic_smem};
	memcpy(f->params, rep.params, sizeof(f->params[0]) * rep.nparams);
	pthread_mutex_unlock(&lock);
	if (!f->name) {
		free(f);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_lock(&functions_lock);
	f->next = functions;
	functions = f;
	pthread_mutex_unlock(&functions_lock);
	*hfunc = (CUfunction)f;
	return CUDA_SUCCESS;
}

/* Counted by the server; cuLibraryGetKernelCount too: libraries are
 * modules here. */
static CUresult module_get_function_count(unsigned int *count, CUmodule hmod)
{
	struct omps_call_handle m = {.handle = (uint32_t)(uintptr_t)hmod};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	r = shim_call(OMPS_CALL_MODULE_FUNC_COUNT, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*count = (unsigned int)rep.value;
	return r;
}

/* The first n of a module's functions, in the driver's order: each named by
 * the server, then looked up by that name. */
static CUresult module_enumerate_functions(CUfunction *fns, unsigned int n, CUmodule hmod)
{
	static struct omps_reply_name rep; /* large: static, one call at a time */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct omps_call_func_index m = {.module = (uint32_t)(uintptr_t)hmod};
	unsigned int count = 0, i;
	CUresult r;

	if (!fns)
		return CUDA_ERROR_INVALID_VALUE;
	r = module_get_function_count(&count, hmod);
	for (i = 0; r == CUDA_SUCCESS && i < n && i < count; i++) {
		pthread_mutex_lock(&lock);
		m.index = i;
		r = shim_call(OMPS_CALL_MODULE_FUNC_NAME, &m, sizeof(m), &rep, sizeof(rep));
		if (r == CUDA_SUCCESS && !memchr(rep.name, '\0', sizeof(rep.name)))
			r = CUDA_ERROR_MPS_RPC_FAILURE;
		if (r == CUDA_SUCCESS)
			r = module_get_function(&fns[i], hmod, rep.name);
		pthread_mutex_unlock(&lock);
	}
	return r;
}

static CUresult library_enumerate_kernels(CUkernel *kernels, unsigned int n, CUlibrary library)
{
	return module_enumerate_functions((CUfunction *)kernels, n, (CUmodule)library);
}

static CUresult library_get_kernel_count(unsigned int *count, CUlibrary library)
{
	return module_get_function_count(count, (CUmodule)library);
}

struct shim_function *shim_function(CUfunction hfunc)
{
	struct shim_function *f = (struct shim_function *)hfunc;

	return f && f->magic == FUNCTION_MAGIC ? f : NULL;
}

struct shim_function *shim_function_of(uint32_t handle)
{
	struct shim_function *f, *oldest = NULL;

	pthread_mutex_lock(&functions_lock);
	for (f = functions; f; f = f->next) /* newest first */
		if (f->handle == handle)
			oldest = f;
	pthread_mutex_unlock(&functions_lock);
	return oldest;
}

static CUresult func_get_param_info(CUfunction hfunc, size_t index, size_t *offset, size_t *size)
{
	struct shim_function *f = shim_function(hfunc);

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!offset || !size || index >= f->nparams)
		return CUDA_ERROR_INVALID_VALUE;
	*offset = f->params[index].offset;
	*size = f->params[index].size;
	return CUDA_SUCCESS;
}

/* Libraries are modules here, loaded in the current device's context (or
 * the first device's, with none current); kernels are functions. JIT and
 * library options are not remoted: the server's defaults apply. */
static CUresult library_load_data(CUlibrary *library, const void *code, CUjit_option *jit_options,
				  void **jit_values, unsigned int njit, CUlibraryOption *options, void **values,
				  unsigned int n)
{
	int dev = shim_current_device();

	(void)jit_options, (void)jit_values, (void)njit, (void)options, (void)values, (void)n;
	return load((CUmodule *)library, code, dev < 0 ? 0 : dev);
}

static CUresult library_load_from_file(CUlibrary *library, const char *path, CUjit_option *jit_options,
				       void **jit_values, unsigned int njit, CUlibraryOption *options, void **values,
				       unsigned int n)
{
	int dev = shim_current_device();

	(void)jit_options, (void)jit_values, (void)njit, (void)options, (void)values, (void)n;
	return load_file((CUmodule *)library, path, dev < 0 ? 0 : dev);
}

static CUresult library_unload(CUlibrary library)
{
	return module_unload((CUmodule)library);
}

static CUresult library_get_kernel(CUkernel *kernel, CUlibrary library, const char *name)
{
	return module_get_function((CUfunction *)kernel, (CUmodule)library, name);
}

static CUresult library_get_module(CUmodule *module, CUlibrary library)
{
	if (!module || !library)
		return CUDA_ERROR_INVALID_VALUE;
	*module = (CUmodule)library;
	return CUDA_SUCCESS;
}

static CUresult kernel_get_function(CUfunction *fn, CUkernel kernel)
{
	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	if (!shim_function((CUfunction)kernel))
		return CUDA_ERROR_INVALID_HANDLE;
	*fn = (CUfunction)kernel;
	return CUDA_SUCCESS;
}

static CUresult func_get_module(CUmodule *module, CUfunction hfunc)
{
	struct shim_function *f = shim_function(hfunc);

	if (!module)
		return CUDA_ERROR_INVALID_VALUE;
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*module = (CUmodule)(uintptr_t)f->module;
	return CUDA_SUCCESS;
}

static CUresult kernel_get_library(CUlibrary *library, CUkernel kernel)
{
	return func_get_module((CUmodule *)library, (CUfunction)kernel);
}

static CUresult func_get_name(const char **name, CUfunction hfunc)
{
	struct shim_function *f = shim_function(hfunc);

	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*name = f->name;
	return CUDA_SUCCESS;
}

static CUresult kernel_get_param_info(CUkernel kernel, size_t index, size_t *offset, size_t *size)
{
	return func_get_param_info((CUfunction)kernel, index, offset, size);
}

static CUresult kernel_get_name(const char **name, CUkernel kernel)
{
	return func_get_name(name, (CUfunction)kernel);
}

/* The server loads modules at once, as CUDA_MODULE_LOADING=EAGER would; the
 * program is told what it asked for, so that it resolves kernels lazily. */
static CUresult module_get_loading_mode(CUmoduleLoadingMode *mode)
{
	const char *v = getenv("CUDA_MODULE_LOADING");

	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	*mode = v && !strcmp(v, "EAGER") ? CU_MODULE_EAGER_LOADING : CU_MODULE_LAZY_LOADING;
	return CUDA_SUCCESS;
}

CUresult shim_module_get_global(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
	static struct omps_call_get_function m; /* large; shim_call's lock guards it */
	struct omps_reply_global rep = {{0}, 0, 0};
	CUresult r;

	if (!name || strlen(name) >= sizeof(m.name))
		return CUDA_ERROR_INVALID_VALUE;
	m.module = (uint32_t)(uintptr_t)hmod;
	strcpy(m.name, name);
	r = shim_call(OMPS_CALL_GET_GLOBAL, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	if (dptr)
		*dptr = rep.ptr;
	if (bytes)
		*bytes = rep.bytes;
	return CUDA_SUCCESS;
}

static CUresult library_get_global(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
	return shim_module_get_global(dptr, bytes, (CUmodule)library, name);
}

/* Attributes 0-7 (threads a block, static shared, constant and local
 * memory, registers, PTX and binary versions, cache mode) are the code's:
 * no call changes them, so each is asked of the server once. PyTorch asks
 * them about ten thousand times a model run (docs/traces). */
static int fixed_attr(CUfunction_attribute a)
{
	return a >= CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK && a <= CU_FUNC_ATTRIBUTE_CACHE_MODE_CA;
}

static CUresult func_attr(struct shim_function *f, CUfunction_attribute attrib, int set, int value, int *out)
{
	struct omps_call_func_attr m = {.attrib = attrib, .value = value, .set = (uint32_t)set};
	struct omps_reply_value rep = {{0}, 0};
	CUresult r;

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!set && !out)
		return CUDA_ERROR_INVALID_VALUE;
	if (!set && fixed_attr(attrib) && (__atomic_load_n(&f->attr_known, __ATOMIC_ACQUIRE) >> attrib & 1)) {
		*out = __atomic_load_n(&f->attr[attrib], __ATOMIC_RELAXED);
		return CUDA_SUCCESS;
	}
	m.function = f->handle;
	r = shim_call(OMPS_CALL_FUNC_ATTR, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && !set && fixed_attr(attrib)) {
		__atomic_store_n(&f->attr[attrib], (int)rep.value, __ATOMIC_RELAXED);
		__atomic_fetch_or(&f->attr_known, 1u << attrib, __ATOMIC_RELEASE);
	}
	if (r == CUDA_SUCCESS && !set)
		*out = (int)rep.value;
	/* The limit launches are checked against is the server's function's:
	 * another client sharing the module may have raised it (a lower one
	 * gets a copy of its own), and the runtime, having read it, sets it
	 * only when its launch needs more. */
	if (r == CUDA_SUCCESS && attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
		f->max_dynamic_smem = set ? value : (int)rep.value;
	return r;
}

static CUresult func_get_attribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
	return func_attr(shim_function(hfunc), attrib, 0, 0, pi);
}

static CUresult func_set_attribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
	return func_attr(shim_function(hfunc), attrib, 1, value, NULL);
}

/* A kernel is loaded on one device here: others are not its. */
static CUresult kernel_device(CUdevice dev)
{
	int cur = shim_current_device();

	return dev == (cur < 0 ? 0 : cur) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

static CUresult kernel_get_attribute(int *pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev)
{
	CUresult r = kernel_device(dev);

	return r != CUDA_SUCCESS ? r : func_attr(shim_function((CUfunction)kernel), attrib, 0, 0, pi);
}

static CUresult kernel_set_attribute(CUfunction_attribute attrib, int value, CUkernel kernel, CUdevice dev)
{
	CUresult r = kernel_device(dev);

	return r != CUDA_SUCCESS ? r : func_attr(shim_function((CUfunction)kernel), attrib, 1, value, NULL);
}

void shim_module_install(void)
{
	SHIM_INSTALL(cuModuleLoadData, shim_module_load);
	SHIM_INSTALL(cuModuleLoad, module_load);
	SHIM_INSTALL(cuModuleLoadFatBinary, module_load_fat_binary);
	SHIM_INSTALL(cuLibraryLoadFromFile, library_load_from_file);
	SHIM_INSTALL(cuModuleLoadDataEx, module_load_data_ex);
	SHIM_INSTALL(cuModuleUnload, module_unload);
	SHIM_INSTALL(cuModuleGetFunction, module_get_function);
	SHIM_INSTALL(cuModuleGetFunctionCount, module_get_function_count);
	SHIM_INSTALL(cuLibraryGetKernelCount, library_get_kernel_count);
	SHIM_INSTALL(cuModuleEnumerateFunctions, module_enumerate_functions);
	SHIM_INSTALL(cuLibraryEnumerateKernels, library_enumerate_kernels);
	SHIM_LOCAL(cuFuncGetParamInfo, func_get_param_info);
	SHIM_INSTALL(cuLibraryLoadData, library_load_data);
	SHIM_INSTALL(cuLibraryUnload, library_unload);
	SHIM_INSTALL(cuLibraryGetKernel, library_get_kernel);
	SHIM_LOCAL(cuLibraryGetModule, library_get_module);
	SHIM_INSTALL(cuLibraryGetGlobal, library_get_global);
	SHIM_LOCAL(cuKernelGetFunction, kernel_get_function);
	SHIM_LOCAL(cuKernelGetLibrary, kernel_get_library);
	SHIM_LOCAL(cuKernelGetName, kernel_get_name);
	SHIM_INSTALL(cuKernelGetAttribute, kernel_get_attribute);
	SHIM_INSTALL(cuKernelSetAttribute, kernel_set_attribute);
	SHIM_LOCAL(cuKernelGetParamInfo, kernel_get_param_info);
	SHIM_LOCAL(cuFuncGetModule, func_get_module);
	SHIM_LOCAL(cuFuncGetName, func_get_name);
	SHIM_INSTALL(cuFuncGetAttribute, func_get_attribute);
	SHIM_INSTALL(cuFuncSetAttribute, func_set_attribute);
	SHIM_LOCAL(cuModuleGetLoadingMode, module_get_loading_mode);
	SHIM_INSTALL(cuModuleGetGlobal_v2, shim_module_get_global);
}
