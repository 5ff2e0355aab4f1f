# Limits the server enforces (qos.c), over fakecuda, whose 132 SMs split
# into groups of 8 that keep clusters of 8 (coscheduled, as an H100's do)
# or finely into groups of 2 that keep clusters of 2, and whose kernels
# report the SMs and the stream priority they ran with:
#   - active thread percentage: a client's kernels run on its share of the
#     SMs, from its environment or the server's setting (the lower wins),
#     as a run of the device's groups of 2 (the nearest whole number, and
#     no more than lets as many such shares as fit in 100% have their own);
#     shares are placed where they overlap the others in use least, so
#     shares that sum to 100% or less get disjoint SMs; a change on a
#     running server reaches running clients at their next launch. A
#     client with a share runs clusters of 2, and is told that larger ones
#     do not fit (cuOccupancyMaxActiveClusters, the launch's error, one
#     line in server.log); OPENMPS_SM_SPLIT=coscheduled shares in groups
#     of 8, where clusters of 8 run.
#   - memory limit: cuMemAlloc, cuMemAllocAsync and module data count;
#     cuMemGetInfo's total is the limit; past it, CUDA_ERROR_OUT_OF_MEMORY
#     while other clients allocate on; a lower limit set meanwhile applies.
#   - priority: normal clients' streams one level above below-normal ones,
#     which leave OPENMPS_PRIORITY_RESERVE of the SMs to normal clients
#     while there are any, and have every SM when there are none.
#   - ps shows each client's SMs and memory; terminate_client stops one
#     client, whose next call fails, and no other.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-qos-probe" "$@"; }
bg() { # bg NAME STEPS...: a probe in the background, its output in $TMP/NAME.out
	local n=$1
	shift
	probe "$@" >"$TMP/$n.out" 2>&1 &
}
says() { grep -qxE -- "$2" "$TMP/$1.out" 2>/dev/null; }
M=$((1 << 20))
start_daemon

out=$(probe smid 1024 | head -n 1)
check "a client without limits runs on all 132 SMs [$out]" test "$out" = "smid: 132 SMs, 0..131"
S=$(servers)
out=$(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 probe smid 1024)
check "at 25% its kernels run on 4 groups of 8, 32 SMs (33 asked; four such fit apart) [$out]" \
	grep -qE "^smid: 32 SMs, " <<<"$out"

# together SHARE...: one client a share, all at once, each held until the
# gate opens; prints their SM ranges in order of the shares given.
together() {
	local i=0 a names=()
	rm -f "$TMP/go" "$TMP"/t?.out # a file of the last call would say its client ran
	for a in "$@"; do
		i=$((i + 1))
		CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=$a bg t$i smid 1024 wait "$TMP/go"
		names+=(t$i)
		wait_for "client $i at $a% to have run" 10 says t$i "wait: .*"
	done
	touch "$TMP/go"
	wait
	for a in "${names[@]}"; do sed -n 's/^smid: \([0-9]* SMs, [0-9.]*\).*/\1/p' "$TMP/$a.out"; done | tr '\n' ';'
}
out=$(together 25 25 25 25)
check "four at 25% hold four disjoint runs [$out]" test "$out" = "32 SMs, 0..31;32 SMs, 32..63;32 SMs, 64..95;32 SMs, 96..127;"
out=$(together 50 50)
check "two at 50% hold the two halves [$out]" test "$out" = "66 SMs, 0..65;66 SMs, 66..131;"
out=$(together 50 25 25)
check "50%, 25% and 25% fit apart [$out]" test "$out" = "66 SMs, 0..65;32 SMs, 66..97;32 SMs, 98..129;"
out=$(together 60 60)
check "past 100%, two at 60% overlap as little as they can [$out]" test "$out" = "80 SMs, 0..79;80 SMs, 52..131;"
out=$(together 12 12 12 12 12 12 12 12)
check "eight at 12% hold eight disjoint runs of 16 [$out]" test "$out" = "$(for i in 0 1 2 3 4 5 6 7; do
	printf '16 SMs, %d..%d;' $((16 * i)) $((16 * i + 15))
done)"

