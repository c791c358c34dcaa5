#!/usr/bin/env bash
# Cost of sensitive-authentication-data detection (verification codes next
# to keywords, track data) on text without keywords, and its false
# positives on real logs.
#
# Builds (in BENCH_DIR, default a new temp dir) loghub.log: the loghub
# corpus concatenated to 256 MiB (server logs: no card data, no CVV
# keywords), then times with hyperfine, in one run:
#   panscrub scan -j1             (PANs + codes + tracks, the default)
#   panscrub scan -j1 --pan-only  (PANs only)
# and checks that the corpus itself gives zero findings (every finding
# there would be a false positive).
#
# Needs: hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpora/loghub}
DIR=${BENCH_DIR:-$(mktemp -d)}
BIN=$PWD/target/release/panscrub
cargo build --release -q
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

python3 - "$CORPUS" "$DIR/loghub.log" <<'PY'
import glob, os, sys
corpus, out = sys.argv[1], sys.argv[2]
if not os.path.exists(out):
    data = b"".join(open(p, "rb").read() + b"\n" for p in sorted(glob.glob(os.path.join(corpus, "*.log"))))
    big = bytearray()
    while len(big) < 256 << 20:
        big += data
    open(out, "wb").write(big[: 256 << 20])
PY
cat "$DIR/loghub.log" > /dev/null

echo "false positives on $CORPUS (expect 0 findings):"
"$BIN" scan "$CORPUS" > /dev/null && echo "  none" || { echo "  FINDINGS"; exit 1; }

hyperfine -N -w 3 -r 20 \
  -n "scan -j1 (default)" "$BIN scan -q -j1 $DIR/loghub.log" \
  -n "scan -j1 --pan-only" "$BIN scan -q -j1 --pan-only $DIR/loghub.log"
