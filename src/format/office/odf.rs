//! OpenDocument (`.odt`, `.ods`, `.odp`, as LibreOffice and its peers
//! write them): the vocabulary of `content.xml` and `styles.xml` for the
//! text view (`view.rs`).
//!
//! A paragraph (`text:p`) or heading (`text:h`) is read across its spans,
//! with `text:s` (spaces), `text:tab` and `text:line-break` as the reader
//! sees them. A paragraph inside a paragraph (a footnote's body, a comment,
//! a text box) is its own stretch; the outer one goes on after it.
//!
//! A spreadsheet holds all its sheets in `content.xml`: a cell is located
//! by the sheet's name and its reference, counted through
//! `table:number-rows-repeated` and `table:number-columns-repeated` (one
//! element may stand for a thousand empty cells). A numeric cell keeps its
//! value in `office:value` and shows it in a paragraph: both are masked as
//! a number, and when the shown text is the value itself it follows the
//! value's mask, so one number is one finding. Slides are `draw:page`
//! elements, numbered in document order.

use quick_xml::events::BytesStart;

use super::view::{attribute, Capture, Place, View, Walk};

/// What the walk knows of the OpenDocument body it is in.
#[derive(Default)]
pub struct State {
    spreadsheet: bool,
    presentation: bool,
    /// The sheet being read (spreadsheets).
    sheet: String,
    /// The row of the row element being read, and the next one's.
    row: u64,
    next_row: u64,
    next_column: u64,
    cell: Option<Cell>,
    /// Slides met so far (presentations).
    slide: u64,
    /// Paragraphs open around the walk (nested: a note inside a
    /// paragraph), with whether each is a numeric cell's.
    open: Vec<(Place, bool)>,
}

/// The spreadsheet cell being read.
struct Cell {
    place: Place,
    /// `office:value-type` is a number (float, percentage, currency).
    numeric: bool,
    /// Its `office:value`: offset in the part and the bytes as written.
    value: Option<(usize, Vec<u8>)>,
}

/// `n` repeated elements (`table:number-…-repeated`), at least one.
fn repeated(e: &BytesStart, key: &str) -> u64 {
    attribute(e, key).parse().unwrap_or(1).max(1)
}

/// An element opens; says whether its text is captured.
pub(super) fn open(v: &mut View, xml: &[u8], e: &BytesStart, w: &mut Walk) -> Capture {
    let inherited = w.stack.last().copied().unwrap_or(Capture::Skip);
    let s = &mut w.odf;
    match e.local_name().as_ref() {
        "spreadsheet" => s.spreadsheet = true,
        "presentation" => s.presentation = true,
        "table" if s.spreadsheet => {
            s.sheet = attribute(e, "table:name");
            s.next_row = 1;
        }
        "table-row" if s.spreadsheet => {
            s.row = s.next_row;
            s.next_row = s
                .next_row
                .saturating_add(repeated(e, "table:number-rows-repeated"));
            s.next_column = 1;
        }
        "table-cell" | "covered-table-cell" if s.spreadsheet => {
            let column = s.next_column.max(1);
            s.next_column = column.saturating_add(repeated(e, "table:number-columns-repeated"));
            let numeric = matches!(
                attribute(e, "office:value-type").as_str(),
                "float" | "percentage" | "currency"
            );
            let value = e
                .try_get_attribute("office:value")
                .ok()
                .flatten()
                .and_then(|a| {
                    let at = (a.value.as_ptr() as usize).checked_sub(xml.as_ptr() as usize)?;
                    Some((at, a.value.into_owned().into_bytes()))
                });
            s.cell = Some(Cell {
                place: Place::SheetCell {
                    sheet: s.sheet.clone(),
                    cell: format!("{}{}", super::column_letters(column), s.row),
                },
                numeric,
                value,
            });
        }
        "page" if s.presentation => {
            s.slide += 1;
            w.paragraphs = 0;
        }
        "p" | "h" => {
            let (place, numeric) = match &s.cell {
                Some(c) => (c.place.clone(), c.numeric),
                None => {
                    w.paragraphs += 1;
                    let place = if s.presentation && s.slide > 0 {
                        Place::SlideParagraph {
                            slide: s.slide,
                            paragraph: w.paragraphs,
                        }
                    } else {
                        Place::Paragraph(w.paragraphs)
                    };
                    (place, false)
                }
            };
            v.segment(place.clone(), numeric);
            s.open.push((place, numeric));
            return Capture::Text;
        }
        // Who wrote a comment and when, and a footnote's number: not text
        // of the paragraph they sit in (a citation `1` after a card number
        // would lengthen it on the page of no reader).
        "annotation" | "note-citation" => return Capture::Skip,
        _ => {}
    }
    inherited
}

