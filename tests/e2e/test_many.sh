# Many clients on one server: OMPS_MANY_CLIENTS (512; 128 under the
# sanitizers) start at once, each holding a context and memory, and then all
# work at the same moment. The
# server serves them with a bounded pool of threads (here 16): an idle client
# holds none. Its descriptors are one socket and one doorbell a client, and
# every client's data comes back right. Clients waiting on long work do not
# count against the limit: with a pool of 2 and four clients blocked in a
# synchronize, a fifth is still served, and the four take little CPU while
# they wait. A synchronize on finished work is not such a wait: it never
# takes the pool past its limit.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
N=${OMPS_MANY_CLIENTS:-512}
sanitized && N=${OMPS_MANY_CLIENTS:-128} # 512 instrumented processes want ~10 GiB
LIMIT=16
OPENMPS_SERVER_THREADS=$LIMIT start_daemon
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-remote-probe" "$@"; }
threads() { ls "/proc/$1/task" | wc -l; }
fds() { ls "/proc/$1/fd" | wc -l; }
holding() { [ "$(cat "$TMP"/m*.out 2>/dev/null | grep -c '^allocated ')" -eq "$N" ]; }

out=$(probe --bytes 65536 2>&1)
check "a first client passes" grep -qx "remote_probe: PASS" <<<"$out"
S=$(servers)
check "server.log: the pool's limit" logged "Serving clients with up to $LIMIT worker threads" server
wait_for "the server to be idle" 5 logged "Number of active clients is 0" server
base_threads=$(threads "$S") base_fds=$(fds "$S")

for i in $(seq $N); do
	probe --bytes 65536 --gate "$TMP/go" >"$TMP/m$i.out" 2>&1 &
done
wait_for "all $N clients to hold memory" 300 holding
connected=$(c "get_client_list $S" | wc -l)
check "$N clients are connected to one server at once ($connected)" test "$connected" -eq "$N"
t=$(threads "$S") f=$(fds "$S")
echo "at $SECONDS s: server with $N idle clients: $t threads (idle: $base_threads), $f descriptors (idle: $base_fds)"
check "their threads stay within the pool's limit" test "$t" -le $((base_threads + LIMIT))
# Its socket, its doorbell and its rings' memfd (kept for a successor after a
# fault, handover.c), and the arena's chunks, each an exported descriptor.
check "three descriptors a client, and the chunks'" test "$f" -le $((base_fds + 3 * N + 8))

# sample_threads, then sample_end: the most threads the server $S had while
# this shell's other jobs ran, in $TMP/peak; sample_end waits for those jobs.
peak() {
	local max=0 n
	while [ ! -e "$TMP/done" ]; do
		n=$(threads "$S") && [ "$n" -gt "$max" ] && max=$n
		sleep 0.02
	done
	echo "$max" >"$TMP/peak"
}
sample_threads() {
	rm -f "$TMP/done"
	peak &
	sampler=$!
}
sample_end() {
	local p
	for p in $(jobs -p); do [ "$p" = "$sampler" ] || wait "$p"; done
	touch "$TMP/done"
	wait "$sampler"
}
sample_threads
touch "$TMP/go" # all of them work now
sample_end
echo "at $SECONDS s: server while $N clients worked: at most $(cat "$TMP/peak") threads"
check "the pool stayed within its limit while they worked" test "$(cat "$TMP/peak")" -le $((base_threads + LIMIT))
check "all $N clients pass" test "$(cat "$TMP"/m*.out | grep -cx 'remote_probe: PASS')" -eq "$N"
wait_for "the server to let go of them" 60 logged "Number of active clients is 0" server
# The arena may keep a chunk or two (one for the next client, one whose last
# frees were still pending): their descriptors stay. One leaked a client
# would be $N more.
after=$(fds "$S")
check "its descriptors are back to $base_fds, but the chunks kept ($after)" test "$after" -le $((base_fds + 4))

stop_daemon
touch "$TMP/gate" # their events' work runs until the gate goes
OPENMPS_SERVER_THREADS=2 FAKECUDA_EVENT_GATE=$TMP/gate start_daemon
for i in 1 2 3 4; do
	probe --bytes 65536 >"$TMP/w$i.out" 2>&1 &
done
inside() { [ "$(cat "$TMP"/w?.out | grep -c '^event synchronize: waiting')" -eq 4 ]; }
wait_for "four clients to wait for their events" 30 inside
probe --bytes 65536 >"$TMP/fifth.out" 2>&1 &
wait_for "a fifth client to be served beside them" 10 grep -q "^data verified" "$TMP/fifth.out"
check "the four still wait" test "$(cat "$TMP"/w?.out | grep -c '^kernels verified')" -eq 0
sleep 0.5 # so that each waits half a second at least
rm "$TMP/gate"
wait
check "all five pass once their work is done" test "$(cat "$TMP"/w?.out "$TMP/fifth.out" | grep -cx 'remote_probe: PASS')" -eq 5
# A client spins once, then sleeps: for its reply (1 ms), or, where the
# server was not crowded as it asked, for the GPU's signal (10 ms at most)
# and then its reply; its CPU is a few milliseconds, and not 1% of the wait
# (1 ms every 100 ms would be 5 cores for 512 clients).
grep -h "^event synchronize: waited" "$TMP"/w?.out
frugal() { awk '/^event synchronize: waited/ { n++; if ($4 >= 500 && $6 <= 13 + $4 / 400) ok++ } END { exit !(n == 4 && ok == 4) }' "$TMP"/w?.out; }
check "the four waited half a second at least, each with a few milliseconds of CPU" frugal

# A synchronize on finished work is not a wait: it holds no thread beyond the
# limit, however long the call takes (here 200 ms each, as a worker preempted
# in it would): six clients synchronizing at once keep to a pool of 2.
stop_daemon
OPENMPS_SERVER_THREADS=2 FAKECUDA_SYNC_DELAY_MS=200 start_daemon
probe --bytes 65536 >"$TMP/s0.out" 2>&1
S=$(servers)
wait_for "the server to be idle" 5 logged "Number of active clients is 0" server
base_threads=$(threads "$S")
sample_threads
for i in 1 2 3 4 5 6; do
	probe --bytes 65536 >"$TMP/s$i.out" 2>&1 &
done
sample_end
echo "six synchronizing clients on a pool of 2: at most $(cat "$TMP/peak") threads (idle: $base_threads)"
check "their synchronizes held no thread beyond the pool's limit" test "$(cat "$TMP/peak")" -le $((base_threads + 2))
check "all six pass" test "$(cat "$TMP"/s[1-6].out | grep -cx 'remote_probe: PASS')" -eq 6
finish
