#!/usr/bin/env bash
# Throughput of the shipped Slurm array (scripts/scale-out/slurm-submit.sh)
# on a throwaway single-node cluster (scripts/slurm-cluster.sh): the same
# tree of SIZE_MB MB of logs (64 files, a test card every ~10 KB) scrubbed
# by an array of 1 task, then by 2 tasks, each task one CPU and one worker
# thread. Prints each wall time, from submission until the merge job has
# completed (Slurm's scheduling included), and the ratio. Needs root and
# Debian's slurmctld, slurmd, slurm-client and munge. BENCH_DIR: where the
# data goes (the tree is copied afresh before each run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
D=${BENCH_DIR:-/tmp/panscrub-bench}/slurm
SIZE_MB=${SIZE_MB:-2048}
mkdir -p "$D"
if [ ! -d "$D/tree-$SIZE_MB" ]; then
  python3 - "$D/tree-$SIZE_MB" "$SIZE_MB" <<'PY'
import os, random, sys
out, size_mb = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
rng = random.Random(5)
cards = ["4111111111111111", "5555555555554444", "378282246310005"]
per_file = size_mb * 1024 * 1024 // 64
line = 0
for f in range(64):
    with open(f"{out}/app-{f:02}.log", "w") as w:
        written = 0
        while written < per_file:
            if line % 100 == 0:
                s = f"{line} 10.0.0.{line % 250} POST /pay card={cards[line % 3]} 200\n"
            else:
                s = f"{line} 10.0.0.{line % 250} GET /api/orders/{rng.randrange(10**6)} 200 {rng.randrange(9999)} ms\n"
            w.write(s)
            written += len(s)
            line += 1
PY
fi
conf=$(scripts/slurm-cluster.sh start "$D/cluster")
export SLURM_CONF=$conf
trap 'scripts/slurm-cluster.sh stop "$D/cluster"' EXIT
run() {
  local tasks=$1
  rm -rf "$D/work" "$D/out-$tasks"
  cp -r "$D/tree-$SIZE_MB" "$D/work"
  sync
  local start end ids merge
  start=$(date +%s.%N)
  ids=$(DATA=$D/work OUT=$D/out-$tasks SHARDS=$tasks PANSCRUB=$BIN \
    scripts/scale-out/slurm-submit.sh --cpus-per-task=1)
  merge=$(echo "$ids" | tail -n 1)
  while scontrol show job "$merge" -o | grep -Eq 'JobState=(PENDING|RUNNING|COMPLETING|CONFIGURING)'; do
    sleep 0.05
  done
  end=$(date +%s.%N)
  scontrol show job "$merge" -o | grep -q 'JobState=COMPLETED' || { echo "merge did not complete" >&2; exit 1; }
  echo "$end - $start" | bc
}
t1=$(run 1)
t2=$(run 2)
printf 'tasks=1\t%.2f s\t%.0f MB/s\n' "$t1" "$(echo "$SIZE_MB / $t1" | bc -l)"
printf 'tasks=2\t%.2f s\t%.0f MB/s\n' "$t2" "$(echo "$SIZE_MB / $t2" | bc -l)"
printf 'speed-up\t%.2fx\n' "$(echo "$t1 / $t2" | bc -l)"
