# Static SM partitions (-S, as NVIDIA MPS 13.1's): sm_partition add and rm,
# lspart, and clients bound with CUDA_MPS_SM_PARTITION, over fakecuda's 132
# SMs in 16 chunks of 8: each client's kernels run on its partition's SMs
# only, partitions never overlap, one in use cannot be removed, and a
# client without a partition, or with one that does not exist, is refused
# with the reason. Without -S, the commands and the variable say so.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-qos-probe" "$@"; }
G=GPU-fafbfcfd-feff-0001-0203-040506070809

start_daemon
expect "lspart" "Static SM partitioning is off: start the daemon with -S" 1
expect "sm_partition add $G 4" "Static SM partitioning is off: start the daemon with -S" 1
out=$(CUDA_MPS_SM_PARTITION=$G/1 probe smid 64 2>&1)
check "without -S a client naming a partition is refused, and told why [$out]" \
	grep -q "CUDA_MPS_SM_PARTITION=$G/1: the daemon has no static SM partitions (start it with -S)" <<<"$out"
stop_daemon 10

check "-S is for the daemon" test "$("$CTL" -S get_server_list >/dev/null 2>&1; echo $?)" = 2
out=$(FAKECUDA_INIT_ERROR=100 "$CTL" -d -S 2>&1)
check "-S where the GPUs cannot be asked: the start fails, and says why [$out]" \
	grep -q "static SM partitions: cannot learn the GPUs' SM chunks: openmps-server: .*CUDA_ERROR_NO_DEVICE" <<<"$out"
check "... and takes nothing" test ! -e "$OPENMPS_PIPE_DIRECTORY/control"
start_daemon -S
check "control.log: each GPU's chunks" logged "Static SM partitions \(-S\): $G has 16 chunks of 8 SMs"
expect "sm_partition add GPU-fafb 4" "$G/1"
expect "sm_partition add ${G,,} 10" "$G/2"
expect "sm_partition add $G 3" "Not enough free chunks on $G: 3 asked, 2 free in one run" 1
expect "sm_partition add GPU-0000 1" "Unknown GPU UUID GPU-0000" 1
expect "sm_partition add GPU 1" "Unknown GPU UUID GPU" 1
expect "sm_partition add $G 0" "Invalid chunk count \"0\": $G has 16 chunks of 8 SMs" 1
expect "sm_partition add $G" "Usage: sm_partition add <GPU UUID> <chunks>" 1
expect "sm_partition list" "Usage: sm_partition add <GPU UUID> <chunks> | sm_partition rm <GPU UUID> <partition>" 1
out=$(c lspart)
check "lspart: both partitions, where they are [$out]" \
	grep -qE "^$G +1 +4 +0-3 +32 +no$" <<<"$out"
check "... the second" grep -qE "^$G +2 +10 +4-13 +80 +no$" <<<"$out"
check "... and what is left" grep -qE "^$G +2 of 16 chunks free \(8 SMs each\); 16 SMs free, 112 in partitions$" <<<"$out"

rm -f "$TMP/go"
CUDA_MPS_SM_PARTITION=$G/1 probe smid 1024 wait "$TMP/go" >"$TMP/a.out" 2>&1 &
a=$!
CUDA_MPS_SM_PARTITION=$G/2 probe smid 1024 wait "$TMP/go" >"$TMP/b.out" 2>&1 &
b=$!
wait_for "both clients to run" 10 grep -q "^wait:" "$TMP/a.out"
wait_for "... the second" 10 grep -q "^wait:" "$TMP/b.out"
check "partition 1's client runs on its 32 SMs only [$(head -1 "$TMP/a.out")]" grep -qx "smid: 32 SMs, 0..31" "$TMP/a.out"
check "partition 2's on its 80 [$(head -1 "$TMP/b.out")]" grep -qx "smid: 80 SMs, 32..111" "$TMP/b.out"
check "lspart: both in use" test "$(c lspart | grep -c ' yes$')" = 2
expect "sm_partition rm $G 1" "Partition $G/1 is in use by 1 client" 1
out=$(probe smid 64 2>&1)
check "a client with no partition is refused under -S [$out]" \
	grep -q "the daemon runs with static SM partitions (-S): set CUDA_MPS_SM_PARTITION" <<<"$out"
out=$(CUDA_MPS_SM_PARTITION=$G/7 probe smid 64 2>&1)
check "one naming no partition is refused [$out]" grep -q "CUDA_MPS_SM_PARTITION=$G/7: no such SM partition" <<<"$out"
touch "$TMP/go"
wait $a $b
check "the bound clients pass" test "$(cat "$TMP"/[ab].out | grep -c '^wait:')" = 2
none_in_use() { [ "$(c lspart | grep -c ' yes$')" = 0 ]; }
wait_for "the partitions to be free once their clients left" 10 none_in_use
expect "sm_partition rm $G 1" ""
expect "sm_partition rm $G 1" "Unknown partition 1 on $G" 1
expect "sm_partition add $G 6" "Not enough free chunks on $G: 6 asked, 4 free in one run" 1
expect "sm_partition add $G 4" "$G/3"
out=$(CUDA_MPS_SM_PARTITION=$G/3 probe smid 1024 2>&1 | head -1)
check "a new partition takes the freed chunks first (first fit) [$out]" test "$out" = "smid: 32 SMs, 0..31"
stop_daemon 10
finish
