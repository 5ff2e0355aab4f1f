# A GPU fault in the shared context (fakecuda with FAKECUDA_STICKY_FAULTS=1
# poisons it as a GPU does): the server sees it whether or not anyone
# synchronizes, logs the error, when, and which clients had work queued,
# and exits; its clients get an error rather than a hang; the next client
# gets a new server and passes, also when it comes before the server saw
# the fault. (Issue 15 asks for more: the neighbours'
# state kept. This is what holds until then: the GPU serves again.)
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA LD_LIBRARY_PATH=$SHIM_DIR
PROBE=$OPENMPS_BIN/omps-remote-probe
FAKECUDA_STICKY_FAULTS=1 start_daemon

for how in sync no-sync; do
	rm -f "$TMP/go"
	"$PROBE" --gate "$TMP/go" >"$TMP/idle-$how.out" 2>&1 & # a neighbour, idle with its data
	idle=$!
	wait_for "the neighbour to hold its memory ($how)" 20 grep -q "^allocated" "$TMP/idle-$how.out"
	S=$(servers)
	if [ $how = sync ]; then
		out=$(timeout 30 "$OPENMPS_BIN/omps-fault-probe" 2>&1)
		check "the culprit's synchronize fails [$(tail -1 <<<"$out")]" \
			grep -qE "synchronize = [1-9]|lost the openmps server" <<<"$out"
	else
		timeout 30 "$OPENMPS_BIN/omps-fault-probe" --no-sync >"$TMP/culprit.out" 2>&1 &
		culprit=$!
		wait_for "the culprit to launch" 10 grep -q launched "$TMP/culprit.out"
	fi
	wait_for "the server to see the fault, no one synchronizing ($how)" 10 dead "$S"
	check "server.log: the fault, its device and error" \
		logged "Server +$S\] A GPU fault poisoned the shared context of device 0: CUDA_ERROR_ILLEGAL_ADDRESS \(700\)" server
	# The culprit that synchronized may have left already: then it is named as one that left with work queued.
	check "server.log: who had work queued (or left with it just before), who was idle" \
		logged "Server +$S\] Clients with work on the GPU since their last synchronize: ([0-9]+ \(ID [0-9]+\); idle: $idle \(ID|none; idle: $idle \(ID [0-9]+\); left with work queued: [0-9]+ \(ID [0-9]+\), [0-9]+ ms before)" server
	check "server.log: that the culprit cannot be told apart, and what follows" \
		logged "Server +$S\] One context cannot tell which of them faulted" server
	check "control.log: the server's end, and why" logged "Server $S exited: a GPU fault poisoned its context"
	touch "$TMP/go"
	wait $idle
	check "the neighbour gets an error, not a hang [$(tail -1 "$TMP/idle-$how.out")]" \
		grep -qE "lost the openmps server|FAIL" "$TMP/idle-$how.out"
	[ $how = no-sync ] && { kill $culprit 2>/dev/null; wait $culprit 2>/dev/null; }
	out=$("$PROBE" 2>&1)
	check "the next client gets a new server and passes ($how)" grep -qx "remote_probe: PASS" <<<"$out"
	check "... a new one" test -n "$(servers)" -a "$(servers)" != "$S"
done
stop_daemon 10

# A client that comes after a fault the watch has not seen yet (a kernel
# that faults 300 ms after its launch, a watch that looks every 20 s): the
# server finds the poison as it greets the client and makes way, and the
# client's shim asks again and gets a new server; it never sees the fault.
FAKECUDA_STICKY_FAULTS=1 FAKECUDA_FAULT_AFTER_MS=300 OPENMPS_FAULT_WATCH_MS=20000 start_daemon
timeout 30 "$OPENMPS_BIN/omps-fault-probe" --no-sync >"$TMP/late-culprit.out" 2>&1 &
culprit=$!
wait_for "the late culprit to launch" 10 grep -q launched "$TMP/late-culprit.out"
S=$(servers)
sleep 0.5 # the kernel has faulted; the watch has not looked
check "the server has not seen it yet" not_logged "Server +$S\\] A GPU fault poisoned" server
out=$("$PROBE" 2>&1)
check "a client after an unseen fault gets a new server and passes [$(tail -1 <<<"$out")]" \
	grep -qx "remote_probe: PASS" <<<"$out"
check "... a new one" test -n "$(servers)" -a "$(servers)" != "$S"
check "server.log: the client that found the fault" \
	logged "Server +$S\] Client \{PID: [0-9]+, ID: [0-9]+\} arrived after a GPU fault poisoned the context" server
check "server.log: the fault itself" \
	logged "Server +$S\] A GPU fault poisoned the shared context of device 0: CUDA_ERROR_ILLEGAL_ADDRESS" server
kill $culprit 2>/dev/null
wait $culprit 2>/dev/null
stop_daemon 10
finish
