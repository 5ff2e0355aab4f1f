# Modules shared between clients: two clients loading the same image that
# holds no module data get one module; a client that changes a function for
# itself gets its own copy first; an image with a module global is never
# shared. fakecuda writes a line for each module the server loads.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
FAKECUDA_LOAD_LOG=$TMP/loads start_daemon
export OPENMPS_REAL_DRIVER=$FAKECUDA
probe() { LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-remote-probe" "$@"; }
loads() { [ -f "$TMP/loads" ] && wc -l <"$TMP/loads" || echo 0; }

# The first client holds its module until the test lets it go: a loaded
# machine must not end its hold before the second client has loaded.
OMPS_PROBE_RELEASE=$TMP/go-a probe --module-hold 60000 --smem 100000 >"$TMP/a.out" 2>&1 &
a=$!
wait_for "the first client to load its module" 5 grep -q '^loaded' "$TMP/a.out"
probe --module-hold 300 --smem 1024 >"$TMP/b.out" 2>&1 &
b=$!
wait_for "the second client to load the same image" 5 grep -q '^loaded' "$TMP/b.out"
check "two clients, one module loaded" test "$(loads)" -eq 1 || cat "$TMP/a.out" "$TMP/b.out"
check "server.log: the module is shared" logged "Module image of [0-9]+ bytes \\(SHA-256 [0-9a-f]+\\.\\.\\.\\) shared between clients" server
wait $b
check "a client that lowers a function's shared memory limit still runs it right" grep -qx 'remote_probe: PASS' "$TMP/b.out"
check "after it got a copy of its own" test "$(loads)" -eq 2
touch "$TMP/go-a"
wait $a
check "a client that raises the limit runs on the shared module" grep -qx 'remote_probe: PASS' "$TMP/a.out"
check "with no copy made" test "$(loads)" -eq 2

# A client that raised the limit on the shared module, then changes the
# function otherwise, gets a copy that keeps its raised limit.
rm -f "$TMP/loads"
OMPS_PROBE_RELEASE=$TMP/go-e probe --module-hold 60000 --smem 60000 >"$TMP/e.out" 2>&1 &
e=$!
wait_for "a client to load the image" 5 grep -q '^loaded' "$TMP/e.out"
probe --module-hold 0 --smem 100000 --cluster 2 >"$TMP/f.out" 2>&1
touch "$TMP/go-e"
wait $e
check "a copy keeps what the client set before on the shared function" grep -qx 'remote_probe: PASS' "$TMP/f.out"
check "and the others keep the shared one" grep -qx 'remote_probe: PASS' "$TMP/e.out"
# the second client's cluster width, and then the first client's limit, lower
# than the one the second had raised on the shared function: two copies.
check "a copy for each change the others would have seen" test "$(loads)" -eq 3

# raise_then_read NAME [ARGS...]: two clients take the function; the first
# raises its shared memory limit and runs, then the second (ARGS added)
# reads the raised limit and launches within it without setting it, as the
# runtime does (cuBLAS's SGEMM on the H100). Outputs: NAME-raiser.out, NAME.out.
raise_then_read() {
	local name=$1 raiser reader
	shift
	rm -f "$TMP/loads"
	OMPS_PROBE_RELEASE=$TMP/go-$name-raiser probe --module-hold 60000 --smem 100000 >"$TMP/$name-raiser.out" 2>&1 &
	raiser=$!
	wait_for "a client to load the image" 5 grep -q '^loaded' "$TMP/$name-raiser.out"
	OMPS_PROBE_RELEASE=$TMP/go-$name probe --module-hold 60000 --smem 100000 --read-smem "$@" >"$TMP/$name.out" 2>&1 &
	reader=$!
	wait_for "a second client to load it" 5 grep -q '^loaded' "$TMP/$name.out"
	touch "$TMP/go-$name-raiser"
	wait $raiser
	touch "$TMP/go-$name"
	wait $reader
}

raise_then_read read
check "the first client raised the limit and ran" grep -qx 'remote_probe: PASS' "$TMP/read-raiser.out"
check "the second reads the raised limit" grep -qx 'limit 100000' "$TMP/read.out"
check "and its launch within it runs" grep -qx 'remote_probe: PASS' "$TMP/read.out" || cat "$TMP/read.out"
check "on the one shared module" test "$(loads)" -eq 1

# The same reader then changes the function otherwise and gets a copy of its
# own: the copy keeps the limit it read.
raise_then_read copy --cluster 2
check "a reader of the raised limit, in its own copy, still launches within it" \
	grep -qx 'remote_probe: PASS' "$TMP/copy.out" || cat "$TMP/copy.out"
check "after it got its copy" test "$(loads)" -eq 2

rm -f "$TMP/loads"
OMPS_PROBE_RELEASE=$TMP/go-c probe --module-hold 60000 --smem 100000 --counter >"$TMP/c.out" 2>&1 &
c=$!
wait_for "a client to load an image with a global" 5 grep -q '^loaded' "$TMP/c.out"
probe --module-hold 0 --smem 100000 --counter >"$TMP/d.out" 2>&1
touch "$TMP/go-c"
wait $c
check "both clients of an image with a global pass" test "$(cat "$TMP"/[cd].out | grep -cx 'remote_probe: PASS')" -eq 2
check "each got a module of its own" test "$(loads)" -eq 2
finish
