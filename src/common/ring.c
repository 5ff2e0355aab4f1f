#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"

#define RING_MAGIC 0x474e4952u /* "RING" */
#define REC_PAD	   0xffffffffu /* fills the end of the space; never wraps a record */
#define ALIGN	   8u

/* Producer and consumer fields sit on separate cache lines. */
struct omps_ring_shared {
	uint32_t magic;
	uint32_t size;
	char pad0[56];
	_Atomic uint64_t head; /* written by the producer */
	char pad1[56];
	_Atomic uint64_t tail; /* written by the consumer */
	char pad2[56];
	_Atomic uint32_t consumer_sleeping; /* futex words: 1 while that side sleeps, */
	/* and for the consumer, 2 while its ring is parked (omps_ring_park) */
	_Atomic uint32_t producer_sleeping;
	_Atomic uint32_t slow; /* the producer's advice: its records are slow in coming */
	char pad3[52];
	_Atomic uint32_t signal; /* written by the GPU (omps_ring_signal_word) */
	char pad4[60];
	unsigned char data[];
};

/* In a spin: tells the CPU, so that it yields to a sibling thread and
 * leaves the loop without a pipeline flush. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

struct rec {
	uint32_t len; /* payload bytes */
	uint32_t type;
};

static uint32_t rec_total(uint32_t len)
{
	return (uint32_t)((sizeof(struct rec) + len + ALIGN - 1) & ~(uint64_t)(ALIGN - 1));
}

size_t omps_ring_bytes(uint32_t size)
{
	return sizeof(struct omps_ring_shared) + size;
}

static int valid_size(uint32_t size)
{
	return size >= 256 && (size & (size - 1)) == 0 && size <= (1u << 30);
}

int omps_ring_init(struct omps_ring *r, void *mem, uint32_t size)
{
	struct omps_ring_shared *sh = mem;

	if (!valid_size(size)) {
		errno = EINVAL;
		return -1;
	}
	memset(sh, 0, sizeof(*sh));
	sh->size = size;
	atomic_store(&sh->head, 0);
	atomic_store(&sh->tail, 0);
	sh->magic = RING_MAGIC;
	return omps_ring_attach(r, mem, omps_ring_bytes(size));
}

int omps_ring_attach(struct omps_ring *r, void *mem, size_t bytes)
{
	struct omps_ring_shared *sh = mem;
	uint32_t size;

	if (bytes < sizeof(*sh) || sh->magic != RING_MAGIC) {
		errno = EPROTO;
		return -1;
	}
	size = sh->size; /* read once: the other side may change it */
	if (!valid_size(size) || bytes < omps_ring_bytes(size)) {
		errno = EPROTO;
		return -1;
	}
	r->sh = sh;
	r->data = sh->data;
	r->size = size;
	r->head = r->seen = atomic_load_explicit(&sh->head, memory_order_acquire);
	r->pending = 0;
	r->doorbell = -1;
	atomic_store(&r->interrupted, 0);
	atomic_store(&r->poked, 0);
	r->tail = atomic_load_explicit(&sh->tail, memory_order_acquire);
	/* Records start at multiples of ALIGN: an index that does not would
	 * have the consumer read a record header across the end of the ring. */
	if (r->tail % ALIGN || r->head % ALIGN) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

uint32_t omps_ring_max_payload(const struct omps_ring *r)
{
	return r->size / 2 - (uint32_t)sizeof(struct rec);
}

static void futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void futex_wait(_Atomic uint32_t *word, uint32_t val, int timeout_ms)
{
	struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};

	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, timeout_ms < 0 ? NULL : &ts, NULL, 0);
}

/* Free bytes for the producer; rereads the consumer's tail only when needed. */
static uint64_t room(struct omps_ring *r, uint32_t need)
{
	uint64_t used = r->head - r->seen;

	if (r->size - used < need) {
		r->seen = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
		used = r->head - r->seen;
	}
	return used > r->size ? 0 : r->size - used; /* a tail past head is corruption: no room */
}

static void put_rec(struct omps_ring *r, uint64_t at, uint32_t type, uint32_t len)
{
	struct rec h = {.len = len, .type = type};

	memcpy(r->data + (at & (r->size - 1)), &h, sizeof(h));
}

