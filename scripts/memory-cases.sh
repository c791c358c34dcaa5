#!/usr/bin/env bash
# Peak resident memory (RSS) of panscrub on inputs that once made memory
# grow with the input (issue "no blind spots", items 9-11), one line each:
#   csv-no-newline   a 100 MB .csv with no newline (the header is bounded)
#   same-as-txt      the same bytes as .txt (the baseline)
#   json-deep        400 KB of '[' then a PAN (the JSON path is bounded)
#   report-10M       report over a manifest of 10 million finding lines
# Usage: scripts/memory-cases.sh [--quick]   (--quick: 1/10 of the sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
scale=1
[ "${1:-}" = "--quick" ] && scale=10
rss() { # prints the peak RSS in MB of the command
  /usr/bin/time -f '%M' "$@" >/dev/null 2>"$W/time" || true
  awk 'END { printf "%.1f", $1 / 1024 }' "$W/time"
}
python3 - "$W" "$scale" <<'PY'
import json, sys
w, scale = sys.argv[1], int(sys.argv[2])
n = 100_000_000 // scale
with open(f"{w}/nonl.csv", "wb") as f:
    f.write(b"x" * (n // 2) + b" card 4111111111111111 " + b"y" * (n // 2))
with open(f"{w}/deep.json", "w") as f:
    f.write("[" * (400_000 // scale) + '"4111111111111111"')
lines = 10_000_000 // scale
with open(f"{w}/m.jsonl", "w") as f:
    f.write(json.dumps({"kind": "run", "tool": "panscrub", "version": "0", "schema": 2, "mode": "scan",
                        "started": "2026-01-01T00:00:00Z", "roots": ["x"],
                        "policy": {"keep": "6+4", "mask_char": "*", "iin_table_version": "1"}}) + "\n")
    rec = json.dumps({"kind": "finding", "path": "x/a.log", "offset": 0, "length": 16, "brand": "visa",
                      "masked": "411111******1111", "action": "reported"}) + "\n"
    f.write(rec * lines)
PY
cp "$W/nonl.csv" "$W/nonl.txt"
printf 'case\tpeak RSS (MB)\n'
printf 'csv-no-newline\t%s\n' "$(rss "$BIN" scan -q "$W/nonl.csv")"
printf 'same-as-txt\t%s\n' "$(rss "$BIN" scan -q "$W/nonl.txt")"
printf 'json-deep\t%s\n' "$(rss "$BIN" scan -q "$W/deep.json")"
printf 'report-10M\t%s\n' "$(rss "$BIN" report "$W/m.jsonl")"
