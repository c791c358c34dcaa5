//! A naive, obviously-correct PAN finder used as a test oracle.
//!
//! It checks every window of 13 to 31 bytes against the rules of docs/policy.md
//! written out as directly as possible (string splitting, no prefilter, no
//! shared code with the fast path apart from the network table data). It is
//! slow on purpose; the property tests and the fuzz target compare the
//! detector against it.

use super::iin::DEFAULT_TABLE;

fn digit(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_digit())
}

fn word(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

fn letter(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
}

/// The separators of docs/policy.md rule 1, written out again.
const SEPS: [&[u8]; 6] = [b" ", b"-", b"+", b"%20", b"%2D", b"%2d"];

/// The byte a percent-escape `%XY` at `hay[i..]` encodes.
fn escape(hay: &[u8], i: usize) -> Option<u8> {
    let s = std::str::from_utf8(hay.get(i..i + 3)?).ok()?;
    let hex = s.strip_prefix('%')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// `hay` split on every occurrence of `sep`.
fn split<'a>(hay: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = vec![];
    let mut from = 0;
    let mut i = 0;
    while i + sep.len() <= hay.len() {
        if &hay[i..i + sep.len()] == sep {
            out.push(&hay[from..i]);
            i += sep.len();
            from = i;
        } else {
            i += 1;
        }
    }
    out.push(&hay[from..]);
    out
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0;
    for (i, d) in digits.iter().rev().map(|b| (b - b'0') as u32).enumerate() {
        let v = if i % 2 == 1 { d * 2 } else { d };
        sum += if v > 9 { v - 9 } else { v };
    }
    sum % 10 == 0
}

fn network_matches(digits: &[u8]) -> bool {
    let s = std::str::from_utf8(digits).unwrap();
    DEFAULT_TABLE.iter().any(|e| {
        let p: u32 = s[..e.prefix_digits as usize].parse().unwrap();
        p >= e.lo && p <= e.hi && e.lengths & (1 << s.len()) != 0
    })
}

/// Is `hay[s..e]` a PAN?
pub fn is_pan_at(hay: &[u8], s: usize, e: usize) -> bool {
    let span = &hay[s..e];
    let before = |k: usize| if s >= k { hay.get(s - k) } else { None };
    let after = |k: usize| hay.get(e + k - 1);
    // A percent-escape right before or after the span stands for its byte.
    let escape_left = if s >= 3 { escape(hay, s - 3) } else { None };
    let escape_right = escape(hay, e);
    // Rule 1: shape.
    if (digit(before(1)) && escape_left.is_none()) || digit(after(1)) {
        return false;
    }
    let digits: Vec<u8> = if span.iter().all(|b| b.is_ascii_digit()) {
        if !(13..=19).contains(&span.len()) {
            return false;
        }
        span.to_vec()
    } else {
        let i = span.iter().position(|b| !b.is_ascii_digit()).unwrap();
        let Some(sep) = SEPS.iter().rev().find(|p| span[i..].starts_with(p)) else {
            return false;
        };
        let l = sep.len();
        let groups = split(span, sep);
        if groups
            .iter()
            .any(|g| g.is_empty() || !g.iter().all(|b| b.is_ascii_digit()))
        {
            return false;
        }
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        let allowed: [&[usize]; 4] = [&[4, 6, 4], &[4, 6, 5], &[4, 4, 4, 4], &[4, 4, 4, 4, 3]];
        if !allowed.contains(&lens.as_slice()) {
            return false;
        }
        // The whole run of same-separator groups. A group shared with a run
        // of another separator on the left belongs to that run; a group
        // glued to a word is part of the word, not of the run.
        if hay[..s].ends_with(sep) && s > l && hay[s - l - 1].is_ascii_digit() {
            let prev: Vec<u8> = hay[..s - l]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            let g0 = s - l - prev.len();
            let other = SEPS.iter().find(|o| hay[..g0].ends_with(o));
            let shared = prev.len() <= 6
                && other.is_some_and(|o| {
                    o != sep && g0 > o.len() && hay[g0 - o.len() - 1].is_ascii_digit()
                });
            // A group that ends a word (`line2`) is not part of the run.
            let ends_word =
                prev.len() <= 6 && g0 >= 1 && letter(hay.get(g0 - 1)) && other.is_none();
            if !shared && !ends_word {
                return false;
            }
        }
        if hay[e..].starts_with(sep) && digit(hay.get(e + l)) {
            // Unless the next group starts a word (`2nd`), the run goes on.
            let next: Vec<u8> = hay[e + l..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            let starts_word = next.len() <= 6 && letter(hay.get(e + l + next.len()));
            if !starts_word {
                return false;
            }
        }
        groups.concat()
    };
    // Rule 2: stands alone.
    if let Some(c) = escape_left {
        if word(Some(&c)) || (matches!(c, b'-' | b'.') && word(before(4))) {
            return false;
        }
    } else {
        let track1 = before(1) == Some(&b'B')
            && (before(2) == Some(&b'%') || !word(before(2)) && after(1) == Some(&b'^'));
        let escape = matches!(before(1), Some(b'n' | b'r' | b't'))
            && before(2) == Some(&b'\\')
            && before(3) != Some(&b'\\');
        if word(before(1)) && !track1 && !escape {
            return false;
        }
        if matches!(before(1), Some(b'-') | Some(b'.')) && word(before(2)) {
            return false;
        }
    }
    if let Some(c) = escape_right {
        if word(Some(&c))
            || (matches!(c, b'.' | b'-') && after(4).is_some_and(|b| b.is_ascii_alphanumeric()))
        {
            return false;
        }
    } else {
        if word(after(1)) {
            return false;
        }
        if matches!(after(1), Some(b'.') | Some(b'-') | Some(b'_'))
            && after(2).is_some_and(|b| b.is_ascii_alphanumeric())
        {
            return false;
        }
    }
    // Rules 3 and 4.
    network_matches(&digits) && luhn(&digits)
}

/// Every PAN in `hay` as `(start, end)` pairs, in order. Where two readings
/// overlap (`%2041…`: the digits from `2` or, the escape read as a space,
/// from `4`), the leftmost PAN wins.
pub fn find_all(hay: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = vec![];
    for s in 0..hay.len() {
        for e in s + 13..=(s + 31).min(hay.len()) {
            if is_pan_at(hay, s, e) && out.last().is_none_or(|&(_, end)| s >= end) {
                out.push((s, e));
            }
        }
    }
    out
}
