//! Encoding a block from its parse: the literals and matches a changed
//! block was left with are counted, given new Huffman codes (dynamic, or
//! the fixed code where that is shorter) and written. No match search
//! happens here: the parse is the original encoder's, adjusted.

use std::io::Write;
use std::sync::OnceLock;

use super::bits::BitWriter;
use super::huffman::{add_symbols, codes, complete, lengths};
use super::inflate::{
    fixed_lengths, match_parts, CL_ORDER, DIST_BASE, DIST_EXTRA, LEN_BASE, LEN_EXTRA, MATCH,
};

/// Length → length-symbol index (0..29) for lengths 3..=258, and distance
/// → distance symbol through zlib's two-part table.
struct Symbols {
    len: [u8; 256],
    dist: [u8; 512],
}

fn symbols() -> &'static Symbols {
    static S: OnceLock<Symbols> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = Symbols {
            len: [0; 256],
            dist: [0; 512],
        };
        for (i, &base) in LEN_BASE.iter().enumerate() {
            for l in base as usize..base as usize + (1 << LEN_EXTRA[i]) {
                if l <= 258 {
                    s.len[l - 3] = i as u8;
                }
            }
        }
        s.len[255] = 28; // 258 has its own symbol
        for (i, &base) in DIST_BASE.iter().enumerate() {
            for d in base as usize..base as usize + (1 << DIST_EXTRA[i]) {
                let slot = if d <= 256 {
                    d - 1
                } else {
                    256 + ((d - 1) >> 7)
                };
                s.dist[slot] = i as u8;
            }
        }
        s
    })
}

#[inline(always)]
fn dist_symbol(s: &Symbols, d: u32) -> usize {
    let slot = if d <= 256 {
        d - 1
    } else {
        256 + ((d - 1) >> 7)
    };
    s.dist[slot as usize] as usize
}

/// Codes for one block, reused from block to block.
pub(super) struct BlockWriter {
    lit_freq: Vec<u32>,
    dist_freq: Vec<u32>,
    lit_lens: Vec<u8>,
    dist_lens: Vec<u8>,
    lit_codes: Vec<u32>,
    dist_codes: Vec<u32>,
    fixed: (Vec<u8>, Vec<u8>, Vec<u32>, Vec<u32>),
}

/// One code-length instruction: the symbol (0..=18) and its extra bits.
type ClOp = (u8, u8);

impl BlockWriter {
    pub(super) fn new() -> BlockWriter {
        let (fl, fd) = fixed_lengths();
        let (mut flc, mut fdc) = (Vec::new(), Vec::new());
        codes(&fl, &mut flc);
        codes(&fd, &mut fdc);
        BlockWriter {
            lit_freq: vec![0; 286],
            dist_freq: vec![0; 30],
            lit_lens: Vec::new(),
            dist_lens: Vec::new(),
            lit_codes: Vec::new(),
            dist_codes: Vec::new(),
            fixed: (fl.to_vec(), fd.to_vec(), flc, fdc),
        }
    }

    /// Writes one block holding `tokens`, marked last if `last`, with codes
    /// built for its counts (dynamic, or the fixed code where shorter).
    pub(super) fn write<W: Write>(&mut self, w: &mut BitWriter<W>, tokens: &[u32], last: bool) {
        let s = symbols();
        self.lit_freq.fill(0);
        self.dist_freq.fill(0);
        let mut extra_bits = 0u64;
        for &t in tokens {
            if t & MATCH == 0 {
                self.lit_freq[t as usize] += 1;
            } else {
                let (len, d) = match_parts(t);
                let li = s.len[len as usize - 3] as usize;
                let di = dist_symbol(s, d);
                self.lit_freq[257 + li] += 1;
                self.dist_freq[di] += 1;
                extra_bits += LEN_EXTRA[li] as u64 + DIST_EXTRA[di] as u64;
            }
        }
        self.lit_freq[256] = 1;
        let fixed_cost = 3
            + extra_bits
            + cost(&self.lit_freq, &self.fixed.0)
            + cost(&self.dist_freq, &self.fixed.1);
        // Every code complete (two symbols at least): zlib refuses an
        // incomplete code.
        at_least_two(&mut self.lit_freq);
        at_least_two(&mut self.dist_freq);
        lengths(&self.lit_freq, 15, &mut self.lit_lens);
        lengths(&self.dist_freq, 15, &mut self.dist_lens);
        let header = self.header();
        let dynamic_cost = header.cost
            + extra_bits
            + cost(&self.lit_freq, &self.lit_lens)
            + cost(&self.dist_freq, &self.dist_lens);
        w.put(last as u32, 1);
        if fixed_cost <= dynamic_cost {
            w.put(1, 2);
            let (fl, fd, flc, fdc) = &self.fixed;
            emit(w, tokens, s, (fl, flc), (fd, fdc));
            return;
        }
        self.put_dynamic(w, &header, tokens);
    }

