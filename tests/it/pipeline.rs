//! The seams between formats: one policy, one remediation and one outcome
//! for every input kind. Each test here is a reproduction that once failed
//! because a format had its own copy of a decision.

use super::*;

fn settings(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("panscrub.toml");
    write(&p, text.as_bytes());
    p
}

/// An allowed PAN is left in the `--out` copy on purpose: the copy's check
/// must not count it as a PAN it failed to mask.
#[test]
fn out_copy_keeps_allowed_pans_without_discarding_the_copy() {
    let d = tmp();
    let src = d.path().join("dir");
    write(
        &src.join("a.log"),
        b"test 4111111111111111 real 5105105105105100\n",
    );
    let out = d.path().join("clean");
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "--allow-test-cards",
        "--out",
        out.to_str().unwrap(),
        "-m",
        m.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    // 5105… is a public test card too: both allowed, copy identical.
    assert_eq!(
        fs::read(out.join("dir/a.log")).unwrap(),
        b"test 4111111111111111 real 5105105105105100\n"
    );
    let allow = d.path().join("allow.txt");
    write(&allow, b"4111111111111111\n");
    let out2 = d.path().join("clean2");
    let o = panscrub(&[
        "scrub",
        "-q",
        "--allow",
        allow.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        fs::read(out2.join("dir/a.log")).unwrap(),
        b"test 4111111111111111 real 510510******5100\n"
    );
}

/// `[allow] csv_fields` decides the same for a CSV file and the same CSV
/// compressed, inside a zip or inside a tar.
#[test]
fn allowed_csv_field_is_allowed_in_every_container() {
    let d = tmp();
    let csv = b"Id,Name,TestCard,Card\n003A,Ann,4111111111111111,5555555555554444\n";
    let tree = d.path().join("t");
    write(&tree.join("Contact.csv"), csv);
    let gz = std::process::Command::new("gzip")
        .arg("-c")
        .arg(tree.join("Contact.csv"))
        .output()
        .unwrap();
    write(&tree.join("gz/Contact.csv.gz"), &gz.stdout);
    let zipdir = d.path().join("zipsrc");
    write(&zipdir.join("Contact.csv"), csv);
    let st = std::process::Command::new("zip")
        .current_dir(&zipdir)
        .args([
            "-q",
            tree.join("export.zip").to_str().unwrap(),
            "Contact.csv",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let st = std::process::Command::new("tar")
        .current_dir(&zipdir)
        .args([
            "-cf",
            tree.join("export.tar").to_str().unwrap(),
            "Contact.csv",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = settings(d.path(), "[allow]\ncsv_fields = [\"TestCard\"]\n");
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "--config",
        cfg.to_str().unwrap(),
        "-m",
        m.to_str().unwrap(),
        tree.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let man = manifest(&m);
    let findings = kind(&man, "finding");
    assert_eq!(findings.len(), 8, "two findings in each of four inputs");
    for f in findings {
        let want = if f["field"] == "TestCard" {
            "allowed"
        } else {
            "truncated"
        };
        assert!(f["field"].is_string(), "{f}");
        assert_eq!(f["action"], want, "{f}");
    }
    let plain = fs::read_to_string(tree.join("Contact.csv")).unwrap();
    assert!(
        plain.contains(",4111111111111111,555555******4444"),
        "{plain}"
    );
}

/// `--keep 0+4` masks the leading digit of a bare JSON number: the result
/// must still be a JSON number (no leading zero) and not a PAN.
#[test]
fn keep_zero_four_on_a_json_number_stays_valid_json() {
    let d = tmp();
    let p = d.path().join("pay.json");
    write(
        &p,
        b"{\"card\": 4111111111111111, \"amex\": 378282246310005}\n",
    );
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "--keep",
        "0+4",
        "-m",
        m.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let text = fs::read_to_string(&p).unwrap();
    let v: Value = serde_json::from_str(&text).expect("still JSON");
    let card = v["card"].as_u64().expect("still a number").to_string();
    assert_eq!(card.len(), 16);
    assert!(card.ends_with("1111"));
    let amex = v["amex"].as_u64().expect("still a number").to_string();
    assert_eq!(amex.len(), 15);
    assert!(amex.ends_with("0005"));
    let again = panscrub(&["scan", "-q", p.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "no PAN left");
}

/// A rebuild that fails its check says so; it does not claim the file
/// changed. (`--max-expanded` below the content size fails the rebuild's
/// decode of the new file only when the rebuilt file is bigger: instead a
/// gzip whose PAN sits in a member the check reads back is used through the
/// test hook that corrupts one rebuilt byte.)
#[test]
fn failed_verification_is_not_called_a_change() {
    let d = tmp();
    let p = d.path().join("a.log.gz");
    let gz = {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"card 4111111111111111\n").unwrap();
        e.finish().unwrap()
    };
    write(&p, &gz);
    let o = Command::new(BIN)
        .env("PANSCRUB_TEST_CORRUPT_REBUILD", "1")
        .args(["scrub", "-q", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("verification failed"), "{err}");
    assert!(!err.contains("changed while"), "{err}");
    assert_eq!(fs::read(&p).unwrap(), gz, "original kept");
}

/// An error in the middle of an in-place scrub: what was written is synced
/// and the file's times are put back before the error is reported, and the
/// counts still say which findings were truncated.
#[test]
fn error_mid_scrub_still_restores_times_and_counts_the_file() {
    let d = tmp();
    let p = d.path().join("big.log");
    // Three batches' worth of pieces (8 MiB each, two per batch on -j1).
    let mut data = Vec::with_capacity(40 << 20);
    let line = b"0123456789 abcdefghij card 4111111111111111 klmnopqrstuvwxyz 0123456789\n";
    while data.len() < (40 << 20) {
        data.extend_from_slice(line);
    }
    write(&p, &data);
    let old = filetime_of(&p);
    let m = mpath();
    let o = Command::new(BIN)
        .env("PANSCRUB_TEST_FAIL_AFTER_BATCHES", "1")
        .args([
            "scrub",
            "-q",
            "-j1",
            "-m",
            m.to_str().unwrap(),
            p.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert_eq!(filetime_of(&p), old, "mtime restored after the error");
    let man = manifest(&m);
    let file = kind(&man, "file")[0];
    assert_eq!(file["status"], "error");
    let truncated = kind(&man, "finding")
        .iter()
        .filter(|f| f["action"] == "truncated")
        .count() as u64;
    assert!(truncated > 0, "the first batch was written");
    let on_disk = fs::read(&p).unwrap();
    let masked = on_disk
        .windows(16)
        .filter(|w| *w == b"411111******1111")
        .count() as u64;
    assert_eq!(
        masked, truncated,
        "every finding reported truncated is masked"
    );
    let summary = kind(&man, "summary")[0];
    assert_eq!(summary["files_with_findings"], 1);
    assert_eq!(summary["truncated"], truncated);
}

fn filetime_of(p: &Path) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(p).unwrap();
    (md.mtime(), md.mtime_nsec())
}

/// The `--out` copy of a UTF-16 file is checked as UTF-16: a PAN the
/// mask did not reach is caught (the test hook skips one mask).
#[test]
fn utf16_out_copy_is_verified_as_utf16() {
    let d = tmp();
    let src = d.path().join("src");
    let text = "card 4111111111111111\r\n";
    let mut bytes = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    write(&src.join("export.txt"), &bytes);
    let out = d.path().join("out");
    let o = Command::new(BIN)
        .env("PANSCRUB_TEST_SKIP_MASK", "1")
        .args([
            "scrub",
            "-q",
            "--out",
            out.to_str().unwrap(),
            src.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(
        !out.join("src/export.txt").exists(),
        "a copy that still holds a PAN is never installed"
    );
}

/// An input that fails after its findings were reported still counts as a
/// file with findings.
#[test]
fn error_path_counts_files_with_findings() {
    let d = tmp();
    let p = d.path().join("bad.json");
    write(
        &p,
        b"{\"a\": \"4111111111111111\", \"b\": 5555555555554444\n",
    );
    let m = mpath();
    let o = panscrub(&["scan", "-q", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let man = manifest(&m);
    let s = kind(&man, "summary")[0];
    assert_eq!(s["findings"], 2);
    assert_eq!(s["files_with_findings"], 1);
    assert_eq!(kind(&man, "file")[0]["findings"], 2);
}

/// The published schema gives each key one type: a schema-1 Parquet
/// finding (`column` as a string) and an unknown key are refused, and a
/// merged manifest is valid too.
#[test]
fn manifest_schema_types_each_key_once() {
    let ok = serde_json::json!({"kind": "finding", "path": "a.parquet", "offset": 0,
        "length": 16, "masked": "411111******1111", "action": "reported",
        "column_path": "card", "row": 0});
    assert_valid_record(&ok);
    let v1 = serde_json::json!({"kind": "finding", "path": "a.parquet", "offset": 0,
        "length": 16, "masked": "411111******1111", "action": "reported",
        "column": "card", "row": 0});
    let unknown = serde_json::json!({"kind": "finding", "path": "a.log", "offset": 0,
        "length": 16, "masked": "411111******1111", "action": "reported", "colum": 3});
    for bad in [v1, unknown] {
        let r = std::panic::catch_unwind(|| assert_valid_record(&bad));
        assert!(r.is_err(), "{bad} must not validate");
    }
    let d = tmp();
    write(&d.path().join("a/x.log"), b"4111111111111111\n");
    let m = mpath();
    panscrub(&[
        "scan",
        "-q",
        "-m",
        m.to_str().unwrap(),
        d.path().join("a").to_str().unwrap(),
    ]);
    let merged = d.path().join("all.jsonl");
    let o = panscrub(&["merge", "-o", merged.to_str().unwrap(), m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!manifest(&merged).is_empty());
}
