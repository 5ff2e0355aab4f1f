/* The tracer: OPENMPS_TRACE=1 logs every driver call the program makes, with
 * its arguments, result and duration, to stderr or OPENMPS_TRACE_FILE. One
 * write() a line, so the lines of threads and processes stay whole. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

int shim_trace_on;
static int trace_fd = STDERR_FILENO;
static uint64_t trace_start;

uint64_t shim_trace_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void shim_trace_init(void)
{
	const char *on = getenv("OPENMPS_TRACE"), *file = getenv("OPENMPS_TRACE_FILE");

	if (!on || !*on || !strcmp(on, "0"))
		return;
	if (file && *file) {
		int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (fd >= 0)
			trace_fd = fd;
		else
			fprintf(stderr, "openmps: cannot open OPENMPS_TRACE_FILE %s; tracing to stderr\n", file);
	}
	trace_start = shim_trace_now();
	shim_trace_on = 1;
}

static void emit(char *line, size_t len, size_t cap)
{
	if (len >= cap - 1)
		len = cap - 2;
	line[len++] = '\n';
	(void)!write(trace_fd, line, len);
}

static size_t prefix(char *line, size_t cap, uint64_t now)
{
	int n = snprintf(line, cap, "openmps-trace %d %ld +%.6f ", (int)getpid(), (long)syscall(SYS_gettid),
			 (double)(now - trace_start) / 1e9);

	return n < 0 ? 0 : (size_t)n;
}

static const char *result_name(CUresult r)
{
	CUresult (*name)(CUresult, const char **) =
		(CUresult(*)(CUresult, const char **))shim_real[SHIM_EP_cuGetErrorName];
	const char *s = NULL;

	if (!name || name(r, &s) != CUDA_SUCCESS || !s)
		return "?";
	return s;
}

void shim_trace(enum shim_entry ep, uint64_t t0, CUresult r, const char *fmt, ...)
{
	uint64_t now = shim_trace_now();
	char line[2048];
	size_t n = prefix(line, sizeof(line), t0);
	va_list ap;
	int k;

	k = snprintf(line + n, sizeof(line) - n, "%s(", shim_entry_names[ep]);
	n += k > 0 ? (size_t)k : 0;
	va_start(ap, fmt);
	k = n < sizeof(line) ? vsnprintf(line + n, sizeof(line) - n, fmt, ap) : 0;
	va_end(ap);
	n += k > 0 ? (size_t)k : 0;
	if (n < sizeof(line)) {
		k = snprintf(line + n, sizeof(line) - n, ") = %d %s [%.1f us]", (int)r, result_name(r),
			     (double)(now - t0) / 1e3);
		n += k > 0 ? (size_t)k : 0;
	}
	emit(line, n < sizeof(line) ? n : sizeof(line), sizeof(line));
}

void shim_trace_note(const char *fmt, ...)
{
	char line[1024];
	size_t n = prefix(line, sizeof(line), shim_trace_now());
	va_list ap;
	int k;

	n += (size_t)snprintf(line + n, sizeof(line) - n, "# ");
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n += k > 0 ? (size_t)k : 0;
	emit(line, n < sizeof(line) ? n : sizeof(line), sizeof(line));
}
