/* The JIT linker on a client's behalf: a CUlinkState of the server's per
 * client link state. The client's inputs arrive as module images do (files
 * are read by the shim: the server may not see the client's files); the
 * options that travel are numbers only (omps_jit_scalar), so no option makes
 * the driver write into the server at an address the client chose. The log
 * buffers are the server's own, as large as the client's (at most
 * OMPS_LINK_MAX_LOG); the shim reads the logs and the linked image back with
 * LINK_READ and copies them where its program asked.
 *
 * Across a fault (handover.c) a link under way is made again: each input
 * added is kept, as the client sent it, until the link completes, and the
 * successor makes the link state as it was made and adds them again. A
 * completed link only waits for its destroy (the shim read its image and
 * logs in the call that made them): the successor makes it again without
 * its inputs and marks it done. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

#define MAX_LINKS 16		  /* link states a client may hold at once: with their logs, 8 MiB at most */
#define KEPT_INPUTS_MAX (32ull << 20) /* a client's inputs kept for a successor, over its links under way */

/* An input added to a link under way, as the client sent it: add.bytes of
 * data follow, and a NUL. */
struct srv_link_input {
	struct srv_link_input *next;
	struct omps_call_link_add add;
	unsigned char data[];
};

struct srv_link {
	CUlinkState st; /* NULL: a free slot */
	int dev;
	unsigned nopts;
	CUjit_option opt[OMPS_LINK_MAX_OPTIONS + 5];
	void *val[OMPS_LINK_MAX_OPTIONS + 5]; /* the driver writes its out values here until destroy */
	int info_at, error_at, wall_at;	      /* where those out values are; -1: not asked */
	char *info, *error;		      /* the logs, NUL-terminated within their size */
	size_t info_cap, error_cap;
	void *cubin; /* the driver's, after a complete */
	size_t cubin_bytes;
	int done;			       /* completed: it takes no more inputs */
	struct omps_call_link_create made;     /* how it was made, for a successor */
	struct srv_link_input *inputs, *last;  /* added until it completes, in order */
	int unkept;			       /* an input past the client's allowance was not kept */
};

static struct srv_link *link_of(struct srv_client *c, uint32_t handle)
{
	if (!handle || handle > c->link.nlinks || !c->link.links[handle - 1].st) {
		srv_bad_handle(c, "JIT link state", handle);
		return NULL;
	}
	return &c->link.links[handle - 1];
}

/* Its inputs let go: it completed, or goes. */
static void drop_inputs(struct srv_client *c, struct srv_link *l)
{
	struct srv_link_input *in;

	while ((in = l->inputs)) {
		l->inputs = in->next;
		c->link.kept -= in->add.bytes;
		free(in);
	}
	l->last = NULL;
}

/* Its buffers freed and its slot cleared (the driver's state gone or never made). */
static void clear(struct srv_client *c, struct srv_link *l)
{
	drop_inputs(c, l);
	free(l->info);
	free(l->error);
	memset(l, 0, sizeof(*l));
}

static void link_free(struct srv_client *c, struct srv_link *l)
{
	if (srv_use_device(c, l->dev, NULL) == CUDA_SUCCESS)
		c->srv->drv->link_destroy(l->st);
	clear(c, l);
}

/* A free slot's handle; 0 when the client holds MAX_LINKS or memory ran
 * out. The table is made whole at once and never moves: the driver keeps
 * the address of each state's val. */
static uint32_t slot(struct srv_client *c)
{
	uint32_t i;

	if (!c->link.links && (c->link.links = calloc(MAX_LINKS, sizeof(*c->link.links))))
		c->link.nlinks = MAX_LINKS;
	for (i = 0; i < c->link.nlinks; i++)
		if (!c->link.links[i].st)
			return i + 1;
	if (c->link.links)
		srv_refused(c, "more than %d JIT link states at once", MAX_LINKS);
	return 0;
}

