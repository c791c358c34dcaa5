#!/usr/bin/env bash
# Structured formats, end to end (page-cached, best of several runs):
# - a Salesforce-style CSV (every field quoted, CRLF, newlines inside
#   quoted fields, a test PAN every 500 rows): `scan` of the .csv (with
#   row/field/Id locations) against the same bytes named .txt;
# - a Parquet file (loghub lines in a string column, a PAN every ~1000
#   rows, an integer column, snappy, row groups of 128k rows): `scan`
#   against pyarrow.parquet.read_table (decode only) on the same file.
# Needs: hyperfine, python3 with pyarrow. SIZE_MB (default 1024) sets the
# CSV size; BENCH_DIR where the data goes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
D=${BENCH_DIR:-/tmp/panscrub-bench}
SIZE_MB=${SIZE_MB:-1024}
mkdir -p "$D"
python3 - "$D" "$SIZE_MB" <<'PY'
import csv, glob, os, sys
d, size_mb = sys.argv[1], int(sys.argv[2])
path = os.path.join(d, "Opportunity.csv")
if not os.path.exists(path) or os.path.getsize(path) < size_mb << 20:
    pans = ["4111111111111111", "5555 5555 5555 4444", "378282246310005"]
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(["Id", "Name", "Email", "Phone", "Amount", "Description", "CloseDate"])
        i = 0
        while f.tell() < size_mb << 20:
            desc = f"Renewal {i}: customer called about invoice {100000 + i}, \"priority\" {i % 7}"
            if i % 500 == 0:
                desc += " paid with card " + pans[(i // 500) % 3]
            if i % 50 == 0:
                desc += "\nsecond line of notes, ref 2024-03-" + str(i % 28 + 1)
            w.writerow([f"0065g0000{i:09d}AAA", f"Account {i}", f"user{i}@example.com",
                        f"+1 415 555 {i % 10000:04d}", f"{i % 100000}.{i % 100:02d}", desc,
                        f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}"])
            i += 1
PY
ln -f "$D/Opportunity.csv" "$D/Opportunity.txt" 2>/dev/null || cp "$D/Opportunity.csv" "$D/Opportunity.txt"
python3 - "$D" <<'PY'
import glob, os, sys
import pyarrow as pa, pyarrow.parquet as pq
d = sys.argv[1]
path = os.path.join(d, "logs.parquet")
if not os.path.exists(path):
    lines = []
    for f in sorted(glob.glob("../shared/corpora/loghub/**/*.log", recursive=True)):
        with open(f, "rb") as fh:
            lines += [l.rstrip(b"\n").decode("utf-8", "replace") for l in fh]
    lines = (lines * (4_000_000 // max(len(lines), 1) + 1))[:4_000_000]
    for i in range(0, len(lines), 1000):
        lines[i] += " card 4111111111111111"
    t = pa.table({"line": lines, "n": pa.array(range(len(lines)), pa.int64())})
    pq.write_table(t, path, compression="snappy", row_group_size=128 * 1024)
PY
ls -l "$D/Opportunity.csv" "$D/logs.parquet"
hyperfine -N -w 2 -r 5 -i \
  "$BIN scan -j1 -q $D/Opportunity.txt" \
  "$BIN scan -j1 -q $D/Opportunity.csv"
hyperfine -w 1 -r 5 -i \
  "$BIN scan -q $D/logs.parquet" \
  "$BIN scan -j1 -q $D/logs.parquet" \
  "python3 -c 'import pyarrow.parquet as pq; pq.read_table(\"$D/logs.parquet\")'"
