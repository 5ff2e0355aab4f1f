/* How fast the command ring carries a call: two processes, a request ring
 * and a reply ring in shared memory.
 *   one-way: records/s the producer can post while the consumer drains
 *            (an asynchronous launch's cost to the caller is bounded by this)
 *   round trip: request and reply, with the server side spinning (busy) and
 *            with it asleep between calls (idle client, futex wake-up)
 * Prints medians of several runs. */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "ring.h"

#define RING 65536
#define RUNS 5

static double now(void)
{
	return bench_now(CLOCK_MONOTONIC);
}

/* The server side: echo (mode 1) or drain (mode 0) until a record of type 0. */
static void serve(struct omps_ring *req, struct omps_ring *rep, int spin_us)
{
	unsigned char buf[256];
	uint32_t type;

	for (;;) {
		int64_t n;

		omps_ring_wait_data(req, spin_us, -1);
		n = omps_ring_pop(req, &type, buf, sizeof(buf));
		if (n < 0 || type == 0)
			return;
		if (type == 2)
			omps_ring_push(rep, 2, buf, (uint32_t)n, -1);
	}
}

static double run(void *mem, int iters, int type, int spin_us, int sleep_between)
{
	struct omps_ring req, rep;
	unsigned char msg[64] = {1};
	size_t half = omps_ring_bytes(RING);
	double t0, t;
	uint32_t rt;
	pid_t pid;
	int i;

	omps_ring_init(&req, mem, RING);
	omps_ring_init(&rep, (char *)mem + half, RING);
	pid = fork();
	if (pid == 0) {
		serve(&req, &rep, spin_us);
		_exit(0);
	}
	t = 0;
	for (i = 0; i < iters; i++) {
		if (sleep_between)
			usleep(200); /* long enough for the server to fall asleep */
		t0 = now();
		omps_ring_push(&req, (uint32_t)type, msg, sizeof(msg), -1);
		if (type == 2) {
			omps_ring_wait_data(&rep, 1000000, -1);
			omps_ring_pop(&rep, &rt, msg, sizeof(msg));
		}
		t += now() - t0;
	}
	omps_ring_push(&req, 0, msg, 0, -1);
	waitpid(pid, NULL, 0);
	return t / iters;
}

int main(void)
{
	void *mem = mmap(NULL, 2 * omps_ring_bytes(RING), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double post[RUNS], busy[RUNS], idle[RUNS];
	int i;

	for (i = 0; i < RUNS; i++) {
		post[i] = run(mem, 1000000, 1, 50, 0);
		busy[i] = run(mem, 100000, 2, 50, 0);
		idle[i] = run(mem, 2000, 2, 0, 1);
	}
	printf("ring one-way post (64 B records), cost to the producer: %.3f us (%.1f M records/s)\n",
	       bench_median(post, RUNS) * 1e6, 1e-6 / bench_median(post, RUNS));
	printf("ring round trip, server spinning:   %.2f us\n", bench_median(busy, RUNS) * 1e6);
	printf("ring round trip, server asleep:     %.2f us (futex wake-up)\n", bench_median(idle, RUNS) * 1e6);
	return 0;
}
