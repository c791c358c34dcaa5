//! Prefilter: skip bytes that cannot be part of a PAN.
//!
//! Every PAN is at least 13 bytes long and every byte of it is a digit or a
//! separator byte between two digits (an "E-byte"): a space, dash or plus,
//! or a byte of a `%20`/`%2D`/`%2d` encoding (`%` follows a digit and
//! precedes the `2`; `D`/`d` follows the `2` and precedes a digit). So a byte that is not
//! an E-byte rules out every PAN covering it, and sampling one byte in 13 is
//! enough to find every region that may hold a PAN: any 13 consecutive bytes
//! contain exactly one sample. Samples are taken only where [`super::runs`]
//! finds 13 bytes in a row that could all be E-bytes (64 bytes classified
//! at a time), so on prose and logs most bytes are never sampled; a sample
//! that lands on a digit grows into its maximal E-run ("chain"), and only
//! chains of 13+ bytes reach candidate assembly.
//!
//! Contract: the prefilter may report chains that hold no PAN (false
//! positives), never miss a chain that holds one (no false negatives).
//! `tests::never_misses_a_pan` and the detector's oracle property test check
//! it.

use super::{runs, separators};

/// Shortest PAN in bytes (13 contiguous digits).
pub const MIN_SPAN: usize = 13;

/// Byte classes: 0 = cannot be in a PAN, 1 = digit, 2 = one-byte separator,
/// 3 = a byte of a three-byte separator (`%`, `D`, `d`), which is an E-byte
/// only inside a `%20`/`%2D`/`%2d` between two digits (the check keeps hex
/// ids such as `3d4f` from growing chains).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = 1;
        b += 1;
    }
    t[b' ' as usize] = 2;
    t[b'-' as usize] = 2;
    t[b'+' as usize] = 2;
    t[b'%' as usize] = 3;
    t[b'D' as usize] = 3;
    t[b'd' as usize] = 3;
    t
};

#[inline(always)]
pub(crate) fn is_digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

/// Where the next digit run starts when the separator at `hay[b]` (the
/// end of a digit run) joins it to one: a one-byte separator, a
/// three-byte one, or the rest of a `%2D` whose `2` ended the run.
#[inline(always)]
fn next_run_after(hay: &[u8], b: usize) -> Option<usize> {
    let c = *hay.get(b)?;
    let next = match CLASS[c as usize] {
        2 => b + 1,
        3 if c == b'%' => b + separators::sep_at(hay, b).filter(|s| s.len() == 3)?.len(),
        3 if b >= 2 && hay[b - 2] == b'%' && hay[b - 1] == b'2' => b + 1,
        _ => return None,
    };
    hay.get(next).is_some_and(|&d| is_digit(d)).then_some(next)
}

/// Where the previous digit run ends when a separator joins it to the
/// digit run starting at `a`: a one-byte separator, a `%2D` whose `D`
/// precedes the run, or a three-byte separator whose `2` opens it.
#[inline(always)]
fn previous_run_before(hay: &[u8], a: usize) -> Option<usize> {
    if a < 2 {
        return None;
    }
    let c = hay[a - 1];
    let end = match CLASS[c as usize] {
        2 => a - 1,
        3 if c == b'%' && separators::sep_at(hay, a - 1).is_some() => a - 1,
        3 if c != b'%' && a >= 4 && hay[a - 3] == b'%' && hay[a - 2] == b'2' => a - 3,
        _ => return None,
    };
    (end >= 1 && is_digit(hay[end - 1])).then_some(end)
}

/// High bit set in each byte of `word` that is not an ASCII digit (SWAR:
/// after xor with '0' a digit is a byte below 10; no carry crosses bytes
/// because `(b & 0x7f) + 0x76 < 0x100`).
#[inline(always)]
fn nondigit_mask(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ADD: u64 = 0x7676_7676_7676_7676; // 0x80 - 10 per byte
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let t = word ^ 0x3030_3030_3030_3030;
    (((t & LOW7) + ADD) | t) & HIGH
}

