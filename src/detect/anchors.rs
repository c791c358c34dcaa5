//! Keyword anchors for card verification codes: the few places in a buffer
//! where a CVV keyword may begin, found at memory speed.
//!
//! Every keyword of [`super::cvv`] contains one of `cv`, `cid`, `csc`,
//! `car`, `cur` (case-insensitive): `cv`v, `cid`, `csc`, se`cur`ity,
//! `car`d_verification. Looking for those costs a dozen vector
//! instructions per 32 bytes, far less than a general multi-pattern search
//! (an Aho-Corasick automaton ran at 0.3 GB/s case-insensitively on server
//! logs, its Teddy packed searcher at 1.5 GB/s with the case variants
//! spelled out); the hits are rare in real text (about one in 1,900 bytes
//! of server logs) and each is confirmed by the keyword grammar in scalar
//! code.
//!
//! Like `records` and `runs`, this module has `unsafe` only for vector loads, and the call into
//! the AVX2 kernel after runtime detection. The scalar kernel is the
//! reference and a property test holds both to it.

#![allow(unsafe_code)]

/// `b | 0x20` lowers ASCII letters; for the letters used here no other byte
/// folds onto them (`0x43 | 0x20 == 0x63` and nothing else gives `0x63`).
const FOLD: u8 = 0x20;

/// True when a keyword anchor starts at `hay[i]` (scalar reference).
#[inline]
pub fn is_anchor(hay: &[u8], i: usize) -> bool {
    let at = |k: usize| hay.get(i + k).map(|b| b | FOLD);
    if at(0) != Some(b'c') {
        return false;
    }
    match at(1) {
        Some(b'v') => true,
        Some(b'i') => at(2) == Some(b'd'),
        Some(b's') => at(2) == Some(b'c'),
        Some(b'a' | b'u') => at(2) == Some(b'r'),
        _ => false,
    }
}

/// Calls `f` with every anchor position in `[lo, hi)`, in order. Bytes after
/// `hi` (up to two) are looked at when present.
pub fn for_each_anchor(hay: &[u8], lo: usize, hi: usize, f: &mut dyn FnMut(usize)) {
    let hi = hi.min(hay.len());
    if lo >= hi {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            let done = unsafe { avx2::scan(hay, lo, hi, f) };
            return scalar(hay, done, hi, f);
        }
    }
    scalar(hay, lo, hi, f)
}

