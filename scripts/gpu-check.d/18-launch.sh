# scripts/gpu-check section 18, sourced by it (note, B, SHIM and OUT are its).
# 18. The launch ceiling (issue 21), into $OUT/launch.tsv, LAUNCH_REPS
# repetitions a point (default 1), each bench/run within LAUNCH_TIMEOUT s
# (default 200): small kernels at LAUNCH_CLIENTS clients (default
# "8 16 32 64"), full kernels, the launch cost and the GPU memory of 1 and 8
# idle clients, under NVIDIA MPS and openmps; openmps again under each
# server setting of LAUNCH_VARIANTS (";" between them, default
# "CUDA_DEVICE_MAX_CONNECTIONS=8"); and small kernels from streams of one
# process with 8 and 32 hardware queues and a green context a thread
# (SMALL_GREEN; LAUNCH_STREAMS=0 leaves them out). LAUNCH_MODES and
# LAUNCH_WORKLOADS choose others: e.g. LAUNCH_WORKLOADS=resnet
# RESNET_WORKERS=8 for ResNet-50 at batch 1, 8 and 32 with 8 workers.
launch_bench() { # LABEL ENV... -- bench/run ARGS...
	local label=$1 envs=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" OPENMPS_BUILD="$PWD/build" SMALL_CLIENTS="${LAUNCH_CLIENTS:-8 16 32 64}" SCALE_CLIENTS="1 8" \
		timeout "${LAUNCH_TIMEOUT:-200}" \
		bench/run --reps "${LAUNCH_REPS:-1}" --seconds 2 --tsv "$OUT/launch.tsv" "$@" >>"$OUT/launch.log" 2>&1
	grep -E "$launch_line" "$OUT/launch.log" | tail -n +"$((launch_seen + 1))" |
		while read -r line; do echo "launch[$label]: ${line#bench: }"; done >>"$OUT/launch.notes"
	launch_seen=$(grep -cE "$launch_line" "$OUT/launch.log")
}
launch_line='^bench: [a-z0-9_-]+ [0-9]+ [a-z]+: ' # a point's figure or its CPUs
launch_seen=0
: >"$OUT/launch.notes"
launch_bench default -- --modes "${LAUNCH_MODES:-mps openmps}" ${LAUNCH_WORKLOADS:-small full launch scale}
IFS=';' read -ra launch_variants <<<"${LAUNCH_VARIANTS:-CUDA_DEVICE_MAX_CONNECTIONS=8}"
for v in "${launch_variants[@]}"; do
	v=$(echo $v)
	[ -n "$v" ] && launch_bench "$v" -- --modes openmps --server-env "$v" ${LAUNCH_WORKLOADS:-small full launch scale}
done
if [ "${LAUNCH_STREAMS:-1}" = 1 ]; then
	launch_bench "streams" -- --modes streams small
	launch_bench "streams 32q" CUDA_DEVICE_MAX_CONNECTIONS=32 -- --modes streams small
	launch_bench "streams 32q green" CUDA_DEVICE_MAX_CONNECTIONS=32 SMALL_GREEN=1 -- --modes streams small
fi
while read -r line; do note "$line"; done < <(grep -v ' CPUs ' "$OUT/launch.notes")
