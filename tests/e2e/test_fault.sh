# A GPU fault in the shared context (fakecuda with FAKECUDA_STICKY_FAULTS=1
# poisons it as a GPU does): the server sees it whether or not anyone
# synchronizes, logs the error, when, and which clients had work queued,
# then hands its clients to its standby, a server process started ahead
# (standby.c), or without one makes itself anew in its own process, and
# keeps its clients (handover.c): an idle neighbour finds its memory, module, stream, event
# and page-locked memory as they were and works on; a neighbour with work
# in flight gets the error from its next synchronize, then works on; the
# culprit, when it is the only one with work queued, gets the error from
# every call; a client holding what cannot be made again loses its
# context, and the log says why; the next client passes.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA LD_LIBRARY_PATH=$SHIM_DIR
PROBE=$OPENMPS_BIN/omps-fault-probe
FAKECUDA_STICKY_FAULTS=1 FAKECUDA_LOAD_LOG=$TMP/loads start_daemon

# The idle neighbour let go: it checks its data and works on; then a new
# client must pass too.
idle_then_next() { # idle_then_next WHEN
	touch "$TMP/go-idle"
	wait $idle
	check "the idle neighbour finds everything as it was $1 [$(tail -1 "$TMP/idle.out")]" \
		grep -qx "fault_probe: PASS" "$TMP/idle.out"
	out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
	check "the next client passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
}

count() { grep -cE -- "$1" "$OPENMPS_LOG_DIRECTORY/server.log"; } # server.log's lines matching $1

# Neighbour WHO was kept over the fault: it passed, and its first
# synchronize after it returned 0.
kept_quietly() { # kept_quietly WHO WHAT
	check "$2 [$(tail -2 "$TMP/$1.out" | paste -sd" ")]" grep -qx "fault_probe: PASS" "$TMP/$1.out"
	check "... and notices nothing [$(grep synchronize "$TMP/$1.out")]" \
		grep -qx "fault_probe: synchronize = 0" "$TMP/$1.out"
}

# The server's pid, once the daemon lists it: an empty one would make every
# later "is it dead" true at once, and the lines looked for name no server.
got_server() { S=$(servers) && [ -n "$S" ]; }
server_pid() { wait_for "the daemon to list its server" 5 got_server; }
# What control.log says of server S, when a line about it was not found.
said_of_server() { grep -E "Server $S[]: ]" "$OPENMPS_LOG_DIRECTORY/control.log" | tail -4; }
# The standby that server S handed its clients to, once it has: H.
handed() { H=$(sed -nE "s/.*Server +$S\] Handed over to the standby server process ([0-9]+),.*/\1/p" \
	"$OPENMPS_LOG_DIRECTORY/server.log" | tail -1) && [ -n "$H" ]; }
# That server S handed over to H, H lists as the server and serves, S is gone.
took_over() {
	handed && logged "Server +$H\] Server made anew after the GPU fault" server && [ "$(servers)" = "$H" ] &&
		dead "$S" && logged "Server process $S has exited; process $H serves its clients"
}

# A culprit faults the GPU (and waits for nothing); the standby takes over.
fault_beside() { # fault_beside NAME: P is neighbour NAME's pid
	P=$(probe_pid "$TMP/$1.out")
	timeout 30 "$PROBE" >/dev/null 2>&1
	wait_for "the standby to take over" 10 took_over
}

neighbour() { # neighbour NAME MODE: started, and ready
	# The last case's output goes first: the shell opens the new one only
	# as the probe starts, and a "ready" left in it made a neighbour that
	# had not begun look ready; the fault then met its first cuMemAlloc (700).
	rm -f "$TMP/go-$1" "$TMP/$1.out"
	timeout 60 "$PROBE" --$2 "$TMP/go-$1" >"$TMP/$1.out" 2>&1 &
	eval "$1=\$!"
	wait_for "the $1 neighbour to be ready" 20 grep -q "ready" "$TMP/$1.out"
}

# 1. The culprit alone with work queued: told apart, poisoned as natively.
neighbour idle idle
server_pid
timeout 30 "$PROBE" --then "$TMP/go-culprit" >"$TMP/culprit.out" 2>&1 &
culprit=$!
wait_for "the standby to take over" 10 took_over
marked() { c ps | grep -q "^$culprit_pid .*\[faulted: its calls fail\]$"; }
culprit_pid=$(probe_pid "$TMP/culprit.out")
wait_for "ps to mark the culprit as faulted" 5 marked
check "... and ps --json too, and no one else" test "$(c "ps --json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sorted((k["pid"], k["faulted"]) for s in d["servers"] for k in s["clients"] if k["faulted"]))')" = "[($culprit_pid, True)]"
touch "$TMP/go-culprit"
wait $culprit
out=$(cat "$TMP/culprit.out")
check "the culprit's synchronize returns the fault [$(grep synchronize <<<"$out")]" \
	grep -q "synchronize = 700" <<<"$out"
check "... and so does its next call, as in a native process [$(grep alloc <<<"$out")]" \
	grep -q "then alloc = 700" <<<"$out"
check "server.log: the fault, its device and error" \
	logged "Server +$S\] A GPU fault poisoned the shared context of device 0: CUDA_ERROR_ILLEGAL_ADDRESS \(700\)" server
check "server.log: the culprit named, the only one with work queued" \
	logged "Server +$S\] Client process [0-9]+ \(ID [0-9]+\), the only one with work queued, faulted" server
check "server.log: the standby made anew, keeping both" \
	logged "Server +$H\] Server made anew after the GPU fault on device 0: 2 clients kept" server
check "control.log: the server handed over to its standby" \
	logged "Server $S handed its clients to its standby, process $H, after a GPU fault"
