# Hostile input on the data channel: a record too short for its call, a
# record of no known type, a launch whose attributes run past the record, a
# ring whose shared indexes are overwritten. Each ends only that client's
# connection, with a line in server.log; the server goes on serving others.
# Then the security review's attacks on the data plane (M1, M2, H1, H4).
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
HOSTILE=$OPENMPS_BIN/omps-hostile-client
start_daemon
export OPENMPS_REAL_DRIVER=$FAKECUDA

for what in short unknown oversized garbage; do
	out=$("$HOSTILE" $what 2>&1)
	check "$what: the server drops the client" grep -qx dropped <<<"$out"
done
check "server.log: the short record is named" logged "malformed call 1 \(3 bytes\); disconnecting it" server
check "server.log: the unknown record is named" logged "unknown call in its request ring; disconnecting it" server
check "server.log: the oversized launch is named" logged "malformed call 13 \([0-9]+ bytes\); disconnecting it" server
check "server.log: the overwritten ring is named" logged "its request ring is corrupt; disconnecting it" server
out=$("$HOSTILE" handles 2>&1)
check "handles it never had: refused with CUDA_ERROR_INVALID_HANDLE" grep -qx "refused 400 400 400" <<<"$out"
check "and the client is kept" grep -qx "kept" <<<"$out"
check "server.log: the event named" logged "Client process [0-9]+: event handle 12345 is not one of its own" server
check "server.log: the module named" logged "Client process [0-9]+: module handle 77 is not one of its own" server
check "server.log: the module asked for a function named" logged "Client process [0-9]+: module handle 5 is not one of its own" server
S=$(servers)
check "one server served them all" test "$(wc -w <<<"$S")" -eq 1
before=$S

