/* Remote mode: at the program's first cuInit (or cuGetProcAddress, through
 * which cudart starts), the shim asks the control daemon for admission. No
 * daemon: native mode, the real driver does everything. Admitted: the shim
 * opens its data channel, two rings in a sealed memfd that the server maps,
 * and from then on the entry points send their calls there. Refused: every
 * call fails with CUDA_ERROR_MPS_CONNECTION_FAILED, after one clear line on
 * stderr saying why. OPENMPS_NATIVE=1 keeps a program native even when a
 * daemon runs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "shim.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum omps_mode mode = OMPS_NATIVE;
static struct omps_device_info devs[OMPS_MAX_DEVICES]; /* the server's, at admission */
static int ndevs;

/* Each per-thread-default-stream name (_ptsz, _ptds) does what its plain
 * twin does: its wrapper sets omps_ptds, which gives NULL its meaning. */
static void install_per_thread_twins(void)
{
	size_t i, j, n;

	for (i = 0; i < OMPS_EP_COUNT; i++) {
		const char *name = omps_entry_names[i];

		n = strlen(name);
		if (omps_table[i] || n < 6 || (strcmp(name + n - 5, "_ptsz") && strcmp(name + n - 5, "_ptds")))
			continue;
		for (j = 0; j < OMPS_EP_COUNT; j++)
			if (strlen(omps_entry_names[j]) == n - 5 && !strncmp(omps_entry_names[j], name, n - 5)) {
				omps_table[i] = omps_table[j];
				break;
			}
	}
}

static void install_remote(void)
{
	size_t i;

	for (i = 0; i < OMPS_EP_COUNT; i++)
		omps_table[i] = NULL;
	/* These need no GPU: the local driver answers them. */
	omps_use_driver_locally(OMPS_EP_cuGetErrorName);
	omps_use_driver_locally(OMPS_EP_cuGetErrorString);
	omps_use_driver_locally(OMPS_EP_cuDriverGetVersion);
	omps_device_install(devs, ndevs);
	omps_memory_install();
	omps_host_install();
	omps_module_install();
	omps_launch_install();
	omps_stream_install();
	omps_graph_install();
	omps_pitched_install();
	omps_pool_install();
	omps_hostfn_install();
	install_per_thread_twins();
}

static void decide(void)
{
	struct omps_connection conn;
	const char *native = getenv("OPENMPS_NATIVE");
	char err[512];

	if (native && *native && strcmp(native, "0"))
		return;
	switch (omps_connect(&conn, err, sizeof(err))) {
	case OMPS_CONNECT_NO_DAEMON:
		return; /* native, as if openmps were not there */
	case OMPS_CONNECT_OK:
		if (omps_channel_open(&conn, devs, &ndevs, err, sizeof(err)) == 0) {
			install_remote();
			mode = OMPS_REMOTE;
			if (omps_trace_on)
				omps_trace_note("remote mode: client %u of server %d", conn.client_id,
						(int)conn.server_pid);
			return;
		}
		omps_disconnect(&conn);
		break;
	default:
		break;
	}
	fprintf(stderr, "openmps: %s; CUDA calls fail with CUDA_ERROR_MPS_CONNECTION_FAILED\n", err);
	memset(omps_table, 0, sizeof(omps_table));
	mode = OMPS_BROKEN;
}

enum omps_mode omps_mode(void)
{
	pthread_once(&once, decide);
	return mode;
}

/* cuInit decides the mode: native cuInit, or the server's answer. */
OMPS_EXPORT CUresult CUDAAPI cuInit(unsigned int Flags)
{
	CUresult (*real)(unsigned int) = (CUresult(*)(unsigned int))omps_real[OMPS_EP_cuInit];
	uint64_t t0 = omps_trace_now();
	enum omps_mode m = omps_mode();
	CUresult r;

	if (m == OMPS_REMOTE)
		r = Flags ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	else if (m == OMPS_BROKEN)
		r = CUDA_ERROR_MPS_CONNECTION_FAILED;
	else
		r = real ? real(Flags) : omps_no_entry(OMPS_EP_cuInit);
	if (omps_trace_on)
		omps_trace(OMPS_EP_cuInit, t0, r, "Flags=%u", Flags);
	return r;
}
