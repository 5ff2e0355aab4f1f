/* Writes the seed corpora of fuzz_daemon (conversations of front ends,
 * clients and the server with the daemon, as packets: target byte, length
 * u16, bytes) and fuzz_server_control (the daemon's messages to a server:
 * flag byte, length u16, bytes).
 *   seed_daemon DAEMON_DIR SERVER_CONTROL_DIR   (run by hand; committed) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "seed.h"

static FILE *f;

/* One message to target (0-3: a connection, 0x80: the server). */
static void msg(int target, uint32_t type, const void *p, size_t len)
{
	struct omps_msg h = {.type = type};
	uint16_t n = (uint16_t)(sizeof(h) + len);

	fputc(target, f);
	fwrite(&n, 2, 1, f);
	fwrite(&h, sizeof(h), 1, f);
	fwrite(p, 1, len, f);
}

static void hello(int target, uint32_t role, const struct omps_client_info *ci)
{
	char buf[sizeof(struct omps_hello) + sizeof(*ci)];
	struct omps_hello h = {.magic = OMPS_MAGIC, .version = OMPS_PROTOCOL_VERSION, .role = role, .pid = 1000};

	memcpy(buf, &h, sizeof(h));
	if (ci)
		memcpy(buf + sizeof(h), ci, sizeof(*ci));
	msg(target, OMPS_MSG_HELLO, buf, sizeof(h) + (ci ? sizeof(*ci) : 0));
}

int main(int argc, char **argv)
{
	struct omps_client_info ci = {.comm = "./train", .priority = "1", .pinned_mem_limit = "0=1G",
				      .visible_devices = "0,GPU-0a", .flags = OMPS_CLIENT_VISIBLE_SET};
	struct omps_client_usage u = {0};
	struct omps_terminate t = {.seq = 1, .pid = 1001, .result = 0};
	static const char *const cmds[] = {"ps", "get_server_list", "set_default_active_thread_percentage 50",
					   "terminate_client 1073741823 1001", "start_server -uid 65534",
					   "device_query", "quit -t 1"};
	size_t i;

	struct omps_admit ad = {.pid = 1001, .uid = 0, .client_id = 7};
	struct omps_shutdown sd = {.force = 0};
	struct omps_client_left cl = {.client_id = 7};
	struct omps_ping ping = {0};
	struct omps_settings st = {.atp_milli = 50000, .priority = 1};

	if (argc != 3)
		return 2;
	if (!(f = seed_open(argv[1], "front-end")))
		return 1;
	hello(0, OMPS_ROLE_UI, NULL);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		msg(0, OMPS_MSG_UI_COMMAND, cmds[i], strlen(cmds[i]));
	msg(0x80, OMPS_MSG_SERVER_TERMINATED, &t, sizeof(t));
	fclose(f);
	if (!(f = seed_open(argv[1], "clients")))
		return 1;
	hello(1, OMPS_ROLE_CLIENT, &ci);
	hello(2, OMPS_ROLE_CLIENT, &ci); /* another user: the server drains */
	msg(0x80, OMPS_MSG_CLIENT_USAGE, &u, sizeof(u));
	hello(3, OMPS_ROLE_CLIENT, &ci);
	msg(2, OMPS_MSG_UI_COMMAND, "ps", 2); /* a client may not send commands */
	fclose(f);
	/* To a server: flag bit 0 sends a client's connection with the packet. */
	ad.effective = ad.requested = st;
	if (!(f = seed_open(argv[2], "orders")))
		return 1;
	msg(1, OMPS_MSG_SERVER_ADMIT, &ad, sizeof(ad));
	msg(0, OMPS_MSG_SERVER_SETTINGS, &st, sizeof(st));
	msg(0, OMPS_MSG_SERVER_PING, &ping, sizeof(ping));
	t.pid = 1001;
	msg(0, OMPS_MSG_SERVER_TERMINATE, &t, sizeof(t));
	msg(1, OMPS_MSG_SERVER_ADMIT, &ad, sizeof(ad));
	msg(0, OMPS_MSG_SERVER_CLIENT_LEFT, &cl, sizeof(cl));
	msg(0, OMPS_MSG_SERVER_SHUTDOWN, &sd, sizeof(sd));
	msg(0, OMPS_MSG_SERVER_RESUME, "", 0);
	sd.force = 1;
	msg(0, OMPS_MSG_SERVER_SHUTDOWN, &sd, sizeof(sd));
	fclose(f);
	return 0;
}
