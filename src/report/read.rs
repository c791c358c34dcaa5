//! Reading manifests for `report` and `merge` in two passes, so that memory
//! does not grow with the manifests (a nightly job over a large estate
//! writes tens of millions of lines).
//!
//! The first pass ([`collect`]) reads every line once: it keeps the runs,
//! the summaries, the counts and the capped samples ([`Aggregate`]), and
//! where in its manifest each run's records lie. The second pass
//! ([`Collected::replay_run`]) reads a run's records again from that byte
//! range, for what needs every record in order (the CSV exports, the lists
//! of files that are not clean, `merge`).
//!
//! The second pass must read what the first one read. A regular file is
//! reopened and checked to be the same file, unchanged (device, inode,
//! length, modification time); anything else (a pipe, `<(zcat m.gz)`) is
//! copied during the first pass into an unnamed temporary file, which
//! holds manifest lines only (never a full PAN).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::Digest;

use super::tally::{self, Aggregate};
use crate::record::{FileStatus, PathText, Record, RunRecord, SummaryRecord, Totals};

/// A manifest that was read, and how to read it again.
pub struct Source {
    /// The manifest as given on the command line.
    pub path: PathBuf,
    /// The sha256 of the bytes read, for the evidence report.
    pub sha256: String,
    backing: Backing,
}

enum Backing {
    /// A regular file, as it was when read: reopened for the second pass.
    File(Identity),
    /// A pipe or other stream, copied while it was read.
    Spool(File),
}

/// What must not change between the passes.
#[derive(PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

/// Where one run's records lie: a byte range of one source, from after its
/// `run` line to the next `run` line or the end.
struct Span {
    source: usize,
    start: u64,
    end: u64,
    /// The lines in the range that [`Collected::replay_lines`] must not
    /// copy as they are, by offset, in order: few (a summary, a bad line,
    /// an error record), so the rest can be copied without being read.
    marks: Vec<(u64, Mark)>,
}

/// What to do with a marked line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mark {
    /// Not a finding or file record: a summary, a line that is not a
    /// record.
    Skip,
    /// A record to read and write again: an error not marked superseded
    /// (a later attempt may have made it good), or one laid out otherwise
    /// than this version writes it (schema 1).
    Reread,
}

/// One finding or file record of a run, as [`Collected::replay_lines`]
/// gives it.
pub enum Line<'a> {
    /// The line as read (without its line end): a record laid out as this
    /// version writes it, with nothing in it that `merge` could change.
    AsWritten(&'a str),
    /// A record that was marked to be read again.
    Reread(Box<Record>),
}

/// What the first pass keeps: runs, summaries, counts and samples, and
/// where to find each run's records again.
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
    /// The runs each summary counts (indexes into `runs`).
    pub summary_runs: Vec<Vec<usize>>,
    /// Each run's totals tallied from its records (used for runs that
    /// never wrote their summary).
    run_totals: Vec<Totals>,
    spans: Vec<Span>,
    /// Lines that were not a record.
    pub bad_lines: u64,
    /// The manifest files read, with their sha256.
    pub sources: Vec<Source>,
    /// Counts and samples over every finding and file record.
    pub seen: Aggregate,
    /// Error records not marked `superseded_by` (run, input), for
    /// `supersede.rs` to look for later attempts of.
    pub(super) unmarked_errors: Vec<(usize, PathText)>,
    /// (run, input) errors a later attempt finished: that attempt's id.
    pub(super) superseded: std::collections::HashMap<(usize, PathText), String>,
    /// Per run, how many of its errors were found superseded.
    pub(super) superseded_per_run: Vec<u64>,
}

/// The id a run without `run_id` (written before run ids existed) is known
/// by: derived from where its `run` line sits, so that the same file given
/// twice is caught, and `merge` writes the same id into its output.
fn legacy_run_id(file: &Path, line_no: usize) -> String {
    let abs = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let h = sha2::Sha256::digest(format!("{}:{line_no}", abs.display()).as_bytes());
    crate::remediate::digest::hex(&h)[..32].to_string()
}

fn identity(m: &std::fs::Metadata) -> Identity {
    Identity {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
    }
}

