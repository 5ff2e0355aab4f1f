#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *log_tag = "Other";
static int log_fd = -1;
static int log_echo;

void omps_log_init(const char *tag, int fd, int echo)
{
	log_tag = tag;
	log_fd = fd;
	log_echo = echo;
}

int omps_log_open(int dirfd, const char *name)
{
	/* Not through a symbolic link: no one else writes the directory, and a
	 * link there would still be no log of ours. */
	return openat(dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

void omps_log_prefix(char *buf, unsigned len, const char *tag, int pid)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "[%04d-%02d-%02d %02d:%02d:%02d.%03ld %s %5d] ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, tag, pid);
}

static void emit(const char *msg, size_t len)
{
	char line[4096];
	size_t n, i;

	omps_log_prefix(line, sizeof(line), log_tag, getpid());
	n = strlen(line);
	/* Control characters as \xNN: what a client named (a global, its
	 * command line) can neither forge a line nor reach a terminal. */
	for (i = 0; i < len && n + 5 < sizeof(line); i++) {
		unsigned char ch = (unsigned char)msg[i];

		if (ch < 0x20 || ch == 0x7f)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", ch);
		else
			line[n++] = (char)ch;
	}
	line[n++] = '\n';
	if (log_fd >= 0 && write(log_fd, line, n) < 0) {
		/* Nowhere better to report a failing log file than stderr. */
		if (!log_echo)
			(void)!write(STDERR_FILENO, line, n);
	}
	if (log_echo || log_fd < 0)
		(void)!write(STDERR_FILENO, line, n);
}

void omps_log(const char *fmt, ...)
{
	char msg[3072];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	emit(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

void omps_log_lines(const char *text)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);

		emit(text, len);
		text += len + (nl ? 1 : 0);
	}
}
