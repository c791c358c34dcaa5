//! Excel's binary workbook (BIFF8, the `Workbook` stream of an `.xls`):
//! its cells as a person sees them, each located by sheet and cell. Number
//! cells are written out as the integers they hold (a card column stored
//! as numbers is IEEE doubles: no digits in the bytes); text cells are
//! read from the shared string table (`SST`, split over `CONTINUE`
//! records, each piece restating whether its characters are 8-bit or
//! UTF-16) and from `LABEL` records, so a card in a text cell is found at
//! its cell, also where Excel split the string between two records.
//!
//! A record is a type (u16), a length (u16) and its data. Read here:
//! `BOUNDSHEET8` (sheet names and where each sheet's records start),
//! `BOF` (a sheet starts), `NUMBER`, `RK`, `MULRK` and `FORMULA` (number
//! cells), `SST`/`CONTINUE`, `LABELSST` and `LABEL` (text cells),
//! `FILEPASS` (the workbook is encrypted).

use std::ops::Range;

use crate::error::InputError;

const BOUNDSHEET: u16 = 0x0085;
const BOF: u16 = 0x0809;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027e;
const MULRK: u16 = 0x00bd;
const FORMULA: u16 = 0x0006;
const FILEPASS: u16 = 0x002f;
const SST: u16 = 0x00fc;
const CONTINUE: u16 = 0x003c;
const LABELSST: u16 = 0x00fd;
const LABEL: u16 = 0x0204;

/// Where one line of the cell text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellLine {
    /// The line's offset in the cell text.
    pub at: u64,
    /// The sheet's name, when the cell is in a sheet.
    pub sheet: Option<String>,
    /// `B7`; none for a shared string no cell shows (still text at rest).
    pub cell: Option<String>,
    /// The index of a shared string in the workbook's table.
    pub shared_string: Option<u64>,
    /// The stream offset of the line's first character (a number: of its
    /// record); a later character's is counted from it at `width` bytes
    /// each (approximate past a CONTINUE record that splits the string).
    pub stream_at: u64,
    /// Bytes per character in the stream (0: a number, whose digits are
    /// not in the stream).
    pub width: u8,
}

/// A workbook's cells as text, one line per cell (or shared string).
#[derive(Default)]
pub struct Cells {
    /// The lines: characters other than ASCII are newlines, as in the
    /// other views of the stream.
    pub text: Vec<u8>,
    pub lines: Vec<CellLine>,
    /// Stream ranges whose text is read here, by cell: the raw views of
    /// the stream leave their findings to this one.
    pub covered: Vec<Range<u64>>,
}

/// An RK value (a compressed number: 30 bits of an integer or of a
/// double's high bits, maybe divided by 100).
fn rk(v: u32) -> f64 {
    let n = if v & 2 != 0 {
        f64::from((v as i32) >> 2)
    } else {
        f64::from_bits(u64::from(v & !3) << 32)
    };
    if v & 1 != 0 {
        n / 100.0
    } else {
        n
    }
}

fn u16_at(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?))
}

/// A sheet name (`ShortXLUnicodeString`: length, flags, 8-bit or UTF-16).
fn sheet_name(d: &[u8]) -> Option<String> {
    let len = usize::from(*d.get(6)?);
    let wide = d.get(7)? & 1 != 0;
    let chars = d.get(8..)?;
    Some(if wide {
        let units: Vec<u16> = chars
            .chunks_exact(2)
            .take(len)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        chars.iter().take(len).map(|&b| char::from(b)).collect()
    })
}

/// One string of the shared string table: its characters (one byte each,
/// non-ASCII as newline) and where its first character is in the stream.
#[derive(Debug, PartialEq, Eq)]
struct Shared {
    text: Vec<u8>,
    stream_at: u64,
    width: u8,
}

