/* The data channel, the shim's side (the server's is src/server/channel.c):
 * two rings in a sealed memfd that the server maps, records posted into the
 * request ring, replies and data read from the reply ring, and host memory
 * shared over the server's socket. One channel a process: a lock makes its
 * producer side single. A server that is gone is noticed here, and every
 * later call fails with CUDA_ERROR_MPS_RPC_FAILURE after one line: the
 * server's own words when it let this program go (OMPS_MSG_REFUSED). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connect.h"
#include "ring.h"
#include "shim.h"
#include "sock.h"

#define REQUEST_RING (4u << 20)
#define REPLY_RING   (4u << 20)

static struct {
	struct shim_connection conn;
	void *map;
	size_t map_len;
	struct omps_ring req, rep;
	pthread_mutex_t lock;
	int lost;
	atomic_int told;		 /* 2: why holds the server's words */
	char why[OMPS_FAREWELL_MAX]; /* ... as it let this program go */
	atomic_int signalling; /* a thread waits on the reply ring's signal word */
	uint32_t signal_seq;   /* the last one asked for, by that thread */
} ch = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int make_rings(char *err, size_t errlen)
{
	size_t req = omps_ring_bytes(REQUEST_RING);
	int fd = memfd_create("openmps-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ch.map_len = req + omps_ring_bytes(REPLY_RING);
	if (fd < 0 || ftruncate(fd, (off_t)ch.map_len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		snprintf(err, errlen, "cannot create the channel memory: %s", strerror(errno));
		goto fail;
	}
	ch.map = mmap(NULL, ch.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ch.map == MAP_FAILED) {
		ch.map = NULL;
		snprintf(err, errlen, "cannot map the channel memory: %s", strerror(errno));
		goto fail;
	}
	omps_ring_init(&ch.req, ch.map, REQUEST_RING);
	omps_ring_init(&ch.rep, (char *)ch.map + req, REPLY_RING);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Sends the rings to the server over the connection the daemon brokered
 * (kept from then on); takes the device cache it answers with. 0; -1 if
 * refused; -2 if the server went meanwhile. */
int shim_channel_open(const struct shim_connection *conn, struct omps_device_info *devs, int *ndevs, char *err,
		      size_t errlen)
{
	struct omps_channel_open o = {.request_ring = REQUEST_RING, .reply_ring = REPLY_RING};
	int fd = make_rings(err, errlen), n = 0, r;

	if (fd < 0)
		return -1;
	ch.conn = *conn;
	r = omps_send(ch.conn.server_fd, OMPS_MSG_CHANNEL_OPEN, 0, 0, &o, sizeof(o), fd, 1);
	close(fd);
	if (r < 0)
		goto lost;
	for (;;) {
		struct omps_msg hdr;
		char buf[OMPS_MSG_MAX];
		int bell = -1;
		ssize_t len = omps_recv(ch.conn.server_fd, &hdr, buf, sizeof(buf) - 1, &bell);

		if (len < 0)
			goto lost;
		if (hdr.type == OMPS_MSG_CHANNEL_READY && hdr.status == 0 && bell >= 0) {
			ch.req.doorbell = bell; /* rung when the server has parked the ring */
			break;
		}
		if (bell >= 0)
			close(bell);
		if (hdr.type == OMPS_MSG_DEVICE_INFO && (size_t)len == sizeof(devs[0]) && n < OMPS_MAX_DEVICES) {
			memcpy(&devs[n++], buf, sizeof(devs[0]));
			continue;
		}
		buf[len] = '\0';
		if (hdr.type == OMPS_MSG_CHANNEL_READY && hdr.status == 0)
			strcpy(buf, "no doorbell");
		snprintf(err, errlen, "the server refused the data channel: %s", hdr.type == OMPS_MSG_CHANNEL_READY ? buf : "?");
		return -1;
	}
	*ndevs = n;
	return 0;
lost:
	snprintf(err, errlen, "lost the openmps server while opening the data channel: %s",
		 errno ? strerror(errno) : "it closed the connection");
	munmap(ch.map, ch.map_len); /* the server's copy went with it; another try makes new rings */
	ch.map = NULL;
	return -2;
}

/* The server's words to a program it lets go, kept once (by whichever
 * thread read them) for lost()'s line. */
static void told(const char *text, size_t n)
{
	int none = 0;

	if (!atomic_compare_exchange_strong(&ch.told, &none, 1))
		return;
	snprintf(ch.why, sizeof(ch.why), "%.*s", (int)n, text);
	atomic_store(&ch.told, 2);
}

/* Reads a farewell waiting on the socket; anything else (a host memory
 * answer another thread waits for) stays there. */
static void read_farewell(void)
{
	char text[OMPS_FAREWELL_MAX];
	struct omps_msg hdr;
	ssize_t n = recv(ch.conn.server_fd, &hdr, sizeof(hdr), MSG_DONTWAIT | MSG_PEEK);

	if (n != (ssize_t)sizeof(hdr) || hdr.type != OMPS_MSG_REFUSED)
		return;
	n = omps_recv(ch.conn.server_fd, &hdr, text, sizeof(text), NULL);
	if (n >= 0 && hdr.type == OMPS_MSG_REFUSED)
		told(text, (size_t)n);
}

/* The server is gone if its socket says so, or it said farewell. */
static int server_gone(void)
{
	struct pollfd p = {.fd = ch.conn.server_fd, .events = POLLIN};
	char c;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	read_farewell();
	if (atomic_load(&ch.told))
		return 1;
	return recv(ch.conn.server_fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0;
}

static CUresult lost(void)
{
	if (!ch.lost && atomic_load(&ch.told) == 2)
		fprintf(stderr, "openmps: %s; CUDA calls fail from now on\n", ch.why);
	else if (!ch.lost)
		fprintf(stderr, "openmps: lost the openmps server; CUDA calls fail from now on\n");
	ch.lost = 1;
	return CUDA_ERROR_MPS_RPC_FAILURE;
}

static CUresult push(uint32_t type, const void *args, size_t len, const void *data, size_t data_len)
{
	unsigned char *p;

	if (ch.lost)
		return CUDA_ERROR_MPS_RPC_FAILURE;
	while (!(p = omps_ring_reserve(&ch.req, type, (uint32_t)(len + data_len)))) {
		if (errno != EAGAIN)
			return CUDA_ERROR_INVALID_VALUE;
		if (!omps_ring_wait_space(&ch.req, (uint32_t)(len + data_len), 50, 100) && server_gone())
			return lost();
	}
	if (len)
		memcpy(p, args, len);
	if (data_len)
		memcpy(p + len, data, data_len);
	omps_ring_commit(&ch.req);
	return CUDA_SUCCESS;
}

/* The next record of the reply ring, waiting for it: spinning for up to
 * REPLY_SPIN_US first, as the driver spins in a synchronize by default,
 * because a futex wake-up costs tens of microseconds a reply. Once only: a
 * reply not there by then is far off, and spinning again at each 100 ms
 * check would take 1% of a core a waiting client, which hundreds of them
 * on a few cores take from the server that owes them the replies. */
#define REPLY_SPIN_US 1000
static atomic_int reply_spin_us = REPLY_SPIN_US;

/* The context's scheduling flag: CU_CTX_SCHED_BLOCKING_SYNC waits without
 * spinning, CU_CTX_SCHED_SPIN spins ten times longer, as the driver would
 * (for ever, there); AUTO and YIELD keep the default. */
void shim_channel_schedule(unsigned int sched)
{
	atomic_store(&reply_spin_us, sched == CU_CTX_SCHED_BLOCKING_SYNC ? 0
				     : sched == CU_CTX_SCHED_SPIN	 ? 10 * REPLY_SPIN_US
									 : REPLY_SPIN_US);
}

/* Under the default schedule, a server whose own wait sleeps (crowded:
 * more clients served than half its CPUs, and its spinners taken) advises
 * sleeping too: a spinning client takes the CPU its server needs to launch. */
static int reply_spin(void)
{
	int spin_us = atomic_load(&reply_spin_us);

	return spin_us == REPLY_SPIN_US && omps_ring_slow(&ch.rep) ? 0 : spin_us;
}

static int64_t next_reply(uint32_t *type, void *buf, size_t cap, int spin_us)
{
	for (;;) {
		int64_t n = omps_ring_pop(&ch.rep, type, buf, cap);

		if (n >= 0 || errno != EAGAIN)
			return n;
		if (!omps_ring_wait_data(&ch.rep, spin_us, 100) && server_gone())
			return -1;
		spin_us = 0;
	}
}

CUresult shim_post(uint32_t type, const void *args, size_t len, const void *data, size_t data_len)
{
	CUresult r;

	pthread_mutex_lock(&ch.lock);
	r = push(type, args, len, data, data_len);
	pthread_mutex_unlock(&ch.lock);
	return r;
}

uint32_t shim_post_max(void)
{
	return omps_ring_max_payload(&ch.req) - 64;
}

static CUresult call(uint32_t type, const void *args, size_t len, void *reply, size_t reply_len, int spin_us)
{
	static unsigned char buf[sizeof(struct omps_reply_function)]; /* under ch.lock */
	struct omps_reply rep = {0};
	uint32_t rtype;
	CUresult r;
	int64_t n;

	pthread_mutex_lock(&ch.lock);
	r = push(type, args, len, NULL, 0);
	if (r == CUDA_SUCCESS) {
		n = next_reply(&rtype, buf, sizeof(buf), spin_us);
		if (n < 0 || rtype != OMPS_REPLY || (size_t)n < sizeof(rep)) {
			r = lost();
		} else {
			memcpy(&rep, buf, sizeof(rep));
			memcpy(reply, buf, (size_t)n < reply_len ? (size_t)n : reply_len);
			r = (CUresult)rep.result;
		}
	}
	pthread_mutex_unlock(&ch.lock);
	return r;
}

CUresult shim_call(uint32_t type, const void *args, size_t len, void *reply, size_t reply_len)
{
	return call(type, args, len, reply, reply_len, reply_spin());
}

/* A synchronize (SYNCHRONIZE, STREAM_SYNC or EVENT_SYNC, its record args)
 * that the GPU may answer: asked as SYNC_SIGNAL of the context on dev
 * (handle 0), of stream handle, or of event handle (kind
 * OMPS_SIGNAL_EVENT), the server may queue a write of seq into the reply ring's
 * signal word behind the work, and this thread spins on the word, as the
 * driver spins on its own semaphore. It spins SIGNAL_SPINS times as long
 * as for a reply: the server signals only while the clients it serves fit
 * half its CPUs, and waking from a sleep at the end of every wait of over
 * a millisecond left the GPU idle between two clients' batches. The call
 * itself answers, without a spin of its own, when the word is not there
 * by then (long work, a fault: the server then waits, and knows what
 * happened). One thread a channel waits so at once, so that a word it
 * reads is its own write or a later one; the others, and waits that must
 * not spin (BLOCKING_SYNC, a crowded server's advice), ask the old way. */
#define SIGNAL_SPINS 10
CUresult shim_call_signalled(uint32_t type, const void *args, size_t len, int32_t dev, uint32_t handle,
			     uint32_t kind)
{
	struct omps_call_sync_signal m = {.dev = dev, .handle = handle, .kind = kind};
	struct omps_reply_value rep = {0};
	int spin_us = reply_spin();
	CUresult r;

	if (!spin_us || atomic_exchange(&ch.signalling, 1))
		return shim_call(type, args, len, &rep, sizeof(rep));
	m.seq = ++ch.signal_seq;
	r = shim_call(OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS && rep.value == 1 && !omps_ring_wait_signal(&ch.rep, m.seq, SIGNAL_SPINS * spin_us))
		r = call(type, args, len, &rep, sizeof(rep), 0);
	atomic_store(&ch.signalling, 0);
	return r;
}

CUresult shim_call_read(uint32_t type, const void *args, size_t len, void *dst, uint64_t bytes)
{
	static unsigned char *bounce; /* where a record goes when dst has too little room left */
	uint32_t max = omps_ring_max_payload(&ch.rep), rtype;
	unsigned char *out = dst;
	struct omps_reply rep;
	uint64_t got = 0;
	CUresult r;

	pthread_mutex_lock(&ch.lock);
	if (!bounce && !(bounce = malloc(max))) {
		pthread_mutex_unlock(&ch.lock);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	r = push(type, args, len, NULL, 0);
	while (r == CUDA_SUCCESS) {
		int direct = bytes - got >= max;
		unsigned char *where = direct ? out + got : bounce;
		int64_t n = next_reply(&rtype, where, max, reply_spin());

		if (n >= 0 && rtype == OMPS_REPLY_DATA && (uint64_t)n <= bytes - got) {
			if (!direct)
				memcpy(out + got, where, (size_t)n);
			got += (uint64_t)n;
			continue;
		}
		if (n >= (int64_t)sizeof(rep) && rtype == OMPS_REPLY) {
			memcpy(&rep, where, sizeof(rep));
			r = (CUresult)rep.result;
			if (r == CUDA_SUCCESS && got != bytes)
				r = lost(); /* success without all the data: not our server */
			break;
		}
		r = lost();
	}
	pthread_mutex_unlock(&ch.lock);
	return r;
}

/* Shares host memory (a memfd mapped at addr) with the server, or stops
 * sharing it (fd < 0), over the socket; the server answers each. */
CUresult shim_host_share(uint64_t addr, uint64_t bytes, int fd, uint64_t *device_ptr)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct omps_host_map m = {.addr = addr, .bytes = bytes};
	union {
		struct omps_host_map m;
		char text[OMPS_FAREWELL_MAX];
	} in;
	struct omps_msg hdr;
	CUresult r = CUDA_ERROR_MPS_RPC_FAILURE;
	ssize_t n;

	if (ch.lost)
		return r;
	pthread_mutex_lock(&lock);
	if (omps_send(ch.conn.server_fd, fd >= 0 ? OMPS_MSG_HOST_MAP : OMPS_MSG_HOST_UNMAP, 0, 0, &m, sizeof(m), fd,
		      1) == 0) {
		n = omps_recv(ch.conn.server_fd, &hdr, &in, sizeof(in), NULL);
		if (n == (ssize_t)sizeof(m) && hdr.type == OMPS_MSG_HOST_MAPPED) {
			r = (CUresult)hdr.status;
			m = in.m;
		} else if (n >= 0 && hdr.type == OMPS_MSG_REFUSED) {
			told(in.text, (size_t)n); /* the server let us go: said by lost() */
		}
	}
	pthread_mutex_unlock(&lock);
	if (r == CUDA_SUCCESS && device_ptr)
		*device_ptr = m.device_ptr;
	return r;
}
