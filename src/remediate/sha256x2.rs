//! SHA-256 of two equal-length streams at once: the "before" and "after"
//! digests of an in-place scrub, whose bytes differ only where a card was
//! masked (masking never changes a length).
//!
//! One SHA-256 stream is a chain of dependent rounds: the SHA instructions
//! (SHA-NI) have a latency of several cycles and issue far more often than
//! that, so a single stream leaves the unit idle most of the time. Stepping
//! a second, independent stream through the same rounds fills those gaps
//! (the technique of the Linux kernel's `sha256_ni_finup2x` for
//! dm-verity): both digests of a block cost little more than one. Hashing
//! was half the CPU of an in-place text scrub (two digests at ~1.6 GB/s
//! each against a scan at ~2.3 GB/s), which is why this exists.
//!
//! No maintained crate hashes two *streaming* inputs in lockstep (sha2 has
//! one stream; the multi-buffer crates take whole messages), so the kernel
//! is ours: the round and message-schedule steps are those of Intel's
//! SHA extensions reference (one stream alone uses the same steps), and
//! the block function falls back to `sha2::compress256` on CPUs without
//! SHA-NI. Padding and the length
//! trailer are the FIPS 180-4 ones; tests hold every digest to `sha2`'s on
//! random inputs cut at random places.
//!
//! The `unsafe` here is the vector loads/stores and the call into the
//! kernel after runtime detection, as in `detect::runs`.

#![allow(unsafe_code)]

use sha2::digest::generic_array::GenericArray;

/// SHA-256 block size.
const BLOCK: usize = 64;

/// FIPS 180-4 initial hash value.
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One stream's chaining value and the bytes of its unfinished block.
#[derive(Clone)]
struct Lane {
    state: [u32; 8],
    tail: [u8; BLOCK],
}

/// Two SHA-256 digests fed in lockstep: each update gives both the same
/// number of bytes. Until [`Sha256Pair::fork`] only the first stream runs
/// (before and after are the same bytes up to the first masked block).
#[derive(Clone)]
pub struct Sha256Pair {
    first: Lane,
    /// The second stream, once forked.
    second: Option<Lane>,
    /// Bytes fed to each stream so far.
    len: u64,
}

impl Default for Sha256Pair {
    fn default() -> Sha256Pair {
        Sha256Pair::new()
    }
}

impl Sha256Pair {
    /// Both streams empty, not forked.
    pub fn new() -> Sha256Pair {
        Sha256Pair {
            first: Lane {
                state: H0,
                tail: [0; BLOCK],
            },
            second: None,
            len: 0,
        }
    }

    /// Starts the second stream as a copy of the first as it stands.
    pub fn fork(&mut self) {
        if self.second.is_none() {
            self.second = Some(self.first.clone());
        }
    }

    /// Feeds `a` to the first stream and `b` to the second (before the
    /// fork, `b` is ignored). Panics when the lengths differ: the two
    /// streams of a scrub have the same length by construction.
    pub fn update(&mut self, a: &[u8], b: &[u8]) {
        assert_eq!(a.len(), b.len(), "paired streams differ in length");
        let (mut a, mut b) = (a, b);
        let used = (self.len % BLOCK as u64) as usize;
        self.len += a.len() as u64;
        if used > 0 {
            // Complete the pending block of each stream first.
            let take = (BLOCK - used).min(a.len());
            self.first.tail[used..used + take].copy_from_slice(&a[..take]);
            if let Some(s) = &mut self.second {
                s.tail[used..used + take].copy_from_slice(&b[..take]);
            }
            (a, b) = (&a[take..], &b[take..]);
            if used + take < BLOCK {
                return;
            }
            let tail_a = self.first.tail;
            match &mut self.second {
                Some(s) => {
                    let tail_b = s.tail;
                    compress_pair(&mut self.first.state, &mut s.state, &tail_a, &tail_b)
                }
                None => compress_one(&mut self.first.state, &tail_a),
            }
        }
        let whole = a.len() / BLOCK * BLOCK;
        match &mut self.second {
            Some(s) => compress_pair(
                &mut self.first.state,
                &mut s.state,
                &a[..whole],
                &b[..whole],
            ),
            None => compress_one(&mut self.first.state, &a[..whole]),
        }
        let rest = a.len() - whole;
        self.first.tail[..rest].copy_from_slice(&a[whole..]);
        if let Some(s) = &mut self.second {
            s.tail[..rest].copy_from_slice(&b[whole..]);
        }
    }

    /// The digests: the first stream's, and the second's when forked.
    pub fn finish(self) -> ([u8; 32], Option<[u8; 32]>) {
        let len = self.len;
        let first = finish_lane(self.first, len);
        (first, self.second.map(|s| finish_lane(s, len)))
    }
}

