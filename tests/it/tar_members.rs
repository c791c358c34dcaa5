//! Documents and archives that are members of a tar (a tarball of
//! attachments, of rotated logs): a `.docx`, a PDF, a `.gz` log inside a
//! `.tar` or `.tar.gz` are read as they are on their own (paragraphs,
//! pages, decompressed lines). Before, they were scanned as raw bytes:
//! compressed, their cards were invisible, a silent all-clear. Their
//! findings are report-only (a tar is masked in place, byte for byte, and
//! those bytes are not the text); a plain log beside them is still
//! masked, and the tar still lists and extracts.

use std::collections::BTreeMap;

use super::office::make_docs;
use super::*;

/// A directory of members: form.docx, statement.pdf (from the Office test
/// documents), old.log.gz (the system's gzip) and app.log.
fn members(d: &Path) -> Option<PathBuf> {
    if !make_docs(d) {
        return None;
    }
    let m = d.join("members");
    fs::create_dir_all(&m).unwrap();
    for f in ["form.docx", "statement.pdf"] {
        fs::copy(d.join(f), m.join(f)).unwrap();
    }
    write(
        &m.join("old.log"),
        b"2026-11-01 paid card=4012888888881881 ok\n",
    );
    let st = Command::new("gzip")
        .arg(m.join("old.log"))
        .status()
        .unwrap();
    assert!(st.success());
    write(
        &m.join("app.log"),
        b"2026-12-01 paid card=5105105105105100 ok\n",
    );
    Some(m)
}

fn tar(d: &Path, members: &Path, name: &str, flags: &str) -> PathBuf {
    let t = d.join(name);
    let st = Command::new("tar")
        .arg(flags)
        .arg(&t)
        .args(["-C", members.to_str().unwrap()])
        .args(["form.docx", "statement.pdf", "old.log.gz", "app.log"])
        .status()
        .unwrap();
    assert!(st.success());
    t
}

/// (member, where, action) of every finding, sorted.
fn findings(m: &Path) -> Vec<String> {
    let mut out: Vec<String> = kind(&manifest(m), "finding")
        .iter()
        .map(|f| {
            let place = match (
                f["paragraph"].as_u64(),
                f["page"].as_u64(),
                f["line"].as_u64(),
            ) {
                (Some(p), _, _) => format!("paragraph {p}"),
                (_, Some(p), _) => format!("page {p}"),
                (_, _, Some(l)) => format!("line {l}"),
                _ => "?".into(),
            };
            format!(
                "{} {place} {} {}",
                f["member"].as_str().unwrap_or("-"),
                f["masked"].as_str().unwrap(),
                f["action"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

fn expected(app_log_action: &str) -> Vec<String> {
    let mut v = vec![
        "app.log line 1 510510******5100 ".to_string() + app_log_action,
        "form.docx!word/document.xml paragraph 2 411111******1111 reported".into(),
        "form.docx!word/document.xml paragraph 5 555555******4444 reported".into(),
        "old.log.gz line 1 401288******1881 reported".into(),
        "statement.pdf page 2 378282*****0005 reported".into(),
        "statement.pdf page 2 411111******1111 reported".into(),
    ];
    v.sort();
    v
}

/// Extracts `t` and returns its members' bytes.
fn extracted(t: &Path, into: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::create_dir_all(into).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(t)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(st.success(), "the scrubbed tar extracts");
    fs::read_dir(into)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn documents_and_compressed_logs_inside_a_tar_are_read_and_reported() {
    let d = tmp();
    let Some(src) = members(d.path()) else {
        return;
    };
    for (name, flags) in [("bundle.tar", "-cf"), ("bundle.tar.gz", "-czf")] {
        let t = tar(d.path(), &src, name, flags);
        let m = d.path().join(format!("{name}.scan.jsonl"));
        let o = panscrub(&["scan", "-q", "-m", m.to_str().unwrap(), t.to_str().unwrap()]);
        assert_exit(&o, 1);
        assert_eq!(findings(&m), expected("reported"), "{name} scan");

        let (o, m) = scrub_with_manifest(&t);
        assert_exit(&o, 1);
        assert_no_pan("stdout", &o.stdout);
        assert_no_pan("stderr", &o.stderr);
        assert_eq!(findings(&m), expected("truncated"), "{name} scrub");
        let file = kind(&manifest(&m), "file")[0].clone();
        assert_eq!(file["status"], "reported", "{file}");
        assert!(
            file["reason"].as_str().unwrap().contains("inside a tar"),
            "{file}"
        );
        // The tar lists and extracts; the documents are byte for byte
        // what was put in; the plain log is masked.
        let out = extracted(&t, &d.path().join(format!("{name}.x")));
        for f in ["form.docx", "statement.pdf", "old.log.gz"] {
            assert_eq!(out[f], fs::read(src.join(f)).unwrap(), "{name}: {f}");
        }
        assert_eq!(
            out["app.log"],
            b"2026-12-01 paid card=510510******5100 ok\n"
        );
    }
}
