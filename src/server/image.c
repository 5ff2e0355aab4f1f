/* Reading module images to tell whether their module has data of its own,
 * and how many bytes (a client's memory limit counts them). Every length and offset comes from the client and is checked before use.
 *   cubin: an ELF file; module data lives in the sections .nv.global*
 *     (__device__), .nv.constant3* (__constant__) and .nv.managed*.
 *   PTX: text; module data is a declaration in the .global or .const state
 *     space (instructions name them too, after an opcode: ld.global).
 *   Data the compiler makes for itself (a string literal's "$str", an
 *   "__unnamed_N" constant: local symbols no program can name) is read only
 *   and the same in every module loaded from the image: it does not count.
 *   fat binary: a header, then entries (PTX or cubin, one per architecture),
 *     each perhaps compressed; zstd (CUDA 12.8 and later) is undone with
 *     libzstd, anything else makes the image unshareable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image.h"
#include "calls.h"
#include "protocol.h"

#define FATBIN_MAGIC	  0xba55ed50u
#define FATBIN_PTX	  1
#define FATBIN_ELF	  2
#define ZSTD_MAGIC_BYTES  "\x28\xb5\x2f\xfd"
#define ENTRY_HEADER_MIN  64
#define MAX_DATA	  (1ull << 40) /* more than any GPU's memory: a corrupt size */
#define DATA_WRITABLE	  1u
#define DATA_CONSTANT	  2u
#define DATA_ALL	  (DATA_WRITABLE | DATA_CONSTANT)

/* What a walk over an image looks for: the bytes of the data kinds in
 * mask; and with fn, each writable variable's name. */
struct scan {
	unsigned mask;
	srv_image_var_fn fn;
	void *arg;
};

