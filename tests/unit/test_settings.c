/* Limits: parsing, formatting, and the rule that a lower level only tightens. */
#include <stdint.h>

#include "task.h"
#include "settings.h"

static uint32_t atp(const char *s)
{
	uint32_t v = 7;

	return omps_atp_parse(s, &v) == 0 ? v : 0;
}

static const char *atp_text(uint32_t milli)
{
	static char buf[16];

	omps_atp_format(milli, buf, sizeof(buf));
	return buf;
}

TEST(settings_atp)
{
	ASSERT_EQ(atp("100"), 100000);
	ASSERT_EQ(atp("12.5"), 12500);
	ASSERT_EQ(atp("0.001"), 1);
	ASSERT_EQ(atp("33.3333"), 33333);
	ASSERT_EQ(atp("0"), 0);
	ASSERT_EQ(atp("0.0001"), 0);
	ASSERT_EQ(atp("100.01"), 0);
	ASSERT_EQ(atp("-1"), 0);
	ASSERT_EQ(atp("abc"), 0);
	ASSERT_EQ(atp(""), 0);
	ASSERT_EQ(atp(" 5"), 0);
	ASSERT_EQ(atp("5 "), 0);
	ASSERT_EQ(atp("nan"), 0);
	ASSERT_EQ(atp("inf"), 0);
	ASSERT_STR_EQ(atp_text(100000), "100.0");
	ASSERT_STR_EQ(atp_text(12500), "12.5");
	ASSERT_STR_EQ(atp_text(12250), "12.25");
	ASSERT_STR_EQ(atp_text(1), "0.001");
}

TEST(settings_priority_and_keys)
{
	int32_t p = 5;

	ASSERT_EQ(omps_priority_parse("0", &p), 0);
	ASSERT_EQ(p, 0);
	ASSERT_EQ(omps_priority_parse("1", &p), 0);
	ASSERT_EQ(p, 1);
	ASSERT_LT(omps_priority_parse("2", &p), 0);
	ASSERT_LT(omps_priority_parse("01", &p), 0);
	ASSERT_LT(omps_priority_parse("", &p), 0);

	ASSERT(omps_devkey_valid("0"));
	ASSERT(omps_devkey_valid("63"));
	ASSERT(!omps_devkey_valid("64"));
	ASSERT(!omps_devkey_valid("00"));
	ASSERT(!omps_devkey_valid("-1"));
	ASSERT(!omps_devkey_valid("1a"));
	ASSERT(!omps_devkey_valid(""));
	ASSERT(omps_devkey_valid("GPU-3066f2ca-43f7-ef6e-45ff-40296b3e17d2"));
	ASSERT(omps_devkey_valid("GPU-3066f2ca"));
	ASSERT(!omps_devkey_valid("GPU-"));
	ASSERT(!omps_devkey_valid("GPU-xyz"));
	ASSERT(!omps_devkey_valid("gpu0"));
}

TEST(settings_memlimits)
{
	struct omps_settings s;
	char err[256], buf[256];

	omps_settings_unset(&s);
	ASSERT_EQ(omps_memlimit_parse_list("0=1G,1=512MB", &s, err, sizeof(err)), 0);
	omps_memlimit_format_list(&s, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "0=1G,1=512M");
	ASSERT_EQ(omps_memlimit_parse_list("1=0", &s, err, sizeof(err)), 0); /* 0 removes */
	omps_memlimit_format_list(&s, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "0=1G");
	ASSERT_EQ(omps_memlimit_parse_list("0=2G", &s, err, sizeof(err)), 0); /* last wins */
	ASSERT_EQ(omps_memlimit_get(&s, "0")->bytes, 2ull << 30);
	ASSERT_LT(omps_memlimit_parse_list("0", &s, err, sizeof(err)), 0);
	ASSERT_STR_EQ(err, "\"0\" is not DEVICE=SIZE (e.g. 0=1G)");
	ASSERT_LT(omps_memlimit_parse_list("x=1G", &s, err, sizeof(err)), 0);
	ASSERT_STR_EQ(err, "\"x\" is not a device ordinal or GPU UUID");
	ASSERT_LT(omps_memlimit_parse_list("0=lots", &s, err, sizeof(err)), 0);
	ASSERT_STR_EQ(err, "\"lots\" is not a memory size like 512M or 2G");
	omps_settings_unset(&s);
	omps_memlimit_format_list(&s, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "-");
}

TEST(settings_effective)
{
	struct omps_settings base, req, out;

	omps_settings_defaults(&base);
	base.atp_milli = 50000;
	omps_memlimit_set(&base, "0", 4ull << 30);

	omps_settings_unset(&req); /* asks for nothing: gets the server's */
	omps_settings_effective(&base, &req, &out);
	ASSERT_EQ(out.atp_milli, 50000);
	ASSERT_EQ(out.priority, 0);
	ASSERT_EQ(out.nmem, 1);
	ASSERT_EQ(out.mem[0].bytes, 4ull << 30);

	req.atp_milli = 25000; /* tighter: taken */
	req.priority = 1;
	omps_memlimit_set(&req, "0", 1ull << 30);
	omps_memlimit_set(&req, "1", 512ull << 20);
	omps_settings_effective(&base, &req, &out);
	ASSERT_EQ(out.atp_milli, 25000);
	ASSERT_EQ(out.priority, 1);
	ASSERT_EQ(omps_memlimit_get(&out, "0")->bytes, 1ull << 30);
	ASSERT_EQ(omps_memlimit_get(&out, "1")->bytes, 512ull << 20);

	req.atp_milli = 80000; /* looser: ignored */
	req.priority = 0;
	omps_memlimit_set(&req, "0", 8ull << 30);
	base.priority = 1;
	omps_settings_effective(&base, &req, &out);
	ASSERT_EQ(out.atp_milli, 50000);
	ASSERT_EQ(out.priority, 1);
	ASSERT_EQ(omps_memlimit_get(&out, "0")->bytes, 4ull << 30);
}

TEST(settings_client_request)
{
	struct omps_client_info ci = {.comm = "prog", .active_thread_percentage = "20",
				      .pinned_mem_limit = "0=1G", .priority = "1"};
	struct omps_settings req;
	char err[512];

	ASSERT_EQ(omps_client_request_parse(&ci, &req, err, sizeof(err)), 0);
	ASSERT_EQ(req.atp_milli, 20000);
	ASSERT_EQ(req.priority, 1);
	ASSERT_EQ(req.nmem, 1);
	snprintf(ci.priority, sizeof(ci.priority), "9");
	ASSERT_LT(omps_client_request_parse(&ci, &req, err, sizeof(err)), 0);
	ASSERT_STR_EQ(err, "CUDA_MPS_CLIENT_PRIORITY=9: must be 0 or 1");
	memset(ci.comm, 'x', sizeof(ci.comm)); /* not terminated: hostile */
	ASSERT_LT(omps_client_request_parse(&ci, &req, err, sizeof(err)), 0);
	ASSERT_STR_EQ(err, "malformed client information");
}

TEST(settings_valid)
{
	struct omps_settings s;

	omps_settings_defaults(&s);
	ASSERT(omps_settings_valid(&s));
	s.atp_milli = 100001;
	ASSERT(!omps_settings_valid(&s));
	omps_settings_defaults(&s);
	s.nmem = OMPS_MAX_MEMLIMITS + 1;
	ASSERT(!omps_settings_valid(&s));
	omps_settings_defaults(&s);
	s.nmem = 1;
	memset(s.mem[0].dev, 'A', sizeof(s.mem[0].dev));
	s.mem[0].bytes = 1;
	ASSERT(!omps_settings_valid(&s));
}
