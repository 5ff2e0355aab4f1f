/* The server's logic over tests/fakecuda, without threads or a daemon: a
 * state made by srv_state_init as main.c makes it, clients whose rings are
 * plain memory, and records handed to srv_dispatch as a worker hands them
 * (after srv_qos_check). Each test runs in a process of its own. */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "task.h"

#define RING (256u << 10)

static struct srv_driver drv;
static struct srv_state st = {.control_fd = -1, .usage_fd = -1};

static void server_up(void)
{
	char err[256] = "";

	setenv("OPENMPS_DRIVER_PATH", FAKECUDA_PATH, 1);
	setenv("FAKECUDA_MEMORY_MB", "64", 1);
	omps_log_init("Test", -1, getenv("TEST_VERBOSE") != NULL);
	if (srv_state_init(&st, &drv, err, sizeof(err)) < 0)
		TASK_FAIL("srv_state_init: %s", err);
}

static struct srv_client *client(const struct omps_settings *limits)
{
	static const struct omps_settings none = {.priority = -1};
	size_t half = omps_ring_bytes(RING);
	struct srv_client *c = calloc(1, sizeof(*c));
	struct omps_ring req, rep;
	int sv[2];

	ASSERT_NOT_NULL(c);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	c->srv = &st;
	c->fd = sv[0];
	c->pid = 4242;
	srv_qos_client_init(c, limits ? limits : &none, limits ? limits : &none, NULL);
	pthread_mutex_init(&c->host.lock, NULL);
	pthread_cond_init(&c->host.idle, NULL);
	pthread_mutex_init(&c->run_lock, NULL);
	c->map_len = 2 * half;
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT(c->map != MAP_FAILED);
	ASSERT_EQ(omps_ring_init(&req, c->map, RING), 0);
	ASSERT_EQ(omps_ring_init(&rep, (char *)c->map + half, RING), 0);
	ASSERT_EQ(omps_ring_attach(&c->req, c->map, half), 0);
	ASSERT_EQ(omps_ring_attach(&c->rep, (char *)c->map + half, half), 0);
	c->buf_len = omps_ring_max_payload(&c->req);
	c->buf = malloc(c->buf_len);
	c->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_NOT_NULL(c->buf);
	ASSERT_GE(c->bell, 0);
	c->has_worker = 1;
	return c;
}

/* As a worker serves a record; returns the reply's length (-1: none). */
static int64_t call(struct srv_client *c, uint32_t type, const void *rec, size_t len, void *reply, size_t cap)
{
	struct omps_ring replies; /* the client's side of its reply ring */
	uint32_t rtype = 0;
	int64_t n;

	memcpy(c->buf, rec, len);
	srv_qos_check(c);
	srv_dispatch(c, type, c->buf, len);
	ASSERT_EQ(omps_ring_attach(&replies, (char *)c->map + c->map_len / 2, c->map_len / 2), 0);
	n = omps_ring_pop(&replies, &rtype, reply, cap);
	if (n >= 0)
		ASSERT_EQ(rtype, OMPS_REPLY);
	return n;
}

/* Releases everything it held, as when it leaves. */
static void leave(struct srv_client *c)
{
	srv_channel_stop(c);
	srv_channel_run(c);
}

TEST(server_dispatch_lengths)
{
	struct omps_call_dev dev = {0};
	struct omps_reply_info info;
	unsigned char junk[8] = {0};
	struct srv_client *c;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_MEM_GET_INFO, &dev, sizeof(dev), &info, sizeof(info)), sizeof(info));
	ASSERT_EQ(info.r.result, CUDA_SUCCESS);
	ASSERT_UEQ(info.total, 64u << 20);
	ASSERT_EQ(c->dead, 0);
	/* A record one byte short ends the client, unanswered. */
	ASSERT_EQ(call(c, OMPS_CALL_MEM_GET_INFO, &dev, sizeof(dev) - 1, &info, sizeof(info)), -1);
	ASSERT_EQ(c->dead, 1);
	leave(c);

	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_END + 3, junk, sizeof(junk), &info, sizeof(info)), -1);
	ASSERT_EQ(c->dead, 1);
	leave(c);
}

TEST(server_handles)
{
	struct srv_client *c, *other;
	int a, b;

	server_up();
	c = client(NULL);
	other = client(NULL);
	a = (int)srv_object_add(&c->streams, &c->nstreams, &a, 0);
	b = (int)srv_object_add(&c->streams, &c->nstreams, &b, 0);
	ASSERT_EQ(a, 1);
	ASSERT_EQ(b, 2);
	ASSERT_PTR_EQ(srv_object_find(c, c->streams, c->nstreams, 2, "stream")->obj, &b);
	ASSERT_NULL(srv_object_find(c, c->streams, c->nstreams, 0, "stream"));
	ASSERT_NULL(srv_object_find(c, c->streams, c->nstreams, 3, "stream"));
	/* Handles are indexes into the client's own table: another's are not its. */
	ASSERT_NULL(srv_object_find(other, other->streams, other->nstreams, 1, "stream"));
	ASSERT_EQ(atomic_load(&c->refusals), 2); /* each logged */
	c->streams[0].obj = c->streams[1].obj = NULL; /* not driver streams: nothing to destroy */
	leave(c);
	leave(other);
}

/* A server over two fake GPUs, and a client of it. */
static struct srv_client *two_devices(void)
{
	setenv("FAKECUDA_DEVICES", "2", 1);
	server_up();
	ASSERT_UEQ(st.devices.ndevices, 2);
	return client(NULL);
}

/* A call that names a stream is on the stream's device, as the driver has
 * it, whatever device the client had current; a device that is none of
 * the server's is refused with a stream named too (fuzz_dispatch: handlers
 * indexed their tables by it, and a quiet stream made for "device 1" on a
 * one-device server was never destroyed). */
TEST(server_stream_device)
{
	struct omps_call_create sc = {.dev = 0, .flags = CU_STREAM_NON_BLOCKING};
	struct omps_call_alloc m = {.bytes = 4096};
	struct omps_reply_handle s;
	struct omps_reply_ptr p;
	struct srv_client *c;

	c = two_devices();
	ASSERT_EQ(call(c, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc), &s, sizeof(s)), sizeof(s));
	ASSERT_EQ(s.r.result, CUDA_SUCCESS);
	m.reserved = s.handle;
	m.dev = 1; /* device 1 current, a stream of device 0's */
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC_ASYNC, &m, sizeof(m), &p, sizeof(p)), sizeof(p));
	ASSERT_EQ(p.r.result, CUDA_SUCCESS);
	ASSERT_NOT_NULL(c->mem.allocs);
	ASSERT_EQ(c->mem.allocs->dev, 0);
	ASSERT_NOT_NULL(c->mem.quiet[0]);
	ASSERT_NULL(c->mem.quiet[1]);
	m.dev = 2;
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC_ASYNC, &m, sizeof(m), &p, sizeof(p)), sizeof(p));
	ASSERT_EQ(p.r.result, CUDA_ERROR_INVALID_DEVICE);
	m.dev = -7;
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC_ASYNC, &m, sizeof(m), &p, sizeof(p)), sizeof(p));
	ASSERT_EQ(p.r.result, CUDA_ERROR_INVALID_DEVICE);
	ASSERT_NULL(c->mem.quiet[2]);
	ASSERT_EQ(c->mem.allocs->next, NULL);
	leave(c);
	unsetenv("FAKECUDA_DEVICES");
}

TEST(server_memory_limit)
{
	static const struct omps_settings limit = {.priority = -1, .nmem = 1, .mem = {{"0", 1u << 20}}};
	struct omps_call_alloc a = {.dev = 0, .bytes = 512u << 10};
	struct omps_reply_ptr p, q;
	struct omps_reply r;
	struct omps_call_ptr f;
	struct srv_client *c;

	server_up();
	c = client(&limit);
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	ASSERT_EQ(p.r.result, CUDA_SUCCESS);
	ASSERT_UEQ(srv_qos_used(c, 0), 512u << 10);
	a.bytes = 768u << 10; /* 1.25 MiB in all: past its limit */
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &q, sizeof(q)), sizeof(q));
	ASSERT_EQ(q.r.result, CUDA_ERROR_OUT_OF_MEMORY);
	f.ptr = p.ptr;
	ASSERT_EQ(call(c, OMPS_CALL_MEM_FREE, &f, sizeof(f), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_UEQ(srv_qos_used(c, 0), 0);
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &q, sizeof(q)), sizeof(q));
	ASSERT_EQ(q.r.result, CUDA_SUCCESS);
	/* Freeing what is not its own is refused; its allocation stays. */
	f.ptr = q.ptr + 4096;
	ASSERT_EQ(call(c, OMPS_CALL_MEM_FREE, &f, sizeof(f), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(r.result, CUDA_ERROR_INVALID_VALUE);
	ASSERT_UEQ(srv_qos_used(c, 0), 768u << 10);
	leave(c);
}

/* A client that sees only the server's second GPU (CUDA_VISIBLE_DEVICES=1)
 * names it 0: its records land there, and its ordinal 1 names nothing. */
TEST(server_device_view)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 256u << 10};
	struct omps_call_ptr g;
	struct omps_reply_ipc ipc;
	struct omps_reply_ptr p;
	struct srv_client *c;

	c = two_devices();
	c->nview = 1;
	c->view[0] = 1;
	c->remapped = 1;
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	ASSERT_EQ(p.r.result, CUDA_SUCCESS);
	ASSERT_UEQ(srv_qos_used(c, 1), 256u << 10);
	ASSERT_UEQ(srv_qos_used(c, 0), 0);
	g.ptr = p.ptr; /* the replies that name a device name the client's */
	ASSERT_EQ(call(c, OMPS_CALL_IPC_GET, &g, sizeof(g), &ipc, sizeof(ipc)), sizeof(ipc));
	ASSERT_EQ(ipc.r.result, CUDA_SUCCESS);
	ASSERT_EQ(ipc.dev, 0);
	a.dev = 1;
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	ASSERT_EQ(p.r.result, CUDA_ERROR_INVALID_DEVICE);
	ASSERT_UEQ(srv_qos_used(c, 0), 0);
	leave(c);
}

/* The arena (arena.c) on fakecuda's 64 MiB, whose device memory is host
 * memory: read and written here directly. */
