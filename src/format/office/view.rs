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
//! Attribute values (a hyperlink, an OpenDocument cell's `office:value`)
//! follow the text, one per line: they are not part of what a paragraph
//! reads (a style name between two runs must not split a number), but a
//! card in them is a card in the file.
//!
//! Every view byte records the offset of the part byte it came from
//! (`origin`); bytes the view inserts (paragraph breaks, tabs) have none.
//! Masking changes digits only, and digits are one byte, so a changed view
//! byte maps to one literal byte or one reference of the part.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::odf;
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
    /// An OpenDocument part (`content.xml`, `styles.xml` of a text,
    /// spreadsheet or presentation document): paragraphs `text:p` and
    /// headings `text:h`, cells `table:table-cell`, slides `draw:page`
    /// (`odf.rs`).
    OpenDocument,
}

/// Where a stretch of the view sits in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The n-th paragraph of the part (1-based).
    Paragraph(u64),
    /// A worksheet cell (`B7`); the sheet is the part's.
    Cell(String),
    /// The n-th shared string (0-based, as cells refer to it).
    SharedString(u64),
    /// A cell of a named sheet (OpenDocument: sheets are in one part).
    SheetCell {
        /// The sheet's name.
        sheet: String,
        /// The cell reference (`B7`).
        cell: String,
    },
    /// The n-th paragraph of a slide (OpenDocument: slides are in one
    /// part), both 1-based.
    SlideParagraph {
        /// The slide, in document order.
        slide: u64,
        /// The paragraph, counted within the slide.
        paragraph: u64,
    },
    /// An attribute outside any paragraph or cell: located by its part.
    Markup,
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
    /// What a person sees, paragraph by paragraph (cell by cell), then
    /// the attribute values.
    pub text: Vec<u8>,
    /// Per view byte: offset of the part byte it came from, or `NONE`.
    origin: Vec<u32>,
    /// Paragraphs, cells, shared strings, attributes, in view order.
    pub segments: Vec<Segment>,
    /// Attribute values met during the walk, added after the text.
    attributes: Vec<Attribute>,
    /// Part ranges that repeat another range of the part and follow its
    /// masks: (offset of the copy, offset of the original, length). An
    /// OpenDocument numeric cell shows its value as text
    /// (`office:value="4111…"` and `<text:p>4111…</text:p>`): one number,
    /// found once, masked in both.
    mirrors: Vec<(usize, usize, usize)>,
}

/// An attribute value waiting to be added to the view.
struct Attribute {
    /// Its decoded bytes and, per byte, the part offset it came from.
    bytes: Vec<(u8, u32)>,
    place: Place,
    numeric: bool,
}

pub(super) const NONE: u32 = u32::MAX;

/// What the walk is inside of, for the element that opened it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Capture {
    /// Text elements: their text is in the view.
    Text,
    /// Anything else.
    Skip,
}

/// Where the walk is: the counters and the element being read.
#[derive(Default)]
pub(super) struct Walk {
    /// Stack of what each open element captures.
    pub stack: Vec<Capture>,
    pub paragraphs: u64,
    shared: u64,
    /// The OOXML cell being read: its reference and type.
    cell: Option<(String, String)>,
    /// OOXML paragraphs and shared strings open around the walk.
    inside: u32,
    pub odf: odf::State,
}

