/* The shared-memory command ring: order and content across wrap-around,
 * full and oversized records, corruption by the producer side detected by
 * the consumer, and two processes exchanging records through a small ring
 * so that both sides sleep and wake, and a parked ring woken through its
 * doorbell. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "task.h"
#include "ring.h"

static void *shared(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A record's content is derived from its number, so the reader can check it. */
static uint32_t fill(unsigned char *p, uint64_t seq)
{
	uint32_t len = (uint32_t)(seq * 2654435761u % 200) + 8, i;

	memcpy(p, &seq, sizeof(seq));
	for (i = 8; i < len; i++)
		p[i] = (unsigned char)(seq + i);
	return len;
}

static int matches(const unsigned char *p, int64_t len, uint64_t seq)
{
	unsigned char want[256];

	return len == fill(want, seq) && !memcmp(p, want, (size_t)len);
}

TEST(ring_basic)
{
	struct omps_ring r;
	unsigned char buf[512];
	void *mem = shared(omps_ring_bytes(1024));
	uint32_t type = 0;
	uint64_t seq;
	int bad = 0;

	ASSERT_LT(omps_ring_init(&r, mem, 1000), 0);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_EQ(omps_ring_init(&r, mem, 1024), 0);
	ASSERT_EQ(omps_ring_pop(&r, &type, buf, sizeof(buf)), -1);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(omps_ring_push(&r, 7, "hello", 5, 0), 0);
	ASSERT_EQ(omps_ring_pop(&r, &type, buf, sizeof(buf)), 5);
	ASSERT_EQ(type, 7);
	ASSERT(!memcmp(buf, "hello", 5));
	ASSERT_EQ(omps_ring_push(&r, 1, "", 0, 0), 0); /* empty payloads are records too */
	ASSERT_EQ(omps_ring_pop(&r, &type, buf, sizeof(buf)), 0);
	ASSERT_EQ(type, 1);

	/* Many records of varied sizes: every one back in order, across wraps. */
	for (seq = 0; seq < 10000 && !bad; seq++) {
		unsigned char rec[256];
		uint32_t len = fill(rec, seq);
		int64_t n;

		bad |= omps_ring_push(&r, (uint32_t)seq & 0xff, rec, len, 0) != 0;
		n = omps_ring_pop(&r, &type, buf, sizeof(buf));
		bad |= !matches(buf, n, seq) || type != (seq & 0xff);
	}
	ASSERT(!bad);

	/* Full: refused until the consumer makes room; too big: never. */
	while (omps_ring_push(&r, 2, buf, 100, 0) == 0)
		;
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(omps_ring_pop(&r, &type, buf, sizeof(buf)), 100);
	ASSERT_EQ(omps_ring_push(&r, 2, buf, 100, 0), 0);
	ASSERT_EQ(omps_ring_reserve(&r, 2, omps_ring_max_payload(&r) + 1), NULL);
	ASSERT_EQ(errno, EMSGSIZE);
	ASSERT_LT(omps_ring_pop(&r, &type, buf, 10), 0);
	ASSERT_EQ(errno, EMSGSIZE);
	munmap(mem, omps_ring_bytes(1024));
}

/* A peek shows the next record, whole or its first bytes, and leaves it
 * for the pop; across the ring's end (padding) as elsewhere. */
TEST(ring_peek)
{
	struct omps_ring r;
	unsigned char buf[512], part[4];
	void *mem = shared(omps_ring_bytes(1024));
	uint32_t type = 0;
	uint64_t seq;
	int bad = 0;

	ASSERT_EQ(omps_ring_init(&r, mem, 1024), 0);
	ASSERT_EQ(omps_ring_peek(&r, &type, buf, sizeof(buf)), -1);
	ASSERT_EQ(errno, EAGAIN);
	for (seq = 0; seq < 2000 && !bad; seq++) {
		unsigned char rec[256];
		uint32_t len = fill(rec, seq);

		bad |= omps_ring_push(&r, (uint32_t)seq & 0xff, rec, len, 0) != 0;
		type = 0;
		bad |= omps_ring_peek(&r, &type, part, sizeof(part)) != len || type != (seq & 0xff) ||
		       memcmp(part, rec, sizeof(part)); /* its first bytes only */
		bad |= omps_ring_peek(&r, &type, buf, sizeof(buf)) != len || memcmp(buf, rec, len);
		bad |= !matches(buf, omps_ring_pop(&r, &type, buf, sizeof(buf)), seq); /* still there */
	}
	ASSERT(!bad);
	ASSERT_EQ(omps_ring_peek(&r, &type, buf, sizeof(buf)), -1);
	ASSERT_EQ(errno, EAGAIN);
	munmap(mem, omps_ring_bytes(1024));
}

/* A hostile producer writes what it likes into shared memory: the consumer
 * must say EPROTO, never read outside the ring. */
