#!/usr/bin/env python3
"""Writes a Parquet extract the way a warehouse job would, with pyarrow's
own writer: 24,000 rows in 5 row groups; a free-text column where one row
in ten names a public test card and the rest hold order references glued
to 16 Luhn-valid digits (`ref3551414911546935`: no PAN by the policy); a
card column of test cards and tokens; an int64 amount; a list<string> of
references; a dictionary-encoded category. Deterministic (fixed seed).

Usage: make_warehouse_parquet.py OUT CODEC [v1|v2] [dict|nodict]
CODEC is one of snappy, gzip, zstd, lz4, brotli, none. Page indexes,
statistics and bloom filters (on `note` and `card`) are written.
"""
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

PANS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]


def luhn_complete(prefix):
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix + str((10 - total % 10) % 10)


def main(out, codec, page="v1", dictionary="dict"):
    rng = random.Random(7)
    rows = 24_000
    notes, cards, amounts, tags, cats = [], [], [], [], []
    for i in range(rows):
        ref = "ref" + luhn_complete("35" + "".join(rng.choice("0123456789") for _ in range(13)))
        if rng.random() < 0.1:
            notes.append(f"customer paid with {rng.choice(PANS)} at desk {i}")
        else:
            notes.append(f"order {i} {ref} shipped to warehouse {rng.randint(1, 50)}")
        cards.append(rng.choice(PANS) if i % 9 == 0 else f"tok_{i:08d}")
        amounts.append(rng.randint(1, 100_000))
        tags.append([ref, f"t{i % 7}"])
        cats.append(rng.choice(["retail", "online", "moto", "recurring"]))
    table = pa.table(
        {
            "note": notes,
            "card": cards,
            "amount": pa.array(amounts, pa.int64()),
            "tags": tags,
            "cat": pa.array(cats).dictionary_encode(),
        }
    )
    pq.write_table(
        table,
        out,
        row_group_size=rows // 5,
        compression=codec,
        data_page_version="2.0" if page == "v2" else "1.0",
        use_dictionary=dictionary == "dict",
        write_statistics=True,
        write_page_index=True,
        bloom_filter_options={"note": True, "card": True},
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