impl Walk {
    fn inherited(&self) -> Capture {
        self.stack.last().copied().unwrap_or(Capture::Skip)
    }
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
            attributes: Vec::new(),
            mirrors: Vec::new(),
        };
        let mut reader = Reader::from_reader(xml);
        let mut w = Walk::default();
        loop {
            let start = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| {
                InputError::Corrupt(format!(
                    "Office part is not well-formed XML at byte {}: {e}",
                    reader.error_position()
                ))
            })?;
            let end = reader.buffer_position() as usize;
            let capturing = w.stack.last() == Some(&Capture::Text);
            match event {
                Event::Start(e) => {
                    let c = v.open(xml, &e, kind, &mut w);
                    w.stack.push(c);
                }
                Event::Empty(e) => {
                    let c = v.open(xml, &e, kind, &mut w);
                    w.stack.push(c);
                    v.empty(&e, kind, &w);
                    w.stack.pop();
                    v.close(e.local_name().as_ref(), kind, &mut w);
                }
                Event::End(e) => {
                    w.stack.pop();
                    v.close(e.local_name().as_ref(), kind, &mut w);
                }
                Event::Text(_) if capturing => {
                    let bytes = &xml[start..end];
                    if !(kind == PartKind::OpenDocument && v.mirrored(start, bytes, &mut w)) {
                        v.literal(start, bytes);
                    }
                }
                Event::CData(_) if capturing => {
                    // `<![CDATA[` … `]]>`: the content is literal.
                    v.literal(start + 9, &xml[start + 9..end - 3]);
                }
                Event::GeneralRef(r) if capturing => {
                    // An entity no reader of the document can resolve
                    // (declared in a DTD, which OOXML forbids) stands for
                    // nothing the detector could use.
                    if let Some(c) = resolve(&r) {
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
        for a in std::mem::take(&mut v.attributes) {
            v.segment(a.place, a.numeric);
            for (b, at) in a.bytes {
                v.text.push(b);
                v.origin.push(at);
            }
        }
        Ok(v)
    }

    /// An element opens: a paragraph, cell, value or shared string starts
    /// a segment; its attribute values are kept for the view's end; says
    /// whether its text is captured.
    fn open(&mut self, xml: &[u8], e: &BytesStart, kind: PartKind, w: &mut Walk) -> Capture {
        let capture = match kind {
            PartKind::OpenDocument => odf::open(self, xml, e, w),
            _ => self.open_ooxml(e, kind, w),
        };
        let place = match kind {
            PartKind::OpenDocument => w.odf.here(),
            _ => w.cell.as_ref().map(|(r, _)| Place::Cell(r.clone())),
        }
        .or_else(|| {
            // Inside a paragraph or a shared string: that one.
            (w.inside > 0)
                .then(|| self.segments.last().map(|s| s.place.clone()))
                .flatten()
        })
        .unwrap_or(Place::Markup);
        for a in e.attributes().with_checks(false).flatten() {
            // Fewer than 13 digits cannot make a card number (revision
            // ids, sizes, dates): most attributes never reach the view.
            if a.value.bytes().filter(u8::is_ascii_digit).count() < 13 {
                continue;
            }
            let key = a.key.as_ref();
            let numeric = kind == PartKind::OpenDocument && w.odf.numeric_attribute(key);
            let std::borrow::Cow::Borrowed(value) = a.value else {
                continue; // not a slice of the part: cannot be written back
            };
            if let Some(bytes) = attribute_bytes(xml, value.as_bytes()) {
                self.attributes.push(Attribute {
                    bytes,
                    place: place.clone(),
                    numeric,
                });
            }
        }
        capture
    }

    fn open_ooxml(&mut self, e: &BytesStart, kind: PartKind, w: &mut Walk) -> Capture {
        let name = e.local_name();
        let name = name.as_ref();
        let inherited = w.inherited();
        match kind {
            PartKind::Word | PartKind::Slide => {
                if name == "p" {
                    w.inside += 1;
                    w.paragraphs += 1;
                    self.segment(Place::Paragraph(w.paragraphs), false);
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
                    w.inside += 1;
                    self.segment(Place::SharedString(w.shared), false);
                    w.shared += 1;
                    Capture::Skip
                }
                "t" => Capture::Text,
                _ => Capture::Skip,
            },
            PartKind::Sheet => match name {
                "c" => {
                    w.cell = Some((attribute(e, "r"), attribute(e, "t")));
                    Capture::Skip
                }
                "v" | "f" => {
                    let Some((r, t)) = w.cell.as_ref() else {
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
                    if let Some((r, _)) = w.cell.as_ref() {
                        self.segment(Place::Cell(r.clone()), false);
                    }
                    Capture::Skip
                }
                "t" if inherited == Capture::Skip && w.cell.is_some() => Capture::Text,
                _ => Capture::Skip,
            },
            PartKind::OpenDocument => unreachable!("handled by odf::open"),
        }
    }

    /// An element closes (an empty one right after it opened).
    fn close(&mut self, name: &str, kind: PartKind, w: &mut Walk) {
        match kind {
            PartKind::OpenDocument => odf::close(self, name, w),
            PartKind::Sheet if name == "c" => w.cell = None,
            PartKind::Word | PartKind::Slide if name == "p" => {
                w.inside = w.inside.saturating_sub(1)
            }
            PartKind::SharedStrings if name == "si" => w.inside = w.inside.saturating_sub(1),
            _ => {}
        }
    }

    /// An empty element inside a paragraph: a tab or a line break is a
    /// separator the reader sees.
    fn empty(&mut self, e: &BytesStart, kind: PartKind, w: &Walk) {
        if self.segments.is_empty() {
            return;
        }
        match kind {
            PartKind::Word | PartKind::Slide => match e.local_name().as_ref() {
                "tab" => self.inserted(b'\t'),
                "br" | "cr" => self.inserted(b'\n'),
                _ => {}
            },
            PartKind::OpenDocument => odf::empty(self, e, w),
            _ => {}
        }
    }

    /// An OpenDocument numeric cell's text that repeats its value: kept
    /// out of the view, masked as its value is.
    fn mirrored(&mut self, at: usize, bytes: &[u8], w: &mut Walk) -> bool {
        let Some(value) = w.odf.cell_value_for(bytes) else {
            return false;
        };
        self.mirrors.push((at, value, bytes.len()));
        true
    }

    /// Starts a segment, on a new line of the view.
    pub(super) fn segment(&mut self, place: Place, numeric: bool) {
        if !self.text.is_empty() {
            self.inserted(b'\n');
        }
        self.segments.push(Segment {
            start: self.text.len() as u64,
            place,
            numeric,
        });
    }

    pub(super) fn inserted(&mut self, b: u8) {
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
    /// the new character; a mirrored range takes its original's changes.
    /// Fails if a change falls on a byte the view inserted or on part of a
    /// longer character (masking changes ASCII digits only, so either
    /// means the view and the masks disagree).
    pub fn write_back(&self, xml: &[u8], masked: &[u8]) -> Result<Vec<u8>, InputError> {
        let disagree = || InputError::Changed("the masks do not fit the Office part".into());
        if masked.len() != self.text.len() {
            return Err(disagree());
        }
        // (part offset, new byte), in part order: attribute values come
        // after the text in the view but before it in the part.
        let mut changes = Vec::new();
        for (i, (&old, &new)) in self.text.iter().zip(masked).enumerate() {
            if old == new {
                continue;
            }
            let at = self.origin[i];
            if at == NONE || !old.is_ascii() || !new.is_ascii() {
                return Err(disagree());
            }
            changes.push((at as usize, new));
        }
        changes.sort_unstable_by_key(|&(at, _)| at);
        let mut moved: Vec<(usize, u8)> = Vec::new();
        for &(copy, original, len) in &self.mirrors {
            let lo = changes.partition_point(|&(at, _)| at < original);
            let hi = changes.partition_point(|&(at, _)| at < original + len);
            // A mirror copies literal bytes only (it is refused
            // otherwise), so offsets line up one to one.
            moved.extend(
                changes[lo..hi]
                    .iter()
                    .map(|&(at, new)| (copy + (at - original), new)),
            );
        }
        changes.extend(moved);
        changes.sort_unstable_by_key(|&(at, _)| at);
        let mut out = Vec::with_capacity(xml.len());
        let mut copied = 0usize;
        for (at, new) in changes {
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

/// The value of attribute `key` (its name as written), or empty.
pub(super) fn attribute(e: &BytesStart, key: &str) -> String {
    e.try_get_attribute(key)
        .ok()
        .flatten()
        .map(|a| a.value.into_owned())
        .unwrap_or_default()
}

/// The character a reference stands for, if a reader can resolve it.
fn resolve(r: &quick_xml::events::BytesRef) -> Option<char> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Some(c),
        Ok(None) => quick_xml::escape::resolve_predefined_entity(r).and_then(|s| s.chars().next()),
        Err(_) => None,
    }
}

/// An attribute value's decoded bytes with the part offset of each
/// (`value` is a slice of `xml`, as quick-xml hands out values of a part
/// held in memory); references decoded, each byte of one pointing at its
/// `&`. `None` for a value that is not a slice of the part.
fn attribute_bytes(xml: &[u8], value: &[u8]) -> Option<Vec<(u8, u32)>> {
    let base = (value.as_ptr() as usize).checked_sub(xml.as_ptr() as usize)?;
    if base + value.len() > xml.len() {
        return None;
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let at = (base + i) as u32;
        if value[i] == b'&' {
            let len = value[i..].iter().position(|&b| b == b';')?;
            let name = std::str::from_utf8(&value[i + 1..i + len]).ok()?;
            let c = match name.strip_prefix('#') {
                Some(num) => match num.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                }
                .and_then(char::from_u32),
                None => quick_xml::escape::resolve_predefined_entity(name)
                    .and_then(|s| s.chars().next()),
            }?;
            let mut buf = [0u8; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                out.push((b, at));
            }
            i += len + 1;
        } else {
            out.push((value[i], at));
            i += 1;
        }
    }
    Some(out)
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
