# The record against a crash when its standby misbehaves
# (src/server/checkpoint.c, standby.c):
# 1. a record the standby cannot have whole (its descriptor limit, lowered
#    here with prlimit): it says so and keeps the one before, which a kill -9
#    then uses: the client that record named is kept, one that came later
#    (named only in the record cut short) loses its server;
# 2. a standby that stops reading (SIGSTOP): the server's send gives up on
#    it within 500 ms, kills it and starts another, and the main loop goes on
#    serving meanwhile; the new standby takes over at a kill -9;
# 3. a program starting as the server is killed, its data channel not open
#    yet (the server held in opening it): in no record, its shim asks
#    the daemon again and the standby, now the server, serves it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/standby.sh"
export OPENMPS_RECORD_LOG=1
command -v prlimit >/dev/null || { echo "SKIP: prlimit is not installed (Debian: util-linux)"; exit 77; }
soft_nofile() { prlimit --pid "$1" --nofile --noheadings --output SOFT; }

# 1. A record cut short by the standby's descriptor limit.
start_daemon
neighbour first idle
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
record_now 1
# No descriptor can be had past 3 (stdin, stdout and stderr are open): the
# next record, and a chunk made meanwhile, cannot come whole.
was=$(soft_nofile "$R")
check "the standby's descriptor limit can be lowered [$was]" prlimit --pid "$R" --nofile=3:
neighbour later idle
record_now 2
wait_for "the standby to say the record did not come whole" 5 \
	logged "Standby +$R\] A record against a crash did not come whole \(this process's descriptor limit\?\); the one before stays" server
check "... once, not for each message cut" test "$(count "Standby +$R\] A record against a crash did not come whole")" = 1
check "the standby's descriptor limit can be raised again" prlimit --pid "$R" --nofile="$was":
kill -9 "$S"
wait_for "the standby to serve" 10 serving
check "the standby keeps the one client of the record before" \
	logged "Server +$R\] Server made anew after server process $S stopped without handing over: 1 client kept of the 1" server
touch "$TMP/go-first" "$TMP/go-later"
wait $first $later
check "the client that record named finds everything as it was [$(tail -1 "$TMP/first.out")]" \
	grep -qx "fault_probe: PASS" "$TMP/first.out"
check "the one named only in the record cut short loses its server [$(grep openmps: "$TMP/later.out" | tail -1)]" \
	grep -q "^openmps: lost the openmps server" "$TMP/later.out"
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "the next client passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
stop_daemon 10

# 2. A standby that stops reading. Records come every 10 ms here; clients
# coming and going make one each, until the socket to the stopped standby
# is full and a send waits past 500 ms.
OPENMPS_RECORD_EVERY_MS=10 start_daemon
neighbour idle idle
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
old=$R
kill -STOP "$old"
given_up() { logged "Server +$S\] Cannot hand the standby server process $old a record against a crash: it did not read its socket within 500 ms" server; }
n=0
t0=$(date +%s%N)
while ! given_up && [ $n -lt 3000 ] && [ $(($(date +%s%N) - t0)) -lt 60000000000 ]; do
	"$OPENMPS_BIN/omps-remote-probe" >"$TMP/loop.out" 2>&1 || break
	n=$((n + 1))
done
check "every client served while the standby was stopped [$n ran; $(tail -1 "$TMP/loop.out")]" \
	grep -qx "remote_probe: PASS" "$TMP/loop.out"
check "the server gives up on the standby that does not read [after $n clients]" given_up
wait_for "the stopped standby to be killed" 5 dead "$old"
wait_for "a new standby to be ready" 20 eval 'standing_by && [ "$R" != "$old" ]'
# Records are spaced by what they took, 20 times over; the 500 ms the
# send waited is not counted, or the next would come 10 s later.
record_now 1 2
kill -9 "$S"
wait_for "the new standby to serve" 10 serving
check "the new standby keeps the idle client" \
	logged "Server +$R\] Server made anew after server process $S stopped without handing over: 1 client kept of the 1" server
touch "$TMP/go-idle"
wait $idle
check "the idle client finds everything as it was [$(tail -1 "$TMP/idle.out")]" grep -qx "fault_probe: PASS" "$TMP/idle.out"
stop_daemon 10

# 3. A program whose data channel the server was opening as it was killed:
# fakecuda's cuCtxGetApiVersion, which the main loop asks then, waits while
# the gate exists; the program is in no record.
FAKECUDA_API_VERSION_GATE=$TMP/open-gate start_daemon
neighbour idle idle
wait_for "the daemon to list its server" 5 got_server
wait_for "the standby to be ready" 20 standing_by
record_now 1
connected=$(count "Server +$S\] Client \{PID: [0-9]+, ID: [0-9]+\} connected")
touch "$TMP/open-gate"
timeout 60 bash -c 'echo "pid $$"; exec "$@"' _ "$OPENMPS_BIN/omps-remote-probe" >"$TMP/starting.out" 2>&1 &
starting=$!
welcomed() { [ "$(count "Server +$S\] Client \{PID: [0-9]+, ID: [0-9]+\} connected")" -gt "$connected" ]; }
wait_for "the starting program to be welcomed" 10 welcomed
P=$(sed -n 's/^pid //p' "$TMP/starting.out")
sleep 0.3 # the opening of its channel waits at the gate
check "... its data channel not open [$P]" not_logged "Server +$S\] Client \{PID: $P, ID: [0-9]+\} opened its data channel" server
kill -9 "$S"
rm -f "$TMP/open-gate"
wait_for "the standby to serve" 10 serving
wait $starting
check "the starting program is served by the standby [$(grep -v '^pid' "$TMP/starting.out" | tail -1)]" \
	grep -qx "remote_probe: PASS" "$TMP/starting.out"
check "... which its shim asked again" logged "Server +$R\] Client \{PID: $P, ID: [0-9]+\} opened its data channel" server
touch "$TMP/go-idle"
wait $idle
check "the idle client is kept [$(tail -1 "$TMP/idle.out")]" grep -qx "fault_probe: PASS" "$TMP/idle.out"
stop_daemon 10
finish
