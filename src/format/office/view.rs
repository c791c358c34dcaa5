//! The text of an Office XML part as a person sees it, and the way back
//! from that text to the part's bytes.
//!
//! Word splits a paragraph into runs wherever formatting, spell-check or a
//! revision changes, so `4111 1111` (bold) `1111 1111` is one number on
//! the page and two `<w:t>` elements in the XML. The view joins the text
//! elements of each paragraph (cell, shared string) and puts a newline
//! between paragraphs, so the detector sees what the reader sees and never
//! joins two cells. Entity and character references are decoded for the
//! detector (`&#52;` is a `4`) and kept in the bytes: a masked digit
//! written as a reference is written back as the reference of its mask
//! (`&#42;`), so nothing but the digits' own text changes.
//!
//! Every view byte records the offset of the part byte it came from
//! (`origin`); bytes the view inserts (paragraph breaks, tabs) have none.
//! Masking changes digits only, and digits are one byte, so a changed view
//! byte maps to one literal byte or one reference of the part.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::InputError;

/// Which vocabulary a part is written in: what a paragraph or a cell is,
/// and which elements hold text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartKind {
    /// WordprocessingML (document, headers, footers, notes, comments):
    /// paragraphs `w:p`, text in `w:t`, `w:delText`, `w:instrText`.
    Word,
    /// PresentationML slides and notes: paragraphs `a:p`, text in `a:t`.
    Slide,
    /// A SpreadsheetML worksheet: cells `c` (reference `r`, type `t`),
    /// values `v`, formulas `f`, inline strings `is/t`.
    Sheet,
    /// The workbook's shared strings: items `si`, text in `t`.
    SharedStrings,
}

/// Where a stretch of the view sits in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The n-th paragraph of the part (1-based).
    Paragraph(u64),
    /// A worksheet cell (`B7`).
    Cell(String),
    /// The n-th shared string (0-based, as cells refer to it).
    SharedString(u64),
}

/// One stretch of the view: a paragraph, a cell value, a shared string.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Offset of its first byte in the view.
    pub start: u64,
    /// Where it is.
    pub place: Place,
    /// A numeric cell value or a formula: masked with digits (a number of
    /// the same length that is no longer a card number), so the cell stays
    /// a number and the formula stays valid.
    pub numeric: bool,
}

/// The text of a part and the way back to its bytes.
pub struct View {
    /// What a person sees, paragraph by paragraph (cell by cell).
    pub text: Vec<u8>,
    /// Per view byte: offset of the part byte it came from, or `NONE`.
    origin: Vec<u32>,
    /// Paragraphs, cells, shared strings, in view order.
    pub segments: Vec<Segment>,
}

const NONE: u32 = u32::MAX;

/// What the walk is inside of, for the element that opened it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    /// Text elements: their text is in the view.
    Text,
    /// Anything else.
    Skip,
}

