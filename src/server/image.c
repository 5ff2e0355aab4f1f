/* Reading module images to tell whether their module has data of its own.
 * Every length and offset comes from the client and is checked before use.
 *   cubin: an ELF file; module data lives in the sections .nv.global*
 *     (__device__), .nv.constant3* (__constant__) and .nv.managed*.
 *   PTX: text; module data is a declaration in the .global or .const state
 *     space (instructions name them too, after an opcode: ld.global).
 *   fat binary: a header, then entries (PTX or cubin, one per architecture),
 *     each perhaps compressed; zstd (CUDA 12.8 and later) is undone with
 *     libzstd, anything else makes the image unshareable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "image.h"
#include "protocol.h"

#define FATBIN_MAGIC	  0xba55ed50u
#define FATBIN_PTX	  1
#define FATBIN_ELF	  2
#define ZSTD_MAGIC_BYTES  "\x28\xb5\x2f\xfd"
#define ENTRY_HEADER_MIN  64

static uint64_t get(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int data_section(const char *name)
{
	return !strncmp(name, ".nv.global", 10) || !strncmp(name, ".nv.constant3", 13) ||
	       !strncmp(name, ".nv.managed", 11);
}

/* 1: an ELF64 cubin without data sections; 0: with, or not readable. */
static int elf_shareable(const unsigned char *e, size_t len)
{
	uint64_t shoff, stroff, strsize;
	unsigned shentsize, shnum, shstrndx, i;

	if (len < 64 || memcmp(e, "\x7f" "ELF\x02\x01", 6))
		return 0;
	shoff = get(e + 0x28, 8);
	shentsize = (unsigned)get(e + 0x3a, 2);
	shnum = (unsigned)get(e + 0x3c, 2);
	shstrndx = (unsigned)get(e + 0x3e, 2);
	if (shentsize < 64 || shstrndx >= shnum || shoff > len || (uint64_t)shnum * shentsize > len - shoff)
		return 0;
	stroff = get(e + shoff + (uint64_t)shstrndx * shentsize + 0x18, 8);
	strsize = get(e + shoff + (uint64_t)shstrndx * shentsize + 0x20, 8);
	if (stroff > len || strsize > len - stroff || !strsize || e[stroff + strsize - 1])
		return 0;
	for (i = 0; i < shnum; i++) {
		uint64_t name = get(e + shoff + (uint64_t)i * shentsize, 4);
		uint64_t size = get(e + shoff + (uint64_t)i * shentsize + 0x20, 8);

		if (name >= strsize)
			return 0;
		if (size && data_section((const char *)e + stroff + name))
			return 0;
	}
	return 1;
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

/* 1: PTX declaring no variable in the .global or .const state space. */
static int ptx_shareable(const char *p, size_t len)
{
	static const char *const prefix[] = {".visible", ".extern", ".weak", ".common"};
	const char *end = p + len, *eol;
	size_t i;

	if (!memmem(p, len, ".version", 8))
		return 0;
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
		if (token_is(p, eol, ".global") || token_is(p, eol, ".const"))
			return 0;
	}
	return 1;
}

static int entry_shareable(int kind, const unsigned char *data, size_t len, uint64_t plain_len)
{
	unsigned char *plain;
	size_t n;
	int ok;

	if (len >= 4 && !memcmp(data, ZSTD_MAGIC_BYTES, 4)) {
		if (!plain_len)
			plain_len = ZSTD_getFrameContentSize(data, len); /* an error code is huge */
		if (!plain_len || plain_len > OMPS_MAX_IMAGE || !(plain = malloc(plain_len)))
			return 0;
		n = ZSTD_decompress(plain, plain_len, data, len);
		ok = !ZSTD_isError(n) && entry_shareable(kind, plain, n, 0);
		free(plain);
		return ok;
	}
	if (kind == FATBIN_ELF)
		return elf_shareable(data, len);
	return kind == FATBIN_PTX && ptx_shareable((const char *)data, strnlen((const char *)data, len));
}

/* Every entry must be readable and shareable. */
static int fatbin_shareable(const unsigned char *f, size_t len)
{
	uint64_t size, off;

	if (len < 16)
		return 0;
	size = get(f + 8, 8);
	if (get(f + 4, 2) != 1 || get(f + 6, 2) != 16 || size > len - 16 || !size)
		return 0;
	for (off = 16; off < 16 + size;) {
		const unsigned char *e = f + off;
		uint64_t hdr, payload, stored, flags;

		if (16 + size - off < ENTRY_HEADER_MIN)
			return 0;
		hdr = get(e + 4, 4);
		payload = get(e + 8, 8);
		stored = get(e + 16, 4);
		flags = get(e + 40, 8);
		if (hdr < ENTRY_HEADER_MIN || hdr > 16 + size - off || payload > 16 + size - off - hdr)
			return 0;
		if (flags & 0x2000 && !(payload >= 4 && !memcmp(e + hdr, ZSTD_MAGIC_BYTES, 4)))
			return 0; /* LZ4, the older compression: not read here */
		if (!stored || stored > payload)
			stored = payload;
		if (!entry_shareable((int)get(e, 2), e + hdr, stored, get(e + 56, 8)))
			return 0;
		off += hdr + payload;
	}
	return 1;
}

int omps_image_shareable(const void *image, size_t len)
{
	const unsigned char *p = image;

	if (len >= 4 && get(p, 4) == FATBIN_MAGIC)
		return fatbin_shareable(p, len);
	if (len >= 4 && !memcmp(p, "\x7f" "ELF", 4))
		return elf_shareable(p, len);
	return ptx_shareable(image, strnlen(image, len));
}
