# scripts/gpu-check section 7, sourced by it (note, B, SHIM, TR and OUT are its).
# 7. Scale: GPU memory and start time with N idle clients, each holding the
# primary context, 1 MiB and a module after one kernel, in each mode.
used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }
scale_point() { # MODE N ENV...: prints one line
	local mode=$1 n=$2 i launch ready t0 mem
	shift 2
	rm -f "$SC"/c*.out
	launch=$(date +%s.%N)
	for i in $(seq "$n"); do env "$@" build/bin/idle_client "$launch" 120 >"$SC/c$i.out" 2>&1 & done
	t0=$SECONDS
	while ready=$(cat "$SC"/c*.out 2>/dev/null | grep -c '^ready'); [ "$ready" -lt "$n" ] && [ $((SECONDS - t0)) -lt 90 ]; do
		grep -qv '^ready' "$SC"/c*.out 2>/dev/null && [ $((SECONDS - t0)) -gt 20 ] && break
		sleep 0.2
	done
	sleep 1
	mem=$(used)
	srv=$(pgrep -n openmps-server)
	[ "$mode" = openmps ] && [ -n "$srv" ] && echo "openmps server with $n clients: $(ls /proc/$srv/fd | wc -l) descriptors, $(ls /proc/$srv/task | wc -l) threads"
	echo "scale $mode $n clients: $ready ready; GPU memory used $((mem - base)) MiB over idle;" \
		"start to first kernel median $(grep -h '^ready' "$SC"/c*.out | awk '{print $2}' | sort -n |
			awk '{v[NR]=$1} END {if (NR) printf "%.3f s, max %.3f s", v[int((NR+1)/2)], v[NR]; else print "-"}')" \
		"$(grep -hv '^ready' "$SC"/c*.out | sort | uniq -c | head -2 | tr -s ' ' | tr '\n' ';')"
	pkill -f "build/bin/idle_client $launch" 2>/dev/null
	wait 2>/dev/null
}
SC=$(mktemp -d /tmp/omps-scale.XXXX)
{
	base=$(used)
	echo "GPU memory used with nothing running: $base MiB"
	for n in 1 8; do scale_point native "$n" OPENMPS_NATIVE=1; done
	if command -v nvidia-cuda-mps-control >/dev/null; then
		export CUDA_MPS_PIPE_DIRECTORY=$SC/mps CUDA_MPS_LOG_DIRECTORY=$SC/mps
		mkdir -p "$SC/mps" && nvidia-cuda-mps-control -d
		for n in 1 8 48 49; do scale_point nvidia-mps "$n" OPENMPS_NATIVE=1; done
		echo quit | nvidia-cuda-mps-control
		sleep 2
		unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
	fi
	export OPENMPS_PIPE_DIRECTORY=$SC/pipe OPENMPS_LOG_DIRECTORY=$SC/log
	"$B/openmps-control" -d
	echo "descriptor limit here: soft $(ulimit -Sn), hard $(ulimit -Hn)"
	for n in 1 8 48 128 256 512; do scale_point openmps "$n" LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-}; done
	grep -i "descriptor\|cannot\|could not" "$SC/log/"*.log | head -5
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
	unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
} >"$OUT/scale.log" 2>&1
while read -r line; do note "$line"; done < <(grep '^scale\|^GPU memory\|^openmps server with' "$OUT/scale.log")
rm -rf "$SC"
