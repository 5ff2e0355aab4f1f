# Helpers for the end-to-end tests: a private daemon in a temporary pipe
# directory, the real openmps-server with tests/fakecuda as its driver, and
# test clients in the background. Each check that fails is reported and
# counted; finish() turns the count into the exit status.
set -u
: "${OPENMPS_BIN:?set OPENMPS_BIN to the bin directory of the build}"
: "${FAKECUDA:?set FAKECUDA to libopenmps-fakecuda.so}"

TMP=$(mktemp -d /tmp/omps.XXXXXX)
chmod 755 "$TMP" # other users' test clients must reach the pipe directory
export OPENMPS_PIPE_DIRECTORY=$TMP/pipe OPENMPS_LOG_DIRECTORY=$TMP/log OPENMPS_DRIVER_PATH=$FAKECUDA
# Daemons detach from the terminal: sanitizer reports go to files, which
# finish() turns into failures.
mkdir -m 1777 "$TMP/san"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$TMP/san/asan" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$TMP/san/ubsan"
unset CUDA_MPS_ACTIVE_THREAD_PERCENTAGE CUDA_MPS_PINNED_DEVICE_MEM_LIMIT CUDA_MPS_CLIENT_PRIORITY
CTL=$OPENMPS_BIN/openmps-control
CLIENT=$OPENMPS_BIN/omps-test-client
FAILS=0
CHECKS=0

# The processes this test started (clients, daemons, servers), found by the
# pipe directory in their environment.
ours() {
	local e pid
	for e in /proc/[0-9]*/environ; do
		pid=${e#/proc/}
		pid=${pid%/environ}
		[ "$pid" = $$ ] && continue
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		openmps-control | openmps-server | omps-*) ;;
		*) continue ;;
		esac
		tr '\0' '\n' 2>/dev/null <"$e" | grep -qx "OPENMPS_PIPE_DIRECTORY=$OPENMPS_PIPE_DIRECTORY" && echo "$pid"
	done
}

