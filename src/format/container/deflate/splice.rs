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
use super::block_writer::{BlockWriter, NewSymbols};
use super::inflate::{match_parts, match_token, Block, Inflater, Kind, MATCH, WINDOW};
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
            orig: Vec::with_capacity(SLIDE_AT + 4 * WINDOW),
            masked: Vec::with_capacity(SLIDE_AT + 4 * WINDOW),
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

    /// Keeps only the last [`WINDOW`] bytes, once more than [`SLIDE_AT`]
    /// are held (moving the window after every block cost a copy of it
    /// per block).
    fn slide(&mut self) {
        if self.orig.len() > SLIDE_AT {
            let cut = self.orig.len() - WINDOW;
            self.orig.drain(..cut);
            self.masked.drain(..cut);
            self.origin += cut as u64;
        }
        let gone = self.changed.partition_point(|r| r.1 <= self.origin);
        self.changed.drain(..gone);
    }
}

/// Decoded bytes held before the window is moved to the front.
pub(super) const SLIDE_AT: usize = 1 << 20;

/// Rewrites the block's parse for the masked bytes into `out`; whether
/// anything differs. The symbols of the tokens written anew are noted in
/// `new`.
fn reparse(work: &Work, out: &mut Vec<u32>, new: &mut NewSymbols) -> bool {
    let (from, parse, changed) = (work.from, &work.parse[..], &work.changed[..]);
    out.clear();
    out.reserve(parse.len() + 64);
    let mut modified = false;
    let mut p = from;
    // The first changed range that ends after the current position: the
    // ranges before it end at or before it, those from it on end after.
    let mut next = changed.partition_point(|r| r.1 <= work.origin + from as u64);
    let mut i = 0;
    while i < parse.len() {
        let at = work.origin + p as u64;
        while next < changed.len() && changed[next].1 <= at {
            next += 1;
        }
        // Tokens whose bytes and whose match sources lie clear of every
        // change (after the last one behind, before the next one ahead)
        // stay as they are: copied in one go, not looked at one by one.
        // Most of a block is such a stretch.
        let ahead = changed.get(next).map_or(u64::MAX, |r| r.0);
        let (start, mut q) = (i, p);
        while let Some(&t) = parse.get(i) {
            let pos = work.origin + q as u64;
            let n = if t & MATCH == 0 {
                1
            } else {
                let (len, d) = match_parts(t);
                let source = pos.saturating_sub(d as u64);
                if touches(&changed[..next], source, source + len as u64) {
                    break;
                }
                len as usize
            };
            if pos + n as u64 > ahead {
                break;
            }
            q += n;
            i += 1;
        }
        if i > start {
            out.extend_from_slice(&parse[start..i]);
            p = q;
            continue;
        }
        let t = parse[i];
        i += 1;
        if t & MATCH == 0 {
            let b = work.masked[p];
            modified |= next < changed.len() && changed[next].0 <= at;
            out.push(b as u32);
            new.note(b as u32);
            p += 1;
            continue;
        }
        let (len, d) = match_parts(t);
        let (len, d) = (len as usize, d as usize);
        // Source and destination lie in [at - d, at + len): a change there
        // is either the next range (starting before the match's end) or
        // the last one behind (ending after the source's start).
        let ahead = next < changed.len() && changed[next].0 < at + len as u64;
        let source = at - d as u64;
        if ahead || touches(&changed[..next], source, source + len as u64) {
            modified |= split_match(&work.masked, p, len, d, out, new);
        } else {
            out.push(t);
        }
        p += len;
    }
    modified
}

/// Whether any of the sorted, disjoint ranges `behind` overlaps `[a, b)`.
/// Only those ending after `a` can, and the window bounds how far back a
/// source reaches: a few ranges are looked at, from the last.
#[inline]
fn touches(behind: &[(u64, u64)], a: u64, b: u64) -> bool {
    behind.iter().rev().take_while(|r| r.1 > a).any(|r| r.0 < b)
}

/// Re-expresses a match at `p` for the masked bytes: runs where the
/// masked source still equals the masked destination stay matches (if
/// 3 bytes or longer); the other bytes become literals. Whether the
/// result differs from the one match.
fn split_match(
    masked: &[u8],
    p: usize,
    len: usize,
    d: usize,
    out: &mut Vec<u32>,
    new: &mut NewSymbols,
) -> bool {
    let end = p + len;
    let mut run = p;
    let mut q = p;
    let mut whole = true;
    let flush = |a: usize, b: usize, out: &mut Vec<u32>, new: &mut NewSymbols| {
        if b - a >= 3 {
            let t = match_token((b - a) as u32, d as u32);
            out.push(t);
            new.note(t);
        } else {
            for &x in &masked[a..b] {
                out.push(x as u32);
                new.note(x as u32);
            }
        }
    };
    while q < end {
        if masked[q] != masked[q - d] {
            whole = false;
            flush(run, q, out, new);
            out.push(masked[q] as u32);
            new.note(masked[q] as u32);
            run = q + 1;
        }
        q += 1;
    }
    flush(run, end, out, new);
    !whole
}

