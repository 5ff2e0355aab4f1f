# The metrics endpoint (--metrics): off unless asked, loopback unless a host
# is named, Prometheus's text format that promtool accepts, each client's
# counters right, label values escaped whatever a client's name; a real
# Prometheus scrapes it; a port in use fails the start, taking nothing.
. "$(dirname "$0")/lib.sh"
for t in promtool prometheus; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed (Debian: prometheus)"; exit 77; }
done
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
get() { python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method=sys.argv[2] if len(sys.argv) > 2 else "GET")
try:
    r = urllib.request.urlopen(req, timeout=10)
    print(r.status, r.headers.get("Content-Type"))
    sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
    sys.stdout.write(e.read().decode())
PY
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

out=$("$CTL" --metrics 9400 2>&1)
check "--metrics without -d or -f: said, status 2 [$out]" test "$("$CTL" --metrics 9400 >/dev/null 2>&1; echo $?)" = 2
check "... in words" grep -q "applies to the daemon" <<<"$out"
out=$("$CTL" -d --metrics 127.0.0.1:99999 2>&1)
check "a port past 65535 fails the start [$out]" grep -q 'is not a port' <<<"$out"
out=$("$CTL" -d --metrics no.such.host.invalid:9400 2>&1)
check "an unknown host fails the start [$out]" grep -q 'cannot use host "no.such.host.invalid"' <<<"$out"
check "... and no daemon runs" test ! -e "$OPENMPS_PIPE_DIRECTORY/control"

start_daemon --metrics 127.0.0.1:0
URL=$(grep -o 'Metrics at http://127.0.0.1:[0-9]*/metrics' "$OPENMPS_LOG_DIRECTORY/control.log" | cut -d' ' -f3)
check "control.log says where the metrics are [$URL]" test -n "$URL"
PORT=$(sed 's|.*:\([0-9]*\)/metrics|\1|' <<<"$URL")
out=$(get "$URL")
check "no client: 200, Prometheus's text type [$(head -1 <<<"$out")]" \
	test "$(head -1 <<<"$out")" = "200 text/plain; version=0.0.4; charset=utf-8"
check "no server, no client" grep -qx "openmps_clients 0" <<<"$out"
check "promtool accepts it" promtool check metrics <<<"$(tail -n +2 <<<"$out")"
check "another path: 404, and where to look" grep -q "^404" <<<"$(get "http://127.0.0.1:$PORT/")"
check "a POST: 405" grep -q "^405" <<<"$(get "$URL" POST)"

B=65536
LD_LIBRARY_PATH=$SHIM_DIR CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1G KUBERNETES_SERVICE_HOST=10.0.0.1 HOSTNAME=web-7f9c \
	POD_NAMESPACE=prod CONTAINER_NAME=model "$OPENMPS_BIN/omps-stats-probe" 5 $B "$TMP/go" >"$TMP/a.out" 2>&1 &
a=$!
odd="$TMP/$(printf 'q"uo\\te')"
cp "$OPENMPS_BIN/omps-stats-probe" "$odd"
LD_LIBRARY_PATH=$SHIM_DIR "$odd" 2 $B "$TMP/go" >"$TMP/b.out" 2>&1 &
b=$!
counted() { get "$URL" | grep -q "^openmps_client_kernel_launches_total{.*pid=\"$1\".*} $2\$"; }
wait_for "a's kernels in the metrics" 20 counted $a 5
wait_for "b's kernels in the metrics" 20 counted $b 2
out=$(get "$URL" | tail -n +2)
printf '%s\n' "$out" >"$TMP/metrics.txt"
out2=$(promtool check metrics <"$TMP/metrics.txt" 2>&1)
check "promtool accepts it with clients at work [$out2]" test -z "$out2"
sample() { grep "^$1{.*pid=\"$2\"" "$TMP/metrics.txt" | awk '{print $NF}'; }
check "a: 6 copies' bytes [$(sample openmps_client_copy_bytes_total $a)]" \
	test "$(sample openmps_client_copy_bytes_total $a)" = $((6 * B))
check "a: its limit, on GPU 0 [$(sample openmps_client_memory_limit_bytes $a)]" \
	test "$(sample openmps_client_memory_limit_bytes $a)" = 1073741824
check "b: no limit, no sample" test -z "$(sample openmps_client_memory_limit_bytes $b)"
check "a: its pod (HOSTNAME in a pod), namespace and container, as DCGM's exporter names them" \
	grep -q '^openmps_client_kernel_launches_total{.*pid="'$a'".*,pod="web-7f9c",namespace="prod",container="model"} 5$' "$TMP/metrics.txt"
check "b: outside a pod, empty" \
	grep -q '^openmps_client_kernel_launches_total{.*pid="'$b'".*,pod="",namespace="",container=""} 2$' "$TMP/metrics.txt"
check "b: its name, escaped [$(grep -o 'command="[^,]*",' <<<"$out" | sort -u | tr '\n' ' ')]" \
	grep -qF 'command="q\"uo\\te"' "$TMP/metrics.txt"
check "the GPU, labelled as DCGM's exporter does (in snake_case, as promtool wants)" \
	grep -qE '^openmps_gpu_memory_total_bytes\{gpu="0",uuid="GPU-[0-9a-f-]+",model_name="openmps fakecuda device 0"\} [0-9]+$' "$TMP/metrics.txt"

# A real Prometheus scrapes it every second.
PP=$(free_port)
cat >"$TMP/prom.yml" <<YML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs: [{job_name: openmps, static_configs: [{targets: ["127.0.0.1:$PORT"]}]}]
YML
prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" --web.listen-address="127.0.0.1:$PP" \
	>"$TMP/prom.log" 2>&1 &
prom=$!
query() { python3 - "http://127.0.0.1:$PP/api/v1/query" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
try:
    r = json.load(urllib.request.urlopen(sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]}), timeout=5))
    print(" ".join(s["value"][1] for s in r["data"]["result"]))
except Exception as e:
    print("error", e)
PY
}
wait_for "Prometheus to scrape a's kernels" 60 eval '[ "$(query "openmps_client_kernel_launches_total{pid=\"$a\"}")" = 5 ]'
check "its target is up [$(query 'up{job="openmps"}')]" test "$(query 'up{job="openmps"}')" = 1
check "it read b's copy bytes [$(query "openmps_client_copy_bytes_total{pid=\"$b\"}")]" \
	test "$(query "openmps_client_copy_bytes_total{pid=\"$b\"}")" = $((3 * B))
kill $prom
wait $prom 2>/dev/null

# The port is taken: another daemon, elsewhere, does not start, and takes nothing.
out=$(OPENMPS_PIPE_DIRECTORY=$TMP/pipe2 OPENMPS_LOG_DIRECTORY=$TMP/log2 "$CTL" -d --metrics "127.0.0.1:$PORT" 2>&1)
check "a port in use fails the start, said [$out]" grep -q "cannot listen there: Address already in use" <<<"$out"
check "... its pipe directory not taken" test ! -e "$TMP/pipe2/control"
check "scrapes are not logged" not_logged "GET|/metrics\""
touch "$TMP/go"
wait $a $b
check "the clients pass" test "$(cat "$TMP"/[ab].out | grep -c 'stats_probe: PASS')" = 2
stop_daemon 10
finish