void *omps_ring_reserve(struct omps_ring *r, uint32_t type, uint32_t len)
{
	uint32_t total, pos, to_end;

	if (len > omps_ring_max_payload(r) || type == REC_PAD) {
		errno = EMSGSIZE;
		return NULL;
	}
	total = rec_total(len);
	pos = (uint32_t)(r->head & (r->size - 1));
	to_end = r->size - pos;
	if (total > to_end) { /* records never wrap: pad to the end first */
		if (room(r, to_end + total) < (uint64_t)to_end + total) {
			errno = EAGAIN;
			return NULL;
		}
		put_rec(r, r->head, REC_PAD, to_end - (uint32_t)sizeof(struct rec));
		r->head += to_end;
		pos = 0;
	} else if (room(r, total) < total) {
		errno = EAGAIN;
		return NULL;
	}
	put_rec(r, r->head, type, len);
	r->pending = total;
	return r->data + pos + sizeof(struct rec);
}

void omps_ring_commit(struct omps_ring *r)
{
	r->head += r->pending;
	r->pending = 0;
	/* Publish, then look for a sleeper: with both sequentially consistent,
	 * either the consumer sees the new head before sleeping, or we see it
	 * asleep and wake it (see omps_ring_wait_data). */
	atomic_store(&r->sh->head, r->head);
	if (atomic_load(&r->sh->consumer_sleeping)) {
		uint64_t one = 1;

		if (atomic_exchange(&r->sh->consumer_sleeping, 0) == 2 && r->doorbell >= 0) {
			if (write(r->doorbell, &one, sizeof(one)) < 0) {
				/* EAGAIN: a wake is pending already; EBADF: no consumer */
			}
			return;
		}
		futex_wake(&r->sh->consumer_sleeping);
	}
}

int omps_ring_push(struct omps_ring *r, uint32_t type, const void *payload, uint32_t len, int timeout_ms)
{
	void *p = omps_ring_reserve(r, type, len);

	if (!p && errno == EAGAIN && omps_ring_wait_space(r, len, 20, timeout_ms))
		p = omps_ring_reserve(r, type, len);
	if (!p)
		return -1;
	memcpy(p, payload, len);
	omps_ring_commit(r);
	return 0;
}

static int corrupt(void)
{
	errno = EPROTO;
	return -1;
}

/* The consumer takes total bytes: the producer, if it sleeps for room,
 * is woken. */
static void advance(struct omps_ring *r, uint32_t total)
{
	r->tail += total;
	atomic_store(&r->sh->tail, r->tail);
	if (atomic_load(&r->sh->producer_sleeping)) {
		atomic_store(&r->sh->producer_sleeping, 0);
		futex_wake(&r->sh->producer_sleeping);
	}
}

/* The next record at the tail, header checked and copied into *h, padding
 * at the end of the ring consumed; 0, or -1 (errno EAGAIN or EPROTO). */
static int next_record(struct omps_ring *r, struct rec *h, uint32_t *pos)
{
	for (;;) {
		uint64_t head = atomic_load_explicit(&r->sh->head, memory_order_acquire);
		uint64_t avail = head - r->tail;
		uint32_t total;

		*pos = (uint32_t)(r->tail & (r->size - 1));
		if (avail == 0) {
			errno = EAGAIN;
			return -1;
		}
		if (avail > r->size || avail % ALIGN || avail < sizeof(*h) || *pos % ALIGN)
			return corrupt();
		memcpy(h, r->data + *pos, sizeof(*h)); /* copied once, then trusted */
		if (h->len > r->size)
			return corrupt();
		total = rec_total(h->len);
		if (total > avail || total > r->size - *pos)
			return corrupt();
		if (h->type != REC_PAD)
			return 0;
		if (*pos + total != r->size)
			return corrupt(); /* padding only ever fills the end */
		advance(r, total);
	}
}

int64_t omps_ring_peek(struct omps_ring *r, uint32_t *type, void *buf, size_t cap)
{
	struct rec h;
	uint32_t pos;

	if (next_record(r, &h, &pos) < 0)
		return -1;
	memcpy(buf, r->data + pos + sizeof(h), h.len < cap ? h.len : cap);
	*type = h.type;
	return h.len;
}

int64_t omps_ring_pop(struct omps_ring *r, uint32_t *type, void *buf, size_t cap)
{
	struct rec h;
	uint32_t pos;

	if (next_record(r, &h, &pos) < 0)
		return -1;
	if (h.len > cap) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(buf, r->data + pos + sizeof(h), h.len);
	*type = h.type;
	advance(r, rec_total(h.len));
	return h.len;
}

/* The shared wait: spin on ready(), then announce sleep in *word, recheck,
 * and sleep until woken or the deadline. */
