//! CSV locations: which row and field of a CSV (Salesforce export: BOM,
//! CRLF, every field quoted, doubled quotes, newlines inside quoted fields)
//! holds a finding, and the record's `Id`.
//!
//! Scanning a CSV is plain text scanning (a PAN cannot cross a field: a
//! comma or quote is a boundary), so rows without findings cost nothing
//! extra. Only for files with findings a [`CsvLocator`] lexes the bytes from
//! the start up to the last finding's record, one record at a time, with the
//! RFC 4180 quote rule (a quote toggles the quoted state; a doubled quote
//! toggles twice). It never holds more than one record's field offsets and
//! the (capped) `Id` value.

use std::io::{self, BufRead, BufReader, Read, Seek};

use crate::detect::records::{RecordCounter, RecordPos};
use std::path::Path;

/// Longest `Id` value kept (Salesforce Ids are 15 or 18 characters).
const MAX_ID: usize = 256;

/// Where a finding sits in a CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLocation {
    /// 1-based data row (the header is row 0).
    pub row: u64,
    /// Header name of the field (or its 1-based number when there is no
    /// such header).
    pub field: String,
    /// Value of the record's `Id` field, when the header has one.
    pub record_id: Option<String>,
}

impl CsvLocation {
    /// The reported form: field, record id and object name with any PAN
    /// in them masked (a header or an `Id` is data too).
    pub fn into_cell(
        self,
        object: Option<String>,
        det: &crate::detect::Detector,
        policy: &crate::mask::MaskPolicy,
    ) -> crate::location::CsvCell {
        use crate::manifest::mask_text;
        crate::location::CsvCell {
            row: self.row,
            field: mask_text(&self.field, det, policy),
            record_id: self.record_id.map(|r| mask_text(&r, det, policy)),
            object: object.map(|o| mask_text(&o, det, policy)),
        }
    }
}

/// True for names that are CSV/TSV by extension (case-insensitive).
pub fn delimiter_for(name: &Path) -> Option<u8> {
    let ext = name.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(b','),
        "tsv" | "tab" => Some(b'\t'),
        _ => None,
    }
}

/// The Salesforce object of an export file: its stem (`Contact.csv` →
/// `Contact`).
pub fn object_name(name: &Path) -> Option<String> {
    name.file_stem().map(|s| s.to_string_lossy().into_owned())
}

/// Maps stream offsets (ascending) to CSV locations.
pub struct CsvLocator<R: Read> {
    r: BufReader<R>,
    delim: u8,
    /// Stream offset of the next unread byte.
    pos: u64,
    header: Vec<String>,
    id_field: Option<usize>,
    /// The header has been read.
    header_done: bool,
    /// Offset one past the header record.
    header_end: u64,
    /// State of the sweep over data records.
    sweep: Sweep,
    /// Skip ahead over whole records with the quote-parity scan only when
    /// at least this many bytes lie before the next finding.
    skip_min: usize,
}

/// Counts the whole records in `data`, which starts in `in_quotes`, with
/// the scan's record counter (quote parity and newline masks 64 bytes at
/// a time). Returns the number of record ends and the index just past the
/// last one, if any.
fn skip_records(data: &[u8], in_quotes: bool) -> Option<(u64, usize)> {
    let mut counter = RecordCounter::default();
    counter.advance(data, 0);
    let marks = counter.marks();
    let h = usize::from(in_quotes);
    marks.record_start[h].map(|end| (marks.ends_before[h], end as usize))
}

/// Where the data-record sweep stands.
#[derive(Default)]
struct Sweep {
    in_quotes: bool,
    /// Current data row (1-based).
    record: u64,
    /// Current field index in the record.
    field: usize,
    /// Offset where the current field starts.
    field_start: u64,
    /// Collecting the bytes of the current record's Id field.
    capturing: bool,
    id_raw: Vec<u8>,
    /// The current record's Id field has ended: `id_raw` holds it.
    id_done: bool,
    /// Start offsets of the current record's fields seen so far (the
    /// first is the record start), to place offsets an earlier call swept
    /// past while looking ahead for the Id.
    fields: Vec<u64>,
}

impl Sweep {
    /// The current record's Id, when its field has ended (decoded only for
    /// records that hold a finding).
    fn last_id(&self) -> Option<String> {
        self.id_done.then(|| self.id_text())
    }

    /// The captured Id bytes, unquoted (a doubled quote is one quote).
    fn id_text(&self) -> String {
        // By characters: a byte cut could split a UTF-8 sequence.
        field_text(&self.id_raw, false)
            .chars()
            .take(MAX_ID)
            .collect()
    }
}

