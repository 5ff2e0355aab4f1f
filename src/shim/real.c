/* Finding and loading the real CUDA driver. The shim is itself named
 * libcuda.so.1, so dlopen("libcuda.so.1") would return the shim: the driver
 * is looked for by absolute path instead (as ZLUDA does), in
 * OPENMPS_REAL_DRIVER if set, else in the directories the dynamic loader
 * would search, skipping the shim's own file and any other openmps shim. */
#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

SHIM_EXPORT const char openmps_shim_version[] = OPENMPS_VERSION;

void *shim_real[SHIM_EP_COUNT];
void *shim_table[SHIM_EP_COUNT];

static void *driver;
static char driver_path[PATH_MAX];
static struct stat self_st;

/* shim_real sorted by address, to map the driver's pointers back to ours. */
struct addr_entry {
	void *real;
	enum shim_entry ep;
};
static struct addr_entry by_addr[SHIM_EP_COUNT];
static size_t nby_addr;

static void *try_open(const char *path)
{
	struct stat st;
	void *h;

	if (stat(path, &st) < 0)
		return NULL;
	if (st.st_dev == self_st.st_dev && st.st_ino == self_st.st_ino)
		return NULL;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
	if (dlsym(h, "openmps_shim_version")) { /* another copy of the shim */
		dlclose(h);
		return NULL;
	}
	snprintf(driver_path, sizeof(driver_path), "%s", path);
	return h;
}

static void *try_dir(const char *dir, size_t len)
{
	char path[PATH_MAX];

	if (!len || len > sizeof(path) - 16)
		return NULL;
	snprintf(path, sizeof(path), "%.*s/libcuda.so.1", (int)len, dir);
	return try_open(path);
}

static void *try_dir_list(const char *list)
{
	void *h = NULL;

	while (list && *list && !h) {
		size_t len = strcspn(list, ":");

		h = try_dir(list, len);
		list += len + (list[len] == ':');
	}
	return h;
}

/* Directories named in an ld.so.conf file, following its includes. */
static void *try_conf(const char *file, int depth)
{
	char line[PATH_MAX];
	void *h = NULL;
	FILE *f;

	if (depth > 4 || !(f = fopen(file, "re")))
		return NULL;
	while (!h && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		p[strcspn(p, "#\r\n")] = '\0';
		if (!strncmp(p, "include", 7) && (p[7] == ' ' || p[7] == '\t')) {
			glob_t g;
			size_t i;

			p += 7 + strspn(p + 7, " \t");
			if (glob(p, 0, NULL, &g) != 0)
				continue;
			for (i = 0; i < g.gl_pathc && !h; i++)
				h = try_conf(g.gl_pathv[i], depth + 1);
			globfree(&g);
		} else if (*p == '/') {
			h = try_dir(p, strcspn(p, " \t"));
		}
	}
	fclose(f);
	return h;
}

static void *find_driver(void)
{
	static const char *const defaults = "/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/lib:/lib64:"
					    "/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64:/usr/local/nvidia/lib:"
					    "/usr/lib/wsl/lib:/usr/lib/aarch64-linux-gnu";
	const char *env = getenv("OPENMPS_REAL_DRIVER");
	Dl_info info;
	void *h;

	if (dladdr((void *)&shim_real, &info) && info.dli_fname)
		stat(info.dli_fname, &self_st);
	if (env && *env)
		return try_open(env);
	h = try_dir_list(getenv("LD_LIBRARY_PATH"));
	if (!h)
		h = try_conf("/etc/ld.so.conf", 0);
	if (!h)
		h = try_dir_list(defaults);
	return h;
}

static int by_real(const void *a, const void *b)
{
	const struct addr_entry *x = a, *y = b;

	return x->real < y->real ? -1 : x->real > y->real;
}

void *shim_self_for_real(void *real)
{
	struct addr_entry key = {.real = real}, *e;

	e = bsearch(&key, by_addr, nby_addr, sizeof(key), by_real);
	return e ? shim_entry_self[e->ep] : NULL;
}

/* Where a trampoline jumps when the driver lacks its function. All driver
 * functions return CUresult, so ignoring the arguments is safe. */