static int wait_for(struct omps_ring *r, int (*ready)(struct omps_ring *, uint32_t), uint32_t arg,
		    _Atomic uint32_t *word, int spin_us, int timeout_ms)
{
	uint64_t start = omps_now_us(), deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000u;

	while (omps_now_us() - start < (uint64_t)spin_us) {
		if (ready(r, arg))
			return 1;
		cpu_relax();
	}
	for (;;) {
		uint64_t now;

		atomic_store(word, 1);
		if (ready(r, arg)) {
			atomic_store(word, 0);
			return 1;
		}
		now = omps_now_us();
		if (now >= deadline || atomic_load(&r->interrupted)) {
			atomic_store(word, 0);
			return 0;
		}
		futex_wait(word, 1, timeout_ms < 0 ? -1 : (int)((deadline - now + 999) / 1000));
	}
}

_Atomic uint32_t *omps_ring_signal_word(struct omps_ring *r)
{
	return &r->sh->signal;
}

int omps_ring_signalled(const struct omps_ring *r, uint32_t seq)
{
	return (int32_t)(atomic_load_explicit(&r->sh->signal, memory_order_acquire) - seq) >= 0;
}

int omps_ring_wait_signal(const struct omps_ring *r, uint32_t seq, int spin_us)
{
	uint64_t start = omps_now_us();

	while (!omps_ring_signalled(r, seq)) {
		if (omps_now_us() - start >= (uint64_t)spin_us || atomic_load_explicit(&r->interrupted, memory_order_relaxed))
			return 0;
		cpu_relax();
	}
	return 1;
}

static int has_data(struct omps_ring *r, uint32_t unused)
{
	(void)unused;
	return atomic_load(&r->sh->head) != r->tail || atomic_load(&r->poked);
}

int omps_ring_spin_until_signal(struct omps_ring *r, const struct omps_ring *sig, uint32_t seq, int spin_us)
{
	uint64_t start = omps_now_us();

	while (!has_data(r, 0)) {
		if (omps_ring_signalled(sig, seq) || omps_now_us() - start >= (uint64_t)spin_us ||
		    atomic_load_explicit(&r->interrupted, memory_order_relaxed))
			return 0;
		cpu_relax();
	}
	return 1;
}

void omps_ring_poke(struct omps_ring *r)
{
	atomic_store(&r->poked, 1);
	if (atomic_load(&r->sh->consumer_sleeping) == 1) { /* in wait_for's futex, not parked */
		atomic_store(&r->sh->consumer_sleeping, 0);
		futex_wake(&r->sh->consumer_sleeping);
	}
}

int omps_ring_poked(struct omps_ring *r)
{
	return atomic_exchange(&r->poked, 0);
}

static int has_space(struct omps_ring *r, uint32_t len)
{
	uint32_t total = rec_total(len), to_end = r->size - (uint32_t)(r->head & (r->size - 1));
	uint64_t need = total > to_end ? (uint64_t)to_end + total : total;

	r->seen = atomic_load(&r->sh->tail);
	return r->head - r->seen <= r->size && r->size - (r->head - r->seen) >= need;
}

void omps_ring_advise(struct omps_ring *r, int slow)
{
	if ((uint32_t)slow != atomic_load_explicit(&r->sh->slow, memory_order_relaxed))
		atomic_store_explicit(&r->sh->slow, (uint32_t)slow, memory_order_relaxed);
}

int omps_ring_slow(const struct omps_ring *r)
{
	return atomic_load_explicit(&r->sh->slow, memory_order_relaxed) != 0;
}

void omps_ring_interrupt(struct omps_ring *r)
{
	/* Set first, then clear the futex words: a waiter that has not read the
	 * flag yet finds its word changed, so its futex_wait returns at once. */
	atomic_store(&r->interrupted, 1);
	atomic_store(&r->sh->consumer_sleeping, 0);
	atomic_store(&r->sh->producer_sleeping, 0);
	futex_wake(&r->sh->consumer_sleeping);
	futex_wake(&r->sh->producer_sleeping);
}

int omps_ring_interrupted(struct omps_ring *r)
{
	return atomic_load(&r->interrupted);
}

int omps_ring_park(struct omps_ring *r)
{
	/* As in wait_for: announce, then recheck, so that a record published
	 * before the producer could see the word is not left behind. */
	atomic_store(&r->sh->consumer_sleeping, 2);
	if (has_data(r, 0)) {
		atomic_store(&r->sh->consumer_sleeping, 0);
		return 1;
	}
	return 0;
}

int omps_ring_wait_data(struct omps_ring *r, int spin_us, int timeout_ms)
{
	return wait_for(r, has_data, 0, &r->sh->consumer_sleeping, spin_us, timeout_ms);
}

int omps_ring_wait_space(struct omps_ring *r, uint32_t len, int spin_us, int timeout_ms)
{
	if (len > omps_ring_max_payload(r))
		return 0;
	return wait_for(r, has_space, len, &r->sh->producer_sleeping, spin_us, timeout_ms);
}
