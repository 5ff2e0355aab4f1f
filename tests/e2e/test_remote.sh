# Remote mode over fakecuda: a driver-API program's device queries, context,
# memory, modules and launches go through the daemon's server; several run
# at once; bad
# pointers are refused; what a client leaves, or holds when killed, is
# freed; a refused client and a dead server give CUDA errors, not hangs.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-remote-probe
# The server sees 2 fake devices, the client's local fake driver 5: what the
# client reports tells which one answered. A killed server's clients lose it
# here: no record against a crash (e2e_crash has a standby take them over).
export OPENMPS_CRASH_RECORD=0
FAKECUDA_DEVICES=2 start_daemon
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR FAKECUDA_DEVICES=5 "$PROBE" "$@"; }

out=$(probe 2>&1)
check "a driver-API program passes through the server" grep -qx "remote_probe: PASS" <<<"$out"
check "its devices are the server's" grep -qx "devices 2" <<<"$out"
out=$(OPENMPS_REAL_DRIVER=/nonexistent/libcuda.so.1 probe 2>&1)
check "with no driver of its own, it passes through the server" grep -qx "remote_probe: PASS" <<<"$out"
check "and is not told that its calls will fail" test "$(grep -c "no CUDA driver found" <<<"$out")" -eq 0
check "attributes come from the server's cache" grep -qx "sms 132" <<<"$out"
check "it allocated 12 MiB on the server" grep -qx "allocated 12582912 bytes of .*" <<<"$out"
check "the argument layout comes from the server" grep -qx "param 1 at 8, 4 bytes" <<<"$out"
check "a module's functions are counted by the server (fakecuda's four)" grep -qx "module functions: 4" <<<"$out"
check "its kernels ran on the server's device" grep -qx "kernels verified" <<<"$out"
check "streams and events work" grep -qx "streams verified (non-negative elapsed)" <<<"$out"
check "server.log: the data channel" logged "opened its data channel" server
check "server.log: the foreign free is named" logged "cuMemFree of 0xdead0000, which it did not allocate" server
check "server.log: a set one word past its allocation is named" \
	logged "device memory at 0x[0-9a-f]+ \(8 bytes\) is not within its allocations" server
check "server.log: and that its next synchronous call returns the memset's failure" \
	logged "an asynchronous memset failed: CUDA_ERROR_INVALID_VALUE \(1\); its next synchronous call returns it" server
out=$(OPENMPS_NATIVE=1 probe 2>&1)
check "OPENMPS_NATIVE=1 keeps a program native" grep -qx "devices 5" <<<"$out"
out=$(OPENMPS_TRACE=1 probe 2>&1)
check "the trace says remote mode" grep -q "# remote mode: client [0-9]* of server [0-9]*" <<<"$out"
check "remote calls are traced" grep -qE "cuMemAlloc_v2\(dptr=0x[0-9a-f]+, bytesize=6291456\) = 0 CUDA_SUCCESS" <<<"$out"
check "a call not remoted yet says so" grep -q "^openmps: cuGraphicsMapResources is not supported through openmps yet" <<<"$out"

# Eight at once, with copies larger than a ring record.
for i in 1 2 3 4 5 6 7 8; do
	probe --bytes $((9 << 20)) >"$TMP/p$i.out" 2>&1 &
done
wait
check "eight clients at once all pass" test "$(cat "$TMP"/p?.out | grep -cx 'remote_probe: PASS')" -eq 8

# Staged pageable copies split over helper threads, in uneven pieces, or
# copied by the caller alone.
out=$(OPENMPS_COPY_THREADS=3 probe --bytes $(((5 << 20) + 1000)) 2>&1)
check "a copy split over three helper threads arrives whole" grep -qx "remote_probe: PASS" <<<"$out"
out=$(OPENMPS_COPY_THREADS=0 probe --bytes $((3 << 20)) 2>&1)
check "and one the caller copies alone" grep -qx "remote_probe: PASS" <<<"$out"

