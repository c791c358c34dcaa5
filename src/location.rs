//! Where a finding is: the one shape every format adapter emits.
//!
//! An adapter owns the bytes (text, archive members, Parquet cells); it
//! hands the run a [`Hit`]: the detector's [`Finding`] plus a [`Location`]
//! a person can use to find it again (archive member, line and column, CSV
//! row and field, JSON path, Parquet column and row). The run decides what
//! to do with it (`policy`), reports it (`output`) and never reads files.
//! A new format fills the fields that mean something for it; a document
//! format would add its part and cell reference here, nowhere else.

use crate::detect::Finding;
use crate::mask::{MaskPolicy, Masked};

/// How a finding is (or would be) masked in its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MaskedAs {
    /// Digits replaced by the mask character.
    #[default]
    Text,
    /// A bare number (JSON, SQL, integer cell): digits zeroed and the check
    /// digit broken, so the value still parses and is no PAN.
    Number,
    /// An integer cell set to null (its field is nullable).
    Null,
}

impl MaskedAs {
    /// The manifest's `masked_as`; plain masking has none.
    pub fn label(self) -> Option<&'static str> {
        match self {
            MaskedAs::Text => None,
            MaskedAs::Number => Some("number"),
            MaskedAs::Null => Some("null"),
        }
    }

    /// The bytes that replace a finding masked this way (a null cell has
    /// no bytes; its digits are shown as text masking would show them).
    pub fn mask(self, policy: &MaskPolicy, f: &Finding) -> Masked {
        match self {
            MaskedAs::Number => policy.mask_numeric(f),
            MaskedAs::Text | MaskedAs::Null => policy.mask(f),
        }
    }
}

/// A row of a CSV/TSV file (by extension, also as an archive member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvCell {
    /// 1-based data row (the header is row 0).
    pub row: u64,
    /// Header name of the field (masked).
    pub field: String,
    /// The row's `Id`, when the header has one (masked).
    pub record_id: Option<String>,
    /// The Salesforce object: the file stem (`Contact`).
    pub object: Option<String>,
}

/// A cell of a columnar file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnCell {
    /// Dotted field path (`customer.cards`), list and map entry names left
    /// out (masked).
    pub column_path: String,
    /// 0-based row in the file.
    pub row: u64,
}

/// Where a finding is, as reported. The places only some formats have are
/// boxed: a rebuilt file keeps its hits between its passes in
/// `run::replay::HELD_BYTES` of memory, and a log's hits have none of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Path inside an archive, nested levels joined by `!` (masked).
    pub member: Option<String>,
    /// Byte offset of the first digit in the decoded file, member or cell.
    pub offset: u64,
    /// 1-based line (text).
    pub line: Option<u64>,
    /// 1-based byte column of that line (text).
    pub column: Option<u64>,
    /// CSV row and field.
    pub csv: Option<Box<CsvCell>>,
    /// JSON path of the value holding the finding (`$.records[3].Note`).
    pub json_path: Option<String>,
    /// Parquet column and row.
    pub cell: Option<Box<ColumnCell>>,
    /// Office documents: sheet and cell, paragraph, slide.
    pub doc: Option<Box<DocPlace>>,
}

/// Where a finding in an Office document or a PDF is, as a person finds
/// it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocPlace {
    /// Excel: the sheet's name (masked).
    pub sheet: Option<String>,
    /// Excel: the cell reference (`B7`).
    pub cell: Option<String>,
    /// Excel: the index of a shared string (cells refer to it by index).
    pub shared_string: Option<u64>,
    /// PowerPoint: the slide (or its notes) the part is named for.
    pub slide: Option<u64>,
    /// Word and PowerPoint: the paragraph of the part, 1-based.
    pub paragraph: Option<u64>,
    /// PDF: the page, 1-based.
    pub page: Option<u64>,
}

