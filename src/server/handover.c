/* After a GPU fault the server is made anew and keeps its clients. A
 * fault poisons the whole process, not only its context (measured:
 * docs/architecture.md), so the server writes down what it holds for each
 * client it can keep and hands that, with the descriptors it names (the
 * clients' sockets, rings and doorbells, the device memory of its arena
 * held open as file descriptors), to a successor: its standby, a server
 * process started ahead (standby.c), or without one its own binary run
 * again in the same process (execve: same pid, same connection to the
 * daemon). The successor (main.c, --standby or --resume) has or makes a
 * fresh context, maps that memory at the same addresses, loads the modules
 * again from the images kept, makes the streams and events again behind
 * the handles the clients hold, and serves on from where each ring stands.
 *
 * Who loses what: a client with no work queued since its last good
 * synchronize notices nothing; one with work queued gets the fault's error
 * from its next synchronous call (that work's results are lost) and goes
 * on; the culprit, if only one client had work queued, gets the error from
 * every call, as a native process would. Modules of a client's own load
 * again from their images kept, their variables as moddata.c copied them;
 * a variable whose address the client asked for keeps that address for the
 * client, the server's calls taking it to where the new context put it
 * (memory.c). A client holding what cannot be made again yet (arrays,
 * module data changed since its copy, some graphs) loses its connection,
 * as every client did before, and the log says why. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "sock.h"

#define HANDOVER_MAGIC	 0x31766f68736d706fULL /* "ompshov1" */
#define QUIET_WAIT_US	 2000000	      /* for workers to finish the call they are in */
#define REPLY_GRACE_US 100000 /* ... for room in a reply ring, then its client is given up */
#define HANDOVER_MAX_FDS 65536

void srv_pack_put(struct srv_pack *p, const void *v, size_t n)
{
	if (!p->failed && n && fwrite(v, 1, n, p->f) != n)
		p->failed = 1;
}

int srv_unpack_get(struct srv_unpack *u, void *v, size_t n)
{
	if (u->failed || n > u->len - u->off) {
		u->failed = 1;
		return -1;
	}
	memcpy(v, u->p + u->off, n);
	u->off += n;
	return 0;
}

void srv_pack_str(struct srv_pack *p, const char *str)
{
	uint32_t len = (uint32_t)strlen(str);

	srv_pack_put(p, &len, sizeof(len));
	srv_pack_put(p, str, len);
}

char *srv_unpack_str(struct srv_unpack *u, size_t max)
{
	uint32_t len = 0;
	char *str;

	if (srv_unpack_get(u, &len, sizeof(len)) < 0 || len >= max || len > u->len - u->off ||
	    !(str = calloc(1, (size_t)len + 1))) {
		u->failed = 1;
		return NULL;
	}
	srv_unpack_get(u, str, len);
	return str;
}

