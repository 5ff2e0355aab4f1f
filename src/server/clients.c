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
	struct srv_client *c;
	uint32_t i;

	if (a->nview > s->devices.ndevices) {
		omps_log("Client process %d: the daemon says it sees %u GPUs of %u", (int)a->pid, a->nview,
			 s->devices.ndevices);
		return NULL;
	}
	for (i = 0; i < a->nview; i++)
		if (a->view[i] < 0 || (uint32_t)a->view[i] >= s->devices.ndevices) {
			omps_log("Client process %d: the daemon says it sees GPU %d, not one of the server's",
				 (int)a->pid, (int)a->view[i]);
			return NULL;
		}
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->srv = s;
	c->fd = fd;
	c->pid = a->pid;
	c->uid = a->uid;
	c->id = a->client_id;
	c->nview = a->nview;
	memcpy(c->view, a->view, sizeof(c->view));
	for (i = 0; i < c->nview; i++)
		c->remapped |= c->view[i] != (int32_t)i;
	c->remapped |= c->nview != s->devices.ndevices;
	srv_qos_client_init(c, &a->effective, &a->requested, a);
	c->bell = -1;
	c->ring_fd = -1;
	pthread_mutex_init(&c->host.lock, NULL);
	pthread_cond_init(&c->host.idle, NULL);
	pthread_mutex_init(&c->run_lock, NULL);
	srv_checkpoint_join(c);
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
	omps_log("Client {PID: %d, ID: %u} admitted for user %u", (int)c->pid, c->id, (unsigned)c->uid);
	return c;
}

int32_t srv_client_dev(const struct srv_client *c, int dev)
{
	uint32_t k;

	if (!c->remapped)
		return dev;
	for (k = 0; k < c->nview; k++)
		if (c->view[k] == dev)
			return (int32_t)k;
	return -1;
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
		srv_fault_left(c);
		srv_checkpoint_leave(c);
		omps_log("Client process %d %s. Number of active clients is %u.", (int)c->pid, why,
			 s->nclients);
		if (c->has_worker)
			srv_channel_stop(c); /* its worker releases what it held */
		else
			srv_client_free(c); /* no channel: it holds nothing on the GPU */
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
	if (srv_fault_check(s)) {
		omps_log("Client {PID: %d, ID: %u} arrived after a GPU fault poisoned the context: it waits for the "
			 "next server",
			 (int)c->pid, c->id);
		srv_fault_handle(s); /* its connection closes with this process; its shim asks again */
	}
	if (omps_send(c->fd, OMPS_MSG_WELCOME, 0, 0, NULL, 0, -1, 0) < 0) {
		srv_client_remove(s, c, "disconnected");
		return;
	}
	c->greeted = 1;
	omps_log("Client {PID: %d, ID: %u} connected", (int)c->pid, c->id);
}

static void open_channel(struct srv_state *s, struct srv_client *c, const char *buf, ssize_t n, int memfd)
{
	char err[256];
	int r = srv_channel_open(c, memfd, buf, (size_t)n, err, sizeof(err));

	if (r == 0)
		return; /* the descriptor is the channel's: a successor maps it again */
	if (memfd >= 0 && memfd != c->ring_fd)
		close(memfd);
	omps_log("Client process %d: cannot open its data channel: %s", (int)c->pid, err);
	omps_send(c->fd, OMPS_MSG_CHANNEL_READY, CUDA_ERROR_MPS_CONNECTION_FAILED, 0, err, strlen(err), -1, 0);
	srv_client_remove(s, c, "was refused a data channel");
}

void srv_client_readable(struct srv_state *s, struct srv_client *c)
{
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	int memfd;
	ssize_t n = omps_recv(c->fd, &hdr, buf, sizeof(buf), &memfd);

	srv_checkpoint_touch(c); /* what the record says of it may change */
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
		if (memfd >= 0)
			close(memfd);
		greet(s, c, &hdr, buf, n);
		return;
	}
	if (hdr.type == OMPS_MSG_CHANNEL_OPEN) {
		open_channel(s, c, buf, n, memfd);
		return;
	}
	if (hdr.type == OMPS_MSG_HOST_MAP || hdr.type == OMPS_MSG_HOST_UNMAP) {
		srv_host_message(c, &hdr, buf, (size_t)n, memfd);
		return;
	}
	if (memfd >= 0)
		close(memfd);
	omps_log("Client process %d sent unknown message type %u", (int)c->pid, hdr.type);
	srv_client_remove(s, c, "was dropped");
}
