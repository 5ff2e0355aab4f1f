# The shim with no daemon: it exports every symbol of the toolkit's driver
# stub, finds the real driver (here fakecuda) by absolute path but never
# itself, forwards every call, hands out the driver's own pointers from
# cuGetProcAddress natively, and with OPENMPS_TRACE logs every call.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-shim-probe
STUB=${CUDA_STUB:-/usr/local/cuda/lib64/stubs/libcuda.so}
export FAKECUDA_DEVICES=3

if [ -f "$STUB" ]; then
	nm -D --defined-only "$STUB" | awk '$3 ~ /^cu/ {print $3}' | sort >"$TMP/stub.syms"
	nm -D --defined-only "$SHIM_DIR/libcuda.so.1" | awk '{print $3}' | sort >"$TMP/shim.syms"
	check "the stub lists the driver's symbols" test "$(wc -l <"$TMP/stub.syms")" -gt 500
	missing=$(comm -13 "$TMP/shim.syms" "$TMP/stub.syms" | tr '\n' ' ')
	check "the shim exports every symbol of the driver stub (missing: $missing)" test -z "$missing"
else
	echo "no driver stub at $STUB: checking against cuda.h alone"
fi
nm -D --defined-only "$SHIM_DIR/libcuda.so.1" | awk '{print $3}' | sort >"$TMP/shim.syms"
check "the shim exports driver names and its marker only" test "$(grep -v '^cu' "$TMP/shim.syms")" = openmps_shim_version
for f in cuInit cuMemAlloc cuMemAlloc_v2 cuMemcpyAsync cuMemcpyAsync_ptsz cuStreamSynchronize_ptsz \
	cuGetProcAddress cuGetProcAddress_v2 cuGetExportTable cuProfilerStart cuGLMapBufferObject_v2_ptds \
	cuVDPAUGetDevice cuEGLStreamConsumerConnect; do
	check "the shim exports $f" grep -qx "$f" "$TMP/shim.syms"
done
check "the probe runs against the shim" grep -q "libcuda.so.1 => $SHIM_DIR/libcuda.so.1" \
	<<<"$(LD_LIBRARY_PATH=$SHIM_DIR ldd "$PROBE")"

run() { LD_LIBRARY_PATH=$SHIM_DIR "$@" "$PROBE"; }
out=$(run env OPENMPS_REAL_DRIVER="$FAKECUDA" 2>&1)
check "calls reach the driver" grep -qx "devices 3" <<<"$out"
check "strings come back" grep -qx "name openmps fakecuda device 0" <<<"$out"
check "natively, cuGetProcAddress hands out the driver's own pointer" grep -qx "procaddress 0 driver" <<<"$out"
check "which works" grep -qx "devices via procaddress 3" <<<"$out"
check "error names" grep -qx "error name CUDA_ERROR_NO_DEVICE" <<<"$out"
check "export tables come from the driver" grep -qx "export slots 28 210 7.75" <<<"$out"
check "no trace unless asked" test -z "$(grep openmps-trace <<<"$out")"
check "a trampoline forwards to the driver" grep -qx "trampoline 0 7" <<<"$out"
check "a trampoline the driver lacks fails with CUDA_ERROR_NOT_FOUND" grep -qx "missing trampoline 500" <<<"$out"

# Tracing: every call, with arguments, result and duration; pointers from
# cuGetProcAddress are the shim's, so their calls are traced too.
out=$(run env OPENMPS_REAL_DRIVER="$FAKECUDA" OPENMPS_TRACE=1 OPENMPS_TRACE_FILE="$TMP/trace" 2>&1)
check "traced: cuGetProcAddress hands out the shim's pointer" grep -qx "procaddress 0 shim" <<<"$out"
check "traced: results unchanged" grep -qx "devices via procaddress 3" <<<"$out"
t=$TMP/trace
check "trace: the driver it forwards to" grep -q "# shim .* forwarding to $FAKECUDA" "$t"
check "trace: cuInit with its argument and result" grep -qE '^openmps-trace [0-9]+ [0-9]+ \+[0-9.]+ cuInit\(Flags=0\) = 0 CUDA_SUCCESS \[[0-9.]+ us\]$' "$t"
check "trace: cuDeviceGetName's arguments" grep -qE "cuDeviceGetName\(name=0x[0-9a-f]+, len=128, dev=0\) = 0 CUDA_SUCCESS" "$t"
check "trace: cuGetProcAddress_v2 with the symbol" grep -qE "cuGetProcAddress_v2\(symbol=cuDeviceGetCount, pfn=0x[0-9a-f]+, cudaVersion=13000, flags=0\) = 0" "$t"
check "trace: the call through the returned pointer" test "$(grep -c 'cuDeviceGetCount(count=' "$t")" -eq 2
check "trace: a failing result by name" grep -qE "cuGetErrorName\(error=100, pStr=0x[0-9a-f]+\) = 0 CUDA_SUCCESS" "$t"

