/* Modules and launches on a client's behalf. Images arrive in pieces and are
 * loaded in the client's chosen device's primary context; functions carry
 * their argument layout (cuFuncGetParamInfo), which the client uses to pack
 * arguments into one buffer, launched with CU_LAUNCH_PARAM_BUFFER_POINTER on
 * the client's stream. Handles are indexes into this client's own tables, so
 * a client cannot name another's module or function. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

static void image_data(struct srv_client *c, const unsigned char *data, size_t len)
{
	if (c->image_len + len > OMPS_MAX_IMAGE) {
		omps_log("Client process %d: module image larger than %u bytes", (int)c->pid, OMPS_MAX_IMAGE);
		c->image_len = 0;
		srv_deferred(c, CUDA_ERROR_INVALID_IMAGE);
		return;
	}
	if (c->image_len + len + 1 > c->image_cap) {
		uint64_t cap = (c->image_len + len + 1) * 2;
		unsigned char *p = realloc(c->image, cap);

		if (!p) {
			srv_deferred(c, CUDA_ERROR_OUT_OF_MEMORY);
			return;
		}
		c->image = p;
		c->image_cap = cap;
	}
	memcpy(c->image + c->image_len, data, len);
	c->image_len += len;
}

static void module_load(struct srv_client *c, const struct omps_call_module_load *m)
{
	struct omps_reply_handle rep;
	struct srv_module *mods;
	CUmodule mod = NULL;
	CUresult r = srv_use_device(c, m->dev, NULL);

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && (m->bytes != c->image_len || !c->image_len))
		r = CUDA_ERROR_INVALID_IMAGE;
	if (r == CUDA_SUCCESS) {
		/* The driver reads PTX up to a NUL: never past what the client sent. */
		c->image[c->image_len] = '\0';
		r = c->srv->drv->module_load_data(&mod, c->image);
	}
	c->image_len = 0;
	if (r == CUDA_SUCCESS) {
		mods = realloc(c->modules, (c->nmodules + 1) * sizeof(*mods));
		if (!mods) {
			c->srv->drv->module_unload(mod);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			c->modules = mods;
			mods[c->nmodules++] = (struct srv_module){.mod = mod, .dev = m->dev};
			rep.handle = c->nmodules;
		}
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

static struct srv_module *module_of(struct srv_client *c, uint32_t handle)
{
	if (!handle || handle > c->nmodules || !c->modules[handle - 1].mod)
		return NULL;
	return &c->modules[handle - 1];
}

static struct srv_function *function_of(struct srv_client *c, uint32_t handle)
{
	if (!handle || handle > c->nfunctions)
		return NULL;
	return c->functions[handle - 1];
}

static CUresult unload(struct srv_client *c, uint32_t handle)
{
	struct srv_module *m = module_of(c, handle);
	uint32_t i;
	CUresult r;

	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	r = srv_sync_device(c, m->dev); /* launches in flight, on any stream, may use it */
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->module_unload(m->mod);
	m->mod = NULL;
	for (i = 0; i < c->nfunctions; i++) {
		if (c->functions[i] && c->functions[i]->module == handle) {
			free(c->functions[i]);
			c->functions[i] = NULL;
		}
	}
	return r;
}

/* Asks the driver for each parameter's place until it says there is none. */
static CUresult describe(struct srv_client *c, struct srv_function *f)
{
	size_t i;

	for (i = 0; i < OMPS_MAX_PARAMS; i++) {
		size_t off, size;
		CUresult r = c->srv->drv->func_get_param_info(f->fn, i, &off, &size);

		if (r == CUDA_ERROR_INVALID_VALUE)
			return CUDA_SUCCESS;
		if (r != CUDA_SUCCESS)
			return r;
		f->params[i] = (struct omps_param){(uint32_t)off, (uint32_t)size};
		f->nparams = (uint32_t)i + 1;
		if (off + size > f->args_size)
			f->args_size = (uint32_t)(off + size);
	}
	return CUDA_ERROR_NOT_SUPPORTED; /* more parameters than a client can be told of */
}

static void get_function(struct srv_client *c, const struct omps_call_get_function *m)
{
	struct omps_reply_function rep;
	struct srv_module *mod = module_of(c, m->module);
	struct srv_function *f = NULL, **fs;
	CUresult r = mod ? srv_use_device(c, mod->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !memchr(m->name, '\0', sizeof(m->name)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !(f = calloc(1, sizeof(*f))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->module_get_function(&f->fn, mod->mod, m->name);
	if (r == CUDA_SUCCESS)
		r = describe(c, f);
	if (r == CUDA_SUCCESS && !(fs = realloc(c->functions, (c->nfunctions + 1) * sizeof(*fs))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		f->module = m->module;
		c->functions = fs;
		c->functions[c->nfunctions++] = f;
		rep.handle = c->nfunctions;
		rep.nparams = f->nparams;
		memcpy(rep.params, f->params, sizeof(rep.params));
	} else {
		free(f);
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

static void launch(struct srv_client *c, const struct omps_call_launch *m, const unsigned char *args, size_t len)
{
	struct srv_function *f = function_of(c, m->function);
	size_t size = f ? f->args_size : 0; /* the layout's size, whatever the client's buffer */
	void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, (void *)args, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
			 CU_LAUNCH_PARAM_END};
	CUstream s;
	CUresult r = f ? srv_stream(c, m->stream, m->dev, &s) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && (m->args_size != len || len < f->args_size))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->launch_kernel(f->fn, m->grid[0], m->grid[1], m->grid[2], m->block[0], m->block[1],
					       m->block[2], m->shared_mem, s, NULL, size ? extra : NULL);
	srv_deferred(c, r);
}

void srv_module_call(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len)
{
	union {
		struct omps_call_module_load load;
		struct omps_call_handle handle;
		struct omps_call_get_function get;
		struct omps_call_launch launch;
	} m;
	size_t need = type == OMPS_CALL_MODULE_LOAD	? sizeof(m.load)
		      : type == OMPS_CALL_MODULE_UNLOAD ? sizeof(m.handle)
		      : type == OMPS_CALL_GET_FUNCTION	? sizeof(m.get)
		      : type == OMPS_CALL_LAUNCH	? sizeof(m.launch)
							: 0;

	if (type == OMPS_CALL_IMAGE_DATA) {
		image_data(c, rec, len);
		return;
	}
	if (len < need || (type != OMPS_CALL_LAUNCH && len != need)) {
		omps_log("Client process %d: malformed call %u (%zu bytes)", (int)c->pid, type, len);
		srv_deferred(c, CUDA_ERROR_INVALID_VALUE);
		return;
	}
	memcpy(&m, rec, need);
	if (type == OMPS_CALL_MODULE_LOAD)
		module_load(c, &m.load);
	else if (type == OMPS_CALL_MODULE_UNLOAD)
		srv_reply_result(c, unload(c, m.handle.handle));
	else if (type == OMPS_CALL_GET_FUNCTION)
		get_function(c, &m.get);
	else
		launch(c, &m.launch, rec + need, len - need);
}

void srv_module_release(struct srv_client *c)
{
	uint32_t i;

	for (i = 0; i < c->nmodules; i++)
		if (c->modules[i].mod)
			unload(c, i + 1);
	for (i = 0; i < c->nfunctions; i++)
		free(c->functions[i]);
	free(c->functions);
	free(c->modules);
	free(c->image);
}