impl View {
    /// Builds the view of `xml`, a part of kind `kind`. A part that is not
    /// well-formed XML (or over 4 GiB) is refused: masking it blind could
    /// break what a reader of the document sees.
    pub fn build(xml: &[u8], kind: PartKind) -> Result<View, InputError> {
        if xml.len() >= NONE as usize {
            return Err(InputError::Budget("an Office part over 4 GiB".into()));
        }
        let mut v = View {
            text: Vec::new(),
            origin: Vec::new(),
            segments: Vec::new(),
        };
        let mut reader = Reader::from_reader(xml);
        // Stack of what each open element captures.
        let mut stack: Vec<Capture> = Vec::new();
        let mut paragraphs = 0u64;
        let mut shared = 0u64;
        // The cell being read: its reference and type.
        let mut cell: Option<(String, String)> = None;
        loop {
            let start = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| {
                InputError::Corrupt(format!(
                    "Office part is not well-formed XML at byte {}: {e}",
                    reader.error_position()
                ))
            })?;
            let end = reader.buffer_position() as usize;
            let capturing = stack.last() == Some(&Capture::Text);
            match event {
                Event::Start(e) => {
                    let c = v.open(&e, kind, &mut paragraphs, &mut shared, &mut cell, &stack);
                    stack.push(c);
                }
                Event::Empty(e) => {
                    let c = v.open(&e, kind, &mut paragraphs, &mut shared, &mut cell, &stack);
                    let _ = c; // nothing inside an empty element
                    v.empty(&e, kind, &stack);
                }
                Event::End(e) => {
                    stack.pop();
                    if kind == PartKind::Sheet && e.local_name().as_ref() == "c" {
                        cell = None;
                    }
                }
                Event::Text(_) if capturing => v.literal(start, &xml[start..end]),
                Event::CData(_) if capturing => {
                    // `<![CDATA[` … `]]>`: the content is literal.
                    v.literal(start + 9, &xml[start + 9..end - 3]);
                }
                Event::GeneralRef(r) if capturing => {
                    let ch = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        Ok(None) => quick_xml::escape::resolve_predefined_entity(&r)
                            .and_then(|s| s.chars().next()),
                        Err(_) => None,
                    };
                    // An entity no reader of the document can resolve
                    // (declared in a DTD, which OOXML forbids) stands for
                    // nothing the detector could use.
                    if let Some(c) = ch {
                        let mut buf = [0u8; 4];
                        for &b in c.encode_utf8(&mut buf).as_bytes() {
                            v.text.push(b);
                            v.origin.push(start as u32);
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(v)
    }

    /// An element opens: a paragraph, cell, value or shared string starts
    /// a segment; says whether its text is captured.
    fn open(
        &mut self,
        e: &BytesStart,
        kind: PartKind,
        paragraphs: &mut u64,
        shared: &mut u64,
        cell: &mut Option<(String, String)>,
        stack: &[Capture],
    ) -> Capture {
        let name = e.local_name();
        let name = name.as_ref();
        let inherited = stack.last().copied().unwrap_or(Capture::Skip);
        match kind {
            PartKind::Word | PartKind::Slide => {
                if name == "p" {
                    *paragraphs += 1;
                    self.segment(Place::Paragraph(*paragraphs), false);
                    return Capture::Skip;
                }
                let text: &[&str] = match kind {
                    PartKind::Word => &["t", "delText", "instrText"],
                    _ => &["t"],
                };
                if text.contains(&name) {
                    Capture::Text
                } else {
                    Capture::Skip
                }
            }
            PartKind::SharedStrings => match name {
                "si" => {
                    self.segment(Place::SharedString(*shared), false);
                    *shared += 1;
                    Capture::Skip
                }
                "t" => Capture::Text,
                _ => Capture::Skip,
            },
            PartKind::Sheet => match name {
                "c" => {
                    let attr = |key: &str| -> String {
                        e.try_get_attribute(key)
                            .ok()
                            .flatten()
                            .map(|a| a.value.into_owned())
                            .unwrap_or_default()
                    };
                    *cell = Some((attr("r"), attr("t")));
                    Capture::Skip
                }
                "v" | "f" => {
                    let Some((r, t)) = cell.as_ref() else {
                        return Capture::Skip;
                    };
                    // A shared-string index, a boolean, an error or a
                    // date is not text a person typed.
                    if name == "v" && matches!(t.as_str(), "s" | "b" | "e" | "d") {
                        return Capture::Skip;
                    }
                    let numeric = name == "f" || matches!(t.as_str(), "" | "n");
                    self.segment(Place::Cell(r.clone()), numeric);
                    Capture::Text
                }
                "is" => {
                    if let Some((r, _)) = cell.as_ref() {
                        self.segment(Place::Cell(r.clone()), false);
                    }
                    Capture::Skip
                }
                "t" if inherited == Capture::Skip && cell.is_some() => Capture::Text,
                _ => Capture::Skip,
            },
        }
    }

    /// An empty element inside a paragraph: a tab or a line break is a
    /// separator the reader sees.
    fn empty(&mut self, e: &BytesStart, kind: PartKind, _stack: &[Capture]) {
        if !matches!(kind, PartKind::Word | PartKind::Slide) || self.segments.is_empty() {
            return;
        }
        match e.local_name().as_ref() {
            "tab" => self.inserted(b'\t'),
            "br" | "cr" => self.inserted(b'\n'),
            _ => {}
        }
    }

    /// Starts a segment, on a new line of the view.
    fn segment(&mut self, place: Place, numeric: bool) {
        if !self.text.is_empty() {
            self.inserted(b'\n');
        }
        self.segments.push(Segment {
            start: self.text.len() as u64,
            place,
            numeric,
        });
    }

    fn inserted(&mut self, b: u8) {
        self.text.push(b);
        self.origin.push(NONE);
    }

    /// Text copied as it is in the part, from offset `at`.
    fn literal(&mut self, at: usize, bytes: &[u8]) {
        self.text.extend_from_slice(bytes);
        self.origin.extend((at..at + bytes.len()).map(|o| o as u32));
    }

    /// The segment holding view offset `at`.
    pub fn segment_at(&self, at: u64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.start <= at);
        i.checked_sub(1).map(|i| &self.segments[i])
    }

    /// The part with the view's changes written back: `masked` is the view
    /// after masking (same length). Each changed byte is written where it
    /// came from: a literal byte in place, a reference as the reference of
    /// the new character. Fails if a change falls on a byte the view
    /// inserted or on part of a longer character (masking changes ASCII
    /// digits only, so either means the view and the masks disagree).
    pub fn write_back(&self, xml: &[u8], masked: &[u8]) -> Result<Vec<u8>, InputError> {
        let disagree = || InputError::Changed("the masks do not fit the Office part".into());
        if masked.len() != self.text.len() {
            return Err(disagree());
        }
        let mut out = Vec::with_capacity(xml.len());
        let mut copied = 0usize;
        for (i, (&old, &new)) in self.text.iter().zip(masked).enumerate() {
            if old == new {
                continue;
            }
            let at = self.origin[i];
            if at == NONE || !old.is_ascii() || !new.is_ascii() {
                return Err(disagree());
            }
            let at = at as usize;
            if at < copied {
                return Err(disagree());
            }
            out.extend_from_slice(&xml[copied..at]);
            if xml[at] == b'&' {
                let len = xml[at..]
                    .iter()
                    .position(|&b| b == b';')
                    .ok_or_else(disagree)?
                    + 1;
                out.extend_from_slice(format!("&#{};", new).as_bytes());
                copied = at + len;
            } else {
                out.push(new);
                copied = at + 1;
            }
        }
        out.extend_from_slice(&xml[copied..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(xml: &str, kind: PartKind) -> String {
        String::from_utf8(View::build(xml.as_bytes(), kind).unwrap().text).unwrap()
    }

    #[test]
    fn a_paragraph_is_read_across_its_runs_and_paragraphs_stay_apart() {
        let xml = r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t xml:space="preserve">Card on file: </w:t></w:r><w:r><w:rPr><w:b/><w:sz w:val="24"/></w:rPr><w:t>4111 1111</w:t></w:r><w:r><w:t xml:space="preserve"> 1111 1111 exp 12/28</w:t></w:r></w:p><w:p><w:r><w:t>next</w:t><w:tab/><w:t>x</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(
            text(xml, PartKind::Word),
            "Card on file: 4111 1111 1111 1111 exp 12/28\nnext\tx"
        );
    }

    #[test]
    fn references_are_decoded_and_written_back_as_references() {
        let xml = r#"<w:p xmlns:w="w"><w:r><w:t>&#52;111&#x31;11 &amp; 1</w:t></w:r></w:p>"#;
        let v = View::build(xml.as_bytes(), PartKind::Word).unwrap();
        assert_eq!(v.text, b"4111111 & 1");
        let mut masked = v.text.clone();
        masked[0] = b'*';
        masked[4] = b'*';
        let back = v.write_back(xml.as_bytes(), &masked).unwrap();
        assert_eq!(
            String::from_utf8(back).unwrap(),
            r#"<w:p xmlns:w="w"><w:r><w:t>&#42;111&#42;11 &amp; 1</w:t></w:r></w:p>"#
        );
    }

    #[test]
    fn sheet_cells_are_segments_and_indexes_are_not_text() {
        let xml = r#"<worksheet><sheetData><row r="7"><c r="A7" t="s"><v>12</v></c><c r="B7"><v>4111111111111111</v></c><c r="C7" t="inlineStr"><is><t>5555 5555</t></is></c><c r="D7"><f>SUM(A1:A2)</f><v>3</v></c></row></sheetData></worksheet>"#;
        let v = View::build(xml.as_bytes(), PartKind::Sheet).unwrap();
        assert_eq!(
            String::from_utf8(v.text.clone()).unwrap(),
            "4111111111111111\n5555 5555\nSUM(A1:A2)\n3"
        );
        let places: Vec<(Place, bool)> = v
            .segments
            .iter()
            .map(|s| (s.place.clone(), s.numeric))
            .collect();
        assert_eq!(
            places,
            vec![
                (Place::Cell("B7".into()), true),
                (Place::Cell("C7".into()), false),
                (Place::Cell("D7".into()), true),
                (Place::Cell("D7".into()), true),
            ]
        );
        assert_eq!(v.segment_at(3).unwrap().place, Place::Cell("B7".into()));
    }

    #[test]
    fn shared_strings_are_numbered_as_cells_refer_to_them() {
        let xml = r#"<sst><si><t>a</t></si><si><r><t>41</t></r><r><rPr/><t>11</t></r></si></sst>"#;
        let v = View::build(xml.as_bytes(), PartKind::SharedStrings).unwrap();
        assert_eq!(v.text, b"a\n4111");
        assert_eq!(v.segment_at(3).unwrap().place, Place::SharedString(1));
    }

    #[test]
    fn a_part_that_is_not_well_formed_is_refused() {
        assert!(View::build(b"<w:p><w:t>4111</w:p>", PartKind::Word).is_err());
    }

    #[test]
    fn a_change_on_an_inserted_byte_is_refused() {
        let xml = r#"<w:body xmlns:w="w"><w:p><w:r><w:t>1</w:t></w:r></w:p><w:p><w:r><w:t>2</w:t></w:r></w:p></w:body>"#;
        let v = View::build(xml.as_bytes(), PartKind::Word).unwrap();
        assert_eq!(v.text, b"1\n2");
        assert!(v.write_back(xml.as_bytes(), b"1*2").is_err());
    }
}
