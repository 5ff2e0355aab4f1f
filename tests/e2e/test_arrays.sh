# CUDA arrays, texture and surface objects through the server
# (array-probe.c): 2D, 3D and 1D arrays filled and read back by every copy
# that names one, a slice and a window alone; texture objects over an
# array, linear and pitched memory, a surface object; an array destroyed
# while a texture still reads it lives until the texture goes; a copy
# outside an array is refused and logged; a mipmapped array's levels,
# and a texture over it that outlives it. The same probe runs natively, and
# through openmps, on a GPU in the GPU suite.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
start_daemon
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-array-probe" 2>&1)
check "through openmps, the probe passes (it printed: $out)" grep -qx "array_probe: PASS" <<<"$out"
for area in "2D array" "3D array" "1D array" "mipmapped array" "texture and surface objects"; do
	check "$area verified" grep -qx "$area verified" <<<"$out"
done
check "server.log: the copy outside the array is named" logged "outside its array" server
check "nothing is refused as unsupported" test "$(grep -c 'not supported through openmps' <<<"$out")" -eq 0
# Four at once: arrays are per client.
for i in 1 2 3 4; do
	LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-array-probe" >"$TMP/a$i.out" 2>&1 &
done
wait
check "four at once all pass" test "$(cat "$TMP"/a?.out | grep -cx 'array_probe: PASS')" -eq 4
check "the server is still the same one" test "$(servers | wc -l)" -eq 1
finish
