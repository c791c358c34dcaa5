#!/usr/bin/env bash
# Long forms of the resource tests (issue: memory and descriptors stay
# bounded whatever the input). Builds, in BENCH_DIR (default
# /tmp/panscrub-limits; needs ~13 GB free):
#   - a 10 GiB log (loghub lines with a test PAN every ~10 KB),
#   - a 2 GiB file that is one single line (digits, separators and PANs),
#   - a tree of 1,000,000 small files,
# then reports peak RSS (GNU time) of `scan` on each, `scrub --out` of the
# 2 GiB line, and runs the 1M-file scan with only 64 file descriptors
# allowed (ulimit -n 64) to show that descriptors stay bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
D=${BENCH_DIR:-/tmp/panscrub-limits}
mkdir -p "$D"
TIME=/usr/bin/time
command -v $TIME >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || true; }
rss() { # label, command...
  local label=$1; shift
  $TIME -f '%M %e' -o "$D/time.txt" "$@" >/dev/null 2>&1 || true
  set -- $(tail -1 "$D/time.txt")
  echo "$label: peak RSS $(( $1 / 1024 )) MB, $2 s"
}
python3 - "$D" <<'PY'
import glob, os, sys
d = sys.argv[1]
big = os.path.join(d, "10g.log")
if not os.path.exists(big) or os.path.getsize(big) < 10 << 30:
    src = b"".join(open(f, "rb").read() for f in sorted(glob.glob("../shared/corpora/loghub/**/*.log", recursive=True)))
    out, chunk = bytearray(), 10_000
    for i in range(0, len(src), chunk):
        out += src[i:i + chunk] + b" card 4111 1111 1111 1111\n"
    with open(big, "wb") as f:
        while f.tell() < 10 << 30:
            f.write(out)
line = os.path.join(d, "line.log")
if not os.path.exists(line):
    unit = b"id=12345678901234567890 card=5555555555554444 amount=1234.56 ; " * 1000
    with open(line, "wb") as f:
        while f.tell() < 2 << 30:
            f.write(unit)
        f.write(b"\n")
tree = os.path.join(d, "tree")
if not os.path.exists(os.path.join(tree, "999", "999.log")):
    for a in range(1000):
        os.makedirs(os.path.join(tree, str(a)), exist_ok=True)
        for b in range(1000):
            with open(os.path.join(tree, str(a), f"{b}.log"), "wb") as f:
                f.write(b"ok line %d\n" % b if b % 100 else b"card 4111111111111111\n")
PY
rss "scan 10 GiB file (-j2)" "$BIN" scan -q "$D/10g.log"
rss "scan 2 GiB single line" "$BIN" scan -q "$D/line.log"
rm -rf "$D/out"
rss "scrub --out 2 GiB single line" "$BIN" scrub -q --no-hash --out "$D/out" "$D/line.log"
rss "scan 1,000,000 files" "$BIN" scan -q "$D/tree"
( ulimit -n 64; set +e; "$BIN" scan -q --manifest "$D/fd.jsonl" "$D/tree" >/dev/null 2>&1; echo "scan of 1,000,000 files with ulimit -n 64: exit $? (1 = PANs found, no error)"; \
  grep -c '"status":"error"' "$D/fd.jsonl" | sed 's/^/  error entries: /' )
