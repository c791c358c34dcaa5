//! The rebuilt formats: compressed streams (gzip, zstd, xz, bzip2), zip
//! and Parquet. Scan everything, decide each finding with the one policy,
//! and in a scrub rebuild the file with the findings to mask masked,
//! verify the result in the format's own terms and install it (over the
//! original, or into the `--out` mirror). If any step fails, the findings
//! are reported left in place and the input is an error.

use std::fs::File;
use std::io::{self, Seek};
use std::sync::mpsc;

use crate::error::InputError;
use crate::format::budget::Meter;
use crate::format::container::{Decide, Feed};
use crate::format::{container, parquet, pgdump, Format};
use crate::location::Hit;
use crate::manifest::Action;
use crate::remediate::apply::Hashing;
use crate::remediate::digest::sha256_file;
use crate::remediate::install::Staged;

use super::outcome::Outcome;
use super::printer::Findings;
use super::replay::{held_findings, HitSink, Replay};
use super::Job;

/// What the archive scanners need from the run.
pub fn container_cx<'a>(job: &'a Job) -> container::Cx<'a> {
    container::Cx {
        det: &job.ctx.det,
        policy: &job.ctx.cfg.policy,
        scrub_binary: job.ctx.cfg.scrub_binary,
        stream_name: None,
        max_held: job.ctx.cfg.budget.max_held,
        not_inspected: Some(&job.not_inspected),
    }
}

/// A format that is rebuilt whole: how to scan, rebuild and verify it.
trait Rebuild {
    /// Hands every finding to `each`, in scan order. The first call is the
    /// scan (its decoded bytes count as scanned); later calls hand out the
    /// same findings again.
    fn scan(&self, each: &mut HitSink) -> Result<(), InputError>;
    /// Writes the file with the findings `decide` picks masked.
    fn rebuild(&self, decide: &Decide, out: &mut File) -> Result<(), InputError>;
    /// Checks the rebuilt file against the original.
    fn verify(&self, decide: &Decide, rebuilt: &File) -> Result<(), InputError>;
    /// After a rebuild failed verification: whether a more general way
    /// of rebuilding is left, which the next rebuild then takes (a gzip
    /// spliced by our own encoder is rebuilt by recompression).
    fn fall_back(&self) -> bool {
        false
    }
}

/// Processes a compressed stream, a zip, a Parquet file or a pg_dump
/// archive.
pub fn process(job: &Job, out: &mut Outcome) -> Result<(), InputError> {
    if job.format == Format::Parquet {
        let cx = parquet::Cx {
            det: &job.ctx.det,
            policy: &job.ctx.cfg.policy,
            allow: job.policy(),
        };
        let adapter = ParquetFile {
            job,
            cx,
            replay: Replay::new(held_findings(job)),
        };
        run(job, &adapter, out)
    } else {
        let adapter = Archive {
            job,
            source: Source {
                cx: container_cx(job),
                file: job.file,
                format: job.format,
                path: &job.input.path,
            },
            replay: Replay::new(held_findings(job)),
            written: std::cell::Cell::new(None),
            spliced: std::cell::Cell::new(false),
            no_splice: std::cell::Cell::new(false),
        };
        // pg_dump archives count their file size, like text.
        out.counted_while_decoding = job.format != Format::PgDump;
        run(job, &adapter, out)
    }
}

