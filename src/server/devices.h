/* The GPUs this server drives: enumerated once, each with its primary
 * context retained for the server's life (all clients share it). */
#ifndef OPENMPS_DEVICES_H
#define OPENMPS_DEVICES_H

#include "driver.h"
#include "protocol.h"

/* Initialises the driver and fills r. With ctx given, also retains every
 * device's primary context into it. Writes why to err on failure. */
int srv_devices_open(struct srv_driver *drv, struct omps_server_ready *r, CUcontext *ctx, char *err,
		      size_t errlen);
/* Every attribute of device dev the driver knows, 0 for the others. */
void srv_device_attrs(struct srv_driver *drv, int dev, int32_t *attrs, int n);
void srv_devices_close(struct srv_driver *drv, const struct omps_server_ready *r);
/* Device ordinal's SMs split into the smallest groups the driver makes
 * (its chunks, qos.c's slots), at most *n of them into res; *n: how many.
 * The same split for the daemon's static partitions and the server's. */
CUresult srv_device_chunks(struct srv_driver *drv, int ordinal, CUdevResource *res, unsigned *n);

#endif
