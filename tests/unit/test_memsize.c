/* Memory sizes as the control language and the client environment write them. */
#include <stdint.h>

#include "task.h"
#include "memsize.h"

static uint64_t parse(const char *s)
{
	uint64_t v = 12345;

	return omps_memsize_parse(s, &v) == 0 ? v : UINT64_MAX;
}

static const char *fmt(uint64_t v)
{
	static char buf[32];

	omps_memsize_format(v, buf, sizeof(buf));
	return buf;
}

TEST(memsize)
{
	ASSERT_EQ(parse("512M"), 512ull << 20);
	ASSERT_EQ(parse("2G"), 2ull << 30);
	ASSERT_EQ(parse("2g"), 2ull << 30);
	ASSERT_EQ(parse("1536m"), 1536ull << 20);
	ASSERT_EQ(parse("4GB"), 4ull << 30);
	ASSERT_EQ(parse("4GiB"), 4ull << 30);
	ASSERT_EQ(parse("512MB"), 512ull << 20);
	ASSERT_EQ(parse("64K"), 64ull << 10);
	ASSERT_EQ(parse("1T"), 1ull << 40);
	ASSERT_EQ(parse("0"), 0);
	ASSERT_EQ(parse("16777215T"), 16777215ull << 40);

	ASSERT_EQ(parse(""), UINT64_MAX);
	ASSERT_EQ(parse("2048"), UINT64_MAX); /* a unit is required */
	ASSERT_EQ(parse("G"), UINT64_MAX);
	ASSERT_EQ(parse("-1G"), UINT64_MAX);
	ASSERT_EQ(parse(" 1G"), UINT64_MAX);
	ASSERT_EQ(parse("1G "), UINT64_MAX);
	ASSERT_EQ(parse("1X"), UINT64_MAX);
	ASSERT_EQ(parse("1GG"), UINT64_MAX);
	ASSERT_EQ(parse("1.5G"), UINT64_MAX);
	ASSERT_EQ(parse("16777216T"), UINT64_MAX); /* 2^64 */
	ASSERT_EQ(parse("99999999999999999999G"), UINT64_MAX);

	ASSERT_STR_EQ(fmt(2ull << 30), "2G");
	ASSERT_STR_EQ(fmt(1500ull << 20), "1500M");
	ASSERT_STR_EQ(fmt(1ull << 40), "1T");
	ASSERT_STR_EQ(fmt(3ull << 10), "3K");
	ASSERT_STR_EQ(fmt(1000), "1000B");
	ASSERT_STR_EQ(fmt(0), "0");
	/* Whatever is set reads back as the same value. */
	ASSERT_EQ(parse(fmt(1536ull << 20)), 1536ull << 20);
}
