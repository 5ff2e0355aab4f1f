# Diagnostic: the PyTorch probe traced through openmps; failing calls and the server log.
export CMAKE_INCLUDE_PATH=$PWD/build-deps/include CMAKE_LIBRARY_PATH=$PWD/build-deps/lib LD_LIBRARY_PATH=$PWD/build-deps/lib
cmake -S . -B build >/dev/null && cmake --build build -j16 >/dev/null 2>&1 || { echo build failed; exit 1; }
B=$PWD/build/bin SHIM=$PWD/build/lib/openmps
T=$(mktemp -d); export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
$B/openmps-control -d
LD_LIBRARY_PATH=$SHIM:$LD_LIBRARY_PATH OPENMPS_TRACE=1 OPENMPS_TRACE_FILE=$T/trace timeout 200 python3 tests/gpu/torch_probe.py 2>&1 | grep torch_probe
echo "== failing calls"; grep -E ' = [1-9][0-9]* ' $T/trace | grep -v 'cuGetProcAddress\|GetExportTable' | sort | uniq -c | sort -rn | head -20
echo "== calls before the first invalid argument"; grep -n ' = 1 ' $T/trace | head -3; n=$(grep -n ' = 1 CUDA' $T/trace | head -1 | cut -d: -f1); [ -n "$n" ] && sed -n "$((n-8)),$((n))p" $T/trace | cut -c1-300
echo "== server.log"; grep -v "admitted\|connected\|data channel" $T/log/server.log | tail -15
echo quit | $B/openmps-control
