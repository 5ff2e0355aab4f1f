# The daemon's connections (security review M4): one that says nothing for
# 10 s is dropped, a user other than root and the daemon's keeps at most
# 1024 at once, and the log says so in a line a second, not a line a
# connection. Clients are served meanwhile. A new client's channel waiting
# to be page-locked holds up no one's admission. Another user runs at most
# four device_query helpers at once (L1).
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
HOSTILE=$OPENMPS_BIN/omps-hostile-client
NOBODY=65534
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-remote-probe" --bytes 4096 2>&1; }
mkdir -m 0711 "$OPENMPS_PIPE_DIRECTORY" # open to other users, as an operator would
start_daemon

"$HOSTILE" silent 300 14 >"$TMP/silent.out" 2>&1 &
silent=$!
wait_for "300 silent connections" 10 grep -qx "connected 300 of 300" "$TMP/silent.out"
out=$(probe)
check "a client is served beside them" grep -qx "remote_probe: PASS" <<<"$out"
wait "$silent"
check "the daemon drops them all within 14 s [$(tail -1 "$TMP/silent.out")]" grep -qx "closed 300 of 300 within 14 s" "$TMP/silent.out"
n=$(grep -c "said nothing for 10 s" "$OPENMPS_LOG_DIRECTORY/control.log")
check "control.log: a line a second, not one a connection ($n lines)" test "$n" -ge 1 -a "$n" -le 5
wait_for "control.log: the count of the others, a second later" 3 logged "Dropped 299 more connections in a second; the last: pid [0-9]+ user [0-9]+: it said nothing for 10 s"

# A client's data channel is page-locked by its worker as it first serves
# it, not by the main loop: a registration that waits (here at fakecuda's
# gate; on the H200 10-30 ms a client, and seconds behind a faulting GPU)
# holds that client's first call, and the next client is admitted and its
# channel opened meanwhile.
stop_daemon
FAKECUDA_REGISTER_GATE=$TMP/register-gate start_daemon
touch "$TMP/register-gate"
for n in 1 2; do
	LD_LIBRARY_PATH=$SHIM_DIR timeout 60 bash -c 'echo "pid $$"; exec "$@"' _ "$OPENMPS_BIN/omps-remote-probe" \
		--bytes 4096 >"$TMP/gated-$n.out" 2>&1 &
	eval "gated$n=\$!"
	wait_for "client $n to start" 5 grep -q "^pid " "$TMP/gated-$n.out"
	P=$(sed -n 's/^pid //p' "$TMP/gated-$n.out")
	wait_for "client $n's channel to open while page-locking waits [$P]" 10 \
		logged "Client \{PID: $P, ID: [0-9]+\} opened its data channel" server
done
rm -f "$TMP/register-gate"
wait "$gated1" "$gated2"
check "... and both are served once it is done [$(tail -1 "$TMP/gated-1.out"); $(tail -1 "$TMP/gated-2.out")]" \
	test "$(grep -cx "remote_probe: PASS" "$TMP/gated-1.out" "$TMP/gated-2.out" | grep -c ':1$')" = 2
stop_daemon
start_daemon

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null ||
	! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups test -x "$HOSTILE"; then
	echo "note: not root, no setpriv, or a private checkout: another user's flood not tried"
	finish
fi
setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$HOSTILE" silent 1100 6 >"$TMP/flood.out" 2>&1 &
flood=$!
wait_for "another user's 1100 connections" 20 grep -qx "connected 1100 of 1100" "$TMP/flood.out"
out=$(probe)
check "root's client is served meanwhile" grep -qx "remote_probe: PASS" <<<"$out"
wait "$flood"
check "that user keeps 1024; the rest are closed at once [$(tail -1 "$TMP/flood.out")]" \
	grep -qx "closed 76 of 1100 within 6 s" "$TMP/flood.out"
wait_for "control.log: why" 3 logged "user $NOBODY: the user has 1024 connections, the most one may"
check "the daemon is alive" alive "$(daemon_pid)"

# device_query starts a helper that loads the driver; here cuInit takes 2 s.
stop_daemon
FAKECUDA_INIT_DELAY_MS=2000 start_daemon
for i in 1 2 3 4 5 6; do
	echo device_query | setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$CTL" >"$TMP/q$i.out" 2>&1 &
done
sleep 0.5 # all six asked
echo device_query | "$CTL" >"$TMP/root-q.out" 2>&1
wait
answered=$(grep -l "^Default" "$TMP"/q?.out | wc -l)
refused=$(grep -l "^4 device queries are running already; try again when they end$" "$TMP"/q?.out | wc -l)
check "another user's six queries at once: four run, two are refused ($answered, $refused)" test "$answered" = 4 -a "$refused" = 2
check "root's query runs beside them" grep -q "^Default" "$TMP/root-q.out"
finish
