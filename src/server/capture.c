/* A stream capture under way, kept across a GPU fault. What a capture
 * holds is the driver's, in the poisoned context, and is not read back:
 * instead, from the call that begins a client's first capture until its
 * last capture ends, each record that put work into a capturing stream
 * (launches, copies and sets between device or shared host memory, event
 * records and waits, stream memory operations, graph launches, captured
 * host functions) is kept as it was served, in order. The successor, once
 * it has made the client's streams, events, graphs and host memory again,
 * serves those records again with no reply going out: the capture is
 * where it was, and the client adds to it and ends it as if nothing had
 * happened. Work on streams not capturing, and calls that change no
 * capture, are not kept: the record carries what they did.
 *
 * What it cannot make again costs the client its context at a fault, as
 * before, with the reason: stream-ordered memory allocated or freed in a
 * capture (the driver's graph memory, at addresses a successor's driver
 * would choose anew), a capture spoiled (something in it was refused), a
 * failure pending from an earlier call, or more than CAPTURE_KEPT_MAX bytes
 * of records. Each record is kept with the driver's id of the capture it
 * went into, so that one capture ending while others go on takes its
 * records out. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

#define CAPTURE_KEPT_MAX (16u << 20) /* a client's records kept while it captures */

/* One record kept: its type and length, the capture it went into, then
 * its bytes, padded to 8. */
struct kept_record {
	uint32_t type;
	uint32_t len;
	uint64_t capture; /* the driver's id of the capture */
};

static size_t record_bytes(const struct kept_record *k)
{
	return sizeof(*k) + (((size_t)k->len + 7) & ~(size_t)7);
}

/* The record kept at off: its header into *k, its bytes returned. */
static unsigned char *kept_at(const struct srv_client *c, size_t off, struct kept_record *k)
{
	memcpy(k, c->graph.journal.buf + off, sizeof(*k));
	return c->graph.journal.buf + off + sizeof(*k);
}

static void drop(struct srv_client *c)
{
	free(c->graph.journal.buf);
	c->graph.journal.buf = NULL;
	c->graph.journal.len = c->graph.journal.cap = 0;
	c->graph.journal.broken = NULL;
}

/* From here on the capture cannot be made again: said once, kept no more. */
static void breaks(struct srv_client *c, const char *why)
{
	drop(c);
	c->graph.journal.broken = why;
}

static void append(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len, uint64_t capture)
{
	struct kept_record k = {type, (uint32_t)len, capture};
	size_t need = record_bytes(&k);
	unsigned char *p;

	if (c->graph.journal.len + need > CAPTURE_KEPT_MAX) {
		breaks(c, "its capture under way holds more than 16 MiB of work");
		return;
	}
	if (c->graph.journal.len + need > c->graph.journal.cap) {
		size_t cap = (c->graph.journal.len + need) * 2;

		if (!(p = realloc(c->graph.journal.buf, cap))) {
			breaks(c, "out of memory for its capture under way");
			return;
		}
		c->graph.journal.buf = p;
		c->graph.journal.cap = cap;
	}
	p = c->graph.journal.buf + c->graph.journal.len;
	memcpy(p, &k, sizeof(k));
	memcpy(p + sizeof(k), rec, len);
	memset(p + sizeof(k) + len, 0, need - sizeof(k) - len);
	c->graph.journal.len += need;
}

static uint32_t field(const unsigned char *rec, size_t len, size_t off)
{
	uint32_t v = 0;

	if (off + sizeof(v) <= len)
		memcpy(&v, rec + off, sizeof(v));
	return v;
}

/* The stream a kept CAPTURE_BEGIN began its capture on. */
static uint32_t begun_on(const unsigned char *rec, const struct kept_record *k)
{
	return field(rec, k->len, offsetof(struct omps_call_capture, stream));
}

/* The client's stream a record of a stream operation names (0: the NULL
 * stream, or none); -1 for a record that is no stream operation. */
