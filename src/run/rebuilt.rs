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
use crate::format::{container, parquet, pgdump, Format};
use crate::location::Hit;
use crate::manifest::Action;
use crate::remediate::apply::Hashing;
use crate::remediate::digest::sha256_file;
use crate::remediate::install::Staged;

use super::outcome::Outcome;
use super::printer::Findings;
use super::Job;

/// What the archive scanners need from the run.
pub fn container_cx<'a>(job: &'a Job) -> container::Cx<'a> {
    container::Cx {
        det: &job.ctx.det,
        policy: &job.ctx.cfg.policy,
        scrub_binary: job.ctx.cfg.scrub_binary,
        stream_name: None,
        max_held: job.ctx.cfg.budget.max_held,
    }
}

/// A format that is rebuilt whole: how to scan, rebuild and verify it.
trait Rebuild {
    /// Every finding, in order; the index in this list names it below.
    fn scan(&self) -> Result<Vec<Hit>, InputError>;
    /// Writes the file with the findings whose `mask` flag is set masked.
    fn rebuild(&self, mask: &[bool], out: &mut File) -> Result<(), InputError>;
    /// Checks the rebuilt file against the original.
    fn verify(&self, mask: &[bool], rebuilt: &File) -> Result<(), InputError>;
}

/// Processes a compressed stream, a zip or a Parquet file.
pub fn process(job: &Job, out: &mut Outcome) -> Result<(), InputError> {
    if job.format == Format::Parquet {
        let cx = parquet::Cx {
            det: &job.ctx.det,
            policy: &job.ctx.cfg.policy,
            allow: job.policy(),
        };
        run(job, &ParquetFile { job, cx }, out)
    } else {
        let adapter = Archive {
            job,
            cx: container_cx(job),
            found: Default::default(),
        };
        // pg_dump archives count their file size, like text.
        out.counted_while_decoding = job.format != Format::PgDump;
        run(job, &adapter, out)
    }
}

fn run(job: &Job, format: &dyn Rebuild, out: &mut Outcome) -> Result<(), InputError> {
    let hits = format.scan()?;
    let policy = job.policy();
    let allowed: Vec<bool> = hits.iter().map(|h| policy.allows(h)).collect();
    let mask: Vec<bool> = hits
        .iter()
        .zip(&allowed)
        .map(|(h, a)| job.scrub() && h.report_only.is_none() && !a)
        .collect();
    let installed = install(job, format, &mask, &mut out.metadata_not_kept);
    let replaced = *installed.as_ref().unwrap_or(&false);
    let mut findings = Findings::new(job.ctx, job.path);
    for ((hit, allowed), masked) in hits.iter().zip(allowed).zip(&mask) {
        let action = if allowed {
            Action::Allowed
        } else if replaced && *masked {
            Action::Truncated
        } else {
            if job.scrub() && out.report_only_why.is_none() {
                out.report_only_why = hit.report_only.map(str::to_string);
            }
            Action::Reported
        };
        findings.add(hit, action, &mut out.stats);
    }
    findings.send();
    installed?;
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
    mask: &[bool],
    not_kept: &mut Vec<String>,
) -> Result<bool, InputError> {
    let needed = mask.iter().any(|m| *m);
    let hooks = &job.ctx.hooks;
    if let Some(dest) = job.mirror() {
        let mut staged = Staged::mirror(dest, job.file, job.md)?.touch(job.ctx.cfg.touch);
        if needed {
            format.rebuild(mask, staged.file_mut())?;
            staged.verify(hooks.corrupt_rebuild, |f| format.verify(mask, f))?;
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
    format.rebuild(mask, staged.file_mut())?;
    staged.verify(hooks.corrupt_rebuild, |f| format.verify(mask, f))?;
    *not_kept = staged.replace_original(job.md, hooks.rebuild_pause)?;
    Ok(true)
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

/// gzip, zstd, xz, bzip2 and zip.
struct Archive<'a> {
    job: &'a Job<'a>,
    cx: container::Cx<'a>,
    /// The scan's findings with their routes, for the rebuild.
    found: std::cell::RefCell<Vec<container::MemberFinding>>,
}

impl Archive<'_> {
    fn meter(&self) -> Meter {
        Meter::new(self.job.ctx.cfg.budget)
    }

    fn split<'f>(
        found: &'f [container::MemberFinding],
        mask: &[bool],
    ) -> (
        Vec<&'f container::MemberFinding>,
        Vec<&'f container::MemberFinding>,
    ) {
        let (masked, kept): (Vec<_>, Vec<_>) = found.iter().zip(mask).partition(|(_, m)| **m);
        (
            masked.into_iter().map(|(f, _)| f).collect(),
            kept.into_iter().map(|(f, _)| f).collect(),
        )
    }
}

impl Rebuild for Archive<'_> {
    fn scan(&self) -> Result<Vec<Hit>, InputError> {
        // The scan's decoded bytes count as scanned (not the rebuild's).
        let found = if self.job.format == Format::PgDump {
            pgdump::scan(&self.cx, &self.meter(), self.job.file)?
        } else {
            container::scan(
                &self.cx,
                &self.meter().counting(),
                self.job.file,
                self.job.format,
                &self.job.input.path,
            )?
        };
        let hits = found.iter().map(|m| m.hit.clone()).collect();
        *self.found.borrow_mut() = found;
        Ok(hits)
    }

    fn rebuild(&self, mask: &[bool], out: &mut File) -> Result<(), InputError> {
        let found = self.found.borrow();
        let (masked, _) = Self::split(&found, mask);
        if self.job.format == Format::PgDump {
            return pgdump::rebuild(&self.cx, self.job.file, &masked, out);
        }
        container::rebuild(
            &self.cx,
            &self.meter(),
            self.job.file,
            self.job.format,
            &masked,
            out,
        )
    }

    fn verify(&self, mask: &[bool], rebuilt: &File) -> Result<(), InputError> {
        let found = self.found.borrow();
        let (masked, kept) = Self::split(&found, mask);
        if self.job.format == Format::PgDump {
            let meter = self.meter();
            return pgdump::verify(&self.cx, &meter, self.job.file, rebuilt, &masked, &kept);
        }
        container::verify(
            &self.cx,
            &self.meter(),
            self.job.file,
            rebuilt,
            self.job.format,
            &masked,
            &kept,
            &self.job.input.path,
        )
    }
}

/// A top-level Parquet file. Its rebuild asks the same policy for every
/// cell it visits (the policy is in `cx`), so it masks exactly the cells
/// the run decided to mask.
struct ParquetFile<'a> {
    job: &'a Job<'a>,
    cx: parquet::Cx<'a>,
}

impl ParquetFile<'_> {
    fn meter(&self) -> Meter {
        Meter::new(self.job.ctx.cfg.budget)
    }
}

impl Rebuild for ParquetFile<'_> {
    fn scan(&self) -> Result<Vec<Hit>, InputError> {
        let found = parquet::scan(&self.cx, &self.meter(), self.job.file)?;
        let (det, policy) = (&self.job.ctx.det, &self.job.ctx.cfg.policy);
        Ok(found.into_iter().map(|c| c.into_hit(det, policy)).collect())
    }

    fn rebuild(&self, _mask: &[bool], out: &mut File) -> Result<(), InputError> {
        parquet::rebuild(&self.cx, &self.meter(), self.job.file, out)
    }

    fn verify(&self, _mask: &[bool], rebuilt: &File) -> Result<(), InputError> {
        parquet::verify(&self.cx, &self.meter(), self.job.file, rebuilt)
    }
}
