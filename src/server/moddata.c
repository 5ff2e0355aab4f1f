/* The __device__ variables of a client's own modules, kept across a GPU
 * fault. A module loaded again from its image holds what the image says,
 * not what the client's kernels wrote since; so when a client whose
 * kernels of such a module ran goes idle (1 ms into a pause with nothing
 * queued since its last synchronize, or as its worker parks it with its
 * streams' work done: srv_fault_settle), the server queues a copy of the module's
 * variables to page-locked host memory, behind every stream of the
 * client's on that device, and then a write of the client's launch count
 * beside the copy. Nothing of this is on the path of a launch or a
 * synchronize. At a fault the copy is what the module held if that write
 * landed and the client launched nothing after it; a client with work in
 * flight, which it is told it lost, is kept with the copy if it had not
 * synchronized since (its later kernels' work is lost with the rest). The
 * successor loads the module again and puts the copy back (handover.c).
 * The host writes module data only through an address it asked for: each
 * global the client asked for is copied too (srv_moddata_add), once the
 * host named it in a call (srv_moddata_touched). Variables go into the
 * record by name, since a new context places them elsewhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image.h"
#include "log.h"
#include "server.h"

#define MODDATA_MAX  (64ull << 20) /* the most bytes of a module's variables copied */
#define NAME_MAX_LEN 1024
#define RUN_GAP	     64 /* variables at most this far apart are copied as one run */
#define COPIED_MAX   256 /* modules a client's whose variables are copied (each a page-locked mapping) */

/* A variable, and where its bytes are in the copy. */
struct srv_var {
	CUdeviceptr ptr;
	uint64_t bytes, off;
	char *name;
};

/* Variables next to one another (RUN_GAP), copied at once: the bytes
 * between are within the pages that hold them, so reading them is safe.
 * A run the driver will not copy at once (two allocations of the module's)
 * is copied a variable at a time from then on. */
struct srv_run {
	CUdeviceptr ptr;
	uint64_t bytes, off;
	uint32_t first, nvars; /* its variables, in vars */
	int split;
};

struct srv_module_data {
	uint32_t nvars, cap, nruns;
	struct srv_var *vars; /* each once, by address */
	struct srv_run *runs;
	uint64_t span;	     /* the bytes of the runs, one after another in the copy */
	unsigned char *copy; /* page-locked: span bytes, then the word */
	size_t copy_len;
	CUdeviceptr word_at; /* the word, as the GPU writes it */
	uint64_t gen;	     /* the client's launch count at the copy queued last; 0: none */
	int stale;	     /* variables added since the runs and the copy were made */
	unsigned failed;     /* copies the driver refused (the first is logged) */
};

struct collect {
	struct srv_driver *drv;
	CUmodule mod;
	struct srv_module_data *d;
	int failed;
	char why[160]; /* the first failure */
};

/* The variable name at ptr added to d's list, once: 0, or -1 out of memory. */
static int add_var(struct srv_module_data *d, CUdeviceptr ptr, uint64_t bytes, const char *name)
{
	struct srv_var *v;
	uint32_t i;

	for (i = 0; i < d->nvars; i++)
		if (d->vars[i].ptr == ptr)
			return 0;
	if (d->nvars == d->cap) {
		v = realloc(d->vars, (d->cap ? 2 * d->cap : 8) * sizeof(*v));
		if (!v)
			return -1;
		d->vars = v;
		d->cap = d->cap ? 2 * d->cap : 8;
	}
	v = &d->vars[d->nvars];
	*v = (struct srv_var){ptr, bytes, 0, strdup(name)};
	if (!v->name)
		return -1;
	d->nvars++;
	return 0;
}

/* One name the image declares: its address in the loaded module. A name
 * the module lacks (a variant the driver did not load) no kernel of it
 * can write. */
static void one_var(void *arg, const char *name, size_t len)
{
	struct collect *k = arg;
	char buf[NAME_MAX_LEN];
	CUdeviceptr p = 0;
	size_t bytes = 0;
	CUresult r;

	if (k->failed)
		return;
	if (len >= sizeof(buf)) {
		snprintf(k->why, sizeof(k->why), "a name of %zu bytes", len);
		k->failed = 1;
		return;
	}
	memcpy(buf, name, len);
	buf[len] = '\0';
	r = k->drv->module_get_global(&p, &bytes, k->mod, buf);
	if (r == CUDA_ERROR_NOT_FOUND || (r == CUDA_SUCCESS && !bytes))
		return;
	if (r != CUDA_SUCCESS) {
		snprintf(k->why, sizeof(k->why), "cuModuleGetGlobal(\"%.64s\"): error %d", buf, (int)r);
		k->failed = 1;
		return;
	}
	if (add_var(k->d, p, bytes, buf) < 0) {
		snprintf(k->why, sizeof(k->why), "out of memory");
		k->failed = 1;
	}
}

