/* What every call family needs to answer a call, below the families: the
 * reply, the sticky error an asynchronous failure leaves for the next
 * synchronous call, refusals and bad handles logged, a client that breaks
 * the protocol let go, and the device a call runs on. Nothing here calls
 * back into a family. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "sock.h"

void srv_farewell(struct srv_client *c, const char *fmt, ...)
{
	char why[OMPS_FAREWELL_MAX];
	va_list ap;

	/* One whose data channel is not open yet (not told it is ready) has
	 * its shim ask the daemon again when the connection closes; these
	 * words would read as a refusal. */
	if (!c->has_worker)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* Never waits: a client whose socket is full does not hear it. */
	omps_send(c->fd, OMPS_MSG_REFUSED, 0, 0, why, strlen(why), -1, 0);
}

/* A client that cannot be served any more: its socket is shut so that the
 * main thread sees it leave, takes it off its list and sets stop. */
void srv_give_up(struct srv_client *c, const char *why)
{
	omps_log("Client process %d: %s; disconnecting it", (int)c->pid, why);
	srv_farewell(c, "the openmps server disconnected this program: %s", why);
	shutdown(c->fd, SHUT_RDWR);
	c->dead = 1;
}

void srv_malformed(struct srv_client *c, uint32_t type, size_t len)
{
	char why[96];

	snprintf(why, sizeof(why), "malformed call %u (%zu bytes)", type, len);
	srv_give_up(c, why);
}

void srv_refused(struct srv_client *c, const char *fmt, ...)
{
	unsigned n = atomic_fetch_add(&c->refusals, 1) + 1;
	char what[256];
	va_list ap;

	if (n > 16)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	omps_log("Client process %d: %s%s", (int)c->pid, what, n == 16 ? " (further refusals not logged)" : "");
}

void srv_bad_handle(struct srv_client *c, const char *what, uint32_t handle)
{
	srv_refused(c, "%s handle %u is not one of its own", what, handle);
}

/* A result that is a context fault's: held rather than answered (the
 * record is served again by the server made anew, fault.c), unless part
 * of its answer went out already or handing over is off. */
static int hold(struct srv_client *c, CUresult r)
{
	if (!srv_fault_fatal(r) || c->no_hold || c->poison != CUDA_SUCCESS || !srv_fault_can_hold())
		return 0;
	c->holding = 1;
	return 1;
}

int srv_reply(struct srv_client *c, const void *reply, size_t len)
{
	c->replied = ((const struct omps_reply *)reply)->result; /* every reply begins with one */
	if (__builtin_expect(c->holding || c->replaying, 0)) /* held: the server made anew answers */
		return 0;
	if (c->dead) /* given up: nobody reads */
		return -1;
	if (omps_ring_push(&c->rep, OMPS_REPLY, reply, (uint32_t)len, 5000) == 0)
		return 0;
	srv_give_up(c, "it does not take its replies");
	return -1;
}

/* A copy of `bytes` to a client may take 5 s, and a second more for each
 * 64 MiB: a reader slower than that holds a worker for nothing. */
uint64_t srv_reply_deadline(uint64_t bytes)
{
	return omps_now_us() + 5000000 + (bytes >> 26) * 1000000;
}

void *srv_reply_space(struct srv_client *c, uint32_t n, uint64_t deadline_us)
{
	void *dst;
	uint64_t now;

	if (c->holding || c->replaying) /* held, or served again by a successor: nothing goes out */
		return NULL;
	dst = c->dead ? NULL : omps_ring_reserve(&c->rep, OMPS_REPLY_DATA, n);
	while (!dst && !c->dead && !atomic_load(&c->stop) && !omps_ring_interrupted(&c->rep) &&
	       (now = omps_now_us()) < deadline_us) {
		uint64_t left_ms = (deadline_us - now) / 1000 + 1;

		if (omps_ring_wait_space(&c->rep, n, 50, left_ms < 5000 ? (int)left_ms : 5000))
			dst = omps_ring_reserve(&c->rep, OMPS_REPLY_DATA, n);
		else if (omps_now_us() - now >= 5000000)
			break; /* nothing taken for 5 s */
	}
	if (!dst && !c->dead && !atomic_load(&c->stop))
		srv_give_up(c, omps_ring_interrupted(&c->rep) ? "it did not take its replies as the server handed over"
			       : omps_now_us() >= deadline_us ? "it reads its copy from the device too slowly"
							      : "it does not take its replies");
	return dst;
}

