//! What happened to one input and to the whole run: counters, the one
//! status ladder, the `file` record, the exit status and the summary line.
//!
//! Every adapter fills an [`Outcome`]; none decides a status itself.

use crate::config::{Config, Mode};
use crate::exit::ExitStatus;
use crate::manifest::{FileRecord, FileStatus, PathText, Record};

/// Totals of an input or of a run: the counts of the `summary` record.
pub use crate::record::Totals as Stats;

/// The result of processing one input, filled in by its adapter.
#[derive(Debug)]
pub struct Outcome {
    /// Detected format (`text`, `gzip`, ...; `unknown` before sniffing).
    pub format: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// This input's counts (findings are counted as they are reported).
    pub stats: Stats,
    /// sha256 before and after.
    pub hashes: (Option<String>, Option<String>),
    /// Why the input failed (masked); makes the status `error`.
    pub problem: Option<String>,
    /// Why findings were left in place on purpose by the adapter (binary
    /// content): said when the status is `reported` in a scrub.
    pub report_only_why: Option<String>,
    /// Why the input was skipped; makes the status `skipped`.
    pub skipped: Option<String>,
    /// Bytes of the input already counted as scanned.
    pub progressed: u64,
    /// Its scan counted decoded bytes as it went (compressed inputs).
    pub counted_while_decoding: bool,
    /// Bytes appended to the file while it was processed (not scanned).
    pub appended: Option<u64>,
    /// What of its metadata a rebuilt file or a copy could not keep.
    pub metadata_not_kept: Vec<String>,
    /// What in the input was not inspected (pictures, by member).
    pub not_inspected: Vec<String>,
    /// Skipped because its format cannot be decoded (`skipped` says which).
    pub undecoded: bool,
}

impl Outcome {
    /// An input about to be processed.
    pub fn new(size: u64) -> Outcome {
        Outcome {
            format: "unknown",
            size,
            stats: Stats::default(),
            hashes: (None, None),
            problem: None,
            report_only_why: None,
            skipped: None,
            progressed: 0,
            counted_while_decoding: false,
            appended: None,
            metadata_not_kept: Vec::new(),
            not_inspected: Vec::new(),
            undecoded: false,
        }
    }

    /// The one status ladder: error, skipped, clean (nothing or only
    /// allowed findings), reported (something left in place), truncated.
    pub fn status(&self) -> FileStatus {
        let s = &self.stats;
        if self.problem.is_some() {
            FileStatus::Error
        } else if self.skipped.is_some() {
            FileStatus::Skipped
        } else if s.findings == s.allowed {
            FileStatus::Clean
        } else if s.reported > 0 {
            FileStatus::Reported
        } else {
            FileStatus::Truncated
        }
    }

    /// Closes the input's counts: a file with findings is counted as such
    /// whatever happened after them, an error is an error.
    pub fn close(&mut self) {
        self.stats.files_with_findings = u64::from(self.stats.findings > 0);
        self.stats.errors = u64::from(self.problem.is_some());
        if self.skipped.is_some() && self.problem.is_none() {
            self.stats.skipped = 1;
            self.stats.undecoded = u64::from(self.undecoded);
        }
    }

    /// The manifest's `file` record.
    pub fn record(&self, path: PathText, mode: Mode) -> Record {
        let status = self.status();
        let reason = match status {
            FileStatus::Error => self.problem.clone(),
            FileStatus::Skipped => self.skipped.clone(),
            FileStatus::Reported if mode == Mode::Scrub => self.report_only_why.clone(),
            _ => None,
        };
        Record::File(FileRecord {
            path,
            format: self.format.into(),
            size: self.size,
            sha256_before: self.hashes.0.clone(),
            sha256_after: self.hashes.1.clone(),
            findings: self.stats.findings,
            status,
            reason,
            appended: self.appended,
            metadata_not_kept: self.metadata_not_kept.clone(),
            not_inspected: self.not_inspected.clone(),
            superseded_by: None,
        })
    }
}

/// The exit status of a run with these totals.
pub fn exit_status(mode: Mode, s: &Stats) -> ExitStatus {
    // An input that could not be decoded is no all-clear: "could not be
    // processed", like an error.
    if s.errors > 0 || s.undecoded > 0 {
        ExitStatus::Error
    } else if (mode == Mode::Scan && s.findings > s.allowed)
        || (mode == Mode::Scrub && s.reported > 0)
    {
        ExitStatus::Found
    } else {
        ExitStatus::Clean
    }
}

