/* The server's state, made once, the same way for the server (main.c), the
 * fuzz targets' fixture and the unit tests: nothing here starts a thread or
 * talks to the daemon. */
#include <stdio.h>

#include "devices.h"
#include "server.h"

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

int srv_state_init(struct srv_state *s, struct srv_driver *drv, char *err, size_t errlen)
{
	s->drv = drv;
	s->host_maps_max = host_maps_max();
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->modules_lock, NULL);
	if (srv_workers_init(s, err, errlen) < 0 || srv_driver_load(drv, err, errlen) < 0 ||
	    srv_devices_open(drv, &s->devices, s->ctx, err, errlen) < 0)
		return -1;
	srv_qos_init(s);
	return 0;
}
