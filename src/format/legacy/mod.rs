//! Legacy Office documents and other OLE compound files (`.doc`, `.xls`,
//! `.ppt`, Outlook `.msg`): report-only. Their text sits in binary streams
//! (Word's piece table, Excel's BIFF records, PowerPoint's atoms), often as
//! UTF-16, and an Excel number is an IEEE double: the raw bytes hold no
//! digits a scan could see. Masking inside them would mean rewriting
//! those structures (lengths, offsets, checksums in some); what a user can
//! do safely is convert the document (to `.docx`, `.xlsx`) and scrub that.
//!
//! So the compound file is opened (the cfb crate) and each stream is read
//! three ways: as bytes (8-bit text: Excel's compressed strings, code-page
//! text), as UTF-16LE at both alignments (Word's and Excel's Unicode text,
//! Outlook's `__substg` bodies), and, for an Excel `Workbook` stream, its
//! cells as a person sees them (`biff.rs`): number cells written as the
//! integers they hold, text cells from the shared string table, each
//! located by sheet and cell. The raw readings of a workbook leave the
//! text the cell reading covers to it, so a card is reported once, at its
//! cell. Findings are reported, never masked; the file is `reported`
//! (exit 1).
//!
//! An encrypted document is an error that says so, never a clean file:
//! a password-protected `.docx`/`.xlsx` (an OLE file holding
//! `EncryptedPackage`), an `.xls` with a `FILEPASS` record, a `.doc` whose
//! header sets `fEncrypted`.

mod biff;

use std::io::{Cursor, Read};
use std::ops::Range;

pub use biff::CellLine;

use crate::error::InputError;

/// Why findings in a compound file are left in place (the file record's
/// reason).
pub const REPORT_ONLY: &str = "legacy Office document (OLE: .doc, .xls, .ppt, .msg): report-only (convert it to .docx/.xlsx/.pptx and scrub that)";

/// The OLE compound file signature.
const MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

/// Whether `head` starts an OLE compound file.
pub fn is_ole(head: &[u8]) -> bool {
    head.starts_with(&MAGIC)
}

/// One text read out of a stream, for the detector.
pub struct StreamText {
    /// The stream's path in the compound file (`Workbook`,
    /// `WordDocument`, `__substg1.0_1000001F`).
    pub stream: String,
    /// The text: one byte per character; characters other than ASCII
    /// (and bytes that are not text) are newlines, which no card crosses.
    pub text: Vec<u8>,
    /// How a view offset maps to a stream offset.
    pub mapping: Mapping,
    /// For a workbook's cell reading: where each line came from.
    pub lines: Vec<CellLine>,
    /// Stream ranges another reading of this stream covers (a workbook's
    /// text cells, read by cell): findings there are left to it.
    pub left_to_cells: Vec<Range<u64>>,
}

/// How a view offset maps back to the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The view is the stream's bytes.
    Bytes,
    /// The view holds one code unit per byte.
    Utf16 {
        /// The stream offset of the first code unit (0 or 1).
        start: u64,
    },
    /// Lines written from cells: a text cell's offset is its character's
    /// in the stream, a number's is its record's.
    Cells,
}

impl StreamText {
    /// The stream offset of view offset `at`.
    pub fn stream_offset(&self, at: u64) -> u64 {
        match self.mapping {
            Mapping::Bytes => at,
            Mapping::Utf16 { start } => start + 2 * at,
            Mapping::Cells => self
                .line_at(at)
                .map_or(at, |l| l.stream_at + u64::from(l.width) * (at - l.at)),
        }
    }

    /// The cell line of view offset `at`: its sheet, cell, shared string
    /// (a shared string no cell shows has no sheet or cell).
    pub fn cell_at(&self, at: u64) -> Option<&CellLine> {
        self.line_at(at)
    }

    /// Whether a finding at stream offset `stream_at` is another
    /// reading's to report.
    pub fn left_to_cells(&self, stream_at: u64) -> bool {
        self.left_to_cells.iter().any(|r| r.contains(&stream_at))
    }

    fn line_at(&self, at: u64) -> Option<&CellLine> {
        let i = self.lines.partition_point(|l| l.at <= at);
        self.lines.get(i.checked_sub(1)?)
    }
}