/// The `SST` record's data and its `CONTINUE` records', as one sequence
/// that knows where each record's data starts (a string's characters
/// that cross into the next record restate their width there).
struct Pieces<'a> {
    /// (stream offset of the data, the data) per record.
    records: Vec<(u64, &'a [u8])>,
    record: usize,
    pos: usize,
}

impl Pieces<'_> {
    /// Moves to the next record when this one is used up.
    fn settle(&mut self) -> Option<()> {
        while self.pos >= self.records.get(self.record)?.1.len() {
            self.record += 1;
            self.pos = 0;
        }
        Some(())
    }

    fn byte(&mut self) -> Option<u8> {
        self.settle()?;
        let b = self.records[self.record].1[self.pos];
        self.pos += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    fn skip(&mut self, mut n: usize) -> Option<()> {
        while n > 0 {
            self.settle()?;
            let left = self.records[self.record].1.len() - self.pos;
            let step = left.min(n);
            self.pos += step;
            n -= step;
        }
        Some(())
    }

    /// `cch` characters, `wide` or not, and the stream offset and width
    /// of the first. Where they go on in a `CONTINUE` record, its first byte
    /// restates the width (also when the string's header ended its
    /// record), as Excel writes it and xlrd reads it.
    fn chars(&mut self, cch: usize, mut wide: bool) -> Option<(Vec<u8>, u64, u8)> {
        let mut out = Vec::with_capacity(cch);
        let mut first = None;
        while out.len() < cch {
            if self.pos >= self.records.get(self.record)?.1.len() {
                self.record += 1;
                self.pos = 0;
                wide = *self.records.get(self.record)?.1.first()? & 1 != 0;
                self.pos = 1;
                continue;
            }
            let (offset, d) = self.records[self.record];
            first.get_or_insert((offset + self.pos as u64, if wide { 2 } else { 1 }));
            let unit = if wide {
                let u = u16_at(d, self.pos)?;
                self.pos += 2;
                u8::try_from(u).ok().filter(|b| b.is_ascii() && *b != 0)
            } else {
                let b = d[self.pos];
                self.pos += 1;
                Some(b).filter(|b| b.is_ascii() && *b != 0)
            };
            out.push(unit.unwrap_or(b'\n'));
        }
        let (at, width) = first.unwrap_or((0, 1));
        Some((out, at, width))
    }
}

/// Reads the shared string table (an `XLUnicodeRichExtendedString` per
/// string). `None` when it is cut short: then nothing of it is trusted
/// and the raw views of the stream keep its text.
fn shared_strings(records: Vec<(u64, &[u8])>) -> Option<Vec<Shared>> {
    let mut p = Pieces {
        records,
        record: 0,
        pos: 0,
    };
    let _total = p.u32()?;
    let unique = p.u32()? as usize;
    let mut out = Vec::with_capacity(unique.min(1 << 20));
    for _ in 0..unique {
        let cch = usize::from(p.u16()?);
        let flags = p.byte()?;
        let runs = if flags & 0x08 != 0 { p.u16()? } else { 0 };
        let ext = if flags & 0x04 != 0 { p.u32()? } else { 0 };
        let wide = flags & 0x01 != 0;
        let (text, stream_at, width) = p.chars(cch, wide)?;
        p.skip(4 * usize::from(runs))?;
        p.skip(ext as usize)?;
        out.push(Shared {
            text,
            stream_at,
            width,
        });
    }
    Some(out)
}

/// The letters of 0-based column `c` (0 → `A`) and the 1-based row.
fn cell_ref(row: u16, col: u16) -> String {
    format!(
        "{}{}",
        crate::format::office::column_letters(u64::from(col) + 1),
        u32::from(row) + 1
    )
}

