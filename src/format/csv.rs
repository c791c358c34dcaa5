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

use std::io::{self, BufRead, BufReader, Read};
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

struct Record {
    index: u64,
    end: u64,
    field_starts: Vec<u64>,
    id: Option<String>,
}

/// Maps stream offsets (ascending) to CSV locations.
pub struct CsvLocator<R: Read> {
    r: BufReader<R>,
    delim: u8,
    pos: u64,
    header: Vec<String>,
    id_field: Option<usize>,
    current: Option<Record>,
    next_index: u64,
    eof: bool,
}

impl<R: Read> CsvLocator<R> {
    /// A locator over a stream that starts at offset 0.
    pub fn new(r: R, delim: u8) -> CsvLocator<R> {
        CsvLocator {
            r: BufReader::with_capacity(256 * 1024, r),
            delim,
            pos: 0,
            header: Vec::new(),
            id_field: None,
            current: None,
            next_index: 0,
            eof: false,
        }
    }

    /// The location of `offset`; offsets must come in ascending order.
    pub fn locate(&mut self, offset: u64) -> io::Result<Option<CsvLocation>> {
        loop {
            if let Some(rec) = &self.current {
                if offset < rec.end || (self.eof && offset <= rec.end) {
                    break;
                }
            }
            if self.eof {
                return Ok(None);
            }
            let capture_all = self.next_index == 0;
            let rec = self.read_record(capture_all)?;
            self.current = rec;
            if self.current.is_none() {
                return Ok(None);
            }
        }
        let rec = self.current.as_ref().expect("set above");
        if rec.index == 0 {
            return Ok(Some(CsvLocation {
                row: 0,
                field: String::new(),
                record_id: None,
            }));
        }
        let k = rec
            .field_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let field = self
            .header
            .get(k)
            .cloned()
            .unwrap_or_else(|| (k + 1).to_string());
        Ok(Some(CsvLocation {
            row: rec.index,
            field,
            record_id: rec.id.clone(),
        }))
    }

