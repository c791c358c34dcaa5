#!/usr/bin/env python3
"""Office documents as their own libraries write them, and read back.

    office_docs.py make OUT_DIR   writes payments.xlsx (openpyxl, inline
                                  strings), ledger.xlsx (XlsxWriter, shared
                                  strings, as Excel writes them), form.docx
                                  (python-docx), deck.pptx (python-pptx),
                                  statement.pdf and locked.pdf (fpdf2, the
                                  second encrypted with a user password),
                                  with publicly documented test card numbers
    office_docs.py make-odf OUT_DIR  writes form.odt and payments.ods (odfpy):
                                  a card split over a bold span, one in a
                                  link, one after a footnote; a card column
                                  of numbers below repeated empty rows
    office_docs.py read FILE...   opens each file with the library that wrote
                                  it and prints, per file, what a person sees
                                  (cell values, paragraphs, slide text) as JSON

Used by tests/it/office.rs: a scrubbed document must still open, and show
the masked numbers where the cards were.
"""
import json
import sys


def make(out):
    import docx
    import openpyxl
    import pptx
    from pptx.util import Inches

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Payments"
    ws.append(["name", "card", "note", "amount"])
    # A column of digits is stored as numbers by Excel and every export.
    ws.append(["Ann", 4111111111111111, "paid by card", 12.5])
    ws.append(["Bob", 5555555555554444, "card 3782 822463 10005 on file", 99])
    ws.append(["Cy", 6011111111111117, "invoice 1234567890123", 7])
    notes = wb.create_sheet("Notes")
    notes["A1"] = "call back, card 4000 0566 5566 5556"
    wb.save(f"{out}/payments.xlsx")

    import xlsxwriter

    book = xlsxwriter.Workbook(f"{out}/ledger.xlsx")
    sheet = book.add_worksheet("Ledger")
    sheet.write_row(0, 0, ["ref", "detail"])
    sheet.write_row(1, 0, ["A-1", "refund to 5555 5555 5555 4444"])
    sheet.write_row(2, 0, ["A-2", "no card"])
    sheet.write_row(3, 0, ["A-3", "refund to 5555 5555 5555 4444"])
    book.close()

    d = docx.Document()
    d.add_heading("Payment authorisation", 1)
    p = d.add_paragraph("Card on file: ")
    r = p.add_run("4111 1111")
    r.bold = True
    p.add_run(" 1111 1111 exp 12/28")
    d.add_paragraph("Reference 1234 5678 9012 3456 is not a card.")
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "Backup card"
    c = t.cell(0, 1).paragraphs[0]
    c.add_run("5555 ")
    c.add_run("5555 5555 ").italic = True
    c.add_run("4444")
    d.sections[0].header.paragraphs[0].text = "Form v2"
    d.save(f"{out}/form.docx")

    deck = pptx.Presentation()
    s = deck.slides.add_slide(deck.slide_layouts[5])
    s.shapes.title.text = "Q3 refunds"
    s2 = deck.slides.add_slide(deck.slide_layouts[5])
    s2.shapes.title.text = "Disputed"
    box = s2.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1)).text_frame
    box.text = "Case 17"
    para = box.add_paragraph()
    para.add_run().text = "Card 3714 4963"
    para.add_run().text = "53 98431"
    deck.save(f"{out}/deck.pptx")

    from fpdf import FPDF

    pdf = FPDF()  # content streams compressed, as most writers do
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.cell(0, 10, "Statement for March, no card here.")
    pdf.add_page()
    pdf.cell(0, 10, "Refund to card 4111 1111 1111 1111 approved.")
    pdf.ln()
    pdf.cell(0, 10, "Amex 3782 822463 10005.")
    pdf.output(f"{out}/statement.pdf")
    locked = FPDF()
    locked.set_font("Helvetica", size=12)
    locked.add_page()
    locked.cell(0, 10, "Card 4111 1111 1111 1111")
    locked.set_encryption(owner_password="owner", user_password="secret")
    locked.output(f"{out}/locked.pdf")


