/* libFuzzer target: the server's decoding and execution of a client's calls
 * (src/server: dispatch.c and every call family), over
 * tests/fakecuda. The input is a sequence of records, each a type (u32), a
 * length (u16) and that many bytes, posted into a client's request ring as
 * its shim would; a worker serves them (srv_channel_run, as the pool does),
 * a thread of the "client" takes the replies, and the client is then
 * released as when it leaves. No input may crash the server, leak, or touch
 * memory outside what the client shared; a bad record ends that client. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_fixture.h"

#define RING (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every limit set, so that their checks are reached: half the SMs, the
 * lower priority, 64 MiB on device 0. */
static const struct omps_settings fuzz_limits = {
	.atp_milli = 50000, .priority = 1, .nmem = 1, .mem = {{"0", 64u << 20}}};

struct drain {
	struct omps_ring rep; /* the client's side of the reply ring */
	atomic_int stop;
};

static void *drain_replies(void *arg)
{
	static unsigned char buf[RING];
	struct drain *d = arg;
	uint32_t type;

	while (!atomic_load(&d->stop))
		if (omps_ring_pop(&d->rep, &type, buf, sizeof(buf)) < 0)
			omps_ring_wait_data(&d->rep, 10, 5);
	return NULL;
}

static struct srv_client *new_client(struct omps_ring *req, struct drain *d, int *peer)
{
	size_t half = omps_ring_bytes(RING);
	struct srv_client *c = calloc(1, sizeof(*c));
	int sv[2];

	if (!c || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	c->srv = &fuzz_srv;
	c->fd = sv[0];
	*peer = sv[1];
	c->pid = 4242;
	srv_qos_client_init(c, &fuzz_limits, &fuzz_limits);
	pthread_mutex_init(&c->host.lock, NULL);
	pthread_cond_init(&c->host.idle, NULL);
	pthread_mutex_init(&c->run_lock, NULL);
	c->map_len = 2 * half;
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->map == MAP_FAILED || omps_ring_init(req, c->map, RING) < 0 ||
	    omps_ring_init(&d->rep, (char *)c->map + half, RING) < 0 || omps_ring_attach(&c->req, c->map, half) < 0 ||
	    omps_ring_attach(&c->rep, (char *)c->map + half, half) < 0)
		abort();
	c->buf_len = omps_ring_max_payload(&c->req);
	c->buf = malloc(c->buf_len);
	c->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c->buf || c->bell < 0 || srv_workers_park(c, 1) < 0)
		abort();
	req->doorbell = c->bell;
	c->has_worker = 1;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct omps_ring req;
	struct drain d = {0};
	struct srv_client *c;
	pthread_t t;
	int peer;

	c = new_client(&req, &d, &peer);
	pthread_create(&t, NULL, drain_replies, &d);
	while (size >= 6 && !c->dead) {
		uint32_t type, len;
		void *p;

		memcpy(&type, data, 4);
		len = (uint32_t)data[4] | (uint32_t)data[5] << 8;
		data += 6, size -= 6;
		if (len > size)
			len = (uint32_t)size;
		while (!(p = omps_ring_reserve(&req, type, len)) && errno == EAGAIN && !c->dead)
			srv_channel_run(c); /* full: let the server take what is there */
		if (!p && c->dead)
			break;
		if (!p) { /* a record no producer can write (the ring's own padding type) */
			data += len, size -= len;
			continue;
		}
		memcpy(p, data, len);
		omps_ring_commit(&req);
		data += len, size -= len;
	}
	srv_channel_run(c); /* serves until the ring is empty and parks it */
	atomic_store(&d.stop, 1);
	pthread_join(t, NULL);
	atomic_store(&c->stop, 1);
	srv_channel_run(c); /* releases everything it held, and c */
	close(peer);
	return 0;
}
