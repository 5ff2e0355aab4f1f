/* Quality of service, enforced by the server for each client:
 *   - its share of the SMs (active thread percentage): its streams belong to
 *     a green context holding that many SMs, so its kernels run there only.
 *     A device's SMs split once into the driver's smallest groups (slots);
 *     a share is a run of them (share_slots: the nearest count, no more
 *     than lets as many such shares as fit in 100 % have runs of their
 *     own), placed where it overlaps the runs in use least (place).
 *     Shares' slots are the driver's finest (2 SMs on an H200, whose 8-SM
 *     coscheduled groups number 15 and leave 12 SMs in none: eight shares
 *     of 12 % got 8 SMs each there). The cost: a kernel of a client with a
 *     share runs in clusters of at most 2 blocks; OPENMPS_SM_SPLIT=
 *     coscheduled keeps the groups whole. Static partitions (-S) are runs
 *     of coscheduled groups always, NVIDIA's chunks.
 *   - its priority: stream priorities are split in two. Normal clients (0)
 *     get every level but the lowest, with their own priorities kept in
 *     order; below-normal clients (1) run at the lowest level, and on a
 *     green context that leaves OPENMPS_PRIORITY_RESERVE percent of the SMs
 *     (5 by default, to the nearest granule) to normal clients, while any is
 *     connected (with none they have every SM; normal_epoch moves them): a
 *     priority orders only blocks waiting to start, and a GPU full of
 *     below-normal blocks would otherwise hold a normal kernel until one of
 *     them ends (12 times its latency alone on an H100).
 *   - its device memory limit: every allocation, and a private module's
 *     data, counts; past the limit a call fails with
 *     CUDA_ERROR_OUT_OF_MEMORY and nothing else changes. cuMemGetInfo shows
 *     the limit as the total.
 * The daemon sends the server-wide settings; a client's effective ones
 * follow the daemon's rule (settings.h), from its own request. A change
 * bumps the client's generation on the main thread; its worker applies it
 * before the client's next call, moving its streams (in order: the new
 * stream waits for the old one's work) to the new partition and priority. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "devices.h"
#include "devinfo.h"
#include "log.h"
#include "server.h"
#include "settings.h"
#include "sock.h"

#define USAGE_PERIOD_US	  100000 /* ps's figures: at most this old while a client works */
#define PRIORITY_RESERVE_MILLI 5000 /* 5% of the SMs, kept from below-normal clients */

/* OPENMPS_PRIORITY_RESERVE: a percentage, 0 to 50; else the default. */
static uint32_t reserve_milli(void)
{
	const char *v = getenv("OPENMPS_PRIORITY_RESERVE");
	uint32_t milli;

	if (!v || !*v)
		return PRIORITY_RESERVE_MILLI;
	if (!strcmp(v, "0"))
		return 0;
	if (omps_atp_parse(v, &milli) == 0 && milli <= 50000)
		return milli;
	omps_log("OPENMPS_PRIORITY_RESERVE=%s: must be a percentage from 0 to 50; using 5", v);
	return PRIORITY_RESERVE_MILLI;
}

/* OPENMPS_SM_SPLIT: "fine" (the default) or "coscheduled"; 1 for fine. */
static int sm_split(void)
{
	const char *v = getenv("OPENMPS_SM_SPLIT");

	if (!v || !*v || !strcmp(v, "fine"))
		return 1;
	if (!strcmp(v, "coscheduled"))
		return 0;
	omps_log("OPENMPS_SM_SPLIT=%s: must be fine or coscheduled; using fine", v);
	return 1;
}

void srv_qos_init(struct srv_state *s)
{
	uint32_t i;

	s->reserve_milli = reserve_milli();
	s->sm_split = sm_split();
	pthread_mutex_init(&s->part_lock, NULL);
	for (i = 0; i < s->devices.ndevices; i++)
		if (s->drv->ctx_set_current(s->ctx[i]) == CUDA_SUCCESS)
			s->drv->ctx_get_stream_priority_range(&s->prio_least[i], &s->prio_greatest[i]);
}