impl<R: Read> CsvLocator<R> {
    /// A locator over a stream that starts at offset 0.
    pub fn new(r: R, delim: u8) -> CsvLocator<R> {
        CsvLocator::with_capacity(r, delim, 256 * 1024)
    }

    /// A locator reading `capacity` bytes at a time: small when the scan
    /// gives each finding's record ([`CsvLocator::jump_to`]), so that only
    /// the bytes around findings are read again.
    pub fn with_capacity(r: R, delim: u8, capacity: usize) -> CsvLocator<R> {
        CsvLocator {
            r: BufReader::with_capacity(capacity, r),
            delim,
            pos: 0,
            header: Vec::new(),
            id_field: None,
            header_done: false,
            header_end: 0,
            sweep: Sweep::default(),
            skip_min: 4096,
        }
    }

    /// Sets the distance from which whole records are skipped (tests use
    /// small values to exercise the skip on small inputs).
    #[cfg(test)]
    fn with_skip_min(mut self, n: usize) -> Self {
        self.skip_min = n;
        self
    }

    /// Skips whole records that end before the next finding at `target`
    /// (no finding waits for an Id): only quote parity and record ends are
    /// computed, block by block, and the sweep resumes at the start of the
    /// last record that begins before `target`, as after a newline.
    /// Returns false when nothing could be skipped.
    fn skip_to(&mut self, target: u64) -> io::Result<bool> {
        let buf = self.r.fill_buf()?;
        let room = target.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        if room < self.skip_min {
            return Ok(false);
        }
        let Some((records, end)) = skip_records(&buf[..room], self.sweep.in_quotes) else {
            return Ok(false);
        };
        self.r.consume(end);
        self.pos += end as u64;
        self.restart_at_record(self.sweep.record + records);
        Ok(true)
    }

    /// The location of `offset`; offsets must come in ascending order
    /// across calls.
    pub fn locate(&mut self, offset: u64) -> io::Result<Option<CsvLocation>> {
        Ok(self.locate_all(&[offset])?.pop().flatten())
    }

    /// Reads the header and sets the sweep at the first data record; false
    /// for an empty stream.
    fn start(&mut self) -> io::Result<bool> {
        let more = self.read_header()?;
        self.restart_at_record(1);
        Ok(more)
    }

    /// Sets the sweep at the start of data record `row`, at `self.pos`, as
    /// after a newline outside quotes.
    fn restart_at_record(&mut self, row: u64) {
        let s = &mut self.sweep;
        s.in_quotes = false;
        s.record = row;
        s.field = 0;
        s.field_start = self.pos;
        s.id_done = false;
        s.fields.clear();
        s.fields.push(self.pos);
        s.capturing = self.id_field == Some(0);
        s.id_raw.clear();
    }

