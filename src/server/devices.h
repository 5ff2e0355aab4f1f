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
/* Peer access between every two of the server's contexts that can have it,
 * enabled once: all clients' memory is in these contexts, so a client's
 * kernels and copies reach its other GPUs' memory as natively after
 * cuCtxEnablePeerAccess. peers[i] bit j: device i reaches j's memory. */
void srv_devices_peer(struct srv_driver *drv, const struct omps_server_ready *r, CUcontext *ctx,
		      uint64_t *peers);
/* Who may reach memory on dev: dev itself, then every device with peer
 * access to it (peers, as srv_devices_peer made them). VMM memory and pool
 * memory need it said (cuMemSetAccess, cuMemPoolSetAccess); enabling peer
 * access covers cuMemAlloc's only. Fills desc; returns how many. */
unsigned srv_devices_access(const uint64_t *peers, uint32_t ndevices, int dev, CUmemAccessDesc *desc);
void srv_devices_close(struct srv_driver *drv, const struct omps_server_ready *r);
/* Device ordinal's SMs split into the smallest groups the driver makes,
 * at most *n of them into res; *n: how many. Coscheduled (fine 0): the
 * groups keep the GPU's hierarchy, so clusters of up to the group's size
 * run in them (8 SMs on an H100 or H200): the daemon's static partitions'
 * chunks. Fine: the driver ignores that hierarchy (2 SMs on an H200,
 * clusters of at most 2 blocks): qos.c's slots for shares. */
CUresult srv_device_chunks(struct srv_driver *drv, int ordinal, int fine, CUdevResource *res, unsigned *n);

#endif
