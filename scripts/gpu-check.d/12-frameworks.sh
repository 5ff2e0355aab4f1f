# scripts/gpu-check section 12, sourced by it (note, B, SHIM, TR and OUT are its).
# 12. The frameworks (issue 18), each checked against the CPU by
# tests/gpu/frameworks.py: natively, through openmps, and 4 at once.
# FRAMEWORKS="name ..." runs only those (frameworks.py --list names them).
F=$(mktemp -d /tmp/omps-fw.XXXX)
# Several JAX processes on one GPU must not each take 75 % of its memory at
# start (natively as through openmps): JAX's own setting for sharing a GPU.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
{
	export OPENMPS_PIPE_DIRECTORY=$F/pipe OPENMPS_LOG_DIRECTORY=$F/log
	"$B/openmps-control" -d
	for fw in ${FRAMEWORKS:-$(python3 tests/gpu/frameworks.py --list)}; do
		n=$(OPENMPS_NATIVE=1 timeout 300 python3 tests/gpu/frameworks.py "$fw" 2>&1 | tail -1)
		o=$(LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 300 python3 tests/gpu/frameworks.py "$fw" 2>"$F/$fw.err" | tail -1)
		for i in 1 2 3 4; do
			LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 400 python3 tests/gpu/frameworks.py "$fw" \
				>"$F/$fw.x$i" 2>&1 &
		done
		wait
		echo "$fw: native [${n#frameworks $fw: }] openmps [${o#frameworks $fw: }] 4 at once $(cat "$F/$fw".x? | grep -c ': PASS')/4"
		grep -h '^openmps:' "$F/$fw.err" | sort -u | head -3 | sed 's/^/    /'
	done
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
	unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
} >"$OUT/frameworks.log" 2>&1
while read -r line; do note "$line"; done < <(grep -E '^[a-z_]+: native' "$OUT/frameworks.log")
rm -rf "$F"
