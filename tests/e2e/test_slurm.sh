# Slurm, for real: a one-node Slurm (Debian's slurm-wlm: slurmctld and
# slurmd here, munge for its credentials) with gres/gpu and gres/mps over a
# device node that stands for a GPU, openmps's prolog, epilog and
# task-prolog (deploy/slurm) as the site installs them, and the driver
# under it fakecuda. Two jobs with --gres=mps:50 and mps:25 run at once
# through one daemon and one server, each with the share Slurm gave it;
# the last one's epilog stops the daemon; a job that takes the whole GPU
# finds no daemon on it.
. "$(dirname "$0")/lib.sh"
for t in slurmctld slurmd sbatch munged; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed (Debian: slurm-wlm, munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: slurmd runs jobs as their users: root only"; exit 77; }
SRC=$(realpath "$(dirname "$0")/../..")
S=$TMP/slurm
# However the test ends, nothing it started stays: Slurm, munge, the daemon.
down() {
	local f
	for f in "$S/slurmctld.pid" "$S/slurmd.pid" "$S/munge/pid" "$TMP/run/pipe_0/openmps-control.pid"; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	pkill -9 -f "$TMP/run/pipe_0" 2>/dev/null
}
trap 'down; cleanup' EXIT
mkdir -p "$S"/{etc,spool,state,log,dev,jobs} "$S/munge" "$TMP/run"
chmod 700 "$S/munge"
chmod 755 "$TMP" # Slurm runs the jobs' output files as their user: root here, so this is for form
ln -s /dev/null "$S/dev/nvidia0" # a character device, as gres.conf wants; index 0 from its name
head -c 1024 /dev/urandom >"$S/munge/key"
chmod 400 "$S/munge/key"
munged -f --key-file="$S/munge/key" --socket="$S/munge/sock" --pid-file="$S/munge/pid" \
	--log-file="$S/munge/log" --seed-file="$S/munge/seed"
check "munged runs" test -S "$S/munge/sock"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
H=$(hostname -s)
export SLURM_CONF=$S/etc/slurm.conf
# The site's settings, and its scripts as written (each names this file).
cat >"$S/etc/openmps.conf" <<CONF
OPENMPS_BINDIR=$OPENMPS_BIN
OPENMPS_SHIMDIR=$(realpath "$OPENMPS_BIN/../lib/openmps")
OPENMPS_RUNDIR=$TMP/run
OPENMPS_DRIVER_PATH=$FAKECUDA
SLURM_CONF=$SLURM_CONF
CONF
for s in prolog epilog task-prolog; do
	printf '#!/bin/sh\nOPENMPS_SLURM_CONF=%s exec %s "$@"\n' "$S/etc/openmps.conf" "$SRC/deploy/slurm/$s" >"$S/etc/$s"
	chmod +x "$S/etc/$s"
done
cat >"$SLURM_CONF" <<CONF
ClusterName=omps
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu,mps
ReturnToService=2
MpiDefault=none
Prolog=$S/etc/prolog
PrologFlags=Alloc
Epilog=$S/etc/epilog
TaskProlog=$S/etc/task-prolog
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:1,mps:100 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$S/etc/gres.conf" <<CONF
AutoDetect=off
NodeName=$H Name=gpu File=$S/dev/nvidia0
NodeName=$H Name=mps Count=100 File=$S/dev/nvidia0
CONF
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
idle() { [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; }
wait_for "the node to be idle" 30 idle
check "slurmd sees gpu:1 and mps:100 [$(scontrol show node "$H" 2>&1 | grep -o 'Gres=[^ ]*')]" \
	grep -q "Gres=gpu:1,mps:100" <<<"$(scontrol show node "$H")"

PIPE=$TMP/run/pipe_0
ctl() { OPENMPS_PIPE_DIRECTORY=$PIPE "$OPENMPS_BIN/openmps-control" "$@"; }
share() { ctl ps --json 2>/dev/null | python3 -c "import json, sys; print(sorted(k['active_thread_percentage'] for s in json.load(sys.stdin)['servers'] for k in s['clients']))"; }
job() { # job SHARE NAME: a client of known work, held until the gate opens
	sbatch --parsable --gres=mps:$1 -o "$S/jobs/$2.out" --export=ALL,OPENMPS_REAL_DRIVER=$FAKECUDA \
		--wrap "echo share=\$CUDA_MPS_ACTIVE_THREAD_PERCENTAGE pipe=\$OPENMPS_PIPE_DIRECTORY; exec '$OPENMPS_BIN/omps-stats-probe' 3 65536 '$TMP/go'"
}
a=$(job 50 a)
b=$(job 25 b)
check "two jobs submitted [$a $b]" test -n "$a" -a -n "$b"
wait_for "both jobs' programs to work through openmps" 60 eval 'grep -q worked "$S/jobs/a.out" 2>/dev/null && grep -q worked "$S/jobs/b.out" 2>/dev/null'
check "they run at once [$(squeue -h -o '%i %T' | tr '\n' ' ')]" test "$(squeue -h -t RUNNING | wc -l)" = 2
check "one daemon, one server, both its clients, each with the share Slurm gave [$(share)]" \
	test "$(share)" = "[25.0, 50.0]"
check "Slurm's share reached the job [$(head -1 "$S/jobs/a.out")]" grep -qx "share=50 pipe=$PIPE" "$S/jobs/a.out"
check "the prolog started the daemon of GPU 0" test "$(ctl get_server_list | wc -l)" = 1
touch "$TMP/go"
done_() { [ -z "$(squeue -h)" ]; }
wait_for "the jobs to end" 60 done_
check "both programs passed" test "$(cat "$S/jobs/a.out" "$S/jobs/b.out" | grep -c 'stats_probe: PASS')" = 2
stopped() { ! ctl get_server_list >/dev/null 2>&1; }
wait_for "the last job's epilog to stop the daemon" 30 stopped

# Started again for a job, then a job that takes the whole GPU stops it first.
rm -f "$TMP/go"
c=$(job 30 c)
wait_for "a third job's program to work" 60 grep -q worked "$S/jobs/c.out"
check "its daemon runs" ctl get_server_list
touch "$TMP/go"
wait_for "it to end" 60 done_
OPENMPS_PIPE_DIRECTORY=$PIPE "$OPENMPS_BIN/openmps-control" -d # as if left behind
whole=$(sbatch --parsable --gres=gpu:1 -o "$S/jobs/whole.out" --wrap 'echo devices=$CUDA_VISIBLE_DEVICES')
wait_for "the whole-GPU job to end" 60 done_
check "it had the GPU [$(cat "$S/jobs/whole.out")]" grep -qx "devices=0" "$S/jobs/whole.out"
check "its prolog stopped the daemon on it first" stopped

scontrol shutdown >/dev/null 2>&1
munged -s --socket="$S/munge/sock" >/dev/null 2>&1
gone() { ! pgrep -f "$S/etc/slurm.conf" >/dev/null; }
wait_for "slurmctld and slurmd to end" 15 gone
finish
