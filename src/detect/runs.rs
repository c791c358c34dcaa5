//! Where a PAN may start: the first place from which 13 bytes in a row
//! could all belong to one (and hold 13 digits), found 64 bytes at a time.
//!
//! [`super::prefilter`] grows a chain from a sampled byte and checks it
//! exactly; this module tells it where sampling is worth it. A byte *may
//! belong* to a PAN (a loose E-byte) when it is a digit, a one-byte
//! separator (space, dash, plus) between two digits, a `%` after a digit,
//! or a `D`/`d` before a digit. Every byte of a real chain is one (a
//! `%2D`'s `%` follows a digit and its `D` precedes one); the reverse need
//! not hold, since the prefilter decides exactly. So the first 13 bytes of
//! every PAN are a run of 13 loose E-bytes, and the first such run at or
//! after `from` is the first place a PAN may start.
//!
//! Server logs are full of short digit groups (timestamps, ports, process
//! ids) that a sample one byte in 13 keeps landing on. Runs of 13 loose
//! bytes are fewer (about four per KB of loghub), mostly a date and hour
//! (`2015-10-18 18`, 10 digits); since every digit of a PAN starting at
//! `s` lies in the run of loose bytes from `s`, a start whose run holds
//! fewer than 13 digits is skipped whole. Classifying 64 bytes into four
//! bit masks takes about twenty vector instructions, and the run test is a
//! handful of shifts and ANDs on the masks (`w & w >> 1`, then `>> 2`,
//! `>> 4`, `>> 5`: 2, 4, 8, 13 bytes).
//!
//! The masks are computed eight blocks per call into the kernel and kept
//! while the prefilter works through them, so a sample costs a bit test,
//! not a new classification. A buffer shorter than a few blocks, or a CPU
//! without AVX2, is sampled everywhere (every position is a possible
//! start), which is what the prefilter did before this module.
//!
//! Like `anchors` and `records`, this module has `unsafe` for vector loads
//! and the call into the AVX2 kernel after runtime detection, and nothing
//! else. A property test holds the kernel to a byte-by-byte definition.

#![allow(unsafe_code)]

#[cfg(test)]
use super::prefilter::is_digit;
use super::prefilter::MIN_SPAN;

/// Bytes classified at a time (one bit each in a `u64`).
const BLOCK: usize = 64;

/// Blocks classified per call into the kernel.
const BATCH: usize = 8;

/// Buffers shorter than this are sampled everywhere: classifying the
/// blocks around a short cell would cost more than sampling it.
const DENSE_BELOW: usize = 4 * BLOCK;

/// A 64-byte block as bit masks, bit `i` for byte `i`.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Classes {
    digit: u64,
    /// Space, dash, plus.
    sep: u64,
    /// `%`.
    pct: u64,
    /// `D` or `d`.
    dee: u64,
}

/// The kernel's state between batches: the block at `at` and the one after
/// it classified, the loose E-bytes of the first known.
#[derive(Clone, Copy, Default)]
struct Pipe {
    at: usize,
    cur: Classes,
    next: Classes,
    cur_loose: u64,
}

/// Where PANs may start in one buffer: positions handed out in increasing
/// order by [`Starts::next_from`].
pub struct Starts<'h> {
    hay: &'h [u8],
    end: usize,
    /// Every position is a possible start (short buffer, no AVX2).
    dense: bool,
    pipe: Pipe,
    /// The `filled` blocks before `pipe.at`.
    batch: Batch,
    filled: usize,
}

/// What the kernel hands back for a batch of blocks, one mask per block.
#[derive(Clone, Copy, Default)]
struct Batch {
    /// Where 13 loose E-bytes in a row start.
    starts: [u64; BATCH],
    /// The loose E-bytes.
    loose: [u64; BATCH],
    /// The digits.
    digit: [u64; BATCH],
}

impl<'h> Starts<'h> {
    /// Possible starts in `from..end` of `hay`, where `end + 13 <= hay.len()`
    /// need not hold (runs never extend past the buffer).
    pub fn new(hay: &'h [u8], from: usize, end: usize) -> Starts<'h> {
        let end = end.min(hay.len());
        let dense = end.saturating_sub(from) < DENSE_BELOW || !vector_kernel();
        Starts {
            hay,
            end,
            dense,
            pipe: Pipe {
                at: from,
                ..Pipe::default()
            },
            batch: Batch::default(),
            filled: 0,
        }
        .started(from)
    }

    fn started(mut self, at: usize) -> Starts<'h> {
        if !self.dense {
            self.seek(at);
        }
        self
    }

