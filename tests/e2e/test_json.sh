# ps --json: every server and its clients as one JSON document, with what
# each client asked of its server so far (calls, kernels, copies and their
# bytes), its limits and its memory: counted by the server, right for each
# of two clients at once, and valid JSON whatever a client's name.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
# q FILTER: a python3 expression over the document d, printed.
q() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
json() { c "ps --json $*"; }
# stats PID: that client's line "kernels copies copy_bytes graph_launches calls".
stats() {
	json | q "' '.join(str(k[f]) for s in d['servers'] for k in s['clients'] if k['pid'] == $1
		for f in ('kernels', 'copies', 'copy_bytes', 'graph_launches', 'calls'))"
}
counted() { [ "$(stats "$1" | cut -d' ' -f1)" = "$2" ]; }

start_daemon
expect "ps --json" '{"servers":[]}'
expect "ps --json -p 1" "Server 1 not found" 1
expect "ps --json --json -x" "Usage: ps [-p PID] [--json]" 1

B=65536
LD_LIBRARY_PATH=$SHIM_DIR CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1G POD_NAME=x CONTAINER_NAME=y \
	"$OPENMPS_BIN/omps-stats-probe" 5 $B "$TMP/go" >"$TMP/a.out" 2>&1 &
a=$!
LD_LIBRARY_PATH=$SHIM_DIR KUBERNETES_SERVICE_HOST=10.0.0.1 POD_NAME=web-0 POD_NAMESPACE=prod CONTAINER_NAME= \
	"$OPENMPS_BIN/omps-stats-probe" 2 $((2 * B)) "$TMP/go" \
	>"$TMP/b.out" 2>&1 &
b=$!
wait_for "both clients to work" 20 grep -q worked "$TMP/a.out" "$TMP/b.out"
wait_for "both to be worked" 20 grep -q worked "$TMP/b.out"
wait_for "a's counts to reach the daemon" 10 counted $a 5
wait_for "b's counts to reach the daemon" 10 counted $b 2
read -r k cp bytes g calls <<<"$(stats $a)"
check "a: 5 kernels [$k]" test "$k" = 5
check "a: 6 copies' bytes, 5 there and 1 back [$bytes]" test "$bytes" = $((6 * B))
check "a: at least 6 copies [$cp]" test "$cp" -ge 6
check "a: no graph launches [$g]" test "$g" = 0
check "a: more calls than kernels and copies [$calls]" test "$calls" -gt $((k + cp))
check "a: its kernel's register count, asked 100 times, cost the server one call [$calls]" \
	test "$calls" -lt $((k + cp + 50))
read -r k cp bytes g calls <<<"$(stats $b)"
check "b: its own 2 kernels [$k]" test "$k" = 2
check "b: 3 copies' bytes of its size [$bytes]" test "$bytes" = $((3 * 2 * B))
S=$(servers)
doc=$(json)
check "the server: its pid, user, state, not late [$doc]" \
	test "$(q "[(s['pid'], s['user'], s['state'], s['late']) for s in d['servers']]" <<<"$doc")" = \
	"[($S, $(id -u), 'ACTIVE', None)]"
check "its device, as fakecuda makes it" \
	test "$(q "[(v['index'], v['uuid'][:4], v['sms'] > 0, v['memory_total'] > 0) for v in d['servers'][0]['devices']]" <<<"$doc")" = \
	"[(0, 'GPU-', True, True)]"
who() { q "[(k['command'].split()[0].rsplit('/')[-1], k['user'], k['active_thread_percentage'], k['priority'], k['memory'][0]['limit'], k['memory'][0]['used'] >= $2) for k in d['servers'][0]['clients'] if k['pid'] == $1]" <<<"$doc"; }
check "a: its name, user, share, priority, limit and memory [$(who $a $B)]" \
	test "$(who $a $B)" = "[('omps-stats-probe', $(id -u), 50.0, 0, 1073741824, True)]"
check "b: no limit is null [$(who $b $((2 * B)))]" \
	test "$(who $b $((2 * B)))" = "[('omps-stats-probe', $(id -u), 100.0, 0, None, True)]"
queued() { q "[k['queued_seconds'] for k in d['servers'][0]['clients'] if k['pid'] == $1]" <<<"$doc"; }
check "a: idle now, a moment of queued GPU work counted [$(queued $a)]" \
	python3 -c "import sys; v = $(queued $a); sys.exit(not (len(v) == 1 and 0 <= v[0] < 1))"
k8s() { q "[k['kubernetes'] for k in d['servers'][0]['clients'] if k['pid'] == $1]" <<<"$doc"; }
check "a: not in a pod (POD_ and CONTAINER_ variables mean nothing outside one) [$(k8s $a)]" \
	test "$(k8s $a)" = "[None]"
