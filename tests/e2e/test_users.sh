# Two users: NVIDIA's one-user rule (a client of another user waits until the
# running server has drained, then gets a server of its own user), privileges
# on commands, and -M (one server for every user). The second user is uid
# 65534: the test client drops to it after its descriptors are set up.
. "$(dirname "$0")/lib.sh"
NOBODY=65534
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "SKIP: needs root and setpriv to act as a second user"
	exit 77
fi
if ! as_nobody test -x "$OPENMPS_BIN/openmps-server" -a -r "$FAKECUDA"; then
	echo "SKIP: uid $NOBODY cannot run $OPENMPS_BIN/openmps-server (a private checkout directory)"
	exit 77
fi
# An operator opens the pipe directory to other users by creating it so.
mkdir -m 0711 "$OPENMPS_PIPE_DIRECTORY"
start_daemon
check "a pre-made pipe directory keeps its mode" test "$(stat -c %a "$OPENMPS_PIPE_DIRECTORY")" = 711

client a
client_wait a "^admitted "
S0=$(server_of a)
client n --uid $NOBODY
wait_for "the other user's client to be queued" 5 logged "NEW CLIENT $n_pid from user $NOBODY: Server is not ready, push client to pending list"
check "control.log: the running server must drain" logged "Server $S0 of user 0 must drain before user $NOBODY can run"
expect "get_server_status $S0" "SHUTTING_DOWN"
check "the queued client is not admitted yet" test -z "$(client_out n)"
client b
sleep 0.2
check "a later client of the first user waits its turn" test -z "$(client_out b)"
expect "get_client_list $S0" "$a_pid"

client_end a
client_wait n "^admitted "
S1=$(server_of n)
check "the server of user 0 exited" dead "$S0"
check "a new server serves the second user" test -n "$S1" -a "$S1" != "$S0"
check "the new server runs as the second user" test "$(stat -c %u "/proc/$S1")" = $NOBODY
check "control.log: server for the second user" logged "Starting new server $S1 for user $NOBODY"
check "which logs to a file of its own" logged "Server +$S1\] Server has started" "server-$NOBODY"
check "not to the one root's servers share" test "$(grep -cE "Server +$S1\]" "$OPENMPS_LOG_DIRECTORY/server.log")" -eq 0
expect "get_server_status $S1" "SHUTTING_DOWN"
check "the first user's client still waits" test -z "$(client_out b)"

client_end n
client_wait b "^admitted "
S2=$(server_of b)
check "user 0 is back on a server of its own" test "$(stat -c %u "/proc/$S2")" = 0
expect "get_server_list" "$S2"

# The other user's client gives up while it waits: the server it made drain
# serves again, and the first user's next client gets in at once (M3).
client q --uid $NOBODY
wait_for "the other user's client to be queued" 5 logged "NEW CLIENT $q_pid from user $NOBODY: Server is not ready"
expect "get_server_status $S2" "SHUTTING_DOWN"
client_end q
wait_for "control.log: the server serves again" 5 logged "Server $S2 of user 0 serves again: no client of another user waits any more"
expect "get_server_status $S2" "ACTIVE"
check "server.log: it resumes" logged "Server resumes: the client of another user it drained for has left" server
client b2
client_wait b2 "^admitted "
check "the first user's next client gets in, on the same server" test "$(server_of b2)" = "$S2"
client_end b2

# Settings belong to the daemon's user and root; anyone may read them.
out=$(echo "set_default_client_priority 1" | as_nobody "$CTL")
check "another user cannot change defaults" test $? -eq 1
check "and is told why" test "$out" = "Insufficient privileges for UID $NOBODY: only user 0 or root may run set_default_client_priority"
out=$(echo "quit" | as_nobody "$CTL")
check "another user cannot quit the daemon" test $? -eq 1
out=$(echo "get_default_client_priority" | as_nobody "$CTL")
check "another user may read settings" test "$out" = "0"
check "the daemon is still up" alive "$(daemon_pid)"
expect "start_server -uid $NOBODY" ""
check "start_server for another user drains the running server" test "$(c "get_server_status $S2")" = "SHUTTING_DOWN"
client_end b
wait_for "start_server's server for user $NOBODY" 5 logged "Starting new server [0-9]+ for user $NOBODY"

# Multi-user mode: one server, run as root, for both users at once.
dpid=$(daemon_pid)
c "quit -t 1" >/dev/null
wait_for "the daemon to quit" 5 dead "$dpid"
start_daemon -M 2>"$TMP/M.err"
check "-M says that users share one trust domain, on stderr" grep -q "kernels can read and write each other's memory" "$TMP/M.err"
check "and in control.log" logged "-M: the clients of every user share one GPU context"
client r
client m --uid $NOBODY
client_wait r "^admitted "
client_wait m "^admitted "
check "-M: both users share one server" test "$(server_of r)" = "$(server_of m)"
check "-M: the shared server runs as root" test "$(stat -c %u "/proc/$(server_of r)")" = 0
out=$(as_nobody "$CTL" -d -M 2>&1)
check "-M is root's alone" test "$out" = "Only root user may enable -multiuser-server!"
client_end r
client_end m

# An operator allows groups explicitly (--allow-group): then only root, the
# daemon's user and members of those groups (primary or supplementary, as
# the kernel has them) get in; others are refused with the reason.
dpid=$(daemon_pid)
c "quit -t 1" >/dev/null
wait_for "the daemon to quit" 5 dead "$dpid"
rmdir "$OPENMPS_PIPE_DIRECTORY" 2>/dev/null || rm -rf "$OPENMPS_PIPE_DIRECTORY"
GROUP=4242
start_daemon -g $GROUP -g 4243
check "the pipe directory is made for the allowed group" test "$(stat -c '%a %g' "$OPENMPS_PIPE_DIRECTORY")" = "710 $GROUP"
dpid=$(daemon_pid)
c "quit -t 1" >/dev/null
wait_for "the daemon to quit" 5 dead "$dpid"
chmod 0711 "$OPENMPS_PIPE_DIRECTORY" # opened wider by the operator: the daemon's check still holds
start_daemon -g $GROUP -g 4243
client o --uid $NOBODY
client_wait o "^refused: .*user $NOBODY is not in a group allowed to use this daemon \\($GROUP, 4243\\)"
check "control.log: the refusal" logged "user $NOBODY is not in a group allowed to use this daemon"
out=$(echo get_default_client_priority | as_nobody "$CTL" 2>&1)
check "nor may it send commands" grep -q "not in a group allowed" <<<"$out"
client g --group $GROUP --uid $NOBODY
client_wait g "^admitted "
check "a member of the group (supplementary) is admitted" test -n "$(server_of g)"
client_end g
client r2
client_wait r2 "^admitted " # root: always
client_end r2
dpid=$(daemon_pid)
c "quit -t 1" >/dev/null
wait_for "the daemon to quit" 5 dead "$dpid"
start_daemon -g $NOBODY
client p --uid $NOBODY
client_wait p "^admitted "
check "a member by its primary group is admitted" test -n "$(server_of p)"
client_end p
out=$("$CTL" -g nosuchgroup-openmps -d 2>&1)
check "an unknown group is refused at start" test "$out" = "openmps-control: nosuchgroup-openmps: no such group"
finish
