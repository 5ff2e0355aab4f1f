# scripts/gpu-check section 11, sourced by it (note, B, SHIM, TR and OUT are its).
# 11. Liveness (issue 23): one daemon serves a long shuffled sequence of
# programs, a new one every few hundred milliseconds: the GPU suite's
# runtime programs, driver_api, cuBLAS and PyTorch (each must pass), rt_threads (host
# threads, streams, callbacks), and programs that end badly
# (tests/gpu/misbehave.cu: a call not remoted, an exit with work or a host
# function pending, a kill in the middle of a kernel). Nothing may hang; a
# hang is cut at 60 s and counted, and the daemon's watch says where a
# server's loop was stuck. SOAK_SECONDS (240) bounds the sequence.
K=$(mktemp -d /tmp/omps-soak.XXXX)
{
	good=() bad=(unsupported pending hostfn early kill)
	for src in tests/gpu/rt_*.cu tests/gpu/vector_add.cu; do
		name=$(basename "$src" .cu)
		nvcc -O2 $(sed -n 's|^// nvcc: ||p' "$src") -o "$K/$name" "$src" && good+=("$name")
	done >"$K/build.log" 2>&1
	nvcc -O2 -o "$K/driver_api" tests/gpu/driver_api.c -lcuda >>"$K/build.log" 2>&1 && good+=(driver_api)
	# The framework checks: cuBLAS, and PyTorch where it is installed.
	nvcc -O2 -o "$K/cublas_sgemm" tests/gpu/cublas_sgemm.cu -lcublas >>"$K/build.log" 2>&1 && good+=(cublas_sgemm)
	if python3 -c 'import torch' 2>/dev/null; then
		cp tests/gpu/torch_matmul.py "$K/torch_matmul"
		chmod +x "$K/torch_matmul"
		good+=(torch_matmul)
	fi
	nvcc -O2 -o "$K/misbehave" tests/gpu/misbehave.cu >>"$K/build.log" 2>&1 || bad=()
	echo "programs: ${#good[@]} that pass, ${#bad[@]} ways to end badly"
	export OPENMPS_PIPE_DIRECTORY=$K/pipe OPENMPS_LOG_DIRECTORY=$K/log
	"$B/openmps-control" -d
	ti=-1 # rt_threads, every eleventh client
	for i in "${!good[@]}"; do [ "${good[$i]}" = rt_threads ] && ti=$i; done
	end=$((SECONDS + ${SOAK_SECONDS:-240}))
	served=0 should=0 passed=0 hung=0 threads=0 threads_ok=0
	while [ $SECONDS -lt $end ]; do
		n=$(( ${#good[@]} + ${#bad[@]} ))
		pick=$((RANDOM % n))
		[ $((served % 11)) = 10 ] && [ $ti -ge 0 ] && pick=$ti
		served=$((served + 1))
		if [ "$pick" -lt ${#good[@]} ]; then
			p=${good[$pick]}
			should=$((should + 1))
			LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 60 "$K/$p" >"$K/out" 2>&1
			rc=$?
			grep -q ": PASS" "$K/out" && passed=$((passed + 1)) || echo "[$served] $p failed (exit $rc): $(tail -2 "$K/out" | tr '\n' ' ')"
			[ "$p" = rt_threads ] && threads=$((threads + 1)) && grep -q ": PASS" "$K/out" && threads_ok=$((threads_ok + 1))
		else
			m=${bad[$((pick - ${#good[@]}))]}
			if [ "$m" = kill ]; then
				LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} "$K/misbehave" spin >"$K/out" 2>&1 &
				sleep 0.$((3 + RANDOM % 7))
				kill -9 $! 2>/dev/null
				wait $! 2>/dev/null
				rc=0
			else
				LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 60 "$K/misbehave" "$m" >"$K/out" 2>&1
				rc=$?
			fi
		fi
		[ "${rc:-0}" = 124 ] && hung=$((hung + 1)) && echo "[$served] HUNG: ${p:-} ${m:-}"
		p= m=
		if [ $((served % 20)) = 0 ]; then
			srv=$(pgrep -n openmps-server)
			echo "memory after $served clients: server $(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits | awk -F', ' -v p="$srv" '$1 == p {print $2}') MiB GPU, $(awk '/VmRSS/ {print $2}' /proc/"$srv"/status 2>/dev/null) KiB host"
		fi
		sleep 0.$((2 + RANDOM % 4))
	done
	echo "soak: $served clients in ${SOAK_SECONDS:-240} s; $passed of $should that should pass passed (rt_threads $threads_ok of $threads); $hung hung"
	echo "quit -t 5" | "$B/openmps-control"
	sleep 2
	echo "watch: $(grep -c 'has not answered\|was not ready after' "$K/log/control.log") server(s) killed for not answering; servers started: $(grep -c 'Starting new server' "$K/log/control.log")"
	grep -E 'has not answered|was not ready after' "$K/log/control.log" | head -3
	cp "$K/log/control.log" "$OUT/soak-control.log"
	tail -200 "$K/log/server.log" >"$OUT/soak-server.log"
} >"$OUT/soak.log" 2>&1
while read -r line; do note "$line"; done < <(grep -E '^(soak|watch|memory after (20|100|200) )' "$OUT/soak.log")
rm -rf "$K"