fn scalar(hay: &[u8], lo: usize, hi: usize, f: &mut dyn FnMut(usize)) {
    for i in lo..hi {
        if is_anchor(hay, i) {
            f(i);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Scans 32 positions at a time from `lo` while three overlapping
    /// 32-byte loads stay inside `hay` and below `hi`; returns where it
    /// stopped (the caller finishes with the scalar kernel).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn scan(hay: &[u8], lo: usize, hi: usize, f: &mut dyn FnMut(usize)) -> usize {
        let fold = _mm256_set1_epi8(super::FOLD as i8);
        // Set membership by one table lookup: the letters allowed second
        // (`v i s u a`) have distinct low nibbles, so a byte is in the set
        // when it equals the table entry at its own low nibble (entries
        // not in use are 0, which no folded byte equals). A second table,
        // indexed by the second letter, gives the third letter it needs
        // (`d c r r`; none after `v`).
        let second_table = nibble_table(b"visua", &[0; 5]);
        let third_table = nibble_table(b"isua", b"dcrr");
        let c = _mm256_set1_epi8(b'c' as i8);
        let v = _mm256_set1_epi8(b'v' as i8);
        // Hits among the 32 positions from `at`.
        // SAFETY (for callers below): at + 34 <= hay.len().
        let hits_at = |at: usize| -> u32 {
            let p = hay.as_ptr();
            // SAFETY: the three unaligned 32-byte loads read
            // hay[at .. at + 34], inside `hay` by the loop conditions.
            let (b0, b1, b2) = unsafe {
                (
                    _mm256_loadu_si256(p.add(at) as *const __m256i),
                    _mm256_loadu_si256(p.add(at + 1) as *const __m256i),
                    _mm256_loadu_si256(p.add(at + 2) as *const __m256i),
                )
            };
            let f0 = _mm256_or_si256(b0, fold);
            let f1 = _mm256_or_si256(b1, fold);
            let f2 = _mm256_or_si256(b2, fold);
            let second = _mm256_cmpeq_epi8(f1, _mm256_shuffle_epi8(second_table, f1));
            let third = _mm256_or_si256(
                _mm256_cmpeq_epi8(f2, _mm256_shuffle_epi8(third_table, f1)),
                _mm256_cmpeq_epi8(f1, v),
            );
            let hits = _mm256_and_si256(_mm256_cmpeq_epi8(f0, c), _mm256_and_si256(second, third));
            _mm256_movemask_epi8(hits) as u32
        };
        let mut i = lo;
        // Two blocks per round: one branch for 64 positions.
        while i + 64 <= hi && i + 66 <= hay.len() {
            let mut m = hits_at(i) as u64 | (hits_at(i + 32) as u64) << 32;
            while m != 0 {
                f(i + m.trailing_zeros() as usize);
                m &= m - 1;
            }
            i += 64;
        }
        while i + 32 <= hi && i + 34 <= hay.len() {
            let mut m = hits_at(i);
            while m != 0 {
                f(i + m.trailing_zeros() as usize);
                m &= m - 1;
            }
            i += 32;
        }
        i
    }

    /// A `pshufb` table (both 128-bit lanes) mapping the low nibble of
    /// each of `keys` to the byte at the same place in `values` (to the key
    /// itself where `values` holds 0).
    #[target_feature(enable = "avx2")]
    fn nibble_table(keys: &[u8], values: &[u8]) -> __m256i {
        let mut t = [0u8; 32];
        for (&k, &v) in keys.iter().zip(values) {
            let v = if v == 0 { k } else { v };
            t[(k & 0x0f) as usize] = v;
            t[16 + (k & 0x0f) as usize] = v;
        }
        _mm256_setr_epi8(
            t[0] as i8,
            t[1] as i8,
            t[2] as i8,
            t[3] as i8,
            t[4] as i8,
            t[5] as i8,
            t[6] as i8,
            t[7] as i8,
            t[8] as i8,
            t[9] as i8,
            t[10] as i8,
            t[11] as i8,
            t[12] as i8,
            t[13] as i8,
            t[14] as i8,
            t[15] as i8,
            t[16] as i8,
            t[17] as i8,
            t[18] as i8,
            t[19] as i8,
            t[20] as i8,
            t[21] as i8,
            t[22] as i8,
            t[23] as i8,
            t[24] as i8,
            t[25] as i8,
            t[26] as i8,
            t[27] as i8,
            t[28] as i8,
            t[29] as i8,
            t[30] as i8,
            t[31] as i8,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn anchors(hay: &[u8], lo: usize, hi: usize) -> Vec<usize> {
        let mut v = Vec::new();
        for_each_anchor(hay, lo, hi, &mut |i| v.push(i));
        v
    }

    #[test]
    fn every_keyword_has_an_anchor() {
        for kw in super::super::cvv::KEYWORDS {
            let hay = kw.as_bytes();
            assert!(!anchors(hay, 0, hay.len()).is_empty(), "{kw} has no anchor");
        }
        assert_eq!(anchors(b"xx CVV2=123 security_code", 0, 25), vec![3, 14]);
        assert!(anchors(b"connection closed at 12:00", 0, 26).is_empty());
    }

    proptest! {
        #[test]
        fn vector_kernel_matches_scalar(
            hay in proptest::collection::vec(
                prop_oneof![Just(b'c'), Just(b'C'), Just(b'v'), Just(b'A'), Just(b'r'),
                            Just(b'u'), Just(b'i'), Just(b's'), Just(b'd'), Just(b'x'), Just(0xe3u8)],
                0..200),
            lo in 0usize..40,
            cut in 0usize..40,
        ) {
            let hi = hay.len().saturating_sub(cut);
            let want: Vec<usize> = (lo..hi).filter(|&i| is_anchor(&hay, i)).collect();
            prop_assert_eq!(anchors(&hay, lo, hi), want);
        }
    }
}
