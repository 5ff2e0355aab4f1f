#include "connect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Which Kubernetes pod the client runs in, if any (protocol.h says where
 * each comes from); the daemon only labels its metrics with them. */
static void read_pod(struct omps_client_info *info)
{
	ssize_t n;
	int fd;

	if (!getenv("KUBERNETES_SERVICE_HOST")) /* every pod has it; elsewhere these names mean anything */
		return;
	copy_env(info->pod, sizeof(info->pod), "POD_NAME");
	if (!info->pod[0])
		copy_env(info->pod, sizeof(info->pod), "HOSTNAME");
	copy_env(info->pod_namespace, sizeof(info->pod_namespace), "POD_NAMESPACE");
	copy_env(info->container, sizeof(info->container), "CONTAINER_NAME");
	if (info->pod_namespace[0])
		return;
	fd = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, info->pod_namespace, sizeof(info->pod_namespace) - 1);
	close(fd);
	info->pod_namespace[n > 0 ? n : 0] = '\0';
}

static enum shim_connect_result refused(const char *what, const char *text, ssize_t n, char *err,
					size_t errlen)
{
	snprintf(err, errlen, "%s refused the client: %.*s", what, (int)(n > 0 ? n : 0), text);
	return SHIM_CONNECT_REFUSED;
}

static enum shim_connect_result admit(struct shim_connection *c, char *err, size_t errlen)
{
	static atomic_int noted;
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
	copy_env(info.sm_partition, sizeof(info.sm_partition), "CUDA_MPS_SM_PARTITION");
	copy_env(info.visible_devices, sizeof(info.visible_devices), "CUDA_VISIBLE_DEVICES");
	if (getenv("CUDA_VISIBLE_DEVICES"))
		info.flags |= OMPS_CLIENT_VISIBLE_SET;
	if (getenv("CUDA_DEVICE_ORDER") && !strcmp(getenv("CUDA_DEVICE_ORDER"), "PCI_BUS_ID"))
		info.flags |= OMPS_CLIENT_PCI_ORDER;
	read_pod(&info);
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
		a.note[sizeof(a.note) - 1] = '\0';
		if (a.note[0] && !atomic_exchange(&noted, 1)) /* once, not at each reconnection */
			fprintf(stderr, "openmps: %s\n", a.note);
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
	return SHIM_CONNECT_LOST;
}

/* A program talks only to a daemon and a server run by root or by its own
 * user: anyone else listening at the pipe path would receive its data and a
 * writable handle to its page-locked memory (security review, H3). */
static int trusted_uid(uid_t uid)
{
	return uid == 0 || uid == getuid() || uid == geteuid();
}

static enum shim_connect_result untrusted(const char *why, char *err, size_t errlen)
{
	snprintf(err, errlen, "refusing the daemon at %s (%s)", omps_pipe_dir(), why);
	return SHIM_CONNECT_UNTRUSTED;
}

/* The pipe directory: root's or ours, and writable by nobody else, so that
 * nobody else can have put the socket there. */
static enum shim_connect_result check_dir(char *err, size_t errlen)
{
	const char *dir = omps_pipe_dir();
	struct stat st;
	char why[128];

	errno = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "no daemon at %s (%s)", dir, errno ? strerror(errno) : "not a directory");
		return SHIM_CONNECT_NO_DAEMON;
	}
	if (!trusted_uid(st.st_uid)) {
		snprintf(why, sizeof(why), "the directory belongs to user %u, neither root nor you (%u)",
			 (unsigned)st.st_uid, (unsigned)getuid());
		return untrusted(why, err, errlen);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, sizeof(why), "the directory is writable by others: mode %03o",
			 (unsigned)(st.st_mode & 07777));
		return untrusted(why, err, errlen);
	}
	/* Through NVIDIA's variable the daemon there may be NVIDIA's, which
	 * would not answer our hello: only where ours left its pid file. */
	if (omps_pipe_dir_is_nvidias()) {
		char pid[4096];

		snprintf(pid, sizeof(pid), "%s/%s", dir, OMPS_CONTROL_PID);
		if (access(pid, F_OK) < 0) {
			snprintf(err, errlen, "no openmps daemon at %s (CUDA_MPS_PIPE_DIRECTORY, no %s: NVIDIA MPS's?)",
				 dir, OMPS_CONTROL_PID);
			return SHIM_CONNECT_NO_DAEMON;
		}
	}
	return SHIM_CONNECT_OK;
}