/// Scans once to decide, rebuilds and installs (a scrub with something to
/// mask, or `--out`), then writes each finding's record with what was done.
fn run(job: &Job, format: &dyn Rebuild, out: &mut Outcome) -> Result<(), InputError> {
    let policy = job.policy();
    let scrub = job.scrub();
    let decide = |h: &Hit| scrub && h.report_only.is_none() && !policy.allows(h);
    let mut needed = false;
    format.scan(&mut |h| {
        needed |= decide(h);
        Ok(())
    })?;
    let installed = install(job, format, &decide, needed, &mut out.metadata_not_kept);
    let replaced = *installed.as_ref().unwrap_or(&false);
    let mut findings = Findings::new(job.ctx, job.path);
    let listed = format.scan(&mut |hit| {
        let action = if policy.allows(hit) {
            Action::Allowed
        } else if replaced && decide(hit) {
            Action::Truncated
        } else {
            if scrub && out.report_only_why.is_none() {
                out.report_only_why = hit.report_only.map(str::to_string);
            }
            Action::Reported
        };
        findings.add(hit, action, &mut out.stats);
        findings.send_when_full();
        Ok(())
    });
    findings.send();
    installed?;
    listed?;
    out.hashes = hashes(job, replaced)?;
    Ok(())
}

/// Builds, verifies and installs the result of a scrub. With `--out` the
/// result goes to the mirror tree (a plain copy when nothing needs
/// masking); otherwise it replaces the original unless the original
/// changed meanwhile. Returns whether masked content was installed; what
/// of the original's metadata could not be kept goes to `not_kept`.
fn install(
    job: &Job,
    format: &dyn Rebuild,
    decide: &Decide,
    needed: bool,
    not_kept: &mut Vec<String>,
) -> Result<bool, InputError> {
    let hooks = &job.ctx.hooks;
    if let Some(dest) = job.mirror() {
        let mut staged = Staged::mirror(dest, job.file, job.md)?.touch(job.ctx.cfg.touch);
        if needed {
            rebuild_verified(format, decide, &mut staged, hooks.corrupt_rebuild)?;
        } else {
            let mut src = job.file;
            src.rewind().map_err(InputError::io("seek"))?;
            io::copy(&mut src, staged.file_mut()).map_err(InputError::io("copy"))?;
            staged.verify(false, |_| Ok(()))?;
        }
        *not_kept = staged.install_copy(job.md)?;
        return Ok(needed);
    }
    if !needed {
        return Ok(false);
    }
    let mut staged = Staged::beside(&job.input.path, job.file, job.md)?.touch(job.ctx.cfg.touch);
    rebuild_verified(format, decide, &mut staged, hooks.corrupt_rebuild)?;
    *not_kept = staged.replace_original(job.md, hooks.rebuild_pause)?;
    Ok(true)
}

/// Rebuilds into `staged` and verifies; a rebuild that fails its
/// verification is done again the format's more general way if it has one.
fn rebuild_verified(
    format: &dyn Rebuild,
    decide: &Decide,
    staged: &mut Staged,
    corrupt: bool,
) -> Result<(), InputError> {
    format.rebuild(decide, staged.file_mut())?;
    match staged.verify(corrupt, |f| format.verify(decide, f)) {
        Err(InputError::Verification(_)) if format.fall_back() => {
            let f = staged.file_mut();
            f.set_len(0).map_err(InputError::io("truncate"))?;
            f.rewind().map_err(InputError::io("seek"))?;
            format.rebuild(decide, f)?;
            staged.verify(corrupt, |f| format.verify(decide, f))
        }
        verified => verified,
    }
}

/// sha256 of a rebuilt input before, and after when it was replaced.
fn hashes(job: &Job, replaced: bool) -> Result<(Option<String>, Option<String>), InputError> {
    let hashing = job.ctx.cfg.hashing;
    let want = replaced || hashing == Hashing::All;
    if !want || hashing == Hashing::Off {
        return Ok((None, None));
    }
    let before = sha256_file(job.file).map_err(InputError::io("hash"))?;
    let after = if replaced && job.ctx.cfg.out.is_none() {
        let now = File::open(&job.input.path).map_err(InputError::io("open"))?;
        Some(sha256_file(&now).map_err(InputError::io("hash"))?)
    } else {
        None
    };
    Ok((Some(before), after))
}

/// Where a container's findings come from: its scan. It reads the file
/// only with positioned reads, so it can run on its own thread while the
/// rebuild reads the same open file.
struct Source<'a> {
    cx: container::Cx<'a>,
    file: &'a File,
    format: Format,
    path: &'a std::path::Path,
}

