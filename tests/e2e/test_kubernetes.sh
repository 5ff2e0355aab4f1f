# deploy/kubernetes, checked offline (no cluster here): the manifests parse,
# and what they name exists and works: the DaemonSet's command, its probes
# and its preStop run as written against this build installed under /usr
# (in a DESTDIR), its ports and volumes agree, every OPENMPS_ variable is one
# openmps reads; the CDI spec's mounts are the installed shim and the one
# library it links, and a client given exactly its edits (mounts as links,
# its environment) runs through the daemon; the device plugin hands out
# replicas without starting NVIDIA's MPS daemon.
. "$(dirname "$0")/lib.sh"
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml is not installed"; exit 77; }
SRC=$(realpath "$(dirname "$0")/../..")
K8S=$SRC/deploy/kubernetes
facts=$(python3 "$SRC/tests/e2e/k8s_manifests.py" "$K8S" 2>&1)
check "the manifests parse [$(tail -1 <<<"$facts")]" test $? -eq 0
fact() { awk -F'\t' -v k="$1" '$1 == k {print $2}' <<<"$facts"; }
check "kinds: Namespace, DaemonSet, ConfigMap, Pod, a CDI device [$(fact kind | tr '\n' ' ')]" \
	test "$(fact kind | cut -d: -f2 | sort | tr '\n' ' ')" = "ConfigMap DaemonSet Namespace Pod openmps.dev/client "
check "the DaemonSet's selector matches its pods" test "$(fact selector_matches)" = True

DESTDIR=$TMP/root cmake --install "$OPENMPS_BIN/.." --prefix /usr >"$TMP/install.log" 2>&1
check "installed under /usr in a DESTDIR" test -x "$TMP/root/usr/bin/openmps-control"
in_root() { sed "s|/usr/|$TMP/root/usr/|g"; }

# Every OPENMPS_ variable a manifest sets is one the code reads.
for v in $(fact daemon_env; fact cdi_env); do
	name=${v%%=*}
	[[ $name == OPENMPS_* ]] || continue
	check "$name is read by openmps" grep -rqF "\"$name\"" "$SRC/src"
done
penv() { fact "$1" | grep "^$2=" | cut -d= -f2-; }
PIPE=$(penv daemon_env OPENMPS_PIPE_DIRECTORY)
check "the daemon's volumes are its pipe and log directories, at the same paths" \
	test "$(fact volume | sort | tr '\n' ' ')" = "$PIPE=$PIPE $(penv daemon_env OPENMPS_LOG_DIRECTORY)=$(penv daemon_env OPENMPS_LOG_DIRECTORY) "
check "clients look where the daemon listens [$PIPE]" test "$(penv cdi_env OPENMPS_PIPE_DIRECTORY)" = "$PIPE"
check "the CDI spec mounts that directory" grep -qx "$PIPE=$PIPE" <<<"$(fact cdi_mount)"
cmd=$(fact command)
port=${cmd##*:}
check "Prometheus scrapes the port the metrics are on [$cmd]" \
	test "$(fact container_port)" = "$port" -a "$(fact scrape_port)" = "$port"

# The DaemonSet's command, as written but for the port (0: any free one) and
# the directories (this test's), in the foreground as in the pod.
OPENMPS_PIPE_DIRECTORY=$TMP/pipe OPENMPS_LOG_DIRECTORY=$TMP/log \
	$(in_root <<<"${cmd%:*}:0") >"$TMP/daemon.out" 2>&1 &
dpid=$!
ready() { $(in_root <<<"$(fact readiness)") >/dev/null 2>&1; }
wait_for "the daemon, as the pod runs it, to pass its readiness probe" 10 ready
live() { $(in_root <<<"$(fact liveness)") >/dev/null 2>&1; }
check "the liveness probe passes too" live
check "its metrics listen on every address, as the pod needs" logged "Metrics at http://0.0.0.0:[0-9]+/metrics"

# A client with exactly the CDI spec's edits: its mounts as links in a
# container-like tree, its environment, and no other way to the shim.
for m in $(fact cdi_mount); do
	host=${m%%=*} ctr=${m#*=}
	[ "$host" = "$PIPE" ] && continue
	src=$host
	[[ $host == /usr/lib/openmps/* ]] && src=$TMP/root$host # the package's file
	check "the CDI mount $host exists" test -e "$src"
	mkdir -p "$TMP/ctr$(dirname "$ctr")"
	ln -s "$src" "$TMP/ctr$ctr"
done
deps=$(ldd "$TMP/root/usr/lib/openmps/libcuda.so.1" | awk '$2 == "=>" {print $1}' | grep -v '^libc\.so' |
	{ if sanitized; then grep -vE '^lib(asan|ubsan|m|gcc_s|stdc\+\+)\.so'; else cat; fi } | tr '\n' ' ')
check "the shim links only the C library and what the spec mounts [$deps]" \
	test "$deps" = "$(fact cdi_mount | grep -v "^$PIPE=" | grep -v 'libcuda.so.1=' | sed 's|.*/||' | tr '\n' ' ')"
nettle_here=$(ldd "$TMP/root/usr/lib/openmps/libcuda.so.1" | awk '$1 == "libnettle.so.8" {print $3}')
check "... the same file as the host's [$nettle_here]" \
	test "$(realpath "$nettle_here")" = "$(realpath "$(fact cdi_mount | grep libnettle | cut -d= -f1)")"
out=$(env $(fact cdi_env | sed "s|=/usr/|=$TMP/ctr/usr/|; s|^OPENMPS_PIPE_DIRECTORY=.*|OPENMPS_PIPE_DIRECTORY=$TMP/pipe|") \
	OPENMPS_REAL_DRIVER=$FAKECUDA timeout 60 "$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "a client with the CDI edits runs through the daemon [$(tail -1 <<<"$out")]" grep -qx "remote_probe: PASS" <<<"$out"
check "... the daemon admitted it" logged "NEW CLIENT [0-9]+ from user"
check "the example pod asks for that CDI device" \
	test "$(fact client_annotation)" = "cdi.k8s.io/openmps=$(fact cdi_device)"
check "... and for one GPU replica" test "$(fact client_gpus)" = 1

check "the device plugin shares by replicas and starts no NVIDIA MPS daemon [$(fact plugin_sharing)]" \
	test "$(fact plugin_sharing)" = timeSlicing -a "$(fact plugin_replicas)" -ge 2
check "the helm line names the plugin's ConfigMap" \
	grep -q "config.name=$(fact plugin_configmap | cut -d/ -f2)" "$K8S/device-plugin-config.yaml"
entry=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)".*/\1/p' "$K8S/Dockerfile")
check "the image's entry point is installed [$entry]" test -x "$TMP/root$entry"

# preStop, as written, ends the daemon.
sh -c "$(in_root <<<"$(fact prestop)")" >/dev/null 2>&1
wait_for "preStop to end the daemon" 15 bash -c "! kill -0 $dpid 2>/dev/null"
wait $dpid 2>/dev/null
finish
