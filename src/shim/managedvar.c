/* __managed__ module variables in remote mode (cuLibraryGetManaged). The
 * variable the kernels use is the server's managed memory, which the
 * client's CPU cannot reach. So the program is given a view of it in host
 * memory shared with the server, kept in step as on devices without
 * concurrent managed access (the CPU touches managed memory only while the
 * GPU's work is done): at the first launch after a synchronize, a view the
 * CPU changed goes to the GPU's copy; at each synchronize a changed view goes
 * there too, then the GPU's copy comes back, and a byte it changed since the
 * last exchange wins over the view's, while one only the view changed stays
 * (a kernel may write the view itself, given its address as an argument). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

struct var {
	struct var *next;
	uint32_t module; /* its module's handle */
	CUdeviceptr gpu; /* the server's managed variable */
	size_t bytes;
	int dev;
	unsigned char *view; /* the program's: shared with the server */
	unsigned char *back; /* shared: where the GPU's copy comes back to */
	unsigned char *last; /* both as they were at the last exchange */
};

static struct var *vars;
static atomic_int nvars;
static atomic_int busy; /* launched since the last synchronize: the views are the GPU's to change */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static CUresult copy(uint32_t type, int dev, CUstream s, uint64_t dst, uint64_t src, size_t bytes)
{
	struct omps_call_copy m = {.dev = dev, .dst = dst, .src = src, .bytes = bytes};
	CUresult r = shim_stream_handle(s, &m.stream);

	return r == CUDA_SUCCESS ? shim_post(type, &m, sizeof(m), NULL, 0) : r;
}

/* A view the CPU wrote since the last exchange goes to the GPU on s. Lock held. */
static CUresult push(struct var *v, CUstream s)
{
	CUresult r;

	if (!memcmp(v->view, v->last, v->bytes))
		return CUDA_SUCCESS;
	r = copy(OMPS_CALL_MEMCPY_HTOD_HOST, v->dev, s, v->gpu, (uintptr_t)v->view, v->bytes);
	if (r == CUDA_SUCCESS)
		memcpy(v->last, v->view, v->bytes);
	return r;
}

void shim_managed_vars_push(CUstream s)
{
	struct var *v;

	if (!atomic_load_explicit(&nvars, memory_order_relaxed) || atomic_exchange(&busy, 1))
		return;
	pthread_mutex_lock(&lock);
	for (v = vars; v; v = v->next)
		push(v, s);
	pthread_mutex_unlock(&lock);
}

/* The GPU's copy on its way into back (after a changed view went to it). Lock held. */
static CUresult fetch(struct var *v)
{
	CUresult r = push(v, NULL);

	return r == CUDA_SUCCESS ? copy(OMPS_CALL_MEMCPY_DTOH_HOST, v->dev, NULL, (uintptr_t)v->back, v->gpu, v->bytes)
				 : r;
}

/* What the GPU changed since the last exchange, into the view. Lock held. */
static void merge(struct var *v)
{
	size_t i;

	for (i = 0; i < v->bytes; i++)
		if (v->back[i] != v->last[i])
			v->view[i] = v->back[i];
	memcpy(v->last, v->view, v->bytes);
}

/* Every variable's copy fetched, one wait a device, then merged. Lock held. */
static CUresult pull_all(void)
{
	uint64_t waited[(OMPS_MAX_DEVICES + 63) / 64] = {0};
	CUresult r = CUDA_SUCCESS;
	struct var *v;

	for (v = vars; v && r == CUDA_SUCCESS; v = v->next)
		r = fetch(v);
	for (v = vars; v && r == CUDA_SUCCESS; v = v->next)
		if (!(waited[v->dev / 64] >> (v->dev % 64) & 1)) {
			waited[v->dev / 64] |= 1ull << (v->dev % 64);
			r = shim_device_wait(v->dev);
		}
	for (v = vars; v && r == CUDA_SUCCESS; v = v->next)
		merge(v);
	return r;
}

void shim_managed_vars_pull(void)
{
	if (!atomic_load_explicit(&nvars, memory_order_relaxed))
		return;
	pthread_mutex_lock(&lock);
	pull_all();
	atomic_store(&busy, 0);
	pthread_mutex_unlock(&lock);
}

static void var_free(struct var *v)
{
	if (v->view)
		shim_host_free(v->view);
	if (v->back)
		shim_host_free(v->back);
	free(v->last);
	free(v);
}

static CUresult library_get_managed(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
	struct var *v, *known;
	CUdeviceptr gpu = 0;
	size_t n = 0;
	CUresult r = shim_module_get_global(&gpu, &n, (CUmodule)library, name);

	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&lock);
	for (known = vars; known && known->gpu != gpu; known = known->next)
		;
	if (known) {
		pthread_mutex_unlock(&lock);
		goto out;
	}
	if (!(v = calloc(1, sizeof(*v))) || !(v->last = calloc(1, n ? n : 1)) ||
	    shim_host_alloc_shared((void **)&v->view, n ? n : 1) != CUDA_SUCCESS ||
	    shim_host_alloc_shared((void **)&v->back, n ? n : 1) != CUDA_SUCCESS) {
		pthread_mutex_unlock(&lock);
		if (v)
			var_free(v);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*v = (struct var){.module = (uint32_t)(uintptr_t)library, .gpu = gpu, .bytes = n,
			  .dev = shim_current_device() >= 0 ? shim_current_device() : 0, .view = v->view,
			  .back = v->back, .last = v->last};
	memset(v->last, 0, n);
	memset(v->view, 0, n);
	r = fetch(v); /* its initial value */
	if (r == CUDA_SUCCESS)
		r = shim_device_wait(v->dev);
	if (r == CUDA_SUCCESS)
		merge(v);
	if (r != CUDA_SUCCESS) {
		pthread_mutex_unlock(&lock);
		var_free(v);
		return r;
	}
	v->next = vars;
	vars = v;
	atomic_fetch_add(&nvars, 1);
	known = v;
	pthread_mutex_unlock(&lock);
out:
	if (dptr)
		*dptr = (uintptr_t)known->view;
	if (bytes)
		*bytes = known->bytes;
	return CUDA_SUCCESS;
}

void shim_managed_vars_forget(uint32_t module)
{
	struct var **pp = &vars, *v;

	pthread_mutex_lock(&lock);
	while ((v = *pp)) {
		if (v->module == module) {
			*pp = v->next;
			atomic_fetch_sub(&nvars, 1);
			var_free(v); /* the program's pointer to it is no good any more, as natively */
		} else {
			pp = &v->next;
		}
	}
	pthread_mutex_unlock(&lock);
}

void shim_managedvar_install(void)
{
	SHIM_INSTALL(cuLibraryGetManaged, library_get_managed);
}
