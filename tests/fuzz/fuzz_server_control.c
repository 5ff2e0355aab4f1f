/* libFuzzer target: the server's reading of its control daemon's messages
 * (src/server/control.c: admissions, settings, shutdown, terminations,
 * departures, pings), over tests/fakecuda. The input is a sequence of
 * packets, each a flag byte, a length (u16) and that many bytes; flag bit 0
 * sends one end of a new socket pair with the packet, as an admission
 * carries a client's connection. Each is read as the main loop would; the
 * daemon's end takes any answer. Then every client admitted is removed as
 * at the server's exit. No input may crash the server or leak; a shutdown
 * only says that the loop should end. */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_fixture.h"
#include "sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(int fd)
{
	char buf[OMPS_MSG_MAX];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct omps_settings saved = fuzz_srv.settings;
	int sv[2], peers[64], npeers = 0;

	if (omps_sock_pair(sv) < 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fuzz_srv.control_fd = sv[0];
	while (size >= 3 && fuzz_srv.control_fd >= 0 && !fuzz_srv.exit_why) {
		int flags = data[0], pair[2] = {-1, -1};
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;
		struct iovec iov;

		data += 3, size -= 3;
		if (len > size)
			len = size;
		iov = (struct iovec){(void *)data, len};
		if (flags & 1 && npeers < 64 && omps_sock_pair(pair) == 0)
			peers[npeers++] = pair[1];
		if (omps_send_fds(sv[1], &iov, 1, &pair[0], pair[0] >= 0, 0) == 0)
			srv_control_readable(&fuzz_srv);
		if (pair[0] >= 0)
			close(pair[0]);
		drain(sv[1]);
		data += len, size -= len;
	}
	while (fuzz_srv.clients)
		srv_client_remove(&fuzz_srv, fuzz_srv.clients, "was removed at the input's end");
	if (fuzz_srv.control_fd >= 0)
		close(fuzz_srv.control_fd);
	close(sv[1]);
	while (npeers)
		close(peers[--npeers]);
	fuzz_srv.control_fd = -1;
	fuzz_srv.exit_why = NULL;
	fuzz_srv.draining = 0;
	fuzz_srv.settings = saved;
	return 0;
}
