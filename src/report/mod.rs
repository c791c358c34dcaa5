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
//! Manifests never hold a full PAN, so neither does anything printed here.

mod html;
mod merge;
mod text;

pub use html::write_html;
pub use merge::merge;
pub use text::{render_text, write_csv, write_files_csv};

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

use crate::record::{
    Action, FileRecord, FileStatus, FindingRecord, PathText, Record, RunRecord, SummaryRecord,
    Totals,
};

/// Everything read from the manifests, typed, with each finding and file
/// attributed to the run that wrote it.
#[derive(Default)]
pub struct Collected {
    /// Distinct runs, in the order read.
    pub runs: Vec<RunRecord>,
    /// Each run's identity (`run_id`, or one derived for older manifests).
    pub run_ids: Vec<String>,
    /// Whether a summary closes the run (it finished).
    pub complete: Vec<bool>,
    /// Whether some summary's totals already count the run's records (its
    /// own, or a merge's, which counts unfinished runs too).
    pub covered: Vec<bool>,
    /// Summaries read (a merged manifest's covers several runs).
    pub summaries: Vec<SummaryRecord>,
    /// Findings, and the index of the run of each.
    pub findings: Vec<FindingRecord>,
    finding_run: Vec<usize>,
    /// File records, and the index of the run of each.
    pub files: Vec<FileRecord>,
    file_run: Vec<usize>,
    /// Index in `sources` of the file each run was read from.
    run_source: Vec<usize>,
    /// Lines that were not a record.
    pub bad_lines: u64,
    /// The manifest files read, with their sha256.
    pub sources: Vec<(PathBuf, String)>,
}

/// The id a run without `run_id` (written before run ids existed) is known
/// by: derived from where its `run` line sits, so that the same file given
/// twice is caught, and `merge` writes the same id into its output.
fn legacy_run_id(file: &Path, line_no: usize) -> String {
    let abs = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let h = sha2::Sha256::digest(format!("{}:{line_no}", abs.display()).as_bytes());
    crate::remediate::digest::hex(&h)[..32].to_string()
}

impl Collected {
    fn add_run(&mut self, mut run: RunRecord, id: String, from: &Path) -> Result<usize> {
        if let Some(i) = self.run_ids.iter().position(|r| *r == id) {
            bail!(
                "{}: run {id} (started {}) was already read from {}; each run may be given once (a merge already holds its shards)",
                from.display(),
                self.runs[i].started,
                self.sources[self.run_source[i]].0.display()
            );
        }
        run.run_id = Some(id.clone());
        self.runs.push(run);
        self.run_ids.push(id);
        self.complete.push(false);
        self.covered.push(false);
        self.run_source.push(self.sources.len() - 1);
        Ok(self.runs.len() - 1)
    }

    /// Records a summary: `current` is the run it follows, `in_file` the
    /// runs read from the same manifest file so far.
    fn close(&mut self, summary: SummaryRecord, current: Option<usize>, in_file: &[usize]) {
        if summary.merged_runs.is_some() {
            for &i in in_file {
                self.covered[i] = true;
            }
        }
        let ids: Vec<String> = match (&summary.complete_run_ids, &summary.run_id) {
            (Some(ids), _) => ids.clone(),
            (None, Some(id)) => vec![id.clone()],
            // An older manifest: its summary closes the run it follows.
            (None, None) => current
                .map(|i| self.run_ids[i].clone())
                .into_iter()
                .collect(),
        };
        for id in ids {
            if let Some(i) = self.run_ids.iter().position(|r| *r == id) {
                self.complete[i] = true;
                self.covered[i] = true;
            }
        }
        self.summaries.push(summary);
    }

