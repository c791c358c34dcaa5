//! Office documents written by their own libraries (openpyxl, python-docx,
//! python-pptx, through `scripts/office_docs.py`): a card is found where a
//! person sees it (across formatting runs, in a numeric cell), masked so
//! the document still opens in the library that wrote it, located by
//! sheet and cell, paragraph, slide; every other part is kept byte for
//! byte. `scripts/test.sh` installs the libraries and sets
//! `PANSCRUB_REQUIRE_TOOLS`, under which their absence fails.

use std::collections::BTreeMap;
use std::io::Read;

use super::*;

pub(crate) const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/office_docs.py");

/// Writes the three documents into `dir`, or says why it cannot.
pub(crate) fn make_docs(dir: &Path) -> bool {
    let o = Command::new("python3")
        .args([DOCS, "make"])
        .arg(dir)
        .output()
        .unwrap();
    if !o.status.success() {
        assert!(
            std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_none(),
            "openpyxl, python-docx and python-pptx are required: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!(
            "skipped: cannot write Office documents (pip install openpyxl python-docx python-pptx)"
        );
        return false;
    }
    true
}

/// What the library that wrote `file` reads back from it (fails the test
/// if it no longer opens).
pub(crate) fn read_back(file: &Path) -> Value {
    let o = Command::new("python3")
        .args([DOCS, "read"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} no longer opens: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v[file.to_str().unwrap()].clone()
}

/// Every member of a zip, by name.
pub(crate) fn members(file: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut ar = zip::ZipArchive::new(fs::File::open(file).unwrap()).unwrap();
    (0..ar.len())
        .map(|i| {
            let mut m = ar.by_index(i).unwrap();
            let mut bytes = Vec::new();
            m.read_to_end(&mut bytes).unwrap();
            (m.name().unwrap().to_string(), bytes)
        })
        .collect()
}

/// The members that differ between two zips (all must be in both).
pub(crate) fn changed_members(a: &Path, b: &Path) -> Vec<String> {
    let (a, b) = (members(a), members(b));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same parts"
    );
    a.iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|(k, _)| k.clone())
        .collect()
}

pub(crate) fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Scrubs `file` with a manifest; returns the manifest's records.
pub(crate) fn scrub(d: &Path, file: &Path) -> Vec<Value> {
    let m = d.join("m.jsonl");
    let _ = fs::remove_file(&m);
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    manifest(&m)
}

/// A Salesforce export zip (written by the system's zip) under `d`: a
/// `Contact.csv` and, under `Attachments/`, each of the documents in `d`
/// named for its record Id, with no extension.
pub(crate) fn export_zip(d: &Path, attachments: &[(&str, &str)]) -> PathBuf {
    let export = d.join("export");
    fs::create_dir_all(export.join("Attachments")).unwrap();
    fs::write(export.join("Contact.csv"), "Id,Name\n0035g00000AbCdE,Ann\n").unwrap();
    for (doc, id) in attachments {
        fs::copy(d.join(doc), export.join("Attachments").join(id)).unwrap();
    }
    let st = Command::new("zip")
        .args(["-q", "-r", "../export.zip", "."])
        .current_dir(&export)
        .status()
        .unwrap();
    assert!(st.success());
    d.join("export.zip")
}

pub(crate) fn assert_rescan_clean(file: &Path) {
    let o = panscrub(&["scan", "-q", file.to_str().unwrap()]);
    assert_exit(&o, 0);
}

/// The first reproduction of the issue: a card column stored as numbers
/// was masked with `*` into `<v>`, and the workbook no longer opened.
#[test]
fn an_xlsx_card_column_of_numbers_stays_a_workbook_of_numbers() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let book = d.path().join("payments.xlsx");
    let original = d.path().join("original.xlsx");
    fs::copy(&book, &original).unwrap();
    let recs = scrub(d.path(), &book);
    let findings = kind(&recs, "finding");
    let places: Vec<(String, String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["sheet"].as_str().unwrap().to_string(),
                f["cell"].as_str().unwrap().to_string(),
                f["masked_as"].as_str().unwrap_or("text").to_string(),
            )
        })
        .collect();
    let want = [
        ("Payments", "B2", "number"),
        ("Payments", "B3", "number"),
        ("Payments", "C3", "text"),
        ("Payments", "B4", "number"),
        ("Notes", "A1", "text"),
    ];
    assert_eq!(
        places,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );

    let after = read_back(&book);
    let payments = &after["Payments"];
    for (row, card) in [
        (1, "4111111111111111"),
        (2, "5555555555554444"),
        (3, "6011111111111117"),
    ] {
        // Still a number, the same length, first six and last four kept,
        // no longer a card number.
        let n = payments[row][1].as_u64().expect("a number cell");
        let s = n.to_string();
        assert_eq!(s.len(), card.len());
        assert_eq!(
            (&s[..6], &s[s.len() - 4..]),
            (&card[..6], &card[card.len() - 4..])
        );
        assert_ne!(s, card);
        assert!(!luhn_valid(&s), "{s} is still a valid card number");
    }
    assert_eq!(payments[2][2], "card 3782 82**** *0005 on file");
    assert_eq!(payments[3][2], "invoice 1234567890123", "not a card: kept");
    assert_eq!(payments[1][3], 12.5);
    assert_eq!(after["Notes"][0][0], "call back, card 4000 05** **** 5556");
    // Only the two worksheets changed; every other part byte for byte.
    assert_eq!(
        changed_members(&original, &book),
        vec!["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"]
    );
    assert_rescan_clean(&book);
}

