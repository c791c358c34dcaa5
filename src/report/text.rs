//! The report for people (text tables) and for spreadsheets (CSV of
//! findings or of files).

use std::fmt::Write as _;
use std::io::{self, Write};

use anyhow::Result;
use serde_json::Value;

use super::{path_text, Collected};
use crate::record::{FileStatus, Record};

/// The report for people: run context, totals, tables, and the files
/// that are not clean with their status (read again from the manifests,
/// so that a million of them are written, not held).
pub fn write_text(c: &Collected, r: &Value, out: &mut dyn Write) -> Result<()> {
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
    for run in r["run_list"].as_array().into_iter().flatten() {
        let text = |k: &str| run[k].as_str().unwrap_or("").to_string();
        let roots: Vec<&str> = run["roots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(
            s,
            "  {} {} {}: {} {}{}{}, keep {}, IIN table {}{}",
            text("tool"),
            text("version"),
            text("mode"),
            text("started"),
            roots.join(" "),
            run["out"]
                .as_str()
                .map(|o| format!(" -> {o}"))
                .unwrap_or_default(),
            run["shard"]
                .as_str()
                .map(|k| format!(" (shard {k})"))
                .unwrap_or_default(),
            text("keep"),
            text("iin_table_version"),
            if run["complete"] == true {
                ""
            } else {
                " [interrupted: no summary]"
            }
        );
    }
    if n("unreadable_lines") > 0 {
        let _ = writeln!(
            s,
            "  {} unreadable manifest line(s) skipped (a run cut short mid-write)",
            n("unreadable_lines")
        );
    }
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
    attachments(&mut s, &r["attachments"]);
    out.write_all(s.as_bytes())?;
    if c.seen.not_clean > 0 {
        writeln!(
            out,
            "\nFiles not clean ({} of {}; status, findings, path, reason)",
            c.seen.not_clean, c.seen.file_records
        )?;
        c.replay(&mut |r| match r {
            Record::File(f) if f.status != FileStatus::Clean => {
                let status = serde_json::to_value(f.status).unwrap_or_default();
                writeln!(
                    out,
                    "  {:<9}  {:>6}  {}{}",
                    status.as_str().unwrap_or(""),
                    f.findings,
                    path_text(&f.path),
                    f.reason
                        .as_ref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            }
            _ => Ok(()),
        })?;
    }
    Ok(())
}

/// The I/O error under a CSV write error, so that a closed pipe is seen
/// as one.
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Files as CSV (`report --format csv --files`): one row per file record.
pub fn write_files_csv(c: &Collected, out: &mut dyn Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "path",
        "format",
        "size",
        "status",
        "findings",
        "sha256_before",
        "sha256_after",
        "reason",
    ])
    .map_err(csv_io)?;
    c.replay(&mut |r| {
        let Record::File(f) = r else {
            return Ok(());
        };
        let status = serde_json::to_value(f.status).unwrap_or_default();
        w.write_record([
            path_text(&f.path),
            f.format.to_string(),
            f.size.to_string(),
            status.as_str().unwrap_or("").to_string(),
            f.findings.to_string(),
            f.sha256_before.clone().unwrap_or_default(),
            f.sha256_after.clone().unwrap_or_default(),
            f.reason.clone().unwrap_or_default(),
        ])
        .map_err(csv_io)
    })?;
    Ok(w.flush()?)
}

/// Findings as CSV for spreadsheets.
pub fn write_csv(c: &Collected, out: &mut dyn Write) -> Result<()> {
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
    w.write_record(cols).map_err(csv_io)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    c.replay(&mut |r| {
        let Record::Finding(f) = r else {
            return Ok(());
        };
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
        ])
        .map_err(csv_io)
    })?;
    Ok(w.flush()?)
}

/// Salesforce attachments by record Id: findings, what was done, where;
/// pictures that were not read.
fn attachments(s: &mut String, list: &Value) {
    let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
        return;
    };
    let _ = writeln!(
        s,
        "\nSalesforce attachments by record Id (findings, truncated, reported, where)"
    );
    for a in list {
        let places: Vec<&str> = a["where"]
            .as_array()
            .map(|w| w.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut line = format!(
            "  {:<18}  {:>4}  {:>4}  {:>4}  {}",
            a["id"].as_str().unwrap_or(""),
            a["findings"].as_u64().unwrap_or(0),
            a["truncated"].as_u64().unwrap_or(0),
            a["reported"].as_u64().unwrap_or(0),
            places.join(", ")
        );
        if let Some(why) = a["not_inspected"].as_str() {
            line.push_str(&format!(" (not inspected: {why})"));
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
}