    /// The locations of `offsets` (ascending, and after those of earlier
    /// calls), in one forward sweep.
    pub fn locate_all(&mut self, offsets: &[u64]) -> io::Result<Vec<Option<CsvLocation>>> {
        if !self.header_done && !self.start()? {
            return Ok(vec![None; offsets.len()]);
        }
        let mut out: Vec<Option<CsvLocation>> = Vec::with_capacity(offsets.len());
        let mut next = 0;
        // Findings in the header are reported as row 0.
        while next < offsets.len() && offsets[next] < self.header_end {
            out.push(Some(CsvLocation {
                row: 0,
                field: String::new(),
                record_id: None,
            }));
            next += 1;
        }
        // Results waiting for their record's Id: indexes into `out`.
        let mut waiting: Vec<usize> = Vec::new();
        // Offsets an earlier call already swept past (it looked ahead for an
        // Id): they lie in the current record.
        while next < offsets.len() && offsets[next] < self.pos {
            let o = offsets[next];
            if o < self.sweep.fields[0] {
                out.push(None); // not ascending: cannot be placed
            } else {
                let k = self.sweep.fields.partition_point(|&f| f <= o) - 1;
                let field = self
                    .header
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| (k + 1).to_string());
                let known = self.sweep.id_done;
                out.push(Some(CsvLocation {
                    row: self.sweep.record,
                    field,
                    record_id: self.sweep.last_id(),
                }));
                if !known && self.id_field.is_some() {
                    waiting.push(out.len() - 1);
                }
            }
            next += 1;
        }
        loop {
            if next == offsets.len() && waiting.is_empty() {
                break;
            }
            // Far from the next finding: skip whole records cheaply.
            if waiting.is_empty() && self.skip_to(offsets[next])? {
                continue;
            }
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                // End of stream: the last record ends here.
                out.resize(offsets.len(), None);
                // The Id field is the last one (still open), or ended
                // earlier, or the record has none.
                let id = if self.sweep.capturing {
                    Some(self.sweep.id_text())
                } else {
                    self.sweep.last_id()
                };
                for w in waiting.drain(..) {
                    if let Some(l) = out[w].as_mut() {
                        l.record_id = id.clone();
                    }
                }
                break;
            }
            let chunk = buf;
            let base = self.pos;
            let delim = self.delim;
            let mut stop = None;
            // Structural bytes come from a SIMD search for quote, delimiter
            // and newline; quotes toggle the quoted state, and only a
            // delimiter or newline outside quotes ends a field.
            let mut events = memchr::memchr3_iter(b'"', delim, b'\n', chunk);
            loop {
                let mut found = None;
                for j in events.by_ref() {
                    if chunk[j] == b'"' {
                        self.sweep.in_quotes = !self.sweep.in_quotes;
                    } else if !self.sweep.in_quotes {
                        found = Some(j);
                        break;
                    }
                }
                let p = found.unwrap_or(chunk.len());
                let at = base + p as u64;
                // Findings before this structural byte sit in the current
                // field of the current record.
                while next < offsets.len() && offsets[next] < at {
                    let k = self.sweep.field;
                    let field = self
                        .header
                        .get(k)
                        .cloned()
                        .unwrap_or_else(|| (k + 1).to_string());
                    let known = self.id_field.is_some_and(|f| f < k);
                    out.push(Some(CsvLocation {
                        row: self.sweep.record,
                        field,
                        record_id: if known { self.sweep.last_id() } else { None },
                    }));
                    if !known && self.id_field.is_some() {
                        waiting.push(out.len() - 1);
                    }
                    next += 1;
                }
                if next == offsets.len() && waiting.is_empty() {
                    // Done: stop right here, before byte `p`, so that a
                    // later call resumes exactly where this one ended.
                    stop = Some(p);
                    break;
                }
                let Some(p) = found else { break };
                // Leaving a field: capture the Id when it was this one.
                if self.sweep.capturing {
                    let from = (self.sweep.field_start.max(base) - base) as usize;
                    if self.sweep.id_raw.len() < MAX_ID * 4 {
                        self.sweep.id_raw.extend_from_slice(&chunk[from..p]);
                    }
                    self.sweep.capturing = false;
                    self.sweep.id_done = true;
                    if !waiting.is_empty() {
                        let id = self.sweep.last_id();
                        for w in waiting.drain(..) {
                            if let Some(l) = out[w].as_mut() {
                                l.record_id = id.clone();
                            }
                        }
                    }
                    if next == offsets.len() {
                        // Resolved: stop before this byte's transition, so
                        // that offsets up to here stay in the current record
                        // for the next call.
                        stop = Some(p);
                        break;
                    }
                }
                if chunk[p] == b'\n' {
                    if !waiting.is_empty() {
                        // The record had no Id field: resolved as none.
                        waiting.clear();
                        if next == offsets.len() {
                            stop = Some(p);
                            break;
                        }
                    }
                    self.sweep.record += 1;
                    self.sweep.field = 0;
                    self.sweep.id_done = false;
                    self.sweep.fields.clear();
                } else {
                    self.sweep.field += 1;
                }
                self.sweep.fields.push(at + 1);
                self.sweep.field_start = at + 1;
                if Some(self.sweep.field) == self.id_field {
                    self.sweep.capturing = true;
                    self.sweep.id_raw.clear();
                }
            }
            let i = stop.unwrap_or(chunk.len());
            if self.sweep.capturing && self.sweep.id_raw.len() < MAX_ID * 4 {
                let from = (self.sweep.field_start.max(base) - base) as usize;
                if from < i {
                    self.sweep.id_raw.extend_from_slice(&chunk[from..i]);
                }
            }
            self.sweep.field_start = self.sweep.field_start.max(base + i as u64);
            if stop.is_some_and(|p| p < chunk.len()) {
                // Stopped on a structural byte: outside quotes there.
                self.sweep.in_quotes = false;
            }
            self.r.consume(i);
            self.pos += i as u64;
        }
        Ok(out)
    }

    /// Reads the header if not done yet; false for an empty stream.
    fn ensure_started(&mut self) -> io::Result<bool> {
        if self.header_done {
            return Ok(true);
        }
        self.start()
    }

    /// Reads the rest of the stream and tells whether every quoted field
    /// was closed (an even number of quotes after the sweep's position,
    /// given its quoted state). An unbalanced quote swallows the rest of
    /// the file into one field: the locations after it are unreliable.
    pub fn quotes_balanced(&mut self) -> io::Result<bool> {
        if !self.header_done {
            self.read_header()?;
        }
        let mut in_quotes = self.sweep.in_quotes;
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Ok(!in_quotes);
            }
            in_quotes ^= bytecount::count(buf, b'"') % 2 == 1;
            let n = buf.len();
            self.r.consume(n);
            self.pos += n as u64;
        }
    }

    /// Reads the header record and keeps its field names; false when the
    /// stream is empty.
    fn read_header(&mut self) -> io::Result<bool> {
        self.header_done = true;
        let Some((names, len)) = read_header(&mut self.r, self.delim)? else {
            return Ok(false);
        };
        self.pos += len;
        self.header_end = self.pos;
        self.id_field = names.iter().position(|h| h.eq_ignore_ascii_case("id"));
        self.header = names;
        Ok(true)
    }
}