void srv_qos_client_init(struct srv_client *c, const struct omps_settings *effective,
			 const struct omps_settings *requested, const struct omps_admit *a)
{
	c->qos.static_dev = a && a->part_count ? a->part_dev : -1;
	c->qos.static_start = a ? a->part_start : 0;
	c->qos.static_count = a ? a->part_count : 0;
	pthread_mutex_init(&c->qos_lock, NULL);
	c->effective = *effective;
	c->requested = *requested;
	atomic_store(&c->qos_gen, 1); /* applied before its first call */
	c->qos.counted_normal = effective->priority < 1;
	if (c->qos.counted_normal && atomic_fetch_add(&c->srv->normal_clients, 1) == 0)
		atomic_fetch_add(&c->srv->normal_epoch, 1); /* below-normal clients leave the reserve */
}

/* From the main thread: the server's settings changed. */
void srv_qos_settings_changed(struct srv_state *s)
{
	struct srv_client *c;

	for (c = s->clients; c; c = c->next) {
		pthread_mutex_lock(&c->qos_lock);
		omps_settings_effective(&s->settings, &c->requested, &c->effective);
		atomic_fetch_add(&c->qos_gen, 1);
		pthread_mutex_unlock(&c->qos_lock);
	}
}

/* The SMs a share of a device asks for, rounded up; 0: the whole device. */
static unsigned share_sms(const struct srv_state *s, int dev, uint32_t atp_milli)
{
	uint64_t all = (uint64_t)s->devices.dev[dev].sm_count;
	uint64_t want = (all * atp_milli + 99999) / 100000;

	return !atp_milli || want >= all ? 0 : (unsigned)(want ? want : 1);
}

/* The share a client's partitions are made for: its active thread
 * percentage (0: all), and no more than what the reserve leaves when it
 * is below normal. */
static uint32_t share_for(struct srv_state *s, const struct omps_settings *st)
{
	uint32_t cap = 100000 - s->reserve_milli, atp = st->atp_milli ? st->atp_milli : 100000;

	/* With no normal client to keep SMs for, below normal gets them all. */
	if (!atomic_load(&s->normal_clients))
		return st->atp_milli;
	return st->priority < 1 || !s->reserve_milli || atp <= cap ? st->atp_milli : cap;
}

static void log_reserve(struct srv_client *c, int dev)
{
	struct srv_state *s = c->srv;

	if (c->qos.part[dev] && !atomic_exchange(&s->reserve_logged, 1))
		omps_log("Below-normal clients run on %u of the %u SMs of device %d: the rest is kept for "
			 "normal-priority clients (OPENMPS_PRIORITY_RESERVE, rounded to the partition granule)",
			 srv_qos_sms(c, dev), s->devices.dev[dev].sm_count, dev);
}

static void not_enforced(struct srv_state *s, int dev, uint32_t atp_milli, const char *why)
{
	char atp[16];

	if (atomic_exchange(&s->part_warned, 1))
		return;
	omps_atp_format(atp_milli, atp, sizeof(atp));
	omps_log("Active thread percentage %s on device %d is not enforced: %s; clients run on every SM", atp,
		 dev, why);
}

/* Under part_lock: the device's slots of one split (fine: shares'; else
 * static partitions'), made once: its SMs in the smallest groups the
 * driver makes (its granule). A partition is a run of consecutive slots,
 * made into one green context. A driver that cannot split finely gives
 * shares coscheduled slots, and server.log says so. */
static struct srv_slots *slots_of(struct srv_state *s, int dev, int fine, uint32_t atp_milli)
{
	struct srv_slots **slot = fine ? &s->slots[dev] : &s->chunks[dev], *sl = *slot;
	struct srv_driver *drv = s->drv;
	unsigned n = SRV_MAX_SLOTS;
	CUresult r;