/// Reads every stream of the compound file in `bytes` the ways above.
pub fn stream_texts(bytes: &[u8]) -> Result<Vec<StreamText>, InputError> {
    let corrupt = |e: std::io::Error| InputError::Corrupt(format!("OLE compound file: {e}"));
    let mut cf = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(corrupt)?;
    let streams: Vec<String> = cf
        .walk()
        .filter(|e| e.is_stream())
        .map(|e| {
            e.path()
                .to_string_lossy()
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    if streams.iter().any(|s| s == "EncryptedPackage") {
        return Err(InputError::Encrypted("an Office document".into()));
    }
    let mut out = Vec::new();
    for name in streams {
        let mut data = Vec::new();
        cf.open_stream(format!("/{name}"))
            .and_then(|mut s| s.read_to_end(&mut data))
            .map_err(corrupt)?;
        if name == "WordDocument" && word_encrypted(&data) {
            return Err(InputError::Encrypted("a Word document".into()));
        }
        let mut covered = Vec::new();
        if name == "Workbook" || name == "Book" {
            let cells = biff::cells(&data)?;
            covered = cells.covered;
            if !cells.text.is_empty() {
                out.push(StreamText {
                    stream: name.clone(),
                    text: cells.text,
                    mapping: Mapping::Cells,
                    lines: cells.lines,
                    left_to_cells: Vec::new(),
                });
            }
        }
        for start in [0u64, 1] {
            let view = utf16_view(&data[(start as usize).min(data.len())..]);
            out.push(StreamText {
                stream: name.clone(),
                text: view,
                mapping: Mapping::Utf16 { start },
                lines: Vec::new(),
                left_to_cells: covered.clone(),
            });
        }
        out.push(StreamText {
            stream: name,
            text: data,
            mapping: Mapping::Bytes,
            lines: Vec::new(),
            left_to_cells: covered,
        });
    }
    Ok(out)
}

/// A UTF-16LE reading of `data`: each code unit below 0x80 as its byte,
/// every other one as a newline.
fn utf16_view(data: &[u8]) -> Vec<u8> {
    data.chunks_exact(2)
        .map(|u| match (u[0], u[1]) {
            (b, 0) if b.is_ascii() && b != 0 => b,
            _ => b'\n',
        })
        .collect()
}

/// Whether a Word binary document's header (FIB) says it is encrypted
/// (`fEncrypted`, bit 8 of the flags at offset 10).
fn word_encrypted(data: &[u8]) -> bool {
    data.len() > 11 && u16::from_le_bytes([data[10], data[11]]) & 0x0100 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_text_is_read_and_everything_else_breaks_it() {
        let data: Vec<u8> = "4111 1111"
            .encode_utf16()
            .chain([0x00e9, 0x0000])
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(utf16_view(&data), b"4111 1111\n\n");
    }

    #[test]
    fn a_compound_file_is_known_by_its_signature() {
        assert!(is_ole(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0]));
        assert!(!is_ole(b"PK\x03\x04"));
    }

    fn compound(streams: &[(&str, &[u8])]) -> Vec<u8> {
        let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
        for (name, data) in streams {
            let mut s = cf.create_stream(name).unwrap();
            std::io::Write::write_all(&mut s, data).unwrap();
        }
        cf.flush().unwrap();
        cf.into_inner().into_inner()
    }

    #[test]
    fn streams_are_read_as_bytes_and_as_utf16_at_both_alignments() {
        let mut body = vec![0x07u8];
        body.extend(
            "card 4111111111111111"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let file = compound(&[("/__substg1.0_1000001F", &body)]);
        let texts = stream_texts(&file).unwrap();
        let odd = texts
            .iter()
            .find(|t| t.mapping == Mapping::Utf16 { start: 1 })
            .unwrap();
        assert_eq!(odd.text, b"card 4111111111111111");
        assert_eq!(odd.stream, "__substg1.0_1000001F");
        assert_eq!(odd.stream_offset(5), 11);
    }

    #[test]
    fn an_encrypted_package_is_an_error() {
        let file = compound(&[("/EncryptionInfo", b"x"), ("/EncryptedPackage", b"y")]);
        assert!(matches!(stream_texts(&file), Err(InputError::Encrypted(_))));
    }
}
