/* The record kept against a crash. A server that is killed or crashes (not
 * a GPU fault: that one writes its record as it sees the fault) leaves no
 * record behind; its clients' device memory outlives it in the standby,
 * which maps every chunk ahead (standby.c), but not what says who holds
 * what. So while the server runs, the main loop writes the record now and
 * then, as the handover does (handover.c), and hands it to the standby in
 * place of the one before; the standby takes it over if its socket to the
 * server closes with no word.
 *
 * A record is written once something moved since the last one, at most
 * every MIN_GAP_MS (more seldom where writing takes long: at most SHARE of
 * the main loop's time). It names the clients that are parked with nothing
 * queued, their run_locks held meanwhile (no worker can take one); the
 * others' workers run on. Each client has a word in a memfd the standby maps: it moves
 * whenever what the record says of the client may change (its worker takes
 * it from the pool; the main loop reads its socket; it joins or leaves),
 * and the record says where each word stood. After a crash the standby
 * keeps the clients whose word has not moved since the record: nothing of
 * theirs changed and nothing of theirs ran. The cost when nothing crashes:
 * an atomic add as a worker takes a parked client, and a record write after
 * a burst of activity, on the main loop, never on a call's path. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "settings.h"

#define SLOTS	   8192	  /* clients with a word; one without is never kept at a crash */
#define MIN_GAP_MS 100 /* between records, unless OPENMPS_RECORD_EVERY_MS says otherwise */
#define SHARE	   20	  /* a record at most every SHARE times as long as the last took */
#define MAX_FDS	   65536

static struct {
	int fd; /* the words' memfd; -1 before the first client */
	_Atomic uint64_t *words;
	unsigned char used[SLOTS];
	uint32_t next; /* where the search for a free slot starts */
	atomic_int dirty;
	uint64_t last_us, took_us;
	int failed; /* the memfd could not be made: no client has a word */
	int *fds;
} ck = {.fd = -1};

static int words_ready(void)
{
	void *m;

	if (ck.words || ck.failed)
		return ck.words != NULL;
	ck.fd = memfd_create("openmps-words", MFD_CLOEXEC);
	if (ck.fd < 0 || ftruncate(ck.fd, SLOTS * sizeof(*ck.words)) < 0 ||
	    (m = mmap(NULL, SLOTS * sizeof(*ck.words), PROT_READ | PROT_WRITE, MAP_SHARED, ck.fd, 0)) == MAP_FAILED) {
		omps_log("Cannot keep a record against a crash (%s): a server that is killed or crashes loses its "
			 "clients",
			 strerror(errno));
		if (ck.fd >= 0)
			close(ck.fd);
		ck.fd = -1;
		ck.failed = 1;
		return 0;
	}
	ck.words = m;
	return 1;
}

void srv_checkpoint_touch(struct srv_client *c)
{
	if (c->slot >= 0 && ck.words) /* a client made by hand (the unit tests) has none */
		atomic_fetch_add_explicit(&ck.words[c->slot], 1, memory_order_relaxed);
	atomic_store_explicit(&ck.dirty, 1, memory_order_relaxed);
}

void srv_checkpoint_join(struct srv_client *c)
{
	c->slot = -1;
	if (words_ready())
		for (uint32_t i = 0; i < SLOTS; i++) {
			uint32_t k = (ck.next + i) % SLOTS;

			if (ck.used[k])
				continue;
			ck.used[k] = 1;
			ck.next = k + 1;
			c->slot = (int32_t)k;
			break;
		}
	srv_checkpoint_touch(c); /* a record naming the slot's last client no longer holds */
}

/* Its slot stays its own to touch (its worker may, releasing it): one
 * more move of the next holder's word only delays that one's next record. */
void srv_checkpoint_leave(struct srv_client *c)
{
	srv_checkpoint_touch(c);
	if (c->slot >= 0 && c->slot < SLOTS)
		ck.used[c->slot] = 0;
}

void srv_checkpoint_again(void)
{
	atomic_store_explicit(&ck.dirty, 1, memory_order_relaxed);
}

uint64_t srv_checkpoint_word(const struct srv_client *c)
{
	return c->slot >= 0 && ck.words ? atomic_load_explicit(&ck.words[c->slot], memory_order_relaxed) : 0;
}

int srv_checkpoint_fd(void)
{
	return ck.fd;
}

/* The run_lock of each client that may be written down: parked (its
 * worker gone back to the pool: none takes it while the lock is held) with
 * nothing queued; c->ck_held says which. The others' workers run on
 * meanwhile: a record reads nothing of theirs, and what it reads that they
 * share (modules, chunks) under those structures' own locks. */
