//! Streaming: one stream fed in consecutive pieces (decoded archive
//! members, file pieces), with line and record counting and the carry a
//! PAN straddling a boundary needs. Results are identical for any chunking.

use std::io::{self, Read};

use super::*;

/// Default read size for [`StreamScanner::read_from`].
pub const DEFAULT_BLOCK: usize = 256 * 1024;

/// Scans one stream fed in consecutive pieces, keeping only the bytes that a
/// PAN straddling the next boundary may still need (under `MAX_SPAN` plus
/// context). Results are identical for any chunking.
pub struct StreamScanner<'d> {
    det: &'d Detector,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    filled: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// First index in `buf` whose start has not been evaluated yet.
    lo: usize,
    /// Starts at or after this stream offset are not reported.
    end_of_starts: u64,
    /// Newline counting, when enabled.
    lines: Option<LineCounter>,
    /// Findings of the current window, before their lines are known.
    pending: Vec<Finding>,
    /// End of the last finding reported: a track region reported near the
    /// end of one window may cover starts of the next, which are not
    /// findings of their own.
    last_end: u64,
}

/// Counts newlines in `[at, limit)` of the stream as the data passes.
struct LineCounter {
    at: u64,
    limit: u64,
    newlines: u64,
    last_newline: Option<u64>,
    /// CSV records, counted over the same bytes when asked for.
    records: Option<records::RecordCounter>,
}

impl LineCounter {
    /// Counts up to stream offset `to`; `data[0]` sits at offset `base`.
    fn advance(&mut self, data: &[u8], base: u64, to: u64) {
        let to = to.min(self.limit).min(base + data.len() as u64);
        if to <= self.at {
            return;
        }
        let slice = &data[(self.at - base) as usize..(to - base) as usize];
        // SIMD count (runtime-dispatched AVX2/SSE2): a plain loop or
        // memchr_iter cost as much as detection itself on logs.
        self.newlines += bytecount::count(slice, b'\n') as u64;
        if let Some(p) = memchr::memrchr(b'\n', slice) {
            self.last_newline = Some(self.at + p as u64);
        }
        if let Some(r) = &mut self.records {
            r.advance(slice, self.at);
        }
        self.at = to;
    }
}

impl<'d> StreamScanner<'d> {
    /// A scanner for a stream that starts at offset 0.
    pub fn new(det: &'d Detector) -> StreamScanner<'d> {
        StreamScanner::with_block(det, DEFAULT_BLOCK)
    }

    /// Like `new` with a given read size for `read_from`.
    pub fn with_block(det: &'d Detector, block: usize) -> StreamScanner<'d> {
        StreamScanner {
            det,
            buf: vec![0; block.max(64) + RIGHT_CONTEXT + LEFT_CONTEXT],
            filled: 0,
            base: 0,
            lo: 0,
            end_of_starts: u64::MAX,
            lines: None,
            pending: Vec::new(),
            last_end: 0,
        }
    }

    /// Tracks newlines from the first start on, so that findings carry a
    /// [`LinePos`] and [`StreamScanner::newlines`] tells the total.
    pub fn track_lines(mut self) -> StreamScanner<'d> {
        let start = self.base + self.lo as u64;
        self.lines = Some(LineCounter {
            at: start,
            limit: self.end_of_starts,
            newlines: 0,
            last_newline: None,
            records: None,
        });
        self
    }

    /// Also counts CSV records (quote-aware) over the same bytes as lines,
    /// so findings carry [`records::RecordMarks`]. Needs
    /// [`StreamScanner::track_lines`] first.
    pub fn track_records(mut self) -> StreamScanner<'d> {
        if let Some(lc) = &mut self.lines {
            lc.records = Some(records::RecordCounter::default());
        }
        self
    }

    /// With record counting: the counts so far (all of them once the
    /// stream is finished).
    pub fn records(&self) -> Option<records::RecordCounter> {
        self.lines.as_ref().and_then(|l| l.records)
    }

    /// With line tracking: newlines counted so far (all of them once the
    /// stream is finished) and the offset of the last one.
    pub fn newlines(&self) -> Option<(u64, Option<u64>)> {
        self.lines.as_ref().map(|l| (l.newlines, l.last_newline))
    }

