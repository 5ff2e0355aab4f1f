/* CUDA arrays, texture and surface objects on a client's behalf. An array
 * is the client's handle into its table; a texture or surface object is the
 * driver's own value (kernels take it as an argument, so it must be the
 * server's), recorded so that only the client that made it destroys it and
 * so that it goes when the client goes. An array a texture or surface object
 * reads stays until the last such object goes: a kernel reading a destroyed
 * array would fault the context every client shares. Arrays count against
 * the client's memory limit (elements times their size). A mipmapped array
 * is an entry of the same table; each level asked for becomes an array entry
 * of its own (its parent's handle kept), which goes with its parent and
 * which the client may not destroy; an object over a level holds the
 * parent. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

struct srv_array {
	CUarray a;	     /* an array or a level; NULL for a mipmapped array */
	CUmipmappedArray mm; /* a mipmapped array; both NULL: a free slot */
	int dev;
	uint64_t width, height, depth, elem; /* height and depth at least 1; elem in bytes */
	uint64_t bytes;			     /* counted against its limit; 0 for a level */
	uint32_t parent, level;		     /* a level: its mipmapped array's handle, and which */
	unsigned users;			     /* texture and surface objects over it */
	int dropped;			     /* destroyed by the client: goes with its last user */
};

static int used(const struct srv_array *a)
{
	return a->a || a->mm;
}

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

/* An entry of its table: an array or level (mipmap 0), or a mipmapped array (1). */
static struct srv_array *entry_of(struct srv_client *c, uint32_t handle, int mipmap)
{
	struct srv_array *a = handle && handle <= c->arr.narrays ? &c->arr.arrays[handle - 1] : NULL;

	if (!a || !used(a) || a->dropped || !a->mm != !mipmap) {
		srv_refused(c, "%s handle %u is not one of its own", mipmap ? "mipmapped array" : "array", handle);
		return NULL;
	}
	return a;
}

static struct srv_array *array_of(struct srv_client *c, uint32_t handle)
{
	return entry_of(c, handle, 0);
}

/* An array or mipmapped array destroyed (a mipmapped array's levels go with it). */
static void array_free(struct srv_client *c, struct srv_array *a)
{
	uint32_t i, handle = (uint32_t)(a - c->arr.arrays) + 1;

	if (srv_use_device(c, a->dev, NULL) == CUDA_SUCCESS) {
		if (a->mm)
			c->srv->drv->mipmapped_array_destroy(a->mm);
		else
			c->srv->drv->array_destroy(a->a);
	}
	for (i = 0; a->mm && i < c->arr.narrays; i++)
		if (c->arr.arrays[i].parent == handle)
			memset(&c->arr.arrays[i], 0, sizeof(c->arr.arrays[i]));
	srv_memory_account(c, a->dev, a->bytes, 0);
	memset(a, 0, sizeof(*a));
}

/* A free slot's handle, the table grown if need be; 0: no memory. */
static uint32_t slot(struct srv_client *c)
{
	struct srv_array *t;
	uint32_t i;

	for (i = 0; i < c->arr.narrays; i++)
		if (!used(&c->arr.arrays[i]))
			return i + 1;
	t = realloc(c->arr.arrays, (c->arr.narrays + 16) * sizeof(*t));
	if (!t)
		return 0;
	memset(t + c->arr.narrays, 0, 16 * sizeof(*t));
	c->arr.arrays = t;
	c->arr.narrays += 16;
	return i + 1;
}

/* A descriptor's element size, checked, and its levels' bytes (levels 0: an
 * array, one level); 0 if it is not one the server makes. */
static uint64_t describe(const struct omps_call_array_create *m, unsigned levels, uint64_t *elem)
{
	uint64_t h = m->height ? m->height : 1, z = m->depth ? m->depth : 1, w = m->width, bytes = 0;
	unsigned l;

	*elem = format_bytes(m->format) * m->channels;
	if (!*elem || (m->channels != 1 && m->channels != 2 && m->channels != 4) || !m->width ||
	    m->width > (1ull << 32) || h > (1ull << 32) || z > (1ull << 32) || levels > 32)
		return 0;
	for (l = 0; l < (levels ? levels : 1); l++, w = w > 1 ? w / 2 : 1, h = h > 1 ? h / 2 : 1, z = z > 1 ? z / 2 : 1)
		bytes += w * h * z * *elem;
	return bytes;
}

