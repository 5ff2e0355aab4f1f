# The Debian package (CPack): built from this build, it holds the three
# programs, the shim outside the linker's path, the unit naming /usr/bin,
# the man pages and the copyright, and depends on what the programs link.
# As root, where no openmps package is installed, it is installed with dpkg,
# used (a daemon and a client through the installed programs) and removed;
# otherwise (or with OMPS_TEST_NO_DPKG=1) the same programs are used from
# the unpacked tree.
. "$(dirname "$0")/lib.sh"
for t in cpack dpkg-deb dpkg-shlibdeps; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed (Debian: cmake, dpkg-dev)"; exit 77; }
done
BUILD=$(realpath "$OPENMPS_BIN/..")
out=$(cd "$TMP" && cpack -G DEB -B "$TMP/pkg" --config "$BUILD/CPackConfig.cmake" 2>&1)
DEB=$(ls "$TMP"/pkg/openmps_*_amd64.deb 2>/dev/null | head -1)
check "cpack makes openmps_VERSION_amd64.deb [$(tail -1 <<<"$out")]" test -f "$DEB"
info=$(dpkg-deb -f "$DEB" Package Version Depends)
check "named openmps, this version [$info]" grep -q "^Version: $("$OPENMPS_BIN/openmps" --version | awk '{print $2}' | tr -d ,)$" <<<"$info"
check "depends on the libraries the programs link" grep -qE "^Depends: .*libjansson4.*libmicrohttpd12" <<<"$info"
files=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for f in ./usr/bin/openmps ./usr/bin/openmps-control ./usr/bin/openmps-server ./usr/lib/openmps/libcuda.so.1 \
	./usr/lib/systemd/system/openmps-control.service ./usr/share/doc/openmps/copyright \
	./usr/share/man/man1/openmps-control.1.gz ./usr/share/man/man1/openmps.1.gz ./usr/share/man/man1/openmps-server.1.gz; do
	check "it holds $f" grep -qx "$f" <<<"$files"
done
check "no libcuda.so.1 on the linker's path: only openmps run puts the shim first" \
	test -z "$(grep -E '^\./usr/lib/(x86_64-linux-gnu/)?libcuda' <<<"$files")"
dpkg-deb -x "$DEB" "$TMP/root"
check "its unit runs /usr/bin/openmps-control" grep -qx "ExecStart=/usr/bin/openmps-control -f" \
	"$TMP/root/usr/lib/systemd/system/openmps-control.service"
check "its man page reads [$(zcat "$TMP/root/usr/share/man/man1/openmps-control.1.gz" | grep -m1 '^\.TH')]" \
	grep -q '^\.TH "openmps-control" "1"' <(zcat "$TMP/root/usr/share/man/man1/openmps-control.1.gz")

# use PREFIX: a daemon and a client through the programs under PREFIX.
use() {
	local p=$1 out
	"$p/bin/openmps-control" -d || { fail "$p/bin/openmps-control -d did not start"; return; }
	out=$(OPENMPS_REAL_DRIVER=$FAKECUDA timeout 60 "$p/bin/openmps" run -- "$OPENMPS_BIN/omps-remote-probe" 2>&1)
	check "a client through $p/bin/openmps run passes [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
	check "... through $p's server" grep -q "openmps-server\|Client .* connected" "$OPENMPS_LOG_DIRECTORY/server.log"
	out=$("$p/bin/openmps" status)
	check "$p/bin/openmps status answers" grep -q "^server [0-9]*: ACTIVE" <<<"$out"
	stop_daemon 10
}
if [ "$(id -u)" = 0 ] && [ -z "${OMPS_TEST_NO_DPKG:-}" ] && command -v dpkg >/dev/null && ! dpkg -s openmps >/dev/null 2>&1; then
	out=$(dpkg -i "$DEB" 2>&1)
	check "dpkg -i installs it [$(tail -1 <<<"$out")]" dpkg -s openmps
	use /usr
	command -v man >/dev/null && check "man finds openmps-control(1)" test -n "$(man -w openmps-control 2>/dev/null)"
	out=$(dpkg -P openmps 2>&1)
	check "dpkg -P removes it [$(tail -1 <<<"$out")]" bash -c '! dpkg -s openmps >/dev/null 2>&1'
	check "... and its programs" test ! -e /usr/bin/openmps-control -a ! -e /usr/lib/openmps/libcuda.so.1
else
	echo "dpkg -i and -P: only as root where no openmps package is installed; the unpacked tree is used"
	use "$TMP/root/usr"
fi
finish
