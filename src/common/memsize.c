#include "memsize.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char units[] = "KMGT";

int omps_memsize_parse(const char *s, uint64_t *bytes)
{
	uint64_t v = 0;
	const char *p = s, *u;
	int shift;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '\0') {
		if (v != 0)
			return -1; /* a bare number is too easily off by 2^20 */
		*bytes = 0;
		return 0;
	}
	u = strchr(units, toupper((unsigned char)*p));
	if (!u)
		return -1;
	p++;
	if (*p == 'i' && (p[1] == 'B' || p[1] == 'b'))
		p += 2;
	else if (*p == 'B' || *p == 'b')
		p++;
	if (*p != '\0')
		return -1;
	shift = 10 * (int)(u - units + 1);
	if (v > (UINT64_MAX >> shift))
		return -1;
	*bytes = v << shift;
	return 0;
}

void omps_memsize_format(uint64_t bytes, char *buf, size_t len)
{
	int i;

	for (i = 3; i >= 0; i--) {
		int shift = 10 * (i + 1);

		if (bytes && (bytes & ((1ull << shift) - 1)) == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(bytes >> shift), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	if (bytes == 0)
		snprintf(buf, len, "0");
}
