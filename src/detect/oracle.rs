//! A naive, obviously-correct PAN finder used as a test oracle.
//!
//! It checks every window of 13 to 23 bytes against the rules of docs/policy.md
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
    // Rule 1: shape.
    if digit(before(1)) || digit(after(1)) {
        return false;
    }
    let digits: Vec<u8> = if span.iter().all(|b| b.is_ascii_digit()) {
        if !(13..=19).contains(&span.len()) {
            return false;
        }
        span.to_vec()
    } else {
        let sep = *span.iter().find(|b| !b.is_ascii_digit()).unwrap();
        if sep != b' ' && sep != b'-' {
            return false;
        }
        let groups: Vec<&[u8]> = span.split(|b| *b == sep).collect();
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
        // of the other separator on the left belongs to that run; a group
        // glued to a word is part of the word, not of the run.
        if before(1) == Some(&sep) && digit(before(2)) {
            let prev: Vec<u8> = hay[..s - 1]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            let g0 = s - 1 - prev.len();
            let other = if sep == b' ' { b'-' } else { b' ' };
            let shared =
                prev.len() <= 6 && g0 >= 2 && hay[g0 - 1] == other && hay[g0 - 2].is_ascii_digit();
            // A group that ends a word (`line2`) is not part of the run.
            let ends_word = prev.len() <= 6
                && g0 >= 1
                && (hay[g0 - 1].is_ascii_alphabetic() || hay[g0 - 1] == b'_');
            if !shared && !ends_word {
                return false;
            }
        }
        if after(1) == Some(&sep) && digit(after(2)) {
            // Unless the next group starts a word (`2nd`), the run goes on.
            let next: Vec<u8> = hay[e + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            let after_next = hay.get(e + 1 + next.len());
            let starts_word = next.len() <= 6
                && after_next.is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
            if !starts_word {
                return false;
            }
        }
        groups.concat()
    };
    // Rule 2: stands alone.
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
    if word(after(1)) {
        return false;
    }
    if matches!(after(1), Some(b'.') | Some(b'-') | Some(b'_'))
        && after(2).is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    // Rules 3 and 4.
    network_matches(&digits) && luhn(&digits)
}

/// Every PAN in `hay` as `(start, end)` pairs, in order.
pub fn find_all(hay: &[u8]) -> Vec<(usize, usize)> {
    let mut out = vec![];
    for s in 0..hay.len() {
        for e in s + 13..=(s + 23).min(hay.len()) {
            if is_pan_at(hay, s, e) {
                out.push((s, e));
            }
        }
    }
    out
}
