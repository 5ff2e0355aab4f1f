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

enum shim_connect_result {
	SHIM_CONNECT_OK = 0,
	SHIM_CONNECT_NO_DAEMON, /* nothing listens: run natively */
	SHIM_CONNECT_UNTRUSTED, /* another user's daemon or directory: as if none */
	SHIM_CONNECT_REFUSED,	/* the daemon or server said no; err says why */
	SHIM_CONNECT_FAILED,	/* the conversation broke off */
	SHIM_CONNECT_LOST,	/* the server went before it was ready for us (a GPU fault): try again */
};

struct shim_connection {
	int control_fd; /* open for the client's whole life: the daemon counts clients by it */
	int server_fd;
	pid_t server_pid;
	uint32_t client_id;
	struct omps_settings effective;
};

enum shim_connect_result shim_connect(struct shim_connection *c, char *err, size_t errlen);
/* The same, with a step after the welcome (the data channel's opening)
 * inside each try: one that answers SHIM_CONNECT_LOST is tried again with
 * the rest; any other failure ends it, the connection closed. */
typedef enum shim_connect_result shim_connect_step(struct shim_connection *c, char *err, size_t errlen);
enum shim_connect_result shim_connect_then(struct shim_connection *c, shim_connect_step *then, char *err,
					   size_t errlen);
void shim_disconnect(struct shim_connection *c);

#endif