/// Masks decoded bytes in place, given their decoded-stream offset.
pub(super) type MaskAt<'m> = dyn FnMut(u64, &mut [u8]) -> Result<(), InputError> + 'm;

/// A decoded block, with all the writer needs to write it (owned, so that
/// it can be handed to another thread).
#[derive(Default)]
struct Work {
    stored: bool,
    last: bool,
    /// The block's compressed bytes, from the byte holding its first bit;
    /// `comp_base` is that byte's stream offset, `bits` the block's range.
    comp: Vec<u8>,
    comp_base: u64,
    bits: (u64, u64),
    /// The masked window and block; the block starts at `from`.
    masked: Vec<u8>,
    from: usize,
    /// Decoded-stream offset of `masked[0]`.
    origin: u64,
    /// The window's changed ranges, up to the block's end.
    changed: Vec<(u64, u64)>,
    parse: Vec<u32>,
    /// A dynamic block's code lengths (literal/length, distance), as its
    /// header sent them; empty for other blocks.
    lit_lens: Vec<u8>,
    dist_lens: Vec<u8>,
}

/// What the writer is handed, in order.
enum Piece {
    /// A member's header (at a byte boundary).
    Header(Vec<u8>),
    Block(Box<Work>),
    /// A member's trailer: CRC-32 and size (after aligning).
    Trailer([u8; 8]),
}

/// The writing half: blocks copied or encoded again, headers and trailers.
struct Emitter<W: Write> {
    w: BitWriter<W>,
    encoder: BlockWriter,
    reparsed: Vec<u32>,
    new_symbols: NewSymbols,
    copied: u64,
    reencoded: u64,
}

impl<W: Write> Emitter<W> {
    fn new(w: W) -> Emitter<W> {
        Emitter {
            w: BitWriter::new(w),
            encoder: BlockWriter::new(),
            reparsed: Vec::new(),
            new_symbols: NewSymbols::default(),
            copied: 0,
            reencoded: 0,
        }
    }

    fn piece(&mut self, piece: &Piece) -> std::io::Result<()> {
        let w = &mut self.w;
        match piece {
            Piece::Header(bytes) => w.put_bytes(bytes),
            Piece::Trailer(bytes) => {
                w.align();
                w.put_bytes(bytes);
            }
            Piece::Block(work) if work.stored => {
                // Its padding depends on where it lands: always written.
                let data = &work.masked[work.from..];
                w.put(work.last as u32, 1);
                w.put(0, 2);
                w.align();
                let n = data.len() as u16;
                w.put_bytes(&n.to_le_bytes());
                w.put_bytes(&(!n).to_le_bytes());
                w.put_bytes(data);
                self.copied += 1;
            }
            Piece::Block(work) => {
                self.new_symbols.clear();
                if reparse(work, &mut self.reparsed, &mut self.new_symbols) {
                    // The block's own code where it can take the new
                    // tokens (a dynamic block); else codes built anew.
                    let lens = (&work.lit_lens[..], &work.dist_lens[..]);
                    if work.lit_lens.is_empty()
                        || !self.encoder.write_in_code(
                            w,
                            &self.reparsed,
                            work.last,
                            lens,
                            &self.new_symbols,
                        )
                    {
                        self.encoder.write(w, &self.reparsed, work.last);
                    }
                    self.reencoded += 1;
                } else {
                    w.copy_bits(&work.comp, work.comp_base, work.bits.0, work.bits.1);
                    self.copied += 1;
                }
            }
        }
        w.drain(false)
    }
}