	if (sl)
		return sl;
	if (!drv->device_get_dev_resource || !drv->dev_sm_resource_split_by_count || !drv->green_ctx_create ||
	    !drv->green_ctx_stream_create || !drv->dev_resource_generate_desc) {
		not_enforced(s, dev, atp_milli, "the CUDA driver has no green contexts (CUDA 12.4 or later)");
		return NULL;
	}
	sl = calloc(1, sizeof(*sl));
	r = sl ? srv_device_chunks(drv, s->devices.dev[dev].ordinal, fine, sl->res, &n) : CUDA_ERROR_OUT_OF_MEMORY;
	if (r != CUDA_SUCCESS && sl && fine) {
		char e[96];

		srv_driver_strerror(drv, r, e, sizeof(e));
		omps_log("The SMs of device %d cannot be split finely (%s): SM shares come in its coscheduled groups",
			 dev, e);
		n = SRV_MAX_SLOTS;
		fine = 0;
		r = srv_device_chunks(drv, s->devices.dev[dev].ordinal, 0, sl->res, &n);
	}
	if (r != CUDA_SUCCESS) {
		char e[96];

		srv_driver_strerror(drv, r, e, sizeof(e));
		not_enforced(s, dev, atp_milli, e);
		free(sl);
		return NULL;
	}
	sl->n = n;
	sl->sms = sl->res[0].sm.smCount;
	sl->fine = fine;
	*slot = sl;
	return sl;
}

/* How many slots a share gets: the nearest whole number to what it asks
 * for, and no more than lets as many such shares as fit in 100 % have
 * slots of their own (two of 50 % on 132 SMs in slots of 8: 8 slots, 64
 * SMs each, not 9 that would overlap). */
static unsigned share_slots(const struct srv_slots *sl, unsigned asked_sms, uint32_t atp_milli)
{
	unsigned k = (asked_sms + sl->sms / 2) / sl->sms, fit = atp_milli ? 100000 / atp_milli : 1;

	if (!k)
		k = 1;
	if (k > sl->n)
		k = sl->n;
	if (fit > 1 && k * fit > sl->n && sl->n / fit >= 1)
		k = sl->n / fit;
	return k;
}

/* The run of k slots that overlaps the partitions in use least: the lowest
 * most-used slot in it, then the fewest uses in all, then the first. */
static unsigned place(const struct srv_slots *sl, unsigned k)
{
	unsigned best = 0, best_max = ~0u, best_sum = ~0u, start, i;

	for (start = 0; start + k <= sl->n; start++) {
		unsigned max = 0, sum = 0;

		for (i = start; i < start + k; i++) {
			max = sl->users[i] > max ? sl->users[i] : max;
			sum += sl->users[i];
		}
		if (max < best_max || (max == best_max && sum < best_sum)) {
			best = start;
			best_max = max;
			best_sum = sum;
		}
	}
	return best;
}

/* Under part_lock: the partition of slots [start, start + k) of sl, a
 * split of dev, with its green context, made at its first use and kept. */
static struct srv_partition *partition_of(struct srv_state *s, struct srv_slots *sl, int dev, unsigned start,
					  unsigned k, uint32_t atp_milli)
{
	struct srv_partition *p;
	CUdevResourceDesc desc;
	CUdevice d;
	CUresult r;

	for (p = s->parts; p; p = p->next)
		if (p->of == sl && p->start == start && p->slots == k)
			return p;
	r = s->drv->device_get(&d, s->devices.dev[dev].ordinal);
	if (r == CUDA_SUCCESS)
		r = s->drv->dev_resource_generate_desc(&desc, &sl->res[start], k);
	p = r == CUDA_SUCCESS ? calloc(1, sizeof(*p)) : NULL;
	if (p)
		r = s->drv->green_ctx_create(&p->green, desc, d, CU_GREEN_CTX_DEFAULT_STREAM);
	if (r != CUDA_SUCCESS || !p) {
		char e[96];

		srv_driver_strerror(s->drv, r, e, sizeof(e));
		not_enforced(s, dev, atp_milli, p ? e : "out of memory");
		free(p);
		return NULL;
	}
	*p = (struct srv_partition){.next = s->parts, .dev = dev, .start = start, .slots = k,
				    .sms = k * sl->sms, .of = sl, .green = p->green};
	s->parts = p;
	return p;
}

