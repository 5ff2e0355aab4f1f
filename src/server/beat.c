/* What the main loop is doing, in a page the daemon maps (protocol.h, struct
 * omps_server_beat): when the loop stops answering the daemon's pings, the
 * daemon says where it was stuck before it replaces the server. Written by
 * the main thread only; the daemon reads it. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "server.h"

static struct omps_server_beat *beat;
static int beat_fd = -1; /* kept: a successor after a fault maps it again (handover.c) */

int srv_handover_beat_fd(void)
{
	return beat_fd;
}

void srv_beat_adopt(int fd)
{
	void *p = fd >= 0 ? mmap(NULL, sizeof(*beat), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;

	beat_fd = fd;
	if (p != MAP_FAILED)
		beat = p;
}

int srv_beat_init(void)
{
	int fd = memfd_create("openmps-beat", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, sizeof(*beat)) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (p = mmap(NULL, sizeof(*beat), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		return -1;
	}
	beat = p;
	beat_fd = fd;
	return fd;
}

void srv_beat_doing(pid_t client, const char *fmt, ...)
{
	va_list ap;

	if (!beat)
		return;
	__atomic_add_fetch(&beat->seq, 1, __ATOMIC_ACQ_REL); /* odd: being written */
	beat->client = (int32_t)client;
	va_start(ap, fmt);
	vsnprintf(beat->doing, sizeof(beat->doing), fmt, ap);
	va_end(ap);
	__atomic_add_fetch(&beat->seq, 1, __ATOMIC_RELEASE);
	if (!__atomic_load_n(&beat->busy_since_us, __ATOMIC_RELAXED))
		__atomic_store_n(&beat->busy_since_us, omps_now_us(), __ATOMIC_RELEASE);
}

void srv_beat_idle(void)
{
	if (beat)
		__atomic_store_n(&beat->busy_since_us, 0, __ATOMIC_RELEASE);
}