static int by_old(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The descriptor the record numbered fd, as this process numbers it. */
static int fd_named(struct srv_unpack *u, int fd)
{
	const int(*m)[2];

	if (fd < 0 || !u->fdmap)
		return fd;
	m = bsearch(&fd, u->fdmap, u->nfdmap, sizeof(*u->fdmap), by_old);
	if (m && u->taken)
		u->taken[m - u->fdmap] = 1;
	return m ? (*m)[1] : -1;
}

int srv_unpack_fd(struct srv_unpack *u)
{
	int fd = -1;

	return srv_unpack_get(u, &fd, sizeof(fd)) < 0 ? -1 : fd_named(u, fd);
}

/* What the daemon and the log are told once it is over. */
struct handover_summary {
	uint64_t seen_us; /* when the fault was seen (CLOCK_MONOTONIC: the same across execve) */
	uint32_t clients, busy;
	int32_t culprit_pid; /* 0: none told apart */
	uint32_t culprit_id;
	uint32_t kept; /* clients written down */
};

#define HASH_BYTES 32 /* a module image's SHA-256, as srv_shared_module and srv_kept_image keep it */
_Static_assert(sizeof(((struct srv_shared_module *)0)->hash) == HASH_BYTES, "a shared module's hash");
_Static_assert(sizeof(((struct srv_kept_image *)0)->hash) == HASH_BYTES, "a kept image's hash");

#define PUT(p, x) srv_pack_put((p), &(x), sizeof(x))
#define GET(u, x) srv_unpack_get((u), &(x), sizeof(x))
/* A function's fields after its name, in the record's order: one list for
 * the writer (IO = PUT) and the reader (GET). */
#define FUNCTION_FIELDS(IO, io, f)                                                              \
	do {                                                                                    \
		IO(io, (f)->module), IO(io, (f)->data), IO(io, (f)->attr_set), IO(io, (f)->attr); \
		IO(io, (f)->args_size), IO(io, (f)->nparams), IO(io, (f)->params);              \
	} while (0)

int srv_handover_enabled(void)
{
	const char *v = getenv("OPENMPS_FAULT_HANDOVER");

	return !v || strcmp(v, "0");
}

/* Why module i of the client cannot be loaded again holding what it holds
 * now, or NULL. A module of its own loads again from its image kept; its
 * __constant__ data is then as the image has it, which no kernel can
 * change but through an address the client asked for, and its variables
 * as moddata.c copied them. */
static const char *module_unkeepable(struct srv_client *c, uint32_t i, char *buf, size_t len)
{
	const struct srv_module *m = &c->mod.modules[i];
	const char *lost;

	if (m->kept)
		return "a module it unloaded stays loaded for its graphs";
	if (!m->mod || m->shared)
		return NULL;
	if (!m->image) {
		snprintf(buf, len, "its module %u was not kept to load again (more than %llu MiB of its images)",
			 i + 1, (unsigned long long)(SRV_KEPT_IMAGES_MAX >> 20));
		return buf;
	}
	if (!(lost = srv_moddata_lost(c, m, srv_fault_busy(c))))
		return NULL;
	/* Which window it fell in: a pause too short for a settle (channel.c),
	 * or a copy that a settle or park did not take. */
	snprintf(buf, len, "its module %u %s (%s)", i + 1, lost,
		 c->settled ? "its worker had settled it" : "its last call came less than 1 ms before, or it was busy");
	return buf;
}

/* Why the client cannot be kept (perhaps written into buf), or NULL. Its
 * worker is out of it. */
static const char *unkeepable(struct srv_client *c, int locked, char *buf, size_t len)
{
	const char *why;
	struct srv_alloc *a;
	uint32_t i;
	int out;

	if (!c->map || c->ring_fd < 0 || !c->has_worker)
		return "its data channel was not open";
	if (c->dead)
		return "its worker gave up on it (the line before says why)";
	if (!locked)
		pthread_mutex_lock(&c->run_lock);
	out = c->quiet || c->parked;
	if (!locked)
		pthread_mutex_unlock(&c->run_lock);
	if (!out)
		return "its worker was still in a call";
	if (c->host.jobs || c->host.unsharing)
		return "a request for host memory was under way";
	if (!srv_host_keepable(c))
		return "host memory it shared could not be held open (the server's descriptor limit)";
	if ((i = srv_hostfn_graph_called(c))) {
		snprintf(buf, len, "the host function of its graph slot %u was running", i - 1);
		return buf;
	}
	if ((why = srv_graphdesc_unkeepable(c, buf, len)))
		return why;
	if (c->arr.narrays || c->arr.objects)
		return "it made CUDA arrays or texture objects";
	if ((why = srv_link_unkeepable(c)))
		return why;
	if ((why = srv_vmm_unkeepable(c)))
		return why;
	for (i = 0; i < c->mod.nmodules; i++)
		if ((why = module_unkeepable(c, i, buf, len)))
			return why;
	for (a = c->mem.allocs; a; a = a->next)
		if (a->graph == SRV_GRAPH_ALLOC_LIVE || a->graph == SRV_GRAPH_ALLOC_FREED)
			return "it holds memory a graph allocated and does not free in the graph";
	for (a = c->mem.allocs; a; a = a->next)
		if (!a->module && !a->graph && !a->vmm && !srv_arena_holds(c->srv, a->dev, a->ptr))
			return "it holds memory outside the server's chunks (the driver's pool: a graph's)";
	return NULL;
}

/* The workers finish the call they are in and leave every client; 0 once
 * each is parked or left (c->quiet), -1 at the deadline. A worker still
 * waiting for room in its client's reply ring after REPLY_GRACE_US (the
 * client does not read it: stopped, or hostile) gives that client up, so
 * that one client cannot hold every other's handover back. */
static int quiesce(struct srv_state *s)
{
	uint64_t t0 = omps_now_us();
	struct srv_client *c;
	int graced = 0;

	atomic_store(&s->handing_over, 1);
	for (c = s->clients; c; c = c->next)
		if (c->map)
			omps_ring_interrupt(&c->req); /* a worker waiting for its next record looks now */
	for (;;) {
		int busy = 0;

		for (c = s->clients; c; c = c->next) {
			int in;

			pthread_mutex_lock(&c->run_lock);
			in = c->has_worker && !c->parked && !c->quiet && !c->dead;
			pthread_mutex_unlock(&c->run_lock);
			busy |= in;
			if (in && graced)
				omps_ring_interrupt(&c->rep);
			/* An unshare its worker was poked for but will not do now (it
			 * was in a call the fault then held): done here, answered. */
			if (!in)
				srv_host_unshare(c);
			pthread_mutex_lock(&c->host.lock);
			busy |= c->host.jobs != 0;
			pthread_mutex_unlock(&c->host.lock);
		}
		if (!busy)
			return 0;
		if (omps_now_us() - t0 > QUIET_WAIT_US)
			return -1;
		graced = omps_now_us() - t0 > REPLY_GRACE_US;
		usleep(500);
	}
}

int srv_handover_fd_keepable(int fd)
{
	struct rlimit rl;

	if (fd >= HANDOVER_MAX_FDS / 2)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1;
	return (rlim_t)fd < rl.rlim_cur / 2;
}

void srv_pack_fd(struct srv_pack *p, int fd)
{
	/* A copy for a record against a crash, of a descriptor a busy
	 * client's worker may close before the record is handed over. */
	if (fd >= 0 && p->dup && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		p->failed = 1;
	PUT(p, fd);
	if (fd < 0)
		return;
	if (p->nfds < p->max_fds) {
		p->fds[p->nfds++] = fd;
		return;
	}
	p->failed = 1;
	if (p->dup)
		close(fd);
}

/* A module image in the record: its SHA-256 (a successor's loads match it
 * as the first server's did), its length, and its bytes with the NUL after
 * them. */
static void put_image(struct srv_pack *p, const unsigned char hash[HASH_BYTES], uint64_t len,
		      const unsigned char *image, int fd)
{
	srv_pack_put(p, hash, HASH_BYTES);
	PUT(p, len);
	srv_pack_fd(p, fd); /* the bytes' memfd (srv_image_alloc), named: a record stays small */
	if (fd < 0)
		srv_pack_put(p, image, len + 1);
}

/* An image's memfd as put_image named it, mapped; NULL if it cannot be. */
static unsigned char *map_image(int fd, uint64_t len)
{
	struct stat st;
	void *m;

	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size < len + 1 ||
	    (m = mmap(NULL, len + 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return NULL;
	return m;
}

/* What put_image wrote; -1 (u->failed, *image NULL) if cut short or out of
 * memory. A memfd named is this process's from now on (*fd). */
static int get_image(struct srv_unpack *u, unsigned char hash[HASH_BYTES], uint64_t *len, unsigned char **image,
		     int *fd)
{
	int named = -1;

	*image = NULL;
	*fd = -1;
	if (srv_unpack_get(u, hash, HASH_BYTES) < 0 || GET(u, *len) < 0 || *len >= SIZE_MAX - 1 ||
	    GET(u, named) < 0)
		goto fail;
	*fd = fd_named(u, named);
	if (named >= 0) { /* its bytes in their memfd */
		if (*fd < 0 || !(*image = map_image(*fd, *len)))
			goto fail;
		return 0;
	}
	if (*len >= u->len - u->off || !(*image = malloc(*len + 1)) || srv_unpack_get(u, *image, *len + 1) < 0)
		goto fail;
	return 0;
fail:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	free(*image);
	*image = NULL;
	u->failed = 1;
	return -1;
}

/* Under modules_lock, held until every client's record names its modules
 * by their place in this list: a worker still releasing a client that left
 * may unload one, which would move the places of those after it. */
static void save_modules(struct srv_state *s, struct srv_pack *p)
{
	struct srv_shared_module *m;
	uint32_t n = 0;

	for (m = s->shared_modules; m; m = m->next)
		n++;
	PUT(p, n);
	for (m = s->shared_modules; m; m = m->next) {
		PUT(p, m->dev);
		put_image(p, m->hash, m->len, m->image, m->image_fd);
	}
}

/* The images of the own modules of the clients kept (those marked with a
 * place), after the shared modules. */
static void save_images(struct srv_state *s, struct srv_pack *p)
{
	struct srv_kept_image *k;
	uint32_t n = 0;

	for (k = s->kept_images; k; k = k->next)
		if (k->place)
			k->place = ++n;
	PUT(p, n);
	for (k = s->kept_images; k; k = k->next)
		if (k->place)
			put_image(p, k->hash, k->len, k->image, k->image_fd);
}

/* Which clients are kept (c->handed), each one let go said in the log,
 * and the images their own modules need marked (save_images writes those).
 * For a record kept against a crash (checkpoint.c, every client's run_lock
 * held), only those idle with nothing queued, quietly: one that is not
 * written down is let go only if the server dies before the next record.
 * The number kept. */
static unsigned choose_kept(struct srv_state *s, int crash)
{
	struct srv_kept_image *k;
	struct srv_client *c;
	char buf[160];
	const char *why;
	unsigned kept = 0;
	uint32_t i;

	for (k = s->kept_images; k; k = k->next)
		k->place = 0;
	for (c = s->clients; c; c = c->next) {
		if (crash)
			why = !c->ck_held ? "not parked idle" : unkeepable(c, 1, buf, sizeof(buf));
		else
			why = unkeepable(c, 0, buf, sizeof(buf));
		c->handed = !why;
		if (why && crash)
			continue;
		if (why) {
			omps_log("Client process %d (ID %u) cannot be kept: %s; it loses its context", (int)c->pid, c->id,
				 why);
			srv_farewell(c, "a GPU fault in another program cost this one its context: %s (server.log says more)",
				     why);
			continue;
		}
		kept++;
		for (i = 0; i < c->mod.nmodules; i++)
			if (c->mod.modules[i].mod && !c->mod.modules[i].shared)
				c->mod.modules[i].image->place = 1;
	}
	return kept;
}

/* Its place in the list save_modules wrote (modules_lock held). */
static uint32_t shared_index(struct srv_state *s, const struct srv_shared_module *want)
{
	struct srv_shared_module *m;
	uint32_t i = 0;

	for (m = s->shared_modules; m && m != want; m = m->next)
		i++;
	return i;
}

/* The servers whose IPC handles are this one's: those before it, and it
 * (the last 32). */
static void save_ipc_pids(struct srv_state *s, struct srv_pack *p)
{
	uint32_t n = s->nipc_pids, drop = n + 1 > 32 ? 1 : 0;
	int32_t me = (int32_t)getpid();

	n = n + 1 - drop;
	PUT(p, n);
	srv_pack_put(p, s->ipc_pids + drop, (n - 1) * sizeof(s->ipc_pids[0]));
	PUT(p, me);
}

static int restore_ipc_pids(struct srv_state *s, struct srv_unpack *u)
{
	uint32_t n = 0;

	if (GET(u, n) < 0 || n > sizeof(s->ipc_pids) / sizeof(s->ipc_pids[0]) ||
	    srv_unpack_get(u, s->ipc_pids, n * sizeof(s->ipc_pids[0])) < 0)
		return -1;
	s->nipc_pids = n;
	return 0;
}

/* The globals of the client's module (1-based) it asked for: each by its
 * name, at the address it was told. */
static void save_globals(struct srv_client *c, uint32_t module, struct srv_pack *p)
{
	const struct srv_alloc *a;
	uint32_t n = 0;

	for (a = c->mem.allocs; a; a = a->next)
		n += a->module == module;
	PUT(p, n);
	for (a = c->mem.allocs; a; a = a->next) {
		if (a->module != module)
			continue;
		srv_pack_str(p, a->name);
		PUT(p, a->ptr);
		PUT(p, a->bytes);
	}
}

static void save_client(struct srv_client *c, struct srv_pack *p, int culprit)
{
	struct omps_admit a = {.pid = c->pid, .uid = c->uid, .client_id = c->id, .effective = c->effective,
			       .requested = c->requested, .part_dev = c->qos.static_dev,
			       .part_start = c->qos.static_start, .part_count = c->qos.static_count,
			       .nview = c->nview};
	int32_t queued = srv_fault_busy(c), sticky = c->sticky;
	uint32_t held = c->held ? c->held_len : UINT32_MAX;
	struct srv_alloc *al;
	uint32_t i, n = 0;

	memcpy(a.view, c->view, sizeof(a.view));
	PUT(p, a);
	srv_pack_fd(p, c->fd);
	srv_pack_fd(p, c->ring_fd);
	srv_pack_fd(p, c->bell);
	PUT(p, c->ring_sizes);
	PUT(p, queued);
	PUT(p, culprit);
	PUT(p, sticky);
	PUT(p, held); /* a call the fault failed, served again first (channel.c) */
	if (c->held) {
		PUT(p, c->held_type);
		srv_pack_put(p, c->held, c->held_len);
	}
	for (al = c->mem.allocs; al; al = al->next)
		n += !al->module;
	PUT(p, n);
	for (al = c->mem.allocs; al; al = al->next) {
		if (al->module)
			continue; /* with its module */
		PUT(p, al->ptr);
		PUT(p, al->bytes);
		PUT(p, al->dev);
		PUT(p, al->retired);
		PUT(p, al->graph);
		PUT(p, al->vmm);
		srv_ipc_save(al, p);
	}
	PUT(p, c->mod.launches);
	PUT(p, c->mod.nmodules);
	for (i = 0; i < c->mod.nmodules; i++) {
		const struct srv_module *m = &c->mod.modules[i];
		uint32_t idx = m->mod && m->shared ? shared_index(c->srv, m->shared) : UINT32_MAX;
		uint32_t own = m->mod && !m->shared ? m->image->place - 1 : UINT32_MAX;

		PUT(p, idx);
		PUT(p, own);
		PUT(p, m->dev);
		PUT(p, m->data_bytes);
		PUT(p, m->writable);
		if (own != UINT32_MAX) {
			srv_moddata_save(m, p);
			save_globals(c, i + 1, p);
		}
	}
	PUT(p, c->mod.nfunctions);
	for (i = 0; i < c->mod.nfunctions; i++) {
		struct srv_function *f = c->mod.functions[i];
		uint32_t len = f ? (uint32_t)strlen(f->name) : UINT32_MAX;

		PUT(p, len);
		if (!f)
			continue;
		srv_pack_put(p, f->name, len);
		FUNCTION_FIELDS(PUT, p, f);
	}
	PUT(p, c->nstreams);
	srv_pack_put(p, c->streams, c->nstreams * sizeof(*c->streams));
	PUT(p, c->nevents);
	srv_pack_put(p, c->events, c->nevents * sizeof(*c->events));
	srv_ipc_events_save(c, p);
	srv_host_save(c, p);
	PUT(p, c->hostfn.area); /* in its host memory, shared again at the same address */
	PUT(p, c->hostfn.last);
	PUT(p, c->hostfn.pending);
	srv_vmm_save(c, p);
	srv_link_save(c, p);
	srv_module_image_save(c, p); /* one being received, or a held call's */
	srv_graphdesc_save(c, p);
	srv_capture_save(c, p); /* after what its records name */
}

/* A client's part, after its word (checkpoint.c) and its length: a
 * successor after a crash passes over a client whose word has moved since. */
static void put_client(struct srv_client *c, struct srv_pack *p, int culprit)
{
	int32_t slot = c->slot;
	uint64_t word = srv_checkpoint_word(c), len = 0;
	long at, end;

	PUT(p, slot);
	PUT(p, word);
	at = p->failed ? -1 : ftell(p->f);
	PUT(p, len);
	save_client(c, p, culprit);
	end = p->failed ? -1 : ftell(p->f);
	if (at < 0 || end < at + (long)sizeof(len)) {
		p->failed = 1;
		return;
	}
	len = (uint64_t)(end - at) - sizeof(len);
	if (fseek(p->f, at, SEEK_SET) != 0)
		p->failed = 1;
	PUT(p, len);
	if (fseek(p->f, end, SEEK_SET) != 0)
		p->failed = 1;
}

/* Every descriptor of this process but those listed (and 0-2) closed: what
 * the poisoned image opened and did not mark close-on-exec. */
static void close_others(const int *keep, unsigned n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name), kept = fd <= 2 || fd == dirfd(d);

		for (unsigned i = 0; i < n && !kept; i++)
			kept = keep[i] == fd;
		if (!kept && e->d_name[0] != '.')
			close(fd);
	}
	closedir(d);
}

static void set_fd_env(const char *name, int fd)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", fd);
	setenv(name, v, 1);
}

/* Which clients had work queued: the culprit is the one, if only one had. */
static struct srv_client *culprit_of(struct srv_state *s, unsigned *busy)
{
	struct srv_client *c, *one = NULL;

	*busy = 0;
	for (c = s->clients; c; c = c->next)
		if (srv_fault_busy(c)) {
			one = c;
			++*busy;
		}
	return *busy == 1 ? one : NULL;
}

/* The record of the clients marked handed, written into a new memfd: its
 * descriptors in p->fds, the memfd first. modules_lock is taken here;
 * choose_kept ran under it. 0, or -1 said in the log. */
static int write_record(struct srv_state *s, struct srv_pack *p, CUresult fault, int device,
			const struct handover_summary *sum, const struct srv_client *culprit, int crash)
{
	const char *what = crash ? "Record" : "Handover";
	uint64_t magic = HANDOVER_MAGIC;
	struct srv_client *c;
	int fd, dev, f;
	unsigned i;

	fd = memfd_create("openmps-handover", MFD_CLOEXEC);
	p->f = fd >= 0 ? fdopen(dup(fd), "w") : NULL;
	if (!p->f) {
		omps_log("%s: cannot write down the clients' state: %s", what, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p->fds[p->nfds++] = fd;
	PUT(p, magic);
	PUT(p, fault);
	PUT(p, device);
	PUT(p, *sum);
	PUT(p, s->settings);
	srv_pack_fd(p, s->control_fd);
	srv_pack_fd(p, s->usage_fd);
	srv_pack_fd(p, s->log_fd);
	srv_pack_fd(p, srv_handover_beat_fd());
	p->dup = crash; /* chunks and images: a busy client's worker may close one */
	p->dups_from = p->dups_to = p->nfds;
	for (dev = 0; dev < (int)s->devices.ndevices; dev++)
		if (srv_arena_save(s, dev, p) < 0) {
			omps_log("%s: device %d's client memory cannot be exported; no client is kept", what, dev);
			goto fail;
		}
	save_ipc_pids(s, p);
	save_modules(s, p);
	save_images(s, p);
	p->dup = 0; /* the clients' own: theirs to close, and each is held */
	p->dups_to = p->nfds;
	for (c = s->clients; c; c = c->next) {
		if (!c->handed)
			continue;
		f = 1;
		PUT(p, f);
		put_client(c, p, c == culprit);
	}
	f = 0;
	PUT(p, f);
	/* Last, the descriptors the new image keeps, so that it can close the
	 * rest before it opens anything: a list, then its length. */
	i = p->nfds;
	srv_pack_put(p, p->fds, i * sizeof(*p->fds));
	PUT(p, i);
	if (fclose(p->f) != 0 || p->failed) {
		p->f = NULL;
		omps_log("%s: cannot write down the clients' state", what);
		goto fail;
	}
	p->f = NULL;
	return 0;
fail:
	if (p->f)
		fclose(p->f);
	close(fd);
	return -1;
}

void srv_handover(struct srv_state *s, CUresult fault, int device, uint64_t seen_us)
{
	static int fds[HANDOVER_MAX_FDS];
	struct srv_pack p = {.fds = fds, .max_fds = HANDOVER_MAX_FDS};
	struct srv_client *culprit;
	unsigned busy, kept, i;
	uint64_t t0 = omps_now_us();
	struct handover_summary sum = {.seen_us = seen_us};
	char windows[512];
	pid_t heir;
	int r;

	if (!srv_handover_enabled())
		return;
	if (quiesce(s) < 0)
		omps_log("Handover: a worker did not leave its call within %d ms; its client is not kept",
			 QUIET_WAIT_US / 1000);
	culprit = culprit_of(s, &busy);
	sum.clients = s->nclients;
	sum.busy = busy;
	sum.culprit_pid = culprit ? culprit->pid : 0;
	sum.culprit_id = culprit ? culprit->id : 0;
	pthread_mutex_lock(&s->modules_lock);
	kept = sum.kept = choose_kept(s, 0);
	r = write_record(s, &p, fault, device, &sum, culprit, 0);
	pthread_mutex_unlock(&s->modules_lock);
	if (r < 0)
		return;
	if (busy > 1)
		omps_log("%u clients had work queued: one context cannot tell which faulted; each gets the error from "
			 "its next synchronous call",
			 busy);
	else if (culprit)
		omps_log("Client process %d (ID %u), the only one with work queued, faulted: every call of its fails "
			 "from now on, as in a native process",
			 (int)culprit->pid, culprit->id);
	heir = srv_standby_take(s, fds, p.nfds);
	if (heir) {
		omps_log("Handed over to the standby server process %d, keeping %u client%s (%.1f ms to write them "
			 "down and hand them over); this process exits",
			 (int)heir, kept, kept == 1 ? "" : "s", (double)(omps_now_us() - t0) / 1000.0);
		_exit(0); /* the driver tears the poisoned context down with the process, off the path */
	}
	for (i = 0; i < p.nfds; i++) /* inherited by the new image; everything else closes */
		fcntl(fds[i], F_SETFD, fcntl(fds[i], F_GETFD) & ~FD_CLOEXEC);
	set_fd_env("OPENMPS_RESUME_FD", fds[0]);
	set_fd_env("OPENMPS_CONTROL_FD", s->control_fd);
	set_fd_env("OPENMPS_LOG_FD", s->log_fd);
	srv_arena_windows(s, windows, sizeof(windows)); /* reserved by the new image as it starts */
	setenv(SRV_ARENA_WINDOWS_ENV, windows, 1);
	omps_log("Making the server anew in this process, keeping %u client%s (%.1f ms to write them down)", kept,
		 kept == 1 ? "" : "s", (double)(omps_now_us() - t0) / 1000.0);
	execl("/proc/self/exe", "openmps-server", "--resume", (char *)NULL);
	omps_log("Handover: cannot run the server again: %s", strerror(errno));
}

int srv_handover_record(struct srv_state *s, int *fds, unsigned max, unsigned *n, unsigned dups[2])
{
	struct srv_pack p = {.fds = fds, .max_fds = max};
	struct handover_summary sum = {.seen_us = omps_now_us(), .clients = s->nclients};
	int r;

	*n = 0;
	pthread_mutex_lock(&s->modules_lock);
	sum.kept = choose_kept(s, 1);
	r = sum.kept ? write_record(s, &p, CUDA_SUCCESS, 0, &sum, NULL, 1) : 1;
	pthread_mutex_unlock(&s->modules_lock);
	if (r < 0) /* the copies made; the memfd is closed */
		for (unsigned i = p.dups_from; i < p.dups_to; i++)
			close(fds[i]);
	*n = r < 0 ? 0 : p.nfds;
	dups[0] = p.dups_from;
	dups[1] = p.dups_to;
	return r;
}

/* ---- the new image's side */

static struct srv_shared_module **restore_modules(struct srv_state *s, struct srv_unpack *u, uint32_t *count)
{
	struct srv_shared_module **all;
	uint32_t n = 0, i;

	if (GET(u, n) < 0 || n > u->len || !(all = calloc(n + 1, sizeof(*all))))
		return NULL;
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_shared_module *m = calloc(1, sizeof(*m));
		CUresult r;

		if (!m || GET(u, m->dev) < 0 || get_image(u, m->hash, &m->len, &m->image, &m->image_fd) < 0) {
			free(m);
			u->failed = 1;
			break;
		}
		r = s->drv->ctx_set_current(s->ctx[m->dev]);
		if (r == CUDA_SUCCESS)
			r = s->drv->module_load_data(&m->mod, m->image);
		if (r != CUDA_SUCCESS) { /* the clients that use it are not kept */
			omps_log("Handover: a module image of %llu bytes does not load again: error %d",
				 (unsigned long long)m->len, (int)r);
			srv_image_free(m->image, m->len, m->image_fd);
			free(m);
			continue;
		}
		m->next = s->shared_modules;
		s->shared_modules = m;
		all[i] = m;
	}
	*count = n;
	return all;
}

/* The own modules' images save_images wrote, in s->kept_images with no
 * reference yet (srv_module_prune lets go of those no client takes). */
static struct srv_kept_image **restore_images(struct srv_state *s, struct srv_unpack *u, uint32_t *count)
{
	struct srv_kept_image **all;
	uint32_t n = 0, i;

	if (GET(u, n) < 0 || n > u->len || !(all = calloc(n + 1, sizeof(*all))))
		return NULL;
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_kept_image *k = calloc(1, sizeof(*k));

		if (!k || get_image(u, k->hash, &k->len, &k->image, &k->image_fd) < 0) {
			free(k);
			u->failed = 1;
			break;
		}
		k->next = s->kept_images;
		s->kept_images = k;
		all[i] = k;
	}
	*count = n;
	return all;
}

/* A module of the client's own, loaded again from its image, its
 * __device__ data put back (its record read whatever happens). */
static const char *restore_own(struct srv_state *s, struct srv_client *c, struct srv_module *m,
			       struct srv_kept_image *k, struct srv_unpack *u)
{
	CUresult r;

	if (m->dev < 0 || m->dev >= (int)s->devices.ndevices || !k) {
		srv_moddata_skip(u);
		m->data_bytes = 0;
		return "its record is cut short";
	}
	r = s->drv->ctx_set_current(s->ctx[m->dev]);
	if (r == CUDA_SUCCESS)
		r = s->drv->module_load_data(&m->mod, k->image);
	if (r != CUDA_SUCCESS) {
		omps_log("Handover: client process %d's module image of %llu bytes does not load again: error %d",
			 (int)c->pid, (unsigned long long)k->len, (int)r);
		srv_moddata_skip(u);
		m->mod = NULL;
		m->data_bytes = 0;
		return "a module of its does not load again";
	}
	k->refs++;
	m->image = k;
	c->mod.kept_image_bytes += k->len;
	c->mod.data_bytes[m->dev] += m->data_bytes;
	return srv_moddata_restore(c, m, u);
}

/* A global of the client's module found again by name, known to it at
 * ptr; *moved counts it if it is elsewhere now. */
static const char *global_again(struct srv_client *c, uint32_t module, const char *name, CUdeviceptr ptr,
				uint64_t bytes, uint32_t *moved)
{
	struct srv_module *m = &c->mod.modules[module - 1];
	CUdeviceptr at;
	size_t now;

	if (c->srv->drv->module_get_global(&at, &now, m->mod, name) != CUDA_SUCCESS || now != bytes)
		return "a variable of its module is not found again";
	srv_moddata_add(c, m, name, at, bytes); /* as when it asked: said once if it cannot be */
	*moved += at != ptr;
	return srv_memory_moved_global(c, module, m->dev, name, ptr, at, bytes) < 0 ? "out of memory" : NULL;
}

/* What save_globals wrote for the client's module (1-based), read whole:
 * each global found again in the module loaded anew, known to the client
 * at its old address (why: the client is not kept already). */
static const char *restore_globals(struct srv_client *c, uint32_t module, struct srv_unpack *u, const char *why)
{
	CUdeviceptr ptr = 0;
	uint64_t bytes = 0;
	uint32_t n = 0, i, moved = 0;
	char *name;

	GET(u, n);
	for (i = 0; i < n && !u->failed; i++) {
		if (!(name = srv_unpack_str(u, OMPS_MAX_NAME)))
			break;
		GET(u, ptr);
		GET(u, bytes);
		if (!u->failed && !why)
			why = global_again(c, module, name, ptr, bytes, &moved);
		free(name);
	}
	if (u->failed)
		return "its record is cut short";
	if (!why && moved)
		omps_log("Client process %d: %u of the variables of its module %u it knows the address of are elsewhere "
			 "in the new context; its calls and launches naming them are taken there",
			 (int)c->pid, moved, module);
	return why;
}

/* What the successor restored that clients name by place in the record. */
struct restored {
	struct srv_shared_module **mods;
	uint32_t nmods;
	struct srv_kept_image **images;
	uint32_t nimages;
};

/* The client's record, read whole (the reader must stay in step even for
 * a client that cannot be kept), and what the driver must make again made.
 * Returns why the client cannot be kept, or NULL. */
static const char *restore_client(struct srv_state *s, struct srv_client *c, struct srv_unpack *u,
				  const struct restored *rs)
{
	const char *why = NULL, *w;
	uint32_t n = 0, i;

	GET(u, n);
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_alloc *a = calloc(1, sizeof(*a));
		struct srv_ipc_saved ipc;
		int claim = -1;

		if (!a)
			return "out of memory";
		GET(u, a->ptr);
		GET(u, a->bytes);
		GET(u, a->dev);
		GET(u, a->retired); /* freed while it held graphs, which may name it */
		GET(u, a->graph);   /* freed in its graphs: they make it again (graphdesc.c), not the arena */
		GET(u, a->vmm);	    /* a range of its virtual memory it opened: vmm.c opens it again */
		srv_ipc_read(u, &ipc);
		if (!u->failed && !why && a->dev >= 0 && a->dev < (int)s->devices.ndevices)
			claim = a->graph == SRV_GRAPH_ALLOC_OWN || a->vmm ? 0 : srv_ipc_link(c, a, &ipc); /* one claim for an export and its imports */
		if (claim < 0 || (claim && srv_arena_claim(s, a->dev, a->ptr, a->bytes) < 0)) {
			why = why ? why : "its memory is not where it was";
			if (claim > 0)
				srv_ipc_unlink(c, a);
			free(a); /* not claimed: never freed into the chunk */
			continue;
		}
		a->next = c->mem.allocs;
		c->mem.allocs = a;
		if (!a->import && !a->graph && !a->vmm) /* the exporter's; graph memory only while live; vmm's by its memory */
			srv_memory_account(c, a->dev, a->bytes, 1);
	}
	GET(u, c->mod.launches);
	c->mod.synced = c->mod.launches; /* what it holds is as its record left it */
	if (GET(u, n) < 0 || n > u->len || !(c->mod.modules = calloc(n + 1, sizeof(*c->mod.modules))))
		return "its record is cut short";
	c->mod.nmodules = n;
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_module *m = &c->mod.modules[i];
		uint64_t data = 0;
		uint32_t idx = UINT32_MAX, own = UINT32_MAX;

		GET(u, idx);
		GET(u, own);
		GET(u, m->dev);
		GET(u, data);
		GET(u, m->writable);
		if (own != UINT32_MAX && (u->failed || why)) {
			srv_moddata_skip(u); /* its record is read all the same */
		} else if (own != UINT32_MAX) {
			m->data_bytes = data;
			why = restore_own(s, c, m, own < rs->nimages ? rs->images[own] : NULL, u);
		}
		if (own != UINT32_MAX)
			why = restore_globals(c, i + 1, u, why);
		if (own != UINT32_MAX || u->failed || why || idx == UINT32_MAX)
			continue;
		if (idx >= rs->nmods || !rs->mods[idx]) {
			why = "a module of its does not load again";
			continue;
		}
		m->shared = rs->mods[idx];
		m->mod = m->shared->mod;
		m->shared->refs++;
	}
	if (GET(u, n) < 0 || n > u->len || !(c->mod.functions = calloc(n + 1, sizeof(*c->mod.functions))))
		return "its record is cut short";
	c->mod.nfunctions = n;
	for (i = 0; i < n && !u->failed; i++) {
		struct srv_function *f;
		uint32_t len = UINT32_MAX;

		if (GET(u, len) < 0 || len == UINT32_MAX)
			continue;
		if (len > u->len - u->off || !(f = calloc(1, sizeof(*f))))
			return "its record is cut short";
		c->mod.functions[i] = f;
		if (!(f->name = calloc(1, len + 1)))
			return "out of memory";
		srv_unpack_get(u, f->name, len);
		FUNCTION_FIELDS(GET, u, f);
		if (!u->failed && !why && srv_module_function_restore(c, f) != CUDA_SUCCESS)
			why = "a function of its cannot be found again";
	}
	w = srv_stream_restore(c, u);
	why = why ? why : w;
	why = srv_ipc_events_restore(c, u, why);
	w = srv_host_restore(c, u);
	why = why ? why : w;
	GET(u, c->hostfn.area);
	GET(u, c->hostfn.last);
	GET(u, c->hostfn.pending);
	if (!why && c->hostfn.area && !srv_host_device_ptr(c, c->hostfn.area, sizeof(struct omps_hostfn_area)))
		why = "the memory its host functions use is not shared again";
	why = srv_vmm_restore(c, u, why);
	why = srv_link_restore(c, u, why);
	if (srv_module_image_restore(c, u) < 0)
		why = why ? why : "out of memory";
	why = srv_graphdesc_restore(c, u, why);
	return srv_capture_restore(c, u, why);
}

