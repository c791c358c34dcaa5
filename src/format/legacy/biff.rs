//! Excel's binary workbook (BIFF8, the `Workbook` stream of an `.xls`):
//! the number cells, written out as the integers they hold so the detector
//! can see a card column stored as numbers, each located by sheet and
//! cell. Strings need no parsing: they are 8-bit or UTF-16 text in the
//! stream, read as such by the caller.
//!
//! A record is a type (u16), a length (u16) and its data. Read here:
//! `BOUNDSHEET8` (sheet names and where each sheet's records start),
//! `BOF` (a sheet starts), `NUMBER`, `RK`, `MULRK` and `FORMULA` (cell
//! values), `FILEPASS` (the workbook is encrypted).

use crate::error::InputError;

const BOUNDSHEET: u16 = 0x0085;
const BOF: u16 = 0x0809;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027e;
const MULRK: u16 = 0x00bd;
const FORMULA: u16 = 0x0006;
const FILEPASS: u16 = 0x002f;

/// The integers of a workbook's number cells, one per line.
#[derive(Default)]
pub struct Numbers {
    /// The integers, one per line.
    pub text: Vec<u8>,
    /// Per line: its view offset, the sheet, the cell, and the stream
    /// offset of the record that holds it.
    pub cells: Vec<(u64, Option<String>, String, u64)>,
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

/// The letters of 0-based column `c` (0 → `A`).
fn column(mut c: u32) -> String {
    let mut letters = Vec::new();
    c += 1;
    while c > 0 {
        c -= 1;
        letters.push(b'A' + (c % 26) as u8);
        c /= 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
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

/// Reads the number cells of a `Workbook` stream. A stream that ends
/// inside a record ends the reading (what was read is kept); an encrypted
/// workbook is an error.
pub fn numbers(stream: &[u8]) -> Result<Numbers, InputError> {
    let mut out = Numbers::default();
    let mut sheets: Vec<(u32, String)> = Vec::new();
    let mut sheet: Option<String> = None;
    let mut at = 0usize;
    while let (Some(kind), Some(len)) = (u16_at(stream, at), u16_at(stream, at + 2)) {
        let Some(d) = stream.get(at + 4..at + 4 + usize::from(len)) else {
            break;
        };
        let mut cell = |row: u16, col: u16, value: f64| {
            // Integers of 12 to 19 digits: the lengths a card has.
            if value.fract() == 0.0 && (1e11..1e19).contains(&value.abs()) {
                out.cells.push((
                    out.text.len() as u64,
                    sheet.clone(),
                    format!("{}{}", column(u32::from(col)), u32::from(row) + 1),
                    at as u64,
                ));
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
                        cell(r, c, v);
                    }
                }
            }
            RK => {
                if let (Some(r), Some(c), Some(v)) = (u16_at(d, 0), u16_at(d, 2), u32_at(d, 6)) {
                    cell(r, c, rk(v));
                }
            }
            MULRK => {
                if let (Some(r), Some(first)) = (u16_at(d, 0), u16_at(d, 2)) {
                    let n = d.len().saturating_sub(6) / 6;
                    for i in 0..n {
                        if let Some(v) = u32_at(d, 4 + i * 6 + 2) {
                            cell(r, first.saturating_add(i as u16), rk(v));
                        }
                    }
                }
            }
            _ => {}
        }
        at += 4 + usize::from(len);
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

    #[test]
    fn number_cells_are_written_as_integers_and_located() {
        let mut globals = record(BOF, &[0; 16]);
        let sheet_at = globals.len() + 4 + 8 + 8; // after this BOUNDSHEET
        let mut bs = (sheet_at as u32).to_le_bytes().to_vec();
        bs.extend([0, 0, 8, 0]);
        bs.extend(b"Payments");
        globals.extend(record(BOUNDSHEET, &bs));
        assert_eq!(globals.len(), sheet_at);
        let mut s = globals;
        s.extend(record(BOF, &[0; 16]));
        let mut num = vec![1, 0, 1, 0, 0, 0];
        num.extend(4111111111111111f64.to_le_bytes());
        s.extend(record(NUMBER, &num));
        let mut small = vec![2, 0, 3, 0, 0, 0];
        small.extend(12.5f64.to_le_bytes());
        s.extend(record(NUMBER, &small));
        // RK: the integer 7, not card-sized.
        s.extend(record(RK, &[3, 0, 0, 0, 0, 0, 30, 0, 0, 0]));
        let n = numbers(&s).unwrap();
        assert_eq!(n.text, b"4111111111111111\n");
        assert_eq!(
            n.cells,
            vec![(
                0,
                Some("Payments".into()),
                "B2".into(),
                sheet_at as u64 + 20
            )]
        );
        assert_eq!(rk(30), 7.0);
        assert_eq!(column(27), "AB");
    }

    #[test]
    fn an_encrypted_workbook_is_an_error() {
        let s = record(FILEPASS, &[1, 0]);
        assert!(matches!(numbers(&s), Err(InputError::Encrypted(_))));
    }
}