static CUresult missing_entry(void)
{
	return driver ? CUDA_ERROR_NOT_FOUND : CUDA_ERROR_NO_DEVICE;
}

static atomic_uchar warned[SHIM_EP_COUNT];

CUresult shim_no_entry(enum shim_entry ep)
{
	enum shim_mode mode = shim_mode();

	if (mode == SHIM_REMOTE) {
		/* Once per function, so that a user sees what is missing. */
		if (!atomic_exchange(&warned[ep], 1))
			fprintf(stderr, "openmps: %s is not supported through openmps yet; it returns "
					"CUDA_ERROR_NOT_SUPPORTED\n",
				shim_entry_names[ep]);
		if (shim_trace_on)
			shim_trace_note("%s: not remoted yet", shim_entry_names[ep]);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (mode == SHIM_BROKEN)
		return CUDA_ERROR_MPS_CONNECTION_FAILED;
	if (shim_trace_on)
		shim_trace_note("%s: %s", shim_entry_names[ep],
				driver ? "not in this driver" : "no CUDA driver was found");
	return driver ? CUDA_ERROR_NOT_FOUND : CUDA_ERROR_NO_DEVICE;
}

/* What a served call cannot do, said once a kind (what: one string
 * literal a kind), in the words of shim_no_entry's line. */
CUresult shim_unsupported(const char *what)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static const char *said[32];
	static size_t nsaid;
	size_t i;
	int first;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nsaid && said[i] != what; i++)
		;
	first = i == nsaid;
	if (first && nsaid < sizeof(said) / sizeof(said[0]))
		said[nsaid++] = what;
	pthread_mutex_unlock(&lock);
	if (first)
		fprintf(stderr, "openmps: %s is not supported through openmps yet; it returns CUDA_ERROR_NOT_SUPPORTED\n",
			what);
	if (shim_trace_on)
		shim_trace_note("%s: not supported", what);
	return CUDA_ERROR_NOT_SUPPORTED;
}

static void real_init_once(void)
{
	CUresult (*init)(unsigned int) = (CUresult(*)(unsigned int))shim_real[SHIM_EP_cuInit];

	if (init)
		init(0);
}

/* The real driver initialised in remote mode, once, with no context: for
 * what it answers locally (tensor maps) and the export tables it hands out. */
void shim_real_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, real_init_once);
}

/* Natively, no driver means every call fails: said once. Through the
 * server the program needs none of its own. */
void shim_say_no_driver(void)
{
	const char *env = getenv("OPENMPS_REAL_DRIVER");

	if (driver)
		return;
	fprintf(stderr, "openmps: no CUDA driver found%s%s%s; CUDA calls will fail with "
			"CUDA_ERROR_NO_DEVICE. Set OPENMPS_REAL_DRIVER to the driver's libcuda.so.1.\n",
		env && *env ? " at " : "", env && *env ? env : "",
		env && *env ? " (missing, not loadable, or an openmps shim)" : " beside the shim");
}

void shim_use_driver_locally(enum shim_entry ep)
{
	shim_table[ep] = shim_real[ep];
}

__attribute__((constructor)) static void shim_shim_load(void)
{
	size_t i;

	shim_trace_init();
	driver = find_driver();
	for (i = 0; i < SHIM_EP_COUNT; i++)
		if (shim_entry_untraced[i])
			shim_real[i] = shim_table[i] = (void *)missing_entry;
	if (!driver)
		return; /* said once the program runs natively (shim_say_no_driver) */
	for (i = 0; i < SHIM_EP_COUNT; i++) {
		void *f = dlsym(driver, shim_entry_names[i]);

		if (f) {
			shim_real[i] = f;
			by_addr[nby_addr++] = (struct addr_entry){f, (enum shim_entry)i};
		}
	}
	qsort(by_addr, nby_addr, sizeof(by_addr[0]), by_real);
	memcpy(shim_table, shim_real, sizeof(shim_table)); /* native until a daemon says otherwise */
	if (shim_trace_on)
		shim_trace_note("shim %s forwarding to %s (%zu of %d entry points)", OPENMPS_VERSION, driver_path,
				nby_addr, SHIM_EP_COUNT);
}
