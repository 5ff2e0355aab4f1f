/* Limits: parsing, formatting, and the rule that a lower level only tightens. */
#include <stdint.h>

#include "check.h"
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

static void test_atp(void)
{
	CHECK(atp("100") == 100000);
	CHECK(atp("12.5") == 12500);
	CHECK(atp("0.001") == 1);
	CHECK(atp("33.3333") == 33333);
	CHECK(atp("0") == 0);
	CHECK(atp("0.0001") == 0);
	CHECK(atp("100.01") == 0);
	CHECK(atp("-1") == 0);
	CHECK(atp("abc") == 0);
	CHECK(atp("") == 0);
	CHECK(atp(" 5") == 0);
	CHECK(atp("5 ") == 0);
	CHECK(atp("nan") == 0);
	CHECK(atp("inf") == 0);
	CHECK_STR(atp_text(100000), "100.0");
	CHECK_STR(atp_text(12500), "12.5");
	CHECK_STR(atp_text(12250), "12.25");
	CHECK_STR(atp_text(1), "0.001");
}

static void test_priority_and_keys(void)
{
	int32_t p = 5;

	CHECK(omps_priority_parse("0", &p) == 0 && p == 0);
	CHECK(omps_priority_parse("1", &p) == 0 && p == 1);
	CHECK(omps_priority_parse("2", &p) < 0);
	CHECK(omps_priority_parse("01", &p) < 0);
	CHECK(omps_priority_parse("", &p) < 0);

	CHECK(omps_devkey_valid("0"));
	CHECK(omps_devkey_valid("63"));
	CHECK(!omps_devkey_valid("64"));
	CHECK(!omps_devkey_valid("00"));
	CHECK(!omps_devkey_valid("-1"));
	CHECK(!omps_devkey_valid("1a"));
	CHECK(!omps_devkey_valid(""));
	CHECK(omps_devkey_valid("GPU-3066f2ca-43f7-ef6e-45ff-40296b3e17d2"));
	CHECK(omps_devkey_valid("GPU-3066f2ca"));
	CHECK(!omps_devkey_valid("GPU-"));
	CHECK(!omps_devkey_valid("GPU-xyz"));
	CHECK(!omps_devkey_valid("gpu0"));
}

static void test_memlimits(void)
{
	struct omps_settings s;
	char err[256], buf[256];

	omps_settings_unset(&s);
	CHECK(omps_memlimit_parse_list("0=1G,1=512MB", &s, err, sizeof(err)) == 0);
	omps_memlimit_format_list(&s, buf, sizeof(buf));
	CHECK_STR(buf, "0=1G,1=512M");
	CHECK(omps_memlimit_parse_list("1=0", &s, err, sizeof(err)) == 0); /* 0 removes */
	omps_memlimit_format_list(&s, buf, sizeof(buf));
	CHECK_STR(buf, "0=1G");
	CHECK(omps_memlimit_parse_list("0=2G", &s, err, sizeof(err)) == 0); /* last wins */
	CHECK(omps_memlimit_get(&s, "0")->bytes == 2ull << 30);
	CHECK(omps_memlimit_parse_list("0", &s, err, sizeof(err)) < 0);
	CHECK_STR(err, "\"0\" is not DEVICE=SIZE (e.g. 0=1G)");
	CHECK(omps_memlimit_parse_list("x=1G", &s, err, sizeof(err)) < 0);
	CHECK_STR(err, "\"x\" is not a device ordinal or GPU UUID");
	CHECK(omps_memlimit_parse_list("0=lots", &s, err, sizeof(err)) < 0);
	CHECK_STR(err, "\"lots\" is not a memory size like 512M or 2G");
	omps_settings_unset(&s);
	omps_memlimit_format_list(&s, buf, sizeof(buf));
	CHECK_STR(buf, "-");
}

static void test_effective(void)
{
	struct omps_settings base, req, out;

	omps_settings_defaults(&base);
	base.atp_milli = 50000;
	omps_memlimit_set(&base, "0", 4ull << 30);

	omps_settings_unset(&req); /* asks for nothing: gets the server's */
	omps_settings_effective(&base, &req, &out);
	CHECK(out.atp_milli == 50000 && out.priority == 0 && out.nmem == 1 && out.mem[0].bytes == 4ull << 30);

	req.atp_milli = 25000; /* tighter: taken */
	req.priority = 1;
	omps_memlimit_set(&req, "0", 1ull << 30);
	omps_memlimit_set(&req, "1", 512ull << 20);
	omps_settings_effective(&base, &req, &out);
	CHECK(out.atp_milli == 25000 && out.priority == 1);
	CHECK(omps_memlimit_get(&out, "0")->bytes == 1ull << 30);
	CHECK(omps_memlimit_get(&out, "1")->bytes == 512ull << 20);

	req.atp_milli = 80000; /* looser: ignored */
	req.priority = 0;
	omps_memlimit_set(&req, "0", 8ull << 30);
	base.priority = 1;
	omps_settings_effective(&base, &req, &out);
	CHECK(out.atp_milli == 50000 && out.priority == 1);
	CHECK(omps_memlimit_get(&out, "0")->bytes == 4ull << 30);
}

static void test_client_request(void)
{
	struct omps_client_info ci = {.comm = "prog", .active_thread_percentage = "20",
				      .pinned_mem_limit = "0=1G", .priority = "1"};
	struct omps_settings req;
	char err[512];

	CHECK(omps_client_request_parse(&ci, &req, err, sizeof(err)) == 0);
	CHECK(req.atp_milli == 20000 && req.priority == 1 && req.nmem == 1);
	snprintf(ci.priority, sizeof(ci.priority), "9");
	CHECK(omps_client_request_parse(&ci, &req, err, sizeof(err)) < 0);
	CHECK_STR(err, "CUDA_MPS_CLIENT_PRIORITY=9: must be 0 or 1");
	memset(ci.comm, 'x', sizeof(ci.comm)); /* not terminated: hostile */
	CHECK(omps_client_request_parse(&ci, &req, err, sizeof(err)) < 0);
	CHECK_STR(err, "malformed client information");
}

static void test_valid(void)
{
	struct omps_settings s;

	omps_settings_defaults(&s);
	CHECK(omps_settings_valid(&s));
	s.atp_milli = 100001;
	CHECK(!omps_settings_valid(&s));
	omps_settings_defaults(&s);
	s.nmem = OMPS_MAX_MEMLIMITS + 1;
	CHECK(!omps_settings_valid(&s));
	omps_settings_defaults(&s);
	s.nmem = 1;
	memset(s.mem[0].dev, 'A', sizeof(s.mem[0].dev));
	s.mem[0].bytes = 1;
	CHECK(!omps_settings_valid(&s));
}

int main(void)
{
	test_atp();
	test_priority_and_keys();
	test_memlimits();
	test_effective();
	test_client_request();
	test_valid();
	return check_report("settings");
}
