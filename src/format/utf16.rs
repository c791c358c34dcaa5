//! UTF-16 text (Windows exports, PowerShell logs, SQL Server dumps): found
//! by content, scanned through a one-byte-per-code-unit view, masked in
//! place with the mask character encoded as UTF-16.
//!
//! The view maps each 16-bit code unit to one byte: ASCII stays itself,
//! anything else (accented letters, CJK, surrogates, the BOM) becomes
//! `0x80`, which the detector treats as a boundary, just as a UTF-8 byte
//! ≥ 0x80 is. Code unit `i` is byte `2i` of the file, so offsets and
//! lengths map by doubling and every rule of the detector applies
//! unchanged. A trailing odd byte is not part of any code unit.

use std::fs::File;
use std::io::{self, Read};

use crate::detect::{Detector, StreamScanner, RIGHT_CONTEXT};
use crate::error::InputError;
use crate::format::read_full;
use crate::format::text::{BatchSink, Located, RangeReader};

/// Byte order of a UTF-16 input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (Windows' default, `FF FE` BOM).
    Little,
    /// Big-endian (`FE FF` BOM).
    Big,
}

impl Endian {
    /// Encodes one ASCII byte as a code unit.
    pub fn encode(self, b: u8) -> [u8; 2] {
        match self {
            Endian::Little => [b, 0],
            Endian::Big => [0, b],
        }
    }

    /// Encodes ASCII bytes into `out` (cleared first).
    pub fn encode_into(self, ascii: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend(ascii.iter().flat_map(|&b| self.encode(b)));
    }

    /// The two bytes of a code unit.
    fn encode_unit(self, unit: u16) -> [u8; 2] {
        match self {
            Endian::Little => unit.to_le_bytes(),
            Endian::Big => unit.to_be_bytes(),
        }
    }

    /// The one-byte view of a code unit.
    #[inline]
    fn narrow(self, pair: [u8; 2]) -> u8 {
        let unit = match self {
            Endian::Little => u16::from_le_bytes(pair),
            Endian::Big => u16::from_be_bytes(pair),
        };
        if unit < 0x80 {
            unit as u8
        } else {
            0x80
        }
    }
}

/// Decides whether `head` (the first bytes of a file) is UTF-16 text: a BOM,
/// or mostly ASCII code units (at least 16 bytes, nine in ten units with a
/// zero high byte on one side and a non-zero byte on the other, no NUL
/// units). Binary files with NULs rarely look like that; UTF-16 text of a
/// non-Latin script without a BOM is not recognised (its PANs would still
/// be ASCII digits with NUL bytes between them).
pub fn detect(head: &[u8]) -> Option<Endian> {
    if head.starts_with(&[0xff, 0xfe]) && !head.starts_with(&[0xff, 0xfe, 0, 0]) {
        return Some(Endian::Little);
    }
    if head.starts_with(&[0xfe, 0xff]) {
        return Some(Endian::Big);
    }
    let units = head.len() / 2;
    if units < 8 {
        return None;
    }
    let (mut le, mut be) = (0usize, 0usize);
    for p in head.chunks_exact(2) {
        match (p[0], p[1]) {
            (0, 0) => return None,
            (a, 0) if a != 0 => le += 1,
            (0, b) if b != 0 => be += 1,
            _ => {}
        }
    }
    if le * 10 >= units * 9 {
        Some(Endian::Little)
    } else if be * 10 >= units * 9 {
        Some(Endian::Big)
    } else {
        None
    }
}

/// The one-byte view of a UTF-16 stream as a reader: one byte per code unit
/// of `inner` (see the module header), so offset `i` of the view is code
/// unit `i`, byte `2i` of the stream; a trailing odd byte is dropped. A BOM
/// as the first unit reads as `0xFF` (a boundary like `0x80`, and what the
/// CSV header reader drops as it drops a UTF-8 BOM). For adapters that
/// read decoded streams (archive members) and for the CSV and JSON
/// locators of UTF-16 files.
pub struct Narrow<R> {
    inner: R,
    endian: Endian,
    raw: Vec<u8>,
    /// A byte read past the last whole unit, held for the next read.
    odd: Option<u8>,
    /// No unit has been read yet (a BOM may come).
    at_start: bool,
}

impl<R: Read> Narrow<R> {
    /// A view of `inner`, whose code units are in `endian` order.
    pub fn new(inner: R, endian: Endian) -> Narrow<R> {
        Narrow {
            inner,
            endian,
            raw: vec![0; 64 * 1024],
            odd: None,
            at_start: true,
        }
    }
}

