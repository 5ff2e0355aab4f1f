# The JIT linker through the server (link-probe.c): two PTX inputs, one
# read from a file by the shim, linked by the server with logs and wall
# time asked for, the image loaded and its kernel checked; bad PTX and an
# undefined reference fail with error logs. A JIT option that passes an
# address is refused with one line. cuModuleLoadDataEx with JIT options
# goes the same way, its logs where the program asked. The same probe runs natively, and
# through openmps, on a GPU in the GPU suite.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
start_daemon
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-link-probe" 2>&1)
check "through openmps, the probe passes (it printed: $out)" grep -qx "link_probe: PASS" <<<"$out"
check "the info log came back" grep -q "^info log: fakecuda: linked 2 inputs" <<<"$out"
check "the bad PTX's error log came back" grep -q "^error log (bad PTX): fakecuda: input broken.ptx" <<<"$out"
check "the undefined reference's error log came back" grep -q "^error log (undefined): fakecuda: undefined" <<<"$out"
check "cuModuleLoadDataEx's info log came back" grep -q "^load info log: fakecuda: linked 1 inputs" <<<"$out"
check "cuModuleLoadDataEx's error log came back" grep -q "^load error log: fakecuda: input module" <<<"$out"
check "nothing is refused as unsupported" test "$(grep -c 'not supported through openmps' <<<"$out")" -eq 0
# Four at once: link states are per client, and images go one at a time.
for i in 1 2 3 4; do
	LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-link-probe" >"$TMP/l$i.out" 2>&1 &
done
wait
check "four at once all pass" test "$(cat "$TMP"/l?.out | grep -cx 'link_probe: PASS')" -eq 4
check "the server is still the same one" test "$(servers | wc -l)" -eq 1
finish
