#!/usr/bin/env bash
# Throughput of the shipped Slurm array (scripts/scale-out/slurm-submit.sh)
# on a throwaway single-node cluster (scripts/slurm-cluster.sh): the same
# tree of SIZE_MB MB of logs (FILES files, default 512, a test card every
# ~10 KB) scrubbed
# by an array of 1 task, then by 2 tasks, each task one CPU and one worker
# thread. Prints each wall time, from submission until the merge job has
# completed (Slurm's scheduling included), and the ratio. Needs root and
# Debian's slurmctld, slurmd, slurm-client and munge. BENCH_DIR: where the
# data goes (the tree is copied afresh before each run).
#
# The cluster confines each task to the CPU it was given
# (TaskPlugin=task/affinity), as a production Slurm does: without it a
# one-CPU task's hashing threads use the second core too, and "1 task"
# is not one CPU's worth. Besides the wall time from submission to the
# merge, it prints the shard work alone: the longest task's own
# elapsed_seconds (from its manifest), which excludes Slurm's scheduling
# and the merge job (one process over every manifest, the same for any
# number of tasks).
#
# A path's shard is a hash of the path, which balances files by count, not
# by bytes: with few files of equal size the split can be lopsided (64
# files once split 26/38, which caps 2 tasks at 1.68x one), so the script
# prints each task's share of the bytes beside the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
D=${BENCH_DIR:-/tmp/panscrub-bench}/slurm
SIZE_MB=${SIZE_MB:-2048}
FILES=${FILES:-512}
TREE=$D/tree-$SIZE_MB-$FILES
mkdir -p "$D"
if [ ! -d "$TREE" ]; then
  python3 - "$TREE" "$SIZE_MB" "$FILES" <<'PY'
import os, random, sys
out, size_mb, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
rng = random.Random(5)
cards = ["4111111111111111", "5555555555554444", "378282246310005"]
per_file = size_mb * 1024 * 1024 // files
line = 0
for f in range(files):
    with open(f"{out}/app-{f:04}.log", "w") as w:
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
export SLURM_TASK_PLUGIN=${SLURM_TASK_PLUGIN:-task/affinity}
conf=$(scripts/slurm-cluster.sh start "$D/cluster")
export SLURM_CONF=$conf
trap 'scripts/slurm-cluster.sh stop "$D/cluster"' EXIT
run() {
  local tasks=$1
  rm -rf "$D/work" "$D/out-$tasks"
  cp -r "$TREE" "$D/work"
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
# The shard work alone: the longest task's own elapsed time.
longest() {
  for f in "$D/out-$1"/shard-*.jsonl; do tail -n 1 "$f"; done |
    python3 -c 'import json, sys; print(max(json.loads(l)["elapsed_seconds"] for l in sys.stdin))'
}
w1=$(longest 1)
w2=$(longest 2)
printf 'shard work: 1 task %.2f s, 2 tasks %.2f s (longest), %.2fx\n' "$w1" "$w2" "$(echo "$w1 / $w2" | bc -l)"
for f in "$D/out-2"/shard-*.jsonl; do tail -n 1 "$f"; done |
  python3 -c '
import json, sys
s = [json.loads(l) for l in sys.stdin]
total = sum(x["bytes"] for x in s)
parts = ["%d files, %.1f%% of the bytes, %.2f s" % (x["files"], 100 * x["bytes"] / total, x["elapsed_seconds"]) for x in s]
print("2 tasks: " + "; ".join(parts))'
# Merge alone, on the manifests the 2-task run left.
hyperfine -N -w 1 -r 5 --prepare "rm -f $D/merged.jsonl" \
  "$BIN merge -o $D/merged.jsonl $(ls "$D/out-2"/shard-*.jsonl | tr '\n' ' ')" 2>/dev/null |
  grep -E "Time|Range" || true
echo "manifests: $(cat "$D/out-2"/shard-*.jsonl | wc -c) bytes"
