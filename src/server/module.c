/* Modules on a client's behalf. Images arrive in pieces and are loaded in the
 * client's chosen device's primary context; functions carry their argument
 * layout (cuFuncGetParamInfo), which the client uses to pack arguments into
 * one buffer (launch.c launches them). Handles are indexes into this client's own tables, so
 * a client cannot name another's module or function.
 *
 * Clients that load the same image share one module when the image holds no
 * module data (image.h): no variable one client could see another change.
 * A client that asks for a global of a shared module, or sets a function
 * attribute other than raising the dynamic shared memory, gets a copy of its
 * own first, so that nothing it does reaches another client. */
#include <nettle/sha2.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "server.h"

/* The image buffer a client keeps between its loads: a larger one is
 * given back after its load. */
#define IMAGE_KEPT (1u << 20)

void srv_module_image_data(struct srv_client *c, const unsigned char *data, size_t len)
{
	if (c->mod.image_len + len > OMPS_MAX_IMAGE) {
		omps_log("Client process %d: module image larger than %u bytes", (int)c->pid, OMPS_MAX_IMAGE);
		c->mod.image_len = 0;
		srv_deferred(c, CUDA_ERROR_INVALID_IMAGE);
		return;
	}
	if (c->mod.image_len + len + 1 > c->mod.image_cap) {
		uint64_t cap = (c->mod.image_len + len + 1) * 2;
		unsigned char *p = realloc(c->mod.image, cap);

		if (!p) {
			srv_deferred(c, CUDA_ERROR_OUT_OF_MEMORY);
			return;
		}
		c->mod.image = p;
		c->mod.image_cap = cap;
	}
	memcpy(c->mod.image + c->mod.image_len, data, len);
	c->mod.image_len += len;
}

void srv_module_image_used(struct srv_client *c)
{
	if (c->holding) /* served again, by this server or the one made anew: with its image */
		return;
	c->mod.image_len = 0;
	if (c->mod.image_cap > IMAGE_KEPT) { /* a large image's buffer is not kept for the client's life (L2) */
		free(c->mod.image);
		c->mod.image = NULL;
		c->mod.image_cap = 0;
	}
}

void srv_module_image_save(const struct srv_client *c, struct srv_pack *p)
{
	srv_pack_put(p, &c->mod.image_len, sizeof(c->mod.image_len));
	srv_pack_put(p, c->mod.image, c->mod.image_len);
}

int srv_module_image_restore(struct srv_client *c, struct srv_unpack *u)
{
	uint64_t len = 0;

	if (srv_unpack_get(u, &len, sizeof(len)) < 0 || len > OMPS_MAX_IMAGE || len > u->len - u->off) {
		u->failed = 1;
		return -1;
	}
	if (!len)
		return 0;
	if (!(c->mod.image = malloc(len + 1))) {
		u->off += len; /* the reader stays in step */
		return -1;
	}
	c->mod.image_cap = len + 1;
	c->mod.image_len = len;
	return srv_unpack_get(u, c->mod.image, len);
}

