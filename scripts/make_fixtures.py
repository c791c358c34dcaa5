#!/usr/bin/env python3
"""Writes the Salesforce-style CSV fixtures in testdata/export/ with Python's
csv module (the producer the tests compare against): UTF-8 BOM, CRLF, every
field quoted, doubled quotes, newlines inside quoted fields, and one export in
ISO-8859-1. Card numbers are public test numbers only.

Run from the repository root: python3 scripts/make_fixtures.py
"""
import csv
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "export")

OPPORTUNITIES = [
    ["Id", "Name", "Amount", "Description", "CloseDate"],
    ["0065g00000Opp01AAA", "Acme \"Gold\" renewal", "12000.00", "Paid with card 4111 1111 1111 1111, ok", "2025-03-31"],
    ["0065g00000Opp02AAA", "Globex", "550.50", "No card", "2025-04-02"],
    ["0065g00000Opp03AAA", "Initech, Inc.", "99.00", "Customer read out\n5555-5555-5555-4444\nover the phone", "2025-04-03"],
    ["0065g00000Opp04AAA", "Umbrella", "1748503543012", "timestamp-like amount is not a card", "2025-04-04"],
]

CASES_LATIN1 = [
    ["Id", "Sujet", "Détails"],
    ["5005g00000Cas01AAA", "Carte refusée", "numéro 378282246310005 à vérifier"],
]


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "Opportunity.csv"), "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(OPPORTUNITIES)
    with open(os.path.join(OUT, "Case.csv"), "w", encoding="iso-8859-1", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(CASES_LATIN1)


if __name__ == "__main__":
    main()
