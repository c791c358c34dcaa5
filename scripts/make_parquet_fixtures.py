#!/usr/bin/env python3
"""Writes the Parquet fixtures with pyarrow (the producer the tests compare
against): several row groups, snappy/zstd/gzip codecs (and one file with a
codec per column), dictionary and plain encodings, nested struct/list
columns, binary, large and view strings, integer and decimal columns holding
card numbers, field and key-value metadata, statistics and page indexes.
Card numbers are public test numbers only.

Run from the repository root: python3 scripts/make_parquet_fixtures.py
Needs: pip install pyarrow
"""
import decimal
import os

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "parquet")
TESTDATA = os.path.join(ROOT, "testdata", "warehouse")

VISA = "4111111111111111"
MC = "5555555555554444"
AMEX = "378282246310005"
DISCOVER = "6011111111111117"

ROWS = 10


def payments_table():
    """Ten rows; PANs in every kind of column, some rows clean."""
    notes = [
        VISA,  # a whole value: also the column's minimum statistic
        "paid with 5555 5555 5555 4444 by phone",
        "no card here",
        None,
        "refund to 3782-822463-10005",
        "order 12345",
        "card " + DISCOVER + " declined",
        "",
        "ok",
        "zz last " + VISA,  # and the maximum
    ]
    statuses = ["settled", "settled", "pending " + MC, "settled", "failed",
                "pending " + MC, "settled", "failed", "settled", "pending " + MC]
    card_number = [int(VISA), None, 1234567890123, int(MC), 42, None,
                   int(DISCOVER), 4111111111111112, int(VISA), 7]
    card_required = [int(MC), 1, 2, 3, int(AMEX), 5, 6, 7, 8, int(VISA)]
    amount = [decimal.Decimal(AMEX), decimal.Decimal(10), None, decimal.Decimal(3),
              decimal.Decimal(4), decimal.Decimal(int(VISA)), decimal.Decimal(6),
              decimal.Decimal(7), decimal.Decimal(8), decimal.Decimal(9)]
    customer = [
        {"name": "Ada", "cards": ["4111 1111 1111 1111", "expired"]},
        {"name": "Grace", "cards": []},
        None,
        {"name": "Linus " + MC, "cards": None},
        {"name": "Ken", "cards": ["x", DISCOVER, "y"]},
        {"name": "Barbara", "cards": ["nothing"]},
        {"name": "Dennis", "cards": [AMEX]},
        {"name": "Frances", "cards": []},
        {"name": "Edsger", "cards": ["none"]},
        {"name": "Alan", "cards": [VISA, MC]},
    ]
    tags = [["vip"], [], None, ["card:" + VISA], ["a", "b"], ["c"], [], ["d"], ["e"], [MC]]
    payload = [("raw " + VISA).encode(), b"\x00\x01", None, b"plain", MC.encode(),
               b"", b"z", b"y", b"x", b"w"]
    large = ["l" + str(i) for i in range(ROWS)]
    large[5] = "large " + AMEX
    view = ["short", "view value " + DISCOVER, None, "s", "s", "s", "s", "s", "s", "s"]

    schema = pa.schema([
        pa.field("id", pa.int64(), nullable=False),
        pa.field("note", pa.string(), metadata={"pii": "free text"}),
        pa.field("status", pa.dictionary(pa.int32(), pa.string())),
        pa.field("card_number", pa.int64()),
        pa.field("card_required", pa.int64(), nullable=False),
        pa.field("amount", pa.decimal128(19, 0)),
        pa.field("customer", pa.struct([
            pa.field("name", pa.string()),
            pa.field("cards", pa.list_(pa.string())),
        ])),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("payload", pa.binary()),
        pa.field("large", pa.large_string()),
        pa.field("view", pa.string_view()),
    ], metadata={"source": "crm-extract", "owner": "payments-team"})
    return pa.table({
        "id": pa.array(range(ROWS), pa.int64()),
        "note": notes,
        "status": pa.array(statuses).dictionary_encode().cast(pa.dictionary(pa.int32(), pa.string())),
        "card_number": card_number,
        "card_required": card_required,
        "amount": amount,
        "customer": customer,
        "tags": tags,
        "payload": payload,
        "large": large,
        "view": view,
    }, schema=schema)


def write(table, path, **kw):
    pq.write_table(
        table, path,
        row_group_size=4,  # 10 rows: groups of 4, 4, 2
        write_statistics=True,
        write_page_index=True,
        use_dictionary=["status", "large"],  # others plain
        **kw,
    )


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    os.makedirs(TESTDATA, exist_ok=True)
    t = payments_table()
    for codec in ["snappy", "zstd", "gzip"]:
        write(t, os.path.join(FIXTURES, f"payments_{codec}.parquet"), compression=codec)
    per_column = {name: "zstd" for name in t.column_names}
    per_column.update({"note": "gzip", "status": "snappy", "customer": "none"})
    write(t, os.path.join(FIXTURES, "payments_mixed.parquet"), compression=per_column)
    clean = pa.table({"id": list(range(5)), "word": ["a", "b", "c", "d", "e"]})
    pq.write_table(clean, os.path.join(FIXTURES, "clean.parquet"))
    # The README's tree: a small warehouse extract.
    orders = pa.table({
        "order_id": [1001, 1002, 1003],
        "customer_note": ["deliver to back door", "paid by 4111 1111 1111 1111", "gift"],
        "card_on_file": pa.array([None, int(MC), None], pa.int64()),
    })
    pq.write_table(orders, os.path.join(TESTDATA, "orders.parquet"), compression="snappy")


if __name__ == "__main__":
    main()
