# scripts/gpu-check section 14, sourced by it (note, B, SHIM and OUT are its).
# 14. What each client does, on the real GPU (issue 19): a client of known
# work (omps-stats-probe: N copies and kernels, then one that keeps work
# queued) beside an idle one; the daemon's ps --json counts them exactly,
# openmps top -b shows the busy one's GPU% and kernels/s, and the metrics
# endpoint serves the same counters.
T=$(mktemp -d /tmp/omps-observe.XXXX)
export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
unset OPENMPS_DRIVER_PATH
{
	"$B/openmps-control" -d --metrics 127.0.0.1:0 && echo "daemon started"
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 60 "$B/omps-stats-probe" 50 $((1 << 20)) "$T/go" >"$T/a.out" 2>&1 &
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 60 "$B/omps-stats-probe" 1 $((1 << 20)) "$T/go" 5 >"$T/b.out" 2>&1 &
	for _ in $(seq 200); do [ "$(cat "$T"/[ab].out 2>/dev/null | grep -c worked)" = 2 ] && break; sleep 0.05; done
	sleep 2.5 # the counters reach the daemon about once a second
	echo "ps --json" | "$B/openmps-control" >"$T/ps.json"
	python3 -c "
import json
d = json.load(open('$T/ps.json'))
for k in d['servers'][0]['clients']:
    print('client', k['command'].split()[1], 'kernels', k['kernels'], 'copy_bytes', k['copy_bytes'], 'queued_s', round(k['queued_seconds'], 2))
"
	"$B/openmps" top -b -n 2 -d 1
	url=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$T/log/control.log" | head -1)
	python3 -c "import urllib.request; print(urllib.request.urlopen('$url').read().decode())" |
		grep -E '^openmps_client_(kernel_launches|gpu_queued_seconds)_total' | sed 's/^/metrics: /'
	touch "$T/go"
	wait
	cat "$T/a.out" "$T/b.out" | grep -c 'stats_probe: PASS' | sed 's/^/passed: /'
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
} >"$OUT/observe.log" 2>&1
# The first client did 50 copies of 1 MiB and 50 kernels, then one copy back: exactly.
if grep -qE '^client 50 kernels 50 copy_bytes 53477376 ' "$OUT/observe.log" && grep -q '^passed: 2' "$OUT/observe.log" &&
	grep -q '^metrics: openmps_client_kernel_launches_total' "$OUT/observe.log"; then
	note "observe: ps --json counted 50 kernels and 51 MiB for the known client; top and the metrics served; $(grep -E '^client 1 ' "$OUT/observe.log" | head -1)"
else
	note "observe: FAILED; see observe.log"
fi
rm -rf "$T"
