/* openmps-control internals: the daemon's state, shared by its files.
 *
 * One thread, one poll loop (daemon.c). Everything the daemon knows lives in
 * struct ctl_daemon: the servers it started (servers.c), the connections on
 * its socket, front ends and clients (clients.c), and the limits it keeps.
 * Invariant: at most one server process is alive at a time. A client of
 * another user waits until that server has drained and exited (NVIDIA's
 * one-user rule); with -M one server runs for every user. */
#ifndef OPENMPS_CONTROL_H
#define OPENMPS_CONTROL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "protocol.h"

enum ctl_server_state {
	CTL_SERVER_INITIALIZING, /* started, not yet READY */
	CTL_SERVER_ACTIVE,	  /* admitting clients */
	CTL_SERVER_SHUTTING_DOWN /* told to exit once its clients have left, or forced */
};

#define CTL_STUCK_MAX 16 /* client processes remembered that servers' loops were stuck on */

struct ctl_server {
	struct ctl_server *next;
	pid_t pid;
	pid_t handed_from; /* after a fault: the faulted process, until it is reaped (0: none) */
	uid_t uid;
	int fd; /* control socketpair; -1 once closed */
	enum ctl_server_state state;
	struct omps_settings settings; /* server-wide limits */
	struct omps_server_ready devices;
	unsigned nclients;
	int backlogged; /* its socket was full: admit more once it is writable */
	int yielding;	/* drains for another user's waiting client, and only for that */
	uint32_t next_seq;
	double kill_at; /* monotonic time to SIGKILL it, 0 if none */
	char failure[256];
	/* the watch (watch.c) */
	const struct omps_server_beat *beat; /* its main loop's page; NULL if none */
	uint32_t ping_seq;
	double ping_sent; /* when the unanswered ping went; 0: none */
	double next_ping;
	uint32_t beat_seen; /* the page's seq when last looked at */
	double turned_at;   /* when that seq was seen to move: its loop turns */
	double started; /* when it was spawned (ctl_now) */
	int wedged;	/* killed for not answering */
	int taking_over; /* it stopped with no word: its standby (pid now) takes over, or is killed at kill_at */
};

enum ctl_conn_role { CONN_NEW, CONN_UI, CONN_CLIENT };

/* A connection on the control socket: a front end or a client. */
struct ctl_conn {
	struct ctl_conn *next;
	uint64_t serial;
	int fd;
	pid_t pid;
	uid_t uid;
	enum ctl_conn_role role;
	double accepted; /* ctl_now(): a connection silent for HELLO_TIMEOUT_S after is dropped */
	/* a front end waiting for an answer that comes later */
	uint32_t wait_seq;	       /* terminate_client: the server's answer */
	pid_t wait_job;		       /* device_query: a helper process */
	pid_t wait_start;	       /* start_server: the server it started, until ready or gone */
	/* a client */
	uint32_t id;
	int wait_logged;
	struct ctl_server *server; /* NULL while pending, or once terminated */
	int terminated;		   /* its server let go of it (terminate_client) */
	struct omps_settings requested, effective;
	struct omps_settings asked; /* requested, its ordinals its server's (once admitted) */
	uint64_t sees;		    /* bit i: it sees its server's device i (CUDA_VISIBLE_DEVICES) */
	int first_dev;		    /* the server's ordinal of its device 0; -1: none */
	struct omps_client_usage usage; /* as its server last said */
	struct omps_client_stats stats; /* what it asked so far, as its server last said */
	unsigned long pidns;
	char comm[OMPS_COMM_MAX];
	char pod[64], pod_namespace[64], container[64]; /* its Kubernetes pod, as it says; "" */
	char visible[256];  /* its CUDA_VISIBLE_DEVICES, as it says */
	uint32_t vis_flags; /* OMPS_CLIENT_VISIBLE_SET, OMPS_CLIENT_PCI_ORDER */
	int part_bound; /* to a static SM partition (partitions.c): */
	int part_dev;	/* of d->smdev */
	uint32_t part_id;
};

/* Static SM partitions (-S, partitions.c): a GPU's chunks and its partitions. */
#define CTL_MAX_SM_DEVICES 64
#define CTL_MAX_CHUNKS	   256
struct ctl_sm_part {
	uint32_t id;
	unsigned start, count; /* chunks [start, start + count) */
	unsigned users;	       /* clients bound to it */
};
struct ctl_sm_device {
	char uuid[48];
	unsigned sms, chunks, chunk_sms;
	uint32_t next_id;
	unsigned nparts;
	struct ctl_sm_part part[CTL_MAX_CHUNKS];
};

