/* libFuzzer target: the server's reading of a client's socket messages
 * (src/server/clients.c and what it calls: the greeting, the data channel's
 * opening, host memory to share), over tests/fakecuda. The input is a
 * sequence of packets, each a flag byte, a length (u16) and that many
 * bytes; flag bit 0 sends a sealed memfd with the packet, bit 1 makes that
 * memfd hold two formatted rings, so that a channel can open, bit 2 leaves
 * it unsealed (host memory the server must refuse), and bit 3 shrinks it to
 * nothing while the server reads (a file that changes under it). The packets go
 * down a socket pair, the server reads them as it would a client's, and the
 * connection is closed: the client must then be gone, and all it held. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring.h"
#include "server_fixture.h"
#include "sock.h"

#define RING (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Memfds the input asked to shrink later (bit 3). */
static int shrink[16], nshrink;

/* A memfd as a shim makes one: sealed against shrinking (unless bit 2);
 * with rings, if asked. */
static int channel_memfd(int flags)
{
	size_t half = omps_ring_bytes(RING);
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct omps_ring r;
	void *m;

	if (fd < 0 || ftruncate(fd, (off_t)(2 * half)) < 0 ||
	    (!(flags & 4) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0))
		return fd;
	if (flags & 8 && nshrink < 16)
		shrink[nshrink++] = dup(fd);
	if (flags & 2 && (m = mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) != MAP_FAILED) {
		omps_ring_init(&r, m, RING);
		omps_ring_init(&r, (char *)m + half, RING);
		munmap(m, 2 * half);
	}
	return fd;
}

static int send_packet(int fd, const uint8_t *p, size_t len, int flags)
{
	struct iovec iov = {(void *)p, len};
	int mfd = flags & 1 ? channel_memfd(flags) : -1, r;

	r = omps_send_fds(fd, &iov, 1, &mfd, mfd >= 0, 0);
	if (mfd >= 0)
		close(mfd);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct omps_admit a = {.pid = 4242, .client_id = 1};
	struct srv_client *c;
	int sv[2], i, j, had_channel = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	while (size >= 3) {
		int flags = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;

		data += 3, size -= 3;
		if (len > size)
			len = size;
		if (send_packet(sv[1], data, len, flags) < 0)
			break; /* the socket's buffer is full: that is enough */
		data += len, size -= len;
	}
	c = srv_client_add(&fuzz_srv, sv[0], &a);
	for (i = 0; c && fuzz_srv.clients == c && i < 1000; i++) {
		char b;

		if (i == 2) /* while the server reads, and its host thread maps */
			for (j = 0; j < nshrink; j++)
				if (ftruncate(shrink[j], 0) < 0) {
					/* sealed: as it should be */
				}

		if (recv(sv[0], &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)
			close(sv[1]), sv[1] = -1; /* all read: now the client leaves */
		had_channel = c->has_worker;
		srv_client_readable(&fuzz_srv, c);
	}
	if (sv[1] >= 0)
		close(sv[1]);
	if (fuzz_srv.clients == c) /* cannot be: the peer is gone */
		__builtin_trap();
	if (had_channel) /* stopped, not freed: the pool's worker releases it */
		srv_channel_run(c);
	while (nshrink)
		close(shrink[--nshrink]);
	return 0;
}