static uint64_t get(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Which data a section holds: kernels may write __device__ and __managed__
 * variables; __constant__ ones only the host writes, through their address. */
static unsigned data_section(const char *name)
{
	if (!strncmp(name, ".nv.global", 10) || !strncmp(name, ".nv.managed", 11))
		return DATA_WRITABLE;
	return strncmp(name, ".nv.constant3", 13) ? 0 : DATA_CONSTANT;
}

static int compiler_made(const char *name, size_t room)
{
	return (room > 1 && name[0] == '$') || (room > 10 && !strncmp(name, "__unnamed_", 10));
}

/* Calls visit for each symbol of section sec of the cubin but the
 * section's own, with its name (NULL if out of the string table) and the
 * bytes of the table from there; stops at the first nonzero visit returns,
 * and returns it; -1 when a symbol table cannot be read. */
typedef int (*sym_fn)(void *arg, const unsigned char *sym, const char *name, uint64_t room);

static int elf_symbols(const unsigned char *e, size_t len, uint64_t shoff, unsigned shentsize, unsigned shnum,
		       unsigned sec, sym_fn visit, void *arg)
{
	unsigned i;
	int r;

	for (i = 0; i < shnum; i++) {
		const unsigned char *sh = e + shoff + (uint64_t)i * shentsize, *link;
		uint64_t off = get(sh + 0x18, 8), size = get(sh + 0x20, 8), ent = get(sh + 0x38, 8), k;
		uint64_t stroff, strsize;

		if (get(sh + 4, 4) != 2 /* SHT_SYMTAB */)
			continue;
		if (ent < 24 || off > len || size > len - off || get(sh + 0x28, 4) >= shnum)
			return -1;
		link = e + shoff + get(sh + 0x28, 4) * shentsize;
		stroff = get(link + 0x18, 8);
		strsize = get(link + 0x20, 8);
		if (stroff > len || strsize > len - stroff)
			return -1;
		for (k = 0; k + ent <= size; k += ent) {
			const unsigned char *sym = e + off + k;
			uint64_t name = get(sym, 4);

			if (get(sym + 6, 2) != sec || (sym[4] & 0xf) == 3 /* STT_SECTION: the section's own */)
				continue;
			r = visit(arg, sym, name < strsize ? (const char *)e + stroff + name : NULL,
				  name < strsize ? strsize - name : 0);
			if (r)
				return r;
		}
	}
	return 0;
}

/* 1 for a variable a program could name: global, or local but not
 * compiler_made. */
static int named_one(void *found, const unsigned char *sym, const char *name, uint64_t room)
{
	*(int *)found = 1;
	return sym[4] >> 4 != 0 /* not STB_LOCAL */ || !name || !compiler_made(name, room);
}

/* Whether section sec of the cubin holds a variable a program could name.
 * A section without symbols, or a symbol table that cannot be read,
 * counts as one. */
static int elf_named_data(const unsigned char *e, size_t len, uint64_t shoff, unsigned shentsize, unsigned shnum,
			  unsigned sec)
{
	int found = 0;

	return elf_symbols(e, len, shoff, shentsize, shnum, sec, named_one, &found) ? 1 : !found;
}

/* Its name to sc->fn, unless the compiler made it (read only: nothing to
 * keep); -1 for a name not ended within the table. */
static int var_one(void *arg, const unsigned char *sym, const char *name, uint64_t room)
{
	const struct scan *sc = arg;
	size_t n;

	if (!name || (n = strnlen(name, room)) == room)
		return -1;
	if (sym[4] >> 4 == 0 /* STB_LOCAL */ && compiler_made(name, room))
		return 0;
	sc->fn(sc->arg, name, n);
	return 0;
}

/* Each variable a program could name in section sec, to sc->fn; -1 when
 * a symbol table or name cannot be read. */
static int elf_vars(const unsigned char *e, size_t len, uint64_t shoff, unsigned shentsize, unsigned shnum,
		    unsigned sec, const struct scan *sc)
{
	return elf_symbols(e, len, shoff, shentsize, shnum, sec, var_one, (void *)sc) < 0 ? -1 : 0;
}

/* The bytes of an ELF64 cubin's data sections of the kinds in sc->mask
 * (and their variables' names to sc->fn); -1: not readable. */
static int64_t elf_data(const unsigned char *e, size_t len, const struct scan *sc)
{
	uint64_t shoff, stroff, strsize, total = 0;
	unsigned shentsize, shnum, shstrndx, i;

	if (len < 64 || memcmp(e, "\x7f" "ELF\x02\x01", 6))
		return -1;
	shoff = get(e + 0x28, 8);
	shentsize = (unsigned)get(e + 0x3a, 2);
	shnum = (unsigned)get(e + 0x3c, 2);
	shstrndx = (unsigned)get(e + 0x3e, 2);
	if (shentsize < 64 || shstrndx >= shnum || shoff > len || (uint64_t)shnum * shentsize > len - shoff)
		return -1;
	stroff = get(e + shoff + (uint64_t)shstrndx * shentsize + 0x18, 8);
	strsize = get(e + shoff + (uint64_t)shstrndx * shentsize + 0x20, 8);
	if (stroff > len || strsize > len - stroff || !strsize || e[stroff + strsize - 1])
		return -1;
	for (i = 0; i < shnum; i++) {
		uint64_t name = get(e + shoff + (uint64_t)i * shentsize, 4);
		uint64_t size = get(e + shoff + (uint64_t)i * shentsize + 0x20, 8);

		if (name >= strsize)
			return -1;
		unsigned kind = data_section((const char *)e + stroff + name);

		if (!(kind & sc->mask) || !elf_named_data(e, len, shoff, shentsize, shnum, i))
			continue;
		if (size > MAX_DATA)
			return -1;
		total += size;
		if (sc->fn && kind == DATA_WRITABLE && elf_vars(e, len, shoff, shentsize, shnum, i, sc) < 0)
			return -1;
	}
	return (int64_t)total;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

static int token_is(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) > n && !memcmp(p, word, n) && (p[n] == ' ' || p[n] == '\t');
}

/* The bytes of one declaration's variable, from its type, vector width
 * and array sizes ("[.align 4] .b8 buf[64]"); -1: not told (unsized). */
static int64_t ptx_decl_bytes(const char *p, const char *eol)
{
	static const struct {
		const char *name;
		int bytes;
	} types[] = {{".b8", 1},  {".u8", 1},  {".s8", 1},  {".b16", 2}, {".u16", 2}, {".s16", 2},
		     {".f16", 2}, {".b32", 4}, {".u32", 4}, {".s32", 4}, {".f32", 4}, {".b64", 8},
		     {".u64", 8}, {".s64", 8}, {".f64", 8}};
	uint64_t bytes = 0, vec = 1;
	size_t i;

	for (p = skip_space(p, eol); p < eol && *p == '.'; p = skip_space(p, eol)) {
		if (token_is(p, eol, ".align")) {
			p = skip_space(p + 6, eol);
			while (p < eol && *p >= '0' && *p <= '9')
				p++;
			continue;
		}
		if (token_is(p, eol, ".v2") || token_is(p, eol, ".v4")) {
			vec = (uint64_t)(p[2] - '0');
			p += 3;
			continue;
		}
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (token_is(p, eol, types[i].name))
				break;
		if (i == sizeof(types) / sizeof(types[0]))
			return -1;
		bytes = (uint64_t)types[i].bytes * vec;
		p += strlen(types[i].name);
		break;
	}
	if (!bytes)
		return -1;
	while (p < eol && *p != '[' && *p != ';' && *p != '=')
		p++;
	while (p < eol && *p == '[') {
		char *end;
		unsigned long long n = strtoull(p + 1, &end, 10);

		if (end == p + 1 || end >= eol || *end != ']' || !n || n > MAX_DATA / bytes)
			return -1;
		bytes *= n;
		p = end + 1;
	}
	return (int64_t)bytes;
}

/* A declaration's name, after its qualifiers, type and alignment: its
 * length, 0 if none. */
static size_t ptx_name(const char *p, const char *eol, const char **name)
{
	const char *e;

	for (p = skip_space(p, eol); p < eol && *p == '.'; p = skip_space(p, eol)) {
		int align = token_is(p, eol, ".align");

		while (p < eol && *p != ' ' && *p != '\t')
			p++;
		if (align) {
			p = skip_space(p, eol);
			while (p < eol && *p >= '0' && *p <= '9')
				p++;
		}
	}
	for (e = p; e < eol && *e != '[' && *e != ';' && *e != '=' && *e != ' ' && *e != '\t'; e++)
		;
	*name = p;
	return (size_t)(e - p);
}

/* Whether a declaration's name is one the compiler made for itself. */
static int ptx_compiler_made(const char *p, const char *eol)
{
	const char *name;

	ptx_name(p, eol, &name);
	return compiler_made(name, (size_t)(eol - name));
}

/* The bytes of the variables PTX declares in the .global (DATA_WRITABLE) or
 * .const (DATA_CONSTANT) state space, of the kinds in sc->mask (the
 * writable ones' names to sc->fn); -1: not PTX, or a declaration whose
 * size or name it does not tell. */
static int64_t ptx_data(const char *p, size_t len, const struct scan *sc)
{
	static const char *const prefix[] = {".visible", ".extern", ".weak", ".common"};
	const char *end = p + len, *eol, *name;
	unsigned mask = sc->mask;
	size_t n;
	uint64_t total = 0;
	int64_t one;
	size_t i;

	if (!memmem(p, len, ".version", 8))
		return -1;
	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		p = skip_space(p, eol);
		for (i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
			if (token_is(p, eol, prefix[i])) {
				p = skip_space(p + strlen(prefix[i]), eol);
				i = (size_t)-1; /* qualifiers may follow one another */
			}
		if (!(token_is(p, eol, ".global") && mask & DATA_WRITABLE) &&
		    !(token_is(p, eol, ".const") && mask & DATA_CONSTANT))
			continue;
		if (ptx_compiler_made(p + (p[1] == 'g' ? 7 : 6), eol))
			continue;
		one = ptx_decl_bytes(p + (p[1] == 'g' ? 7 : 6), eol);
		if (one < 0 || total + (uint64_t)one > MAX_DATA)
			return -1;
		total += (uint64_t)one;
		if (sc->fn && p[1] == 'g') {
			if (!(n = ptx_name(p + 7, eol, &name)))
				return -1;
			sc->fn(sc->arg, name, n);
		}
	}
	return (int64_t)total;
}

static int64_t entry_data(int kind, const unsigned char *data, size_t len, uint64_t plain_len,
			  const struct scan *sc)
{
	unsigned char *plain;
	int64_t bytes;
	size_t n;

	if (len >= 4 && !memcmp(data, ZSTD_MAGIC_BYTES, 4)) {
		if (!plain_len)
			plain_len = ZSTD_getFrameContentSize(data, len); /* an error code is huge */
		if (!plain_len || plain_len > OMPS_MAX_IMAGE || !(plain = malloc(plain_len)))
			return -1;
		n = ZSTD_decompress(plain, plain_len, data, len);
		bytes = ZSTD_isError(n) ? -1 : entry_data(kind, plain, n, 0, sc);
		free(plain);
		return bytes;
	}
	if (kind == FATBIN_ELF)
		return elf_data(data, len, sc);
	return kind == FATBIN_PTX ? ptx_data((const char *)data, strnlen((const char *)data, len), sc) : -1;
}

/* The most any entry holds (the driver loads one); -1 when one is not readable. */
static int64_t fatbin_data(const unsigned char *f, size_t len, const struct scan *sc)
{
	uint64_t size, off;
	int64_t most = 0, one;

	if (len < 16)
		return -1;
	size = get(f + 8, 8);
	if (get(f + 4, 2) != 1 || get(f + 6, 2) != 16 || size > len - 16 || !size)
		return -1;
	for (off = 16; off < 16 + size;) {
		const unsigned char *e = f + off;
		uint64_t hdr, payload, stored, flags;

		if (16 + size - off < ENTRY_HEADER_MIN)
			return -1;
		hdr = get(e + 4, 4);
		payload = get(e + 8, 8);
		stored = get(e + 16, 4);
		flags = get(e + 40, 8);
		if (hdr < ENTRY_HEADER_MIN || hdr > 16 + size - off || payload > 16 + size - off - hdr)
			return -1;
		if (flags & 0x2000 && !(payload >= 4 && !memcmp(e + hdr, ZSTD_MAGIC_BYTES, 4)))
			return -1; /* LZ4, the older compression: not read here */
		if (!stored || stored > payload)
			stored = payload;
		one = entry_data((int)get(e, 2), e + hdr, stored, get(e + 56, 8), sc);
		if (one < 0)
			return -1;
		most = one > most ? one : most;
		off += hdr + payload;
	}
	return most;
}

static int64_t image_data(const void *image, size_t len, const struct scan *sc)
{
	const unsigned char *p = image;

	if (len >= 4 && get(p, 4) == FATBIN_MAGIC)
		return fatbin_data(p, len, sc);
	if (len >= 4 && !memcmp(p, "\x7f" "ELF", 4))
		return elf_data(p, len, sc);
	return ptx_data(image, strnlen(image, len), sc);
}

int srv_image_shareable(const void *image, size_t len)
{
	return image_data(image, len, &(struct scan){.mask = DATA_ALL}) == 0;
}

uint64_t srv_image_data_bytes(const void *image, size_t len)
{
	int64_t n = image_data(image, len, &(struct scan){.mask = DATA_ALL});

	return n > 0 ? (uint64_t)n : 0;
}

int64_t srv_image_writable_bytes(const void *image, size_t len)
{
	return image_data(image, len, &(struct scan){.mask = DATA_WRITABLE});
}

int64_t srv_image_writable_vars(const void *image, size_t len, srv_image_var_fn fn, void *arg)
{
	return image_data(image, len, &(struct scan){.mask = DATA_WRITABLE, .fn = fn, .arg = arg});
}
