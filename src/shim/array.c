/* CUDA arrays, texture and surface objects in remote mode (array.c in the
 * server). An array is the client's record of the server's handle, its
 * device and its descriptor (cuArrayGetDescriptor is answered here). A
 * texture or surface object is the server's own value, which kernels take
 * as an argument; the descriptors it was made from are kept here for
 * cuTexObjectGetResourceDesc and its kin. Copies that name an array are
 * pitched.c's. A mipmapped array is the record of the server's handle; each
 * level asked for is an array record of its own, kept with it (the same
 * CUarray for the same level, as the driver gives) and freed with it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define ARRAY_MAGIC  0x61727261u
#define MIPMAP_MAGIC 0x6d69706du
#define MAX_LEVELS   32

struct shim_array {
	uint32_t magic, handle;
	int dev;
	int level; /* a mipmapped array's level: not the program's to destroy */
	CUDA_ARRAY3D_DESCRIPTOR d;
};

struct shim_mipmap {
	uint32_t magic, handle;
	int dev;
	unsigned levels;
	CUDA_ARRAY3D_DESCRIPTOR d;
	struct shim_array *level[MAX_LEVELS]; /* made at the first ask */
};

static struct shim_mipmap *mipmap_of(CUmipmappedArray h)
{
	struct shim_mipmap *m = (struct shim_mipmap *)h;

	return m && m->magic == MIPMAP_MAGIC ? m : NULL;
}

struct object {
	struct object *next;
	uint64_t obj;
	uint32_t kind; /* 0 texture, 1 surface */
	CUDA_RESOURCE_DESC res;
	CUDA_TEXTURE_DESC tex;
	CUDA_RESOURCE_VIEW_DESC view;
};

static struct object *objects;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int shim_array(CUarray a, uint32_t *handle, int *dev)
{
	struct shim_array *s = (struct shim_array *)a;

	if (!s || s->magic != ARRAY_MAGIC)
		return -1;
	*handle = s->handle;
	*dev = s->dev;
	return 0;
}

static struct omps_call_array_create record(const CUDA_ARRAY3D_DESCRIPTOR *d)
{
	return (struct omps_call_array_create){.dev = shim_current_device(), .format = (uint32_t)d->Format,
					       .channels = d->NumChannels, .flags = d->Flags, .width = d->Width,
					       .height = d->Height, .depth = d->Depth};
}

