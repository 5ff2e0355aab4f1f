/* A client that breaks the data-channel protocol on purpose, for the
 * end-to-end tests: it joins openmps, opens its data channel, then sends
 * one bad request and waits for the server to drop it.
 *   omps-hostile-client short|unknown|oversized|garbage|handles|unread|slowreader|capture-free|victim
 *     short:     a synchronous call (cuMemAlloc's) with a record too short
 *     unknown:   a record of a type that does not exist
 *     oversized: a launch whose attribute count passes the record's end
 *     garbage:   the ring's indexes overwritten with nonsense
 *     handles:   an event, a module and a function it never had (the
 *                server answers CUDA_ERROR_INVALID_HANDLE and keeps it:
 *                prints "refused 400 400 400" then "kept", exit 0)
 *     unread:    20,000 requests and a channel asked for, no answer read
 *     slowreader: a 64 MiB copy from the device read a record every 2 s
 *                (prints "copying" once it asked for it)
 *     capture-free, victim: memory freed during a capture, and a client
 *                that allocates as much (see capture_free)
 *     truncate:  host memory in a memfd not sealed against shrinking, then
 *                truncated under a copy into it (H4a): prints "map N" (the
 *                server's answer), then "copy N" and "kept" or "dropped"
 *     unmap-replay: a graph that copies into shared host memory, launched
 *                after that memory was unshared (H4b): prints "unmap N",
 *                "replay N", "destroyed", and "kept" while the server lives
 *     maps N:    N ranges of host memory of 4 KiB shared, 8 KiB apart (M5):
 *                prints "mapped K of N, then E" (E: the first refusal's code)
 *     unmap-held GATE: not an attack; see unmap_held
 *     hide:      closes its connection to the daemon and stays (L3): prints
 *                "hidden", then "dropped" or "kept" as the others
 *   omps-hostile-client silent N S
 *     N connections to the control daemon that say nothing: prints
 *     "connected K of N", then "closed C of K within S s" (by the daemon)
 *   omps-hostile-client listen PATH
 *     a daemon that is not one, as a squatter runs it: listens at PATH and
 *     prints "listening", then "connection" and "message of N bytes" for
 *     what it gets; gone after 60 s
 * Prints "dropped" when the server closes the connection within 5 s,
 * "kept" otherwise; exit 0 when dropped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "connect.h"
#include "paths.h"
#include "ring.h"
#include "sock.h"

static struct omps_ring rep; /* the server's answers */

#define RING (1u << 20)

/* Asks for a channel: rings in a sealed memfd, as the shim makes them. */
static int ask_channel(struct shim_connection *c, struct omps_ring *req, void **map)
{
	struct omps_channel_open o = {.request_ring = RING, .reply_ring = RING};
	size_t bytes = omps_ring_bytes(RING);
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

	if (fd < 0 || ftruncate(fd, (off_t)(2 * bytes)) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -1;
	*map = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED)
		return -1;
	omps_ring_init(req, *map, RING);
	omps_ring_init(&rep, (char *)*map + bytes, RING);
	r = omps_send(c->server_fd, OMPS_MSG_CHANNEL_OPEN, 0, 0, &o, sizeof(o), fd, 1);
	close(fd);
	return r;
}

