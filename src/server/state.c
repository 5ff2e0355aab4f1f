/* The server's state, made once, the same way for the server (main.c), the
 * fuzz targets' fixture and the unit tests: nothing here starts a thread or
 * talks to the daemon. */
#include <stdio.h>
#include <unistd.h>

#include "devices.h"
#include "server.h"
#include "settings.h"

/* Host memory the clients share takes a mapping each: together they may
 * take half of what the kernel allows a process (vm.max_map_count), so
 * that channels, threads and the driver always have room. */
static unsigned host_maps_max(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long n = 65530;

	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 65530;
		fclose(f);
	}
	return n / 2 > 1024 ? (unsigned)(n / 2 > 1u << 30 ? 1u << 30 : n / 2) : 1024;
}

/* Host memory one client may page-lock through the server: by default half
 * of the machine's. */
static uint64_t host_bytes_max(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	long half_mb = pages > 0 && page > 0 ? (long)((uint64_t)pages * (uint64_t)page / 2 >> 20) : 1L << 20;

	return (uint64_t)omps_env_range("OPENMPS_CLIENT_HOST_MEMORY_MB", 1, 1L << 30, " MiB", half_mb) << 20;
}

int srv_state_init(struct srv_state *s, struct srv_driver *drv, char *err, size_t errlen)
{
	s->drv = drv;
	s->host_maps_max = host_maps_max();
	s->host_bytes_max = host_bytes_max();
	/* OPENMPS_LAUNCH_RUNS=0: every launch on its own, never as a graph (launch.c). */
	s->runs_off = !omps_env_range("OPENMPS_LAUNCH_RUNS", 0, 1, "", 1);
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->modules_lock, NULL);
	pthread_mutex_init(&s->ipc_lock, NULL);
	if (srv_workers_init(s, err, errlen) < 0 || srv_driver_load(drv, err, errlen) < 0 ||
	    srv_devices_open(drv, &s->devices, s->ctx, err, errlen) < 0)
		return -1;
	srv_devices_peer(drv, &s->devices, s->ctx, s->peers);
	if (srv_arena_init(s) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv_qos_init(s);
	return 0;
}
