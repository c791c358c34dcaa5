//! `panscrub report` and `panscrub merge`: read manifests (several shards,
//! interrupted runs, earlier merges) and summarise them for people (text
//! tables, a self-contained HTML page), for spreadsheets (CSV) or for a
//! SIEM (one JSON object); or merge them into one manifest.
//!
//! Reading is strict where a wrong answer would be an all-clear: a file
//! whose first line is not a panscrub `run` record is not a manifest (an
//! error, exit 2), and the same run given twice (the same file twice, or a
//! shard and a merge that already holds it) is refused rather than counted
//! twice. Lines that do not parse (a run killed mid-write) are counted and
//! said in every format.
//!
//! Memory does not grow with the manifests: `read.rs` counts and samples
//! in one pass and reads a run's records again where every record is
//! needed (CSV, the files that are not clean, `merge`).
//!
//! Manifests never hold a full PAN, so neither does anything printed here.

mod attachments;
mod html;
mod merge;
mod read;
mod supersede;
mod tally;
mod text;

pub use html::write_html;
pub use merge::merge;
pub use text::{write_csv, write_files_csv, write_text};

use base64::Engine;
use serde_json::{json, Value};

pub use read::{collect, collect_for_merge, Collected, Source};

use crate::record::{PathText, SummaryRecord};

pub(crate) fn path_text(p: &PathText) -> String {
    match p {
        PathText::Utf8(s) => s.clone(),
        PathText::Bytes(b) => format!(
            "<non-UTF-8 path, base64 {}>",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
    }
}

/// The aggregated report as JSON (also the basis of the text form).
pub fn summarize(c: &Collected) -> Value {
    let a = &c.seen;
    let problems: Vec<Value> = a
        .sample_problems
        .iter()
        .map(|f| json!({"path": path_text(&f.path), "status": f.status, "reason": f.reason}))
        .collect();
    let pairs = |v: Vec<(String, u64)>, n: usize| -> Value {
        Value::Array(v.into_iter().take(n).map(|(k, c)| json!([k, c])).collect())
    };
    let runs: Vec<Value> = c
        .runs
        .iter()
        .zip(&c.complete)
        .map(|(r, done)| {
            json!({
                "run_id": r.run_id,
                "tool": r.tool,
                "version": r.version,
                "mode": r.mode,
                "started": r.started,
                "roots": r.roots.iter().map(path_text).collect::<Vec<_>>(),
                "out": r.out.as_ref().map(path_text),
                "shard": r.shard,
                "keep": r.policy.keep,
                "mask_char": r.policy.mask_char,
                "iin_table_version": r.policy.iin_table_version,
                "complete": done,
            })
        })
        .collect();
    let summaries: Vec<&SummaryRecord> = c.summaries.iter().collect();
    let elapsed = summaries
        .iter()
        .map(|s| s.elapsed_seconds)
        .fold(0.0, f64::max);
    let interrupted: Vec<&str> = summaries
        .iter()
        .filter_map(|s| s.interrupted.as_deref())
        .collect();
    let sources: Vec<Value> = c
        .sources
        .iter()
        .map(|m| json!({"path": m.path.display().to_string(), "sha256": m.sha256}))
        .collect();
    json!({
        "runs": c.runs.len(),
        "complete_runs": c.complete_runs(),
        "interrupted_by": interrupted,
        "run_list": runs,
        "manifests": sources,
        "elapsed_seconds": elapsed,
        "unreadable_lines": c.bad_lines,
        "files": a.file_records,
        "bytes": a.bytes,
        "files_with_findings": a.files_with_findings,
        "findings": a.counted.findings,
        "truncated": a.counted.truncated,
        "reported": a.counted.reported,
        "allowed": a.counted.allowed,
        "errors": a.errors,
        "skipped": a.skipped,
        "by_brand": pairs(tally::ranked(&a.counted.by_brand), usize::MAX),
        "by_type": pairs(tally::ranked(&a.counted.by_type), usize::MAX),
        "by_place": pairs(tally::ranked(&a.by_place), 20),
        "top_files": pairs(a.top_files(), usize::MAX),
        "problems": problems,
        "problems_total": a.errors + a.skipped,
        "attachments": a.attachments.to_json(),
    })
}
