#!/usr/bin/env python3
"""Writes one table of card data with the Parquet writer of another engine,
as a data team's export would come: pyarrow, DuckDB or polars. The same
12,000 rows (deterministic, fixed seed) go to every writer, so a scan must
find the same cards in each file. Columns:

  note      free text: a public test card in one row in ten, else an order
            reference glued to 16 Luhn-valid digits (`ref3551...`: no PAN)
  card      a test card in one row in nine, else a token
  card_cat  low-cardinality text, dictionary-encoded (cards among labels)
  card_num  int64: a test card as a number in one row in eleven, else null
  card_dec  decimal(18,0): a test card as a decimal in one row in thirteen
  amount    int64 amounts, never a card
  tags      list<string>: a reference and, in one row in seventeen, a card
  payer     struct<name, card>: a card in one row in nineteen
  cvv       3-digit codes (a column named for a verification code)

Usage: make_engine_parquet.py OUT WRITER    WRITER: pyarrow, duckdb, polars
Prints the number of cards planted (every one a finding, codes apart).
pyarrow writes snappy with page indexes, statistics and bloom filters on
`card` and `note`; DuckDB writes snappy with its own bloom filters on
dictionary columns and key-value metadata; polars writes zstd.
"""
import decimal
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from make_warehouse_parquet import luhn_complete

PANS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]
ROWS = 12_000
GROUP = 3_000


def table():
    rng = random.Random(11)
    cols = {k: [] for k in ["note", "card", "card_cat", "card_num", "card_dec", "amount", "tags", "payer", "cvv"]}
    cards = 0
    for i in range(ROWS):
        ref = "ref" + luhn_complete("35" + "".join(rng.choice("0123456789") for _ in range(13)))
        if i % 10 == 3:
            cols["note"].append(f"customer paid with {rng.choice(PANS)} at desk {i}")
            cards += 1
        else:
            cols["note"].append(f"order {i} {ref} shipped")
        if i % 9 == 0:
            cols["card"].append(rng.choice(PANS))
            cards += 1
        else:
            cols["card"].append(f"tok_{i:08d}")
        if i % 8 == 0:
            cols["card_cat"].append(PANS[i % 3])
            cards += 1
        else:
            cols["card_cat"].append(["retail", "online", "moto"][i % 3])
        if i % 11 == 0:
            cols["card_num"].append(int(PANS[i % 4]))
            cards += 1
        else:
            cols["card_num"].append(None)
        if i % 13 == 0:
            cols["card_dec"].append(decimal.Decimal(PANS[(i + 1) % 4]))
            cards += 1
        else:
            cols["card_dec"].append(decimal.Decimal(rng.randint(1, 10**9)))
        cols["amount"].append(rng.randint(1, 100_000))
        if i % 17 == 0:
            cols["tags"].append([ref, PANS[(i + 2) % 4]])
            cards += 1
        else:
            cols["tags"].append([ref, f"t{i % 7}"])
        if i % 19 == 0:
            cols["payer"].append({"name": f"payer {i}", "card": PANS[(i + 3) % 4]})
            cards += 1
        else:
            cols["payer"].append({"name": f"payer {i}", "card": None})
        cols["cvv"].append(rng.randint(100, 999))
    t = pa.table(
        {
            "note": cols["note"],
            "card": cols["card"],
            "card_cat": pa.array(cols["card_cat"]).dictionary_encode(),
            "card_num": pa.array(cols["card_num"], pa.int64()),
            "card_dec": pa.array(cols["card_dec"], pa.decimal128(18, 0)),
            "amount": pa.array(cols["amount"], pa.int64()),
            "tags": pa.array(cols["tags"], pa.list_(pa.string())),
            "payer": pa.array(cols["payer"], pa.struct([("name", pa.string()), ("card", pa.string())])),
            "cvv": pa.array(cols["cvv"], pa.int32()),
        }
    )
    return t, cards


def main(out, writer):
    t, cards = table()
    if writer == "pyarrow":
        pq.write_table(
            t,
            out,
            row_group_size=GROUP,
            compression="snappy",
            write_statistics=True,
            write_page_index=True,
            bloom_filter_options={"card": {"ndv": ROWS, "fpp": 0.05}, "note": True},
        )
    elif writer == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.register("extract", t)
        con.execute(
            f"COPY extract TO '{out}' (FORMAT parquet, COMPRESSION snappy, "
            f"ROW_GROUP_SIZE {GROUP}, KV_METADATA {{source: 'nightly extract'}})"
        )
    elif writer == "polars":
        import polars as pl

        pl.from_arrow(t).write_parquet(out, compression="zstd", statistics=True, row_group_size=GROUP)
    else:
        sys.exit(f"unknown writer {writer}")
    print(cards)


if __name__ == "__main__":
    main(*sys.argv[1:])
