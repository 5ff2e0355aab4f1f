# scripts/gpu-check section 15, sourced by it (note, B, SHIM and OUT are its).
# 15. Faults in a row (issue 15's numbers): FAULT_SOAK culprits (default
# 100), one after another, each a new process with a fault of the next kind
# (illegal, trap, assert, misaligned), through one openmps daemon, while
# NEIGHBOURS clients (default 8) run vector_add in a loop beside them and
# one idle neighbour (tests/gpu/fault.cu neighbour) holds 64 MiB. Then: did
# the idle neighbour find its data and run (kept through every fault)?
# How many of the busy ones' runs passed, failed, and did every one of them
# pass after the last fault? The GPU memory in use and the server's
# descriptors and resident memory before the first fault and after the
# last; the time from a fault seen to serving again (server.log). Each
# fault is handed to the standby the last server started (standby.c), so
# the server's pid changes; OPENMPS_FAULT_STANDBY=0 in the environment
# makes the server anew in its own process instead; FAULT_SOAK_READY=1
# waits for each server's standby before its fault. SOAK_SUITE=1: the busy
# neighbours run the GPU suite's programs (tests/gpu/build-suite), each
# neighbour from its own place in the list, rather than vector_add; each
# failed run is then told apart by its pid in server.log: work in flight
# at a fault (its error is its to see), not kept (and why), or neither.
# Lines as one, "; " between them (reasons hold quotes: no xargs).
joined() { sed 's/^ *//' | paste -sd ';' - | sed 's/;/; /g'; }
K=$(mktemp -d /tmp/omps-soak.XXXX)
{
	{ built_ahead fault "$K" || nvcc -O2 -o "$K/fault" tests/gpu/fault.cu -lcuda; } &&
		{ built_ahead vector_add "$K" || nvcc -O2 -o "$K/vector_add" tests/gpu/vector_add.cu; } ||
		echo "soak: build failed"
	progs=(vector_add)
	[ "${SOAK_SUITE:-0}" = 1 ] && mapfile -t progs < <(tests/gpu/build-suite "$K")
	export OPENMPS_PIPE_DIRECTORY=$K/pipe OPENMPS_LOG_DIRECTORY=$K/log
	"$B/openmps-control" -d
	# Each program through openmps, for at most LIMIT seconds (60 unless said).
	run() { LD_LIBRARY_PATH=$SHIM:${LD_LIBRARY_PATH:-} OPENMPS_REQUIRE_SERVER=1 timeout "${LIMIT:-60}" "$@"; }
	# One run of program $1 through openmps: "PID NAME pass|fail", its
	# output in $2 (the pid is the client's: bash execs the program).
	one() {
		run bash -c 'echo "pid $$"; exec "$@"' _ "$K/$1" >"$2" 2>&1
		local st=$? pid
		pid=$(sed -n 's/^pid //p' "$2" | head -1)
		if [ $st = 0 ] && { [ "$1" = vector_add ] || { grep -q ": PASS" "$2" && ! grep -q ": FAIL" "$2"; }; }; then
			echo "$pid $1 pass"
		else
			echo "$pid $1 fail"
			cp "$2" "$K/failed-$pid.out" # its words, for a failure of no known cause
		fi
	}
	# The idle neighbour waits through the whole soak (run's 60 s ended it
	# in a soak of 30 faults: its last words were "filled", not PASS).
	LIMIT=3600 run "$K/fault" neighbour "$K/go" >"$K/idle.out" 2>&1 &
	idle=$!
	for i in $(seq 100); do grep -q filled "$K/idle.out" 2>/dev/null && break; sleep 0.1; done
	for n in $(seq "${NEIGHBOURS:-8}"); do
		(k=$((n * 7)); while [ ! -e "$K/stop" ]; do
			one "${progs[$((k % ${#progs[@]}))]}" "$K/run-$n.out"
			k=$((k + 1))
		done >"$K/busy-$n.out") &
	done
	sleep 2
	S=$(echo get_server_list | "$B/openmps-control")
	gpu0=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
	fd0=$(ls /proc/"$S"/fd | wc -l) rss0=$(awk '/VmRSS/ {print $2}' /proc/"$S"/status)
	kinds=(illegal trap assert misaligned)
	# FAULT_SOAK_SECONDS (default 420): no fault starts past it, so that a
	# slow soak still reports within a device call's 10 minutes.
	until=$((SECONDS + ${FAULT_SOAK_SECONDS:-420})) faults=0
	for i in $(seq "${FAULT_SOAK:-100}"); do
		[ $SECONDS -lt $until ] || { echo "soak: time is up (FAULT_SOAK_SECONDS) after $faults faults"; break; }
		faults=$i
		# FAULT_SOAK_READY=1: each fault after the server's standby is ready
		# (its chunks mapped ahead), as for a service up a while.
		for w in $(seq 100); do
			[ "${FAULT_SOAK_READY:-0}" = 1 ] || break
			grep -E 'Standing by|Handed over to the standby|Cannot map the server' "$K/log/server.log" |
				tail -1 | grep -q 'Standing by' && break
			sleep 0.1
		done
		run "$K/fault" "${kinds[$((i % 4))]}" >/dev/null 2>&1
		for w in $(seq 50); do # each fault handed over before the next
			[ "$(grep -c 'Server made anew' "$K/log/server.log")" -ge "$i" ] && break
			sleep 0.1
		done
	done
	sleep 2
	touch "$K/stop" "$K/go"
	wait $idle
	wait
	after=$(for n in $(seq "${NEIGHBOURS:-8}"); do one vector_add "$K/after.out"; done | grep -c ' pass$')
	gpu1=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
	S1=$(echo get_server_list | "$B/openmps-control")
	fd1=$(ls /proc/"$S1"/fd 2>/dev/null | wc -l) rss1=$(awk '/VmRSS/ {print $2}' /proc/"$S1"/status 2>/dev/null)
	echo "soak: $faults faults of ${FAULT_SOAK:-100} in $((SECONDS + ${FAULT_SOAK_SECONDS:-420} - until)) s, $(grep -c 'Server made anew' "$K/log/server.log") handed over ($(grep -c 'Handed over to the standby' "$K/log/server.log") to a standby, $(grep -c 'Making the server anew in this process' "$K/log/server.log") in the same process), server $S then $S1"
	echo "soak: idle neighbour: $(tail -1 "$K/idle.out")"
	echo "soak: busy neighbours' runs (${#progs[@]} programs): $(cat "$K"/busy-*.out | grep -c ' pass$') passed, $(cat "$K"/busy-*.out | grep -c ' fail$') failed; after the last fault $after of ${NEIGHBOURS:-8} passed"
	# Each failed run by its pid: in flight at a fault, not kept, or neither.
	L=$K/log/server.log
	grep -o 'Clients with work on the GPU since their last synchronize: [^;]*' "$L" | grep -oE '[0-9]+ \(ID' |
		awk '{print $1}' | sort -u >"$K/inflight"
	grep -oE 'Client process [0-9]+ \(ID [0-9]+\) (cannot be kept|could not be kept after the fault): [^;]*' "$L" |
		sed -E 's/Client process ([0-9]+) \(ID [0-9]+\) [a-z ]+kept( after the fault)?: /\1 /' >"$K/notkept"
	# What each failed run printed, in one file (a device call brings back
	# only so many files): "== PID WHY", then its output.
	saw() { { echo "== $1 $2"; cat "$K/failed-$1.out" 2>/dev/null; } >>"$OUT/soak-failed.txt"; }
	cat "$K"/busy-*.out | awk '$3 == "fail"' | while read -r pid prog st; do
		if grep -qx "$pid" "$K/inflight"; then echo "inflight"
		elif w=$(awk -v p="$pid" '$1 == p {$1 = ""; print; exit}' "$K/notkept") && [ -n "$w" ]; then
			echo "notkept$w"
			saw "$pid" "not kept:$w"
		else echo "other $prog (pid $pid)"; fi
	done >"$K/failed"
	sed -n 's/^other .* (pid \([0-9]*\))$/\1/p' "$K/failed" | while read -r pid; do
		saw "$pid" "failed otherwise"
		echo "soak: failed otherwise, pid $pid: $(grep -vE '^pid ' "$K/failed-$pid.out" 2>/dev/null | tail -2 | joined)"
	done
	echo "soak: failed runs: $(grep -c '^inflight' "$K/failed") had work in flight at a fault (theirs to see), $(grep -c '^notkept' "$K/failed") were not kept ($(sed -n 's/^notkept *//p' "$K/failed" | sort | uniq -c | sort -rn | head -4 | joined)), $(grep -c '^other' "$K/failed") failed otherwise ($(sed -n 's/^other //p' "$K/failed" | head -6 | joined))"
	echo "soak: faults seen by kind: $(grep -o 'poisoned the shared context of device [0-9]*: CUDA_ERROR_[A-Z_]*' "$L" |
		sed 's/.*CUDA_ERROR_//' | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')"
	echo "soak: chunks mapped ahead by the standby: $(grep -o '[0-9]* of [0-9]* client memory chunks were mapped ahead' "$K/log/server.log" | awk '{a += $1; n += $3} END {printf "%d of %d", a, n}'); standbys that could not map one: $(grep -c 'Cannot map the server' "$K/log/server.log"); what held the addresses: $(grep -o 'this process has: .*' "$K/log/server.log" | awk '{print $NF}' | sort | uniq -c | xargs)"
	echo "soak: address windows: $(grep -o 'mapped in an address window of [0-9]*[KMGT]' "$L" | sort | uniq -c | xargs); successors that had the server's: $(grep -c "the server's address window for client memory (.*) is reserved here too" "$L"), that did not: $(grep -c "the server's address window for client memory, at 0x[0-9a-f]*, is not free here" "$L")"
	echo "soak: culprits told apart $(grep -c 'the only one with work queued, faulted' "$L"), calls held over a fault $(grep -c 'failed on the poisoned context; it is held' "$L"), chunks not mapped again $(grep -c 'could not be mapped again' "$L"), clients let go for their memory $(grep -c 'its memory is not where it was' "$L")"
	echo "soak: GPU memory used $gpu0 MiB before, $gpu1 MiB after; server descriptors $fd0 then $fd1, resident $rss0 then $rss1 KiB"
	grep -o 'serving again [0-9.]* ms' "$K/log/server.log" | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {
		if (NR) printf "soak: from a fault seen to serving again: median %.0f ms, max %.0f ms\n", v[int((NR + 1) / 2)], v[NR]}'
	echo "quit -t 5" | "$B/openmps-control" >/dev/null 2>&1
	unset OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY
} >"$OUT/fault-soak.log" 2>&1
while read -r line; do note "$line"; done < <(grep -E '^soak: ' "$OUT/fault-soak.log")
cp "$K/log/server.log" "$OUT/fault-soak-server.log" 2>/dev/null
rm -rf "$K"
