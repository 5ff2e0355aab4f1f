/* Memory sizes as the control language and the client environment write them. */
#include <stdint.h>

#include "check.h"
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

int main(void)
{
	CHECK(parse("512M") == 512ull << 20);
	CHECK(parse("2G") == 2ull << 30);
	CHECK(parse("2g") == 2ull << 30);
	CHECK(parse("1536m") == 1536ull << 20);
	CHECK(parse("4GB") == 4ull << 30);
	CHECK(parse("4GiB") == 4ull << 30);
	CHECK(parse("512MB") == 512ull << 20);
	CHECK(parse("64K") == 64ull << 10);
	CHECK(parse("1T") == 1ull << 40);
	CHECK(parse("0") == 0);
	CHECK(parse("16777215T") == 16777215ull << 40);

	CHECK(parse("") == UINT64_MAX);
	CHECK(parse("2048") == UINT64_MAX); /* a unit is required */
	CHECK(parse("G") == UINT64_MAX);
	CHECK(parse("-1G") == UINT64_MAX);
	CHECK(parse(" 1G") == UINT64_MAX);
	CHECK(parse("1G ") == UINT64_MAX);
	CHECK(parse("1X") == UINT64_MAX);
	CHECK(parse("1GG") == UINT64_MAX);
	CHECK(parse("1.5G") == UINT64_MAX);
	CHECK(parse("16777216T") == UINT64_MAX); /* 2^64 */
	CHECK(parse("99999999999999999999G") == UINT64_MAX);

	CHECK_STR(fmt(2ull << 30), "2G");
	CHECK_STR(fmt(1500ull << 20), "1500M");
	CHECK_STR(fmt(1ull << 40), "1T");
	CHECK_STR(fmt(3ull << 10), "3K");
	CHECK_STR(fmt(1000), "1000B");
	CHECK_STR(fmt(0), "0");
	/* Whatever is set reads back as the same value. */
	CHECK(parse(fmt(1536ull << 20)) == 1536ull << 20);
	return check_report("memsize");
}
