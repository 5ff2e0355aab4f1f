/* AF_UNIX SOCK_SEQPACKET helpers: one protocol message per packet, file
 * descriptors passed with SCM_RIGHTS, peer credentials. */
#ifndef OPENMPS_SOCK_H
#define OPENMPS_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/types.h>

#include "protocol.h"

int omps_sock_listen(const char *path, int backlog);
int omps_sock_connect(const char *path);
int omps_sock_pair(int fds[2]);
int omps_sock_peer(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/* One packet of the bytes in iov, with nfds descriptors attached (at most
 * OMPS_MAX_PASS_FDS, under the kernel's SCM_MAX_FD); the header is the
 * caller's. Never blocks unless block is set, never raises SIGPIPE.
 * Returns 0 or -1 (errno). */
#define OMPS_MAX_PASS_FDS 250
int omps_send_fds(int fd, struct iovec *iov, int iovcnt, const int *fds, unsigned nfds, int block);

/* Sends one message; pass_fd >= 0 travels with it. Never blocks unless
 * block is set, never raises SIGPIPE. Returns 0, or -1 with errno. */
int omps_send(int fd, uint32_t type, int32_t status, uint32_t flags, const void *payload, size_t len,
	      int pass_fd, int block);

/* Receives one message into hdr and payload (capacity cap). Returns the
 * payload length, or -1 with errno: ECONNRESET at end of stream, EPROTO for a
 * packet shorter than a header, EMSGSIZE for one larger than cap. A file
 * descriptor that arrives goes to *fd_out when fd_out is given (else -1 is
 * stored there), and is closed otherwise. */
ssize_t omps_recv(int fd, struct omps_msg *hdr, void *payload, size_t cap, int *fd_out);

/* Sends HELLO for role, with an optional extra payload. */
int omps_send_hello(int fd, enum omps_role role, const void *extra, size_t len);

/* Checks a HELLO payload of len bytes; on failure writes the reason to err. */
int omps_check_hello(const void *payload, size_t len, const struct omps_msg *hdr, char *err, size_t errlen);

/* Waits up to ms milliseconds (-1: forever) for fd to become readable.
 * Returns 1 if readable, 0 on timeout, -1 on error. */
int omps_wait_readable(int fd, int ms);

#endif