static void create(struct srv_client *c, const struct omps_call_array_create *m, unsigned levels)
{
	const struct srv_driver *drv = c->srv->drv;
	CUDA_ARRAY3D_DESCRIPTOR d = {.Width = m->width, .Height = m->height, .Depth = m->depth,
				     .Format = (CUarray_format)m->format, .NumChannels = m->channels,
				     .Flags = m->flags};
	struct omps_reply_handle rep = {{0}, 0, 0};
	uint64_t elem, bytes = describe(m, levels, &elem);
	struct srv_array e = {.dev = m->dev, .width = m->width, .height = m->height ? m->height : 1,
			      .depth = m->depth ? m->depth : 1, .bytes = bytes};
	CUresult r = srv_use_device(c, m->dev, NULL);
	uint32_t handle = 0;

	e.elem = elem;
	if (r == CUDA_SUCCESS && (levels ? !drv->mipmapped_array_create || !drv->mipmapped_array_get_level || !drv->mipmapped_array_destroy : !drv->array_3d_create))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS && !bytes)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_qos_mem_check(c, m->dev, bytes, levels ? "cuMipmappedArrayCreate" : "cuArray3DCreate");
	if (r == CUDA_SUCCESS && !(handle = slot(c)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = levels ? drv->mipmapped_array_create(&e.mm, &d, levels) : drv->array_3d_create(&e.a, &d);
	if (r == CUDA_SUCCESS) {
		c->arr.arrays[handle - 1] = e;
		srv_memory_account(c, m->dev, bytes, 1);
		rep.handle = handle;
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_array_create(struct srv_client *c, const struct omps_call_array_create *m)
{
	create(c, m, 0);
}

void srv_array_mipmap_create(struct srv_client *c, const struct omps_call_mipmap_create *m)
{
	if (m->levels)
		create(c, &m->a, m->levels);
	else
		srv_reply_result(c, CUDA_ERROR_INVALID_VALUE);
}

/* A level's array entry, made at its first ask; the same handle after. */
void srv_array_mipmap_level(struct srv_client *c, const struct omps_call_mipmap_level *m)
{
	struct omps_reply_handle rep = {{0}, 0, 0};
	struct srv_array *p = entry_of(c, m->handle, 1), e;
	uint32_t i, handle = 0;
	CUresult r = p ? srv_use_device(c, p->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	for (i = 0; r == CUDA_SUCCESS && i < c->arr.narrays && !handle; i++)
		if (c->arr.arrays[i].parent == m->handle && c->arr.arrays[i].level == m->level)
			handle = i + 1;
	if (r == CUDA_SUCCESS && !handle) {
		e = (struct srv_array){.dev = p->dev, .elem = p->elem, .parent = m->handle, .level = m->level};
		e.width = m->level < 64 && p->width >> m->level ? p->width >> m->level : 1;
		e.height = m->level < 64 && p->height >> m->level ? p->height >> m->level : 1;
		e.depth = m->level < 64 && p->depth >> m->level ? p->depth >> m->level : 1;
		r = c->srv->drv->mipmapped_array_get_level(&e.a, p->mm, m->level);
		if (r == CUDA_SUCCESS && !(handle = slot(c)))
			r = CUDA_ERROR_OUT_OF_MEMORY;
		if (r == CUDA_SUCCESS)
			c->arr.arrays[handle - 1] = e; /* the table may have moved: p is not used after slot() */
	}
	rep.handle = r == CUDA_SUCCESS ? handle : 0;
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_array_destroy(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_array *a = m->handle && m->handle <= c->arr.narrays && c->arr.arrays[m->handle - 1].mm
				      ? entry_of(c, m->handle, 1)
				      : array_of(c, m->handle);

	if (a && a->parent) {
		srv_refused(c, "array %u is a level of mipmapped array %u: it goes with it", m->handle, a->parent);
		a = NULL;
	} else if (a && a->users)
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
	uint64_t bytes, ptr = m->ptr;

	memset(res, 0, sizeof(*res));
	res->flags = m->res_flags;
	switch (m->res_type) {
	case CU_RESOURCE_TYPE_ARRAY:
		if (!(*arr = array_of(c, m->array)) || (*arr)->dev != m->dev)
			return CUDA_ERROR_INVALID_HANDLE;
		res->resType = CU_RESOURCE_TYPE_ARRAY;
		res->res.array.hArray = (*arr)->a;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY:
		if (m->kind || !(*arr = entry_of(c, m->array, 1)) || (*arr)->dev != m->dev)
			return CUDA_ERROR_INVALID_HANDLE;
		res->resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY;
		res->res.mipmap.hMipmappedArray = (*arr)->mm;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_LINEAR:
		if (m->kind || !srv_memory_owns(c, &ptr, m->bytes ? m->bytes : 1))
			return CUDA_ERROR_INVALID_VALUE;
		res->resType = CU_RESOURCE_TYPE_LINEAR;
		res->res.linear.devPtr = ptr;
		res->res.linear.format = (CUarray_format)m->format;
		res->res.linear.numChannels = m->channels;
		res->res.linear.sizeInBytes = m->bytes;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_PITCH2D:
		if (m->kind || !m->height || m->pitch > UINT64_MAX / m->height)
			return CUDA_ERROR_INVALID_VALUE;
		bytes = m->pitch * (m->height - 1) + m->width * format_bytes(m->format) * m->channels;
		if (!srv_memory_owns(c, &ptr, bytes ? bytes : 1))
			return CUDA_ERROR_INVALID_VALUE;
		res->resType = CU_RESOURCE_TYPE_PITCH2D;
		res->res.pitch2D.devPtr = ptr;
		res->res.pitch2D.format = (CUarray_format)m->format;
		res->res.pitch2D.numChannels = m->channels;
		res->res.pitch2D.width = m->width;
		res->res.pitch2D.height = m->height;
		res->res.pitch2D.pitchInBytes = m->pitch;
		return CUDA_SUCCESS;
	}
	srv_refused(c, "a texture or surface object over a resource of type %u", m->res_type);
	return CUDA_ERROR_INVALID_VALUE;
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

	uint32_t holds = m->array; /* the entry the object keeps: a level's parent */

	if (r == CUDA_SUCCESS)
		r = resource(c, m, &res, &arr);
	if (r == CUDA_SUCCESS && arr && arr->parent) {
		holds = arr->parent;
		arr = &c->arr.arrays[holds - 1];
	}
	if (r == CUDA_SUCCESS && !(o = calloc(1, sizeof(*o))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = make(c, m, &res, &obj);
	if (r == CUDA_SUCCESS) {
		*o = (struct srv_texobj){.next = c->arr.objects, .obj = obj, .kind = m->kind,
					 .array = arr ? holds : 0, .dev = m->dev};
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
		if (used(&c->arr.arrays[i]) && !c->arr.arrays[i].parent) /* levels go with their parent */
			array_free(c, &c->arr.arrays[i]);
	free(c->arr.arrays);
	c->arr.arrays = NULL;
	c->arr.narrays = 0;
}
