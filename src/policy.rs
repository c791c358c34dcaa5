//! The one decision every format asks: is this finding left alone on
//! purpose? And what identifying data goes with it (fingerprints)?
//!
//! The rules (the repository's `docs/policy.md` states them for users):
//! - a file matched by `[allow] paths` has every finding allowed;
//! - a PAN or track is allowed when its digits are on an allow list
//!   (`--allow`, `[allow] pans/bins/files`, `--allow-test-cards`) or it
//!   sits in a named field listed in `[allow] fields` (a CSV header or a
//!   Parquet column path; `csv_fields` is the older name of the same list);
//! - a verification code is never allowed by a list or a field, and never
//!   fingerprinted: it has a thousand values, any digest of one is
//!   reversible.
//!
//! Every adapter (text, CSV, JSON, archives, tar, Parquet) calls
//! [`InputPolicy::allows`]; none has a rule of its own.

use std::path::Path;

use globset::GlobSet;

use crate::allow::{AllowList, Fingerprinter};
use crate::detect::Finding;
use crate::location::Hit;

/// What a run leaves alone, and the fingerprint key.
#[derive(Default)]
pub struct Policy {
    /// Allowed PANs and BIN prefixes.
    pub list: AllowList,
    /// Files whose every finding is allowed.
    pub paths: Option<GlobSet>,
    /// Named fields (CSV headers, Parquet column paths) whose PANs are
    /// allowed.
    pub fields: Vec<String>,
    /// Keyed fingerprints of PANs.
    pub fingerprint: Option<Fingerprinter>,
}

impl Policy {
    /// The policy for one input.
    pub fn for_input(&self, path: &Path) -> InputPolicy<'_> {
        InputPolicy {
            policy: self,
            path_allowed: self.paths.as_ref().is_some_and(|g| g.is_match(path)),
        }
    }

    /// The fingerprint recorded with a finding (PANs and tracks only).
    pub fn fingerprint(&self, f: &Finding) -> Option<String> {
        self.fingerprint
            .as_ref()
            .filter(|_| f.kind.has_pan())
            .map(|k| k.fingerprint(f))
    }
}

/// [`Policy`] with the input's path already matched.
#[derive(Clone, Copy)]
pub struct InputPolicy<'a> {
    policy: &'a Policy,
    path_allowed: bool,
}

impl InputPolicy<'_> {
    /// Whether a finding in the named field `field` is left alone.
    pub fn allows_in(&self, f: &Finding, field: Option<&str>) -> bool {
        if self.path_allowed {
            return true;
        }
        if !f.kind.has_pan() {
            return false;
        }
        self.policy.list.allows(f)
            || field.is_some_and(|name| self.policy.fields.iter().any(|a| a == name))
    }

    /// Whether a hit is left alone.
    pub fn allows(&self, hit: &Hit) -> bool {
        self.allows_in(&hit.finding, hit.at.field())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detector;
    use crate::location::{CsvCell, Location, MaskedAs};

    fn hit(text: &str, field: Option<&str>) -> Hit {
        let f = Detector::default().find_iter(text.as_bytes())[0];
        Hit {
            finding: f,
            at: Location {
                csv: field.map(|n| {
                    Box::new(CsvCell {
                        row: 1,
                        field: n.into(),
                        record_id: None,
                        object: None,
                    })
                }),
                ..Location::default()
            },
            masked_as: MaskedAs::Text,
            report_only: None,
            encoded: None,
        }
    }

    #[test]
    fn lists_fields_and_paths_decide_codes_are_never_allowed_by_lists() {
        let mut p = Policy::default();
        p.list.add_test_cards();
        p.fields.push("TestCard".into());
        let i = p.for_input(Path::new("a.csv"));
        assert!(i.allows(&hit("4111111111111111", None)));
        assert!(!i.allows(&hit("4000000000000002", None)));
        assert!(i.allows(&hit("4000000000000002", Some("TestCard"))));
        assert!(!i.allows(&hit("4000000000000002", Some("Card"))));
        assert!(!i.allows(&hit("cvv=123", Some("TestCard"))));
        let mut b = globset::GlobSetBuilder::new();
        b.add(globset::Glob::new("**/fixtures/**").unwrap());
        p.paths = Some(b.build().unwrap());
        let f = p.for_input(Path::new("x/fixtures/a.log"));
        assert!(
            f.allows(&hit("cvv=123", None)),
            "an allowed path allows all"
        );
    }
}
