//! The PAN detector: given bytes, report every PAN as docs/policy.md defines it.
//!
//! Pipeline per buffer: `prefilter` finds chains of 13+ digit/separator
//! bytes, `shape` assembles a candidate at each digit-group start inside a
//! chain and applies the boundary rules, then the network table (`iin`) and
//! finally `luhn` decide; `track` extends a PAN over the magnetic-stripe
//! data that follows it. Beside PANs, `anchors` and `cvv` find card
//! verification codes next to their keywords. Nothing outside this module
//! re-implements any of those rules: adapters hand bytes in and receive
//! [`Finding`]s.
//!
//! Locality: whether a span is a finding depends only on the bytes from
//! `LEFT_CONTEXT` before it to `RIGHT_CONTEXT` after its start, so inputs can
//! be cut anywhere (stream chunks, parallel file pieces) and scanned with
//! [`Detector::find_window`] or [`StreamScanner`] with identical results.

pub mod anchors;
pub mod cvv;
pub mod iin;
pub mod luhn;
#[doc(hidden)]
pub mod oracle;
pub mod prefilter;
pub mod records;
mod runs;
pub mod separators;
pub mod shape;
mod stream;
pub mod track;

use std::fmt;

pub use iin::{IinRange, IinTable, Network, IIN_TABLE_VERSION};
pub use shape::{MAX_DIGITS, MAX_SPAN};
pub use stream::{StreamScanner, DEFAULT_BLOCK};

use prefilter::is_digit;

/// Bytes before a start that the rules look at: the PAN rules need ten, a
/// verification code needs its keyword.
pub const LEFT_CONTEXT: usize = if cvv::CVV_LEFT_CONTEXT > shape::LEFT_CONTEXT {
    cvv::CVV_LEFT_CONTEXT
} else {
    shape::LEFT_CONTEXT
};
/// Longest region a finding covers: a PAN with its track 1 data.
pub const MAX_REGION: usize = track::MAX_TRACK_REGION;
/// Bytes from a start (inclusive) that the rules look at: a whole track
/// region, an end sentinel and the byte after it, and the PAN rules' own
/// reach past a span.
pub const RIGHT_CONTEXT: usize = MAX_REGION + shape::RIGHT_CONTEXT;

/// What a finding is (the manifest's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A PAN on its own.
    Pan,
    /// A PAN with track 1 data after it.
    Track1,
    /// A PAN with track 2 data after it.
    Track2,
    /// A card verification code next to its keyword (or in its column).
    Cvv,
}

impl Kind {
    /// The manifest's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pan => "pan",
            Kind::Track1 => "track1",
            Kind::Track2 => "track2",
            Kind::Cvv => "cvv",
        }
    }

    /// Whether the finding holds a PAN (a brand, a truncation, an allow
    /// list and fingerprints apply).
    pub fn has_pan(self) -> bool {
        self != Kind::Cvv
    }
}

/// One finding in a stream: a PAN (possibly with track data) or a card
/// verification code.
///
/// Holds the region's bytes (so that in-place writers can check the disk
/// still holds them), which hold a full PAN: `Debug` is redacted and there
/// is no `Display`. Use [`crate::mask::MaskPolicy::mask`] to get a
/// printable form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// Offset of the first digit in the decoded stream.
    pub offset: u64,
    /// What was found.
    pub kind: Kind,
    /// The network, by longest matching prefix (`None` for a code).
    pub network: Option<Network>,
    /// Set by a [`StreamScanner`] that tracks lines: where the finding sits
    /// relative to the point where tracking started.
    pub lines: LinePos,
    span: [u8; MAX_REGION],
    span_len: u8,
    /// Bytes of `span` holding the PAN (the code, for a code).
    pan_len: u8,
    /// Where the masked-whole track data starts in `span` (`span_len` when
    /// there is none).
    tail_from: u8,
    /// Up to `CONTEXT` bytes before and after the span (for adapters that
    /// decide syntax, e.g. a bare JSON number), and how many are real.
    before: [u8; CONTEXT],
    before_len: u8,
    after: [u8; CONTEXT],
    after_len: u8,
}

