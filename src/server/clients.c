/* The server's clients: added when the daemon hands over a connection,
 * greeted with a protocol check, removed when they leave or are terminated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "sock.h"

struct srv_client *srv_client_add(struct srv_state *s, int fd, const struct omps_admit *a)
{
	struct srv_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->pid = a->pid;
	c->uid = a->uid;
	c->id = a->client_id;
	c->effective = a->effective;
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
	omps_log("Client {PID: %d, ID: %u} admitted for user %u", (int)c->pid, c->id, (unsigned)c->uid);
	return c;
}

struct srv_client *srv_client_find(struct srv_state *s, pid_t pid)
{
	struct srv_client *c;

	for (c = s->clients; c; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

void srv_client_remove(struct srv_state *s, struct srv_client *c, const char *why)
{
	struct srv_client **pp;

	for (pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp != c)
			continue;
		*pp = c->next;
		s->nclients--;
		omps_log("Client process %d %s. Number of active clients is %u.", (int)c->pid, why,
			 s->nclients);
		close(c->fd);
		free(c);
		return;
	}
}

static void greet(struct srv_state *s, struct srv_client *c, const struct omps_msg *hdr, const char *buf,
		  ssize_t n)
{
	char err[256];

	if (omps_check_hello(buf, (size_t)n, hdr, err, sizeof(err)) < 0) {
		omps_log("Client process %d refused: %s", (int)c->pid, err);
		omps_send(c->fd, OMPS_MSG_REFUSED, 0, 0, err, strlen(err), -1, 0);
		srv_client_remove(s, c, "refused");
		return;
	}
	if (omps_send(c->fd, OMPS_MSG_WELCOME, 0, 0, NULL, 0, -1, 0) < 0) {
		srv_client_remove(s, c, "disconnected");
		return;
	}
	c->greeted = 1;
	omps_log("Client {PID: %d, ID: %u} connected", (int)c->pid, c->id);
}

void srv_client_readable(struct srv_state *s, struct srv_client *c)
{
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	ssize_t n = omps_recv(c->fd, &hdr, buf, sizeof(buf), NULL);

	if (n < 0) {
		if (errno == EAGAIN)
			return;
		if (errno == ECONNRESET)
			srv_client_remove(s, c, "disconnected");
		else
			srv_client_remove(s, c, errno == EMSGSIZE ? "sent an oversized message and was dropped"
								   : "sent a malformed message and was dropped");
		return;
	}
	if (!c->greeted) {
		greet(s, c, &hdr, buf, n);
		return;
	}
	omps_log("Client process %d sent unknown message type %u", (int)c->pid, hdr.type);
	srv_client_remove(s, c, "was dropped");
}