static void hash_of(const unsigned char *image, uint64_t len, unsigned char hash[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx h;

	sha256_init(&h);
	sha256_update(&h, len, image);
	sha256_digest(&h, SHA256_DIGEST_SIZE, hash);
}

struct srv_kept_image *srv_module_keep_image(struct srv_client *c, const unsigned char *image, uint64_t len)
{
	struct srv_state *s = c->srv;
	struct srv_kept_image *k;
	unsigned char hash[SHA256_DIGEST_SIZE];

	if (len > SRV_KEPT_IMAGES_MAX - c->mod.kept_image_bytes)
		return NULL;
	hash_of(image, len, hash);
	pthread_mutex_lock(&s->modules_lock);
	for (k = s->kept_images; k; k = k->next)
		if (k->len == len && !memcmp(k->hash, hash, sizeof(hash)))
			break;
	if (!k && (k = calloc(1, sizeof(*k))) && !(k->image = srv_image_alloc(len, &k->image_fd))) {
		free(k);
		k = NULL;
	} else if (k && !k->refs) {
		memcpy(k->image, image, len);
		k->image[len] = '\0';
		memcpy(k->hash, hash, sizeof(hash));
		k->len = len;
		k->next = s->kept_images;
		s->kept_images = k;
	}
	if (k) {
		k->refs++;
		c->mod.kept_image_bytes += len;
	}
	pthread_mutex_unlock(&s->modules_lock);
	return k;
}

unsigned char *srv_image_alloc(uint64_t len, int *fd)
{
	unsigned char *p;

	*fd = memfd_create("openmps-image", MFD_CLOEXEC);
	if (*fd >= 0 && srv_handover_fd_keepable(*fd) && ftruncate(*fd, (off_t)(len + 1)) == 0 &&
	    (p = mmap(NULL, len + 1, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0)) != MAP_FAILED)
		return p;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return malloc(len + 1);
}

void srv_image_free(unsigned char *image, uint64_t len, int fd)
{
	if (fd < 0) {
		free(image);
		return;
	}
	munmap(image, len + 1);
	close(fd);
}

void srv_module_drop_image(struct srv_client *c, struct srv_kept_image *k)
{
	struct srv_state *s = c->srv;
	struct srv_kept_image **pp;

	if (!k)
		return;
	c->mod.kept_image_bytes -= k->len;
	pthread_mutex_lock(&s->modules_lock);
	if (--k->refs == 0) {
		for (pp = &s->kept_images; *pp != k; pp = &(*pp)->next)
			;
		*pp = k->next;
		srv_image_free(k->image, k->len, k->image_fd);
		free(k);
	}
	pthread_mutex_unlock(&s->modules_lock);
}

void srv_module_prune(struct srv_state *s)
{
	struct srv_shared_module **m = &s->shared_modules, *gone;
	struct srv_kept_image **k = &s->kept_images, *lost;

	pthread_mutex_lock(&s->modules_lock);
	while (*m) {
		if ((*m)->refs) {
			m = &(*m)->next;
			continue;
		}
		gone = *m;
		*m = gone->next;
		s->drv->module_unload(gone->mod);
		srv_image_free(gone->image, gone->len, gone->image_fd);
		free(gone);
	}
	while (*k) {
		if ((*k)->refs) {
			k = &(*k)->next;
			continue;
		}
		lost = *k;
		*k = lost->next;
		srv_image_free(lost->image, lost->len, lost->image_fd);
		free(lost);
	}
	pthread_mutex_unlock(&s->modules_lock);
}

/* The shared module for this image on dev, loaded if it is not yet. */
static CUresult load_shared(struct srv_client *c, int dev, const unsigned char *image, uint64_t len,
			    struct srv_shared_module **out)
{
	struct srv_state *s = c->srv;
	struct srv_shared_module *m;
	unsigned char hash[SHA256_DIGEST_SIZE];
	CUresult r = CUDA_SUCCESS;

	hash_of(image, len, hash);
	pthread_mutex_lock(&s->modules_lock);
	for (m = s->shared_modules; m; m = m->next)
		if (m->dev == dev && m->len == len && !memcmp(m->hash, hash, sizeof(hash)))
			break;
	if (m) {
		if (++m->refs == 2)
			omps_log("Module image of %llu bytes (SHA-256 %02x%02x%02x%02x...) shared between clients",
				 (unsigned long long)len, hash[0], hash[1], hash[2], hash[3]);
	} else if (!(m = calloc(1, sizeof(*m))) || !(m->image = srv_image_alloc(len, &m->image_fd))) {
		free(m);
		m = NULL;
		r = CUDA_ERROR_OUT_OF_MEMORY;
	} else {
		memcpy(m->image, image, len + 1); /* with the NUL after it */
		r = s->drv->module_load_data(&m->mod, m->image);
		if (r == CUDA_SUCCESS) {
			memcpy(m->hash, hash, sizeof(hash));
			m->len = len, m->dev = dev, m->refs = 1;
			m->next = s->shared_modules;
			s->shared_modules = m;
		} else {
			srv_image_free(m->image, len, m->image_fd);
			free(m);
			m = NULL;
		}
	}
	pthread_mutex_unlock(&s->modules_lock);
	*out = m;
	return r;
}

static CUresult unload_shared(struct srv_client *c, struct srv_shared_module *m)
{
	struct srv_state *s = c->srv;
	struct srv_shared_module **pp;
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&s->modules_lock);
	if (--m->refs == 0) {
		for (pp = &s->shared_modules; *pp != m; pp = &(*pp)->next)
			;
		*pp = m->next;
		r = s->drv->module_unload(m->mod);
		srv_image_free(m->image, m->len, m->image_fd);
		free(m);
	}
	pthread_mutex_unlock(&s->modules_lock);
	return r;
}