static CUstream arena_stream(void)
{
	struct srv_client *c = client(NULL);
	CUstream z = NULL;

	ASSERT_EQ(srv_use_device(c, 0, NULL), 0);
	ASSERT_EQ(drv.stream_create(&z, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
	return z;
}

static size_t device_free(void)
{
	size_t free_b = 0, total = 0;

	ASSERT_EQ(drv.mem_get_info(&free_b, &total), CUDA_SUCCESS);
	return free_b;
}

/* Small blocks 512-aligned, large ones on the 2 MiB granule; a freed block
 * comes back zeroed at the same address; neighbours freed in any order
 * merge into one span. */
TEST(server_arena_blocks)
{
	CUdeviceptr a, b, c3, d, big;
	CUstream z;

	server_up();
	z = arena_stream();
	ASSERT_EQ(srv_arena_alloc(&st, 0, 100, z, &a), CUDA_SUCCESS);
	ASSERT_UEQ(a % 512, 0);
	ASSERT_UEQ(device_free(), (64u << 20) - (32u << 20)); /* the first chunk: 32 MiB */
	ASSERT_UEQ(srv_arena_spare(&st, 0), (32u << 20) - 512);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 3u << 20, z, &big), CUDA_SUCCESS);
	ASSERT_UEQ(big % (2u << 20), 0);
	memset((void *)(uintptr_t)a, 0xab, 100);
	ASSERT(srv_arena_holds(&st, 0, a + 99));
	ASSERT(!srv_arena_holds(&st, 0, 0x1000));
	ASSERT_EQ(srv_arena_free(&st, 0, a, 100, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 64, z, &b), CUDA_SUCCESS);
	ASSERT_UEQ(b, a); /* first fit, once its free is done */
	ASSERT_EQ(((unsigned char *)(uintptr_t)b)[0], 0);
	ASSERT_EQ(((unsigned char *)(uintptr_t)b)[99], 0); /* the whole block was zeroed */
	ASSERT_EQ(srv_arena_alloc(&st, 0, 600u << 10, z, &c3), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 600u << 10, z, &d), CUDA_SUCCESS);
	ASSERT_UEQ(d, c3 + (600u << 10));
	ASSERT_EQ(srv_arena_free(&st, 0, b, 64, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_free(&st, 0, d, 600u << 10, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_free(&st, 0, c3, 600u << 10, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_alloc(&st, 0, (1200u << 10) + 512, z, &d), CUDA_SUCCESS);
	ASSERT_UEQ(d, a); /* b, c3 and d merged */
	ASSERT_EQ(srv_arena_free(&st, 0, 0x1000, 64, z), CUDA_ERROR_INVALID_VALUE); /* in no chunk */
}

/* A block larger than the chunks has one of its own; when a new chunk of
 * the growing size does not fit, idle chunks go back and one of the block's
 * size is made; idle chunks go back at a trim, but one of the first size. */
TEST(server_arena_chunks)
{
	CUdeviceptr a, b, c3, d;
	CUstream z;

	server_up();
	z = arena_stream();
	ASSERT_EQ(srv_arena_alloc(&st, 0, 40u << 20, z, &a), CUDA_SUCCESS); /* a chunk of its own */
	ASSERT_UEQ(device_free(), 24u << 20);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 1u << 20, z, &b), CUDA_SUCCESS); /* 40 MiB more: no; 2 MiB */
	ASSERT_UEQ(device_free(), 22u << 20);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 30u << 20, z, &c3), CUDA_ERROR_OUT_OF_MEMORY);
	ASSERT_EQ(srv_arena_free(&st, 0, b, 1u << 20, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 21u << 20, z, &c3), CUDA_SUCCESS); /* the idle 2 MiB went first */
	ASSERT_UEQ(device_free(), 2u << 20);
	ASSERT_EQ(srv_arena_free(&st, 0, a, 40u << 20, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_free(&st, 0, c3, 21u << 20, z), CUDA_SUCCESS);
	srv_arena_trim(&st, 0);
	ASSERT_UEQ(device_free(), 64u << 20);
	ASSERT_UEQ(srv_arena_spare(&st, 0), 0);
	ASSERT_EQ(srv_arena_alloc(&st, 0, 4096, z, &d), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_free(&st, 0, d, 4096, z), CUDA_SUCCESS);
	srv_arena_trim(&st, 0);
	ASSERT_UEQ(device_free(), 32u << 20); /* a chunk of the first size is kept */
	ASSERT_UEQ(srv_arena_spare(&st, 0), 32u << 20);
}

/* cuMemAllocAsync's blocks (srv_arena_alloc_async): while a free's zeroing
 * is not done (fakecuda's events held busy), a block of the same length
 * freed on the same stream is taken again at once, that stream made to wait
 * for the free; another stream, another length, or cuMemAlloc gets another. */
TEST(server_arena_stream_order)
{
	char gate[] = "/tmp/omps-unit-gate-XXXXXX", waits[] = "/tmp/omps-unit-waits-XXXXXX";
	CUdeviceptr a, b, c3, d;
	CUstream z, s1, s2;
	int fd;

	server_up();
	z = arena_stream();
	ASSERT_EQ(drv.stream_create(&s1, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
	ASSERT_EQ(drv.stream_create(&s2, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
	ASSERT_GE(fd = mkstemp(gate), 0);
	close(fd);
	ASSERT_GE(fd = mkstemp(waits), 0);
	close(fd);
	unlink(waits);
	setenv("FAKECUDA_EVENT_GATE", gate, 1);
	setenv("FAKECUDA_WAIT_LOG", waits, 1);

	ASSERT_EQ(srv_arena_alloc_async(&st, 0, 4096, z, s1, &a), CUDA_SUCCESS);
	memset((void *)(uintptr_t)a, 0xab, 4096);
	ASSERT_EQ(srv_arena_free(&st, 0, a, 4096, s1), CUDA_SUCCESS);
	ASSERT_EQ(access(waits, F_OK), -1);
	ASSERT_EQ(srv_arena_alloc_async(&st, 0, 4096, z, s2, &b), CUDA_SUCCESS);
	ASSERT_UNE(b, a); /* another stream: not before the free is done */
	ASSERT_EQ(srv_arena_alloc_async(&st, 0, 8192, z, s1, &c3), CUDA_SUCCESS);
	ASSERT_UNE(c3, a); /* another length */
	ASSERT_EQ(srv_arena_alloc(&st, 0, 4096, z, &d), CUDA_SUCCESS);
	ASSERT_UNE(d, a); /* cuMemAlloc's: usable at once on any stream */
	ASSERT_EQ(access(waits, F_OK), -1);
	ASSERT_EQ(srv_arena_alloc_async(&st, 0, 4000, z, s1, &d), CUDA_SUCCESS);
	ASSERT_UEQ(d, a); /* the same stream, the same length once rounded: at once */
	ASSERT_EQ(access(waits, F_OK), 0); /* behind the free's event */
	ASSERT_EQ(((unsigned char *)(uintptr_t)d)[4095], 0); /* its zeroing was queued before */
	ASSERT_EQ(srv_arena_alloc_async(&st, 0, 4096, z, s1, &b), CUDA_SUCCESS);
	ASSERT_UNE(b, a); /* taken once only */
	unlink(gate);
	unlink(waits);
}

/* The window of OPENMPS_ARENA_WINDOWS for device 0: its base (0: none). */
static CUdeviceptr window(uint64_t *size)
{
	char buf[256];
	unsigned long long base = 0, len = 0;

	srv_arena_windows(&st, buf, sizeof(buf));
	if (sscanf(buf, "0:%llx:%llx", &base, &len) != 2)
		return 0;
	*size = len;
	return base;
}

/* Chunks are mapped in one address window, reserved as the server starts;
 * a successor told of it (OPENMPS_ARENA_WINDOWS) reserves the same range,
 * and one that cannot have it opens its own at its first chunk. */
TEST(server_arena_window)
{
	CUdeviceptr a, b, w;
	uint64_t size = 0, got = 0;
	char want[64];
	void *hole;
	CUstream z;

	server_up();
	w = window(&size);
	ASSERT(w != 0);
	ASSERT_UEQ(size, 128u << 20); /* twice fakecuda's 64 MiB */
	z = arena_stream();
	ASSERT_EQ(srv_arena_alloc(&st, 0, 40u << 20, z, &a), CUDA_SUCCESS); /* a chunk of its own */
	ASSERT_EQ(srv_arena_alloc(&st, 0, 4096, z, &b), CUDA_SUCCESS);	    /* and one of 32 MiB */
	ASSERT(a >= w && a + (40u << 20) <= w + size);
	ASSERT(b >= w && b + 4096 <= w + size);
	ASSERT_EQ(srv_arena_free(&st, 0, a, 40u << 20, z), CUDA_SUCCESS);
	ASSERT_EQ(srv_arena_free(&st, 0, b, 4096, z), CUDA_SUCCESS);
	srv_arena_trim(&st, 0); /* chunks given back leave their addresses to the next */
	ASSERT_EQ(srv_arena_alloc(&st, 0, 60u << 20, z, &a), CUDA_SUCCESS);
	ASSERT(a >= w && a + (60u << 20) <= w + size);

	/* A free range named: had. A taken one: not, and the window is another. */
	hole = mmap(NULL, 128u << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT(hole != MAP_FAILED);
	munmap(hole, 128u << 20);
	snprintf(want, sizeof(want), "0:%llx:%x", (unsigned long long)(uintptr_t)hole, 128u << 20);
	setenv(SRV_ARENA_WINDOWS_ENV, want, 1);
	memset(&st, 0, sizeof(st));
	server_up();
	ASSERT_UEQ(window(&got), (uintptr_t)hole);
	ASSERT_UEQ(got, 128u << 20);
	snprintf(want, sizeof(want), "0:%llx:%x", (unsigned long long)w, 128u << 20); /* the first state's */
	setenv(SRV_ARENA_WINDOWS_ENV, want, 1);
	memset(&st, 0, sizeof(st));
	server_up();
	ASSERT_UEQ(window(&got), 0); /* none until a chunk is made */
	z = arena_stream();
	ASSERT_EQ(srv_arena_alloc(&st, 0, 4096, z, &a), CUDA_SUCCESS);
	ASSERT(window(&got) != 0 && window(&got) != w);
	unsetenv(SRV_ARENA_WINDOWS_ENV);
}

/* The client's function "twice" (fakecuda: doubles the first n words at
 * p), loaded in a module of its own; *args_size: its packed arguments. */
static uint32_t twice(struct srv_client *c, uint32_t *args_size)
{
	static const char image[] = "// fakecuda\n";
	struct omps_call_module_load load = {.dev = 0, .bytes = sizeof(image) - 1};
	struct omps_call_get_function gf = {.name = "twice"};
	static struct omps_reply_function fr;
	struct omps_reply_handle h;

	ASSERT_EQ(call(c, OMPS_CALL_IMAGE_DATA, image, sizeof(image) - 1, &h, sizeof(h)), -1);
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_LOAD, &load, sizeof(load), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_SUCCESS);
	gf.module = h.handle;
	ASSERT_EQ(call(c, OMPS_CALL_GET_FUNCTION, &gf, sizeof(gf), &fr, sizeof(fr)), sizeof(fr));
	ASSERT_EQ(fr.r.result, CUDA_SUCCESS);
	*args_size = 0;
	for (uint32_t i = 0; i < fr.nparams; i++)
		if (fr.params[i].offset + fr.params[i].size > *args_size)
			*args_size = fr.params[i].offset + fr.params[i].size;
	return fr.handle;
}

/* Launches of twice on a stream, posted into the client's ring as its
 * shim would, and served as a worker serves them. */
static void post_twice(struct srv_client *c, uint32_t fn, uint32_t args_size, CUdeviceptr p, unsigned k,
		       uint32_t stream, const struct omps_call_memset *then)
{
	struct omps_ring prod;
	unsigned char rec[sizeof(struct omps_call_launch) + 64] = {0};
	struct omps_call_launch m = {.function = fn, .grid = {1, 1, 1}, .block = {16, 1, 1}, .args_size = args_size,
				     .stream = stream};
	uint32_t n = 16;

	ASSERT_EQ(omps_ring_attach(&prod, c->map, c->map_len / 2), 0);
	memcpy(rec, &m, sizeof(m));
	memcpy(rec + sizeof(m), &p, sizeof(p));
	memcpy(rec + sizeof(m) + 8, &n, sizeof(n));
	for (unsigned i = 0; i < k; i++)
		ASSERT_EQ(omps_ring_push(&prod, OMPS_CALL_LAUNCH, rec, sizeof(m) + args_size, 0), 0);
	if (then) { /* a memset between two runs: neither crosses it */
		ASSERT_EQ(omps_ring_push(&prod, OMPS_CALL_MEMSET, then, sizeof(*then), 0), 0);
		for (unsigned i = 0; i < k; i++)
			ASSERT_EQ(omps_ring_push(&prod, OMPS_CALL_LAUNCH, rec, sizeof(m) + args_size, 0), 0);
	}
	srv_channel_run(c); /* serves what is there, and parks */
}

/* Launches waiting one after another on a stream go to the GPU as graphs
 * (runs of 2 to 32 kernels; 13 = 8 + 4 + 1), each kernel once and in order;
 * OPENMPS_LAUNCH_RUNS=0 launches each on its own, to the same result. */
TEST(server_launch_runs)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 64};
	struct omps_call_memset set3 = {.value = 3, .elem = 4, .count = 16};
	struct omps_reply_ptr p;
	struct srv_client *c;
	uint32_t fn, args_size, *w;

	for (int off = 0; off < 2; off++) {
		if (off)
			setenv("OPENMPS_LAUNCH_RUNS", "0", 1);
		memset(&st, 0, sizeof(st));
		server_up();
		c = client(NULL);
		ASSERT_EQ(srv_workers_park(c, 1), 0);
		fn = twice(c, &args_size);
		ASSERT_LE(args_size, 64);
		ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
		ASSERT_EQ(p.r.result, CUDA_SUCCESS);
		w = (uint32_t *)(uintptr_t)p.ptr; /* fakecuda's device memory is this process's */
		set3.ptr = p.ptr;
		for (int i = 0; i < 16; i++)
			w[i] = 1;
		post_twice(c, fn, args_size, p.ptr, 13, 0, NULL);
		ASSERT_UEQ(atomic_load(&st.runs_launched), off ? 0 : 2);
		ASSERT_UEQ(w[0], 1u << 13); /* each launch ran once */
		ASSERT_UEQ(w[15], 1u << 13);
		ASSERT_UEQ(c->stats.kernels, 13); /* each counted */
		post_twice(c, fn, args_size, p.ptr, 8, 0, NULL); /* the graph of 8 made before, set anew */
		ASSERT_UEQ(atomic_load(&st.runs_launched), off ? 0 : 3);
		ASSERT_UEQ(w[3], 1u << 21);
		post_twice(c, fn, args_size, p.ptr, 4, 0, &set3);
		ASSERT_UEQ(atomic_load(&st.runs_launched), off ? 0 : 5);
		ASSERT_UEQ(w[7], 3u << 4); /* 4 after the memset, none before it */
		ASSERT_EQ(c->dead, 0);
		leave(c);
	}
	unsetenv("OPENMPS_LAUNCH_RUNS");
}

/* A run a client sends itself is checked entry by entry: one that runs
 * past the record, or a count that does not match, ends the client. */
TEST(server_launch_run_malformed)
{
	unsigned char rec[64] = {0};
	struct omps_call_launch_run *run = (void *)rec;
	uint32_t len = 200;
	struct srv_client *c;

	server_up();
	c = client(NULL);
	run->count = 1;
	memcpy(rec + sizeof(*run), &len, sizeof(len)); /* an entry of 200 bytes in 64 */
	ASSERT_EQ(call(c, OMPS_CALL_LAUNCH_RUN, rec, sizeof(rec), NULL, 0), -1);
	ASSERT_EQ(c->dead, 1);
	leave(c);
	c = client(NULL);
	run->count = 0;
	ASSERT_EQ(call(c, OMPS_CALL_LAUNCH_RUN, rec, sizeof(*run), NULL, 0), -1);
	ASSERT_EQ(c->dead, 1);
	leave(c);
}

/* A module's functions, counted by the driver behind the server: a call
 * added to the table as docs/architecture.md's layout section shows. */
TEST(server_module_function_count)
{
	static const char image[] = "// fakecuda\n";
	struct omps_call_module_load load = {.dev = 0, .bytes = sizeof(image) - 1};
	struct omps_call_handle mod = {0};
	struct omps_reply_handle h;
	struct omps_reply_value v;
	struct srv_client *c;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_IMAGE_DATA, image, sizeof(image) - 1, &h, sizeof(h)), -1); /* posted */
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_LOAD, &load, sizeof(load), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_SUCCESS);
	mod.handle = h.handle;
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_FUNC_COUNT, &mod, sizeof(mod), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_SUCCESS);
	ASSERT_EQ(v.value, 4);
	mod.handle = h.handle + 1; /* not one of its modules */
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_FUNC_COUNT, &mod, sizeof(mod), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_ERROR_INVALID_HANDLE);
	leave(c);
}

