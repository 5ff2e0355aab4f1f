/* The fuzz targets' server (server_fixture.c). */
#ifndef OPENMPS_SERVER_FIXTURE_H
#define OPENMPS_SERVER_FIXTURE_H

#include "server.h"

/* Ready before the first input: server_fixture.c defines the target's
 * LLVMFuzzerInitialize. */
extern struct srv_state fuzz_srv;

#endif
