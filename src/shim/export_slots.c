/* Stubs that stand in for export-table slots. A stub is a few bytes of code
 * that loads its slot record into r11 and jumps to a hook:
 * - traced: the hook saves the argument registers, counts the call (logging
 *   the first), restores them and jumps to the driver's function, so the call
 *   itself is untouched (OPENMPS_TRACE_EXPORTS=1, native mode);
 * - refused: the hook returns CUDA_ERROR_NOT_SUPPORTED after one line naming
 *   the slot (remote mode, slots openmps does not serve);
 * - logged (OPENMPS_TRACE_EXPORTS=args): the first calls of each slot are
 *   made from C with six integer arguments and logged with their result and
 *   the 16 bytes behind each argument that points at readable memory. A
 *   learning aid: arguments in vector registers or on the stack are lost.
 * A stub runs once shim_slot_stubs_seal() has made its page executable.
 * x86-64 only; elsewhere no stub is made and callers keep what they had. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

#define MAX_STUBS  2048
#define STUB_SIZE  32
#define PAGE_STUBS (4096 / STUB_SIZE)

struct slot {
	void *target; /* first: the traced hook jumps here */
	atomic_ulong calls;
	char table[40];
	unsigned index;
};

static struct slot slots[MAX_STUBS];
static size_t nslots;
static unsigned char *page; /* being filled: writable, not executable, until sealed */
static size_t page_used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void *shim_slot_traced(struct slot *s);
CUresult shim_slot_refused(struct slot *s);

__attribute__((visibility("hidden"))) void *shim_slot_traced(struct slot *s)
{
	if (atomic_fetch_add(&s->calls, 1) == 0)
		shim_trace_note("export table %s slot %u: first call", s->table, s->index);
	return s->target;
}

