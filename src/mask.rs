//! Same-length truncation of a PAN span.
//!
//! Keeps the first and last digits the policy names, replaces every other
//! digit with the mask byte and leaves separators where they were, so byte
//! offsets, field widths and file structure stay valid and a second run
//! finds nothing: the mask byte may not be a digit or a separator, which
//! breaks the digit groups the detector needs.

use std::fmt;
use std::str::FromStr;

use crate::detect::separators::for_each_digit;
use crate::detect::{Finding, Kind, MAX_REGION};

/// How many leading and trailing digits stay visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// First 6, last 4 (default, PCI DSS 3.4.1).
    SixFour,
    /// First 8, last 4 for PANs of 16+ digits; 6+4 for shorter ones.
    EightFour,
    /// Last 4 only.
    ZeroFour,
}

impl Keep {
    /// Digits kept at the front and back for a PAN of `ndigits` digits.
    pub fn for_length(self, ndigits: usize) -> (usize, usize) {
        match self {
            Keep::SixFour => (6, 4),
            Keep::EightFour if ndigits >= 16 => (8, 4),
            Keep::EightFour => (6, 4),
            Keep::ZeroFour => (0, 4),
        }
    }
}

impl FromStr for Keep {
    type Err = String;

    fn from_str(s: &str) -> Result<Keep, String> {
        match s {
            "6+4" => Ok(Keep::SixFour),
            "8+4" => Ok(Keep::EightFour),
            "0+4" => Ok(Keep::ZeroFour),
            _ => Err(format!(
                "unknown keep policy {s:?}: expected 6+4, 8+4 or 0+4"
            )),
        }
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Keep::SixFour => "6+4",
            Keep::EightFour => "8+4",
            Keep::ZeroFour => "0+4",
        })
    }
}

/// A masked span: the replacement bytes for a finding, same length.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Masked {
    bytes: [u8; MAX_REGION],
    len: u8,
    /// Bytes of `bytes` that replace the PAN (or code).
    pan_len: u8,
}

impl Masked {
    /// The replacement bytes (safe to print).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The replacement as text (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("masked spans are ASCII")
    }

    /// The masked PAN (or code) without separators, for the manifest's
    /// `masked`: track data and the cardholder name are left out.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        for_each_digit(&self.bytes[..self.pan_len as usize], |_, b| {
            out.push(b as char)
        });
        out
    }
}

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masked({:?})", self.as_str())
    }
}

/// Error for a mask byte that would leave the span PAN-shaped or non-ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMaskChar(pub char);

impl fmt::Display for BadMaskChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mask character {:?} not allowed: use a printable ASCII character that is not a digit or a separator (space, dash, plus, percent)",
            self.0
        )
    }
}

impl std::error::Error for BadMaskChar {}

/// Keep policy plus mask byte: one per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskPolicy {
    keep: Keep,
    mask: u8,
}

impl Default for MaskPolicy {
    fn default() -> Self {
        MaskPolicy {
            keep: Keep::SixFour,
            mask: b'*',
        }
    }
}

impl MaskPolicy {
    /// A policy; fails for a mask character that is not printable ASCII or
    /// is a digit, a space or a dash.
    pub fn new(keep: Keep, mask: char) -> Result<MaskPolicy, BadMaskChar> {
        if !mask.is_ascii_graphic() || mask.is_ascii_digit() || matches!(mask, '-' | '+' | '%') {
            return Err(BadMaskChar(mask));
        }
        Ok(MaskPolicy {
            keep,
            mask: mask as u8,
        })
    }

    /// The keep policy.
    pub fn keep(&self) -> Keep {
        self.keep
    }

    /// The mask byte.
    pub fn mask_byte(&self) -> u8 {
        self.mask
    }

    /// Masks a raw span (digits and separators).
    pub fn mask_span(&self, span: &[u8]) -> Masked {
        self.replace_digits(span, self.mask).0
    }