# The address window each device's chunks are mapped in: where server or
# standby P (window_of WHO P) has it, as its log says.
window_of() {
	sed -nE "s/.*$1 +$2\] Device 0: (client memory is mapped in an address window of [0-9]+[KMGT] at|the server's address window for client memory \([0-9]+[KMGT] at) (0x[0-9a-f]+).*/\2/p" \
		"$OPENMPS_LOG_DIRECTORY/server.log" | tail -1
}
W=$(window_of Server "$S")
check "server.log: the server's address window for client memory [$W]" test -n "$W"
check "... the standby reserved the same as it started [$(window_of Standby "$H")]" test "$(window_of Standby "$H")" = "$W"
check "ps shows it as a server [$(tr '\0' ' ' </proc/$H/cmdline)]" test "$(tr -d '\0' </proc/$H/cmdline)" = openmps-server
standby_of() { pgrep -P "$H" -f -- "--standby" >/dev/null; }
wait_for "the new server to start a standby of its own" 5 standby_of
# A module image the kept clients share is the same shared module to a
# client that comes after: loaded again by no one.
loads=$(wc -l <"$TMP/loads")
touch "$TMP/go-later"
out=$("$PROBE" --free "$TMP/go-later" 2>&1)
check "a client after the fault loads the kept clients' module [$(tail -1 <<<"$out")]" grep -qx "fault_probe: PASS" <<<"$out"
check "... shared with them, not loaded again ($loads loads before, $(wc -l <"$TMP/loads") after)" \
	test "$(wc -l <"$TMP/loads")" = "$loads"
check "control.log: what the fault cost, and who caused it" \
	logged "Server $H: A GPU fault on device 0 \(CUDA_ERROR_ILLEGAL_ADDRESS \(700\)\): the server made itself anew and serves again [0-9]+ ms after it was seen, keeping 2 of its 2 clients; the culprit, client process [0-9]+ \(ID [0-9]+\), gets the error from every call"
idle_then_next "after the fault"

# 2. Two with work queued, the culprit waiting for nothing: the server sees
# the fault by itself, cannot tell the two apart, and each gets the error
# once; an idle neighbour notices nothing (its own modules too: __constant__
# data whose kernel ran, __device__ data whose kernel did not, or did before
# its last synchronize: copied then, put back after); so is one that asked for
# a variable's address, wrote it and gave it to a kernel (the new context
# puts it elsewhere; the client keeps its address). One that ran host
# functions is kept, and runs them on; so is one whose captured graph runs a
# host function, one whose data is in stream-ordered memory
# (cuMemAllocAsync), one holding graphs (captured, and built node by
# node) and executable graphs of them, two sharing memory by CUDA IPC, one
# with virtual memory of its own, one that used the JIT linker and has a
# link under way, one in the middle of a stream capture, and one that set
# nodes of its executable graphs.
server_pid
neighbour idle idle
neighbour hostfn hostfn
neighbour pool pool
neighbour busy busy
neighbour graph graph
neighbour hostgraph graph-host
neighbour ran data-ran
neighbour late data-late
neighbour address data-address
neighbour vmm vmm
neighbour link link
neighbour capture capture
neighbour execset exec-set
export FAULT_IPC=$TMP/ipc
rm -f "$FAULT_IPC".*
neighbour ipcx ipc-export
neighbour ipci ipc-import
wait_for "the exporter to free what the importer opened" 10 test -e "$FAULT_IPC.freed"
timeout 30 "$PROBE" --no-sync >"$TMP/culprit.out" 2>&1 &
culprit=$!
wait_for "the standby to take over, no one synchronizing" 10 took_over
check "server.log: two had work queued, and that one context cannot tell them apart" \
	logged "Server +$S\] 2 clients had work queued: one context cannot tell which faulted" server
check "server.log: the variable whose address a client knows is elsewhere now" \
	logged "Server +[0-9]+\] Client process [0-9]+: 1 of the variables of its module [0-9]+ it knows the address of are elsewhere in the new context" server
touch "$TMP/go-idle" "$TMP/go-busy" "$TMP/go-graph" "$TMP/go-ran" "$TMP/go-late" "$TMP/go-address" \
	"$TMP/go-hostfn" "$TMP/go-pool" "$TMP/go-hostgraph"
touch "$TMP/go-ipcx" "$TMP/go-ipci" "$TMP/go-vmm" "$TMP/go-link" "$TMP/go-capture" "$TMP/go-execset"
wait $idle $busy
wait $graph $ran $late $address $hostfn $pool $hostgraph
kept_quietly hostgraph "the one whose captured graph runs a host function is kept, and the graph runs it again"
check "the one that ran host functions is kept and runs them on [$(tail -1 "$TMP/hostfn.out")]" \
	grep -qx "fault_probe: PASS" "$TMP/hostfn.out"
kept_quietly pool "the one whose data is in stream-ordered memory is kept, its data too"
kept_quietly graph "the one holding graphs is kept, its graphs and executable graphs made again"
check "... and the page-locked memory it freed while it held them, let go by the successor with its graphs" \
	logged "Server +$H\] Client process [0-9]+: host memory it unshared while it held graphs now let go" server
kept_quietly ran "the one whose kernel changed its __device__ data is kept, its data too"
kept_quietly late "so is one whose such kernel no synchronize waited for, its data as that kernel left it"
kept_quietly address "the one that knows its variable's address is kept, the address and its data too"
wait $ipcx $ipci $vmm $link $capture $execset
kept_quietly execset "the one that set nodes of its executable graphs is kept, each as it was set"
kept_quietly capture "the one in the middle of a stream capture is kept, and captures on and ends it"
kept_quietly link "the one that used the JIT linker is kept, its link under way too, which it completes and runs"
check "... adding to that link after the fault [$(grep "link add" "$TMP/link.out")]" \
	grep -qx "fault_probe: link add = 0" "$TMP/link.out"