static int open_channel(struct shim_connection *c, struct omps_ring *req, void **map)
{
	if (ask_channel(c, req, map) < 0)
		return -1;
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

/* One synchronous call on the raw ring: its reply into out. */
static int call(struct omps_ring *req, uint32_t type, const void *rec, uint32_t len, void *out, size_t cap)
{
	static unsigned char buf[RING];
	uint32_t rtype;
	int64_t n;

	if (omps_ring_push(req, type, rec, len, 1000) < 0)
		return -1;
	while ((n = omps_ring_pop(&rep, &rtype, buf, sizeof(buf))) < 0)
		if (!omps_ring_wait_data(&rep, 50, 5000))
			return -1;
	memcpy(out, buf, (size_t)n < cap ? (size_t)n : cap);
	return 0;
}

/* The first 16 bytes at ptr on the device, as a copy to pageable memory
 * returns them: a data record (then the reply, left in the ring). */
static int read16(struct omps_ring *req, uint64_t ptr, char out[16])
{
	struct omps_call_copy cp = {.dev = 0, .src = ptr, .bytes = 16};

	omps_ring_push(req, OMPS_CALL_MEMCPY_DTOH, &cp, sizeof(cp), 1000);
	while (omps_ring_pop(&rep, &(uint32_t){0}, out, 16) < 0)
		if (!omps_ring_wait_data(&rep, 50, 5000))
			return -1;
	return 0;
}

/* The security review's H1: device memory freed while a capture that names
 * it is open; the graph is then launched. "capture-free" does it and says
 * the address it freed; "victim" allocates as much, says where, fills it,
 * and reads it back after a while: the two must never be the same memory. */
static int capture_free(struct omps_ring *req, int victim)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_reply_ptr p, q;
	struct omps_reply_handle st, g, ex;
	struct omps_reply r;
	struct omps_call_create sc = {.dev = 0};
	struct omps_call_capture cap = {0};
	struct omps_call_handle end = {0};
	struct omps_call_instantiate inst = {0};
	struct omps_call_copy cp = {.dev = 0, .bytes = 16};
	struct omps_call_memset ms = {.dev = 0, .elem = 1, .value = 'X', .count = 8};
	struct omps_call_ptr f;
	struct omps_call_pair launch = {0};
	char data[16 + sizeof(struct omps_call_copy)], back[16];

	if (call(req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)) || p.r.result)
		return 1;
	if (victim) {
		cp = (struct omps_call_copy){.dev = 0, .dst = p.ptr, .bytes = 16};
		memcpy(data, &cp, sizeof(cp));
		memcpy(data + sizeof(cp), "SECRET-of-victim", 16);
		omps_ring_push(req, OMPS_CALL_MEMCPY_HTOD, data, sizeof(data), 1000);
		printf("victim at 0x%llx\n", (unsigned long long)p.ptr);
		sleep(3);
		if (read16(req, p.ptr, back) < 0)
			return 1;
		printf("victim reads %.16s\n", back);
		return 0;
	}
	a.bytes = 4104;
	if (call(req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &q, sizeof(q)) || q.r.result ||
	    call(req, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc), &st, sizeof(st)) || st.r.result)
		return 1;
	cap.stream = end.handle = launch.second = st.handle;
	if (call(req, OMPS_CALL_CAPTURE_BEGIN, &cap, sizeof(cap), &r, sizeof(r)) || r.result)
		return 1;
	cp = (struct omps_call_copy){.dev = 0, .stream = st.handle, .dst = q.ptr, .src = p.ptr, .bytes = 16};
	omps_ring_push(req, OMPS_CALL_MEMCPY_DTOD, &cp, sizeof(cp), 1000);
	ms.stream = st.handle;
	ms.ptr = p.ptr;
	omps_ring_push(req, OMPS_CALL_MEMSET, &ms, sizeof(ms), 1000);
	f.ptr = p.ptr;
	if (call(req, OMPS_CALL_MEM_FREE, &f, sizeof(f), &r, sizeof(r)) || r.result)
		return 1;
	if (call(req, OMPS_CALL_CAPTURE_END, &end, sizeof(end), &g, sizeof(g)) || g.r.result)
		return 1;
	inst.graph = g.handle;
	if (call(req, OMPS_CALL_GRAPH_INSTANTIATE, &inst, sizeof(inst), &ex, sizeof(ex)) || ex.r.result)
		return 1;
	printf("freed 0x%llx during a capture\n", (unsigned long long)p.ptr);
	sleep(1); /* the victim allocates */
	launch.first = ex.handle;
	omps_ring_push(req, OMPS_CALL_GRAPH_LAUNCH, &launch, sizeof(launch), 1000);
	if (read16(req, q.ptr, back) < 0)
		return 1;
	printf("attacker reads %.16s\n", back);
	return 0;
}

/* The connection closed by the server within 5 s. */
/* HOST_MAP or HOST_UNMAP of [addr, addr + bytes), fd for a map: the
 * server's answer. */
