/* The JIT linker in remote mode (cuLink*): the server links (link.c there),
 * the program gets the linked image in its own memory, as the driver gives
 * it, valid until cuLinkDestroy. Files are read here, since the server may
 * not see the client's files. The options whose values are numbers travel;
 * the log buffers and the wall time are the program's addresses: the server
 * keeps logs of the same sizes, read back after each call that may write
 * them, and the wall time comes in the reply. Options that pass other
 * addresses (global symbol tables, referenced names) are refused with a line. */
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define LINK_MAGIC 0x6c6e6b73u

struct shim_link {
	uint32_t magic; /* first: all that is read of a handle before it is trusted */
	uint32_t handle;
	char *log[2];	     /* the program's info and error log buffers */
	size_t cap[2];	     /* their sizes */
	void **filled[2];    /* the program's *_LOG_BUFFER_SIZE_BYTES slots: out values */
	void **wall;	     /* its CU_JIT_WALL_TIME slot */
	unsigned char *cubin; /* after a complete: the image, the program's until destroy */
};

static struct shim_link *link_of(CUlinkState h)
{
	struct shim_link *l = (struct shim_link *)h;

	return l && l->magic == LINK_MAGIC ? l : NULL;
}

/* The program's options into wire options (the scalars), and what l must
 * remember of the others; CUDA_ERROR_NOT_SUPPORTED for one that passes an
 * address the server cannot write. */
static CUresult take_options(struct shim_link *l, unsigned n, const CUjit_option *opt, void **val,
			     struct omps_jit_option *out, uint32_t *nout)
{
	unsigned i;

	if (n && (!opt || !val))
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < n; i++) {
		uint32_t o = (uint32_t)opt[i];

		if (omps_jit_scalar(o)) {
			if (*nout >= OMPS_LINK_MAX_OPTIONS)
				return CUDA_ERROR_INVALID_VALUE;
			out[(*nout)++] = (struct omps_jit_option){.option = o, .value = (uint64_t)(uintptr_t)val[i]};
		} else if (l && (o == CU_JIT_INFO_LOG_BUFFER || o == CU_JIT_ERROR_LOG_BUFFER)) {
			l->log[o == CU_JIT_ERROR_LOG_BUFFER] = val[i];
		} else if (l && (o == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES || o == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)) {
			l->cap[o == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES] = (uintptr_t)val[i];
			l->filled[o == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES] = &val[i];
		} else if (l && o == CU_JIT_WALL_TIME) {
			l->wall = &val[i];
		} else if (o <= CU_JIT_SPLIT_COMPILE) {
			return shim_unsupported("a JIT option that passes addresses (global symbols, referenced names)");
		} else {
			return CUDA_ERROR_INVALID_VALUE;
		}
	}
	return CUDA_SUCCESS;
}

