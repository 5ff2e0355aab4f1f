/* How a client process joins openmps: ask the control daemon for admission
 * (it starts a server for the client's user if needed, and may queue the
 * client behind another user's server), then greet the server over the
 * socket the daemon hands back. */
#ifndef OPENMPS_CONNECT_H
#define OPENMPS_CONNECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

enum omps_connect_result {
	OMPS_CONNECT_OK = 0,
	OMPS_CONNECT_NO_DAEMON, /* nothing listens: run natively */
	OMPS_CONNECT_REFUSED,	/* the daemon or server said no; err says why */
	OMPS_CONNECT_FAILED,	/* the conversation broke off */
};

struct omps_connection {
	int control_fd; /* open for the client's whole life: the daemon counts clients by it */
	int server_fd;
	pid_t server_pid;
	uint32_t client_id;
	struct omps_settings effective;
};

enum omps_connect_result omps_connect(struct omps_connection *c, char *err, size_t errlen);
void omps_disconnect(struct omps_connection *c);

#endif