# Clusters: 2 blocks fit a fine share, 4 do not, and the client is told so.
out=$(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 probe cluster 2 cluster 4 | tr '\n' ';')
check "at 25%, clusters of 2 run and clusters of 4 are refused as the driver refuses them [$out]" \
	test "$out" = "cluster 2: fits 16, at most 2, launch CUDA_SUCCESS;cluster 4: fits 0, at most 2, launch CUDA_ERROR_INVALID_CLUSTER_SIZE;"
check "server.log: why the cluster did not fit" logged "its SM share is split finely, where clusters of more than 2 blocks do not run; OPENMPS_SM_SPLIT=coscheduled" server
out=$(probe cluster 4 | tr '\n' ';')
check "without a share, clusters of 4 run, of 8 at most [$out]" test "$out" = "cluster 4: fits 33, at most 8, launch CUDA_SUCCESS;"

# A running client, then the server's share lowered: its next launch obeys.
rm -f "$TMP/go"
bg live smid 1024 wait "$TMP/go" smid 1024
wait_for "a client to run at 100%" 10 says live "wait: $TMP/go"
expect "set_active_thread_percentage $S 50" "50.0"
touch "$TMP/go"
wait
check "at 100% it ran on every SM" says live "smid: 132 SMs, 0\.\.131"
check "after set_active_thread_percentage 50, the same client runs on 66 SMs" says live "smid: 66 SMs, [0-9]+\.\.[0-9]+"
out=$(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 probe smid 1024)
check "a client asking for 25% of a 50% server gets 25% [$out]" grep -qE "^smid: 32 SMs" <<<"$out"
out=$(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=75 probe smid 1024)
check "a client asking for 75% of a 50% server gets 50% [$out]" grep -qE "^smid: 66 SMs" <<<"$out"
expect "set_active_thread_percentage $S 100" "100.0"

# Memory: 64 MiB for this client, whatever the path.
export CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=64M
rm -f "$TMP/go"
bg mem meminfo fill $((4 * M)) free fill-async $((4 * M)) free module $((80 * M)) module $((8 * M)) fill $((4 * M)) \
	wait "$TMP/go" fill $((4 * M)) free wait "$TMP/go2" call
unset CUDA_MPS_PINNED_DEVICE_MEM_LIMIT
wait_for "the limited client to fill its memory" 10 says mem "wait: $TMP/go"
check "cuMemGetInfo shows the limit as total" grep -qE "^meminfo: free [0-9]+ total $((64 * M))$" "$TMP/mem.out"
check "cuMemAlloc stops at the limit" says mem "fill: $((64 * M)) bytes in 16 blocks, then CUDA_ERROR_OUT_OF_MEMORY"
check "cuMemAllocAsync stops at the limit too" test "$(grep -c "^fill: $((64 * M)) bytes in 16 blocks, then CUDA_ERROR_OUT_OF_MEMORY" "$TMP/mem.out")" -eq 2
check "a module whose data passes the limit is refused" says mem "module: CUDA_ERROR_OUT_OF_MEMORY"
check "one within it loads" says mem "module: CUDA_SUCCESS"
check "its data counts: 56 MiB are left" says mem "fill: $((56 * M)) bytes in 14 blocks, then CUDA_ERROR_OUT_OF_MEMORY"
check "server.log: the refusal, with the figures" logged "cuMemAlloc of 4194304 bytes on device 0 refused: it holds 67108864 of its limit of 67108864" server
out=$(probe alloc $((96 * M)) alloc $((96 * M)))
check "meanwhile another client allocates 192 MiB [$out]" test "$out" = $'alloc: CUDA_SUCCESS\nalloc: CUDA_SUCCESS'
pid=$(pgrep -f "omps-qos-probe meminfo" | head -1)
ps_out=$(c ps)
check "ps shows its memory and its SMs" grep -qE "^$pid .* 0=64M +132 +0=64\.0M +" <<<"$ps_out"
expect "set_device_pinned_mem_limit $S 0 32M" ""
touch "$TMP/go"
wait_for "the limited client to try again" 10 says mem "wait: $TMP/go2"
check "a lower limit set meanwhile applies to its next allocation" says mem "fill: 0 bytes in 0 blocks, then CUDA_ERROR_OUT_OF_MEMORY"
expect "set_device_pinned_mem_limit $S 0 0" ""