/* OPENMPS_SHARE_MODULES=0 (the server's environment): every client loads its
 * own modules, as NVIDIA MPS does: a way to tell whether sharing is at fault. */
static int sharing(void)
{
	const char *v = getenv("OPENMPS_SHARE_MODULES");

	return !v || strcmp(v, "0");
}

void srv_module_load(struct srv_client *c, const struct omps_call_module_load *m)
{
	struct omps_reply_handle rep;
	struct srv_shared_module *shared = NULL;
	struct srv_kept_image *kept = NULL;
	struct srv_module *mods;
	CUmodule mod = NULL;
	uint64_t data = 0;
	int64_t writable = 0;
	CUresult r = srv_use_device(c, m->dev, NULL);

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && (m->bytes != c->mod.image_len || !c->mod.image_len))
		r = CUDA_ERROR_INVALID_IMAGE;
	if (r == CUDA_SUCCESS) {
		/* The driver reads PTX up to a NUL: never past what the client sent. */
		c->mod.image[c->mod.image_len] = '\0';
		if (sharing() && srv_image_shareable(c->mod.image, c->mod.image_len)) {
			r = load_shared(c, m->dev, c->mod.image, c->mod.image_len, &shared);
			mod = shared ? shared->mod : NULL;
		} else {
			data = srv_image_data_bytes(c->mod.image, c->mod.image_len);
			writable = srv_image_writable_bytes(c->mod.image, c->mod.image_len);
			r = srv_qos_mem_check(c, m->dev, data, "a module's data");
			if (r == CUDA_SUCCESS)
				r = c->srv->drv->module_load_data(&mod, c->mod.image);
			if (r == CUDA_SUCCESS)
				kept = srv_module_keep_image(c, c->mod.image, c->mod.image_len);
		}
	}
	if (r == CUDA_SUCCESS) {
		mods = realloc(c->mod.modules, (c->mod.nmodules + 1) * sizeof(*mods));
		if (!mods) {
			if (shared)
				unload_shared(c, shared);
			else
				c->srv->drv->module_unload(mod);
			srv_module_drop_image(c, kept);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			c->mod.modules = mods;
			mods[c->mod.nmodules++] = (struct srv_module){.mod = mod,
								      .dev = m->dev,
								      .shared = shared,
								      .data_bytes = data,
								      .writable = writable,
								      .image = kept};
			rep.handle = c->mod.nmodules;
			if (kept && writable) /* where its variables are, to copy them as it goes idle */
				srv_moddata_init(c, &mods[rep.handle - 1], kept->image, kept->len);
			c->mod.data_bytes[m->dev] += data;
			srv_qos_usage_changed(c, 0);
		}
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_module_image_used(c);
	srv_reply(c, &rep, sizeof(rep));
}

static struct srv_module *module_of(struct srv_client *c, uint32_t handle)
{
	if (!handle || handle > c->mod.nmodules || !c->mod.modules[handle - 1].mod || c->mod.modules[handle - 1].kept) {
		srv_bad_handle(c, "module", handle);
		return NULL;
	}
	return &c->mod.modules[handle - 1];
}

void **srv_function_extra(const struct srv_function *f, const void *args, void **extra, size_t *size)
{
	*size = f->args_size;
	extra[0] = CU_LAUNCH_PARAM_BUFFER_POINTER;
	extra[1] = (void *)args;
	extra[2] = CU_LAUNCH_PARAM_BUFFER_SIZE;
	extra[3] = size;
	extra[4] = CU_LAUNCH_PARAM_END;
	return *size ? extra : NULL;
}

void srv_function_node(const struct srv_function *f, const uint32_t grid[3], const uint32_t block[3],
		       uint32_t shared_mem, const void *args, void **extra, size_t *size, CUgraphNodeParams *p)
{
	memset(p, 0, sizeof(*p));
	p->type = CU_GRAPH_NODE_TYPE_KERNEL;
	p->kernel = (CUDA_KERNEL_NODE_PARAMS_v3){f->fn,	    grid[0],	grid[1],
						 grid[2],   block[0],	block[1],
						 block[2],  shared_mem, NULL,
						 srv_function_extra(f, args, extra, size), NULL, NULL};
}

struct srv_function *srv_function_of(struct srv_client *c, uint32_t handle)
{
	if (!handle || handle > c->mod.nfunctions || !c->mod.functions[handle - 1]) {
		srv_bad_handle(c, "function", handle);
		return NULL;
	}
	return c->mod.functions[handle - 1];
}