/* A module's functions named by index, in the driver's order (fakecuda's:
 * twice first); an index past them or another's module is refused. */
TEST(server_module_function_name)
{
	static const char image[] = "// fakecuda\n";
	struct omps_call_module_load load = {.dev = 0, .bytes = sizeof(image) - 1};
	static struct omps_reply_name name;
	struct omps_call_func_index ix = {0};
	struct omps_reply_handle h;
	struct srv_client *c;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_IMAGE_DATA, image, sizeof(image) - 1, &h, sizeof(h)), -1); /* posted */
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_LOAD, &load, sizeof(load), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_SUCCESS);
	ix.module = h.handle;
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_FUNC_NAME, &ix, sizeof(ix), &name, sizeof(name)), sizeof(name));
	ASSERT_EQ(name.r.result, CUDA_SUCCESS);
	ASSERT_STR_EQ(name.name, "twice");
	ix.index = 3;
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_FUNC_NAME, &ix, sizeof(ix), &name, sizeof(name)), sizeof(name));
	ASSERT_EQ(name.r.result, CUDA_SUCCESS);
	ASSERT(strcmp(name.name, "twice") != 0);
	ix.index = 4;
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_FUNC_NAME, &ix, sizeof(ix), &name, sizeof(name)), sizeof(name));
	ASSERT_EQ(name.r.result, CUDA_ERROR_INVALID_VALUE);
	ix.index = 0;
	ix.module = h.handle + 1;
	ASSERT_EQ(call(c, OMPS_CALL_MODULE_FUNC_NAME, &ix, sizeof(ix), &name, sizeof(name)), sizeof(name));
	ASSERT_EQ(name.r.result, CUDA_ERROR_INVALID_HANDLE);
	leave(c);
}

/* The JIT linker as a hostile client would drive it: an option whose value
 * is an address, too many options, an input not sent, an input of no type,
 * a read of what is not there, another's handle: each refused, the state
 * still usable; a good link then completes with its logs sized. */
