#!/usr/bin/env bash
# N shards of one scrub over several hosts with GNU parallel: every host
# sees the data at the same path (NFS, a shared mount), one shard each.
#   HOSTS=host1,host2,host3,host4 scripts/scale-out/parallel-hosts.sh
# With HOSTS unset it runs the shards locally (used by CI on testdata/).
set -euo pipefail
N=${SHARDS:-4}
DATA=${DATA:-/mnt/logs}
OUT=${OUT:-/shared/panscrub-manifests}
PANSCRUB=${PANSCRUB:-panscrub}
mkdir -p "$OUT"
shard() { "$PANSCRUB" scrub --quiet --force --shard "$1/$N" --manifest "$OUT/$1.jsonl" "$DATA"; }
if [ -n "${HOSTS:-}" ]; then
  seq 0 $((N - 1)) | parallel -S "$HOSTS" --jobs 1 \
    "$PANSCRUB scrub --quiet --force --shard {}/$N --manifest $OUT/{}.jsonl $DATA"
else
  for k in $(seq 0 $((N - 1))); do shard "$k" || [ $? -le 1 ]; done
fi
"$PANSCRUB" merge -o "$OUT/all.jsonl" $(for k in $(seq 0 $((N - 1))); do echo "$OUT/$k.jsonl"; done)