/* Under part_lock: p has one user more (by 1) or less (by -1), and its
 * slots with it. */
static void count_user(struct srv_partition *p, int by)
{
	unsigned i;

	p->users += by;
	for (i = p->start; i < p->start + p->slots; i++)
		p->of->users[i] += by;
}

/* The partition for a share of dev, placed to overlap the others in use
 * as little as the device allows; NULL: the whole device. */
static struct srv_partition *partition_take(struct srv_state *s, int dev, uint32_t atp_milli)
{
	unsigned sms = share_sms(s, dev, atp_milli), k, start;
	struct srv_partition *p = NULL;
	struct srv_slots *sl;

	if (!sms)
		return NULL;
	pthread_mutex_lock(&s->part_lock);
	sl = slots_of(s, dev, s->sm_split, atp_milli);
	if (sl) {
		k = share_slots(sl, sms, atp_milli);
		start = place(sl, k);
		p = partition_of(s, sl, dev, start, k, atp_milli);
	}
	if (p)
		count_user(p, 1);
	pthread_mutex_unlock(&s->part_lock);
	return p;
}

/* A static partition (openmps-control -S): the daemon placed it, chunks
 * [start, start + count) of dev, the server's slots; NULL if they do not
 * match (server.log says why). */
static struct srv_partition *partition_static(struct srv_state *s, int dev, unsigned start, unsigned count)
{
	struct srv_partition *p = NULL;
	struct srv_slots *sl;

	pthread_mutex_lock(&s->part_lock);
	sl = slots_of(s, dev, 0, 100000);
	if (sl && count && start + count <= sl->n)
		p = partition_of(s, sl, dev, start, count, 100000);
	else if (sl)
		omps_log("A static SM partition names chunks %u to %u of device %d, which has %u", start,
			 start + count - 1, dev, sl->n);
	if (p)
		count_user(p, 1);
	pthread_mutex_unlock(&s->part_lock);
	return p;
}

static void partition_put(struct srv_state *s, struct srv_partition *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&s->part_lock);
	count_user(p, -1);
	pthread_mutex_unlock(&s->part_lock);
}

/* The level a client's stream of asked priority runs at (see the top). */
int srv_qos_priority(const struct srv_client *c, int dev, int asked)
{
	int least = c->srv->prio_least[dev], greatest = c->srv->prio_greatest[dev];

	if (greatest >= least)
		return asked; /* no priorities to split */
	if (c->qos.priority >= 1)
		return least;
	asked = asked > least ? least : asked < greatest + 1 ? greatest + 1 : asked;
	return asked - 1;
}

void srv_qos_priority_range(const struct srv_state *s, int dev, int *least, int *greatest)
{
	*least = s->prio_least[dev];
	*greatest = s->prio_greatest[dev] < *least ? s->prio_greatest[dev] + 1 : s->prio_greatest[dev];
}

CUresult srv_qos_stream_create(struct srv_client *c, int dev, int asked, CUstream *out)
{
	struct srv_partition *p = c->qos.part[dev];
	int prio = srv_qos_priority(c, dev, asked);

	/* Non-blocking always: the server's streams must never wait for the
	 * context's legacy NULL stream (the client's own is emulated, stream.c). */
	if (p)
		return c->srv->drv->green_ctx_stream_create(out, p->green, CU_STREAM_NON_BLOCKING, prio);
	return c->srv->drv->stream_create_with_priority(out, CU_STREAM_NON_BLOCKING, prio);
}

/* A stream moved to the client's present partition and priority: a new
 * one that waits for the old one's work; the old one goes once that is done. */
