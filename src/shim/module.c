/* Modules and launches in remote mode. An image's size comes from its own
 * header (ELF cubin, fatbin) or its terminating NUL (PTX); it is sent in
 * pieces, then loaded by the server. A function handle is the client's copy
 * of the function's argument layout, so cuFuncGetParamInfo needs no round
 * trip and cuLaunchKernel packs kernelParams into one buffer, posted without
 * waiting. */
#include <elf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define FUNCTION_MAGIC 0x666e6374u
#define FATBIN_MAGIC   0xba55ed50u

struct omps_function {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	uint32_t module;
	struct omps_function *next; /* all functions, to free a module's on unload */
	uint32_t handle;
	uint32_t nparams;
	uint32_t args_size;
	struct omps_param params[OMPS_MAX_PARAMS];
};

static struct omps_function *functions;
static pthread_mutex_t functions_lock = PTHREAD_MUTEX_INITIALIZER;

/* A module's functions die with it, as the driver's do. */
static void forget_functions(uint32_t module)
{
	struct omps_function **pp = &functions, *f;

	pthread_mutex_lock(&functions_lock);
	while ((f = *pp)) {
		if (f->module == module) {
			*pp = f->next;
			f->magic = 0;
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

static size_t image_size(const void *image)
{
	const unsigned char *p = image;
	uint32_t magic;

	if (!memcmp(p, ELFMAG, SELFMAG) && p[EI_CLASS] == ELFCLASS64)
		return elf_size(p);
	memcpy(&magic, p, sizeof(magic));
	if (magic == FATBIN_MAGIC) {
		struct {
			uint32_t magic;
			uint16_t version, header_size;
			uint64_t fat_size;
		} h;

		memcpy(&h, p, sizeof(h));
		return h.header_size + h.fat_size;
	}
	return strlen(image) + 1; /* PTX text */
}

static CUresult module_load_data(CUmodule *module, const void *image)
{
	struct omps_call_module_load m;
	struct omps_reply_handle rep = {{0}, 0, 0};
	size_t size, off, chunk = omps_post_max();
	CUresult r = CUDA_SUCCESS;

	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	m.dev = omps_current_device();
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	size = image_size(image);
	if (size > OMPS_MAX_IMAGE)
		return CUDA_ERROR_INVALID_IMAGE;
	for (off = 0; off < size && r == CUDA_SUCCESS; off += chunk)
		r = omps_post(OMPS_CALL_IMAGE_DATA, NULL, 0, (const char *)image + off,
			      size - off < chunk ? size - off : chunk);
	m.bytes = size;
	if (r == CUDA_SUCCESS)
		r = omps_call(OMPS_CALL_MODULE_LOAD, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		*module = (CUmodule)(uintptr_t)rep.handle;
	return r;
}

/* JIT options are not remoted yet: the image is loaded with the server's defaults. */
static CUresult module_load_data_ex(CUmodule *module, const void *image, unsigned int n, CUjit_option *options,
				    void **values)
{
	(void)n, (void)options, (void)values;
	return module_load_data(module, image);
}

static CUresult module_unload(CUmodule hmod)
{
	struct omps_call_handle m = {.handle = (uint32_t)(uintptr_t)hmod};
	struct omps_reply rep;
	CUresult r = omps_call(OMPS_CALL_MODULE_UNLOAD, &m, sizeof(m), &rep, sizeof(rep));

	if (r == CUDA_SUCCESS)
		forget_functions(m.handle);
	return r;
}

static CUresult module_get_function(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	static struct omps_call_get_function m;
	static struct omps_reply_function rep;
	struct omps_function *f;
	CUresult r;

	if (!hfunc || !name)
		return CUDA_ERROR_INVALID_VALUE;
	if (strlen(name) >= sizeof(m.name))
		return CUDA_ERROR_NOT_FOUND;
	f = calloc(1, sizeof(*f));
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	/* m and rep are large; omps_call's lock guards them. */
	m.module = (uint32_t)(uintptr_t)hmod;
	strcpy(m.name, name);
	r = omps_call(OMPS_CALL_GET_FUNCTION, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS || rep.nparams > OMPS_MAX_PARAMS) {
		free(f);
		return r != CUDA_SUCCESS ? r : CUDA_ERROR_MPS_RPC_FAILURE;
	}
	*f = (struct omps_function){.magic = FUNCTION_MAGIC, .module = m.module, .handle = rep.handle,
				    .nparams = rep.nparams};
	memcpy(f->params, rep.params, sizeof(f->params[0]) * rep.nparams);
	for (uint32_t i = 0; i < f->nparams; i++)
		if (f->params[i].offset + f->params[i].size > f->args_size)
			f->args_size = f->params[i].offset + f->params[i].size;
	pthread_mutex_lock(&functions_lock);
	f->next = functions;
	functions = f;
	pthread_mutex_unlock(&functions_lock);
	*hfunc = (CUfunction)f;
	return CUDA_SUCCESS;
}

static struct omps_function *function(CUfunction hfunc)
{
	struct omps_function *f = (struct omps_function *)hfunc;

	return f && f->magic == FUNCTION_MAGIC ? f : NULL;
}

static CUresult func_get_param_info(CUfunction hfunc, size_t index, size_t *offset, size_t *size)
{
	struct omps_function *f = function(hfunc);

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!offset || !size || index >= f->nparams)
		return CUDA_ERROR_INVALID_VALUE;
	*offset = f->params[index].offset;
	*size = f->params[index].size;
	return CUDA_SUCCESS;
}

/* The packed arguments: from `extra` as given, or from kernelParams laid
 * out as the server described the function. */
static CUresult pack(struct omps_function *f, void **params, void **extra, unsigned char *buf,
		     const void **args, size_t *len)
{
	uint32_t i;

	if (extra) {
		const void *p = NULL;
		size_t *n = NULL;

		for (i = 0; extra[i] != CU_LAUNCH_PARAM_END && i < 8; i += 2) {
			if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
				p = extra[i + 1];
			else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE)
				n = extra[i + 1];
			else
				return CUDA_ERROR_INVALID_VALUE;
		}
		if (!p || !n)
			return CUDA_ERROR_INVALID_VALUE;
		*args = p;
		*len = *n;
		return CUDA_SUCCESS;
	}
	if (f->nparams && !params)
		return CUDA_ERROR_INVALID_VALUE;
	memset(buf, 0, f->args_size);
	for (i = 0; i < f->nparams; i++)
		memcpy(buf + f->params[i].offset, params[i], f->params[i].size);
	*args = buf;
	*len = f->args_size;
	return CUDA_SUCCESS;
}

static CUresult launch_kernel(CUfunction hfunc, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
			      unsigned int by, unsigned int bz, unsigned int smem, CUstream stream, void **params,
			      void **extra)
{
	static __thread unsigned char buf[32768];
	struct omps_function *f = function(hfunc);
	struct omps_call_launch m;
	const void *args;
	size_t len;
	CUresult r;

	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (f->args_size > sizeof(buf))
		return CUDA_ERROR_INVALID_VALUE;
	m = (struct omps_call_launch){.function = f->handle, .dev = omps_current_device(), .grid = {gx, gy, gz},
				      .block = {bx, by, bz}, .shared_mem = smem};
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = omps_stream_handle(stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	r = pack(f, params, extra, buf, &args, &len);
	if (r != CUDA_SUCCESS)
		return r;
	if (len > omps_post_max() - sizeof(m))
		return CUDA_ERROR_INVALID_VALUE;
	m.args_size = (uint32_t)len;
	return omps_post(OMPS_CALL_LAUNCH, &m, sizeof(m), args, len);
}

void omps_module_install(void)
{
	OMPS_INSTALL(cuModuleLoadData, module_load_data);
	OMPS_INSTALL(cuModuleLoadDataEx, module_load_data_ex);
	OMPS_INSTALL(cuModuleUnload, module_unload);
	OMPS_INSTALL(cuModuleGetFunction, module_get_function);
	OMPS_INSTALL(cuFuncGetParamInfo, func_get_param_info);
	OMPS_INSTALL(cuLaunchKernel, launch_kernel);
	OMPS_INSTALL(cuLaunchKernel_ptsz, launch_kernel);
}
