# Servers and clients of one user: a server starts for the first client and
# persists; the list, status, device and ps commands show what runs; limits
# reach clients; shutdown_server and terminate_client act as documented.
. "$(dirname "$0")/lib.sh"
export FAKECUDA_DEVICES=2

# With no daemon, openmps status says so and fails (it was once killed by
# the pipe to openmps-control closing first: SIGPIPE, 141).
codes=$(for i in $(seq 200); do "$OPENMPS_BIN/openmps" status >/dev/null 2>&1; echo $?; done | sort -u | tr '\n' ' ')
check "openmps status with no daemon exits 1, every time [$codes]" test "$codes" = "1 "
check "openmps --version" grep -qE "^openmps [0-9.]+, protocol [0-9]+$" <<<"$("$OPENMPS_BIN/openmps" --version)"
# Installed under another prefix, openmps run finds the shim where the
# install put it.
if cmake --install "$OPENMPS_BIN/.." --prefix "$TMP/inst" >"$TMP/install.log" 2>&1; then
	shim=$(find "$TMP/inst" -name libcuda.so.1 | head -1)
	out=$("$TMP/inst/bin/openmps" run -- sh -c 'echo "$LD_LIBRARY_PATH"' 2>&1)
	check "an installed openmps run puts the installed shim first [$out]" test "${out%%:*}" = "$(dirname "$shim")"
	check "NVIDIA's name is not installed unless asked for" test ! -e "$TMP/inst/bin/nvidia-cuda-mps-control"
	check "the installed unit runs the installed openmps-control" \
		grep -qx "ExecStart=$TMP/inst/bin/openmps-control -f" "$TMP/inst/lib/systemd/system/openmps-control.service"
	cmake --install "$OPENMPS_BIN/.." --prefix "$TMP/inst" --component nvidia-names >>"$TMP/install.log" 2>&1
	check "asked for, nvidia-cuda-mps-control is openmps-control" \
		test "$(readlink "$TMP/inst/bin/nvidia-cuda-mps-control")" = openmps-control
	check "and runs as it" grep -q "^openmps control, version" <<<"$("$TMP/inst/bin/nvidia-cuda-mps-control" -v)"
else
	fail "cmake --install failed: $(tail -3 "$TMP/install.log")"
fi

start_daemon
c "set_default_active_thread_percentage 50" "set_default_device_pinned_mem_limit 0 4G" >/dev/null

client a
client_wait a "^admitted "
S=$(server_of a)
check "a server was started for the client" test -n "$S"
expect "get_server_list" "$S"
expect "get_server_status $S" "ACTIVE"
check "the server runs as the client's user" test "$(stat -c %u /proc/$S)" = "$(id -u)"
check "control.log: the server is ready" logged "NEW SERVER $S: Ready"
check "server.log: the server got the defaults" logged "Active Threads Percentage set to 50.0" server
check "server.log: memory limit in bytes" logged "Device pinned memory limit for device 0 set to 0x100000000 bytes" server
check "server.log: context per device" logged "Creating server context on device 1 \(openmps fakecuda device 1\)" server
check "the client got the defaults" client_says a "atp=50.0 priority=0 mem=0=4G$"

# A second client with its own, stricter limits; one that asks for more
# than the server allows gets the server's value.
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1G,1=512M CUDA_MPS_CLIENT_PRIORITY=1 \
	client b
client_wait b "^admitted "
check "the second client joins the same server" test "$(server_of b)" = "$S"
check "client limits only tighten" client_says b "atp=25.0 priority=1 mem=0=1G,1=512M$"
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=80 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=8G client c3
client_wait c3 "^admitted "
check "a client cannot loosen the server's limits" client_says c3 "atp=50.0 priority=0 mem=0=4G$"
expect "get_client_list $S" "$c3_pid"$'\n'"$b_pid"$'\n'"$a_pid"
check "server.log: clients connected" logged "Client \{PID: $b_pid, ID: [0-9]+\} connected" server

expect "get_device_client_list $S" "[0] 10:00.0, openmps fakecuda device 0
$a_pid.1
$b_pid.1
$c3_pid.1
[1] 11:00.0, openmps fakecuda device 1
$a_pid.1
$b_pid.1
$c3_pid.1"
expect "get_device_client_list" "$(c "get_device_client_list $S")"
out=$(c ps)
check "ps has NVIDIA's columns, then the limits and the usage" grep -qE '^PID +ID +SERVER +DEVICE +NAMESPACE +ACTIVE% +PRIORITY +MEMLIMIT +SMS +MEMUSED +COMMAND$' <<<"$out"
ns=$(stat -L -c %i /proc/self/ns/pid)
check "ps shows client b" grep -qE "^$b_pid +[0-9]+ +$S +GPU-fafbfcfd-feff-0001 +$ns +25.0 +1 +0=1G,1=512M +- +- +$CLIENT\$" <<<"$out" # no data channel: no usage yet
check "ps shows three clients" test "$(grep -c "$CLIENT" <<<"$out")" -eq 3
expect "ps -p $S" "$out"
want="openmps daemon at $OPENMPS_PIPE_DIRECTORY"$'\n'"server $S: ACTIVE"$'\n'"clients:"$'\n'"$out"
got=$("$OPENMPS_BIN/openmps" status)
check "openmps status shows the server, labelled, and its clients [$got]" test "$got" = "$want"