/// Splices a gzip file (every member) from `r` into `w`, masking with
/// `mask`; `charge` is called with each block's decoded size. With
/// `threads` > 1 the writing half runs on a thread of its own, a few
/// blocks behind the decoding.
pub(super) fn splice<R: Read, W: Write + Send>(
    r: R,
    w: W,
    mask: &mut MaskAt,
    mask_name: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
    charge: &mut dyn FnMut(u64) -> Result<(), SpliceError>,
    threads: usize,
) -> Result<(W, SpliceStats), SpliceError> {
    let mut emitter = Emitter::new(w);
    let digest = if threads < 2 {
        let mut spare = Some(Box::default());
        decode(r, mask, mask_name, charge, true, &mut |piece| {
            emitter.piece(&piece).map_err(SpliceError::io)?;
            if let Piece::Block(work) = piece {
                spare = Some(work);
            }
            Ok(spare.take())
        })?
    } else {
        std::thread::scope(|s| {
            let (to_writer, pieces) = std::sync::mpsc::sync_channel::<Piece>(4);
            let (recycle, spares) = std::sync::mpsc::channel::<Box<Work>>();
            let em = &mut emitter;
            let writer = s.spawn(move || -> std::io::Result<()> {
                for piece in pieces {
                    em.piece(&piece)?;
                    if let Piece::Block(work) = piece {
                        let _ = recycle.send(work);
                    }
                }
                Ok(())
            });
            let decoded = decode(r, mask, mask_name, charge, false, &mut |piece| {
                if to_writer.send(piece).is_err() {
                    return Err(SpliceError::io(std::io::Error::other("the writer stopped")));
                }
                Ok(spares.try_recv().ok())
            });
            drop(to_writer);
            let written = writer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            // A write error is the cause of a decoding side that stopped.
            written.map_err(SpliceError::io)?;
            decoded
        })?
    };
    emitter.w.align();
    let Emitter {
        w,
        copied,
        reencoded,
        ..
    } = emitter;
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

/// The decoding half: reads every member, decodes and masks each block,
/// and hands the pieces to `emit` in order (which may give back a used
/// block's buffers). Gives the digest of the masked stream. With `lend`,
/// `emit` writes each block before it returns and gives the same buffers
/// back: the masked window is lent to it rather than copied.
fn decode<R: Read>(
    r: R,
    mask: &mut MaskAt,
    mask_name: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
    charge: &mut dyn FnMut(u64) -> Result<(), SpliceError>,
    lend: bool,
    emit: &mut dyn FnMut(Piece) -> Result<Option<Box<Work>>, SpliceError>,
) -> Result<StreamDigest, SpliceError> {
    let mut r = BitReader::new(r);
    let mut inflater = Inflater::new();
    let mut parse = Vec::new();
    let mut hash = twox_hash::XxHash3_128::new();
    let mut total = 0u64;
    let mut spare: Option<Box<Work>> = None;
    loop {
        emit(Piece::Header(member_header(&mut r, mask_name)?))?;
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
            let mut work = spare.take().unwrap_or_default();
            fill(&mut work, &mut win, from, &block, &r, &mut parse, lend);
            let (lit, dist) = match block.kind {
                Kind::Dynamic => inflater.dynamic_lengths(),
                _ => (&[][..], &[][..]),
            };
            work.lit_lens.clear();
            work.lit_lens.extend_from_slice(lit);
            work.dist_lens.clear();
            work.dist_lens.extend_from_slice(dist);
            spare = emit(Piece::Block(work))?;
            if lend {
                let back = spare.as_mut().expect("a lent block comes back");
                std::mem::swap(&mut back.masked, &mut win.masked);
                std::mem::swap(&mut back.changed, &mut win.changed);
            }
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
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&crc_masked.sum().to_le_bytes());
        out[4..].copy_from_slice(&size.to_le_bytes());
        emit(Piece::Trailer(out))?;
        if r.at_end().map_err(SpliceError::io)? {
            break;
        }
    }
    Ok(StreamDigest::new(hash.finish_128(), total))
}

/// Fills `work` with the block just decoded (its parse moves over). The
/// masked window and its changed ranges are lent (swapped in, to be
/// swapped back) with `lend`, else copied from as far back as a match
/// can reach.
fn fill<R: Read>(
    work: &mut Work,
    win: &mut Window,
    from: usize,
    block: &Block,
    r: &BitReader<R>,
    parse: &mut Vec<u32>,
    lend: bool,
) {
    work.stored = block.kind == Kind::Stored;
    work.last = block.last;
    work.bits = block.bits;
    work.comp.clear();
    work.comp_base = block.bits.0 / 8;
    if !work.stored {
        let (held, base) = r.held();
        let a = (work.comp_base - base) as usize;
        let b = (block.bits.1.div_ceil(8) - base) as usize;
        work.comp.extend_from_slice(&held[a..b]);
    }
    std::mem::swap(&mut work.parse, parse);
    if lend {
        std::mem::swap(&mut work.masked, &mut win.masked);
        std::mem::swap(&mut work.changed, &mut win.changed);
        work.from = from;
        work.origin = win.origin;
        return;
    }
    let keep = from.saturating_sub(WINDOW);
    work.masked.clear();
    work.masked.extend_from_slice(&win.masked[keep..]);
    work.from = from - keep;
    work.origin = win.origin + keep as u64;
    let first = win.changed.partition_point(|r| r.1 <= work.origin);
    work.changed.clear();
    work.changed.extend_from_slice(&win.changed[first..]);
}