    /// Replaces the digits the keep policy hides with `with`; returns the
    /// result and the index of the last replaced byte.
    fn replace_digits(&self, span: &[u8], with: u8) -> (Masked, Option<usize>) {
        let mut ndigits = 0;
        for_each_digit(span, |_, _| ndigits += 1);
        let (front, back) = self.keep.for_length(ndigits);
        let mut out = Masked {
            bytes: [0; MAX_REGION],
            len: span.len() as u8,
            pan_len: span.len() as u8,
        };
        out.bytes[..span.len()].copy_from_slice(span);
        let mut last = None;
        let mut k = 0;
        // Separators, three-byte encodings included, are kept as they are.
        for_each_digit(span, |i, _| {
            if k >= front && k < ndigits - back {
                out.bytes[i] = with;
                last = Some(i);
            }
            k += 1;
        });
        (out, last)
    }

    /// Masks a finding: a PAN is truncated, a verification code and track
    /// data after a PAN are masked whole, a track's name is kept.
    pub fn mask(&self, f: &Finding) -> Masked {
        match f.kind {
            Kind::Pan => self.mask_span(f.span_bytes()),
            Kind::Cvv => {
                let mut out = self.mask_span(f.span_bytes());
                out.bytes[..out.len as usize].fill(self.mask);
                out
            }
            Kind::Track1 | Kind::Track2 => {
                let pan = self.mask_span(f.pan_bytes());
                let mut out = Masked {
                    bytes: [0; MAX_REGION],
                    len: f.len() as u8,
                    pan_len: pan.len,
                };
                out.bytes[..f.len()].copy_from_slice(f.span_bytes());
                out.bytes[..pan.len as usize].copy_from_slice(pan.as_bytes());
                out.bytes[f.tail_from()..f.len()].fill(self.mask);
                out
            }
        }
    }