impl<R: Read + Seek> CsvLocator<R> {
    /// Moves the sweep to the start of a finding's record, as the scan
    /// counted it (row and start offset), when that lies ahead: the bytes in
    /// between are not read. Call before locating offsets in that record.
    pub fn jump_to(&mut self, record: RecordPos) -> io::Result<()> {
        if !self.ensure_started()? || record.row == 0 || record.start <= self.pos {
            // Empty, in the header, or in the record being swept.
            return Ok(());
        }
        self.r.seek_relative((record.start - self.pos) as i64)?;
        self.pos = record.start;
        self.restart_at_record(record.row);
        Ok(())
    }
}

/// Longest header kept: a "header" longer than this (a file with no
/// newline, a binary blob named `.csv`) is treated as no header: the file
/// is still scanned as text, its findings get rows but no field names, and
/// memory stays bounded.
pub const MAX_HEADER: usize = 1 << 20;

/// Reads the header record of a CSV (up to its first unquoted newline):
/// the field names (see [`field_text`]) and the bytes consumed; `None` for
/// an empty stream. A header over [`MAX_HEADER`] bytes gives no names.
pub fn read_header<R: Read>(
    r: &mut BufReader<R>,
    delim: u8,
) -> io::Result<Option<(Vec<String>, u64)>> {
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut raw: Vec<u8> = Vec::new();
    let mut in_quotes = false;
    let mut any = false;
    let mut len = 0u64;
    let mut too_long = false;
    loop {
        if !too_long && len as usize > MAX_HEADER {
            // Keep finding the end (rows are counted from it), store no more.
            too_long = true;
            fields = Vec::new();
            raw = Vec::new();
        }
        if too_long {
            fields.clear();
            raw.clear();
        }
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let mut i = 0;
        let mut done = false;
        while let Some(j) = memchr::memchr3(b'"', delim, b'\n', &buf[i..]) {
            let p = i + j;
            let b = buf[p];
            if b == b'"' || in_quotes {
                in_quotes ^= b == b'"';
                raw.extend_from_slice(&buf[i..=p]);
                i = p + 1;
                continue;
            }
            raw.extend_from_slice(&buf[i..p]);
            fields.push(std::mem::take(&mut raw));
            i = p + 1;
            if b == b'\n' {
                done = true;
                break;
            }
        }
        if !done {
            raw.extend_from_slice(&buf[i..]);
            i = buf.len();
        }
        r.consume(i);
        len += i as u64;
        if done {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if too_long {
        return Ok(Some((Vec::new(), len)));
    }
    if !raw.is_empty() {
        fields.push(raw); // a header without a final newline
    }
    let names = fields
        .iter()
        .enumerate()
        .map(|(i, f)| field_text(f, i == 0))
        .collect();
    Ok(Some((names, len)))
}

/// A field's text from its raw bytes: a leading BOM (first field only; a
/// UTF-8 BOM, or the `0xFF` a UTF-16 BOM is in the one-byte view of
/// `format::utf16::Narrow`) and `\r` dropped, outer quotes removed, a
/// doubled quote read as one, then UTF-8 or Latin-1 (exports made in
/// ISO-8859-1). Bytes 0x80–0x9F are no Latin-1 text (C1 controls; the
/// UTF-16 view's mark for a non-ASCII character): shown as U+FFFD.
fn field_text(raw: &[u8], first: bool) -> String {
    let raw = if first {
        raw.strip_prefix(b"\xef\xbb\xbf")
            .or_else(|| raw.strip_prefix(b"\xff"))
            .unwrap_or(raw)
    } else {
        raw
    };
    let raw: Vec<u8> = raw.iter().copied().filter(|&b| b != b'\r').collect();
    let inner = match raw.as_slice() {
        [b'"', mid @ .., b'"'] => mid,
        other => other,
    };
    let mut v = Vec::with_capacity(inner.len());
    let mut prev_quote = false;
    for &b in inner {
        if b == b'"' && prev_quote {
            prev_quote = false;
            continue;
        }
        prev_quote = b == b'"';
        v.push(b);
    }
    match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => e
            .into_bytes()
            .iter()
            .map(|&b| match b {
                0x80..=0x9f => char::REPLACEMENT_CHARACTER,
                _ => b as char,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
