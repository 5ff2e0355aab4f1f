/* CUDA IPC with the driver API, as simpleIPC and PyTorch's multiprocessing
 * use it: the same program passes natively (a GPU) and through openmps.
 *   omps-ipc-probe [--words N]
 *     allocates N words (i), gives out a handle, and runs itself as an
 *     importer (another process), which opens the handle, checks the
 *     words, doubles them with a kernel, opens it a second time (the same
 *     address), closes both; the exporter then reads 2i. Its own handle is
 *     an invalid context to itself; cuMemFree of an opened address is
 *     refused; after a close the address is no longer usable. An event
 *     goes along by IPC handle (only one made CU_EVENT_INTERPROCESS has
 *     one): the importer waits for it before its kernel and records it
 *     after; the exporter waits for that record before it reads.
 *   omps-ipc-probe --orphan   (through openmps)
 *     the importer holds the memory while the exporter frees it and
 *     allocates and fills as much again: the importer still reads i, and
 *     the memory is freed at its close; a handle of another server is
 *     refused.
 * Each process prints its facts and "ipc_probe: PASS" or what failed. */
#include <cuda.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twice_ptx.h"

#define PROBE "ipc_probe"
#define PROBE_FAIL return 1
#include "probe.h"

static unsigned n = 1 << 16;
static unsigned *host;

static int setup(CUcontext *ctx)
{
	CUdevice dev;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(ctx, dev));
	CK(cuCtxSetCurrent(*ctx));
	host = malloc((size_t)n * 4);
	return host ? 0 : 1;
}

static int check(CUdeviceptr p, unsigned factor, const char *who)
{
	unsigned i;

	CK(cuMemcpyDtoH(host, p, (size_t)n * 4));
	for (i = 0; i < n; i++)
		CHECK(host[i] == factor * i, "%s: word %u is %u, expected %u", who, i, host[i], factor * i);
	return 0;
}

static void from_hex(const char *hex, char *bytes, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&bytes[i]);
}

static void to_hex(const char *bytes, size_t len, char *hex)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)bytes[i]);
}