    /// Masks a finding that is a bare number (a JSON number, a SQL numeric
    /// literal), where a mask character would break the syntax: the masked
    /// digits become `0`, and if that happens to leave a Luhn-valid number,
    /// the last masked digit becomes `1`, so the value stays a number of the
    /// same length but is no longer a valid PAN. With `--keep 0+4` the
    /// leading digit is masked too: it becomes `1`, because a number may not
    /// start with `0` in JSON (the Luhn check above still breaks the PAN).
    ///
    /// A verification code has nothing to keep: it becomes `0` padded with
    /// spaces (`123` → `0  `), still a number wherever one may stand.
    pub fn mask_numeric(&self, f: &Finding) -> Masked {
        if f.kind == Kind::Cvv {
            let mut out = self.mask_span(f.span_bytes());
            out.bytes[..out.len as usize].fill(b' ');
            out.bytes[0] = b'0';
            return out;
        }
        let (mut out, last_masked) = self.replace_digits(f.span_bytes(), b'0');
        if out.bytes[0] == b'0' && f.span_bytes()[0] != b'0' {
            out.bytes[0] = b'1';
        }
        let digits: Vec<u8> = out
            .as_bytes()
            .iter()
            .copied()
            .filter(u8::is_ascii_digit)
            .collect();
        if crate::detect::luhn::is_valid(&digits) {
            if let Some(i) = last_masked {
                out.bytes[i] = b'1';
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detector;

    fn m(keep: Keep, s: &str) -> String {
        MaskPolicy::new(keep, '*')
            .unwrap()
            .mask_span(s.as_bytes())
            .as_str()
            .to_string()
    }

    #[test]
    fn url_and_form_encodings_are_kept() {
        assert_eq!(
            m(Keep::SixFour, "4111+1111+1111+1111"),
            "4111+11**+****+1111"
        );
        assert_eq!(
            m(Keep::SixFour, "4111%201111%201111%201111"),
            "4111%2011**%20****%201111"
        );
        assert_eq!(
            m(Keep::SixFour, "3782%2D822463%2D10005"),
            "3782%2D82****%2D*0005"
        );
        let p = MaskPolicy::default();
        let det = Detector::default();
        let f = det.find_iter(b"cc=4111%2d1111%2d1111%2d1111")[0];
        assert_eq!(p.mask(&f).compact(), "411111******1111");
        for c in ['+', '%'] {
            assert!(MaskPolicy::new(Keep::SixFour, c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn keeps_first_six_last_four_and_separators() {
        assert_eq!(
            m(Keep::SixFour, "4111 1111 1111 1111"),
            "4111 11** **** 1111"
        );
        assert_eq!(m(Keep::SixFour, "4111111111111111"), "411111******1111");
        assert_eq!(m(Keep::SixFour, "378282246310005"), "378282*****0005");
    }

    #[test]
    fn eight_four_only_for_sixteen_plus() {
        assert_eq!(m(Keep::EightFour, "4111111111111111"), "41111111****1111");
        assert_eq!(m(Keep::EightFour, "378282246310005"), "378282*****0005");
        assert_eq!(
            m(Keep::ZeroFour, "4111-1111-1111-1111"),
            "****-****-****-1111"
        );
    }

    #[test]
    fn compact_form_drops_separators() {
        let p = MaskPolicy::default();
        assert_eq!(
            p.mask_span(b"4111 1111 1111 1111").compact(),
            "411111******1111"
        );
    }

    #[test]
    fn numeric_masks_stay_numbers_and_are_not_pans() {
        let det = Detector::default();
        let p = MaskPolicy::default();
        for pan in [
            "4111111111111111",
            "378282246310005",
            "5555555555554444",
            "30569309025904",
            "6011111111111117",
        ] {
            let f = det.find_iter(pan.as_bytes())[0];
            let m = p.mask_numeric(&f);
            let s = m.as_str();
            assert_eq!(s.len(), pan.len());
            assert!(s.bytes().all(|b| b.is_ascii_digit()), "{s}");
            assert_eq!(&s[..6], &pan[..6]);
            assert_eq!(&s[s.len() - 4..], &pan[pan.len() - 4..]);
            assert!(
                det.find_iter(s.as_bytes()).is_empty(),
                "{s} must not be a PAN"
            );
        }
    }

    #[test]
    fn numeric_masks_never_start_with_zero() {
        let det = Detector::default();
        let p = MaskPolicy::new(Keep::ZeroFour, '*').unwrap();
        for pan in ["4111111111111111", "378282246310005", "30569309025904"] {
            let f = det.find_iter(pan.as_bytes())[0];
            let m = p.mask_numeric(&f);
            let s = m.as_str();
            assert_eq!(s.len(), pan.len());
            assert!(s.starts_with('1'), "{s}");
            assert!(s.ends_with(&pan[pan.len() - 4..]), "{s}");
            assert!(
                det.find_iter(s.as_bytes()).is_empty(),
                "{s} must not be a PAN"
            );
        }
    }

    #[test]
    fn bad_mask_chars_rejected() {
        for c in ['5', ' ', '-', '\n', 'é'] {
            assert!(MaskPolicy::new(Keep::SixFour, c).is_err(), "{c:?}");
        }
        assert!(MaskPolicy::new(Keep::SixFour, 'X').is_ok());
        assert!(MaskPolicy::new(Keep::SixFour, '#').is_ok());
    }

    #[test]
    fn masked_output_is_never_detected_again() {
        let det = Detector::default();
        let text = b"a 4111 1111 1111 1111 b 4109-9069-5848-3040-118 c 30569309025904 d %B4111111111111111^";
        let findings = det.find_iter(text);
        assert_eq!(findings.len(), 4);
        for keep in [Keep::SixFour, Keep::EightFour, Keep::ZeroFour] {
            for mask in ['*', 'X', '#', 'x', '.'] {
                let p = MaskPolicy::new(keep, mask).unwrap();
                let mut out = text.to_vec();
                for f in &findings {
                    let s = f.offset as usize;
                    out[s..s + f.len()].copy_from_slice(p.mask(f).as_bytes());
                }
                assert!(det.find_iter(&out).is_empty(), "{keep} {mask}");
                assert_eq!(out.len(), text.len());
            }
        }
    }
}
