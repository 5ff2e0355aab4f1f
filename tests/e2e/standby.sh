# Helpers for the tests of the standby and its record against a crash
# (test_crash.sh, test_crash_races.sh), sourced after lib.sh. S is the
# server, R its standby; PROBE the fault probe.
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
export OPENMPS_REAL_DRIVER=$FAKECUDA LD_LIBRARY_PATH=$SHIM_DIR
PROBE=$OPENMPS_BIN/omps-fault-probe

count() { grep -cE -- "$1" "$OPENMPS_LOG_DIRECTORY/server.log"; }
got_server() { S=$(servers) && [ -n "$S" ]; }
neighbour() { # neighbour NAME MODE: started, and ready
	rm -f "$TMP/go-$1" "$TMP/$1.out"
	timeout 60 "$PROBE" --$2 "$TMP/go-$1" >"$TMP/$1.out" 2>&1 &
	eval "$1=\$!"
	wait_for "the $1 neighbour to be ready" 20 grep -q "ready" "$TMP/$1.out"
}
# The newest standby of server S, ready: its pid in R.
standing_by() {
	R=$(sed -nE "s/.*Server +$S\] Standby server process ([0-9]+) started.*/\1/p" \
		"$OPENMPS_LOG_DIRECTORY/server.log" | tail -1) &&
		[ -n "$R" ] && logged "Standby +$R\] Standing by" server
}
# Records that named N clients (OPENMPS_RECORD_LOG=1: each one is said).
records() { count "Server +$S\] Record against a crash: $1 client"; }
# One more since BASE. A record written since, of clients ready before, need
# not follow their last call (it may have been written just before it, and
# no more since: nothing changed); so a client comes and goes, which makes
# one more with theirs as they are now.
recorded_since() { [ "$(records "$1")" -gt "$2" ]; }
record_now() { # record_now N [SECONDS]: a record of the N clients as they are now
	local base
	base=$(records "$1")
	"$OPENMPS_BIN/omps-remote-probe" >/dev/null 2>&1
	wait_for "a record of the $1 as they are now" "${2:-10}" recorded_since "$1" "$base"
}
# The standby R serves, and the daemon lists it.
serving() { logged "Server +$R\] Server made anew after server process $S stopped" server && [ "$(servers)" = "$R" ]; }