kept_quietly vmm "the one with virtual memory of its own is kept, its range and data too"
kept_quietly ipci "the one that opened another's memory and events by IPC is kept, and opens handles of the server before"
kept_quietly ipcx "... and the one that gave it out, which finds what the other wrote after the fault"
check "server.log: the memory its exporter freed before the fault went with the importer's last close after it" \
	logged "Server +[0-9]+\] Client process [0-9]+: closed the last IPC handle of 16384 bytes its exporter had freed; freed now" server
check "the idle neighbour again [$(tail -1 "$TMP/idle.out")]" grep -qx "fault_probe: PASS" "$TMP/idle.out"
check "the busy neighbour's synchronize returns the fault [$(grep synchronize "$TMP/busy.out")]" \
	grep -q "synchronize = 700" "$TMP/busy.out"
check "... and then it works on [$(tail -1 "$TMP/busy.out")]" grep -qx "fault_probe: PASS" "$TMP/busy.out"
kill $culprit 2>/dev/null
wait $culprit 2>/dev/null
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "the next client passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
check "... on the standby that took over" test "$(servers)" = "$H"
stop_daemon 10
check "no server or standby outlives the daemon [$(ours)]" test -z "$(ours)"

# 2b. Ten faults in a row, each from a new culprit, beside one idle
# neighbour, one holding graphs, one that knows its variables' addresses,
# one in the middle of a capture and one holding a graph with a conditional
# node (its handles made again, in order, to the same values, as the
# H200's driver numbers them): each handed to the standby the last
# server started, the neighbours kept each time, their data and graphs
# checked after the last (a graph made again is written down for the next
# successor as it was); each server's
# descriptors as many as the first's (nothing the old ones held leaks into
# the new); one server and one standby in the end; the next client passes.
since() { [ "$(count "$1")" -ge "$(($2 + $3))" ]; } # since PATTERN BASE N: N more lines than BASE
ready0=$(count "Standby +[0-9]+\] Standing by") handed0=$(count "Handed over to the standby server process")
kept0=$(count "Client \{PID: [0-9]+, ID: 1\} kept: it was idle")
FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
neighbour graph graph
neighbour address data-address
neighbour capture capture
neighbour cond cond
server_pid
W1=$(window_of Server "$S")
fds() { ls "/proc/$S/fd" | wc -l; }
same=1
for i in $(seq 10); do
	wait_for "standby $i to be ready" 10 since "Standby +[0-9]+\] Standing by" "$ready0" "$i" || break
	timeout 30 "$PROBE" >/dev/null 2>&1
	wait_for "fault $i handed over" 10 took_over || break
	S=$H
	[ "$i" = 1 ] && fds1=$(fds)
	[ "$(fds)" = "$fds1" ] || { same=0; echo "after fault $i: $(fds) descriptors, $fds1 after the first"; }
done
check "ten handovers, each to a standby" since "Handed over to the standby server process" "$handed0" 10
check "the last standby has the first server's address window [$W1, $(window_of Standby "$S")]" test "$(window_of Standby "$S")" = "$W1" -a -n "$W1"
check "each server's descriptors as the first's ($fds1)" test $same = 1
check "the neighbour kept ten times" since "Client \{PID: [0-9]+, ID: 1\} kept: it was idle" "$kept0" 10 ||
	grep -E "ID:? 1[),}]|could not|cannot|Cannot" "$OPENMPS_LOG_DIRECTORY/server.log" | grep -v "kept: it was idle" | tail -8
wait_for "the last standby" 5 since "Standby +[0-9]+\] Standing by" "$ready0" 11
servers_left() { for p in $(ours); do cat "/proc/$p/comm"; done | grep -c openmps-server; }
check "one server and one standby left [$(servers_left)]" test "$(servers_left)" = 2
idle_then_next "after ten faults"
touch "$TMP/go-graph" "$TMP/go-address" "$TMP/go-capture" "$TMP/go-cond"
wait $graph $address $capture $cond
kept_quietly graph "the one holding graphs is kept ten times, its graphs made again each time"
kept_quietly cond "the one holding a graph with a conditional node is kept ten times, its handles the same"
kept_quietly address "the one that knows its variables' addresses is kept ten times, at those addresses"
kept_quietly capture "the one in the middle of a capture is kept ten times, its capture made again each time"
stop_daemon 10

# 2b'. Two captures of one client under way at a fault, beside another
# client's capture made again first (it connected last): in the successor
# each capture has a new id, and the id one gets may be the one the other
# had. One capture then ends while the other goes on, and a second fault
# comes: the capture going on must still hold all its work (its records
# were not taken for the ended one's).
ready0=$(count "Standby +[0-9]+\] Standing by")
FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour split capture-split
neighbour capture capture
server_pid
fault_then_standby() { # fault_then_standby N: the Nth fault of this daemon, handed over
	wait_for "standby $1 to be ready" 10 since "Standby +[0-9]+\] Standing by" "$ready0" "$1" &&
		timeout 30 "$PROBE" >/dev/null 2>&1
	wait_for "fault $1 handed over" 10 took_over && S=$H
}
fault_then_standby 1
touch "$TMP/go-split"
wait_for "the capture of the split neighbour to end" 20 grep -q "ready 2" "$TMP/split.out"
fault_then_standby 2
touch "$TMP/go-split.2" "$TMP/go-capture"
wait $split $capture
kept_quietly split "the one whose capture ended between two faults is kept, its other capture whole"
kept_quietly capture "... and so is the one whose capture was made again first"
stop_daemon 10

