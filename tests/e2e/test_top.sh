# openmps top in a real terminal (tmux): each client's row with its rates,
# a busy client above an idle one, the sort keys, q; its plain frames (-b)
# for scripts; and a clear error without a daemon or a terminal.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "SKIP: tmux is not installed"; exit 77; }
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA
TOP=$OPENMPS_BIN/openmps
out=$("$TOP" top -b -n 1 2>&1)
check "no daemon: top says so and fails [$out]" grep -q "Cannot find openmps control daemon" <<<"$out"
check "bad arguments: usage, status 2" test "$("$TOP" top -d 0 >/dev/null 2>&1; echo $?)" = 2

start_daemon
PROBE=$OPENMPS_BIN/omps-stats-probe
export LD_LIBRARY_PATH=$SHIM_DIR # the clients' (top is linked with no libcuda)
"$PROBE" 1 $((4 << 20)) "$TMP/go" >"$TMP/idle.out" 2>&1 &
idle=$!
"$PROBE" 1 65536 "$TMP/go" 5 >"$TMP/busy.out" 2>&1 & # a copy and a kernel every 5 ms
busy=$!
wait_for "both clients to work" 20 grep -q worked "$TMP/idle.out"
wait_for "... the busy one too" 20 grep -q worked "$TMP/busy.out"
kernels() { c "ps --json" | python3 -c "import json, sys; print([k['kernels'] for s in json.load(sys.stdin)['servers'] for k in s['clients'] if k['pid'] == $1])"; }
wait_for "the idle client's work to be counted" 10 eval '[ "$(kernels $idle)" = "[1]" ]'

mem() { c "ps --json" | python3 -c "import json, sys; print([k['memory'][0]['used'] for s in json.load(sys.stdin)['servers'] for k in s['clients'] if k['pid'] == $1])"; }
# A client that never pauses long (a call every 5 ms) still has its memory
# reported (it showed none until it paused for 20 ms).
wait_for "the busy client's memory in ps [$(mem $busy)]" 5 eval '[ "$(mem $busy)" = "[65536]" ]'
out=$("$TOP" top -b -n 3 -d 1 2>&1)
check "top -b: three frames [$out]" test "$(grep -c '^openmps top - ' <<<"$out")" = 3
last=$(awk '/^openmps top - /{f=""} {f = f $0 "\n"} END {printf "%s", f}' <<<"$out")
row() { grep -E "^ *$1 " <<<"$2"; }
kps() { row "$1" "$2" | awk '{print $9}'; }
gpu() { row "$1" "$2" | awk '{print $8}'; }
check "the busy client's kernels a second, in the last frame [$(row $busy "$last")]" test "$(kps $busy "$last")" -gt 20
check "... and it is active" grep -q " active " <<<"$(row $busy "$last")"
check "... its work queued on the GPU most of the time (GPU%) [$(gpu $busy "$last")]" test "$(gpu $busy "$last")" -ge 50
check "the idle one's are 0, and it is idle [$(row $idle "$last")]" grep -qE " 0 +0 +0 +0.0 +0 idle " <<<"$(row $idle "$last")"
check "rows sorted by kernels a second: busy first" \
	test "$(grep -E "^ *($busy|$idle) " <<<"$last" | head -1 | awk '{print $1}')" = $busy

# The terminal: tmux runs top at 200 columns; capture-pane shows what a user sees.
tmux -L "omps$$" new-session -d -s top -x 200 -y 30 \
	"OPENMPS_PIPE_DIRECTORY=$OPENMPS_PIPE_DIRECTORY '$TOP' top -d 0.3; echo top-exited >'$TMP/top.exit'"
pane() { tmux -L "omps$$" capture-pane -p -t top 2>/dev/null; }
first_row() { pane | grep -E "^ *($busy|$idle) " | head -1 | awk '{print $1}'; }
shows() { pane | grep -qE "$1"; }
wait_for "top to show the busy client's rate" 10 shows "^ *$busy .* active "
check "sorted by kernels a second, marked [$(pane | grep PID)]" shows "\*KERN/S"
check "busy first" test "$(first_row)" = $busy
tmux -L "omps$$" send-keys -t top m
wait_for "m: sorted by memory, the idle client (4 MiB) first" 5 eval '[ "$(first_row)" = $idle ]'
check "... MEM marked" shows "\*MEM"
tmux -L "omps$$" send-keys -t top p
lo=$((busy < idle ? busy : idle))
wait_for "p: sorted by pid, lowest first" 5 eval '[ "$(first_row)" = $lo ] && shows "\*PID"'
check "the key line is on screen" shows "q quit"
tmux -L "omps$$" send-keys -t top q
wait_for "q: top exits" 5 test -e "$TMP/top.exit"
tmux -L "omps$$" kill-server 2>/dev/null

out=$("$TOP" top </dev/null 2>&1 | cat)
check "without a terminal, top says to use -b [$out]" grep -q "needs a terminal; -b prints plain frames" <<<"$out"
touch "$TMP/go"
wait $idle $busy
check "the clients pass" test "$(cat "$TMP"/idle.out "$TMP"/busy.out | grep -c 'stats_probe: PASS')" = 2
stop_daemon 10
finish
