#!/usr/bin/env bash
# A throwaway single-node Slurm cluster for the tests: munged, slurmctld and
# slurmd from Debian's slurm-wlm and munge packages, with their key,
# sockets, state, logs and configuration all under DIR (nothing in /etc is
# used or changed), on ports 16817/16818.
#   slurm-cluster.sh start DIR   starts it; prints the SLURM_CONF to use
#   slurm-cluster.sh stop DIR    stops it (every daemon started from DIR)
# Runs as root (slurmd starts jobs as their user). Waits until the node is
# idle, so a job submitted next starts at once. SLURM_TASK_PLUGIN sets
# TaskPlugin (default task/none; the scaling bench uses task/affinity, which
# binds each task to the CPUs it was allocated).
set -euo pipefail
cmd=${1:?start or stop}
dir=$(realpath -m "${2:?DIR}")
conf=$dir/slurm.conf
stop() {
  for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munge/munged.pid; do
    [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
}
case $cmd in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "slurm-cluster.sh: start or stop" >&2; exit 2 ;;
esac
host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$dir"/state "$dir"/spool "$dir"/log "$dir"/munge
chmod 700 "$dir"/munge
[ -s "$dir"/munge/munge.key ] || { head -c 1024 /dev/urandom > "$dir"/munge/munge.key; chmod 400 "$dir"/munge/munge.key; }
/usr/sbin/munged --force --key-file="$dir"/munge/munge.key --socket="$dir"/munge/munge.sock \
  --pid-file="$dir"/munge/munged.pid --log-file="$dir"/munge/munged.log --seed-file="$dir"/munge/seed
cat > "$conf" <<CONF
ClusterName=panscrubtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=${SLURM_TASK_PLUGIN:-task/none}
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
KillWait=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
NodeName=$host CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$conf
/usr/sbin/slurmctld -f "$conf" -c -i
/usr/sbin/slurmd -f "$conf"
for _ in $(seq 1 100); do
  if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
    echo "$conf"
    exit 0
  fi
  sleep 0.2
done
echo "slurm-cluster.sh: the node did not become idle; logs in $dir/log" >&2
stop
exit 1