impl DocPlace {
    /// `Payments!B7`, `slide 3 paragraph 2`, `paragraph 12`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        match (&self.sheet, &self.cell) {
            (Some(s), Some(c)) => parts.push(format!("{s}!{c}")),
            (None, Some(c)) => parts.push(c.clone()),
            _ => {}
        }
        if let Some(n) = self.shared_string {
            parts.push(format!("shared string {n}"));
        }
        if let Some(n) = self.slide {
            parts.push(format!("slide {n}"));
        }
        if let Some(n) = self.paragraph {
            parts.push(format!("paragraph {n}"));
        }
        if let Some(n) = self.page {
            parts.push(format!("page {n}"));
        }
        parts.join(" ")
    }
}

impl Location {
    /// The named field the finding sits in: a CSV header, a Parquet
    /// column path, or the last key of a JSON path (`$.records[3].Card` is
    /// in `Card`). `[allow] fields` matches this name, so the same data
    /// gets the same decision in every format.
    pub fn field(&self) -> Option<&str> {
        match (&self.csv, &self.cell, &self.json_path) {
            (Some(c), _, _) => Some(&c.field),
            (None, Some(c), _) => Some(&c.column_path),
            (None, None, Some(p)) => json_key(p),
            (None, None, None) => None,
        }
    }

    /// Where it is, for a line on stdout: `member!` prefix and
    /// `line:column` in text, `column[row]` in a columnar file.
    pub fn display_suffix(&self) -> String {
        let inside = self
            .member
            .as_deref()
            .map(|m| format!("!{m}"))
            .unwrap_or_default();
        if let Some(d) = &self.doc {
            return format!("{inside}:{}", d.label());
        }
        match (&self.cell, self.line, self.column) {
            (Some(c), _, _) => format!("{inside}:{}[{}]", c.column_path, c.row),
            (None, Some(l), Some(c)) => format!("{inside}:{l}:{c}"),
            _ => format!("{inside}:@{}", self.offset),
        }
    }
}

/// The last object key of a JSON path: array indices after it are skipped
/// (`$.cards[2]` is in `cards`); a bracketed key is returned as written
/// between its quotes.
fn json_key(path: &str) -> Option<&str> {
    let mut p = path;
    while p.ends_with(']') && !p.ends_with("\"]") {
        p = &p[..p.rfind('[')?];
    }
    if p.ends_with("\"]") {
        let start = p.rfind("[\"")?;
        return Some(&p[start + 2..p.len() - 2]);
    }
    let dot = p.rfind('.')?;
    Some(&p[dot + 1..])
}

/// One finding as an adapter hands it to the run.
#[derive(Clone, Debug)]
pub struct Hit {
    /// What was found; offsets are in the adapter's own coordinates (the
    /// file, a decoded stream, a cell).
    pub finding: Finding,
    /// Where it is, as reported.
    pub at: Location,
    /// How it is masked.
    pub masked_as: MaskedAs,
    /// Why the adapter cannot remediate it, when it cannot (binary
    /// content without `--scrub-binary`, a sparse tar member, Parquet
    /// inside an archive): said in the file record.
    pub report_only: Option<&'static str>,
    /// Set when the finding sits in UTF-16 text inside a container (an
    /// archive member): `finding` holds its one-byte view, `finding.offset`
    /// is a byte offset in the decoded stream, and the stream holds the
    /// span encoded in this byte order, two bytes per byte of the span.
    /// (A plain UTF-16 file keeps code-unit offsets instead, converted by
    /// its adapter.)
    pub encoded: Option<crate::format::utf16::Endian>,
}

impl Hit {
    /// The bytes that replace the finding.
    pub fn masked(&self, policy: &MaskPolicy) -> Masked {
        self.masked_as.mask(policy, &self.finding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rebuilt file keeps up to `HELD_BYTES / size_of` hits between its
    /// passes: a field that grows `Hit` shrinks how many fit.
    #[test]
    fn a_hit_stays_small() {
        assert!(std::mem::size_of::<Location>() <= 112);
        assert!(std::mem::size_of::<Hit>() <= 320);
    }

    #[test]
    fn json_paths_name_their_last_key() {
        assert_eq!(json_key("$.records[3].Card"), Some("Card"));
        assert_eq!(json_key("$.cards[2]"), Some("cards"));
        assert_eq!(json_key("$[\"card no\"]"), Some("card no"));
        assert_eq!(json_key("$[0]"), None);
        assert_eq!(json_key("$"), None);
    }
}