/// An element closes.
pub(super) fn close(v: &mut View, name: &str, w: &mut Walk) {
    let s = &mut w.odf;
    match name {
        "p" | "h" => {
            s.open.pop();
            // The paragraph around a note or comment goes on after it.
            if let Some((place, numeric)) = s.open.last() {
                v.segment(place.clone(), *numeric);
            }
        }
        "table-cell" | "covered-table-cell" => s.cell = None,
        _ => {}
    }
}

/// An empty element inside a paragraph: spaces, a tab, a line break.
pub(super) fn empty(v: &mut View, e: &BytesStart, w: &Walk) {
    if w.stack.last() != Some(&Capture::Text) {
        return;
    }
    match e.local_name().as_ref() {
        "s" => {
            // `text:c` spaces; a run of more than a line's worth is not
            // between the digits of a number.
            let n = repeated(e, "text:c").min(64);
            for _ in 0..n {
                v.inserted(b' ');
            }
        }
        "tab" => v.inserted(b'\t'),
        "line-break" => v.inserted(b'\n'),
        _ => {}
    }
}

impl State {
    /// Where an attribute met now is: the cell, else the paragraph.
    pub(super) fn here(&self) -> Option<Place> {
        match &self.cell {
            Some(c) => Some(c.place.clone()),
            None => self.open.last().map(|(p, _)| p.clone()),
        }
    }

    /// Whether attribute `key` holds a number a reader of the document
    /// computes with: a numeric cell's value, a formula.
    pub(super) fn numeric_attribute(&self, key: &str) -> bool {
        match key {
            "office:value" => self.cell.as_ref().is_some_and(|c| c.numeric),
            "table:formula" => true,
            _ => false,
        }
    }