/* A helper process whose output answers a front end (device_query). */
struct ctl_job {
	struct ctl_job *next;
	pid_t pid;
	int fd;
	uint64_t conn_serial;
	FILE *out;
	char *text;
	size_t len;
	char *tail; /* printed after the helper's output */
	int json;   /* device_query --json: the helper's CSV and the servers' devices, as JSON */
};

#define CTL_MAX_GROUPS 16

/* How the daemon was started (main.c). */
struct ctl_options {
	int foreground, multiuser;
	int nallow;
	gid_t allow[CTL_MAX_GROUPS]; /* --allow-group: who else may connect */
	char allow_names[256];
	const char *metrics; /* --metrics [HOST:]PORT; NULL: no endpoint */
	int static_parts;    /* -S */
};

struct MHD_Daemon;

struct ctl_daemon {
	uid_t uid;
	int multiuser;
	int nallow;
	gid_t allow[CTL_MAX_GROUPS];
	char allow_names[256];
	int listen_fd;
	double listen_paused_until; /* out of descriptors: the listener rests until then */
	double drops_logged;	    /* when a dropped connection was last logged, */
	unsigned drops_unlogged;    /* and how many were dropped since without a line, */
	char drop_last[320];	    /* the last of them */
	int pipe_dirfd, log_dirfd; /* the directories, checked once and held (ctl_access_take_dir) */
	char socket_path[108];
	char pid_path[4096];
	char server_path[4096];
	int server_log_fd;
	struct omps_settings defaults;
	struct ctl_server *servers;
	struct ctl_conn *conns; /* in arrival order */
	struct ctl_job *jobs;
	uint64_t next_serial;
	uint32_t next_client_id;
	uid_t start_uid; /* start_server waiting for the live server to drain */
	int start_pending;
	int schedule_again; /* a waiting client left: see who else may run */
	int quitting;
	double quit_force_at;
	int watchdog_s; /* OPENMPS_SERVER_WATCHDOG_S; 0: servers are not watched */
	struct ctl_stuck {	   /* client processes a killed server's loop was stuck on (clients.c) */
		pid_t pid;
		unsigned long long start; /* with pid, the process */
		unsigned times;
		char what[160];
	} stuck[CTL_STUCK_MAX];
	unsigned stuck_next; /* the slot taken next: the oldest */
	int static_parts; /* -S: clients run in static SM partitions (partitions.c) */
	struct ctl_sm_device *smdev;
	unsigned nsmdev;
	struct MHD_Daemon *metrics; /* the metrics endpoint (metrics.c); NULL: none */
	int metrics_fd;		    /* its epoll descriptor, in the poll set */
	char metrics_url[320];
};

/* The answer to one command line: text for the front end, and whether it
 * failed (the front end then exits non-zero). */
struct ctl_reply {
	FILE *out;
	int failed;
	int deferred; /* answered later (terminate_client, device_query) */
	int unlogged; /* a monitor's query (ps --json): neither it nor its answer goes to control.log */
};

double ctl_now(void);
/* The poll loop's next wake-up (0: none yet) made no later than at. */
void ctl_wake_at(double *next, double at);

/* daemon.c */
int ctl_daemon_run(const struct ctl_options *o);
void ctl_answer(struct ctl_daemon *d, struct ctl_conn *c, const char *text, size_t len, int failed);
struct ctl_conn *ctl_conn_by_serial(struct ctl_daemon *d, uint64_t serial);
void ctl_conn_close(struct ctl_daemon *d, struct ctl_conn *c);
/* A connection accepted and let in (its peer's pid and uid): added last. */
struct ctl_conn *ctl_conn_add(struct ctl_daemon *d, int fd, pid_t pid, uid_t uid);
/* What a connection sent: its hello, a command, or its departure. */
void ctl_conn_readable(struct ctl_daemon *d, struct ctl_conn *c);
void ctl_begin_quit(struct ctl_daemon *d, int timeout);

/* watch.c: pings to each server's main loop, and a kill for one that stops answering. */
void ctl_watch_init(struct ctl_daemon *d);
void ctl_watch_ready(struct ctl_server *s, int beat_fd);
void ctl_watch_pong(struct ctl_server *s, const char *buf, size_t n);
void ctl_watch_timers(struct ctl_daemon *d, double *next);
/* "not answering for 3.0 s: ..." where its loop is late; 0 if it is not. */
int ctl_watch_describe(const struct ctl_server *s, char *out, size_t len);
void ctl_watch_release(struct ctl_server *s);

