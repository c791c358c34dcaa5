//! Allowlists and fingerprints: what a run leaves alone on purpose, and a
//! keyed digest that lets analysts correlate findings without the PAN.
//!
//! An allowlist file holds one entry per line: a full PAN (13–19 digits,
//! spaces and dashes ignored) is allowed exactly; a shorter digit string is
//! a BIN/IIN prefix. `#` starts a comment. `--allow-test-cards` adds the
//! well-known public test numbers. Allowed findings are reported with
//! `action: "allowed"`, never masked, and do not change the exit code.

use std::collections::HashSet;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::detect::{Finding, MAX_DIGITS};
use crate::error::ConfigError;

/// Publicly documented test card numbers (payment networks' and gateways'
/// sandbox documentation).
pub const TEST_CARDS: &[&str] = &[
    "4111111111111111",
    "4012888888881881",
    "4222222222222",
    "4000056655665556",
    "4242424242424242",
    "4917300800000000",
    "4484070000000000",
    "4109906958483040118",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "2223000048400011",
    "2221000000000009",
    "378282246310005",
    "371449635398431",
    "378734493671000",
    "6011111111111117",
    "6011000990139424",
    "6011000400000000",
    "3530111333300000",
    "3566002020360505",
    "3528000700000000",
    "30569309025904",
    "38520000023237",
    "36168002586009",
    "5019717010103742",
    "6759649826438453",
    "6200000000000005",
];

/// PANs and prefixes to leave alone.
#[derive(Debug, Default, Clone)]
pub struct AllowList {
    exact: HashSet<Vec<u8>>,
    prefixes: Vec<Vec<u8>>,
}

impl AllowList {
    /// True when nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }

    /// Adds one entry (digits; spaces and dashes ignored); `at` says where
    /// it comes from, for the error.
    pub fn add(&mut self, entry: &str, at: &dyn Fn() -> String) -> Result<(), ConfigError> {
        let digits: Vec<u8> = entry.bytes().filter(|b| *b != b' ' && *b != b'-').collect();
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || digits.len() > MAX_DIGITS
        {
            // Never echo the entry: it may be a PAN.
            return Err(ConfigError::AllowEntry {
                at: at(),
                chars: entry.len(),
            });
        }
        if digits.len() >= 13 {
            self.exact.insert(digits);
        } else {
            self.prefixes.push(digits);
        }
        Ok(())
    }

    /// Adds the built-in public test numbers.
    pub fn add_test_cards(&mut self) {
        for c in TEST_CARDS {
            self.exact.insert(c.as_bytes().to_vec());
        }
    }

    /// Reads an allowlist file.
    pub fn load(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            what: "allowlist",
            path: path.to_path_buf(),
            source,
        })?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            self.add(line, &|| format!("{}:{}", path.display(), i + 1))?;
        }
        Ok(())
    }

    /// Whether a finding is allowed.
    pub fn allows(&self, f: &Finding) -> bool {
        // The list names PANs and BINs; a verification code is never allowed.
        if self.is_empty() || !f.kind.has_pan() {
            return false;
        }
        let mut buf = [0u8; MAX_DIGITS];
        let n = f.digits(&mut buf);
        let d = &buf[..n];
        self.exact.contains(d) || self.prefixes.iter().any(|p| d.starts_with(p))
    }
}

/// Keyed fingerprints of PANs: HMAC-SHA-256 over the digits (separators
/// removed), hex, truncated to 128 bits (32 hex digits): enough to tell
/// cards apart across a large estate, too short to serve as a hash to brute
/// force even if the key leaked with it.
pub struct Fingerprinter {
    key: Vec<u8>,
}

impl Fingerprinter {
    /// Reads the key file (its bytes are the key; at least 16).
    pub fn load(path: &Path) -> Result<Fingerprinter, ConfigError> {
        let key = std::fs::read(path).map_err(|source| ConfigError::Read {
            what: "fingerprint key",
            path: path.to_path_buf(),
            source,
        })?;
        if key.len() < 16 {
            return Err(ConfigError::Invalid {
                option: "--fingerprint-key",
                why: format!("{} is shorter than 16 bytes", path.display()),
            });
        }
        Ok(Fingerprinter { key })
    }

    /// The fingerprint of a finding.
    pub fn fingerprint(&self, f: &Finding) -> String {
        let mut buf = [0u8; MAX_DIGITS];
        let n = f.digits(&mut buf);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&buf[..n]);
        let out = mac.finalize().into_bytes();
        crate::remediate::digest::hex(&out[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detector;

    fn finding(s: &str) -> Finding {
        Detector::default().find_iter(s.as_bytes())[0]
    }

    #[test]
    fn exact_and_prefix_entries() {
        let mut a = AllowList::default();
        let at = || "test".to_string();
        a.add("4111 1111 1111 1111", &at).unwrap();
        a.add("555555", &at).unwrap();
        assert!(a.allows(&finding("4111-1111-1111-1111")));
        assert!(a.allows(&finding("5555555555554444")));
        assert!(!a.allows(&finding("378282246310005")));
        assert!(a.add("41x1", &at).is_err());
        let e = a
            .add("4111111111111111111111", &at)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("4111"), "errors never echo the entry: {e}");
    }

    #[test]
    fn test_cards_are_valid_pans() {
        let det = Detector::default();
        for c in TEST_CARDS {
            assert_eq!(det.find_iter(c.as_bytes()).len(), 1, "{c} must be a PAN");
        }
    }

    #[test]
    fn fingerprints_are_keyed_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = dir.path().join("k1");
        let k2 = dir.path().join("k2");
        std::fs::write(&k1, b"0123456789abcdef-key-one").unwrap();
        std::fs::write(&k2, b"0123456789abcdef-key-two").unwrap();
        let f1 = Fingerprinter::load(&k1).unwrap();
        let f2 = Fingerprinter::load(&k2).unwrap();
        let a = finding("4111111111111111");
        let b = finding("4111 1111 1111 1111");
        assert_eq!(
            f1.fingerprint(&a),
            f1.fingerprint(&b),
            "separators do not matter"
        );
        assert_ne!(f1.fingerprint(&a), f2.fingerprint(&a), "keys matter");
        assert_eq!(f1.fingerprint(&a).len(), 32);
        assert!(!f1.fingerprint(&a).contains("4111"));
        std::fs::write(&k1, b"short").unwrap();
        assert!(Fingerprinter::load(&k1).is_err());
    }
}