/* A client whose word moved after the record a successor took over a
 * crash with: it used the GPU since, so what the record says of it may be
 * out of date. Told, and let go; the rest of its part is passed over (its
 * descriptors close with those the record named and no one took). */
static void pass_over(const struct omps_admit *a, int fd, const struct srv_words *w)
{
	static const char why[] = "the openmps server stopped (killed or crashed) while this program was using the "
				  "GPU: this program lost its context (server.log says more)";

	omps_log("Client process %d (ID %u) is not kept: it used the GPU after the last record, %.0f ms before the "
		 "server stopped",
		 (int)a->pid, a->client_id, (double)(w->seen_us - w->record_us) / 1000.0);
	if (fd < 0)
		return;
	omps_send(fd, OMPS_MSG_REFUSED, 0, 0, why, strlen(why), -1, 0);
	shutdown(fd, SHUT_RDWR);
	close(fd);
}

/* What a client not kept lost its context to, for its farewell. */
static const char *lost_to(const struct srv_words *w)
{
	return w ? "the openmps server stopped (killed or crashed), which" : "a GPU fault in another program";
}

/* Whether the client's word (checkpoint.c) is where the record saw it. */
static int word_current(const struct srv_words *w, int32_t slot, uint64_t word)
{
	return slot >= 0 && (uint32_t)slot < w->n && w->words[slot] == word;
}