/// Bytes of context a finding carries on each side.
pub const CONTEXT: usize = 8;

impl Finding {
    /// Length of the region in bytes, separators and track data included.
    pub fn len(&self) -> usize {
        self.span_len as usize
    }

    /// Always false: a finding spans at least 3 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The PAN (or code) part of the region: a full PAN, never print it.
    pub fn pan_bytes(&self) -> &[u8] {
        &self.span[..self.pan_len as usize]
    }

    /// The track data masked whole (empty unless a track).
    pub fn track_tail(&self) -> &[u8] {
        &self.span[self.tail_from as usize..self.span_len as usize]
    }

    /// Where the track data starts within the region.
    pub fn tail_from(&self) -> usize {
        self.tail_from as usize
    }

    /// Offset one past the last byte of the span.
    pub fn end(&self) -> u64 {
        self.offset + self.span_len as u64
    }

    /// The raw bytes of the region (digits, separators, track data). A full
    /// PAN: never print it.
    pub fn span_bytes(&self) -> &[u8] {
        &self.span[..self.span_len as usize]
    }

    /// The number of digits of the PAN (or code).
    pub fn digit_count(&self) -> usize {
        let mut n = 0;
        separators::for_each_digit(self.pan_bytes(), |_, _| n += 1);
        n
    }

    /// The bytes just before the span (up to `CONTEXT`, fewer at the start
    /// of input). May be part of a PAN's surroundings; never print them.
    pub fn before(&self) -> &[u8] {
        &self.before[CONTEXT - self.before_len as usize..]
    }

    /// The bytes just after the span (up to `CONTEXT`).
    pub fn after(&self) -> &[u8] {
        &self.after[..self.after_len as usize]
    }

    /// The PAN's (or code's) digits with separators removed, in `out`;
    /// returns how many.
    pub fn digits(&self, out: &mut [u8; MAX_DIGITS]) -> usize {
        let mut n = 0;
        separators::for_each_digit(self.pan_bytes(), |_, b| {
            out[n] = b;
            n += 1;
        });
        n
    }
}

impl Finding {
    /// A finding over `hay[s..e]`: the PAN or code is its first `pan_len`
    /// bytes, and bytes from `tail` on are track data.
    #[allow(clippy::too_many_arguments)]
    fn new(
        hay: &[u8],
        base: u64,
        s: usize,
        e: usize,
        kind: Kind,
        network: Option<Network>,
        pan_len: usize,
        tail: usize,
    ) -> Finding {
        let len = e - s;
        let mut span = [0u8; MAX_REGION];
        span[..len].copy_from_slice(&hay[s..e]);
        let b0 = s.saturating_sub(CONTEXT);
        let mut before = [0u8; CONTEXT];
        before[CONTEXT - (s - b0)..].copy_from_slice(&hay[b0..s]);
        let a1 = (e + CONTEXT).min(hay.len());
        let mut after = [0u8; CONTEXT];
        after[..a1 - e].copy_from_slice(&hay[e..a1]);
        Finding {
            offset: base + s as u64,
            kind,
            network,
            lines: LinePos::default(),
            span,
            span_len: len as u8,
            pan_len: pan_len as u8,
            tail_from: (tail - s) as u8,
            before,
            before_len: (s - b0) as u8,
            after,
            after_len: (a1 - e) as u8,
        }
    }
}

