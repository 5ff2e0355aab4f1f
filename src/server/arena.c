/* The device memory clients get from cuMemAlloc: chunks of physical memory
 * made with cuMemCreate, each mapped at an address range of its own and
 * carved up first-fit. Why not the driver's stream-ordered pool, which
 * cuMemAllocAsync still uses: pool memory refuses stream memory operations
 * (cuStreamWriteValue32 on it returns CUDA_ERROR_INVALID_VALUE natively on
 * the H200), which programs do on cuMemAlloc memory; and a chunk can be
 * exported as a file descriptor, so that memory outlives a context (the
 * fault-containment design, docs/architecture.md).
 *
 * Invariants: every byte a chunk hands out is zero. A new chunk is zeroed
 * before its first use; a freed block is zeroed on the freeing stream and
 * comes back only once an event recorded after that memset has completed,
 * so no client's late work and no reuse overlap (as the pool with internal
 * dependencies off). A chunk is unmapped only when it holds nothing and
 * none of its frees is pending: cuMemUnmap does not wait for kernels. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "log.h"
#include "memsize.h"
#include "server.h"

#define ARENA_ALIGN ((uint64_t)512)	/* as cuMemAlloc's small allocations */
#define CHUNK_MIN   ((uint64_t)32 << 20)  /* chunks while the arena is small */
#define CHUNK_STEP  ((uint64_t)256 << 20) /* from here a chunk is an eighth of all */
#define CHUNK_MAX   ((uint64_t)1 << 30)	  /* and no more than this */

struct arena_span {
	struct arena_span *next;
	uint64_t off, len;
};

struct arena_chunk {
	struct arena_chunk *next;
	CUdeviceptr base;
	uint64_t size, used;
	CUmemGenericAllocationHandle handle;
	int fd;			 /* the handle exported as a file descriptor; -1: not exportable */
	int in_window;		 /* its addresses are the window's, given back there */
	struct arena_span *free; /* by address, coalesced */
	unsigned pending;	 /* frees not yet done */
};

struct arena_pending {
	struct arena_pending *next;
	struct arena_chunk *chunk;
	uint64_t off, len;
	CUstream stream; /* the free's: a stream-ordered allocation there may have it at once */
	CUevent done;
};

struct srv_arena {
	pthread_mutex_t lock;
	int state; /* 0 not asked yet, 1 in use, -1 not available: the pool serves (under lock) */
	uint64_t granule, total;
	struct arena_chunk *chunks;
	struct arena_chunk *ahead; /* in a standby: the server's chunks, mapped ahead of a fault (standby.c) */
	/* The address range the chunks are mapped in (base 0: none); its free
	 * spans are the addresses no chunk has. window_tried: one was asked for. */
	struct arena_chunk window;
	int window_tried;
	struct arena_pending *pending;
	struct arena_pending *spare; /* events to use again */
};


static CUmemAllocationProp chunk_prop(int dev, int exportable)
{
	CUmemAllocationProp p;

	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = dev;
	p.requestedHandleTypes = exportable ? CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR : CU_MEM_HANDLE_TYPE_NONE;
	return p;
}

/* Under a->lock: whether this device's chunks can be made (asked once): the
 * driver has the calls, the device the feature, and OPENMPS_DEVICE_ARENA is
 * not 0. Without it there are no chunks, so the calls below that find,
 * trim or count chunks need not ask. */
