/* A client that breaks the data-channel protocol on purpose, for the
 * end-to-end tests: it joins openmps, opens its data channel, then sends
 * one bad request and waits for the server to drop it.
 *   omps-hostile-client short|unknown|oversized|garbage|handles|unread|slowreader
 *     short:     a synchronous call (cuMemAlloc's) with a record too short
 *     unknown:   a record of a type that does not exist
 *     oversized: a launch whose attribute count passes the record's end
 *     garbage:   the ring's indexes overwritten with nonsense
 *     handles:   an event, a module and a function it never had (the
 *                server answers CUDA_ERROR_INVALID_HANDLE and keeps it:
 *                prints "refused 400 400 400" then "kept", exit 0)
 * Prints "dropped" when the server closes the connection within 5 s,
 * "kept" otherwise; exit 0 when dropped. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "calls.h"
#include "connect.h"
#include "ring.h"
#include "sock.h"

static struct omps_ring rep; /* the server's answers */

#define RING (1u << 20)

static int open_channel(struct shim_connection *c, struct omps_ring *req, void **map)
{
	struct omps_channel_open o = {.request_ring = RING, .reply_ring = RING};
	size_t bytes = omps_ring_bytes(RING);
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)(2 * bytes)) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -1;
	*map = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED)
		return -1;
	omps_ring_init(req, *map, RING);
	omps_ring_init(&rep, (char *)*map + bytes, RING);
	if (omps_send(c->server_fd, OMPS_MSG_CHANNEL_OPEN, 0, 0, &o, sizeof(o), fd, 1) < 0)
		return -1;
	close(fd);
	for (;;) {
		struct omps_msg hdr;
		char buf[OMPS_MSG_MAX];
		int bell = -1;

		if (omps_recv(c->server_fd, &hdr, buf, sizeof(buf), &bell) < 0)
			return -1;
		if (hdr.type == OMPS_MSG_CHANNEL_READY) {
			req->doorbell = bell;
			return hdr.status || bell < 0 ? -1 : 0;
		}
		if (bell >= 0)
			close(bell);
	}
}