def make_odf(out):
    from odf.opendocument import OpenDocumentSpreadsheet, OpenDocumentText
    from odf.style import Style, TextProperties
    from odf.table import Table, TableCell, TableRow
    from odf.text import A, Note, NoteBody, NoteCitation, P, Span

    d = OpenDocumentText()
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    d.automaticstyles.addElement(bold)
    d.text.addElement(P(text="Payment authorisation"))
    p = P(text="Card on file: ")
    p.addElement(Span(stylename=bold, text="4111 1111"))
    p.addText(" 1111 1111 exp 12/28")
    d.text.addElement(p)
    link = P(text="Pay here: ")
    link.addElement(A(href="https://pay.example/?pan=5555555555554444", text="link"))
    d.text.addElement(link)
    noted = P(text="Amex 3782 822463 10005")
    note = Note(noteclass="footnote", id="n1")
    note.addElement(NoteCitation(text="1"))
    body = NoteBody()
    body.addElement(P(text="from the phone call"))
    note.addElement(body)
    noted.addElement(note)
    noted.addText(" noted.")
    d.text.addElement(noted)
    d.text.addElement(P(text="Reference 1234 5678 9012 3456 is not a card."))
    d.save(f"{out}/form.odt")

    s = OpenDocumentSpreadsheet()
    t = Table(name="Payments")
    blank = TableRow(numberrowsrepeated=2)
    blank.addElement(TableCell(numbercolumnsrepeated=4))
    t.addElement(blank)

    def row(*cells):
        r = TableRow()
        for c in cells:
            if isinstance(c, str):
                cell = TableCell(valuetype="string")
            else:
                cell = TableCell(valuetype="float", value=str(c))
            cell.addElement(P(text=str(c)))
            r.addElement(cell)
        t.addElement(r)

    row("name", "card", "note", "amount")
    row("Ann", 4111111111111111, "paid by card", 12.5)
    row("Bob", 5555555555554444, "card 3782 822463 10005 on file", 99)
    row("Cy", 6011111111111117, "invoice 1234567890123", 7)
    s.spreadsheet.addElement(t)
    s.save(f"{out}/payments.ods")


def read_odf(path):
    from odf import opendocument, teletype
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = opendocument.load(path)
    if doc.getMediaType().endswith("spreadsheet"):
        sheets = {}
        for t in doc.spreadsheet.getElementsByType(Table):
            rows = []
            for r in t.getElementsByType(TableRow):
                cells = []
                for c in r.getElementsByType(TableCell):
                    n = int(c.getAttribute("numbercolumnsrepeated") or 1)
                    value = c.getAttribute("value")
                    text = teletype.extractText(c)
                    cells += [value if value is not None else text] * min(n, 8)
                rows += [cells] * min(int(r.getAttribute("numberrowsrepeated") or 1), 8)
            sheets[t.getAttribute("name")] = rows
        return sheets
    return {"paragraphs": [teletype.extractText(p) for p in doc.text.getElementsByType(P)]}


def read(path):
    if path.endswith((".odt", ".ods", ".odp")):
        return read_odf(path)
    if path.endswith((".xlsx", ".xlsm")) or "xlsx" in path:
        import openpyxl

        wb = openpyxl.load_workbook(path)
        return {
            ws.title: [[c.value for c in row] for row in ws.iter_rows()]
            for ws in wb.worksheets
        }
    if path.endswith(".docx") or "docx" in path:
        import docx

        d = docx.Document(path)
        cells = [c.text for t in d.tables for row in t.rows for c in row.cells]
        return {"paragraphs": [p.text for p in d.paragraphs], "cells": cells}
    import pptx

    deck = pptx.Presentation(path)
    return {
        "slides": [
            [sh.text_frame.text for sh in s.shapes if sh.has_text_frame]
            for s in deck.slides
        ]
    }


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "make-odf":
        make_odf(sys.argv[2])
    else:
        print(json.dumps({p: read(p) for p in sys.argv[2:]}))