/* One log into the program's buffer, NUL-terminated within its size. */
static CUresult read_log(struct shim_link *l, int which, uint32_t bytes, uint64_t filled)
{
	struct omps_call_link_read m = {.handle = l->handle, .part = which ? OMPS_LINK_ERROR_LOG : OMPS_LINK_INFO_LOG};
	char *text;
	CUresult r;

	if (!l->log[which] || !l->cap[which])
		return CUDA_SUCCESS;
	m.bytes = bytes;
	if (!(text = malloc((size_t)bytes + 1)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = bytes ? shim_call_read(OMPS_CALL_LINK_READ, &m, sizeof(m), text, bytes) : CUDA_SUCCESS;
	if (r == CUDA_SUCCESS) {
		size_t n = bytes < l->cap[which] - 1 ? bytes : l->cap[which] - 1;

		memcpy(l->log[which], text, n);
		l->log[which][n] = '\0';
		if (l->filled[which])
			*l->filled[which] = (void *)(uintptr_t)filled;
	}
	free(text);
	return r;
}

/* After a call that may have written them: the logs and the wall time. */
static CUresult take_reply(struct shim_link *l, const struct omps_reply_link *rep)
{
	CUresult r = read_log(l, 0, rep->info_bytes, rep->info_filled);

	if (r == CUDA_SUCCESS)
		r = read_log(l, 1, rep->error_bytes, rep->error_filled);
	if (l->wall)
		memcpy(l->wall, &rep->wall_ms, sizeof(rep->wall_ms)); /* a float in the slot, as the driver writes it */
	return r;
}

static CUresult link_create(unsigned int n, CUjit_option *options, void **values, CUlinkState *out)
{
	struct omps_call_link_create m = {.dev = shim_current_device()};
	struct omps_reply_handle rep = {{0}, 0, 0};
	struct shim_link *l;
	CUresult r;

	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!(l = calloc(1, sizeof(*l))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = take_options(l, n, options, values, m.opts, &m.nopts);
	m.info_log = l->log[0] && l->cap[0] ? (uint32_t)(l->cap[0] < OMPS_LINK_MAX_LOG ? l->cap[0] : OMPS_LINK_MAX_LOG) : 0;
	m.error_log = l->log[1] && l->cap[1] ? (uint32_t)(l->cap[1] < OMPS_LINK_MAX_LOG ? l->cap[1] : OMPS_LINK_MAX_LOG) : 0;
	m.wall_time = l->wall != NULL;
	if (r == CUDA_SUCCESS)
		r = shim_call(OMPS_CALL_LINK_CREATE, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS) {
		free(l);
		return r;
	}
	l->magic = LINK_MAGIC;
	l->handle = rep.handle;
	*out = (CUlinkState)l;
	return CUDA_SUCCESS;
}

static CUresult link_add_data(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
			      unsigned int n, CUjit_option *options, void **values)
{
	struct shim_link *l = link_of(state);
	struct omps_call_link_add m = {.type = (uint32_t)type, .bytes = size};
	struct omps_reply_link rep;
	CUresult r;

	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!data || !size || (unsigned)type >= CU_JIT_NUM_INPUT_TYPES)
		return CUDA_ERROR_INVALID_VALUE;
	r = take_options(NULL, n, options, values, m.opts, &m.nopts);
	if (r != CUDA_SUCCESS)
		return r;
	m.handle = l->handle;
	if (name)
		strncpy(m.name, name, sizeof(m.name) - 1);
	memset(&rep, 0, sizeof(rep));
	r = shim_send_image(data, size, OMPS_CALL_LINK_ADD, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS || rep.r.result == (int32_t)r) /* the logs say why it failed */
		take_reply(l, &rep);
	return r;
}

static CUresult link_add_file(CUlinkState state, CUjitInputType type, const char *path, unsigned int n,
			      CUjit_option *options, void **values)
{
	unsigned char *buf;
	size_t bytes;
	CUresult r;

	if (!link_of(state))
		return CUDA_ERROR_INVALID_HANDLE;
	r = shim_read_file(path, &buf, &bytes);
	if (r != CUDA_SUCCESS)
		return r;
	/* PTX goes with its NUL, as the driver reads it. */
	r = link_add_data(state, type, buf, type == CU_JIT_INPUT_PTX ? bytes + 1 : bytes, path, n, options, values);
	free(buf);
	return r;
}

static CUresult link_complete(CUlinkState state, void **cubin, size_t *size)
{
	struct shim_link *l = link_of(state);
	struct omps_call_handle m;
	struct omps_call_link_read rd;
	struct omps_reply_link rep;
	unsigned char *image;
	CUresult r;

	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!cubin || !size)
		return CUDA_ERROR_INVALID_VALUE;
	m.handle = l->handle;
	memset(&rep, 0, sizeof(rep));
	r = shim_call(OMPS_CALL_LINK_COMPLETE, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS || rep.r.result == (int32_t)r)
		take_reply(l, &rep);
	if (r != CUDA_SUCCESS)
		return r;
	if (!rep.cubin_bytes || rep.cubin_bytes > OMPS_MAX_IMAGE || !(image = malloc(rep.cubin_bytes)))
		return rep.cubin_bytes && rep.cubin_bytes <= OMPS_MAX_IMAGE ? CUDA_ERROR_OUT_OF_MEMORY
									   : CUDA_ERROR_MPS_RPC_FAILURE;
	rd = (struct omps_call_link_read){.handle = l->handle, .part = OMPS_LINK_CUBIN, .bytes = rep.cubin_bytes};
	r = shim_call_read(OMPS_CALL_LINK_READ, &rd, sizeof(rd), image, rep.cubin_bytes);
	if (r != CUDA_SUCCESS) {
		free(image);
		return r;
	}
	free(l->cubin);
	l->cubin = image;
	*cubin = image;
	*size = rep.cubin_bytes;
	return CUDA_SUCCESS;
}

static CUresult link_destroy(CUlinkState state)
{
	struct shim_link *l = link_of(state);
	struct omps_call_handle m;
	struct omps_reply rep;
	CUresult r;

	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	m.handle = l->handle;
	r = shim_call(OMPS_CALL_LINK_DESTROY, &m, sizeof(m), &rep, sizeof(rep));
	l->magic = 0;
	free(l->cubin);
	free(l);
	return r;
}

CUresult shim_link_load(CUmodule *module, const char *ptx, unsigned int n, CUjit_option *options, void **values)
{
	CUlinkState st = NULL;
	void *cubin = NULL;
	size_t size = 0;
	CUresult r = link_create(n, options, values, &st);

	if (r == CUDA_SUCCESS)
		r = link_add_data(st, CU_JIT_INPUT_PTX, (void *)ptx, strlen(ptx) + 1, "module", 0, NULL, NULL);
	if (r == CUDA_SUCCESS)
		r = link_complete(st, &cubin, &size);
	if (r == CUDA_SUCCESS)
		r = shim_module_load(module, cubin);
	if (st)
		link_destroy(st);
	return r;
}

void shim_link_install(void)
{
	SHIM_INSTALL(cuLinkCreate_v2, link_create);
	SHIM_INSTALL(cuLinkAddData_v2, link_add_data);
	SHIM_INSTALL(cuLinkAddFile_v2, link_add_file);
	SHIM_INSTALL(cuLinkComplete, link_complete);
	SHIM_INSTALL(cuLinkDestroy, link_destroy);
	/* The first ABI's names take the same arguments. */
	SHIM_UNTYPED(cuLinkCreate, link_create);
	SHIM_UNTYPED(cuLinkAddData, link_add_data);
	SHIM_UNTYPED(cuLinkAddFile, link_add_file);
}
