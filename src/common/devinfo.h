/* How devices are shown: UUIDs, PCI ids and the device_query table, laid
 * out as nvidia-cuda-mps-control lays them out. */
#ifndef OPENMPS_DEVINFO_H
#define OPENMPS_DEVINFO_H

#include <stddef.h>

#include "protocol.h"

void omps_uuid_format(const unsigned char uuid[16], char *buf, size_t len);	   /* GPU-8-4-4-4-12 */
void omps_uuid_format_short(const unsigned char uuid[16], char *buf, size_t len); /* GPU-8-4-4 */

/* Appends the device_query table (header and one row a device) to buf,
 * in columns or, with csv set, as comma-separated values. */
void omps_device_table(const struct omps_server_ready *r, int csv, char *buf, size_t len);

/* The devices a client with CUDA_VISIBLE_DEVICES=spec sees, as CUDA would
 * show them: view[k] is the position in r of its device k. spec NULL
 * (unset): all of them. Entries are indices (into r's order, or into PCI
 * bus order with pci_order, CUDA_DEVICE_ORDER=PCI_BUS_ID) or GPU-UUIDs and
 * unique prefixes of them; as in CUDA, the list ends at the first entry
 * that names no device (or one named before), and why says so ("" when
 * every entry named one). Returns how many, 0 to r->ndevices. */
int omps_visible_devices(const char *spec, int pci_order, const struct omps_server_ready *r, int32_t *view,
			 char *why, size_t whylen);

#endif
