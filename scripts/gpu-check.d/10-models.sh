# scripts/gpu-check section 10, sourced by it (note, B, SHIM, TR and OUT are its).
# 10. Real models (issue 7): the same script natively and through openmps,
# compared; and once through the shim natively, traced: what PyTorch asks of
# the driver (cuBLAS, cuDNN, NVRTC, graphs), in torch-models-trace.txt.
M=$(mktemp -d /tmp/omps-models.XXXX)
{
	OPENMPS_NATIVE=1 timeout 240 python3 tests/gpu/torch_models.py run "$M/native.pt"
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_NATIVE=1 OPENMPS_TRACE=1 OPENMPS_TRACE_EXPORTS=1 \
		OPENMPS_TRACE_FILE="$M/torch_models.trace" timeout 240 python3 tests/gpu/torch_models.py run "$M/traced.pt"
	summarize_trace torch_models "$M/torch_models.trace" "$M/torch_models.trace" >"$OUT/torch-models-trace.txt"
	export OPENMPS_PIPE_DIRECTORY=$M/pipe OPENMPS_LOG_DIRECTORY=$M/log
	"$B/openmps-control" -d
	LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 240 python3 tests/gpu/torch_models.py run "$M/openmps.pt" 2>"$M/err"
	grep '^openmps:' "$M/err" | sort | uniq -c
	echo "quit -t 2" | "$B/openmps-control"
	sleep 1
	grep -iE 'refus|cannot|not supported' "$M/log/server.log" | head -20
	unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
	python3 tests/gpu/torch_models.py compare "$M/native.pt" "$M/openmps.pt"
} >"$OUT/models.log" 2>&1
while read -r line; do note "$line"; done < <(grep -E '^torch_models: (.* of 6|.* FAIL|compare|PASS)' "$OUT/models.log")
rm -rf "$M"