/* One client: its connection and channel first (without them it cannot
 * even be told it lost its context), then the rest. After a crash (w), a
 * client whose word has moved since the record is passed over. */
static void resume_client(struct srv_state *s, struct srv_unpack *u, const struct restored *rs, CUresult fault,
			  const struct srv_words *w)
{
	struct omps_admit a;
	struct omps_channel_open o;
	struct srv_client *c;
	int fd, ring_fd, bell, culprit = 0;
	int32_t queued = 0, sticky = 0, slot = -1;
	uint32_t held = UINT32_MAX, held_type = 0;
	unsigned char *held_rec = NULL;
	const char *why;
	uint64_t t0 = omps_now_us(), word = 0, len = 0;
	size_t body;

	GET(u, slot);
	GET(u, word);
	GET(u, len);
	body = u->off;
	if (u->failed || len > u->len - body) {
		u->failed = 1;
		return;
	}
	if (w && !word_current(w, slot, word)) {
		GET(u, a);
		fd = srv_unpack_fd(u);
		if (!u->failed)
			pass_over(&a, fd, w);
		u->off = body + len;
		return;
	}
	GET(u, a);
	fd = srv_unpack_fd(u);
	ring_fd = srv_unpack_fd(u);
	bell = srv_unpack_fd(u);
	GET(u, o);
	GET(u, queued);
	GET(u, culprit);
	GET(u, sticky);
	GET(u, held);
	if (held != UINT32_MAX) {
		GET(u, held_type);
		if (held > u->len - u->off || !(held_rec = malloc(held ? held : 1)))
			u->failed = 1;
		else
			srv_unpack_get(u, held_rec, held);
	}
	if (u->failed || !(c = srv_client_add(s, fd, &a))) {
		free(held_rec);
		u->failed = 1;
		return;
	}
	c->held = held_rec; /* before its channel: a worker may take it once adopted */
	c->held_type = held_type;
	c->held_len = held;
	c->greeted = 1;
	if (srv_channel_adopt(c, ring_fd, bell, &o) < 0) {
		srv_farewell(c, "%s cost this one its context: its data channel did not map again", lost_to(w));
		srv_client_remove(s, c, "could not be kept: its channel does not map again");
		u->off = body + len; /* the rest of its part passed over */
		return;
	}
	srv_qos_check(c); /* its share and priority, before its streams are made again */
	why = restore_client(s, c, u, rs);
	if (!u->failed && u->off != body + len)
		u->failed = 1; /* out of step: nothing after can be trusted */
	if (u->failed)
		why = "its record is cut short";
	if (why) {
		omps_log("Client process %d (ID %u) could not be kept after %s: %s", (int)c->pid, c->id,
			 w ? "the server stopped" : "the fault", why);
		srv_farewell(c, "%s cost this one its context: %s (server.log says more)", lost_to(w), why);
		srv_client_remove(s, c, w ? "lost its context as the server stopped" : "lost its context to the fault");
		return;
	}
	atomic_store(&c->queued, 0);
	if (culprit) {
		c->poison = fault;
	} else if (queued) {
		c->sticky = fault; /* its next synchronous call says its work was lost */
	} else {
		c->sticky = (CUresult)sticky;
	}
	omps_log("Client {PID: %d, ID: %u} kept: %s (made again in %.1f ms)", (int)c->pid, c->id,
		 culprit  ? "the culprit: every call of its fails from now on"
		 : queued ? "it had work queued; its next synchronous call returns the fault"
			  : "it was idle and notices nothing",
		 (double)(omps_now_us() - t0) / 1000.0);
}

