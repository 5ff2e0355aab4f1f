#include "sock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr->sun_path, path);
	return 0;
}

int omps_sock_listen(const char *path, int backlog)
{
	struct sockaddr_un addr;
	int fd;

	if (fill_addr(&addr, path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int omps_sock_connect(const char *path)
{
	struct sockaddr_un addr;
	int fd;

	if (fill_addr(&addr, path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int omps_sock_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

int omps_sock_peer(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	if (pid)
		*pid = cred.pid;
	if (uid)
		*uid = cred.uid;
	if (gid)
		*gid = cred.gid;
	return 0;
}

int omps_send_fds(int fd, struct iovec *iov, int iovcnt, const int *fds, unsigned nfds, int block)
{
	union {
		char buf[CMSG_SPACE(OMPS_MAX_PASS_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	if (nfds > OMPS_MAX_PASS_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

int omps_send(int fd, uint32_t type, int32_t status, uint32_t flags, const void *payload, size_t len,
	      int pass_fd, int block)
{
	struct omps_msg hdr = {.type = type, .status = status, .flags = flags};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, len}};

	if (sizeof(hdr) + len > OMPS_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	return omps_send_fds(fd, iov, len ? 2 : 1, &pass_fd, pass_fd >= 0, block);
}

/* Closes every descriptor carried by msg except the one kept in *keep. */
static void take_fds(struct msghdr *msg, int *keep)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (keep && *keep < 0)
				*keep = fd;
			else
				close(fd);
		}
	}
}

ssize_t omps_recv(int fd, struct omps_msg *hdr, void *payload, size_t cap, int *fd_out)
{
	struct iovec iov[2] = {{hdr, sizeof(*hdr)}, {payload, cap}};
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = cap ? 2 : 1};
	ssize_t n;

	if (fd_out)
		*fd_out = -1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	take_fds(&msg, fd_out);
	if (n == 0) {
		errno = ECONNRESET;
		goto fail;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		errno = EMSGSIZE;
		goto fail;
	}
	if (msg.msg_flags & MSG_CTRUNC) { /* a descriptor sent was lost: ours are all taken */
		errno = EMFILE;
		goto fail;
	}
	if ((size_t)n < sizeof(*hdr)) {
		errno = EPROTO;
		goto fail;
	}
	return n - (ssize_t)sizeof(*hdr);
fail:
	if (fd_out && *fd_out >= 0) {
		close(*fd_out);
		*fd_out = -1;
	}
	return -1;
}

int omps_send_hello(int fd, enum omps_role role, const void *extra, size_t len)
{
	char buf[sizeof(struct omps_hello) + sizeof(struct omps_client_info)];
	struct omps_hello h = {.magic = OMPS_MAGIC, .version = OMPS_PROTOCOL_VERSION, .role = role,
			       .pid = getpid()};

	if (len > sizeof(buf) - sizeof(h)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), extra, len);
	return omps_send(fd, OMPS_MSG_HELLO, 0, 0, buf, sizeof(h) + len, -1, 1);
}

int omps_check_hello(const void *payload, size_t len, const struct omps_msg *hdr, char *err, size_t errlen)
{
	struct omps_hello h;

	if (hdr->type != OMPS_MSG_HELLO || len < sizeof(h)) {
		snprintf(err, errlen, "expected a hello message (type %u, %zu bytes)", hdr->type, len);
		return -1;
	}
	memcpy(&h, payload, sizeof(h));
	if (h.magic != OMPS_MAGIC) {
		snprintf(err, errlen, "not an openmps peer (magic 0x%08x)", h.magic);
		return -1;
	}
	if (h.version != OMPS_PROTOCOL_VERSION) {
		snprintf(err, errlen, "protocol version %u, but this side speaks version %u: "
				      "use binaries of one openmps release",
			 h.version, OMPS_PROTOCOL_VERSION);
		return -1;
	}
	return 0;
}

int omps_wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}
