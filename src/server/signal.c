/* Synchronizes the GPU signals (SYNC_SIGNAL): a write of the client's
 * number into its reply ring's signal word goes on a stream behind the
 * work waited for, and the reply goes at once; the client spins on the
 * word as the driver spins on its own semaphore (shim/channel.c). The
 * server's synchronize and its late reply leave the round trip (an empty
 * kernel's launch and synchronize on the H200: 9.2-9.9 us so, 12.4-13.9 us
 * with the server's synchronize, bench/results/2026-12-04-h200-signal.md),
 * and its worker is free at once. The work stays queued for fault.c until
 * the word says done. The write goes on the stream named; for a context,
 * on its NULL stream when it has no other on the device; for a context
 * with streams, or an event, on the client's signal stream, made to wait
 * for each of them (one event, recorded anew on each) or for the event.
 * Otherwise the server waits as for SYNCHRONIZE, STREAM_SYNC or EVENT_SYNC
 * and replies 0. OPENMPS_SYNC_SIGNAL=0 turns it off (channel.c). */
#include "clock.h"
#include "log.h"
#include "server.h"

/* What the synchronize covers, its device current. */
struct target {
	int dev;
	CUstream s; /* the stream named, or the NULL stream */
	CUevent e;  /* the event named */
};

static CUresult resolve(struct srv_client *c, const struct omps_call_sync_signal *m, struct target *t)
{
	struct srv_object *o;

	t->dev = m->dev;
	t->s = NULL;
	t->e = NULL;
	if (!m->handle)
		return srv_use_device(c, m->dev, &t->s);
	o = m->kind == OMPS_SIGNAL_EVENT ? srv_object_find(c, c->events, c->nevents, m->handle, "event")
					 : srv_object_find(c, c->streams, c->nstreams, m->handle, "stream");
	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	t->dev = o->dev;
	if (m->kind == OMPS_SIGNAL_EVENT)
		t->e = o->obj;
	else
		t->s = o->obj;
	return srv_use_device(c, o->dev, NULL);
}