TEST(server_link_refusals)
{
	static const char image[] = "// fakecuda\n";
	static struct omps_call_link_create cr;
	static struct omps_call_link_add add;
	struct omps_call_link_read rd = {0};
	struct omps_call_handle h1 = {.handle = 1};
	struct omps_reply_handle h;
	struct omps_reply_link rl;
	struct omps_reply rep;
	struct srv_client *c;
	unsigned before, i;

	server_up();
	c = client(NULL);
	cr.nopts = 1;
	cr.opts[0] = (struct omps_jit_option){.option = CU_JIT_INFO_LOG_BUFFER, .value = 0x1000};
	before = atomic_load(&c->refusals);
	ASSERT_EQ(call(c, OMPS_CALL_LINK_CREATE, &cr, sizeof(cr), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_ERROR_INVALID_VALUE);
	ASSERT_EQ(atomic_load(&c->refusals), before + 1); /* logged */
	cr.nopts = OMPS_LINK_MAX_OPTIONS + 1;
	ASSERT_EQ(call(c, OMPS_CALL_LINK_CREATE, &cr, sizeof(cr), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_ERROR_INVALID_VALUE);
	cr.nopts = 1;
	cr.opts[0] = (struct omps_jit_option){.option = CU_JIT_OPTIMIZATION_LEVEL, .value = 3};
	cr.info_log = 64;
	ASSERT_EQ(call(c, OMPS_CALL_LINK_CREATE, &cr, sizeof(cr), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_SUCCESS);
	ASSERT_EQ(h.handle, 1);

	add.handle = 1;
	add.type = CU_JIT_INPUT_PTX;
	add.bytes = sizeof(image) - 1; /* but nothing sent */
	ASSERT_EQ(call(c, OMPS_CALL_LINK_ADD, &add, sizeof(add), &rl, sizeof(rl)), sizeof(rl));
	ASSERT_EQ(rl.r.result, CUDA_ERROR_INVALID_IMAGE);
	add.type = CU_JIT_NUM_INPUT_TYPES;
	ASSERT_EQ(call(c, OMPS_CALL_IMAGE_DATA, image, sizeof(image) - 1, &rep, sizeof(rep)), -1);
	ASSERT_EQ(call(c, OMPS_CALL_LINK_ADD, &add, sizeof(add), &rl, sizeof(rl)), sizeof(rl));
	ASSERT_EQ(rl.r.result, CUDA_ERROR_INVALID_VALUE);
	ASSERT_UEQ(c->mod.image_len, 0); /* the refused input is gone */
	rd = (struct omps_call_link_read){.handle = 1, .part = OMPS_LINK_CUBIN, .bytes = 1};
	ASSERT_EQ(call(c, OMPS_CALL_LINK_READ, &rd, sizeof(rd), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.result, CUDA_ERROR_INVALID_VALUE); /* nothing linked yet */
	rd.handle = 2;
	ASSERT_EQ(call(c, OMPS_CALL_LINK_READ, &rd, sizeof(rd), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.result, CUDA_ERROR_INVALID_HANDLE);

	add.type = CU_JIT_INPUT_PTX;
	ASSERT_EQ(call(c, OMPS_CALL_IMAGE_DATA, image, sizeof(image) - 1, &rep, sizeof(rep)), -1);
	ASSERT_EQ(call(c, OMPS_CALL_LINK_ADD, &add, sizeof(add), &rl, sizeof(rl)), sizeof(rl));
	ASSERT_EQ(rl.r.result, CUDA_SUCCESS);
	ASSERT_EQ(call(c, OMPS_CALL_LINK_COMPLETE, &h1, sizeof(h1), &rl, sizeof(rl)), sizeof(rl));
	ASSERT_EQ(rl.r.result, CUDA_SUCCESS);
	ASSERT_GT(rl.cubin_bytes, sizeof(image));
	ASSERT_GT(rl.info_bytes, 0);
	ASSERT_LT(rl.info_bytes, 64); /* within the size the client has */
	ASSERT_UEQ(rl.info_filled, rl.info_bytes + 1);
	rd = (struct omps_call_link_read){.handle = 1, .part = OMPS_LINK_CUBIN, .bytes = rl.cubin_bytes + 1};
	ASSERT_EQ(call(c, OMPS_CALL_LINK_READ, &rd, sizeof(rd), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.result, CUDA_ERROR_INVALID_VALUE); /* not its size */
	ASSERT_EQ(call(c, OMPS_CALL_IMAGE_DATA, image, sizeof(image) - 1, &rep, sizeof(rep)), -1);
	ASSERT_EQ(call(c, OMPS_CALL_LINK_ADD, &add, sizeof(add), &rl, sizeof(rl)), sizeof(rl));
	ASSERT_EQ(rl.r.result, CUDA_ERROR_INVALID_HANDLE); /* completed: no more inputs */
	/* At most 16 at once, each log at most 256 KiB: what one client can make the server hold. */
	cr.info_log = cr.error_log = 1u << 30;
	for (i = 2; i <= 16; i++) {
		ASSERT_EQ(call(c, OMPS_CALL_LINK_CREATE, &cr, sizeof(cr), &h, sizeof(h)), sizeof(h));
		ASSERT_EQ(h.r.result, CUDA_SUCCESS);
	}
	ASSERT_UEQ(c->link.nlinks, 16);
	ASSERT_EQ(call(c, OMPS_CALL_LINK_CREATE, &cr, sizeof(cr), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_ERROR_OUT_OF_MEMORY);
	leave(c); /* its link states destroyed with it (ASan: nothing leaks) */
}

/* A mipmapped array's levels: the same handle for the same level, counted
 * once with their parent (64x16 floats: 4096 + 1024 + 256 bytes), not the
 * client's to destroy, gone with their parent; a copy may not name the
 * parent itself. */
TEST(server_mipmap_levels)
{
	struct omps_call_mipmap_create mc = {.a = {.dev = 0, .format = CU_AD_FORMAT_FLOAT, .channels = 1,
						   .width = 64, .height = 16},
					     .levels = 3};
	struct omps_call_mipmap_level ml = {0};
	struct omps_call_handle h = {0};
	struct omps_reply_handle rh;
	struct omps_reply rep;
	struct srv_client *c;
	uint32_t mm, l1;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_MIPMAP_CREATE, &mc, sizeof(mc), &rh, sizeof(rh)), sizeof(rh));
	ASSERT_EQ(rh.r.result, CUDA_SUCCESS);
	mm = rh.handle;
	ASSERT_UEQ(srv_qos_used(c, 0), 4096 + 1024 + 256);
	ml = (struct omps_call_mipmap_level){.handle = mm, .level = 1};
	ASSERT_EQ(call(c, OMPS_CALL_MIPMAP_LEVEL, &ml, sizeof(ml), &rh, sizeof(rh)), sizeof(rh));
	ASSERT_EQ(rh.r.result, CUDA_SUCCESS);
	l1 = rh.handle;
	ASSERT(l1 != mm);
	ASSERT_EQ(call(c, OMPS_CALL_MIPMAP_LEVEL, &ml, sizeof(ml), &rh, sizeof(rh)), sizeof(rh));
	ASSERT_EQ(rh.handle, l1); /* the same level, the same array */
	ASSERT_UEQ(srv_qos_used(c, 0), 4096 + 1024 + 256);
	ASSERT_NOT_NULL(srv_array_span(c, l1, 0, 0, 32 * 4, 0, 8, 0)); /* the level's whole size */
	ASSERT_NULL(srv_array_span(c, l1, 0, 0, 64 * 4, 0, 1, 0));     /* its parent's width: outside */
	ASSERT_NULL(srv_array_span(c, mm, 0, 0, 4, 0, 1, 0));	       /* the parent is no array to copy */
	ml.level = 3;
	ASSERT_EQ(call(c, OMPS_CALL_MIPMAP_LEVEL, &ml, sizeof(ml), &rh, sizeof(rh)), sizeof(rh));
	ASSERT_EQ(rh.r.result, CUDA_ERROR_INVALID_VALUE);
	h.handle = l1;
	ASSERT_EQ(call(c, OMPS_CALL_ARRAY_DESTROY, &h, sizeof(h), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.result, CUDA_ERROR_INVALID_HANDLE); /* a level goes with its parent */
	h.handle = mm;
	ASSERT_EQ(call(c, OMPS_CALL_ARRAY_DESTROY, &h, sizeof(h), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.result, CUDA_SUCCESS);
	ASSERT_UEQ(srv_qos_used(c, 0), 0);
	ASSERT_NULL(srv_array_span(c, l1, 0, 0, 4, 0, 1, 0)); /* gone with it */
	leave(c);
}

/* A host node the server refuses before it builds anything (a graph that
 * is not the client's, a slot past the area's): nothing is destroyed that
 * was not made, and the client is answered. */
TEST(server_host_node_refusals)
{
	struct omps_call_graph_create gc = {.dev = 0};
	struct omps_call_graph_node n;
	struct omps_reply_handle h;
	struct omps_reply_node rep;
	struct srv_client *c;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_GRAPH_CREATE, &gc, sizeof(gc), &h, sizeof(h)), sizeof(h));
	ASSERT_EQ(h.r.result, CUDA_SUCCESS);
	memset(&n, 0, sizeof(n));
	n.kind = OMPS_NODE_HOST;
	n.graph = h.handle + 1; /* not its graph */
	ASSERT_EQ(call(c, OMPS_CALL_GRAPH_ADD_NODE, &n, sizeof(n), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.r.result, CUDA_ERROR_INVALID_HANDLE);
	n.graph = h.handle;
	n.object = OMPS_HOSTFN_GRAPH_SLOTS; /* past the slots; and no area shared either */
	ASSERT_EQ(call(c, OMPS_CALL_GRAPH_ADD_NODE, &n, sizeof(n), &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.r.result, CUDA_ERROR_INVALID_VALUE);
	ASSERT_EQ(c->dead, 0);
	leave(c);
}

static int waits(const char *log)
{
	char line[64];
	FILE *f = fopen(log, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

/* A server whose fakecuda logs each stream wait it makes into log (a
 * mkstemp template, made here), and a client of it with 4 KiB for set. */
static struct srv_client *waits_logged(char *log, struct omps_call_memset *set)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_reply_ptr p;
	struct srv_client *c;
	int fd = mkstemp(log);

	ASSERT_GE(fd, 0);
	close(fd);
	setenv("FAKECUDA_WAIT_LOG", log, 1);
	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	set->ptr = p.ptr;
	return c;
}

/* The legacy NULL stream: work on it waits for a blocking stream's earlier
 * work, and a blocking stream's for the NULL stream's, once each (fakecuda
 * counts the stream waits the server makes); a non-blocking stream never
 * waits nor is waited for. */
TEST(server_legacy_stream_order)
{
	char log[] = "/tmp/omps-waits.XXXXXX";
	struct omps_call_create blocking = {.dev = 0, .flags = 0}, free_running = {.dev = 0, .flags = CU_STREAM_NON_BLOCKING};
	struct omps_call_memset set = {.dev = 0, .elem = 4, .count = 16};
	struct omps_reply_handle s1, s2;
	struct omps_reply_ptr p;
	struct srv_client *c = waits_logged(log, &set);

	ASSERT_EQ(call(c, OMPS_CALL_STREAM_CREATE, &blocking, sizeof(blocking), &s1, sizeof(s1)), sizeof(s1));
	ASSERT_EQ(call(c, OMPS_CALL_STREAM_CREATE, &free_running, sizeof(free_running), &s2, sizeof(s2)), sizeof(s2));
	ASSERT_EQ(s1.r.result, CUDA_SUCCESS);
	ASSERT_EQ(s2.r.result, CUDA_SUCCESS);
	unlink(log);

	set.stream = s1.handle; /* the blocking stream, then the NULL stream: one wait */
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1);
	set.stream = 0;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1);
	ASSERT_EQ(waits(log), 1);
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1); /* nothing new to wait for */
	ASSERT_EQ(waits(log), 1);
	set.stream = s1.handle; /* the blocking stream after the NULL stream's work: one wait */
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1);
	ASSERT_EQ(waits(log), 2);
	set.stream = s2.handle; /* non-blocking, either way round: none */
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1);
	set.stream = 0;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1);
	ASSERT_EQ(waits(log), 3); /* the NULL stream after s1's last memset only */
	set.stream = s2.handle;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), &p, sizeof(p)), -1);
	ASSERT_EQ(waits(log), 3);
	ASSERT_EQ(c->sticky, CUDA_SUCCESS);
	unlink(log);
	leave(c);
}

/* A synchronize the GPU may signal: with no error to hear, the server
 * queues a write of seq into the reply ring's signal word and answers 1
 * (fakecuda's streams run at once: the word is there already); the
 * client's work stays queued until the word says it is done, and work
 * queued after the signal is not. The write goes on the NULL stream of a
 * context with no other stream, on the stream named, and for a context
 * with streams or an event on the client's signal stream, made to wait
 * for each (fakecuda counts the waits). A client with an error to hear,
 * or whose rings are not page-locked, is answered by the server's own
 * wait (0). */
