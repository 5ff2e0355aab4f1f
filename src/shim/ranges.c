/* The client's own map of its memory in remote mode: device allocations and
 * page-locked host memory. The driver knows which pointer is which; the shim
 * must too, for cuMemcpy's direction under unified addressing, for the
 * pointer attributes, and to find host memory it pinned. A sorted array
 * under a read-write lock: lookups are frequent, changes rare. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static struct shim_range *ranges;
static size_t n, cap;
static uint64_t next_id = 1;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

/* The index of the first range that ends after addr. */
static size_t upper(uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ranges[mid].base + ranges[mid].bytes <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int shim_range_add(const struct shim_range *r)
{
	size_t i;

	pthread_rwlock_wrlock(&lock);
	if (n == cap) {
		size_t c = cap ? cap * 2 : 64;
		struct shim_range *p = realloc(ranges, c * sizeof(*p));

		if (!p) {
			pthread_rwlock_unlock(&lock);
			return -1;
		}
		ranges = p;
		cap = c;
	}
	i = upper(r->base);
	memmove(&ranges[i + 1], &ranges[i], (n - i) * sizeof(*ranges));
	ranges[i] = *r;
	ranges[i].id = next_id++;
	n++;
	pthread_rwlock_unlock(&lock);
	return 0;
}

int shim_range_remove(uint64_t base, struct shim_range *out)
{
	size_t i;
	int found;

	pthread_rwlock_wrlock(&lock);
	i = upper(base);
	found = i < n && ranges[i].base == base;
	if (found) {
		if (out)
			*out = ranges[i];
		memmove(&ranges[i], &ranges[i + 1], (n - i - 1) * sizeof(*ranges));
		n--;
	}
	pthread_rwlock_unlock(&lock);
	return found ? 0 : -1;
}

int shim_range_find(uint64_t addr, struct shim_range *out)
{
	size_t i;
	int found;

	pthread_rwlock_rdlock(&lock);
	i = upper(addr);
	found = i < n && ranges[i].base <= addr;
	if (found && out)
		*out = ranges[i];
	pthread_rwlock_unlock(&lock);
	return found ? 0 : -1;
}

void shim_range_forget_device(int dev)
{
	size_t i, k = 0;

	pthread_rwlock_wrlock(&lock);
	for (i = 0; i < n; i++)
		if (ranges[i].kind != SHIM_RANGE_DEVICE || ranges[i].dev != dev)
			ranges[k++] = ranges[i];
	n = k;
	pthread_rwlock_unlock(&lock);
}
