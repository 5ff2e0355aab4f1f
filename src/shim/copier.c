/* Large memcpy split over a few helper threads of the client, for pageable
 * copies through the staging buffers: one thread's memcpy between pageable
 * and page-locked memory (about 10 GB/s) is what bounds such a copy, well
 * below the DMA. The helpers start on the first large copy, block every
 * signal (the program's handlers never run on them), spin a little after
 * each piece so that the next piece of a long copy finds them awake, then
 * sleep on a futex. OPENMPS_COPY_THREADS sets how many (0: the caller copies
 * alone); the default is 3, fewer on a machine with fewer processors. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#define COPIER_MAX     8
#define PIECE_MIN      (256u << 10) /* below it, another thread costs more than it saves */
#define HELPER_SPIN_NS 200000

/* Each helper has a slot of its own: it copies what its slot names each
 * time the slot's generation moves on. */
struct slot {
	_Atomic uint32_t gen; /* futex word */
	_Atomic uint32_t sleeping;
	uint32_t base; /* gen when the helper was started: work after it is its */
	unsigned char *dst;
	const unsigned char *src;
	size_t bytes;
} __attribute__((aligned(64)));

static struct {
	pthread_mutex_t lock; /* one split copy at a time */
	pthread_once_t once;
	int started;		  /* helpers tried */
	int helpers;		  /* running */
	_Atomic uint32_t pending; /* pieces not done yet */
	struct slot slot[COPIER_MAX];
} cp = {.lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *helper(void *arg)
{
	struct slot *sl = arg;
	uint32_t seen = sl->base;
	uint64_t idle_since = shim_trace_now();

	for (;;) {
		if (atomic_load_explicit(&sl->gen, memory_order_acquire) != seen) {
			seen = atomic_load(&sl->gen);
			memcpy(sl->dst, sl->src, sl->bytes);
			atomic_fetch_sub_explicit(&cp.pending, 1, memory_order_release);
			idle_since = shim_trace_now();
			continue;
		}
		if (shim_trace_now() - idle_since < HELPER_SPIN_NS) {
			relax();
			continue;
		}
		/* Announce the sleep, then recheck: the poster wakes only sleepers. */
		atomic_store(&sl->sleeping, 1);
		if (atomic_load(&sl->gen) == seen)
			syscall(SYS_futex, (uint32_t *)&sl->gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
		atomic_store(&sl->sleeping, 0);
	}
	return NULL;
}

static void post(struct slot *sl, unsigned char *dst, const unsigned char *src, size_t bytes)
{
	sl->dst = dst, sl->src = src, sl->bytes = bytes;
	atomic_fetch_add(&sl->gen, 1);
	if (atomic_load(&sl->sleeping))
		syscall(SYS_futex, (uint32_t *)&sl->gen, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int wanted_helpers(void)
{
	const char *e = getenv("OPENMPS_COPY_THREADS");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), n = 3;

	if (e && *e)
		n = strtol(e, NULL, 10);
	else if (cpus > 0 && cpus - 1 < n)
		n = cpus - 1;
	return n < 0 ? 0 : n > COPIER_MAX ? COPIER_MAX : (int)n;
}

static void start_helpers(void)
{
	int i, n = wanted_helpers();

	for (i = 0; i < n; i++) {
		cp.slot[i].base = atomic_load(&cp.slot[i].gen);
		if (shim_thread_start(helper, &cp.slot[i]))
			break;
	}
	cp.helpers = i;
}

/* A fork's child has none of the helpers. */
static void forget_helpers(void)
{
	cp.started = cp.helpers = 0;
	pthread_mutex_init(&cp.lock, NULL);
}

static void copier_init(void)
{
	pthread_atfork(NULL, NULL, forget_helpers);
}

void shim_copy_parallel(void *dst, const void *src, size_t bytes)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	size_t piece;
	int pieces, i;

	pthread_once(&cp.once, copier_init);
	if (bytes < 2 * PIECE_MIN || pthread_mutex_trylock(&cp.lock)) {
		memcpy(dst, src, bytes);
		return;
	}
	if (!cp.started) {
		cp.started = 1;
		start_helpers();
	}
	pieces = (int)(bytes / PIECE_MIN);
	if (pieces > cp.helpers + 1)
		pieces = cp.helpers + 1;
	if (pieces < 2) {
		pthread_mutex_unlock(&cp.lock);
		memcpy(dst, src, bytes);
		return;
	}
	piece = (bytes / (size_t)pieces + 63) & ~(size_t)63; /* whole cache lines */
	atomic_store(&cp.pending, (uint32_t)pieces - 1);
	for (i = 1; i < pieces; i++)
		post(&cp.slot[i - 1], d + (size_t)i * piece, s + (size_t)i * piece,
		     i == pieces - 1 ? bytes - (size_t)i * piece : piece);
	memcpy(d, s, piece);
	while (atomic_load_explicit(&cp.pending, memory_order_acquire))
		relax();
	pthread_mutex_unlock(&cp.lock);
}
