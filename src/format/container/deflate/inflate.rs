//! Our deflate decoder (RFC 1951), which keeps what a general decoder
//! throws away: where each block starts and ends in the compressed bits,
//! and the block's LZ77 parse (its literals and matches). The splice needs
//! both: an unchanged block is copied by its bit range, a changed one is
//! encoded again from its parse.
//!
//! Decoding is table-driven ([`super::huffman::Decoder`]) with one refill
//! per literal or match. Anything this decoder does not accept is an
//! error, and the caller falls back to a full recompression: the general
//! decoder (zlib-rs) has already read the stream in the scan.

use std::io::{self, Read};

use super::bits::{BitReader, Cursor};
use super::huffman::Decoder;

/// The deflate window: how far back a match may reach.
pub(super) const WINDOW: usize = 32 * 1024;

/// A token of the parse: a literal byte (< 256), or a match packed as
/// [`MATCH`] | (length − 3) << 16 | distance.
pub(super) const MATCH: u32 = 1 << 31;

pub(super) fn match_token(len: u32, dist: u32) -> u32 {
    MATCH | (len - 3) << 16 | dist
}

pub(super) fn match_parts(t: u32) -> (u32, u32) {
    (((t >> 16) & 0x1ff) + 3, t & 0xffff)
}

/// Length symbols 257..=285: base length and extra bits.
pub(super) const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
pub(super) const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance symbols 0..=29: base distance and extra bits.
pub(super) const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
pub(super) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order in which code-length code lengths are sent.
pub(super) const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The fixed code's lengths (RFC 1951 §3.2.6): literal/length, distance.
pub(super) fn fixed_lengths() -> ([u8; 288], [u8; 32]) {
    let mut lit = [8u8; 288];
    lit[144..256].fill(9);
    lit[256..280].fill(7);
    (lit, [5u8; 32])
}

/// The largest block we decode (its output held whole); a larger one
/// sends the stream to the fallback. Encoders end blocks after tens of
/// thousands of symbols, a few MB at most.
const MAX_BLOCK: usize = 64 << 20;

/// How a block was coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Stored,
    Fixed,
    Dynamic,
}

/// One decoded block.
pub(super) struct Block {
    pub kind: Kind,
    pub last: bool,
    /// Compressed bit range, from the block header to after its
    /// end-of-block code (for a stored block, to after its bytes).
    pub bits: (u64, u64),
}

/// A deflate decoder that keeps each block's parse.
pub(super) struct Inflater {
    lit: Decoder,
    dist: Decoder,
    cl: Decoder,
    fixed: (Decoder, Decoder),
    /// The last dynamic block's code lengths: `hlit` literal/length
    /// ones, then the distance ones.
    lens: Vec<u8>,
    hlit: usize,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("deflate: {what}"))
}

impl Inflater {
    pub(super) fn new() -> Inflater {
        let (fl, fd) = fixed_lengths();
        let mut fixed = (Decoder::empty(9), Decoder::empty(5));
        fixed.0.build(&fl).expect("the fixed code is complete");
        fixed
            .1
            .build(&fd)
            .expect("the fixed distance code is complete");
        Inflater {
            lit: Decoder::empty(11),
            dist: Decoder::empty(8),
            cl: Decoder::empty(7),
            fixed,
            lens: Vec::with_capacity(320),
            hlit: 257,
        }
    }