# device_query: the devices as a helper server sees them, then each server's.
row0="0               0000:10.00.00  GPU-fafbfcfd-feff-0001-0203-040506070809  openmps fakecuda device 0         N/A"
row1="1               0000:11.00.00  GPU-0a0b0c0d-0e0f-1011-1213-141516171819  openmps fakecuda device 1         N/A"
head="Device Ordinal  PCI IDs        UUID                                      Name                              Attributes"
expect "device_query" "Default
$head
$row0
$row1

Server $S
$head
$row0
$row1"
expect "device_query $S --csv" "Default
Device Ordinal,PCI IDs,UUID,Name,Attributes
0,0000:10.00.00,GPU-fafbfcfd-feff-0001-0203-040506070809,openmps fakecuda device 0,N/A
1,0000:11.00.00,GPU-0a0b0c0d-0e0f-1011-1213-141516171819,openmps fakecuda device 1,N/A

Server $S
Device Ordinal,PCI IDs,UUID,Name,Attributes
0,0000:10.00.00,GPU-fafbfcfd-feff-0001-0203-040506070809,openmps fakecuda device 0,N/A
1,0000:11.00.00,GPU-0a0b0c0d-0e0f-1011-1213-141516171819,openmps fakecuda device 1,N/A"
expect "device_query 1" "Server 1 not found" 1

# Per-server settings, shown and handed to the server.
expect "get_active_thread_percentage $S" "50.0"
expect "set_active_thread_percentage $S 30" "30.0"
expect "get_active_thread_percentage $S" "30.0"
expect "set_active_thread_percentage $S 0" "Invalid percentage, expected between (0.0, 100.0]" 1
expect "get_active_thread_percentage $S" "30.0"
expect "get_device_pinned_mem_limit $S 0" "4G"
expect "set_device_pinned_mem_limit $S 0 6G" ""
expect "get_device_pinned_mem_limit $S 0" "6G"
expect "set_device_pinned_mem_limit $S 0 lots" \
	'Invalid memory limit "lots": expected an integer with a unit, e.g. 512M or 2G' 1
expect "get_device_pinned_mem_limit $S 1" ""
wait_for "the server to log its new limit" 5 logged "Device pinned memory limit for device 0 set to 0x180000000 bytes" server
check "the defaults did not change" test "$(c get_default_active_thread_percentage)" = "50.0"
client d
client_wait d "^admitted "
check "a new client gets the server's new limits" client_says d "atp=30.0 priority=0 mem=0=6G$"

# A client whose environment is malformed is refused with the reason.
CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=lots client bad1
client_wait bad1 '^refused: .*CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=lots: "lots" is not a memory size'
CUDA_MPS_CLIENT_PRIORITY=3 client bad2
client_wait bad2 '^refused: .*CUDA_MPS_CLIENT_PRIORITY=3: must be 0 or 1'
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=200 client bad3
client_wait bad3 '^refused: .*CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=200: expected a number in \(0, 100\]'
client_status bad3
check "a refused client exits 4" test $? -eq 4

# terminate_client: the client loses its server; others carry on.
expect "terminate_client $S $b_pid" "0"
client_wait b "^server connection closed"
check "server.log: termination" logged "Client termination succeeded." server
gone_from_lists() { ! c "get_client_list $S" | grep -qx "$b_pid" && ! c ps | grep -q "^$b_pid "; }
wait_for "get_client_list and ps to drop the terminated client, alive or not" 5 gone_from_lists
expect "terminate_client $S 999999" $'Invalid process 999999!\n1' 1
expect "terminate_client $S" "A client PID is required
1" 1
check "client a still holds its server" alive "$a_pid"
check "client a saw nothing" test "$(client_out a)" = "$(head -1 "$TMP/a.out")"

# Clients leave: the list follows, the server persists (NVIDIA's behaviour).
client_end a
client_end c3
client_end d
client_end b
wait_for "the client list to empty" 5 test -z "$(c "get_client_list $S")"
check "server.log: disconnects" logged "Client process $a_pid disconnected" server
expect "get_server_list" "$S"
expect "ps" "$(c ps | head -1)"

# start_server for the user whose server runs: nothing new.
expect "start_server -uid $(id -u)" ""
expect "get_server_list" "$S"

# shutdown_server waits for clients; -f does not.
client e
client_wait e "^admitted "
expect "shutdown_server $S" ""
expect "get_server_status $S" "SHUTTING_DOWN"
check "control.log: the shutdown waits" logged "Try shutting down server $S: it exits once its 1 clients have left"
check "server.log: unable to shut down yet" logged "Server was unable to shutdown due to 1 active clients" server
client f
sleep 0.3
check "a new client waits while the server drains" test -z "$(client_out f)"
client_end e
wait_for "the drained server to exit" 5 dead "$S"
client_wait f "^admitted "
S2=$(server_of f)
check "the waiting client got a new server" test -n "$S2" -a "$S2" != "$S"
expect "shutdown_server $S2 -f" ""
client_wait f "^server connection closed"
wait_for "the forced server to exit" 5 dead "$S2"
check "control.log: forced" logged "Force shutting down server $S2"
wait_for "control.log: exits are logged" 5 logged "Server $S2 exited with status 0"
client_end f
wait_for "no server left" 5 no_servers
finish