check "b: its pod and namespace, as it says [$(k8s $b)]" \
	test "$(k8s $b)" = "[{'pod': 'web-0', 'namespace': 'prod', 'container': ''}]"
check "ps -p names the same server" test "$(json -p "$S" | q "[s['pid'] for s in d['servers']]")" = "[$S]"

# A client's name is its own: bytes that are not UTF-8 still make JSON.
cp "$OPENMPS_BIN/omps-stats-probe" "$TMP/$(printf 'odd\xff\x01name')"
LD_LIBRARY_PATH=$SHIM_DIR "$TMP/$(printf 'odd\xff\x01name')" 1 $B "$TMP/go" >"$TMP/c.out" 2>&1 &
odd=$!
wait_for "the oddly named client to work" 20 grep -q worked "$TMP/c.out"
names=$(json | q "sorted(k['command'] for k in d['servers'][0]['clients'])")
check "its command line, made printable, in valid JSON [$names]" grep -qF "/odd??name 1 $B" <<<"$names"

check "control.log: a monitor's query is not logged, every second" not_logged "Cmd:ps --json"
check "... nor its answer" not_logged '"servers"'
check "... while the others are" logged "Cmd:get_server_list"

# device_query --json: the devices a new server would drive, and each
# server's; get_device_client_list --json: each device's clients.
doc=$(c "device_query --json")
check "device_query --json: the default view and the server's, one PCI form [$doc]" \
	test "$(q "[(v['ordinal'], v['pci'], v['uuid'][:4]) for v in d['default']] + [(s['pid'] == $S, v['pci'], v['sms']) for s in d['servers'] for v in s['devices']]" <<<"$doc")" = \
	"[(0, '0000:10:00.0', 'GPU-'), (True, '0000:10:00.0', 132)]"
doc=$(c "get_device_client_list --json")
check "get_device_client_list --json: device 0's clients are the three [$doc]" \
	test "$(q "sorted(d['servers'][0]['devices'][0]['clients']) == sorted([$a, $b, $odd])" <<<"$doc")" = True
expect "get_device_client_list 1 --json" "Server 1 not found" 1

touch "$TMP/go"
wait $a $b $odd
check "the clients pass" test "$(cat "$TMP"/[abc].out | grep -c 'stats_probe: PASS')" = 3
wait_for "the clients to be gone from ps --json" 10 \
	test "$(json | q "sum(len(s['clients']) for s in d['servers'])")" = 0
stop_daemon 10

# Synchronizes: a client that launches and synchronizes its context every
# 5 ms, alone on the server, is answered by the GPU's signal (the server
# waits for none); with OPENMPS_SYNC_SIGNAL=0 the server waits for each.
# Signals the GPU never writes (a fault stopped the stream before them):
# each synchronize still returns, the server asked after the client's spin.
# syncs PID: "synchronizes synchronizes_signalled".
syncs() {
	json | q "' '.join(str(k[f]) for s in d['servers'] for k in s['clients'] if k['pid'] == $1
		for f in ('synchronizes', 'synchronizes_signalled'))"
}
synced() {
	local made
	read -r made _ <<<"$(syncs "$1")"
	[ "${made:-0}" -ge 5 ]
}
for on in 1 0 lost; do
	rm -f "$TMP/go"
	if [ $on = lost ]; then
		FAKECUDA_LOSE_WRITES=1 start_daemon
	else
		OPENMPS_SYNC_SIGNAL=$on start_daemon
	fi
	LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-stats-probe" 1 $B "$TMP/go" 5 >"$TMP/s$on.out" 2>&1 &
	s=$!
	wait_for "the synchronizing client to synchronize 5 times" 20 synced $s
	read -r n sig <<<"$(syncs $s)"
	if [ $on = 1 ]; then
		check "signals on: its synchronizes [$n] signalled by the GPU [$sig]" test "$sig" -ge 1 -a "$sig" -le "$n"
	elif [ $on = lost ]; then
		check "signals lost: its synchronizes [$n] were signalled [$sig], and returned all the same" \
			test "$sig" -ge 1 -a "$sig" -le "$n"
	else
		check "OPENMPS_SYNC_SIGNAL=0: none of its synchronizes [$n] signalled [$sig]" test "$sig" = 0
		check "server.log: the server says it waits" \
			logged "Synchronizes wait in the server, not for the GPU.s signal \\(OPENMPS_SYNC_SIGNAL=0\\)" server
	fi
	touch "$TMP/go"
	wait $s
	check "it passes (signals $on)" grep -q 'stats_probe: PASS' "$TMP/s$on.out"
	stop_daemon 10
done
finish
