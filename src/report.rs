//! `panscrub report` and `panscrub merge`: read manifests (several shards,
//! interrupted runs included) and summarise them for people (tables), for
//! spreadsheets (findings as CSV) or for a SIEM (one JSON object); or merge
//! them into one manifest with correct totals.
//!
//! Manifests never hold a full PAN, so neither does anything printed here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

/// Everything read from the manifests.
#[derive(Default)]
pub struct Collected {
    runs: Vec<Value>,
    summaries: Vec<Value>,
    findings: Vec<Value>,
    files: Vec<Value>,
    bad_lines: u64,
}

/// Reads manifest files; lines that do not parse (a run killed mid-write)
/// are counted, not fatal.
pub fn collect(paths: &[PathBuf]) -> Result<Collected> {
    let mut c = Collected::default();
    for p in paths {
        let f = std::fs::File::open(p)
            .with_context(|| format!("cannot open manifest {}", p.display()))?;
        for line in io::BufReader::new(f).lines() {
            let line = line.with_context(|| format!("cannot read {}", p.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let Ok(mut v) = serde_json::from_str::<Value>(&line) else {
                c.bad_lines += 1;
                continue;
            };
            upgrade_v1_finding(&mut v);
            match v["kind"].as_str() {
                Some("run") => c.runs.push(v),
                Some("summary") => c.summaries.push(v),
                Some("finding") => c.findings.push(v),
                Some("file") => c.files.push(v),
                _ => c.bad_lines += 1,
            }
        }
    }
    Ok(c)
}

/// Schema 1 wrote a Parquet finding's column path as `column` (a string);
/// schema 2 calls it `column_path` and keeps `column` for the numeric text
/// column. Read either, report and merge as schema 2.
fn upgrade_v1_finding(v: &mut Value) {
    if v["kind"] == "finding" && v["column"].is_string() {
        if let Some(o) = v.as_object_mut() {
            if let Some(path) = o.remove("column") {
                o.insert("column_path".into(), path);
            }
        }
    }
}

fn path_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => format!(
            "<non-UTF-8 path, base64 {}>",
            o.get("bytes").and_then(Value::as_str).unwrap_or("")
        ),
        _ => String::new(),
    }
}

fn count_by<F: Fn(&Value) -> Option<String>>(items: &[Value], key: F) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for v in items {
        if let Some(k) = key(v) {
            *m.entry(k).or_default() += 1;
        }
    }
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The aggregated report as JSON (also the basis of the text form).
pub fn summarize(c: &Collected) -> Value {
    let status = |s: &str| c.files.iter().filter(|f| f["status"] == s).count() as u64;
    let action = |a: &str| c.findings.iter().filter(|f| f["action"] == a).count() as u64;
    let by_brand = count_by(&c.findings, |f| f["brand"].as_str().map(str::to_string));
    // Manifests written before types existed hold PANs only.
    let by_type = count_by(&c.findings, |f| {
        Some(f["type"].as_str().unwrap_or("pan").to_string())
    });
    let by_place = count_by(&c.findings, |f| {
        if let Some(o) = f["object"].as_str() {
            return Some(format!("object {o}"));
        }
        let p = path_text(&f["path"]);
        Some(
            Path::new(&p)
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        )
    });
    let top_files = count_by(&c.findings, |f| Some(path_text(&f["path"])));
    let problems: Vec<Value> = c
        .files
        .iter()
        .filter(|f| f["status"] == "error" || f["status"] == "skipped")
        .map(|f| json!({"path": path_text(&f["path"]), "status": f["status"], "reason": f["reason"]}))
        .collect();
    let pairs = |v: Vec<(String, u64)>, n: usize| -> Value {
        Value::Array(v.into_iter().take(n).map(|(k, c)| json!([k, c])).collect())
    };
    json!({
        "runs": c.runs.len(),
        "complete_runs": c.summaries.len(),
        "unreadable_lines": c.bad_lines,
        "files": c.files.len(),
        "bytes": c.files.iter().filter_map(|f| f["size"].as_u64()).sum::<u64>(),
        "files_with_findings": c.files.iter().filter(|f| f["findings"].as_u64().unwrap_or(0) > 0).count(),
        "findings": c.findings.len(),
        "truncated": action("truncated"),
        "reported": action("reported"),
        "allowed": action("allowed"),
        "errors": status("error"),
        "skipped": status("skipped"),
        "by_brand": pairs(by_brand, usize::MAX),
        "by_type": pairs(by_type, usize::MAX),
        "by_place": pairs(by_place, 20),
        "top_files": pairs(top_files, 10),
        "problems": problems,
    })
}

