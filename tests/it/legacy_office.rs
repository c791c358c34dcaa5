//! Legacy Office documents (OLE compound files: `.xls`, `.doc`, `.ppt`)
//! as LibreOffice writes them from the OOXML test documents: report-only.
//! A card column stored as numbers (IEEE doubles: no digits in the bytes)
//! and a card in a text cell are found by sheet and cell, text in Word and PowerPoint streams is
//! found, the files are `reported` with a reason that says to convert
//! them, exit 1, and never changed.

use super::office::{export_zip, make_docs};
use super::opendocument::libreoffice;
use super::*;

/// Writes payments.xls, form.doc and deck.ppt into `d` (LibreOffice).
fn legacy_docs(d: &Path) -> Option<[PathBuf; 3]> {
    if !make_docs(d) {
        return None;
    }
    let mut out = Vec::new();
    for (src, to) in [
        ("payments.xlsx", "xls"),
        ("form.docx", "doc"),
        ("deck.pptx", "ppt"),
    ] {
        out.push(libreoffice(d, to, d, &[d.join(src)])?.remove(0));
    }
    out.try_into().ok()
}

#[test]
fn legacy_documents_are_reported_with_their_cells_and_left_as_they_are() {
    let d = tmp();
    let Some([xls, doc, ppt]) = legacy_docs(d.path()) else {
        return;
    };
    let before: Vec<Vec<u8>> = [&xls, &doc, &ppt].map(|f| fs::read(f).unwrap()).to_vec();
    let m = d.path().join("m.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        xls.to_str().unwrap(),
        doc.to_str().unwrap(),
        ppt.to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    let recs = manifest(&m);
    let mut found: Vec<String> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            assert_eq!(f["action"], "reported");
            let file = Path::new(f["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            let cell = match (f["sheet"].as_str(), f["cell"].as_str()) {
                (Some(s), Some(c)) => format!(" {s}!{c}"),
                _ => String::new(),
            };
            format!(
                "{file} {}{cell} {}",
                f["member"].as_str().unwrap(),
                f["masked"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            "deck.ppt PowerPoint Document 371449*****8431",
            "form.doc WordDocument 411111******1111",
            "form.doc WordDocument 555555******4444",
            // Text, from the shared string table, at the cell that
            // shows it (once: the stream's raw readings leave it).
            "payments.xls Workbook Notes!A1 400005******5556",
            // Numbers, found only by reading the cells.
            "payments.xls Workbook Payments!B2 411111******1111",
            "payments.xls Workbook Payments!B3 555555******4444",
            "payments.xls Workbook Payments!B4 601111******1117",
            "payments.xls Workbook Payments!C3 378282*****0005",
        ]
    );
    for f in kind(&recs, "file") {
        assert_eq!(f["format"], "ole");
        assert_eq!(f["status"], "reported");
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("convert it to .docx/.xlsx/.pptx"),
            "{f}"
        );
    }
    let after: Vec<Vec<u8>> = [&xls, &doc, &ppt].map(|f| fs::read(f).unwrap()).to_vec();
    assert!(after == before, "a legacy document is never changed");
}

/// A legacy workbook attached to a record in an export zip is reported
/// under its member and stream, every card (numbers and text) by sheet
/// and cell; the export is kept.
#[test]
fn a_legacy_attachment_in_an_export_zip_is_reported_by_cell() {
    let d = tmp();
    let Some([xls, _, _]) = legacy_docs(d.path()) else {
        return;
    };
    fs::copy(&xls, d.path().join("sheet.bin")).unwrap();
    let zip_path = export_zip(d.path(), &[("sheet.bin", "00P5g00000XyZ04EAE")]);
    let before = fs::read(&zip_path).unwrap();
    let m = d.path().join("m.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        zip_path.to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    let recs = manifest(&m);
    let mut cells: Vec<String> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {}!{}",
                f["member"].as_str().unwrap(),
                f["sheet"].as_str().unwrap_or("?"),
                f["cell"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    cells.sort();
    let member = "Attachments/00P5g00000XyZ04EAE!Workbook";
    assert_eq!(
        cells,
        [
            "Notes!A1",
            "Payments!B2",
            "Payments!B3",
            "Payments!B4",
            "Payments!C3"
        ]
        .map(|c| format!("{member} {c}"))
    );
    assert_eq!(fs::read(&zip_path).unwrap(), before);
}