impl Collected {
    fn add_run(&mut self, mut run: RunRecord, id: String, from: &Path, at: u64) -> Result<usize> {
        if let Some(i) = self.run_ids.iter().position(|r| *r == id) {
            bail!(
                "{}: run {id} (started {}) was already read from {}; each run may be given once (a merge already holds its shards)",
                from.display(),
                self.runs[i].started,
                self.sources[self.spans[i].source].path.display()
            );
        }
        run.run_id = Some(id.clone());
        self.runs.push(run);
        self.run_ids.push(id);
        self.complete.push(false);
        self.covered.push(false);
        self.run_totals.push(Totals::default());
        self.superseded_per_run.push(0);
        self.spans.push(Span {
            source: self.sources.len() - 1,
            start: at,
            end: at,
            marks: Vec::new(),
        });
        Ok(self.runs.len() - 1)
    }

    /// Records a summary: `current` is the run it follows, `in_file` the
    /// runs read from the same manifest file so far.
    fn close(&mut self, summary: SummaryRecord, current: Option<usize>, in_file: &[usize]) {
        let mut counts: Vec<usize> = Vec::new();
        if summary.merged_runs.is_some() {
            for &i in in_file {
                self.covered[i] = true;
            }
            counts.extend_from_slice(in_file);
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
                if !counts.contains(&i) {
                    counts.push(i);
                }
            }
        }
        self.summaries.push(summary);
        self.summary_runs.push(counts);
    }

    /// Runs that ended with a summary.
    pub fn complete_runs(&self) -> usize {
        self.complete.iter().filter(|c| **c).count()
    }

    /// Totals tallied from the records of the runs no summary counts (runs
    /// cut short), less their errors found superseded.
    pub fn uncovered_totals(&self) -> Totals {
        let mut t = Totals::default();
        for (i, run) in self.run_totals.iter().enumerate() {
            if !self.covered[i] {
                t.merge(run);
                t.errors = t.errors.saturating_sub(self.superseded_per_run[i]);
            }
        }
        t
    }

    /// Reads run `run`'s finding and file records again, in manifest order.
    pub fn replay_run(
        &self,
        run: usize,
        each: &mut dyn FnMut(Record) -> io::Result<()>,
    ) -> Result<()> {
        self.each_line(run, &mut |_, text| match Record::parse(text) {
            Ok(r @ (Record::Finding(_) | Record::File(_))) => each(r),
            _ => Ok(()),
        })
    }

    /// Run `run`'s finding and file records again, in manifest order, for
    /// copying: the lines the first pass found laid out as written and
    /// needing nothing are given as they are, unread (what makes `merge`
    /// run at the speed of copying); the marked ones are read.
    pub fn replay_lines(
        &self,
        run: usize,
        each: &mut dyn FnMut(Line<'_>) -> io::Result<()>,
    ) -> Result<()> {
        let marks = &self.spans[run].marks;
        let mut next = 0;
        self.each_line(run, &mut |at, text| {
            while marks.get(next).is_some_and(|(o, _)| *o < at) {
                next += 1;
            }
            match marks.get(next) {
                Some(&(o, Mark::Skip)) if o == at => Ok(()),
                Some(&(o, Mark::Reread)) if o == at => match Record::parse(text) {
                    Ok(r @ (Record::Finding(_) | Record::File(_))) => {
                        each(Line::Reread(Box::new(r)))
                    }
                    _ => Ok(()),
                },
                _ if text.is_empty() => Ok(()),
                _ => each(Line::AsWritten(text)),
            }
        })
    }

    /// Each line of run `run`'s byte range that is UTF-8, with its offset
    /// in the manifest, without trailing white space.
    fn each_line(
        &self,
        run: usize,
        each: &mut dyn FnMut(u64, &str) -> io::Result<()>,
    ) -> Result<()> {
        let span = &self.spans[run];
        let source = &self.sources[span.source];
        let mut file = match &source.backing {
            Backing::Spool(f) => f.try_clone()?,
            Backing::File(was) => {
                let f = File::open(&source.path)
                    .with_context(|| format!("cannot reopen {}", source.path.display()))?;
                if identity(&f.metadata()?) != *was {
                    bail!(
                        "{} changed while it was being read; run the report again",
                        source.path.display()
                    );
                }
                f
            }
        };
        file.seek(SeekFrom::Start(span.start))?;
        let mut lines = BufReader::with_capacity(256 * 1024, file.take(span.end - span.start));
        let mut line = Vec::new();
        let mut at = span.start;
        loop {
            line.clear();
            let len = lines.read_until(b'\n', &mut line)?;
            if len == 0 {
                return Ok(());
            }
            if let Ok(text) = std::str::from_utf8(&line) {
                each(at, text.trim_end())?;
            }
            at += len as u64;
        }
    }

    /// Reads every run's finding and file records again, run by run in the
    /// order read.
    pub fn replay(&self, each: &mut dyn FnMut(Record) -> io::Result<()>) -> Result<()> {
        (0..self.runs.len()).try_for_each(|i| self.replay_run(i, each))
    }
}

