/* A front end's session with the control daemon: openmps-control's own
 * front end and the openmps command (status, top) both use it. */
#ifndef OPENMPS_UI_H
#define OPENMPS_UI_H

#include <stddef.h>
#include <stdio.h>

/* Connects to the daemon of the pipe directory as a front end: its socket,
 * or -1 with what went wrong (one or two lines) in err. */
int omps_ui_open(char *err, size_t errlen);
/* Runs one command line and writes its answer to out: 0, 1 if the command
 * failed, -1 if the daemon is gone. */
int omps_ui_command(int fd, const char *line, FILE *out);

#endif
