//! Office documents: Word, Excel and PowerPoint files (OOXML: `.docx`,
//! `.xlsx`, `.pptx` and their macro-enabled and template variants) and
//! OpenDocument files (`.odt`, `.ods`, `.odp`, `odf.rs`), found by content
//! (a zip holding `[Content_Types].xml`; one holding `mimetype` and
//! `META-INF/manifest.xml`), wherever the zip is: a file, a member of a
//! Salesforce export, a file with no extension.
//!
//! The parts that hold what a person reads (paragraphs, cells, shared
//! strings, slides, notes) are scanned through their text view
//! (`view.rs`): a number split over formatting runs is found, a numeric
//! cell is masked as a number (the workbook still opens), and a masked
//! digit is written back where it came from, so every part stays
//! well-formed and every other byte is kept. Other parts (properties,
//! custom XML, relationships) are scanned as the text they are; anything
//! masked there is text in an element or attribute, where `*` is valid.
//!
//! Findings say where a person finds them: the sheet and cell
//! (`Payments!B7`), the paragraph of a Word part, the slide and paragraph
//! of a slide; a shared string by its index (the cells that use it are in
//! the sheets). Attribute values with enough digits to hold a card (a
//! hyperlink's target, an OpenDocument cell's value) are scanned too.

pub mod odf;
pub mod view;

use std::collections::HashMap;
use std::io::{Read, Seek};

use quick_xml::events::Event;
use quick_xml::Reader;
use zip::ZipArchive;

pub use view::{PartKind, Place, View};

/// The part every OOXML package holds.
const CONTENT_TYPES: &str = "[Content_Types].xml";

/// The kind of document package a zip is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Package {
    /// Word, Excel, PowerPoint: a zip holding `[Content_Types].xml`.
    Ooxml,
    /// OpenDocument (`.odt`, `.ods`, `.odp`): a zip holding `mimetype`
    /// and `META-INF/manifest.xml`.
    OpenDocument,
}

/// What kind of document package a zip's member names make it, if any.
pub fn package<S: AsRef<str>>(names: impl Iterator<Item = S>) -> Option<Package> {
    let (mut mimetype, mut manifest) = (false, false);
    for n in names {
        match n.as_ref() {
            CONTENT_TYPES => return Some(Package::Ooxml),
            "mimetype" => mimetype = true,
            "META-INF/manifest.xml" => manifest = true,
            _ => {}
        }
    }
    (mimetype && manifest).then_some(Package::OpenDocument)
}

/// The vocabulary of a part that holds document text, by its name in a
/// package of kind `package`; `None` for the other parts (scanned as the
/// text they are).
pub fn part_kind(package: Package, name: &str) -> Option<PartKind> {
    match package {
        Package::Ooxml => ooxml_part_kind(name),
        Package::OpenDocument => {
            // The body, and the master pages' headers and footers; an
            // embedded object (a chart, a pasted sheet) has its own pair.
            let file = name.rsplit('/').next().unwrap_or(name);
            matches!(file, "content.xml" | "styles.xml").then_some(PartKind::OpenDocument)
        }
    }
}

fn ooxml_part_kind(name: &str) -> Option<PartKind> {
    let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
    if !file.ends_with(".xml") {
        return None;
    }
    let stem = &file[..file.len() - 4];
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix)
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
    };
    match dir {
        "word" => {
            let word = ["document", "footnotes", "endnotes", "comments"].contains(&stem)
                || numbered("header")
                || numbered("footer");
            word.then_some(PartKind::Word)
        }
        "word/glossary" => (stem == "document").then_some(PartKind::Word),
        "ppt/slides" if numbered("slide") => Some(PartKind::Slide),
        "ppt/notesSlides" if numbered("notesSlide") => Some(PartKind::Slide),
        "xl/worksheets" if numbered("sheet") => Some(PartKind::Sheet),
        "xl" if stem == "sharedStrings" => Some(PartKind::SharedStrings),
        _ => None,
    }
}

