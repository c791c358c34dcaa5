#!/usr/bin/env bash
# Scan throughput on a folder of Office documents against unzipping the
# same files (`unzip -p > /dev/null`, the floor of reading every part),
# interleaved, RUNS times. The folder: COPIES copies each of a 6.5 MB
# workbook (XlsxWriter, 150,000 rows, a card in every 50th row as a
# number) and a 0.2 MB document (python-docx, 20,000 paragraphs): about
# 460 MB at the default 72. BENCH_DIR: where the data goes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/panscrub
D=${BENCH_DIR:-/tmp/panscrub-bench}/office
COPIES=${COPIES:-72}
RUNS=${RUNS:-2}
mkdir -p "$D"
if [ ! -f "$D/big.xlsx" ]; then
  python3 - "$D" <<'PY'
import random, sys
import docx, xlsxwriter
out = sys.argv[1]
rng = random.Random(3)
cards = ["4111111111111111", "5555555555554444", "378282246310005"]
b = xlsxwriter.Workbook(f"{out}/big.xlsx", {"constant_memory": True})
s = b.add_worksheet("Payments")
for r in range(150000):
    card = int(cards[r % 3]) if r % 50 == 0 else rng.randrange(10**6)
    s.write_row(r, 0, [f"INV-{r}", card, f"note {rng.randrange(10**9)} order {r}", rng.random() * 100])
b.close()
d = docx.Document()
for i in range(20000):
    d.add_paragraph(f"Paragraph {i}: order {rng.randrange(10**9)} shipped.")
    if i % 100 == 0:
        p = d.add_paragraph("Card on file: ")
        p.add_run("4111 1111").bold = True
        p.add_run(" 1111 1111")
d.save(f"{out}/big.docx")
PY
fi
rm -rf "$D/folder"
mkdir -p "$D/folder"
for i in $(seq 1 "$COPIES"); do
  cp "$D/big.xlsx" "$D/folder/b$i.xlsx"
  cp "$D/big.docx" "$D/folder/d$i.docx"
done
echo "folder: $(du -sm "$D/folder" | cut -f1) MB in $((2 * COPIES)) files"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
for r in $(seq 1 "$RUNS"); do
  u=$(t sh -c "for f in '$D'/folder/*; do unzip -p \"\$f\"; done")
  s1=$(t "$BIN" scan -q -j1 "$D/folder")
  s2=$(t "$BIN" scan -q "$D/folder")
  printf 'run %d: unzip -p %.2f s, scan -j1 %.2f s (%.2fx unzip), scan -j2 %.2f s (%.2fx unzip)\n' \
    "$r" "$u" "$s1" "$(echo "$s1 / $u" | bc -l)" "$s2" "$(echo "$s2 / $u" | bc -l)"
done
"$BIN" scan "$D/folder" 2>&1 >/dev/null | tail -n 1