int64_t srv_capture_stream_of(uint32_t type, const unsigned char *rec, size_t len)
{
	switch (type) {
	case OMPS_CALL_LAUNCH:
		return field(rec, len, offsetof(struct omps_call_launch, stream));
	case OMPS_CALL_LAUNCH_RUN: /* a run is on one stream: its first entry's */
		return field(rec, len, sizeof(struct omps_call_launch_run) + 8 + offsetof(struct omps_call_launch, stream));
	case OMPS_CALL_MEMSET:
		return field(rec, len, offsetof(struct omps_call_memset, stream));
	case OMPS_CALL_MEMSET_2D:
		return field(rec, len, offsetof(struct omps_call_memset2d, stream));
	case OMPS_CALL_MEMCPY_HTOD:
	case OMPS_CALL_MEMCPY_DTOD:
	case OMPS_CALL_MEMCPY_HTOD_HOST:
	case OMPS_CALL_MEMCPY_DTOH_HOST:
		return field(rec, len, offsetof(struct omps_call_copy, stream));
	case OMPS_CALL_MEMCPY_2D:
		return field(rec, len, offsetof(struct omps_call_copy2d, stream));
	case OMPS_CALL_MEMCPY_PEER:
		return field(rec, len, offsetof(struct omps_call_copy_peer, stream));
	case OMPS_CALL_MEMCPY_STAGED:
		return field(rec, len, offsetof(struct omps_call_staged, stream));
	case OMPS_CALL_STREAM_MEMOP:
		return field(rec, len, offsetof(struct omps_call_memop, stream));
	case OMPS_CALL_HOST_FUNC:
	case OMPS_CALL_HOST_FUNC_CAPTURE:
		return field(rec, len, offsetof(struct omps_call_hostfn, stream));
	case OMPS_CALL_MEM_FREE_ASYNC:
		return field(rec, len, offsetof(struct omps_call_free_async, stream));
	case OMPS_CALL_MEM_ALLOC_ASYNC:
		return field(rec, len, offsetof(struct omps_call_alloc, reserved));
	case OMPS_CALL_EVENT_RECORD: /* (event, stream) */
		return field(rec, len, offsetof(struct omps_call_pair, second));
	case OMPS_CALL_STREAM_WAIT: /* (stream, event) */
		return field(rec, len, offsetof(struct omps_call_pair, first));
	case OMPS_CALL_GRAPH_LAUNCH:
	case OMPS_CALL_GRAPH_UPLOAD: /* (exec, stream) */
		return field(rec, len, offsetof(struct omps_call_pair, second));
	}
	return -1;
}

/* The id of the capture the client's stream is in; 0: none. */
/* The driver's id of the capture on the client's stream handle, 0 if
 * none; *r what the driver said. */
static uint64_t capture_id(struct srv_client *c, uint32_t handle, CUresult *r)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	cuuint64_t id = 0;

	*r = CUDA_ERROR_INVALID_HANDLE;
	if (!handle || handle > c->nstreams || !c->streams[handle - 1].obj ||
	    (*r = c->srv->drv->stream_get_capture_info(c->streams[handle - 1].obj, &st, &id, NULL, NULL, NULL,
							NULL)) != CUDA_SUCCESS ||
	    st != CU_STREAM_CAPTURE_STATUS_ACTIVE)
		return 0;
	return id ? id : 1;
}

static uint64_t capture_of(struct srv_client *c, uint32_t handle)
{
	CUresult r;

	return capture_id(c, handle, &r);
}

/* A capture begun just as a fault showed: the driver answered the begin,
 * then no longer says its id. Kept under an id of its own, above any the
 * driver gives; the successor's begin takes its place (again). */
#define UNSEEN_ID (1ull << 63)

/* The captures kept that have begun: their count, and the one the stream
 * handle began (0: none). */
static unsigned begun(const struct srv_client *c, uint32_t stream, uint64_t *id)
{
	unsigned n = 0;
	size_t off;

	*id = 0;
	for (off = 0; off < c->graph.journal.len;) {
		struct kept_record k;
		const unsigned char *rec = kept_at(c, off, &k);

		if (k.type == OMPS_CALL_CAPTURE_BEGIN) {
			n++;
			if (begun_on(rec, &k) == stream)
				*id = k.capture;
		}
		off += record_bytes(&k);
	}
	return n;
}

/* A capture ended while others go on: its records taken out. */
static void ended(struct srv_client *c, const struct omps_call_handle *m)
{
	uint64_t id;
	size_t off, to;

	if (begun(c, m->handle, &id) == c->graph.captures)
		return; /* nothing ended */
	if (!id) {
		breaks(c, "one of its captures ended that was not kept");
		return;
	}
	for (off = to = 0; off < c->graph.journal.len;) {
		struct kept_record k;
		size_t n;

		kept_at(c, off, &k);
		n = record_bytes(&k);
		if (k.capture != id) {
			memmove(c->graph.journal.buf + to, c->graph.journal.buf + off, n);
			to += n;
		}
		off += n;
	}
	c->graph.journal.len = to;
}

