#!/usr/bin/env bash
# Parquet at scale (issue "Parquet scrub that works on real warehouse
# files", scale item): a pyarrow-written snappy file of about SIZE_MB
# (default 1024) MB with mixed columns (free text with a public test card in
# one row in ten and glued look-alike references elsewhere, a card column,
# int64, list<string>, a dictionary-encoded category; row groups of 1M
# rows). Prints, from one run on the same page-cached file:
#   pyarrow read_table + write_table (same codec)   seconds
#   panscrub scan                                   seconds, peak RSS
#   panscrub scrub (a copy, in place)               seconds, peak RSS
# and the ratio of the scrub to pyarrow's read + write.
# Needs python3 with pyarrow and GNU time. BENCH_DIR: where the data goes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
D=${BENCH_DIR:-/tmp/panscrub-bench}
SIZE_MB=${SIZE_MB:-1024}
mkdir -p "$D"
F=$D/warehouse-$SIZE_MB.parquet
if [ ! -s "$F" ]; then
  python3 - "$F" "$SIZE_MB" <<'PY'
import os, random, sys
import pyarrow as pa, pyarrow.parquet as pq
out, size_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
pans = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]
def luhn_complete(p):
    t = 0
    for i, ch in enumerate(reversed(p)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        t += d - 9 if d > 9 else d
    return p + str((10 - t % 10) % 10)
rows = 1_000_000
def group(k):
    refs = ["ref" + luhn_complete("35" + str(rng.randrange(10**12, 10**13))) for _ in range(rows)]
    notes = [f"customer paid with {pans[i % 4]} at desk {k}-{i}" if i % 10 == 0
             else f"order {k}-{i} {refs[i]} shipped to warehouse {i % 50}" for i in range(rows)]
    return pa.table({
        "note": notes,
        "card": [pans[i % 4] if i % 9 == 0 else f"tok_{i:08d}" for i in range(rows)],
        "amount": pa.array([rng.randrange(1, 100000) for _ in range(rows)], pa.int64()),
        "tags": [[refs[i], f"t{i % 7}"] for i in range(rows)],
        "cat": pa.array([("retail", "online", "moto", "recurring")[i % 4] for i in range(rows)]).dictionary_encode(),
    })
first = group(0)
pq.write_table(first, out, compression="snappy")
groups = max(1, round((size_mb << 20) / os.path.getsize(out)))
with pq.ParquetWriter(out, first.schema, compression="snappy") as w:
    w.write_table(first, row_group_size=rows)
    for k in range(1, groups):
        w.write_table(group(k), row_group_size=rows)
PY
fi
ls -l "$F"
cat "$F" > /dev/null
t_py=$(python3 - "$F" "$D/pyarrow-out.parquet" <<'PY'
import sys, time
import pyarrow.parquet as pq
t0 = time.perf_counter()
pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2], compression="snappy")
print(f"{time.perf_counter() - t0:.2f}")
PY
)
measure() { # prints "seconds peak-MB" of the command (exit 0 or 1 accepted)
  local s=0
  /usr/bin/time -f '%e %M' "$@" >/dev/null 2>"$D/time" || s=$?
  [ "$s" -le 1 ] || { echo "FAILED (exit $s): $(head -c 300 "$D/time")"; return; }
  tail -n 1 "$D/time" | awk '{printf "%s %d", $1, $2 / 1024}'
}
read -r t_scan m_scan <<<"$(measure "$BIN" scan -q -m /dev/null "$F")"
cp "$F" "$D/scrub.parquet"
read -r t_scrub m_scrub <<<"$(measure "$BIN" scrub -q -m /dev/null --force "$D/scrub.parquet")"
printf 'pyarrow read+write\t%s s\n' "$t_py"
printf 'panscrub scan\t%s s\t%s MB\n' "$t_scan" "$m_scan"
printf 'panscrub scrub\t%s s\t%s MB\n' "$t_scrub" "$m_scrub"
awk -v a="$t_scrub" -v b="$t_py" 'BEGIN { printf "scrub / pyarrow read+write\t%.2fx\n", a / b }'
