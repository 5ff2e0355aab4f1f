# A server that cannot start: its waiting clients are refused with the
# reason, the daemon stays up, and the next client tries again.
. "$(dirname "$0")/lib.sh"
FAKECUDA_INIT_ERROR=100 start_daemon
client a
client_wait a "^refused: .*the server for user $(id -u) failed to start: CUDA driver initialisation failed: CUDA_ERROR_NO_DEVICE \\(100\\)"
client_status a
check "a refused client exits 4" test $? -eq 4
check "server.log: the reason" logged "Server failed to start: CUDA driver initialisation failed" server
check "control.log: the exit" logged "Server [0-9]+ exited with status 1"
check "the daemon is still up" alive "$(daemon_pid)"
expect "get_server_list" ""
out=$(c "start_server -uid $(id -u)" 2>&1)
rc=$?
check "start_server whose server cannot start fails (exit $rc)" test $rc -eq 1
check "and says why [$out]" grep -q "^the server for user $(id -u) failed to start: CUDA driver initialisation failed" <<<"$out"
expect "get_server_list" ""
expect "device_query" "Default
openmps-server: CUDA driver initialisation failed: CUDA_ERROR_NO_DEVICE (100)" 1
stop_daemon 5

# A driver path that is wrong is reported as such.
OPENMPS_DRIVER_PATH=/nonexistent/libcuda.so.1 start_daemon
client b
client_wait b "^refused: .*cannot load the CUDA driver /nonexistent/libcuda.so.1"
stop_daemon 5

# Clients that arrive while a slow server starts wait for it.
FAKECUDA_INIT_DELAY_MS=2000 start_daemon # long enough to be seen under load
client c3
wait_for "the server to be initializing" 5 has_servers
S=$(servers)
expect "get_server_status $S" "INITIALIZING"
client d
client_wait c3 "^admitted "
client_wait d "^admitted "
check "both joined the slow server" test "$(server_of c3)" = "$S" -a "$(server_of d)" = "$S"
client_end c3
client_end d
stop_daemon 5

# start_server answers once the server it started is ready.
FAKECUDA_INIT_DELAY_MS=1000 start_daemon
expect "start_server -uid $(id -u)" ""
expect "get_server_status $(servers)" "ACTIVE"
finish
