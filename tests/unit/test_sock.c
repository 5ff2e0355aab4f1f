/* Messages on SOCK_SEQPACKET: one packet each, descriptors passed along,
 * oversized and short packets rejected, the version checked at hello. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "sock.h"

static void test_roundtrip_with_fd(void)
{
	struct omps_msg hdr;
	char buf[64];
	int sp[2], pp[2], got = -1;
	ssize_t n;

	CHECK(omps_sock_pair(sp) == 0);
	CHECK(pipe(pp) == 0);
	CHECK(omps_send(sp[0], OMPS_MSG_UI_ANSWER, 1, OMPS_MSGF_MORE, "hello", 5, pp[1], 1) == 0);
	n = omps_recv(sp[1], &hdr, buf, sizeof(buf), &got);
	CHECK(n == 5 && !memcmp(buf, "hello", 5));
	CHECK(hdr.type == OMPS_MSG_UI_ANSWER && hdr.status == 1 && hdr.flags == OMPS_MSGF_MORE);
	CHECK(got >= 0 && got != pp[1]);
	CHECK(write(got, "x", 1) == 1 && read(pp[0], buf, 1) == 1 && buf[0] == 'x');
	CHECK(fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);

	/* A descriptor nobody asked for is closed, not leaked. */
	CHECK(omps_send(sp[0], OMPS_MSG_WELCOME, 0, 0, NULL, 0, pp[1], 1) == 0);
	n = omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL);
	CHECK(n == 0 && hdr.type == OMPS_MSG_WELCOME);

	close(pp[0]);
	close(pp[1]);
	close(sp[0]);
	n = omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL);
	CHECK(n < 0 && errno == ECONNRESET);
	close(sp[1]);
}

static void test_malformed(void)
{
	struct omps_msg hdr;
	char big[256] = {0}, buf[16];
	int sp[2];

	CHECK(omps_sock_pair(sp) == 0);
	CHECK(omps_send(sp[0], OMPS_MSG_UI_COMMAND, 0, 0, big, sizeof(big), -1, 1) == 0);
	CHECK(omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL) < 0 && errno == EMSGSIZE);
	CHECK(write(sp[0], "abc", 3) == 3); /* shorter than a header */
	CHECK(omps_recv(sp[1], &hdr, buf, sizeof(buf), NULL) < 0 && errno == EPROTO);
	CHECK(omps_send(sp[0], 1, 0, 0, big, OMPS_MSG_MAX, -1, 1) < 0 && errno == EMSGSIZE);
	close(sp[0]);
	close(sp[1]);
}

static void test_hello(void)
{
	struct omps_hello h = {.magic = OMPS_MAGIC, .version = OMPS_PROTOCOL_VERSION, .role = OMPS_ROLE_UI};
	struct omps_msg hdr = {.type = OMPS_MSG_HELLO};
	char err[256], want[256];

	CHECK(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)) == 0);
	CHECK(omps_check_hello(&h, sizeof(h) - 1, &hdr, err, sizeof(err)) < 0);
	h.version = OMPS_PROTOCOL_VERSION + 1;
	CHECK(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)) < 0);
	snprintf(want, sizeof(want),
		 "protocol version %d, but this side speaks version %d: use binaries of one openmps release",
		 OMPS_PROTOCOL_VERSION + 1, OMPS_PROTOCOL_VERSION);
	CHECK_STR(err, want);
	h.version = OMPS_PROTOCOL_VERSION;
	h.magic = 0;
	CHECK(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)) < 0);
	CHECK_STR(err, "not an openmps peer (magic 0x00000000)");
	hdr.type = OMPS_MSG_UI_COMMAND;
	h.magic = OMPS_MAGIC;
	CHECK(omps_check_hello(&h, sizeof(h), &hdr, err, sizeof(err)) < 0);
}

static void test_peer(void)
{
	int sp[2];
	pid_t pid;
	uid_t uid;

	CHECK(omps_sock_pair(sp) == 0);
	CHECK(omps_sock_peer(sp[0], &pid, &uid, NULL) == 0);
	CHECK(pid == getpid() && uid == geteuid());
	close(sp[0]);
	close(sp[1]);
}

int main(void)
{
	test_roundtrip_with_fd();
	test_malformed();
	test_hello();
	test_peer();
	return check_report("sock");
}
