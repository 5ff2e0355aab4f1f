# Several GPUs (fakecuda with 4): a client sees exactly the GPUs it would
# see natively, by its own CUDA_VISIBLE_DEVICES (indices, UUIDs, prefixes;
# CUDA_DEVICE_ORDER=PCI_BUS_ID), with the same ordinals, names, UUIDs and
# PCI ids; its calls land on those GPUs; its memory limits name its own
# ordinals; the daemon's CUDA_VISIBLE_DEVICES limits what the server uses.
. "$(dirname "$0")/lib.sh"
SHIM_DIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
PROBE=$OPENMPS_BIN/omps-devices-probe
export OPENMPS_REAL_DRIVER=$FAKECUDA FAKECUDA_DEVICES=4 FAKECUDA_PCI_BUS_REVERSED=1 FAKECUDA_ACCESS_LOG=$TMP/access.log
probe() { LD_LIBRARY_PATH=$SHIM_DIR timeout 30 "$PROBE" "$@" 2>&1; }
native() { OPENMPS_NATIVE=1 probe "$@"; }
uuid() { sed -n "s/^device $1: .*, \(GPU-[0-9a-f-]*\), .*/\1/p" <<<"$2"; }

all=$(native)
check "natively, four devices [$(head -1 <<<"$all")]" grep -qx "devices_probe: count = 4" <<<"$all"
U2=$(uuid 2 "$all")
U3=$(uuid 3 "$all")

# 1. What each setting shows, through openmps and natively: the same lines.
start_daemon
same() { # same WHAT ENV...: the probe's lines under env ENV..., both ways
	local what=$1 n o
	shift
	n=$(env "$@" OPENMPS_NATIVE=1 LD_LIBRARY_PATH=$SHIM_DIR timeout 30 "$PROBE" 2>&1)
	o=$(env "$@" LD_LIBRARY_PATH=$SHIM_DIR timeout 30 "$PROBE" 2>/dev/null)
	check "$what: as natively [$(grep -c "^device" <<<"$o") devices: $(sed -n 's/^device \([0-9]\): openmps fakecuda device \([0-9]\).*/\1=\2/p' <<<"$o" | tr '\n' ' ')]" \
		test "$o" = "$n"
}
same "no CUDA_VISIBLE_DEVICES" -u CUDA_VISIBLE_DEVICES
same "CUDA_VISIBLE_DEVICES=2" CUDA_VISIBLE_DEVICES=2
same "CUDA_VISIBLE_DEVICES=3,1" CUDA_VISIBLE_DEVICES=3,1
same "by UUID" CUDA_VISIBLE_DEVICES="$U3"
same "by UUID prefix, then an index" CUDA_VISIBLE_DEVICES="${U2:0:12},0"
same "an index past the last ends the list" CUDA_VISIBLE_DEVICES=1,7,2
same "a device named twice ends the list" CUDA_VISIBLE_DEVICES=2,2,1
same "CUDA_DEVICE_ORDER=PCI_BUS_ID" CUDA_DEVICE_ORDER=PCI_BUS_ID
same "PCI_BUS_ID order, indices in it" CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES=0,3
same "CUDA_VISIBLE_DEVICES empty: no device" CUDA_VISIBLE_DEVICES=
out=$(CUDA_VISIBLE_DEVICES= probe)
check "... cuInit says CUDA_ERROR_NO_DEVICE, as natively [$out]" grep -qx "devices_probe: init = 100" <<<"$out"
out=$(CUDA_VISIBLE_DEVICES=1,7,2 probe)
check "the list cut short is said in one line [$(grep openmps: <<<"$out")]" \
	grep -qx 'openmps: CUDA_VISIBLE_DEVICES=1,7,2: "7" names none of the 4 GPUs its server drives (or one named before), so it sees the 1 before it, as CUDA would' <<<"$out"
