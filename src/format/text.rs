//! Text (and binary-as-text) scanning: one file, cut into pieces that are
//! scanned in parallel, with line and column for every finding.
//!
//! Pieces are scanned a batch at a time (one per worker), and each batch's
//! findings are handed to the caller in file order before the next batch
//! starts, so memory stays bounded by the batch, not the file. Line numbers
//! are carried from batch to batch: each piece counts its own newlines and
//! the batch merge adds the running total.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use rayon::prelude::*;

use crate::detect::records::{RecordPos, RecordTotals};
use crate::detect::{
    piece_needs_rescan, Detector, Finding, StreamScanner, LEFT_CONTEXT, RIGHT_CONTEXT,
};

/// Bytes per piece of a large file.
pub const PIECE: u64 = 8 << 20;
/// Read size inside a piece.
const BLOCK: usize = 256 * 1024;

/// A finding with its 1-based line and byte column.
#[derive(Clone, Copy, Debug)]
pub struct Located {
    /// The finding (offsets are in the file).
    pub finding: Finding,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// The CSV record holding the finding, when the scan counted records.
    pub record: Option<RecordPos>,
}

/// Reads `[pos, end)` of a file with positioned reads (no shared cursor, so
/// pieces of one file can be read by several threads).
#[derive(Clone, Copy)]
pub struct RangeReader<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl<'f> RangeReader<'f> {
    /// A reader over `[start, end)`.
    pub fn new(file: &'f File, start: u64, end: u64) -> RangeReader<'f> {
        RangeReader {
            file,
            pos: start,
            end,
        }
    }
}

/// Seeks move the next read (offsets are the file's, as for `new`).
impl io::Seek for RangeReader<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let pos = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.end.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Findings a piece holds before it stops reading, and the most handed to
/// the caller at once. A file with a PAN every few bytes has hundreds of
/// thousands per piece; with this bound its memory is a few MB per worker
/// (the rest of a dense piece is scanned on the merging thread, in order).
const FINDINGS_HELD: usize = 8192;

/// One piece of a file being scanned: its scanner and reader are kept so
/// that a piece dense with findings can stop and be finished later.
struct Piece<'d, 'f> {
    sc: StreamScanner<'d>,
    reader: RangeReader<'f>,
    findings: Vec<Finding>,
    done: bool,
}

impl<'d, 'f> Piece<'d, 'f> {
    /// A piece over `[start, end)` with its context; `after_region` is
    /// where the last region reported before it ends, when known.
    fn new(
        det: &'d Detector,
        file: &'f File,
        size: u64,
        (start, end): (u64, u64),
        count_records: bool,
        after_region: u64,
    ) -> Piece<'d, 'f> {
        let ctx = start.saturating_sub(LEFT_CONTEXT as u64);
        let stop = (end + RIGHT_CONTEXT as u64).min(size);
        // Small files get a small buffer: zeroing 256 KiB per 2 KB file
        // would dominate a tree of small files.
        let block = BLOCK.min((stop - ctx) as usize + 1);
        let mut sc = StreamScanner::for_piece(det, block, ctx, start, end)
            .after_region(after_region)
            .track_lines();
        if count_records {
            sc = sc.track_records();
        }
        Piece {
            sc,
            reader: RangeReader::new(file, ctx, stop),
            findings: Vec::new(),
            done: false,
        }
    }

