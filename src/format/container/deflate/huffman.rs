//! Huffman codes as deflate uses them (RFC 1951 §3.2.2): canonical codes
//! from code lengths, lookup tables to decode them, and length-limited
//! code lengths from symbol counts to encode a block again.

/// A decoded table entry: the symbol in the high 16 bits, the bits to
/// consume in the low 8; [`SUB`] marks a pointer to a second-level table
/// (start in the high 16 bits, its index width in bits 8..12).
const SUB: u32 = 1 << 15;

/// A decoding table: `primary` bits looked up at once, longer codes
/// through a second level.
pub(super) struct Decoder {
    primary: u32,
    table: Vec<u32>,
}

/// Why code lengths do not make a code.
#[derive(Debug)]
pub(super) struct BadCode;

impl Decoder {
    pub(super) fn empty(primary: u32) -> Decoder {
        Decoder {
            primary,
            table: Vec::new(),
        }
    }

    /// Builds the table for `lens` (0 = symbol unused). Over-subscribed
    /// lengths are refused; an incomplete code decodes what it has and
    /// refuses the missing codes when they are met.
    pub(super) fn build(&mut self, lens: &[u8]) -> Result<(), BadCode> {
        let p = self.primary;
        let mut count = [0u32; 16];
        for &l in lens {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut left: i64 = 1;
        for &c in &count[1..] {
            left = left * 2 - c as i64;
            if left < 0 {
                return Err(BadCode);
            }
        }
        self.table.clear();
        self.table.resize(1 << p, 0);
        // Second-level widths: the longest code under each primary prefix.
        let mut widest = vec![0u8; 1 << p];
        let mut revs = Vec::with_capacity(lens.len());
        codes(lens, &mut revs);
        let mut entries = Vec::with_capacity(lens.len());
        for (sym, (&len, &rev)) in lens.iter().zip(&revs).enumerate() {
            let len = len as u32;
            if len == 0 {
                continue;
            }
            entries.push((sym as u32, rev, len));
            if len > p {
                let w = &mut widest[(rev & ((1 << p) - 1)) as usize];
                *w = (*w).max((len - p) as u8);
            }
        }
        for (prefix, &w) in widest.iter().enumerate() {
            if w > 0 {
                let start = self.table.len() as u32;
                self.table[prefix] = start << 16 | (w as u32) << 8 | SUB;
                self.table.resize(self.table.len() + (1 << w), 0);
            }
        }
        for (sym, rev, len) in entries {
            if len <= p {
                let mut i = rev;
                while i < 1 << p {
                    self.table[i as usize] = sym << 16 | len;
                    i += 1 << len;
                }
            } else {
                let head = self.table[(rev & ((1 << p) - 1)) as usize];
                let (start, w) = (head >> 16, (head >> 8) & 0xf);
                let sub = len - p;
                let mut i = rev >> p;
                while i < 1 << w {
                    self.table[(start + i) as usize] = sym << 16 | sub;
                    i += 1 << sub;
                }
            }
        }
        Ok(())
    }

    /// Decodes a symbol from `bits` (at least 15 valid): the symbol and the
    /// number of bits it took, or `None` for a code the table lacks.
    #[inline(always)]
    pub(super) fn decode(&self, bits: u64) -> Option<(u32, u32)> {
        let p = self.primary;
        let e = self.table[(bits & ((1 << p) - 1)) as usize];
        if e & SUB == 0 {
            let n = e & 0xff;
            return (n != 0).then_some((e >> 16, n));
        }
        let (start, w) = (e >> 16, (e >> 8) & 0xf);
        let e = self.table[(start + ((bits >> p) as u32 & ((1 << w) - 1))) as usize];
        let n = e & 0xff;
        (n != 0).then_some((e >> 16, n + p))
    }
}

/// The low `len` bits of `code`, reversed (deflate sends Huffman codes
/// most significant bit first inside its least-significant-first stream).
pub(super) fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// Canonical codes for `lens`, bit-reversed, ready for the writer.
pub(super) fn codes(lens: &[u8], out: &mut Vec<u32>) {
    let mut count = [0u32; 16];
    for &l in lens {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; 16];
    let mut code = 0;
    for len in 1..16 {
        code = (code + count[len - 1]) << 1;
        next[len] = code;
    }
    out.clear();
    out.extend(lens.iter().map(|&l| {
        if l == 0 {
            return 0;
        }
        let c = next[l as usize];
        next[l as usize] += 1;
        reverse(c, l as u32)
    }));
}

/// Huffman code lengths for symbol counts `freq`, none longer than `max`.
/// Unused symbols get 0; a lone used symbol gets 1.
///
/// The tree is built with two queues over the counts in ascending order
/// (van Leeuwen), then lengths over `max` are brought back the way miniz
/// does: the longest level gives up one leaf while a shorter leaf moves
/// down, until the code is complete again. The most frequent symbols keep
/// the shortest lengths.
pub(super) fn lengths(freq: &[u32], max: usize, lens: &mut Vec<u8>) {
    lens.clear();
    lens.resize(freq.len(), 0);
    let mut leaves: Vec<(u32, u16)> = freq
        .iter()
        .enumerate()
        .filter(|(_, &f)| f > 0)
        .map(|(s, &f)| (f, s as u16))
        .collect();
    match leaves.len() {
        0 => return,
        1 => {
            lens[leaves[0].1 as usize] = 1;
            return;
        }
        _ => {}
    }
    leaves.sort_unstable();
    let n = leaves.len();
    let mut weight: Vec<u64> = leaves.iter().map(|l| l.0 as u64).collect();
    weight.resize(2 * n - 1, 0);
    let mut parent = vec![0usize; 2 * n - 1];
    let (mut leaf, mut inner) = (0usize, n);
    for node in n..2 * n - 1 {
        let mut pick = || {
            if leaf < n && (inner >= node || weight[leaf] <= weight[inner]) {
                leaf += 1;
                leaf - 1
            } else {
                inner += 1;
                inner - 1
            }
        };
        let (a, b) = (pick(), pick());
        weight[node] = weight[a] + weight[b];
        parent[a] = node;
        parent[b] = node;
    }
    // Children come before their parent: depths from the root down.
    let mut depth = vec![0usize; 2 * n - 1];
    let mut count = vec![0u32; max + 1];
    for node in (0..2 * n - 2).rev() {
        depth[node] = depth[parent[node]] + 1;
        if node < n {
            count[depth[node].min(max)] += 1;
        }
    }
    let mut total: u64 = (1..=max).map(|l| (count[l] as u64) << (max - l)).sum();
    while total != 1 << max {
        count[max] -= 1;
        for l in (1..max).rev() {
            if count[l] != 0 {
                count[l] -= 1;
                count[l + 1] += 2;
                break;
            }
        }
        total -= 1;
    }
    // Leaves are in ascending count: the rarest take the longest codes.
    let mut it = leaves.iter();
    for l in (1..=max).rev() {
        for _ in 0..count[l] {
            lens[it.next().expect("as many lengths as leaves").1 as usize] = l as u8;
        }
    }
}

/// Whether the code lengths make a complete code (every bit string
/// decodes), as a dynamic block's literal/length code must be for zlib
/// to accept it once changed.
pub(super) fn complete(lens: &[u8]) -> bool {
    let kraft: u64 = lens
        .iter()
        .filter(|&&l| l > 0)
        .map(|&l| 1u64 << (15 - l.min(15)))
        .sum();
    kraft == 1 << 15
}

/// Gives each unused symbol in `missing` (with how often it will be
/// written) a code, keeping the other lengths but one: a code is split in
/// two, one half for the new symbol. A complete code stays complete. The
/// length split is the one that costs least, taking a code of length `l`
/// to stand for about `total` / 2^`l` symbols (`total`: the block's
/// tokens): the split symbol pays a bit per use, the new one `l` + 1.
/// False (lengths left half changed) when no code is shorter than 15 bits.
pub(super) fn add_symbols(
    lens: &mut [u8],
    missing: impl Iterator<Item = (usize, u32)>,
    total: u64,
) -> bool {
    for (sym, count) in missing {
        debug_assert_eq!(lens[sym], 0);
        let cost = |l: u8| (total >> l) + count as u64 * (l as u64 + 1);
        let Some((split, _)) = lens
            .iter()
            .enumerate()
            .filter(|&(_, &l)| l > 0 && l < 15)
            .min_by_key(|&(_, &l)| (cost(l), std::cmp::Reverse(l)))
        else {
            return false;
        };
        lens[split] += 1;
        lens[sym] = lens[split];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kraft(lens: &[u8], max: usize) -> u64 {
        lens.iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (max - l as usize))
            .sum()
    }

    #[test]
    fn skewed_counts_are_limited_and_complete() {
        // Fibonacci counts make a tree as deep as there are symbols.
        let mut freq = vec![1u32, 1];
        while freq.len() < 30 {
            let k = freq.len();
            freq.push(freq[k - 1] + freq[k - 2]);
        }
        let mut lens = Vec::new();
        lengths(&freq, 15, &mut lens);
        assert!(lens.iter().all(|&l| (1..=15).contains(&l)));
        assert_eq!(kraft(&lens, 15), 1 << 15);
        assert!(lens[29] <= lens[0], "the most frequent keeps a short code");
    }

    #[test]
    fn added_symbols_keep_the_code_complete() {
        let mut freq = vec![0u32; 286];
        for (i, f) in freq.iter_mut().enumerate().take(120) {
            *f = 1 + (i as u32 * 7919) % 1000;
        }
        freq[256] = 1;
        let mut lens = Vec::new();
        lengths(&freq, 15, &mut lens);
        assert!(complete(&lens));
        let before = lens.clone();
        assert!(add_symbols(
            &mut lens,
            [(200, 3), (280, 1)].into_iter(),
            1000
        ));
        assert!(complete(&lens));
        assert!(lens[200] > 0 && lens[280] > 0);
        // Only the split symbols changed, by one bit each.
        let changed: Vec<usize> = (0..286)
            .filter(|&i| before[i] != 0 && before[i] != lens[i])
            .collect();
        assert!(changed.len() <= 2, "{changed:?}");
        assert!(changed.iter().all(|&i| lens[i] == before[i] + 1));
        // A code with nothing shorter than 15 bits to split refuses.
        let mut full = vec![15u8; 1 << 15];
        full.push(0);
        assert!(!add_symbols(&mut full, [(1 << 15, 1)].into_iter(), 1 << 16));
    }

    proptest! {
        #[test]
        fn lengths_make_a_complete_code_that_decodes(
            freq in proptest::collection::vec(prop_oneof![Just(0u32), 1u32..10_000], 2..300),
            max in 7usize..=15,
        ) {
            let used = freq.iter().filter(|&&f| f > 0).count();
            prop_assume!(used >= 2 && used <= 1 << max);
            let mut lens = Vec::new();
            lengths(&freq, max, &mut lens);
            prop_assert!(lens.iter().all(|&l| l as usize <= max));
            for (f, l) in freq.iter().zip(&lens) {
                prop_assert_eq!(*f > 0, *l > 0);
            }
            prop_assert_eq!(kraft(&lens, max), 1 << max);
            // Every symbol's code decodes back to it.
            let mut codes_out = Vec::new();
            codes(&lens, &mut codes_out);
            let mut d = Decoder::empty(9);
            d.build(&lens).unwrap();
            for (sym, (&c, &l)) in codes_out.iter().zip(&lens).enumerate() {
                if l > 0 {
                    let junk = 0x5a5a_5a5a_u64 << l;
                    prop_assert_eq!(d.decode(c as u64 | junk), Some((sym as u32, l as u32)));
                }
            }
        }
    }
}