TEST(ring_corruption)
{
	size_t bytes = omps_ring_bytes(256);
	unsigned char *mem = shared(bytes), buf[300];
	struct omps_ring prod, cons;
	uint32_t type;
	uint64_t *head, h;
	int i, ok = 1;

	ASSERT_EQ(omps_ring_init(&prod, mem, 256), 0);
	ASSERT_EQ(omps_ring_attach(&cons, mem, bytes), 0);
	head = (uint64_t *)(mem + 64);
	*head = 4096; /* more than the ring holds */
	ASSERT_LT(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 0);
	ASSERT_EQ(errno, EPROTO);
	*head = 12; /* not a whole number of records */
	ASSERT_LT(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 0);
	ASSERT_EQ(errno, EPROTO);
	*head = 0;
	ASSERT_EQ(omps_ring_push(&prod, 1, "abcdefgh", 8, 0), 0);
	memcpy(mem + omps_ring_bytes(0), "\xff\xff\x00\x00", 4); /* a length past the end */
	ASSERT_LT(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 0);
	ASSERT_EQ(errno, EPROTO);
	memcpy(mem + omps_ring_bytes(0), "\x08\x00\x00\x00\xff\xff\xff\xff", 8); /* padding mid-ring */
	ASSERT_LT(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 0);
	ASSERT_EQ(errno, EPROTO);
	/* Random garbage in every field: errors or records, never a crash. */
	srand(1);
	for (i = 0; i < 20000; i++) {
		int64_t n;

		for (h = 0; h < 8; h++)
			mem[omps_ring_bytes(0) + (size_t)rand() % 256] = (unsigned char)rand();
		*head = (uint64_t)rand() % 1024;
		cons.tail = (uint64_t)rand() % 512;
		n = omps_ring_pop(&cons, &type, buf, sizeof(buf));
		ok &= n >= -1 && n <= 256;
	}
	ASSERT(ok);
	/* The header itself: a bad magic or size is refused at attach. */
	memcpy(mem, "XXXX", 4);
	ASSERT_LT(omps_ring_attach(&cons, mem, bytes), 0);
	ASSERT_EQ(errno, EPROTO);
	ASSERT_EQ(omps_ring_init(&prod, mem, 256), 0);
	ASSERT_LT(omps_ring_attach(&cons, mem, bytes - 1), 0);
	ASSERT_EQ(errno, EPROTO);
	/* Indexes that are not record boundaries (found by tests/fuzz/fuzz_ring):
	 * a header read there would cross the end of the ring. */
	*(uint64_t *)(mem + 128) = 252; /* the shared tail */
	ASSERT_LT(omps_ring_attach(&cons, mem, bytes), 0);
	ASSERT_EQ(errno, EPROTO);
	*(uint64_t *)(mem + 128) = 0;
	*head = 4;
	ASSERT_LT(omps_ring_attach(&cons, mem, bytes), 0);
	ASSERT_EQ(errno, EPROTO);
	munmap(mem, bytes);
}

/* Two processes, a 4 KiB ring, 200,000 records: both sides fill, drain,
 * sleep and wake; the consumer checks every record. */
TEST(ring_two_processes)
{
	const uint64_t n = 200000;
	size_t bytes = omps_ring_bytes(4096);
	void *mem = shared(bytes);
	struct omps_ring r;
	unsigned char buf[512];
	uint64_t seq, bad = 0;
	int status = -1;
	pid_t pid;

	ASSERT_EQ(omps_ring_init(&r, mem, 4096), 0);
	pid = fork();
	if (pid == 0) {
		struct omps_ring p;

		if (omps_ring_attach(&p, mem, bytes) < 0)
			_exit(2);
		for (seq = 0; seq < n; seq++) {
			unsigned char rec[256];
			uint32_t len = fill(rec, seq);

			if (omps_ring_push(&p, 3, rec, len, 5000) < 0)
				_exit(3);
			if (seq % 50000 == 0)
				usleep(20000); /* let the consumer fall asleep */
		}
		_exit(0);
	}
	for (seq = 0; seq < n; seq++) {
		uint32_t type;
		int64_t len;

		if (!omps_ring_wait_data(&r, 10, 5000))
			break;
		len = omps_ring_pop(&r, &type, buf, sizeof(buf));
		bad += !matches(buf, len, seq) || type != 3;
		if (seq % 40000 == 0)
			usleep(20000); /* let the producer fill up and wait */
	}
	ASSERT_EQ(seq, n);
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(omps_ring_wait_data(&r, 10, 50), 0); /* drained: times out */
	munmap(mem, bytes);
}

struct sleeper {
	struct omps_ring *r;
	int woke;
};

static void *sleep_on(void *arg)
{
	struct sleeper *s = arg;

	s->woke = omps_ring_wait_data(s->r, 0, 10000) == 0; /* 0: interrupted, not timed out */
	return NULL;
}

