/* Tracing the export tables' slots (OPENMPS_TRACE=1 and
 * OPENMPS_TRACE_EXPORTS=1, native mode). cuGetExportTable then hands out a
 * copy of each table that begins with its size, with every function slot
 * replaced by a stub: the stub saves the argument registers, counts and (the
 * first time) logs the call, restores them and jumps to the driver's
 * function, so the call itself is untouched. At exit, the counts are logged.
 * Learning aid for serving the tables in remote mode; x86-64 only. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shim.h"

#define MAX_TABLES 16
#define MAX_SLOTS  256
#define STUB_SIZE  32

struct slot {
	void *original; /* first: the hook jumps here */
	atomic_ulong calls;
	uint16_t table, index;
};

static struct {
	char id[40];
	const uint64_t *real;
	uint64_t *copy;
	size_t nslots;
} tables[MAX_TABLES];
static size_t ntables;
static struct slot slots[MAX_TABLES][MAX_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Called by the hook with the slot; returns where to go. */
void *omps_slot_called(struct slot *s);
__attribute__((visibility("hidden"))) void *omps_slot_called(struct slot *s)
{
	if (atomic_fetch_add(&s->calls, 1) == 0)
		omps_trace_note("export table %s slot %u: first call", tables[s->table].id, s->index);
	return s->original;
}

#if defined(__x86_64__)
/* r11 holds the slot. Everything an argument may travel in is kept. */
__asm__(".text\n"
	".p2align 4\n"
	"omps_slot_hook:\n"
	"\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n\tpush %r9\n\tpush %rax\n\tpush %r11\n"
	"\tsub $136, %rsp\n"
	"\tmovdqu %xmm0, 0(%rsp)\n\tmovdqu %xmm1, 16(%rsp)\n\tmovdqu %xmm2, 32(%rsp)\n\tmovdqu %xmm3, 48(%rsp)\n"
	"\tmovdqu %xmm4, 64(%rsp)\n\tmovdqu %xmm5, 80(%rsp)\n\tmovdqu %xmm6, 96(%rsp)\n\tmovdqu %xmm7, 112(%rsp)\n"
	"\tmov %r11, %rdi\n"
	"\tcall omps_slot_called\n"
	"\tmov %rax, %r11\n"
	"\tmovdqu 0(%rsp), %xmm0\n\tmovdqu 16(%rsp), %xmm1\n\tmovdqu 32(%rsp), %xmm2\n\tmovdqu 48(%rsp), %xmm3\n"
	"\tmovdqu 64(%rsp), %xmm4\n\tmovdqu 80(%rsp), %xmm5\n\tmovdqu 96(%rsp), %xmm6\n\tmovdqu 112(%rsp), %xmm7\n"
	"\tadd $136, %rsp\n"
	"\tpop %r10\n\tpop %rax\n\tpop %r9\n\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n"
	"\tjmp *%r11\n");
extern char omps_slot_hook[];

/* mov r11, slot; jmp [rip + 0] -> omps_slot_hook */
static void write_stub(unsigned char *p, struct slot *s)
{
	uint64_t slot = (uint64_t)(uintptr_t)s, hook = (uint64_t)(uintptr_t)omps_slot_hook;

	p[0] = 0x49;
	p[1] = 0xbb;
	memcpy(p + 2, &slot, 8);
	p[10] = 0xff;
	p[11] = 0x25;
	memset(p + 12, 0, 4);
	memcpy(p + 16, &hook, 8);
}

static int supported(void)
{
	return 1;
}
#else
static void write_stub(unsigned char *p, struct slot *s)
{
	(void)p, (void)s;
}

static int supported(void)
{
	return 0;
}
#endif

static void report(void)
{
	size_t t, k;

	for (t = 0; t < ntables; t++)
		for (k = 1; k < tables[t].nslots; k++)
			if (atomic_load(&slots[t][k].calls))
				omps_trace_note("export table %s slot %zu: %lu calls", tables[t].id, k,
						atomic_load(&slots[t][k].calls));
}

/* The traced copy of table `real` (id in text), or real itself when it
 * cannot be wrapped. */
const void *omps_exports_wrap(const void *real, const char *id)
{
	const uint64_t *t = real;
	unsigned char *code;
	size_t i, k, n;
	uint64_t *copy;

	if (!supported() || !t || t[0] % 8 || t[0] < 16 || t[0] / 8 > MAX_SLOTS)
		return real; /* no size word: its length is unknown */
	pthread_mutex_lock(&lock);
	for (i = 0; i < ntables; i++)
		if (tables[i].real == t)
			goto done;
	if (ntables == MAX_TABLES)
		goto unwrapped;
	n = t[0] / 8;
	copy = malloc(t[0]);
	code = mmap(NULL, n * STUB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!copy || code == MAP_FAILED) {
		free(copy);
		goto unwrapped;
	}
	memcpy(copy, t, t[0]);
	for (k = 1; k < n; k++) {
		struct slot *s = &slots[i][k];

		if (!t[k])
			continue;
		*s = (struct slot){.original = (void *)(uintptr_t)t[k], .table = (uint16_t)i, .index = (uint16_t)k};
		write_stub(code + k * STUB_SIZE, s);
		copy[k] = (uint64_t)(uintptr_t)(code + k * STUB_SIZE);
	}
	mprotect(code, n * STUB_SIZE, PROT_READ | PROT_EXEC);
	snprintf(tables[i].id, sizeof(tables[i].id), "%s", id);
	tables[i].real = t;
	tables[i].copy = copy;
	tables[i].nslots = n;
	if (ntables++ == 0)
		atexit(report);
done:
	pthread_mutex_unlock(&lock);
	return tables[i].copy;
unwrapped:
	pthread_mutex_unlock(&lock);
	return real;
}
