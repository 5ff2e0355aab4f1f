# scripts/gpu-check section 3, sourced by it (note, B, SHIM, TR and OUT are its).
# 3. The shim in native mode, on real programs.
W=$(mktemp -d /tmp/omps-shim.XXXX)
{
	nvcc -O2 -o "$W/vector_add_static" tests/gpu/vector_add.cu &&
	nvcc -O2 -cudart shared -o "$W/vector_add_shared" tests/gpu/vector_add.cu &&
	nvcc -O2 -o "$W/driver_api" tests/gpu/driver_api.c -lcuda &&
	nvcc -O2 -o "$W/cublas_sgemm" tests/gpu/cublas_sgemm.cu -lcublas &&
	nvcc -O2 -o "$W/export_tables" tests/gpu/export_tables.c -lcuda -ldl &&
	nvcc -O2 -Isrc/shim -o "$W/integrity_check" tests/gpu/integrity_check.c build/src/shim/libopenmps_integrity.a \
		-lcuda -L"${CMAKE_LIBRARY_PATH:-/usr/lib}" -l:libnettle.so.8
} >"$OUT/shim.log" 2>&1 || note "shim: building the GPU programs FAILED; see shim.log"
"$W/export_tables" >"$W/export_tables.trace" 2>&1 # kept with the traces
"$W/integrity_check" >>"$OUT/shim.log" 2>&1
note "integrity hash against the driver's: $(grep -c ': same$' "$OUT/shim.log") of 6 versions same; $(grep '^integrity_check:' "$OUT/shim.log")"
cp tests/gpu/torch_matmul.py "$W/torch_matmul"
pass=0 total=0 spass=0 stotal=0
for prog in vector_add_static vector_add_shared driver_api cublas_sgemm torch_matmul; do
	[ -x "$W/$prog" ] || continue
	for mode in native shim traced slots; do
		[ "$mode" = slots ] || total=$((total + 1))
		case $mode in
		native) out=$(timeout 120 "$W/$prog" 2>&1) ;;
		shim) out=$(LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} timeout 120 "$W/$prog" 2>&1) ;;
		traced) out=$(LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_TRACE=1 \
			OPENMPS_TRACE_FILE="$W/$prog.trace" timeout 120 "$W/$prog" 2>&1) ;;
		slots) out=$(LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_TRACE=1 OPENMPS_TRACE_EXPORTS=args \
			OPENMPS_TRACE_FILE="$W/$prog.slots" timeout 120 "$W/$prog" 2>&1) ;;
		esac
		echo "[$prog $mode] $out" >>"$OUT/shim.log"
		if [ "$mode" = slots ]; then # traced copies of the tables, integrity hash recomputed
			stotal=$((stotal + 1))
			grep -q ": PASS" <<<"$out" && spass=$((spass + 1))
			continue
		fi
		grep -q ": PASS" <<<"$out" && pass=$((pass + 1))
	done
	summarize_trace "$prog" "$W/$prog.trace" "$W/$prog.slots" >>"$TR/shim-traces.txt" 2>&1
done
cp "$W"/*.trace "$W"/*.slots "$TR" 2>/dev/null
note "shim (native mode): $pass of $total program runs passed (native / through the shim / traced); see shim-traces.txt in traces.tar.gz"
note "export-slot tracing (copied tables, hash recomputed): $spass of $stotal passed"
rm -rf "$W"
