/* What the benchmarks share: a clock, the common start of their workers,
 * medians, and a driver-call check. */
#ifndef OPENMPS_BENCH_H
#define OPENMPS_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The common start of workers that run at once: START is its wall-clock
 * epoch, or the path of a file that will hold it. With a file, the worker,
 * ready, says "ready" on stdout and waits for the file, which bench/run
 * writes once every worker has said so: a worker slow to start (a context
 * each, time-sliced; a second or more a client under NVIDIA MPS at 32) is
 * not left out of the count. 0: no start came in 600 s. */
static inline double bench_start(const char *start)
{
	double t = 0;
	FILE *f;
	int i;

	if (!strchr(start, '/'))
		return atof(start);
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < 120000; i++) {
		if ((f = fopen(start, "r"))) {
			int n = fscanf(f, "%lf", &t);

			fclose(f);
			if (n == 1)
				return t;
		}
		usleep(5000);
	}
	return 0;
}

/* The starting line of one worker's threads: each, warmed up or failed,
 * waits here; the last to come learns the common start (bench_start) for
 * all of them, and each waits for that instant, which it returns. __atomic
 * builtins: bench.h serves C and CUDA C++ alike. */
struct bench_line {
	const char *arg; /* START as given */
	int threads;
	int arrived, known;
	double start;
};

static inline double bench_line_wait(struct bench_line *l)
{
	double t;

	if (__atomic_add_fetch(&l->arrived, 1, __ATOMIC_ACQ_REL) == l->threads) {
		l->start = bench_start(l->arg);
		__atomic_store_n(&l->known, 1, __ATOMIC_RELEASE);
	}
	while (!__atomic_load_n(&l->known, __ATOMIC_ACQUIRE))
		usleep(1000);
	while ((t = bench_now(CLOCK_REALTIME)) < l->start)
		usleep(l->start - t > 0.01 ? 5000 : 100);
	return l->start;
}

static inline int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v, so that v[0] and v[n - 1] are the spread. */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp);
	return v[n / 2];
}

/* A kernel of `iters` dependent multiply-adds per thread; thread 0 of each
 * block stores the result at p. Its first line lets fakecuda load it (it
 * runs nothing there), so that bench/run --dry runs without a GPU. */
static const char *const bench_spin_ptx __attribute__((unused)) = "// fakecuda: spin (a dry run of the benchmarks)\n"
			 ".version 8.0\n.target sm_90\n.address_size 64\n"
			 ".visible .entry spin(.param .u64 p, .param .u32 iters)\n{\n"
			 " .reg .b32 r<4>; .reg .f32 f<2>; .reg .b64 rd<3>; .reg .pred q;\n"
			 " ld.param.u64 rd1, [p]; ld.param.u32 r1, [iters];\n"
			 " mov.f32 f1, 0f3F800000; mov.u32 r2, 0;\n"
			 "loop:\n fma.rn.f32 f1, f1, 0f3F7FFFFF, 0f3A83126F; add.u32 r2, r2, 1;\n"
			 " setp.lt.u32 q, r2, r1; @q bra loop;\n"
			 " mov.u32 r3, %tid.x; setp.ne.u32 q, r3, 0; @q bra done;\n"
			 " cvta.to.global.u64 rd2, rd1; st.global.f32 [rd2], f1;\n"
			 "done:\n ret;\n}\n";

#define BENCH_CK(x)                                                      \
	do {                                                             \
		int r_ = (int)(x);                                       \
		if (r_ != 0) {                                           \
			fprintf(stderr, "%s failed: %d\n", #x, r_);      \
			return 1;                                        \
		}                                                        \
	} while (0)

#endif
