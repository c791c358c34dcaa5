#!/usr/bin/env bash
# One shard of a scrub per Slurm array task. The shard count is the array's
# own (`--shard slurm` reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT),
# so the two cannot disagree: change the array with `sbatch --array=0-K`.
# Submit it with its merge through slurm-submit.sh.
#
# A requeued task (`scontrol requeue JOB_K`) writes a manifest of its own,
# named for its attempt (SLURM_RESTART_COUNT): what the killed attempt
# truncated stays recorded in its manifest, the rerun finds those files
# clean, and the merge counts every finding once, under the run that
# truncated it.
#
# Exit: 0 when the scrub exited 0 or 1 (1: findings left in place, which
# the manifest records and the merge reports), else the scrub's code, so
# `--dependency=afterok` holds back the merge only for a failed shard.
#SBATCH --job-name=panscrub
#SBATCH --array=0-15
#SBATCH --cpus-per-task=8
#SBATCH --requeue
set -euo pipefail
: "${DATA:?set DATA to the tree to scrub (the same path on every node)}"
: "${OUT:?set OUT to a directory every node can write}"
PANSCRUB=${PANSCRUB:-panscrub}
mkdir -p "$OUT"
attempt=${SLURM_RESTART_COUNT:-0}
rc=0
"$PANSCRUB" scrub --quiet --force --jobs "${SLURM_CPUS_PER_TASK:-1}" --shard slurm \
  --manifest "$OUT/shard-$SLURM_ARRAY_TASK_ID.attempt-$attempt.jsonl" "$DATA" || rc=$?
[ "$rc" -le 1 ] || exit "$rc"
