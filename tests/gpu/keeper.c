/* What issue 15's recovery across processes rests on, on a real GPU. A
 * process that faults cannot rebuild its context (survive.c: after the
 * fault even a reset primary context answers CUDA_ERROR_ILLEGAL_ADDRESS),
 * so the state has to outlive the server process. Three processes, as a
 * daemon would run them:
 *   the keeper (this one, never touches CUDA) holds the exported fd;
 *   the culprit (a server) makes cuMemCreate memory, fills it, exports it,
 *     then faults;
 *   a standby (a spare server) imports and maps the memory before the
 *     fault, and reads it after: does a mapping in another context survive
 *     the fault of the one that made the memory, and how soon can it serve;
 *   a cold successor imports it after the culprit died, at the same address.
 *   gcc -O2 -I$CUDA/include keeper.c -lcuda -o keeper && ./keeper
 * Prints "keeper: STEP = RESULT" lines and one "keeper: summary ..." line. */
#define _GNU_SOURCE
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../e2e/twice_ptx.h"

#define MIB	(1 << 20)
#define PATTERN 0x02468ace /* 0x01234567 doubled by a kernel */

struct region {
	CUdeviceptr va;
	size_t size;
	double fault_ms; /* CLOCK_MONOTONIC, when the culprit saw its fault */
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static CUresult step(const char *who, const char *what, CUresult r)
{
	const char *name = "?";

	cuGetErrorName(r, &name);
	printf("keeper: %s: %s = %s\n", who, what, name);
	fflush(stdout);
	return r;
}

#define STEP(call) step(who, #call, (call))

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (fd >= 0) {
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, 0) == (ssize_t)len ? 0 : -1;
}

static int recv_fd(int sock, void *buf, size_t len, int *fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;

	if (recvmsg(sock, &m, 0) != (ssize_t)len)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (fd)
		*fd = c && c->cmsg_type == SCM_RIGHTS ? *(int *)(void *)CMSG_DATA(c) : -1;
	return 0;
}

static int wait_byte(int sock)
{
	char b;

	return read(sock, &b, 1) == 1 ? 0 : -1;
}

static void say_byte(int sock)
{
	(void)!write(sock, "g", 1);
}

static CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
				   .requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR,
				   .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
static CUmemAccessDesc access_rw = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0},
				    .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};

static int open_ctx(const char *who)
{
	CUcontext ctx;

	return STEP(cuInit(0)) || STEP(cuDevicePrimaryCtxRetain(&ctx, 0)) || STEP(cuCtxSetCurrent(ctx)) ? -1
													: 0;
}

/* 1 if the words at va all read PATTERN. */
static int intact(const char *who, CUdeviceptr va, size_t size)
{
	size_t words = size / 4, i, bad = 0;
	unsigned *h = malloc(size);
	CUresult r = STEP(cuMemcpyDtoH(h, va, size));

	for (i = 0; r == CUDA_SUCCESS && i < words; i++)
		bad += h[i] != PATTERN;
	free(h);
	printf("keeper: %s: the memory is %s\n", who, r ? "unreadable" : bad ? "CHANGED" : "intact");
	return r == CUDA_SUCCESS && !bad;
}

/* Import fd and map it at va, as a successor server would. */
static int adopt(const char *who, int fd, const struct region *g)
{
	CUmemGenericAllocationHandle h;
	CUdeviceptr va = 0;

	if (STEP(cuMemImportFromShareableHandle(&h, (void *)(long)fd,
						CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)) ||
	    STEP(cuMemAddressReserve(&va, g->size, 0, g->va, 0)))
		return -1;
	printf("keeper: %s: reserved at 0x%llx, wanted 0x%llx\n", who, (unsigned long long)va,
	       (unsigned long long)g->va);
	if (va != g->va || STEP(cuMemMap(va, g->size, 0, h, 0)) ||
	    STEP(cuMemSetAccess(va, g->size, &access_rw, 1)))
		return -1;
	return 0;
}

