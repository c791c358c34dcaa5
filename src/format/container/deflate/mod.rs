//! Scrubbing a gzip file without compressing it again: deflate-block
//! surgery.
//!
//! Compressing is mostly the match search; a gzip file already holds one.
//! So a scrub of a `.gz` decodes it with our own decoder
//! ([`inflate`]), which keeps each block's bit range and its LZ77 parse,
//! masks each block's output, and writes each block either as it was (its
//! bits copied, shifted to wherever the output stands) or encoded again
//! from its own parse with the masked bytes ([`splice`], [`block_writer`]).
//! Each member keeps its header (a name or comment with a card number in
//! it masked); its CRC-32 is computed over the masked bytes; its size is
//! unchanged (masking keeps lengths).
//!
//! Whatever this path does not handle goes back to the caller as
//! [`SpliceError::Unsupported`], before anything is installed, and the
//! caller rebuilds the file the general way (decode, mask, recompress):
//! a member with an extra field (BGZF's block sizes would go stale), a
//! block our decoder refuses, output that does not match the member's
//! CRC, bytes after the last member. Either way the verification that
//! follows decodes the rebuilt file with zlib-rs and checks it against the
//! digest of the masked bytes before it replaces anything.

use std::fs::File;
use std::io::{self, Read, Seek, Write};

use flate2::Crc;

use super::{decode_error, Cx, Feed, Masker, StreamDigest};
use crate::error::InputError;
use crate::format::budget::Meter;
use crate::manifest::mask_text;

mod bits;
mod block_writer;
mod huffman;
mod inflate;
mod splice;
#[cfg(test)]
mod tests;

use bits::BitReader;

/// Why a splice did not give a rebuilt file.
#[derive(Debug)]
pub enum SpliceError {
    /// This path cannot rebuild the file (the reason, without content);
    /// the general rebuild can.
    Unsupported(String),
    /// The rebuild failed as any rebuild of this file would (writing,
    /// the run's budget, a stop).
    Failed(InputError),
}

impl SpliceError {
    fn unsupported(e: io::Error) -> SpliceError {
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                SpliceError::Unsupported(e.to_string())
            }
            _ => SpliceError::io(e),
        }
    }

    fn io(e: io::Error) -> SpliceError {
        SpliceError::Failed(decode_error(e))
    }

    /// A masker that finds other bytes than the scan did: our decoder may
    /// be wrong, so the general path (which would see a changed file
    /// again) decides.
    fn from_masker(e: InputError) -> SpliceError {
        SpliceError::Unsupported(format!("masking: {e}"))
    }
}

/// How a gzip file was spliced.
#[derive(Clone, Copy, Debug)]
pub struct SpliceStats {
    /// What the rebuilt file decodes to, for verification.
    pub digest: StreamDigest,
    /// Deflate blocks copied bit for bit.
    pub copied: u64,
    /// Deflate blocks encoded again from their parse.
    pub reencoded: u64,
}

/// Rebuilds the gzip `file` into `w` with the feed's findings masked, by
/// splicing deflate blocks.
pub fn splice_gzip<W: Write + Send>(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    feed: &mut Feed,
    w: W,
) -> Result<(W, SpliceStats), SpliceError> {
    let mut r = file;
    r.rewind().map_err(SpliceError::io)?;
    let mask_name = |name: &[u8]| {
        let lossy = String::from_utf8_lossy(name);
        let masked = mask_text(&lossy, cx.det, cx.policy);
        (masked != lossy).then(|| masked.into_bytes())
    };
    let mut read = 0;
    let mut charge = |n: u64| -> Result<(), SpliceError> {
        meter
            .charge(n, &mut read, u64::MAX)
            .map_err(SpliceError::io)
    };
    let mut masker = Masker::new(cx.policy, feed, &[]);
    let mut mask = |pos: u64, buf: &mut [u8]| masker.apply(pos, buf);
    let threads = cx.workers;
    let (w, stats) = splice::splice(r, w, &mut mask, &mask_name, &mut charge, threads)?;
    if !masker.done().map_err(SpliceError::from_masker)? {
        return Err(SpliceError::Unsupported(
            "the stream ended before a finding".into(),
        ));
    }
    feed.finish().map_err(SpliceError::from_masker)?;
    Ok((w, stats))
}

/// Header flags (RFC 1952 §2.3.1).
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

/// Reads a member's header; gives the header to write: the same bytes,
/// with a name or comment holding a card number masked (and the header
/// CRC, if there is one, computed again).
fn member_header<R: Read>(
    r: &mut BitReader<R>,
    mask: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<Vec<u8>, SpliceError> {
    let mut head = Vec::with_capacity(10);
    r.read_bytes(&mut head, 10)
        .map_err(SpliceError::unsupported)?;
    if head[..3] != [0x1f, 0x8b, 8] {
        return Err(SpliceError::Unsupported(
            "bytes after the last gzip member".into(),
        ));
    }
    let flags = head[3];
    if flags & 0xe0 != 0 {
        return Err(SpliceError::Unsupported("reserved gzip flags".into()));
    }
    if flags & FEXTRA != 0 {
        return Err(SpliceError::Unsupported("gzip extra field".into()));
    }
    let mut out = head;
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let text = zero_terminated(r)?;
            out.extend_from_slice(mask(&text).as_deref().unwrap_or(&text));
            out.push(0);
        }
    }
    if flags & FHCRC != 0 {
        let mut old = Vec::with_capacity(2);
        r.read_bytes(&mut old, 2)
            .map_err(SpliceError::unsupported)?;
        let mut crc = Crc::new();
        crc.update(&out);
        out.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
    }
    Ok(out)
}

/// A zero-terminated header field (without its zero).
fn zero_terminated<R: Read>(r: &mut BitReader<R>) -> Result<Vec<u8>, SpliceError> {
    let mut text = Vec::new();
    loop {
        let at = text.len();
        r.read_bytes(&mut text, 1)
            .map_err(SpliceError::unsupported)?;
        if text[at] == 0 {
            text.pop();
            return Ok(text);
        }
        if text.len() > 64 * 1024 {
            return Err(SpliceError::Unsupported(
                "gzip header field too long".into(),
            ));
        }
    }
}