/// The second reproduction: a card split over formatting runs (bold in
/// the middle) is one number on the page and was not found.
#[test]
fn a_docx_card_split_over_formatting_runs_is_found_and_masked() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let doc = d.path().join("form.docx");
    let o = panscrub(&["scan", "--json", doc.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    let found: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at: Vec<(u64, &str)> = found
        .iter()
        .map(|f| {
            (
                f["paragraph"].as_u64().unwrap(),
                f["masked"].as_str().unwrap(),
            )
        })
        .collect();
    // The body's second paragraph (bold run in the middle), and a table
    // cell's paragraph split over three runs.
    assert_eq!(at, vec![(2, "411111******1111"), (5, "555555******4444")]);
    assert!(found.iter().all(|f| f["member"] == "word/document.xml"));

    let original = d.path().join("original.docx");
    fs::copy(&doc, &original).unwrap();
    scrub(d.path(), &doc);
    let after = read_back(&doc);
    assert_eq!(
        after["paragraphs"],
        serde_json::json!([
            "Payment authorisation",
            "Card on file: 4111 11** **** 1111 exp 12/28",
            "Reference 1234 5678 9012 3456 is not a card."
        ])
    );
    assert_eq!(after["cells"][1], "5555 55** **** 4444");
    assert_eq!(changed_members(&original, &doc), vec!["word/document.xml"]);
    assert_rescan_clean(&doc);
}

#[test]
fn a_pptx_card_split_over_runs_is_found_on_its_slide() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let deck = d.path().join("deck.pptx");
    let recs = scrub(d.path(), &deck);
    let f = kind(&recs, "finding");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (&f[0]["member"], &f[0]["slide"], &f[0]["paragraph"]),
        (
            &Value::from("ppt/slides/slide2.xml"),
            &Value::from(2),
            &Value::from(3)
        )
    );
    let after = read_back(&deck);
    assert_eq!(after["slides"][1][1], "Case 17\nCard 3714 49**** *8431");
    assert_rescan_clean(&deck);
}

/// Salesforce exports carry attachments under their record Id, without an
/// extension: a workbook and a document inside the export zip are found by
/// content, located by member, sheet and cell, and still open once the
/// export is scrubbed into `--out`.
#[test]
fn office_attachments_in_an_export_zip_are_found_by_content() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let zip_path = export_zip(
        d.path(),
        &[
            ("payments.xlsx", "00P5g00000XyZ01EAE"),
            ("form.docx", "00P5g00000XyZ02EAE"),
        ],
    );
    let out = d.path().join("out");
    let m = d.path().join("m.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "-m",
        m.to_str().unwrap(),
        zip_path.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let recs = manifest(&m);
    let places: Vec<String> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["member"].as_str().unwrap(),
                f["cell"]
                    .as_str()
                    .map(|c| format!("{}!{c}", f["sheet"].as_str().unwrap()))
                    .unwrap_or_else(|| format!("paragraph {}", f["paragraph"]))
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![
            "Attachments/00P5g00000XyZ01EAE!xl/worksheets/sheet1.xml Payments!B2",
            "Attachments/00P5g00000XyZ01EAE!xl/worksheets/sheet1.xml Payments!B3",
            "Attachments/00P5g00000XyZ01EAE!xl/worksheets/sheet1.xml Payments!C3",
            "Attachments/00P5g00000XyZ01EAE!xl/worksheets/sheet1.xml Payments!B4",
            "Attachments/00P5g00000XyZ01EAE!xl/worksheets/sheet2.xml Notes!A1",
            "Attachments/00P5g00000XyZ02EAE!word/document.xml paragraph 2",
            "Attachments/00P5g00000XyZ02EAE!word/document.xml paragraph 5",
        ]
    );
    // The scrubbed export's attachments open and show the masks.
    let copy = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("the scrubbed export");
    let inner = members(&copy);
    let book = d.path().join("attachment.xlsx");
    fs::write(&book, &inner["Attachments/00P5g00000XyZ01EAE"]).unwrap();
    assert_eq!(read_back(&book)["Payments"][1][1], 4111110000001111u64);
    let doc = d.path().join("attachment.docx");
    fs::write(&doc, &inner["Attachments/00P5g00000XyZ02EAE"]).unwrap();
    assert_eq!(
        read_back(&doc)["paragraphs"][1],
        "Card on file: 4111 11** **** 1111 exp 12/28"
    );
    assert_rescan_clean(&copy);
}