# 2c. Without a standby (OPENMPS_FAULT_STANDBY=0), and with one that died:
# the server makes itself anew in its own process, the same pid, and its
# descriptors stay as many fault after fault.
OPENMPS_FAULT_STANDBY=0 FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
anew() { [ "$(count "Server +$S\] Server made anew")" -ge "$1" ]; }
settled() { anew "$1" && [ "$(count "Number of active clients is 1\.")" -ge "$1" ]; }
same=1
for i in 1 2 3; do
	timeout 30 "$PROBE" >/dev/null 2>&1
	wait_for "fault $i made anew in the same process" 10 settled "$i" || break
	[ "$i" = 1 ] && fds1=$(fds)
	[ "$(fds)" = "$fds1" ] || { same=0; echo "after fault $i: $(fds) descriptors, $fds1 after the first"; }
done
check "one server process through three faults" test "$(servers)" = "$S"
w=$(window_of Server "$S")
check "... which reserved its address window again at each [$w]" \
	test "$(count "Server +$S\] Device 0: the server's address window for client memory \([0-9]+[KMGT] at $w\) is reserved here too")" = 3
check "its descriptors after each fault as after the first ($fds1)" test $same = 1
check "no standby was started" not_logged "Server +$S\] Standby server process" server
idle_then_next "after three faults in the same process"
stop_daemon 10
# A fault the server meets without a standby (it went: why): it makes
# itself anew in its own process within SECONDS, says why, the same pid
# serves on, and the idle neighbour is kept (WHEN).
anew_without_standby() { # anew_without_standby SECONDS WHY WHEN
	timeout 30 "$PROBE" >/dev/null 2>&1
	wait_for "the server to make itself anew $3" "$1" settled 1
	check "server.log: why there was no standby, and what the server does instead" \
		logged "Server +$S\] The standby server process [0-9]+ $2; without it a GPU fault makes the server anew in its own process" server
	check "... the same process serves on" test "$(servers)" = "$S"
	idle_then_next "$3"
	stop_daemon 10
}
ready0=$(count "Standby +[0-9]+\] Standing by")
FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
wait_for "the standby to be ready" 10 since "Standby +[0-9]+\] Standing by" "$ready0" 1
pkill -9 -P "$S" -f -- "--standby"
anew_without_standby 10 "(is gone \(server.log says why\)|could not be handed the clients)" "after a fault without the standby"

# 2e. A fault while the standby is still starting (cuInit takes 3 s, so
# the fault comes before it is ready): the server waits for it 2 s, then
# makes itself anew in its own process, and the neighbour is kept.
FAKECUDA_INIT_DELAY_MS=3000 FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
anew_without_standby 20 "was not ready within 2000 ms of the fault" "after a fault before the standby was ready"

# 2f. Page-locked memory the driver gave no device address for when it
# was shared (on the H200 when that met a fault): the client was told its
# host address, and a successor that finds that one keeps the client.
touch "$TMP/devptr-none"
FAKECUDA_HOST_DEVPTR_NONE=$TMP/devptr-none FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
check "the driver gave its host memory no device address" test ! -e "$TMP/devptr-none"
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the standby to take over" 10 took_over
check "server.log: the neighbour kept" logged "Server +$H\] Client \{PID: [0-9]+, ID: 1\} kept: it was idle" server
idle_then_next "with host memory that had no device address"
stop_daemon 10

# 2g. Page-locked memory asked for just as a fault shows (the driver's
# registration fails with it: FAKECUDA_FAULT_AT_REGISTER, as an H200 soak
# met it): the client is told its host address as the device's, and the
# server made anew page-locks it there. Before, it was told 0, and a
# kernel given that address failed (rt_mapped, managed memory refused).
FAKECUDA_FAULT_AT_REGISTER=$TMP/fault-at-register FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour hostlate host-late
server_pid
touch "$TMP/fault-at-register" "$TMP/go-hostlate" # after its rings were page-locked
wait $hostlate
check "the fault showed at the registration" test ! -e "$TMP/fault-at-register"
check "its kernel doubled the memory through the address it was told [$(tail -2 "$TMP/hostlate.out" | paste -sd" ")]" \
	grep -qx "fault_probe: PASS" "$TMP/hostlate.out"
check "server.log: the memory met the fault, and the server made anew page-locks it" \
	logged "Server +$S\] Client process [0-9]+: its host memory at 0x[0-9a-f]+ \([0-9]+ bytes\) met the GPU fault; the server made anew page-locks it" server
wait_for "the standby to take over" 10 took_over
stop_daemon 10
# ... and where the driver gives no device address at all (the H200 gave
# none when a fault met the query), it is the host address too.
FAKECUDA_HOST_DEVPTR_NONE=$TMP/devptr-none start_daemon
neighbour hostlate host-late
touch "$TMP/devptr-none" "$TMP/go-hostlate"
wait $hostlate
check "the driver gave no device address" test ! -e "$TMP/devptr-none"
check "... and the client was told the host address [$(tail -2 "$TMP/hostlate.out" | paste -sd" ")]" \
	grep -qx "fault_probe: PASS" "$TMP/hostlate.out"
stop_daemon 10

# 2h. A neighbour that queued work on two streams and synchronized one:
# it had work in flight (the other stream's), so it is told the fault by
# the synchronize that waits for that work, and keeps what it waited for.
# It was taken for an idle one (a stream's synchronize counted as the
# client's), told nothing, and on a GPU its other stream's work was lost
# unseen: rt_streams failed so in an H200 soak. FAKECUDA_STREAM_BUSY: the
# server's own look as the worker parks finds its streams busy too.
FAKECUDA_STICKY_FAULTS=1 FAKECUDA_STREAM_BUSY=1 start_daemon
neighbour two two-streams
server_pid
fault_beside two
check "server.log: taken for one with work queued" \
	logged "Server +$H\] Client \{PID: $P, ID: [0-9]+\} kept: it had work queued" server
