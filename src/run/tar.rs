//! The uncompressed tar adapter: members scanned by name; a scrub masks
//! member data in place (headers are never written) or into the `--out`
//! copy, through the same checked applier as text.

use std::os::unix::fs::MetadataExt;

use crate::error::InputError;
use crate::format::budget::Meter;
use crate::format::container;
use crate::location::Hit;
use crate::manifest::Action;
use crate::remediate::apply::{Applier, InPlace, Target};
use crate::remediate::install::Staged;

use super::outcome::Outcome;
use super::printer::Findings;
use super::rebuilt::container_cx;
use super::replay::{held_findings, Replay};
use super::Job;

/// Processes an uncompressed tar file.
pub fn process(job: &Job, out: &mut Outcome) -> Result<(), InputError> {
    let cfg = job.ctx.cfg;
    let cx = container_cx(job);
    let scan = |meter: Meter, sink: &mut container::Sink| {
        container::scan_tar_file(&cx, &meter, job.file, sink)
    };
    // The whole tar is scanned before anything is masked: a tar cut short
    // is an error and is left as it is. Its findings are kept for the
    // masking pass while few, scanned again when many.
    let replay = Replay::new(held_findings(job));
    replay.each(
        |o| scan(Meter::new(cfg.budget).counting(), o),
        |o| scan(Meter::new(cfg.budget), o),
        |m: &container::MemberFinding| &m.hit,
        &mut |_| Ok(()),
    )?;
    out.counted_while_decoding = true;
    let size = job.md.len();
    let scrub = job.scrub();
    let mut copy = job
        .mirror()
        .map(|dest| Staged::mirror(dest, job.file, job.md).map(|s| s.touch(job.ctx.cfg.touch)))
        .transpose()?;
    let target = match copy.as_mut() {
        Some(c) => Target::Copy(c.file_mut()),
        None if scrub => Target::InPlace(InPlace::new(&job.input.path, job.md.dev(), job.md.ino())),
        None => Target::None,
    };
    let applier = Applier::new(job.file, target, cfg.policy, cfg.hashing)
        .large(crate::format::text::in_pieces(size));
    let mut masking = Masking {
        applier,
        findings: Findings::new(job.ctx, job.path),
        batch: Vec::new(),
        scrub,
    };
    let policy = job.policy();
    // Findings come in archive order: ascending file offsets. They are
    // masked and recorded a batch at a time.
    let applied = replay
        .each(
            |o| scan(Meter::new(cfg.budget), o),
            |o| scan(Meter::new(cfg.budget), o),
            |m: &container::MemberFinding| &m.hit,
            &mut |h| {
                masking.batch.push((h.clone(), policy.allows(h)));
                if masking.batch.len() >= BATCH {
                    masking.apply(out)?;
                }
                Ok(())
            },
        )
        .and_then(|()| masking.apply(out))
        .and_then(|()| masking.applier.finish(size));
    masking.findings.send();
    let settled = masking.applier.settle(job.md, job.ctx.cfg.touch);
    out.hashes = applied?;
    let mismatched = settled?;
    if let Some(c) = copy {
        // Each span was checked as it was masked; a text re-scan would also
        // see header bytes, which are never masked.
        out.metadata_not_kept = c.install_applied_copy(mismatched, job.md, |_| Ok(()))?;
    }
    if mismatched > 0 {
        out.problem = Some(format!(
            "changed during scrub: {mismatched} finding(s) left in place"
        ));
    }
    Ok(())
}

/// Findings masked and recorded at once.
const BATCH: usize = 8192;

/// The masking pass over a tar: findings wait in `batch` (with whether the
/// policy allows them) until masked and recorded together.
struct Masking<'a> {
    applier: Applier<'a>,
    findings: Findings<'a>,
    batch: Vec<(Hit, bool)>,
    scrub: bool,
}

impl Masking<'_> {
    fn masks(&self, hit: &Hit, allowed: bool) -> bool {
        self.scrub && hit.report_only.is_none() && !allowed
    }

    /// Masks the batch's findings that are to be masked and records all.
    fn apply(&mut self, out: &mut Outcome) -> Result<(), InputError> {
        let to_mask: Vec<&Hit> = self
            .batch
            .iter()
            .filter(|(h, allowed)| self.masks(h, *allowed))
            .map(|(h, _)| h)
            .collect();
        let mut actions = self.applier.advance(0, &to_mask)?.into_iter();
        for (hit, allowed) in std::mem::take(&mut self.batch) {
            let action = if allowed {
                Action::Allowed
            } else if self.masks(&hit, false) {
                actions.next().unwrap_or(Action::Reported)
            } else {
                if self.scrub && out.report_only_why.is_none() {
                    out.report_only_why = hit.report_only.map(str::to_string);
                }
                Action::Reported
            };
            self.findings.add(&hit, action, &mut out.stats);
        }
        self.findings.send_when_full();
        Ok(())
    }
}
