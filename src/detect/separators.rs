//! The separators allowed between the digit groups of a PAN, and the
//! percent-escapes of URLs and form bodies (docs/policy.md rule 1).
//!
//! A card typed into a web form reaches logs encoded: a browser sends
//! `4111 1111 1111 1111` as `4111+1111+1111+1111` (form encoding) or
//! `4111%201111%201111%201111`, and a dash as `%2D`. Those encodings are
//! separators like space and dash. A percent-escape right before or after
//! the digits (`cc%3D4111…`, `%224111…%22`) counts as the byte it encodes
//! for the boundary rules. Everything that walks the bytes of a span
//! (masking, digit extraction) goes through [`for_each_digit`], so a
//! three-byte separator's `2` and `0` are never taken for PAN digits.

/// Every separator, longest first so that a three-byte encoding is
/// recognised before its first byte could be.
pub const SEPARATORS: [&[u8]; 6] = [b"%20", b"%2D", b"%2d", b" ", b"-", b"+"];

/// Longest separator in bytes.
pub const MAX_SEP: usize = 3;

/// The separator starting at `hay[i]`, if any.
#[inline(always)]
pub fn sep_at(hay: &[u8], i: usize) -> Option<&'static [u8]> {
    match *hay.get(i)? {
        b' ' => Some(b" "),
        b'-' => Some(b"-"),
        b'+' => Some(b"+"),
        b'%' => match (hay.get(i + 1), hay.get(i + 2)) {
            (Some(b'2'), Some(b'0')) => Some(b"%20"),
            (Some(b'2'), Some(b'D')) => Some(b"%2D"),
            (Some(b'2'), Some(b'd')) => Some(b"%2d"),
            _ => None,
        },
        _ => None,
    }
}

/// The separator ending right before `hay[i]`, if any.
#[inline(always)]
pub fn sep_before(hay: &[u8], i: usize) -> Option<&'static [u8]> {
    if i >= MAX_SEP {
        if let Some(s) = sep_at(hay, i - MAX_SEP).filter(|s| s.len() == MAX_SEP) {
            return Some(s);
        }
    }
    i.checked_sub(1)
        .and_then(|j| sep_at(hay, j))
        .filter(|s| s.len() == 1)
}

#[inline(always)]
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte a percent-escape `%XY` at `hay[i..i + 3]` encodes.
#[inline(always)]
pub fn escape_at(hay: &[u8], i: usize) -> Option<u8> {
    if *hay.get(i)? != b'%' {
        return None;
    }
    Some(hex_value(*hay.get(i + 1)?)? << 4 | hex_value(*hay.get(i + 2)?)?)
}

/// The byte a percent-escape ending right before `hay[i]` encodes.
#[inline(always)]
pub fn escape_before(hay: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(3).and_then(|j| escape_at(hay, j))
}

/// Calls `f(index, digit)` for every PAN digit of a span (digits and
/// separators only, as the detector reports it), skipping separators. Works
/// on a masked span too: its separators are intact.
#[inline]
pub fn for_each_digit(span: &[u8], mut f: impl FnMut(usize, u8)) {
    let mut i = 0;
    while i < span.len() {
        let b = span[i];
        if b == b'%' {
            i += MAX_SEP;
            continue;
        }
        if b != b' ' && b != b'-' && b != b'+' {
            f(i, b);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_found_both_ways() {
        let hay = b"1%202+3-4 5%2D6%2d7";
        assert_eq!(sep_at(hay, 1), Some(&b"%20"[..]));
        assert_eq!(sep_before(hay, 4), Some(&b"%20"[..]));
        assert_eq!(sep_before(hay, 6), Some(&b"+"[..]));
        assert_eq!(sep_before(hay, 14), Some(&b"%2D"[..]));
        assert_eq!(sep_before(hay, 18), Some(&b"%2d"[..]));
        assert_eq!(sep_at(b"%25", 0), None);
    }

    #[test]
    fn escapes_decode() {
        assert_eq!(escape_at(b"%3D", 0), Some(b'='));
        assert_eq!(escape_at(b"%3d", 0), Some(b'='));
        assert_eq!(escape_before(b"x%224", 4), Some(b'"'));
        assert_eq!(escape_at(b"%G1", 0), None);
        assert_eq!(escape_at(b"%2", 0), None);
    }

    #[test]
    fn digits_skip_every_separator() {
        let mut d = Vec::new();
        for_each_digit(b"4111%201111+1111-1111", |_, b| d.push(b));
        assert_eq!(d, b"4111111111111111");
        let mut d = Vec::new();
        for_each_digit(b"4111%20**11", |i, b| d.push((i, b)));
        assert_eq!(
            d,
            vec![
                (0, b'4'),
                (1, b'1'),
                (2, b'1'),
                (3, b'1'),
                (7, b'*'),
                (8, b'*'),
                (9, b'1'),
                (10, b'1')
            ]
        );
    }
}
