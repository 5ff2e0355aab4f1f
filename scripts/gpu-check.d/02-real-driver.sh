# scripts/gpu-check section 2, sourced by it (note, B, SHIM, TR and OUT are its).
# 2. The control plane on the real driver.
T=$(mktemp -d /tmp/omps-gpu.XXXX)
export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
unset OPENMPS_DRIVER_PATH
{
	"$B/openmps-control" -d && echo "daemon started"
	"$B/omps-test-client" --hold 5 >"$T/client.out" 2>&1 &
	cpid=$!
	for _ in $(seq 100); do grep -q admitted "$T/client.out" 2>/dev/null && break; sleep 0.05; done
	cat "$T/client.out"
	S=$(echo get_server_list | "$B/openmps-control")
	printf 'get_server_status %s\nget_device_client_list\nps\ndevice_query\n' "$S" | "$B/openmps-control"
	echo "server memory (nvidia-smi):"
	nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | grep -E "^$S," || echo "server $S not listed"
	kill -TERM $cpid; wait $cpid
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
} >"$OUT/real-driver.log" 2>&1
mine=$(grep -E '^0 ' "$OUT/real-driver.log" | head -1 | awk '{print $3}')
theirs=$(printf 'device_query\n' | (P=$(mktemp -d); CUDA_MPS_PIPE_DIRECTORY=$P CUDA_MPS_LOG_DIRECTORY=$P \
	nvidia-cuda-mps-control -d >/dev/null 2>&1 && sleep 0.5 &&
	CUDA_MPS_PIPE_DIRECTORY=$P nvidia-cuda-mps-control; echo quit | CUDA_MPS_PIPE_DIRECTORY=$P nvidia-cuda-mps-control) |
	grep -E '^0 ' | head -1 | awk '{print $3}')
if grep -q '^admitted' "$OUT/real-driver.log" && [ -n "$mine" ] && [ "$mine" = "$theirs" ]; then
	note "real driver: client admitted; device_query UUID $mine matches NVIDIA MPS's"
else
	note "real driver: FAILED (ours '$mine', NVIDIA's '${theirs:-none}'); see real-driver.log"
fi
mem=$(grep -A1 'server memory' "$OUT/real-driver.log" | tail -1)
note "server GPU memory: $mem"
rm -rf "$T"
