# scripts/gpu-check section 4, sourced by it (note, B, SHIM, TR and OUT are its).
# 4. Remote mode on the real driver: eight clients through one server.
T=$(mktemp -d /tmp/omps-remote.XXXX)
export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
{
	"$B/openmps-control" -d
	for i in 1 2 3 4 5 6 7 8; do
		LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} "$B/omps-remote-probe" --bytes $((64 << 20)) --hold-ms 3000 \
			>"$T/p$i.out" 2>&1 &
	done
	sleep 2
	echo "nvidia-smi while 8 clients hold 128 MiB each:"
	nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader
	echo ps | "$B/openmps-control"
	wait
	cat "$T"/p?.out
	nvcc -O2 -o "$T/vector_add_static" tests/gpu/vector_add.cu &&
		nvcc -O2 -cudart shared -o "$T/vector_add_shared" tests/gpu/vector_add.cu &&
		nvcc -O2 -o "$T/cublas_sgemm" tests/gpu/cublas_sgemm.cu -lcublas
	cp tests/gpu/torch_matmul.py "$T/torch_matmul"
	for prog in vector_add_static vector_add_shared cublas_sgemm torch_matmul; do
		[ -x "$T/$prog" ] || continue
		echo "== remote $prog"
		LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_TRACE=1 OPENMPS_TRACE_EXPORTS=args OPENMPS_TRACE_FILE="$T/$prog.remote" \
			timeout 60 "$T/$prog" 2>&1 | tail -20
		echo "[exit ${PIPESTATUS[0]}]"
		grep -E 'not remoted|refused|slot [0-9]*: first call' "$T/$prog.remote" | cut -d' ' -f5- | sort | uniq -c | head -30
		echo "calls that failed:"
		grep -E '\) = [1-9][0-9]* ' "$T/$prog.remote" | cut -d' ' -f5- | sort | uniq -c | sort -rn | head -15
		cp "$T/$prog.remote" "$TR/"
	done
	echo "== PyTorch probe (tests/gpu/torch_probe.py), through openmps"
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 240 python3 tests/gpu/torch_probe.py 2>"$T/torch.err"
	grep '^openmps:' "$T/torch.err" | sort | uniq -c
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
	cat "$T/log/server.log"
} >"$OUT/remote.log" 2>&1
note "PyTorch probe through openmps: $(grep -c '^torch_probe: .* ok$' "$OUT/remote.log") of 6 steps ok ($(grep '^torch_probe: .* FAIL' "$OUT/remote.log" | sed 's/torch_probe: //' | cut -c1-80 | tr '\n' ';'))"
rpass=$(grep -cx 'remote_probe: PASS' "$OUT/remote.log")
note "remote mode, runtime API: $(grep -c ': PASS' <(grep -v remote_probe "$OUT/remote.log")) of 4 programs passed (vector_add static and shared, cuBLAS, PyTorch)"
apps=$(sed -n '/^nvidia-smi while/,/^PID/p' "$OUT/remote.log" | grep -E ', [0-9]+ MiB$' | tr '\n' ';')
note "remote mode (real GPU): $rpass of 8 driver-API clients passed at once through one server; GPU processes meanwhile: ${apps:-none}"
rm -rf "$T"
