/* The server of the fuzz targets: its state over tests/fakecuda, with a
 * device context open and a worker pool's epoll set but no threads (the
 * targets run the workers' loop themselves), made in LLVMFuzzerInitialize. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "devices.h"
#include "log.h"
#include "server_fixture.h"

static struct srv_driver drv;
struct srv_state fuzz_srv = {.control_fd = -1, .usage_fd = -1};

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer calls it once, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN); /* a test's peer closes its end first */
	setenv("OPENMPS_DRIVER_PATH", FAKECUDA_PATH, 1);
	setenv("FAKECUDA_MEMORY_MB", "256", 1); /* device memory is host memory here */
	omps_log_init("Fuzz", -1, getenv("FUZZ_VERBOSE") != NULL);
	if (srv_state_init(&fuzz_srv, &drv, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: the server over fakecuda: %s\n", err);
		exit(1);
	}
	return 0;
}

