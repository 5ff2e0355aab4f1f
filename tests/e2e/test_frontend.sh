# The front end: options, help, the answer when no daemon runs, how it reads
# commands and sets its exit status.
. "$(dirname "$0")/lib.sh"

out=$("$CTL" --help)
check "--help exits 0" test $? -eq 0
for cmd in start_server quit get_server_list get_server_status get_client_list get_device_client_list ps \
	set_default_active_thread_percentage get_default_active_thread_percentage set_active_thread_percentage \
	get_active_thread_percentage set_default_device_pinned_mem_limit get_default_device_pinned_mem_limit \
	set_device_pinned_mem_limit get_device_pinned_mem_limit set_default_client_priority \
	get_default_client_priority shutdown_server terminate_client device_query; do
	check "--help documents $cmd" grep -q "^  $cmd" <<<"$out"
done
for opt in -d,--daemon -f,--foreground -M,--multiuser-server OPENMPS_PIPE_DIRECTORY OPENMPS_LOG_DIRECTORY; do
	check "--help documents $opt" grep -q -- "$opt" <<<"$out"
done
check "-v prints the version" bash -c '"$0" -v | grep -q "^openmps control, version [0-9]"' "$CTL"
"$CTL" --bogus 2>/dev/null
check "an unknown option exits 2" test $? -eq 2
"$CTL" -d -f 2>/dev/null
check "-d with -f is refused" test $? -eq 2
"$CTL" -M get_server_list 2>/dev/null
check "-M without -d or -f is refused" test $? -eq 2

# No daemon: one clear line on stderr, exit 1.
out=$(echo get_server_list | "$CTL" 2>&1)
check "no daemon exits 1" test $? -eq 1
check "no daemon names the socket" grep -q "^Cannot find openmps control daemon process ($OPENMPS_PIPE_DIRECTORY/control: " <<<"$out"
check "no daemon says how to start one" grep -q "^Start one with 'openmps-control -d'" <<<"$out"

start_daemon
check "the pipe directory is created private" test "$(stat -c %a "$OPENMPS_PIPE_DIRECTORY")" = 700
check "the socket is there" test -S "$OPENMPS_PIPE_DIRECTORY/control"
check "the pid file names the daemon" alive "$(daemon_pid)"
check "control.log says where clients connect" logged "To connect CUDA applications to this daemon, set env OPENMPS_PIPE_DIRECTORY=$OPENMPS_PIPE_DIRECTORY"

# Several lines in one session, blank lines skipped, whitespace trimmed; the
# exit status says whether any failed.
out=$(printf 'get_default_client_priority\n\n   get_default_active_thread_percentage  \n' | "$CTL")
check "two good commands exit 0" test $? -eq 0
check "two answers in order" test "$out" = $'0\n100.0'
out=$(printf 'get_default_client_priority\nbogus_cmd\nget_server_list\n' | "$CTL")
check "one bad command of three exits 1" test $? -eq 1
check "the bad command is named, the others still run" test "$out" = $'0\nUnknown command "bogus_cmd"'
out=$("$CTL" get_default_active_thread_percentage)
check "a command from the arguments" test "$out" = "100.0"
"$CTL" set_default_client_priority 7 >/dev/null
check "a failing command from the arguments exits 1" test $? -eq 1
expect "help" "$("$CTL" --help | sed -n '/^COMMAND:/,/^$/p' | sed '1d;$d')"

# A peer of another protocol version is refused at connect with a reason.
out=$("$CLIENT" --bad-version)
check "another protocol version is refused" test $? -eq 4
check "the refusal names both versions" grep -q "protocol version 999, but this side speaks version [0-9]" <<<"$out"
check "the daemon logs the refusal" logged "refused: protocol version 999"
expect "get_default_client_priority" "0"

dpid=$(daemon_pid)
c quit
wait_for "the daemon to exit after quit" 5 dead "$dpid"
check "quit removes the socket" test ! -e "$OPENMPS_PIPE_DIRECTORY/control"
check "quit removes the pid file" test ! -e "$OPENMPS_PIPE_DIRECTORY/openmps-control.pid"
check "control.log ends with the exit" logged "Exit with status 0"

# Directories another user could write to are refused: a socket or a log
# file of theirs could stand in for the daemon's.
mkdir -m 0777 "$TMP/open-pipe" "$TMP/open-log"
chmod 0777 "$TMP/open-pipe" "$TMP/open-log" # whatever the umask
out=$(OPENMPS_PIPE_DIRECTORY=$TMP/open-pipe "$CTL" -d 2>&1)
check "a pipe directory writable by others is refused" \
	grep -q "the pipe directory $TMP/open-pipe is writable by others (mode 777); refusing it" <<<"$out"
out=$(OPENMPS_PIPE_DIRECTORY=$TMP/pipe2 OPENMPS_LOG_DIRECTORY=$TMP/open-log "$CTL" -d 2>&1)
check "so is a log directory" grep -q "the log directory $TMP/open-log is writable by others (mode 777); refusing it" <<<"$out"
check "and no daemon started" test ! -e "$TMP/pipe2/control"
finish
