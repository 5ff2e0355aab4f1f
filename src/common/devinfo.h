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

#endif
