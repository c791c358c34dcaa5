//! The rebuilt formats: compressed streams (gzip, zstd, xz, bzip2), zip
//! and Parquet. Scan everything, decide each finding with the one policy,
//! and in a scrub rebuild the file with the findings to mask masked,
//! verify the result in the format's own terms and install it (over the
//! original, or into the `--out` mirror). If any step fails, the findings
//! are reported left in place and the input is an error.

use std::fs::File;
use std::io::{self, Seek};

use crate::error::InputError;
use crate::format::budget::Meter;
use crate::format::container::Decide;
use crate::format::{parquet, Format};
use crate::location::Hit;
use crate::manifest::Action;
use crate::remediate::apply::Hashing;
use crate::remediate::digest::sha256_file;
use crate::remediate::install::Staged;

use super::archive::{Archive, Source};
use super::outcome::Outcome;
use super::printer::Findings;
use super::replay::{held_findings, HitSink, Replay};
use super::Job;

/// What the archive scanners need from the run.
pub fn container_cx<'a>(job: &'a Job) -> crate::format::container::Cx<'a> {
    crate::format::container::Cx {
        det: &job.ctx.det,
        policy: &job.ctx.cfg.policy,
        scrub_binary: job.ctx.cfg.scrub_binary,
        stream_name: None,
        max_held: job.ctx.cfg.budget.max_held,
        not_inspected: Some(&job.not_inspected),
        workers: job.ctx.cfg.jobs,
    }
}

/// A rebuild begun during the first scan: nothing (the scan found nothing
/// to mask), the staged file not yet verified, or why it failed.
pub type Begun = Result<Option<Staged>, InputError>;

/// A format that is rebuilt whole: how to scan, rebuild and verify it.
pub trait Rebuild {
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
    /// The sha256 of the original and of the rebuilt file, where they were
    /// hashed on the way (`None`: read the file to hash it).
    fn hashed(&self) -> (Option<String>, Option<String>) {
        (None, None)
    }
    /// The first scan of an in-place scrub, for a format that can rebuild
    /// while it scans (a gzip file is spliced alongside its scan): from
    /// the first finding to mask on, the rebuild runs into the file
    /// `stage` creates then, so a file with nothing to mask costs a scan
    /// and nothing is written for it. `None`: this format scans first and
    /// rebuilds after. The outer error is the scan's.
    fn scan_rebuilding(
        &self,
        _decide: &Decide,
        _stage: &dyn Fn() -> Result<Staged, InputError>,
    ) -> Option<Result<Begun, InputError>> {
        None
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
        let adapter = Archive::new(
            job,
            Source {
                cx: container_cx(job),
                file: job.file,
                format: job.format,
                path: &job.input.path,
            },
        );
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
    let not_kept = &mut out.metadata_not_kept;
    let installed = match begin_in_place(job, format, &decide) {
        Some(begun) => match begun? {
            Ok(None) => Ok(false),
            Ok(Some(staged)) => replace(job, format, &decide, staged, not_kept),
            Err(e) => Err(e),
        },
        None => {
            let mut needed = false;
            format.scan(&mut |h| {
                needed |= decide(h);
                Ok(())
            })?;
            install(job, format, &decide, needed, not_kept)
        }
    };
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
    out.hashes = hashes(job, replaced, format.hashed())?;
    Ok(())
}

/// An in-place scrub's first scan with its rebuild begun alongside, where
/// the format can (see [`Rebuild::scan_rebuilding`]).
fn begin_in_place(
    job: &Job,
    format: &dyn Rebuild,
    decide: &Decide,
) -> Option<Result<Begun, InputError>> {
    if !job.scrub() || job.mirror().is_some() {
        return None;
    }
    let touch = job.ctx.cfg.touch;
    format.scan_rebuilding(decide, &|| {
        Ok(Staged::beside(&job.input.path, job.file, job.md)?.touch(touch))
    })
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
            format.rebuild(decide, staged.file_mut())?;
            verify_or_redo(format, decide, &mut staged, hooks.corrupt_rebuild)?;
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
    format.rebuild(decide, staged.file_mut())?;
    replace(job, format, decide, staged, not_kept)
}

/// Verifies a rebuilt file and puts it in place of the original.
fn replace(
    job: &Job,
    format: &dyn Rebuild,
    decide: &Decide,
    mut staged: Staged,
    not_kept: &mut Vec<String>,
) -> Result<bool, InputError> {
    let hooks = &job.ctx.hooks;
    verify_or_redo(format, decide, &mut staged, hooks.corrupt_rebuild)?;
    *not_kept = staged.replace_original(job.md, hooks.rebuild_pause)?;
    Ok(true)
}

/// Verifies what was rebuilt into `staged`; a rebuild that fails its
/// verification is done again the format's more general way if it has one.
fn verify_or_redo(
    format: &dyn Rebuild,
    decide: &Decide,
    staged: &mut Staged,
    corrupt: bool,
) -> Result<(), InputError> {
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

/// sha256 of a rebuilt input before, and after when it was replaced;
/// `hashed`, those the rebuild computed on the way.
fn hashes(
    job: &Job,
    replaced: bool,
    hashed: (Option<String>, Option<String>),
) -> Result<(Option<String>, Option<String>), InputError> {
    let hashing = job.ctx.cfg.hashing;
    let want = replaced || hashing == Hashing::All;
    if !want || hashing == Hashing::Off {
        return Ok((None, None));
    }
    let before = match hashed.0 {
        Some(before) => before,
        None => sha256_file(job.file).map_err(InputError::io("hash"))?,
    };
    let after = if replaced && job.ctx.cfg.out.is_none() {
        if let Some(after) = hashed.1 {
            return Ok((Some(before), Some(after)));
        }
        let now = File::open(&job.input.path).map_err(InputError::io("open"))?;
        Some(sha256_file(&now).map_err(InputError::io("hash"))?)
    } else {
        None
    };
    Ok((Some(before), after))
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