/* The driver's module goes, and what it counted against the client. */
static CUresult drop(struct srv_client *c, struct srv_module *m)
{
	CUresult r = m->shared ? unload_shared(c, m->shared) : c->srv->drv->module_unload(m->mod);

	if (m->left)
		unload_shared(c, m->left);
	m->left = NULL;
	c->mod.data_bytes[m->dev] -= m->data_bytes;
	m->data_bytes = 0;
	srv_moddata_free(c, m);
	srv_module_drop_image(c, m->image);
	m->image = NULL;
	m->mod = NULL;
	m->ran = 0;
	m->shared = NULL;
	m->kept = 0;
	return r;
}

static CUresult unload(struct srv_client *c, uint32_t handle)
{
	struct srv_module *m = module_of(c, handle);
	uint32_t i;
	CUresult r;

	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	r = srv_sync_device(c, m->dev); /* launches in flight, on any stream, may use it */
	if (r != CUDA_SUCCESS)
		return r; /* nothing changed: held over a fault, it is served again as it was */
	if (srv_graph_live(c)) {
		/* A graph of its own may launch its kernels yet: a kernel whose
		 * module is gone would fault the context every client shares. */
		omps_log("Client process %d: module %u unloaded while it holds graphs; kept loaded until it goes",
			 (int)c->pid, handle);
		m->kept = 1;
	} else if (srv_fault_fatal(r = drop(c, m))) {
		r = CUDA_SUCCESS; /* gone with the poisoned context; a successor has it not */
	}
	srv_memory_forget_module(c, handle);
	for (i = 0; i < c->mod.nfunctions; i++) {
		if (c->mod.functions[i] && c->mod.functions[i]->module == handle) {
			free(c->mod.functions[i]->name);
			free(c->mod.functions[i]);
			c->mod.functions[i] = NULL;
		}
	}
	return r;
}

/* What the client set on f, set on its copy fn; first the dynamic shared
 * memory limit of the shared function, which others may have raised and the
 * client may have read and launched within (the shim checks launches
 * against what it read). */
static CUresult reapply(struct srv_client *c, const struct srv_function *f, CUfunction fn)
{
	const CUfunction_attribute smem = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
	CUresult r = CUDA_SUCCESS;
	int a, shared;

	if (c->srv->drv->func_get_attribute(&shared, smem, f->fn) == CUDA_SUCCESS)
		r = c->srv->drv->func_set_attribute(fn, smem, shared);

	for (a = 0; a < CU_FUNC_ATTRIBUTE_MAX && r == CUDA_SUCCESS; a++)
		if (f->attr_set & 1u << a)
			r = c->srv->drv->func_set_attribute(fn, (CUfunction_attribute)a, f->attr[a]);
	return r;
}

/* Whether setting attribute a to v on a function others share leaves them
 * unharmed: a higher dynamic shared memory limit, a permission to launch
 * larger clusters, and the hints (carveout, cluster scheduling). */
static int harmless(struct srv_client *c, const struct srv_function *f, uint32_t a, int v)
{
	int now = 0;

	switch (a) {
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		return c->srv->drv->func_get_attribute(&now, (CUfunction_attribute)a, f->fn) == CUDA_SUCCESS &&
		       v >= now;
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
		return v == 1;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		return 1;
	default:
		return 0;
	}
}

/* The client's own copy of a shared module, its functions moved onto it.
 * The shared one stays for the others; launches already queued keep it. */
