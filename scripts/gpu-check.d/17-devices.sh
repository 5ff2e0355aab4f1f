# scripts/gpu-check section 17, sourced by it (note, B, SHIM and OUT are its).
# 17. Several GPUs (issue 22). On any machine: what a client sees under each
#     CUDA_VISIBLE_DEVICES setting (omps-devices-probe), natively and through
#     openmps, compared line for line. With two GPUs or more, also: peer access
#     and copies between GPUs 0 and 1, both ways; whether a fault on GPU 0
#     leaves GPU 1's context well in one process (tests/gpu/other_gpu.c: what
#     per-GPU fault containment can build on); the GPU suite with the daemon
#     on GPU 1 alone; NCCL all-reduce (PyTorch, NCCL_NVLS_ENABLE=0) between two
#     clients on a GPU each and within one client over two, natively and
#     through openmps; bench/run spread (full-GPU kernels, 1, 2 and 4 clients
#     a GPU over every GPU, in each mode, NVIDIA MPS beside).
T=$(mktemp -d /tmp/omps-devices.XXXX)
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
u0=$(nvidia-smi --query-gpu=uuid --format=csv,noheader -i 0 2>/dev/null)
probe() { LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 60 "$B/omps-devices-probe" "$@" 2>&1; }
{
	export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
	"$B/openmps-control" -d
	same=0 total=0
	for v in unset 0 "$u0" "${u0:0:12}" "" 7 0,0 "1,0"; do
		envs=(CUDA_VISIBLE_DEVICES="$v")
		[ "$v" = unset ] && envs=(-u CUDA_VISIBLE_DEVICES)
		n=$(env "${envs[@]}" OPENMPS_NATIVE=1 LD_LIBRARY_PATH="$SHIM:${LD_LIBRARY_PATH:-}" timeout 60 \
			"$B/omps-devices-probe" 2>&1)
		o=$(env "${envs[@]}" LD_LIBRARY_PATH="$SHIM:${LD_LIBRARY_PATH:-}" timeout 60 "$B/omps-devices-probe" 2>/dev/null)
		total=$((total + 1))
		if [ "$n" = "$o" ]; then same=$((same + 1)); echo "== CUDA_VISIBLE_DEVICES=$v: same"; else
			echo "== CUDA_VISIBLE_DEVICES=$v: DIFFERENT"; diff <(echo "$n") <(echo "$o"); fi
		echo "$o"
	done
	if [ "$ngpu" -ge 2 ]; then
		echo "== peer, natively"; OPENMPS_NATIVE=1 probe --peer
		echo "== peer, through openmps"; probe --peer | tee "$T/peer.out"
		echo "== a fault on GPU 0, and GPU 1's context (tests/gpu/other_gpu.c)"
		cuda=$(dirname "$(dirname "$(command -v nvcc)")")
		gcc -O2 -I"$cuda/include" -o "$T/other_gpu" tests/gpu/other_gpu.c -L"$cuda/lib64/stubs" -lcuda &&
			timeout 120 "$T/other_gpu" || echo "other_gpu: FAILED ($?)"
		echo "== NCCL"
		for mode in two one; do
			OPENMPS_NATIVE=1 timeout 300 python3 tests/gpu/nccl_allreduce.py $mode 2>&1 | tail -3 | sed 's/^/native /'
			LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 300 python3 tests/gpu/nccl_allreduce.py $mode 2>&1 |
				tail -3 | sed 's/^/openmps /'
		done
	fi
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
	cat "$T/log/server.log"
} >"$OUT/devices.log" 2>&1
note "devices: $ngpu GPU(s); what a client sees, as natively: $same of $total CUDA_VISIBLE_DEVICES settings"
if [ "$ngpu" -ge 2 ]; then
	note "devices: peer copies through openmps: $(grep -c '^devices_probe: peer copies verified' "$T/peer.out") of 1; $(grep '^devices_probe: enable' "$T/peer.out")"
	note "devices: $(grep '^other_gpu: summary' "$OUT/devices.log")"
	note "devices: NCCL all-reduce: $(grep -E '^(native|openmps) nccl_allreduce' "$OUT/devices.log" | sed 's/ (.*//' | tr '\n' ';')"
	S1=$(mktemp -d /tmp/omps-suite1.XXXX)
	CUDA_VISIBLE_DEVICES=1 tests/gpu/run-suite build "$S1" >"$OUT/suite-gpu1.log" 2>&1
	note "devices: GPU suite on GPU 1: $(tail -1 "$OUT/suite-gpu1.log")"
	rm -rf "$S1"
	OPENMPS_BUILD=$PWD/build timeout 500 bench/run --reps 3 --seconds 2 --tsv "$OUT/spread.tsv" spread \
		>"$OUT/spread.log" 2>&1
	note "devices: bench spread (kernels/s, clients in all over $ngpu GPUs): $(awk -F'\t' '/^spread/ {printf "%s %s %s; ", $2, $3, $4}' "$OUT/spread.tsv")"
else
	note "devices: peer copies, NCCL and the suite on GPU 1 not run: $ngpu GPU"
fi
rm -rf "$T"
