#!/usr/bin/env python3
"""Writes testdata/salesforce/WE_00D5g000000TEST_1.zip: a Salesforce weekly
export taken with "Include images, documents, and attachments", as the
export service lays it out: object CSVs (quoted, CRLF) beside an
`Attachments/` folder whose files are named by their Attachment record Id,
with no extension; `Attachment.csv` links each to its parent record.

The attachments are written by their own libraries: a payment form
(python-docx, a card split over a bold run), a workbook of card payments
(openpyxl, card numbers stored as numbers), a PNG photo of a receipt
(not read: no OCR). No PDF: a PDF is report-only, and the bundled tree
scrubs to exit 0 (PDF attachments are tested in tests/it/office.rs).
Every card number is a publicly documented test number.

    python3 scripts/make_salesforce_export.py
"""
import csv
import io
import os
import struct
import tempfile
import zipfile
import zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "salesforce", "WE_00D5g000000TEST_1.zip")
STAMP = (2026, 11, 29, 2, 0, 0)


def rows_csv(rows):
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode()


def docx_bytes():
    import docx

    d = docx.Document()
    d.add_heading("Card payment authorisation", 1)
    p = d.add_paragraph("Card on file: ")
    p.add_run("4111 1111").bold = True
    p.add_run(" 1111 1111 exp 12/28")
    d.add_paragraph("Signed by the cardholder.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def xlsx_bytes():
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Payments"
    ws.append(["date", "card", "amount"])
    ws.append(["2026-11-02", 5555555555554444, 120.0])
    ws.append(["2026-11-09", 378282246310005, 80.5])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def png_bytes():
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    raw = b"\0\x80\x80\0\x80\x80"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def main():
    members = [
        ("Contact.csv", rows_csv([
            ["Id", "Name", "Description"],
            ["0035g00000AbCdE01", "Ann Lee", "prefers phone"],
            ["0035g00000AbCdE02", "Bob Kay", "card 4012 8888 8888 1881 given on the phone"],
        ])),
        ("Attachment.csv", rows_csv([
            ["Id", "ParentId", "Name", "ContentType"],
            ["00P5g00000XyZ01EAE", "0035g00000AbCdE01", "authorisation.docx",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
            ["00P5g00000XyZ02EAE", "0035g00000AbCdE01", "payments.xlsx",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
            ["00P5g00000XyZ03EAE", "0035g00000AbCdE02", "receipt.png", "image/png"],
        ])),
        ("Attachments/00P5g00000XyZ01EAE", docx_bytes()),
        ("Attachments/00P5g00000XyZ02EAE", xlsx_bytes()),
        ("Attachments/00P5g00000XyZ03EAE", png_bytes()),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


if __name__ == "__main__":
    main()
