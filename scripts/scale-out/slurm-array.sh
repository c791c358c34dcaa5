#!/usr/bin/env bash
# N shards of one scrub as a Slurm job array: task i runs shard i/N.
#   sbatch scripts/scale-out/slurm-array.sh
# then: panscrub merge -o all.jsonl "$OUT"/*.jsonl
#SBATCH --job-name=panscrub
#SBATCH --array=0-15
#SBATCH --cpus-per-task=8
set -euo pipefail
N=${SHARDS:-16}
DATA=${DATA:-/lustre/logs}
OUT=${OUT:-$HOME/panscrub-manifests}
PANSCRUB=${PANSCRUB:-panscrub}
mkdir -p "$OUT"
"$PANSCRUB" scrub --quiet --jobs "${SLURM_CPUS_PER_TASK:-8}" \
  --force --shard "$SLURM_ARRAY_TASK_ID/$N" --manifest "$OUT/$SLURM_ARRAY_TASK_ID.jsonl" "$DATA"
