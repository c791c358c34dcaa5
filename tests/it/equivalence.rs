//! Cross-format equivalence: the same records written as a CSV file, the
//! same CSV gzip- and zstd-compressed, as a zip member, as a tar member
//! (plain and inside gzip), as NDJSON and as a Parquet file must give the
//! same findings (apart from where they are), the same allow decisions,
//! the same fingerprints and the same masked values, under every option
//! and in `scan`, `scrub` and `scrub --out`. This is the test that keeps
//! one format from drifting from the others.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use super::*;

/// The records: (Id, Note, TestCard). A PAN that is no public test card, a
/// public test card in a field an operator may allow, a code, a clean row.
const ROWS: &[(&str, &str, &str)] = &[
    ("001", "card 4000000000000002 here", "4111111111111111"),
    ("002", "cvv=123 paid", "5555555555554444"),
    ("003", "nothing to see", "n/a"),
];
const FIELDS: [&str; 3] = ["Id", "Note", "TestCard"];

fn csv_text() -> String {
    let mut s = FIELDS.join(",") + "\n";
    for (id, note, card) in ROWS {
        s.push_str(&format!("{id},{note},{card}\n"));
    }
    s
}

fn ndjson_text() -> String {
    ROWS.iter()
        .map(|(id, note, card)| {
            format!("{{\"Id\":\"{id}\",\"Note\":\"{note}\",\"TestCard\":\"{card}\"}}\n")
        })
        .collect()
}

fn parquet_bytes() -> Vec<u8> {
    let cols: Vec<ArrayRef> = (0..3)
        .map(|i| {
            let v: Vec<&str> = ROWS.iter().map(|r| [r.0, r.1, r.2][i]).collect();
            Arc::new(StringArray::from(v)) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_from_iter(FIELDS.iter().copied().zip(cols)).unwrap();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn run_tool(dir: &Path, tool: &str, args: &[&str]) {
    let st = Command::new(tool)
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "{tool} {args:?}");
}

/// The tree: one input per form, each holding the same records.
fn make_tree(root: &Path) {
    let src = root.join("src");
    write(&src.join("Contact.csv"), csv_text().as_bytes());
    let tree = root.join("tree");
    for d in [
        "plain", "gz", "zst", "zip", "tar", "targz", "json", "parquet",
    ] {
        fs::create_dir_all(tree.join(d)).unwrap();
    }
    fs::copy(src.join("Contact.csv"), tree.join("plain/Contact.csv")).unwrap();
    let csv = src.join("Contact.csv");
    let csv = csv.to_str().unwrap();
    let gz = Command::new("gzip").args(["-c", csv]).output().unwrap();
    write(&tree.join("gz/Contact.csv.gz"), &gz.stdout);
    let zst = Command::new("zstd")
        .args(["-q", "-c", csv])
        .output()
        .unwrap();
    write(&tree.join("zst/Contact.csv.zst"), &zst.stdout);
    let t = |p: &str| tree.join(p).to_str().unwrap().to_string();
    run_tool(&src, "zip", &["-q", &t("zip/export.zip"), "Contact.csv"]);
    run_tool(&src, "tar", &["-cf", &t("tar/export.tar"), "Contact.csv"]);
    run_tool(
        &src,
        "tar",
        &["-czf", &t("targz/export.tar.gz"), "Contact.csv"],
    );
    write(&tree.join("json/Contact.ndjson"), ndjson_text().as_bytes());
    write(&tree.join("parquet/Contact.parquet"), &parquet_bytes());
}

/// The records of one input after a run, decoded from its form.
fn read_back(p: &Path) -> Vec<Vec<String>> {
    let name = p.file_name().unwrap().to_str().unwrap();
    let text = |args: &[&str], tool: &str| {
        let o = Command::new(tool).args(args).arg(p).output().unwrap();
        assert!(o.status.success(), "{tool} {args:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let csv_rows = |s: String| {
        s.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    match name {
        "Contact.csv" => csv_rows(fs::read_to_string(p).unwrap()),
        "Contact.csv.gz" => csv_rows(text(&["-dc"], "gzip")),
        "Contact.csv.zst" => csv_rows(text(&["-q", "-dc"], "zstd")),
        "export.zip" => csv_rows(text(&["-p"], "unzip")),
        "export.tar" => csv_rows(text(&["-xOf"], "tar")),
        "export.tar.gz" => csv_rows(text(&["-xzOf"], "tar")),
        "Contact.ndjson" => fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                FIELDS
                    .iter()
                    .map(|k| v[*k].as_str().unwrap().to_string())
                    .collect()
            })
            .collect(),
        "Contact.parquet" => {
            let f = fs::File::open(p).unwrap();
            let r = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap();
            let mut rows = Vec::new();
            for b in r {
                let b = b.unwrap();
                for i in 0..b.num_rows() {
                    rows.push(
                        (0..3)
                            .map(|c| {
                                let a = b.column(c).as_any().downcast_ref::<StringArray>();
                                a.unwrap().value(i).to_string()
                            })
                            .collect(),
                    )
                }
            }
            rows
        }
        other => panic!("unexpected input {other}"),
    }
}

/// What a finding is, apart from where: type, brand, masked form, action,
/// fingerprint, and the field it sits in (the CSV header, the Parquet
/// column, the JSON key).
fn decision(f: &Value) -> String {
    let field = f["field"]
        .as_str()
        .or(f["column_path"].as_str())
        .or_else(|| f["json_path"].as_str().and_then(|p| p.rsplit('.').next()))
        .unwrap_or("?");
    format!(
        "{} {} {} {} {} {}",
        f["type"], f["brand"], f["masked"], f["action"], f["fingerprint"], field
    )
}

/// Findings per input form: sorted decisions.
fn decisions_by_form(man: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in kind(man, "finding") {
        let path = f["path"].as_str().unwrap();
        let form = path.rsplit('/').nth(1).unwrap().to_string();
        by.entry(form).or_default().push(decision(f));
    }
    for v in by.values_mut() {
        v.sort();
    }
    by
}

/// One option set, all three modes.
fn check(name: &str, opts: &[&str], settings: Option<&str>) {
    check_with(name, opts, settings, &[]);
}

/// [`check`] with extra environment for the runs.
fn check_with(name: &str, opts: &[&str], settings: Option<&str>, env: &[(&str, &str)]) {
    let d = tmp();
    make_tree(d.path());
    let key = d.path().join("fp.key");
    write(&key, b"0123456789abcdef0123456789abcdef");
    let allow = d.path().join("allow.txt");
    write(&allow, b"4000000000000002\n");
    let cfg = d.path().join("panscrub.toml");
    write(&cfg, settings.unwrap_or("").as_bytes());
    let opts: Vec<String> = opts
        .iter()
        .map(|o| {
            o.replace("{key}", key.to_str().unwrap())
                .replace("{allow}", allow.to_str().unwrap())
        })
        .collect();
    let mut reference: Option<Vec<String>> = None;
    let mut masked_reference: Option<Vec<Vec<String>>> = None;
    for mode in ["scan", "scrub-out", "scrub"] {
        let tree = d.path().join("tree");
        let m = d.path().join(format!("{mode}.jsonl"));
        let out = d.path().join("out");
        let mut args: Vec<String> = vec![
            if mode == "scan" { "scan" } else { "scrub" }.into(),
            "-q".into(),
            "--config".into(),
            cfg.to_str().unwrap().into(),
            "-m".into(),
            m.to_str().unwrap().into(),
        ];
        if mode == "scrub-out" {
            args.extend(["--out".into(), out.to_str().unwrap().into()]);
        }
        args.extend(opts.iter().cloned());
        args.push(tree.to_str().unwrap().into());
        let o = Command::new(BIN)
            .args(&args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(2), "{name} {mode}: {stderr}");
        assert_no_pan("stdout", &o.stdout);
        let man = manifest(&m);
        let by = decisions_by_form(&man);
        assert_eq!(
            by.len(),
            8,
            "{name} {mode}: every form has findings: {by:?}"
        );
        let first = by.values().next().unwrap().clone();
        for (form, got) in &by {
            assert_eq!(got, &first, "{name} {mode}: {form} differs from the others");
        }
        // Scan and scrub agree on what is found; actions differ by mode.
        let what: Vec<String> = first
            .iter()
            .map(|s| s.replace("\"truncated\"", "\"reported\""))
            .collect();
        match &reference {
            None => reference = Some(what),
            Some(r) => assert_eq!(r, &what, "{name} {mode}: findings differ from scan"),
        }
        if mode == "scan" {
            continue;
        }
        // The masked content is the same in every form.
        let base = if mode == "scrub-out" {
            out.join("tree")
        } else {
            tree.clone()
        };
        let mut contents = BTreeMap::new();
        for e in walkdir::WalkDir::new(&base) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                contents.insert(e.path().to_path_buf(), read_back(e.path()));
            }
        }
        assert_eq!(contents.len(), 8, "{name} {mode}");
        let first = contents.values().next().unwrap().clone();
        for (p, rows) in &contents {
            assert_eq!(
                rows,
                &first,
                "{name} {mode}: {} masked differently",
                p.display()
            );
        }
        match &masked_reference {
            None => masked_reference = Some(first),
            Some(r) => assert_eq!(r, &first, "{name}: --out and in place differ"),
        }
        // Nothing but allowed findings is left.
        let again = panscrub(&[
            "scan",
            "-q",
            "--config",
            cfg.to_str().unwrap(),
            base.to_str().unwrap(),
        ]);
        let allows = !opts.is_empty() || settings.is_some_and(|s| s.contains("allow"));
        if !allows {
            assert_eq!(again.status.code(), Some(0), "{name} {mode}: PANs left");
        }
    }
}

