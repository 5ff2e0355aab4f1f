/* The GPUs this server drives: enumerated once, each with its primary
 * context retained for the server's life (all clients share it). */
#ifndef OPENMPS_DEVICES_H
#define OPENMPS_DEVICES_H

#include "driver.h"
#include "protocol.h"

/* Initialises the driver and fills r. With retain set, also retains every
 * device's primary context. Writes why to err on failure. */
int omps_devices_open(struct omps_driver *drv, struct omps_server_ready *r, int retain, char *err,
		      size_t errlen);
void omps_devices_close(struct omps_driver *drv, const struct omps_server_ready *r);

#endif
