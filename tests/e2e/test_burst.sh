# A burst of clients starting at once, against a server whose main thread is
# slow to take each one (page-locking their rings takes milliseconds): the
# server's admission socket fills, and the daemon must hold the rest back
# until it drains, not turn them away. The daemon's watch, tight here, must
# tell that loop (busy, turning, its answer to a ping queued behind the
# admissions) from a stuck one: it once killed the server mid-burst.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
N=256
OPENMPS_SERVER_WATCHDOG_S=2 FAKECUDA_REGISTER_DELAY_MS=20 start_daemon
export OPENMPS_REAL_DRIVER=$FAKECUDA
for i in $(seq $N); do
	LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-remote-probe" --bytes 65536 >"$TMP/b$i.out" 2>&1 &
done
wait
check "all $N clients started at once pass" test "$(cat "$TMP"/b*.out | grep -cx 'remote_probe: PASS')" -eq $N
check "none was refused" test "$(cat "$TMP"/b*.out | grep -c 'refused the client')" -eq 0
check "control.log: each was admitted" test "$(grep -c 'NEW CLIENT .*: Server already exists' "$TMP/log/control.log")" -eq $N
check "the watch never killed the busy server" not_logged "has not answered"
finish
