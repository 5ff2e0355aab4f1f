/* CUDA arrays, texture and surface objects on a client's behalf. An array
 * is the client's handle into its table; a texture or surface object is the
 * driver's own value (kernels take it as an argument, so it must be the
 * server's), recorded so that only the client that made it destroys it and
 * so that it goes when the client goes. An array a texture or surface object
 * reads stays until the last such object goes: a kernel reading a destroyed
 * array would fault the context every client shares. Arrays count against
 * the client's memory limit (elements times their size). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

struct srv_array {
	CUarray a; /* NULL: a free slot */
	int dev;
	uint64_t width, height, depth, elem; /* height and depth at least 1; elem in bytes */
	unsigned users;			     /* texture and surface objects over it */
	int dropped;			     /* destroyed by the client: goes with its last user */
};

struct srv_texobj {
	struct srv_texobj *next;
	uint64_t obj;
	uint32_t kind; /* 0 texture, 1 surface */
	uint32_t array; /* the array it reads (handle), 0: linear memory */
	int dev;
};

static uint64_t format_bytes(uint32_t format)
{
	switch (format) {
	case CU_AD_FORMAT_UNSIGNED_INT8:
	case CU_AD_FORMAT_SIGNED_INT8:
		return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16:
	case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF:
		return 2;
	case CU_AD_FORMAT_UNSIGNED_INT32:
	case CU_AD_FORMAT_SIGNED_INT32:
	case CU_AD_FORMAT_FLOAT:
		return 4;
	}
	return 0; /* other formats: not remoted */
}

static struct srv_array *array_of(struct srv_client *c, uint32_t handle)
{
	if (!handle || handle > c->arr.narrays || !c->arr.arrays[handle - 1].a || c->arr.arrays[handle - 1].dropped) {
		srv_refused(c, "array handle %u is not one of its arrays", handle);
		return NULL;
	}
	return &c->arr.arrays[handle - 1];
}

static uint64_t array_bytes(const struct srv_array *a)
{
	return a->width * a->height * a->depth * a->elem;
}

static void array_free(struct srv_client *c, struct srv_array *a)
{
	if (srv_use_device(c, a->dev, NULL) == CUDA_SUCCESS)
		c->srv->drv->array_destroy(a->a);
	srv_memory_account(c, a->dev, array_bytes(a), 0);
	memset(a, 0, sizeof(*a));
}

/* A free slot's handle, the table grown if need be; 0: no memory. */
static uint32_t slot(struct srv_client *c)
{
	struct srv_array *t;
	uint32_t i;

	for (i = 0; i < c->arr.narrays; i++)
		if (!c->arr.arrays[i].a)
			return i + 1;
	t = realloc(c->arr.arrays, (c->arr.narrays + 16) * sizeof(*t));
	if (!t)
		return 0;
	memset(t + c->arr.narrays, 0, 16 * sizeof(*t));
	c->arr.arrays = t;
	c->arr.narrays += 16;
	return i + 1;
}