static CUresult make_own(struct srv_client *c, uint32_t handle)
{
	struct srv_module *m = &c->mod.modules[handle - 1];
	CUfunction fns[64], *fn = fns;
	CUmodule own = NULL;
	uint32_t i, n = 0;
	CUresult r;

	if (!m->shared)
		return CUDA_SUCCESS;
	/* The image stays while this client holds its reference: no lock. */
	r = c->srv->drv->module_load_data(&own, m->shared->image);
	for (i = 0; i < c->mod.nfunctions; i++)
		n += c->mod.functions[i] && c->mod.functions[i]->module == handle;
	if (r == CUDA_SUCCESS && n > 64 && !(fn = malloc(n * sizeof(*fn))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	for (i = 0, n = 0; i < c->mod.nfunctions && r == CUDA_SUCCESS; i++) {
		if (!c->mod.functions[i] || c->mod.functions[i]->module != handle)
			continue;
		r = c->srv->drv->module_get_function(&fn[n], own, c->mod.functions[i]->name);
		if (r == CUDA_SUCCESS)
			r = reapply(c, c->mod.functions[i], fn[n]);
		n++;
	}
	if (r == CUDA_SUCCESS) {
		omps_log("Client process %d: module %u, shared with other clients, becomes its own copy%s", (int)c->pid,
			 handle, srv_graph_live(c) ? "; the shared one stays while its graphs may launch its kernels" : "");
		for (i = 0, n = 0; i < c->mod.nfunctions; i++)
			if (c->mod.functions[i] && c->mod.functions[i]->module == handle)
				c->mod.functions[i]->fn = fn[n++];
		m->image = srv_module_keep_image(c, m->shared->image, m->shared->len);
		if (srv_graph_live(c) && !m->left) /* its graphs may launch the shared module's kernels */
			m->left = m->shared;
		else
			unload_shared(c, m->shared);
		m->shared = NULL;
		m->mod = own;
	} else if (own) {
		c->srv->drv->module_unload(own);
	}
	if (fn != fns)
		free(fn);
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

void srv_module_get_function(struct srv_client *c, const struct omps_call_get_function *m)
{
	struct omps_reply_function rep;
	struct srv_module *mod = module_of(c, m->module);
	struct srv_function *f = NULL, **fs;
	CUresult r = mod ? srv_use_device(c, mod->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !memchr(m->name, '\0', sizeof(m->name)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && (!(f = calloc(1, sizeof(*f))) || !(f->name = strdup(m->name))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->module_get_function(&f->fn, mod->mod, m->name);
	if (r == CUDA_SUCCESS)
		r = describe(c, f);
	if (r == CUDA_SUCCESS && !(fs = realloc(c->mod.functions, (c->mod.nfunctions + 1) * sizeof(*fs))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		f->module = m->module;
		f->data = c->mod.modules[m->module - 1].writable != 0;
		c->mod.functions = fs;
		c->mod.functions[c->mod.nfunctions++] = f;
		rep.handle = c->mod.nfunctions;
		rep.nparams = f->nparams;
		c->srv->drv->func_get_attribute(&rep.max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f->fn);
		c->srv->drv->func_get_attribute(&rep.max_dynamic_smem, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
						f->fn);
		memcpy(rep.params, f->params, sizeof(rep.params));
	} else if (f) {
		free(f->name);
		free(f);
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_module_get_global(struct srv_client *c, const struct omps_call_get_function *m)
{
	struct omps_reply_global rep;
	struct srv_module *mod = module_of(c, m->module);
	CUdeviceptr ptr = 0, at = 0; /* as the client knows it; where it is */
	size_t bytes = 0;
	CUresult r = mod ? srv_use_device(c, mod->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && !memchr(m->name, '\0', sizeof(m->name)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && mod->shared) { /* data image.c did not see: keep it the client's */
		omps_log("Client process %d: a global \"%.64s\" of a module shared as holding none; it gets its own copy",
			 (int)c->pid, m->name);
		r = make_own(c, m->module);
	}
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->module_get_global(&at, &bytes, mod->mod, m->name);
	if (r == CUDA_SUCCESS && !(ptr = srv_memory_add_global(c, m->module, mod->dev, m->name, at, bytes)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) /* the host may write it now: copied as module data is (moddata.c) */
		srv_moddata_add(c, mod, m->name, at, bytes);
	rep.ptr = ptr;
	rep.bytes = bytes;
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_module_func_attr(struct srv_client *c, const struct omps_call_func_attr *m)
{
	struct srv_function *f = srv_function_of(c, m->function);
	int v = 0;
	CUresult r = f ? srv_use_device(c, srv_function_dev(c, f), NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && m->set && c->mod.modules[f->module - 1].shared &&
	    !harmless(c, f, m->attrib, m->value))
		r = make_own(c, f->module); /* the change would reach every client sharing it */
	if (r == CUDA_SUCCESS && m->set)
		r = c->srv->drv->func_set_attribute(f->fn, (CUfunction_attribute)m->attrib, m->value);
	if (r == CUDA_SUCCESS && m->set && m->attrib < CU_FUNC_ATTRIBUTE_MAX) {
		f->attr_set |= 1u << m->attrib;
		f->attr[m->attrib] = m->value;
	} else if (r == CUDA_SUCCESS && !m->set)
		r = c->srv->drv->func_get_attribute(&v, (CUfunction_attribute)m->attrib, f->fn);
	srv_reply_value(c, r, v);
}

void srv_module_function_count(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_module *mod = module_of(c, m->handle);
	unsigned int n = 0;
	CUresult r = mod ? srv_use_device(c, mod->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->module_get_function_count ? c->srv->drv->module_get_function_count(&n, mod->mod)
							   : CUDA_ERROR_NOT_SUPPORTED;
	srv_reply_value(c, r, n);
}

/* The name of a module's index-th function, in the driver's order: the
 * shim enumerates a module's functions by name (cuModuleEnumerateFunctions,
 * cuFFT's context hook), each then looked up as cuModuleGetFunction's. */
void srv_module_function_name(struct srv_client *c, const struct omps_call_func_index *m)
{
	const struct srv_driver *drv = c->srv->drv;
	struct srv_module *mod = module_of(c, m->module);
	struct omps_reply_name rep;
	CUfunction *fns = NULL;
	const char *name = NULL;
	unsigned int n = 0;
	CUresult r = mod ? srv_use_device(c, mod->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	memset(&rep, 0, sizeof(rep));
	if (r == CUDA_SUCCESS && (!drv->module_get_function_count || !drv->module_enumerate_functions ||
				  !drv->func_get_name))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS)
		r = drv->module_get_function_count(&n, mod->mod);
	if (r == CUDA_SUCCESS && m->index >= n)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !(fns = calloc(n, sizeof(*fns))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = drv->module_enumerate_functions(fns, n, mod->mod);
	if (r == CUDA_SUCCESS)
		r = drv->func_get_name(&name, fns[m->index]);
	if (r == CUDA_SUCCESS && (!name || strlen(name) >= sizeof(rep.name)))
		r = CUDA_ERROR_NOT_SUPPORTED; /* a name GET_FUNCTION could not carry */
	if (r == CUDA_SUCCESS)
		strcpy(rep.name, name);
	free(fns);
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_module_unload(struct srv_client *c, const struct omps_call_handle *m)
{
	srv_reply_result(c, unload(c, m->handle));
}

/* A function's module is loaded while the function exists (unload drops
 * its functions). */
int srv_function_dev(struct srv_client *c, const struct srv_function *f)
{
	return c->mod.modules[f->module - 1].dev;
}

void srv_module_release(struct srv_client *c)
{
	uint32_t i;

	for (i = 0; i < c->mod.nmodules; i++) {
		if (c->mod.modules[i].kept)
			drop(c, &c->mod.modules[i]); /* its graphs went first (srv_graph_release) */
		else if (c->mod.modules[i].mod)
			unload(c, i + 1);
	}
	for (i = 0; i < c->mod.nfunctions; i++) {
		if (c->mod.functions[i])
			free(c->mod.functions[i]->name);
		free(c->mod.functions[i]);
	}
	free(c->mod.functions);
	free(c->mod.modules);
	free(c->mod.image);
}

/* The successor's (handover.c): f's module is loaded again; its kernel is
 * looked up by name and given the attributes the client set. A higher
 * dynamic shared memory limit that another client sharing the module set
 * stays: the largest of theirs is what each asked for at least. */
CUresult srv_module_function_restore(struct srv_client *c, struct srv_function *f)
{
	const CUfunction_attribute smem = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
	struct srv_driver *drv = c->srv->drv;
	struct srv_module *m;
	CUresult r;
	int a, now;

	if (!f->module || f->module > c->mod.nmodules || !(m = &c->mod.modules[f->module - 1])->mod)
		return CUDA_ERROR_INVALID_HANDLE;
	r = drv->ctx_set_current(c->srv->ctx[m->dev]);
	if (r == CUDA_SUCCESS)
		r = drv->module_get_function(&f->fn, m->mod, f->name);
	for (a = 0; a < CU_FUNC_ATTRIBUTE_MAX && r == CUDA_SUCCESS; a++) {
		if (!(f->attr_set & 1u << a))
			continue;
		if (a == (int)smem && drv->func_get_attribute(&now, smem, f->fn) == CUDA_SUCCESS && now >= f->attr[a])
			continue;
		r = drv->func_set_attribute(f->fn, (CUfunction_attribute)a, f->attr[a]);
	}
	return r;
}