touch "$TMP/go-two"
wait $two
check "the synchronize of its other stream returns the fault [$(grep synchronize "$TMP/two.out")]" \
	grep -qE "^fault_probe: synchronize = [1-9][0-9]*$" "$TMP/two.out"
check "... and what it waited for is kept [$(tail -1 "$TMP/two.out")]" grep -qx "fault_probe: PASS" "$TMP/two.out"
stop_daemon 10

# 2i. A neighbour that synchronized just before the fault, its worker not
# parked yet (a park delay of 5 s here stands for a fault within the 20 ms
# one): the __device__ data its kernel changed was copied as it paused
# (1 ms), so it is kept, its data too. It was let go before ("variables its
# kernels or calls changed since their last copy"), as some were in every
# H200 soak.
OPENMPS_SERVER_PARK_MS=5000 FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour ran data-ran
server_pid
check "server.log: the park delay as set" \
	logged "Server +$S\] Workers park a client after 5000 ms with nothing to do \(OPENMPS_SERVER_PARK_MS\)" server
fault_beside ran
check "server.log: kept, idle before its worker parked" \
	logged "Server +$H\] Client \{PID: $P, ID: [0-9]+\} kept: it was idle" server
touch "$TMP/go-ran"
wait $ran
kept_quietly ran "... its kernel's __device__ data as that kernel left it"
stop_daemon 10

# 2j. A client that does not take its replies (the hostile slowreader: a
# 64 MiB copy from the device, its reply ring read a record every 2 s) at
# a fault: its worker waits for room in that ring. As the server hands
# over it gives up on that client at once (let go, as one whose worker
# stays in a call), and the handover does not wait 2 s for it: the idle
# neighbour is kept.
FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
"$OPENMPS_BIN/omps-hostile-client" slowreader >"$TMP/slow.out" 2>&1 &
slow=$!
wait_for "the slow reader to ask for its copy" 10 grep -q "^copying$" "$TMP/slow.out"
sleep 0.5 # its worker fills the 1 MiB reply ring at once, then waits for room
fault_beside idle
check "server.log: the slow reader let go as the server handed over" \
	logged "Server +$S\] Client process $slow: it did not take its replies as the server handed over; disconnecting it" server
check "... not kept, and why" \
	logged "Server +$S\] Client process $slow \(ID [0-9]+\) cannot be kept: its worker gave up on it" server
check "server.log: no worker held the handover up [$(grep -c "did not leave its call" "$OPENMPS_LOG_DIRECTORY/server.log")]" \
	test "$(count "did not leave its call")" = 0
wait $slow
check "the slow reader's connection closed [$(tail -1 "$TMP/slow.out")]" grep -q "^dropped after" "$TMP/slow.out"
check "... the server's farewell saying why [$(grep told "$TMP/slow.out")]" \
	grep -qx "told: the openmps server disconnected this program: it did not take its replies as the server handed over" "$TMP/slow.out"
idle_then_next "beside it"
stop_daemon 10

# 2k. Each other kind of fault issue 15 names, as the driver says it
# (FAKECUDA_FAULT_ERROR): a device assert, a hardware stack error, an
# illegal instruction, a misaligned address, an invalid program counter, a
# trap (a launch failure). Each is seen and named in server.log, the
# clients are handed over, the culprit is told it as a native process is,
# and the idle neighbour is kept.
for code in 710 714 715 716 718 719; do
	FAKECUDA_FAULT_ERROR=$code FAKECUDA_STICKY_FAULTS=1 start_daemon
	neighbour idle idle
	server_pid
	timeout 30 "$PROBE" >"$TMP/culprit.out" 2>&1
	wait_for "the standby to take over after fault $code" 10 took_over
	check "$code: server.log names it [$(grep -o "shared context of device 0: [^,]*" "$OPENMPS_LOG_DIRECTORY/server.log" | tail -1)]" \
		logged "Server +$S\] A GPU fault poisoned the shared context of device 0: CUDA_ERROR_[A-Z_]+ \($code\)" server
	check "$code: the culprit's synchronize returns it [$(grep synchronize "$TMP/culprit.out")]" \
		grep -qx "fault_probe: synchronize = $code" "$TMP/culprit.out"
	idle_then_next "after fault $code"
	stop_daemon 10
done

# 2d. The standby maps each of the server's memory chunks as it is made;
# one that cannot have the server's address window, nor then a chunk's
# address (FAKECUDA_VA_TAKEN, twice: as the driver where this process has
# them taken) says so, and the server starts another, which has the window
# and maps them all; after a fault the new server uses those.
ready0=$(count "Standby +[0-9]+\] Standing by")
echo 2 >"$TMP/va-taken"
FAKECUDA_VA_TAKEN=$TMP/va-taken FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
wait_for "a standby to find the window taken" 10 logged "Standby +[0-9]+\] Device 0: the server's address window for client memory, at $(window_of Server "$S"), is not free here; its chunks are mapped one by one" server
wait_for "a standby to refuse a chunk" 10 logged "Standby +[0-9]+\] Cannot map the server's memory chunk at 0x[0-9a-f]+ there: this process has the address taken; the server starts another standby" server
check "... and what it has there (nothing: fakecuda refused the address)" \
	logged "Standby +[0-9]+\] Device 0: at 0x[0-9a-f]+ this process has no mapping \(the driver did not offer it\)" server
wait_for "another standby to be ready" 10 since "Standby +[0-9]+\] Standing by" "$ready0" 2
check "the addresses were refused twice" test ! -e "$TMP/va-taken"
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the second standby to take over" 10 took_over
check "... in the window the server had [$(window_of Standby "$H")]" test "$(window_of Standby "$H")" = "$(window_of Server "$S")"
check "server.log: its chunks were mapped ahead" \
	logged "Server +$H\] Device 0: ([0-9]+) of \1 client memory chunks were mapped ahead by the standby" server