    /// Writes one block holding `tokens` with the code lengths the block
    /// had (`lit`, `dist`, as its header sent them), each symbol of `new`
    /// they lack added by [`add_symbols`]. No counting and no tree: the
    /// original encoder chose these lengths for nearly the same tokens.
    /// False, with nothing written, when a symbol cannot be added (the
    /// caller then uses [`BlockWriter::write`]).
    pub(super) fn write_in_code<W: Write>(
        &mut self,
        w: &mut BitWriter<W>,
        tokens: &[u32],
        last: bool,
        (lit, dist): (&[u8], &[u8]),
        new: &NewSymbols,
    ) -> bool {
        let total = tokens.len() as u64;
        let fit = |lens: &mut Vec<u8>, code: &[u8], counts: &[u32]| {
            lens.clear();
            lens.extend_from_slice(code);
            lens.resize(counts.len(), 0);
            let missing: Vec<(usize, u32)> = (0..counts.len())
                .filter(|&i| counts[i] > 0 && lens[i] == 0)
                .map(|i| (i, counts[i]))
                .collect();
            missing.is_empty() || (complete(lens) && add_symbols(lens, missing.into_iter(), total))
        };
        if lit.len() > 286 || dist.len() > 30 {
            return false;
        }
        if !fit(&mut self.lit_lens, lit, &new.lit) || !fit(&mut self.dist_lens, dist, &new.dist) {
            return false;
        }
        let header = self.header();
        w.put(last as u32, 1);
        self.put_dynamic(w, &header, tokens);
        true
    }

    /// The dynamic header for the current lengths.
    fn header(&self) -> Header {
        let hlit = 257.max(last_used(&self.lit_lens));
        let hdist = 1.max(last_used(&self.dist_lens));
        let mut ops = Vec::with_capacity(hlit + hdist);
        let mut all = self.lit_lens[..hlit].to_vec();
        all.extend_from_slice(&self.dist_lens[..hdist]);
        run_lengths(&all, &mut ops);
        let mut cl_freq = vec![0u32; 19];
        for &(sym, _) in &ops {
            cl_freq[sym as usize] += 1;
        }
        at_least_two(&mut cl_freq);
        let mut cl_lens = Vec::new();
        lengths(&cl_freq, 7, &mut cl_lens);
        let hclen = 4.max(
            CL_ORDER
                .iter()
                .rposition(|&i| cl_lens[i] != 0)
                .map_or(0, |p| p + 1),
        );
        let cost = 3
            + 14
            + 3 * hclen as u64
            + ops
                .iter()
                .map(|&(sym, _)| (cl_lens[sym as usize] + cl_extra_bits(sym)) as u64)
                .sum::<u64>();
        Header {
            hlit,
            hdist,
            hclen,
            ops,
            cl_lens,
            cost,
        }
    }

    /// Writes the rest of a dynamic block (after its "last" bit): type,
    /// header, tokens, end of block.
    fn put_dynamic<W: Write>(&mut self, w: &mut BitWriter<W>, h: &Header, tokens: &[u32]) {
        w.put(2, 2);
        w.put((h.hlit - 257) as u32, 5);
        w.put((h.hdist - 1) as u32, 5);
        w.put((h.hclen - 4) as u32, 4);
        for &i in &CL_ORDER[..h.hclen] {
            w.put(h.cl_lens[i] as u32, 3);
        }
        let mut cl_codes = Vec::new();
        codes(&h.cl_lens, &mut cl_codes);
        for &(sym, extra) in &h.ops {
            w.put(cl_codes[sym as usize], h.cl_lens[sym as usize] as u32);
            w.put(extra as u32, cl_extra_bits(sym) as u32);
        }
        codes(&self.lit_lens, &mut self.lit_codes);
        codes(&self.dist_lens, &mut self.dist_codes);
        emit(
            w,
            tokens,
            symbols(),
            (&self.lit_lens, &self.lit_codes),
            (&self.dist_lens, &self.dist_codes),
        );
    }
}