/* server.log, and the daemon for control.log: what the fault cost. */
static void tell(struct srv_state *s, CUresult fault, int device, const struct handover_summary *sum, uint64_t t0)
{
	char err[64], who[96] = "", line[512];
	uint64_t now = omps_now_us();
	double seen_ms = now > sum->seen_us ? (double)(now - sum->seen_us) / 1000.0 : 0.0;
	int n;

	srv_driver_strerror(s->drv, fault, err, sizeof(err));
	if (sum->culprit_pid)
		snprintf(who, sizeof(who), "; the culprit, client process %d (ID %u), gets the error from every call",
			 (int)sum->culprit_pid, sum->culprit_id);
	else if (sum->busy > 1)
		snprintf(who, sizeof(who), "; %u had work queued and each gets the error once", sum->busy);
	omps_log("Server made anew after the GPU fault on device %d: %u client%s kept of %u, serving again %.1f ms "
		 "after the fault was seen (%.1f ms after its start)",
		 device, s->nclients, s->nclients == 1 ? "" : "s", sum->clients, seen_ms, (double)(now - t0) / 1000.0);
	n = snprintf(line, sizeof(line),
		     "A GPU fault on device %d (%s): the server made itself anew and serves again %.0f ms after it was "
		     "seen, keeping %u of its %u clients%s (server.log says who lost what)",
		     device, err, seen_ms, s->nclients, sum->clients, who);
	if (n > 0 && s->control_fd >= 0)
		omps_send(s->control_fd, OMPS_MSG_SERVER_FAULT, 0, 0, line, strlen(line), -1, 0);
}

