# CUDA IPC between two clients of one server (ipc-probe.c): the importer
# works on the exporter's memory in place, opens a handle twice to the same
# address, cannot free it; memory its exporter frees while it is open stays
# the importer's until it closes (another client's new allocation does not
# land on it); a handle of another server is refused with a line. An event
# shared by IPC handle orders the two: the exporter's record before the
# importer's kernel, the importer's record before the exporter's read.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
start_daemon
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-ipc-probe" 2>&1)
check "exporter and importer pass (they printed: $out)" test "$(grep -cx 'ipc_probe: PASS' <<<"$out")" -eq 2
check "server.log: the freed address refused to the importer" logged "cuMemFree of 0x[0-9a-f]*, which it did not allocate" server

out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-ipc-probe" --orphan 2>&1)
check "freed while open elsewhere: both pass (they printed: $out)" test "$(grep -cx 'ipc_probe: PASS' <<<"$out")" -eq 2
check "server.log: the importer's stream-ordered free refused" \
	logged "cuMemFreeAsync of 0x[0-9a-f]*, which it did not allocate" server
check "one line names another server's handle" grep -q "openmps: cuIpcOpenMemHandle of a handle from a client of another openmps server" <<<"$out"
check "server.log: the last close freed it" logged "closed the last IPC handle of [0-9]* bytes its exporter had freed; freed now" server
check "server.log: another server's handle" logged "a CUDA IPC handle of another server" server
check "server.log: another server's event handle" logged "a CUDA IPC event handle of another server" server
check "server.log: an event handle that names nothing" logged "a CUDA IPC event handle that names no event" server
check "the server is still the same one" test "$(servers | wc -l)" -eq 1
finish