    /// Reads on until the piece ends or holds `FINDINGS_HELD` findings.
    fn scan_on(mut self) -> io::Result<Self> {
        while !self.done && self.findings.len() < FINDINGS_HELD {
            let findings = &mut self.findings;
            self.done = self
                .sc
                .read_step(&mut self.reader, &mut |f| findings.push(f))?;
        }
        Ok(self)
    }
}

/// Receives findings in file order, a batch at a time: the offset up to
/// which the file has been handed over (a batch's end, or the end of the
/// last finding when a dense batch is handed over in parts), and the
/// findings before it.
pub type BatchSink<'a> = dyn FnMut(u64, &[Located]) -> Result<(), crate::error::InputError> + 'a;

/// Running line state across pieces.
#[derive(Default)]
struct Lines {
    newlines: u64,
    last_newline: Option<u64>,
}

/// True when a file of `size` bytes is scanned in pieces (in parallel, a
/// batch at a time) rather than in one stream.
pub fn in_pieces(size: u64) -> bool {
    size > 2 * PIECE
}

/// Scans `size` bytes of `file`, calling `on_batch` with each batch's
/// findings in file order (possibly empty). `parallel` allows pieces to be
/// scanned on several threads. With `count_records` (CSV), findings carry
/// their record and the file's record totals are returned: counted on the
/// scan's own reads, so locating rows needs no second pass.
pub fn scan_file(
    det: &Detector,
    file: &File,
    size: u64,
    parallel: bool,
    count_records: bool,
    on_batch: &mut BatchSink<'_>,
) -> Result<Option<RecordTotals>, crate::error::InputError> {
    let pieces: Vec<(u64, u64)> = if parallel && in_pieces(size) {
        (0..size.div_ceil(PIECE))
            .map(|i| (i * PIECE, ((i + 1) * PIECE).min(size)))
            .collect()
    } else {
        vec![(0, size)]
    };
    let batch_len = rayon::current_num_threads().max(1);
    let read_error = |e| crate::error::InputError::io("read")(e);
    let mut lines = Lines::default();
    let mut records = RecordTotals::default();
    let mut located = Vec::new();
    // A track region reported at the end of one piece may cover starts the
    // next piece saw as findings of their own: those are dropped, and in
    // the rare case where one of them also ran past the region the piece
    // is scanned again knowing where the region ends.
    let mut last_end = 0;
    for batch in pieces.chunks(batch_len) {
        let start = |&range| Piece::new(det, file, size, range, count_records, 0).scan_on();
        let results: Vec<io::Result<Piece>> = if batch.len() > 1 {
            batch.par_iter().map(start).collect()
        } else {
            batch.iter().map(start).collect()
        };
        located.clear();
        for (r, &range) in results.into_iter().zip(batch) {
            let mut piece = r.map_err(read_error)?;
            if piece_needs_rescan(&piece.findings, last_end) {
                piece = Piece::new(det, file, size, range, count_records, last_end)
                    .scan_on()
                    .map_err(read_error)?;
            }
            loop {
                for f in piece.findings.drain(..) {
                    if f.offset < last_end {
                        continue;
                    }
                    last_end = f.end();
                    let line_start = f
                        .lines
                        .line_start
                        .or(lines.last_newline.map(|p| p + 1))
                        .unwrap_or(0);
                    located.push(Located {
                        finding: f,
                        line: lines.newlines + f.lines.newlines_before + 1,
                        column: f.offset - line_start + 1,
                        record: count_records.then(|| records.place(&f.lines.records)),
                    });
                }
                // Dense findings: hand over what is held (everything up to
                // the last one is final), then read on.
                if located.len() >= FINDINGS_HELD {
                    on_batch(last_end, &located)?;
                    located.clear();
                }
                if piece.done {
                    break;
                }
                piece = piece.scan_on().map_err(read_error)?;
            }
            let (newlines, last_newline) = piece.sc.newlines().unwrap_or((0, None));
            lines.newlines += newlines;
            lines.last_newline = last_newline.or(lines.last_newline);
            if let Some(c) = &piece.sc.records() {
                records.fold(c);
            }
        }
        let batch_end = batch.last().map_or(0, |b| b.1);
        on_batch(batch_end, &located)?;
    }
    Ok(count_records.then_some(records))
}

/// Scans a whole file already in memory (small files: one read, no piece
/// machinery), with the same batch interface as [`scan_file`].
pub fn scan_slice(
    det: &Detector,
    data: &[u8],
    on_batch: &mut BatchSink<'_>,
) -> Result<(), crate::error::InputError> {
    let mut located = Vec::new();
    let mut counted = 0usize;
    let mut newlines = 0u64;
    let mut line_start = 0usize;
    det.find_window(data, 0, 0, data.len(), &mut |f| {
        let at = f.offset as usize;
        let seg = &data[counted..at];
        newlines += bytecount::count(seg, b'\n') as u64;
        if let Some(p) = memchr::memrchr(b'\n', seg) {
            line_start = counted + p + 1;
        }
        counted = at;
        located.push(Located {
            finding: f,
            line: newlines + 1,
            column: (at - line_start) as u64 + 1,
            record: None,
        });
    });
    on_batch(data.len() as u64, &located)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A temporary file holding `data`.
    fn in_file(data: &[u8]) -> File {
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(data).unwrap();
        tmp
    }

    /// Every finding of `data` scanned as a file, in pieces when large.
    fn file_findings(det: &Detector, data: &[u8]) -> Vec<Located> {
        let mut got = Vec::new();
        scan_file(
            det,
            &in_file(data),
            data.len() as u64,
            true,
            false,
            &mut |_, b| {
                got.extend_from_slice(b);
                Ok(())
            },
        )
        .unwrap();
        got
    }

    /// Every finding of `data` scanned in one pass from memory.
    fn slice_findings(det: &Detector, data: &[u8]) -> Vec<Located> {
        let mut got = Vec::new();
        scan_slice(det, data, &mut |_, b| {
            got.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        got
    }

    /// Offset, line and column of each finding.
    fn places(found: &[Located]) -> Vec<(u64, u64, u64)> {
        found
            .iter()
            .map(|l| (l.finding.offset, l.line, l.column))
            .collect()
    }

    #[test]
    fn slice_and_file_scans_agree() {
        let data = b"a\nb 4111111111111111\n\nccc 5555 5555 5555 4444 d\n4111111111111111".to_vec();
        let det = Detector::default();
        let from_file = places(&file_findings(&det, &data));
        let from_slice = places(&slice_findings(&det, &data));
        assert_eq!(from_file, vec![(4, 2, 3), (26, 4, 5), (48, 5, 1)]);
        assert_eq!(from_slice, from_file);
    }

    #[test]
    fn pieces_give_the_same_lines_as_a_single_pass() {
        // Three pieces' worth plus a bit, with PANs near piece edges.
        let mut data = Vec::new();
        let mut expect = Vec::new();
        let mut line = 1u64;
        while (data.len() as u64) < 3 * PIECE + 1000 {
            let next_edge = (data.len() as u64 / PIECE + 1) * PIECE;
            if next_edge - (data.len() as u64) < 40 {
                // Straddle the edge.
                let col = data.len() as u64
                    - data
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |p| p as u64 + 1)
                    + 1;
                expect.push((line, col + 4));
                data.extend_from_slice(b"pan 4111 1111 1111 1111 ok\n");
                line += 1;
            } else {
                data.extend_from_slice(b"2024-01-01 12:00:00 nothing to see here, 123456789\n");
                line += 1;
            }
        }
        let got: Vec<_> = file_findings(&Detector::default(), &data)
            .iter()
            .map(|l| (l.line, l.column))
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got, expect);
    }

    #[test]
    fn dense_pieces_are_handed_over_in_bounded_calls_in_order() {
        // A PAN on every line of a file scanned in pieces: each piece
        // stops at FINDINGS_HELD findings and is finished on the merging
        // thread; the calls stay bounded, in order, and agree with one pass.
        let mut data = Vec::new();
        let mut i = 0u64;
        while (data.len() as u64) < 2 * PIECE + 100_000 {
            data.extend_from_slice(format!("{i:x} 4111111111111111\n").as_bytes());
            i += 1;
        }
        let det = Detector::default();
        let mut got = Vec::new();
        let mut last_end = 0;
        let mut calls = 0;
        scan_file(
            &det,
            &in_file(&data),
            data.len() as u64,
            true,
            false,
            &mut |end, b| {
                assert!(
                    b.len() < 2 * FINDINGS_HELD,
                    "{} findings in one call",
                    b.len()
                );
                assert!(b
                    .iter()
                    .all(|l| l.finding.offset >= last_end && l.finding.end() <= end));
                last_end = end;
                calls += 1;
                got.extend(places(b));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(got.len() as u64, i);
        assert_eq!(got, places(&slice_findings(&det, &data)));
        assert!(calls as u64 >= i / (2 * FINDINGS_HELD as u64));
    }

    #[test]
    fn a_track_region_across_a_piece_edge_hides_nothing_after_it() {
        // A track 1 region starts before the edge; a second track region
        // starting inside it, after the edge, runs past it and would hide
        // the PAN after the first region from the next piece's scan.
        let hay: &[u8] = b"%B4111111111111111^DOE/JOHN^2512101923340015=4111111111111111 end\n";
        let det = Detector::default();
        let alone: Vec<_> = det
            .find_iter(hay)
            .iter()
            .map(|f| (f.kind, f.offset, f.end()))
            .collect();
        assert_eq!(alone.len(), 2);
        let pan_at = alone[1].1 as usize;
        for before_edge in [3usize, 10, 26, 30] {
            let mut data = b"filler line\n".repeat((2 * PIECE as usize + 4096) / 12);
            let at = PIECE as usize - before_edge;
            data[at..at + hay.len()].copy_from_slice(hay);
            let got: Vec<_> = file_findings(&det, &data)
                .iter()
                .map(|l| (l.finding.kind, l.finding.offset, l.finding.end()))
                .collect();
            let want: Vec<_> = alone
                .iter()
                .map(|&(k, s, e)| (k, s + at as u64, e + at as u64))
                .collect();
            assert_eq!(got, want, "region {before_edge} bytes before the edge");
            assert!(pan_at > before_edge, "the PAN is in the next piece");
        }
    }
}