#[test]
fn same_decisions_in_every_format_by_default_and_with_mask_options() {
    check("default", &[], None);
    check("keep 8+4, X", &["--keep", "8+4", "--mask-char", "X"], None);
    check("keep 0+4", &["--keep", "0+4"], None);
    check("pan-only", &["--pan-only"], None);
    check("fingerprint", &["--fingerprint-key", "{key}"], None);
}

#[test]
fn same_allow_decisions_in_every_format() {
    check("allow file", &["--allow", "{allow}"], None);
    check("allow test cards", &["--allow-test-cards"], None);
    check(
        "allowed field",
        &[],
        Some("[allow]\nfields = [\"TestCard\"]\n"),
    );
    check(
        "allowed field, older name",
        &[],
        Some("[allow]\ncsv_fields = [\"TestCard\"]\n"),
    );
    check(
        "allowed path",
        &[],
        Some("[allow]\npaths = [\"**/tree/**\"]\n"),
    );
}

/// Files with more findings than a run keeps in memory are scanned again
/// for their rebuild, its check and their records (and a tar for its
/// masking pass); the test hook sets that bound to 0 so these small files
/// take the same path and must give the same decisions and masked content.
#[test]
fn same_decisions_when_findings_are_scanned_again_instead_of_held() {
    let again = [("PANSCRUB_TEST_HELD_FINDINGS", "0")];
    check_with("scanned again", &[], None, &again);
    check_with(
        "scanned again, allowed field",
        &[],
        Some("[allow]\nfields = [\"TestCard\"]\n"),
        &again,
    );
}