impl<R: Read> Read for Narrow<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = (out.len() * 2).min(self.raw.len());
        if want == 0 {
            return Ok(0);
        }
        let mut have = 0;
        if let Some(b) = self.odd.take() {
            self.raw[0] = b;
            have = 1;
        }
        while have < 2 {
            match self.inner.read(&mut self.raw[have..want]) {
                Ok(0) => return Ok(0), // end: a lone odd byte is no unit
                Ok(n) => have += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let units = have / 2;
        for (o, p) in out.iter_mut().zip(self.raw[..units * 2].chunks_exact(2)) {
            *o = self.endian.narrow([p[0], p[1]]);
        }
        if self.at_start {
            self.at_start = false;
            let first = [self.raw[0], self.raw[1]];
            if self.endian.encode_unit(0xfeff) == first {
                out[0] = 0xff;
            }
        }
        if have % 2 == 1 {
            self.odd = Some(self.raw[have - 1]);
        }
        Ok(units)
    }
}

/// Bytes of the file read per round (an even number).
const BLOCK: usize = 1 << 20;

/// Scans `size` bytes of a UTF-16 file, calling `on_batch` after each block
/// with the block's end (in file bytes) and its findings, whose offsets,
/// lines and columns are in code units (see [`to_bytes`]).
pub fn scan_file(
    det: &Detector,
    file: &File,
    size: u64,
    endian: Endian,
    on_batch: &mut BatchSink<'_>,
) -> Result<(), InputError> {
    let mut sc = StreamScanner::new(det).track_lines();
    let mut raw = vec![0u8; BLOCK];
    let mut narrow = Vec::with_capacity(BLOCK / 2);
    let mut found = Vec::new();
    let mut located = Vec::new();
    let whole_units = size / 2 * 2;
    let mut reader = RangeReader::new(file, 0, whole_units);
    loop {
        let n = read_full(&mut reader, &mut raw).map_err(InputError::io("read"))?;
        narrow.clear();
        narrow.extend(
            raw[..n]
                .chunks_exact(2)
                .map(|p| endian.narrow([p[0], p[1]])),
        );
        let last = n < raw.len();
        sc.feed(&narrow, &mut |f| found.push(f));
        if last {
            sc.finish(&mut |f| found.push(f));
        }
        located.clear();
        lines_for(&found, &mut located);
        found.clear();
        // Starts are evaluated up to RIGHT_CONTEXT units behind what was
        // fed: the batch ends there, so later findings come after it.
        let evaluated = sc.position().saturating_sub(RIGHT_CONTEXT as u64);
        on_batch(
            if last {
                size
            } else {
                to_bytes(evaluated, false)
            },
            &located,
        )?;
        if last {
            return Ok(());
        }
    }
}

/// Lines and columns (in code units) for findings carrying a line
/// position.
fn lines_for(found: &[crate::detect::Finding], out: &mut Vec<Located>) {
    for f in found {
        let line_start = f.lines.line_start.unwrap_or(0);
        out.push(Located {
            finding: *f,
            line: f.lines.newlines_before + 1,
            column: f.offset - line_start + 1,
            record: None,
        });
    }
}

/// A code-unit position (offset or 1-based column) in file bytes.
pub fn to_bytes(units: u64, one_based: bool) -> u64 {
    if one_based {
        2 * (units - 1) + 1
    } else {
        2 * units
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn detection_by_bom_and_content() {
        assert_eq!(detect(&[0xff, 0xfe, b'a', 0]), Some(Endian::Little));
        assert_eq!(detect(&[0xfe, 0xff, 0, b'a']), Some(Endian::Big));
        assert_eq!(
            detect(&utf16le("card 4111111111111111")),
            Some(Endian::Little)
        );
        let be: Vec<u8> = "card 4111111111111111"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(detect(&be), Some(Endian::Big));
        // Binary with NULs, plain ASCII, UTF-32.
        assert_eq!(
            detect(&[0, 0, 0, 1, 2, 3, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0]),
            None
        );
        assert_eq!(detect(b"plain ascii text here"), None);
        assert_eq!(detect(&[0xff, 0xfe, 0, 0, b'a', 0, 0, 0]), None);
    }

    #[test]
    fn narrow_reader_maps_units_across_odd_reads() {
        /// Hands out its bytes a few at a time, odd counts included.
        struct Dribble(Vec<u8>, usize);
        impl Read for Dribble {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(3).min(self.0.len() - self.1);
                out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(utf16le("Id,Card\r\n1,4111111111111111é\n"));
        bytes.push(b'x'); // a trailing odd byte
        let mut view = Vec::new();
        Narrow::new(Dribble(bytes, 0), Endian::Little)
            .read_to_end(&mut view)
            .unwrap();
        assert_eq!(view, b"\xffId,Card\r\n1,4111111111111111\x80\n");
    }

    #[test]
    fn narrow_view_keeps_ascii_and_marks_the_rest() {
        assert_eq!(Endian::Little.narrow([b'4', 0]), b'4');
        assert_eq!(Endian::Big.narrow([0, b'4']), b'4');
        assert_eq!(Endian::Little.narrow([0xe9, 0]), 0x80);
        assert_eq!(Endian::Little.narrow([b'4', 0x01]), 0x80);
        let mut out = Vec::new();
        Endian::Little.encode_into(b"*1", &mut out);
        assert_eq!(out, vec![b'*', 0, b'1', 0]);
    }
}
