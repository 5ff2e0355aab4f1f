/* Messages on SOCK_SEQPACKET: one packet each, descriptors passed along,
 * oversized and short packets rejected, the version checked at hello. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "task.h"
#include "sock.h"

TEST(sock_roundtrip_with_fd)
{
	struct omps_msg hdr;
	char buf[64];
	int sp[2], pp[2], got = -1;
	ssize_t n;

	ASSERT_EQ(omps_sock_pair(sp), 0);
	ASSERT_EQ(pipe(pp), 0);
	ASSERT_EQ(omps_send(sp[0], OMPS_MSG_UI_ANSWER, 1, OMPS_MSGF_MORE, "hello", 5, pp[1], 1), 0);
	n = omps_recv(sp[1], &hdr, buf, sizeof(buf), &got);
	ASSERT_EQ(n, 5);
	ASSERT(!memcmp(buf, "hello", 5));
	ASSERT_EQ(hdr.type, OMPS_MSG_UI_ANSWER);
	ASSERT_EQ(hdr.status, 1);
	ASSERT_EQ(hdr.flags, OMPS_MSGF_MORE);
	ASSERT_GE(got, 0);
	ASSERT_NE(got, pp[1]);
	ASSERT_EQ(write(got, "x", 1), 1);
	ASSERT_EQ(read(pp[0], buf, 1), 1);
	ASSERT_EQ(buf[0], 'x');
	ASSERT(fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);

	/* A descriptor nobody asked for is closed, not leaked. */
	ASSERT_EQ(omps_send(sp[0], OMPS_MSG_WELCOME, 0, 0, NULL, 0, pp[1], 1), 0);
	n = omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(hdr.type, OMPS_MSG_WELCOME);

	close(pp[0]);
	close(pp[1]);
	close(sp[0]);
	n = omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL);
	ASSERT_LT(n, 0);
	ASSERT_EQ(errno, ECONNRESET);
	close(sp[1]);
}

TEST(sock_malformed)
{
	struct omps_msg hdr;
	char big[256] = {0}, buf[16];
	int sp[2];

	ASSERT_EQ(omps_sock_pair(sp), 0);
	ASSERT_EQ(omps_send(sp[0], OMPS_MSG_UI_COMMAND, 0, 0, big, sizeof(big), -1, 1), 0);
	ASSERT_LT(omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL), 0);
	ASSERT_EQ(errno, EMSGSIZE);
	ASSERT_EQ(write(sp[0], "abc", 3), 3); /* shorter than a header */
	ASSERT_LT(omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL), 0);
	ASSERT_EQ(errno, EPROTO);
	ASSERT_LT(omps_send(sp[0], 1, 0, 0, big, OMPS_MSG_MAX, -1, 1), 0);
	ASSERT_EQ(errno, EMSGSIZE);
	close(sp[0]);
	close(sp[1]);
}

TEST(sock_hello)
{
	struct omps_hello h = {.magic = OMPS_MAGIC, .version = OMPS_PROTOCOL_VERSION, .role = OMPS_ROLE_UI};
	struct omps_msg hdr = {.type = OMPS_MSG_HELLO};
	char err[256], want[256];

	ASSERT_EQ(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)), 0);
	ASSERT_LT(omps_check_hello(&h, sizeof(h) - 1, &hdr, err, sizeof(err)), 0);
	h.version = OMPS_PROTOCOL_VERSION + 1;
	ASSERT_LT(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)), 0);
	snprintf(want, sizeof(want),
		 "protocol version %d, but this side speaks version %d: use binaries of one openmps release",
		 OMPS_PROTOCOL_VERSION + 1, OMPS_PROTOCOL_VERSION);
	ASSERT_STR_EQ(err, want);
	h.version = OMPS_PROTOCOL_VERSION;
	h.magic = 0;
	ASSERT_LT(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)), 0);
	ASSERT_STR_EQ(err, "not an openmps peer (magic 0x00000000)");
	hdr.type = OMPS_MSG_UI_COMMAND;
	h.magic = OMPS_MAGIC;
	ASSERT_LT(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)), 0);
}

TEST(sock_peer)
{
	int sp[2];
	pid_t pid;
	uid_t uid;

	ASSERT_EQ(omps_sock_pair(sp), 0);
	ASSERT_EQ(omps_sock_peer(sp[0], &pid, &uid, NULL), 0);
	ASSERT_EQ(pid, getpid());
	ASSERT_EQ(uid, geteuid());
	close(sp[0]);
	close(sp[1]);
}
