//! The Salesforce export story end to end, on the bundled
//! `testdata/salesforce/WE_00D5g000000TEST_1.zip` (written by
//! `scripts/make_salesforce_export.py`): object CSVs and an `Attachments/`
//! folder of files named by record Id (a Word form, an Excel workbook of
//! card numbers, a PNG receipt). Scrubbed into `--out`, every card a
//! person sees is masked, the picture is named as not inspected, the
//! documents still open, and `report` lists what was found per attachment
//! record Id.

use super::office::{make_docs, members, read_back};
use super::*;

/// Scrubs `src` into `<d>/out` with manifest `<d>/m.jsonl`, expecting exit
/// `code` and no card in stdout or stderr; returns (out, manifest).
fn scrub_into_out(d: &Path, src: &Path, code: i32) -> (PathBuf, PathBuf) {
    let (out, m) = (d.join("out"), d.join("m.jsonl"));
    let o = panscrub(&[
        "scrub",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "-m",
        m.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_exit(&o, code);
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    (out, m)
}

fn bundled_export() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/salesforce/WE_00D5g000000TEST_1.zip")
}

#[test]
fn a_salesforce_export_with_attachments_is_scrubbed_and_reported_per_record_id() {
    let d = tmp();
    let export = bundled_export();
    let src = d.path().join("export");
    fs::create_dir_all(&src).unwrap();
    fs::copy(&export, src.join("WE_00D5g000000TEST_1.zip")).unwrap();
    let (out, m) = scrub_into_out(d.path(), &src, 0);
    let recs = manifest(&m);
    let mut actions: Vec<String> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["member"].as_str().unwrap(),
                f["action"].as_str().unwrap()
            )
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        vec![
            "Attachments/00P5g00000XyZ01EAE!word/document.xml truncated",
            "Attachments/00P5g00000XyZ02EAE!xl/worksheets/sheet1.xml truncated",
            "Attachments/00P5g00000XyZ02EAE!xl/worksheets/sheet1.xml truncated",
            "Contact.csv truncated",
        ]
    );
    let file = &kind(&recs, "file")[0];
    assert_eq!(
        file["not_inspected"][1],
        "Attachments/00P5g00000XyZ03EAE: PNG image: the picture is not read (no OCR); only text in its bytes is scanned"
    );
    // The scrubbed copy's attachments open and show the masks.
    let copy = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("the scrubbed export");
    let inner = members(&copy);
    let doc = d.path().join("form.docx");
    fs::write(&doc, &inner["Attachments/00P5g00000XyZ01EAE"]).unwrap();
    assert_eq!(
        read_back(&doc)["paragraphs"][1],
        "Card on file: 4111 11** **** 1111 exp 12/28"
    );
    let book = d.path().join("payments.xlsx");
    fs::write(&book, &inner["Attachments/00P5g00000XyZ02EAE"]).unwrap();
    let sheet = &read_back(&book)["Payments"];
    assert_eq!(sheet[1][1], 5555550000004444u64);
    assert_eq!(sheet[2][1], 378282000000005u64);
    assert_eq!(
        String::from_utf8_lossy(&inner["Contact.csv"])
            .lines()
            .nth(2)
            .unwrap(),
        "\"0035g00000AbCdE02\",\"Bob Kay\",\"card 4012 88** **** 1881 given on the phone\""
    );
    // The report, per attachment record Id.
    let r = panscrub(&["report", m.to_str().unwrap()]);
    assert_exit(&r, 0);
    assert_no_pan("report", &r.stdout);
    let text = String::from_utf8_lossy(&r.stdout);
    let section: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Salesforce attachments by record Id"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let why = "PNG image: the picture is not read (no OCR); only text in its bytes is scanned";
    assert_eq!(
        section,
        vec![
            "00P5g00000XyZ01EAE 1 1 0 paragraph 2 (not inspected: docProps/thumbnail.jpeg: JPEG image: the picture is not read (no OCR); only text in its bytes is scanned)".to_string(),
            "00P5g00000XyZ02EAE 2 2 0 Payments!B2, Payments!B3".to_string(),
            format!("00P5g00000XyZ03EAE 0 0 0 (not inspected: {why})"),
        ]
    );
    let json = panscrub(&["report", "--format", "json", m.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["attachments"][1]["id"], "00P5g00000XyZ02EAE");
    assert_eq!(
        v["attachments"][1]["where"],
        serde_json::json!(["Payments!B2", "Payments!B3"])
    );
}

/// The same export with a PDF attached as well (a statement, record Id
/// `00P5g00000XyZ04EAE`, added by the system's zip): a PDF cannot be
/// masked, so the scrub masks everything else into `--out`, reports the
/// PDF's cards by page, leaves the PDF's bytes as they were, and exits 1
/// so the cron job notices; the report lists the PDF by its record Id.
#[test]
fn a_pdf_attachment_is_reported_by_record_id_and_page_while_the_rest_is_masked() {
    let d = tmp();
    if !make_docs(d.path()) {
        return;
    }
    let src = d.path().join("export");
    fs::create_dir_all(src.join("Attachments")).unwrap();
    let zip_path = src.join("WE_00D5g000000TEST_1.zip");
    fs::copy(bundled_export(), &zip_path).unwrap();
    let pdf = src.join("Attachments/00P5g00000XyZ04EAE");
    fs::copy(d.path().join("statement.pdf"), &pdf).unwrap();
    let st = Command::new("zip")
        .args([
            "-q",
            "WE_00D5g000000TEST_1.zip",
            "Attachments/00P5g00000XyZ04EAE",
        ])
        .current_dir(&src)
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_dir_all(src.join("Attachments")).unwrap();

    let (out, m) = scrub_into_out(d.path(), &src, 1);
    let recs = manifest(&m);
    let mut actions: Vec<String> = kind(&recs, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["member"].as_str().unwrap(),
                f["page"],
                f["action"].as_str().unwrap()
            )
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        vec![
            "Attachments/00P5g00000XyZ01EAE!word/document.xml null truncated",
            "Attachments/00P5g00000XyZ02EAE!xl/worksheets/sheet1.xml null truncated",
            "Attachments/00P5g00000XyZ02EAE!xl/worksheets/sheet1.xml null truncated",
            "Attachments/00P5g00000XyZ04EAE 2 reported",
            "Attachments/00P5g00000XyZ04EAE 2 reported",
            "Contact.csv null truncated",
        ]
    );
    let file = &kind(&recs, "file")[0];
    assert_eq!(file["status"], "reported", "{file}");

    // Everything but the PDF is masked in the copy; the PDF is as it was.
    let copy = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("the scrubbed export");
    let inner = members(&copy);
    assert_eq!(
        inner["Attachments/00P5g00000XyZ04EAE"],
        fs::read(d.path().join("statement.pdf")).unwrap()
    );
    let book = d.path().join("payments.xlsx");
    fs::write(&book, &inner["Attachments/00P5g00000XyZ02EAE"]).unwrap();
    assert_eq!(read_back(&book)["Payments"][1][1], 5555550000004444u64);

    let json = panscrub(&["report", "--format", "json", m.to_str().unwrap()]);
    assert_exit(&json, 0);
    assert_no_pan("report", &json.stdout);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    let pdf_row = v["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "00P5g00000XyZ04EAE")
        .expect("the PDF attachment is listed")
        .clone();
    assert_eq!(
        (
            &pdf_row["findings"],
            &pdf_row["reported"],
            &pdf_row["truncated"],
            &pdf_row["where"]
        ),
        (
            &Value::from(2),
            &Value::from(2),
            &Value::from(0),
            &serde_json::json!(["page 2"])
        )
    );
}