/// Reads manifest files (schema 1 or 2, runs and merges), keeping counts
/// and samples, not records. Fails on a file that is not a manifest and on
/// a run given twice.
pub fn collect(paths: &[PathBuf]) -> Result<Collected> {
    collect_as(paths, true)
}

/// [`collect`] for `merge`, which needs the runs, their totals and where
/// their records lie, not the report's counts and samples ([`Collected::seen`]
/// stays empty): keeping those costs an allocation or two per record, a
/// third of the first pass.
pub fn collect_for_merge(paths: &[PathBuf]) -> Result<Collected> {
    collect_as(paths, false)
}

fn collect_as(paths: &[PathBuf], aggregate: bool) -> Result<Collected> {
    let mut c = Collected::default();
    for p in paths {
        let file =
            File::open(p).with_context(|| format!("cannot read manifest {}", p.display()))?;
        let meta = file.metadata()?;
        let (backing, mut spool) = if meta.is_file() {
            (Backing::File(identity(&meta)), None)
        } else {
            let t = tempfile::tempfile().context("cannot create a temporary file")?;
            (Backing::Spool(t.try_clone()?), Some(io::BufWriter::new(t)))
        };
        c.sources.push(Source {
            path: p.clone(),
            sha256: String::new(),
            backing,
        });
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut hash = sha2::Sha256::new();
        let mut current: Option<usize> = None;
        let mut in_file: Vec<usize> = Vec::new();
        let mut seen_record = false;
        let mut at = 0u64;
        let mut line = Vec::new();
        for n in 0.. {
            line.clear();
            let len = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read {}", p.display()))?;
            if len == 0 {
                break;
            }
            hash.update(&line);
            if let Some(s) = spool.as_mut() {
                s.write_all(&line)?;
            }
            let line_at = at;
            at += len as u64;
            let text = std::str::from_utf8(&line).unwrap_or("\u{FFFD}");
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let as_written = Record::parse_as_written(text);
            let laid_out_as_written = as_written.is_some();
            let record = as_written.map_or_else(|| Record::parse(text), Ok);
            if let Some(i) = current {
                let mark = match &record {
                    Ok(Record::File(f))
                        if f.status == FileStatus::Error && f.superseded_by.is_none() =>
                    {
                        Some(Mark::Reread)
                    }
                    Ok(Record::Finding(_) | Record::File(_)) if laid_out_as_written => None,
                    Ok(Record::Finding(_) | Record::File(_)) => Some(Mark::Reread),
                    // A run line starts the next run's range.
                    Ok(Record::Run(_)) => None,
                    _ => Some(Mark::Skip),
                };
                if let Some(mark) = mark {
                    c.spans[i].marks.push((line_at, mark));
                }
            }
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
                    let i = c.add_run(r, id, p, at)?;
                    in_file.push(i);
                    current = Some(i);
                }
                Ok(Record::Summary(s)) => c.close(s, current, &in_file),
                Ok(Record::Finding(f)) => {
                    if let Some(i) = current {
                        tally::count_finding(&mut c.run_totals[i], &f);
                    }
                    if aggregate {
                        c.seen.finding(f);
                    }
                }
                Ok(Record::File(f)) => {
                    if let Some(i) = current {
                        tally::count_file(&mut c.run_totals[i], &f);
                        if f.status == FileStatus::Error && f.superseded_by.is_none() {
                            c.unmarked_errors.push((i, f.path.clone()));
                        }
                    }
                    if aggregate {
                        c.seen.file(f);
                    }
                }
                Err(_) => c.bad_lines += 1,
            }
            if let Some(i) = current {
                c.spans[i].end = at;
            }
        }
        if !seen_record {
            bail!("{} is empty: not a panscrub manifest", p.display());
        }
        if let Some(mut s) = spool {
            s.flush()?;
        }
        if let Some(source) = c.sources.last_mut() {
            source.sha256 = crate::remediate::digest::hex(&hash.finalize());
        }
    }
    c.find_superseded()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = r#"{"kind":"run","tool":"panscrub","version":"0","schema":2,"mode":"scan","run_id":"r1","started":"2026-01-01T00:00:00Z","roots":["x"],"policy":{"keep":"6+4","mask_char":"*","iin_table_version":"1"}}"#;
    const FINDING: &str = r#"{"kind":"finding","path":"x/a.log","offset":0,"length":16,"brand":"visa","masked":"411111******1111","action":"reported"}"#;

    #[test]
    fn a_run_is_read_again_from_its_own_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.jsonl");
        let second = RUN.replace("r1", "r2");
        std::fs::write(
            &p,
            format!("{RUN}\n{FINDING}\nnot json\n{second}\n{FINDING}\n{FINDING}\n"),
        )
        .unwrap();
        let c = collect(&[p]).unwrap();
        assert_eq!(
            (c.runs.len(), c.bad_lines, c.seen.counted.findings),
            (2, 1, 3)
        );
        let mut per_run = Vec::new();
        for run in 0..2 {
            let mut n = 0;
            c.replay_run(run, &mut |_| {
                n += 1;
                Ok(())
            })
            .unwrap();
            per_run.push(n);
        }
        assert_eq!(per_run, vec![1, 2]);
    }

    #[test]
    fn lines_to_copy_are_given_as_read_and_the_marked_ones_read_again() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.jsonl");
        let error = r#"{"kind":"file","path":"x/b.log","format":"text","size":1,"findings":0,"status":"error","reason":"gone"}"#;
        let schema_1 = r#"{"kind":"finding","path":"a.parquet","offset":0,"length":16,"column":"card","row":2,"brand":"visa","masked":"411111******1111","action":"reported"}"#;
        let summary = r#"{"kind":"summary","files":1,"files_with_findings":0,"findings":1,"truncated":0,"reported":1,"allowed":0,"skipped":0,"errors":1,"bytes":0,"elapsed_seconds":1.0,"by_brand":{},"by_type":{},"exit_code":2,"run_id":"r1"}"#;
        std::fs::write(
            &p,
            format!("{RUN}\n{FINDING}  \r\nnot json\n\n{error}\n{schema_1}\n{summary}\n"),
        )
        .unwrap();
        let c = collect(&[p]).unwrap();
        let mut seen = Vec::new();
        c.replay_lines(0, &mut |l| {
            seen.push(match l {
                Line::AsWritten(text) => format!("as written {text}"),
                Line::Reread(r) => match *r {
                    Record::File(f) => format!("reread file {:?}", f.status),
                    Record::Finding(f) => format!("reread finding {:?}", f.column_path),
                    _ => "reread other".into(),
                },
            });
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                format!("as written {FINDING}"),
                "reread file Error".into(),
                r#"reread finding Some("card")"#.into(),
            ]
        );
    }

    #[test]
    fn a_manifest_that_changes_between_the_passes_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.jsonl");
        std::fs::write(&p, format!("{RUN}\n{FINDING}\n")).unwrap();
        let c = collect(std::slice::from_ref(&p)).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        writeln!(f, "{FINDING}").unwrap();
        let e = c.replay(&mut |_| Ok(())).unwrap_err();
        assert!(
            e.to_string().contains("changed while it was being read"),
            "{e}"
        );
    }
}