# Export-table slots traced: same results through the stubs, calls counted.
out=$(run env OPENMPS_REAL_DRIVER="$FAKECUDA" OPENMPS_TRACE=1 OPENMPS_TRACE_EXPORTS=1 OPENMPS_TRACE_FILE="$TMP/xtrace" 2>&1)
check "traced slots pass every argument through" grep -qx "export slots 28 210 7.75" <<<"$out"
check "a slot's first call is logged" grep -q "# export table f8cff951-2146-8b4e-b9e2-fb469e7c0dd9 slot 1: first call" "$TMP/xtrace"
check "slot calls are counted at exit" grep -q "# export table f8cff951-2146-8b4e-b9e2-fb469e7c0dd9 slot 1: 2 calls" "$TMP/xtrace"
check "and the other slot" grep -q "# export table f8cff951-2146-8b4e-b9e2-fb469e7c0dd9 slot 2: 1 calls" "$TMP/xtrace"

# Finding the driver: never the shim itself, never another copy of it.
mkdir "$TMP/drv" "$TMP/shim2"
cp "$FAKECUDA" "$TMP/drv/libcuda.so.1"
cp "$SHIM_DIR/libcuda.so.1" "$TMP/shim2/libcuda.so.1"
out=$(LD_LIBRARY_PATH=$SHIM_DIR:$TMP/shim2:$TMP/drv "$PROBE" 2>&1)
check "the driver is found along LD_LIBRARY_PATH, past the shims" grep -qx "devices 3" <<<"$out"
out=$(run env OPENMPS_REAL_DRIVER="$TMP/shim2/libcuda.so.1" 2>&1)
check "a shim named as the driver is refused" grep -q "^openmps: no CUDA driver found at $TMP/shim2/libcuda.so.1 (missing, not loadable, or an openmps shim)" <<<"$out"
check "and calls fail cleanly" grep -qx "cuInit 100" <<<"$out"
check "trampolines too" grep -qx "missing trampoline 100" <<<"$out"
out=$(run env OPENMPS_REAL_DRIVER=/nonexistent/libcuda.so.1 OPENMPS_TRACE=1 2>&1)
check "no driver: cuInit says CUDA_ERROR_NO_DEVICE" grep -qx "cuInit 100" <<<"$out"
check "no driver: the trace says why" grep -q "# cuInit: no CUDA driver was found" <<<"$out"
# openmps run: the shim in front, the program unmodified, tracing on request.
OMPS=$OPENMPS_BIN/openmps
out=$(OPENMPS_REAL_DRIVER="$FAKECUDA" "$OMPS" run -- "$PROBE" 2>&1)
check "openmps run: the program runs over the shim" grep -qx "devices 3" <<<"$out"
out=$(OPENMPS_REAL_DRIVER="$FAKECUDA" "$OMPS" run -- env)
check "openmps run: the shim comes first on LD_LIBRARY_PATH" grep -q "^LD_LIBRARY_PATH=$SHIM_DIR" <<<"$out"
out=$(OPENMPS_REAL_DRIVER="$FAKECUDA" "$OMPS" run --trace="$TMP/run.trace" -- "$PROBE" 2>&1)
check "openmps run --trace=FILE traces" grep -q "cuInit(Flags=0) = 0 CUDA_SUCCESS" "$TMP/run.trace"
out=$("$OMPS" run 2>&1)
check "openmps run without a program exits 2" test $? -eq 2
check "and says so" grep -q "which program?" <<<"$out"
out=$("$OMPS" run -- /nonexistent/prog 2>&1)
check "an unrunnable program exits 127" test $? -eq 127
"$OMPS" bogus 2>/dev/null
check "an unknown command exits 2" test $? -eq 2
finish
