#include "connect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "sock.h"

static void copy_env(char *dst, size_t len, const char *name)
{
	const char *v = getenv(name);

	snprintf(dst, len, "%s", v ? v : "");
}

/* The command line, arguments separated by spaces, as ps will show it. */
static void read_comm(char *dst, size_t len)
{
	ssize_t n, i;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	dst[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, dst, len - 1);
	close(fd);
	if (n <= 0)
		return;
	while (n > 0 && dst[n - 1] == '\0')
		n--;
	for (i = 0; i < n; i++)
		if (dst[i] == '\0')
			dst[i] = ' ';
	dst[n] = '\0';
}

static enum shim_connect_result refused(const char *what, const char *text, ssize_t n, char *err,
					size_t errlen)
{
	snprintf(err, errlen, "%s refused the client: %.*s", what, (int)(n > 0 ? n : 0), text);
	return SHIM_CONNECT_REFUSED;
}

static enum shim_connect_result admit(struct shim_connection *c, char *err, size_t errlen)
{
	struct omps_client_info info;
	struct omps_msg hdr;
	char buf[OMPS_MSG_MAX];
	ssize_t n;

	memset(&info, 0, sizeof(info));
	read_comm(info.comm, sizeof(info.comm));
	copy_env(info.active_thread_percentage, sizeof(info.active_thread_percentage),
		 "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE");
	copy_env(info.pinned_mem_limit, sizeof(info.pinned_mem_limit), "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT");
	copy_env(info.priority, sizeof(info.priority), "CUDA_MPS_CLIENT_PRIORITY");
	if (omps_send_hello(c->control_fd, OMPS_ROLE_CLIENT, &info, sizeof(info)) < 0)
		goto broken;
	/* The daemon may hold the answer while another user's server drains. */
	n = omps_recv(c->control_fd, &hdr, buf, sizeof(buf) - 1, &c->server_fd);
	if (n < 0)
		goto broken;
	if (hdr.type == OMPS_MSG_REFUSED)
		return refused("the openmps control daemon", buf, n, err, errlen);
	if (hdr.type != OMPS_MSG_CLIENT_ADMITTED || (size_t)n != sizeof(struct omps_admitted) ||
	    c->server_fd < 0) {
		snprintf(err, errlen, "unexpected answer (type %u) from the openmps control daemon", hdr.type);
		return SHIM_CONNECT_FAILED;
	}
	{
		struct omps_admitted a;

		memcpy(&a, buf, sizeof(a));
		c->server_pid = a.server_pid;
		c->client_id = a.client_id;
		c->effective = a.effective;
	}
	return SHIM_CONNECT_OK;
broken:
	snprintf(err, errlen, "lost the openmps control daemon during admission: %s", strerror(errno));
	return SHIM_CONNECT_FAILED;
}

static enum shim_connect_result greet_server(struct shim_connection *c, char *err, size_t errlen)
{
	struct omps_msg hdr;
	char buf[1024];
	ssize_t n;

	if (omps_send_hello(c->server_fd, OMPS_ROLE_CLIENT, NULL, 0) < 0)
		goto broken;
	n = omps_recv(c->server_fd, &hdr, buf, sizeof(buf) - 1, NULL);
	if (n < 0)
		goto broken;
	if (hdr.type == OMPS_MSG_REFUSED)
		return refused("the openmps server", buf, n, err, errlen);
	if (hdr.type != OMPS_MSG_WELCOME) {
		snprintf(err, errlen, "unexpected answer (type %u) from the openmps server", hdr.type);
		return SHIM_CONNECT_FAILED;
	}
	return SHIM_CONNECT_OK;
broken:
	snprintf(err, errlen, "lost the openmps server %d while connecting: %s", (int)c->server_pid,
		 strerror(errno));
	return SHIM_CONNECT_FAILED;
}

enum shim_connect_result shim_connect(struct shim_connection *c, char *err, size_t errlen)
{
	enum shim_connect_result r;
	char path[256];

	memset(c, 0, sizeof(*c));
	c->control_fd = c->server_fd = -1;
	if (omps_pipe_path(path, sizeof(path), OMPS_CONTROL_SOCKET) < 0) {
		snprintf(err, errlen, "pipe directory %s is too long for a socket path", omps_pipe_dir());
		return SHIM_CONNECT_FAILED;
	}
	c->control_fd = omps_sock_connect(path);
	if (c->control_fd < 0) {
		snprintf(err, errlen, "no openmps control daemon at %s: %s", path, strerror(errno));
		return SHIM_CONNECT_NO_DAEMON;
	}
	r = admit(c, err, errlen);
	if (r == SHIM_CONNECT_OK)
		r = greet_server(c, err, errlen);
	if (r != SHIM_CONNECT_OK)
		shim_disconnect(c);
	return r;
}

void shim_disconnect(struct shim_connection *c)
{
	if (c->server_fd >= 0)
		close(c->server_fd);
	if (c->control_fd >= 0)
		close(c->control_fd);
	c->server_fd = c->control_fd = -1;
}
