#!/usr/bin/env bash
# Submits a sharded scrub to Slurm: the array (slurm-array.sh, SHARDS
# tasks) and a merge job that runs once every task has ended well
# (`--dependency=afterok`), writing $OUT/merged.jsonl.
#   DATA=/lustre/logs OUT=/lustre/panscrub SHARDS=16 slurm-submit.sh [sbatch options]
# Prints the array's job id, then the merge's.
#
# If a task is cancelled (`scancel JOB_K`), Slurm marks the merge's
# dependency as never satisfied, even once the task is requeued and
# succeeds. Requeue the task, then submit the merge again, after it:
#   scontrol requeue JOB_K
#   MERGE_ONLY=JOB_K DATA=... OUT=... slurm-submit.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${DATA:?set DATA}" "${OUT:?set OUT}"
PANSCRUB=${PANSCRUB:-panscrub}
export DATA OUT PANSCRUB
mkdir -p "$OUT"
merge() {
  sbatch --parsable --job-name=panscrub-merge --dependency="afterok:$1" "${@:2}" \
    --output="$OUT/merge.log" \
    --wrap "\"$PANSCRUB\" merge --force -o \"$OUT/merged.jsonl\" \"$OUT\"/shard-*.jsonl"
}
if [ -n "${MERGE_ONLY:-}" ]; then
  merge "$MERGE_ONLY" "$@"
  exit 0
fi
N=${SHARDS:-16}
array=$(sbatch --parsable --array="0-$((N - 1))" --output="$OUT/shard-%a.log" "$@" "$here/slurm-array.sh")
echo "$array"
merge "$array" "$@"
