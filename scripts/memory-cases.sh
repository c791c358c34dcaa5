#!/usr/bin/env bash
# Peak resident memory (RSS) of panscrub on inputs that once made memory
# grow with the input (issue "no blind spots", items 9-11), one line each:
#   csv-no-newline   a 100 MB .csv with no newline (the header is bounded)
#   same-as-txt      the same bytes as .txt (the baseline)
#   json-deep        a PAN inside 400 K nested arrays (the JSON path is bounded)
#   report-10M-*     report (text, json, html, csv) over a manifest of 10
#                    million lines: 9 findings then a file record, for a
#                    million files in a thousand directories, 1 in 50 an error
#   merge-10M        merge of that manifest with a second run
#   gz-dense-1M      scan of a .gz with a PAN on each of 1 million lines
#                    (more findings than a run keeps for a rebuild: the
#                    later passes scan again; plain-log-1M is the same
#                    content uncompressed, for comparison)
#   gz-dense-1M-scrub  scrub of that .gz (rebuild, check and records each
#                    fed by a new scan)
# Usage: scripts/memory-cases.sh [--quick]   (--quick: 1/10 of the sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
scale=1
[ "${1:-}" = "--quick" ] && scale=10
rss() { # prints the peak RSS in MB of the command (exit 0 or 1: findings)
  local status=0
  /usr/bin/time -f '%M' "$@" >/dev/null 2>"$W/time" || status=$?
  if [ "$status" -gt 1 ]; then
    printf 'FAILED (exit %s): %s' "$status" "$(head -c 300 "$W/time")"
    return
  fi
  awk 'END { printf "%.1f", $1 / 1024 }' "$W/time"
}
python3 - "$W" "$scale" <<'PY'
import json, sys
w, scale = sys.argv[1], int(sys.argv[2])
n = 100_000_000 // scale
with open(f"{w}/nonl.csv", "wb") as f:
    f.write(b"x" * (n // 2) + b" card 4111111111111111 " + b"y" * (n // 2))
with open(f"{w}/deep.json", "w") as f:
    f.write("[" * (400_000 // scale) + '"4111111111111111"' + "]" * (400_000 // scale))
files = 1_000_000 // scale
def manifest(name, run_id):
    with open(f"{w}/{name}", "w") as f:
        f.write(json.dumps({"kind": "run", "tool": "panscrub", "version": "0", "schema": 2, "mode": "scan",
                            "run_id": run_id, "started": "2026-01-01T00:00:00Z", "roots": ["x"],
                            "policy": {"keep": "6+4", "mask_char": "*", "iin_table_version": "1"}}) + "\n")
        for i in range(files):
            path = f"x/d{i % 1000}/f{i}.log"
            finding = json.dumps({"kind": "finding", "path": path, "offset": 0, "length": 16, "brand": "visa",
                                  "masked": "411111******1111", "action": "reported"}) + "\n"
            f.write(finding * 9)
            status = "error" if i % 50 == 0 else "reported"
            f.write(json.dumps({"kind": "file", "path": path, "format": "text", "size": 4096, "findings": 9,
                                "status": status, "reason": "disk full" if status == "error" else None}) + "\n")
with open(f"{w}/dense.log", "w") as f:
    for i in range(1_000_000 // scale):
        f.write(f"tx {i} card 4111111111111111 ok\n")
manifest("m.jsonl", "a" * 32)
manifest("m2.jsonl", "b" * 32)
PY
cp "$W/nonl.csv" "$W/nonl.txt"
gzip -k "$W/dense.log"
printf 'case\tpeak RSS (MB)\n'
printf 'csv-no-newline\t%s\n' "$(rss "$BIN" scan -q "$W/nonl.csv")"
printf 'same-as-txt\t%s\n' "$(rss "$BIN" scan -q "$W/nonl.txt")"
printf 'json-deep\t%s\n' "$(rss "$BIN" scan -q "$W/deep.json")"
for format in text json html csv; do
  printf 'report-10M-%s\t%s\n' "$format" "$(rss "$BIN" report --format "$format" "$W/m.jsonl")"
done
printf 'report-10M-fifo\t%s\n' "$(rss "$BIN" report --format csv <(cat "$W/m.jsonl"))"
printf 'merge-10M\t%s\n' "$(rss "$BIN" merge -o "$W/all.jsonl" "$W/m.jsonl" "$W/m2.jsonl")"
printf 'gz-dense-1M\t%s\n' "$(rss "$BIN" scan -q "$W/dense.log.gz")"
printf 'plain-log-1M\t%s\n' "$(rss "$BIN" scan -q "$W/dense.log")"
printf 'gz-dense-1M-scrub\t%s\n' "$(rss "$BIN" scrub -q -m "$W/scrub.jsonl" "$W/dense.log.gz")"
