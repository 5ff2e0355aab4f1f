/* openmps-server: one per user (or one for all with -M), started by the
 * control daemon, which brokers every client connection to it. */
#ifndef OPENMPS_SERVER_H
#define OPENMPS_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

struct srv_client {
	struct srv_client *next;
	int fd;
	pid_t pid;
	uid_t uid;
	uint32_t id;
	int greeted;
	struct omps_settings effective;
};

struct srv_state {
	int control_fd;	 /* to the daemon; -1 once it is gone */
	int draining;	 /* exit once the last client has left */
	unsigned nclients;
	struct srv_client *clients;
	struct omps_settings settings; /* server-wide, from the daemon */
	struct omps_server_ready devices;
};

/* clients.c */
struct srv_client *srv_client_add(struct srv_state *s, int fd, const struct omps_admit *a);
struct srv_client *srv_client_find(struct srv_state *s, pid_t pid);
void srv_client_remove(struct srv_state *s, struct srv_client *c, const char *why);
void srv_client_readable(struct srv_state *s, struct srv_client *c);

#endif
