# Whom the shim talks to (security review H3): only a daemon and a server
# run by root or by the program's own user, in a pipe directory nobody else
# can write. Anything else is refused before a byte is sent, with one line
# on stderr, and the program runs natively, or with OPENMPS_REQUIRE_SERVER=1
# fails at cuInit. With no daemon at all the shim says so once.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-remote-probe
NOBODY=65534
# The program, natively against fakecuda when the shim does not connect.
probe() { LD_LIBRARY_PATH=$SHIM_DIR OPENMPS_REAL_DRIVER=$FAKECUDA "$@" "$PROBE" --bytes 4096 2>&1; }
said() { grep -c '^openmps: ' <<<"$1"; }
native() { grep -q "^allocated 8192 bytes" <<<"$1"; } # fakecuda serves it directly

# A daemon that is not one (omps-hostile-client listen): it logs each
# connection and each message it gets, what a squatter would collect.
fake() { # OUTFILE PATH [COMMAND...]: in the background, run by COMMAND
	local out=$1 path=$2
	shift 2
	"$@" "$OPENMPS_BIN/omps-hostile-client" listen "$path" >"$out" 2>&1 &
	echo $! >>"$TMP/fake.pids"
	wait_for "the fake daemon to listen" 5 grep -q listening "$out"
}
end() {
	kill $(cat "$TMP/fake.pids") 2>/dev/null
	finish
}

# 1. No daemon: native, said once.
out=$(probe env)
check "no daemon: the program runs natively ($out)" native "$out"
check "and is told so, once" test "$(said "$out")" -eq 1
check "in one line: where and why" grep -qx \
	"openmps: no daemon at $OPENMPS_PIPE_DIRECTORY (No such file or directory); running natively" <<<"$out"
out=$(probe env OPENMPS_REAL_DRIVER=/nonexistent/libcuda.so.1)
check "natively with no driver: told that too, once" test "$(grep -c "^openmps: no CUDA driver found at /nonexistent/libcuda.so.1" <<<"$out")" -eq 1
out=$(probe env OPENMPS_NATIVE=1)
check "OPENMPS_NATIVE=1: native without a word" test "$(said "$out")" -eq 0
check "and runs" native "$out"
out=$(probe env OPENMPS_REQUIRE_SERVER=1)
check "OPENMPS_REQUIRE_SERVER=1 and no daemon: cuInit fails" grep -qx "remote_probe: FAIL cuInit(0) = 805" <<<"$out"
check "and says why" grep -qx "openmps: no daemon at $OPENMPS_PIPE_DIRECTORY (No such file or directory); OPENMPS_REQUIRE_SERVER is set, so CUDA calls fail with CUDA_ERROR_MPS_CONNECTION_FAILED" <<<"$out"

# 2. A pipe directory anyone can write (as the temp directory is): whatever
# listens there may be anyone's. Refused before connecting.
mkdir -m 1777 "$OPENMPS_PIPE_DIRECTORY"
fake "$TMP/fake1.out" "$OPENMPS_PIPE_DIRECTORY/control"
out=$(probe env)
check "a world-writable directory is refused ($out)" grep -qx \
	"openmps: refusing the daemon at $OPENMPS_PIPE_DIRECTORY (the directory is writable by others: mode 1777); running natively" <<<"$out"
check "the program runs natively" native "$out"
out=$(probe env OPENMPS_REQUIRE_SERVER=1)
check "or fails, if the user said so" grep -qx "remote_probe: FAIL cuInit(0) = 805" <<<"$out"
check "the listener never heard from it" test "$(grep -c connection "$TMP/fake1.out")" -eq 0
kill $(cat "$TMP/fake.pids")
rm -rf "$OPENMPS_PIPE_DIRECTORY"

# 3. The daemon's side (M7): it opens each directory once, follows no link
# in it, and uses that descriptor for every file: a pid file planted as a
# link to another file is replaced, not written through; a pipe directory
# that is a link, or a log that is one, is refused.
mkdir -m 0700 "$OPENMPS_PIPE_DIRECTORY"
echo "precious" >"$TMP/victim"
ln -s "$TMP/victim" "$OPENMPS_PIPE_DIRECTORY/openmps-control.pid"
start_daemon
check "a pid file planted as a link: the file it named is untouched" test "$(cat "$TMP/victim")" = precious
check "and the pid file is a file of the daemon's" test ! -L "$OPENMPS_PIPE_DIRECTORY/openmps-control.pid" -a -n "$(daemon_pid)"
check "the socket is open to every user the directory lets in (0666)" test "$(stat -c %a "$OPENMPS_PIPE_DIRECTORY/control")" = 666
stop_daemon
mv "$OPENMPS_PIPE_DIRECTORY" "$TMP/real-pipe"
ln -s "$TMP/real-pipe" "$OPENMPS_PIPE_DIRECTORY"
out=$("$CTL" -d 2>&1)
check "a pipe directory that is a link is refused [$out]" grep -q "the pipe directory $OPENMPS_PIPE_DIRECTORY is not a directory (a symbolic link)" <<<"$out"
rm "$OPENMPS_PIPE_DIRECTORY"
mv "$OPENMPS_LOG_DIRECTORY/control.log" "$TMP/old-control.log"
ln -s "$TMP/victim" "$OPENMPS_LOG_DIRECTORY/control.log"
out=$("$CTL" -d 2>&1)
check "a log that is a link is refused [$out]" grep -q "cannot open the logs in $OPENMPS_LOG_DIRECTORY: Too many levels of symbolic links" <<<"$out"
check "and not written through" test "$(cat "$TMP/victim")" = precious
rm "$OPENMPS_LOG_DIRECTORY/control.log"
rm -rf "$OPENMPS_PIPE_DIRECTORY"

