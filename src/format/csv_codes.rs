//! Verification codes in CSV columns named for them (`CVV`, `Card_CVV__c`,
//! `Security Code`): the value is not next to its keyword, so the header
//! decides. Only files whose header names such a column pay for this: one
//! extra streaming pass that walks every field, quote-aware, and hands the
//! cells of those columns to the detector's code rule.

use std::io::{self, BufRead, BufReader, Read};

use crate::detect::{Detector, Finding};
use crate::format::text::Located;

/// Streams the code cells of one CSV, in file order.
pub struct CodeCells<R: Read> {
    r: BufReader<R>,
    walk: FieldWalk,
    done: bool,
}

/// The quote-aware walk over fields, one byte at a time.
struct FieldWalk {
    delim: u8,
    /// Which field indexes are code columns.
    columns: Vec<bool>,
    /// Offset of the next byte.
    pos: u64,
    in_quotes: bool,
    field: usize,
    /// Raw bytes of the current field, while it is a code column's and
    /// short enough to be a code (`"1234"\r` at most).
    cell: Vec<u8>,
    cell_start: u64,
    cell_too_long: bool,
    /// Current 1-based line (every newline counts, quoted ones too).
    line: u64,
    line_start: u64,
}

/// The longest raw cell that may hold a code: quotes, four digits, `\r`.
const MAX_CELL: usize = 7;

impl<R: Read> CodeCells<R> {
    /// Reads the header; `None` when no column is named for a code.
    pub fn new(r: R, delim: u8) -> io::Result<Option<CodeCells<R>>> {
        let mut r = BufReader::with_capacity(256 * 1024, r);
        let Some((names, header_len)) = super::csv::read_header(&mut r, delim)? else {
            return Ok(None);
        };
        let columns: Vec<bool> = names
            .iter()
            .map(|n| crate::detect::cvv::is_code_column(n))
            .collect();
        if !columns.iter().any(|c| *c) {
            return Ok(None);
        }
        // Header names may hold quoted newlines: count the header's lines.
        let header_lines = 1 + names
            .iter()
            .map(|n| n.matches('\n').count() as u64)
            .sum::<u64>();
        Ok(Some(CodeCells {
            r,
            walk: FieldWalk {
                delim,
                columns,
                pos: header_len,
                in_quotes: false,
                field: 0,
                cell: Vec::new(),
                cell_start: header_len,
                cell_too_long: false,
                line: header_lines + 1,
                line_start: header_len,
            },
            done: false,
        }))
    }

    /// The code cells that start before `end`, as located findings.
    pub fn upto(&mut self, det: &Detector, end: u64) -> io::Result<Vec<Located>> {
        let mut out = Vec::new();
        let w = &mut self.walk;
        // A code cell that starts before `end` is finished here (it is at
        // most a few bytes), so that no later batch goes back before `end`.
        while !self.done
            && (w.pos < end || (w.in_code_column() && w.cell_start < end && !w.cell_too_long))
        {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                w.end_field(det, &mut out);
                self.done = true;
                break;
            }
            let n = buf.len().min(end.saturating_sub(w.pos) as usize).max(1);
            for &b in &buf[..n] {
                w.step(det, b, &mut out);
            }
            self.r.consume(n);
        }
        Ok(out)
    }
}

impl FieldWalk {
    fn in_code_column(&self) -> bool {
        self.columns.get(self.field).copied().unwrap_or(false)
    }

    fn step(&mut self, det: &Detector, b: u8, out: &mut Vec<Located>) {
        self.pos += 1;
        if b == b'"' {
            self.in_quotes = !self.in_quotes;
        }
        if !self.in_quotes && (b == self.delim || b == b'\n') {
            self.end_field(det, out);
            if b == b'\n' {
                self.field = 0;
            } else {
                self.field += 1;
            }
            self.cell_start = self.pos;
        } else if self.in_code_column() && !self.cell_too_long {
            if self.cell.len() == MAX_CELL {
                self.cell_too_long = true;
            } else {
                self.cell.push(b);
            }
        }
        // After the field: a cell ending a record sits on the old line.
        if b == b'\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
    }

    fn end_field(&mut self, det: &Detector, out: &mut Vec<Located>) {
        if self.in_code_column() && !self.cell_too_long {
            let raw = self.cell.strip_suffix(b"\r").unwrap_or(&self.cell);
            let (value, skip) = match raw {
                [b'"', mid @ .., b'"'] => (mid, 1),
                other => (other, 0),
            };
            let offset = self.cell_start + skip;
            if let Some(f) = det.code_cell(value, offset) {
                out.push(located(f, self.line, offset - self.line_start + 1));
            }
        }
        self.cell.clear();
        self.cell_too_long = false;
    }
}

fn located(finding: Finding, line: u64, column: u64) -> Located {
    Located {
        finding,
        line,
        column,
        record: None,
    }
}

/// Merges code cells into the detector's findings of a batch (both in
/// file order); a cell the detector already found is kept once.
pub fn merge(found: &[Located], cells: Vec<Located>) -> Vec<Located> {
    let mut out = Vec::with_capacity(found.len() + cells.len());
    let mut cells = cells.into_iter().peekable();
    for l in found {
        while let Some(c) = cells.next_if(|c| c.finding.offset < l.finding.offset) {
            if c.finding.end() <= l.finding.offset {
                out.push(c);
            }
        }
        // A cell inside this finding is this finding.
        while cells
            .next_if(|c| c.finding.offset < l.finding.end())
            .is_some()
        {}
        out.push(*l);
    }
    out.extend(cells);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(csv: &str) -> Vec<(u64, u64, u64, String)> {
        let det = Detector::default();
        let Some(mut c) = CodeCells::new(csv.as_bytes(), b',').unwrap() else {
            return Vec::new();
        };
        c.upto(&det, u64::MAX)
            .unwrap()
            .iter()
            .map(|l| {
                let o = l.finding.offset as usize;
                (
                    l.finding.offset,
                    l.line,
                    l.column,
                    csv[o..o + l.finding.len()].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn code_columns_by_header() {
        let csv = "Id,Name,CVV__c,Note\r\n001,\"Doe, J\",123,\"a\nb\"\r\n002,X,\"0456\",\r\n003,Y,12,\r\n004,Z,12345,\r\n005,W,abc,";
        let got = cells(csv);
        let want: Vec<(u64, u64, u64, String)> = vec![
            (csv.find("123").unwrap() as u64, 2, 14, "123".into()),
            (csv.find("0456").unwrap() as u64, 4, 8, "0456".into()),
        ];
        assert_eq!(got, want);
        assert!(cells("Id,Version,Note\n1,123,x\n").is_empty());
        // A code ending its record (CRLF) is on that record's line.
        assert_eq!(cells("Id,CVV\r\n1,123\r\n"), vec![(10, 2, 3, "123".into())]);
    }

    #[test]
    fn batches_stop_at_their_end() {
        let csv = "cvv,x\n111,a\n222,b\n";
        let det = Detector::default();
        let mut c = CodeCells::new(csv.as_bytes(), b',').unwrap().unwrap();
        assert_eq!(c.upto(&det, 10).unwrap().len(), 1);
        assert_eq!(c.upto(&det, u64::MAX).unwrap().len(), 1);
    }
}
