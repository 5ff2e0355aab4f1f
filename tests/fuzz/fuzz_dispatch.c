/* libFuzzer target: the server's decoding and execution of a client's calls
 * (src/server: dispatch.c and every call family), over
 * tests/fakecuda. The input is a sequence of records, each a type (u32), a
 * length (u16) and that many bytes, posted into a client's request ring as
 * its shim would; a worker serves them (srv_channel_run, as the pool does),
 * a thread of the "client" takes the replies, and the client is then
 * released as when it leaves. No input may crash the server, leak, or touch
 * memory outside what the client shared; a bad record ends that client.
 *
 * Two clients share the server: a record whose type has bit 31 set is the
 * second's, so that one may free, capture, replay or unshare while the
 * other allocates (the security review's H1, H4). Two types are not calls
 * but host memory on the client's socket: HOST_SLOT_MAP and
 * HOST_SLOT_UNMAP, whose first payload byte picks one of 8 slots of 64 KiB
 * at a fixed address a client (HOST_BASE, then HOST_BASE + 1 MiB for the
 * second), so that copies and host functions of other records can name
 * them. The second client's rings are page-locked, as a client's are once
 * its worker first serves it, so that its synchronizes and copies are
 * signalled by the (fake) GPU; the first's are not. */
#include <errno.h>
#include <fcntl.h>
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

#include "dispatch_input.h"
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

static struct srv_client *new_client(struct omps_ring *req, struct drain *d, int *peer, int pinned)
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
	srv_qos_client_init(c, &fuzz_limits, &fuzz_limits, NULL);
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
	c->pin_later = pinned; /* its worker page-locks its rings: the GPU signals its waits (signal.c) */
	return c;
}

/* One client of the two, from the fuzzer's side. */
struct side {
	struct omps_ring req;
	struct drain d;
	struct srv_client *c;
	pthread_t t;
	int peer;
	uint64_t base; /* its host memory slots */
};

/* HOST_MAP or HOST_UNMAP of a slot on the client's socket, as its shim
 * sends them (a sealed memfd), served as the server would, and its
 * answer taken. */
static void host_slot(struct side *x, uint32_t type, const uint8_t *data, uint32_t len)
{
	struct omps_host_map m = {.addr = x->base + (uint64_t)(len ? data[0] % 8 : 0) * HOST_SLOT, .bytes = HOST_SLOT};
	struct omps_msg hdr = {.type = type == HOST_SLOT_MAP ? OMPS_MSG_HOST_MAP : OMPS_MSG_HOST_UNMAP};
	char buf[OMPS_MSG_MAX];
	int fd = -1;

	if (type == HOST_SLOT_MAP) {
		fd = memfd_create("fuzz-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, HOST_SLOT) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
			abort();
	}
	srv_host_message(x->c, &hdr, &m, sizeof(m), fd); /* takes fd */
	if (type == HOST_SLOT_UNMAP)
		srv_channel_run(x->c); /* the worker does it, poked */
	while (recv(x->peer, buf, sizeof(buf), 0) < 0 && errno == EINTR)
		;
}

static void post(struct side *x, uint32_t type, const uint8_t *data, uint32_t len)
{
	void *p;

	if (type == HOST_SLOT_MAP || type == HOST_SLOT_UNMAP) {
		host_slot(x, type, data, len);
		return;
	}
	while (!(p = omps_ring_reserve(&x->req, type, len)) && errno == EAGAIN && !x->c->dead)
		srv_channel_run(x->c); /* full: let the server take what is there */
	if (!p) /* gone, or a record no producer can write (the ring's own padding type) */
		return;
	memcpy(p, data, len);
	omps_ring_commit(&x->req);
}

static void start(struct side *x, uint64_t base)
{
	memset(x, 0, sizeof(*x));
	x->base = base;
	x->c = new_client(&x->req, &x->d, &x->peer, base != HOST_BASE);
	x->c->pid = (pid_t)(4242 + (base != HOST_BASE));
	pthread_create(&x->t, NULL, drain_replies, &x->d);
}

static void finish(struct side *x)
{
	srv_channel_run(x->c); /* serves until the ring is empty and parks it */
	atomic_store(&x->d.stop, 1);
	pthread_join(x->t, NULL);
	atomic_store(&x->c->stop, 1);
	srv_channel_run(x->c); /* releases everything it held, and the client */
	close(x->peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side a, b;

	start(&a, HOST_BASE);
	start(&b, HOST_BASE + (1u << 20));
	while (size >= 6 && !(a.c->dead && b.c->dead)) {
		uint32_t type, len;
		struct side *x;

		memcpy(&type, data, 4);
		len = (uint32_t)data[4] | (uint32_t)data[5] << 8;
		data += 6, size -= 6;
		if (len > size)
			len = (uint32_t)size;
		x = type & SECOND ? &b : &a;
		if (!x->c->dead)
			post(x, type & ~SECOND, data, len);
		data += len, size -= len;
	}
	finish(&a);
	finish(&b);
	return 0;
}