/// The report for people.
pub fn render_text(r: &Value) -> String {
    let mut s = String::new();
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let _ = writeln!(
        s,
        "{} run(s), {} complete{}",
        n("runs"),
        n("complete_runs"),
        if n("runs") > n("complete_runs") {
            " (some runs were interrupted: totals cover what they recorded)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "{} files ({:.1} MB), {} with findings; {} findings: {} truncated, {} left in place, {} allowed; {} errors, {} skipped",
        n("files"),
        n("bytes") as f64 / 1e6,
        n("files_with_findings"),
        n("findings"),
        n("truncated"),
        n("reported"),
        n("allowed"),
        n("errors"),
        n("skipped")
    );
    let table = |s: &mut String, title: &str, rows: &Value| {
        let rows = rows.as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(s, "\n{title}");
        let width = rows
            .iter()
            .filter_map(|r| r[0].as_str())
            .map(str::len)
            .max()
            .unwrap_or(0)
            .min(70);
        for r in rows {
            let _ = writeln!(
                s,
                "  {:<width$}  {:>8}",
                r[0].as_str().unwrap_or(""),
                r[1].as_u64().unwrap_or(0)
            );
        }
    };
    table(&mut s, "By brand", &r["by_brand"]);
    table(&mut s, "By type", &r["by_type"]);
    table(&mut s, "By directory or Salesforce object", &r["by_place"]);
    table(&mut s, "Top files", &r["top_files"]);
    if let Some(p) = r["problems"].as_array().filter(|p| !p.is_empty()) {
        let _ = writeln!(s, "\nErrors and skipped inputs");
        for e in p {
            let _ = writeln!(
                s,
                "  {:<7}  {}: {}",
                e["status"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or("")
            );
        }
    }
    s
}

/// Findings as CSV for spreadsheets.
pub fn write_csv(c: &Collected, out: &mut dyn Write) -> io::Result<()> {
    let cols = [
        "path",
        "member",
        "type",
        "offset",
        "length",
        "line",
        "column",
        "column_path",
        "brand",
        "masked",
        "action",
        "row",
        "field",
        "record_id",
        "object",
        "json_path",
        "masked_as",
        "fingerprint",
    ];
    let mut w = csv::Writer::from_writer(out);
    w.write_record(cols)?;
    for f in &c.findings {
        let rec: Vec<String> = cols
            .iter()
            .map(|k| match &f[*k] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v if *k == "path" => path_text(v),
                v => v.to_string(),
            })
            .collect();
        w.write_record(&rec)?;
    }
    w.flush()
}

/// Merges manifests (e.g. of `--shard` runs) into one: every run line, every
/// finding and file line, and one summary with the summed totals.
pub fn merge(c: &Collected, out: &mut dyn Write) -> io::Result<()> {
    for v in c.runs.iter().chain(&c.findings).chain(&c.files) {
        serde_json::to_writer(&mut *out, v)?;
        out.write_all(b"\n")?;
    }
    let mut total = Map::new();
    total.insert("kind".into(), json!("summary"));
    total.insert("merged_runs".into(), json!(c.runs.len()));
    total.insert("complete_runs".into(), json!(c.summaries.len()));
    for k in [
        "files",
        "files_with_findings",
        "findings",
        "truncated",
        "reported",
        "allowed",
        "skipped",
        "errors",
        "bytes",
    ] {
        let sum: u64 = c.summaries.iter().filter_map(|s| s[k].as_u64()).sum();
        total.insert(k.into(), json!(sum));
    }
    let elapsed = c
        .summaries
        .iter()
        .filter_map(|s| s["elapsed_seconds"].as_f64())
        .fold(0.0, f64::max);
    total.insert("elapsed_seconds".into(), json!(elapsed));
    for key in ["by_brand", "by_type"] {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for s in &c.summaries {
            if let Some(m) = s[key].as_object() {
                for (k, v) in m {
                    *counts.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
                }
            }
        }
        total.insert(key.into(), json!(counts));
    }
    let exit = c
        .summaries
        .iter()
        .filter_map(|s| s["exit_code"].as_i64())
        .max()
        .unwrap_or(0);
    total.insert("exit_code".into(), json!(exit));
    serde_json::to_writer(&mut *out, &Value::Object(total))?;
    out.write_all(b"\n")
}
