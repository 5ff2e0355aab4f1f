/* Log lines shaped like NVIDIA MPS's:
 *   [2026-11-23 03:25:08.364 Control   603] NEW CLIENT 610 from user 0: ...
 * Each line is one write() to an O_APPEND descriptor, so the lines of
 * several processes sharing a file never interleave. */
#ifndef OPENMPS_LOG_H
#define OPENMPS_LOG_H

/* tag: "Control" or "Server"; fd: an open log file or -1; echo: copy every
 * line to stderr too (foreground daemons). */
void omps_log_init(const char *tag, int fd, int echo);

/* Opens (creating, mode 0644) name inside dir for appending. Creates dir
 * (mode 0755) first if it is missing. Returns the descriptor or -1. */
int omps_log_open(int dirfd, const char *name); /* name in the directory open at dirfd */

void omps_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs text that may hold several lines, one log line each. */
void omps_log_lines(const char *text);

/* Formats the line prefix for tag and pid at the current time into buf. */
void omps_log_prefix(char *buf, unsigned len, const char *tag, int pid);

#endif
