/* A single-producer, single-consumer ring of variable-length records in
 * shared memory: the data plane's command channel, a request ring and a
 * reply ring a client process (one channel a process). The producer (a client) and the consumer (a server worker) touch
 * no syscall while the other side keeps up; a side that must wait spins
 * briefly, then sleeps on a futex that the other side wakes only when the
 * sleeper has said it sleeps. A consumer that serves many rings from a few
 * threads may instead park a ring: its producer then rings a doorbell (an
 * eventfd the consumer polls) rather than waking a futex.
 *
 * The consumer trusts nothing in the shared memory: every index and length
 * is checked, and records are copied out before use, so a client that
 * scribbles over its ring gets an error, never a server that reads out of
 * bounds. */
#ifndef OPENMPS_RING_H
#define OPENMPS_RING_H

#include <stddef.h>
#include <stdint.h>

struct omps_ring_shared;

struct omps_ring {
	struct omps_ring_shared *sh;
	unsigned char *data;
	uint32_t size; /* bytes of record space, a power of two */
	uint64_t head; /* producer: next byte to write; published on commit */
	uint64_t tail; /* consumer: next byte to read */
	uint64_t seen; /* producer: the consumer's tail last read */
	uint32_t pending; /* producer: bytes of the reserved, uncommitted record */
	int doorbell;	  /* producer: the eventfd to write for a parked consumer; -1 */
	_Atomic int interrupted; /* process-private: ends this side's waits */
	_Atomic int poked;	 /* process-private: the consumer has work besides records */
};

/* The ring's signal word, in its shared header: the server has the GPU
 * write a sequence number there once a client's work is done (a stream
 * memory operation, after that work), and the client waits on it rather
 * than for a reply (calls.h, SYNC_SIGNAL): the reply ring's word. The
 * request ring's is the server's own, for its waits in a copy (server's
 * signal.c). The GPU writes them; a client that writes one misleads only
 * its own replies (the server waits for streams, not words, as it goes). */
_Atomic uint32_t *omps_ring_signal_word(struct omps_ring *r);
/* Whether the word has reached seq (modulo 2^32, within 2^31). */
int omps_ring_signalled(const struct omps_ring *r, uint32_t seq);
/* Spins up to spin_us for it, or until r is interrupted; 1 if it was reached. */
int omps_ring_wait_signal(const struct omps_ring *r, uint32_t seq, int spin_us);
/* The consumer of r spins while r is empty and sig's word has not reached
 * seq, up to spin_us or until r is interrupted: its producer waits on that
 * word and posts the moment it lands. 1 if a record came. */
int omps_ring_spin_until_signal(struct omps_ring *r, const struct omps_ring *sig, uint32_t seq, int spin_us);

/* Bytes of shared memory a ring with `size` bytes of records needs. */
size_t omps_ring_bytes(uint32_t size);

/* Formats mem (omps_ring_bytes(size) bytes, zeroed or not) as an empty ring.
 * size must be a power of two, at least 256. Returns 0 or -1 (EINVAL). */
int omps_ring_init(struct omps_ring *r, void *mem, uint32_t size);

/* Joins a ring formatted by the other side in mem of `bytes` bytes; checks
 * that its header fits. Returns 0 or -1 (EPROTO). */
int omps_ring_attach(struct omps_ring *r, void *mem, size_t bytes);

/* The largest payload one record may carry. */
uint32_t omps_ring_max_payload(const struct omps_ring *r);

/* Producer: room for a payload of len bytes, or NULL (errno EAGAIN: full
 * now; EMSGSIZE: never fits). Fill it, then commit. */
void *omps_ring_reserve(struct omps_ring *r, uint32_t type, uint32_t len);
void omps_ring_commit(struct omps_ring *r);

/* Producer: reserve, copy, commit, waiting up to timeout_ms for room. */
int omps_ring_push(struct omps_ring *r, uint32_t type, const void *payload, uint32_t len, int timeout_ms);

/* Consumer: copies the next record's payload into buf (capacity cap) and
 * its type into *type. Returns the payload length (records may be empty), or
 * -1: EAGAIN when the ring is empty, EPROTO for a corrupt ring, EMSGSIZE for
 * a record larger than cap (the ring is then unusable). */
int64_t omps_ring_pop(struct omps_ring *r, uint32_t *type, void *buf, size_t cap);

/* Consumer: the next record's type and the first cap bytes of its payload,
 * left in the ring; returns its payload's length, or -1 as pop does (EAGAIN
 * when empty). What a peek saw is checked again by the pop that takes it. */
int64_t omps_ring_peek(struct omps_ring *r, uint32_t *type, void *buf, size_t cap);

/* Consumer: waits until a record is there: spins spin_us microseconds, then
 * sleeps. Returns 1 when there is one, 0 after timeout_ms (-1: forever). */
int omps_ring_wait_data(struct omps_ring *r, int spin_us, int timeout_ms);

/* Producer: waits until len more bytes of payload fit; as above. */
int omps_ring_wait_space(struct omps_ring *r, uint32_t len, int spin_us, int timeout_ms);

/* Consumer: parks the ring instead of sleeping on it: the producer's next
 * commit rings the doorbell it was given. Returns 1, unparked, if a record
 * came in meanwhile; 0 once parked. */
int omps_ring_park(struct omps_ring *r);

/* From another thread of the same process: makes this ring's waits return 0
 * now and from then on, so that a thread sleeping in them can be stopped. */
void omps_ring_interrupt(struct omps_ring *r);
int omps_ring_interrupted(struct omps_ring *r); /* omps_ring_interrupt was called */

/* From another thread of the consumer's process: its next or current wait
 * for data returns 1 (a pop then finds nothing: EAGAIN), until it takes the
 * poke with omps_ring_poked. For work the consumer's thread must do itself. */
void omps_ring_poke(struct omps_ring *r);
int omps_ring_poked(struct omps_ring *r); /* 1 once after a poke */

/* Producer: advice for the consumer's waits. slow: the next records will be
 * long in coming (the producer itself waits without spinning on a crowded
 * machine), so the consumer had better sleep than spin. Only advice: a
 * wrong value costs time, never a record. */
void omps_ring_advise(struct omps_ring *r, int slow);
int omps_ring_slow(const struct omps_ring *r);

#endif
