# The daemon's watch on its servers: a server whose main loop stops turning
# is reported with what it was doing, killed, and replaced: a client it was
# serving gets an error, one idle since its last record is taken over by
# its standby (e2e_crash), a client after it is served, nobody hangs.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-remote-probe
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" "$@"; } # the test's watchdog bounds it
status_is() { [[ "$(c "get_server_status $1")" =~ $2 ]]; }

# 1. A loop stuck in the driver: opening a client's channel, whose API
# version query a gate holds (fakecuda's FAKECUDA_API_VERSION_GATE), as a
# driver call can hang. (Page-locking the channel, which once hung here, is
# its worker's since.)
touch "$TMP/gate"
OPENMPS_SERVER_WATCHDOG_S=4 FAKECUDA_API_VERSION_GATE=$TMP/gate start_daemon
probe --hold-ms 100 >"$TMP/a.out" 2>&1 &
apid=$!
wait_for "the server to start" 5 has_servers
S=$(servers)
wait_for "the server to be late" 10 status_is "$S" "^ACTIVE, not answering for [0-9.]+ s: opening the data channel of client process [0-9]+, for [0-9.]+ s$"
check "get_server_status says what its loop does [$(c "get_server_status $S")]" \
	grep -qE "not answering .*opening the data channel" <<<"$(c "get_server_status $S")"
wait_for "the daemon to kill it" 10 dead "$S"
check "control.log: not answering, and what it was doing" \
	logged "Server $S has not answered for 4 s \(its main loop: opening the data channel of client process [0-9]+, for [0-9.]+ s\); killing it"
wait_for "control.log: killed for not answering" 5 logged "Server $S was killed: it did not answer"
# Its shim asks again, as for any server gone while its channel opens (a
# fault's, a crash's), and the next server stops at the gate as well: a
# second stop is no accident, and the daemon refuses it from then on, so
# it hears why after two servers, not four.
P=$(sed -En "s/.*Server $S has not answered .*opening the data channel of client process ([0-9]+),.*/\1/p" \
	"$OPENMPS_LOG_DIRECTORY/control.log")
stops() { grep -c "has not answered for 4 s (its main loop: opening the data channel of client process $P," \
	"$OPENMPS_LOG_DIRECTORY/control.log"; }
wait_for "the second server to be killed" 20 eval '[ "$(stops)" -ge 2 ]'
wait "$apid"
check "the client it held hears why it is refused, after two servers [$(tail -1 "$TMP/a.out")]" \
	grep -q "openmps: the openmps control daemon refused the client: 2 servers stopped answering while they worked for this process (the last: opening the data channel of client process $P, for [0-9.]* s) and were killed; it is not served again" "$TMP/a.out"
check "control.log: why it is refused" \
	logged "Client process $P stopped 2 servers' main loops \(the last: opening the data channel of client process $P, for [0-9.]+ s\): it is refused from now on"
check "... two servers, not four" test "$(grep -c 'has not answered' "$OPENMPS_LOG_DIRECTORY/control.log")" -eq 2
rm -f "$TMP/gate"
out=$(probe 2>&1)
check "the next client gets a new server and passes" grep -qx "remote_probe: PASS" <<<"$out"
check "... a new one" test -n "$(servers)" -a "$(servers)" != "$S"
stop_daemon 10

# 2. A stopped server: nothing answers at all. Its client, idle at the gate
# since its last record, is taken over by the standby and passes.
OPENMPS_RECORD_LOG=1 OPENMPS_SERVER_WATCHDOG_S=2 start_daemon
probe --gate "$TMP/go" >"$TMP/b.out" 2>&1 &
bpid=$!
wait_for "a server" 5 has_servers
S=$(servers)
wait_for "the client to allocate" 10 grep -q "^allocated" "$TMP/b.out"
# A record that names it as it is now: a client coming and going makes one
# (one since it allocated need not be later than its last call).
records() { grep -cE "Server +$S\] Record against a crash: 1 client " "$OPENMPS_LOG_DIRECTORY/server.log"; }
recorded_since() { [ "$(records)" -gt "$1" ]; }
base=$(records)
probe >/dev/null 2>&1
wait_for "a record of it against a crash, as it is now" 10 recorded_since "$base"
kill -STOP "$S"
wait_for "the daemon to kill the stopped server" 10 dead "$S"
check "control.log: a server stopped while waiting for messages" \
	logged "Server $S has not answered for 2 s \(its main loop: waiting for messages\)"
wait_for "the standby to take over" 5 logged "Process [0-9]+ serves the clients of the server that stopped|Server $S handed its clients to its standby"
touch "$TMP/go"
wait "$bpid"
check "its idle client is taken over by the standby and passes [$(tail -1 "$TMP/b.out")]" grep -qx "remote_probe: PASS" "$TMP/b.out"
out=$(probe 2>&1)
check "the next client passes" grep -qx "remote_probe: PASS" <<<"$out"
check "... served by the standby" test -n "$(servers)" -a "$(servers)" != "$S"
stop_daemon 10

# 3. A server that never becomes ready (its driver's start hangs): killed
# after six times the watch's bound, its waiting client refused with why.
OPENMPS_SERVER_WATCHDOG_S=2 FAKECUDA_INIT_DELAY_MS=60000 start_daemon
client c
wait_for "the server to start" 5 has_servers
S=$(servers)
wait_for "the daemon to kill the server that does not start" 20 dead "$S"
client_wait c "^refused: .*the server for user $(id -u) failed to start: it was not ready after 12 s"
check "control.log: why" logged "Server $S was not ready after 12 s; killing it"
stop_daemon 10

# 4. No watch: a server never answers pings it is not sent.
OPENMPS_SERVER_WATCHDOG_S=0 start_daemon
out=$(probe 2>&1)
check "with the watch off, clients pass" grep -qx "remote_probe: PASS" <<<"$out"
check "control.log: the watch is off" logged "Servers are not watched \(OPENMPS_SERVER_WATCHDOG_S=0\)"
stop_daemon 10
finish
