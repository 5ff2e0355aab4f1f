/* CUDA IPC in remote mode (ipc.c in the server): a handle is the server's
 * token for the allocation, with the server's pid. Between two clients of
 * one server the importer gets the exporter's own addresses; a handle of
 * another server, or of a process that is not openmps's, is refused with a
 * line. An event's handle is the same kind of token: the importer's event
 * is the exporter's, in the server. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define IPC_MAGIC "openmps"

struct handle {
	char magic[8];
	int32_t server_pid;
	uint32_t reserved;
	unsigned char token[OMPS_IPC_TOKEN];
};

_Static_assert(sizeof(struct handle) <= sizeof(CUipcMemHandle), "an openmps handle fits the driver's");

/* The handle's bytes: openmps's mark, the server, the token. */
static void handle_out(char reserved[64], const struct omps_reply_ipc *rep)
{
	struct handle h;

	memset(reserved, 0, 64);
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IPC_MAGIC, sizeof(h.magic));
	h.server_pid = rep->server_pid;
	memcpy(h.token, rep->token, sizeof(h.token));
	memcpy(reserved, &h, sizeof(h));
}

static CUresult get_mem_handle(CUipcMemHandle *out, CUdeviceptr ptr)
{
	struct omps_call_ptr m = {.ptr = ptr};
	struct omps_reply_ipc rep;
	CUresult r;

	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	memset(&rep, 0, sizeof(rep));
	r = shim_call(OMPS_CALL_IPC_GET, &m, sizeof(m), &rep, sizeof(rep));
	if (r != CUDA_SUCCESS)
		return r;
	handle_out(out->reserved, &rep);
	return CUDA_SUCCESS;
}

/* A handle opened through the server (IPC_OPEN, IPC_EVENT_OPEN): one of
 * openmps's, else refused, and a handle of another server refused, each
 * with a line once (said[0], said[1]). */
static CUresult open_handle(uint32_t type, const char *reserved, uint32_t flags, const char *call, const char *what,
			    atomic_int said[2], struct omps_reply_ipc *rep)
{
	struct omps_call_ipc_open m = {.flags = flags};
	struct handle h;
	CUresult r;

	memcpy(&h, reserved, sizeof(h));
	if (memcmp(h.magic, IPC_MAGIC, sizeof(h.magic))) {
		if (!atomic_exchange(&said[0], 1))
			fprintf(stderr,
				"openmps: %s of a handle from a program outside openmps is not supported (its %s is in "
				"another context); it returns CUDA_ERROR_INVALID_VALUE\n",
				call, what);
		return CUDA_ERROR_INVALID_VALUE;
	}
	memcpy(m.token, h.token, sizeof(m.token));
	m.server_pid = h.server_pid;
	memset(rep, 0, sizeof(*rep));
	r = shim_call(type, &m, sizeof(m), rep, sizeof(*rep));
	if (r == CUDA_ERROR_NOT_SUPPORTED && !atomic_exchange(&said[1], 1))
		fprintf(stderr,
			"openmps: %s of a handle from a client of another openmps server (another user's, or with "
			"other settings) is not supported; it returns CUDA_ERROR_NOT_SUPPORTED\n",
			call);
	return r;
}

static CUresult open_mem_handle(CUdeviceptr *ptr, CUipcMemHandle in, unsigned int flags)
{
	static atomic_int said[2];
	struct omps_reply_ipc rep;
	CUresult r;

	if (!ptr)
		return CUDA_ERROR_INVALID_VALUE;
	r = open_handle(OMPS_CALL_IPC_OPEN, in.reserved, flags, "cuIpcOpenMemHandle", "memory", said, &rep);
	if (r != CUDA_SUCCESS)
		return r;
	shim_range_add(&(struct shim_range){.base = rep.ptr, .bytes = rep.bytes, .kind = SHIM_RANGE_DEVICE,
					    .dev = rep.dev});
	*ptr = rep.ptr;
	return CUDA_SUCCESS;
}

static CUresult get_event_handle(CUipcEventHandle *out, CUevent e)
{
	struct shim_object *o = shim_object(e, EVENT_MAGIC);
	struct omps_call_handle m;
	struct omps_reply_ipc rep;
	CUresult r;

	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	m.handle = o->handle;
	memset(&rep, 0, sizeof(rep));
	r = shim_call(OMPS_CALL_IPC_EVENT_GET, &m, sizeof(m), &rep, sizeof(rep));
	if (r == CUDA_SUCCESS)
		handle_out(out->reserved, &rep);
	return r;
}

static CUresult open_event_handle(CUevent *e, CUipcEventHandle in)
{
	static atomic_int said[2];
	struct omps_reply_ipc rep;
	struct shim_object *o;
	CUresult r;

	if (!e)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(o = malloc(sizeof(*o)))) /* first: an event opened in the server always gets its handle */
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = open_handle(OMPS_CALL_IPC_EVENT_OPEN, in.reserved, 0, "cuIpcOpenEventHandle", "event", said, &rep);
	if (r != CUDA_SUCCESS) {
		free(o);
		return r;
	}
	*o = (struct shim_object){.magic = EVENT_MAGIC, .handle = (uint32_t)rep.ptr, .dev = rep.dev,
				  .flags = CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING};
	*e = (CUevent)o;
	return CUDA_SUCCESS;
}

static CUresult close_mem_handle(CUdeviceptr ptr)
{
	struct omps_call_ptr m = {.ptr = ptr};
	struct omps_reply rep;
	CUresult r = shim_call(OMPS_CALL_IPC_CLOSE, &m, sizeof(m), &rep, sizeof(rep));

	if (r == CUDA_SUCCESS)
		shim_range_remove(ptr, NULL);
	return r;
}

void shim_ipc_install(void)
{
	SHIM_INSTALL(cuIpcGetMemHandle, get_mem_handle);
	SHIM_INSTALL(cuIpcOpenMemHandle_v2, open_mem_handle);
	SHIM_INSTALL(cuIpcCloseMemHandle, close_mem_handle);
	SHIM_UNTYPED(cuIpcOpenMemHandle, open_mem_handle); /* the unversioned name, the same call */
	SHIM_INSTALL(cuIpcGetEventHandle, get_event_handle);
	SHIM_INSTALL(cuIpcOpenEventHandle, open_event_handle);
}