CUresult srv_bytes_piece(void *dst, uint64_t off, uint32_t n, void *from)
{
	memcpy(dst, (const char *)from + off, n);
	return CUDA_SUCCESS;
}

CUresult srv_reply_chunks(struct srv_client *c, uint64_t bytes,
			  CUresult (*fill)(void *dst, uint64_t off, uint32_t n, void *arg), void *arg)
{
	uint32_t chunk = omps_ring_max_payload(&c->rep);
	uint64_t off, deadline = srv_reply_deadline(bytes);
	CUresult r = CUDA_SUCCESS;

	for (off = 0; r == CUDA_SUCCESS && off < bytes; off += chunk) {
		uint32_t n = bytes - off < chunk ? (uint32_t)(bytes - off) : chunk;
		void *dst = srv_reply_space(c, n, deadline);

		if (!dst)
			return CUDA_ERROR_MPS_RPC_FAILURE;
		r = fill(dst, off, n, arg);
		if (r != CUDA_SUCCESS && srv_fault_fatal(r) && !off)
			return r; /* nothing went out: the call may be held */
		c->no_hold |= off > 0;
		omps_ring_commit(&c->rep);
	}
	return r;
}

/* An asynchronous call's failure waits for the next synchronous call; the
 * log says at once what failed (srv_refused's limit applies), since the call
 * that returns it later may be any other. */
void srv_deferred_on(struct srv_client *c, CUresult r, const char *fmt, ...)
{
	char what[192], err[64];
	va_list ap;

	if (r == CUDA_SUCCESS)
		return;
	srv_fault_seen(r);
	if (hold(c, r))
		return;
	if (c->sticky == CUDA_SUCCESS)
		c->sticky = r;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	srv_driver_strerror(c->srv->drv, r, err, sizeof(err));
	srv_refused(c, "%s failed: %s; its next synchronous call returns it", what, err);
}

void srv_deferred(struct srv_client *c, CUresult r)
{
	srv_deferred_on(c, r, "an asynchronous %s", omps_call_name(c->call));
}

int32_t srv_with_sticky(struct srv_client *c, CUresult r)
{
	CUresult s = c->sticky;

	if (r != CUDA_SUCCESS) {
		srv_fault_seen(r);
		hold(c, r);
		return r;
	}
	if (s == CUDA_SUCCESS && (c->call == OMPS_CALL_SYNCHRONIZE || c->call == OMPS_CALL_STREAM_SYNC ||
				  c->call == OMPS_CALL_EVENT_SYNC)) {
		if (c->sync_covers) /* all it queued is done: as near to idle as the server can tell */
			srv_fault_queued(c, 0);
		c->mod.synced = c->mod.launches;
	}
	c->sticky = CUDA_SUCCESS;
	return s;
}

void srv_reply_value(struct srv_client *c, CUresult r, int64_t value)
{
	struct omps_reply_value rep;

	memset(&rep, 0, sizeof(rep));
	rep.value = value;
	rep.r.result = srv_with_sticky(c, r);
	srv_reply(c, &rep, sizeof(rep));
}

void srv_reply_result(struct srv_client *c, CUresult r)
{
	struct omps_reply rep = {.result = srv_with_sticky(c, r)};

	srv_reply(c, &rep, sizeof(rep));
}

int srv_use_device(struct srv_client *c, int dev, CUstream *stream)
{
	struct srv_driver *drv = c->srv->drv;
	CUresult r;

	if (dev < 0 || (uint32_t)dev >= c->srv->devices.ndevices)
		return CUDA_ERROR_INVALID_DEVICE;
	r = drv->ctx_set_current(c->srv->ctx[dev]);
	if (r == CUDA_SUCCESS && !c->stream[dev])
		r = srv_qos_stream_create(c, dev, 0, &c->stream[dev]);
	if (stream)
		*stream = c->stream[dev];
	return r;
}