/// Line position of a finding, relative to where line tracking started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinePos {
    /// Newlines between the tracking start and the finding.
    pub newlines_before: u64,
    /// Stream offset just after the last of those newlines, if any.
    pub line_start: Option<u64>,
    /// CSV record marks, when the scanner counts records.
    pub records: records::RecordMarks,
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the digits: a Debug print may end up in a panic message.
        f.debug_struct("Finding")
            .field("offset", &self.offset)
            .field("kind", &self.kind)
            .field("len", &self.span_len)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Detector`].
#[derive(Clone, Debug, Default)]
pub struct DetectorBuilder {
    table: Option<IinTable>,
    pan_only: bool,
}

impl DetectorBuilder {
    /// A builder with the default network table.
    pub fn new() -> DetectorBuilder {
        DetectorBuilder::default()
    }

    /// Replaces the network table.
    pub fn table(&mut self, table: IinTable) -> &mut DetectorBuilder {
        self.table = Some(table);
        self
    }

    /// PANs only: no verification codes, and no track data beyond the PAN.
    pub fn pan_only(&mut self, yes: bool) -> &mut DetectorBuilder {
        self.pan_only = yes;
        self
    }

    /// Builds the detector.
    pub fn build(&self) -> Detector {
        Detector {
            table: self.table.clone().unwrap_or_default(),
            pan_only: self.pan_only,
        }
    }
}

/// Finds PANs and verification codes in bytes. Build once, share by
/// reference across threads.
#[derive(Clone, Debug)]
pub struct Detector {
    table: IinTable,
    pan_only: bool,
}

impl Default for Detector {
    fn default() -> Self {
        DetectorBuilder::new().build()
    }
}

impl Detector {
    /// Every PAN in a complete input, in order.
    pub fn find_iter(&self, hay: &[u8]) -> Vec<Finding> {
        let mut v = Vec::new();
        self.find_window(hay, 0, 0, hay.len(), &mut |f| v.push(f));
        v
    }

    /// True when the input holds at least one PAN.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        !self.find_iter(hay).is_empty()
    }

    /// Reports the findings that start in `hay[lo..hi]`, in order.
    ///
    /// `hay[0]` sits at offset `base` of the stream. Bytes outside `hay` are
    /// treated as the start/end of input, so when `hay` is a piece of a
    /// larger stream the caller must include `LEFT_CONTEXT` bytes before `lo`
    /// (unless `lo` is the stream start) and `RIGHT_CONTEXT` bytes from any
    /// start before `hi` (unless the stream ends within them).
    pub fn find_window(
        &self,
        hay: &[u8],
        base: u64,
        lo: usize,
        hi: usize,
        sink: &mut dyn FnMut(Finding),
    ) {
        let hi = hi.min(hay.len());
        if lo >= hi {
            return;
        }
        if self.pan_only {
            return self.find_pans(hay, base, lo, hi, sink);
        }
        // Codes are rare: collected first (no allocation when there are
        // none), then merged into the PAN stream in offset order. A code
        // inside a track region is part of that region.
        let mut codes = Vec::new();
        cvv::for_each_code(hay, lo, hi, &mut |s, n| {
            codes.push(Finding::new(hay, base, s, s + n, Kind::Cvv, None, n, s + n));
        });
        if codes.is_empty() {
            return self.find_pans(hay, base, lo, hi, sink);
        }
        let mut next = codes.iter().peekable();
        self.find_pans(hay, base, lo, hi, &mut |f| {
            while let Some(c) = next.next_if(|c| c.offset < f.end()) {
                if c.end() <= f.offset {
                    sink(*c);
                }
            }
            sink(f);
        });
        next.for_each(|c| sink(*c));
    }

    /// A cell of a column named for a verification code (a CSV header such
    /// as `CVV`): a code finding at `offset` when it holds 3–4 digits.
    pub fn code_cell(&self, value: &[u8], offset: u64) -> Option<Finding> {
        (!self.pan_only && cvv::is_code_value(value)).then(|| {
            let n = value.len();
            Finding::new(value, offset, 0, n, Kind::Cvv, None, n, n)
        })
    }

    /// The PAN part of [`Detector::find_window`].
    fn find_pans(
        &self,
        hay: &[u8],
        base: u64,
        lo: usize,
        hi: usize,
        sink: &mut dyn FnMut(Finding),
    ) {
        // A track region may run over several chains: starts inside it are
        // not findings of their own.
        let mut resume = lo;
        prefilter::for_each_chain(hay, lo, hi, |a, b| {
            let end = b.min(hi);
            let mut s = a.max(resume);
            while s < end {
                if !is_digit(hay[s]) {
                    s += 1; // a separator byte inside the chain
                    continue;
                }
                let group_end = prefilter::digits_end(hay, s);
                if let Some(f) = self.pan_in_run(hay, base, s, group_end, end) {
                    // Spans never overlap; resume after this one.
                    s = (f.offset - base) as usize + f.len();
                    resume = s;
                    sink(f);
                    continue;
                }
                s = group_end;
            }
        });
    }

    /// The PAN starting in the digit run `hay[s..group_end]`, if any. Starts
    /// are tried in order, so the leftmost PAN wins: the run's first digit
    /// when it starts a group (a run clipped at `lo` does not, unless an
    /// escape ends there), then a digit right after a percent-escape whose
    /// hex digits open the run (`%204111…`). Starts at or past `end` are
    /// another window's.
    #[inline]
    fn pan_in_run(
        &self,
        hay: &[u8],
        base: u64,
        s: usize,
        group_end: usize,
        end: usize,
    ) -> Option<Finding> {
        // Only a group of 4 (first of a separated PAN) or 13–19
        // (contiguous) can start a PAN.
        let may_start = |len: usize| len == 4 || (13..=MAX_DIGITS).contains(&len);
        let first = s == 0 || !is_digit(hay[s - 1]) || separators::escape_before(hay, s).is_some();
        if first && may_start(group_end - s) {
            if let Some(f) = self.confirm(hay, base, s, group_end - s) {
                return Some(f);
            }
        }
        // Escape starts need a `%` one or two bytes before the run: rare,
        // so tested before anything else.
        if (s >= 1 && hay[s - 1] == b'%') || (s >= 2 && hay[s - 2] == b'%') {
            for p in s + 1..group_end.min(s + 3).min(end) {
                if separators::escape_before(hay, p).is_some() && may_start(group_end - p) {
                    if let Some(f) = self.confirm(hay, base, p, group_end - p) {
                        return Some(f);
                    }
                }
            }
        }
        None
    }

    /// Applies shape, boundary, network and Luhn rules at a group start.
    #[inline]
    fn confirm(&self, hay: &[u8], base: u64, s: usize, group: usize) -> Option<Finding> {
        let c = shape::candidate_with_group(hay, s, group)?;
        let digits = c.digits(hay, s);
        // Prefix and length first: far cheaper to reject than Luhn.
        let network = self.table.lookup(digits)?;
        if !luhn::is_valid(digits) {
            return None;
        }
        let track = (!self.pan_only && c.ndigits == 0)
            .then(|| track::after_pan(hay, s, c.end))
            .flatten();
        Some(match track {
            None => Finding::new(
                hay,
                base,
                s,
                c.end,
                Kind::Pan,
                Some(network),
                c.end - s,
                c.end,
            ),
            Some(t) => {
                let kind = match t.track {
                    track::Track::One => Kind::Track1,
                    track::Track::Two => Kind::Track2,
                };
                Finding::new(hay, base, s, t.end, kind, Some(network), c.end - s, t.tail)
            }
        })
    }

    /// The network table in use.
    pub fn table(&self) -> &IinTable {
        &self.table
    }
}

/// Whether a piece scanned without knowing its predecessors must be scanned
/// again, given `findings` (its own, in order) and `last_end`, where the
/// last region reported before it ends.
///
/// A finding that starts before `last_end` is covered and dropped. If it
/// also runs past `last_end`, the piece skipped starts inside it that one
/// pass over the whole input evaluates (a PAN right after a track region
/// that a second, overlapping track region swallowed): the piece must be
/// scanned again with [`StreamScanner::after_region`]. Otherwise its
/// findings from `last_end` on are exactly the whole-input ones.
pub fn piece_needs_rescan(findings: &[Finding], last_end: u64) -> bool {
    findings
        .iter()
        .take_while(|f| f.offset < last_end)
        .any(|f| f.end() > last_end)
}

#[cfg(test)]
mod tests;
