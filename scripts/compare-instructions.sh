#!/usr/bin/env bash
# Instruction counts (valgrind callgrind) of two panscrub binaries on the
# same inputs: repeatable whatever else the shared machine is doing, so a
# refactor can be shown to cost nothing where wall-clock timings are noise.
#
# Usage: scripts/compare-instructions.sh OLD_BIN NEW_BIN [BENCH_DIR]
# BENCH_DIR is a scratch directory made by scripts/bench.sh (big.log and
# small/); 64 MiB of big.log, a gzip of it and 10,000 of the small files are
# used.
set -euo pipefail
OLD=$1 NEW=$2 DIR=${3:-/tmp/bench}
[ -f "$DIR/mid.log" ] || head -c 67108864 "$DIR/big.log" > "$DIR/mid.log"
[ -f "$DIR/mid.log.gz" ] || gzip -6 -c "$DIR/mid.log" > "$DIR/mid.log.gz"
if [ ! -d "$DIR/small10k" ]; then
  mkdir "$DIR/small10k"
  for d in 000 001 002 003 004 005 006 007 008 009; do cp -r "$DIR/small/$d" "$DIR/small10k/"; done
fi
# scan exits 1 when it finds PANs: only the count matters here.
count() { { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 || true; } | awk '/Collected/ {print $4}'; }
row() {
  local name=$1; shift
  local a b
  if [ "$name" = "scrub -j1, 64 MiB log" ]; then
    cp "$DIR/mid.log" "$DIR/mid-copy.log"; a=$(count "$OLD" "$@")
    cp "$DIR/mid.log" "$DIR/mid-copy.log"; b=$(count "$NEW" "$@")
  else
    a=$(count "$OLD" "$@"); b=$(count "$NEW" "$@")
  fi
  awk -v n="$name" -v a="$a" -v b="$b" 'BEGIN { printf "%-28s old %14.0f  new %14.0f  %+.2f%%\n", n, a, b, (b - a) * 100 / a }'
}
row "scan -j1, 64 MiB log" scan -q -j1 "$DIR/mid.log"
row "scan -j1, 64 MiB log .gz" scan -q -j1 "$DIR/mid.log.gz"
row "scan -j1, 10,000 small files" scan -q -j1 "$DIR/small10k"
row "scrub -j1, 64 MiB log" scrub -q -j1 "$DIR/mid-copy.log"
