#include "devinfo.h"

#include <stdio.h>
#include <string.h>

void omps_uuid_format(const unsigned char u[16], char *buf, size_t len)
{
	snprintf(buf, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void omps_uuid_format_short(const unsigned char u[16], char *buf, size_t len)
{
	snprintf(buf, len, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		 u[6], u[7]);
}

void omps_device_table(const struct omps_server_ready *r, int csv, char *buf, size_t len)
{
	const char *head = csv ? "%s,%s,%s,%s,%s\n" : "%-16s%-15s%-42s%-34s%s\n";
	const char *row = csv ? "%d,%s,%s,%.*s,%s\n" : "%-16d%-15s%-42s%-34.*s%s\n";
	size_t off = strlen(buf);
	uint32_t i;

	off += (size_t)snprintf(buf + off, off < len ? len - off : 0, head, "Device Ordinal", "PCI IDs", "UUID",
				"Name", "Attributes");
	for (i = 0; i < r->ndevices && off < len; i++) {
		const struct omps_device *d = &r->dev[i];
		char uuid[48], pci[32];

		omps_uuid_format(d->uuid, uuid, sizeof(uuid));
		snprintf(pci, sizeof(pci), "%04x:%02x.%02x.%02x", (unsigned)d->pci_domain & 0xffff,
			 (unsigned)d->pci_bus & 0xff, (unsigned)d->pci_device & 0xff,
			 (unsigned)d->pci_function & 0xff);
		off += (size_t)snprintf(buf + off, len - off, row, d->ordinal, pci,
					uuid, (int)strnlen(d->name, sizeof(d->name)), d->name, "N/A");
	}
}