    /// Decodes the next block: its bytes are appended to `out` (which
    /// holds at least the window before them), its parse to `tokens`.
    pub(super) fn block<R: Read>(
        &mut self,
        r: &mut BitReader<R>,
        out: &mut Vec<u8>,
        tokens: &mut Vec<u32>,
    ) -> io::Result<Block> {
        let start = r.bit_pos();
        r.refill()?;
        let last = r.take(1) == 1;
        let kind = match r.take(2) {
            0 => Kind::Stored,
            1 => Kind::Fixed,
            2 => Kind::Dynamic,
            _ => return Err(bad("reserved block type")),
        };
        match kind {
            Kind::Stored => {
                r.align();
                let mut head = Vec::with_capacity(4);
                r.read_bytes(&mut head, 4)?;
                let len = u16::from_le_bytes([head[0], head[1]]);
                if len != !u16::from_le_bytes([head[2], head[3]]) {
                    return Err(bad("stored length check"));
                }
                let from = out.len();
                r.read_bytes(out, len as usize)?;
                tokens.extend(out[from..].iter().map(|&b| b as u32));
            }
            Kind::Fixed => {
                let (lit, dist) = (&self.fixed.0, &self.fixed.1);
                codes(r, lit, dist, out, tokens)?;
            }
            Kind::Dynamic => {
                self.header(r)?;
                codes(r, &self.lit, &self.dist, out, tokens)?;
            }
        }
        if r.overran() {
            return Err(bad("truncated"));
        }
        Ok(Block {
            kind,
            last,
            bits: (start, r.bit_pos()),
        })
    }

    /// The code lengths of the last dynamic block decoded: literal/length,
    /// distance (as sent: trailing unused symbols may be left out).
    pub(super) fn dynamic_lengths(&self) -> (&[u8], &[u8]) {
        self.lens.split_at_checked(self.hlit).unwrap_or((&[], &[]))
    }

    /// Reads a dynamic block's code lengths and builds its tables.
    fn header<R: Read>(&mut self, r: &mut BitReader<R>) -> io::Result<()> {
        r.refill()?;
        let hlit = r.take(5) as usize + 257;
        let hdist = r.take(5) as usize + 1;
        let hclen = r.take(4) as usize + 4;
        if hlit > 286 || hdist > 30 {
            return Err(bad("too many codes"));
        }
        let mut cl = [0u8; 19];
        for &i in &CL_ORDER[..hclen] {
            r.refill()?;
            cl[i] = r.take(3) as u8;
        }
        self.cl.build(&cl).map_err(|_| bad("code-length code"))?;
        self.lens.clear();
        self.hlit = hlit;
        while self.lens.len() < hlit + hdist {
            r.refill()?;
            let (sym, n) = self
                .cl
                .decode(r.peek())
                .ok_or_else(|| bad("code-length symbol"))?;
            r.consume(n);
            let (value, times) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    let prev = *self.lens.last().ok_or_else(|| bad("repeat with nothing"))?;
                    (prev, 3 + r.take(2) as usize)
                }
                17 => (0, 3 + r.take(3) as usize),
                _ => (0, 11 + r.take(7) as usize),
            };
            if self.lens.len() + times > hlit + hdist {
                return Err(bad("code lengths overflow"));
            }
            self.lens.extend(std::iter::repeat_n(value, times));
        }
        if self.lens[256] == 0 {
            return Err(bad("no end-of-block code"));
        }
        self.lit
            .build(&self.lens[..hlit])
            .map_err(|_| bad("literal/length code"))?;
        self.dist
            .build(&self.lens[hlit..])
            .map_err(|_| bad("distance code"))?;
        Ok(())
    }
}

/// Room kept past the decoded end of `out` while a block's codes are
/// decoded: the longest match plus one chunk of [`copy_match`]'s
/// overshoot. `out` is grown [`GROW`] bytes at a time, so the bytes
/// written per literal and per match need no capacity check and short
/// matches are copied in fixed 16- or 8-byte chunks instead of a call to
/// `memmove` each (two million calls per 64 MiB of log).
const SLACK: usize = 258 + 16;
const GROW: usize = 16 * 1024;

/// Decodes a block's codes up to its end-of-block symbol.
#[inline(always)]
fn codes<R: Read>(
    r: &mut BitReader<R>,
    lit: &Decoder,
    dist: &Decoder,
    out: &mut Vec<u8>,
    tokens: &mut Vec<u32>,
) -> io::Result<()> {
    let mut at = out.len();
    let decoded = codes_into(r, lit, dist, out, &mut at, tokens);
    // The slack past the decoded end goes, whatever happened.
    out.truncate(at);
    decoded
}