static int host_msg(struct shim_connection *c, uint32_t type, uint64_t addr, uint64_t bytes, int fd)
{
	struct omps_host_map m = {.addr = addr, .bytes = bytes};
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];

	if (omps_send(c->server_fd, type, 0, 0, &m, sizeof(m), fd, 1) < 0)
		return -1;
	do
		if (omps_recv(c->server_fd, &hdr, buf, sizeof(buf), NULL) < 0)
			return -1;
	while (hdr.type != OMPS_MSG_HOST_MAPPED);
	return (int)hdr.status;
}

/* A memfd of bytes mapped shared here, sealed against shrinking or not. */
static void *host_memory(uint64_t bytes, int seal, int *fd)
{
	void *p;

	*fd = memfd_create("hostile-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0 || ftruncate(*fd, (off_t)bytes) < 0 ||
	    (seal && fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0))
		return NULL;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* H4a: the server must not map what the client can shrink under it. */
static int truncate_attack(struct shim_connection *c, struct omps_ring *req)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_call_dev sync = {.dev = 0};
	struct omps_reply_ptr p;
	struct omps_reply r;
	int fd;
	void *h = host_memory(1 << 20, 0, &fd);

	if (!h || call(req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)) || p.r.result)
		return 1;
	printf("map %d\n", host_msg(c, OMPS_MSG_HOST_MAP, (uintptr_t)h, 1 << 20, fd));
	if (ftruncate(fd, 0) < 0)
		return 1;
	omps_ring_push(req, OMPS_CALL_MEMCPY_DTOH_HOST,
		       &(struct omps_call_copy){.dev = 0, .dst = (uintptr_t)h, .src = p.ptr, .bytes = 4096},
		       sizeof(struct omps_call_copy), 1000);
	if (call(req, OMPS_CALL_SYNCHRONIZE, &sync, sizeof(sync), &r, sizeof(r)))
		return 1;
	printf("copy %d\n", r.result);
	return 0;
}

/* H4b: shared host memory named by a graph, unshared, then the graph
 * launched. */
static int unmap_replay(struct shim_connection *c, struct omps_ring *req)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_call_create sc = {.dev = 0};
	struct omps_call_dev sync = {.dev = 0};
	struct omps_call_instantiate inst = {0};
	struct omps_reply_handle st, g, ex;
	struct omps_call_pair launch = {0};
	struct omps_call_capture cap = {0};
	struct omps_call_handle end = {0};
	struct omps_reply_ptr p;
	struct omps_reply r;
	int fd;
	void *h = host_memory(1 << 20, 1, &fd);

	if (!h || call(req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)) || p.r.result ||
	    host_msg(c, OMPS_MSG_HOST_MAP, (uintptr_t)h, 1 << 20, fd) != 0 ||
	    call(req, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc), &st, sizeof(st)) || st.r.result)
		return 1;
	cap.stream = end.handle = launch.second = st.handle;
	if (call(req, OMPS_CALL_CAPTURE_BEGIN, &cap, sizeof(cap), &r, sizeof(r)) || r.result)
		return 1;
	omps_ring_push(req, OMPS_CALL_MEMCPY_DTOH_HOST,
		       &(struct omps_call_copy){.dev = 0, .stream = st.handle, .dst = (uintptr_t)h, .src = p.ptr,
						.bytes = 4096},
		       sizeof(struct omps_call_copy), 1000);
	if (call(req, OMPS_CALL_CAPTURE_END, &end, sizeof(end), &g, sizeof(g)) || g.r.result)
		return 1;
	inst.graph = g.handle;
	if (call(req, OMPS_CALL_GRAPH_INSTANTIATE, &inst, sizeof(inst), &ex, sizeof(ex)) || ex.r.result)
		return 1;
	printf("unmap %d\n", host_msg(c, OMPS_MSG_HOST_UNMAP, (uintptr_t)h, 1 << 20, -1));
	munmap(h, 1 << 20);
	close(fd);
	launch.first = ex.handle;
	omps_ring_push(req, OMPS_CALL_GRAPH_LAUNCH, &launch, sizeof(launch), 1000);
	if (call(req, OMPS_CALL_SYNCHRONIZE, &sync, sizeof(sync), &r, sizeof(r)))
		return 1;
	printf("replay %d\n", r.result);
	omps_ring_push(req, OMPS_CALL_GRAPH_EXEC_DESTROY, &(struct omps_call_handle){ex.handle},
		       sizeof(struct omps_call_handle), 1000);
	omps_ring_push(req, OMPS_CALL_GRAPH_DESTROY, &(struct omps_call_handle){g.handle},
		       sizeof(struct omps_call_handle), 1000);
	if (call(req, OMPS_CALL_SYNCHRONIZE, &sync, sizeof(sync), &r, sizeof(r)))
		return 1;
	printf("destroyed\n");
	return 0;
}