static CUresult array_3d_create(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
	struct omps_call_array_create m;
	struct omps_reply_handle rep = {{0}, 0, 0};
	struct shim_array *a;
	CUresult r;

	if (!out || !d)
		return CUDA_ERROR_INVALID_VALUE;
	m = record(d);
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!(a = malloc(sizeof(*a))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = shim_call(OMPS_CALL_ARRAY_CREATE, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS) {
		free(a);
		return r;
	}
	*a = (struct shim_array){.magic = ARRAY_MAGIC, .handle = rep.handle, .dev = m.dev, .d = *d};
	*out = (CUarray)a;
	return CUDA_SUCCESS;
}

static CUresult array_create(CUarray *out, const CUDA_ARRAY_DESCRIPTOR *d)
{
	CUDA_ARRAY3D_DESCRIPTOR d3;

	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	d3 = (CUDA_ARRAY3D_DESCRIPTOR){.Width = d->Width, .Height = d->Height, .Format = d->Format,
				       .NumChannels = d->NumChannels};
	return array_3d_create(out, &d3);
}

static CUresult array_destroy(CUarray h)
{
	struct shim_array *a = (struct shim_array *)h;
	struct omps_call_handle m;
	struct omps_reply rep;

	if (!a || a->magic != ARRAY_MAGIC || a->level)
		return CUDA_ERROR_INVALID_HANDLE;
	m.handle = a->handle;
	a->magic = 0;
	free(a);
	return shim_call(OMPS_CALL_ARRAY_DESTROY, &m, sizeof(m), &rep, sizeof(rep));
}

static CUresult mipmap_create(CUmipmappedArray *out, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned int levels)
{
	struct omps_call_mipmap_create m = {.levels = levels};
	struct omps_reply_handle rep = {{0}, 0, 0};
	struct shim_mipmap *mm;
	CUresult r;

	if (!out || !d || !levels || levels > MAX_LEVELS)
		return CUDA_ERROR_INVALID_VALUE;
	m.a = record(d);
	if (m.a.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!(mm = calloc(1, sizeof(*mm))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = shim_call(OMPS_CALL_MIPMAP_CREATE, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS) {
		free(mm);
		return r;
	}
	*mm = (struct shim_mipmap){.magic = MIPMAP_MAGIC, .handle = rep.handle, .dev = m.a.dev, .levels = levels,
				   .d = *d};
	*out = (CUmipmappedArray)mm;
	return CUDA_SUCCESS;
}

/* A level's size: halved per level, never below 1 (0 stays 0: no such dimension). */
static size_t halved(size_t n, unsigned level)
{
	return !n ? 0 : n >> level ? n >> level : 1;
}

static CUresult mipmap_level(CUarray *out, CUmipmappedArray h, unsigned int level)
{
	static pthread_mutex_t level_lock = PTHREAD_MUTEX_INITIALIZER;
	struct shim_mipmap *mm = mipmap_of(h);
	struct omps_call_mipmap_level m = {.level = level};
	struct omps_reply_handle rep = {{0}, 0, 0};
	struct shim_array *a;
	CUresult r = CUDA_SUCCESS;

	if (!mm)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!out || level >= mm->levels)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&level_lock);
	if (!mm->level[level]) {
		m.handle = mm->handle;
		a = calloc(1, sizeof(*a));
		r = a ? shim_call(OMPS_CALL_MIPMAP_LEVEL, &m, sizeof(m), &rep, sizeof(rep)) : CUDA_ERROR_OUT_OF_MEMORY;
		if (r == CUDA_SUCCESS) {
			*a = (struct shim_array){.magic = ARRAY_MAGIC, .handle = rep.handle, .dev = mm->dev, .level = 1,
						 .d = mm->d};
			a->d.Width = halved(mm->d.Width, level);
			a->d.Height = halved(mm->d.Height, level);
			a->d.Depth = halved(mm->d.Depth, level);
			mm->level[level] = a;
		} else {
			free(a);
		}
	}
	if (r == CUDA_SUCCESS)
		*out = (CUarray)mm->level[level];
	pthread_mutex_unlock(&level_lock);
	return r;
}

static CUresult mipmap_destroy(CUmipmappedArray h)
{
	struct shim_mipmap *mm = mipmap_of(h);
	struct omps_call_handle m;
	struct omps_reply rep;
	unsigned l;

	if (!mm)
		return CUDA_ERROR_INVALID_HANDLE;
	m.handle = mm->handle;
	for (l = 0; l < MAX_LEVELS; l++)
		if (mm->level[l]) {
			mm->level[l]->magic = 0;
			free(mm->level[l]);
		}
	mm->magic = 0;
	free(mm);
	return shim_call(OMPS_CALL_ARRAY_DESTROY, &m, sizeof(m), &rep, sizeof(rep));
}

static CUresult array_3d_descriptor(CUDA_ARRAY3D_DESCRIPTOR *d, CUarray h)
{
	struct shim_array *a = (struct shim_array *)h;

	if (!d)
		return CUDA_ERROR_INVALID_VALUE;
	if (!a || a->magic != ARRAY_MAGIC)
		return CUDA_ERROR_INVALID_HANDLE;
	*d = a->d;
	return CUDA_SUCCESS;
}

static CUresult array_descriptor(CUDA_ARRAY_DESCRIPTOR *d, CUarray h)
{
	CUDA_ARRAY3D_DESCRIPTOR d3;
	CUresult r = d ? array_3d_descriptor(&d3, h) : CUDA_ERROR_INVALID_VALUE;

	if (r == CUDA_SUCCESS)
		*d = (CUDA_ARRAY_DESCRIPTOR){.Width = d3.Width, .Height = d3.Height, .Format = d3.Format,
					     .NumChannels = d3.NumChannels};
	return r;
}

/* The record of a texture (kind 0) or surface object over res. */
static CUresult describe(struct omps_call_tex_create *m, uint32_t kind, const CUDA_RESOURCE_DESC *res)
{
	int dev;

	memset(m, 0, sizeof(*m));
	m->dev = shim_current_device();
	m->kind = kind;
	m->res_type = (uint32_t)res->resType;
	m->res_flags = res->flags;
	if (m->dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	switch (res->resType) {
	case CU_RESOURCE_TYPE_ARRAY:
		if (shim_array(res->res.array.hArray, &m->array, &dev))
			return CUDA_ERROR_INVALID_HANDLE;
		m->dev = dev;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_LINEAR:
		m->ptr = res->res.linear.devPtr;
		m->format = (uint32_t)res->res.linear.format;
		m->channels = res->res.linear.numChannels;
		m->bytes = res->res.linear.sizeInBytes;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_PITCH2D:
		m->ptr = res->res.pitch2D.devPtr;
		m->format = (uint32_t)res->res.pitch2D.format;
		m->channels = res->res.pitch2D.numChannels;
		m->width = res->res.pitch2D.width;
		m->height = res->res.pitch2D.height;
		m->pitch = res->res.pitch2D.pitchInBytes;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: {
		struct shim_mipmap *mm = mipmap_of(res->res.mipmap.hMipmappedArray);

		if (!mm)
			return CUDA_ERROR_INVALID_HANDLE;
		m->array = mm->handle;
		m->dev = mm->dev;
		return CUDA_SUCCESS;
	}
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

static CUresult object_create(uint64_t *obj, uint32_t kind, const CUDA_RESOURCE_DESC *res,
			      const CUDA_TEXTURE_DESC *tex, const CUDA_RESOURCE_VIEW_DESC *view)
{
	struct omps_call_tex_create m;
	struct omps_reply_value rep = {{0}, 0};
	struct object *o;
	CUresult r;
	int i;

	if (!obj || !res || (!kind && !tex))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = describe(&m, kind, res)) != CUDA_SUCCESS)
		return r;
	if (tex) {
		for (i = 0; i < 3; i++)
			m.address_mode[i] = (uint32_t)tex->addressMode[i];
		m.filter_mode = (uint32_t)tex->filterMode;
		m.tex_flags = tex->flags;
		m.max_anisotropy = tex->maxAnisotropy;
		m.mipmap_filter_mode = (uint32_t)tex->mipmapFilterMode;
		m.mipmap_bias = tex->mipmapLevelBias;
		m.min_mipmap_clamp = tex->minMipmapLevelClamp;
		m.max_mipmap_clamp = tex->maxMipmapLevelClamp;
		memcpy(m.border, tex->borderColor, sizeof(m.border));
	}
	if (view) {
		m.has_view = 1;
		m.view_format = (uint32_t)view->format;
		m.view_width = view->width;
		m.view_height = view->height;
		m.view_depth = view->depth;
		m.view_first_mip = view->firstMipmapLevel;
		m.view_last_mip = view->lastMipmapLevel;
		m.view_first_layer = view->firstLayer;
		m.view_last_layer = view->lastLayer;
	}
	if (!(o = calloc(1, sizeof(*o))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = shim_call(OMPS_CALL_TEX_CREATE, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS) {
		free(o);
		return r;
	}
	o->obj = (uint64_t)rep.value;
	o->kind = kind;
	o->res = *res;
	if (tex)
		o->tex = *tex;
	if (view)
		o->view = *view;
	pthread_mutex_lock(&lock);
	o->next = objects;
	objects = o;
	pthread_mutex_unlock(&lock);
	*obj = o->obj;
	return CUDA_SUCCESS;
}

/* The record of an object of this process's, taken out if gone. */
static int find(uint64_t obj, uint32_t kind, int take, struct object *out)
{
	struct object **pp, *o;

	pthread_mutex_lock(&lock);
	for (pp = &objects; (o = *pp); pp = &o->next)
		if (o->obj == obj && o->kind == kind)
			break;
	if (o && out)
		*out = *o;
	if (o && take)
		*pp = o->next;
	pthread_mutex_unlock(&lock);
	if (o && take)
		free(o);
	return o ? 0 : -1;
}

static CUresult object_destroy(uint64_t obj, uint32_t kind)
{
	struct omps_call_tex_destroy m = {.object = obj, .kind = kind};
	struct omps_reply rep;

	if (find(obj, kind, 1, NULL))
		return CUDA_ERROR_INVALID_VALUE;
	return shim_call(OMPS_CALL_TEX_DESTROY, &m, sizeof(m), &rep, sizeof(rep));
}

static CUresult tex_create(CUtexObject *obj, const CUDA_RESOURCE_DESC *res, const CUDA_TEXTURE_DESC *tex,
			   const CUDA_RESOURCE_VIEW_DESC *view)
{
	return object_create((uint64_t *)obj, 0, res, tex, view);
}

static CUresult tex_destroy(CUtexObject obj)
{
	return object_destroy(obj, 0);
}

static CUresult surf_create(CUsurfObject *obj, const CUDA_RESOURCE_DESC *res)
{
	return object_create((uint64_t *)obj, 1, res, NULL, NULL);
}

static CUresult surf_destroy(CUsurfObject obj)
{
	return object_destroy(obj, 1);
}

/* The record of an object of this kind, for a query whose answer goes to out. */
static CUresult described(uint64_t obj, uint32_t kind, const void *out, struct object *o)
{
	return !out || find(obj, kind, 0, o) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

static CUresult tex_resource(CUDA_RESOURCE_DESC *res, CUtexObject obj)
{
	struct object o;
	CUresult r = described(obj, 0, res, &o);

	if (r == CUDA_SUCCESS)
		*res = o.res;
	return r;
}

static CUresult tex_texture(CUDA_TEXTURE_DESC *tex, CUtexObject obj)
{
	struct object o;
	CUresult r = described(obj, 0, tex, &o);

	if (r == CUDA_SUCCESS)
		*tex = o.tex;
	return r;
}

static CUresult tex_view(CUDA_RESOURCE_VIEW_DESC *view, CUtexObject obj)
{
	struct object o;
	CUresult r = described(obj, 0, view, &o);

	if (r == CUDA_SUCCESS)
		*view = o.view;
	return r;
}

static CUresult surf_resource(CUDA_RESOURCE_DESC *res, CUsurfObject obj)
{
	struct object o;
	CUresult r = described(obj, 1, res, &o);

	if (r == CUDA_SUCCESS)
		*res = o.res;
	return r;
}

void shim_array_install(void)
{
	SHIM_INSTALL(cuArrayCreate_v2, array_create);
	SHIM_INSTALL(cuArray3DCreate_v2, array_3d_create);
	SHIM_INSTALL(cuArrayDestroy, array_destroy);
	SHIM_INSTALL(cuMipmappedArrayCreate, mipmap_create);
	SHIM_INSTALL(cuMipmappedArrayGetLevel, mipmap_level);
	SHIM_INSTALL(cuMipmappedArrayDestroy, mipmap_destroy);
	SHIM_LOCAL(cuArrayGetDescriptor_v2, array_descriptor);
	SHIM_LOCAL(cuArray3DGetDescriptor_v2, array_3d_descriptor);
	SHIM_INSTALL(cuTexObjectCreate, tex_create);
	SHIM_INSTALL(cuTexObjectDestroy, tex_destroy);
	SHIM_LOCAL(cuTexObjectGetResourceDesc, tex_resource);
	SHIM_LOCAL(cuTexObjectGetTextureDesc, tex_texture);
	SHIM_LOCAL(cuTexObjectGetResourceViewDesc, tex_view);
	SHIM_INSTALL(cuSurfObjectCreate, surf_create);
	SHIM_INSTALL(cuSurfObjectDestroy, surf_destroy);
	SHIM_LOCAL(cuSurfObjectGetResourceDesc, surf_resource);
}
