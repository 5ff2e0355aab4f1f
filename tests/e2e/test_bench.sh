# bench/run --dry over fakecuda, with the binaries of this build: the harness
# of every way of sharing the GPU, not figures. Each point must count work
# from every worker: the workers start together once all are ready, and the
# ResNet-50 stand-in (tests/e2e/standin) takes a second to be, so a start
# given before it would leave its first windows empty.
. "$(dirname "$0")/lib.sh"
ROOT=$(realpath "$(dirname "$0")/../..")
# Within a bound of its own, well under the watchdog's: a hang here says
# where bench/run was, with no sleep of it left behind (timeout ends its
# process group; bench/run's exit stops the daemons).
TMPDIR=$TMP OPENMPS_BUILD=$(dirname "$OPENMPS_BIN") RESNET_WORKERS="1 4" \
	timeout -k 5 240 "$ROOT/bench/run" --dry full qos resnet >"$TMP/tsv" 2>"$TMP/log"
rc=$?
check "bench/run --dry ends well, within 240 s" test $rc -eq 0 || { echo "exit $rc; its log ends:"; tail -5 "$TMP/log"; }
points() { awk -F'\t' -v w="$1" '$1 ~ w && NF == 7' "$TMP/tsv"; }
check "full: 2, 4 and 8 clients in three modes" test "$(points '^full$' | wc -l)" -eq 9
check "resnet: 3 batch sizes of 1 and 4 workers in three modes" test "$(points '^resnet-b' | wc -l)" -eq 18
check "qos: the timed client's median and p99 in 4 cases, the hog's rate in 4, eight at 12% (openmps; NVIDIA MPS needs a GPU)" \
	test "$(points '^qos-' | wc -l)" -eq 15
check "qos: eight at 12%: their sum is at least the fastest one's" awk -F'\t' '
	$1 == "qos-8x12-max" {m = $4} $1 == "qos-8x12-sum" {s = $4}
	END {exit !(m > 0 && s >= m)}' "$TMP/tsv"
check "every point counted work in every repetition" \
	test "$(awk -F'\t' 'NF == 7 && !/^#/ && !($5 > 0)' "$TMP/tsv" | wc -l)" -eq 0
awk -F'\t' 'NF == 7 && !/^#/ && !($5 > 0)' "$TMP/tsv" | head -3
# A worker late by the stand-in's second would still count its later windows:
# four workers in one window count four times one worker's images in it.
check "four ResNet-50 workers count about four times one" awk -F'\t' '
	$1 == "resnet-b1" && $3 == "openmps" {v[$2] = $4}
	END {exit !(v[1] > 0 && v[4] > 3 * v[1])}' "$TMP/tsv"
check "so is the server's CPU time per 1,000 kernels, for openmps's points" \
	test "$(grep -cE "^bench: full [248] openmps: the server's CPU time per 1,000 kernels: [0-9.]+ ms$" "$TMP/log")" -eq 3
check "the CPUs' use is logged for each point" grep -qE "^bench: full 2 openmps: CPUs [0-9]+% busy of [0-9]+; the server took [0-9.]+ of them" "$TMP/log"
# ... sampled inside each measured window (0.3 s in --dry), not an hour
# after it or before it (an epoch rounded to six digits did both): a line
# for each of full's 9 points and resnet's 18 (3 modes, 2 worker counts, 3 batches)
check "the CPUs are sampled inside the measured windows" awk '
	/CPUs .* busy of/ {
		n++
		if (!match($0, /\(from -?[0-9.]+ s to -?[0-9.]+ s of the window\)/)) {bad++; next}
		split(substr($0, RSTART, RLENGTH), w, " ")
		if (!(w[2] >= 0 && w[2] < 1 && w[5] > w[2])) {bad++; print "  " $0}
	}
	END {exit !(n == 9 + 18 && !bad)}' "$TMP/log"
# Its daemons (one a mode), found by their pipe directory under bench/run's own.
left() {
	local e
	for e in /proc/[0-9]*/environ; do
		tr '\0' '\n' 2>/dev/null <"$e" | grep -q "^OPENMPS_PIPE_DIRECTORY=$TMP/omps-bench" && echo "${e//[^0-9]/}"
	done
}
check "bench/run leaves no daemon or server behind" test -z "$(left)"

# bench/ab: two builds alternated (here this one twice), a row a point with
# both medians, the change and the rounds' range.
BUILD=$(dirname "$OPENMPS_BIN")
TMPDIR=$TMP timeout -k 5 120 "$ROOT/bench/ab" --dry --rounds 2 "$BUILD" "$BUILD" launch >"$TMP/ab" 2>"$TMP/ablog"
rc=$?
check "bench/ab --dry ends well [exit $rc]" test $rc -eq 0
check "bench/ab: two rounds, each build once a round" test "$(grep -c 'bench/ab: round [12] of 2, [AB] done' "$TMP/ablog")" -eq 4
check "bench/ab: launch+synchronize, A, B, the change and its range [$(grep launch_sync_us "$TMP/ab")]" \
	grep -qE '^launch_sync_us +1 +us +[0-9.e+-]+ +[0-9.e+-]+ +[+-][0-9.]+% +[+-][0-9.]+% +[+-][0-9.]+%$' "$TMP/ab"
# Stopped in its second round (a timeout's TERM): the first round's table.
TMPDIR=$TMP "$ROOT/bench/ab" --dry --rounds 3 "$BUILD" "$BUILD" launch >"$TMP/ab2" 2>"$TMP/ablog2" &
ab=$!
wait_for "bench/ab's first round" 120 grep -q 'round 2 of 3, B done' "$TMP/ablog2"
kill -TERM $ab
wait $ab
rc=$?
check "bench/ab stopped ends well [exit $rc]" test $rc -eq 0
check "bench/ab stopped: said so [$(tail -1 "$TMP/ablog2")]" \
	grep -qx "bench/ab: stopped in round 2; the table has the 1 both builds finished" "$TMP/ablog2"
check "bench/ab stopped: the table of that round [$(grep launch_sync_us "$TMP/ab2")]" \
	grep -qE '^launch_sync_us +1 +us +[0-9.e+-]+ +[0-9.e+-]+ +[+-][0-9.]+%' "$TMP/ab2"
check "bench/ab stopped: its header counts it" grep -q "; 1 rounds of 3," "$TMP/ab2"
out=$("$ROOT/bench/ab" --dry "$TMP" "$BUILD" 2>&1)
check "bench/ab: a directory that is no build is refused, and named [$out]" \
	grep -qx "bench/ab: $TMP is not a build directory (no bin/openmps-control)" <<<"$out"
check "bench/ab leaves no daemon or server behind" test -z "$(left)"
finish