    /// A scanner for a piece of a larger stream: the first bytes fed sit at
    /// `context_start`, starts before `first_start` are only context, and
    /// starts at or after `end_of_starts` are not reported (they belong to
    /// the next piece).
    pub fn for_piece(
        det: &'d Detector,
        block: usize,
        context_start: u64,
        first_start: u64,
        end_of_starts: u64,
    ) -> StreamScanner<'d> {
        let mut s = StreamScanner::with_block(det, block);
        s.base = context_start;
        s.lo = (first_start - context_start) as usize;
        s.end_of_starts = end_of_starts;
        s
    }

    /// For a piece scanned again once the pieces before it are known: the
    /// last region reported before it ends at `end`, so starts before `end`
    /// are not evaluated (see [`piece_needs_rescan`]).
    pub fn after_region(mut self, end: u64) -> StreamScanner<'d> {
        self.last_end = end;
        self
    }

    /// Feeds the next piece of the stream.
    pub fn feed(&mut self, mut chunk: &[u8], sink: &mut dyn FnMut(Finding)) {
        while !chunk.is_empty() {
            let room = self.buf.len() - self.filled;
            let take = room.min(chunk.len());
            self.buf[self.filled..self.filled + take].copy_from_slice(&chunk[..take]);
            self.filled += take;
            chunk = &chunk[take..];
            self.scan(false, sink);
        }
    }

    /// Reads `r` to its end, scanning as it goes, then finishes the stream.
    /// Returns the number of bytes read.
    pub fn read_from(
        &mut self,
        r: &mut dyn Read,
        sink: &mut dyn FnMut(Finding),
    ) -> io::Result<u64> {
        let from = self.position();
        while !self.read_step(r, sink)? {}
        Ok(self.position() - from)
    }

    /// Reads once from `r` and scans what is ready; at the end of `r`,
    /// finishes the stream and returns true (call no more after that).
    /// Lets a caller stop between reads, e.g. to hand findings on.
    pub fn read_step(
        &mut self,
        r: &mut dyn Read,
        sink: &mut dyn FnMut(Finding),
    ) -> io::Result<bool> {
        if self.filled == self.buf.len() {
            self.scan(false, sink);
        }
        loop {
            match r.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.finish(sink);
                    return Ok(true);
                }
                Ok(n) => {
                    self.filled += n;
                    // Scan only full-ish buffers: fewer, larger windows are
                    // faster.
                    if self.filled + RIGHT_CONTEXT * 4 >= self.buf.len() {
                        self.scan(false, sink);
                    }
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Declares the end of the stream and reports what remains.
    pub fn finish(&mut self, sink: &mut dyn FnMut(Finding)) {
        self.scan(true, sink);
    }

    /// The stream offset up to which data has been fed.
    pub fn position(&self) -> u64 {
        self.base + self.filled as u64
    }

    fn scan(&mut self, at_end: bool, sink: &mut dyn FnMut(Finding)) {
        let data = &self.buf[..self.filled];
        let mut hi = if at_end {
            data.len()
        } else {
            data.len().saturating_sub(RIGHT_CONTEXT)
        };
        let limit = self.end_of_starts.saturating_sub(self.base);
        hi = hi.min(usize::try_from(limit).unwrap_or(usize::MAX));
        // Starts inside the last region reported are not evaluated at all,
        // as in one pass over the whole input: evaluating them could find a
        // region that runs past it and hides a PAN after it.
        let covered =
            usize::try_from(self.last_end.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let from = self.lo.max(covered);
        if hi > from {
            let last_end = &mut self.last_end;
            let mut fresh = |f: &Finding| {
                let keep = f.offset >= *last_end;
                if keep {
                    *last_end = f.end();
                }
                keep
            };
            match &mut self.lines {
                None => self.det.find_window(data, self.base, from, hi, &mut |f| {
                    if fresh(&f) {
                        sink(f)
                    }
                }),
                Some(lc) => {
                    let pending = &mut self.pending;
                    self.det.find_window(data, self.base, from, hi, &mut |f| {
                        if fresh(&f) {
                            pending.push(f)
                        }
                    });
                    for mut f in pending.drain(..) {
                        lc.advance(data, self.base, f.offset);
                        f.lines = LinePos {
                            newlines_before: lc.newlines,
                            line_start: lc.last_newline.map(|p| p + 1),
                            records: lc.records.map(|r| r.marks()).unwrap_or_default(),
                        };
                        sink(f);
                    }
                }
            }
        }
        self.lo = self.lo.max(hi);
        if let Some(lc) = &mut self.lines {
            // Count what is about to be dropped (or everything at the end).
            let upto = if at_end {
                self.base + data.len() as u64
            } else {
                self.base + self.lo.saturating_sub(LEFT_CONTEXT) as u64
            };
            lc.advance(data, self.base, upto);
        }
        // A PAN reported near `hi` may extend past it; `lo` must not fall
        // inside it, or its tail would be seen as a new group. Group starts
        // require a non-digit before them, and that byte is kept as context.
        let keep_from = self.lo.saturating_sub(LEFT_CONTEXT);
        if keep_from > 0 && !at_end {
            self.buf.copy_within(keep_from..self.filled, 0);
            self.filled -= keep_from;
            self.lo -= keep_from;
            self.base += keep_from as u64;
        }
    }
}
