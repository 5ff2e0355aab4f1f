/* The unit tests' asserts, after libuv's test/task.h: a failed assert
 * prints where, the expression and both values, then aborts its test (each
 * test runs in a process of its own: runner.c). TEST(name) defines a test;
 * test-list.h names them all. */
#ifndef OPENMPS_TASK_H
#define OPENMPS_TASK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST(name)                \
	void test_##name(void);   \
	void test_##name(void)

#define TASK_FAIL(...)                                                \
	do {                                                          \
		fprintf(stderr, "%s:%d: Assertion failed: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                         \
		fputc('\n', stderr);                                  \
		fflush(stderr);                                       \
		abort();                                              \
	} while (0)

#define ASSERT(expr)                              \
	do {                                      \
		if (!(expr))                      \
			TASK_FAIL("%s", #expr);   \
	} while (0)

#define ASSERT_BASE(a, op, b, type, fmt)                                                          \
	do {                                                                                      \
		type a_ = (type)(a);                                                              \
		type b_ = (type)(b);                                                              \
		if (!(a_ op b_))                                                                  \
			TASK_FAIL("%s %s %s (%" fmt " %s %" fmt ")", #a, #op, #b, a_, #op, b_); \
	} while (0)

/* Signed 64-bit values. */
#define ASSERT_EQ(a, b) ASSERT_BASE(a, ==, b, int64_t, PRId64)
#define ASSERT_NE(a, b) ASSERT_BASE(a, !=, b, int64_t, PRId64)
#define ASSERT_LT(a, b) ASSERT_BASE(a, <, b, int64_t, PRId64)
#define ASSERT_LE(a, b) ASSERT_BASE(a, <=, b, int64_t, PRId64)
#define ASSERT_GT(a, b) ASSERT_BASE(a, >, b, int64_t, PRId64)
#define ASSERT_GE(a, b) ASSERT_BASE(a, >=, b, int64_t, PRId64)
/* Unsigned 64-bit values (sizes, addresses, hashes). */
#define ASSERT_UEQ(a, b) ASSERT_BASE(a, ==, b, uint64_t, PRIu64)
#define ASSERT_UNE(a, b) ASSERT_BASE(a, !=, b, uint64_t, PRIu64)
#define ASSERT_ULE(a, b) ASSERT_BASE(a, <=, b, uint64_t, PRIu64)
#define ASSERT_PTR_EQ(a, b) ASSERT_BASE(a, ==, b, const void *, "p")
#define ASSERT_PTR_NE(a, b) ASSERT_BASE(a, !=, b, const void *, "p")
#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a) ASSERT_PTR_NE(a, NULL)

#define ASSERT_STR_EQ(a, b)                                                                 \
	do {                                                                                \
		const char *a_ = (a), *b_ = (b);                                            \
		if (strcmp(a_, b_))                                                         \
			TASK_FAIL("%s == %s (\"%s\" == \"%s\")", #a, #b, a_, b_);          \
	} while (0)

#define ASSERT_MEM_EQ(a, b, n)                                          \
	do {                                                            \
		if (memcmp((a), (b), (n)))                              \
			TASK_FAIL("%s == %s (%zu bytes differ)", #a, #b, (size_t)(n)); \
	} while (0)

#endif
