/* The call table (calls.h): every row's record size and shape, the length
 * check the server's dispatch applies, and the log names. */
#include "calls.h"
#include "task.h"

TEST(calls_table)
{
	uint32_t t, u;

	ASSERT_NULL(omps_call_info(0));
	ASSERT_NULL(omps_call_info(OMPS_CALL_END));
	ASSERT_STR_EQ(omps_call_name(OMPS_CALL_END + 7), "call of an unknown kind");
	for (t = 1; t < OMPS_CALL_END; t++) {
		const struct omps_call_info *i = omps_call_info(t);

		ASSERT_NOT_NULL(i);
		ASSERT_NE(i->shape, 0);
		ASSERT_NE(i->reply, 0);
		ASSERT(i->shape == OMPS_SHAPE_RAW ? i->size == 0 : i->size > 0);
		for (u = 1; u < t; u++)
			ASSERT(strcmp(omps_call_info(u)->log, i->log) != 0); /* log lines tell calls apart */
	}
	/* The wire numbers are the protocol's: the first and last rows. */
	ASSERT_EQ(OMPS_CALL_MEM_ALLOC, 1);
	ASSERT_EQ(OMPS_CALL_GRAPH_NODES, 48);
	ASSERT_EQ(OMPS_CALL_MODULE_FUNC_COUNT, 49);
	ASSERT_EQ(OMPS_CALL_STREAM_MEMOP, 69); /* protocol 8 */
	ASSERT_EQ(OMPS_CALL_MODULE_FUNC_NAME, 70); /* protocol 9 */
	ASSERT_STR_EQ(omps_call_name(OMPS_CALL_LAUNCH), "kernel launch");
	ASSERT_STR_EQ(omps_call_info(OMPS_CALL_LAUNCH)->family, "launch");
	ASSERT_UEQ(omps_call_info(OMPS_CALL_LAUNCH)->size, sizeof(struct omps_call_launch));
}

TEST(calls_lengths)
{
	size_t copy = sizeof(struct omps_call_copy);

	ASSERT(omps_call_len_ok(OMPS_CALL_MEM_FREE, sizeof(struct omps_call_ptr)));
	ASSERT(!omps_call_len_ok(OMPS_CALL_MEM_FREE, sizeof(struct omps_call_ptr) + 1));
	ASSERT(!omps_call_len_ok(OMPS_CALL_MEM_FREE, sizeof(struct omps_call_ptr) - 1));
	ASSERT(omps_call_len_ok(OMPS_CALL_MEMCPY_HTOD, copy));	       /* TAIL: data may follow */
	ASSERT(omps_call_len_ok(OMPS_CALL_MEMCPY_HTOD, copy + 4096));
	ASSERT(!omps_call_len_ok(OMPS_CALL_MEMCPY_HTOD, copy - 1));
	ASSERT(omps_call_len_ok(OMPS_CALL_IMAGE_DATA, 0)); /* RAW: any */
	ASSERT(omps_call_len_ok(OMPS_CALL_IMAGE_DATA, 12345));
	ASSERT(!omps_call_len_ok(0, 0));
	ASSERT(!omps_call_len_ok(OMPS_CALL_END, 8));
}
