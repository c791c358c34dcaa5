#!/usr/bin/env bash
# Throughput of `panscrub scan`/`scrub` against ripgrep on real logs.
#
# Builds, in a scratch directory (default: a new temp dir; override with
# BENCH_DIR):
#   - big.log: the loghub corpus concatenated to SIZE_MB MiB (default
#     1024) with a public test PAN every ~10 KB, and big.log.gz (gzip -6)
#   - small/: 100,000 files of 1–10 KB cut from the same data
# and times, with hyperfine:
#   panscrub scan -j1 / -j2 on big.log, rg -j1 -c '(?:\d[ -]?){12,18}\d'
#   panscrub scrub -j1 on a fresh copy of big.log, and on sparse.log (the
#   same logs with a single PAN at the end)
#   panscrub scan vs rg -c over small/
#   the compressed case: scan of big.log.gz vs zcat; scrub -j1/-j2 of it vs
#   zcat | gzip -6 (the output checked: it decodes to the scrub of the
#   plain log, and its size against the original's)
# and ends with every ratio of the speed targets in one table.
# Then peak RSS (GNU time) scanning a 4 GiB file and a 1 GiB single line.
#
# Needs: hyperfine, rg (cargo install ripgrep), /usr/bin/time. Set QUICK=1
# to skip the 4 GiB / 1 GiB memory runs.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpora/loghub}
DIR=${BENCH_DIR:-$(mktemp -d)}
SIZE_MB=${SIZE_MB:-1024}
BIN=$PWD/target/release/panscrub
RE='(?:\d[\x20-]?){12,18}\d'
cargo build --release -q
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "panscrub $($BIN --version | cut -d' ' -f2), $(rg --version | head -1)"

python3 - "$CORPUS" "$DIR" "$SIZE_MB" <<'PY'
import os, sys, glob
corpus, out, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = b"".join(open(p, "rb").read() + b"\n" for p in sorted(glob.glob(os.path.join(corpus, "*.log"))))
pans = [b"4111111111111111", b"5555 5555 5555 4444", b"3782-822463-10005", b"6011111111111117"]
big = os.path.join(out, "big.log")
if os.path.exists(big) and os.path.getsize(big) < mib << 20:
    os.remove(big)
    for stale in ("big.log.gz", "plain-scrubbed.log"):
        if os.path.exists(os.path.join(out, stale)):
            os.remove(os.path.join(out, stale))
if not os.path.exists(big):
    chunks, size, i, k = [], 0, 0, 0
    while size < mib << 20:
        piece = data[i:i + 10000]
        nl = piece.rfind(b"\n") + 1 or len(piece)
        piece = piece[:nl] + b"payment card=" + pans[k % 4] + b" ok\n"
        chunks.append(piece); size += len(piece); k += 1
        i = (i + nl) % (len(data) - 10000)
    open(big, "wb").write(b"".join(chunks))