static CUresult rehome(struct srv_client *c, int dev, int asked, CUstream *st)
{
	struct srv_driver *drv = c->srv->drv;
	CUstream fresh;
	CUevent ev;
	CUresult r = srv_qos_stream_create(c, dev, asked, &fresh);

	if (r != CUDA_SUCCESS)
		return r;
	r = drv->event_create(&ev, CU_EVENT_DISABLE_TIMING);
	if (r == CUDA_SUCCESS) {
		r = drv->event_record(ev, *st);
		if (r == CUDA_SUCCESS)
			r = drv->stream_wait_event(fresh, ev, 0);
		drv->event_destroy(ev);
	}
	if (r != CUDA_SUCCESS) {
		drv->stream_destroy(fresh);
		return r;
	}
	drv->stream_destroy(*st);
	*st = fresh;
	return CUDA_SUCCESS;
}

static CUresult rehome_all(struct srv_client *c, int dev)
{
	CUresult r = CUDA_SUCCESS;
	uint32_t i;

	if (c->stream[dev])
		r = rehome(c, dev, 0, &c->stream[dev]);
	for (i = 0; i < c->nstreams && r == CUDA_SUCCESS; i++)
		if (c->streams[i].obj && c->streams[i].dev == dev)
			r = rehome(c, dev, c->streams[i].priority, (CUstream *)&c->streams[i].obj);
	return r;
}

static void log_applied(struct srv_client *c, const struct omps_settings *st)
{
	char atp[16], mem[256];

	omps_atp_format(st->atp_milli, atp, sizeof(atp));
	omps_memlimit_format_list(st, mem, sizeof(mem));
	omps_log("Client process %d: active thread percentage %s (%u SMs), priority %d, memory limit %s",
		 (int)c->pid, atp, srv_qos_sms(c, 0), st->priority, mem);
}

/* By the client's worker, when its settings changed since it last looked:
 * its streams move where the partition or the priority changed. */
void srv_qos_apply(struct srv_client *c)
{
	struct srv_state *s = c->srv;
	struct omps_settings st;
	int first = !c->qos.gen, reprioritized, reserved;
	uint32_t i, share;
	unsigned epoch;

	/* Streams in a capture cannot move: later, once the captures end. */
	if (c->graph.captures && c->qos.gen)
		return;
	pthread_mutex_lock(&c->qos_lock);
	st = c->effective;
	c->qos.gen = atomic_load(&c->qos_gen);
	pthread_mutex_unlock(&c->qos_lock);
	reprioritized = st.priority != c->qos.priority;
	c->qos.priority = st.priority;
	epoch = atomic_load(&s->normal_epoch);
	reserved = c->qos.epoch != epoch && st.priority >= 1; /* the reserve came or went */
	c->qos.epoch = epoch;
	share = share_for(s, &st);
	for (i = 0; i < s->devices.ndevices; i++) {
		struct srv_partition *old = c->qos.part[i];
		CUresult r;

		c->qos.mem_limit[i] = omps_memlimit_for(&st, i, s->devices.dev[i].uuid);
		if (c->qos.static_dev == (int)i) { /* its static partition, placed once */
			if (first)
				c->qos.part[i] = partition_static(s, (int)i, c->qos.static_start, c->qos.static_count);
		} else if (first || st.atp_milli != c->qos.atp_milli || reprioritized || reserved) {
			partition_put(s, old); /* first: its own old slots are no one's load */
			c->qos.part[i] = partition_take(s, (int)i, share);
			if (share != st.atp_milli)
				log_reserve(c, (int)i);
		}
		/* Streams exist on a device once the client used it (its NULL stream). */
		if (first || !c->stream[i] || (c->qos.part[i] == old && !reprioritized))
			continue;
		r = s->drv->ctx_set_current(s->ctx[i]);
		if (r == CUDA_SUCCESS)
			r = rehome_all(c, (int)i);
		if (r != CUDA_SUCCESS) {
			char e[96];

			srv_driver_strerror(s->drv, r, e, sizeof(e));
			omps_log("Client process %d: cannot move its streams to its new settings: %s", (int)c->pid, e);
		}
	}
	c->qos.atp_milli = st.atp_milli;
	if (!first)
		log_applied(c, &st);
	srv_qos_usage_changed(c, 1);
}

