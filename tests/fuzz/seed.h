/* What the seed corpus writers (seed_dispatch, seed_daemon) share. */
#ifndef OPENMPS_FUZZ_SEED_H
#define OPENMPS_FUZZ_SEED_H

#include <stdio.h>

/* The corpus file NAME in DIR, made anew for writing; NULL if it cannot be. */
static inline FILE *seed_open(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "wb");
}

#endif
