# A server killed (kill -9), not a GPU fault: its standby takes over the
# clients idle since the server's last record (src/server/checkpoint.c).
# An idle neighbour with data, modules, a stream, an event and page-locked
# memory, one holding graphs, and one that came while another launched,
# find all as they were and work on; the one launching, in no record,
# loses its server as before; one that was in the record but launched since
# is told it lost its context (806, and its one line says why); the daemon
# lists the standby as the server, and the next client passes. A server
# that exits as it should (quit) leaves no standby behind to take over, and
# with OPENMPS_CRASH_RECORD=0 a killed server's clients lose it as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/standby.sh"

# 1. Idle neighbours kept over a kill -9, beside a busy one: records are
# written while it launches, naming the others; it loses its server.
export OPENMPS_RECORD_LOG=1
start_daemon
neighbour idle idle
neighbour graph graph
neighbour busy busy
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
timeout 60 "$OPENMPS_BIN/omps-remote-probe" --hold-ms 6000 >"$TMP/after.out" 2>&1 &
after=$!
wait_for "a client beside the busy one to allocate" 5 grep -q "^allocated" "$TMP/after.out"
record_now 3
B=$(probe_pid "$TMP/busy.out")
check "the busy one is in no record [$B]" not_logged "Server +$S\] Record against a crash: .*processes.* $B( |$)" server
kill -9 "$S"
wait_for "the standby to serve" 10 serving
check "the daemon says the standby took over" \
	logged "Server $S: its standby, process $R, takes over|Server $S handed its clients to its standby, process $R, which took over"
check "the standby keeps the three its record named" \
	logged "Server +$R\] Server made anew after server process $S stopped without handing over: 3 clients kept of the 3" server
touch "$TMP/go-busy" "$TMP/go-idle" "$TMP/go-graph"
wait $busy $idle $graph $after
check "the busy one loses its server, as before [$(grep openmps: "$TMP/busy.out" | tail -1)]" \
	grep -q "^openmps: lost the openmps server" "$TMP/busy.out"
check "the idle neighbour finds everything as it was [$(tail -1 "$TMP/idle.out")]" \
	grep -qx "fault_probe: PASS" "$TMP/idle.out"
check "the one holding graphs too [$(tail -1 "$TMP/graph.out")]" grep -qx "fault_probe: PASS" "$TMP/graph.out"
check "the one that came beside the busy one too [$(tail -1 "$TMP/after.out")]" \
	grep -qx "remote_probe: PASS" "$TMP/after.out"
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "the next client passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
check "... served by the standby" test "$(servers)" = "$R"
stop_daemon 10

# 2. One in the record that used the GPU since (records 3 s apart here, so
# that none follows before the kill): told, and let go; the other kept.
OPENMPS_RECORD_EVERY_MS=3000 start_daemon
neighbour idle idle
neighbour late then-busy
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
record_now 2
touch "$TMP/go-late"
wait_for "the late one to launch" 5 grep -q "launching" "$TMP/late.out"
kill -9 "$S"
L=$(probe_pid "$TMP/late.out")
wait_for "the standby to serve" 10 serving
check "the standby keeps one of the two its record named" \
	logged "Server +$R\] Server made anew after server process $S stopped without handing over: 1 client kept of the 2" server
check "... and says which one it let go, and why" \
	logged "Server +$R\] Client process $L \(ID [0-9]+\) is not kept: it used the GPU after the last record" server
wait $late
check "the one that launched since is told [$(tail -1 "$TMP/late.out")]" grep -qx "fault_probe: PASS" "$TMP/late.out"
check "... in one line that says why" \
	grep -q "^openmps: the openmps server stopped (killed or crashed) while this program was using the GPU" "$TMP/late.out"
touch "$TMP/go-idle"
wait $idle
check "the idle one is kept [$(tail -1 "$TMP/idle.out")]" grep -qx "fault_probe: PASS" "$TMP/idle.out"
S=$R
wait_for "the new server's standby" 20 standing_by

# A clean exit: the standby does not take over, and goes too.
stop_daemon 10
check "no standby took over a server that exited as it should" \
	test "$(count "taking over the clients its last record named")" = 2
wait_for "every server process to be gone" 10 test -z "$(ours)"
unset OPENMPS_RECORD_LOG

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
