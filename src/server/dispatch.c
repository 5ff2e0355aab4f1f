/* One request record to its handler: the table comes from OMPS_CALLS
 * (calls.h). Every record's length is checked here, against the call's
 * shape and size, before its handler sees it; the fixed part is copied into
 * a record of its own type, aligned, and the handler gets that and, for a
 * call with data, the bytes after it. */
#include <stddef.h>
#include <string.h>

#include "server.h"

typedef void srv_call_fn(struct srv_client *c, const unsigned char *rec, size_t len);

/* Where record m keeps its dev, for those OMPS_DEVICE_RECORDS names; -1
 * for the others (a constant: the compiler drops the call for them). */
#define DEV_FIELD(record) struct omps_call_##record * : (long)offsetof(struct omps_call_##record, dev),
#define DEV_OF_M (unsigned char *)&m, _Generic(&m, OMPS_DEVICE_RECORDS(DEV_FIELD) default : -1L)

static inline void view(const struct srv_client *c, unsigned char *m, long at)
{
	int32_t dev;

	if (at < 0)
		return;
	memcpy(&dev, m + at, sizeof(dev));
	dev = srv_view_dev(c, dev);
	memcpy(m + at, &dev, sizeof(dev));
}

#define INVOKE_FIXED(family, handler, record)            \
	struct omps_call_##record m;                     \
	(void)len;                                       \
	memcpy(&m, rec, sizeof(m));                      \
	view(c, DEV_OF_M);                          \
	srv_##family##_##handler(c, &m);
#define INVOKE_TAIL(family, handler, record)             \
	struct omps_call_##record m;                     \
	memcpy(&m, rec, sizeof(m));                      \
	view(c, DEV_OF_M);                          \
	srv_##family##_##handler(c, &m, rec + sizeof(m), len - sizeof(m));
#define INVOKE_RAW(family, handler, record) srv_##family##_##handler(c, rec, len);

#define THUNK(NAME, family, handler, record, shape, reply, log)                         \
	static void call_##NAME(struct srv_client *c, const unsigned char *rec, size_t len) \
	{                                                                                \
		INVOKE_##shape(family, handler, record)                                  \
	}
OMPS_CALLS(THUNK)

#define ENTRY(NAME, family, handler, record, shape, reply, log) [OMPS_CALL_##NAME] = call_##NAME,
static srv_call_fn *const handlers[OMPS_CALL_END] = {OMPS_CALLS(ENTRY)};

/* The culprit of a GPU fault (handover.c) gets its error from every call,
 * as a native process whose context the fault poisoned: a call that
 * answers answers that; one that does not is dropped. */
static void poisoned(struct srv_client *c, uint32_t type, const unsigned char *rec)
{
	const struct omps_call_info *i = omps_call_info(type);
	struct omps_call_copy2d m;
	int answers = i->reply == OMPS_REPLY_SYNC;

	if (i->reply == OMPS_REPLY_MIXED) {
		memcpy(&m, rec, sizeof(m));
		answers = m.kind == OMPS_COPY_DTOH;
	}
	if (answers)
		srv_reply_result(c, c->poison);
}

void srv_dispatch(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len)
{
	CUresult before;

	if (type >= OMPS_CALL_END || !handlers[type]) {
		srv_give_up(c, "unknown call in its request ring");
		return;
	}
	if (!omps_call_len_ok(type, len)) {
		srv_malformed(c, type, len);
		return;
	}
	c->call = type;
	c->was_queued = atomic_load_explicit(&c->queued, memory_order_relaxed);
	srv_stats_count(c, type, rec, len);
	if (__builtin_expect(c->poison != CUDA_SUCCESS, 0)) {
		poisoned(c, type, rec);
		return;
	}
	before = c->sticky;
	handlers[type](c, rec, len);
	if (__builtin_expect(c->graph.captures || c->graph.journal.len || c->graph.journal.broken, 0))
		srv_capture_journal(c, type, rec, len, before); /* a capture under way, kept for a fault */
}

void srv_dispatch_again(struct srv_client *c, uint32_t type, const unsigned char *rec, size_t len)
{
	if (type >= OMPS_CALL_END || !handlers[type] || !omps_call_len_ok(type, len)) {
		c->replied = CUDA_ERROR_INVALID_VALUE;
		return;
	}
	c->call = type;
	c->noting = 0; /* work into a capture made again: nothing runs */
	handlers[type](c, rec, len);
}
