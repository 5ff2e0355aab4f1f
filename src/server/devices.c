#include "devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static CUresult describe(struct srv_driver *drv, int ordinal, struct omps_device *d)
{
	CUdevice dev;
	CUuuid uuid;
	size_t total;
	CUresult r;

	memset(d, 0, sizeof(*d));
	d->ordinal = ordinal;
	if ((r = drv->device_get(&dev, ordinal)) ||
	    (r = drv->device_get_name(d->name, sizeof(d->name) - 1, dev)) ||
	    (r = drv->device_get_uuid(&uuid, dev)) || (r = drv->device_total_mem(&total, dev)) ||
	    (r = drv->device_get_attribute(&d->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev)) ||
	    (r = drv->device_get_attribute(&d->pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, dev)) ||
	    (r = drv->device_get_attribute(&d->pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev)) ||
	    (r = drv->device_get_attribute(&d->pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, dev)))
		return r;
	memcpy(d->uuid, uuid.bytes, sizeof(d->uuid));
	d->total_mem = total;
	return CUDA_SUCCESS;
}

/* Every client's streams share one context's hardware work queues, which
 * the driver makes CUDA_DEVICE_MAX_CONNECTIONS of (8 by default, read at
 * cuInit). Streams past that share queues, and a kernel waits behind
 * another client's: 8 clients of small kernels ran as fast as under NVIDIA
 * MPS, 16 and more less than half as fast (issue 21). A serving server
 * asks for the most, 32, unless the daemon's environment names a number. */
#define HW_QUEUES "32"

static void hardware_queues(void)
{
	const char *set = getenv("CUDA_DEVICE_MAX_CONNECTIONS");

	if (set && *set) {
		omps_log("Hardware work queues a context: %s (CUDA_DEVICE_MAX_CONNECTIONS, from the environment)", set);
		return;
	}
	setenv("CUDA_DEVICE_MAX_CONNECTIONS", HW_QUEUES, 1);
	omps_log("Hardware work queues a context: " HW_QUEUES " (CUDA_DEVICE_MAX_CONNECTIONS)");
}

int srv_devices_open(struct srv_driver *drv, struct omps_server_ready *r, CUcontext *ctxs, char *err,
		      size_t errlen)
{
	char why[96];
	CUresult res;
	int n, i;

	memset(r, 0, sizeof(*r));
	if (ctxs)
		hardware_queues(); /* before cuInit, which reads it */
	if ((res = drv->init(0)) || (res = drv->driver_get_version(&r->driver_version)) ||
	    (res = drv->device_get_count(&n))) {
		srv_driver_strerror(drv, res, why, sizeof(why));
		snprintf(err, errlen, "CUDA driver initialisation failed: %s", why);
		return -1;
	}
	if (n > OMPS_MAX_DEVICES)
		n = OMPS_MAX_DEVICES;
	for (i = 0; i < n; i++) {
		struct omps_device *d = &r->dev[i];

		res = describe(drv, i, d);
		if (!res && ctxs) {
			CUdevice dev;

			res = drv->device_get(&dev, i);
			if (!res)
				res = drv->primary_ctx_retain(&ctxs[i], dev);
			if (!res)
				omps_log("Creating server context on device %d (%s)", i, d->name);
		}
		if (res) {
			srv_driver_strerror(drv, res, why, sizeof(why));
			snprintf(err, errlen, "device %d: %s", i, why);
			r->ndevices = (uint32_t)i;
			if (ctxs)
				srv_devices_close(drv, r);
			return -1;
		}
		r->ndevices = (uint32_t)i + 1;
	}
	return 0;
}

void srv_devices_peer(struct srv_driver *drv, const struct omps_server_ready *r, CUcontext *ctx,
		      uint64_t *peers)
{
	char list[512] = "", why[96] = "";
	size_t off = 0;
	uint32_t i, j;
	CUresult res;
	int can;

	for (i = 0; i < r->ndevices; i++) {
		peers[i] = 0;
		for (j = 0; j < r->ndevices; j++) {
			if (i == j || drv->device_can_access_peer(&can, (CUdevice)i, (CUdevice)j) || !can)
				continue;
			res = drv->ctx_set_current(ctx[i]);
			if (!res)
				res = drv->ctx_enable_peer_access(ctx[j], 0);
			if (res && res != CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) {
				srv_driver_strerror(drv, res, why, sizeof(why));
				omps_log("Peer access from device %u to device %u failed: %s", i, j, why);
				continue;
			}
			peers[i] |= 1ull << j;
			if (off < sizeof(list))
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u->%u", off ? ", " : "", i, j);
		}
	}
	if (r->ndevices > 1)
		omps_log("Peer access between the server's devices: %s", off ? list : "none (no two can reach each other)");
}

unsigned srv_devices_access(const uint64_t *peers, uint32_t ndevices, int dev, CUmemAccessDesc *desc)
{
	unsigned n = 0;
	uint32_t j;

	desc[n++] = (CUmemAccessDesc){{CU_MEM_LOCATION_TYPE_DEVICE, dev}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
	for (j = 0; j < ndevices; j++)
		if ((int)j != dev && peers[j] >> dev & 1)
			desc[n++] = (CUmemAccessDesc){{CU_MEM_LOCATION_TYPE_DEVICE, (int)j},
						      CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
	return n;
}

void srv_devices_close(struct srv_driver *drv, const struct omps_server_ready *r)
{
	uint32_t i;

	for (i = 0; i < r->ndevices; i++) {
		CUdevice dev;

		if (drv->device_get(&dev, (int)i) == CUDA_SUCCESS)
			drv->primary_ctx_release(dev);
	}
}

void srv_device_attrs(struct srv_driver *drv, int dev, int32_t *attrs, int n)
{
	int a;

	for (a = 0; a < n; a++) {
		int v = 0;

		attrs[a] = a > 0 && drv->device_get_attribute(&v, (CUdevice_attribute)a, dev) == CUDA_SUCCESS ? v : 0;
	}
}

CUresult srv_device_chunks(struct srv_driver *drv, int ordinal, int fine, CUdevResource *res, unsigned *n)
{
	CUdevResource all;
	unsigned unit;
	CUdevice d;
	CUresult r;

	if (!drv->device_get_dev_resource || !drv->dev_sm_resource_split_by_count)
		return CUDA_ERROR_NOT_SUPPORTED;
	r = drv->device_get(&d, ordinal);
	if (r == CUDA_SUCCESS)
		r = drv->device_get_dev_resource(d, &all, CU_DEV_RESOURCE_TYPE_SM);
	if (r != CUDA_SUCCESS)
		return r;
	unit = all.sm.smCoscheduledAlignment > all.sm.minSmPartitionSize ? all.sm.smCoscheduledAlignment
									  : all.sm.minSmPartitionSize;
	r = drv->dev_sm_resource_split_by_count(res, n, &all, NULL,
						fine ? CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING : 0,
						fine || !unit ? 1 : unit);
	return r == CUDA_SUCCESS && !*n ? CUDA_ERROR_NOT_SUPPORTED : r;
}