void srv_array_create(struct srv_client *c, const struct omps_call_array_create *m)
{
	const struct srv_driver *drv = c->srv->drv;
	CUDA_ARRAY3D_DESCRIPTOR d = {.Width = m->width, .Height = m->height, .Depth = m->depth,
				     .Format = (CUarray_format)m->format, .NumChannels = m->channels,
				     .Flags = m->flags};
	struct omps_reply_handle rep = {{0}, 0, 0};
	uint64_t elem = format_bytes(m->format) * m->channels, h = m->height ? m->height : 1;
	uint64_t z = m->depth ? m->depth : 1;
	CUarray a = NULL;
	CUresult r = srv_use_device(c, m->dev, NULL);
	uint32_t handle = 0;

	if (r == CUDA_SUCCESS && !drv->array_3d_create)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS && (!elem || (m->channels != 1 && m->channels != 2 && m->channels != 4) ||
				  !m->width || m->width > (1ull << 32) || h > (1ull << 32) || z > (1ull << 32)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_qos_mem_check(c, m->dev, m->width * h * z * elem, "cuArray3DCreate");
	if (r == CUDA_SUCCESS && !(handle = slot(c)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = drv->array_3d_create(&a, &d);
	if (r == CUDA_SUCCESS) {
		c->arr.arrays[handle - 1] = (struct srv_array){.a = a, .dev = m->dev, .width = m->width, .height = h,
							       .depth = z, .elem = elem};
		srv_memory_account(c, m->dev, array_bytes(&c->arr.arrays[handle - 1]), 1);
		rep.handle = handle;
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_array_destroy(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_array *a = array_of(c, m->handle);

	if (a && a->users)
		a->dropped = 1; /* its last texture or surface object frees it */
	else if (a)
		array_free(c, a);
	srv_reply_result(c, a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}

CUarray srv_array_span(struct srv_client *c, uint32_t handle, int dev, uint64_t x, uint64_t width, uint64_t y,
		       uint64_t rows, uint64_t z)
{
	struct srv_array *a = array_of(c, handle);
	uint64_t row = a ? a->width * a->elem : 0;

	if (!a)
		return NULL;
	if (a->dev != dev || x > row || width > row - x || y > a->height || rows > a->height - y || z >= a->depth) {
		srv_refused(c, "a copy of %llu bytes x %llu rows at (%llu, %llu, %llu) outside its array %u",
			    (unsigned long long)width, (unsigned long long)rows, (unsigned long long)x,
			    (unsigned long long)y, (unsigned long long)z, handle);
		return NULL;
	}
	return a->a;
}

/* The driver's descriptors from the record; an array resource names the
 * client's array, linear and pitched ones its own device memory. */
static CUresult resource(struct srv_client *c, const struct omps_call_tex_create *m, CUDA_RESOURCE_DESC *res,
			 struct srv_array **arr)
{
	uint64_t bytes;

	memset(res, 0, sizeof(*res));
	res->flags = m->res_flags;
	switch (m->res_type) {
	case CU_RESOURCE_TYPE_ARRAY:
		if (!(*arr = array_of(c, m->array)) || (*arr)->dev != m->dev)
			return CUDA_ERROR_INVALID_HANDLE;
		res->resType = CU_RESOURCE_TYPE_ARRAY;
		res->res.array.hArray = (*arr)->a;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_LINEAR:
		if (m->kind || !srv_memory_owns(c, m->ptr, m->bytes ? m->bytes : 1))
			return CUDA_ERROR_INVALID_VALUE;
		res->resType = CU_RESOURCE_TYPE_LINEAR;
		res->res.linear.devPtr = m->ptr;
		res->res.linear.format = (CUarray_format)m->format;
		res->res.linear.numChannels = m->channels;
		res->res.linear.sizeInBytes = m->bytes;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_PITCH2D:
		if (m->kind || !m->height || m->pitch > UINT64_MAX / m->height)
			return CUDA_ERROR_INVALID_VALUE;
		bytes = m->pitch * (m->height - 1) + m->width * format_bytes(m->format) * m->channels;
		if (!srv_memory_owns(c, m->ptr, bytes ? bytes : 1))
			return CUDA_ERROR_INVALID_VALUE;
		res->resType = CU_RESOURCE_TYPE_PITCH2D;
		res->res.pitch2D.devPtr = m->ptr;
		res->res.pitch2D.format = (CUarray_format)m->format;
		res->res.pitch2D.numChannels = m->channels;
		res->res.pitch2D.width = m->width;
		res->res.pitch2D.height = m->height;
		res->res.pitch2D.pitchInBytes = m->pitch;
		return CUDA_SUCCESS;
	}
	srv_refused(c, "a texture or surface object over a resource of type %u (mipmapped arrays are not served)",
		    m->res_type);
	return CUDA_ERROR_NOT_SUPPORTED;
}

static CUresult make(struct srv_client *c, const struct omps_call_tex_create *m, const CUDA_RESOURCE_DESC *res,
		     uint64_t *obj)
{
	const struct srv_driver *drv = c->srv->drv;
	CUDA_TEXTURE_DESC t;
	CUDA_RESOURCE_VIEW_DESC v;
	int i;

	if (m->kind == 1) {
		if (!drv->surf_object_create)
			return CUDA_ERROR_NOT_SUPPORTED;
		return drv->surf_object_create((CUsurfObject *)obj, res);
	}
	if (!drv->tex_object_create)
		return CUDA_ERROR_NOT_SUPPORTED;
	memset(&t, 0, sizeof(t));
	for (i = 0; i < 3; i++)
		t.addressMode[i] = (CUaddress_mode)m->address_mode[i];
	t.filterMode = (CUfilter_mode)m->filter_mode;
	t.flags = m->tex_flags;
	t.maxAnisotropy = m->max_anisotropy;
	t.mipmapFilterMode = (CUfilter_mode)m->mipmap_filter_mode;
	t.mipmapLevelBias = m->mipmap_bias;
	t.minMipmapLevelClamp = m->min_mipmap_clamp;
	t.maxMipmapLevelClamp = m->max_mipmap_clamp;
	memcpy(t.borderColor, m->border, sizeof(t.borderColor));
	memset(&v, 0, sizeof(v));
	v.format = (CUresourceViewFormat)m->view_format;
	v.width = m->view_width;
	v.height = m->view_height;
	v.depth = m->view_depth;
	v.firstMipmapLevel = m->view_first_mip;
	v.lastMipmapLevel = m->view_last_mip;
	v.firstLayer = m->view_first_layer;
	v.lastLayer = m->view_last_layer;
	return drv->tex_object_create((CUtexObject *)obj, res, &t, m->has_view ? &v : NULL);
}

void srv_array_tex_create(struct srv_client *c, const struct omps_call_tex_create *m)
{
	struct srv_array *arr = NULL;
	struct srv_texobj *o = NULL;
	CUDA_RESOURCE_DESC res;
	uint64_t obj = 0;
	CUresult r = m->kind > 1 ? CUDA_ERROR_INVALID_VALUE : srv_use_device(c, m->dev, NULL);

	if (r == CUDA_SUCCESS)
		r = resource(c, m, &res, &arr);
	if (r == CUDA_SUCCESS && !(o = calloc(1, sizeof(*o))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = make(c, m, &res, &obj);
	if (r == CUDA_SUCCESS) {
		*o = (struct srv_texobj){.next = c->arr.objects, .obj = obj, .kind = m->kind,
					 .array = arr ? m->array : 0, .dev = m->dev};
		c->arr.objects = o;
		if (arr)
			arr->users++;
	} else {
		free(o);
	}
	srv_reply_value(c, srv_with_sticky(c, r), (int64_t)obj);
}

static void object_free(struct srv_client *c, struct srv_texobj *o)
{
	const struct srv_driver *drv = c->srv->drv;
	struct srv_array *a = o->array ? &c->arr.arrays[o->array - 1] : NULL;

	if (srv_use_device(c, o->dev, NULL) == CUDA_SUCCESS) {
		if (o->kind)
			drv->surf_object_destroy((CUsurfObject)o->obj);
		else
			drv->tex_object_destroy((CUtexObject)o->obj);
	}
	if (a && !--a->users && a->dropped)
		array_free(c, a);
	free(o);
}

void srv_array_tex_destroy(struct srv_client *c, const struct omps_call_tex_destroy *m)
{
	struct srv_texobj **pp, *o;

	for (pp = &c->arr.objects; (o = *pp); pp = &o->next)
		if (o->obj == m->object && o->kind == m->kind)
			break;
	if (!o) {
		srv_refused(c, "%s object 0x%llx is not one of its own", m->kind ? "a surface" : "a texture",
			    (unsigned long long)m->object);
		srv_reply_result(c, CUDA_ERROR_INVALID_VALUE);
		return;
	}
	*pp = o->next;
	object_free(c, o);
	srv_reply_result(c, CUDA_SUCCESS);
}

void srv_array_release(struct srv_client *c)
{
	struct srv_texobj *o;
	uint32_t i;

	while ((o = c->arr.objects)) {
		c->arr.objects = o->next;
		object_free(c, o);
	}
	for (i = 0; i < c->arr.narrays; i++)
		if (c->arr.arrays[i].a)
			array_free(c, &c->arr.arrays[i]);
	free(c->arr.arrays);
	c->arr.arrays = NULL;
	c->arr.narrays = 0;
}
