# A device's and a context's settings through the server (context-probe.c),
# managed memory (managed-probe.c) and virtual memory management (vmm-probe.c):
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
check "server.log: the reset, and the allocation it left then freed" \
	logged "reset its context on device 0: what it made there is gone \\(1 allocations\\)" server
check "what openmps serves is reported as the device has it" \
	grep -qx "managed memory 1, virtual memory management 1" <<<"$out"
check "IPC events are served; export handles, not yet, are reported absent (the driver has both)" \
	grep -qx "IPC events 1, POSIX file descriptor handles 0" <<<"$out"

# Managed memory (managed-probe.c): page-locked memory at one address in
# the client and the server.
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-managed-probe" 2>&1)
check "managed memory through openmps (it printed: $out)" grep -qx "managed_probe: PASS" <<<"$out"
check "nothing was refused on the way" test -z "$(grep "not supported" <<<"$out")"
check "advice and prefetches read back as range attributes" \
	grep -qx "range attributes: what was advised and prefetched, read back" <<<"$out"
# __managed__ module variables (cuLibraryGetManaged): a view the CPU reaches,
# kept in step with the GPU's copy at launches and synchronizes.
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-managed-probe" --module-var 2>&1)
check "a module variable as managed (it printed: $out)" grep -qx "managed_probe: PASS" <<<"$out"
# Virtual memory management (vmm-probe.c), and exportable handles refused.
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-vmm-probe" 2>&1)
check "virtual memory management through openmps (it printed: $out)" grep -qx "vmm_probe: PASS" <<<"$out"
check "server.log: a map outside its reservation refused" logged "cuMemMap of 0x[0-9a-f]* \\([0-9]* bytes\\) outside its reservations" server
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-vmm-probe" --refused 2>&1)
check "server.log: no IPC handle for mapped memory" logged "an IPC handle for memory it did not allocate" server
check "exportable physical memory refused, with a line (it printed: $out)" \
	grep -q "openmps: cuMemCreate with a shareable handle type .* is not supported" <<<"$out"
finish
