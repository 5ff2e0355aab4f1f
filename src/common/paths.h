/* Where the rendezvous sockets and the logs live. */
#ifndef OPENMPS_PATHS_H
#define OPENMPS_PATHS_H

#include <stddef.h>

#define OMPS_DEFAULT_PIPE_DIR "/tmp/openmps-pipe"
#define OMPS_DEFAULT_LOG_DIR  "/tmp/openmps-log"

#define OMPS_CONTROL_SOCKET "control"
#define OMPS_CONTROL_LOCK   "control_lock"
#define OMPS_CONTROL_PID    "openmps-control.pid"

/* OPENMPS_PIPE_DIRECTORY, else CUDA_MPS_PIPE_DIRECTORY, else the default;
 * the same for the logs with *_LOG_DIRECTORY. */
const char *omps_pipe_dir(void);
const char *omps_log_dir(void);
/* Whether the pipe directory is NVIDIA's variable's: NVIDIA MPS's own
 * daemon may be the one there. */
int omps_pipe_dir_is_nvidias(void);

/* Joins dir and name into buf; -1 if it does not fit a socket address. */
int omps_pipe_path(char *buf, size_t len, const char *name);

/* The directory of the running executable, where openmps finds its own
 * other programs. -1 if it cannot be read. */
int omps_self_dir(char *buf, size_t len);

#endif