idle_then_next "after a standby was made again for a chunk"
stop_daemon 10

# 2e. A client's own virtual address range (cuMemAddressReserve) lies in
# the server's address window: the standby has it there at the takeover
# though its driver would give that address to no one (FAKECUDA_VA_TAKEN,
# once, from the fault on: as the H200's driver had its own mappings
# there). The neighbour is kept, its range and data as they were.
rm -f "$TMP/va-taken"
ready0=$(count "Standby +[0-9]+\] Standing by")
FAKECUDA_VA_TAKEN=$TMP/va-taken FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour vmm vmm
server_pid
wait_for "the standby to be ready" 10 since "Standby +[0-9]+\] Standing by" "$ready0" 1
echo 1 >"$TMP/va-taken"
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the standby to take over" 10 took_over
touch "$TMP/go-vmm"
wait $vmm
kept_quietly vmm "the one with virtual memory of its own is kept where the driver would not give its range"
stop_daemon 10

# 3. Without the handover (OPENMPS_FAULT_HANDOVER=0), as before: the server
# exits, its clients get an error rather than a hang, the next client gets a
# new server.
OPENMPS_FAULT_HANDOVER=0 FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour idle idle
server_pid
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the server to exit" 10 dead "$S"
wait_for "control.log: the server's end, and why" 5 logged "Server $S exited: a GPU fault poisoned its context" ||
	said_of_server
touch "$TMP/go-idle"
wait $idle
check "the neighbour gets an error, not a hang [$(tail -1 "$TMP/idle.out")]" \
	grep -qE "lost the openmps server|FAIL" "$TMP/idle.out"
check "... and is told why [$(grep "^openmps:" "$TMP/idle.out")]" \
	grep -q "^openmps: a GPU fault in the shared context cost every program its context, this one too (CUDA_ERROR_ILLEGAL_ADDRESS (700)); CUDA calls fail from now on" "$TMP/idle.out"
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "the next client gets a new server and passes" grep -qx "remote_probe: PASS" <<<"$out"
check "... a new one" test -n "$(servers)" -a "$(servers)" != "$S"
stop_daemon 10

