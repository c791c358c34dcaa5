//! PANs in file and directory names. The contract: a PAN in a name is
//! reported (a finding of type `path`, `action: reported`, counted in the
//! exit code) and never renamed; wherever the path is printed it is
//! masked. Only the last component is examined, so a directory's PAN is
//! reported once (for the directory), not again for every file below it.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::detect::Kind;
use crate::location::{Hit, Location, MaskedAs};
use crate::manifest::{Action, PathText};

use super::outcome::Stats;
use super::printer::Findings;
use super::Ctx;

/// Why a name's PAN is left in place (a scrub's `reported` reason).
pub const NEVER_RENAMED: &str = "its name holds a PAN: names are reported, never changed";

/// Whether a name has enough digits to hold a PAN: the walk sends only
/// such directories to be examined.
pub fn may_hold_pan(name: &std::ffi::OsStr) -> bool {
    name.as_bytes()
        .iter()
        .filter(|b| b.is_ascii_digit())
        .count()
        >= 12
}

/// Reports the PANs in the last component of `path` (printed as `shown`);
/// returns how many were left in place (not allowed).
pub fn report(ctx: &Ctx, path: &Path, shown: &PathText, stats: &mut Stats) -> u64 {
    let Some(name) = path.file_name() else {
        return 0;
    };
    if !may_hold_pan(name) {
        return 0;
    }
    // A verification code needs its keyword and is no card number alone.
    let found: Vec<_> = ctx
        .det
        .find_iter(name.as_bytes())
        .into_iter()
        .filter(|f| f.kind != Kind::Cvv)
        .collect();
    if found.is_empty() {
        return 0;
    }
    let policy = ctx.cfg.allow.for_input(path);
    let mut out = Findings::new(ctx, shown).in_name();
    let mut left = 0;
    for finding in found {
        let hit = Hit {
            at: Location {
                offset: finding.offset,
                ..Location::default()
            },
            finding,
            masked_as: MaskedAs::Text,
            report_only: Some(NEVER_RENAMED),
            encoded: None,
        };
        let action = if policy.allows(&hit) {
            Action::Allowed
        } else {
            left += 1;
            Action::Reported
        };
        out.add(&hit, action, stats);
    }
    out.send();
    left
}
