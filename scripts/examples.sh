#!/usr/bin/env bash
# Runs every example of the README's "Try the three jobs" section on a copy
# of testdata/ and checks the outcome. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cp -r testdata "$W/testdata"
REPO=$PWD
cd "$W"
expect() { local want=$1; shift; set +e; "$@" >/dev/null 2>&1; local got=$?; set -e
  [ "$got" = "$want" ] || { echo "FAIL ($got, wanted $want): $*"; exit 1; }; echo "ok: $*"; }

# 1. Sandbox export: a clean copy, originals untouched.
expect 0 "$BIN" scrub --out export-clean --manifest export.jsonl testdata/export
expect 0 "$BIN" scan export-clean
expect 1 "$BIN" scan testdata/export
# 2. Nightly cron: in place, quiet, manifest; a second run has nothing to do.
cp -r testdata logs
expect 0 "$BIN" scrub --quiet --manifest nightly.jsonl logs
expect 0 "$BIN" scan --quiet logs
# --touch: scrubbed files get a new mtime (backups with a quick check see them).
cp -r testdata touched
expect 0 "$BIN" scrub --quiet --touch touched
# 3. Forensic sweep: read-only, hashes, sorted manifest; evidence unchanged.
before=$(find testdata -type f -exec sha256sum {} + | sort)
expect 1 "$BIN" scan --hash --sort --manifest case-42.jsonl testdata
after=$(find testdata -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || { echo "FAIL: evidence changed"; exit 1; }; echo "ok: evidence unchanged"
# Reports, merge, settings file, shards.
expect 0 "$BIN" report case-42.jsonl
expect 0 "$BIN" report --format csv case-42.jsonl
expect 0 "$BIN" report --format html -o case-42.html case-42.jsonl
expect 0 "$BIN" report --format csv --files case-42.jsonl
grep -q 'data-total="findings"' case-42.html || { echo "FAIL: html report"; exit 1; }; echo "ok: html report"
# Rerun into the same manifest: refused without --force, replaced with it.
expect 2 "$BIN" scan --quiet --manifest case-42.jsonl testdata
expect 1 "$BIN" scan --quiet --force --manifest case-42.jsonl testdata
# ripgrep-style output and path lists.
expect 1 "$BIN" scan -l testdata
expect 1 "$BIN" scan -c testdata
expect 1 "$BIN" scan --json testdata
expect 1 "$BIN" scan --color always testdata/logs
find testdata -name '*.csv' -print0 | { "$BIN" scan -0 --files-from - >/dev/null 2>&1 || [ $? -eq 1 ]; }; echo "ok: --files-from -0"
expect 1 "$BIN" scan -L testdata
expect 0 "$BIN" man --dir man
# Test cards allowed; the verification code in access.log never is.
printf 'keep = "6+4"\n[allow]\ntest_cards = true\n' > panscrub.toml
expect 1 "$BIN" scan testdata
printf 'keep = "6+4"\npan_only = true\n[allow]\ntest_cards = true\n' > panscrub.toml
expect 0 "$BIN" scan testdata
rm panscrub.toml
for k in 0 1; do "$BIN" scan --quiet --shard $k/2 --manifest shard$k.jsonl testdata || [ $? -le 1 ]; done
echo "ok: two shards"
expect 0 "$BIN" merge -o merged.jsonl shard0.jsonl shard1.jsonl
expect 2 "$BIN" merge -o twice.jsonl shard0.jsonl shard0.jsonl
# The shipped scale-out examples, run locally on copies of testdata/.
cp -r testdata shards-par
SHARDS=4 DATA=shards-par OUT=out-par PANSCRUB=$BIN bash "$REPO/scripts/scale-out/parallel-hosts.sh"
[ "$("$BIN" scan --quiet shards-par; echo $?)" = 0 ] || { echo "FAIL: shards left PANs"; exit 1; }; echo "ok: parallel-hosts.sh"
cp -r testdata shards-slurm
for i in 0 1 2; do SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=3 \
  DATA=shards-slurm OUT=out-slurm PANSCRUB=$BIN bash "$REPO/scripts/scale-out/slurm-array.sh"; done
[ "$("$BIN" scan --quiet shards-slurm; echo $?)" = 0 ] || { echo "FAIL: slurm shards left PANs"; exit 1; }; echo "ok: slurm-array.sh"
cp -r testdata shards-k8s
for i in 0 1; do JOB_COMPLETION_INDEX=$i PANSCRUB_SHARD_COUNT=2 sh -c "$BIN scrub --quiet --shard k8s --manifest \"k8s-\$JOB_COMPLETION_INDEX.jsonl\" shards-k8s" || [ $? -le 1 ]; done
[ "$("$BIN" scan --quiet shards-k8s; echo $?)" = 0 ] || { echo "FAIL: k8s shards left PANs"; exit 1; }; echo "ok: k8s command"
echo "all README examples ran"
