/* Dumps the driver's export tables that cudart, cuBLAS and PyTorch ask for
 * (the UUIDs seen in docs/traces/), natively: for each, whether the driver
 * serves it, its first word (a byte size in the tables known so far) and
 * every slot, marked "fn" where it points into the driver's code. Learning
 * aid for serving them in remote mode; run on a GPU machine. */
#define _GNU_SOURCE /* dladdr */
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *ids[] = {
	"f8cff951-2146-8b4e-b9e2-fb469e7c0dd9", "6bd5fb6c-5bf4-e74a-8987-d93912fd9df9",
	"a094798c-2e74-2e74-93f2-0800200c0a66", "263e8860-7cd2-6143-92f6-bbd5006dfa7e",
	"42d85a81-23f6-cb47-8298-f6e78a3aecdc", "c693336e-1121-df11-a8c3-68f355d89593",
	"d4082055-bde6-704b-8d34-ba123c66e1f2", "21318c60-9714-3248-8ca6-41ff7324c8f2",
	"69a28e9f-2449-8b47-b030-c5da330ea4e9",
};

static void parse(const char *s, CUuuid *u)
{
	int i = 0;

	for (; *s && i < 16; s++) {
		unsigned int b;

		if (*s == '-')
			continue;
		sscanf(s, "%2x", &b);
		u->bytes[i++] = (char)b;
		s++;
	}
}

int main(void)
{
	Dl_info self;
	size_t i;

	dladdr((void *)cuInit, &self);
	printf("driver: %s\ncuInit before cuGetExportTable: %d\n", self.dli_fname, (int)cuInit(0));
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const uint64_t *t = NULL;
		CUuuid u;
		CUresult r;
		size_t n, k;

		parse(ids[i], &u);
		r = cuGetExportTable((const void **)&t, &u);
		printf("\n%s: %d", ids[i], (int)r);
		if (r != CUDA_SUCCESS || !t) {
			printf("\n");
			continue;
		}
		n = t[0] % 8 == 0 && t[0] >= 16 && t[0] <= 8192 ? t[0] / 8 : 16;
		printf(", first word %llu -> %zu slots\n", (unsigned long long)t[0], n);
		for (k = 0; k < n && k < 128; k++) {
			Dl_info d;
			int fn = dladdr((void *)(uintptr_t)t[k], &d) && d.dli_fname &&
				 !strcmp(d.dli_fname, self.dli_fname);

			printf("  [%2zu] 0x%016llx%s%s%s\n", k, (unsigned long long)t[k], fn ? " fn" : "",
			       fn && d.dli_sname ? " " : "", fn && d.dli_sname ? d.dli_sname : "");
		}
	}
	return 0;
}