/// The letters of the 1-based spreadsheet column `n` (1 → `A`, 27 →
/// `AA`), as every spreadsheet names its columns.
pub fn column_letters(mut n: u64) -> String {
    let mut letters = Vec::new();
    while n > 0 {
        n -= 1;
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// The slide number a slide or notes part is named for
/// (`ppt/slides/slide3.xml` is 3). PowerPoint numbers parts in the order
/// slides were added; the deck's order is in `ppt/presentation.xml`, and
/// the two agree for a deck whose slides were never reordered.
pub fn slide_number(part: &str) -> Option<u64> {
    let file = part.rsplit('/').next()?;
    let stem = file.strip_suffix(".xml")?;
    let digits = stem.trim_start_matches(|c: char| !c.is_ascii_digit());
    digits.parse().ok()
}

/// Sheet names by worksheet part (`xl/worksheets/sheet1.xml` →
/// `Payments`), from `xl/workbook.xml` and its relationships. Empty when
/// the package is not a workbook or they cannot be read (cells are then
/// located by part).
#[derive(Default)]
pub struct SheetNames(HashMap<String, String>);

impl SheetNames {
    /// Reads them from the package (each part read up to `limit` bytes).
    pub fn read<R: Read + Seek>(ar: &mut ZipArchive<R>, limit: u64) -> SheetNames {
        let mut read = |name: &str| -> Option<Vec<u8>> {
            let entry = ar.by_name(name).ok()?;
            let mut bytes = Vec::new();
            entry.take(limit).read_to_end(&mut bytes).ok()?;
            Some(bytes)
        };
        let (Some(book), Some(rels)) =
            (read("xl/workbook.xml"), read("xl/_rels/workbook.xml.rels"))
        else {
            return SheetNames::default();
        };
        // Relationship id → target part.
        let targets: HashMap<String, String> = elements(&rels, "Relationship", &["Id", "Target"])
            .into_iter()
            .map(|mut a| {
                let target = a.pop().unwrap_or_default();
                let id = a.pop().unwrap_or_default();
                let part = match target.strip_prefix('/') {
                    Some(abs) => abs.to_string(),
                    None => format!("xl/{target}"),
                };
                (id, part)
            })
            .collect();
        let names = elements(&book, "sheet", &["name", "id"])
            .into_iter()
            .filter_map(|mut a| {
                let id = a.pop()?;
                let name = a.pop()?;
                Some((targets.get(&id)?.clone(), name))
            })
            .collect();
        SheetNames(names)
    }

    /// The sheet a worksheet part holds.
    pub fn of(&self, part: &str) -> Option<&str> {
        self.0.get(part).map(String::as_str)
    }
}

/// The first cell that shows each shared string: index → (sheet name,
/// cell reference), from the worksheets in package order. Read only when
/// a shared string holds a finding (every worksheet is read again).
pub type StringCells = HashMap<u64, (Option<String>, String)>;

/// Reads [`StringCells`] from the package's worksheets (each read up to
/// `limit` bytes; one that cannot be read adds nothing).
pub fn string_cells<R: Read + Seek>(
    ar: &mut ZipArchive<R>,
    limit: u64,
    sheets: &SheetNames,
) -> StringCells {
    let mut cells = StringCells::new();
    for i in 0..ar.len() {
        let Ok(entry) = ar.by_index(i) else { continue };
        let Ok(name) = entry.name().map(|n| n.into_owned()) else {
            continue;
        };
        if ooxml_part_kind(&name) != Some(PartKind::Sheet) {
            continue;
        }
        let mut xml = Vec::new();
        if entry.take(limit).read_to_end(&mut xml).is_err() {
            continue;
        }
        let sheet = sheets.of(&name).map(str::to_string);
        let mut reader = Reader::from_reader(&xml[..]);
        // The shared-string cell being read, and whether inside its `v`.
        let mut cell: Option<String> = None;
        let mut in_value = false;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.local_name().as_ref() == "c" => {
                    let shared = e
                        .try_get_attribute("t")
                        .ok()
                        .flatten()
                        .is_some_and(|t| t.value == "s");
                    cell = shared
                        .then(|| e.try_get_attribute("r").ok().flatten())
                        .flatten()
                        .map(|r| r.value.into_owned());
                }
                Ok(Event::Start(e)) if e.local_name().as_ref() == "v" => in_value = true,
                Ok(Event::End(e)) if e.local_name().as_ref() == "v" => in_value = false,
                Ok(Event::Text(t)) if in_value => {
                    if let (Some(r), Ok(n)) = (&cell, t.as_ref().trim_ascii().parse::<u64>()) {
                        cells.entry(n).or_insert_with(|| (sheet.clone(), r.clone()));
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
    }
    cells
}

/// The values of `keys` (matched by local name: `r:id` is `id`) on every
/// element named `element` in `xml`; elements missing one are left out.
fn elements(xml: &[u8], element: &str, keys: &[&str]) -> Vec<Vec<String>> {
    let mut reader = Reader::from_reader(xml);
    let mut found = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == element => {
                let attrs: Vec<(String, String)> = e
                    .attributes()
                    .flatten()
                    .map(|a| {
                        (
                            a.key.local_name().as_ref().to_string(),
                            a.value.into_owned(),
                        )
                    })
                    .collect();
                let values: Option<Vec<String>> = keys
                    .iter()
                    .map(|k| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                    .collect();
                found.extend(values);
            }
            Ok(Event::Eof) | Err(_) => return found,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_known_by_their_members() {
        assert_eq!(
            package(["[Content_Types].xml", "word/document.xml"].iter()),
            Some(Package::Ooxml)
        );
        assert_eq!(
            package(["mimetype", "content.xml", "META-INF/manifest.xml"].iter()),
            Some(Package::OpenDocument)
        );
        assert_eq!(package(["mimetype", "content.xml"].iter()), None);
        let odf = |n| part_kind(Package::OpenDocument, n);
        assert_eq!(odf("content.xml"), Some(PartKind::OpenDocument));
        assert_eq!(odf("Object 1/content.xml"), Some(PartKind::OpenDocument));
        assert_eq!(odf("meta.xml"), None);
        assert_eq!(part_kind(Package::Ooxml, "content.xml"), None);
    }

    #[test]
    fn text_parts_are_known_by_name() {
        let part_kind = ooxml_part_kind;
        assert_eq!(part_kind("word/document.xml"), Some(PartKind::Word));
        assert_eq!(part_kind("word/header2.xml"), Some(PartKind::Word));
        assert_eq!(part_kind("word/styles.xml"), None);
        assert_eq!(part_kind("ppt/slides/slide12.xml"), Some(PartKind::Slide));
        assert_eq!(
            part_kind("ppt/notesSlides/notesSlide1.xml"),
            Some(PartKind::Slide)
        );
        assert_eq!(part_kind("ppt/slides/_rels/slide1.xml.rels"), None);
        assert_eq!(part_kind("xl/worksheets/sheet3.xml"), Some(PartKind::Sheet));
        assert_eq!(
            part_kind("xl/sharedStrings.xml"),
            Some(PartKind::SharedStrings)
        );
        assert_eq!(part_kind("docProps/core.xml"), None);
        assert_eq!(slide_number("ppt/slides/slide12.xml"), Some(12));
    }

    #[test]
    fn sheet_names_come_from_the_workbook_and_its_relationships() {
        let book = br#"<workbook xmlns:r="r"><sheets><sheet name="Payments" sheetId="1" r:id="rId2"/><sheet name="Notes" sheetId="2" r:id="rId1"/></sheets></workbook>"#;
        let rels = br#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet2.xml"/><Relationship Id="rId2" Target="/xl/worksheets/sheet1.xml"/></Relationships>"#;
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let o = zip::write::SimpleFileOptions::default();
            w.start_file("xl/workbook.xml", o).unwrap();
            std::io::Write::write_all(&mut w, book).unwrap();
            w.start_file("xl/_rels/workbook.xml.rels", o).unwrap();
            std::io::Write::write_all(&mut w, rels).unwrap();
            w.finish().unwrap();
        }
        let mut ar = ZipArchive::new(buf).unwrap();
        let names = SheetNames::read(&mut ar, 1 << 20);
        assert_eq!(names.of("xl/worksheets/sheet1.xml"), Some("Payments"));
        assert_eq!(names.of("xl/worksheets/sheet2.xml"), Some("Notes"));
    }
}