/* Whoever listens or answers on fd: checked before a byte is sent to it. */
static enum shim_connect_result check_peer(int fd, const char *who, char *err, size_t errlen)
{
	uid_t uid;
	char why[128];

	if (omps_sock_peer(fd, NULL, &uid, NULL) < 0) {
		snprintf(err, errlen, "cannot tell who runs the openmps %s: %s", who, strerror(errno));
		return SHIM_CONNECT_FAILED;
	}
	if (trusted_uid(uid))
		return SHIM_CONNECT_OK;
	snprintf(why, sizeof(why), "its %s runs as user %u, neither root nor you (%u)", who, (unsigned)uid,
		 (unsigned)getuid());
	return untrusted(why, err, errlen);
}

static enum shim_connect_result connect_once(struct shim_connection *c, char *err, size_t errlen)
{
	enum shim_connect_result r;
	char path[256];

	memset(c, 0, sizeof(*c));
	c->control_fd = c->server_fd = -1;
	if (omps_pipe_path(path, sizeof(path), OMPS_CONTROL_SOCKET) < 0) {
		snprintf(err, errlen, "pipe directory %s is too long for a socket path", omps_pipe_dir());
		return SHIM_CONNECT_FAILED;
	}
	r = check_dir(err, errlen);
	if (r != SHIM_CONNECT_OK)
		return r;
	c->control_fd = omps_sock_connect(path);
	if (c->control_fd < 0) {
		snprintf(err, errlen, "no daemon at %s (%s)", omps_pipe_dir(), strerror(errno));
		return SHIM_CONNECT_NO_DAEMON;
	}
	r = check_peer(c->control_fd, "control daemon", err, errlen);
	if (r == SHIM_CONNECT_OK)
		r = admit(c, err, errlen);
	if (r == SHIM_CONNECT_OK)
		r = check_peer(c->server_fd, "server", err, errlen);
	if (r == SHIM_CONNECT_OK)
		r = greet_server(c, err, errlen);
	if (r != SHIM_CONNECT_OK)
		shim_disconnect(c);
	return r;
}

/* A server that goes before it welcomes us, or before our data channel is
 * ready (it found its context poisoned by a GPU fault, or it crashed or was
 * killed), holds nothing of ours: the daemon starts a new one, so ask again,
 * a few times. (A soak of 100 faults on the H200 lost 19 starting programs
 * when only a server gone before its welcome was asked again.) */
#define CONNECT_TRIES 4

enum shim_connect_result shim_connect_then(struct shim_connection *c, shim_connect_step *then, char *err,
					   size_t errlen)
{
	enum shim_connect_result r;
	int i;

	for (i = 0;; i++) {
		r = connect_once(c, err, errlen);
		if (r == SHIM_CONNECT_OK && then && (r = then(c, err, errlen)) != SHIM_CONNECT_OK)
			shim_disconnect(c);
		if (r != SHIM_CONNECT_LOST)
			return r;
		if (i + 1 == CONNECT_TRIES)
			return SHIM_CONNECT_FAILED;
		usleep(20000u << i); /* 20, 40, 80 ms: while the daemon reaps the old one */
	}
}

enum shim_connect_result shim_connect(struct shim_connection *c, char *err, size_t errlen)
{
	return shim_connect_then(c, NULL, err, errlen);
}

void shim_disconnect(struct shim_connection *c)
{
	if (c->server_fd >= 0)
		close(c->server_fd);
	if (c->control_fd >= 0)
		close(c->control_fd);
	c->server_fd = c->control_fd = -1;
}