TEST(server_sync_signal)
{
	struct omps_call_create sc = {.dev = 0, .flags = CU_STREAM_NON_BLOCKING};
	struct omps_call_memset set = {.dev = 0, .elem = 4, .count = 16};
	struct omps_call_sync_signal m = {.dev = 0, .seq = 7};
	struct omps_call_create ec = {.dev = 0, .flags = CU_EVENT_DISABLE_TIMING};
	struct omps_call_pair rec = {0};
	struct omps_reply_value v;
	struct omps_reply_handle s, e;
	char log[] = "/tmp/omps-signal-waits.XXXXXX";
	struct srv_client *c = waits_logged(log, &set);
	_Atomic uint32_t *word = omps_ring_signal_word(&c->rep);

	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_SUCCESS);
	ASSERT_EQ(v.value, 0); /* not page-locked yet: the server waited */
	ASSERT_EQ(atomic_load(&c->queued), 0);

	c->pin_later = 1; /* as a worker's first serve page-locks a successor's */
	ASSERT_EQ(srv_workers_park(c, 1), 0);
	srv_channel_run(c);
	ASSERT(c->signal.at == (CUdeviceptr)(uintptr_t)word);
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT_EQ(srv_fault_busy(c), 1);
	m.seq = 8;
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_SUCCESS);
	ASSERT_EQ(v.value, 1);
	ASSERT_UEQ(atomic_load(word), 8);
	ASSERT_EQ(atomic_load(&c->queued), 1); /* the server did not wait: queued, */
	ASSERT_EQ(srv_fault_busy(c), 0);       /* but the word says done */
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT_EQ(srv_fault_busy(c), 1); /* queued after the signal */

	ASSERT_EQ(call(c, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc), &s, sizeof(s)), sizeof(s));
	ASSERT_EQ(s.r.result, CUDA_SUCCESS);
	unlink(log);
	m.seq = 9; /* the context, with a stream of its own: after both, on the signal stream */
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_SUCCESS);
	ASSERT_EQ(v.value, 1);
	ASSERT_UEQ(atomic_load(word), 9);
	ASSERT_EQ(waits(log), 2); /* it waited for the NULL stream and the other */
	ASSERT_EQ(c->signal.clean, 1);
	ASSERT_EQ(srv_fault_busy(c), 0);
	m.handle = s.handle; /* that stream, but work went to the NULL stream too: not all the client's */
	m.seq = 10;
	set.stream = 0;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	set.stream = s.handle;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.value, 1);
	ASSERT_UEQ(atomic_load(word), 10);
	ASSERT_EQ(srv_fault_busy(c), 1);
	ASSERT_EQ(waits(log), 2);
	m.handle = 0; /* the context's: all of it */
	m.seq = 11;
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_UEQ(atomic_load(word), 11);
	ASSERT_EQ(srv_fault_busy(c), 0);
	ASSERT_EQ(waits(log), 4);
	/* That signal came: what is queued from here is told apart anew. */
	m.handle = s.handle; /* all its work on that stream: idle once written, as after the server's own */
	m.seq = 12;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT_EQ(srv_fault_busy(c), 1);
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.value, 1);
	ASSERT_UEQ(atomic_load(word), 12);
	ASSERT_EQ(srv_fault_busy(c), 0);
	ASSERT_EQ(waits(log), 4);
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_EVENT_CREATE, &ec, sizeof(ec), &e, sizeof(e)), sizeof(e));
	rec.first = e.handle;
	rec.second = s.handle;
	ASSERT_EQ(call(c, OMPS_CALL_EVENT_RECORD, &rec, sizeof(rec), NULL, 0), -1);
	m.handle = e.handle; /* an event recorded after all its work: the signal stream waits for it */
	m.kind = OMPS_SIGNAL_EVENT;
	m.seq = 13;
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_SUCCESS);
	ASSERT_EQ(v.value, 1);
	ASSERT_UEQ(atomic_load(word), 13);
	ASSERT_EQ(waits(log), 5);
	ASSERT_EQ(srv_fault_busy(c), 0);
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1); /* after the event: not its */
	m.seq = 14;
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_UEQ(atomic_load(word), 14);
	ASSERT_EQ(srv_fault_busy(c), 1);
	m.handle = 999; /* no such event */
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_ERROR_INVALID_HANDLE);
	m.handle = s.handle;
	m.kind = 0;
	unlink(log);
	unsetenv("FAKECUDA_WAIT_LOG");

	set.count = 1u << 30; /* past the allocation: refused, an error to hear */
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set, sizeof(set), NULL, 0), -1);
	ASSERT(c->sticky != CUDA_SUCCESS);
	m.seq = 15;
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT(v.r.result != CUDA_SUCCESS);
	ASSERT_EQ(v.value, 0);
	ASSERT_UEQ(atomic_load(word), 14);
	m.handle = 999; /* no such stream */
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &m, sizeof(m), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.r.result, CUDA_ERROR_INVALID_HANDLE);
	leave(c);
}

/* A copy from the device into the reply ring as a worker serves it: its
 * bytes, then its result (the reply's type in *data_type). */
static void copy_back(struct srv_client *c, const struct omps_call_copy *m, void *data, uint32_t *data_type,
		      struct omps_reply *r)
{
	struct omps_ring replies;
	uint32_t type = 0;

	memcpy(c->buf, m, sizeof(*m));
	srv_qos_check(c);
	srv_dispatch(c, OMPS_CALL_MEMCPY_DTOH, c->buf, sizeof(*m));
	ASSERT_EQ(omps_ring_attach(&replies, (char *)c->map + c->map_len / 2, c->map_len / 2), 0);
	ASSERT_EQ(omps_ring_pop(&replies, data_type, data, m->bytes), (int64_t)m->bytes);
	ASSERT_EQ(omps_ring_pop(&replies, &type, r, sizeof(*r)), sizeof(*r));
	ASSERT_EQ(type, OMPS_REPLY);
}

/* The server's own wait in a copy (srv_signal_wait): once the client's
 * rings are page-locked, the GPU writes the request ring's word behind the
 * copy and no driver wait is made (fakecuda logs each); a word that never
 * comes (FAKECUDA_LOSE_WRITES) is left to the driver's wait, the bytes
 * right either way. A client that leaves has the streams of its last copy
 * and its last signal waited for before its rings go, whatever its words
 * say (it can write them). */
