//! Quote-aware record counting (CSV rows) as the scan passes over the bytes.
//!
//! A CSV record ends at a newline outside quotes, and RFC 4180 needs nothing
//! more to know what is inside quotes: every quote toggles the state (a
//! doubled quote toggles twice). So for each 64-byte block the quote and
//! newline positions become two bit masks, a prefix XOR of the quote mask
//! gives the bytes inside quotes, and the newlines outside are record ends.
//!
//! A piece of a file scanned on its own does not know whether it starts
//! inside quotes. It counts for both cases at once (the inside mask of one
//! is the complement of the other's), and the in-order merge of pieces
//! picks the right one once the quote parity of everything before is known,
//! the way a parallel CSV parser does. Counting rides on the scan's own
//! reads, so locating a finding's row costs no second pass over the file.
//!
//! The masks come from AVX2 compares where the CPU has them (runtime
//! detection; `unsafe` confined to [`avx2`]), else from SWAR arithmetic on
//! `u64` words; a property test holds the two to the same answers.
#![allow(unsafe_code)]

/// Bytes per block.
const BLOCK: usize = 64;

/// Record counts of a stretch of bytes, for both starting states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounter {
    /// Odd number of quotes seen so far.
    parity: bool,
    /// Record ends seen, if the stretch started outside quotes (`[0]`) or
    /// inside (`[1]`).
    ends: [u64; 2],
    /// Offset just past the last record end, per starting state.
    last_start: [Option<u64>; 2],
}

/// Where a finding's record stands, per starting state of its piece.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordMarks {
    /// Record ends before the finding, per starting state.
    pub ends_before: [u64; 2],
    /// Start of the finding's record, if it starts inside the stretch.
    pub record_start: [Option<u64>; 2],
}

/// The running state of a whole file, folded piece by piece in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordTotals {
    /// Inside quotes at the current point.
    pub in_quotes: bool,
    /// Record ends so far.
    pub ends: u64,
    /// Start of the current record.
    pub record_start: u64,
}

/// A finding's record: how many record ends precede it (the header is
/// record 0, so this is its 1-based data row) and where the record starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordPos {
    /// Record ends before the finding.
    pub row: u64,
    /// Offset of the first byte of the finding's record.
    pub start: u64,
}

impl RecordTotals {
    /// The record of a finding marked by a piece that starts at this state.
    pub fn place(&self, m: &RecordMarks) -> RecordPos {
        let h = usize::from(self.in_quotes);
        RecordPos {
            row: self.ends + m.ends_before[h],
            start: m.record_start[h].unwrap_or(self.record_start),
        }
    }

    /// Moves past a whole piece counted by `c`.
    pub fn fold(&mut self, c: &RecordCounter) {
        let h = usize::from(self.in_quotes);
        self.ends += c.ends[h];
        if let Some(s) = c.last_start[h] {
            self.record_start = s;
        }
        self.in_quotes ^= c.parity;
    }
}

impl RecordCounter {
    /// Counts `data`, which sits at stream offset `at` and follows what
    /// was counted before.
    pub fn advance(&mut self, data: &[u8], at: u64) {
        let whole = data.len() / BLOCK * BLOCK;
        masks(&data[..whole], &mut |k, q, n| {
            self.block(at + k as u64, q, n)
        });
        if whole < data.len() {
            let (q, n) = scalar_masks(&data[whole..]);
            self.block(at + whole as u64, q, n);
        }
    }

    /// The marks of a finding at the point counted so far.
    pub fn marks(&self) -> RecordMarks {
        RecordMarks {
            ends_before: self.ends,
            record_start: self.last_start,
        }
    }

    #[inline(always)]
    fn block(&mut self, at: u64, quotes: u64, newlines: u64) {
        let carry = if self.parity { !0u64 } else { 0 };
        // Inside quotes if the stretch started outside; the complement if
        // it started inside.
        let inside = prefix_xor(quotes) ^ carry;
        for (h, ends) in [newlines & !inside, newlines & inside]
            .into_iter()
            .enumerate()
        {
            if ends != 0 {
                self.ends[h] += u64::from(ends.count_ones());
                self.last_start[h] = Some(at + u64::from(64 - ends.leading_zeros()));
            }
        }
        self.parity ^= quotes.count_ones() & 1 == 1;
    }
}

/// Bit i of the result is the XOR of bits 0..=i of `x`: with `x` the quote
/// mask, the bytes inside quotes (an opening quote counts as inside).
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Calls `f(index, quotes, newlines)` for each whole 64-byte block of
/// `data` (its length is a multiple of 64).
fn masks(data: &[u8], f: &mut dyn FnMut(usize, u64, u64)) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected at run time just above.
            return unsafe { avx2::masks(data, f) };
        }
    }
    for (k, block) in data.chunks_exact(BLOCK).enumerate() {
        let (q, n) = swar_masks(block.try_into().expect("64 bytes"));
        f(k * BLOCK, q, n);
    }
}

/// Quote and newline masks of up to 64 bytes, byte by byte (tails).
fn scalar_masks(data: &[u8]) -> (u64, u64) {
    let (mut q, mut n) = (0u64, 0u64);
    for (i, &b) in data.iter().take(BLOCK).enumerate() {
        q |= u64::from(b == b'"') << i;
        n |= u64::from(b == b'\n') << i;
    }
    (q, n)
}