    /// Lexes one record. For the header (`capture_all`) every field's text
    /// is kept as the column names.
    fn read_record(&mut self, capture_all: bool) -> io::Result<Option<Record>> {
        let start = self.pos;
        let mut field_starts = vec![start];
        let mut in_quotes = false;
        let mut field: Vec<u8> = Vec::new();
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut id: Option<Vec<u8>> = None;
        let mut any = false;
        // The previous byte closed a quoted section: a quote right after it
        // is an escaped (doubled) quote.
        let mut just_closed = false;
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                self.eof = true;
                break;
            }
            let mut consumed = 0;
            let mut done = false;
            for &b in buf {
                consumed += 1;
                any = true;
                let k = field_starts.len() - 1;
                let keep = capture_all || Some(k) == self.id_field;
                if in_quotes {
                    if b == b'"' {
                        in_quotes = false;
                        just_closed = true;
                    } else if keep && field.len() < MAX_ID * 4 {
                        field.push(b);
                    }
                    continue;
                }
                let was_closed = std::mem::replace(&mut just_closed, false);
                if b == b'"' {
                    // Opening quote, or the second of a doubled quote.
                    if keep && was_closed {
                        field.push(b'"');
                    }
                    in_quotes = true;
                } else if b == self.delim || b == b'\n' {
                    if keep {
                        let f = std::mem::take(&mut field);
                        if capture_all {
                            fields.push(f);
                        } else {
                            id = Some(f);
                        }
                    }
                    if b == b'\n' {
                        done = true;
                        break;
                    }
                    field_starts.push(self.pos + consumed as u64);
                } else if keep && b != b'\r' && field.len() < MAX_ID * 4 {
                    field.push(b);
                }
            }
            self.r.consume(consumed);
            self.pos += consumed as u64;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if self.eof && !field.is_empty() {
            // Last record without a final newline.
            if capture_all {
                fields.push(std::mem::take(&mut field));
            } else if Some(field_starts.len() - 1) == self.id_field {
                id = Some(std::mem::take(&mut field));
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        if capture_all {
            self.header = fields
                .iter()
                .enumerate()
                .map(|(i, f)| header_text(f, i == 0))
                .collect();
            self.id_field = self
                .header
                .iter()
                .position(|h| h.eq_ignore_ascii_case("id"));
        }
        Ok(Some(Record {
            index,
            end: self.pos,
            field_starts,
            id: id.map(|v| {
                let mut s = header_text(&v, false);
                s.truncate(MAX_ID);
                s
            }),
        }))
    }
}

/// Field text: UTF-8, or Latin-1 when not (exports made in ISO-8859-1);
/// a leading BOM on the first header field is dropped.
fn header_text(raw: &[u8], first: bool) -> String {
    let raw = if first {
        raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw)
    } else {
        raw
    };
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => raw.iter().map(|&b| b as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locs(data: &[u8], offsets: &[u64]) -> Vec<Option<CsvLocation>> {
        let mut l = CsvLocator::new(data, b',');
        offsets.iter().map(|&o| l.locate(o).unwrap()).collect()
    }

    fn loc(row: u64, field: &str, id: Option<&str>) -> Option<CsvLocation> {
        Some(CsvLocation {
            row,
            field: field.into(),
            record_id: id.map(Into::into),
        })
    }

    #[test]
    fn salesforce_shape() {
        let data = b"\xef\xbb\xbf\"Id\",\"Name\",\"Description\"\r\n\"003A\",\"Ada \"\"A\"\"\",\"card\n4111111111111111\"\r\n\"003B\",\"Bob\",\"x 5555555555554444\"\r\n";
        let p1 = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
        let p2 = data.windows(4).position(|w| w == b"5555").unwrap() as u64;
        let p0 = data.windows(3).position(|w| w == b"Ada").unwrap() as u64;
        assert_eq!(
            locs(data, &[p0, p1, p2]),
            vec![
                loc(1, "Name", Some("003A")),
                loc(1, "Description", Some("003A")),
                loc(2, "Description", Some("003B"))
            ]
        );
    }

    #[test]
    fn id_after_the_field_and_no_final_newline() {
        let data = b"Pan,Id\n4111111111111111,a01\n5555555555554444,a02";
        let p1 = 7;
        let p2 = data.windows(4).position(|w| w == b"5555").unwrap() as u64;
        assert_eq!(
            locs(data, &[p1, p2]),
            vec![loc(1, "Pan", Some("a01")), loc(2, "Pan", Some("a02"))]
        );
    }

    #[test]
    fn no_id_column_and_latin1_header() {
        let data = b"Num\xe9ro,Carte\n1,4111111111111111\n";
        let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
        assert_eq!(locs(data, &[p]), vec![loc(1, "Carte", None)]);
        let data = b"N\xc3\xa9,Carte\n1,4111111111111111\n";
        let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
        assert_eq!(locs(data, &[p]), vec![loc(1, "Carte", None)]);
        let l = locs(b"N\xe9\n4111111111111111\n", &[4]);
        assert_eq!(l, vec![loc(1, "N\u{e9}", None)]);
    }

    #[test]
    fn doubled_quotes_in_header_and_id() {
        let data = b"\"Id \"\"x\"\"\",\"B\"\n\"a\"\"1\",\"4111111111111111\"\n";
        let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
        assert_eq!(locs(data, &[p]), vec![loc(1, "B", None)]);
        let data = b"\"Id\",\"B\"\n\"a\"\"1\",\"4111111111111111\"\n";
        let p = data.windows(4).position(|w| w == b"4111").unwrap() as u64;
        assert_eq!(locs(data, &[p]), vec![loc(1, "B", Some("a\"1"))]);
    }

    #[test]
    fn extensions() {
        assert_eq!(delimiter_for(Path::new("a/Contact.CSV")), Some(b','));
        assert_eq!(delimiter_for(Path::new("x.tsv")), Some(b'\t'));
        assert_eq!(delimiter_for(Path::new("x.log")), None);
        assert_eq!(
            object_name(Path::new("dir/Contact.csv")).as_deref(),
            Some("Contact")
        );
    }
}