/* The client's options into opt/val from *n on; -1 (logged) if one is not a number. */
static int take_options(struct srv_client *c, const struct omps_jit_option *o, uint32_t n, CUjit_option *opt,
			void **val, unsigned *at)
{
	uint32_t i;

	if (n > OMPS_LINK_MAX_OPTIONS)
		return -1;
	for (i = 0; i < n; i++) {
		if (!omps_jit_scalar(o[i].option)) {
			srv_refused(c, "JIT option %u, whose value is an address in the client", o[i].option);
			return -1;
		}
		opt[*at] = (CUjit_option)o[i].option;
		val[(*at)++] = (void *)(uintptr_t)o[i].value;
	}
	return 0;
}

/* A log buffer of the client's size (capped), its two options added. */
static int add_log(struct srv_link *l, uint32_t bytes, CUjit_option buf_opt, char **buf, size_t *cap, int *at)
{
	*at = -1;
	if (!bytes)
		return 0;
	*cap = bytes < OMPS_LINK_MAX_LOG ? bytes : OMPS_LINK_MAX_LOG;
	if (!(*buf = calloc(1, *cap)))
		return -1;
	l->opt[l->nopts] = buf_opt;
	l->val[l->nopts++] = *buf;
	l->opt[l->nopts] = (CUjit_option)(buf_opt + 1); /* its _SIZE_BYTES, in and out */
	*at = (int)l->nopts;
	l->val[l->nopts++] = (void *)(uintptr_t)*cap;
	return 0;
}

static uint64_t out_value(const struct srv_link *l, int at)
{
	return at < 0 ? 0 : (uint64_t)(uintptr_t)l->val[at];
}