# A client that never reads its socket, with 20,000 answers unread in it,
# asks for its channel: refused (the main loop does not wait to tell it),
# and a client beside it is served at once (M1 of the security review).
"$HOSTILE" unread >"$TMP/unread.out" 2>&1 &
unread=$!
wait_for "the unread client to ask for its channel" 20 grep -q "read nothing" "$TMP/unread.out"
sleep 0.5 # the server reaches its request
out=$(LD_LIBRARY_PATH=$SHIM_DIR timeout 4 "$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "a client beside it passes meanwhile, within 4 s (it stays 8)" grep -qx "remote_probe: PASS" <<<"$out"
wait_for "server.log: why it is refused" 10 logged "cannot open its data channel: cannot send device information: its socket is full" server
wait "$unread"

# A client that reads a 64 MiB copy from the device one record every 2 s
# is let go by its deadline (5 s and 1 s a 64 MiB), not served for half an
# hour (M2), with a line saying why.
out=$("$HOSTILE" slowreader 2>&1)
check "a reader too slow for its copy is let go within 10 s [$out]" grep -qE "^dropped after ([0-9]|10) s$" <<<"$out"
check "server.log: why" logged "reads its copy from the device too slowly; disconnecting it" server

# Memory freed while a capture that names it is open stays the client's
# until its graph goes: another client allocating as much does not get it,
# and the graph's replay neither reads nor overwrites it (H1).
"$HOSTILE" capture-free >"$TMP/attacker.out" 2>&1 &
attacker=$!
wait_for "the attacker to free during its capture" 10 grep -q "^freed 0x" "$TMP/attacker.out"
"$HOSTILE" victim >"$TMP/victim.out" 2>&1 &
victim=$!
wait_for "the victim to allocate" 10 grep -q "^victim at 0x" "$TMP/victim.out"
freed=$(sed -n 's/^freed \(0x[0-9a-f]*\) during a capture$/\1/p' "$TMP/attacker.out")
got=$(sed -n 's/^victim at \(0x[0-9a-f]*\)$/\1/p' "$TMP/victim.out")
check "the victim does not get memory freed during another's capture ($got, $freed)" test "$got" != "$freed"
wait "$attacker" "$victim"
read_nothing() { grep -q "^attacker reads" "$1" && ! grep -q "SECRET" "$1"; }
check "the attacker's replay reads nothing of the victim's [$(tail -1 "$TMP/attacker.out")]" \
	read_nothing "$TMP/attacker.out"
check "the victim's memory is as it wrote it [$(tail -1 "$TMP/victim.out")]" grep -qx "victim reads SECRET-of-victim" "$TMP/victim.out"

# Host memory the server maps can neither shrink under it (H4a) nor go
# while a graph of the client's still copies into it (H4b): the server
# lives, and the client with it.
out=$("$HOSTILE" truncate 2>&1)
check "host memory not sealed against shrinking is refused [$out]" grep -qx "map 1" <<<"$out"
check "a copy into it then, truncated, is refused too" grep -qx "copy 1" <<<"$out"
check "and the server lives" grep -qx "kept" <<<"$out"
check "server.log: why" logged "cannot share 1048576 bytes of host memory at 0x[0-9a-f]+: not a memfd sealed against shrinking" server
out=$("$HOSTILE" unmap-replay 2>&1)
check "host memory a graph names is unshared [$out]" grep -qx "unmap 0" <<<"$out"
check "the graph's replay does no harm" grep -qx "replay 0" <<<"$out"
check "and the server lives" grep -qx "kept" <<<"$out"
check "server.log: kept while the graph lives" logged "host memory at 0x[0-9a-f]+ unshared while it holds graphs; kept until they go" server
check "server.log: let go with the graph" logged "host memory it unshared while it held graphs now let go" server

# One client shares at most 4096 ranges of host memory, each a mapping in
# the server, which the kernel caps for the process (M5); its refusals fill
# no log.
out=$("$HOSTILE" maps 4200 2>&1)
check "4096 ranges of host memory shared, the rest refused with OUT_OF_MEMORY [$out]" grep -qx "mapped 4096 of 4200, then 2" <<<"$out"
check "the client is kept" grep -qx "kept" <<<"$out"
check "server.log: why" logged "it shares 4096 ranges already, the most a client may" server
check "server.log: refusals logged 16 times at most" test "$(grep -c "ranges already" "$OPENMPS_LOG_DIRECTORY/server.log")" -le 16

# A module image of 64 MiB is not kept in the server's memory for the
# client's life (L2). Not under AddressSanitizer: it keeps what is freed.
if ! sanitized; then
	rss() { awk '/^VmRSS/ {print $2}' "/proc/$S/status"; }
	before=$(rss)
	rm -f "$TMP/loaded"
	LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-qos-probe" big-module $((64 << 20)) wait "$TMP/loaded" >"$TMP/big.out" 2>&1 &
	wait_for "the big module to load" 20 grep -q "^wait:" "$TMP/big.out"
	after=$(rss)
	touch "$TMP/loaded"
	wait
	check "a 64 MiB image loads [$(head -1 "$TMP/big.out")]" grep -qx "big-module: CUDA_SUCCESS" "$TMP/big.out"
	check "and the server does not keep it ($before KiB, then $after KiB)" test $((after - before)) -lt $((32 << 10))
fi

# A client that closes its connection to the daemon, and so hides from ps
# and terminate_client, is dropped by its server (L3).
out=$("$HOSTILE" hide 2>&1)
check "a client that hides from the daemon is dropped [$out]" grep -qx "dropped" <<<"$out"
check "server.log: why" logged "closed its connection to the control daemon but stayed; disconnecting it" server
check "and a client that leaves normally is not said to have hidden" \
	test "$(grep -c "closed its connection to the control daemon" "$OPENMPS_LOG_DIRECTORY/server.log")" -eq 1

# A command line with control characters reaches ps (and an operator's
# terminal) with each of them as '?' (L5).
(LD_LIBRARY_PATH=$SHIM_DIR exec -a $'evil\e[2J\nFORGED' "$OPENMPS_BIN/omps-remote-probe" --hold-ms 3000 >/dev/null 2>&1) &
listed() { c ps | grep -q "evil"; }
wait_for "the program with an escape in its name to be listed" 10 listed
out=$(c ps)
check "ps shows its name with '?' for each control character [$(grep evil <<<"$out")]" grep -q 'evil?\[2J?FORGED' <<<"$out"
check "and no escape at all" test "$(grep -c $'\e' <<<"$out")" -eq 0
wait

# Meanwhile, and after, a well-behaved client is served as ever.
out=$(LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "a well-behaved client still passes" grep -qx "remote_probe: PASS" <<<"$out"
check "on the same server" test "$(servers)" = "$S"

# The page-locked host memory one client may share is capped too (the
# server pins it, outside the client's RLIMIT_MEMLOCK): here 2 MiB.
stop_daemon
OPENMPS_CLIENT_HOST_MEMORY_MB=2 start_daemon
out=$("$HOSTILE" maps 600 2>&1)
check "2 MiB of 4 KiB ranges shared, the rest refused [$out]" grep -qx "mapped 512 of 600, then 2" <<<"$out"
check "server.log: why" logged "it would share more than 2 MiB, the most a client may \(OPENMPS_CLIENT_HOST_MEMORY_MB\)" server
finish
