/* What the benchmarks share: a clock, medians, and a driver-call check. */
#ifndef OPENMPS_BENCH_H
#define OPENMPS_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

#define BENCH_CK(x)                                                      \
	do {                                                             \
		int r_ = (int)(x);                                       \
		if (r_ != 0) {                                           \
			fprintf(stderr, "%s failed: %d\n", #x, r_);      \
			return 1;                                        \
		}                                                        \
	} while (0)

#endif