# 4. A client that comes after a fault the watch has not seen yet (a kernel
# that faults 300 ms after its launch, a watch that looks every 20 s): the
# server finds the poison as it greets the client and makes itself anew;
# the client's shim asks again and is served; it never sees the fault.
FAKECUDA_STICKY_FAULTS=1 FAKECUDA_FAULT_AFTER_MS=300 OPENMPS_FAULT_WATCH_MS=20000 start_daemon
rm -f "$TMP/late-culprit.out" # as neighbour() does: no "launched" left from before
timeout 30 "$PROBE" --no-sync >"$TMP/late-culprit.out" 2>&1 &
culprit=$!
wait_for "the late culprit to launch" 10 grep -q launched "$TMP/late-culprit.out"
server_pid
sleep 0.5 # the kernel has faulted; the watch has not looked
check "the server has not seen it yet" not_logged "Server +$S\\] A GPU fault poisoned" server
out=$("$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "a client after an unseen fault passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
check "server.log: the client that found the fault" \
	logged "Server +$S\] Client \{PID: [0-9]+, ID: [0-9]+\} arrived after a GPU fault poisoned the context" server
check "server.log: the fault itself, and the server made anew" \
	logged "Server +[0-9]+\] Server made anew after the GPU fault" server
kill $culprit 2>/dev/null
wait $culprit 2>/dev/null
stop_daemon 10

# 4c. A neighbour's call after a fault the watch has not seen yet: it
# fails on the poisoned context, which has the watch look; the call is
# held, not answered, and the server made anew serves it: the neighbour
# never sees the fault (it did before: 700 from its first copy).
# held_first NAME MODE: neighbour NAME (MODE) makes that call, the first
# after its gate; it was held, and the neighbour kept as idle, not taken
# for the culprit (its pid: P).
held_first() {
	FAKECUDA_STICKY_FAULTS=1 FAKECUDA_FAULT_AFTER_MS=300 OPENMPS_FAULT_WATCH_MS=20000 start_daemon
	neighbour "$1" "$2"
	server_pid
	rm -f "$TMP/late-culprit.out" # as neighbour() does: no "launched" left from before
	timeout 30 "$PROBE" --no-sync >"$TMP/late-culprit.out" 2>&1 &
	culprit=$!
	wait_for "the late culprit to launch" 10 grep -q launched "$TMP/late-culprit.out"
	sleep 0.5 # the kernel has faulted; the watch has not looked
	check "the server has not seen it yet" not_logged "Server +$S\\] A GPU fault poisoned" server
	touch "$TMP/go-$1"
	wait "${!1}"
	kill $culprit 2>/dev/null
	wait $culprit 2>/dev/null
	P=$(probe_pid "$TMP/$1.out")
	check "server.log: the $1 neighbour's call was held over the fault" \
		logged "Server +$S\] Client process $P: .+ failed on the poisoned context; it is held and served again once the server is made anew" server
	check "server.log: ... and it was kept as idle" \
		logged "Server +[0-9]+\] Client \{PID: $P, ID: [0-9]+\} kept: it was idle" server
	check "... and the neighbour goes on [$(tail -1 "$TMP/$1.out")]" grep -qx "fault_probe: PASS" "$TMP/$1.out"
}
held_first idle idle
stop_daemon 10

# 4d. The same with a free as that call: held, then done by the server made
# anew (it was lost: the successor's record lacked the memory, and the free
# came back "did not allocate", as a soak on the H200 found).
unknown=$(count "which it did not allocate")
held_first freer free
check "the free is done by the server made anew [$(grep free "$TMP/freer.out" | paste -sd" ")]" \
	grep -qx "fault_probe: free = 0" "$TMP/freer.out"
check "server.log: no free of memory it did not allocate" test "$(count "which it did not allocate")" = "$unknown"
stop_daemon 10

# 4d'. Host memory unshared while its client's worker serves a call that
# the fault then fails and holds (a synchronize made slow: its streams
# busy, 500 ms; the fault shows within it): the worker never does the
# unshare it was poked
# for, and the handover waited 2 s for it, then let the client go ("a
# request for host memory was under way"), as an H200 soak met it. Now
# the server does it as it hands over: the unshare is answered, the client
# kept, and its synchronize, served by the server made anew, returns the
# fault (a memset of its was queued: work in flight, its to see).
FAKECUDA_STICKY_FAULTS=1 FAKECUDA_FAULT_AFTER_MS=300 OPENMPS_FAULT_WATCH_MS=20000 FAKECUDA_SYNC_DELAY_MS=500 \
	FAKECUDA_STREAM_BUSY=1 OPENMPS_SYNC_SPINNERS=8 start_daemon
rm -f "$TMP/unmapper.out" "$TMP/go-unmapper" "$TMP/late-culprit.out"
timeout 60 "$OPENMPS_BIN/omps-hostile-client" unmap-held "$TMP/go-unmapper" >"$TMP/unmapper.out" 2>&1 &
unmapper=$!
wait_for "the unmapper to be ready" 20 grep -q ready "$TMP/unmapper.out"
P=$(pgrep -P $unmapper)
server_pid
timeout 30 "$PROBE" --no-sync >"$TMP/late-culprit.out" 2>&1 &
culprit=$!
wait_for "the late culprit to launch" 10 grep -q launched "$TMP/late-culprit.out"
touch "$TMP/go-unmapper" # its synchronize starts before the fault shows, and ends after
wait $unmapper
kill $culprit 2>/dev/null
wait $culprit 2>/dev/null
check "its synchronize was held over the fault" \
	logged "Server +$S\] Client process $P: .+ failed on the poisoned context; it is held" server
check "its unshare is answered within a second [$(grep unmap "$TMP/unmapper.out")]" \
	grep -qE "^unmap 0 after [0-9]{1,3} ms$" "$TMP/unmapper.out"
check "server.log: the handover waited for no worker" \
	not_logged "Server +$S\] Handover: a worker did not leave its call" server
check "server.log: the client was kept" logged "Server +[0-9]+\] Client \{PID: $P, ID: [0-9]+\} kept" server
check "... and its synchronize answered by the server made anew, with the fault: it had work queued [$(tail -1 "$TMP/unmapper.out")]" \
	grep -qx "synchronize 700" "$TMP/unmapper.out"
stop_daemon 10

# 4e. The same with a module load, and with an input added to a JIT link
# under way: their data came in records before the call that failed, and
# comes with it (the server made anew answered "invalid image"). Those
# records are no work on the GPU: the neighbour is not taken for a client
# with work queued (it was named the culprit).
held_first load load
check "the module load is served after the fault, its image kept [$(grep "load =" "$TMP/load.out")]" \
	grep -qx "fault_probe: load = 0" "$TMP/load.out"
stop_daemon 10
held_first link link
check "the input added to a link under way is served, and the link goes on [$(grep "link add" "$TMP/link.out")]" \
	grep -qx "fault_probe: link add = 0" "$TMP/link.out"
stop_daemon 10
# ... and a node added to a graph built node by node: the reply carried
# the poisoned context's error, not held (the H200 soak: rt_graph_nodes,
# kept as idle, then its host node refused with 719).
held_first grapher graph-add
check "the node is added after the fault, and its graph runs [$(grep "add =" "$TMP/grapher.out")]" \
	grep -qx "fault_probe: add = 0" "$TMP/grapher.out"
stop_daemon 10
# ... and a capture's query, served after its capture is made again.
held_first capture capture
stop_daemon 10
# ... and a module unload.
held_first unloader unload
check "the module unload is served after the fault [$(grep "unload =" "$TMP/unloader.out")]" \
	grep -qx "fault_probe: unload = 0" "$TMP/unloader.out"
stop_daemon 10
# A module unload met by a fault that shows just then, after the
# synchronize before it (FAKECUDA_FAULT_AT_UNLOAD): the module goes with
# the poisoned context and the unload is answered; the server made anew
# refused it before ("module handle 1 is not one of its own", found by the
# H200 soak), and the program failed.
touch "$TMP/fault-at-unload"
refused=$(count "is not one of its own")
FAKECUDA_FAULT_AT_UNLOAD=$TMP/fault-at-unload FAKECUDA_STICKY_FAULTS=1 start_daemon
neighbour unloader unload
server_pid
touch "$TMP/go-unloader"
wait $unloader
check "the fault showed at the unload" test ! -e "$TMP/fault-at-unload"
check "the unload met by the fault is answered [$(grep "unload =" "$TMP/unloader.out")]" \
	grep -qx "fault_probe: unload = 0" "$TMP/unloader.out"
check "... and its program goes on, its module loaded again [$(tail -1 "$TMP/unloader.out")]" \
	grep -qx "fault_probe: PASS" "$TMP/unloader.out"
check "server.log: no handle refused" test "$(count "is not one of its own")" = "$refused"
wait_for "the server to be made anew" 10 logged "Server made anew after the GPU fault" server
stop_daemon 10

# 4e'. A capture begun just as the fault shows: the driver answers the
# begin, then no longer says the capture's id (FAKECUDA_FAULT_AT_CAPTURE_INFO,
# as an H200 soak met it). It was let go ("a capture of its began that
# cannot be told apart"); now its begin is kept under an id of its own,
# and the server made anew begins it again: the neighbour captures on.
FAKECUDA_STICKY_FAULTS=1 FAKECUDA_FAULT_AT_CAPTURE_INFO=$TMP/fault-at-info start_daemon
neighbour latecap capture-late
server_pid
touch "$TMP/fault-at-info" "$TMP/go-latecap"
wait $latecap
check "the fault showed at the capture's begin" test ! -e "$TMP/fault-at-info"
check "its capture, begun at the fault, goes on [$(tail -2 "$TMP/latecap.out" | paste -sd" ")]" \
	grep -qx "fault_probe: PASS" "$TMP/latecap.out"
check "server.log: not let go for its capture" not_logged "Server +$S\] .*cannot be told apart" server
wait_for "the standby to take over" 10 took_over
stop_daemon 10

# 4f. A capture under way that holds graph memory (cuMemAllocAsync in it)
# is not kept: its client loses its context, and the log says why.
FAKECUDA_STICKY_FAULTS=1 start_daemon
FAULT_CAPTURE_ALLOC=1 neighbour capture capture
server_pid
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the standby to take over" 10 took_over
check "server.log: the capture holding graph memory is not kept, and why" \
	logged "Server +$S\] Client process [0-9]+ \(ID 1\) cannot be kept: it allocated or freed stream-ordered memory in its capture under way" server
touch "$TMP/go-capture"
wait $capture
check "... it gets an error, not a hang [$(tail -1 "$TMP/capture.out")]" grep -qE "lost the openmps server|FAIL" "$TMP/capture.out"
check "... and the program is told why, in one line [$(grep "^openmps:" "$TMP/capture.out")]" \
	grep -qx "openmps: a GPU fault in another program cost this one its context: it allocated or freed stream-ordered memory in its capture under way (server.log says more); CUDA calls fail from now on" "$TMP/capture.out"
stop_daemon 10

# 4g. An executable graph a node of which was turned off (even if on again
# since) is not kept: which nodes are off is not written down, and a
# successor would run them. Its client loses its context, and says why.
FAKECUDA_STICKY_FAULTS=1 start_daemon
# (It bails out at its first call after the fault, its objects never
# destroyed, as a program that exits on an error: no leak of ours.)
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" FAULT_GRAPH_OFF=1 neighbour execset exec-set
server_pid
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the standby to take over" 10 took_over
check "server.log: the executable graph with a node turned off is not kept, and why" \
	logged "Server +$S\] Client process [0-9]+ \(ID 1\) cannot be kept: its executable graph 2 cannot be made again: a node of it was turned off \(cuGraphNodeSetEnabled\), which is not written down" server
touch "$TMP/go-execset"
wait $execset
check "... it gets an error, not a hang [$(tail -1 "$TMP/execset.out")]" grep -qE "lost the openmps server|FAIL" "$TMP/execset.out"
stop_daemon 10

# 4b. A server short of descriptors (its limit 24: half of it for the
# clients' sockets) closes what a shared host range would need to be kept;
# its client is then not kept through a fault, and the log says why. (At
# 32 the range's descriptor, about the 16th open, fell on either side of
# half with the order its peers' descriptors happened to be made in: the
# test failed once as an ordinary user under load. At 24 it is 3 or more
# past half, and both clients still fit.)
(ulimit -n 24 && FAKECUDA_STICKY_FAULTS=1 "$CTL" -d) || fail "the daemon did not start with 24 descriptors"
neighbour idle idle
server_pid
timeout 30 "$PROBE" >/dev/null 2>&1
wait_for "the server to make itself anew" 10 logged "Server +[0-9]+\] Server made anew" server
check "server.log: the neighbour is not kept, and why" \
	logged "Server +$S\] Client process [0-9]+ \(ID 1\) cannot be kept: host memory it shared could not be held open \(the server's descriptor limit\)" server
touch "$TMP/go-idle"
wait $idle
check "... it gets an error, not a hang [$(tail -1 "$TMP/idle.out")]" grep -qE "lost the openmps server|FAIL" "$TMP/idle.out"
check "... and the program is told why [$(grep "^openmps:" "$TMP/idle.out")]" \
	grep -q "^openmps: a GPU fault in another program cost this one its context: host memory it shared could not be held open" "$TMP/idle.out"
stop_daemon 10

# 5. A record the new image cannot read (not this version's; cut short; a
# count of descriptors past its end): it says so and exits as a faulted
# server always did (status 3), without touching the GPU or crashing.
resume() { # resume FILE: the server's exit status, its log in $TMP/resume.log
	OPENMPS_CONTROL_FD=7 OPENMPS_RESUME_FD=8 OPENMPS_LOG_FD=9 "$OPENMPS_BIN/openmps-server" --resume \
		7</dev/null 8<"$1" 9>"$TMP/resume.log"
	echo $?
}
printf 'notours!\000\000\000\000' >"$TMP/foreign"              # no descriptors listed, not our magic
{ printf 'ompshov1'; head -c 8 /dev/zero; } >"$TMP/short"          # ours, cut short
{ printf 'ompshov1'; head -c 64 /dev/zero; printf '\377\377\000\000'; } >"$TMP/many" # 65535 descriptors listed
head -c 4096 /dev/urandom >"$TMP/junk"
for f in foreign short many junk; do
	rc=$(resume "$TMP/$f")
	check "a $f record: exit 3 [$rc]" test "$rc" = 3
	check "... and why, in the log [$(tail -1 "$TMP/resume.log" | cut -c40-)]" \
		grep -qE "cannot make itself anew after the fault: what the faulted server wrote down is (cut short|not this version's)" "$TMP/resume.log"
done
check "the foreign one is told apart" grep -q "is not this version's" <(resume "$TMP/foreign" >/dev/null; cat "$TMP/resume.log")
finish
