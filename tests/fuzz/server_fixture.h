/* The fuzz targets' server (server_fixture.c). */
#ifndef OPENMPS_SERVER_FIXTURE_H
#define OPENMPS_SERVER_FIXTURE_H

#include "server.h"

extern struct srv_state fuzz_srv;

void fuzz_server_init(void);

#endif