# terminate_client: its next call fails, its memory is freed, another client goes on.
bg other wait "$TMP/go2" smid 1024
expect "terminate_client $S $pid" "0"
wait_for "the server to release it" 5 logged "Client process $pid: all it held released" server
check "ps no longer lists the terminated client" test "$(c ps | grep -c "^$pid ")" -eq 0
check "nor does get_client_list" test "$(c "get_client_list $S" | grep -cx "$pid")" -eq 0
touch "$TMP/go2"
wait
check "the terminated client's next call fails" grep -qE "^call: [1-9][0-9]* " "$TMP/mem.out"
check "the other client carries on" says other "smid: 132 SMs, 0..131"

# Context limits cost every client memory for the context's life: a limited
# client raises them only within what its limit has left (M6). The stack
# costs its size for each of 132 x 2048 threads.
out=$(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1M probe stack 65536 heap $((1 << 36)) stack 1026 heap $((8 * M + 65536)))
check "a 1 MiB client cannot raise the stack to 64 KiB [$out]" grep -qx "stack 65536: CUDA_ERROR_OUT_OF_MEMORY, now 1024" <<<"$out"
check "nor the heap to 64 GiB" grep -qx "heap $((1 << 36)): CUDA_ERROR_OUT_OF_MEMORY, now $((8 * M))" <<<"$out"
check "but within its limit it may" grep -qx "stack 1026: CUDA_SUCCESS, now 1026" <<<"$out"
check "both" grep -qx "heap $((8 * M + 65536)): CUDA_SUCCESS, now $((8 * M + 65536))" <<<"$out"
check "server.log: the refusal, with the figures" logged "raising the stack size limit of $(((65536 - 1024) * 132 * 2048)) bytes on device 0 refused: it holds 0 of its limit of 1048576" server
out=$(probe stack 2048)
check "a client without a limit raises it as natively [$out]" grep -qx "stack 2048: CUDA_SUCCESS, now 2048" <<<"$out"

# Priorities: fakecuda's range is 0 (lowest) to -5; clients see 0 to -4.
out=$(probe prio 0 prio -2 prio -4 prio -5 | tr '\n' ' ')
check "a normal client's priorities run one level up [$out]" \
	test "$out" = "prio 0: runs at -1 prio -2: runs at -3 prio -4: runs at -5 prio -5: runs at -5 "
out=$(CUDA_MPS_CLIENT_PRIORITY=1 probe prio 0 prio -4 | tr '\n' ' ')
check "a below-normal client's run at the lowest level [$out]" test "$out" = "prio 0: runs at 0 prio -4: runs at 0 "
# A launch's own priority attribute is placed as a stream's (security review L4).
out=$(probe launch-prio -4 | tr '\n' ' ')
check "a normal client's launch priority runs one level up [$out]" test "$out" = "launch-prio -4: runs at -5 "
out=$(CUDA_MPS_CLIENT_PRIORITY=1 probe launch-prio -5 | tr '\n' ' ')
check "a below-normal client's launch priority is the lowest [$out]" test "$out" = "launch-prio -5: runs at 0 "
# Priority orders only blocks waiting to start: while a normal client is
# there, below-normal clients leave OPENMPS_PRIORITY_RESERVE (5%) of the SMs
# to normal ones, rounded to the granule: 126 of 132 here; with none, they
# have them all. A share below that cap stays as it was.
out=$(CUDA_MPS_CLIENT_PRIORITY=1 probe smid 1024 | head -n 1)
check "alone, a below-normal client runs on all 132 SMs [$out]" test "$out" = "smid: 132 SMs, 0..131"
rm -f "$TMP"/g?
bg normal wait "$TMP/g0"
wait_for "a normal client to be there" 10 says normal "wait: .*"
out=$(CUDA_MPS_CLIENT_PRIORITY=1 probe smid 1024 | head -n 1)
check "beside a normal client, a below-normal one runs on 126 of the 132 SMs [$out]" test "$out" = "smid: 126 SMs, 0..125"
check "server.log: the reserve" logged "Below-normal clients run on 126 of the 132 SMs of device 0: the rest is kept" server
out=$(probe smid 1024 | head -n 1)
check "a normal client beside it still runs on all 132 [$out]" test "$out" = "smid: 132 SMs, 0..131"
out=$(CUDA_MPS_CLIENT_PRIORITY=1 CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 probe smid 1024 | head -n 1)
check "a below-normal client at 25% keeps its 32 [$out]" grep -qE "^smid: 32 SMs" <<<"$out"
touch "$TMP/g0"
wait
# Live: a below-normal client alone; a normal one comes, its next launch
# leaves the reserve; the normal one goes, the next has every SM again.
released() { [ "$(grep -c 'all it held released' "$OPENMPS_LOG_DIRECTORY/server.log")" -ge "$1" ]; }
CUDA_MPS_CLIENT_PRIORITY=1 bg be smid 1024 wait "$TMP/g1" smid 1024 wait "$TMP/g2" smid 1024
wait_for "the below-normal client to run alone" 10 says be "wait: $TMP/g1"
bg normal wait "$TMP/g3"
wait_for "a normal client to come" 10 says normal "wait: .*"
touch "$TMP/g1"
wait_for "the below-normal client's next launch" 10 says be "wait: $TMP/g2"
gone=$(grep -c 'all it held released' "$OPENMPS_LOG_DIRECTORY/server.log")
touch "$TMP/g3"
wait_for "the normal client to be gone" 10 released $((gone + 1))
touch "$TMP/g2"
wait
runs=$(grep '^smid' "$TMP/be.out" | cut -d, -f1 | tr '\n' ' ')
check "below normal: all 132 alone, 126 beside a normal client, 132 once it left [$runs]" \
	test "$runs" = "smid: 132 SMs smid: 126 SMs smid: 132 SMs "
