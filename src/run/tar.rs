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
use super::Job;

/// Processes an uncompressed tar file.
pub fn process(job: &Job, out: &mut Outcome) -> Result<(), InputError> {
    let cfg = job.ctx.cfg;
    let cx = container_cx(job);
    let found = container::scan_tar_file(&cx, &Meter::new(cfg.budget).counting(), job.file)?;
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
    let mut applier = Applier::new(job.file, target, cfg.policy, cfg.hashing)
        .large(crate::format::text::in_pieces(size));
    let policy = job.policy();
    let allowed: Vec<bool> = found.iter().map(|m| policy.allows(&m.hit)).collect();
    let masks = |m: &container::MemberFinding, allowed: bool| {
        scrub && m.hit.report_only.is_none() && !allowed
    };
    // Findings come in archive order: ascending file offsets.
    let to_mask: Vec<&Hit> = found
        .iter()
        .zip(&allowed)
        .filter(|(m, a)| masks(m, **a))
        .map(|(m, _)| &m.hit)
        .collect();
    let applied = applier
        .advance(size, &to_mask)
        .and_then(|actions| applier.finish(size).map(|h| (actions, h)));
    let settled = applier.settle(job.md, job.ctx.cfg.touch);
    let (actions, hashes) = applied?;
    let mismatched = settled?;
    out.hashes = hashes;
    if let Some(c) = copy {
        // Each span was checked as it was masked; a text re-scan would also
        // see header bytes, which are never masked.
        out.metadata_not_kept = c.install_applied_copy(mismatched, job.md, |_| Ok(()))?;
    }
    let mut actions = actions.into_iter();
    let mut findings = Findings::new(job.ctx, job.path);
    for (m, allowed) in found.iter().zip(allowed) {
        let action = if allowed {
            Action::Allowed
        } else if masks(m, false) {
            actions.next().unwrap_or(Action::Reported)
        } else {
            if scrub && out.report_only_why.is_none() {
                out.report_only_why = m.hit.report_only.map(str::to_string);
            }
            Action::Reported
        };
        findings.add(&m.hit, action, &mut out.stats);
    }
    findings.send();
    if mismatched > 0 {
        out.problem = Some(format!(
            "changed during scrub: {mismatched} finding(s) left in place"
        ));
    }
    Ok(())
}