    /// The findings and files of every run, grouped by run in one pass
    /// (a merge of a thousand shards must not rescan the records per run).
    pub fn records_by_run(&self) -> Vec<(Vec<&FindingRecord>, Vec<&FileRecord>)> {
        let mut by_run: Vec<(Vec<&FindingRecord>, Vec<&FileRecord>)> =
            (0..self.runs.len()).map(|_| Default::default()).collect();
        for (f, &r) in self.findings.iter().zip(&self.finding_run) {
            if let Some(slot) = by_run.get_mut(r) {
                slot.0.push(f);
            }
        }
        for (f, &r) in self.files.iter().zip(&self.file_run) {
            if let Some(slot) = by_run.get_mut(r) {
                slot.1.push(f);
            }
        }
        by_run
    }

    /// Runs that ended with a summary.
    pub fn complete_runs(&self) -> usize {
        self.complete.iter().filter(|c| **c).count()
    }

    /// Totals as a run writes them, tallied from the records of the runs in
    /// `which` (for runs that never wrote their summary).
    pub fn tally(&self, which: &dyn Fn(usize) -> bool) -> Totals {
        let mut t = Totals::default();
        for (f, r) in self.files.iter().zip(&self.file_run) {
            if !which(*r) {
                continue;
            }
            match f.status {
                FileStatus::Skipped => t.skipped += 1,
                status => {
                    t.files += 1;
                    t.bytes += f.size;
                    if status == FileStatus::Error {
                        t.errors += 1;
                    }
                }
            }
            if f.findings > 0 {
                t.files_with_findings += 1;
            }
        }
        for (f, r) in self.findings.iter().zip(&self.finding_run) {
            if !which(*r) {
                continue;
            }
            t.findings += 1;
            match f.action {
                Action::Truncated => t.truncated += 1,
                Action::Reported => t.reported += 1,
                Action::Allowed => t.allowed += 1,
            }
            if let Some(b) = &f.brand {
                *t.by_brand.entry(b.clone()).or_default() += 1;
            }
            *t.by_type.entry(f.kind.clone()).or_default() += 1;
        }
        t
    }
}

/// Reads manifest files (schema 1 or 2, runs and merges). Fails on a file
/// that is not a manifest and on a run given twice.
pub fn collect(paths: &[PathBuf]) -> Result<Collected> {
    let mut c = Collected::default();
    for p in paths {
        let bytes =
            std::fs::read(p).with_context(|| format!("cannot read manifest {}", p.display()))?;
        let sha = crate::remediate::digest::hex(&sha2::Sha256::digest(&bytes));
        c.sources.push((p.clone(), sha));
        let mut current: Option<usize> = None;
        let mut in_file: Vec<usize> = Vec::new();
        let mut seen_record = false;
        for (n, line) in io::BufReader::new(&bytes[..]).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", p.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let record = Record::parse(&line);
            if !seen_record && !matches!(&record, Ok(r) if r.is_panscrub_run()) {
                bail!(
                    "{} is not a panscrub manifest (its first line is not a panscrub run record)",
                    p.display()
                );
            }
            seen_record = true;
            match record {
                Ok(Record::Run(r)) => {
                    let id = r.run_id.clone().unwrap_or_else(|| legacy_run_id(p, n + 1));
                    let i = c.add_run(r, id, p)?;
                    in_file.push(i);
                    current = Some(i);
                }
                Ok(Record::Summary(s)) => c.close(s, current, &in_file),
                Ok(Record::Finding(f)) => {
                    c.findings.push(f);
                    c.finding_run.push(current.unwrap_or(0));
                }
                Ok(Record::File(f)) => {
                    c.files.push(f);
                    c.file_run.push(current.unwrap_or(0));
                }
                Err(_) => c.bad_lines += 1,
            }
        }
        if !seen_record {
            bail!("{} is empty: not a panscrub manifest", p.display());
        }
    }
    Ok(c)
}

pub(crate) fn path_text(p: &PathText) -> String {
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
        .map(|(p, sha)| json!({"path": p.display().to_string(), "sha256": sha}))
        .collect();
    json!({
        "runs": c.runs.len(),
        "complete_runs": c.complete_runs(),
        "interrupted_by": interrupted,
        "run_list": runs,
        "manifests": sources,
        "elapsed_seconds": elapsed,
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