/* The same after a crash: how long the server was gone, and who was kept. */
static void tell_crash(struct srv_state *s, const struct srv_words *w, const struct handover_summary *sum,
		       uint64_t t0)
{
	uint64_t now = omps_now_us();
	double gone_ms = (double)(now - w->seen_us) / 1000.0, age_ms = (double)(w->seen_us - w->record_us) / 1000.0;
	char line[512];
	int n;

	omps_log("Server made anew after server process %d stopped without handing over: %u client%s kept of the %u "
		 "its record named (written %.0f ms before it stopped), serving again %.1f ms after (%.1f ms to "
		 "read the record)",
		 (int)w->from, s->nclients, s->nclients == 1 ? "" : "s", sum->kept, age_ms, gone_ms,
		 (double)(now - t0) / 1000.0);
	n = snprintf(line, sizeof(line),
		     "Server process %d stopped (killed or crashed) without handing over: its standby serves again "
		     "%.0f ms after, keeping %u of the %u clients it had; a client that used the GPU since its last "
		     "record (%.0f ms before) lost its context (server.log says who)",
		     (int)w->from, gone_ms, s->nclients, sum->clients, age_ms);
	if (n > 0 && s->control_fd >= 0)
		omps_send(s->control_fd, OMPS_MSG_SERVER_FAULT, 0, 0, line, strlen(line), -1, 0);
}

