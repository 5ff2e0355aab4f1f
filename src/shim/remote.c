/* Remote mode: at the program's first cuInit (or cuGetProcAddress, through
 * which cudart starts), the shim asks the control daemon for admission. No
 * daemon: native mode, the real driver does everything. Admitted: the shim
 * opens its data channel, two rings in a sealed memfd that the server maps,
 * and from then on the entry points send their calls there. Refused: every
 * call fails with CUDA_ERROR_MPS_CONNECTION_FAILED, after one clear line on
 * stderr saying why. No daemon, or one that root or this user does not run:
 * native mode, said once on stderr, or with OPENMPS_REQUIRE_SERVER=1 every
 * call fails as if refused. OPENMPS_NATIVE=1 keeps a program native, without
 * a word, even when a daemon runs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "shim.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum shim_mode mode = SHIM_NATIVE;
static struct omps_device_info devs[OMPS_MAX_DEVICES]; /* the server's, at admission */
static int ndevs;

/* Each per-thread-default-stream name (_ptsz, _ptds) does what its plain
 * twin does: its wrapper sets shim_ptds, which gives NULL its meaning. */
static void install_per_thread_twins(void)
{
	size_t i, j, n;

	for (i = 0; i < SHIM_EP_COUNT; i++) {
		const char *name = shim_entry_names[i];

		n = strlen(name);
		if (shim_table[i] || n < 6 || (strcmp(name + n - 5, "_ptsz") && strcmp(name + n - 5, "_ptds")))
			continue;
		for (j = 0; j < SHIM_EP_COUNT; j++)
			if (strlen(shim_entry_names[j]) == n - 5 && !strncmp(shim_entry_names[j], name, n - 5)) {
				shim_table[i] = shim_table[j];
				break;
			}
	}
}

static void install_remote(void)
{
	size_t i;

	for (i = 0; i < SHIM_EP_COUNT; i++)
		shim_table[i] = NULL;
	/* These need no GPU: the local driver answers them. */
	shim_use_driver_locally(SHIM_EP_cuGetErrorName);
	shim_use_driver_locally(SHIM_EP_cuGetErrorString);
	shim_use_driver_locally(SHIM_EP_cuDriverGetVersion);
	shim_device_install(devs, ndevs);
	shim_memory_install();
	shim_host_install();
	shim_module_install();
	shim_launch_install();
	shim_stream_install();
	shim_graph_install();
	shim_graphbuild_install();
	shim_ipc_install();
	shim_managed_install();
	shim_vmm_install();
	shim_tensormap_install();
	shim_pitched_install();
	shim_array_install();
	shim_link_install();
	shim_managedvar_install();
	shim_pool_install();
	shim_hostfn_install();
	install_per_thread_twins();
}

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

/* The data channel, opened within each try of shim_connect_then: a server
 * gone meanwhile is asked for again. */
static enum shim_connect_result open_channel(struct shim_connection *conn, char *err, size_t errlen)
{
	int r = shim_channel_open(conn, devs, &ndevs, err, errlen);

	return r == 0 ? SHIM_CONNECT_OK : r == -2 ? SHIM_CONNECT_LOST : SHIM_CONNECT_FAILED;
}

static void decide(void)
{
	struct shim_connection conn;
	enum shim_connect_result r;
	int none;
	char err[512];

	if (env_on("OPENMPS_NATIVE")) {
		shim_say_no_driver();
		return;
	}
	r = shim_connect_then(&conn, open_channel, err, sizeof(err));
	if (r == SHIM_CONNECT_OK) {
		install_remote();
		mode = SHIM_REMOTE;
		if (shim_trace_on)
			shim_trace_note("remote mode: client %u of server %d", conn.client_id, (int)conn.server_pid);
		return;
	}
	none = r == SHIM_CONNECT_NO_DAEMON || r == SHIM_CONNECT_UNTRUSTED;
	if (none && !env_on("OPENMPS_REQUIRE_SERVER")) {
		fprintf(stderr, "openmps: %s; running natively\n", err);
		shim_say_no_driver();
		return;
	}
	fprintf(stderr, "openmps: %s; %sCUDA calls fail with CUDA_ERROR_MPS_CONNECTION_FAILED\n", err,
		none ? "OPENMPS_REQUIRE_SERVER is set, so " : "");
	memset(shim_table, 0, sizeof(shim_table));
	mode = SHIM_BROKEN;
}

enum shim_mode shim_mode(void)
{
	pthread_once(&once, decide);
	return mode;
}

/* cuInit decides the mode: native cuInit, or the server's answer. */
SHIM_EXPORT CUresult CUDAAPI cuInit(unsigned int Flags)
{
	CUresult (*real)(unsigned int) = (CUresult(*)(unsigned int))shim_real[SHIM_EP_cuInit];
	uint64_t t0 = shim_trace_now();
	enum shim_mode m = shim_mode();
	CUresult r;

	if (m == SHIM_REMOTE) /* none seen: CUDA_VISIBLE_DEVICES named none, as natively */
		r = Flags ? CUDA_ERROR_INVALID_VALUE : ndevs ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
	else if (m == SHIM_BROKEN)
		r = CUDA_ERROR_MPS_CONNECTION_FAILED;
	else
		r = real ? real(Flags) : shim_no_entry(SHIM_EP_cuInit);
	if (shim_trace_on)
		shim_trace(SHIM_EP_cuInit, t0, r, "Flags=%u", Flags);
	return r;
}
