#include "devinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Position in r of the device an entry of CUDA_VISIBLE_DEVICES names, among
 * the first n of order: an index into order, or a unique prefix of a UUID
 * ("GPU-8932f937", or the whole of it); -1: none, or more than one. */
static int entry_device(const char *e, const struct omps_server_ready *r, const int *order, int n)
{
	char uuid[64], *end;
	int i, found = -1;
	long v;

	if (*e >= '0' && *e <= '9') {
		v = strtol(e, &end, 10);
		return *end || v >= n ? -1 : order[v];
	}
	if (strncasecmp(e, "GPU-", 4) || !e[4])
		return -1;
	for (i = 0; i < n; i++) {
		omps_uuid_format(r->dev[order[i]].uuid, uuid, sizeof(uuid));
		if (strncasecmp(uuid, e, strlen(e)))
			continue;
		if (found >= 0)
			return -1; /* ambiguous */
		found = order[i];
	}
	return found;
}

static int pci_before(const struct omps_device *a, const struct omps_device *b)
{
	if (a->pci_domain != b->pci_domain)
		return a->pci_domain < b->pci_domain;
	if (a->pci_bus != b->pci_bus)
		return a->pci_bus < b->pci_bus;
	if (a->pci_device != b->pci_device)
		return a->pci_device < b->pci_device;
	return a->pci_function < b->pci_function;
}

int omps_visible_devices(const char *spec, int pci_order, const struct omps_server_ready *r, int32_t *view,
			 char *why, size_t whylen)
{
	int order[OMPS_MAX_DEVICES], n = (int)r->ndevices, nview = 0, i, j, d;
	char buf[256], *save = NULL, *e;

	if (why && whylen)
		why[0] = '\0';
	if (n > OMPS_MAX_DEVICES)
		n = OMPS_MAX_DEVICES;
	for (i = 0; i < n; i++) { /* insertion sort: a handful of devices */
		for (j = i; j > 0 && pci_order && pci_before(&r->dev[i], &r->dev[order[j - 1]]); j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	if (!spec) {
		memcpy(view, order, sizeof(order[0]) * (size_t)n);
		return n;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		while (*e == ' ' || *e == '\t')
			e++;
		e[strcspn(e, " \t")] = '\0';
		d = entry_device(e, r, order, n);
		for (j = 0; d >= 0 && j < nview; j++)
			if (view[j] == d)
				d = -1; /* named twice */
		if (d < 0) {
			if (why)
				snprintf(why, whylen,
					 "CUDA_VISIBLE_DEVICES=%s: \"%s\" names none of the %d GPU%s its server "
					 "drives (or one named before), so it sees the %d before it, as CUDA would",
					 spec, e, n, n == 1 ? "" : "s", nview);
			break;
		}
		view[nview++] = d;
	}
	return nview;
}
