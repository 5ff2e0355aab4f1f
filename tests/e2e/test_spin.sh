# How long a server worker spins for its client's next request before it
# sleeps (OPENMPS_SERVER_SPIN_US, default 50 us): a client that posts a call
# every 200 us keeps a worker spinning at 1000 us and not at 0, and the server's
# CPU time says so. A bad value is logged and the default kept.
# Then a synchronize: it spins while the clients served fit OPENMPS_SYNC_CROWD
# (default half the CPUs); past that only OPENMPS_SYNC_SPINNERS spin at once,
# and the others sleep and tell their client to sleep too rather than spin
# for the reply.
# And the hardware work queues the server asks of the driver at cuInit
# (CUDA_DEVICE_MAX_CONNECTIONS): 32, unless the daemon's environment names
# a number.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-remote-probe" "$@"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
unlogged() { ! logged "$@"; }
HZ=$(getconf CLK_TCK)

# server_cpu SPIN: the server's CPU ticks over a client's 1.5 s of paced posts.
server_cpu() {
	local s t0
	OPENMPS_SERVER_SPIN_US=$1 start_daemon
	probe --bytes 4096 >/dev/null 2>&1 # the server starts, and its context is made
	s=$(servers)
	t0=$(ticks "$s")
	probe --paced 1500 >"$TMP/paced$1.out" 2>&1
	echo $(($(ticks "$s") - t0))
	check "the paced client passes (spin $1)" grep -qx "remote_probe: PASS" "$TMP/paced$1.out" >&2
	stop_daemon >&2
}
spinning=$(server_cpu 1000)
check "server.log: the spin is logged where it is not the default" logged "Workers spin 1000 us for a client's next request" server
rm -f "$OPENMPS_LOG_DIRECTORY/server.log"
sleeping=$(server_cpu 0)
echo "server CPU over 1.5 s of a call every 200 us: ${spinning} ticks spinning 1000 us, ${sleeping} spinning none"
# A third of a core at least: CI's two shared cores may give the spinning
# thread less than all of one.
check "spinning 1000 us, the server takes a third of a core at least, twice what it takes not spinning" \
	test "$spinning" -gt $((2 * sleeping)) -a "$spinning" -ge $((HZ * 3 / 2 / 3))
rm -f "$OPENMPS_LOG_DIRECTORY/server.log"
OPENMPS_SERVER_SPIN_US=fast start_daemon
probe --bytes 4096 >/dev/null 2>&1
check "server.log: a bad value is named, and the default kept" \
	logged "OPENMPS_SERVER_SPIN_US=fast: must be 0 to 1000 microseconds; using 50" server
check "and no other spin is logged" unlogged "Workers spin" server
stop_daemon

# sync_cpu CROWD SPINNERS: the server's CPU ticks over a client's three
# waits of 400 ms for its event (fakecuda's synchronize spins, as the
# driver's does).
sync_cpu() {
	local s t0
	rm -f "$OPENMPS_LOG_DIRECTORY/server.log"
	OPENMPS_SYNC_CROWD=$1 OPENMPS_SYNC_SPINNERS=$2 start_daemon
	probe --bytes 4096 >/dev/null 2>&1
	s=$(servers)
	t0=$(ticks "$s")
	FAKECUDA_EVENT_BUSY_MS=400 probe --bytes 4096 --waits 3 >"$TMP/waits$1-$2.out" 2>&1
	echo $(($(ticks "$s") - t0))
	check "the waiting client passes (crowd $1, spinners $2)" grep -qx "remote_probe: PASS" "$TMP/waits$1-$2.out" >&2
	check "server.log: the settings are logged" \
		logged "Synchronizes spin, but for $2 at once past $1 clients served" server >&2
	stop_daemon >&2
}
export FAKECUDA_EVENT_BUSY_MS=400 # the server's fakecuda; the probe's own calls go through it
fits=$(sync_cpu 1 0)    # one client served: not crowded, it spins
spun=$(sync_cpu 0 4)    # crowded, but spinners to spare
slept=$(sync_cpu 0 0)   # crowded, no spinners: it sleeps
unset FAKECUDA_EVENT_BUSY_MS
echo "server CPU over three waits of 400 ms: $fits ticks uncrowded, $spun crowded with 4 spinners, $slept with none"
grep -h "^event synchronize: waited" "$TMP"/waits*.out
most=$((HZ * 12 / 10 * 6 / 10))
check "uncrowded, the worker spins: most of a core through the waits" test "$fits" -ge "$most"
check "crowded with a spinner to spare, likewise" test "$spun" -ge "$most"
check "crowded without, it sleeps: a tenth of that at most" test $((10 * slept)) -le "$most"
# waited N ms, C ms of CPU: each wait lasts its 400 ms; after the first
# (the server advises as its wait starts), the client sleeps at once: under
# 0.6 of the CPU its own 1 ms spin takes in an uncrowded wait (the middle of
# its three: on a loaded runner under ASan one spinning wait got 0.56 ms of
# CPU, the others 1.4-1.7, and the least made the bound fail a sleeping wait).
waits_ok() { awk '/^event synchronize: waited/ { if (FILENAME ~ /waits1-0/) { s[++k] = $6; next }
		n++; if ($4 >= 350) long++; if (n > 1) cpu[n] = $6 }
	END { if (k == 3) spin = s[1] + s[2] + s[3] - (s[1] < s[2] ? (s[1] < s[3] ? s[1] : s[3]) : (s[2] < s[3] ? s[2] : s[3])) \
		- (s[1] > s[2] ? (s[1] > s[3] ? s[1] : s[3]) : (s[2] > s[3] ? s[2] : s[3]))
	      exit !(n == 3 && long == 3 && spin > 0 && cpu[2] < 0.6 * spin && cpu[3] < 0.6 * spin) }' \
	"$TMP/waits1-0.out" "$TMP/waits0-0.out"; }
check "told the server sleeps, the client does not spin for its reply" waits_ok

rm -f "$OPENMPS_LOG_DIRECTORY/server.log"
FAKECUDA_INIT_LOG=$TMP/init start_daemon
probe --bytes 4096 >/dev/null 2>&1
check "the server's cuInit sees 32 hardware queues" grep -qx "CUDA_DEVICE_MAX_CONNECTIONS=32" "$TMP/init"
check "server.log says so" logged "Hardware work queues a context: 32 \\(CUDA_DEVICE_MAX_CONNECTIONS\\)$" server
stop_daemon
rm -f "$OPENMPS_LOG_DIRECTORY/server.log" "$TMP/init"
CUDA_DEVICE_MAX_CONNECTIONS=4 FAKECUDA_INIT_LOG=$TMP/init start_daemon
probe --bytes 4096 >/dev/null 2>&1
check "a number in the daemon's environment is kept" grep -qx "CUDA_DEVICE_MAX_CONNECTIONS=4" "$TMP/init"
check "and logged as the environment's" logged "Hardware work queues a context: 4 \\(CUDA_DEVICE_MAX_CONNECTIONS, from the environment\\)" server
finish