/* The importer: handles in hex on the command line. */
static int importer(const char *hex, const char *event_hex, int orphan, const char *gate)
{
	CUipcEventHandle eh;
	CUevent ev = NULL;
	CUipcMemHandle h;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr p = 0, q = 0;
	void *args[] = {&p, &n};

	if (setup(&ctx))
		return 1;
	from_hex(hex, h.reserved, sizeof(h.reserved));
	CK(cuIpcOpenMemHandle(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	if (check(p, 1, "importer"))
		return 1;
	if (orphan) { /* wait until the exporter freed it and reused as much */
		cuMemFreeAsync(p, NULL); /* not its own: refused (posted: at the next synchronize) */
		EXPECT(cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
		printf("importer: opened\n");
		fflush(stdout);
		while (access(gate, F_OK) != 0)
			usleep(10000);
		if (check(p, 1, "importer, after the exporter freed it"))
			return 1;
		CK(cuIpcCloseMemHandle(p));
		printf("importer: its memory untouched after the exporter freed it\n");
		printf("ipc_probe: PASS\n");
		return 0;
	}
	from_hex(event_hex, eh.reserved, sizeof(eh.reserved));
	CK(cuIpcOpenEventHandle(&ev, eh));
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuStreamWaitEvent(NULL, ev, 0)); /* the exporter's copy */
	CK(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuEventRecord(ev, NULL));
	CK(cuEventSynchronize(ev));
	CK(cuEventDestroy(ev)); /* the exporter's stays */
	CK(cuIpcOpenMemHandle(&q, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	CHECK(q == p, "opened twice: 0x%llx, then 0x%llx", (unsigned long long)p, (unsigned long long)q);
	EXPECT(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	CK(cuIpcCloseMemHandle(q));
	CK(cuIpcCloseMemHandle(p));
	printf("importer: read the words, doubled them after the exporter's event, opened the handle twice\n");
	printf("ipc_probe: PASS\n");
	return 0;
}

static int run(const char *self, const char *hex, const char *event_hex, int orphan, const char *gate, pid_t *pid)
{
	char words[16];

	snprintf(words, sizeof(words), "%u", n);
	fflush(stdout);
	*pid = fork();
	if (*pid == 0) {
		execl(self, self, "--words", words, "--import", hex, "--event", event_hex,
		      orphan ? "--orphan" : "--twice", "--gate", gate, (char *)NULL);
		_exit(127);
	}
	return *pid > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"words", required_argument, 0, 'w'},
					      {"import", required_argument, 0, 'i'},
					      {"orphan", no_argument, 0, 'o'},
					      {"twice", no_argument, 0, 't'},
					      {"gate", required_argument, 0, 'g'},
					      {"event", required_argument, 0, 'e'},
					      {0, 0, 0, 0}};
	const char *import = NULL, *gate = "", *event_in = "";
	char hex[2 * sizeof(CUipcMemHandle) + 1], event_hex[2 * sizeof(CUipcEventHandle) + 1], gatefile[64];
	int opt, orphan = 0, status = 0;
	CUipcMemHandle h, other;
	CUipcEventHandle eh, eother;
	CUevent ev, timed, e2;
	CUcontext ctx;
	CUdeviceptr p, q, r;
	unsigned i;
	pid_t pid;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'w')
			n = (unsigned)atoi(optarg);
		else if (opt == 'i')
			import = optarg;
		else if (opt == 'o')
			orphan = 1;
		else if (opt == 'g')
			gate = optarg;
		else if (opt == 'e')
			event_in = optarg;
		else if (opt != 't')
			return 2;
	}
	if (import)
		return importer(import, event_in, orphan, gate);
	if (setup(&ctx))
		return 1;
	CK(cuMemAlloc(&p, (size_t)n * 4));
	for (i = 0; i < n; i++)
		host[i] = i;
	CK(cuMemcpyHtoD(p, host, (size_t)n * 4));
	CK(cuIpcGetMemHandle(&h, p));
	to_hex(h.reserved, sizeof(h.reserved), hex);
	CK(cuEventCreate(&timed, CU_EVENT_DEFAULT));
	CHECK(cuIpcGetEventHandle(&eh, timed) != CUDA_SUCCESS, "an event without CU_EVENT_INTERPROCESS has a handle");
	CK(cuEventDestroy(timed));
	CK(cuEventCreate(&ev, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING));
	CK(cuEventRecord(ev, NULL));
	CK(cuIpcGetEventHandle(&eh, ev));
	to_hex(eh.reserved, sizeof(eh.reserved), event_hex);
	EXPECT(cuIpcOpenMemHandle(&q, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_CONTEXT);
	snprintf(gatefile, sizeof(gatefile), "/tmp/omps-ipc-gate.%d", (int)getpid());
	unlink(gatefile);
	if (run(argv[0], hex, event_hex, orphan, gatefile, &pid))
		return 1;
	if (orphan) { /* the importer holds it: free, take as much again, fill it */
		sleep(1);
		CK(cuMemFree(p));
		CK(cuMemAlloc(&r, (size_t)n * 4));
		CK(cuMemsetD32(r, 0xdead, n));
		CK(cuCtxSynchronize());
		fclose(fopen(gatefile, "w"));
		waitpid(pid, &status, 0);
		unlink(gatefile);
		CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "the importer failed");
		memcpy(&other, &h, sizeof(h));
		other.reserved[8] ^= 1; /* another server's pid */
		EXPECT(cuIpcOpenMemHandle(&q, other, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_NOT_SUPPORTED);
		memcpy(&eother, &eh, sizeof(eh));
		eother.reserved[8] ^= 1;
		EXPECT(cuIpcOpenEventHandle(&e2, eother), CUDA_ERROR_NOT_SUPPORTED);
		memcpy(&eother, &eh, sizeof(eh));
		eother.reserved[20] ^= 1; /* a token nobody gave out */
		EXPECT(cuIpcOpenEventHandle(&e2, eother), CUDA_ERROR_INVALID_VALUE);
		CK(cuEventDestroy(ev));
		EXPECT(cuIpcOpenEventHandle(&e2, eh), CUDA_ERROR_INVALID_VALUE); /* gone with its last holder */
		printf("exporter: freed while open elsewhere; another server's handles refused\n");
		printf("ipc_probe: PASS\n");
		return 0;
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "the importer failed");
	CK(cuStreamWaitEvent(NULL, ev, 0)); /* the importer's record, after its kernel */
	CK(cuEventQuery(ev));
	if (check(p, 2, "exporter, after the importer"))
		return 1;
	CK(cuEventDestroy(ev));
	CK(cuMemFree(p));
	printf("exporter: the importer's writes seen, its event record waited for\n");
	printf("ipc_probe: PASS\n");
	return 0;
}