/* access.c */
int ctl_access_parse_group(const char *name, gid_t *gid);
/* 1 if the peer on fd (of uid) may use the daemon; else 0 and why. */
int ctl_access_allowed(const struct ctl_daemon *d, int fd, uid_t uid, char *why, size_t len);
int ctl_access_take_dir(const char *dir, const char *what, mode_t mode, gid_t group, char *err, size_t errlen);

/* commands.c */
void ctl_command(struct ctl_daemon *d, struct ctl_conn *c, const char *line, struct ctl_reply *r);
/* A command's failure: the line (a newline added) and a failed reply. */
void ctl_fail(struct ctl_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ctl_command_unlogged(const char *line);
void ctl_print_command_help(FILE *f);

/* servers.c */
struct ctl_server *ctl_server_find(struct ctl_daemon *d, pid_t pid);
struct ctl_server *ctl_server_start(struct ctl_daemon *d, uid_t uid);
int ctl_server_readable(struct ctl_daemon *d, struct ctl_server *s); /* 1: a message was handled */
void ctl_server_shutdown(struct ctl_daemon *d, struct ctl_server *s, int force);
int ctl_server_send(struct ctl_server *s, uint32_t type, const void *payload, size_t len, int fd);
void ctl_server_lost(struct ctl_server *s); /* its socket broke: it takes no one until reaped */
void ctl_servers_reap(struct ctl_daemon *d);
void ctl_servers_timers(struct ctl_daemon *d, double *next);
const char *ctl_server_state_name(enum ctl_server_state st);
/* From /proc/pid/stat: its parent and its start (clock ticks after boot,
 * which with the pid names one process for good). -1 if unreadable. */
int ctl_proc_stat(pid_t pid, pid_t *parent, unsigned long long *start);
int ctl_job_start(struct ctl_daemon *d, struct ctl_conn *c, int csv, char *tail, int json);
void ctl_job_readable(struct ctl_daemon *d, struct ctl_job *j);

/* clients.c */
void ctl_client_hello(struct ctl_daemon *d, struct ctl_conn *c, const void *payload, size_t len);
void ctl_client_gone(struct ctl_daemon *d, struct ctl_conn *c);
/* The watch killed a server whose main loop was stuck working for client
 * process pid (what: on what): a process that stops a second server so is
 * refused from then on, and its shim stops asking (clients.c). */
void ctl_client_stuck(struct ctl_daemon *d, pid_t pid, const char *what);
void ctl_schedule(struct ctl_daemon *d);

/* report.c: the daemon's servers and clients as data, for scripts and tools */
/* ps --json: one JSON document of every server (or only one) and its clients. */
int ctl_report_json(struct ctl_daemon *d, struct ctl_server *only, FILE *out);
/* device_query --json: the helper's CSV (after "Default") and each running
 * server's devices; get_device_client_list --json. */
int ctl_report_devices_json(struct ctl_daemon *d, const char *csv, FILE *out);
int ctl_report_device_clients_json(struct ctl_daemon *d, struct ctl_server *only, FILE *out);
/* The same, in Prometheus's text format, for the metrics endpoint. */
int ctl_report_metrics(struct ctl_daemon *d, FILE *out);

/* partitions.c: static SM partitions (-S) */
int ctl_partitions_init(struct ctl_daemon *d, char *err, size_t errlen);
void ctl_partition_command(struct ctl_daemon *d, int argc, char **argv, struct ctl_reply *r);
void ctl_partition_list(struct ctl_daemon *d, struct ctl_reply *r);
/* A client's CUDA_MPS_SM_PARTITION, at its hello: -1 and why if refused. */
int ctl_partition_bind(struct ctl_daemon *d, struct ctl_conn *c, const char *spec, char *err, size_t errlen);
void ctl_partition_unbind(struct ctl_daemon *d, struct ctl_conn *c);
/* Its partition into the admission; -1 if its GPU is not the server's. */
int ctl_partition_admit(struct ctl_daemon *d, const struct ctl_conn *c, const struct ctl_server *s,
			struct omps_admit *a);

/* metrics.c: the Prometheus endpoint, served from the poll loop */
int ctl_metrics_start(struct ctl_daemon *d, const char *spec, char *err, size_t errlen);
void ctl_metrics_timers(struct ctl_daemon *d, double *next);
void ctl_metrics_run(struct ctl_daemon *d);
void ctl_metrics_stop(struct ctl_daemon *d);

/* frontend.c */
int ctl_frontend(int argc, char **argv);

#endif