/* The client's signal stream and event on dev, made at first use. */
static CUstream signal_stream(struct srv_client *c, int dev, CUevent *ev)
{
	struct srv_driver *drv = c->srv->drv;

	if (!c->signal.stream[dev] && drv->stream_create(&c->signal.stream[dev], CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS)
		c->signal.stream[dev] = NULL;
	if (c->signal.stream[dev] && !c->signal.event[dev] &&
	    drv->event_create(&c->signal.event[dev], CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS)
		c->signal.event[dev] = NULL;
	*ev = c->signal.event[dev];
	return *ev ? c->signal.stream[dev] : NULL;
}

/* Has sig wait for the work queued so far on s. */
static CUresult join(struct srv_driver *drv, CUstream sig, CUevent ev, CUstream s)
{
	CUresult r = drv->event_record(ev, s);

	return r == CUDA_SUCCESS ? drv->stream_wait_event(sig, ev, 0) : r;
}

/* The context's streams on dev, the NULL one first, joined on sig; not
 * those being captured (they hold no work, and a record would join the
 * graph). */
static CUresult join_context(struct srv_client *c, int dev, CUstream sig, CUevent ev, CUstream null_stream)
{
	struct srv_driver *drv = c->srv->drv;
	CUresult r = srv_capturing(c, null_stream) ? CUDA_SUCCESS : join(drv, sig, ev, null_stream);
	uint32_t i;

	for (i = 0; i < c->nstreams && r == CUDA_SUCCESS; i++)
		if (srv_stream_waited(c, &c->streams[i], dev))
			r = join(drv, sig, ev, c->streams[i].obj);
	return r;
}

/* The stream the write goes on, behind all the wait covers; NULL where the
 * server waits itself: the client has an error to hear first, its signal
 * word is not page-locked, the driver refused a signal before, the server
 * is crowded (a spinning client takes a CPU the launches need, and
 * wait_done's rule says who spins), the stream is being captured (the
 * write would join the graph), or the client has an SM share and the wait
 * needs its signal stream (made in the primary context, not its green
 * one). *r: a fatal error of a join (held for the successor). */
static CUstream place(struct srv_client *c, const struct omps_call_sync_signal *m, const struct target *t,
		      CUresult *r)
{
	CUstream sig;
	CUevent ev;

	*r = CUDA_SUCCESS;
	if (!c->signal.at || c->sticky != CUDA_SUCCESS || srv_workers_crowded(c->srv))
		return NULL;
	if (t->s && m->handle)
		return srv_capturing(c, t->s) ? NULL : t->s;
	if (t->s && !srv_streams_on(c, t->dev))
		return t->s;
	if (c->qos.part[t->dev] || !(sig = signal_stream(c, t->dev, &ev)))
		return NULL;
	*r = t->e ? c->srv->drv->stream_wait_event(sig, t->e, 0) : join_context(c, t->dev, sig, ev, t->s);
	if (*r == CUDA_SUCCESS)
		return sig;
	if (!srv_fault_fatal(*r)) /* the server's own wait says what is wrong, if anything */
		*r = CUDA_SUCCESS;
	return NULL;
}

CUstream srv_signal_join_all(struct srv_client *c, int dev, CUstream null_stream)
{
	CUstream sig;
	CUevent ev;

	if (c->qos.part[dev] || !(sig = signal_stream(c, dev, &ev)))
		return NULL;
	return join_context(c, dev, sig, ev, null_stream) == CUDA_SUCCESS ? sig : NULL;
}

void srv_signal_drain(struct srv_client *c, int dev)
{
	struct srv_driver *drv = c->srv->drv;

	if (c->signal.stream[dev] && drv->ctx_set_current(c->srv->ctx[dev]) == CUDA_SUCCESS)
		drv->stream_synchronize(c->signal.stream[dev]);
}

/* Whether the synchronize waits for all the client queued (fault.c). */
static int covers(const struct srv_client *c, const struct omps_call_sync_signal *m, const struct target *t)
{
	if (!m->handle)
		return srv_fault_covers(c, OMPS_CALL_SYNCHRONIZE, 0, t->dev);
	return srv_fault_covers(c, m->kind == OMPS_SIGNAL_EVENT ? OMPS_CALL_EVENT_SYNC : OMPS_CALL_STREAM_SYNC,
				m->handle, t->dev);
}

/* The write; 0 if the server is to wait instead (*r: a fatal error, held). */
static int signalled(struct srv_client *c, const struct omps_call_sync_signal *m, const struct target *t,
		     CUresult *r)
{
	CUstream s = place(c, m, t, r);

	if (!s)
		return 0;
	*r = c->srv->drv->stream_write_value32(s, c->signal.at, m->seq, CU_STREAM_WRITE_VALUE_DEFAULT);
	if (*r == CUDA_SUCCESS) {
		c->signal.last = s;
		c->signal.last_dev = t->dev;
		c->signal.seq = m->seq;
		c->signal.sent_us = omps_now_us();
		c->signal.awaited = 0;
		c->signal.clean = covers(c, m, t); /* idle once written, as after a synchronize the server made (call.c) */
		srv_stats_signalled(c);
		c->mod.synced = c->mod.launches;
		return 1;
	}
	if (!srv_fault_fatal(*r)) {
		omps_log("Client process %d: the GPU cannot signal its synchronizes (error %d); the server waits "
			 "for them", (int)c->pid, (int)*r);
		c->signal.at = 0; /* for good: its rings are page-locked once */
		*r = CUDA_SUCCESS;
	}
	return 0;
}

void srv_signal_sync(struct srv_client *c, const struct omps_call_sync_signal *m)
{
	struct srv_driver *drv = c->srv->drv;
	struct target t;
	CUresult r = resolve(c, m, &t);

	if (r == CUDA_SUCCESS && signalled(c, m, &t, &r)) {
		omps_ring_advise(&c->rep, 0);
		srv_reply_value(c, r, 1);
		return;
	}
	if (r == CUDA_SUCCESS)
		r = t.e ? drv->event_synchronize(t.e) : m->handle ? drv->stream_synchronize(t.s) : srv_sync_device(c, t.dev);
	if (r == CUDA_SUCCESS && c->sticky == CUDA_SUCCESS) {
		if (covers(c, m, &t))
			srv_fault_queued(c, 0);
		c->mod.synced = c->mod.launches;
	}
	srv_reply_value(c, r, 0);
}

/* Where a write of the client's may still be queued on s (on dev, current)
 * as s goes: its signal stream, made to wait for s (srv_signal_release
 * waits for it); NULL where there is none, s waited for instead. */
static CUstream handed(struct srv_client *c, int dev, CUstream s)
{
	CUevent ev;
	CUstream sig = signal_stream(c, dev, &ev);

	if (sig && join(c->srv->drv, sig, ev, s) == CUDA_SUCCESS)
		return sig;
	c->srv->drv->stream_synchronize(s);
	return NULL;
}

/* Stream s of the client's, on dev (current), goes: the write of its last
 * signal, or of the server's last wait on it, may still be queued there
 * (whatever the words say: the client can write them), and is handed over. */
void srv_signal_stream_gone(struct srv_client *c, int dev, CUstream s)
{
	CUstream to;

	if (c->signal.waited != s && c->signal.last != s)
		return;
	to = handed(c, dev, s); /* once, where both were s */
	if (c->signal.waited == s) {
		c->signal.waited = to;
		c->signal.waited_dev = dev;
	}
	if (c->signal.last == s) {
		c->signal.last = to;
		c->signal.last_dev = dev;
	}
}

/* *s, on dev, waited for if there is one; then none. */
static void wait_gone(struct srv_client *c, CUstream *s, int dev)
{
	struct srv_driver *drv = c->srv->drv;

	if (*s && drv->ctx_set_current(c->srv->ctx[dev]) == CUDA_SUCCESS)
		drv->stream_synchronize(*s);
	*s = NULL;
}

/* As it goes, before its rings are unregistered (channel.c): no write of
 * its may land after, for a GPU write to memory no longer mapped faults
 * the context every client shares. So the stream of its last signal is
 * waited for (a client that left with work queued behind a signal holds a
 * worker until that work is done, as a synchronize does), and so is the
 * stream of the server's last wait on its request ring's word, and its
 * signal streams, whose writes follow at once work a synchronize of the
 * server's has waited for. Then they go. The streams, not the words: the
 * client can write those, and one that wrote its word and left would
 * have a write land in memory unmapped. */
void srv_signal_release(struct srv_client *c)
{
	struct srv_driver *drv = c->srv->drv;
	int dev;

	wait_gone(c, &c->signal.last, c->signal.last_dev);
	wait_gone(c, &c->signal.waited, c->signal.waited_dev);
	for (dev = 0; dev < OMPS_MAX_DEVICES; dev++) {
		if (!c->signal.stream[dev] && !c->signal.event[dev])
			continue;
		if (drv->ctx_set_current(c->srv->ctx[dev]) == CUDA_SUCCESS) {
			if (c->signal.stream[dev]) {
				drv->stream_synchronize(c->signal.stream[dev]);
				drv->stream_destroy(c->signal.stream[dev]);
			}
			if (c->signal.event[dev])
				drv->event_destroy(c->signal.event[dev]);
		}
		c->signal.stream[dev] = NULL;
		c->signal.event[dev] = NULL;
	}
}

/* After a synchronize the GPU signals, the client spins on its word and
 * posts its next record the moment the word lands; a worker asleep by then
 * costs that record a wake-up (tens of microseconds: a loop of 16 MiB
 * copies, 310 us each, ran 5 % slower than with the server's own
 * synchronize on the H100), and the GPU stays idle meanwhile where every
 * client waits at once (two clients of full-GPU kernels). So the worker
 * spins until the word is due, as the driver's synchronize would have
 * spun: SIGNAL_SPIN_MIN_US, or the client's last wait and a quarter more
 * where that is longer (a loop that waits alike each time is caught as its
 * word lands), up to OPENMPS_SIGNAL_SPIN_US, while the clients served fit a
 * quarter of the CPUs (past that, each waiting client's spinning worker and
 * spinning self would take the CPUs its neighbours' launches need: the
 * least, as before). A spin that ends before the word guesses twice as long
 * next time; past the most, the client's waits are long, and it gets the
 * least until one lands within it. */
#define SIGNAL_SPIN_MIN_US 1000

uint32_t srv_signal_spin_bound(uint32_t wait_us, int most_us)
{
	uint64_t us = (uint64_t)wait_us + wait_us / 4 + 50;

	if (wait_us == 0 || wait_us == SIGNAL_WAIT_LONG || us < SIGNAL_SPIN_MIN_US)
		us = SIGNAL_SPIN_MIN_US;
	return (uint32_t)(us < (uint64_t)most_us ? us : (uint64_t)most_us);
}

uint32_t srv_signal_learn(uint32_t before, uint32_t spun_us, int landed, uint32_t waited_us, int most_us)
{
	if (landed)
		return waited_us ? waited_us : 1;
	if (before == SIGNAL_WAIT_LONG || (uint64_t)spun_us * 2 > (uint64_t)most_us)
		return SIGNAL_WAIT_LONG;
	return spun_us * 2;
}

int srv_signal_await(struct srv_client *c)
{
	int most = c->srv->workers.signal_spin_us, came;
	uint32_t bound;
	uint64_t waited;

	if (c->signal.awaited) /* spun for once: the word landed, or its wait was past the spin */
		return 0;
	if (atomic_load(&c->srv->workers.serving) * 2 > c->srv->workers.sync_crowd && most > SIGNAL_SPIN_MIN_US)
		most = SIGNAL_SPIN_MIN_US;
	bound = srv_signal_spin_bound(c->signal.wait_us, most);
	came = omps_ring_spin_until_signal(&c->req, &c->rep, c->signal.seq, (int)bound);
	if (came)
		return 1; /* another thread of the client's posted: nothing learned */
	c->signal.awaited = 1;
	waited = omps_now_us() - c->signal.sent_us;
	c->signal.wait_us = srv_signal_learn(c->signal.wait_us, bound, omps_ring_signalled(&c->rep, c->signal.seq),
					     waited > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)waited, most);
	return 0;
}

/* The server's own wait for the work queued on s (its device current),
 * where a copy's reply waits for its bytes (memory.c). While the server is
 * not crowded and the client's rings are page-locked, the GPU writes a
 * number into the request ring's signal word behind the work, and the
 * worker spins on it: in one process with 32 hardware queues on the H200,
 * a launch followed by such a write took 8.5-8.9 us to be seen, and by the
 * driver's synchronize 9.5-10.5 us (bench/results/2026-12-04-h200-signal.md).
 * A word that does not come within COPY_SPIN_US (work queued ahead, or a
 * fault: a poisoned context writes nothing) is left to the driver's
 * synchronize, which says which. The word is the client's to write, as its
 * rings are: one that writes it early has its own reply early, and its
 * streams, not its words, are waited for before its rings go. */
#define COPY_SPIN_US 2000

CUresult srv_signal_wait(struct srv_client *c, int dev, CUstream s)
{
	struct srv_driver *drv = c->srv->drv;
	_Atomic uint32_t *word = omps_ring_signal_word(&c->req);
	uint32_t seq = atomic_load_explicit(word, memory_order_relaxed) + 1;

	if (!c->signal.at || srv_workers_crowded(c->srv) ||
	    drv->stream_write_value32(s, (CUdeviceptr)(uintptr_t)word, seq, CU_STREAM_WRITE_VALUE_DEFAULT) !=
		    CUDA_SUCCESS)
		return drv->stream_synchronize(s);
	c->signal.waited = s;
	c->signal.waited_dev = dev;
	omps_ring_advise(&c->rep, 0); /* the reply comes as the word does: the client spins for it */
	if (omps_ring_wait_signal(&c->req, seq, COPY_SPIN_US))
		return CUDA_SUCCESS;
	return drv->stream_synchronize(s);
}