/* The list of descriptors at the end of the record, cut off it. In the
 * same process: those kept, with the log and the daemon's socket the
 * environment named (so that a record that cannot be read is still said),
 * the others closed. In a standby: each paired with the one it was handed
 * in its place, for srv_unpack_fd. */
static int take_list(struct srv_unpack *u, const struct srv_state *s, const int *given, unsigned ngiven)
{
	struct srv_unpack tail = *u;
	uint32_t n = 0;
	int *keep, (*map)[2];

	if (u->len < sizeof(n))
		return -1;
	tail.off = u->len - sizeof(n);
	GET(&tail, n);
	if (tail.failed || n >= HANDOVER_MAX_FDS || (size_t)n * sizeof(int) > u->len - sizeof(n) ||
	    (given && n != ngiven))
		return -1;
	u->len -= sizeof(n) + n * sizeof(int);
	if (!(keep = malloc((n + 2) * sizeof(*keep))))
		return -1;
	memcpy(keep, u->p + u->len, n * sizeof(*keep)); /* not aligned in the record */
	if (given) {
		if (!(map = malloc((n + 1) * sizeof(*map)))) {
			free(keep);
			return -1;
		}
		for (uint32_t i = 0; i < n; i++) {
			map[i][0] = keep[i];
			map[i][1] = given[i];
		}
		qsort(map, n, sizeof(*map), by_old);
		u->fdmap = (const int(*)[2])map;
		u->nfdmap = n;
		u->taken = calloc(n + 1, 1); /* NULL: none is closed at the end */
		free(keep);
		return 0;
	}
	keep[n] = s->log_fd;
	keep[n + 1] = s->control_fd;
	close_others(keep, n + 2);
	free(keep);
	return 0;
}

