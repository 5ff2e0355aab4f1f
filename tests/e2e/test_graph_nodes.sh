# CUDA graphs built node by node through the server: the same program prints
# the same natively (fakecuda as the driver) and through openmps, alone and
# two at once (a host node runs in the client at each launch); what a graph
# in the server cannot reach is refused with one line; a client's graphs, nodes and bodies go with it.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-graph-nodes-probe
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" "$@"; }

native=$(OPENMPS_NATIVE=1 probe 2>&1)
check "natively, the probe passes (it printed: $native)" grep -qx "graph_nodes_probe: PASS" <<<"$native"

start_daemon
remote=$(probe 2>&1)
check "through openmps, the probe passes (it printed: $remote)" grep -qx "graph_nodes_probe: PASS" <<<"$remote"
check "through openmps it prints what it prints natively" test "$remote" == "$native"
check "server.log: the other graph's node refused as a dependency" logged "graph node [0-9]* is not a node of graph" server

probe --replays 5 --words 100000 >"$TMP/one.out" 2>&1 &
one=$!
probe --replays 3 --words 70000 >"$TMP/two.out" 2>&1 &
two=$!
wait $one
wait $two
check "two clients building graphs at once both pass ($(cat "$TMP/one.out" "$TMP/two.out" | grep -c PASS) of 2)" \
	test "$(cat "$TMP/one.out" "$TMP/two.out" | grep -cx 'graph_nodes_probe: PASS')" -eq 2

out=$(probe --refused 2>&1)
check "refusals (it printed: $out)" grep -qx "graph_nodes_probe: PASS" <<<"$out"
check "one line names the pageable copy" grep -q "openmps: a graph memcpy node with pageable host memory.*is not supported through openmps yet" <<<"$out"
check "one line names the host node's new parameters" grep -q "openmps: new parameters for a graph's host node is not supported" <<<"$out"
check "server.log: the destroyed graph's node" logged "graph node handle [0-9]* is not one of its own" server

# A client that ends inside a graph's host function, while the launch waits
# for it in the server: the server lets the launch go and releases the
# client; the next client passes.
released() { grep -c "all it held released" "$OPENMPS_LOG_DIRECTORY/server.log"; }
more_released() { [ "$(released)" -gt "$before" ]; }
before=$(released)
out=$(probe --exit-in-host 2>&1)
code=$?
check "the client ended in its host function (exit $code; it printed: $out)" test "$code" -eq 3
wait_for "server.log: the client that ended in its host function released" 10 more_released
check "server.log: no launch was left waiting" not_logged "host functions still wait" server
out=$(probe 2>&1)
check "the next client passes (it printed: $out)" grep -qx "graph_nodes_probe: PASS" <<<"$out"
check "the server is still the same one" test "$(servers | wc -l)" -eq 1
finish