static int usable(struct srv_state *s, struct srv_arena *a, int dev)
{
	const struct srv_driver *drv = s->drv;
	const char *off = getenv("OPENMPS_DEVICE_ARENA");
	CUmemAllocationProp p = chunk_prop(dev, 1);
	int vmm = 0;

	if (a->state)
		return a->state > 0;
	a->state = -1;
	if (off && !strcmp(off, "0"))
		return 0;
	if (!drv->mem_create || !drv->mem_map || !drv->mem_address_reserve || !drv->mem_set_access ||
	    !drv->mem_get_allocation_granularity ||
	    drv->device_get_attribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev) ||
	    !vmm || drv->mem_get_allocation_granularity(&a->granule, &p, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ||
	    !a->granule) {
		omps_log("Device %d: cuMemAlloc is served from the stream-ordered pool (no virtual memory management)",
			 dev);
		return 0;
	}
	a->state = 1;
	return 1;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* A block's alignment and length: what allocation and free both compute. */
static uint64_t align_of(const struct srv_arena *a, uint64_t bytes)
{
	return bytes >= a->granule ? a->granule : ARENA_ALIGN;
}

static uint64_t length_of(const struct srv_arena *a, uint64_t bytes)
{
	return round_up(bytes, align_of(a, bytes));
}

/* [off, off + len) back into the chunk's free list, merged with its neighbours. */
static int span_free(struct arena_chunk *ch, uint64_t off, uint64_t len)
{
	struct arena_span **pp = &ch->free, *prev = NULL, *n;

	while (*pp && (*pp)->off < off) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (prev && prev->off + prev->len == off) {
		prev->len += len;
		if (prev->next && prev->off + prev->len == prev->next->off) {
			n = prev->next;
			prev->len += n->len;
			prev->next = n->next;
			free(n);
		}
	} else if (*pp && off + len == (*pp)->off) {
		(*pp)->off = off;
		(*pp)->len += len;
	} else {
		if (!(n = malloc(sizeof(*n))))
			return -1; /* the bytes stay lost to the chunk; it is never unmapped */
		*n = (struct arena_span){.next = *pp, .off = off, .len = len};
		*pp = n;
	}
	ch->used -= len;
	return 0;
}

/* [start, start + len), within span sp (found at *pp), taken out of it. */
static int span_cut(struct arena_chunk *ch, struct arena_span **pp, struct arena_span *sp, uint64_t start,
		    uint64_t len)
{
	uint64_t lead = start - sp->off;
	struct arena_span *rest;

	if (lead && sp->len > lead + len) { /* a gap on both sides: one more span */
		if (!(rest = malloc(sizeof(*rest))))
			return 0;
		*rest = (struct arena_span){.next = sp->next, .off = start + len, .len = sp->len - lead - len};
		sp->next = rest;
		sp->len = lead;
	} else if (lead) {
		sp->len = lead;
	} else if (sp->len > len) {
		sp->off += len;
		sp->len -= len;
	} else {
		*pp = sp->next;
		free(sp);
	}
	ch->used += len;
	return 1;
}

/* First fit of len bytes at align in the chunk; 1 if taken. */
static int span_take(struct arena_chunk *ch, uint64_t len, uint64_t align, uint64_t *off)
{
	struct arena_span **pp, *sp;

	for (pp = &ch->free; (sp = *pp); pp = &sp->next) {
		uint64_t start = round_up(ch->base + sp->off, align) - ch->base;

		if (start - sp->off + len > sp->len)
			continue;
		*off = start;
		return span_cut(ch, pp, sp, start, len);
	}
	return 0;
}

/* Exactly [off, off + len), if it is free; 1 if taken. */
static int span_claim(struct arena_chunk *ch, uint64_t off, uint64_t len)
{
	struct arena_span **pp, *sp;

	for (pp = &ch->free; (sp = *pp); pp = &sp->next)
		if (off >= sp->off && len <= sp->len && off - sp->off <= sp->len - len)
			return span_cut(ch, pp, sp, off, len);
	return 0;
}

/* What this process has where a chunk could not be mapped again: the
 * lines of /proc/self/maps that overlap it, to tell the driver's own
 * regions from the process's other mappings. */
static void log_holders(int dev, CUdeviceptr base, uint64_t size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long long lo, hi;
	int said = 0;

	while (f && fgets(line, sizeof(line), f) && said < 4)
		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo < base + size && base < hi) {
			line[strcspn(line, "\n")] = '\0';
			omps_log("Device %d: at 0x%llx this process has: %s", dev, (unsigned long long)base, line);
			said++;
		}
	if (f && !said)
		omps_log("Device %d: at 0x%llx this process has no mapping (the driver did not offer it)", dev,
			 (unsigned long long)base);
	if (f)
		fclose(f);
}

/* The address window of a device's chunks. A fresh process's driver puts
 * its own first mappings where another process's first went: on the H200
 * a standby's own mappings took the addresses of some of the server's
 * chunks in one handover in three, and those clients were lost. So the
 * server reserves one range for all its chunks as soon as its contexts
 * are made, and a successor (a standby, or the image made anew), told of
 * it by OPENMPS_ARENA_WINDOWS, reserves the same range at the same point
 * of its own start, before anything of its own can land there. Twice the
 * device's memory, so that chunks given back and made again find room;
 * less where the driver will not give that much. Without one (the driver
 * gives none, or a successor cannot have the server's) a chunk has a range
 * of its own, as before. */
#define WINDOW_MAX ((uint64_t)4 << 40)

/* The window the server before this one had on dev: base, and its size. */
static CUdeviceptr window_wanted(int dev, uint64_t *size)
{
	const char *v = getenv(SRV_ARENA_WINDOWS_ENV);
	unsigned long long base, len;
	int d, n;

	while (v && sscanf(v, "%d:%llx:%llx%n", &d, &base, &len, &n) == 3) {
		if (d == dev) {
			*size = len;
			return base;
		}
		v += n;
		v = *v == ',' ? v + 1 : NULL;
	}
	return 0;
}

/* Under a->lock: the window reserved, at want (of size bytes) or, want 0,
 * where the driver likes. A wanted one not had is said; the first chunk
 * made then asks for one of its own. */