/* A thread asleep on an empty ring is woken by omps_ring_interrupt long
 * before its 10 s timeout, and later waits return at once. */
TEST(ring_interrupt)
{
	void *mem = shared(omps_ring_bytes(256));
	struct omps_ring r;
	struct sleeper s = {&r, 0};
	struct timespec t0, t1;
	pthread_t t;

	ASSERT_EQ(omps_ring_init(&r, mem, 256), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(pthread_create(&t, NULL, sleep_on, &s), 0);
	usleep(50000);
	omps_ring_interrupt(&r);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(s.woke);
	ASSERT_LT(t1.tv_sec - t0.tv_sec, 5);
	ASSERT_EQ(omps_ring_wait_data(&r, 0, 10000), 0);
	munmap(mem, omps_ring_bytes(256));
}

/* A parked consumer is woken by the doorbell, once, and only when parked;
 * a record that raced the parking is found by park itself. */
TEST(ring_park)
{
	size_t bytes = omps_ring_bytes(1024);
	void *mem = shared(bytes);
	struct omps_ring prod, cons;
	unsigned char buf[64];
	uint64_t rang = 0;
	uint32_t type;
	int bell = eventfd(0, EFD_NONBLOCK);

	ASSERT(mem);
	ASSERT_GE(bell, 0);
	ASSERT_EQ(omps_ring_init(&prod, mem, 1024), 0);
	ASSERT_EQ(omps_ring_attach(&cons, mem, bytes), 0);
	ASSERT_EQ(prod.doorbell, -1);
	ASSERT_EQ(cons.doorbell, -1);
	prod.doorbell = bell;
	ASSERT_EQ(omps_ring_push(&prod, 1, "a", 1, 0), 0);
	ASSERT_LT(read(bell, &rang, sizeof(rang)), 0);
	ASSERT_EQ(errno, EAGAIN); /* not parked: no ring */
	ASSERT_EQ(omps_ring_park(&cons), 1);				 /* the record came first */
	ASSERT_EQ(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 1);
	ASSERT_EQ(type, 1);
	ASSERT_EQ(omps_ring_park(&cons), 0);
	ASSERT_EQ(omps_ring_push(&prod, 2, "bb", 2, 0), 0);
	ASSERT_EQ(read(bell, &rang, sizeof(rang)), sizeof(rang));
	ASSERT_EQ(rang, 1);
	ASSERT_EQ(omps_ring_push(&prod, 3, "ccc", 3, 0), 0); /* unparked by the first: no second ring */
	ASSERT_LT(read(bell, &rang, sizeof(rang)), 0);
	ASSERT_EQ(errno, EAGAIN);
	ASSERT_EQ(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 2);
	ASSERT_EQ(type, 2);
	ASSERT_EQ(omps_ring_pop(&cons, &type, buf, sizeof(buf)), 3);
	ASSERT_EQ(type, 3);
	close(bell);
	munmap(mem, bytes);
}

/* A consumer that spins until its producer's signal word lands: a record
 * ends the spin (1), the word ends it (0), and so does spin_us with
 * neither; the word counts modulo 2^32. */
TEST(ring_spin_until_signal)
{
	size_t bytes = omps_ring_bytes(256);
	void *req = shared(bytes), *rep = shared(bytes);
	struct omps_ring r, s;
	struct timespec t0, t1;

	ASSERT(req);
	ASSERT(rep);
	ASSERT_EQ(omps_ring_init(&r, req, 256), 0);
	ASSERT_EQ(omps_ring_init(&s, rep, 256), 0);
	atomic_store(omps_ring_signal_word(&s), 0xfffffffeu);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(omps_ring_spin_until_signal(&r, &s, 3, 20000), 0); /* 3 is 5 ahead of it: 20 ms */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the spin counts whole microseconds: 19.9996 ms of this clock is 20 of its */
	ASSERT_GE((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec), 19000000L);
	atomic_store(omps_ring_signal_word(&s), 3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(omps_ring_spin_until_signal(&r, &s, 3, 10000000), 0); /* landed: at once, not 10 s */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_LT(t1.tv_sec - t0.tv_sec, 5);
	ASSERT_EQ(omps_ring_push(&r, 1, "a", 1, 0), 0);
	ASSERT_EQ(omps_ring_spin_until_signal(&r, &s, 4, 10000000), 1); /* a record: at once */
	/* Interrupted (a handover: a faulted GPU writes no word), both spins end
	 * at once rather than at their bounds, 100 s here. */
	ASSERT_EQ(omps_ring_pop(&r, &(uint32_t){0}, (char[8]){0}, 8), 1);
	omps_ring_interrupt(&r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(omps_ring_spin_until_signal(&r, &s, 9, 100000000), 0);
	ASSERT_EQ(omps_ring_wait_signal(&r, 9, 100000000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_LT(t1.tv_sec - t0.tv_sec, 5);
	munmap(req, bytes);
	munmap(rep, bytes);
}