sparse = os.path.join(out, "sparse.log")
if not os.path.exists(sparse):
    # The same real logs without PANs, one at the very end.
    with open(sparse, "wb") as f:
        for _ in range((mib << 20) // len(data)):
            f.write(data)
        f.write(data[: (mib << 20) % len(data)].rsplit(b"\n", 1)[0] + b"\n")
        f.write(b"payment card=4111111111111111 ok\n")
small = os.path.join(out, "small")
if not os.path.isdir(small):
    os.makedirs(small)
    off = 0
    for n in range(100_000):
        d = os.path.join(small, "%03d" % (n // 1000))
        os.makedirs(d, exist_ok=True)
        ln = 1000 + (n * 7919) % 9000
        if off + ln > len(data): off = 0
        open(os.path.join(d, "%d.log" % n), "wb").write(data[off:off + ln])
        off += ln
PY
SIZE=$(stat -c %s "$DIR/big.log")
echo "big.log: $SIZE bytes"
cat "$DIR/big.log" > /dev/null

hyperfine -N -w 2 -r 7 -i --export-json "$DIR/big.json" \
  -n "panscrub scan -j1" "$BIN scan -q -j1 $DIR/big.log" \
  -n "panscrub scan -j2" "$BIN scan -q -j2 $DIR/big.log" \
  -n "rg -j1 -c" "rg -j1 -c '$RE' $DIR/big.log"
# `sync` in prepare: otherwise scrub's fsync also writes the copy's pages.
hyperfine -w 1 -r 5 --export-json "$DIR/scrub.json" \
  --prepare "cp $DIR/big.log $DIR/scrub.log && sync $DIR/scrub.log" \
  -n "panscrub scrub -j1" "$BIN scrub -q -j1 $DIR/scrub.log" \
  -n "panscrub scrub -j1 --no-hash" "$BIN scrub -q -j1 --no-hash $DIR/scrub.log"
# The nightly case: one PAN near the end of a clean 256 MiB log.
cat "$DIR/sparse.log" > /dev/null
hyperfine -w 1 -r 5 --export-json "$DIR/sparse.json" \
  --prepare "cp $DIR/sparse.log $DIR/scrub.log && sync $DIR/scrub.log" \
  -n "panscrub scan -j1 (sparse)" "$BIN scan -q -j1 $DIR/sparse.log || true" \
  -n "panscrub scrub -j1 (sparse)" "$BIN scrub -q -j1 $DIR/scrub.log" \
  -n "panscrub scrub -j1 --no-hash (sparse)" "$BIN scrub -q -j1 --no-hash $DIR/scrub.log"
python3 - "$DIR" "$SIZE" <<'PY'
import json, sys
d, size = sys.argv[1], int(sys.argv[2])
r = {x["command"]: x["median"] for x in json.load(open(d + "/big.json"))["results"]}
s = {x["command"]: x["median"] for x in json.load(open(d + "/scrub.json"))["results"]}
for k, v in r.items():
    print(f"{k:22s} {v*1000:8.1f} ms {size/v/1e6:8.0f} MB/s")
print(f"scan -j1 vs rg -j1: {r['rg -j1 -c']/r['panscrub scan -j1']:.2f}x faster")
print(f"scan -j2 speedup over -j1: {r['panscrub scan -j1']/r['panscrub scan -j2']:.2f}x")
print(f"scrub -j1: {s['panscrub scrub -j1']*1000:.1f} ms = {s['panscrub scrub -j1']/r['panscrub scan -j1']:.2f}x scan -j1")
print(f"scrub -j1 --no-hash: {s['panscrub scrub -j1 --no-hash']*1000:.1f} ms = {s['panscrub scrub -j1 --no-hash']/r['panscrub scan -j1']:.2f}x scan -j1")
p = {x["command"]: x["median"] for x in json.load(open(d + "/sparse.json"))["results"]}
base = p["panscrub scan -j1 (sparse)"]
for k in ("panscrub scrub -j1 (sparse)", "panscrub scrub -j1 --no-hash (sparse)"):
    print(f"{k}: {p[k]*1000:.1f} ms = {p[k]/base:.2f}x its scan ({base*1000:.1f} ms)")
PY

# The compressed case (the nightly job's archives): gzip -6 of big.log.
[ -f "$DIR/big.log.gz" ] || gzip -6 -c "$DIR/big.log" > "$DIR/big.log.gz"
if [ ! -f "$DIR/plain-scrubbed.log" ]; then
  cp "$DIR/big.log" "$DIR/plain-scrubbed.log"
  "$BIN" scrub -q --no-hash "$DIR/plain-scrubbed.log" || true
fi
cat "$DIR/big.log.gz" > /dev/null
hyperfine -N -w 1 -r 5 -i --export-json "$DIR/gzscan.json" \
  -n "zcat" "zcat $DIR/big.log.gz" \
  -n "panscrub scan -j1 .gz" "$BIN scan -q -j1 $DIR/big.log.gz"
hyperfine -w 1 -r 3 --export-json "$DIR/gzscrub.json" \
  --prepare "cp $DIR/big.log.gz $DIR/scrub.gz && sync $DIR/scrub.gz" \
  -n "panscrub scrub -j1 .gz" "$BIN scrub -q -j1 $DIR/scrub.gz" \
  -n "panscrub scrub -j2 .gz" "$BIN scrub -q -j2 $DIR/scrub.gz" \
  -n "zcat | gzip -6" "zcat $DIR/scrub.gz | gzip -6 > $DIR/re.gz"
cp "$DIR/big.log.gz" "$DIR/scrub.gz"
"$BIN" scrub -q "$DIR/scrub.gz" || true
gzip -t "$DIR/scrub.gz"
if zcat "$DIR/scrub.gz" | cmp -s - "$DIR/plain-scrubbed.log"; then SAME=yes; else SAME=NO; fi

python3 - "$DIR" "$SIZE" "$SAME" <<'PY'
import json, os, sys
d, size, same = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def med(name):
    return {x["command"]: x["median"] for x in json.load(open(f"{d}/{name}.json"))["results"]}
r, s, g, z = med("big"), med("scrub"), med("gzscan"), med("gzscrub")
grow = os.path.getsize(f"{d}/scrub.gz") / os.path.getsize(f"{d}/big.log.gz") - 1
rows = [
    ("scan -j1 of the .log", f"{size / r['panscrub scan -j1'] / 1e9:.2f} GB/s", ">= 4 GB/s",
     size / r["panscrub scan -j1"] >= 4e9),
    ("scan -j1 vs rg -j1 -c", f"{r['rg -j1 -c'] / r['panscrub scan -j1']:.2f}x", ">= 6x",
     r["rg -j1 -c"] / r["panscrub scan -j1"] >= 6),
    ("scan -j2 vs -j1 (one file)", f"{r['panscrub scan -j1'] / r['panscrub scan -j2']:.2f}x", ">= 1.8x",
     r["panscrub scan -j1"] / r["panscrub scan -j2"] >= 1.8),
    ("scrub in place vs its scan", f"{s['panscrub scrub -j1'] / r['panscrub scan -j1']:.2f}x", "<= 2x",
     s["panscrub scrub -j1"] / r["panscrub scan -j1"] <= 2),
    ("scan -j1 of the .gz vs zcat", f"{g['zcat'] / g['panscrub scan -j1 .gz']:.2f}x faster", "",
     None),
    ("scrub -j1 of the .gz vs zcat | gzip -6", f"{z['zcat | gzip -6'] / z['panscrub scrub -j1 .gz']:.2f}x faster", ">= 5x",
     z["zcat | gzip -6"] / z["panscrub scrub -j1 .gz"] >= 5),
    ("scrub -j2 of the .gz vs zcat | gzip -6", f"{z['zcat | gzip -6'] / z['panscrub scrub -j2 .gz']:.2f}x faster", ">= 5x",
     z["zcat | gzip -6"] / z["panscrub scrub -j2 .gz"] >= 5),
    ("scrub -j1 of the .gz vs its scan", f"{z['panscrub scrub -j1 .gz'] / g['panscrub scan -j1 .gz']:.2f}x", "<= 2x",
     z["panscrub scrub -j1 .gz"] / g["panscrub scan -j1 .gz"] <= 2),
    ("scrubbed .gz size vs the original", f"{grow * 100:+.2f}%", "<= +1%", grow <= 0.01),
    ("scrubbed .gz decodes to the plain scrub", same, "yes", same == "yes"),
]
print()
print(f"{'target':42s} {'measured':>16s} {'aim':>10s}  met")
for name, got, aim, ok in rows:
    print(f"{name:42s} {got:>16s} {aim:>10s}  {'' if ok is None else ('yes' if ok else 'no')}")
for k, v in sorted(z.items()):
    print(f"  {k}: {v:.2f} s")
for k, v in sorted(g.items()):
    print(f"  {k}: {v:.2f} s")
PY

find "$DIR/small" -type f -exec cat {} + > /dev/null
hyperfine -N -w 1 -r 5 -i \
  -n "panscrub scan small/" "$BIN scan -q $DIR/small" \
  -n "rg -c small/" "rg -c '$RE' $DIR/small"

if [ -z "${QUICK:-}" ]; then
  python3 - "$DIR" <<'PY'
import sys, os
d = sys.argv[1]
big = os.path.join(d, "big.log")
if not os.path.exists(d + "/4g.log"):
    with open(d + "/4g.log", "wb") as f:
        b = open(big, "rb").read()
        for _ in range(16): f.write(b)
if not os.path.exists(d + "/line.log"):
    with open(d + "/line.log", "wb") as f:
        chunk = (b"x=1 " * 2500) + b"4111111111111111 "
        n = (1 << 30) // len(chunk)
        for _ in range(n): f.write(chunk)
        f.write(b"\n")
PY
  for f in 4g.log line.log; do
    /usr/bin/time -f "$f: peak RSS %M KiB, %e s" "$BIN" scan -q "$DIR/$f" || true
  done
fi
echo "scratch data kept in $DIR"
