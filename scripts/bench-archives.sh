#!/usr/bin/env bash
# Compressed-log throughput: `panscrub scan` of a .gz against `zcat`, scaling
# across two files, and `panscrub scrub` of a .gz with findings against
# `zcat | gzip -6`. Uses big.log from scripts/bench.sh (same BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:?set BENCH_DIR to the directory scripts/bench.sh used}
BIN=$PWD/target/release/panscrub
cargo build --release -q
cd "$DIR"
[ -f big.log.gz ] || gzip -6 -k big.log
mkdir -p gz2 && cp big.log.gz gz2/a.gz && cp big.log.gz gz2/b.gz
echo "big.log.gz: $(stat -c %s big.log.gz) bytes compressed, $(stat -c %s big.log) decoded"
hyperfine -i -N -w 1 -r 5 "zcat big.log.gz" "$BIN scan -q -j1 big.log.gz"
hyperfine -i -N -w 1 -r 5 "$BIN scan -q -j1 gz2" "$BIN scan -q -j2 gz2"
hyperfine -i -w 1 -r 3 --prepare "cp big.log.gz scrub.gz" \
  "$BIN scrub -q -j1 scrub.gz" "zcat scrub.gz | gzip -6 > re.gz"