void srv_capture_journal(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len, CUresult before)
{
	const struct omps_call_info *i = omps_call_info(type);
	uint64_t capture;
	int64_t stream;

	if (!c->graph.captures) { /* its last capture ended */
		drop(c);
		return;
	}
	if (c->holding || c->graph.journal.broken) /* a held record is served again, and kept then */
		return;
	if (type == OMPS_CALL_CAPTURE_BEGIN) {
		struct omps_call_capture m;
		CUresult r;

		memcpy(&m, rec, sizeof(m));
		if (c->replied != CUDA_SUCCESS)
			return;
		capture = capture_id(c, m.stream, &r);
		if (!capture && srv_fault_fatal(r))
			capture = UNSEEN_ID + c->graph.captures;
		if (capture)
			append(c, type, rec, len, capture);
		else
			breaks(c, "a capture of its began that cannot be told apart");
		return;
	}
	if (type == OMPS_CALL_CAPTURE_END) { /* one ended, others go on */
		struct omps_call_handle m;

		memcpy(&m, rec, sizeof(m));
		ended(c, &m);
		return;
	}
	if ((stream = srv_capture_stream_of(type, rec, len)) < 0) {
		if (i->reply == OMPS_REPLY_ASYNC || i->reply == OMPS_REPLY_MIXED)
			breaks(c, "its capture under way holds work of a kind not kept");
		return; /* it changed no capture: the record carries what it did */
	}
	if (!(capture = capture_of(c, (uint32_t)stream)))
		return; /* done on a stream not capturing: not work to make again */
	if (type == OMPS_CALL_MEM_ALLOC_ASYNC || type == OMPS_CALL_MEM_FREE_ASYNC) {
		breaks(c, "it allocated or freed stream-ordered memory in its capture under way");
		return;
	}
	if (before != CUDA_SUCCESS || c->sticky != CUDA_SUCCESS || c->graph.spoiled ||
	    (i->reply == OMPS_REPLY_SYNC && c->replied != CUDA_SUCCESS)) {
		breaks(c, "its capture under way was spoiled, or a failure of its was pending");
		return;
	}
	append(c, type, rec, len, capture);
}

const char *srv_capture_unkeepable(const struct srv_client *c)
{
	return c->graph.captures ? c->graph.journal.broken : NULL;
}

void srv_capture_release(struct srv_client *c)
{
	drop(c);
}

void srv_capture_save(const struct srv_client *c, struct srv_pack *p)
{
	uint64_t len = c->graph.captures ? c->graph.journal.len : 0;

	srv_pack_put(p, &c->graph.captures, sizeof(c->graph.captures));
	srv_pack_put(p, &len, sizeof(len));
	srv_pack_put(p, c->graph.journal.buf, len);
}

/* Its kept records served again, no reply going out; why it failed, or
 * NULL. Each capture begun again has a new id, written into its records. */
static const char *again(struct srv_client *c, unsigned captures)
{
	uint64_t ids[2][64];		     /* old and new */
	uint64_t launches = c->mod.launches; /* a launch captured again runs nothing */
	unsigned nids = 0, i;
	size_t off = 0;

	c->graph.captures = 0;
	c->replaying = 1;
	while (c->graph.journal.len - off >= sizeof(struct kept_record)) {
		struct kept_record k;
		const unsigned char *rec = kept_at(c, off, &k);
		size_t need = record_bytes(&k);

		if (need > c->graph.journal.len - off)
			break;
		c->replied = CUDA_SUCCESS;
		srv_dispatch_again(c, k.type, rec, k.len);
		if (c->replied != CUDA_SUCCESS || c->sticky != CUDA_SUCCESS)
			break;
		if (k.type == OMPS_CALL_CAPTURE_BEGIN) {
			if (nids == 64)
				break;
			ids[0][nids] = k.capture;
			ids[1][nids++] = capture_of(c, begun_on(rec, &k));
		}
		for (i = 0; i < nids; i++) /* once: a new id may be another's old */
			if (ids[0][i] == k.capture) {
				k.capture = ids[1][i];
				break;
			}
		memcpy(c->graph.journal.buf + off, &k, sizeof(k));
		off += need;
	}
	c->replaying = 0;
	c->mod.launches = launches;
	if (off != c->graph.journal.len || c->graph.captures != captures) {
		c->sticky = CUDA_SUCCESS;
		return "its capture under way could not be made again";
	}
	return NULL;
}

const char *srv_capture_restore(struct srv_client *c, struct srv_unpack *u, const char *why)
{
	unsigned captures = 0;
	uint64_t len = 0;

	if (srv_unpack_get(u, &captures, sizeof(captures)) < 0 || srv_unpack_get(u, &len, sizeof(len)) < 0 ||
	    len > CAPTURE_KEPT_MAX || len > u->len - u->off) {
		u->failed = 1;
		return why;
	}
	if (!len)
		return why;
	if (!(c->graph.journal.buf = malloc(len))) {
		u->off += len;
		return why ? why : "out of memory";
	}
	c->graph.journal.cap = c->graph.journal.len = len;
	srv_unpack_get(u, c->graph.journal.buf, len);
	return why ? why : again(c, captures);
}
