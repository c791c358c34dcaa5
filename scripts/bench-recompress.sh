#!/usr/bin/env bash
# Scrubbing compressed logs: `panscrub scrub` of a .gz, .zst, .xz and .bz2
# (written by the system's tools at their default levels) with one worker
# and with two, against decompressing and recompressing with the same
# tool, and against `panscrub scan` of the same file; each result is then
# checked with the tool (`-t`) and against a scrub of the plain log.
#
# Uses big.log from scripts/bench.sh (same BENCH_DIR); SIZE_MB (default 64)
# of it, cut at a line, so that xz and bzip2 finish in seconds.
# Needs: hyperfine, gzip, zstd, xz, bzip2.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:?set BENCH_DIR to the directory scripts/bench.sh used}
SIZE_MB=${SIZE_MB:-64}
BIN=$PWD/target/release/panscrub
cargo build --release -q
cd "$DIR"
mkdir -p recompress && cd recompress
head -c $((SIZE_MB << 20)) ../big.log | sed '$d' > slice.log
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; slice.log: $(stat -c %s slice.log) bytes"
cp slice.log plain.log && "$BIN" scrub -q -j2 --manifest /dev/null plain.log || true

declare -A PACK=([gz]="gzip -6" [zst]="zstd -q -3" [xz]="xz -6" [bz2]="bzip2 -9")
declare -A UNPACK=([gz]="gzip -dc" [zst]="zstd -q -dc" [xz]="xz -dc" [bz2]="bzip2 -dc")
for ext in gz zst xz bz2; do
  [ -f "slice.log.$ext" ] || ${PACK[$ext]} -c slice.log > "slice.log.$ext"
  echo "== .$ext: $(stat -c %s "slice.log.$ext") bytes"
  hyperfine -i -w 1 -r 3 --export-json "$ext.json" \
    --prepare "cp slice.log.$ext s.$ext" \
    -n "scan -j1" "$BIN scan -q -j1 slice.log.$ext" \
    -n "scrub -j1" "$BIN scrub -q -j1 --manifest /dev/null s.$ext" \
    -n "scrub -j2" "$BIN scrub -q -j2 --manifest /dev/null s.$ext" \
    -n "${UNPACK[$ext]} | ${PACK[$ext]}" "${UNPACK[$ext]} s.$ext | ${PACK[$ext]} > re.$ext" \
    > /dev/null
  python3 - "$ext.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
scan, j1, j2 = r.pop("scan -j1"), r.pop("scrub -j1"), r.pop("scrub -j2")
(peer, tool), = r.items()
print(f"scan -j1 {scan:.2f} s | scrub -j1 {j1:.2f} s | scrub -j2 {j2:.2f} s "
      f"({j1 / j2:.2f}x -j1, {j2 / scan:.2f}x scan) | {peer} {tool:.2f} s "
      f"(scrub -j2 {tool / j2:.2f}x faster)")
PY
  # The scrubbed file is valid for its tool and holds what a scrub of the
  # plain log holds.
  cp "slice.log.$ext" "s.$ext"
  "$BIN" scrub -q -j2 --manifest /dev/null "s.$ext" || true
  ${UNPACK[$ext]%% *} -t "s.$ext"
  ${UNPACK[$ext]} "s.$ext" | cmp - plain.log
  echo "   scrubbed: $(stat -c %s "s.$ext") bytes, decodes to the scrubbed plain log"
done