__attribute__((visibility("hidden"))) CUresult shim_slot_refused(struct slot *s)
{
	if (atomic_fetch_add(&s->calls, 1) == 0)
		fprintf(stderr, "openmps: export table %s slot %u is not supported through openmps yet; it returns "
				"CUDA_ERROR_NOT_SUPPORTED\n",
			s->table, s->index);
	if (shim_trace_on)
		shim_trace_note("export table %s slot %u: refused", s->table, s->index);
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* The 16 bytes at p as hex, or "" where they cannot be read. */
static void peek(uint64_t p, char *out, size_t len)
{
	unsigned char b[16];
	struct iovec local = {b, sizeof(b)}, remote = {(void *)(uintptr_t)p, sizeof(b)};
	size_t i, o = 0;

	out[0] = '\0';
	if (p < 4096 || process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(b))
		return;
	o += (size_t)snprintf(out, len, " [");
	for (i = 0; i < sizeof(b) && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%02x", b[i]);
	if (o < len)
		snprintf(out + o, len - o, "]");
}

uint64_t shim_slot_logged(struct slot *s, const uint64_t *a);
__attribute__((visibility("hidden"))) uint64_t shim_slot_logged(struct slot *s, const uint64_t *a)
{
	uint64_t (*fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) =
		(uint64_t(*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t))s->target;
	uint64_t r = fn(a[0], a[1], a[2], a[3], a[4], a[5]);
	char after[6][40];
	int i;

	if (atomic_fetch_add(&s->calls, 1) >= 3)
		return r;
	for (i = 0; i < 6; i++)
		peek(a[i], after[i], sizeof(after[i]));
	shim_trace_note("export table %s slot %u(%#lx%s, %#lx%s, %#lx%s, %#lx%s, %#lx%s, %#lx%s) = %#lx (as int %d)",
			s->table, s->index, (unsigned long)a[0], after[0], (unsigned long)a[1], after[1],
			(unsigned long)a[2], after[2], (unsigned long)a[3], after[3], (unsigned long)a[4], after[4],
			(unsigned long)a[5], after[5], (unsigned long)r, (int)r);
	return r;
}

#if defined(__x86_64__)
/* r11 holds the slot. Everything an argument may travel in is kept. */
__asm__(".text\n"
	".p2align 4\n"
	"shim_slot_hook_traced:\n"
	"\tpush %rdi\n\tpush %rsi\n\tpush %rdx\n\tpush %rcx\n\tpush %r8\n\tpush %r9\n\tpush %rax\n\tpush %r11\n"
	"\tsub $136, %rsp\n"
	"\tmovdqu %xmm0, 0(%rsp)\n\tmovdqu %xmm1, 16(%rsp)\n\tmovdqu %xmm2, 32(%rsp)\n\tmovdqu %xmm3, 48(%rsp)\n"
	"\tmovdqu %xmm4, 64(%rsp)\n\tmovdqu %xmm5, 80(%rsp)\n\tmovdqu %xmm6, 96(%rsp)\n\tmovdqu %xmm7, 112(%rsp)\n"
	"\tmov %r11, %rdi\n"
	"\tcall shim_slot_traced\n"
	"\tmov %rax, %r11\n"
	"\tmovdqu 0(%rsp), %xmm0\n\tmovdqu 16(%rsp), %xmm1\n\tmovdqu 32(%rsp), %xmm2\n\tmovdqu 48(%rsp), %xmm3\n"
	"\tmovdqu 64(%rsp), %xmm4\n\tmovdqu 80(%rsp), %xmm5\n\tmovdqu 96(%rsp), %xmm6\n\tmovdqu 112(%rsp), %xmm7\n"
	"\tadd $136, %rsp\n"
	"\tpop %r10\n\tpop %rax\n\tpop %r9\n\tpop %r8\n\tpop %rcx\n\tpop %rdx\n\tpop %rsi\n\tpop %rdi\n"
	"\tjmp *%r11\n"
	/* The stack is as at the slot's entry: a tail call returns to its caller. */
	"shim_slot_hook_refused:\n"
	"\tmov %r11, %rdi\n"
	"\tjmp shim_slot_refused\n"
	/* The six argument registers on the stack, then a C call (16-byte aligned). */
	"shim_slot_hook_logged:\n"
	"\tpush %r9\n\tpush %r8\n\tpush %rcx\n\tpush %rdx\n\tpush %rsi\n\tpush %rdi\n"
	"\tmov %rsp, %rsi\n\tmov %r11, %rdi\n"
	"\tsub $8, %rsp\n"
	"\tcall shim_slot_logged\n"
	"\tadd $56, %rsp\n"
	"\tret\n");
extern char shim_slot_hook_traced[], shim_slot_hook_refused[], shim_slot_hook_logged[];

/* mov r11, slot; jmp [rip + 0] -> hook */
static void write_stub(unsigned char *p, struct slot *s, void *hook)
{
	uint64_t slot = (uint64_t)(uintptr_t)s, to = (uint64_t)(uintptr_t)hook;

	p[0] = 0x49;
	p[1] = 0xbb;
	memcpy(p + 2, &slot, 8);
	p[10] = 0xff;
	p[11] = 0x25;
	memset(p + 12, 0, 4);
	memcpy(p + 16, &to, 8);
}

/* The page's stubs become executable, and it is never written again. */
static void seal(void)
{
	mprotect(page, 4096, PROT_READ | PROT_EXEC);
	page = NULL;
	page_used = 0;
}

void shim_slot_stubs_seal(void)
{
	pthread_mutex_lock(&lock);
	if (page)
		seal();
	pthread_mutex_unlock(&lock);
}

void *shim_slot_stub(const char *table, unsigned index, void *target, enum shim_slot_kind kind)
{
	unsigned char *code = NULL;
	struct slot *s;

	pthread_mutex_lock(&lock);
	if (nslots == MAX_STUBS)
		goto out;
	if (page && page_used == PAGE_STUBS)
		seal();
	if (!page) {
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED) {
			page = NULL;
			goto out;
		}
	}
	s = &slots[nslots++];
	*s = (struct slot){.target = target, .index = index};
	snprintf(s->table, sizeof(s->table), "%s", table);
	code = page + page_used++ * STUB_SIZE;
	write_stub(code, s,
		   kind == SHIM_SLOT_TRACED   ? shim_slot_hook_traced
		   : kind == SHIM_SLOT_LOGGED ? shim_slot_hook_logged
					      : shim_slot_hook_refused);
out:
	pthread_mutex_unlock(&lock);
	return code;
}
#else
void *shim_slot_stub(const char *table, unsigned index, void *target, enum shim_slot_kind kind)
{
	(void)table, (void)index, (void)target, (void)kind;
	return NULL;
}

void shim_slot_stubs_seal(void)
{
}
#endif

static void report(void)
{
	size_t i;

	if (!shim_trace_on)
		return;
	for (i = 0; i < nslots; i++)
		if (atomic_load(&slots[i].calls))
			shim_trace_note("export table %s slot %u: %lu calls", slots[i].table, slots[i].index,
					atomic_load(&slots[i].calls));
}

__attribute__((constructor)) static void report_at_exit(void)
{
	atexit(report);
}