/// `n` and the noun, singular or plural ("1 file", "2 files").
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The one-line summary on stderr.
pub fn summary_line(cfg: &Config, s: &Stats, scanned: u64, elapsed: f64, mbps: f64) -> String {
    let mode = cfg.mode;
    // Brands of the PANs, then sensitive authentication data by type.
    let brands: Vec<String> = s
        .by_brand
        .iter()
        .chain(s.by_type.iter().filter(|(k, _)| **k != "pan"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let brands = if brands.is_empty() {
        String::new()
    } else {
        format!(" ({})", brands.join(", "))
    };
    let action = match mode {
        Mode::Scan => String::new(),
        Mode::Scrub => format!(", {} truncated, {} left in place", s.truncated, s.reported),
    };
    // Peak memory tells an operator what limit to give a container job.
    let memory = peak_memory_mb()
        .map(|mb| format!(", peak memory {mb} MB"))
        .unwrap_or_default();
    let out = match &cfg.out {
        Some(dir) if mode == Mode::Scrub => format!("; scrubbed copies under {}", dir.display()),
        _ => String::new(),
    };
    // Bytes decoded from compressed inputs are said apart from the bytes on
    // disk, and the rate is of the bytes scanned: one unit system (MB).
    let decoded = if scanned > s.bytes {
        format!(" ({:.1} MB scanned decoded)", scanned as f64 / 1e6)
    } else {
        String::new()
    };
    format!(
        "panscrub {}: {}, {:.1} MB{}, {}{} in {}{}, {} skipped, {}, {:.2} s, {:.0} MB/s{}{}",
        mode.as_str(),
        count(s.files, "file", "files"),
        s.bytes as f64 / 1e6,
        decoded,
        count(s.findings, "finding", "findings"),
        brands,
        count(s.files_with_findings, "file", "files"),
        action,
        s.skipped,
        count(s.errors, "error", "errors"),
        elapsed,
        mbps,
        memory,
        out
    )
}

/// Peak resident memory of this process so far, in MB (`VmHWM`; Linux).
fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(findings: u64, truncated: u64, reported: u64, allowed: u64) -> Outcome {
        let mut o = Outcome::new(10);
        o.stats.findings = findings;
        o.stats.truncated = truncated;
        o.stats.reported = reported;
        o.stats.allowed = allowed;
        o
    }

    #[test]
    fn one_status_ladder() {
        assert_eq!(with(0, 0, 0, 0).status(), FileStatus::Clean);
        assert_eq!(with(2, 0, 0, 2).status(), FileStatus::Clean);
        assert_eq!(with(2, 1, 0, 1).status(), FileStatus::Truncated);
        assert_eq!(with(2, 1, 1, 0).status(), FileStatus::Reported);
        let mut e = with(2, 2, 0, 0);
        e.problem = Some("x".into());
        assert_eq!(e.status(), FileStatus::Error);
    }

    #[test]
    fn an_error_after_findings_still_counts_the_file_with_findings() {
        let mut e = with(2, 1, 1, 0);
        e.problem = Some("write failed".into());
        e.close();
        assert_eq!(e.stats.files_with_findings, 1);
        assert_eq!(e.stats.errors, 1);
    }

    #[test]
    fn exit_status_follows_the_contract() {
        let mut s = Stats::default();
        assert_eq!(exit_status(Mode::Scan, &s), ExitStatus::Clean);
        s.findings = 1;
        s.allowed = 1;
        assert_eq!(exit_status(Mode::Scan, &s), ExitStatus::Clean);
        s.findings = 2;
        assert_eq!(exit_status(Mode::Scan, &s), ExitStatus::Found);
        s.truncated = 1;
        assert_eq!(exit_status(Mode::Scrub, &s), ExitStatus::Clean);
        s.errors = 1;
        assert_eq!(exit_status(Mode::Scrub, &s), ExitStatus::Error);
        s.errors = 0;
        s.undecoded = 1;
        assert_eq!(exit_status(Mode::Scan, &s), ExitStatus::Error);
    }
}
