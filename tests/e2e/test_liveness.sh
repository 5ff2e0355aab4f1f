# Liveness (issue 23): one daemon serves a long sequence of clients that
# pass, fail, leave early, leave work or host functions behind, break the
# protocol or are killed, then clients of several host threads, each with
# its own stream, kernels, host functions, callbacks and page-locked memory
# (the shape of the program that hung through openmps on an H200): every
# one of those passes in its time, a client after them too, and neither
# the daemon's watch nor fakecuda's 10 s bound on a stream wait ever fires.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
OPENMPS_SERVER_WATCHDOG_S=5 start_daemon
shim() { LD_LIBRARY_PATH=$SHIM_DIR "$@"; }
RANDOM=23 # the same sequence every run
kinds=(pass leak bare hostile kill runtime threads)
for ((i = 0; i < 40; i++)); do
	k=${kinds[$((RANDOM % ${#kinds[@]}))]}
	case $k in
	pass) shim timeout 30 "$OPENMPS_BIN/omps-remote-probe" >/dev/null 2>&1 ;;
	leak) shim timeout 30 "$OPENMPS_BIN/omps-remote-probe" --leak >/dev/null 2>&1 ;;
	bare) timeout 30 "$CLIENT" --hold 0 >/dev/null 2>&1 ;; # admitted, and gone before its channel
	hostile) timeout 30 "$OPENMPS_BIN/omps-hostile-client" garbage >/dev/null 2>&1 ;;
	kill)
		LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-threads-probe" 4 1000 >/dev/null 2>&1 &
		sleep 0.$((RANDOM % 4 + 1))
		kill -9 $! 2>/dev/null
		wait $! 2>/dev/null
		;;
	runtime) shim timeout 30 "$OPENMPS_BIN/omps-runtime-probe" >/dev/null 2>&1 ;;
	threads) shim timeout 30 "$OPENMPS_BIN/omps-threads-probe" 2 3 >/dev/null 2>&1 ;;
	esac
done
for i in 1 2 3; do
	out=$(shim timeout 30 "$OPENMPS_BIN/omps-threads-probe" 8 20 2>&1)
	check "after 40 clients, 8 threads with streams, callbacks and page-locked memory pass ($i) [$out]" \
		grep -q "^threads_probe: PASS" <<<"$out"
done
out=$(shim timeout 30 "$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "and a client after them" grep -qx "remote_probe: PASS" <<<"$out"
check "the daemon's watch never had to kill the server" not_logged "has not answered"
check "no stream waited out fakecuda's bound for a host function (702)" not_logged "\(702\)" server
check "one server served them all" test "$(grep -c 'Starting new server' "$OPENMPS_LOG_DIRECTORY/control.log")" -eq 1
stop_daemon 10

# Host memory given back waits for the GPU in a real driver, and the GPU may
# wait for any client's host function: a client's cuMemFreeHost held so
# (fakecuda's FAKECUDA_UNREGISTER_GATE) holds no one else, nor the main
# loop, past the watch's bound.
touch "$TMP/gate"
OPENMPS_SERVER_WATCHDOG_S=2 FAKECUDA_UNREGISTER_GATE=$TMP/gate start_daemon
shim timeout 60 "$OPENMPS_BIN/omps-threads-probe" 1 1 >"$TMP/held.out" 2>&1 &
held=$!
wait_for "its memory to be given back" 10 logged "opened its data channel" server
sleep 3 # past the watch's 2 s
out=$(shim timeout 10 "$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "another client passes meanwhile" grep -qx "remote_probe: PASS" <<<"$out"
S=$(servers)
check "its server answers meanwhile [$(c "get_server_status $S")]" test "$(c "get_server_status $S")" = ACTIVE
check "the client it holds is still at it" alive "$held"
rm -f "$TMP/gate"
wait "$held"
check "and passes once the driver gives the memory back [$(cat "$TMP/held.out")]" grep -q "^threads_probe: PASS" "$TMP/held.out"
check "the watch never fired" not_logged "has not answered"
stop_daemon 10
finish