/// A PDF is read page by page (its content streams are compressed: the
/// raw bytes hold no digits), its findings reported with their page and
/// left in place, the file `reported` with its reason, exit 1.
#[test]
fn a_pdf_is_reported_by_page_and_left_as_it_is() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let pdf = d.path().join("statement.pdf");
    let before = fs::read(&pdf).unwrap();
    let m = d.path().join("m.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        pdf.to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    assert_no_pan("stderr", &o.stderr);
    let recs = manifest(&m);
    let found: Vec<(u64, &str, &str)> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            (
                f["page"].as_u64().unwrap(),
                f["masked"].as_str().unwrap(),
                f["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (2, "411111******1111", "reported"),
            (2, "378282*****0005", "reported")
        ]
    );
    let file = kind(&recs, "file")[0];
    assert_eq!(file["status"], "reported");
    assert_eq!(file["format"], "pdf");
    assert!(file["reason"]
        .as_str()
        .unwrap()
        .contains("PDF: report-only"));
    assert_eq!(fs::read(&pdf).unwrap(), before, "a PDF is never changed");
}

/// An encrypted PDF cannot be read: an error that says so (exit 2), never
/// a clean file.
#[test]
fn an_encrypted_pdf_is_an_error_that_says_why() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let pdf = d.path().join("locked.pdf");
    let m = d.path().join("m.jsonl");
    let o = panscrub(&[
        "scan",
        "-q",
        "-m",
        m.to_str().unwrap(),
        pdf.to_str().unwrap(),
    ]);
    assert_exit(&o, 2);
    let file = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(file["status"], "error");
    assert!(
        file["reason"]
            .as_str()
            .unwrap()
            .contains("encrypted: a PDF cannot be read without the password"),
        "{file}"
    );
}

/// A PDF attached to a record inside an export zip is reported with its
/// member and page; the export is left as it is.
#[test]
fn a_pdf_attachment_in_an_export_zip_is_reported_with_its_page() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let zip_path = export_zip(d.path(), &[("statement.pdf", "00P5g00000XyZ03EAE")]);
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
    let f = kind(&recs, "finding");
    assert_eq!(f.len(), 2);
    assert!(f
        .iter()
        .all(|f| f["member"] == "Attachments/00P5g00000XyZ03EAE"
            && f["page"] == 2
            && f["action"] == "reported"));
    assert_eq!(fs::read(&zip_path).unwrap(), before);
}

/// Excel (and XlsxWriter, pandas) keep text in one shared-strings part:
/// a card there is found once, located at the first cell that shows it,
/// and masked for every cell that shows it.
#[test]
fn a_card_in_a_shared_string_is_located_at_the_cell_that_shows_it() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let book = d.path().join("ledger.xlsx");
    let original = d.path().join("original.xlsx");
    fs::copy(&book, &original).unwrap();
    let recs = scrub(d.path(), &book);
    let f = kind(&recs, "finding");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (
            &f[0]["member"],
            &f[0]["sheet"],
            &f[0]["cell"],
            &f[0]["shared_string"]
        ),
        (
            &Value::from("xl/sharedStrings.xml"),
            &Value::from("Ledger"),
            &Value::from("B2"),
            &Value::from(3)
        )
    );
    let after = read_back(&book);
    assert_eq!(after["Ledger"][1][1], "refund to 5555 55** **** 4444");
    assert_eq!(after["Ledger"][3][1], "refund to 5555 55** **** 4444");
    assert_eq!(
        changed_members(&original, &book),
        vec!["xl/sharedStrings.xml"]
    );
    assert_rescan_clean(&book);
}
