# The systemd unit (deploy/systemd) passes systemd-analyze verify, pointed
# at this build's openmps-control instead of the installed one; and one that
# names a program that is not there does not (the check can fail).
. "$(dirname "$0")/lib.sh"
UNIT=$OPENMPS_BIN/../deploy/openmps-control.service
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: no systemd-analyze"
	exit 77
fi
bindir=$(sed -n 's|^ExecStart=\(.*\)/openmps-control -f$|\1|p' "$UNIT")
check "the unit runs openmps-control in the foreground [$bindir]" test -n "$bindir"
mkdir "$TMP/unit"
sed "s|$bindir/|$OPENMPS_BIN/|g" "$UNIT" >"$TMP/unit/openmps-control.service"
out=$(systemd-analyze verify --man=no "$TMP/unit/openmps-control.service" 2>&1)
check "systemd-analyze verify accepts it [$out]" test $? -eq 0 -a -z "$(grep openmps-control.service <<<"$out")"
sed "s|$bindir/|/nonexistent/|g" "$UNIT" >"$TMP/unit/openmps-control.service"
check "and refuses it with a program that is not there" \
	bash -c '! systemd-analyze verify --man=no "$0" >/dev/null 2>&1' "$TMP/unit/openmps-control.service"
finish