    /// The next possible start in `from..end`: an `s` such that
    /// `hay[s..s + 13]` are all loose E-bytes, no earlier than the first
    /// such `s` and no later than the first whose run of loose bytes also
    /// holds 13 digits (a run going past the blocks classified is handed
    /// out uncounted). When dense, `from` itself. `from` must not decrease
    /// between calls.
    pub fn next_from(&mut self, from: usize) -> Option<usize> {
        if from >= self.end {
            return None;
        }
        if self.dense {
            return Some(from);
        }
        let mut from = from;
        loop {
            let (first, described) = (self.first(), self.pipe.at);
            if from < first || from >= described {
                if from >= self.end {
                    return None;
                }
                // Going on costs a classification per block skipped;
                // starting afresh costs two.
                if from >= self.pipe.at + 2 * BLOCK || from < self.pipe.at {
                    self.seek(from);
                }
                self.filled = self.fill();
                continue;
            }
            let Some(s) = self.first_start(from) else {
                from = described;
                continue;
            };
            if s >= self.end {
                return None;
            }
            // Every chain the prefilter can grow from `s` lies in the run
            // of loose E-bytes from `s`: with fewer than 13 digits in it
            // (a date and hour), no PAN starts there, and the run is
            // skipped whole.
            match self.run_from(s) {
                Some((end, digits)) if digits < MIN_SPAN => from = end,
                _ => return Some(s),
            }
        }
    }

    /// Where the blocks described start.
    fn first(&self) -> usize {
        self.pipe.at - self.filled * BLOCK
    }

