/* The openmps command's parts: run (main.c), status (status.c), top (top.c). */
#ifndef OPENMPS_CLI_H
#define OPENMPS_CLI_H

#include <jansson.h>

/* The daemon's ps --json, parsed; NULL with why on stderr (or in err). */
json_t *cli_snapshot(int fd, char *err, size_t errlen);
int cli_status(int argc, char **argv);
int cli_top(int argc, char **argv);

#endif