/// First index at or after `i` that is not a digit (or `hay.len()`).
#[inline(always)]
pub fn digits_end(hay: &[u8], mut i: usize) -> usize {
    while i + 8 <= hay.len() {
        let w = u64::from_le_bytes(hay[i..i + 8].try_into().unwrap());
        let m = nondigit_mask(w);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < hay.len() && is_digit(hay[i]) {
        i += 1;
    }
    i
}

/// Smallest `j >= lo` such that `hay[j..i]` is all digits.
#[inline(always)]
pub fn digits_start(hay: &[u8], lo: usize, mut i: usize) -> usize {
    while i >= lo + 8 {
        let w = u64::from_le_bytes(hay[i - 8..i].try_into().unwrap());
        let m = nondigit_mask(w);
        if m != 0 {
            return i - (m.leading_zeros() / 8) as usize;
        }
        i -= 8;
    }
    while i > lo && is_digit(hay[i - 1]) {
        i -= 1;
    }
    i
}

/// Calls `on_chain(a, b)` for every maximal run `hay[a..b]` of E-bytes that
/// could hold a PAN starting in `lo..hi`: `a >= lo` (the run is clipped at
/// `lo`), `b - a >= MIN_SPAN`. Chains are reported in increasing order and do
/// not overlap.
#[inline]
pub fn for_each_chain(hay: &[u8], lo: usize, hi: usize, mut on_chain: impl FnMut(usize, usize)) {
    let n = hay.len();
    // A PAN starting at s is found by the sample inside its first 13 bytes,
    // so samples beyond hi + 12 can only find PANs that start at hi or later.
    let stop = n.min(hi.saturating_add(MIN_SPAN - 1));
    // A sample at `i` finds every PAN starting in `i - 12..=i`; every PAN
    // starting at or after `from` is still to be found. `runs` skips to
    // the first 13 bytes that could all belong to one, and the byte that
    // ends them is sampled.
    let mut from = lo;
    let mut starts = runs::Starts::new(hay, lo, stop.saturating_sub(MIN_SPAN - 1));
    while let Some(start) = starts.next_from(from) {
        let i = start + MIN_SPAN - 1;
        let (mut a, mut b) = match CLASS[hay[i] as usize] {
            0 => {
                from = i + 1;
                continue;
            }
            1 => (digits_start(hay, lo, i), digits_end(hay, i)),
            2 => {
                // A separator counts only between two digits.
                if !(i + 1 < n && is_digit(hay[i - 1]) && is_digit(hay[i + 1])) {
                    from = i + 1;
                    continue;
                }
                (digits_start(hay, lo, i - 1), digits_end(hay, i + 1))
            }
            _ => {
                // `%`, `D` or `d`: only inside a three-byte separator
                // between two digits.
                let at = if hay[i] == b'%' { i } else { i - 2 };
                if !(is_digit(hay[at - 1]) && hay[at] == b'%' && next_run_after(hay, at).is_some())
                {
                    from = i + 1;
                    continue;
                }
                (digits_start(hay, lo, at), at)
            }
        };
        // Grow over separators joining digit groups.
        while a > lo {
            match previous_run_before(hay, a) {
                Some(end) => a = digits_start(hay, lo, end.max(lo)),
                None => break,
            }
        }
        while let Some(next) = next_run_after(hay, b) {
            b = digits_end(hay, next);
        }
        // A PAN has 13 digits or more; a chain with fewer digit bytes
        // (a date and hour, `2015-10-18 18`) holds none. (The `2` and `0`
        // of a `%20` count here though they are no PAN digits: more
        // chains pass, never fewer.)
        if b - a >= MIN_SPAN && hay[a..b].iter().filter(|&&c| is_digit(c)).count() >= MIN_SPAN {
            on_chain(a, b);
        }
        // hay[b] is not an E-byte, so no PAN covers it: the next PAN starts
        // at b + 1 or later.
        from = b + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chains(hay: &[u8]) -> Vec<(usize, usize)> {
        let mut v = vec![];
        for_each_chain(hay, 0, hay.len(), |a, b| v.push((a, b)));
        v
    }

    #[test]
    fn finds_contiguous_and_separated_runs() {
        let hay = b"xx 4111111111111111 yy 4111 1111 1111 1111 zz";
        assert_eq!(chains(hay), vec![(3, 19), (23, 42)]);
    }

    #[test]
    fn short_runs_and_prose_yield_nothing() {
        assert!(chains(b"the quick brown fox jumps over the lazy dog 12 34").is_empty());
        assert!(chains(b"2015-10-18T18:01:47,978 INFO").is_empty());
    }

    #[test]
    fn never_misses_a_pan() {
        // Place a 13-byte digit run at every offset of a buffer of noise.
        for pad in 0..40 {
            let mut hay = vec![b'a'; pad];
            hay.extend_from_slice(b"4111111111119");
            hay.extend(std::iter::repeat_n(b' ', 40 - pad));
            let c = chains(&hay);
            assert_eq!(c, vec![(pad, pad + 13)], "pad {pad}");
        }
    }

    #[test]
    fn swar_digit_runs_match_bytewise() {
        let hay = b"ab0123456789012345678x9 12/34567890123";
        for i in 0..hay.len() {
            let mut j = i;
            while j < hay.len() && hay[j].is_ascii_digit() {
                j += 1;
            }
            assert_eq!(digits_end(hay, i), j, "end from {i}");
            if i >= 3 {
                let mut k = i;
                while k > 3 && hay[k - 1].is_ascii_digit() {
                    k -= 1;
                }
                assert_eq!(digits_start(hay, 3, i), k, "start from {i}");
            }
        }
        // Bytes >= 0x80 are not digits.
        assert_eq!(digits_end(b"12345678\xb0\xb1", 0), 8);
        assert_eq!(digits_end(b"\xb01234567890", 0), 0);
    }

    #[test]
    fn respects_lo_and_hi() {
        let hay = b"4111111111111111 and 4111111111111111";
        let mut v = vec![];
        for_each_chain(hay, 21, hay.len(), |a, b| v.push((a, b)));
        assert_eq!(v, vec![(21, 37)]);
        let mut v = vec![];
        for_each_chain(hay, 0, 5, |a, b| v.push((a, b)));
        assert_eq!(v, vec![(0, 16)]);
    }
}