    /// The first run start at or after `from` among the blocks described.
    fn first_start(&self, from: usize) -> Option<usize> {
        let first = self.first();
        let k = (from - first) / BLOCK;
        let mut mask = self.batch.starts[k] & (!0u64 << ((from - first) % BLOCK));
        for block in k..self.filled {
            if block > k {
                mask = self.batch.starts[block];
            }
            if mask != 0 {
                return Some(first + block * BLOCK + mask.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Where the run of loose E-bytes from `s` ends and how many digits it
    /// holds; `None` when it goes on past the blocks described.
    fn run_from(&self, s: usize) -> Option<(usize, usize)> {
        let first = self.first();
        let (mut k, mut bit) = ((s - first) / BLOCK, (s - first) % BLOCK);
        let mut digits = 0;
        loop {
            // Shifting in zeros from the top bounds the run by the block.
            let ones = (!(self.batch.loose[k] >> bit)).trailing_zeros() as usize;
            let span = if ones >= 64 { !0 } else { (1u64 << ones) - 1 };
            digits += ((self.batch.digit[k] >> bit) & span).count_ones() as usize;
            if bit + ones < BLOCK {
                return Some((first + k * BLOCK + bit + ones, digits));
            }
            k += 1;
            bit = 0;
            if k == self.filled {
                return None;
            }
        }
    }

    fn seek(&mut self, at: usize) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: not dense, so the CPU supports AVX2 (`vector_kernel`).
        {
            self.pipe = unsafe { avx2::start(self.hay, at) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = at;
        self.filled = 0;
    }

    fn fill(&mut self) -> usize {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: not dense, so the CPU supports AVX2 (`vector_kernel`).
        {
            unsafe { avx2::fill(self.hay, self.end, &mut self.pipe, &mut self.batch) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        0
    }
}

/// Whether this CPU runs the vector kernel.
fn vector_kernel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The loose E-bytes of a block, given whether the byte before it
/// (`before`, 0 or 1) and the byte after it (`after`) are digits.
#[inline(always)]
fn loose(before: u64, c: Classes, after: u64) -> u64 {
    let digit_before = (c.digit << 1) | before;
    let digit_after = (c.digit >> 1) | (after << 63);
    c.digit | (c.sep & digit_before & digit_after) | (c.pct & digit_before) | (c.dee & digit_after)
}

/// Bit `i` set where bits `i..i + 13` of `lo` followed by `hi` are all set,
/// for `i` in `0..64`.
#[inline(always)]
fn runs_of_13(lo: u64, hi: u64) -> u64 {
    let w = u128::from(lo) | (u128::from(hi) << 64);
    let mut r = w & (w >> 1); // 2 in a row
    r &= r >> 2; // 4
    r &= r >> 4; // 8
    r &= r >> 5; // 13
    r as u64
}

/// The 64 bytes from `at`, zeros past the end of `hay`.
#[inline(always)]
fn padded(hay: &[u8], at: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    if at < hay.len() {
        let n = (hay.len() - at).min(BLOCK);
        block[..n].copy_from_slice(&hay[at..at + n]);
    }
    block
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{loose, padded, runs_of_13, Batch, Classes, Pipe, BATCH, BLOCK};
    use std::arch::x86_64::*;

    /// A pipe whose next batch starts at `at`.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn start(hay: &[u8], at: usize) -> Pipe {
        let before = u64::from(
            at > 0
                && hay
                    .get(at - 1)
                    .is_some_and(|&b| super::super::prefilter::is_digit(b)),
        );
        let cur = classify_at(hay, at);
        let next = classify_at(hay, at + BLOCK);
        Pipe {
            at,
            cur,
            next,
            cur_loose: loose(before, cur, next.digit & 1),
        }
    }

    /// Writes the run starts of up to [`BATCH`] blocks from `pipe.at` (those
    /// starting before `end`) and moves the pipe past them; how many.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn fill(hay: &[u8], end: usize, pipe: &mut Pipe, out: &mut Batch) -> usize {
        let mut p = *pipe;
        let mut k = 0;
        while k < BATCH && p.at < end {
            let after = classify_at(hay, p.at + 2 * BLOCK);
            let next_loose = loose(p.cur.digit >> 63, p.next, after.digit & 1);
            out.starts[k] = runs_of_13(p.cur_loose, next_loose);
            out.loose[k] = p.cur_loose;
            out.digit[k] = p.cur.digit;
            p = Pipe {
                at: p.at + BLOCK,
                cur: p.next,
                next: after,
                cur_loose: next_loose,
            };
            k += 1;
        }
        *pipe = p;
        k
    }

    /// The classes of the 64 bytes from `at` (zeros past the end).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn classify_at(hay: &[u8], at: usize) -> Classes {
        if at + BLOCK <= hay.len() {
            // SAFETY: hay[at .. at + 64] is inside `hay`.
            unsafe { classify(hay.as_ptr().add(at)) }
        } else {
            let block = padded(hay, at);
            // SAFETY: `block` holds 64 bytes.
            unsafe { classify(block.as_ptr()) }
        }
    }

    /// Classifies the 64 bytes at `p`.
    ///
    /// # Safety
    /// `p` must be valid for reading 64 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn classify(p: *const u8) -> Classes {
        // SAFETY: two unaligned 32-byte loads of the 64 readable bytes.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(p as *const __m256i),
                _mm256_loadu_si256(p.add(32) as *const __m256i),
            )
        };
        let (l, h) = (masks(lo), masks(hi));
        Classes {
            digit: join(l[0], h[0]),
            sep: join(l[1], h[1]),
            pct: join(l[2], h[2]),
            dee: join(l[3], h[3]),
        }
    }

    #[inline(always)]
    fn join(lo: u32, hi: u32) -> u64 {
        u64::from(lo) | (u64::from(hi) << 32)
    }

    /// Digit, separator, `%` and `D`/`d` masks of 32 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn masks(v: __m256i) -> [u32; 4] {
        // A digit is a byte whose distance above '0', unsigned, is below
        // 10: min(t, 9) == t.
        let t = _mm256_sub_epi8(v, _mm256_set1_epi8(b'0' as i8));
        let digit = _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(9)), t);
        let space = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b' ' as i8));
        let dash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'-' as i8));
        let plus = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'+' as i8));
        let sep = _mm256_or_si256(_mm256_or_si256(space, dash), plus);
        let pct = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'%' as i8));
        // `b | 0x20 == 'd'` only for `D` and `d`.
        let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        let dee = _mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'd' as i8));
        [
            _mm256_movemask_epi8(digit) as u32,
            _mm256_movemask_epi8(sep) as u32,
            _mm256_movemask_epi8(pct) as u32,
            _mm256_movemask_epi8(dee) as u32,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, byte by byte.
    fn is_loose(hay: &[u8], i: usize) -> bool {
        let digit = |j: Option<usize>| j.and_then(|j| hay.get(j)).is_some_and(|&b| is_digit(b));
        let (before, after) = (digit(i.checked_sub(1)), digit(Some(i + 1)));
        match hay[i] {
            b'0'..=b'9' => true,
            b' ' | b'-' | b'+' => before && after,
            b'%' => before,
            b'D' | b'd' => after,
            _ => false,
        }
    }

    /// The first `s` from `from` where 13 loose E-bytes in a row start,
    /// and, with `strict`, where the run of them from `s` also holds 13
    /// digits (where a PAN can start).
    fn naive(hay: &[u8], from: usize, end: usize, strict: bool) -> Option<usize> {
        (from..end.min(hay.len())).find(|&s| {
            let run = (s..hay.len()).take_while(|&i| is_loose(hay, i)).count();
            let digits = hay[s..s + run].iter().filter(|&&b| is_digit(b)).count();
            run >= 13 && (!strict || digits >= 13)
        })
    }

    /// What `Starts` may answer: a loose start no earlier than the first
    /// and no later than the first strict one (a run going past the
    /// blocks classified is handed out without its digits counted).
    fn acceptable(hay: &[u8], from: usize, end: usize, got: Option<usize>) -> bool {
        let (loose, strict) = (naive(hay, from, end, false), naive(hay, from, end, true));
        match got {
            None => strict.is_none(),
            Some(s) => {
                loose.is_some_and(|l| l <= s)
                    && strict.is_none_or(|t| s <= t)
                    && naive(hay, s, s + 1, false) == Some(s)
            }
        }
    }

    /// The first possible start at or after `from`, from a fresh `Starts`
    /// that is never dense.
    fn next_run(hay: &[u8], from: usize, end: usize) -> Option<usize> {
        if !vector_kernel() {
            return naive(hay, from, end, true);
        }
        let mut starts = Starts::new(hay, from, end);
        starts.dense = false;
        starts = starts.started(from);
        starts.next_from(from)
    }

    #[test]
    fn finds_card_shapes_and_skips_log_noise() {
        let hay = b"03-17 16:13:38.811  1702  2395 D x pid=2227; 4111-1111-1111-1111 end";
        assert_eq!(next_run(hay, 0, hay.len()), Some(45));
        assert_eq!(next_run(hay, 46, hay.len()), Some(46));
        // Two digits joined by a space are one run: `2227 4111…` starts at
        // the pid.
        let joined = b"pid=2227 4111111111";
        assert_eq!(next_run(joined, 0, joined.len()), Some(4));
        let escaped = b"card=4111%2D1111%2d1111%201111";
        assert_eq!(next_run(escaped, 0, escaped.len()), Some(5));
        assert_eq!(
            next_run(b"18:01:47,978 INFO 192.168.0.1 +0200", 0, 35),
            None
        );
        // A date and hour make 13 loose bytes but hold 10 digits.
        assert_eq!(next_run(b"2015-10-18 18:01:47,978 INFO", 0, 28), None);
        let date_then_card = b"2015-10-18 18:01 card 4111111111111111";
        assert_eq!(next_run(date_then_card, 0, date_then_card.len()), Some(22));
    }

    #[test]
    fn runs_cross_block_and_batch_boundaries() {
        for at in (40..140).chain(500..530).chain(1010..1030) {
            let mut hay = vec![b'x'; 1200];
            hay[at..at + 13].copy_from_slice(b"4111111111111");
            assert_eq!(next_run(&hay, 0, hay.len()), Some(at), "at {at}");
            assert_eq!(next_run(&hay, at + 1, hay.len()), None, "after {at}");
            assert_eq!(next_run(&hay, 0, at), None, "before {at}");
        }
    }

    proptest! {
        #[test]
        fn kernel_matches_the_definition(
            hay in proptest::collection::vec(
                prop_oneof![
                    6 => b'0'..=b'9',
                    1 => Just(b' '), 1 => Just(b'-'), 1 => Just(b'+'), 1 => Just(b'%'),
                    1 => Just(b'D'), 1 => Just(b'd'), 1 => Just(b'x'), 1 => Just(0xb1u8),
                    3 => Just(b'y'),
                ],
                0..1500),
            from in 0usize..300,
            cut in 0usize..300,
            steps in proptest::collection::vec(1usize..200, 0..20),
        ) {
            let end = hay.len().saturating_sub(cut);
            let got = next_run(&hay, from, end);
            prop_assert!(acceptable(&hay, from, end, got), "from {} got {:?}", from, got);
            // One `Starts` asked again and again, as the prefilter does.
            if vector_kernel() {
                let mut starts = Starts::new(&hay, from, end);
                starts.dense = false;
                starts = starts.started(from);
                let mut at = from;
                for step in steps {
                    let got = starts.next_from(at);
                    prop_assert!(acceptable(&hay, at, end, got), "from {} got {:?}", at, got);
                    at += step;
                }
            }
        }
    }
}
