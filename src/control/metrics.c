/* The metrics endpoint (openmps-control --metrics [HOST:]PORT; off unless
 * asked, 127.0.0.1 unless a host is named): GET /metrics answers report.c's
 * Prometheus text of the servers, GPUs and clients. libmicrohttpd serves
 * HTTP (a kept library, not a hand-made server), in the daemon's own
 * thread: its epoll descriptor is one more in the daemon's poll set and
 * MHD_run does its work, so the report reads the daemon's state with no
 * lock. A scrape is a read: it changes nothing and is not logged. */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control.h"

#define MAX_SCRAPERS 16 /* connections at once: more wait in the kernel's backlog */
#define IDLE_S	     10 /* a connection silent this long is closed */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, char *text, size_t len,
			      const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	char *text = strdup(msg);

	return text ? answer(conn, status, text, strlen(text), "text/plain; charset=utf-8") : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **state)
{
	struct ctl_daemon *d = cls;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)version, (void)upload;
	if (*upload_len)
		return MHD_NO; /* a GET has no body */
	if (!*state) { /* headers only so far: answer on the next call */
		*state = d;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET is served here.\n");
	if (strcmp(url, "/metrics"))
		return plain(conn, MHD_HTTP_NOT_FOUND, "openmps: the metrics are at /metrics\n");
	f = open_memstream(&text, &len);
	if (!f)
		return MHD_NO;
	if (ctl_report_metrics(d, f) < 0) {
		fclose(f);
		free(text);
		return plain(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "openmps: out of memory\n");
	}
	fclose(f);
	return answer(conn, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* "PORT", "HOST:PORT" or "[V6]:PORT" into an address to listen on, and
 * the host as a URL names it. */
static int parse(const char *spec, struct addrinfo **out, char *url_host, size_t hostlen, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	const char *colon = strrchr(spec, ':'), *h = spec;
	char host[256] = "127.0.0.1", port[16];
	size_t hl;
	int rc;

	if (!colon) {
		snprintf(port, sizeof(port), "%s", spec);
	} else {
		hl = (size_t)(colon - spec);
		if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') /* [::1]:9400 */
			h++, hl -= 2;
		if (!hl || hl >= sizeof(host)) {
			snprintf(err, errlen, "--metrics %s: expected [HOST:]PORT", spec);
			return -1;
		}
		memcpy(host, h, hl);
		host[hl] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atoi(port) > 65535) {
		snprintf(err, errlen, "--metrics %s: \"%s\" is not a port (0 to 65535)", spec, port);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, out);
	if (rc) {
		snprintf(err, errlen, "--metrics %s: cannot use host \"%s\": %s", spec, host, gai_strerror(rc));
		return -1;
	}
	snprintf(url_host, hostlen, strchr(host, ':') ? "[%s]" : "%s", host);
	return 0;
}

int ctl_metrics_start(struct ctl_daemon *d, const char *spec, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct addrinfo *ai;
	unsigned flags = MHD_USE_EPOLL; /* its own error lines name port 0: ours say what failed */
	char host[272];
	int saved;

	d->metrics_fd = -1;
	if (parse(spec, &ai, host, sizeof(host), err, errlen) < 0)
		return -1;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d->metrics = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				      MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_SCRAPERS,
				      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_S, MHD_OPTION_END);
	saved = errno;
	freeaddrinfo(ai);
	if (!d->metrics) {
		snprintf(err, errlen, "--metrics %s: cannot listen there: %s", spec, strerror(saved));
		return -1;
	}
	info = MHD_get_daemon_info(d->metrics, MHD_DAEMON_INFO_EPOLL_FD);
	d->metrics_fd = info ? info->epoll_fd : -1;
	info = MHD_get_daemon_info(d->metrics, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(d->metrics_url, sizeof(d->metrics_url), "http://%s:%u/metrics", host,
		 info ? (unsigned)info->port : 0);
	return 0;
}

/* Its next deadline (a connection's timeout) into next. */
void ctl_metrics_timers(struct ctl_daemon *d, double *next)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (d->metrics && MHD_get_timeout(d->metrics, &ms) == MHD_YES)
		ctl_wake_at(next, ctl_now() + (double)ms / 1000.0);
}

void ctl_metrics_run(struct ctl_daemon *d)
{
	if (d->metrics)
		MHD_run(d->metrics);
}

void ctl_metrics_stop(struct ctl_daemon *d)
{
	if (d->metrics)
		MHD_stop_daemon(d->metrics);
	d->metrics = NULL;
	d->metrics_fd = -1;
}
