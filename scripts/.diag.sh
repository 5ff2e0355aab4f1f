set -u
export CMAKE_INCLUDE_PATH=$PWD/build-deps/include CMAKE_LIBRARY_PATH=$PWD/build-deps/lib LD_LIBRARY_PATH=$PWD/build-deps/lib
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j16 >/dev/null 2>&1 || { echo build failed; exit 1; }
B=$PWD/build/bin SHIM=$PWD/build/lib/openmps
T=$(mktemp -d); export OPENMPS_PIPE_DIRECTORY=$T/pipe OPENMPS_LOG_DIRECTORY=$T/log
used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }
$B/openmps-control -d
for mode in ctx alloc full; do
 for n in 1 17; do
  l=$(date +%s.%N)
  for i in $(seq $n); do LD_LIBRARY_PATH=$SHIM:$LD_LIBRARY_PATH build/bin/idle_client $l 30 $mode > $T/c$i.out 2>&1 & done
  for k in $(seq 100); do [ "$(cat $T/c*.out | grep -c ready)" -ge $n ] && break; sleep 0.2; done
  sleep 1; echo "$mode $n: $(used) MiB, ready $(cat $T/c*.out | grep -c ready)"
  if [ $n = 17 ]; then srv=$(pgrep -n openmps-server); ls -l /proc/$srv/fd | awk 'NR>1{print $NF}' | sed 's/[0-9]//g' | sort | uniq -c | sort -rn | head -4; fi
  pkill -f "idle_client $l"; wait 2>/dev/null; rm -f $T/c*.out; sleep 1
 done
done
echo "quit" | $B/openmps-control; sleep 1
echo "ulimit: $(ulimit -Sn) $(ulimit -Hn)"
