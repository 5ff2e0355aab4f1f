/* Host functions and stream callbacks in remote mode: they run on a thread
 * of the shim's in the program, in stream order, and the caller does not
 * wait. Each gets a ticket and a slot of the area shared with the server
 * (protocol.h, struct omps_hostfn_area): the stream marks the slot reached
 * and rings the doorbell, this thread runs the function and marks the slot
 * done, and only then does the stream go on. Where the area cannot be
 * shared, the caller waits for the stream and runs the function itself. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

struct hostfn {
	uint32_t ticket;
	int used;
	CUhostFn fn;		/* a host function, or */
	CUstreamCallback cb;	/* a stream callback */
	CUstream stream;
	void *data;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int state; /* 0 not tried, 1 ready, -1 the caller runs them */
	int thread; /* the runner is started */
	struct omps_hostfn_area *area;
	uint32_t last; /* the last ticket given */
	struct hostfn slot[OMPS_HOSTFN_SLOTS];
} hf = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};

static int before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* The reached slot of the lowest ticket, or -1. Lock held. */
static int next_reached(void)
{
	int i, best = -1;

	for (i = 0; i < OMPS_HOSTFN_SLOTS; i++)
		if (hf.slot[i].used &&
		    atomic_load((_Atomic uint32_t *)&hf.area->reached[i]) == hf.slot[i].ticket &&
		    (best < 0 || before(hf.slot[i].ticket, hf.slot[best].ticket)))
			best = i;
	return best;
}

static int any_used(void)
{
	int i;

	for (i = 0; i < OMPS_HOSTFN_SLOTS; i++)
		if (hf.slot[i].used)
			return 1;
	return 0;
}

static void *runner(void *arg)
{
	_Atomic uint32_t *bell = (_Atomic uint32_t *)&hf.area->doorbell;
	struct timespec idle = {0, 100 * 1000 * 1000}; /* a safety net: the doorbell wakes us */

	(void)arg;
	for (;;) {
		uint32_t rung = atomic_load(bell);
		struct hostfn f;
		int i, waiting;

		pthread_mutex_lock(&hf.lock);
		while ((i = next_reached()) >= 0) {
			f = hf.slot[i];
			pthread_mutex_unlock(&hf.lock);
			if (f.fn)
				f.fn(f.data);
			else
				f.cb(f.stream, CUDA_SUCCESS, f.data);
			atomic_store_explicit((_Atomic uint32_t *)&hf.area->done[i], f.ticket, memory_order_release);
			pthread_mutex_lock(&hf.lock);
			hf.slot[i].used = 0;
			pthread_cond_broadcast(&hf.freed);
		}
		waiting = any_used();
		pthread_mutex_unlock(&hf.lock);
		/* Shared, not private: the server's process rings it. */
		syscall(SYS_futex, (uint32_t *)bell, FUTEX_WAIT, rung, waiting ? &idle : NULL, NULL, 0);
	}
	return NULL;
}

static void forget_runner(void)
{
	hf.thread = 0;
	pthread_mutex_init(&hf.lock, NULL);
	pthread_cond_init(&hf.freed, NULL);
}

/* Lock held. */
static int ready(void)
{
	struct omps_call_ptr m;
	struct omps_reply rep;
	void *p;

	if (!hf.state) {
		hf.state = -1;
		if (shim_host_alloc_shared(&p, sizeof(*hf.area)) != CUDA_SUCCESS)
			return 0;
		memset(p, 0, sizeof(*hf.area));
		m.ptr = (uintptr_t)p;
		if (shim_call(OMPS_CALL_HOSTFN_AREA, &m, sizeof(m), &rep, sizeof(rep)) != CUDA_SUCCESS)
			return 0;
		hf.area = p;
		hf.state = 1;
		pthread_atfork(NULL, NULL, forget_runner);
	}
	if (hf.state > 0 && !hf.thread)
		hf.thread = shim_thread_start(runner, NULL) == 0;
	return hf.state > 0 && hf.thread;
}

/* Without the area: wait for the stream, then run it here. */
static CUresult run_here(const struct hostfn *f)
{
	CUresult r = shim_stream_sync(f->stream);

	if (f->fn) {
		if (r == CUDA_SUCCESS)
			f->fn(f->data);
		return r;
	}
	f->cb(f->stream, r, f->data); /* a callback is told of the stream's error */
	return CUDA_SUCCESS;
}

static CUresult enqueue(struct hostfn *f)
{
	struct omps_call_hostfn m = {.dev = shim_current_device()};
	uint32_t slot;
	CUresult r;

	if ((r = shim_stream_handle(f->stream, &m.stream)) != CUDA_SUCCESS)
		return r;
	if (m.dev < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	pthread_mutex_lock(&hf.lock);
	if (!ready()) {
		pthread_mutex_unlock(&hf.lock);
		return run_here(f);
	}
	/* A slot is reused only once its last function has run, so that its
	 * done word never runs ahead of a ticket still waiting. */
	while (hf.slot[(hf.last + 1) % OMPS_HOSTFN_SLOTS].used)
		pthread_cond_wait(&hf.freed, &hf.lock);
	m.ticket = ++hf.last;
	slot = m.ticket % OMPS_HOSTFN_SLOTS;
	f->ticket = m.ticket;
	f->used = 1;
	hf.slot[slot] = *f;
	/* Posted without the lock: the runner takes it to run every function,
	 * and a post may wait on the channel, whose holder may be waiting in a
	 * synchronize for a function the runner has yet to run (a deadlock
	 * seen on an H200, and over fakecuda with e2e_liveness). */
	pthread_mutex_unlock(&hf.lock);
	r = shim_post(OMPS_CALL_HOST_FUNC, &m, sizeof(m), NULL, 0);
	if (r != CUDA_SUCCESS) {
		pthread_mutex_lock(&hf.lock);
		hf.slot[slot].used = 0;
		pthread_cond_broadcast(&hf.freed);
		pthread_mutex_unlock(&hf.lock);
	}
	return r;
}

static CUresult launch_host_func(CUstream s, CUhostFn fn, void *data)
{
	struct hostfn f = {.fn = fn, .stream = s, .data = data};

	return fn ? enqueue(&f) : CUDA_ERROR_INVALID_VALUE;
}

static CUresult stream_add_callback(CUstream s, CUstreamCallback cb, void *data, unsigned int flags)
{
	struct hostfn f = {.cb = cb, .stream = s, .data = data};

	return cb && !flags ? enqueue(&f) : CUDA_ERROR_INVALID_VALUE;
}

void shim_hostfn_install(void)
{
	SHIM_INSTALL(cuLaunchHostFunc, launch_host_func);
	SHIM_INSTALL(cuStreamAddCallback, stream_add_callback);
}
