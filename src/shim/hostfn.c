/* Host functions and stream callbacks in remote mode: they run on a thread
 * of the shim's in the program, in stream order, and the caller does not
 * wait. Each gets a ticket and a slot of the area shared with the server
 * (protocol.h, struct omps_hostfn_area): the stream marks the slot reached
 * and rings the doorbell, this thread runs the function and marks the slot
 * done, and only then does the stream go on. Where the area cannot be
 * shared, the caller waits for the stream and runs the function itself.
 *
 * In a graph (captured, or a host node) a function has a graph slot instead,
 * which each launch marks reached (1); this thread runs it and marks it
 * done (2). A slot stays the function's until the server moves the area's
 * graph_epoch (the client holds no graph any more). */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

struct graph_slot {
	int used;
	int settled;	/* in a graph: free again once graph_epoch moves from epoch */
	uint32_t epoch;
	CUhostFn fn;
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
	struct graph_slot graph[OMPS_HOSTFN_GRAPH_SLOTS];
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
	for (i = 0; i < OMPS_HOSTFN_GRAPH_SLOTS; i++)
		if (hf.graph[i].used)
			return 1;
	return 0;
}

/* A graph slot a launch has reached, or -1. Lock held. */
static int graph_reached(void)
{
	int i;

	for (i = 0; i < OMPS_HOSTFN_GRAPH_SLOTS; i++)
		if (hf.graph[i].used && atomic_load((_Atomic uint32_t *)&hf.area->graph[i]) == 1)
			return i;
	return -1;
}

/* Runs the graph functions reached; lock held, and dropped while each runs. */
static void run_graph_slots(void)
{
	int g;

	while ((g = graph_reached()) >= 0) {
		struct graph_slot s = hf.graph[g];

		pthread_mutex_unlock(&hf.lock);
		s.fn(s.data);
		atomic_store_explicit((_Atomic uint32_t *)&hf.area->graph[g], 2, memory_order_release);
		pthread_mutex_lock(&hf.lock);
	}
}

static void *runner(void *arg)
{
	_Atomic uint32_t *bell = (_Atomic uint32_t *)&hf.area->doorbell;
	struct timespec idle = {0, 100 * 1000 * 1000}; /* a safety net: the doorbell wakes us */

	(void)arg;
	for (;;) {
		struct hostfn f;
		int i, waiting;

		/* 0 before looking: a stream that rings after this changes it,
		 * and the wait below then returns at once (a graph rings with
		 * the same value at every launch). */
		atomic_store(bell, 0);
		pthread_mutex_lock(&hf.lock);
		run_graph_slots();
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
		syscall(SYS_futex, (uint32_t *)bell, FUTEX_WAIT, 0, waiting ? &idle : NULL, NULL, 0);
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

int shim_hostfn_graph_slot(CUhostFn fn, void *data)
{
	uint32_t epoch;
	int i;

	pthread_mutex_lock(&hf.lock);
	if (!ready()) {
		pthread_mutex_unlock(&hf.lock);
		shim_unsupported("a host function in a graph, without memory shared with the server");
		return -1;
	}
	epoch = atomic_load((_Atomic uint32_t *)&hf.area->graph_epoch);
	for (i = 0; i < OMPS_HOSTFN_GRAPH_SLOTS; i++)
		if (!hf.graph[i].used || (hf.graph[i].settled && hf.graph[i].epoch != epoch))
			break;
	if (i < OMPS_HOSTFN_GRAPH_SLOTS) {
		hf.graph[i] = (struct graph_slot){.used = 1, .fn = fn, .data = data};
		atomic_store((_Atomic uint32_t *)&hf.area->graph[i], 0);
	}
	pthread_mutex_unlock(&hf.lock);
	if (i == OMPS_HOSTFN_GRAPH_SLOTS) {
		fprintf(stderr, "openmps: more than %d host functions in the graphs one process holds at once\n",
			OMPS_HOSTFN_GRAPH_SLOTS);
		return -1;
	}
	return i;
}

void shim_hostfn_graph_settle(int slot, int kept)
{
	pthread_mutex_lock(&hf.lock);
	if (kept) {
		/* Read after the server put it in a graph: the epoch moves only once no graph holds it. */
		hf.graph[slot].epoch = atomic_load((_Atomic uint32_t *)&hf.area->graph_epoch);
		hf.graph[slot].settled = 1;
	} else {
		hf.graph[slot].used = 0;
	}
	pthread_mutex_unlock(&hf.lock);
}

static void free_ticket(uint32_t slot)
{
	pthread_mutex_lock(&hf.lock);
	hf.slot[slot].used = 0;
	pthread_cond_broadcast(&hf.freed);
	pthread_mutex_unlock(&hf.lock);
}

/* While a capture is under way here: the server says whether the stream
 * captured it (then it has a graph slot) or queued it (its ticket). */
static CUresult enqueue_maybe_captured(struct omps_call_hostfn *m, uint32_t slot, const struct hostfn *f)
{
	struct omps_reply_value rep = {{0}, 0};
	int g = shim_hostfn_graph_slot(f->fn, f->data);
	CUresult r;

	if (g < 0) {
		free_ticket(slot);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	m->graph_slot = (uint32_t)g + 1;
	r = shim_call(OMPS_CALL_HOST_FUNC_CAPTURE, m, sizeof(*m), &rep, sizeof(rep));
	shim_hostfn_graph_settle(g, r == CUDA_SUCCESS && rep.value == 1);
	if (r != CUDA_SUCCESS || rep.value == 1)
		free_ticket(slot); /* captured or refused: its ticket is never reached */
	return r;
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
	if (f->fn && shim_capturing_any())
		return enqueue_maybe_captured(&m, slot, f);
	r = shim_post(OMPS_CALL_HOST_FUNC, &m, sizeof(m), NULL, 0);
	if (r != CUDA_SUCCESS)
		free_ticket(slot);
	return r;
}

CUresult shim_launch_host_func(CUstream s, CUhostFn fn, void *data)
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
	SHIM_INSTALL(cuLaunchHostFunc, shim_launch_host_func);
	SHIM_INSTALL(cuStreamAddCallback, stream_add_callback);
}
