/* CUDA IPC with the driver API, as simpleIPC and PyTorch's multiprocessing
 * use it: the same program passes natively (a GPU) and through openmps.
 *   omps-ipc-probe [--words N]
 *     allocates N words (i), gives out a handle, and runs itself as an
 *     importer (another process), which opens the handle, checks the
 *     words, doubles them with a kernel, opens it a second time (the same
 *     address), closes both; the exporter then reads 2i. Its own handle is
 *     an invalid context to itself; cuMemFree of an opened address is
 *     refused; after a close the address is no longer usable.
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

/* The importer: handle in hex on the command line. */
static int importer(const char *hex, int orphan, const char *gate)
{
	CUipcMemHandle h;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr p = 0, q = 0;
	void *args[] = {&p, &n};
	unsigned i;

	if (setup(&ctx))
		return 1;
	for (i = 0; i < sizeof(h.reserved); i++)
		sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&h.reserved[i]);
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
	CK(cuModuleLoadData(&mod, twice_ptx));
	CK(cuModuleGetFunction(&f, mod, "twice"));
	CK(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuIpcOpenMemHandle(&q, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	CHECK(q == p, "opened twice: 0x%llx, then 0x%llx", (unsigned long long)p, (unsigned long long)q);
	EXPECT(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
	CK(cuIpcCloseMemHandle(q));
	CK(cuIpcCloseMemHandle(p));
	printf("importer: read the words, doubled them, opened the handle twice\n");
	printf("ipc_probe: PASS\n");
	return 0;
}

static int run(const char *self, const char *hex, int orphan, const char *gate, pid_t *pid)
{
	char words[16];

	snprintf(words, sizeof(words), "%u", n);
	fflush(stdout);
	*pid = fork();
	if (*pid == 0) {
		execl(self, self, "--words", words, "--import", hex, orphan ? "--orphan" : "--twice", "--gate",
		      gate, (char *)NULL);
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
					      {0, 0, 0, 0}};
	const char *import = NULL, *gate = "";
	char hex[2 * sizeof(CUipcMemHandle) + 1], gatefile[64];
	int opt, orphan = 0, status = 0;
	CUipcMemHandle h, other;
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
		else if (opt != 't')
			return 2;
	}
	if (import)
		return importer(import, orphan, gate);
	if (setup(&ctx))
		return 1;
	CK(cuMemAlloc(&p, (size_t)n * 4));
	for (i = 0; i < n; i++)
		host[i] = i;
	CK(cuMemcpyHtoD(p, host, (size_t)n * 4));
	CK(cuIpcGetMemHandle(&h, p));
	for (i = 0; i < sizeof(h.reserved); i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)h.reserved[i]);
	EXPECT(cuIpcOpenMemHandle(&q, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_CONTEXT);
	snprintf(gatefile, sizeof(gatefile), "/tmp/omps-ipc-gate.%d", (int)getpid());
	unlink(gatefile);
	if (run(argv[0], hex, orphan, gatefile, &pid))
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
		printf("exporter: freed while open elsewhere; another server's handle refused\n");
		printf("ipc_probe: PASS\n");
		return 0;
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "the importer failed");
	if (check(p, 2, "exporter, after the importer"))
		return 1;
	CK(cuMemFree(p));
	printf("exporter: the importer's writes seen\n");
	printf("ipc_probe: PASS\n");
	return 0;
}
