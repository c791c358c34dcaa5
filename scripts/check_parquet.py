#!/usr/bin/env python3
"""Reads an original Parquet file and its scrubbed rebuild with pyarrow (the
producer of the fixtures) and checks, value by value, that only card
numbers changed:

- same Arrow schema (field metadata included), key-value metadata, row
  groups and row counts, and codec of every column chunk;
- every cell equal, except cells whose original held a Luhn-valid 13-19
  digit number: there the new value holds none, and a string keeps its
  length; an integer became null (nullable field) or another number;
- no known test card number left anywhere in the raw bytes of the new file,
  as ASCII or as a little-endian int64 (what statistics would hold).

Usage: check_parquet.py ORIGINAL REBUILT   (exit 0 when all holds)
"""
import re
import struct
import sys

import pyarrow.parquet as pq

PAN_RE = re.compile(rb"(?<![0-9A-Za-z_])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z_])")
TEST_PANS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]


def luhn(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def has_pan(value):
    if value is None:
        return False
    if isinstance(value, (int,)) or type(value).__name__ == "Decimal":
        s = str(int(value)).encode()
        return 13 <= len(s) <= 19 and luhn(s.decode())
    b = value if isinstance(value, bytes) else str(value).encode()
    for m in PAN_RE.finditer(b):
        d = re.sub(rb"[ -]", b"", m.group()).decode()
        if 13 <= len(d) <= 19 and luhn(d):
            return True
    return False


def compare(a, b, where, problems):
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            problems.append(f"{where}: struct fields differ")
        for k in a:
            compare(a[k], b.get(k), f"{where}.{k}", problems)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{where}: list length {len(a)} -> {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{where}[{i}]", problems)
        return
    if a == b:
        if has_pan(b):
            problems.append(f"{where}: a card number is still there")
        return
    if not has_pan(a):
        problems.append(f"{where}: a value without a card number changed")
    elif has_pan(b):
        problems.append(f"{where}: still a card number after scrub")
    elif isinstance(a, (str, bytes)) and (b is None or len(a) != len(b)):
        problems.append(f"{where}: string length changed")


def main(orig_path, new_path):
    problems = []
    fa, fb = pq.ParquetFile(orig_path), pq.ParquetFile(new_path)
    if fa.schema_arrow != fb.schema_arrow or not fa.schema_arrow.equals(fb.schema_arrow, check_metadata=True):
        problems.append("arrow schema (or its metadata) differs")
    kv = lambda f: {k: v for k, v in (f.metadata.metadata or {}).items() if k != b"ARROW:schema"}
    if kv(fa) != kv(fb):
        problems.append("key-value metadata differs")
    ma, mb = fa.metadata, fb.metadata
    if ma.num_row_groups != mb.num_row_groups:
        problems.append("row group count differs")
    for g in range(min(ma.num_row_groups, mb.num_row_groups)):
        ra, rb = ma.row_group(g), mb.row_group(g)
        if ra.num_rows != rb.num_rows:
            problems.append(f"row group {g}: {ra.num_rows} -> {rb.num_rows} rows")
        for c in range(ra.num_columns):
            if ra.column(c).compression != rb.column(c).compression:
                problems.append(f"row group {g} column {ra.column(c).path_in_schema}: codec differs")
    ta, tb = fa.read(), fb.read()
    changed = 0
    for name in ta.column_names:
        for row, (x, y) in enumerate(zip(ta.column(name).to_pylist(), tb.column(name).to_pylist())):
            if x != y:
                changed += 1
            compare(x, y, f"{name}[{row}]", problems)
    raw = open(new_path, "rb").read()
    for pan in TEST_PANS:
        if pan.encode() in raw:
            problems.append(f"a test card number is in the raw bytes")
        if int(pan) < 2**63 and struct.pack("<q", int(pan)) in raw:
            problems.append("a test card number is in the raw bytes as int64")
    for p in problems:
        print(f"{new_path}: {p}")
    print(f"{new_path}: {changed} cell(s) changed, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