/* The client left (the main thread, under its run_lock): a normal one no
 * longer keeps the reserve from below-normal clients, though letting go
 * of what it held may take a while yet (a PyTorch process's modules and
 * memory: long enough for the next client to find it counted). */
void srv_qos_left(struct srv_client *c)
{
	if (c->qos.counted_normal && atomic_fetch_sub(&c->srv->normal_clients, 1) == 1)
		atomic_fetch_add(&c->srv->normal_epoch, 1); /* below-normal clients may have it all again */
	c->qos.counted_normal = 0;
}

void srv_qos_release(struct srv_client *c)
{
	uint32_t i;

	srv_qos_left(c); /* if it was not stopped first */

	for (i = 0; i < OMPS_MAX_DEVICES; i++) {
		partition_put(c->srv, c->qos.part[i]);
		c->qos.part[i] = NULL;
	}
	pthread_mutex_destroy(&c->qos_lock);
}

int srv_qos_fine(const struct srv_client *c, int dev)
{
	const struct srv_partition *p = dev >= 0 && dev < OMPS_MAX_DEVICES ? c->qos.part[dev] : NULL;

	return p && p->of->fine;
}

unsigned srv_qos_sms(const struct srv_client *c, int dev)
{
	const struct srv_partition *p = c->qos.part[dev];

	return p ? p->sms : (unsigned)c->srv->devices.dev[dev].sm_count;
}

uint64_t srv_qos_used(const struct srv_client *c, int dev)
{
	return c->mem.pool[dev].used + c->mod.data_bytes[dev];
}

CUresult srv_qos_mem_check(struct srv_client *c, int dev, uint64_t bytes, const char *what)
{
	uint64_t limit = c->qos.mem_limit[dev], used = srv_qos_used(c, dev);

	if (!limit || (bytes <= limit && used <= limit - bytes))
		return CUDA_SUCCESS;
	srv_refused(c, "%s of %llu bytes on device %d refused: it holds %llu of its limit of %llu", what,
		    (unsigned long long)bytes, dev, (unsigned long long)used, (unsigned long long)limit);
	return CUDA_ERROR_OUT_OF_MEMORY;
}

void srv_qos_mem_info(const struct srv_client *c, int dev, size_t *free_b, size_t *total)
{
	uint64_t limit = c->qos.mem_limit[dev], used = srv_qos_used(c, dev);
	uint64_t left = used < limit ? limit - used : 0;

	if (!limit)
		return;
	*total = (size_t)limit;
	if (*free_b > left)
		*free_b = (size_t)left;
}

/* Tells the daemon what the client uses, for ps: at once when forced,
 * else at most every USAGE_PERIOD_US; srv_qos_usage_flush sends what is left
 * when the client goes idle. */
void srv_qos_usage_changed(struct srv_client *c, int force)
{
	struct omps_client_usage u;
	uint64_t now = omps_now_us();
	uint32_t i, first;

	c->usage_dirty = 1;
	if (!force && now - c->usage_sent_us < USAGE_PERIOD_US)
		return;
	first = (uint32_t)srv_view_dev(c, 0);
	memset(&u, 0, sizeof(u));
	u.pid = c->pid;
	u.sms = first < c->srv->devices.ndevices ? srv_qos_sms(c, (int)first) : 0; /* on its device 0 */
	for (i = 0; i < c->srv->devices.ndevices; i++)
		u.used[i] = srv_qos_used(c, (int)i);
	/* Not blocking: a busy daemon misses a figure, not a worker's time. */
	if (c->srv->usage_fd >= 0 &&
	    omps_send(c->srv->usage_fd, OMPS_MSG_CLIENT_USAGE, 0, 0, &u, sizeof(u), -1, 0) == 0)
		c->usage_dirty = 0;
	c->usage_sent_us = now;
}

void srv_qos_usage_flush(struct srv_client *c)
{
	if (c->usage_dirty)
		srv_qos_usage_changed(c, 1);
}