/// A dynamic block's header: how many lengths it sends, and those lengths
/// as code-length instructions with their own code.
struct Header {
    hlit: usize,
    hdist: usize,
    hclen: usize,
    ops: Vec<ClOp>,
    cl_lens: Vec<u8>,
    /// Its size in bits, with the block's three.
    cost: u64,
}

/// The symbols of the tokens a block's parse gained when it was rewritten
/// for the masked bytes (the tokens it kept already have a code in the
/// block's header), counted.
pub(super) struct NewSymbols {
    lit: [u32; 286],
    dist: [u32; 30],
}

impl Default for NewSymbols {
    fn default() -> NewSymbols {
        NewSymbols {
            lit: [0; 286],
            dist: [0; 30],
        }
    }
}

impl NewSymbols {
    pub(super) fn clear(&mut self) {
        self.lit.fill(0);
        self.dist.fill(0);
    }

    /// Notes the symbols token `t` is written with.
    #[inline]
    pub(super) fn note(&mut self, t: u32) {
        if t & MATCH == 0 {
            self.lit[t as usize] += 1;
            return;
        }
        let s = symbols();
        let (len, d) = match_parts(t);
        self.lit[257 + s.len[len as usize - 3] as usize] += 1;
        self.dist[dist_symbol(s, d)] += 1;
    }
}

/// Writes the tokens and the end-of-block code with the given codes.
#[inline(always)]
fn emit<W: Write>(
    w: &mut BitWriter<W>,
    tokens: &[u32],
    s: &Symbols,
    (lit_lens, lit_codes): (&[u8], &[u32]),
    (dist_lens, dist_codes): (&[u8], &[u32]),
) {
    w.with_bits(|w| {
        for &t in tokens {
            if t & MATCH == 0 {
                w.put(lit_codes[t as usize], lit_lens[t as usize] as u32);
            } else {
                let (len, d) = match_parts(t);
                let li = s.len[len as usize - 3] as usize;
                let sym = 257 + li;
                // Each code with its extra bits in one put (at most 15 + 5
                // and 15 + 13 bits).
                let n = lit_lens[sym] as u32;
                let extra = len - LEN_BASE[li] as u32;
                w.put(lit_codes[sym] | extra << n, n + LEN_EXTRA[li] as u32);
                let di = dist_symbol(s, d);
                let n = dist_lens[di] as u32;
                let extra = d - DIST_BASE[di] as u32;
                w.put(dist_codes[di] | extra << n, n + DIST_EXTRA[di] as u32);
            }
        }
        w.put(lit_codes[256], lit_lens[256] as u32);
    })
}

/// The extra bits after a code-length symbol (repeat counts).
fn cl_extra_bits(sym: u8) -> u8 {
    match sym {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

fn cost(freq: &[u32], lens: &[u8]) -> u64 {
    freq.iter()
        .zip(lens)
        .map(|(&f, &l)| f as u64 * l as u64)
        .sum()
}

fn last_used(lens: &[u8]) -> usize {
    lens.iter().rposition(|&l| l != 0).map_or(0, |p| p + 1)
}

/// Gives the first unused symbols a count of 1 until two are used.
fn at_least_two(freq: &mut [u32]) {
    let mut used = freq.iter().filter(|&&f| f > 0).count();
    for f in freq.iter_mut() {
        if used >= 2 {
            break;
        }
        if *f == 0 {
            *f = 1;
            used += 1;
        }
    }
}

/// The code-length instructions for `lens`: runs of zeros as 17/18, runs
/// of a repeated length as 16 after one plain copy.
fn run_lengths(lens: &[u8], ops: &mut Vec<ClOp>) {
    let mut i = 0;
    while i < lens.len() {
        let v = lens[i];
        let run = lens[i..].iter().take_while(|&&l| l == v).count();
        let mut left = run;
        if v == 0 {
            while left >= 11 {
                let n = left.min(138);
                ops.push((18, (n - 11) as u8));
                left -= n;
            }
            if left >= 3 {
                ops.push((17, (left - 3) as u8));
                left = 0;
            }
        } else {
            ops.push((v, 0));
            left -= 1;
            while left >= 3 {
                let n = left.min(6);
                ops.push((16, (n - 3) as u8));
                left -= n;
            }
        }
        for _ in 0..left {
            ops.push((v, 0));
        }
        i += run;
    }
}