# Memory a client freed, handed to the next client, is zero.
first=$(probe --reuse --bytes 65536 2>&1)
second=$(probe --reuse --bytes 65536 2>&1)
check "a client writes and frees memory" grep -q "^got 0x[0-9a-f]*, all zero" <<<"$first"
check "the next client gets the same memory back" \
	test "$(grep -o '^got 0x[0-9a-f]*' <<<"$first")" = "$(grep -o '^got 0x[0-9a-f]*' <<<"$second")"
check "and finds it zeroed" grep -q "^got 0x[0-9a-f]*, all zero" <<<"$second"

# What a client leaves is freed when it exits; the next client sees it all free.
out=$(probe --leak 2>&1)
check "a client that leaves its memory passes" grep -qx "remote_probe: PASS (leaving its memory)" <<<"$out"
wait_for "the server to free what it left" 5 logged "Freed 2 allocations \(12582912 bytes\) that client process" server
out=$(probe 2>&1)
check "the next client finds all memory free again" grep -qx "allocated 12582912 bytes of 85899345920 free" <<<"$out"

# Killed while holding memory: freed within a second.
LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" --hold-ms 5000 >"$TMP/killed.out" 2>&1 &
kpid=$! # the program itself, not a subshell
wait_for "the client to allocate" 5 grep -q "^allocated" "$TMP/killed.out"
kill -9 $kpid
wait $kpid 2>/dev/null
wait_for "the server to free a killed client's memory" 2 logged "that client process $kpid left" server

# A client the daemon refuses gets a CUDA error and one line saying why.
out=$(CUDA_MPS_CLIENT_PRIORITY=7 probe 2>&1)
check "a refused client: cuInit fails with CUDA_ERROR_MPS_CONNECTION_FAILED" grep -qx "remote_probe: FAIL cuInit(0) = 805" <<<"$out"
check "and stderr says why" grep -q "^openmps: the openmps control daemon refused the client: CUDA_MPS_CLIENT_PRIORITY=7: must be 0 or 1" <<<"$out"

# The server dies under a client: its next synchronous call fails, no hang.
probe --hold-ms 1500 >"$TMP/orphan.out" 2>&1 &
opid=$!
wait_for "the client to allocate" 5 grep -q "^allocated" "$TMP/orphan.out"
kill -9 "$(servers)"
wait $opid
check "after the server died, the client's next call fails with CUDA_ERROR_MPS_RPC_FAILURE" \
	grep -q "remote_probe: FAIL .* = 806" "$TMP/orphan.out"
check "and says so once" grep -q "^openmps: lost the openmps server" "$TMP/orphan.out"

# The server dies while clients wait in a call it has not answered (an event
# whose work runs until the gate goes): each fails within 1 s, and the daemon
# starts a new server for the next client.
dpid=$(daemon_pid)
c "quit -t 1" >/dev/null
wait_for "the daemon to quit" 5 dead "$dpid"
touch "$TMP/gate"
FAKECUDA_EVENT_GATE=$TMP/gate start_daemon
for i in 1 2 3; do
	probe --bytes 65536 >"$TMP/wait$i.out" 2>&1 &
done
allocated() { [ "$(cat "$TMP"/wait?.out | grep -c '^allocated')" -eq 3 ]; }
wait_for "three clients to allocate" 10 allocated
sleep 0.5 # and to wait in a call whose event is gated
S=$(servers)
kill -9 "$S"
t0=$(date +%s%N)
wait
ms=$((($(date +%s%N) - t0) / 1000000))
check "their pending calls fail with CUDA_ERROR_MPS_RPC_FAILURE" \
	test "$(cat "$TMP"/wait?.out | grep -c 'remote_probe: FAIL .* = 806')" -eq 3
check "within 1 s of the server's death ($ms ms)" test "$ms" -le 1000
rm "$TMP/gate"
wait_for "the daemon to log the death" 5 logged "Server $S was killed by signal 9"
out=$(probe 2>&1)
check "the next client gets a new server" grep -qx "remote_probe: PASS" <<<"$out"
check "not the dead one" test "$(servers)" != "$S"
finish