/// Reads the cells of a `Workbook` stream. A stream that ends inside a
/// record ends the reading (what was read is kept); an encrypted workbook
/// is an error.
pub fn cells(stream: &[u8]) -> Result<Cells, InputError> {
    let mut out = Cells::default();
    let mut sheets: Vec<(u32, String)> = Vec::new();
    let mut sheet: Option<String> = None;
    // The shared string table's records, and the first cell showing each
    // string.
    let mut sst: Vec<(u64, &[u8])> = Vec::new();
    let mut in_sst = false;
    let mut first_cell: std::collections::HashMap<u32, (Option<String>, String)> =
        std::collections::HashMap::new();
    let mut at = 0usize;
    while let (Some(kind), Some(len)) = (u16_at(stream, at), u16_at(stream, at + 2)) {
        let Some(d) = stream.get(at + 4..at + 4 + usize::from(len)) else {
            break;
        };
        let data_at = at as u64 + 4;
        in_sst = match kind {
            SST => {
                sst = vec![(data_at, d)];
                true
            }
            CONTINUE if in_sst => {
                sst.push((data_at, d));
                true
            }
            _ => false,
        };
        let mut number = |row: u16, col: u16, value: f64| {
            // Integers of 12 to 19 digits: the lengths a card has.
            if value.fract() == 0.0 && (1e11..1e19).contains(&value.abs()) {
                out.lines.push(CellLine {
                    at: out.text.len() as u64,
                    sheet: sheet.clone(),
                    cell: Some(cell_ref(row, col)),
                    shared_string: None,
                    stream_at: at as u64,
                    width: 0,
                });
                out.text
                    .extend_from_slice(format!("{value:.0}\n").as_bytes());
            }
        };
        match kind {
            FILEPASS => return Err(InputError::Encrypted("an Excel workbook".into())),
            BOUNDSHEET => {
                if let (Some(pos), Some(name)) = (u32_at(d, 0), sheet_name(d)) {
                    sheets.push((pos, name));
                }
            }
            BOF => {
                sheet = sheets
                    .iter()
                    .find(|(pos, _)| *pos as usize == at)
                    .map(|(_, n)| n.clone());
            }
            NUMBER | FORMULA => {
                if let (Some(r), Some(c), Some(bits)) = (u16_at(d, 0), u16_at(d, 2), d.get(6..14)) {
                    // A formula whose result is not a number says so in
                    // its last two bytes.
                    if kind == NUMBER || u16_at(d, 12) != Some(0xffff) {
                        let v = f64::from_le_bytes(bits.try_into().unwrap_or_default());
                        number(r, c, v);
                    }
                }
            }
            RK => {
                if let (Some(r), Some(c), Some(v)) = (u16_at(d, 0), u16_at(d, 2), u32_at(d, 6)) {
                    number(r, c, rk(v));
                }
            }
            MULRK => {
                if let (Some(r), Some(first)) = (u16_at(d, 0), u16_at(d, 2)) {
                    let n = d.len().saturating_sub(6) / 6;
                    for i in 0..n {
                        if let Some(v) = u32_at(d, 4 + i * 6 + 2) {
                            number(r, first.saturating_add(i as u16), rk(v));
                        }
                    }
                }
            }
            LABELSST => {
                if let (Some(r), Some(c), Some(i)) = (u16_at(d, 0), u16_at(d, 2), u32_at(d, 6)) {
                    first_cell
                        .entry(i)
                        .or_insert_with(|| (sheet.clone(), cell_ref(r, c)));
                }
            }
            LABEL => {
                // row, column, format, then an XLUnicodeString.
                if let (Some(r), Some(c), Some(cch)) = (u16_at(d, 0), u16_at(d, 2), u16_at(d, 6)) {
                    let wide = d.get(8).is_some_and(|f| f & 1 != 0);
                    let mut p = Pieces {
                        records: vec![(data_at + 9, d.get(9..).unwrap_or_default())],
                        record: 0,
                        pos: 0,
                    };
                    if let Some((text, _, _)) = p.chars(usize::from(cch), wide) {
                        out.lines.push(CellLine {
                            at: out.text.len() as u64,
                            sheet: sheet.clone(),
                            cell: Some(cell_ref(r, c)),
                            shared_string: None,
                            stream_at: data_at + 9,
                            width: if wide { 2 } else { 1 },
                        });
                        out.text.extend_from_slice(&text);
                        out.text.push(b'\n');
                        out.covered.push(data_at..data_at + u64::from(len));
                    }
                }
            }
            _ => {}
        }
        at += 4 + usize::from(len);
    }
    if sst.is_empty() {
        return Ok(out);
    }
    let covered: Vec<Range<u64>> = sst
        .iter()
        .map(|(at, d)| *at..*at + d.len() as u64)
        .collect();
    if let Some(strings) = shared_strings(sst) {
        for (i, s) in strings.into_iter().enumerate() {
            let (sheet, cell) = match first_cell.remove(&(i as u32)) {
                Some((sheet, cell)) => (sheet, Some(cell)),
                None => (None, None),
            };
            out.lines.push(CellLine {
                at: out.text.len() as u64,
                sheet,
                cell,
                shared_string: Some(i as u64),
                stream_at: s.stream_at,
                width: s.width,
            });
            out.text.extend_from_slice(&s.text);
            out.text.push(b'\n');
        }
        out.covered.extend(covered);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    /// Globals with one sheet, `Payments`, whose BOF follows; returns the
    /// stream so far and where the sheet starts.
    fn one_sheet(globals_extra: &[u8]) -> (Vec<u8>, usize) {
        let mut globals = record(BOF, &[0; 16]);
        globals.extend(globals_extra);
        let sheet_at = globals.len() + 4 + 8 + 8; // after this BOUNDSHEET
        let mut bs = (sheet_at as u32).to_le_bytes().to_vec();
        bs.extend([0, 0, 8, 0]);
        bs.extend(b"Payments");
        globals.extend(record(BOUNDSHEET, &bs));
        assert_eq!(globals.len(), sheet_at);
        let mut s = globals;
        s.extend(record(BOF, &[0; 16]));
        (s, sheet_at)
    }

    #[test]
    fn number_cells_are_written_as_integers_and_located() {
        let (mut s, sheet_at) = one_sheet(&[]);
        let mut num = vec![1, 0, 1, 0, 0, 0];
        num.extend(4111111111111111f64.to_le_bytes());
        s.extend(record(NUMBER, &num));
        let mut small = vec![2, 0, 3, 0, 0, 0];
        small.extend(12.5f64.to_le_bytes());
        s.extend(record(NUMBER, &small));
        // RK: the integer 7, not card-sized.
        s.extend(record(RK, &[3, 0, 0, 0, 0, 0, 30, 0, 0, 0]));
        let n = cells(&s).unwrap();
        assert_eq!(n.text, b"4111111111111111\n");
        assert_eq!(
            n.lines,
            vec![CellLine {
                at: 0,
                sheet: Some("Payments".into()),
                cell: Some("B2".into()),
                shared_string: None,
                stream_at: sheet_at as u64 + 20,
                width: 0,
            }]
        );
        assert!(n.covered.is_empty());
        assert_eq!(rk(30), 7.0);
        assert_eq!(cell_ref(0, 27), "AB1");
    }

    /// A shared string split over a CONTINUE record that switches from
    /// 8-bit to UTF-16 mid-string (as Excel writes a long table), shown by
    /// a LABELSST cell; a second string no cell shows.
    #[test]
    fn shared_strings_across_continue_records_are_found_at_their_cell() {
        let mut sst = 2u32.to_le_bytes().to_vec();
        sst.extend(2u32.to_le_bytes());
        // String 0: "card 4111 1111 1111 1111", 24 chars; 10 in the SST
        // record (8-bit), 14 in the CONTINUE (UTF-16).
        sst.extend(24u16.to_le_bytes());
        sst.push(0);
        sst.extend(b"card 4111 ");
        let mut cont = vec![1u8];
        cont.extend("1111 1111 1111".encode_utf16().flat_map(u16::to_le_bytes));
        // String 1, rich (one run) and unreferenced: "ref 5555555555554444".
        cont.extend(20u16.to_le_bytes());
        cont.push(0x08);
        cont.extend(1u16.to_le_bytes());
        cont.extend(b"ref 5555555555554444");
        cont.extend([0, 0, 0, 0]);
        let mut globals = record(SST, &sst);
        let cont_at = globals.len() as u64 + 4;
        globals.extend(record(CONTINUE, &cont));
        let (mut s, _) = one_sheet(&globals);
        s.extend(record(LABELSST, &[6, 0, 2, 0, 0, 0, 0, 0, 0, 0]));
        let c = cells(&s).unwrap();
        assert_eq!(
            c.text,
            b"card 4111 1111 1111 1111\nref 5555555555554444\n".to_vec()
        );
        assert_eq!(c.lines[0].sheet.as_deref(), Some("Payments"));
        assert_eq!(c.lines[0].cell.as_deref(), Some("C7"));
        assert_eq!(c.lines[0].width, 1);
        assert_eq!(c.lines[1].cell, None);
        assert_eq!(c.lines[1].shared_string, Some(1));
        // After the BOF that opens the globals, the CONTINUE's width byte,
        // string 0's 14 UTF-16 characters, string 1's 5 header bytes.
        assert_eq!(c.lines[1].stream_at, 20 + cont_at + 1 + 28 + 5);
        assert_eq!(c.covered.len(), 2);
    }

    /// A string whose header ends the SST record: its characters start in
    /// the CONTINUE, after the width byte.
    #[test]
    fn characters_that_start_in_the_next_record_follow_its_width_byte() {
        let mut sst = 1u32.to_le_bytes().to_vec();
        sst.extend(1u32.to_le_bytes());
        sst.extend(16u16.to_le_bytes());
        sst.push(0);
        let mut cont = vec![1u8];
        cont.extend("4111111111111111".encode_utf16().flat_map(u16::to_le_bytes));
        let mut globals = record(SST, &sst);
        globals.extend(record(CONTINUE, &cont));
        let (s, _) = one_sheet(&globals);
        let c = cells(&s).unwrap();
        assert_eq!(c.text, b"4111111111111111\n");
        assert_eq!(c.lines[0].width, 2);
    }

    proptest::proptest! {
        /// Any table, cut or garbled anywhere, is read without a panic.
        #[test]
        fn any_table_is_read_without_a_panic(
            sst in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cont in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cut in 0usize..700,
        ) {
            let mut s = record(SST, &sst);
            s.extend(record(CONTINUE, &cont));
            s.extend(record(LABELSST, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
            s.truncate(cut);
            let _ = cells(&s);
        }
    }

    #[test]
    fn a_table_cut_short_is_left_to_the_raw_views() {
        let mut sst = 1u32.to_le_bytes().to_vec();
        sst.extend(1u32.to_le_bytes());
        sst.extend(40u16.to_le_bytes());
        sst.push(0);
        sst.extend(b"only part of it");
        let (s, _) = one_sheet(&record(SST, &sst));
        let c = cells(&s).unwrap();
        assert!(c.text.is_empty());
        assert!(c.covered.is_empty());
    }

    #[test]
    fn label_cells_are_read_at_their_cell() {
        let (mut s, _) = one_sheet(&[]);
        let mut label = vec![0, 0, 1, 0, 0, 0];
        label.extend(16u16.to_le_bytes());
        label.push(0);
        label.extend(b"4111111111111111");
        s.extend(record(LABEL, &label));
        let c = cells(&s).unwrap();
        assert_eq!(c.text, b"4111111111111111\n");
        assert_eq!(c.lines[0].cell.as_deref(), Some("B1"));
        assert_eq!(c.covered.len(), 1);
    }

    #[test]
    fn an_encrypted_workbook_is_an_error() {
        let s = record(FILEPASS, &[1, 0]);
        assert!(matches!(cells(&s), Err(InputError::Encrypted(_))));
    }
}