# What a process and each of its threads wait in (and the kernel's stack,
# where it may be read): what a hung test shows before it is killed.
describe() {
	local t
	echo "--- process $1: $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)"
	for t in /proc/"$1"/task/*; do
		printf '  thread %s %s: state %s, in %s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
			"$(awk '/^State/ {print $2}' "$t/status" 2>/dev/null)" "$(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/    /' "$t/stack" 2>/dev/null | head -n 8
	done
}

kill_ours() {
	local pid
	for pid in $(ours); do
		kill -9 "$pid" 2>/dev/null
	done
}

cleanup() {
	local pid
	: >"$TMP/finished" # the watchdog, woken by the kills below, sees it and says nothing
	if [ -s "$TMP/watchdog.pid" ]; then
		pid=$(cat "$TMP/watchdog.pid")
		pkill -P "$pid" 2>/dev/null # its sleep first: once the watchdog is gone, the sleep is no one's child
		kill "$pid" 2>/dev/null
	fi
	kill_ours
	[ -n "${OMPS_KEEP_TMP:-}" ] && cp -r "$TMP" "$OMPS_KEEP_TMP"; rm -rf "$TMP"
}
trap cleanup EXIT

# Past OMPS_TEST_TIMEOUT seconds (CMake sets it a little under CTest's own
# timeout) the watchdog shows what this test's processes wait in and kills
# them, and the test fails: CTest would kill only this shell, and a daemon
# left behind would keep CTest waiting on its output.
watchdog() {
	local pid n=0
	sleep "$1" </dev/null >/dev/null 2>&1 &
	wait $!
	{ [ -e "$TMP/finished" ] || [ ! -d "$TMP" ]; } && exit 0
	echo "TIMEOUT: the test ran past $1 s"
	# The machine first: a test slowed by a starved or swapping machine
	# differs from one that hangs.
	echo "--- load: $(cat /proc/loadavg)"
	grep -E '^(MemTotal|MemAvailable|SwapFree|Shmem):' /proc/meminfo | tr -s ' ' | tr '\n' ' '
	echo
	echo "--- server.log"; tail -n 30 "$OPENMPS_LOG_DIRECTORY/server.log" 2>/dev/null
	echo "--- what its processes wait in:"
	for pid in $(ours); do
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		omps-*) n=$((n + 1)) && [ $n -gt 8 ] && continue ;; # clients: the first eight
		esac
		describe "$pid"
	done
	kill_ours
	kill -TERM $$
}
if [ -n "${OMPS_TEST_TIMEOUT:-}" ]; then
	# Not a job of this shell: the tests' own "wait" must not wait for it.
	(
		watchdog "$OMPS_TEST_TIMEOUT" &
		echo $! >"$TMP/watchdog.pid"
	)
	trap 'fail "timed out after $OMPS_TEST_TIMEOUT s"; finish' TERM
fi

fail() {
	echo "FAIL (line ${BASH_LINENO[1]:-?}): $*" >&2
	FAILS=$((FAILS + 1))
}

check() { # check DESCRIPTION COMMAND...: the command must succeed
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	"$@" || fail "$what"
}

finish() {
	local f
	for f in "$TMP"/san/*; do
		[ -e "$f" ] || continue
		# LeakSanitizer's tracer, when the test killed the process it was
		# checking at its exit (kill-stress does, at random moments): the
		# threads were gone, there was nothing to report.
		if ! grep -qv '^==[0-9]*==Unable to get registers from thread [0-9]*\.$' "$f"; then
			echo "note: $(basename "$f"): a leak check cut short by the test's kill"
			continue
		fi
		fail "sanitizer report $(basename "$f")"
		cat "$f"
	done
	if [ "$FAILS" -ne 0 ]; then
		# What the tails below may have scrolled past: kills and refusals.
		echo "--- control.log: kills and refusals"
		grep -E 'kill|not answered|not ready|refus' "$OPENMPS_LOG_DIRECTORY/control.log" 2>/dev/null | head -n 20
		echo "--- control.log"; cat "$OPENMPS_LOG_DIRECTORY/control.log" 2>/dev/null | tail -n 60
		echo "--- server.log"; cat "$OPENMPS_LOG_DIRECTORY/server.log" 2>/dev/null | tail -n 30
		echo "$FAILS of $CHECKS checks failed"
		exit 1
	fi
	echo "all $CHECKS checks passed"
	exit 0
}

# Whether the build runs under AddressSanitizer: several times slower, and
# tens of MiB a process, so tests that start hundreds of clients start fewer
# and allow for the slowdown in their timing there (the plain build and the
# GPU suite hold them to the full figures).
sanitized() { ldd "$OPENMPS_BIN/openmps-server" | grep -q libasan; }

# c LINE...: send lines to the daemon through the front end.
c() { printf '%s\n' "$@" | "$CTL"; }

# expect LINE OUTPUT [STATUS]: the command prints exactly OUTPUT and exits STATUS (0).
expect() {
	local out rc
	CHECKS=$((CHECKS + 1))
	out=$(c "$1" 2>&1)
	rc=$?
	[ "$out" == "$2" ] || fail "'$1' printed [$out], expected [$2]"
	[ "$rc" -eq "${3:-0}" ] || fail "'$1' exited $rc, expected ${3:-0}"
}

# expect_re LINE REGEX [STATUS]: like expect, with an extended regex.
expect_re() {
	local out rc
	CHECKS=$((CHECKS + 1))
	out=$(c "$1" 2>&1)
	rc=$?
	[[ "$out" =~ $2 ]] || fail "'$1' printed [$out], expected to match /$2/"
	[ "$rc" -eq "${3:-0}" ] || fail "'$1' exited $rc, expected ${3:-0}"
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
	local what=$1 i n=$(($2 * 20))
	shift 2
	CHECKS=$((CHECKS + 1))
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	fail "timed out after $((n * 50)) ms waiting for $what"
	return 1
}

logged() { grep -qE -- "$1" "$OPENMPS_LOG_DIRECTORY/${2:-control}.log" 2>/dev/null; }
not_logged() { ! logged "$@"; }
alive() { kill -0 "$1" 2>/dev/null; }
# A server is dead once the daemon has reaped it, which is just before the
# daemon logs its end: wait for such a line, do not check it at once.
dead() { ! kill -0 "$1" 2>/dev/null; }
daemon_pid() { cat "$OPENMPS_PIPE_DIRECTORY/openmps-control.pid" 2>/dev/null; }
servers() { c get_server_list 2>/dev/null; }
has_servers() { [ -n "$(servers)" ]; }
no_servers() { [ -z "$(servers)" ]; }

# stop_daemon [SECONDS]: quit, and wait (10 s) until the daemon is gone.
stop_daemon() {
	local dpid
	dpid=$(daemon_pid)
	c quit >/dev/null
	wait_for "the daemon to quit" "${1:-10}" dead "$dpid"
}

start_daemon() {
	CHECKS=$((CHECKS + 1))
	"$CTL" -d "$@" || fail "the daemon did not start"
}

# client NAME [ARGS...]: a test client in the background; client_end tells
# it to leave (SIGTERM) and returns its exit status.
client() {
	local name=$1
	shift
	"$CLIENT" "$@" </dev/null >"$TMP/$name.out" 2>&1 &
	printf -v "${name}_pid" %s $!
}

client_says() { grep -qE -- "$2" "$TMP/$1.out" 2>/dev/null; }
client_out() { cat "$TMP/$1.out"; }

# probe_pid FILE: the pid a probe printed first ("name: pid PID").
probe_pid() { sed -n 's/^[a-z_]*: pid \([0-9]*\)$/\1/p' "$1"; }

# client_wait NAME REGEX: waits until the client printed a matching line.
client_wait() {
	wait_for "client $1 to print /$2/ (it printed: $(cat "$TMP/$1.out" 2>/dev/null))" 5 client_says "$1" "$2"
}

client_end() {
	local pidvar=${1}_pid
	kill -TERM "${!pidvar}" 2>/dev/null
	wait "${!pidvar}"
}

# client_status NAME: waits for the client to exit by itself.
client_status() {
	local pidvar=${1}_pid
	wait "${!pidvar}"
}

# server_of NAME: the server pid a client was admitted to.
server_of() { sed -n 's/.*server=\([0-9]*\).*/\1/p' "$TMP/$1.out"; }