/* Not an attack: host memory unshared while its client's worker serves a
 * call that a GPU fault then fails (test_fault.sh makes the server's
 * synchronize slow, and the context poisoned under it). Once GATE exists
 * it sends a synchronize, and 100 ms later, while the server is in it,
 * unshares its host memory; prints "unmap N after T ms" (the answer, and
 * how long it took), then "synchronize N" (the held call's answer, from the
 * server made anew). */
static int unmap_held(struct shim_connection *c, struct omps_ring *req, const char *gate)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_call_memset ms = {.dev = 0, .elem = 1, .value = 1, .count = 4096};
	struct omps_call_dev sync = {.dev = 0};
	struct timespec t0, t1;
	struct omps_reply_ptr p;
	unsigned char buf[256];
	uint32_t rtype;
	int fd, st;
	void *h = host_memory(1 << 20, 1, &fd);

	if (!h || host_msg(c, OMPS_MSG_HOST_MAP, (uintptr_t)h, 1 << 20, fd) != 0 ||
	    call(req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)) || p.r.result)
		return 1;
	close(fd);
	printf("ready\n");
	for (int i = 0; i < 600 && access(gate, F_OK) < 0; i++)
		usleep(50000);
	ms.ptr = p.ptr; /* work queued, which the synchronize then waits for */
	if (omps_ring_push(req, OMPS_CALL_MEMSET, &ms, sizeof(ms), 1000) < 0 ||
	    omps_ring_push(req, OMPS_CALL_SYNCHRONIZE, &sync, sizeof(sync), 1000) < 0)
		return 1;
	usleep(100000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = host_msg(c, OMPS_MSG_HOST_UNMAP, (uintptr_t)h, 1 << 20, -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("unmap %d after %ld ms\n", st,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	while (omps_ring_pop(&rep, &rtype, buf, sizeof(buf)) < 0)
		if (!omps_ring_wait_data(&rep, 50, 10000))
			return 1;
	printf("synchronize %d\n", ((struct omps_reply *)buf)->result);
	return 0;
}

/* M5: as many mappings of host memory as the server will make. */
static int many_maps(struct shim_connection *c, int n)
{
	int fd, i, k = 0, first = 0, r;
	void *h = host_memory(4096, 1, &fd);
	char *at = mmap(NULL, (size_t)n * 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (!h || at == MAP_FAILED)
		return 1;
	munmap(at, (size_t)n * 8192); /* addresses free here, and likely in the server */
	for (i = 0; i < n; i++) {
		r = host_msg(c, OMPS_MSG_HOST_MAP, (uintptr_t)(at + (size_t)i * 8192), 4096, fd);
		if (r < 0)
			return 1;
		k += r == 0;
		if (r && !first)
			first = r;
	}
	printf("mapped %d of %d, then %d\n", k, n, first);
	return 0;
}

/* M4: connections that never say who they are. */
static int silent(int n, int secs)
{
	struct rlimit rl;
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	char path[256];
	int k = 0, closed = 0, i;
	time_t end = time(NULL) + secs;

	if (!p || omps_pipe_path(path, sizeof(path), OMPS_CONTROL_SOCKET) < 0) {
		free(p);
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		p[k].fd = omps_sock_connect(path);
		p[k].events = POLLIN;
		k += p[k].fd >= 0;
	}
	printf("connected %d of %d\n", k, n);
	while (closed < k && time(NULL) < end) {
		if (poll(p, (nfds_t)k, 200) < 0)
			break;
		for (i = 0; i < k; i++) {
			char ch;

			if (p[i].fd >= 0 && p[i].revents && recv(p[i].fd, &ch, 1, MSG_DONTWAIT) <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				closed++;
			}
		}
	}
	printf("closed %d of %d within %d s\n", closed, k, secs);
	free(p);
	return 0;
}

static int fake_daemon(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0), c;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[65536];
	ssize_t n;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		perror(path);
		return 1;
	}
	alarm(60);
	printf("listening\n");
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		printf("connection\n");
		while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
			printf("message of %zd bytes\n", n);
		close(c);
	}
	return 0;
}

