# A device's and a context's settings through the server (context-probe.c),
# and managed memory (managed-probe.c):
# flags kept and reported, the compute capability and PCI bus id from the
# device facts, profiling accepted, the potential block size found with the
# server's occupancy answers, freeing 0 asynchronously a no-op. The same
# probe runs natively on a GPU in the GPU suite.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
start_daemon
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-context-probe" 2>&1)
check "through openmps, the probe passes (it printed: $out)" grep -qx "context_probe: PASS" <<<"$out"
check "what openmps does not serve yet is reported absent (the driver has it)" \
	grep -qx "managed memory 1, virtual memory management 0" <<<"$out"

# Managed memory (managed-probe.c): page-locked memory at one address in
# the client and the server.
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-managed-probe" 2>&1)
check "managed memory through openmps (it printed: $out)" grep -qx "managed_probe: PASS" <<<"$out"
check "nothing was refused on the way" test -z "$(grep "not supported" <<<"$out")"
finish