/* In a standby: the descriptors handed that no client took (those of
 * clients passed over after a crash, a second copy of one), closed; the
 * record's own memfd (given[0]) is closed already. */
static void close_untaken(struct srv_unpack *u, int record_fd)
{
	if (!u->taken)
		return;
	for (unsigned i = 0; i < u->nfdmap; i++)
		if (!u->taken[i] && u->fdmap[i][1] != record_fd && u->fdmap[i][1] >= 0)
			close(u->fdmap[i][1]);
}

int srv_handover_resume(struct srv_state *s, struct srv_driver *drv, int fd, const int *given, unsigned ngiven,
			const struct srv_words *w, char *err, size_t errlen)
{
	struct stat st;
	struct srv_unpack u = {0};
	struct restored rs = {0};
	uint64_t magic = 0, t0 = omps_now_us();
	CUresult fault = CUDA_ERROR_UNKNOWN;
	CUstream z = NULL;
	int device = 0, dev, more = 0, control, usage, log_fd, beat;
	struct handover_summary sum = {0};
	struct srv_words wc;
	void *map;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		snprintf(err, errlen, "cannot read what the faulted server wrote down");
		return -1;
	}
	close(fd);
	u.p = map;
	u.len = (size_t)st.st_size;
	if (take_list(&u, s, given, ngiven) < 0) {
		snprintf(err, errlen, "what the faulted server wrote down is cut short");
		goto fail;
	}
	if (GET(&u, magic) < 0 || magic != HANDOVER_MAGIC) {
		snprintf(err, errlen, "what the faulted server wrote down is not this version's");
		goto fail;
	}
	GET(&u, fault);
	GET(&u, device);
	GET(&u, sum);
	if (w) { /* the record's time is when it was written */
		wc = *w;
		wc.record_us = sum.seen_us;
		w = &wc;
	}
	GET(&u, s->settings);
	control = srv_unpack_fd(&u);
	usage = srv_unpack_fd(&u);
	log_fd = srv_unpack_fd(&u);
	beat = srv_unpack_fd(&u);
	if (u.failed) {
		snprintf(err, errlen, "what the faulted server wrote down is cut short");
		goto fail;
	}
	s->control_fd = control;
	s->usage_fd = usage;
	s->log_fd = log_fd;
	srv_beat_adopt(beat);
	if (!given && srv_state_init(s, drv, err, errlen) < 0)
		goto fail;
	for (dev = 0; dev < (int)s->devices.ndevices; dev++) /* first: nothing else may take their addresses */
		if (srv_arena_restore(s, dev, &u) < 0) {
			snprintf(err, errlen, "the record of device %d's memory is cut short", dev);
			goto fail;
		}
	if (restore_ipc_pids(s, &u) < 0) {
		snprintf(err, errlen, "the record of the servers before it is cut short");
		goto fail;
	}
	rs.mods = restore_modules(s, &u, &rs.nmods);
	rs.images = rs.mods ? restore_images(s, &u, &rs.nimages) : NULL;
	if (!rs.images) {
		free(rs.mods);
		snprintf(err, errlen, "the record of the modules is cut short");
		goto fail;
	}
	while (GET(&u, more) == 0 && more)
		resume_client(s, &u, &rs, fault, w);
	close_untaken(&u, fd);
	srv_ipc_settle(s); /* the clients not kept are released later, by the workers */
	free(rs.mods);
	free(rs.images);
	srv_module_prune(s);
	for (dev = 0; dev < (int)s->devices.ndevices; dev++) {
		CUresult r = s->drv->ctx_set_current(s->ctx[dev]);

		if (r == CUDA_SUCCESS)
			r = s->drv->stream_create(&z, CU_STREAM_NON_BLOCKING);
		if (r == CUDA_SUCCESS)
			r = srv_arena_settle(s, dev, z);
		if (z)
			s->drv->stream_destroy(z);
		z = NULL;
		if (r != CUDA_SUCCESS) {
			snprintf(err, errlen, "cannot zero device %d's free memory: error %d", dev, (int)r);
			goto fail;
		}
	}
	if (w)
		tell_crash(s, w, &sum, t0);
	else
		tell(s, fault, device, &sum, t0);
	munmap(map, (size_t)st.st_size);
	free((void *)u.fdmap);
	free(u.taken);
	return u.failed ? -1 : 0;
fail:
	munmap(map, (size_t)st.st_size);
	free((void *)u.fdmap);
	free(u.taken);
	return -1;
}
