/* Which module images may be shared between clients (src/server/image.c):
 * cubins, PTX and fat binaries, plain and zstd-compressed, built here; and
 * malformed ones, which must be refused without reading out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "task.h"
#include "image.h"

static void put(unsigned char *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* An ELF64 cubin with the named sections (each `size` bytes, no data), the
 * section-name table last. Returns its length. */
static size_t elf(unsigned char *e, const char *const *names, int n, uint64_t size)
{
	size_t strtab = 64, shoff, len;
	unsigned char *sh;
	int i;

	memset(e, 0, 4096);
	memcpy(e, "\x7f" "ELF\x02\x01\x01", 7);
	len = strtab + 1; /* the empty name first */
	for (i = 0; i < n; i++) {
		strcpy((char *)e + len, names[i]);
		len += strlen(names[i]) + 1;
	}
	strcpy((char *)e + len, ".shstrtab");
	len += 10;
	shoff = (len + 7) & ~(size_t)7;
	put(e + 0x28, shoff, 8);
	put(e + 0x3a, 64, 2);
	put(e + 0x3c, (uint64_t)n + 2, 2); /* the null section, ours, the name table */
	put(e + 0x3e, (uint64_t)n + 1, 2);
	len = strtab + 1;
	for (i = 0; i <= n; i++) {
		sh = e + shoff + 64 * (size_t)(i + 1);
		put(sh, len - strtab, 4);
		if (i < n) {
			put(sh + 0x20, size, 8);
			len += strlen(names[i]) + 1;
		} else {
			put(sh + 0x18, strtab, 8);
			put(sh + 0x20, len + 10 - strtab, 8);
		}
	}
	return shoff + 64 * (size_t)(n + 2);
}

/* One ELF64 section header: its name's offset in .shstrtab, its type, where
 * and how long, its linked section and its entry size. */
static void section(unsigned char *sh, uint64_t name, uint64_t type, uint64_t off, uint64_t size, uint64_t link,
		    uint64_t entsize)
{
	put(sh, name, 4);
	put(sh + 4, type, 4);
	put(sh + 0x18, off, 8);
	put(sh + 0x20, size, 8);
	put(sh + 0x28, link, 4);
	put(sh + 0x38, entsize, 8);
}

/* A cubin whose one data section (.nv.global.init, 16 bytes) holds the
 * named 4-byte objects, global where bind says 1, local where 0; its own
 * section symbol first, as nvcc writes it. Returns its length. */
