# CUDA graphs by stream capture through the server: the same program prints
# the same natively (fakecuda as the driver) and through openmps; two
# clients capture at once without disturbing each other (the server captures
# in relaxed mode); pageable copies and host functions are captured; a
# stream callback spoils the capture; a module
# unloaded, or memory freed, while the client holds graphs stays its own
# until they go; a client killed in the middle of a capture is released and
# the next one passes.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-graph-probe
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" "$@"; }

native=$(OPENMPS_NATIVE=1 probe 2>&1)
check "natively, the probe passes (it printed: $native)" grep -qx "graph_probe: PASS" <<<"$native"

start_daemon
remote=$(probe 2>&1)
check "through openmps, the probe passes (it printed: $remote)" grep -qx "graph_probe: PASS" <<<"$remote"
check "through openmps it prints what it prints natively" test "$remote" == "$native"
check "server.log: the NULL stream's capture refused" logged "cuStreamBeginCapture on the NULL stream" server

# Two at once, each with 3 or 5 launches of its own graph.
probe --replays 5 --words 100000 >"$TMP/one.out" 2>&1 &
one=$!
probe --replays 3 --words 70000 >"$TMP/two.out" 2>&1 &
two=$!
wait $one
wait $two
check "two clients capturing at once both pass ($(cat "$TMP/one.out" "$TMP/two.out" | grep -c PASS) of 2)" \
	test "$(cat "$TMP/one.out" "$TMP/two.out" | grep -cx 'graph_probe: PASS')" -eq 2

out=$(probe --refused 2>&1)
check "a stream callback in a capture invalidates it (it printed: $out)" grep -qx "graph_probe: PASS" <<<"$out"
check "server.log: why" logged "a host function or stream callback cannot be captured" server

out=$(probe --unload 2>&1)
check "a graph outlives its module's unload (it printed: $out)" grep -qx "graph_probe: PASS" <<<"$out"
check "server.log: the module kept" logged "unloaded while it holds graphs; kept loaded until it goes" server
check "server.log: the memory freed once its graphs went" logged "allocations freed while it held graphs now freed" server

# Its own copy of a shared module while it holds a graph: the shared one's
# other client leaves, and the graph's kernel (the shared module's) runs.
LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" --hold "$TMP/gate" >"$TMP/other.out" 2>&1 &
other=$!
wait_for "the other client to hold the module" 10 grep -qx capturing "$TMP/other.out"
LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" --own "$TMP/gate" --after "$TMP/done" >"$TMP/own.out" 2>&1 &
own=$!
wait "$other"
wait_for "the server to release the other client" 10 logged "Client process $other: all it held released" server
touch "$TMP/done"
wait "$own"
check "the graph's kernel ran after its shared module's other client left ($(cat "$TMP/own.out"))" \
	grep -qx "graph_probe: PASS" "$TMP/own.out"
check "server.log: the client got its own copy, the shared one kept" \
	logged "Client process $own: module [0-9]+, shared with other clients, becomes its own copy; the shared one stays" server

# Killed mid-capture.
LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" --hold "$TMP/never" >"$TMP/held.out" 2>&1 &
held=$!
wait_for "a client to be in a capture" 10 grep -qx capturing "$TMP/held.out"
kill -9 $held
wait $held 2>/dev/null
wait_for "the server to release the client killed in its capture" 10 \
	logged "Client process $held: all it held released" server
out=$(probe 2>&1)
check "the next client passes" grep -qx "graph_probe: PASS" <<<"$out"
check "the server is still the same one" test "$(servers | wc -l)" -eq 1
finish