/// Padding (0x80, zeros, the bit length big-endian) and the digest bytes.
fn finish_lane(mut lane: Lane, len: u64) -> [u8; 32] {
    let used = (len % BLOCK as u64) as usize;
    let mut pad = [0u8; 2 * BLOCK];
    pad[..used].copy_from_slice(&lane.tail[..used]);
    pad[used] = 0x80;
    let total = if used + 1 + 8 <= BLOCK {
        BLOCK
    } else {
        2 * BLOCK
    };
    pad[total - 8..total].copy_from_slice(&(len.wrapping_mul(8)).to_be_bytes());
    compress_one(&mut lane.state, &pad[..total]);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(lane.state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Compresses whole blocks into one state.
fn compress_one(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert!(blocks.len().is_multiple_of(BLOCK));
    #[cfg(target_arch = "x86_64")]
    {
        if sha_extensions() {
            // SAFETY: the CPU has SHA, SSSE3 and SSE4.1 (just checked);
            // `blocks` is whole blocks.
            unsafe { shani::compress_x1(state, blocks) };
            return;
        }
    }
    compress_portable(state, blocks);
}

/// sha2's block function (portable, or its own SHA-NI), a block per call:
/// the reference the kernels are tested against, and the fallback.
fn compress_portable(state: &mut [u32; 8], blocks: &[u8]) {
    for block in blocks.chunks_exact(BLOCK) {
        sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
    }
}

/// Compresses `a`'s blocks into `sa` and `b`'s into `sb`, interleaved when
/// the CPU has the SHA extensions.
fn compress_pair(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[u8], b: &[u8]) {
    debug_assert!(a.len() == b.len() && a.len().is_multiple_of(BLOCK));
    #[cfg(target_arch = "x86_64")]
    {
        if sha_extensions() {
            // SAFETY: the CPU has SHA, SSSE3 and SSE4.1 (just checked);
            // `a` and `b` are whole blocks of the same length.
            unsafe { shani::compress_x2(sa, sb, a, b) };
            return;
        }
    }
    compress_portable(sa, a);
    compress_portable(sb, b);
}

#[cfg(target_arch = "x86_64")]
fn sha_extensions() -> bool {
    std::is_x86_feature_detected!("sha")
        && std::is_x86_feature_detected!("ssse3")
        && std::is_x86_feature_detected!("sse4.1")
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use std::arch::x86_64::*;

    /// FIPS 180-4 round constants.
    static K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// The state as the SHA instructions keep it: words A, B, E, F and
    /// C, D, G, H.
    #[derive(Clone, Copy)]
    struct Words {
        abef: __m128i,
        cdgh: __m128i,
    }

    /// # Safety
    /// The CPU must support SHA, SSSE3 and SSE4.1; `a` and `b` must be
    /// whole 64-byte blocks, as many in each.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn compress_x2(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[u8], b: &[u8]) {
        let (mut wa, mut wb) = (load(sa), load(sb));
        for (ba, bb) in a.chunks_exact(64).zip(b.chunks_exact(64)) {
            // SAFETY: both are 64 readable bytes.
            unsafe { block_x2(&mut wa, &mut wb, ba.as_ptr(), bb.as_ptr()) };
        }
        store(wa, sa);
        store(wb, sb);
    }

    /// One stream alone (before the fork, and the padding blocks): sha2
    /// would do as well, but a call per block costs its dispatch each time.
    ///
    /// # Safety
    /// The CPU must support SHA, SSSE3 and SSE4.1; `blocks` must be whole
    /// 64-byte blocks.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn compress_x1(state: &mut [u32; 8], blocks: &[u8]) {
        let mut w = load(state);
        for block in blocks.chunks_exact(64) {
            let p = block.as_ptr();
            let saved = w;
            // SAFETY: `p` has 64 readable bytes; round indexes are below 16.
            unsafe {
                let (mut m0, mut m1, mut m2, mut m3) =
                    (message(p, 0), message(p, 1), message(p, 2), message(p, 3));
                macro_rules! group {
                    ($i:expr, $m4:ident, $m3:ident, $m2:ident, $m1:ident) => {
                        if $i >= 4 {
                            $m4 = schedule($m4, $m3, $m2, $m1);
                        }
                        rounds(&mut w, $m4, $i);
                    };
                }
                group!(0, m0, m1, m2, m3);
                group!(1, m1, m2, m3, m0);
                group!(2, m2, m3, m0, m1);
                group!(3, m3, m0, m1, m2);
                group!(4, m0, m1, m2, m3);
                group!(5, m1, m2, m3, m0);
                group!(6, m2, m3, m0, m1);
                group!(7, m3, m0, m1, m2);
                group!(8, m0, m1, m2, m3);
                group!(9, m1, m2, m3, m0);
                group!(10, m2, m3, m0, m1);
                group!(11, m3, m0, m1, m2);
                group!(12, m0, m1, m2, m3);
                group!(13, m1, m2, m3, m0);
                group!(14, m2, m3, m0, m1);
                group!(15, m3, m0, m1, m2);
            }
            w.abef = _mm_add_epi32(w.abef, saved.abef);
            w.cdgh = _mm_add_epi32(w.cdgh, saved.cdgh);
        }
        store(w, state);
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn load(state: &[u32; 8]) -> Words {
        // SAFETY: `state` holds 32 bytes.
        let (abcd, efgh) = unsafe {
            (
                _mm_loadu_si128(state.as_ptr() as *const __m128i),
                _mm_loadu_si128(state.as_ptr().add(4) as *const __m128i),
            )
        };
        let cdab = _mm_shuffle_epi32(abcd, 0xB1);
        let hgfe = _mm_shuffle_epi32(efgh, 0x1B);
        Words {
            abef: _mm_alignr_epi8(cdab, hgfe, 8),
            cdgh: _mm_blend_epi16(hgfe, cdab, 0xF0),
        }
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn store(w: Words, state: &mut [u32; 8]) {
        let feba = _mm_shuffle_epi32(w.abef, 0x1B);
        let dchg = _mm_shuffle_epi32(w.cdgh, 0xB1);
        let abcd = _mm_blend_epi16(feba, dchg, 0xF0);
        let efgh = _mm_alignr_epi8(dchg, feba, 8);
        // SAFETY: `state` holds 32 writable bytes.
        unsafe {
            _mm_storeu_si128(state.as_mut_ptr() as *mut __m128i, abcd);
            _mm_storeu_si128(state.as_mut_ptr().add(4) as *mut __m128i, efgh);
        }
    }

    /// Four message words of a block, big-endian.
    #[inline(always)]
    unsafe fn message(p: *const u8, i: usize) -> __m128i {
        let swap = _mm_set_epi64x(0x0c0d0e0f08090a0b, 0x0405060700010203);
        // SAFETY: the caller's `p` has 64 readable bytes and `i < 4`.
        _mm_shuffle_epi8(
            unsafe { _mm_loadu_si128(p.add(16 * i) as *const __m128i) },
            swap,
        )
    }

    /// Words 4i..4i+4 of the schedule from the four groups before them
    /// (`w[i-4]`, `w[i-3]`, `w[i-2]`, `w[i-1]`).
    #[inline(always)]
    unsafe fn schedule(m4: __m128i, m3: __m128i, m2: __m128i, m1: __m128i) -> __m128i {
        let x = _mm_add_epi32(_mm_sha256msg1_epu32(m4, m3), _mm_alignr_epi8(m1, m2, 4));
        _mm_sha256msg2_epu32(x, m1)
    }

    /// Rounds 4i..4i+4 with message group `m`.
    #[inline(always)]
    unsafe fn rounds(w: &mut Words, m: __m128i, i: usize) {
        // SAFETY: `i < 16`, so K[4i..4i+4] is inside K.
        let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * i) as *const __m128i) };
        let mk = _mm_add_epi32(m, k);
        w.cdgh = _mm_sha256rnds2_epu32(w.cdgh, w.abef, mk);
        w.abef = _mm_sha256rnds2_epu32(w.abef, w.cdgh, _mm_shuffle_epi32(mk, 0x0E));
    }

    /// One block of each stream, their instructions side by side.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn block_x2(wa: &mut Words, wb: &mut Words, pa: *const u8, pb: *const u8) {
        let (sa, sb) = (*wa, *wb);
        // SAFETY: the caller's pointers have 64 readable bytes each.
        // SAFETY (whole body): the caller's pointers have 64 readable bytes
        // each; every round index is below 16. Unrolled by hand so the
        // message groups stay in registers.
        unsafe {
            let (mut a0, mut a1, mut a2, mut a3) = (
                message(pa, 0),
                message(pa, 1),
                message(pa, 2),
                message(pa, 3),
            );
            let (mut b0, mut b1, mut b2, mut b3) = (
                message(pb, 0),
                message(pb, 1),
                message(pb, 2),
                message(pb, 3),
            );
            macro_rules! group {
                ($i:expr, $m4:ident, $m3:ident, $m2:ident, $m1:ident, $n4:ident, $n3:ident, $n2:ident, $n1:ident) => {
                    if $i >= 4 {
                        $m4 = schedule($m4, $m3, $m2, $m1);
                        $n4 = schedule($n4, $n3, $n2, $n1);
                    }
                    rounds(wa, $m4, $i);
                    rounds(wb, $n4, $i);
                };
            }
            group!(0, a0, a1, a2, a3, b0, b1, b2, b3);
            group!(1, a1, a2, a3, a0, b1, b2, b3, b0);
            group!(2, a2, a3, a0, a1, b2, b3, b0, b1);
            group!(3, a3, a0, a1, a2, b3, b0, b1, b2);
            group!(4, a0, a1, a2, a3, b0, b1, b2, b3);
            group!(5, a1, a2, a3, a0, b1, b2, b3, b0);
            group!(6, a2, a3, a0, a1, b2, b3, b0, b1);
            group!(7, a3, a0, a1, a2, b3, b0, b1, b2);
            group!(8, a0, a1, a2, a3, b0, b1, b2, b3);
            group!(9, a1, a2, a3, a0, b1, b2, b3, b0);
            group!(10, a2, a3, a0, a1, b2, b3, b0, b1);
            group!(11, a3, a0, a1, a2, b3, b0, b1, b2);
            group!(12, a0, a1, a2, a3, b0, b1, b2, b3);
            group!(13, a1, a2, a3, a0, b1, b2, b3, b0);
            group!(14, a2, a3, a0, a1, b2, b3, b0, b1);
            group!(15, a3, a0, a1, a2, b3, b0, b1, b2);
        }
        wa.abef = _mm_add_epi32(wa.abef, sa.abef);
        wa.cdgh = _mm_add_epi32(wa.cdgh, sa.cdgh);
        wb.abef = _mm_add_epi32(wb.abef, sb.abef);
        wb.cdgh = _mm_add_epi32(wb.cdgh, sb.cdgh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn sha(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn known_answers() {
        // FIPS 180-4 examples: "abc" and the two-block message.
        let (d, _) = {
            let mut p = Sha256Pair::new();
            p.update(b"abc", b"xyz");
            p.finish()
        };
        assert_eq!(
            super::super::digest::hex(&d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let mut p = Sha256Pair::new();
        p.fork();
        p.update(msg, msg);
        let (a, b) = p.finish();
        assert_eq!(a, sha(msg));
        assert_eq!(b, Some(sha(msg)));
    }

    #[test]
    fn every_length_around_the_padding_edges() {
        let a: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let b: Vec<u8> = (0..300u32).map(|i| (i * 13 + 1) as u8).collect();
        for n in 0..a.len() {
            let mut p = Sha256Pair::new();
            p.fork();
            p.update(&a[..n], &b[..n]);
            assert_eq!(p.finish(), (sha(&a[..n]), Some(sha(&b[..n]))), "length {n}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn kernels_equal_the_reference_block_function() {
        if !sha_extensions() {
            // Then the reference is what runs: nothing else to compare.
            return;
        }
        let a: Vec<u8> = (0..64 * 37u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let b: Vec<u8> = a.iter().map(|x| x ^ 0x5a).collect();
        let start = [1u32, 2, 3, 4, 5, 6, 7, 0xffff_ffff];
        let (mut want_a, mut want_b) = (start, H0);
        compress_portable(&mut want_a, &a);
        compress_portable(&mut want_b, &b);
        let (mut one, mut xa, mut xb) = (start, start, H0);
        // SAFETY: the CPU has the extensions (checked above).
        unsafe {
            shani::compress_x1(&mut one, &a);
            shani::compress_x2(&mut xa, &mut xb, &a, &b);
        }
        assert_eq!(one, want_a);
        assert_eq!((xa, xb), (want_a, want_b));
    }

    proptest! {
        #[test]
        fn equals_sha2_for_any_cuts_and_fork_point(
            a in proptest::collection::vec(any::<u8>(), 0..5000),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..20),
            cuts in proptest::collection::vec(0usize..700, 0..12),
            fork_after in 0usize..14,
        ) {
            let mut b = a.clone();
            for (at, v) in flips {
                if !b.is_empty() {
                    let n = b.len();
                    b[at % n] = v;
                }
            }
            let mut p = Sha256Pair::new();
            let mut at = 0usize;
            let mut fed_first_only = Vec::new();
            for (k, cut) in cuts.iter().chain(std::iter::once(&usize::MAX)).enumerate() {
                if k == fork_after {
                    p.fork();
                }
                let end = at.saturating_add(*cut).min(a.len());
                if k < fork_after {
                    fed_first_only.extend_from_slice(&a[at..end]);
                }
                p.update(&a[at..end], &b[at..end]);
                at = end;
            }
            let (first, second) = p.finish();
            prop_assert_eq!(first, sha(&a));
            match second {
                // The second stream is the first's bytes up to the fork,
                // then its own.
                Some(d) => {
                    let mut want = fed_first_only.clone();
                    want.extend_from_slice(&b[fed_first_only.len()..]);
                    prop_assert_eq!(d, sha(&want));
                }
                None => prop_assert!(fork_after > cuts.len()),
            }
        }
    }
}
