# The daemon killed with SIGKILL: its stale socket does not block the next
# start, a second daemon on the same directory is refused, and the orphaned
# server keeps its clients until they leave.
. "$(dirname "$0")/lib.sh"
start_daemon
out=$("$CTL" -d 2>&1)
check "a second daemon is refused" test $? -eq 1
check "with NVIDIA's words" grep -q "An instance of this daemon is already running" <<<"$out"
out=$("$CTL" -f 2>&1)
check "also in the foreground" grep -q "An instance of this daemon is already running" <<<"$out"

client a
client_wait a "^admitted "
S=$(server_of a)
dpid=$(daemon_pid)
kill -9 "$dpid"
wait_for "the daemon to die" 5 dead "$dpid"
check "the stale socket is still there" test -S "$OPENMPS_PIPE_DIRECTORY/control"
out=$(echo get_server_list | "$CTL" 2>&1)
check "the front end reports no daemon" grep -q "Cannot find openmps control daemon process" <<<"$out"
wait_for "the orphaned server to log it" 5 logged "Lost the control daemon; serving the 1 remaining clients, then exiting" server
check "the orphaned server still serves its client" alive "$S"
check "the client saw nothing" test "$(client_out a | wc -l)" -eq 1

start_daemon
check "the new daemon took over" test "$(daemon_pid)" != "$dpid"
expect "get_server_list" ""
client b
client_wait b "^admitted "
check "a new client gets a new server" test "$(server_of b)" != "$S"
client_end a
wait_for "the orphaned server to exit once its client left" 5 dead "$S"
client_end b

# A server that dies is noticed, logged, and replaced for the next client.
client c3
client_wait c3 "^admitted "
S=$(server_of c3)
kill -9 "$S"
client_wait c3 "^server connection closed"
wait_for "the daemon to log the death" 5 logged "Server $S was killed by signal 9"
wait_for "the dead server to leave the list" 5 no_servers
client d
client_wait d "^admitted "
check "the next client gets a new server" test "$(server_of d)" != "$S"
client_end d
finish
