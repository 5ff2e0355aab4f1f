/* Where the rendezvous sockets and the logs live. */
#ifndef OPENMPS_PATHS_H
#define OPENMPS_PATHS_H

#include <stddef.h>

#define OMPS_DEFAULT_PIPE_DIR "/tmp/openmps-pipe"
#define OMPS_DEFAULT_LOG_DIR  "/tmp/openmps-log"

#define OMPS_CONTROL_SOCKET "control"
#define OMPS_CONTROL_LOCK   "control_lock"
#define OMPS_CONTROL_PID    "openmps-control.pid"

const char *omps_pipe_dir(void); /* OPENMPS_PIPE_DIRECTORY or the default */
const char *omps_log_dir(void);	 /* OPENMPS_LOG_DIRECTORY or the default */

/* Joins dir and name into buf; -1 if it does not fit a socket address. */
int omps_pipe_path(char *buf, size_t len, const char *name);

/* The directory of the running executable, where openmps finds its own
 * other programs. -1 if it cannot be read. */
int omps_self_dir(char *buf, size_t len);

#endif