impl Source<'_> {
    fn scan(&self, meter: &Meter, out: &mut container::Sink) -> Result<(), InputError> {
        if self.format == Format::PgDump {
            pgdump::scan(&self.cx, meter, self.file, out)
        } else {
            container::scan(&self.cx, meter, self.file, self.format, self.path, out)
        }
    }
}

/// gzip, zstd, xz, bzip2, lz4, zip and pg_dump archives.
struct Archive<'a> {
    job: &'a Job<'a>,
    source: Source<'a>,
    replay: Replay<container::MemberFinding>,
    /// What the last rebuild compressed, for its verification.
    written: std::cell::Cell<Option<container::StreamDigest>>,
    /// Whether the last rebuild was a deflate splice; once one fails its
    /// verification, the next is a recompression.
    spliced: std::cell::Cell<bool>,
    no_splice: std::cell::Cell<bool>,
}

impl Archive<'_> {
    fn meter(&self) -> Meter {
        Meter::new(self.job.ctx.cfg.budget)
    }

    /// Runs `f` with a feed of the original's findings: from memory, or
    /// from a scan on a thread of its own that hands them over in small
    /// batches as `f` pulls them.
    fn with_feed(
        &self,
        decide: &Decide,
        f: impl FnOnce(&mut Feed) -> Result<(), InputError>,
    ) -> Result<(), InputError> {
        if let Some(found) = self.replay.held.borrow().as_ref() {
            return f(&mut container::held(found, decide));
        }
        let budget = self.job.ctx.cfg.budget;
        let source = &self.source;
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::sync_channel::<Vec<container::MemberFinding>>(4);
            let scan = s.spawn(move || {
                let mut batch = Vec::with_capacity(1024);
                let mut stopped = false;
                let res = source.scan(&Meter::new(budget), &mut |m| {
                    batch.push(m);
                    if batch.len() == 1024 && tx.send(std::mem::take(&mut batch)).is_err() {
                        stopped = true; // the rebuild stopped pulling
                        return Err(InputError::Changed("scan stopped".into()));
                    }
                    Ok(())
                });
                if res.is_ok() && !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                (res, stopped)
            });
            let mut current = Vec::new().into_iter();
            let pull = move || loop {
                if let Some(m) = current.next() {
                    return Ok(Some(m));
                }
                match rx.recv() {
                    Ok(batch) => current = batch.into_iter(),
                    Err(_) => return Ok(None),
                }
            };
            let mut feed = Feed::new(Box::new(pull), decide);
            let used = f(&mut feed);
            drop(feed); // a scan still running stops at its next send
            let (scanned, stopped) = match scan.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            // A scan that failed ended the feed early: its error is the
            // cause of whatever the rebuild saw.
            match (scanned, used) {
                (Err(e), _) if !stopped => Err(e),
                (_, used) => used,
            }
        })
    }
}

impl Archive<'_> {
    /// Rebuilds a gzip file by splicing its deflate blocks (see
    /// `container::deflate`); whether it did. A file the splice does not
    /// handle is left for the general rebuild, with `out` emptied.
    fn splice(&self, decide: &Decide, out: &mut File) -> Result<bool, InputError> {
        let (cx, file) = (&self.source.cx, self.job.file);
        let mut refused = None;
        self.with_feed(decide, |feed| {
            match container::splice_gzip(cx, &self.meter(), file, feed, &mut *out) {
                Ok((_, stats)) => self.written.set(Some(stats.digest)),
                Err(container::SpliceError::Unsupported(why)) => refused = Some(why),
                Err(container::SpliceError::Failed(e)) => return Err(e),
            }
            Ok(())
        })?;
        let Some(why) = refused else {
            return Ok(true);
        };
        if self.job.ctx.hooks.require_splice {
            return Err(InputError::Verification(format!(
                "the deflate splice was refused: {why}"
            )));
        }
        out.set_len(0).map_err(InputError::io("truncate"))?;
        out.rewind().map_err(InputError::io("seek"))?;
        Ok(false)
    }
}