/* Asks for a channel and reads none of the answers. */
static int open_channel_unread(struct shim_connection *c)
{
	struct omps_channel_open o = {.request_ring = RING, .reply_ring = RING};
	size_t bytes = omps_ring_bytes(RING);
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct omps_ring r;
	void *map;

	if (fd < 0 || ftruncate(fd, (off_t)(2 * bytes)) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -1;
	map = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	omps_ring_init(&r, map, RING);
	omps_ring_init(&rep, (char *)map + bytes, RING);
	return omps_send(c->server_fd, OMPS_MSG_CHANNEL_OPEN, 0, 0, &o, sizeof(o), fd, 1);
}

/* The connection closed by the server within 5 s. */
static int dropped(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	while (poll(&p, 1, 5000) > 0)
		if (recv(fd, &c, 1, 0) <= 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct shim_connection c;
	struct omps_ring req;
	const char *what = argc > 1 ? argv[1] : "";
	unsigned char *p;
	void *map;
	char err[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(what, "unread")) {
		struct omps_host_map m = {0};
		int i, sent = 0;

		/* Fills its own socket with answers it never reads, then asks
		 * for its channel: the server must not wait on it (M1). */
		if (shim_connect(&c, err, sizeof(err)) != SHIM_CONNECT_OK)
			return 2;
		for (i = 0; i < 20000; i++)
			sent += omps_send(c.server_fd, OMPS_MSG_HOST_UNMAP, 0, 0, &m, sizeof(m), -1, 1) == 0;
		if (open_channel_unread(&c) < 0)
			return 1;
		printf("sent %d requests and its channel, read nothing\n", sent);
		sleep(8); /* stays, unread, while the test checks the server */
		return 0;
	}
	if (shim_connect(&c, err, sizeof(err)) != SHIM_CONNECT_OK || open_channel(&c, &req, &map) < 0) {
		printf("no channel: %s\n", err);
		return 2;
	}
	if (!strcmp(what, "short")) {
		p = omps_ring_reserve(&req, OMPS_CALL_MEM_ALLOC, 3);
		memset(p, 0, 3);
		omps_ring_commit(&req);
	} else if (!strcmp(what, "unknown")) {
		omps_ring_reserve(&req, 999, 0);
		omps_ring_commit(&req);
	} else if (!strcmp(what, "oversized")) {
		struct omps_call_launch m = {.function = 1, .nattrs = 1000000, .args_size = 0};

		p = omps_ring_reserve(&req, OMPS_CALL_LAUNCH, sizeof(m));
		memcpy(p, &m, sizeof(m));
		omps_ring_commit(&req);
	} else if (!strcmp(what, "handles")) {
		struct omps_call_handle ev = {12345}, mod = {77};
		struct omps_call_get_function fn = {.module = 5, .name = "twice"};
		struct omps_reply r[3];
		uint32_t type;
		int i;

		omps_ring_push(&req, OMPS_CALL_EVENT_SYNC, &ev, sizeof(ev), 1000);
		omps_ring_push(&req, OMPS_CALL_MODULE_UNLOAD, &mod, sizeof(mod), 1000);
		omps_ring_push(&req, OMPS_CALL_GET_FUNCTION, &fn, sizeof(fn), 1000);
		for (i = 0; i < 3; i++) {
			static unsigned char buf[sizeof(struct omps_reply_function)];

			while (omps_ring_pop(&rep, &type, buf, sizeof(buf)) < 0)
				if (!omps_ring_wait_data(&rep, 50, 5000))
					return 1;
			memcpy(&r[i], buf, sizeof(r[i]));
		}
		printf("refused %d %d %d\n", r[0].result, r[1].result, r[2].result);
		if (dropped(c.server_fd))
			return 1;
		printf("kept\n");
		return r[0].result == 400 && r[1].result == 400 && r[2].result == 400 ? 0 : 1;
	} else if (!strcmp(what, "slowreader")) {
		struct omps_call_alloc a = {.dev = 0, .bytes = 64u << 20};
		struct omps_call_copy cp = {.dev = 0, .bytes = 64u << 20};
		static unsigned char buf[RING];
		struct omps_reply_ptr ptr;
		uint32_t type;
		int s;

		/* A copy of 64 MiB from the device, its reply ring read one
		 * record every 2 s (SECURITY M2): let go after its deadline. */
		omps_ring_push(&req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), 1000);
		while (omps_ring_pop(&rep, &type, buf, sizeof(buf)) < 0)
			if (!omps_ring_wait_data(&rep, 50, 5000))
				return 1;
		memcpy(&ptr, buf, sizeof(ptr));
		cp.src = ptr.ptr;
		omps_ring_push(&req, OMPS_CALL_MEMCPY_DTOH, &cp, sizeof(cp), 1000);
		for (s = 0; s < 60; s += 2) {
			struct pollfd pf = {.fd = c.server_fd, .events = POLLIN};
			char ch;

			sleep(2);
			omps_ring_pop(&rep, &type, buf, sizeof(buf));
			if (poll(&pf, 1, 0) > 0 && recv(c.server_fd, &ch, 1, MSG_DONTWAIT) <= 0) {
				printf("dropped after %d s\n", s + 2);
				return 0;
			}
		}
		printf("kept\n");
		return 1;
	} else if (!strcmp(what, "garbage")) {
		uint64_t one = 1;

		memset(map, 0xa5, 256); /* the shared header: indexes and all */
		if (write(req.doorbell, &one, sizeof(one)) < 0) /* as a commit to a parked ring does */
			return 1;
	} else {
		fprintf(stderr, "usage: omps-hostile-client short|unknown|oversized|garbage|handles|unread\n");
		return 2;
	}
	if (!dropped(c.server_fd)) {
		printf("kept\n");
		return 1;
	}
	printf("dropped\n");
	return 0;
}