TEST(server_copy_wait)
{
	char log[] = "/tmp/omps-copy-waits.XXXXXX";
	struct omps_call_memset set = {.dev = 0, .elem = 4, .count = 16, .value = 0x5a5a5a5a};
	struct srv_client *c = waits_logged(log, &set);
	_Atomic uint32_t *word = omps_ring_signal_word(&c->req);
	unsigned char host[64], back[64];
	struct omps_call_copy m = {.dev = 0, .bytes = sizeof(host)};
	struct omps_reply r;
	struct srv_client *other;
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_reply_ptr p;
	struct omps_call_sync_signal sig = {.dev = 0, .seq = 7};
	struct omps_call_create sc = {.dev = 0, .flags = CU_STREAM_NON_BLOCKING};
	struct omps_call_handle gone = {0};
	struct omps_reply_handle sh;
	CUstream destroyed;
	struct omps_reply_value v;
	uint32_t type;
	int i, before, plain;

	for (i = 0; i < (int)sizeof(host); i++)
		host[i] = (unsigned char)(3 * i + 1);
	unsetenv("FAKECUDA_WAIT_LOG"); /* the driver's synchronizes, not its stream waits, counted */
	setenv("FAKECUDA_SYNC_LOG", log, 1);
	m.dst = m.src = set.ptr;
	memcpy(c->buf, &m, sizeof(m)); /* not page-locked yet: the driver waits */
	memcpy(c->buf + sizeof(m), host, sizeof(host));
	srv_qos_check(c);
	srv_dispatch(c, OMPS_CALL_MEMCPY_HTOD, c->buf, sizeof(m) + sizeof(host));
	ASSERT_EQ(c->sticky, CUDA_SUCCESS);
	ASSERT_EQ(waits(log), 1);
	ASSERT_UEQ(atomic_load(word), 0);

	c->pin_later = 1;
	ASSERT_EQ(srv_workers_park(c, 1), 0);
	srv_channel_run(c);
	ASSERT(c->signal.at != 0);
	memset(back, 0, sizeof(back));
	copy_back(c, &m, back, &type, &r);
	ASSERT_EQ(type, OMPS_REPLY_DATA);
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_EQ(memcmp(back, host, sizeof(host)), 0);
	ASSERT_EQ(waits(log), 1); /* the word, not the driver */
	ASSERT_UEQ(atomic_load(word), 1);
	host[0] = 0xee;
	memcpy(c->buf, &m, sizeof(m));
	memcpy(c->buf + sizeof(m), host, sizeof(host));
	srv_dispatch(c, OMPS_CALL_MEMCPY_HTOD, c->buf, sizeof(m) + sizeof(host));
	ASSERT_EQ(waits(log), 1);
	ASSERT_UEQ(atomic_load(word), 2);

	setenv("FAKECUDA_LOSE_WRITES", "1", 1); /* the word never comes: the driver's wait */
	memset(back, 0, sizeof(back));
	copy_back(c, &m, back, &type, &r);
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_EQ(memcmp(back, host, sizeof(host)), 0);
	ASSERT_EQ(waits(log), 2);
	ASSERT_UEQ(atomic_load(word), 2);
	unsetenv("FAKECUDA_LOSE_WRITES");

	atomic_store(word, 1000); /* the client's own scribble: its next copy's number follows it */
	copy_back(c, &m, back, &type, &r);
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_UEQ(atomic_load(word), 1001);
	ASSERT_EQ(waits(log), 2);
	ASSERT(c->signal.waited != NULL);
	ASSERT_EQ(call(c, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc), &sh, sizeof(sh)), sizeof(sh));
	m.stream = sh.handle; /* a copy on a stream it then destroys: the wait's stream handed over, not lost */
	copy_back(c, &m, back, &type, &r);
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_UEQ(atomic_load(word), 1002);
	destroyed = c->signal.waited;
	gone.handle = sh.handle;
	ASSERT_EQ(call(c, OMPS_CALL_STREAM_DESTROY, &gone, sizeof(gone), NULL, 0), -1);
	ASSERT(c->signal.waited != NULL && c->signal.waited != destroyed);
	ASSERT(c->signal.waited == c->signal.stream[0]);
	m.stream = 0;
	ASSERT_EQ(call(c, OMPS_CALL_SYNC_SIGNAL, &sig, sizeof(sig), &v, sizeof(v)), sizeof(v));
	ASSERT_EQ(v.value, 1); /* signalled: its stream is the last signal's */
	atomic_store(omps_ring_signal_word(&c->rep), 99); /* as if it came, or the client wrote it: waited for */
	other = client(NULL); /* the same, but with no copy: what leaving waits for besides */
	ASSERT_EQ(call(other, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	other->pin_later = 1;
	ASSERT_EQ(srv_workers_park(other, 1), 0);
	srv_channel_run(other);
	before = waits(log);
	leave(other);
	plain = waits(log) - before;
	before = waits(log);
	leave(c);
	/* As it went: its last copy's stream (now the signal stream), its last
	 * signal's (the NULL stream), and its signal stream on its own. */
	ASSERT_EQ(waits(log) - before, plain + 3);
	unlink(log);
	unsetenv("FAKECUDA_SYNC_LOG");
}

/* The worker's spin for a signalled synchronize's word (signal.c): at
 * least 1 ms; a client whose waits are alike (1.8 ms: two clients of
 * full-GPU kernels) is caught as its word lands from the third wait on,
 * within the most it may spin; one whose waits are past the most gets the
 * least until one lands within it. */
static uint32_t spin_once(uint32_t *wait, uint32_t takes, int most)
{
	uint32_t bound = srv_signal_spin_bound(*wait, most);

	*wait = srv_signal_learn(*wait, bound, takes <= bound, takes, most);
	return bound;
}

TEST(server_signal_spin)
{
	uint32_t wait = 0;
	int i;

	ASSERT_UEQ(srv_signal_spin_bound(0, 4000), 1000);
	ASSERT_UEQ(srv_signal_spin_bound(10, 4000), 1000);
	ASSERT_UEQ(srv_signal_spin_bound(1800, 4000), 2300);
	ASSERT_UEQ(srv_signal_spin_bound(3500, 4000), 4000);
	ASSERT_UEQ(srv_signal_spin_bound(SIGNAL_WAIT_LONG, 4000), 1000);
	ASSERT_UEQ(srv_signal_spin_bound(0, 0), 0);
	ASSERT_UEQ(srv_signal_spin_bound(1800, 500), 500);

	ASSERT_UEQ(spin_once(&wait, 1800, 4000), 1000); /* not known: the least, which ends first */
	ASSERT_UEQ(wait, 2000);
	ASSERT_UEQ(spin_once(&wait, 1800, 4000), 2550);
	ASSERT_UEQ(wait, 1800);
	for (i = 0; i < 5; i++)
		ASSERT_UEQ(spin_once(&wait, 1800, 4000), 2300);
	ASSERT_UEQ(spin_once(&wait, 300, 4000), 2300); /* a shorter one lands: learned */
	ASSERT_UEQ(wait, 300);
	ASSERT_UEQ(spin_once(&wait, 300, 4000), 1000);

	wait = 0; /* waits of 10 ms: past the most after two guesses, then the least */
	ASSERT_UEQ(spin_once(&wait, 10000, 4000), 1000);
	ASSERT_UEQ(spin_once(&wait, 10000, 4000), 2550);
	ASSERT_UEQ(wait, SIGNAL_WAIT_LONG);
	for (i = 0; i < 5; i++)
		ASSERT_UEQ(spin_once(&wait, 10000, 4000), 1000);
	ASSERT_UEQ(wait, SIGNAL_WAIT_LONG);
	ASSERT_UEQ(spin_once(&wait, 1800, 4000), 1000); /* then waits of 1.8 ms again */
	ASSERT_UEQ(wait, SIGNAL_WAIT_LONG);
	ASSERT_UEQ(spin_once(&wait, 900, 4000), 1000);
	ASSERT_UEQ(wait, 900);
	ASSERT_UEQ(spin_once(&wait, 1800, 4000), 1175);
	ASSERT_UEQ(spin_once(&wait, 1800, 4000), 2987);
	ASSERT_UEQ(spin_once(&wait, 1800, 4000), 2300);
}

/* A synchronize counts as the client's (srv_fault_busy: no work in
 * flight, as a fault would keep it) only where it waited for all the work
 * it queued since it was last idle: a device's, when all of it went to
 * that device; an event's, when it all went to one device, the event
 * recorded after it on that stream (both NULL streams are "stream 0").
 * Otherwise the client stays busy until its worker asks its streams. */
TEST(server_sync_covers_devices)
{
	struct omps_call_alloc a = {.bytes = 4096};
	struct omps_call_memset set[2] = {{.dev = 0, .elem = 4, .count = 16}, {.dev = 1, .elem = 4, .count = 16}};
	struct omps_call_create ec = {.dev = 0, .flags = CU_EVENT_DISABLE_TIMING};
	struct omps_call_dev sync[2] = {{.dev = 0}, {.dev = 1}};
	struct omps_call_handle es;
	struct omps_call_pair rec = {0};
	struct omps_reply_handle e;
	struct omps_reply_ptr p;
	struct omps_reply r;
	struct srv_client *c;

	c = two_devices();
	for (int d = 0; d < 2; d++) {
		a.dev = d;
		ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
		ASSERT_EQ(p.r.result, CUDA_SUCCESS);
		set[d].ptr = p.ptr;
	}
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set[0], sizeof(set[0]), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set[1], sizeof(set[1]), NULL, 0), -1);
	ASSERT_EQ(srv_fault_busy(c), 1);
	ASSERT_EQ(call(c, OMPS_CALL_SYNCHRONIZE, &sync[1], sizeof(sync[1]), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_EQ(srv_fault_busy(c), 1); /* GPU 0's work: not waited for */
	ASSERT_EQ(call(c, OMPS_CALL_SYNCHRONIZE, &sync[0], sizeof(sync[0]), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(srv_fault_busy(c), 1); /* nor GPU 1's by this one: it stays busy, */
	srv_fault_settle(c, 1);
	ASSERT_EQ(srv_fault_busy(c), 0); /* until its streams are asked */

	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set[1], sizeof(set[1]), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_SYNCHRONIZE, &sync[0], sizeof(sync[0]), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(srv_fault_busy(c), 1); /* all of it on GPU 1: GPU 0's synchronize does not count */
	ASSERT_EQ(call(c, OMPS_CALL_SYNCHRONIZE, &sync[1], sizeof(sync[1]), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(srv_fault_busy(c), 0); /* GPU 1's does */

	ASSERT_EQ(call(c, OMPS_CALL_EVENT_CREATE, &ec, sizeof(ec), &e, sizeof(e)), sizeof(e));
	ASSERT_EQ(e.r.result, CUDA_SUCCESS);
	rec.first = e.handle; /* on GPU 0's NULL stream */
	es.handle = e.handle;
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set[0], sizeof(set[0]), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_EVENT_RECORD, &rec, sizeof(rec), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_EVENT_SYNC, &es, sizeof(es), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT_EQ(srv_fault_busy(c), 0); /* recorded after all of it, on its stream */
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set[1], sizeof(set[1]), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_MEMSET, &set[0], sizeof(set[0]), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_EVENT_RECORD, &rec, sizeof(rec), NULL, 0), -1);
	ASSERT_EQ(call(c, OMPS_CALL_EVENT_SYNC, &es, sizeof(es), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(srv_fault_busy(c), 1); /* GPU 1's NULL stream is another "stream 0" */
	leave(c);
}

static int sms_of(struct srv_client *c)
{
	struct omps_call_dev dev = {0};
	struct omps_reply_info info;

	ASSERT_EQ(call(c, OMPS_CALL_MEM_GET_INFO, &dev, sizeof(dev), &info, sizeof(info)), sizeof(info));
	return (int)srv_qos_sms(c, 0);
}

/* Six clients' SMs: at 25%, below normal, no share, 50%, 12% and 33%. */
static void shares_are(const int want[6])
{
	static const struct omps_settings quarter = {.atp_milli = 25000, .priority = -1};
	static const struct omps_settings half = {.atp_milli = 50000, .priority = -1};
	static const struct omps_settings twelve = {.atp_milli = 12000, .priority = -1};
	static const struct omps_settings third = {.atp_milli = 33333, .priority = -1};
	static const struct omps_settings below = {.priority = 1};
	struct srv_client *c[6];
	int i;

	server_up();
	c[0] = client(&quarter);
	c[1] = client(&below);
	c[2] = client(NULL);
	c[3] = client(&half);
	c[4] = client(&twelve);
	c[5] = client(&third);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(sms_of(c[i]), want[i]);
	for (i = 0; i < 6; i++)
		leave(c[i]);
}

/* fakecuda's device has 132 SMs, split finely in groups of 2 (an H200's
 * finest): a share gets the nearest whole number of groups, no more than
 * lets as many such shares as fit in 100% have their own, and a
 * below-normal client leaves the reserve (5%). */
TEST(server_sm_shares)
{
	static const int want[6] = {
		32,  /* 33 asked: 16 groups, as four such fit apart in 66 */
		126, /* 95%: 125.4, 63 groups */
		132, /* no share: the whole device */
		66,  /* two halves fit apart */
		16,  /* 15.8: 8 groups, eight such fit apart (in groups of 8: 8 SMs each) */
		44,  /* 44: 22 groups */
	};

	shares_are(want);
}

/* OPENMPS_SM_SPLIT=coscheduled: the groups of 8 that keep clusters of 8. */
static const int coscheduled[6] = {
		32,  /* 33 asked: 4 groups, as four such fit apart */
		128, /* 95%: 125.4, the nearest is all 16 groups */
		132, /* no share: the whole device */
		64,  /* 66: 8 groups, not the 9 that would leave no room for another half */
		16,  /* 15.8: 2 groups */
		40,  /* 44: 5 groups (three of 6 would not fit apart) */
};

TEST(server_sm_shares_coscheduled)
{
	setenv("OPENMPS_SM_SPLIT", "coscheduled", 1);
	shares_are(coscheduled);
}

/* A driver that cannot split finely: shares come in coscheduled groups. */
TEST(server_sm_shares_without_fine_split)
{
	setenv("FAKECUDA_NO_FINE_SPLIT", "1", 1);
	shares_are(coscheduled);
}

/* moddata.c over stubs of the driver's module globals and copies: three
 * __device__ variables, a and b 8 bytes apart (one run), c a page away.
 * The run the "driver" will not copy at once is copied a variable at a
 * time from then on; a copy counts until the client launches again (or,
 * with work in flight, until it synchronizes); a successor puts it back
 * into its own module's variables. */
static unsigned char globals[2][8192]; /* the first module's variables, then the successor's */
static int dtoh_calls, dtoh_refused;

static CUresult stub_get_global(CUdeviceptr *p, size_t *bytes, CUmodule mod, const char *name)
{
	static const size_t at[] = {0, 16, 4096};
	unsigned char *base = globals[mod == (CUmodule)2];

	if (strlen(name) != 1 || name[0] < 'a' || name[0] > 'c')
		return CUDA_ERROR_NOT_FOUND;
	*p = (CUdeviceptr)(uintptr_t)(base + at[name[0] - 'a']);
	*bytes = 8;
	return CUDA_SUCCESS;
}

static CUresult stub_dtoh(void *dst, CUdeviceptr src, size_t bytes, CUstream s)
{
	(void)s;
	dtoh_calls++;
	if (bytes > 8) { /* two allocations of the module's, say */
		dtoh_refused++;
		return CUDA_ERROR_INVALID_VALUE;
	}
	memcpy(dst, (void *)(uintptr_t)src, bytes);
	return CUDA_SUCCESS;
}

static CUresult stub_htod(CUdeviceptr dst, const void *src, size_t bytes, CUstream s)
{
	(void)s;
	memcpy((void *)(uintptr_t)dst, src, bytes);
	return CUDA_SUCCESS;
}

TEST(server_module_data_copies)
{
	static const char image[] = ".version 8.0\n.target sm_90\n.address_size 64\n"
				    ".visible .global .align 8 .b8 a[8];\n.visible .global .align 8 .b8 b[8];\n"
				    ".visible .global .align 8 .b8 c[8];\n";
	struct srv_kept_image k = {.len = sizeof(image) - 1, .image = (unsigned char *)image};
	struct srv_module m[2] = {{.mod = (CUmodule)1, .writable = 24, .image = &k},
				  {.mod = (CUmodule)2, .writable = 24, .image = &k}};
	struct srv_pack p = {0};
	struct srv_unpack u = {0};
	struct srv_client *c;
	char *rec = NULL;
	size_t rec_len = 0;

	server_up();
	c = client(NULL);
	drv.module_get_global = stub_get_global;
	drv.memcpy_dtoh_async = stub_dtoh;
	drv.memcpy_htod_async = stub_htod;
	c->mod.modules = m;
	c->mod.nmodules = 1;
	srv_moddata_init(c, &m[0], image, sizeof(image) - 1);
	ASSERT_NOT_NULL(m[0].data);
	memcpy(globals[0], "aaaaaaa", 8);
	memcpy(globals[0] + 16, "bbbbbbb", 8);
	memcpy(globals[0] + 4096, "ccccccc", 8);

	srv_moddata_take(c, UINT64_MAX); /* no kernel of it ran: nothing to copy */
	ASSERT_EQ(dtoh_calls, 0);
	ASSERT_NULL(srv_moddata_lost(c, &m[0], 0));

	m[0].ran = c->mod.data_ran = 1;
	c->mod.launches = 5;
	ASSERT_NOT_NULL(srv_moddata_lost(c, &m[0], 0)); /* ran, not copied */
	srv_moddata_take(c, 16); /* its runs span more than that: left for the park */
	ASSERT_EQ(dtoh_calls, 0);
	ASSERT_NOT_NULL(srv_moddata_lost(c, &m[0], 0));
	c->graph.captures = 1; /* a capture open: copied all the same (streams captured are not joined) */
	srv_moddata_take(c, UINT64_MAX);
	c->graph.captures = 0;
	ASSERT_EQ(dtoh_refused, 1); /* a and b at once, refused; then each, and c */
	ASSERT_EQ(dtoh_calls, 4);
	ASSERT_NULL(srv_moddata_lost(c, &m[0], 0));
	srv_moddata_take(c, UINT64_MAX); /* nothing launched since */
	ASSERT_EQ(dtoh_calls, 4);

	memcpy(globals[0], "AAAAAAA", 8); /* a kernel of it, launched since */
	c->mod.launches = 6;
	ASSERT_NOT_NULL(srv_moddata_lost(c, &m[0], 0));
	ASSERT_NULL(srv_moddata_lost(c, &m[0], 1)); /* in flight, no synchronize since the copy: kept, told */
	c->mod.synced = 6;
	ASSERT_NOT_NULL(srv_moddata_lost(c, &m[0], 1));
	c->mod.launches = 5; /* as at the copy: what the successor gets */

	ASSERT_NOT_NULL(p.f = open_memstream(&rec, &rec_len));
	srv_moddata_save(&m[0], &p);
	ASSERT_EQ(fclose(p.f), 0);
	ASSERT_EQ(p.failed, 0);
	u.p = (const unsigned char *)rec;
	u.len = rec_len;
	c->mod.modules = &m[1]; /* the successor's module, loaded again */
	ASSERT_NULL(srv_moddata_restore(c, &m[1], &u));
	ASSERT_EQ(u.off, rec_len);
	ASSERT_STR_EQ((char *)globals[1], "aaaaaaa");
	ASSERT_STR_EQ((char *)globals[1] + 16, "bbbbbbb");
	ASSERT_STR_EQ((char *)globals[1] + 4096, "ccccccc");
	ASSERT_NULL(srv_moddata_lost(c, &m[1], 0)); /* a second fault before it launches again keeps it too */

	srv_moddata_free(c, &m[1]);
	u.off = 0;
	u.len = rec_len - 1; /* cut short */
	ASSERT_NOT_NULL(srv_moddata_restore(c, &m[1], &u));
	ASSERT_EQ(u.failed, 1);
	free(rec);
	srv_moddata_free(c, &m[1]);
	c->mod.modules = &m[0];
	srv_moddata_free(c, &m[0]);
	c->mod.modules = NULL; /* not the driver's modules: nothing to unload */
	c->mod.nmodules = 0;
	leave(c);
}

/* A module variable a fault moved: the client's address for it still
 * names it, in calls and in launch arguments, and the driver's is taken
 * back to the client's for what a captured graph holds. */
TEST(server_moved_globals)
{
	struct srv_module m = {.mod = (CUmodule)1};
	uint64_t words[4] = {0x1008, 0x2000, 0x1010, 0x100f}, p = 0x1004;
	const uint64_t *out;
	struct srv_alloc *mine;
	struct srv_client *c;

	server_up();
	c = client(NULL);
	c->mod.modules = &m;
	c->mod.nmodules = 1;
	ASSERT_EQ(srv_memory_moved_global(c, 1, 0, "g", 0x1000, 0x9000, 16), 0);
	ASSERT_EQ(c->mem.moved, 1u);

	ASSERT_EQ(srv_memory_owns(c, &p, 4), 1);
	ASSERT_EQ(p, 0x9004u);
	ASSERT_EQ(m.ran, 1); /* the host may have changed it: copied at the next park */
	ASSERT_EQ(c->mod.launches, 1u);
	p = 0x100e;
	ASSERT_EQ(srv_memory_owns(c, &p, 4), 0); /* past its end */

	out = srv_memory_args(c, words, sizeof(words));
	ASSERT(out != words);
	ASSERT_EQ(out[0], 0x9008u);
	ASSERT_EQ(out[1], 0x2000u);
	ASSERT_EQ(out[2], 0x1010u); /* just past it */
	ASSERT_EQ(out[3], 0x900fu);
	ASSERT_EQ(words[0], 0x1008u); /* the client's record as it was */
	ASSERT_EQ(srv_memory_known(c, 0x900c), 0x100cu);
	ASSERT_EQ(srv_memory_known(c, 0x2000), 0x2000u);
	memcpy(words, out, sizeof(words));
	srv_memory_args_known(c, (unsigned char *)words, sizeof(words));
	ASSERT_EQ(words[0], 0x1008u);
	ASSERT_EQ(words[3], 0x100fu);

	/* Memory of its own the new context put where it knows the variable. */
	mine = calloc(1, sizeof(*mine));
	ASSERT_NOT_NULL(mine);
	*mine = (struct srv_alloc){.next = c->mem.allocs, .ptr = 0x1000, .bytes = 64};
	c->mem.allocs = mine;
	p = 0x1004;
	ASSERT_EQ(srv_memory_owns(c, &p, 4), 0); /* refused, named in the log: not guessed */
	c->mem.allocs = mine->next;
	free(mine);

	srv_memory_forget_module(c, 1);
	ASSERT_EQ(c->mem.moved, 0u);
	ASSERT(srv_memory_args(c, words, sizeof(words)) == words); /* nothing moved: as they are */
	c->mod.modules = NULL;
	c->mod.nmodules = 0;
	leave(c);
}

/* A node record of kind on graph g, its deps after it (as the shim sends). */
static uint32_t add_node(struct srv_client *c, uint32_t g, struct omps_call_graph_node m, const uint32_t *deps)
{
	unsigned char buf[sizeof(m) + 4 * sizeof(uint32_t)];
	struct omps_reply_node rep;

	m.graph = g;
	memcpy(buf, &m, sizeof(m));
	if (m.ndeps)
		memcpy(buf + sizeof(m), deps, m.ndeps * sizeof(uint32_t));
	ASSERT_EQ(call(c, OMPS_CALL_GRAPH_ADD_NODE, buf, sizeof(m) + m.ndeps * sizeof(uint32_t), &rep, sizeof(rep)),
		  sizeof(rep));
	ASSERT_EQ(rep.r.result, CUDA_SUCCESS);
	return rep.handle;
}

static uint32_t handle_reply(struct srv_client *c, uint32_t type, const void *rec, size_t len)
{
	struct omps_reply_handle rep;

	ASSERT_EQ(call(c, type, rec, len, &rep, sizeof(rep)), sizeof(rep));
	ASSERT_EQ(rep.r.result, CUDA_SUCCESS);
	return rep.handle;
}

/* GRAPH_QUERY of graph g's first n nodes (at most 4): their handles. */
static void list_nodes(struct srv_client *c, uint32_t g, uint32_t n, uint32_t *handles)
{
	struct omps_call_graph_query m = {.handle = g, .what = OMPS_GRAPH_NODES, .count = n};
	struct omps_graph_edge e[4];
	struct omps_ring replies;
	struct omps_reply r;
	uint32_t type = 0, i;

	ASSERT_LE(n, 4);
	memcpy(c->buf, &m, sizeof(m));
	srv_dispatch(c, OMPS_CALL_GRAPH_QUERY, c->buf, sizeof(m));
	ASSERT_EQ(omps_ring_attach(&replies, (char *)c->map + c->map_len / 2, c->map_len / 2), 0);
	ASSERT_EQ(omps_ring_pop(&replies, &type, e, sizeof(e)), (int64_t)(n * sizeof(*e)));
	ASSERT_EQ(omps_ring_pop(&replies, &type, &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(type, OMPS_REPLY);
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	for (i = 0; i < n; i++)
		handles[i] = e[i].from;
}

/* A captured graph's nodes get handles as they are listed, the same ones
 * listed again, placed in its description; a graph captured, listed and
 * destroyed at every step (as llama.cpp reads its kernels) takes the
 * handles its predecessor let go, and the table does not grow. */
TEST(server_listed_nodes)
{
	struct omps_call_create sc = {.dev = 0, .flags = CU_STREAM_NON_BLOCKING};
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_call_memset ms = {.dev = 0, .value = 9, .elem = 4, .count = 1024};
	struct omps_call_handle h;
	struct omps_reply_ptr p;
	struct omps_reply r;
	struct srv_client *c;
	uint32_t stream, g, first[2], again[2], step;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	stream = handle_reply(c, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc));
	ms.stream = stream;
	ms.ptr = p.ptr;
	for (step = 0; step < 3; step++) {
		ASSERT_EQ(call(c, OMPS_CALL_CAPTURE_BEGIN, &(struct omps_call_capture){stream, 0}, 8, &r, sizeof(r)),
			  sizeof(r));
		call(c, OMPS_CALL_MEMSET, &ms, sizeof(ms), NULL, 0);
		call(c, OMPS_CALL_MEMSET, &ms, sizeof(ms), NULL, 0);
		h.handle = stream;
		g = handle_reply(c, OMPS_CALL_CAPTURE_END, &h, sizeof(h));
		list_nodes(c, g, 2, step ? again : first);
		if (!step) {
			list_nodes(c, g, 2, again); /* the same handles, not new ones */
			ASSERT_EQ(again[0], first[0]);
			ASSERT_EQ(again[1], first[1]);
			ASSERT_EQ(c->graph.nodes[first[1] - 1].place, 1);
			ASSERT_NULL(srv_graphdesc_unkeepable(c, (char[160]){0}, 160));
		}
		ASSERT_EQ(c->graph.nnodes, 2);
		h.handle = g;
		call(c, OMPS_CALL_GRAPH_DESTROY, &h, sizeof(h), NULL, 0);
	}
	ASSERT_EQ(c->graph.nfree_nodes, 2);
	leave(c);
}

/* Graphs written down for a successor (graphdesc.c): one built node by
 * node as it is built, one captured walked as its capture ends; an
 * executable graph shares its graph's description until the graph
 * changes; what save wrote, read back after the client's graphs went,
 * makes them again: launched, they do what they did; a child graph node
 * holds its graph's description; what is not written down is said; an
 * executable graph whose node was set is made again as it was set. */
TEST(server_graph_descriptions)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_call_graph_create gc = {.dev = 0};
	struct omps_call_create sc = {.dev = 0, .flags = CU_STREAM_NON_BLOCKING};
	struct omps_call_graph_node set = {.kind = OMPS_NODE_MEMSET, .value = 7, .elem = 4, .width = 1024, .height = 1},
				    empty = {.kind = OMPS_NODE_EMPTY, .ndeps = 1};
	struct omps_call_memset ms = {.dev = 0, .value = 9, .elem = 4, .count = 1024};
	struct omps_call_instantiate in = {0};
	struct omps_call_pair launch = {0};
	struct omps_call_handle h;
	struct omps_reply_ptr p;
	struct omps_reply r;
	struct srv_pack pk = {0};
	struct srv_unpack u = {0};
	struct srv_client *c;
	char buf[160], *rec = NULL;
	size_t rec_len = 0;
	uint32_t g, g2, cap, x, x2, n1, n2, n3, stream;
	unsigned *mem;

	server_up();
	c = client(NULL);
	ASSERT_EQ(call(c, OMPS_CALL_MEM_ALLOC, &a, sizeof(a), &p, sizeof(p)), sizeof(p));
	mem = (unsigned *)(uintptr_t)p.ptr;
	g = handle_reply(c, OMPS_CALL_GRAPH_CREATE, &gc, sizeof(gc));
	set.dst = p.ptr;
	set.dst_pitch = 4096;
	n1 = add_node(c, g, set, NULL);
	n2 = add_node(c, g, empty, &n1);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->n, 2);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->nedges, 1);
	ASSERT_EQ(c->graph.nodes[n2 - 1].place, 1);
	in.graph = g;
	x = handle_reply(c, OMPS_CALL_GRAPH_INSTANTIATE, &in, sizeof(in));
	ASSERT_PTR_EQ(c->graph.execs[x - 1].desc, c->graph.graphs[g - 1].desc); /* shared */
	ASSERT_NULL(srv_graphdesc_unkeepable(c, buf, sizeof(buf)));

	/* A capture of a memset on a stream of its: walked as the capture ends. */
	stream = handle_reply(c, OMPS_CALL_STREAM_CREATE, &sc, sizeof(sc));
	ASSERT_EQ(call(c, OMPS_CALL_CAPTURE_BEGIN, &(struct omps_call_capture){stream, 0}, 8, &r, sizeof(r)),
		  sizeof(r));
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ms.stream = stream;
	ms.ptr = p.ptr;
	call(c, OMPS_CALL_MEMSET, &ms, sizeof(ms), NULL, 0);
	h.handle = stream;
	cap = handle_reply(c, OMPS_CALL_CAPTURE_END, &h, sizeof(h));
	ASSERT_NOT_NULL(c->graph.graphs[cap - 1].desc);
	ASSERT_EQ(c->graph.graphs[cap - 1].desc->n, 1);
	ASSERT_EQ(c->graph.graphs[cap - 1].desc->nodes[0].rec.kind, OMPS_NODE_MEMSET);
	ASSERT_UEQ(c->graph.graphs[cap - 1].desc->nodes[0].rec.dst, (uintptr_t)mem);
	ASSERT_NULL(srv_graphdesc_unkeepable(c, buf, sizeof(buf)));
	/* A change not written down: walked again as the worker parks. */
	srv_graphdesc_changed(&c->graph.graphs[cap - 1]);
	ASSERT_STR_EQ(srv_graphdesc_unkeepable(c, buf, sizeof(buf)),
		      "its graph 2 changed since its worker last parked (not written down yet)");
	srv_graphdesc_take(c);
	ASSERT_EQ(c->graph.graphs[cap - 1].desc->n, 1);
	ASSERT_NULL(srv_graphdesc_unkeepable(c, buf, sizeof(buf)));

	/* The graph grows: its description is copied, the executable's stays. */
	add_node(c, g, empty, &n2);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->n, 3);
	ASSERT_EQ(c->graph.execs[x - 1].desc->n, 2);

	/* Written down, the client's graphs gone, made again from the record. */
	ASSERT_NOT_NULL(pk.f = open_memstream(&rec, &rec_len));
	srv_graphdesc_save(c, &pk);
	ASSERT_EQ(fclose(pk.f), 0);
	ASSERT_EQ(pk.failed, 0);
	srv_graph_release(c);
	u.p = (const unsigned char *)rec;
	u.len = rec_len;
	ASSERT_NULL(srv_graphdesc_restore(c, &u, NULL));
	ASSERT_UEQ(u.off, rec_len);
	ASSERT_EQ(c->graph.ngraphs, 2);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->n, 3);
	ASSERT_EQ(c->graph.execs[x - 1].desc->n, 2);
	ASSERT_PTR_EQ(c->graph.nodes[n2 - 1].obj, c->graph.graphs[g - 1].desc->nodes[1].node);
	mem[0] = mem[1023] = 0;
	launch.first = x;
	launch.second = stream;
	call(c, OMPS_CALL_GRAPH_LAUNCH, &launch, sizeof(launch), NULL, 0);
	ASSERT_EQ(c->sticky, CUDA_SUCCESS);
	ASSERT_EQ(mem[0], 7);
	ASSERT_EQ(mem[1023], 7);
	in.graph = cap;
	launch.first = handle_reply(c, OMPS_CALL_GRAPH_INSTANTIATE, &in, sizeof(in));
	call(c, OMPS_CALL_GRAPH_LAUNCH, &launch, sizeof(launch), NULL, 0);
	ASSERT_EQ(mem[1023], 9);
	free(rec);

	/* A child graph node holds its graph as it was: written down inside. */
	add_node(c, g, (struct omps_call_graph_node){.kind = OMPS_NODE_CHILD, .object = cap}, NULL);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->n, 4);
	ASSERT_PTR_EQ(c->graph.graphs[g - 1].desc->nodes[3].child, c->graph.graphs[cap - 1].desc);
	ASSERT_NULL(srv_graphdesc_unkeepable(c, buf, sizeof(buf)));
	/* ... and so does a walk of it (as of a graph whose change was not written). */
	srv_graphdesc_changed(&c->graph.graphs[g - 1]);
	c->graph.nodes[n2 - 1].place = 99;
	srv_graphdesc_take(c);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->n, 4);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->nedges, 2);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->nodes[3].rec.kind, OMPS_NODE_CHILD);
	ASSERT_EQ(c->graph.graphs[g - 1].desc->nodes[3].child->n, 1);
	ASSERT_EQ(c->graph.nodes[n2 - 1].place, 1);
	ASSERT_NULL(srv_graphdesc_unkeepable(c, buf, sizeof(buf)));

	/* A node of an executable graph set: written into a description of
	 * its own; after a handover it is made from its graph and that node
	 * set on it, so the client's node handle still names its node. */
	g2 = handle_reply(c, OMPS_CALL_GRAPH_CREATE, &gc, sizeof(gc));
	n3 = add_node(c, g2, set, NULL);
	in.graph = g2;
	x2 = handle_reply(c, OMPS_CALL_GRAPH_INSTANTIATE, &in, sizeof(in));
	set.node = n3;
	set.exec = x2;
	set.value = 8;
	ASSERT_EQ(call(c, OMPS_CALL_GRAPH_EXEC_NODE_SET, &set, sizeof(set), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	ASSERT(c->graph.execs[x2 - 1].desc != c->graph.graphs[g2 - 1].desc);
	ASSERT_NULL(srv_graphdesc_unkeepable(c, buf, sizeof(buf)));
	rec = NULL;
	ASSERT_NOT_NULL(pk.f = open_memstream(&rec, &rec_len));
	srv_graphdesc_save(c, &pk);
	ASSERT_EQ(fclose(pk.f), 0);
	srv_graph_release(c);
	u = (struct srv_unpack){.p = (const unsigned char *)rec, .len = rec_len};
	ASSERT_NULL(srv_graphdesc_restore(c, &u, NULL));
	mem[0] = 0;
	launch.first = x2;
	call(c, OMPS_CALL_GRAPH_LAUNCH, &launch, sizeof(launch), NULL, 0);
	ASSERT_EQ(mem[0], 8);
	set.value = 6;
	ASSERT_EQ(call(c, OMPS_CALL_GRAPH_EXEC_NODE_SET, &set, sizeof(set), &r, sizeof(r)), sizeof(r));
	ASSERT_EQ(r.result, CUDA_SUCCESS);
	call(c, OMPS_CALL_GRAPH_LAUNCH, &launch, sizeof(launch), NULL, 0);
	ASSERT_EQ(mem[0], 6);
	free(rec);
	leave(c);
}
