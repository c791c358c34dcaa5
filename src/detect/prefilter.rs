//! Prefilter: skip bytes that cannot be part of a PAN.
//!
//! Every PAN is at least 13 bytes long and every byte of it is a digit or a
//! single space/dash between two digits (an "E-byte"). So a byte that is not
//! an E-byte rules out every PAN covering it, and sampling one byte in 13 is
//! enough to find every region that may hold a PAN: any 13 consecutive bytes
//! contain exactly one sample. On prose this touches ~8% of the bytes; on
//! logs a sample that lands on a digit grows into its maximal E-run
//! ("chain"), and only chains of 13+ bytes reach candidate assembly.
//!
//! Contract: the prefilter may report chains that hold no PAN (false
//! positives), never miss a chain that holds one (no false negatives).
//! `tests::never_misses_a_pan` and the detector's oracle property test check
//! it.

/// Shortest PAN in bytes (13 contiguous digits).
pub const MIN_SPAN: usize = 13;

/// Byte classes: 0 = cannot be in a PAN, 1 = digit, 2 = separator.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = 1;
        b += 1;
    }
    t[b' ' as usize] = 2;
    t[b'-' as usize] = 2;
    t
};

#[inline(always)]
pub(crate) fn is_digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

/// True when `hay[i]` is a digit or a separator between two digits.
#[inline(always)]
fn is_e(hay: &[u8], i: usize) -> bool {
    match CLASS[hay[i] as usize] {
        1 => true,
        2 => i > 0 && i + 1 < hay.len() && is_digit(hay[i - 1]) && is_digit(hay[i + 1]),
        _ => false,
    }
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
    let mut i = lo + MIN_SPAN - 1;
    while i < stop {
        // Fast path: most sampled bytes are not digits or separators.
        if CLASS[hay[i] as usize] == 0 || !is_e(hay, i) {
            i += MIN_SPAN;
            continue;
        }
        let mut a = i;
        while a > lo && is_e(hay, a - 1) {
            a -= 1;
        }
        let mut b = i + 1;
        while b < n && is_e(hay, b) {
            b += 1;
        }
        if b - a >= MIN_SPAN {
            on_chain(a, b);
        }
        // hay[b] is not an E-byte, so no PAN covers it: the next PAN starts
        // at b + 1 or later and holds the sample at b + 13.
        i = b + MIN_SPAN;
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
