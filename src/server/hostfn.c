/* Host functions and stream callbacks, which run in the client: the stream
 * tells the client its function is reached and waits on the GPU until the
 * client says it has returned (protocol.h, struct omps_hostfn_area). The
 * stream never blocks a driver thread: the driver's host function here only
 * wakes the client's futex, which is safe even once the client is gone (a
 * futex call on an address no longer mapped fails, it does not fault). */
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server.h"

static void wake_client(void *doorbell)
{
	syscall(SYS_futex, doorbell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void srv_hostfn_area(struct srv_client *c, const struct omps_call_ptr *m)
{
	CUresult r = CUDA_SUCCESS;

	if (c->hostfn.area || m->ptr % 64 || !srv_host_device_ptr(c, m->ptr, sizeof(struct omps_hostfn_area)))
		r = CUDA_ERROR_INVALID_VALUE; /* set before, or not in memory it shares with us */
	else
		__atomic_store_n(&c->hostfn.area, m->ptr, __ATOMIC_RELEASE);
	srv_reply_result(c, r);
}

static CUresult word(struct srv_client *c, size_t offset, CUdeviceptr *d)
{
	*d = c->hostfn.area ? srv_host_device_ptr(c, c->hostfn.area + offset, 4) : 0;
	return *d ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

void srv_hostfn_call(struct srv_client *c, const struct omps_call_hostfn *m)
{
	struct srv_driver *drv = c->srv->drv;
	size_t slot = m->ticket % OMPS_HOSTFN_SLOTS;
	CUdeviceptr reached, bell, done;
	CUstream s;
	CUresult r = srv_stream(c, m->stream, m->dev, &s);

	if (r == CUDA_SUCCESS) /* its ticket would be replayed */
		r = srv_capture_refuse(c, s, "a host function (cuLaunchHostFunc)");
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, reached) + 4 * slot, &reached);
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, doorbell), &bell);
	if (r == CUDA_SUCCESS)
		r = word(c, offsetof(struct omps_hostfn_area, done) + 4 * slot, &done);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, reached, m->ticket, 0);
	if (r == CUDA_SUCCESS)
		r = drv->stream_write_value32(s, bell, m->ticket, 0);
	if (r == CUDA_SUCCESS)
		r = drv->launch_host_func(s, wake_client, (void *)(uintptr_t)c->hostfn.area);
	if (r == CUDA_SUCCESS)
		r = drv->stream_wait_value32(s, done, m->ticket, CU_STREAM_WAIT_VALUE_GEQ);
	if (r == CUDA_SUCCESS) {
		__atomic_store_n(&c->hostfn.last, m->ticket, __ATOMIC_RELEASE);
		__atomic_store_n(&c->hostfn.pending, 1, __ATOMIC_RELEASE);
	}
	srv_deferred(c, r);
}

/* A client that is gone runs no more functions: every wait of its streams is
 * let go, so that its streams drain before its memory is released. Under the
 * hosts lock, so that the area cannot be unmapped meanwhile. From the main
 * thread as soon as the client is gone (srv_channel_stop), and again from
 * its worker's release: the worker may itself be in the driver behind such
 * a wait (fakecuda waits synchronously), and a record it was serving when
 * the client went may hold a ticket past the last one read here, so every
 * ticket up to 2^30 past it is let go (the comparison is a signed one). */
void srv_hostfn_release(struct srv_client *c)
{
	uint64_t area = __atomic_load_n(&c->hostfn.area, __ATOMIC_ACQUIRE);
	struct omps_hostfn_area *a = (struct omps_hostfn_area *)(uintptr_t)area;
	uint32_t all = __atomic_load_n(&c->hostfn.last, __ATOMIC_ACQUIRE) + (1u << 30);
	size_t i;

	if (!__atomic_load_n(&c->hostfn.pending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->host.lock);
	if (srv_host_mapped_locked(c, area, sizeof(*a)))
		for (i = 0; i < OMPS_HOSTFN_SLOTS; i++)
			__atomic_store_n(&a->done[i], all, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->host.lock);
}
