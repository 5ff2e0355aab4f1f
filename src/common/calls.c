/* What OMPS_CALLS says of each call, as data: names for log lines, and the
 * sizes and shapes that the server's dispatch checks every record against. */
#include "calls.h"

#define SIZE_FIXED(record) sizeof(struct omps_call_##record)
#define SIZE_TAIL(record) sizeof(struct omps_call_##record)
#define SIZE_RAW(record) 0
#define INFO(NAME, family, handler, record, shape, reply, log)                                             \
	[OMPS_CALL_##NAME] = {#NAME, #family, log, (uint32_t)SIZE_##shape(record), OMPS_SHAPE_##shape, \
			      OMPS_REPLY_##reply},

static const struct omps_call_info calls[OMPS_CALL_END] = {OMPS_CALLS(INFO)};

const struct omps_call_info *omps_call_info(uint32_t type)
{
	return type < OMPS_CALL_END && calls[type].name ? &calls[type] : NULL;
}

const char *omps_call_name(uint32_t type)
{
	const struct omps_call_info *i = omps_call_info(type);

	return i ? i->log : "call of an unknown kind";
}

int omps_call_len_ok(uint32_t type, size_t len)
{
	const struct omps_call_info *i = omps_call_info(type);

	if (!i)
		return 0;
	switch (i->shape) {
	case OMPS_SHAPE_FIXED:
		return len == i->size;
	case OMPS_SHAPE_TAIL:
		return len >= i->size;
	case OMPS_SHAPE_RAW:
		return 1;
	}
	return 0;
}