n=$(CUDA_VISIBLE_DEVICES=2,1 native --peer)
o=$(CUDA_VISIBLE_DEVICES=2,1 probe --peer)
check "peer access and copies between its two GPUs [$(grep -E "enable|verified" <<<"$o" | tr '\n' ' ')]" \
	grep -qx "devices_probe: peer copies verified" <<<"$o"
check "... answered as natively" test "$o" = "$n"
check "server.log: peer access enabled between the server's GPUs" \
	logged "Peer access between the server's devices: 0->1, 0->2, 0->3, 1->0, 1->2, 1->3, 2->0, .*3->2$" server

# 2. Its calls land on its GPUs: device k of a client with
# CUDA_VISIBLE_DEVICES=3,1 holds (k+1) MiB on the server's 3, then 1.
rm -f "$TMP/go"
CUDA_VISIBLE_DEVICES=3,1 LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" --hold "$TMP/go" >"$TMP/hold.out" 2>&1 &
held=$!
wait_for "the probe to hold its memory" 10 grep -q "ready" "$TMP/hold.out"
S=$(servers)
check "control.log: what it sees" \
	logged "Client $held sees 2 of server $S's 4 GPUs, as its devices 0..1: the server's 3,1 \(CUDA_VISIBLE_DEVICES=3,1\)"