/// Quote and newline masks of a block in plain integer arithmetic (SWAR).
/// For each word, a byte equal to the pattern gets its high bit set exactly
/// (no borrow between bytes), and a multiply gathers the eight high bits
/// into one byte.
#[inline]
fn swar_masks(b: &[u8; BLOCK]) -> (u64, u64) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    #[inline]
    fn equal_bytes(w: u64, pattern: u64) -> u64 {
        let t = w ^ pattern;
        let eq = !(((t & LOW7) + LOW7) | t) & HIGH;
        // Bit 7 of byte k moves to bit 56 + k.
        (eq >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    }
    let mut quotes = 0u64;
    let mut newlines = 0u64;
    for (k, word) in b.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        quotes |= equal_bytes(w, QUOTES) << (8 * k);
        newlines |= equal_bytes(w, NEWLINES) << (8 * k);
    }
    (quotes, newlines)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// AVX2 version of [`super::masks`]: two 32-byte compares per pattern
    /// and a movemask each.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn masks(data: &[u8], f: &mut dyn FnMut(usize, u64, u64)) {
        let quote = _mm256_set1_epi8(b'"' as i8);
        let newline = _mm256_set1_epi8(b'\n' as i8);
        for (k, block) in data.chunks_exact(super::BLOCK).enumerate() {
            let p = block.as_ptr();
            // SAFETY: `block` is 64 readable bytes; unaligned loads.
            let (lo, hi) = unsafe {
                (
                    _mm256_loadu_si256(p as *const __m256i),
                    _mm256_loadu_si256(p.add(32) as *const __m256i),
                )
            };
            let bits = |v: __m256i, pat: __m256i| -> u64 {
                u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, pat)) as u32)
            };
            let q = bits(lo, quote) | bits(hi, quote) << 32;
            let n = bits(lo, newline) | bits(hi, newline) << 32;
            f(k * super::BLOCK, q, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Naive RFC 4180 record ends of `data` starting in `in_quotes`.
    fn naive(data: &[u8], mut in_quotes: bool) -> (u64, Option<u64>, bool) {
        let (mut ends, mut last) = (0, None);
        for (i, &b) in data.iter().enumerate() {
            if b == b'"' {
                in_quotes = !in_quotes;
            } else if b == b'\n' && !in_quotes {
                ends += 1;
                last = Some(i as u64 + 1);
            }
        }
        (ends, last, in_quotes)
    }

    fn csvish() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\n'), Just(b','), Just(b'a'), Just(b'\r')],
            0..400,
        )
    }

    #[test]
    fn masks_agree_with_swar_and_scalar() {
        let data: Vec<u8> = (0..64 * 9)
            .map(|i| b"\"\na,\r\"x"[(i * 7 + i / 3) % 7])
            .collect();
        let mut got = Vec::new();
        masks(&data, &mut |k, q, n| got.push((k, q, n)));
        for (k, q, n) in got {
            let block: &[u8; 64] = data[k..k + 64].try_into().unwrap();
            assert_eq!(swar_masks(block), (q, n));
            assert_eq!(scalar_masks(block), (q, n));
        }
    }

    #[test]
    fn masks_match_bytes_with_high_bits_set() {
        let mut b = [b'a'; BLOCK];
        for (i, c) in b.iter_mut().enumerate() {
            *c = match i % 7 {
                0 => b'"',
                3 => b'\n',
                5 => 0xa2, // high bit set, low bits of a quote
                6 => 0x8a, // high bit set, low bits of a newline
                _ => b'x',
            };
        }
        let mut got = Vec::new();
        masks(&b, &mut |_, q, n| got.push((q, n)));
        assert_eq!(got, vec![swar_masks(&b)]);
        let (q, n) = swar_masks(&b);
        for (i, c) in b.iter().enumerate() {
            assert_eq!(q >> i & 1 == 1, *c == b'"', "quote bit {i}");
            assert_eq!(n >> i & 1 == 1, *c == b'\n', "newline bit {i}");
        }
        // Between quotes at bits 0 and 3; a lone quote opens to the end.
        assert_eq!(prefix_xor(0b1001), 0b0111);
        assert_eq!(prefix_xor(0b1), !0);
    }

    proptest! {
        /// Any cut into stretches, folded in order, gives the naive count
        /// and record starts, from either starting state.
        #[test]
        fn pieces_fold_to_the_naive_count(data in csvish(), cuts in proptest::collection::vec(0usize..400, 0..4), start_inside: bool) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort();
            let mut totals = RecordTotals { in_quotes: start_inside, ..Default::default() };
            for w in cuts.windows(2) {
                let mut c = RecordCounter::default();
                // Advance in two uneven steps, as findings split a window.
                let mid = w[0] + (w[1] - w[0]) / 3;
                c.advance(&data[w[0]..mid], w[0] as u64);
                let at_mid = totals.place(&c.marks());
                let (e, last, _) = naive(&data[..mid], start_inside);
                prop_assert_eq!(at_mid, RecordPos { row: e, start: last.unwrap_or(0) });
                c.advance(&data[mid..w[1]], mid as u64);
                totals.fold(&c);
            }
            let (e, last, q) = naive(&data, start_inside);
            prop_assert_eq!(totals, RecordTotals { in_quotes: q, ends: e, record_start: last.unwrap_or(0) });
        }
    }
}
