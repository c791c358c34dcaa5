//! The splice itself: a gzip file is read member by member, block by
//! block, with our decoder; each block's output is masked, and the block
//! is either copied bit for bit or encoded again from its own parse.
//!
//! A block is copied when its parse, applied to the masked bytes, would
//! still give the masked bytes: none of its literals changed, and none of
//! its matches copies a byte whose masked value differs from the byte it
//! lands on. Otherwise its literals take the masked bytes, and each match
//! keeps the runs (3 bytes or more) where source and destination still
//! agree after masking, the rest becoming literals; new codes are built
//! for the block. A repeated card number masked the same way at both ends
//! keeps its match.

use std::io::{Read, Write};

use flate2::Crc;

use super::bits::{BitReader, BitWriter};
use super::block_writer::BlockWriter;
use super::inflate::{match_parts, match_token, Inflater, Kind, MATCH, WINDOW};
use super::{member_header, SpliceError, SpliceStats};
use crate::error::InputError;
use crate::format::container::StreamDigest;

/// Decoded bytes of the stream being spliced: the window before the
/// current block and the block, original and masked side by side.
struct Window {
    orig: Vec<u8>,
    masked: Vec<u8>,
    /// Decoded-stream offset of `orig[0]`.
    origin: u64,
    /// Ranges (decoded-stream offsets) where masking changed bytes, as far
    /// back as a match can reach.
    changed: Vec<(u64, u64)>,
}

impl Window {
    fn new(origin: u64) -> Window {
        Window {
            orig: Vec::with_capacity(4 * WINDOW),
            masked: Vec::with_capacity(4 * WINDOW),
            origin,
            changed: Vec::new(),
        }
    }

    /// Notes where the masked copy of `orig[from..]` differs (compared a
    /// word at a time: changes are a few bytes in thousands).
    fn note_changes(&mut self, from: usize) {
        let (o, m) = (&self.orig[from..], &self.masked[from..]);
        let at = self.origin + from as u64;
        let word = |b: &[u8], i: usize| u128::from_ne_bytes(b[i..i + 16].try_into().unwrap());
        let mut i = 0;
        while i < o.len() {
            let k = (o.len() - i).min(64);
            if k == 64
                && word(o, i) == word(m, i)
                && word(o, i + 16) == word(m, i + 16)
                && word(o, i + 32) == word(m, i + 32)
                && word(o, i + 48) == word(m, i + 48)
            {
                i += 64;
                continue;
            }
            for j in i..i + k {
                if o[j] == m[j] {
                    continue;
                }
                let end = j as u64 + 1 + at;
                match self.changed.last_mut() {
                    Some(last) if last.1 == end - 1 => last.1 = end,
                    _ => self.changed.push((end - 1, end)),
                }
            }
            i += k;
        }
    }

    /// Keeps only the last [`WINDOW`] bytes.
    fn slide(&mut self) {
        if self.orig.len() > WINDOW {
            let cut = self.orig.len() - WINDOW;
            self.orig.drain(..cut);
            self.masked.drain(..cut);
            self.origin += cut as u64;
        }
        let gone = self.changed.partition_point(|r| r.1 <= self.origin);
        self.changed.drain(..gone);
    }
}

/// Rewrites `parse` (the block's tokens, whose output starts at `from` in
/// the window) for the masked bytes into `out`; whether anything differs.
fn reparse(win: &Window, from: usize, parse: &[u32], out: &mut Vec<u32>) -> bool {
    out.clear();
    out.reserve(parse.len() + 64);
    let changed = &win.changed[..];
    let mut modified = false;
    let mut p = from;
    // The first changed range that ends after the current position: the
    // ranges before it end at or before it, those from it on end after.
    let mut next = changed.partition_point(|r| r.1 <= win.origin + from as u64);
    for &t in parse {
        let at = win.origin + p as u64;
        while next < changed.len() && changed[next].1 <= at {
            next += 1;
        }
        if t & MATCH == 0 {
            let b = win.masked[p];
            modified |= next < changed.len() && changed[next].0 <= at;
            out.push(b as u32);
            p += 1;
            continue;
        }
        let (len, d) = match_parts(t);
        let (len, d) = (len as usize, d as usize);
        // Source and destination lie in [at - d, at + len): a change there
        // is either the next range (starting before the match's end) or
        // the last one behind (ending after the source's start).
        let ahead = next < changed.len() && changed[next].0 < at + len as u64;
        let behind = next > 0 && changed[next - 1].1 > at - d as u64;
        if ahead || behind {
            modified |= split_match(&win.masked, p, len, d, out);
        } else {
            out.push(t);
        }
        p += len;
    }
    modified
}

