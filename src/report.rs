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
use base64::Engine;
use serde_json::{json, Value};

use crate::record::{
    Action, FileRecord, FileStatus, FindingRecord, PathText, Record, RunRecord, SummaryRecord,
};

/// Everything read from the manifests, typed.
#[derive(Default)]
pub struct Collected {
    runs: Vec<RunRecord>,
    summaries: Vec<SummaryRecord>,
    findings: Vec<FindingRecord>,
    files: Vec<FileRecord>,
    bad_lines: u64,
}

/// Reads manifest files (schema 1 or 2); lines that do not parse as a
/// record (a run killed mid-write) are counted, not fatal.
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
            match Record::parse(&line) {
                Ok(Record::Run(r)) => c.runs.push(r),
                Ok(Record::Summary(r)) => c.summaries.push(r),
                Ok(Record::Finding(r)) => c.findings.push(r),
                Ok(Record::File(r)) => c.files.push(r),
                Err(_) => c.bad_lines += 1,
            }
        }
    }
    Ok(c)
}

fn path_text(p: &PathText) -> String {
    match p {
        PathText::Utf8(s) => s.clone(),
        PathText::Bytes(b) => format!(
            "<non-UTF-8 path, base64 {}>",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
    }
}

fn count_by<T, F: Fn(&T) -> Option<String>>(items: &[T], key: F) -> Vec<(String, u64)> {
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
    let status = |s: FileStatus| c.files.iter().filter(|f| f.status == s).count() as u64;
    let action = |a: Action| c.findings.iter().filter(|f| f.action == a).count() as u64;
    let by_brand = count_by(&c.findings, |f| f.brand.as_ref().map(|b| b.to_string()));
    let by_type = count_by(&c.findings, |f| Some(f.kind.to_string()));
    let by_place = count_by(&c.findings, |f| {
        if let Some(o) = &f.object {
            return Some(format!("object {o}"));
        }
        let p = path_text(&f.path);
        Some(
            Path::new(&p)
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        )
    });
    let top_files = count_by(&c.findings, |f| Some(path_text(&f.path)));
    let problems: Vec<Value> = c
        .files
        .iter()
        .filter(|f| matches!(f.status, FileStatus::Error | FileStatus::Skipped))
        .map(|f| json!({"path": path_text(&f.path), "status": f.status, "reason": f.reason}))
        .collect();
    let pairs = |v: Vec<(String, u64)>, n: usize| -> Value {
        Value::Array(v.into_iter().take(n).map(|(k, c)| json!([k, c])).collect())
    };
    json!({
        "runs": c.runs.len(),
        "complete_runs": c.summaries.len(),
        "unreadable_lines": c.bad_lines,
        "files": c.files.len(),
        "bytes": c.files.iter().map(|f| f.size).sum::<u64>(),
        "files_with_findings": c.files.iter().filter(|f| f.findings > 0).count(),
        "findings": c.findings.len(),
        "truncated": action(Action::Truncated),
        "reported": action(Action::Reported),
        "allowed": action(Action::Allowed),
        "errors": status(FileStatus::Error),
        "skipped": status(FileStatus::Skipped),
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
    let opt = |v: Option<String>| v.unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    for f in &c.findings {
        let action = serde_json::to_value(f.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        w.write_record([
            path_text(&f.path),
            opt(f.member.clone()),
            f.kind.to_string(),
            f.offset.to_string(),
            f.length.to_string(),
            num(f.line),
            num(f.column),
            opt(f.column_path.clone()),
            opt(f.brand.as_ref().map(|b| b.to_string())),
            f.masked.clone(),
            opt(action),
            num(f.row),
            opt(f.field.clone()),
            opt(f.record_id.clone()),
            opt(f.object.clone()),
            opt(f.json_path.clone()),
            opt(f.masked_as.as_ref().map(|m| m.to_string())),
            opt(f.fingerprint.clone()),
        ])?;
    }
    w.flush()
}

/// Merges manifests (e.g. of `--shard` runs) into one: every run line, every
/// finding and file line, and one summary with the summed totals.
pub fn merge(c: &Collected, out: &mut dyn Write) -> io::Result<()> {
    let lines = c
        .runs
        .iter()
        .cloned()
        .map(Record::Run)
        .chain(c.findings.iter().cloned().map(Record::Finding))
        .chain(c.files.iter().cloned().map(Record::File));
    for r in lines {
        serde_json::to_writer(&mut *out, &r)?;
        out.write_all(b"\n")?;
    }
    let mut total = SummaryRecord {
        merged_runs: Some(c.runs.len() as u64),
        complete_runs: Some(c.summaries.len() as u64),
        ..SummaryRecord::default()
    };
    for s in &c.summaries {
        total.totals.merge(&s.totals);
        total.elapsed_seconds = total.elapsed_seconds.max(s.elapsed_seconds);
        total.exit_code = total.exit_code.max(s.exit_code);
    }
    serde_json::to_writer(&mut *out, &Record::Summary(total))?;
    out.write_all(b"\n")
}