    /// The part offset of the numeric cell value that `text` (shown in the
    /// cell) repeats byte for byte, if it does.
    pub(super) fn cell_value_for(&self, text: &[u8]) -> Option<usize> {
        let cell = self.cell.as_ref().filter(|c| c.numeric)?;
        let (at, value) = cell.value.as_ref()?;
        (value.as_slice() == text && !value.contains(&b'&')).then_some(*at)
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::PartKind;
    use super::*;

    fn view(xml: &str) -> View {
        View::build(xml.as_bytes(), PartKind::OpenDocument).unwrap()
    }

    #[test]
    fn columns_are_named_as_spreadsheets_name_them() {
        let names: Vec<String> = [1, 2, 26, 27, 52, 703]
            .map(crate::format::office::column_letters)
            .to_vec();
        assert_eq!(names, ["A", "B", "Z", "AA", "AZ", "AAA"]);
    }

    #[test]
    fn a_paragraph_is_read_across_spans_with_its_spaces() {
        let v = view(
            r#"<office:document-content><office:body><office:text><text:p>Card on file: <text:span text:style-name="T1">4111<text:s/>1111</text:span> 1111<text:s text:c="1"/>1111</text:p><text:h>Next<text:tab/>x</text:h></office:text></office:body></office:document-content>"#,
        );
        assert_eq!(
            String::from_utf8(v.text.clone()).unwrap(),
            "Card on file: 4111 1111 1111 1111\nNext\tx"
        );
        assert_eq!(v.segment_at(20).unwrap().place, Place::Paragraph(1));
        assert_eq!(v.segment_at(36).unwrap().place, Place::Paragraph(2));
    }

    #[test]
    fn a_note_is_its_own_stretch_and_its_citation_is_not_text() {
        let v = view(
            r#"<office:text><text:p>4111111111111111<text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>see</text:p></text:note-body></text:note> after</text:p></office:text>"#,
        );
        assert_eq!(
            String::from_utf8(v.text.clone()).unwrap(),
            "4111111111111111\nsee\n after"
        );
        assert_eq!(v.segment_at(18).unwrap().place, Place::Paragraph(2));
        assert_eq!(v.segment_at(22).unwrap().place, Place::Paragraph(1));
    }

    #[test]
    fn cells_are_located_through_repeats_and_a_shown_value_follows_its_value() {
        let xml = r#"<office:body><office:spreadsheet><table:table table:name="Payments"><table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="3"/></table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>Ann</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="float" office:value="4111111111111111"><text:p>4111111111111111</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>"#;
        let v = View::build(xml.as_bytes(), PartKind::OpenDocument).unwrap();
        // The shown text is left out of the view (its paragraph is an
        // empty line); the value is read once.
        assert_eq!(
            String::from_utf8(v.text.clone()).unwrap(),
            "Ann\n\n4111111111111111"
        );
        let value = v.segment_at(6).unwrap();
        assert_eq!(
            value.place,
            Place::SheetCell {
                sheet: "Payments".into(),
                cell: "D3".into()
            }
        );
        assert!(value.numeric);
        let mut masked = v.text.clone();
        masked[11..17].copy_from_slice(b"000000");
        let back = String::from_utf8(v.write_back(xml.as_bytes(), &masked).unwrap()).unwrap();
        assert!(
            back.contains(r#"office:value="4111110000001111"><text:p>4111110000001111</text:p>"#)
        );
        // Several numeric cells, and text changed before them in the part
        // (but after them in the view): each shown value follows its own.
        let xml = r#"<office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell office:value-type="float" office:value="4111111111111111"><text:p>4111111111111111</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="5555555555554444"><text:p>5555555555554444</text:p></table:table-cell><table:table-cell><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>"#;
        let v = View::build(xml.as_bytes(), PartKind::OpenDocument).unwrap();
        let text = String::from_utf8(v.text.clone()).unwrap();
        let mut masked = v.text.clone();
        for card in ["4111111111111111", "5555555555554444"] {
            let at = text.find(card).unwrap() + 6;
            masked[at..at + 6].copy_from_slice(b"000000");
        }
        masked[text.find('x').unwrap()] = b'y';
        let back = String::from_utf8(v.write_back(xml.as_bytes(), &masked).unwrap()).unwrap();
        assert!(
            back.contains(r#""4111110000001111"><text:p>4111110000001111<"#),
            "{back}"
        );
        assert!(
            back.contains(r#""5555550000004444"><text:p>5555550000004444<"#),
            "{back}"
        );
        assert!(back.contains("<text:p>y</text:p>"), "{back}");
    }

    #[test]
    fn slides_number_their_paragraphs() {
        let v = view(
            r#"<office:body><office:presentation><draw:page draw:name="a"><draw:frame><draw:text-box><text:p>one</text:p></draw:text-box></draw:frame></draw:page><draw:page><draw:frame><draw:text-box><text:p>x</text:p><text:p>two</text:p></draw:text-box></draw:frame></draw:page></office:presentation></office:body>"#,
        );
        assert_eq!(
            v.segment_at(8).unwrap().place,
            Place::SlideParagraph {
                slide: 2,
                paragraph: 2
            }
        );
    }

    #[test]
    fn a_card_in_a_link_is_found_and_masked_in_place() {
        let xml = r#"<office:text><text:p>pay <text:a xlink:href="https://x.test/?pan=4111&#49;11111111111">here</text:a> now</text:p></office:text>"#;
        let v = View::build(xml.as_bytes(), PartKind::OpenDocument).unwrap();
        assert_eq!(
            String::from_utf8(v.text.clone()).unwrap(),
            "pay here now\nhttps://x.test/?pan=4111111111111111"
        );
        assert_eq!(v.segment_at(20).unwrap().place, Place::Paragraph(1));
        let mut masked = v.text.clone();
        let at = v.text.len() - 10;
        masked[at..at + 6].copy_from_slice(b"******");
        let back = String::from_utf8(v.write_back(xml.as_bytes(), &masked).unwrap()).unwrap();
        assert!(back.contains(r#"xlink:href="https://x.test/?pan=4111&#49;1******1111""#));
        // A masked digit written as a reference is written back as one.
        masked[at - 2] = b'*';
        let back = String::from_utf8(v.write_back(xml.as_bytes(), &masked).unwrap()).unwrap();
        assert!(back.contains(r#"pan=4111&#42;1******1111""#), "{back}");
    }
}
