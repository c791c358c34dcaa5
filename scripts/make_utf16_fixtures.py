#!/usr/bin/env python3
"""Writes the UTF-16 fixtures with Python's own encoder (public test PANs).

tests/fixtures/utf16/: a PowerShell-style log in UTF-16 with BOM (LE), the
same text big-endian without BOM, and an export with non-Latin text and a
surrogate pair next to a PAN. testdata/windows/: a small UTF-16 export for
the README's demo.
"""
import os

ROOT = os.path.join(os.path.dirname(__file__), "..")
LOG = (
    "Événement 4624 — paiement accepté\r\n"
    "card 4111 1111 1111 1111 paid, cvv=123\r\n"
    "swipe ;5555555555554444=25121010000000?\r\n"
    "order 12345678901234567 is not a card\r\n"
)
MIXED = "名前: 山田 カード番号 4012888888881881 😀3782-822463-10005 終わり\n"

def write(rel, data):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

write("tests/fixtures/utf16/log_le_bom.txt", LOG.encode("utf-16"))  # BOM + LE
write("tests/fixtures/utf16/log_be.txt", LOG.encode("utf-16-be"))
write("tests/fixtures/utf16/mixed_le_bom.txt", MIXED.encode("utf-16"))
write(
    "testdata/windows/Export-Payments.txt",
    ("Name\tCard\tNote\r\nJohn Doe\t6011 0004 0000 0000\tcalled back\r\n").encode("utf-16"),
)
