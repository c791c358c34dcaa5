#!/usr/bin/env python3
"""Reads an original Parquet file and its scrubbed rebuild with pyarrow (the
producer of the fixtures) and checks, value by value, that only card
numbers changed:

- same Arrow schema (field metadata included), key-value metadata, row
  groups and row counts, and codec of every column chunk;
- every cell equal, except cells whose original held a Luhn-valid 13-19
  digit number: there the new value holds none, and a string keeps its
  length; an integer became null (nullable field) or another number;
- in a column named for a verification code (`cvv`, `card_cvv`,
  `security_code`, ...), every 3-4 digit code masked: null, or a string
  of the same length without its digits;
- no known test card number left anywhere in the raw bytes of the new file,
  as ASCII or as a little-endian int64 (what statistics would hold);
- with --duckdb, the same checks on what DuckDB reads from both files
  (another engine's reader: the rebuilt file must open and decode there),
  and every column chunk that had a bloom filter still has one.

Usage: check_parquet.py [--duckdb] ORIGINAL REBUILT   (exit 0 when all holds)
"""
import re
import struct
import sys

import pyarrow.parquet as pq

PAN_RE = re.compile(rb"(?<![0-9A-Za-z_])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z_])")
CODE_COLUMN = re.compile(r"(?i)^(?:.*[_.\s-])?(?:cvv2?|cvc2?|cid|security[_\s]code)$")
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


def compare_code(a, b, where, problems):
    if a is None:
        if b is not None:
            problems.append(f"{where}: a null code became a value")
        return
    code = str(a)
    if not (3 <= len(code) <= 4 and code.isdigit()):
        compare(a, b, where, problems)
    elif b is not None and (not isinstance(b, str) or len(b) != len(code) or any(c.isdigit() for c in b)):
        problems.append(f"{where}: a verification code is still there")


def compare_tables(ta, tb, label, problems):
    changed = 0
    if ta.column_names != tb.column_names or ta.num_rows != tb.num_rows:
        problems.append(f"{label}: columns or row counts differ")
        return 0
    for name in ta.column_names:
        code = CODE_COLUMN.match(name) is not None
        for row, (x, y) in enumerate(zip(ta.column(name).to_pylist(), tb.column(name).to_pylist())):
            if x != y:
                changed += 1
            (compare_code if code else compare)(x, y, f"{label}{name}[{row}]", problems)
    return changed


def main(*args):
    use_duckdb = "--duckdb" in args
    orig_path, new_path = [a for a in args if a != "--duckdb"]
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
    changed = compare_tables(fa.read(), fb.read(), "", problems)
    if use_duckdb:
        import duckdb

        read = lambda p: duckdb.sql(f"SELECT * FROM read_parquet('{p}')").to_arrow_table()
        by_duckdb = compare_tables(read(orig_path), read(new_path), "duckdb: ", problems)
        if by_duckdb != changed:
            problems.append(f"duckdb sees {by_duckdb} changed cell(s), pyarrow {changed}")
        blooms = lambda p: {
            (g, c)
            for g, c, bloom in duckdb.sql(
                "SELECT row_group_id, path_in_schema, bloom_filter_offset IS NOT NULL "
                f"FROM parquet_metadata('{p}')"
            ).fetchall()
            if bloom
        }
        if not blooms(orig_path) <= blooms(new_path):
            problems.append("a column chunk lost its bloom filter")
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
    sys.exit(main(*sys.argv[1:]))
