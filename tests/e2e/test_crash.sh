# A server killed (kill -9), not a GPU fault: its standby takes over the
# clients idle since the server's last record (src/server/checkpoint.c).
# An idle neighbour with data, modules, a stream, an event and page-locked
# memory, and one holding graphs, find all as it was and work on; one that
# was in the record but launched since is told it lost its context (806,
# and its one line says why); one that came after the record loses its
# server as before; the daemon lists the standby as the server, and the
# next client passes. A server that exits as it should (quit) leaves no
# standby behind to take over, and with OPENMPS_CRASH_RECORD=0 a killed
# server's clients lose it as before.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA LD_LIBRARY_PATH=$SHIM_DIR
PROBE=$OPENMPS_BIN/omps-fault-probe

count() { grep -cE -- "$1" "$OPENMPS_LOG_DIRECTORY/server.log"; }
got_server() { S=$(servers) && [ -n "$S" ]; }
neighbour() { # neighbour NAME MODE: started, and ready
	rm -f "$TMP/go-$1" "$TMP/$1.out"
	timeout 60 "$PROBE" --$2 "$TMP/go-$1" >"$TMP/$1.out" 2>&1 &
	eval "$1=\$!"
	wait_for "the $1 neighbour to be ready" 20 grep -q "ready" "$TMP/$1.out"
}
# The standby of server S, ready: its pid in R.
standing_by() {
	R=$(sed -nE "s/.*Server +$S\] Standby server process ([0-9]+) started.*/\1/p" \
		"$OPENMPS_LOG_DIRECTORY/server.log" | tail -1) &&
		[ -n "$R" ] && logged "Standby +$R\] Standing by" server
}
# Records that named N clients (OPENMPS_RECORD_LOG=1: each one is said).
records() { count "Server +$S\] Record against a crash: $1 client"; }
# One more since BASE. A record written since, of clients ready before, need
# not follow their last call (it may have been written just before it, and
# no more since: nothing changed); so a client comes and goes, which makes
# one more with theirs as they are now.
recorded_since() { [ "$(records "$1")" -gt "$2" ]; }
record_now() { # record_now N: of the N clients
	local base
	base=$(records "$1")
	"$OPENMPS_BIN/omps-remote-probe" >/dev/null 2>&1
	wait_for "a record of the $1 as they are now" 10 recorded_since "$1" "$base"
}
# The standby R serves, and the daemon lists it.
serving() { logged "Server +$R\] Server made anew after server process $S stopped" server && [ "$(servers)" = "$R" ]; }

# 1. Idle neighbours kept over a kill -9; the one busy since told.
export OPENMPS_RECORD_LOG=1
start_daemon
neighbour idle idle
neighbour graph graph
neighbour late then-busy
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
record_now 3
touch "$TMP/go-late"
wait_for "the late one to launch" 5 grep -q "launching" "$TMP/late.out"
L=$(probe_pid "$TMP/late.out")
timeout 60 "$OPENMPS_BIN/omps-remote-probe" --hold-ms 4000 >"$TMP/after.out" 2>&1 &
after=$!
wait_for "a client after the record to allocate" 5 grep -q "^allocated" "$TMP/after.out"
kill -9 "$S"
wait_for "the standby to serve" 10 serving
check "the daemon says the standby took over" \
	logged "Server $S: its standby, process $R, takes over|Server $S handed its clients to its standby, process $R, which took over"
check "the standby names the three in the record, and keeps two" \
	logged "Server +$R\] Server made anew after server process $S stopped without handing over: 2 clients kept of the 3" server
check "... and says which one it let go" \
	logged "Server +$R\] Client process $L \(ID [0-9]+\) is not kept: it used the GPU after the last record" server
wait $late
check "the one that launched since is told [$(tail -1 "$TMP/late.out")]" grep -qx "fault_probe: PASS" "$TMP/late.out"
check "... in one line that says why" \
	grep -q "^openmps: the openmps server stopped (killed or crashed) while this program was using the GPU" "$TMP/late.out"
wait $after
check "the one that came after the record loses its server as before [$(tail -1 "$TMP/after.out")]" \
	grep -q "remote_probe: FAIL .* = 806" "$TMP/after.out"
touch "$TMP/go-idle" "$TMP/go-graph"
wait $idle $graph
check "the idle neighbour finds everything as it was [$(tail -1 "$TMP/idle.out")]" \
	grep -qx "fault_probe: PASS" "$TMP/idle.out"
check "the one holding graphs too [$(tail -1 "$TMP/graph.out")]" grep -qx "fault_probe: PASS" "$TMP/graph.out"
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "the next client passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
check "... served by the standby" test "$(servers)" = "$R"
S=$R
wait_for "the new server's standby" 20 standing_by

# 2. A clean exit: the standby does not take over, and goes too.
stop_daemon 10
check "no standby took over a server that exited as it should" \
	test "$(count "taking over the clients its last record named")" = 1
wait_for "every server process to be gone" 10 test -z "$(ours)"

# 3. OPENMPS_CRASH_RECORD=0: a killed server's idle client loses it.
OPENMPS_CRASH_RECORD=0 start_daemon
neighbour idle idle
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
sleep 0.5 # a record would be written by now
kill -9 "$S"
touch "$TMP/go-idle"
wait $idle
check "without records, the idle client loses its server [$(tail -1 "$TMP/idle.out")]" \
	grep -q "lost the openmps server" "$TMP/idle.out"
wait_for "the daemon to log the death" 5 logged "Server $S was killed by signal 9"
check "the standby says why it did not take over" \
	logged "Standby +$R\] The server stopped without handing over, and had no record of its clients" server
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "the next client gets a new server [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
stop_daemon 10
finish