static int culprit(int sock)
{
	const char *who = "culprit";
	CUmemGenericAllocationHandle h;
	struct region g = {.size = 64 * MIB};
	CUdeviceptr bad = 0x10;
	unsigned nw, n = 32;
	void *args[2];
	size_t gran;
	CUmodule mod;
	CUfunction fn;
	int fd;

	if (open_ctx(who) ||
	    STEP(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM)))
		return 1;
	g.size = (g.size + gran - 1) / gran * gran;
	if (STEP(cuMemCreate(&h, g.size, &prop, 0)) ||
	    STEP(cuMemExportToShareableHandle(&fd, h, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0)) ||
	    STEP(cuMemAddressReserve(&g.va, g.size, 0, 0, 0)) || STEP(cuMemMap(g.va, g.size, 0, h, 0)) ||
	    STEP(cuMemSetAccess(g.va, g.size, &access_rw, 1)) || STEP(cuModuleLoadData(&mod, twice_ptx)) ||
	    STEP(cuModuleGetFunction(&fn, mod, "twice")) || STEP(cuMemsetD32(g.va, 0x01234567, g.size / 4)))
		return 1;
	nw = (unsigned)(g.size / 4);
	args[0] = &g.va;
	args[1] = &nw;
	if (STEP(cuLaunchKernel(fn, (nw + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL)) ||
	    STEP(cuCtxSynchronize()) || !intact(who, g.va, g.size))
		return 1;
	if (send_fd(sock, &g, sizeof(g), fd) < 0 || wait_byte(sock) < 0)
		return 1;
	args[0] = &bad;
	args[1] = &n;
	STEP(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	STEP(cuCtxSynchronize());
	g.fault_ms = now_ms();
	send_fd(sock, &g, sizeof(g), -1);
	/* Exits with the memory still mapped: as a faulted server would. */
	return 3;
}

/* Imports before the fault, reads after it. */
static int standby(int sock)
{
	const char *who = "standby";
	struct region g;
	int fd, ok;
	double t;

	if (open_ctx(who) || recv_fd(sock, &g, sizeof(g), &fd) < 0 || adopt(who, fd, &g) < 0)
		return 1;
	say_byte(sock); /* ready: the culprit may fault now */
	if (recv_fd(sock, &g, sizeof(g), NULL) < 0)
		return 1;
	ok = intact(who, g.va, g.size);
	t = now_ms();
	printf("keeper: standby: read %.1f ms after the fault\n", t - g.fault_ms);
	return ok ? 0 : 2;
}

static int cold(int sock)
{
	const char *who = "successor";
	struct region g;
	double t0 = now_ms();
	int fd;

	if (recv_fd(sock, &g, sizeof(g), &fd) < 0 || open_ctx(who) || adopt(who, fd, &g) < 0)
		return 1;
	if (!intact(who, g.va, g.size))
		return 2;
	printf("keeper: successor: context, import and map in %.1f ms\n", now_ms() - t0);
	return 0;
}

static pid_t spawn(int (*body)(int), int *sock)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(body(sv[1]));
	}
	close(sv[1]);
	*sock = sv[0];
	return pid;
}

static int status_of(pid_t pid)
{
	int st = 0;

	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	struct region g;
	int c_sock, s_sock, n_sock, fd, rc_c, rc_s, rc_n;
	pid_t c, s, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	c = spawn(culprit, &c_sock);
	s = spawn(standby, &s_sock);
	if (c < 0 || s < 0 || recv_fd(c_sock, &g, sizeof(g), &fd) < 0) {
		printf("keeper: summary: the culprit did not hand its memory over\n");
		return 1;
	}
	/* The standby maps it, then the culprit faults and tells the time. */
	send_fd(s_sock, &g, sizeof(g), fd);
	wait_byte(s_sock);
	say_byte(c_sock);
	if (recv_fd(c_sock, &g, sizeof(g), NULL) == 0)
		send_fd(s_sock, &g, sizeof(g), -1);
	rc_c = status_of(c);
	rc_s = status_of(s);
	/* A cold successor, after the culprit is gone: only the keeper's fd is left. */
	n = spawn(cold, &n_sock);
	send_fd(n_sock, &g, sizeof(g), fd);
	rc_n = status_of(n);
	printf("keeper: summary: culprit exit %d (3: it faulted); standby that mapped before the fault: %s; "
	       "successor after the culprit died: %s\n",
	       rc_c,
	       rc_s == 0   ? "kept"
	       : rc_s == 2 ? "LOST"
			   : "failed",
	       rc_n == 0   ? "kept"
	       : rc_n == 2 ? "LOST"
			   : "failed");
	return 0;
}