static size_t elf_syms(unsigned char *e, const char *const *names, const int *bind, int n)
{
	static const char shstr[] = "\0.nv.global.init\0.symtab\0.strtab\0.shstrtab";
	size_t shstrtab = 64, strtab = shstrtab + sizeof(shstr), len = strtab + 1, symtab, shoff;
	int i;

	memset(e, 0, 4096);
	memcpy(e, "\x7f" "ELF\x02\x01\x01", 7);
	memcpy(e + shstrtab, shstr, sizeof(shstr));
	symtab = len;
	for (i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	symtab = (len + 7) & ~(size_t)7;
	len = strtab + 1;
	for (i = 0; i < n; i++) { /* symbol i + 2: the null one, the section's, then ours */
		unsigned char *sym = e + symtab + 24 * (size_t)(i + 2);

		strcpy((char *)e + len, names[i]);
		put(sym, len - strtab, 4);
		sym[4] = (unsigned char)(bind[i] << 4 | 1); /* STT_OBJECT */
		put(sym + 6, 1, 2);
		put(sym + 16, 4, 8);
		len += strlen(names[i]) + 1;
	}
	e[symtab + 24 + 4] = 3; /* the section's own symbol: STT_SECTION, local */
	put(e + symtab + 24 + 6, 1, 2);
	shoff = symtab + 24 * (size_t)(n + 2);
	put(e + 0x28, shoff, 8);
	put(e + 0x3a, 64, 2);
	put(e + 0x3c, 5, 2);
	put(e + 0x3e, 4, 2);
	section(e + shoff + 64, 1, 1 /* PROGBITS */, 0, 16, 0, 0);
	section(e + shoff + 128, 17, 2 /* SYMTAB */, symtab, 24 * (uint64_t)(n + 2), 3, 24);
	section(e + shoff + 192, 25, 3 /* STRTAB */, strtab, len - strtab, 0, 0);
	section(e + shoff + 256, 33, 3, shstrtab, sizeof(shstr), 0, 0);
	return shoff + 64 * 5;
}

/* A fat binary of one entry (1 PTX, 2 ELF) holding data, zstd-compressed or not. */
static size_t fatbin(unsigned char *f, int kind, const void *data, size_t len, int compress)
{
	unsigned char *e = f + 16, *payload = e + 64;
	size_t stored = len;

	memset(f, 0, 16 + 64);
	if (compress) {
		stored = ZSTD_compress(payload, 8192, data, len, 3);
		put(e + 40, 0x8000, 8);
		put(e + 56, len, 8);
	} else {
		memcpy(payload, data, len);
	}
	put(f, 0xba55ed50u, 4);
	put(f + 4, 1, 2);
	put(f + 6, 16, 2);
	put(f + 8, 64 + ((stored + 7) & ~(size_t)7), 8);
	put(e, (uint64_t)kind, 2);
	put(e + 4, 64, 4);
	put(e + 8, (stored + 7) & ~(size_t)7, 8);
	put(e + 16, stored, 4);
	put(e + 28, 90, 4);
	return 16 + 64 + ((stored + 7) & ~(size_t)7);
}

static const char code_only[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				".visible .entry k(.param .u64 p)\n{\n .reg .b64 rd<2>;\n"
				" ld.param.u64 rd1, [p];\n ld.global.u32 %r1, [rd1];\n st.global.u32 [rd1], %r1;\n"
				" ld.const.u32 %r1, [rd1];\n ret;\n}\n";
static const char with_global[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				  ".visible .global .align 4 .u32 counter;\n.visible .entry k()\n{\n ret;\n}\n";
static const char with_const[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				 "\t.const .align 8 .b8 table[64];\n.visible .entry k()\n{\n ret;\n}\n";
static const char arrays[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
			     ".visible .global .align 4 .b8 blob[1048576];\n"
			     ".global .f64 grid[4][3] = {0};\n"
			     "\t.const .v4 .f32 corner;\n";
static const char unsized[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
			      ".extern .global .align 4 .b8 blob[];\n";
static const char with_extern[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				  ".extern .global .align 4 .u32 shared_counter;\n";
/* What nvcc writes for a string literal (an assert's file name): data of the
 * compiler's own, read only, which no program can name. */
static const char strings_only[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				   ".global .align 1 .b8 $str[4] = {102, 46, 99, 0};\n"
				   ".global .align 1 .b8 __unnamed_1[2] = {107, 0};\n"
				   ".visible .entry k()\n{\n ret;\n}\n";
static const char static_var[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				 ".global .align 4 .u32 _ZL7counter;\n";
static const char weak_visible[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				   ".weak .visible .global .align 4 .u32 w;\n";

/* The names srv_image_writable_vars reports, each followed by a space. */
static void collect(void *arg, const char *name, size_t len)
{
	char *out = arg;
	size_t at = strlen(out);

	if (at + len + 2 < 256) {
		memcpy(out + at, name, len);
		out[at + len] = ' ';
		out[at + len + 1] = '\0';
	}
}

static const char *vars_of(const void *image, size_t len, int64_t *bytes)
{
	static char names[256];

	names[0] = '\0';
	*bytes = srv_image_writable_vars(image, len, collect, names);
	return names;
}

TEST(image)
{
	static const char *const code[] = {".text.k", ".nv.info", ".nv.constant0.k", ".nv.shared.k"};
	static const char *const device_var[] = {".text.k", ".nv.global"};
	static const char *const device_init[] = {".text.k", ".nv.global.init"};
	static const char *const constant_var[] = {".text.k", ".nv.constant3"};
	static unsigned char e[4096], f[16384], bad[16384];
	size_t n, m;

	/* PTX: declarations decide, instructions naming a state space do not. */
	ASSERT_EQ(srv_image_shareable(code_only, sizeof(code_only)), 1);
	ASSERT_EQ(srv_image_shareable(with_global, sizeof(with_global)), 0);
	ASSERT_EQ(srv_image_shareable(with_const, sizeof(with_const)), 0);
	ASSERT_EQ(srv_image_shareable(with_extern, sizeof(with_extern)), 0);
	ASSERT_EQ(srv_image_shareable(weak_visible, sizeof(weak_visible)), 0);
	ASSERT_EQ(srv_image_shareable(strings_only, sizeof(strings_only)), 1);
	ASSERT_EQ(srv_image_shareable(static_var, sizeof(static_var)), 0); /* a static __device__ variable */
	ASSERT_EQ(srv_image_shareable("not an image", 13), 0);

	/* Cubins: data sections make a module the client's own. */
	n = elf(e, code, 4, 64);
	ASSERT_EQ(srv_image_shareable(e, n), 1);
	ASSERT_EQ(srv_image_shareable(e, elf(e, device_var, 2, 16)), 0);
	ASSERT_EQ(srv_image_shareable(e, elf(e, device_init, 2, 16)), 0);
	ASSERT_EQ(srv_image_shareable(e, elf(e, constant_var, 2, 16)), 0);
	ASSERT_EQ(srv_image_shareable(e, elf(e, device_var, 2, 0)), 1); /* an empty one holds nothing */
	{ /* what its symbols say: the compiler's own strings (an assert's) do not count */
		static const char *const strings[] = {"$str", "__unnamed_1", "$str$1"};
		static const char *const named[] = {"$str", "counter"};
		static const char *const hidden[] = {"_ZL6hidden"};
		static const int local[] = {0, 0, 0}, global[] = {0, 1};

		ASSERT_EQ(srv_image_shareable(e, elf_syms(e, strings, local, 3)), 1);
		ASSERT_EQ(srv_image_data_bytes(e, elf_syms(e, strings, local, 3)), 0);
		ASSERT_EQ(srv_image_shareable(e, elf_syms(e, named, global, 2)), 0);     /* a __device__ variable */
		ASSERT_EQ(srv_image_data_bytes(e, elf_syms(e, named, global, 2)), 16);
		ASSERT_EQ(srv_image_shareable(e, elf_syms(e, hidden, local, 1)), 0);     /* a static one */
		ASSERT_EQ(srv_image_shareable(e, elf_syms(e, strings, local, 0)), 0);    /* no symbol but its own */
	}

	/* How many bytes of module data they hold (a client's memory limit counts them). */
	ASSERT_EQ(srv_image_data_bytes(code_only, sizeof(code_only)), 0);
	ASSERT_EQ(srv_image_data_bytes(with_global, sizeof(with_global)), 4);
	ASSERT_EQ(srv_image_data_bytes(with_const, sizeof(with_const)), 64);
	ASSERT_EQ(srv_image_data_bytes(arrays, sizeof(arrays)), 1048576 + 4 * 3 * 8 + 16);
	ASSERT_EQ(srv_image_data_bytes(unsized, sizeof(unsized)), 0); /* not told: not counted */
	ASSERT_EQ(srv_image_shareable(unsized, sizeof(unsized)), 0);  /* nor shared */
	ASSERT_EQ(srv_image_data_bytes(e, elf(e, device_var, 2, 1 << 30)), 1 << 30);
	ASSERT_EQ(srv_image_data_bytes(f, fatbin(f, 2, e, elf(e, device_var, 2, 1 << 30), 1)), 1 << 30);
	ASSERT_EQ(srv_image_data_bytes(f, fatbin(f, 1, arrays, sizeof(arrays), 1)), 1048576 + 4 * 3 * 8 + 16);

	/* Of that, what kernels may write: __device__ and __managed__, not __constant__. */
	ASSERT_EQ(srv_image_writable_bytes(code_only, sizeof(code_only)), 0);
	ASSERT_EQ(srv_image_writable_bytes(with_global, sizeof(with_global)), 4);
	ASSERT_EQ(srv_image_writable_bytes(with_const, sizeof(with_const)), 0);
	ASSERT_EQ(srv_image_writable_bytes(arrays, sizeof(arrays)), 1048576 + 4 * 3 * 8);
	ASSERT_EQ(srv_image_writable_bytes(unsized, sizeof(unsized)), -1); /* not told */
	ASSERT_EQ(srv_image_writable_bytes("not an image", 13), -1);
	ASSERT_EQ(srv_image_writable_bytes(e, elf(e, device_init, 2, 16)), 16);
	ASSERT_EQ(srv_image_writable_bytes(e, elf(e, constant_var, 2, 16)), 0);
	ASSERT_EQ(srv_image_data_bytes(e, elf(e, constant_var, 2, 16)), 16);
	ASSERT_EQ(srv_image_writable_bytes(f, fatbin(f, 1, with_const, sizeof(with_const), 1)), 0);
	ASSERT_EQ(srv_image_writable_bytes(f, fatbin(f, 1, with_global, sizeof(with_global), 1)), 4);

	/* ... and their names, to keep what they hold across a fault (handover.c). */
	{
		static const char *const names[] = {"$str", "counter", "_ZL6hidden"};
		static const int bind[] = {0, 1, 0};
		int64_t bytes;

		ASSERT_STR_EQ(vars_of(with_global, sizeof(with_global), &bytes), "counter ");
		ASSERT_EQ(bytes, 4);
		ASSERT_STR_EQ(vars_of(arrays, sizeof(arrays), &bytes), "blob grid "); /* not the __constant__ one */
		ASSERT_STR_EQ(vars_of(strings_only, sizeof(strings_only), &bytes), ""); /* read only */
		ASSERT_STR_EQ(vars_of(with_const, sizeof(with_const), &bytes), "");
		ASSERT_STR_EQ(vars_of(e, elf_syms(e, names, bind, 3), &bytes), "counter _ZL6hidden ");
		ASSERT_EQ(bytes, 16);
		ASSERT_STR_EQ(vars_of(f, fatbin(f, 1, with_global, sizeof(with_global), 1), &bytes), "counter ");
		vars_of(unsized, sizeof(unsized), &bytes);
		ASSERT_EQ(bytes, -1); /* a size not told: nothing to keep it by */
	}

	/* Fat binaries, plain and compressed, of either kind. */
	n = elf(e, code, 4, 64);
	ASSERT_EQ(srv_image_shareable(f, fatbin(f, 2, e, n, 0)), 1);
	ASSERT_EQ(srv_image_shareable(f, fatbin(f, 2, e, n, 1)), 1);
	ASSERT_EQ(srv_image_shareable(f, fatbin(f, 1, code_only, sizeof(code_only), 1)), 1);
	ASSERT_EQ(srv_image_shareable(f, fatbin(f, 1, with_global, sizeof(with_global), 1)), 0);
	n = elf(e, device_var, 2, 16);
	ASSERT_EQ(srv_image_shareable(f, fatbin(f, 2, e, n, 1)), 0);
	m = fatbin(f, 1, code_only, sizeof(code_only), 0);
	f[16 + 40] = 0x00, f[16 + 41] = 0x20; /* marked LZ4: not read, so not shared */
	ASSERT_EQ(srv_image_shareable(f, m), 0);
	ASSERT_EQ(srv_image_shareable(f, fatbin(f, 7, code_only, sizeof(code_only), 0)), 0); /* unknown kind */

	/* Malformed: every length checked; nothing read past the end. */
	n = elf(e, code, 4, 64);
	for (m = 0; m < n; m += 7) /* every truncation */
		ASSERT(srv_image_shareable(e, m) == 0 || m >= n);
	memcpy(bad, e, n);
	put(bad + 0x28, 1u << 30, 8); /* section headers far past the end */
	ASSERT_EQ(srv_image_shareable(bad, n), 0);
	memcpy(bad, e, n);
	put(bad + 0x3e, 99, 2); /* no such name table */
	ASSERT_EQ(srv_image_shareable(bad, n), 0);
	m = fatbin(f, 2, e, n, 1);
	memcpy(bad, f, m);
	put(bad + 8, m, 8); /* the container claims more than there is */
	ASSERT_EQ(srv_image_shareable(bad, m), 0);
	memcpy(bad, f, m);
	put(bad + 16 + 8, 1u << 20, 8); /* an entry past the container */
	ASSERT_EQ(srv_image_shareable(bad, m), 0);
	memcpy(bad, f, m);
	put(bad + 16 + 56, 1ull << 40, 8); /* an absurd uncompressed size */
	ASSERT_EQ(srv_image_shareable(bad, m), 0);
	memcpy(bad, f, m);
	bad[16 + 64 + 10] ^= 0xff; /* a corrupt compressed frame */
	ASSERT_EQ(srv_image_shareable(bad, m), 0);
}
