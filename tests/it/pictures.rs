//! Pictures are not read (no OCR): a photographed card is not seen. An
//! auditor must be told so rather than given an all-clear: each picture,
//! as a file or a member of an export zip, is named in its file record's
//! `not_inspected`; text in its bytes (a PNG comment) is still scanned and
//! reported, and the picture is never changed.

use super::office::export_zip;
use super::*;

/// A PNG written with Python's zlib: a 1x1 grey pixel and a `tEXt`
/// comment holding `comment`.
fn png(path: &Path, comment: &str) {
    let script = r#"
import struct, sys, zlib
def chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c))
ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"tEXt", b"Comment\0" + sys.argv[2].encode())
png += chunk(b"IDAT", zlib.compress(b"\0\x80")) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
"#;
    let st = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(comment)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn pictures_are_named_as_not_inspected_and_their_text_still_scanned() {
    let d = tmp();
    png(
        &d.path().join("receipt.png"),
        "card 4111 1111 1111 1111 on file",
    );
    png(&d.path().join("logo.png"), "company logo");
    let zip_path = export_zip(
        d.path(),
        &[
            ("receipt.png", "00P5g00000XyZ05EAE"),
            ("logo.png", "00P5g00000XyZ06EAE"),
        ],
    );
    let before = fs::read(&zip_path).unwrap();
    let logo = d.path().join("logo.png");
    let m = d.path().join("m.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        zip_path.to_str().unwrap(),
        logo.to_str().unwrap(),
    ]);
    // The comment's card is reported (a picture's bytes are never masked).
    assert_exit(&o, 1);
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    let recs = manifest(&m);
    let files = kind(&recs, "file");
    let export = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("export.zip"))
        .unwrap();
    let why = "PNG image: the picture is not read (no OCR); only text in its bytes is scanned";
    assert_eq!(
        export["not_inspected"],
        serde_json::json!([
            format!("Attachments/00P5g00000XyZ05EAE: {why}"),
            format!("Attachments/00P5g00000XyZ06EAE: {why}"),
        ])
    );
    let found = kind(&recs, "finding");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["member"], "Attachments/00P5g00000XyZ05EAE");
    assert_eq!(found[0]["action"], "reported");
    assert_eq!(fs::read(&zip_path).unwrap(), before);
    // A clean picture is not a silent all-clear either.
    let lone = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("logo.png"))
        .unwrap();
    assert_eq!(lone["status"], "clean");
    assert_eq!(lone["not_inspected"], serde_json::json!([why]));
}
