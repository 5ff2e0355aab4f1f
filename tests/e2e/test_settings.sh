# Defaults kept by the daemon: every setter and getter, good and bad input.
# A bad value prints one clear line, exits 1 and changes nothing.
. "$(dirname "$0")/lib.sh"
start_daemon

# Active thread percentage.
expect "get_default_active_thread_percentage" "100.0"
expect "set_default_active_thread_percentage 25" "25.0"
expect "get_default_active_thread_percentage" "25.0"
expect "set_default_active_thread_percentage 12.5" "12.5"
for bad in 0 101 -5 abc 1e999 nan "" "12.5x"; do
	expect "set_default_active_thread_percentage $bad" "Invalid percentage, expected between (0.0, 100.0]" 1
done
expect "get_default_active_thread_percentage" "12.5"
expect "set_default_active_thread_percentage 100" "100.0"

# Pinned device memory limits: units, read back exactly as set.
expect "get_default_device_pinned_mem_limit 0" ""
expect "set_default_device_pinned_mem_limit 0 2G" ""
expect "get_default_device_pinned_mem_limit 0" "2G"
expect "set_default_device_pinned_mem_limit 0 1500M" ""
expect "get_default_device_pinned_mem_limit 0" "1500M"
expect "set_default_device_pinned_mem_limit 0 2048m" ""
expect "get_default_device_pinned_mem_limit 0" "2G"
expect "set_default_device_pinned_mem_limit 1 512MB" ""
expect "get_default_device_pinned_mem_limit 1" "512M"
expect "set_default_device_pinned_mem_limit GPU-fafbfcfd-feff-0001-0203-040506070809 1T" ""
expect "get_default_device_pinned_mem_limit GPU-fafbfcfd-feff-0001-0203-040506070809" "1T"
for bad in abc 2X 2048 -1G 99999999999999999999G; do
	expect "set_default_device_pinned_mem_limit 0 $bad" \
		"Invalid memory limit \"$bad\": expected an integer with a unit, e.g. 512M or 2G" 1
done
expect "set_default_device_pinned_mem_limit 64 1G" \
	'Invalid device "64": expected an ordinal below 64 or a GPU UUID' 1
expect "set_default_device_pinned_mem_limit zero 1G" \
	'Invalid device "zero": expected an ordinal below 64 or a GPU UUID' 1
expect "set_default_device_pinned_mem_limit 0" "Invalid command format: expected <dev> <value>, e.g. 0 2G" 1
expect "get_default_device_pinned_mem_limit" "Invalid command format: expected a device ordinal or GPU UUID" 1
expect "get_default_device_pinned_mem_limit 0" "2G"
expect "get_default_device_pinned_mem_limit 3" ""
expect "set_default_device_pinned_mem_limit 1 0" ""
expect "get_default_device_pinned_mem_limit 1" ""

# Priority.
expect "get_default_client_priority" "0"
expect "set_default_client_priority 1" ""
expect "get_default_client_priority" "1"
for bad in 2 -1 x 01 ""; do
	expect "set_default_client_priority $bad" "Invalid priority value - must be 0 or 1!" 1
done
expect "get_default_client_priority" "1"

# Command syntax.
expect "bogus_cmd" 'Unknown command "bogus_cmd"' 1
expect "GET_SERVER_LIST" 'Unknown command "GET_SERVER_LIST"' 1
expect "get_server_list extra" "Too many arguments. Usage: get_server_list" 1
expect "get_default_client_priority 1 2 3 4 5 6 7 8 9" "Too many arguments" 1
expect "start_server" "A user id (UID) is required to start a new server" 1
expect "start_server -uid abc" "A user id (UID) is required to start a new server" 1
expect "start_server -user 0" "A user id (UID) is required to start a new server" 1
expect "get_server_status" "A server PID is required" 1
expect "get_server_status abc" "A server PID is required" 1
expect "get_server_status 1" "Server 1 not found" 1
expect "get_client_list 1" "Server 1 not found" 1
expect "get_device_client_list 1" "Server 1 not found" 1
expect "get_device_client_list" ""
expect "ps" "Server not found"
expect "ps -p 1" "Server 1 not found" 1
expect "ps -x" "Usage: ps [-p PID] [--json]" 1
expect "set_active_thread_percentage 1 50" "Server 1 not found" 1
expect "get_active_thread_percentage 1" "Server 1 not found" 1
expect "set_device_pinned_mem_limit 1 0 1G" "Server 1 not found" 1
expect "get_device_pinned_mem_limit 1 0" "Server 1 not found" 1
expect "shutdown_server 1" "Server 1 not found" 1
expect "shutdown_server 1 -x" "Usage: shutdown_server <PID> [-f]" 1
expect "terminate_client 1 2" $'Server 1 not found\n1' 1
expect "get_server_list" ""
# Unlike NVIDIA's, a malformed quit changes nothing.
expect "quit -t" "Usage: quit [-t <seconds>]" 1
expect "quit -t abc" "Usage: quit [-t <seconds>]" 1
expect "quit now" "Usage: quit [-t <seconds>]" 1
check "the daemon survives malformed quits" alive "$(daemon_pid)"

# Every command and its answer is in control.log.
check "commands are logged" logged "Cmd:set_default_active_thread_percentage 25$"
check "answers are logged" logged "\] 25.0$"
check "errors are logged" logged 'Unknown command "bogus_cmd"'
check "log lines have NVIDIA's shape" grep -qE \
	'^\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} Control +[0-9]+\] NEW UI$' \
	"$OPENMPS_LOG_DIRECTORY/control.log"

# Settings are lost on quit, as NVIDIA's are.
dpid=$(daemon_pid)
c quit
wait_for "the daemon to quit" 5 dead "$dpid"
start_daemon
expect "get_default_active_thread_percentage" "100.0"
expect "get_default_client_priority" "0"
expect "get_default_device_pinned_mem_limit 0" ""
finish