/// Where [`codes_held`] stopped.
enum Stop {
    /// At the end-of-block symbol.
    EndOfBlock,
    /// The bytes held ran short: the reader must refill the slow way.
    Short,
}

/// The longest a literal/length and distance pair can be, in bits (15 +
/// 5 extra, 15 + 13 extra): one refill's worth.
const PAIR_BITS: u32 = 48;

/// [`codes`] with `out` holding slack past `*at`, the decoded end.
#[inline(always)]
fn codes_into<R: Read>(
    r: &mut BitReader<R>,
    lit: &Decoder,
    dist: &Decoder,
    out: &mut Vec<u8>,
    at: &mut usize,
    tokens: &mut Vec<u32>,
) -> io::Result<()> {
    let limit = *at + MAX_BLOCK;
    loop {
        match r.with_cursor(|c| codes_held(c, lit, dist, out, at, tokens, limit))? {
            Stop::EndOfBlock => return Ok(()),
            Stop::Short => r.refill()?,
        }
    }
}

/// Decodes codes from the bytes the reader holds, with its bits in
/// locals, until the end of the block or until fewer bits are left than
/// one symbol may need.
#[inline(always)]
fn codes_held(
    c: &mut Cursor<'_>,
    lit: &Decoder,
    dist: &Decoder,
    out: &mut Vec<u8>,
    at_out: &mut usize,
    tokens: &mut Vec<u32>,
    limit: usize,
) -> io::Result<Stop> {
    let mut at = *at_out;
    let stop = loop {
        if !c.refill() && c.count() < PAIR_BITS {
            break Ok(Stop::Short);
        }
        if out.len() < at + SLACK {
            out.resize(at + SLACK + GROW, 0);
        }
        let Some((sym, n)) = lit.decode(c.peek()) else {
            break Err(bad("literal/length symbol"));
        };
        c.consume(n);
        if sym < 256 {
            out[at] = sym as u8;
            at += 1;
            tokens.push(sym);
            continue;
        }
        if sym == 256 {
            break Ok(Stop::EndOfBlock);
        }
        let i = (sym - 257) as usize;
        if i >= 29 {
            break Err(bad("length symbol"));
        }
        let len = LEN_BASE[i] as u32 + c.take(LEN_EXTRA[i] as u32);
        let Some((dsym, n)) = dist.decode(c.peek()) else {
            break Err(bad("distance symbol"));
        };
        c.consume(n);
        let dsym = dsym as usize;
        if dsym >= 30 {
            break Err(bad("distance symbol"));
        }
        let d = DIST_BASE[dsym] as u32 + c.take(DIST_EXTRA[dsym] as u32);
        if d as usize > at || d as usize > WINDOW {
            break Err(bad("distance before the start"));
        }
        if at + len as usize > limit {
            break Err(bad("block too large to splice"));
        }
        copy_match(out, at, d as usize, len as usize);
        at += len as usize;
        tokens.push(match_token(len, d));
    };
    *at_out = at;
    stop
}

/// Writes the `len` bytes copied from `dist` back at `at` (overlapping as
/// deflate means it: a distance shorter than the length repeats). `out`
/// must hold [`SLACK`] bytes from `at`: whole chunks are copied, and the
/// bytes past `at + len` they write are slack, overwritten later.
#[inline(always)]
fn copy_match(out: &mut [u8], at: usize, dist: usize, len: usize) {
    let from = at - dist;
    // A chunk no longer than the distance reads only bytes already final.
    if dist >= 16 {
        for k in (0..len).step_by(16) {
            out.copy_within(from + k..from + k + 16, at + k);
        }
    } else if dist >= 8 {
        for k in (0..len).step_by(8) {
            out.copy_within(from + k..from + k + 8, at + k);
        }
    } else {
        for i in 0..len {
            out[at + i] = out[from + i];
        }
    }
}
