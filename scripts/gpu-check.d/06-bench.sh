# scripts/gpu-check section 6, sourced by it (note, B, SHIM, TR and OUT are its).
# 6. Benchmarks.
build/bin/ring_pingpong >"$OUT/bench.log" 2>&1 || note "bench: ring_pingpong FAILED"
{
	# Natively, libcuda.so.1 is found along LD_LIBRARY_PATH as the machine sets it.
	printf 'launch native (driver):   '
	build/bin/launch_cost
	T=$(mktemp -d /tmp/omps-bench.XXXX)
	export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
	"$B/openmps-control" -d
	printf 'launch through openmps:   '
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} build/bin/launch_cost
	echo "copy bandwidth, native:"
	OPENMPS_NATIVE=1 build/bin/copy_bandwidth
	echo "copy bandwidth, through openmps:"
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} build/bin/copy_bandwidth
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
	rm -rf "$T"
	unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
	OPENMPS_BUILD=$PWD/build scripts/demo 8 3
} >>"$OUT/bench.log" 2>&1
while read -r line; do note "bench: $line"; done <"$OUT/bench.log"
