//! PDF: report-only. A PDF's text is drawn by content-stream operators
//! from font-encoded strings, often compressed, with glyphs positioned one
//! by one; masking digits there cannot be done safely (a font subset may
//! lack the mask glyph, the same digits may be drawn twice, a signature
//! would break). So a PDF is read, page by page, for the text a person
//! sees (pdf-extract on lopdf: content streams decompressed, fonts'
//! encodings and ToUnicode maps applied), its findings are reported with
//! their page, and the file is `reported` (exit 1) so a cron job notices
//! and the document is remediated at its source.
//!
//! A PDF whose text cannot be read is never a silent all-clear: an
//! encrypted one (other than with the empty user password) is an
//! `Encrypted` error, a page that fails to decode is a `Corrupt` error.

use crate::error::InputError;

/// Why PDF findings are left in place (the file record's reason).
pub const REPORT_ONLY: &str =
    "PDF: report-only (its text cannot be masked safely; remediate the document at its source)";

/// Whether `head` starts a PDF (`%PDF-` first). Readers accept the header
/// anywhere in the first KiB, but a text file that merely mentions
/// `%PDF-` must stay text: a PDF with bytes before its header is scanned
/// as binary (its digits seen, report-only).
pub fn is_pdf(head: &[u8]) -> bool {
    head.starts_with(b"%PDF-")
}

/// The text of each page, in page order (page 1 first).
pub fn page_texts(bytes: &[u8]) -> Result<Vec<String>, InputError> {
    // lopdf's messages name objects and offsets, never content.
    let mut doc = pdf_extract::Document::load_mem(bytes)
        .map_err(|e| InputError::Corrupt(format!("PDF: {e}")))?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(InputError::Encrypted("a PDF".into()));
    }
    let mut pages = Vec::new();
    for (&n, _) in doc.get_pages().iter() {
        let mut text = String::new();
        let mut out = pdf_extract::PlainTextOutput::new(&mut text);
        pdf_extract::output_doc_page(&doc, &mut out, n)
            .map_err(|e| InputError::Corrupt(format!("PDF page {n}: {e}")))?;
        pages.push(text);
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_is_known_by_its_header() {
        assert!(is_pdf(b"%PDF-1.7\n%\xe2\xe3"));
        assert!(!is_pdf(b"log: saved %PDF-1.4 header"));
        assert!(!is_pdf(b"PDF-1.4 is a version"));
    }

    #[test]
    fn what_is_not_a_pdf_is_corrupt_input() {
        let e = page_texts(b"%PDF-1.4\nnot really").unwrap_err();
        assert!(matches!(e, InputError::Corrupt(_)), "{e}");
    }
}