static void hold(struct srv_state *s)
{
	for (struct srv_client *c = s->clients; c; c = c->next) {
		c->ck_held = 0;
		if (!c->has_worker || c->slot < 0)
			continue;
		pthread_mutex_lock(&c->run_lock);
		c->ck_held = c->parked && !c->quiet && !atomic_load(&c->stop) && !srv_fault_busy(c);
		if (!c->ck_held)
			pthread_mutex_unlock(&c->run_lock);
	}
}

static void let_go(struct srv_state *s)
{
	for (struct srv_client *c = s->clients; c; c = c->next)
		if (c->ck_held) {
			c->ck_held = 0;
			pthread_mutex_unlock(&c->run_lock);
		}
}

/* server.log, when the clients a record names change in number: one line
 * per change, not per record (one follows each burst of activity); each
 * record, with the clients it names, under OPENMPS_RECORD_LOG=1 (tests,
 * debugging). */
static void said(struct srv_state *s, unsigned nfds)
{
	static unsigned last;
	static int every = -1;
	unsigned kept = 0, off = 0;
	char who[256] = "";

	if (every < 0)
		every = getenv("OPENMPS_RECORD_LOG") && !strcmp(getenv("OPENMPS_RECORD_LOG"), "1");
	for (struct srv_client *c = s->clients; c; c = c->next) {
		kept += c->handed;
		if (c->handed && every && off < sizeof(who))
			off += (unsigned)snprintf(who + off, sizeof(who) - off, " %d", (int)c->pid);
	}
	if (kept == last && !every)
		return;
	last = kept;
	omps_log("Record against a crash: %u client%s of %u idle and written down (%.1f ms, %u descriptors); the "
		 "standby takes them over if this process stops with no word%s%s",
		 kept, kept == 1 ? "" : "s", s->nclients, (double)ck.took_us / 1000.0, nfds,
		 every ? "; processes" : "", who);
}

static void write_one(struct srv_state *s)
{
	uint64_t t0 = omps_now_us(), written;
	unsigned n = 0, dups[2] = {0, 0};
	int r;

	if (!ck.fds && !(ck.fds = malloc(MAX_FDS * sizeof(*ck.fds))))
		return;
	atomic_store(&ck.dirty, 0); /* what moves from here on makes another */
	hold(s); /* with none to hold, the record would keep no one: the one before goes */
	r = srv_handover_record(s, ck.fds, MAX_FDS, &n, dups);
	written = omps_now_us();
	if (r == 0) {
		r = srv_standby_record(s, ck.fds, n);
		close(ck.fds[0]); /* the memfd and the copies: the standby has its own now */
		for (unsigned i = dups[0]; i < dups[1]; i++)
			close(ck.fds[i]);
	} else if (r == 1) {
		r = srv_standby_record(s, NULL, 0); /* none to keep: the record before is dropped */
	}
	let_go(s); /* after the hand-over: the clients' own descriptors are not copies */
	ck.last_us = omps_now_us();
	/* A send that failed waited on a standby that would not read (up to
	 * 500 ms): not the record's cost, which spaces the records out (20
	 * times it), so the new standby is handed one once it is ready. */
	ck.took_us = (r < 0 ? written : ck.last_us) - t0;
	if (r < 0) {
		atomic_store(&ck.dirty, 1);
		return;
	}
	said(s, n);
}

/* OPENMPS_CRASH_RECORD=0: no record is kept; a server that stops with no
 * word loses its clients, as before. */
static int wanted(void)
{
	static int on = -1;

	if (on < 0) {
		const char *v = getenv("OPENMPS_CRASH_RECORD");

		on = !v || strcmp(v, "0");
	}
	return on;
}

/* OPENMPS_RECORD_EVERY_MS: the least time between two records. */
static uint64_t min_gap_us(void)
{
	static uint64_t us;

	if (!us)
		us = (uint64_t)omps_env_range("OPENMPS_RECORD_EVERY_MS", 10, 60000, " milliseconds",
					      MIN_GAP_MS) * 1000;
	return us;
}

int srv_checkpoint_tick(struct srv_state *s)
{
	uint64_t gap = ck.took_us * SHARE > min_gap_us() ? ck.took_us * SHARE : min_gap_us(), now;

	if (!atomic_load_explicit(&ck.dirty, memory_order_relaxed) || !ck.words || !wanted() ||
	    !srv_standby_ready() || atomic_load(&s->handing_over))
		return -1;
	now = omps_now_us();
	if (now - ck.last_us < gap)
		return (int)((gap - (now - ck.last_us)) / 1000) + 1;
	write_one(s);
	return atomic_load(&ck.dirty) ? (int)(gap / 1000) : -1;
}