# NVIDIA's variables name the directories where ours are unset: a daemon
# and its programs that know only CUDA_MPS_PIPE_DIRECTORY and
# CUDA_MPS_LOG_DIRECTORY (a cluster set up for NVIDIA MPS) work unchanged;
# a directory of NVIDIA MPS's (no openmps-control.pid) is left alone.
nv() { env -u OPENMPS_PIPE_DIRECTORY -u OPENMPS_LOG_DIRECTORY CUDA_MPS_PIPE_DIRECTORY="$TMP/nv-pipe" \
	CUDA_MPS_LOG_DIRECTORY="$TMP/nv-log" "$@"; }
nv "$CTL" -d
out=$(nv env LD_LIBRARY_PATH=$SHIM_DIR OPENMPS_REAL_DRIVER=$FAKECUDA "$PROBE" --bytes 4096 2>&1)
check "CUDA_MPS_PIPE_DIRECTORY alone: the program goes through the daemon there" grep -qx "remote_probe: PASS" <<<"$out"
check "whose log is in CUDA_MPS_LOG_DIRECTORY" grep -q "opened its data channel" "$TMP/nv-log/server.log"
echo quit | nv "$CTL" >/dev/null
wait_for "that daemon to quit" 5 test ! -e "$TMP/nv-pipe/openmps-control.pid"
mkdir -m 0700 "$TMP/nvidia-mps"
fake "$TMP/fake-nv.out" "$TMP/nvidia-mps/control"
out=$(env -u OPENMPS_PIPE_DIRECTORY CUDA_MPS_PIPE_DIRECTORY="$TMP/nvidia-mps" LD_LIBRARY_PATH=$SHIM_DIR \
	OPENMPS_REAL_DRIVER=$FAKECUDA "$PROBE" --bytes 4096 2>&1)
check "NVIDIA MPS's directory: left alone, the program runs natively [$(grep '^openmps:' <<<"$out")]" \
	grep -q "^openmps: no openmps daemon at $TMP/nvidia-mps (CUDA_MPS_PIPE_DIRECTORY, no openmps-control.pid: NVIDIA MPS's?); running natively" <<<"$out"
check "and its daemon never heard from it" test "$(grep -c connection "$TMP/fake-nv.out")" -eq 0
kill $(cat "$TMP/fake.pids")

# 4. The real daemon still serves, in a directory of its own making.
start_daemon
out=$(probe env)
check "the real daemon serves the program" grep -qx "remote_probe: PASS" <<<"$out"
check "and says nothing of daemons" test "$(grep -c "^openmps: .*daemon" <<<"$out")" -eq 0
stop_daemon

# 5. Another user's daemon (root only: it takes a second user).
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null ||
	! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups test -x "$OPENMPS_BIN/omps-hostile-client"; then
	echo "note: not root, no setpriv, or a private checkout: another user's daemon not tried"
	end
fi
# Its own directory: refused for the directory's owner.
D=$TMP/squat
mkdir -m 0755 "$D"
chown $NOBODY "$D"
fake "$TMP/fake2.out" "$D/control" setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups
out=$(probe env OPENMPS_PIPE_DIRECTORY="$D")
check "another user's directory is refused ($out)" grep -qx \
	"openmps: refusing the daemon at $D (the directory belongs to user $NOBODY, neither root nor you (0)); running natively" <<<"$out"
check "before connecting" test "$(grep -c connection "$TMP/fake2.out")" -eq 0
# Its socket moved into a directory of ours (a rename race, or a careless
# operator): refused for whoever listens, before a byte is sent.
mkdir -m 0755 "$TMP/ours"
mv "$D/control" "$TMP/ours/control"
out=$(probe env OPENMPS_PIPE_DIRECTORY="$TMP/ours")
check "another user's listener is refused ($out)" grep -qx \
	"openmps: refusing the daemon at $TMP/ours (its control daemon runs as user $NOBODY, neither root nor you (0)); running natively" <<<"$out"
check "the program runs natively" native "$out"
check "the listener saw the connection" test "$(grep -c connection "$TMP/fake2.out")" -eq 1
check "and not a byte of it" test "$(grep -c message "$TMP/fake2.out")" -eq 0
end
