# quit: without -t the daemon waits for its servers' clients to leave; with
# -t it forces them down after that many seconds. Signals quit too.
. "$(dirname "$0")/lib.sh"
start_daemon
client a
client_wait a "^admitted "
S=$(server_of a)
dpid=$(daemon_pid)
expect "quit" ""
check "control.log: quit" logged "quit command issued$"
check "quit stops new front ends at once" test ! -e "$OPENMPS_PIPE_DIRECTORY/control"
sleep 0.3
check "the daemon waits for the client" alive "$dpid"
check "the server keeps serving" alive "$S"
client_end a
wait_for "the server to exit" 5 dead "$S"
wait_for "the daemon to exit" 5 dead "$dpid"

start_daemon
client b
client_wait b "^admitted "
S=$(server_of b)
dpid=$(daemon_pid)
t0=$SECONDS
expect "quit -t 1" ""
check "control.log: quit with a timeout" logged "quit command issued with timeout of 1"
client_wait b "^server connection closed"
wait_for "the daemon to exit" 5 dead "$dpid"
check "quit -t 1 took under 4 s" test $((SECONDS - t0)) -lt 4
check "the server is gone" dead "$S"
check "control.log: forced" logged "Force shutting down server $S"
check "the pid file is gone" test ! -e "$OPENMPS_PIPE_DIRECTORY/openmps-control.pid"

# SIGTERM quits like "quit -t 5": the client is let go after five seconds.
start_daemon
client c3
client_wait c3 "^admitted "
dpid=$(daemon_pid)
kill -TERM "$dpid"
wait_for "SIGTERM to quit the daemon" 10 dead "$dpid"
check "control.log: the signal" logged "Received signal 15, quitting"
client_status c3
check "the client lost its server, not its process" test $? -eq 6
finish