restart() { # restart VALUE [NAME=VALUE...]: the daemon again, with OPENMPS_PRIORITY_RESERVE=VALUE
	local reserve=$1 v
	shift
	stop_daemon
	rm -f "$OPENMPS_LOG_DIRECTORY"/*.log
	for v in "$@"; do export "$v"; done
	OPENMPS_PRIORITY_RESERVE=$reserve start_daemon
	for v in "$@"; do unset "${v%%=*}"; done
}
# beside_normal: a below-normal client's first line, beside a normal client, in $out.
beside_normal() {
	rm -f "$TMP/gn"
	bg nn wait "$TMP/gn"
	wait_for "a normal client to be there" 10 says nn "wait: .*"
	out=$(CUDA_MPS_CLIENT_PRIORITY=1 probe smid 1024 | head -n 1)
	touch "$TMP/gn"
	wait
}
# A normal client that left no longer keeps the reserve, though the server
# takes its time letting go of what it held (here each of its streams takes
# 2 s to destroy).
restart 5 FAKECUDA_SLOW_STREAM_DESTROY_MS=2000
probe smid 1024 >/dev/null
out=$(CUDA_MPS_CLIENT_PRIORITY=1 probe smid 1024 | head -n 1)
check "a below-normal client has all 132 SMs once the normal one left, before it was let go [$out]" \
	test "$out" = "smid: 132 SMs, 0..131"
restart 20
beside_normal
check "with a reserve of 20%: 106 SMs (80% of 132, to the nearest group) [$out]" test "$out" = "smid: 106 SMs, 0..105"
restart 0
beside_normal
check "with none: all 132 [$out]" test "$out" = "smid: 132 SMs, 0..131"
restart 60
beside_normal
check "a reserve past 50% is refused, and the default applies [$out]" test "$out" = "smid: 126 SMs, 0..125"
check "server.log: why" logged "OPENMPS_PRIORITY_RESERVE=60: must be a percentage from 0 to 50; using 5" server
# OPENMPS_SM_SPLIT=coscheduled: shares in groups of 8, where clusters of 8 run.
restart 5 OPENMPS_SM_SPLIT=coscheduled
out=$(together 50 50)
check "coscheduled: two at 50% hold 8 groups of 8 each [$out]" test "$out" = "64 SMs, 0..63;64 SMs, 64..127;"
out=$(CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 probe cluster 8 | tr '\n' ';')
check "coscheduled: at 25%, clusters of 8 run [$out]" test "$out" = "cluster 8: fits 4, at most 8, launch CUDA_SUCCESS;"
restart 5 OPENMPS_SM_SPLIT=bogus
out=$(together 50 50)
check "a bad OPENMPS_SM_SPLIT is refused, and the fine split applies [$out]" \
	test "$out" = "66 SMs, 0..65;66 SMs, 66..131;"
check "server.log: why" logged "OPENMPS_SM_SPLIT=bogus: must be fine or coscheduled; using fine" server
[ "$FAILS" -ne 0 ] && for f in "$TMP"/*.out; do echo "--- $f"; cat "$f"; done
finish