static void window_open(struct srv_state *s, struct srv_arena *a, int dev, CUdeviceptr want, uint64_t size)
{
	const struct srv_driver *drv = s->drv;
	uint64_t least = CHUNK_MAX;
	struct arena_span *all = malloc(sizeof(*all));
	CUdeviceptr got = 0;
	CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
	char bytes[32];

	a->window_tried |= !want;
	if (!want)
		for (size = a->granule; size < 2 * s->devices.dev[dev].total_mem && size < WINDOW_MAX;)
			size <<= 1;
	least = size < least ? size : least;
	while (all && size >= least && size % a->granule == 0) {
		r = drv->mem_address_reserve(&got, size, a->granule, want, 0);
		if (r == CUDA_SUCCESS || want)
			break;
		size >>= 1;
	}
	if (r == CUDA_SUCCESS && want && got != want) {
		omps_log("Device %d: the server's address window for client memory, at 0x%llx, is not free here; "
			 "its chunks are mapped one by one",
			 dev, (unsigned long long)want);
		log_holders(dev, want, size);
		drv->mem_address_free(got, size);
		free(all);
		return;
	}
	if (r != CUDA_SUCCESS) {
		char err[64];

		srv_driver_strerror(drv, r, err, sizeof(err));
		omps_log("Device %d: cannot reserve an address window for client memory (%s); each chunk is mapped "
			 "at a range of its own",
			 dev, err);
		free(all);
		return;
	}
	*all = (struct arena_span){.next = NULL, .off = 0, .len = size};
	a->window = (struct arena_chunk){.base = got, .size = size, .fd = -1, .free = all};
	omps_memsize_format(size, bytes, sizeof(bytes));
	if (want)
		omps_log("Device %d: the server's address window for client memory (%s at 0x%llx) is reserved here too",
			 dev, bytes, (unsigned long long)got);
	else
		omps_log("Device %d: client memory is mapped in an address window of %s at 0x%llx, which a successor "
			 "reserves at the same address",
			 dev, bytes, (unsigned long long)got);
}

/* Under a->lock: a new chunk's addresses, in the window where it has room,
 * else a range of its own. */
static CUresult chunk_place(struct srv_state *s, struct srv_arena *a, int dev, struct arena_chunk *ch)
{
	uint64_t off;

	if (!a->window.base && !a->window_tried)
		window_open(s, a, dev, 0, 0);
	if (a->window.base && span_take(&a->window, ch->size, a->granule, &off)) {
		ch->base = a->window.base + off;
		ch->in_window = 1;
		return CUDA_SUCCESS;
	}
	return s->drv->mem_address_reserve(&ch->base, ch->size, a->granule, 0, 0);
}

/* Under a->lock: an adopted chunk's addresses, exactly want: in the window
 * if it lies there, else a range of its own reserved there. */
static CUresult chunk_at(struct srv_state *s, struct srv_arena *a, struct arena_chunk *ch, CUdeviceptr want)
{
	struct arena_chunk *w = &a->window;
	CUdeviceptr got = 0;
	CUresult r;

	if (w->base && want >= w->base && want - w->base < w->size) {
		if (ch->size > w->size - (want - w->base) || !span_claim(w, want - w->base, ch->size))
			return CUDA_ERROR_ALREADY_MAPPED; /* another chunk has it */
		ch->base = want;
		ch->in_window = 1;
		return CUDA_SUCCESS;
	}
	r = s->drv->mem_address_reserve(&got, ch->size, a->granule, want, 0);
	if (r == CUDA_SUCCESS) {
		ch->base = got;
		if (got != want)
			r = CUDA_ERROR_ALREADY_MAPPED; /* the address is taken: the memory cannot be where clients had it */
	}
	return r;
}

/* Each device's arena, and its address window reserved now, before the
 * process makes anything more: where the server before this one had it,
 * if it said, else where the driver likes (window_open). */
int srv_arena_init(struct srv_state *s)
{
	int dev;

	for (dev = 0; dev < (int)s->devices.ndevices && dev < OMPS_MAX_DEVICES; dev++) {
		struct srv_arena *a = calloc(1, sizeof(*a));
		uint64_t size = 0;
		CUdeviceptr want = window_wanted(dev, &size);

		if (!(s->arena[dev] = a))
			return -1;
		pthread_mutex_init(&a->lock, NULL);
		pthread_mutex_lock(&a->lock);
		if (usable(s, a, dev))
			window_open(s, a, dev, want, size);
		pthread_mutex_unlock(&a->lock);
	}
	return 0;
}

/* Each device's window as OPENMPS_ARENA_WINDOWS gives it to a successor:
 * "DEV:BASE:SIZE", hex, ',' between; "" if none. */