/* What the client may read now, in its reply. */
static void reply_link(struct srv_client *c, const struct srv_link *l, CUresult r)
{
	struct omps_reply_link rep;

	memset(&rep, 0, sizeof(rep));
	if (l) {
		rep.cubin_bytes = l->cubin ? l->cubin_bytes : 0;
		rep.info_bytes = l->info ? (uint32_t)strnlen(l->info, l->info_cap) : 0;
		rep.error_bytes = l->error ? (uint32_t)strnlen(l->error, l->error_cap) : 0;
		rep.info_filled = out_value(l, l->info_at);
		rep.error_filled = out_value(l, l->error_at);
		if (l->wall_at >= 0)
			memcpy(&rep.wall_ms, &l->val[l->wall_at], sizeof(rep.wall_ms)); /* a float in the slot */
	}
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

/* The driver's link state in slot l, made as m asks (the client's create,
 * or a successor's of the same). */
static CUresult make(struct srv_client *c, struct srv_link *l, const struct omps_call_link_create *m)
{
	CUresult r = CUDA_SUCCESS;

	l->dev = m->dev;
	l->wall_at = -1;
	l->made = *m;
	if (take_options(c, m->opts, m->nopts, l->opt, l->val, &l->nopts))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS &&
	    (add_log(l, m->info_log, CU_JIT_INFO_LOG_BUFFER, &l->info, &l->info_cap, &l->info_at) ||
	     add_log(l, m->error_log, CU_JIT_ERROR_LOG_BUFFER, &l->error, &l->error_cap, &l->error_at)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS && m->wall_time) {
		l->opt[l->nopts] = CU_JIT_WALL_TIME;
		l->wall_at = (int)l->nopts++;
	}
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->link_create(l->nopts, l->opt, l->val, &l->st);
	if (r == CUDA_SUCCESS && !l->st)
		r = CUDA_ERROR_UNKNOWN;
	if (r != CUDA_SUCCESS)
		clear(c, l);
	return r;
}

void srv_link_create(struct srv_client *c, const struct omps_call_link_create *m)
{
	struct omps_reply_handle rep = {{0}, 0, 0};
	CUresult r = srv_use_device(c, m->dev, NULL);
	uint32_t handle = 0;

	if (r == CUDA_SUCCESS && !c->srv->drv->link_create)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS && !(handle = slot(c)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) /* made in its slot: the driver keeps the address of val */
		r = make(c, &c->link.links[handle - 1], m);
	if (r == CUDA_SUCCESS)
		rep.handle = handle;
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

static void append(struct srv_client *c, struct srv_link *l, struct srv_link_input *in)
{
	in->next = NULL;
	c->link.kept += in->add.bytes;
	if (l->last)
		l->last->next = in;
	else
		l->inputs = in;
	l->last = in;
}

/* An input the driver took, kept for a successor while the link is under
 * way; past the client's allowance the link is marked, not failed. */
static void keep_input(struct srv_client *c, struct srv_link *l, const struct omps_call_link_add *m,
		       const unsigned char *data)
{
	struct srv_link_input *in = NULL;

	if (!l->unkept && c->link.kept + m->bytes <= KEPT_INPUTS_MAX)
		in = malloc(sizeof(*in) + m->bytes + 1);
	if (!in) {
		if (!l->unkept)
			omps_log("Client process %d: its JIT link state %u is not kept for a fault: its inputs pass %llu MiB",
				 (int)c->pid, (unsigned)(l - c->link.links) + 1, (unsigned long long)(KEPT_INPUTS_MAX >> 20));
		l->unkept = 1;
		return;
	}
	in->add = *m;
	memcpy(in->data, data, m->bytes + 1); /* with its NUL */
	append(c, l, in);
}

/* One input into the driver's link state. */
static CUresult add_data(struct srv_client *c, struct srv_link *l, const struct omps_call_link_add *m,
			 unsigned char *data)
{
	CUjit_option opt[OMPS_LINK_MAX_OPTIONS];
	void *val[OMPS_LINK_MAX_OPTIONS];
	char name[OMPS_LINK_MAX_NAME];
	unsigned n = 0;

	if (m->type >= CU_JIT_NUM_INPUT_TYPES || take_options(c, m->opts, m->nopts, opt, val, &n))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(name, m->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	data[m->bytes] = '\0'; /* PTX is read up to a NUL: never past what was sent */
	return c->srv->drv->link_add_data(l->st, (CUjitInputType)m->type, data, m->bytes, name, n, opt, val);
}

void srv_link_add(struct srv_client *c, const struct omps_call_link_add *m)
{
	struct srv_link *l = link_of(c, m->handle);
	CUresult r = l ? srv_use_device(c, l->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;

	if (r == CUDA_SUCCESS && (m->bytes != c->mod.image_len || !c->mod.image_len))
		r = CUDA_ERROR_INVALID_IMAGE;
	if (r == CUDA_SUCCESS && l->done)
		r = CUDA_ERROR_INVALID_HANDLE; /* completed: the driver takes no more inputs */
	if (r == CUDA_SUCCESS)
		r = add_data(c, l, m, c->mod.image);
	if (r == CUDA_SUCCESS)
		keep_input(c, l, m, c->mod.image);
	reply_link(c, l, r);
	srv_module_image_used(c);
}

void srv_link_complete(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_link *l = link_of(c, m->handle);
	CUresult r = l ? srv_use_device(c, l->dev, NULL) : CUDA_ERROR_INVALID_HANDLE;
	size_t bytes = 0;
	void *cubin = NULL;

	if (r == CUDA_SUCCESS && l->done)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS)
		r = c->srv->drv->link_complete(l->st, &cubin, &bytes);
	if (r == CUDA_SUCCESS && (!cubin || !bytes || bytes > OMPS_MAX_IMAGE))
		r = CUDA_ERROR_INVALID_IMAGE;
	if (r == CUDA_SUCCESS) {
		l->cubin = cubin;
		l->cubin_bytes = bytes;
		l->done = 1;
		drop_inputs(c, l); /* a successor needs none of them now */
	}
	reply_link(c, l, r);
}

void srv_link_read(struct srv_client *c, const struct omps_call_link_read *m)
{
	struct srv_link *l = link_of(c, m->handle);
	const char *from = NULL;
	size_t have = 0;
	CUresult r = l ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;

	if (l && m->part == OMPS_LINK_CUBIN)
		from = l->cubin, have = l->cubin ? l->cubin_bytes : 0;
	else if (l && m->part == OMPS_LINK_INFO_LOG && l->info)
		from = l->info, have = strnlen(l->info, l->info_cap);
	else if (l && m->part == OMPS_LINK_ERROR_LOG && l->error)
		from = l->error, have = strnlen(l->error, l->error_cap);
	if (r == CUDA_SUCCESS && (!from || m->bytes != have))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = srv_reply_chunks(c, m->bytes, srv_bytes_piece, (void *)from);
	srv_reply_result(c, r);
}

void srv_link_destroy(struct srv_client *c, const struct omps_call_handle *m)
{
	struct srv_link *l = link_of(c, m->handle);

	if (l)
		link_free(c, l);
	srv_reply_result(c, l ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}

void srv_link_release(struct srv_client *c)
{
	uint32_t i;

	for (i = 0; i < c->link.nlinks; i++)
		if (c->link.links[i].st)
			link_free(c, &c->link.links[i]);
	free(c->link.links);
	c->link.links = NULL;
	c->link.nlinks = 0;
}

const char *srv_link_unkeepable(const struct srv_client *c)
{
	uint32_t i;

	for (i = 0; i < c->link.nlinks; i++)
		if (c->link.links[i].st && !c->link.links[i].done && c->link.links[i].unkept)
			return "a JIT link under way whose inputs were not kept (past the bound)";
	return NULL;
}

/* Each slot: 0 free, 1 under way (its inputs follow), 2 completed. */
void srv_link_save(const struct srv_client *c, struct srv_pack *p)
{
	uint32_t i, n;

	srv_pack_put(p, &c->link.nlinks, sizeof(c->link.nlinks));
	for (i = 0; i < c->link.nlinks; i++) {
		const struct srv_link *l = &c->link.links[i];
		const struct srv_link_input *in;
		uint8_t state = !l->st ? 0 : l->done ? 2 : 1;

		srv_pack_put(p, &state, sizeof(state));
		if (!state)
			continue;
		srv_pack_put(p, &l->made, sizeof(l->made));
		for (n = 0, in = l->inputs; in; in = in->next)
			n++;
		srv_pack_put(p, &n, sizeof(n));
		for (in = l->inputs; in; in = in->next) {
			srv_pack_put(p, &in->add, sizeof(in->add));
			srv_pack_put(p, in->data, in->add.bytes);
		}
	}
}

/* One link state made again in slot l and its inputs added again; its
 * record is read whole whatever happens. Returns why it cannot be, or why. */
static const char *restore_one(struct srv_client *c, struct srv_link *l, uint8_t state, struct srv_unpack *u,
			       const char *why)
{
	struct omps_call_link_create made;
	struct srv_link_input *in;
	uint32_t n = 0, i;

	srv_unpack_get(u, &made, sizeof(made));
	srv_unpack_get(u, &n, sizeof(n));
	if (!u->failed && !why &&
	    (srv_use_device(c, made.dev, NULL) != CUDA_SUCCESS || !c->srv->drv->link_create ||
	     make(c, l, &made) != CUDA_SUCCESS))
		why = "a JIT link state of its cannot be made again";
	if (!u->failed && !why)
		l->done = state == 2;
	for (i = 0; i < n && !u->failed; i++) {
		struct omps_call_link_add add;

		if (srv_unpack_get(u, &add, sizeof(add)) < 0 || add.bytes > OMPS_MAX_IMAGE ||
		    add.bytes > u->len - u->off) {
			u->failed = 1;
			break;
		}
		if (!(in = malloc(sizeof(*in) + add.bytes + 1))) {
			u->off += add.bytes; /* the reader stays in step */
			why = why ? why : "out of memory";
			continue;
		}
		in->add = add;
		srv_unpack_get(u, in->data, add.bytes);
		if (!why && add_data(c, l, &in->add, in->data) != CUDA_SUCCESS)
			why = "an input of its JIT link under way is not taken again";
		if (why) {
			free(in);
			continue;
		}
		append(c, l, in);
	}
	return why;
}

const char *srv_link_restore(struct srv_client *c, struct srv_unpack *u, const char *why)
{
	uint32_t n = 0, i;

	if (srv_unpack_get(u, &n, sizeof(n)) < 0 || (n && n != MAX_LINKS) ||
	    (n && !(c->link.links = calloc(n, sizeof(*c->link.links))))) {
		u->failed = 1;
		return why;
	}
	c->link.nlinks = n;
	for (i = 0; i < n && !u->failed; i++) {
		uint8_t state = 0;

		if (srv_unpack_get(u, &state, sizeof(state)) < 0 || state > 2) {
			u->failed = 1;
			break;
		}
		if (state)
			why = restore_one(c, &c->link.links[i], state, u, why);
	}
	return why;
}
