/* The server's state, made once, the same way for the server (main.c), the
 * fuzz targets' fixture and the unit tests: nothing here starts a thread or
 * talks to the daemon. */
#include "devices.h"
#include "server.h"

int srv_state_init(struct srv_state *s, struct srv_driver *drv, char *err, size_t errlen)
{
	s->drv = drv;
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->modules_lock, NULL);
	if (srv_workers_init(s, err, errlen) < 0 || srv_driver_load(drv, err, errlen) < 0 ||
	    srv_devices_open(drv, &s->devices, s->ctx, err, errlen) < 0)
		return -1;
	srv_qos_init(s);
	return 0;
}