static void free_copy(struct srv_driver *drv, struct srv_module_data *d)
{
	if (d->copy) {
		drv->mem_host_unregister(d->copy);
		munmap(d->copy, d->copy_len);
	}
	d->copy = NULL;
	free(d->runs);
	d->runs = NULL;
	d->nruns = 0;
	d->span = 0;
	d->gen = 0;
}

static void free_data(struct srv_driver *drv, struct srv_module_data *d)
{
	uint32_t i;

	if (!d)
		return;
	free_copy(drv, d);
	for (i = 0; i < d->nvars; i++)
		free(d->vars[i].name);
	free(d->vars);
	free(d);
}

/* The word the GPU writes the launch count into, after the copy's bytes. */
static uint32_t *word_of(const struct srv_module_data *d)
{
	return (uint32_t *)(d->copy + d->copy_len - 64);
}

/* Where the copy goes: span bytes, then the word, page-locked. */
static CUresult place_copy(struct srv_driver *drv, struct srv_module_data *d)
{
	CUresult r;

	d->copy_len = ((d->span + 7) & ~7ull) + 64;
	d->copy = mmap(NULL, d->copy_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->copy == MAP_FAILED) {
		d->copy = NULL;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	r = drv->mem_host_register(d->copy, d->copy_len, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
	if (r != CUDA_SUCCESS) {
		munmap(d->copy, d->copy_len);
		d->copy = NULL;
		return r;
	}
	return drv->mem_host_get_device_pointer(&d->word_at, word_of(d), 0);
}

static uint32_t word(const struct srv_module_data *d)
{
	return __atomic_load_n(word_of(d), __ATOMIC_ACQUIRE);
}

static int by_address(const void *a, const void *b)
{
	const struct srv_var *x = a, *y = b;

	return (x->ptr > y->ptr) - (x->ptr < y->ptr);
}

/* The runs of the variables, sorted by address, and each one's place in
 * the copy; -1 if they are too many bytes. */
static int make_runs(struct srv_module_data *d)
{
	struct srv_run *r = NULL;
	uint32_t i;

	qsort(d->vars, d->nvars, sizeof(*d->vars), by_address);
	if (!(d->runs = calloc(d->nvars, sizeof(*d->runs))))
		return -1;
	for (i = 0; i < d->nvars; i++) {
		struct srv_var *v = &d->vars[i];
		CUdeviceptr end = v->ptr + v->bytes;

		if (!r || v->ptr > r->ptr + r->bytes + RUN_GAP) {
			r = &d->runs[d->nruns++];
			*r = (struct srv_run){.ptr = v->ptr, .off = d->span, .first = i};
		}
		r->nvars++;
		if (end > r->ptr + r->bytes) { /* sorted: it starts within r or just after */
			d->span += end - (r->ptr + r->bytes);
			r->bytes = end - r->ptr;
		}
		v->off = r->off + (v->ptr - r->ptr);
		if (d->span > MODDATA_MAX)
			return -1;
	}
	return 0;
}

void srv_moddata_init(struct srv_client *c, struct srv_module *m, const void *image, size_t len)
{
	struct srv_driver *drv = c->srv->drv;
	struct collect k = {.drv = drv, .mod = m->mod};
	CUresult r;

	m->data = NULL;
	if (!m->writable || !drv->module_get_global || !drv->stream_write_value32)
		return;
	if (c->mod.copied >= COPIED_MAX) { /* said once: a client may load modules by the thousand */
		if (!c->mod.copies_refused++)
			omps_log("Client process %d: more than %u of its modules hold __device__ variables; those past "
				 "them are not copied, and a GPU fault after their kernels ran will cost it its context",
				 (int)c->pid, COPIED_MAX);
		return;
	}
	if (!(k.d = calloc(1, sizeof(*k.d))))
		return;
	if (srv_image_writable_vars(image, len, one_var, &k) < 0) {
		snprintf(k.why, sizeof(k.why), "its image does not name them all");
		goto fail;
	}
	if (k.failed)
		goto fail;
	if (!k.d->nvars) { /* none in the variant the driver loaded: nothing a kernel can write */
		m->writable = 0;
		free_data(drv, k.d);
		return;
	}
	if (make_runs(k.d) < 0) {
		snprintf(k.why, sizeof(k.why), "more than %llu MiB of them", MODDATA_MAX >> 20);
		goto fail;
	}
	if ((r = place_copy(drv, k.d)) != CUDA_SUCCESS) {
		snprintf(k.why, sizeof(k.why), "page-locking their copy: error %d", (int)r);
		goto fail;
	}
	m->data = k.d;
	c->mod.copied++;
	omps_log("Client process %d: module %u holds %u __device__ variables (%llu bytes in %u runs), copied as it "
		 "goes idle once its kernels ran, to be kept across a GPU fault",
		 (int)c->pid, (unsigned)(m - c->mod.modules) + 1, k.d->nvars, (unsigned long long)k.d->span, k.d->nruns);
	return;
fail:
	omps_log("Client process %d: the __device__ variables of its module %u cannot be copied (%s); a GPU fault "
		 "after its kernels ran will cost it its context",
		 (int)c->pid, (unsigned)(m - c->mod.modules) + 1, k.why);
	free_data(drv, k.d);
}

void srv_moddata_free(struct srv_client *c, struct srv_module *m)
{
	if (!m->data)
		return;
	c->mod.copied--;
	if (m->data->gen && word(m->data) != (uint32_t)m->data->gen)
		srv_signal_drain(c, m->dev); /* no copy may land in memory no longer mapped */
	free_data(c->srv->drv, m->data);
	m->data = NULL;
}

/* The runs and the copy made again for the variables m has now, if some
 * were added since: none copied yet. A copy still on its way lands first.
 * -1 (said in server.log) if they cannot be: m's data is let go. */
static int fresh(struct srv_client *c, struct srv_module *m)
{
	struct srv_module_data *d = m->data;
	const char *why = NULL;
	CUresult r;

	if (!d->stale)
		return 0;
	if (d->gen && d->copy && word(d) != (uint32_t)d->gen)
		srv_signal_drain(c, m->dev);
	free_copy(c->srv->drv, d);
	d->stale = 0;
	if (make_runs(d) < 0)
		why = "more bytes than a copy takes";
	else if ((r = place_copy(c->srv->drv, d)) != CUDA_SUCCESS)
		why = "page-locking their copy failed";
	if (!why)
		return 0;
	omps_log("Client process %d: the variables of its module %u cannot be copied (%s); a GPU fault after they "
		 "changed will cost it its context",
		 (int)c->pid, (unsigned)(m - c->mod.modules) + 1, why);
	srv_moddata_free(c, m);
	return -1;
}

/* Added to the list only: cudart asks for every variable of a module as it
 * loads it, and the copy is made again once, when it is next needed. */
int srv_moddata_add(struct srv_client *c, struct srv_module *m, const char *name, CUdeviceptr ptr, uint64_t bytes)
{
	struct srv_module_data *d = m->data;
	uint32_t i;

	for (i = 0; d && i < d->nvars; i++)
		if (d->vars[i].ptr == ptr)
			return 0; /* a __device__ variable, or asked for again */
	if (!bytes)
		return 0;
	if (!c->srv->drv->stream_write_value32 || (!d && c->mod.copied >= COPIED_MAX))
		goto fail;
	if (!d) {
		if (!(d = calloc(1, sizeof(*d))))
			goto fail;
		m->data = d;
		c->mod.copied++;
	}
	if (add_var(d, ptr, bytes, name) < 0)
		goto fail;
	d->stale = 1;
	return 0;
fail: /* said once: cudart asks for every variable of every module it loads */
	if (!c->mod.copies_refused++)
		omps_log("Client process %d: the variable \"%.64s\" of its module %u cannot be copied (%u modules' "
			 "variables are, or memory ran out), nor any such after it; a GPU fault after one changed "
			 "will cost it its context",
			 (int)c->pid, name, (unsigned)(m - c->mod.modules) + 1, c->mod.copied);
	srv_moddata_free(c, m);
	return -1;
}

void srv_moddata_touched(struct srv_client *c, uint32_t module)
{
	c->mod.modules[module - 1].ran = 1;
	c->mod.data_ran = 1;
	c->mod.launches++; /* what was copied is older than this */
}

static CUresult copy_run(struct srv_driver *drv, struct srv_module_data *d, struct srv_run *run, CUstream sig)
{
	CUresult r = CUDA_SUCCESS;
	uint32_t i;

	if (!run->split) {
		r = drv->memcpy_dtoh_async(d->copy + run->off, run->ptr, run->bytes, sig);
		if (r != CUDA_ERROR_INVALID_VALUE || run->nvars < 2)
			return r;
		run->split = 1;
		r = CUDA_SUCCESS;
	}
	for (i = run->first; i < run->first + run->nvars && r == CUDA_SUCCESS; i++)
		r = drv->memcpy_dtoh_async(d->copy + d->vars[i].off, d->vars[i].ptr, d->vars[i].bytes, sig);
	return r;
}

void srv_moddata_take(struct srv_client *c, uint64_t most)
{
	struct srv_driver *drv = c->srv->drv;
	uint64_t gen = c->mod.launches;
	CUstream null_stream, sig = NULL;
	int dev = -1;
	uint32_t i, j;

	if (!c->mod.data_ran)
		return; /* (streams being captured are not joined: no event of ours lands in a capture) */
	for (i = 0; i < c->mod.nmodules; i++) {
		struct srv_module *m = &c->mod.modules[i];
		struct srv_module_data *d = m->data;
		CUresult r;

		if (!d || !m->ran || (d->gen == gen && !d->stale) || !m->mod || d->span > most || fresh(c, m) < 0)
			continue;
		if (m->dev != dev) {
			dev = m->dev;
			sig = NULL;
			if (srv_use_device(c, dev, &null_stream) == CUDA_SUCCESS)
				sig = srv_signal_join_all(c, dev, null_stream);
		}
		if (!sig)
			continue;
		for (r = CUDA_SUCCESS, j = 0; j < d->nruns && r == CUDA_SUCCESS; j++)
			r = copy_run(drv, d, &d->runs[j], sig);
		if (r == CUDA_SUCCESS)
			r = drv->stream_write_value32(sig, d->word_at, (uint32_t)gen, CU_STREAM_WRITE_VALUE_DEFAULT);
		d->gen = r == CUDA_SUCCESS ? gen : 0;
		if (r != CUDA_SUCCESS && !d->failed++)
			omps_log("Client process %d: the copy of module %u's __device__ variables failed (error %d, run "
				 "%u of %u); a GPU fault now will cost it its context",
				 (int)c->pid, i + 1, (int)r, j, d->nruns);
	}
}

const char *srv_moddata_lost(struct srv_client *c, const struct srv_module *m, int busy)
{
	const struct srv_module_data *d = m->data;

	if (!m->ran)
		return NULL;
	if (!d)
		return "has variables its kernels or calls changed, which cannot be copied";
	if (!d->gen || d->stale || word(d) != (uint32_t)d->gen)
		return "has variables its kernels or calls changed, not copied since";
	if (busy ? d->gen < c->mod.synced : d->gen != c->mod.launches)
		return "has variables its kernels or calls changed since their last copy";
	return NULL;
}

void srv_moddata_save(const struct srv_module *m, struct srv_pack *p)
{
	const struct srv_module_data *d = m->ran ? m->data : NULL;
	uint32_t n = d ? d->nvars : 0, i;

	srv_pack_put(p, &n, sizeof(n));
	for (i = 0; i < n; i++) {
		srv_pack_str(p, d->vars[i].name);
		srv_pack_put(p, &d->vars[i].off, sizeof(d->vars[i].off));
		srv_pack_put(p, &d->vars[i].bytes, sizeof(d->vars[i].bytes));
	}
	if (n) {
		srv_pack_put(p, &d->span, sizeof(d->span));
		srv_pack_put(p, d->copy, d->span);
	}
}

/* What srv_moddata_save wrote: each variable's name, its place in the
 * copy and its bytes, then the copy (in the record). -1: cut short. */
struct saved_var {
	char *name;
	uint64_t off, bytes;
};

struct saved {
	uint32_t n;
	struct saved_var *vars;
	uint64_t span;
	const unsigned char *copy;
};

static void free_saved(struct saved *sv)
{
	uint32_t i;

	for (i = 0; sv->vars && i < sv->n; i++)
		free(sv->vars[i].name);
	free(sv->vars);
}

static int read_saved(struct srv_unpack *u, struct saved *sv)
{
	uint32_t i;

	memset(sv, 0, sizeof(*sv));
	if (srv_unpack_get(u, &sv->n, sizeof(sv->n)) < 0 || sv->n > u->len / 20 ||
	    !(sv->vars = calloc(sv->n + 1, sizeof(*sv->vars)))) {
		u->failed = 1;
		return -1;
	}
	for (i = 0; i < sv->n && !u->failed; i++) {
		struct saved_var *v = &sv->vars[i];

		if (!(v->name = srv_unpack_str(u, NAME_MAX_LEN)))
			break;
		srv_unpack_get(u, &v->off, sizeof(v->off));
		srv_unpack_get(u, &v->bytes, sizeof(v->bytes));
	}
	if (sv->n && !u->failed)
		srv_unpack_get(u, &sv->span, sizeof(sv->span));
	if (u->failed || sv->span > u->len - u->off) {
		u->failed = 1;
		return -1;
	}
	sv->copy = u->p + u->off;
	u->off += sv->span;
	return 0;
}

void srv_moddata_skip(struct srv_unpack *u)
{
	struct saved sv;

	read_saved(u, &sv);
	free_saved(&sv);
}

static struct srv_var *var_named(struct srv_module_data *d, const char *name)
{
	uint32_t i;

	for (i = 0; d && i < d->nvars; i++)
		if (!strcmp(d->vars[i].name, name))
			return &d->vars[i];
	return NULL;
}

/* Every saved variable in m's list: those the client asked for are not in
 * its image's. 0 once the list is the saved one, no more, no less. */
static int same_vars(struct srv_client *c, struct srv_module *m, const struct saved *sv)
{
	CUdeviceptr p;
	size_t bytes;
	uint32_t i;

	for (i = 0; i < sv->n; i++) {
		if (var_named(m->data, sv->vars[i].name))
			continue;
		if (c->srv->drv->module_get_global(&p, &bytes, m->mod, sv->vars[i].name) != CUDA_SUCCESS ||
		    srv_moddata_add(c, m, sv->vars[i].name, p, bytes) < 0)
			return -1;
	}
	return m->data && m->data->nvars == sv->n ? 0 : -1;
}

/* Puts the copy back into m's variables; the copy, as put back, is what
 * the module holds now, at the client's launch count, so that a second
 * fault before its next copy keeps it too. */
static const char *put_back(struct srv_client *c, struct srv_module *m, const struct saved *sv)
{
	struct srv_driver *drv = c->srv->drv;
	struct srv_module_data *d;
	CUstream s = NULL;
	uint32_t i;

	if (same_vars(c, m, sv) < 0 || fresh(c, m) < 0 || srv_use_device(c, m->dev, &s) != CUDA_SUCCESS)
		return "its module's variables are not found again";
	d = m->data;
	for (i = 0; i < sv->n; i++) {
		const struct saved_var *was = &sv->vars[i];
		const struct srv_var *v = var_named(d, was->name);

		if (v->bytes != was->bytes || was->off > sv->span || v->bytes > sv->span - was->off ||
		    drv->memcpy_htod_async(v->ptr, sv->copy + was->off, v->bytes, s) != CUDA_SUCCESS)
			return "its module's variables cannot be put back";
		memcpy(d->copy + v->off, sv->copy + was->off, v->bytes);
	}
	if (drv->stream_synchronize(s) != CUDA_SUCCESS)
		return "its module's variables cannot be put back";
	m->ran = 1; /* what it holds is not the image's */
	c->mod.data_ran = 1;
	__atomic_store_n(word_of(d), (uint32_t)c->mod.launches, __ATOMIC_RELEASE);
	d->gen = c->mod.launches;
	return NULL;
}

const char *srv_moddata_restore(struct srv_client *c, struct srv_module *m, struct srv_unpack *u)
{
	const char *why = NULL;
	struct saved sv;

	srv_moddata_init(c, m, m->image->image, m->image->len);
	if (read_saved(u, &sv) < 0)
		why = "its record is cut short";
	else if (sv.n)
		why = put_back(c, m, &sv);
	free_saved(&sv);
	return why;
}
