# Remote mode over fakecuda, as the CUDA runtime drives it: the export
# tables (integrity check, primary context, context-local storage, a refused
# slot), libraries, globals, function attributes, occupancy, extended and
# cooperative launches, pitched memory, host memory and context limits.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-runtime-probe
export FAKECUDA_WAIT_LOG=$TMP/waits # the server's stream dependencies, a line each
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" "$@"; }

# The legacy NULL stream: ordered with the client's blocking streams only.
# (Without the GPU's signals, whose context synchronizes wait for each
# stream too, and would count here.)
OPENMPS_SYNC_SIGNAL=0 start_daemon
out=$(probe --legacy 2>&1)
check "the legacy-stream program passes" grep -qx "runtime_probe: PASS" <<<"$out"
check "five switches between the NULL stream and blocking ones (per-thread included): five waits" grep -qx "waits 5" <<<"$out"
stop_daemon
start_daemon

out=$(probe 2>&1)
check "a runtime-style program passes through the server" grep -qx "runtime_probe: PASS" <<<"$out"
for area in "integrity check" "export tables" "module functions" contexts kernels globals "pitched copies" "host memory" pools "host functions" context; do
	check "$area verified" grep -qx "$area verified" <<<"$out"
done
check "a refused export slot is named" \
	grep -q "^openmps: export table 6bd5fb6c-5bf4-e74a-8987-d93912fd9df9 slot 3 is not supported through openmps yet" <<<"$out"
check "server.log: the unsupported launch attribute" logged "launch attribute 7 is not supported" server
check "server.log: the launch that failed after the client's call returned, named with its shape" logged \
	"launch of twice \(grid 1,1,1, block 256,1,1, 0 bytes of shared memory, 1 attributes\) failed: CUDA_ERROR_NOT_SUPPORTED \(801\); its next synchronous call returns it" server
check "server.log: the shared limit the client may not change" logged "context limit 5 is shared and cannot be changed" server
check "server.log: a second stream-ordered free is named" logged "cuMemFreeAsync of 0x[0-9a-f]+, which it did not allocate" server
wait_for "the server to free what the pool held" 5 logged "Freed 1 allocations \(4096 bytes\)" server

# Four at once: the export tables and libraries are per process.
for i in 1 2 3 4; do
	probe >"$TMP/r$i.out" 2>&1 &
done
wait
cat "$TMP"/r?.out | grep -v "runtime_probe: PASS\|verified$\|not supported through" | head -5
check "four at once all pass" test "$(cat "$TMP"/r?.out | grep -cx 'runtime_probe: PASS')" -eq 4

finish