impl Rebuild for Archive<'_> {
    fn scan(&self, each: &mut HitSink) -> Result<(), InputError> {
        // The scan's decoded bytes count as scanned (not the rebuild's).
        let first = if self.job.format == Format::PgDump {
            self.meter()
        } else {
            self.meter().counting()
        };
        self.replay.each(
            |out| self.source.scan(&first, out),
            |out| self.source.scan(&self.meter(), out),
            |m| &m.hit,
            each,
        )
    }

    fn rebuild(&self, decide: &Decide, out: &mut File) -> Result<(), InputError> {
        let (cx, file, format) = (&self.source.cx, self.job.file, self.job.format);
        self.spliced.set(false);
        if format == Format::Gzip && !self.no_splice.get() && self.splice(decide, out)? {
            self.spliced.set(true);
            if self.job.ctx.hooks.corrupt_splice {
                crate::remediate::install::flip_a_byte(out).map_err(InputError::io("test hook"))?;
            }
            return Ok(());
        }
        self.with_feed(decide, |feed| {
            if format == Format::PgDump {
                pgdump::rebuild(cx, file, feed, out)
            } else {
                let written = container::rebuild(cx, &self.meter(), file, format, feed, &mut *out)?;
                self.written.set(written);
                Ok(())
            }
        })
    }

    fn fall_back(&self) -> bool {
        let again = self.spliced.get() && !self.job.ctx.hooks.require_splice;
        self.no_splice.set(again);
        again
    }

    fn verify(&self, decide: &Decide, rebuilt: &File) -> Result<(), InputError> {
        let (cx, file, format) = (&self.source.cx, self.job.file, self.job.format);
        self.with_feed(decide, |feed| {
            let meter = self.meter();
            if format == Format::PgDump {
                pgdump::verify(cx, &meter, file, rebuilt, feed)
            } else {
                container::verify(
                    cx,
                    &meter,
                    file,
                    rebuilt,
                    format,
                    feed,
                    &self.job.input.path,
                    self.written.get(),
                )
            }
        })
    }
}

/// A top-level Parquet file. Its rebuild asks the same policy for every
/// cell it visits (the policy is in `cx`), so it masks exactly the cells
/// the run decided to mask.
struct ParquetFile<'a> {
    job: &'a Job<'a>,
    cx: parquet::Cx<'a>,
    replay: Replay<Hit>,
}

impl ParquetFile<'_> {
    fn meter(&self) -> Meter {
        Meter::new(self.job.ctx.cfg.budget)
    }

    fn scan_into(
        &self,
        out: &mut dyn FnMut(Hit) -> Result<(), InputError>,
    ) -> Result<(), InputError> {
        let (det, policy) = (&self.job.ctx.det, &self.job.ctx.cfg.policy);
        parquet::scan_each(&self.cx, &self.meter(), self.job.file, &mut |c| {
            out(c.into_hit(det, policy))
        })?;
        parquet::metadata_findings(&self.cx, &self.meter(), self.job.file)?
            .into_iter()
            .try_for_each(out)
    }
}

impl Rebuild for ParquetFile<'_> {
    fn scan(&self, each: &mut HitSink) -> Result<(), InputError> {
        self.replay.each(
            |out| self.scan_into(out),
            |out| self.scan_into(out),
            |h| h,
            each,
        )
    }

    fn rebuild(&self, _decide: &Decide, out: &mut File) -> Result<(), InputError> {
        parquet::rebuild(&self.cx, &self.meter(), self.job.file, out)
    }

    fn verify(&self, _decide: &Decide, rebuilt: &File) -> Result<(), InputError> {
        parquet::verify(&self.cx, &self.meter(), self.job.file, rebuilt)
    }
}