/* Whether what came on the server's socket ends it: its close, or its
 * farewell (printed: "told: WHY"), after which it closes. */
static int ends(int fd)
{
	char text[OMPS_FAREWELL_MAX + 1];
	struct omps_msg hdr;
	ssize_t n = omps_recv(fd, &hdr, text, sizeof(text) - 1, NULL);

	if (n < 0)
		return errno == ECONNRESET || errno == EPROTO;
	if (hdr.type != OMPS_MSG_REFUSED)
		return 0;
	text[n] = '\0';
	printf("told: %s\n", text);
	return 1;
}

static int dropped(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (poll(&p, 1, 5000) > 0)
		if (ends(fd))
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
	if (!strcmp(what, "listen") && argc > 2)
		return fake_daemon(argv[2]);
	if (!strcmp(what, "silent") && argc > 3)
		return silent(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(what, "unread")) {
		struct omps_host_map m = {0};
		int i, sent = 0;

		/* Fills its own socket with answers it never reads, then asks
		 * for its channel: the server must not wait on it (M1). */
		if (shim_connect(&c, err, sizeof(err)) != SHIM_CONNECT_OK)
			return 2;
		for (i = 0; i < 20000; i++)
			sent += omps_send(c.server_fd, OMPS_MSG_HOST_UNMAP, 0, 0, &m, sizeof(m), -1, 1) == 0;
		if (ask_channel(&c, &req, &map) < 0) /* and reads none of the answers */
			return 1;
		printf("sent %d requests and its channel, read nothing\n", sent);
		sleep(8); /* stays, unread, while the test checks the server */
		return 0;
	}
	if (shim_connect(&c, err, sizeof(err)) != SHIM_CONNECT_OK || open_channel(&c, &req, &map) < 0) {
		printf("no channel: %s\n", err);
		return 2;
	}
	if (!strcmp(what, "capture-free") || !strcmp(what, "victim"))
		return capture_free(&req, !strcmp(what, "victim"));
	if (!strcmp(what, "maps") && argc > 2) {
		if (many_maps(&c, atoi(argv[2])))
			return 1;
		printf("%s\n", dropped(c.server_fd) ? "dropped" : "kept");
		return 0;
	}
	if (!strcmp(what, "unmap-held") && argc > 2)
		return unmap_held(&c, &req, argv[2]);
	if (!strcmp(what, "hide")) {
		close(c.control_fd); /* ps and terminate_client know a client by it */
		printf("hidden\n");
		printf("%s\n", dropped(c.server_fd) ? "dropped" : "kept");
		return 0;
	}
	if (!strcmp(what, "truncate") || !strcmp(what, "unmap-replay")) {
		if ((!strcmp(what, "truncate") ? truncate_attack : unmap_replay)(&c, &req))
			return 1;
		printf("%s\n", dropped(c.server_fd) ? "dropped" : "kept");
		return 0;
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
		if (call(&req, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &ptr, sizeof(ptr)) < 0)
			return 1;
		cp.src = ptr.ptr;
		omps_ring_push(&req, OMPS_CALL_MEMCPY_DTOH, &cp, sizeof(cp), 1000);
		printf("copying\n");
		fflush(stdout);
		for (s = 0; s < 60; s += 2) {
			struct pollfd pf = {.fd = c.server_fd, .events = POLLIN};

			sleep(2);
			omps_ring_pop(&rep, &type, buf, sizeof(buf));
			if (poll(&pf, 1, 0) > 0 && ends(c.server_fd)) {
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