/// Re-expresses a match at `p` for the masked bytes: runs where the
/// masked source still equals the masked destination stay matches (if
/// 3 bytes or longer); the other bytes become literals. Whether the
/// result differs from the one match.
fn split_match(masked: &[u8], p: usize, len: usize, d: usize, out: &mut Vec<u32>) -> bool {
    let end = p + len;
    let mut run = p;
    let mut q = p;
    let mut whole = true;
    let flush = |a: usize, b: usize, out: &mut Vec<u32>| {
        if b - a >= 3 {
            out.push(match_token((b - a) as u32, d as u32));
        } else {
            out.extend(masked[a..b].iter().map(|&x| x as u32));
        }
    };
    while q < end {
        if masked[q] != masked[q - d] {
            whole = false;
            flush(run, q, out);
            out.push(masked[q] as u32);
            run = q + 1;
        }
        q += 1;
    }
    flush(run, end, out);
    !whole
}

/// Masks decoded bytes in place, given their decoded-stream offset.
pub(super) type MaskAt<'m> = dyn FnMut(u64, &mut [u8]) -> Result<(), InputError> + 'm;

/// Splices a gzip file (every member) from `r` into `w`, masking with
/// `mask`; `charge` is called with each block's decoded size.
pub(super) fn splice<R: Read, W: Write>(
    r: R,
    w: W,
    mask: &mut MaskAt,
    mask_name: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
    charge: &mut dyn FnMut(u64) -> Result<(), SpliceError>,
) -> Result<(W, SpliceStats), SpliceError> {
    let mut r = BitReader::new(r);
    let mut w = BitWriter::new(w);
    let mut inflater = Inflater::new();
    let mut encoder = BlockWriter::new();
    let (mut parse, mut reparsed) = (Vec::new(), Vec::new());
    let mut hash = twox_hash::XxHash3_128::new();
    let mut total = 0u64;
    let (mut copied, mut reencoded) = (0, 0);
    loop {
        let header = member_header(&mut r, mask_name)?;
        w.put_bytes(&header);
        let mut win = Window::new(total);
        let (mut crc_orig, mut crc_masked) = (Crc::new(), Crc::new());
        loop {
            crate::interrupt::check_io().map_err(SpliceError::io)?;
            let from = win.orig.len();
            parse.clear();
            let block = inflater
                .block(&mut r, &mut win.orig, &mut parse)
                .map_err(SpliceError::unsupported)?;
            let decoded = &win.orig[from..];
            charge(decoded.len() as u64)?;
            win.masked.extend_from_slice(decoded);
            mask(win.origin + from as u64, &mut win.masked[from..])
                .map_err(SpliceError::from_masker)?;
            crc_orig.update(&win.orig[from..]);
            crc_masked.update(&win.masked[from..]);
            hash.write(&win.masked[from..]);
            win.note_changes(from);
            if block.kind == Kind::Stored {
                // Its padding depends on where it lands: always written.
                w.put(block.last as u32, 1);
                w.put(0, 2);
                w.align();
                let n = (win.masked.len() - from) as u16;
                w.put_bytes(&n.to_le_bytes());
                w.put_bytes(&(!n).to_le_bytes());
                w.put_bytes(&win.masked[from..]);
                copied += 1;
            } else if reparse(&win, from, &parse, &mut reparsed) {
                encoder.write(&mut w, &reparsed, block.last);
                reencoded += 1;
            } else {
                let (held, base) = r.held();
                w.copy_bits(held, base, block.bits.0, block.bits.1);
                copied += 1;
            }
            w.drain(false).map_err(SpliceError::io)?;
            total += (win.orig.len() - from) as u64;
            win.slide();
            r.keep_from(r.bit_pos());
            if block.last {
                break;
            }
        }
        r.align();
        let mut trailer = Vec::with_capacity(8);
        r.read_bytes(&mut trailer, 8)
            .map_err(SpliceError::unsupported)?;
        let crc = u32::from_le_bytes(trailer[..4].try_into().unwrap());
        let size = u32::from_le_bytes(trailer[4..].try_into().unwrap());
        if crc != crc_orig.sum() || size != crc_orig.amount() {
            return Err(SpliceError::Unsupported(
                "our decoder's output does not match the member's CRC".into(),
            ));
        }
        w.align();
        w.put_bytes(&crc_masked.sum().to_le_bytes());
        w.put_bytes(&size.to_le_bytes());
        if r.at_end().map_err(SpliceError::io)? {
            break;
        }
    }
    let digest = StreamDigest::new(hash.finish_128(), total);
    let w = w.into_inner().map_err(SpliceError::io)?;
    Ok((
        w,
        SpliceStats {
            digest,
            copied,
            reencoded,
        },
    ))
}
