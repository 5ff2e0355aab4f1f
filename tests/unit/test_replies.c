/* The shim's checks of a server's function description: parameters past
 * CUDA's 32,764-byte limit, or whose offset and size wrap around, are
 * refused; a good description gives its packed size, and packing lays each
 * argument at its offset. */
#include "task.h"
#include "replies.h"

TEST(replies)
{
	static struct omps_reply_function rep;
	unsigned char buf[16];
	uint64_t p = 0x1122334455667788ull;
	uint32_t n = 7, size = 0;
	void *params[2] = {&p, &n};

	rep.nparams = 2;
	rep.params[0] = (struct omps_param){0, 8};
	rep.params[1] = (struct omps_param){8, 4};
	ASSERT_EQ(shim_reply_function_check(&rep, &size), 0);
	ASSERT_EQ(size, 12);
	memset(buf, 0xee, sizeof(buf));
	shim_pack_params(rep.params, rep.nparams, size, params, buf);
	ASSERT(!memcmp(buf, &p, 8));
	ASSERT(!memcmp(buf + 8, &n, 4));
	ASSERT_EQ(buf[12], 0xee);
	rep.params[1] = (struct omps_param){0xfffffff0u, 0x20}; /* wraps to 0x10 in 32 bits */
	ASSERT_LT(shim_reply_function_check(&rep, &size), 0);
	rep.params[1] = (struct omps_param){SHIM_MAX_ARGS_BYTES - 4, 8};
	ASSERT_LT(shim_reply_function_check(&rep, &size), 0);
	rep.params[1] = (struct omps_param){SHIM_MAX_ARGS_BYTES - 8, 8};
	ASSERT_EQ(shim_reply_function_check(&rep, &size), 0);
	ASSERT_EQ(size, SHIM_MAX_ARGS_BYTES);
	rep.nparams = OMPS_MAX_PARAMS + 1;
	ASSERT_LT(shim_reply_function_check(&rep, &size), 0);
}