used() { # the client's memory in use on each of the server's GPUs, as ps --json says
	c "ps --json" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["servers"]:
    for k in s["clients"]:
        if k["pid"] == int(sys.argv[1]):
            print(" ".join(str(m["used"] >> 20) for m in k["memory"]))' "$1"
}
usage_in() { [ "$(used "$held")" = "0 2 0 1" ]; }
wait_for "ps --json to show 1 MiB on GPU 3 and 2 MiB on GPU 1 [$(used "$held")]" 5 usage_in
sees() { c "ps --json" | python3 -c '
import json, sys
print([k["devices"] for s in json.load(sys.stdin)["servers"] for k in s["clients"] if k["pid"] == int(sys.argv[1])])' "$held"; }
check "ps --json: the GPUs it sees [$(sees)]" test "$(sees)" = "[[1, 3]]"
check "ps: its DEVICE is its device 0, the server's 3 [$(c ps | grep "^$held ")]" \
	grep -qE "^$held +[0-9]+ +$S +${U3:0:22} " <<<"$(c ps)"
check "get_device_client_list: under GPUs 1 and 3 only" \
	test "$(c "get_device_client_list $S" | grep -B1 "^$held\.1$" | grep -o '^\[[0-9]\]' | tr '\n' ' ')" = "[1] [3] "
check "its memory on GPU 3 may be reached from the GPUs with peer access to it [$(sort -u "$TMP/access.log" | tr '\n' ';')]" \
	grep -qx "memory: devices 3,0,1,2" "$TMP/access.log"
check "... and on GPU 1 likewise" grep -qx "memory: devices 1,0,2,3" "$TMP/access.log"
touch "$TMP/go"
wait $held
check "it read back what it wrote on each [$(tail -1 "$TMP/hold.out")]" grep -qx "devices_probe: PASS" "$TMP/hold.out"
out=$(CUDA_VISIBLE_DEVICES=2,0 LD_LIBRARY_PATH=$SHIM_DIR timeout 30 "$OPENMPS_BIN/omps-remote-probe" 2>&1)
check "modules, launches, streams and events on the GPUs it sees [$(tail -1 <<<"$out")]" \
	grep -qx "remote_probe: PASS" <<<"$out"

# 2b. SM shares are per GPU: a client at 25% on the server's GPU 2 gets a
# quarter of that GPU's SMs (fakecuda's 132: 32), which ps reports.
rm -f "$TMP/go"
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 CUDA_VISIBLE_DEVICES=2 LD_LIBRARY_PATH=$SHIM_DIR "$PROBE" --hold "$TMP/go" \
	>"$TMP/share.out" 2>&1 &
held=$!
wait_for "the probe at 25% to hold its memory" 10 grep -q "ready" "$TMP/share.out"
share() { c "ps --json" | python3 -c '
import json, sys
print([(k["devices"], k["sms"]) for s in json.load(sys.stdin)["servers"] for k in s["clients"] if k["pid"] == int(sys.argv[1])])' "$held"; }
share_in() { [ "$(share)" = "[([2], 32)]" ]; }
wait_for "ps --json: 32 SMs, on the GPU it sees [$(share)]" 5 share_in
touch "$TMP/go"
wait $held

# 2c. Without the arena (OPENMPS_DEVICE_ARENA=0) memory comes from a pool a
# device: its peers are granted access to it too.
stop_daemon 10
rm -f "$TMP/access.log"
OPENMPS_DEVICE_ARENA=0 start_daemon
out=$(CUDA_VISIBLE_DEVICES=2 probe --alloc 1)
check "an allocation from GPU 2's pool [$(grep alloc <<<"$out")]" grep -qx "devices_probe: alloc 1 MiB = 0" <<<"$out"
check "... which its peers may reach [$(sort -u "$TMP/access.log" 2>/dev/null | tr '\n' ';')]" \
	grep -qx "pool: devices 0,1,3" "$TMP/access.log"
stop_daemon 10
start_daemon

# 3. Memory limits: its own name its ordinals; the server's name the server's.
out=$(CUDA_VISIBLE_DEVICES=2 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=8M probe --alloc 16)
check "its limit on its device 0 holds on the server's 2 [$(grep alloc <<<"$out")]" \
	grep -qx "devices_probe: alloc 16 MiB = 2" <<<"$out"
out=$(CUDA_VISIBLE_DEVICES=1 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=8M probe --alloc 4)
check "... and below it, allocations pass [$(grep alloc <<<"$out")]" grep -qx "devices_probe: alloc 4 MiB = 0" <<<"$out"
c "set_default_device_pinned_mem_limit 1 6M" >/dev/null
stop_daemon 10
start_daemon
c "set_default_device_pinned_mem_limit 1 6M" >/dev/null
out=$(CUDA_VISIBLE_DEVICES=1 probe --alloc 8)
check "the daemon's limit on GPU 1 holds for a client that calls it 0 [$(grep alloc <<<"$out")]" \
	grep -qx "devices_probe: alloc 8 MiB = 2" <<<"$out"
out=$(CUDA_VISIBLE_DEVICES=2 probe --alloc 8)
check "... and not on another GPU [$(grep alloc <<<"$out")]" grep -qx "devices_probe: alloc 8 MiB = 0" <<<"$out"
stop_daemon 10

# 4. The daemon's CUDA_VISIBLE_DEVICES: the server drives those GPUs only,
# renumbered; a client sees them, and no other. GPUs that cannot reach
# each other: no peer access, and peer copies still work, as natively.
rm -f "$TMP/access.log"
CUDA_VISIBLE_DEVICES=3,1 FAKECUDA_NO_PEER=1 start_daemon
out=$(probe)
check "a client sees the daemon's two GPUs, renumbered [$(grep -c ^device <<<"$out")]" \
	test "$(sed -n 's/^device \([0-9]\): \(openmps fakecuda device [0-9]\),.*/\1 \2/p' <<<"$out" | tr '\n' ';')" = \
	"0 openmps fakecuda device 3;1 openmps fakecuda device 1;"
out=$(CUDA_VISIBLE_DEVICES="$U3" probe)
check "by UUID, one of them [$(grep ^device <<<"$out")]" grep -q "^device 0: openmps fakecuda device 3, $U3, " <<<"$out"
out=$(CUDA_VISIBLE_DEVICES="$U2" probe)
check "by UUID, one the server does not drive: none [$(head -1 <<<"$out")]" grep -qx "devices_probe: init = 100" <<<"$out"
check "... and says why" grep -q "^openmps: CUDA_VISIBLE_DEVICES=$U2: \"$U2\" names none of the 2 GPUs its server drives" <<<"$out"
out=$(probe --peer)
check "no peer access between them [$(grep -E "can access|enable" <<<"$out" | tr '\n' ' ')]" \
	grep -qx "devices_probe: enable = 217, again = 217, itself = 101" <<<"$out"
check "... and peer copies work" grep -qx "devices_probe: peer copies verified" <<<"$out"
check "... as natively" test "$out" = "$(CUDA_VISIBLE_DEVICES=3,1 FAKECUDA_NO_PEER=1 native --peer)"
check "memory reached by its own GPU alone [$(sort -u "$TMP/access.log" | tr '\n' ';')]" \
	test "$(sort -u "$TMP/access.log" | tr '\n' ';')" = "memory: devices 0;memory: devices 1;"
check "server.log: no peer access" \
	logged "Peer access between the server's devices: none \(no two can reach each other\)" server
stop_daemon 10

# 5. A GPU fault on GPU 0: an idle client that sees only GPU 1 is kept
# through the server's handover, its view with it, and finds its memory,
# module, stream and page-locked memory as they were.
FAKECUDA_DEVICES=2 FAKECUDA_STICKY_FAULTS=1 start_daemon
rm -f "$TMP/go-idle"
CUDA_VISIBLE_DEVICES=1 FAKECUDA_DEVICES=2 LD_LIBRARY_PATH=$SHIM_DIR "$OPENMPS_BIN/omps-fault-probe" --idle "$TMP/go-idle" \
	>"$TMP/idle.out" 2>&1 &
idle=$!
wait_for "the client on GPU 1 to be ready" 20 grep -q "ready" "$TMP/idle.out"
FAKECUDA_DEVICES=2 LD_LIBRARY_PATH=$SHIM_DIR timeout 30 "$OPENMPS_BIN/omps-fault-probe" >"$TMP/culprit.out" 2>&1
wait_for "the server to make itself anew" 10 logged "Server made anew after the GPU fault on device 0: 2 clients kept of 2" server
touch "$TMP/go-idle"
wait $idle
check "the client on GPU 1 finds everything as it was [$(tail -1 "$TMP/idle.out")]" \
	grep -qx "fault_probe: PASS" "$TMP/idle.out"
stop_daemon 10

# 6. A client with work on GPUs 0 and 1 that synchronized GPU 1's context:
# GPU 0's work was in flight, so the fault on GPU 0 is told to it by its
# synchronize there; it keeps what GPU 1's synchronize waited for. A
# device's synchronize counted as the client's whatever the device, and
# its work on the other one was lost unseen. FAKECUDA_STREAM_BUSY: the
# server's own look as it settles the client finds its streams busy too.
FAKECUDA_DEVICES=2 FAKECUDA_STICKY_FAULTS=1 FAKECUDA_STREAM_BUSY=1 start_daemon
rm -f "$TMP/go-two"
FAKECUDA_DEVICES=2 LD_LIBRARY_PATH=$SHIM_DIR timeout 60 "$OPENMPS_BIN/omps-fault-probe" --two-devices "$TMP/go-two" \
	>"$TMP/two.out" 2>&1 &
two=$!
wait_for "the client on GPUs 0 and 1 to be ready" 20 grep -q "ready" "$TMP/two.out"
P=$(probe_pid "$TMP/two.out")
FAKECUDA_DEVICES=2 LD_LIBRARY_PATH=$SHIM_DIR timeout 30 "$OPENMPS_BIN/omps-fault-probe" >/dev/null 2>&1
wait_for "the server to make itself anew" 10 logged "Server made anew after the GPU fault on device 0: 2 clients kept of 2" server
check "server.log: taken for one with work queued" \
	logged "Client \{PID: $P, ID: [0-9]+\} kept: it had work queued" server
touch "$TMP/go-two"
wait $two
check "its synchronize on GPU 0 returns the fault [$(grep synchronize "$TMP/two.out")]" \
	grep -qE "^fault_probe: synchronize = [1-9][0-9]*$" "$TMP/two.out"
check "... and what it waited for on GPU 1 is kept [$(tail -1 "$TMP/two.out")]" grep -qx "fault_probe: PASS" "$TMP/two.out"
stop_daemon 10
finish