void srv_arena_windows(struct srv_state *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int dev = 0; dev < (int)s->devices.ndevices && dev < OMPS_MAX_DEVICES; dev++) {
		struct srv_arena *a = s->arena[dev];
		int k;

		if (!a)
			continue;
		pthread_mutex_lock(&a->lock);
		k = !a->window.base ? 0
				    : snprintf(buf + n, len - n, "%s%d:%llx:%llx", n ? "," : "", dev,
					       (unsigned long long)a->window.base, (unsigned long long)a->window.size);
		pthread_mutex_unlock(&a->lock);
		if (k < 0 || (size_t)k >= len - n) {
			buf[n] = '\0'; /* cut where it no longer fits */
			return;
		}
		n += (size_t)k;
	}
}

/* Frees whose event has completed go back to their chunks. */
static void reap(struct srv_state *s, struct srv_arena *a, int wait)
{
	struct arena_pending **pp = &a->pending, *p;

	while ((p = *pp)) {
		CUresult r = wait ? s->drv->event_synchronize(p->done) : s->drv->event_query(p->done);

		if (r != CUDA_SUCCESS) { /* not yet (or a faulted context: kept) */
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		span_free(p->chunk, p->off, p->len);
		p->chunk->pending--;
		p->next = a->spare;
		a->spare = p;
	}
}

static void chunk_destroy(struct srv_state *s, struct srv_arena *a, struct arena_chunk *ch, int mapped)
{
	struct arena_span *sp;

	if (mapped)
		s->drv->mem_unmap(ch->base, ch->size);
	if (ch->in_window)
		span_free(&a->window, ch->base - a->window.base, ch->size);
	else if (ch->base)
		s->drv->mem_address_free(ch->base, ch->size);
	if (ch->handle)
		s->drv->mem_release(ch->handle);
	if (ch->fd >= 0)
		close(ch->fd);
	while ((sp = ch->free)) {
		ch->free = sp->next;
		free(sp);
	}
	free(ch);
}

/* A new chunk of size bytes, mapped, accessible and zeroed (on stream z,
 * waited for: every block it gives is zero from the start). */
static CUresult chunk_new(struct srv_state *s, struct srv_arena *a, int dev, uint64_t size, CUstream z,
			  struct arena_chunk **out)
{
	const struct srv_driver *drv = s->drv;
	CUmemAllocationProp p = chunk_prop(dev, 1);
	CUmemAccessDesc access[OMPS_MAX_DEVICES];
	unsigned naccess = srv_devices_access(s->peers, s->devices.ndevices, dev, access);
	struct arena_chunk *ch = calloc(1, sizeof(*ch));
	struct arena_span *all = malloc(sizeof(*all));
	int mapped = 0;
	CUresult r = ch && all ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;

	if (r == CUDA_SUCCESS) {
		ch->size = size;
		ch->fd = -1;
		r = drv->mem_create(&ch->handle, size, &p, 0);
		/* Exported now, so a successor can map it after a fault (handover.c). */
		if (r == CUDA_SUCCESS && (!drv->mem_export_to_shareable_handle ||
					  drv->mem_export_to_shareable_handle(
						  &ch->fd, ch->handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0)))
			ch->fd = -1;
	}
	if (r == CUDA_ERROR_NOT_SUPPORTED || r == CUDA_ERROR_INVALID_VALUE) { /* no shareable handles here */
		p = chunk_prop(dev, 0);
		r = drv->mem_create(&ch->handle, size, &p, 0);
	}
	if (r == CUDA_SUCCESS)
		r = chunk_place(s, a, dev, ch);
	if (r == CUDA_SUCCESS)
		r = drv->mem_map(ch->base, size, 0, ch->handle, 0);
	mapped = r == CUDA_SUCCESS;
	if (r == CUDA_SUCCESS)
		r = drv->mem_set_access(ch->base, size, access, naccess);
	if (r == CUDA_SUCCESS)
		r = drv->memset_d8_async(ch->base, 0, size, z);
	if (r == CUDA_SUCCESS)
		r = drv->stream_synchronize(z);
	if (r != CUDA_SUCCESS) {
		free(all);
		if (ch)
			chunk_destroy(s, a, ch, mapped);
		return r;
	}
	*all = (struct arena_span){.next = NULL, .off = 0, .len = size};
	ch->free = all;
	ch->next = a->chunks;
	a->chunks = ch;
	a->total += size;
	*out = ch;
	srv_standby_chunk(dev, ch->base, ch->size, ch->fd); /* mapped ahead there, where it is */
	return CUDA_SUCCESS;
}

/* Chunks that hold nothing and have no free pending go back to the device
 * (but the first such of the smallest size, if keep_one). */
static void release_idle(struct srv_state *s, struct srv_arena *a, int dev, int keep_one)
{
	struct arena_chunk **pp = &a->chunks, *ch;

	while ((ch = *pp)) {
		int keep = keep_one && ch->size == CHUNK_MIN;

		if (ch->used || ch->pending || keep) {
			keep_one &= !keep;
			pp = &ch->next;
			continue;
		}
		*pp = ch->next;
		a->total -= ch->size;
		srv_standby_unchunk(dev, ch->base, ch->size); /* else the standby keeps its memory */
		chunk_destroy(s, a, ch, 1);
	}
}

static int fit(struct srv_arena *a, uint64_t len, uint64_t align, CUdeviceptr *ptr)
{
	struct arena_chunk *ch;
	uint64_t off;

	for (ch = a->chunks; ch; ch = ch->next)
		if (len <= ch->size - ch->used && span_take(ch, len, align, &off)) {
			*ptr = ch->base + off;
			return 1;
		}
	return 0;
}

/* A stream-ordered allocation on stream order: a block of the same length
 * freed there, its zeroing not done yet, is the allocation's at once, the
 * stream made to wait for that free's event (so even a stream handle the
 * driver gave again cannot overtake it). As the driver's pool does, and
 * what keeps a loop of cuMemAllocAsync and cuMemFreeAsync in one stream, far
 * ahead of the GPU, from taking a new block each turn. */
static int reuse_in_order(struct srv_state *s, struct srv_arena *a, CUstream order, uint64_t len, uint64_t align,
			  CUdeviceptr *ptr)
{
	struct arena_pending **pp, *p;

	for (pp = &a->pending; (p = *pp); pp = &p->next) {
		if (p->stream != order || p->len != len || (p->chunk->base + p->off) % align)
			continue;
		if (s->drv->stream_wait_event(order, p->done, 0) != CUDA_SUCCESS)
			return 0;
		*pp = p->next;
		p->chunk->pending--; /* still counted in used: now the allocation's */
		*ptr = p->chunk->base + p->off;
		p->next = a->spare;
		a->spare = p;
		return 1;
	}
	return 0;
}

static CUresult alloc(struct srv_state *s, int dev, uint64_t bytes, CUstream z, CUstream order, CUdeviceptr *ptr)
{
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *ch;
	uint64_t len, align, size;
	CUresult r;

	if (!a)
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&a->lock);
	if (!usable(s, a, dev)) {
		pthread_mutex_unlock(&a->lock);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	len = length_of(a, bytes);
	align = align_of(a, bytes);
	reap(s, a, 0);
	if ((order && reuse_in_order(s, a, order, len, align, ptr)) || fit(a, len, align, ptr)) {
		pthread_mutex_unlock(&a->lock);
		return CUDA_SUCCESS;
	}
	/* A new chunk: 32 MiB, or past 256 MiB an eighth of what there is (up to
	 * 1 GiB), so that at most that much stands unused; or the block's own.
	 * Doubling instead cost 0.75 MiB more GPU memory a client at 512 idle
	 * clients on the H200 than the pool (bench/run scale). */
	size = a->total < CHUNK_STEP ? CHUNK_MIN : round_up(a->total / 8, a->granule);
	size = size > CHUNK_MAX ? CHUNK_MAX : size;
	if (size < round_up(len, a->granule))
		size = round_up(len, a->granule);
	r = chunk_new(s, a, dev, size, z, &ch);
	if (r == CUDA_ERROR_OUT_OF_MEMORY) { /* what is pending and idle first, then the block alone */
		reap(s, a, 1);
		release_idle(s, a, dev, 0);
		if (fit(a, len, align, ptr)) {
			pthread_mutex_unlock(&a->lock);
			return CUDA_SUCCESS;
		}
		r = chunk_new(s, a, dev, round_up(len, a->granule), z, &ch);
	}
	if (r == CUDA_SUCCESS && !fit(a, len, align, ptr))
		r = CUDA_ERROR_OUT_OF_MEMORY; /* a span could not be recorded */
	pthread_mutex_unlock(&a->lock);
	return r;
}

CUresult srv_arena_alloc(struct srv_state *s, int dev, uint64_t bytes, CUstream z, CUdeviceptr *ptr)
{
	return alloc(s, dev, bytes, z, NULL, ptr);
}

CUresult srv_arena_alloc_async(struct srv_state *s, int dev, uint64_t bytes, CUstream z, CUstream order,
			       CUdeviceptr *ptr)
{
	return alloc(s, dev, bytes, z, order, ptr);
}

static struct arena_chunk *chunk_of(struct srv_arena *a, CUdeviceptr ptr)
{
	struct arena_chunk *ch;

	for (ch = a->chunks; ch; ch = ch->next)
		if (ptr >= ch->base && ptr - ch->base < ch->size)
			return ch;
	return NULL;
}

int srv_arena_holds(struct srv_state *s, int dev, CUdeviceptr ptr)
{
	struct srv_arena *a = s->arena[dev];
	int held;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	held = chunk_of(a, ptr) != NULL;
	pthread_mutex_unlock(&a->lock);
	return held;
}

/* Zeroed on stream q after the work queued there, and taken back once that
 * is done. */
CUresult srv_arena_free(struct srv_state *s, int dev, CUdeviceptr ptr, uint64_t bytes, CUstream q)
{
	const struct srv_driver *drv = s->drv;
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *ch;
	struct arena_pending *p;
	CUresult r;

	pthread_mutex_lock(&a->lock);
	ch = chunk_of(a, ptr);
	p = a->spare;
	if (p) {
		a->spare = p->next;
	} else if ((p = calloc(1, sizeof(*p))) && drv->event_create(&p->done, CU_EVENT_DISABLE_TIMING)) {
		free(p);
		p = NULL;
	}
	r = !ch ? CUDA_ERROR_INVALID_VALUE : !p ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
	if (r == CUDA_SUCCESS) {
		p->chunk = ch;
		p->off = ptr - ch->base;
		p->len = length_of(a, bytes);
		p->stream = q;
		r = drv->memset_d8_async(ptr, 0, p->len, q);
	}
	if (r == CUDA_SUCCESS)
		r = drv->event_record(p->done, q);
	if (r == CUDA_SUCCESS) {
		ch->pending++;
		p->next = a->pending;
		a->pending = p;
	} else if (p) { /* the block stays taken: never handed out unzeroed */
		p->next = a->spare;
		a->spare = p;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* After a client left: idle chunks go back, but one of the first size. */
void srv_arena_trim(struct srv_state *s, int dev)
{
	struct srv_arena *a = s->arena[dev];
	uint64_t before;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	before = a->total;
	reap(s, a, 0);
	release_idle(s, a, dev, 1);
	if (a->total != before)
		omps_log("Device %d: %llu MiB of client memory chunks given back (%llu MiB kept)", dev,
			 (unsigned long long)((before - a->total) >> 20), (unsigned long long)(a->total >> 20));
	pthread_mutex_unlock(&a->lock);
}

/* Bytes the chunks hold for nobody, frees done: free memory as far as
 * cuMemAlloc is concerned, which cuMemGetInfo adds to the device's. */
uint64_t srv_arena_spare(struct srv_state *s, int dev)
{
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *ch;
	uint64_t n = 0;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	reap(s, a, 0);
	for (ch = a->chunks; ch; ch = ch->next)
		n += ch->size - ch->used;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* The successor's side of a handover (handover.c). srv_arena_save writes
 * each chunk's address, size and file descriptor; the successor maps the
 * same memory at the same addresses (srv_arena_restore) before anything
 * else takes them, every byte free, then each client it keeps claims its
 * blocks back (srv_arena_claim), and srv_arena_settle zeroes what is left
 * free: the blocks of clients not kept, frees that were pending, anything
 * a faulting kernel wrote there. Returns -1 if a chunk cannot be exported. */
int srv_arena_save(struct srv_state *s, int dev, struct srv_pack *p)
{
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *ch;
	uint32_t n = 0;
	int r = 0;

	if (!a) {
		srv_pack_put(p, &n, sizeof(n));
		return 0;
	}
	pthread_mutex_lock(&a->lock); /* a worker releasing a client that left may be in it */
	for (ch = a->chunks; ch; ch = ch->next)
		n++;
	srv_pack_put(p, &n, sizeof(n));
	for (ch = a->chunks; ch && !r; ch = ch->next) {
		r = ch->fd < 0 ? -1 : 0;
		srv_pack_put(p, &ch->base, sizeof(ch->base));
		srv_pack_put(p, &ch->size, sizeof(ch->size));
		srv_pack_fd(p, ch->fd);
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

static CUresult chunk_adopt(struct srv_state *s, struct srv_arena *a, int dev, struct arena_chunk *ch, int fd)
{
	const struct srv_driver *drv = s->drv;
	CUmemAccessDesc access[OMPS_MAX_DEVICES];
	unsigned naccess = srv_devices_access(s->peers, s->devices.ndevices, dev, access);
	CUdeviceptr want = ch->base;
	CUresult r = drv->mem_import_from_shareable_handle
			     ? drv->mem_import_from_shareable_handle(&ch->handle, (void *)(intptr_t)fd,
								     CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
			     : CUDA_ERROR_NOT_SUPPORTED;

	ch->base = 0;
	if (r == CUDA_SUCCESS)
		r = chunk_at(s, a, ch, want);
	if (r == CUDA_SUCCESS)
		r = drv->mem_map(ch->base, ch->size, 0, ch->handle, 0);
	if (r == CUDA_SUCCESS && (r = drv->mem_set_access(ch->base, ch->size, access, naccess)) != CUDA_SUCCESS)
		drv->mem_unmap(ch->base, ch->size);
	return r;
}

/* Under a->lock: where the chunk mapped ahead at base is linked, or where
 * the list ends (*result NULL) if none is. */
static struct arena_chunk **ahead_at(struct srv_arena *a, CUdeviceptr base)
{
	struct arena_chunk **pp = &a->ahead;

	while (*pp && (*pp)->base != base)
		pp = &(*pp)->next;
	return pp;
}

/* Under a->lock, in the record's successor: the chunk mapped ahead in the
 * place of the one read (ch), unlinked, or NULL. */
static struct arena_chunk *take_ahead(struct srv_arena *a, const struct arena_chunk *ch)
{
	struct arena_chunk **pp = ahead_at(a, ch->base), *got = *pp;

	if (!got || got->size != ch->size)
		return NULL;
	*pp = got->next;
	return got;
}

static struct srv_arena *arena_of(struct srv_state *s, int dev)
{
	return dev >= 0 && dev < (int)s->devices.ndevices ? s->arena[dev] : NULL;
}

/* In a standby (standby.c): the server made a chunk; it is mapped here now,
 * at its address, so that the standby need not after a fault, and so that
 * an address this process cannot have is found while a new standby can
 * still be made. fd is this process's; taken in any case. */
int srv_arena_map_ahead(struct srv_state *s, int dev, CUdeviceptr base, uint64_t size, int fd)
{
	struct srv_arena *a = arena_of(s, dev);
	struct arena_chunk *ch = a ? calloc(1, sizeof(*ch)) : NULL;
	CUresult r;

	if (!ch) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ch->size = size;
	ch->fd = fd;
	pthread_mutex_lock(&a->lock);
	if (*ahead_at(a, base)) { /* offered twice: made as the standby became ready */
		chunk_destroy(s, a, ch, 0); /* base 0: only its descriptor */
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	ch->base = base;
	r = usable(s, a, dev) ? chunk_adopt(s, a, dev, ch, fd) : CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS) {
		ch->next = a->ahead;
		a->ahead = ch;
	} else {
		chunk_destroy(s, a, ch, 0); /* under the lock: its addresses may be the window's */
	}
	pthread_mutex_unlock(&a->lock);
	if (r == CUDA_ERROR_ALREADY_MAPPED)
		log_holders(dev, base, size);
	return r == CUDA_SUCCESS ? 0 : -1;
}

void srv_arena_unmap_ahead(struct srv_state *s, int dev, CUdeviceptr base)
{
	struct srv_arena *a = arena_of(s, dev);
	struct arena_chunk **pp, *ch;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	pp = ahead_at(a, base);
	if ((ch = *pp)) {
		*pp = ch->next;
		chunk_destroy(s, a, ch, 1);
	}
	pthread_mutex_unlock(&a->lock);
}

/* In the server: every chunk, to a standby that has just become ready. */
void srv_arena_offer(struct srv_state *s)
{
	struct arena_chunk *ch;

	for (uint32_t dev = 0; dev < s->devices.ndevices; dev++) {
		struct srv_arena *a = s->arena[dev];

		if (!a)
			continue;
		pthread_mutex_lock(&a->lock);
		for (ch = a->chunks; ch; ch = ch->next)
			srv_standby_chunk((int)dev, ch->base, ch->size, ch->fd);
		pthread_mutex_unlock(&a->lock);
	}
}

int srv_arena_restore(struct srv_state *s, int dev, struct srv_unpack *u)
{
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *left;
	uint32_t n, i, ahead = 0;

	if (srv_unpack_get(u, &n, sizeof(n)) < 0)
		return -1;
	pthread_mutex_lock(&a->lock);
	if (n && !usable(s, a, dev))
		n = 0; /* said by usable; the clients' claims fail */
	for (i = 0; i < n && !u->failed; i++) {
		struct arena_chunk *ch = calloc(1, sizeof(*ch));
		struct arena_span *all = malloc(sizeof(*all));
		CUresult r = ch && all ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
		struct arena_chunk *got;
		int fd = -1;
		CUdeviceptr want = 0;

		if (ch) {
			srv_unpack_get(u, &ch->base, sizeof(ch->base));
			want = ch->base;
			srv_unpack_get(u, &ch->size, sizeof(ch->size));
			fd = srv_unpack_fd(u);
			ch->fd = fd;
		}
		if (r == CUDA_SUCCESS && !u->failed && (got = take_ahead(a, ch))) {
			ch->base = 0; /* the one mapped ahead takes its place: only its descriptor goes */
			chunk_destroy(s, a, ch, 0);
			ch = got;
			ahead++;
		} else if (r == CUDA_SUCCESS && !u->failed) {
			r = chunk_adopt(s, a, dev, ch, fd);
		}
		if (r != CUDA_SUCCESS || u->failed) {
			char err[64];

			srv_driver_strerror(s->drv, r, err, sizeof(err));
			omps_log("Device %d: the client memory chunk at 0x%llx could not be mapped again: %s%s", dev,
				 (unsigned long long)want, err,
				 r == CUDA_ERROR_ALREADY_MAPPED ? " (that address is taken in this process)" : "");
			if (r == CUDA_ERROR_ALREADY_MAPPED)
				log_holders(dev, want, ch ? ch->size : 0);
			free(all);
			if (ch)
				chunk_destroy(s, a, ch, 0);
			continue;
		}
		*all = (struct arena_span){.next = NULL, .off = 0, .len = ch->size};
		ch->free = all;
		ch->next = a->chunks;
		a->chunks = ch;
		a->total += ch->size;
	}
	if (ahead)
		omps_log("Device %d: %u of %u client memory chunks were mapped ahead by the standby", dev, ahead, n);
	while ((left = a->ahead)) { /* not in the record: unused */
		a->ahead = left->next;
		chunk_destroy(s, a, left, 1);
	}
	pthread_mutex_unlock(&a->lock);
	return u->failed ? -1 : 0;
}

int srv_arena_claim(struct srv_state *s, int dev, CUdeviceptr ptr, uint64_t bytes)
{
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *ch;
	int ok = 0;

	if (!a)
		return -1;
	pthread_mutex_lock(&a->lock);
	ch = chunk_of(a, ptr);
	if (ch && (ptr - ch->base) % align_of(a, bytes) == 0)
		ok = span_claim(ch, ptr - ch->base, length_of(a, bytes));
	pthread_mutex_unlock(&a->lock);
	return ok ? 0 : -1;
}

CUresult srv_arena_settle(struct srv_state *s, int dev, CUstream z)
{
	struct srv_arena *a = s->arena[dev];
	struct arena_chunk *ch;
	struct arena_span *sp;
	CUresult r = CUDA_SUCCESS;

	if (!a)
		return CUDA_SUCCESS;
	pthread_mutex_lock(&a->lock);
	for (ch = a->chunks; ch && r == CUDA_SUCCESS; ch = ch->next)
		for (sp = ch->free; sp && r == CUDA_SUCCESS; sp = sp->next)
			r = s->drv->memset_d8_async(ch->base + sp->off, 0, sp->len, z);
	if (r == CUDA_SUCCESS)
		r = s->drv->stream_synchronize(z);
	if (r == CUDA_SUCCESS)
		release_idle(s, a, dev, 1);
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* A client's own virtual address ranges (cuMemAddressReserve) are carved
 * from the windows too: a range the driver placed where it liked was, in
 * a successor, where that process's driver had put its own mappings
 * (H200: the client using VMM was lost at every fault). Any device's
 * window will do (addresses are the whole process's), the first with
 * room. Under each arena's lock. */
CUdeviceptr srv_arena_range_take(struct srv_state *s, uint64_t size, uint64_t align)
{
	CUdeviceptr got = 0;
	uint64_t off;
	int dev;

	for (dev = 0; dev < OMPS_MAX_DEVICES && !got; dev++) {
		struct srv_arena *a = s->arena[dev];
		uint64_t al;

		if (!a)
			continue;
		pthread_mutex_lock(&a->lock);
		al = align > a->granule ? align : a->granule;
		if (a->window.base && size && size % a->granule == 0 && al % a->granule == 0 &&
		    span_take(&a->window, size, al, &off))
			got = a->window.base + off;
		pthread_mutex_unlock(&a->lock);
	}
	return got;
}

/* The window of a device that holds [ptr, ptr + size), locked; NULL if none. */
static struct srv_arena *window_holding(struct srv_state *s, CUdeviceptr ptr, uint64_t size)
{
	int dev;

	for (dev = 0; dev < OMPS_MAX_DEVICES; dev++) {
		struct srv_arena *a = s->arena[dev];

		if (!a)
			continue;
		pthread_mutex_lock(&a->lock);
		if (a->window.base && srv_span_holds(a->window.base, a->window.size, ptr, size))
			return a;
		pthread_mutex_unlock(&a->lock);
	}
	return NULL;
}

int srv_arena_range_claim(struct srv_state *s, CUdeviceptr ptr, uint64_t size)
{
	struct srv_arena *a = window_holding(s, ptr, size);
	int ok;

	if (!a)
		return -1;
	ok = span_claim(&a->window, ptr - a->window.base, size);
	pthread_mutex_unlock(&a->lock);
	return ok ? 0 : -1;
}

int srv_arena_range_give(struct srv_state *s, CUdeviceptr ptr, uint64_t size)
{
	struct srv_arena *a = window_holding(s, ptr, size);

	if (!a)
		return 0;
	span_free(&a->window, ptr - a->window.base, size);
	pthread_mutex_unlock(&a->lock);
	return 1;
}
