//! Documents: Office document parts inside a zip (`format/office`),
//! scanned through their text view, rebuilt by writing the masked view
//! back into the part, verified by doing that again from the original and
//! comparing; and PDFs (`format/pdf`), read page by page, report-only.
//! Both are held in memory (up to `--max-held`): a view and the way back
//! are built from the whole part, and a PDF is read by random access.

use super::*;
use crate::format::office::{self, PartKind, Place, SheetNames, View};
use crate::location::DocPlace;

/// Holds a part or a PDF (up to `--max-held` bytes).
fn hold_part<R: Read + ?Sized>(r: &mut R, meter: &Meter) -> Result<Vec<u8>, InputError> {
    let limit = meter.budget().max_held;
    hold(r, limit)?.map_err(|_| {
        InputError::Budget(format!(
            "a document (Office part or PDF) larger than {limit} bytes (--max-held) cannot be held in memory to be read"
        ))
    })
}

/// Scans `text` and hands each finding to `out` as report-only (`why`),
/// where `place` says: it sets the finding's offset and returns its
/// location, or `None` for a finding another reading reports.
fn report_text(
    cx: &Cx,
    text: &[u8],
    route: &[Hop],
    why: &'static str,
    out: &mut Sink,
    mut place: impl FnMut(&mut Finding) -> Option<Location>,
) -> Result<(), InputError> {
    let mut sc = StreamScanner::new(cx.det);
    let mut refused = None;
    let mut emit = |mut f: Finding| {
        if refused.is_some() {
            return;
        }
        let Some(at) = place(&mut f) else { return };
        let found = MemberFinding {
            route: route.to_vec(),
            hit: Hit {
                at,
                finding: f,
                masked_as: MaskedAs::Text,
                report_only: Some(why),
                encoded: None,
            },
        };
        if let Err(e) = out(found) {
            refused = Some(e);
        }
    };
    sc.read_from(&mut Cursor::new(text), &mut emit)
        .map_err(decode_error)?;
    refused.map_or(Ok(()), Err)
}

/// Scans a PDF's pages; every finding is report-only, located by page
/// (offsets are in the page's text).
pub(super) fn scan_pdf<R: Read>(
    cx: &Cx,
    meter: &Meter,
    r: &mut R,
    route: &[Hop],
    name: Option<&str>,
    out: &mut Sink,
) -> Result<(), InputError> {
    let bytes = hold_part(r, meter)?;
    let pages = crate::format::pdf::page_texts(&bytes).map_err(|e| match e {
        // A decoder's message is masked like any text that leaves the run.
        InputError::Corrupt(why) => InputError::Corrupt(mask_text(&why, cx.det, cx.policy)),
        other => other,
    })?;
    for (i, text) in pages.iter().enumerate() {
        let why = crate::format::pdf::REPORT_ONLY;
        report_text(cx, text.as_bytes(), route, why, out, |f| {
            Some(Location {
                member: name.map(str::to_string),
                offset: f.offset,
                doc: Some(Box::new(DocPlace {
                    page: Some(i as u64 + 1),
                    ..DocPlace::default()
                })),
                ..Location::default()
            })
        })?;
    }
    Ok(())
}

/// Scans an OLE compound file's streams (`format/legacy`); every finding
/// is report-only, its `member` the stream, its offset in the stream, an
/// Excel cell located by sheet and cell.
pub(super) fn scan_ole<R: Read>(
    cx: &Cx,
    meter: &Meter,
    r: &mut R,
    route: &[Hop],
    name: Option<&str>,
    out: &mut Sink,
) -> Result<(), InputError> {
    let bytes = hold_part(r, meter)?;
    let texts = crate::format::legacy::stream_texts(&bytes)?;
    for t in &texts {
        let stream = mask_text(&t.stream, cx.det, cx.policy);
        let member = match name {
            Some(n) => format!("{n}!{stream}"),
            None => stream,
        };
        let why = crate::format::legacy::REPORT_ONLY;
        report_text(cx, &t.text, route, why, out, |f| {
            let doc = t.cell_at(f.offset).map(|l| DocPlace {
                sheet: l.sheet.as_deref().map(|s| mask_text(s, cx.det, cx.policy)),
                cell: l.cell.clone(),
                shared_string: l.shared_string,
                ..DocPlace::default()
            });
            f.offset = t.stream_offset(f.offset);
            // Found, at its cell, by the workbook's cell reading.
            (!t.left_to_cells(f.offset)).then(|| Location {
                member: Some(member.clone()),
                offset: f.offset,
                doc: doc.map(Box::new),
                ..Location::default()
            })
        })?;
    }
    Ok(())
}

/// What a part's findings are located by: the part's own name (slide
/// number, sheet part) and the workbook's sheet names.
pub(super) struct PartContext<'a> {
    pub kind: PartKind,
    /// The part's name in the package (`xl/worksheets/sheet1.xml`).
    pub part: &'a str,
    pub sheets: &'a SheetNames,
    /// The first cell showing each shared string, read when first needed.
    pub string_cells: &'a std::cell::OnceCell<office::StringCells>,
    pub read_string_cells: &'a dyn Fn() -> office::StringCells,
}

impl PartContext<'_> {
    fn place(&self, cx: &Cx, p: &Place) -> DocPlace {
        let mut d = DocPlace::default();
        match p {
            Place::Paragraph(n) => {
                d.paragraph = Some(*n);
                if self.kind == PartKind::Slide {
                    d.slide = office::slide_number(self.part);
                }
            }
            Place::Cell(r) => {
                d.cell = Some(mask_text(r, cx.det, cx.policy));
                d.sheet = self
                    .sheets
                    .of(self.part)
                    .map(|s| mask_text(s, cx.det, cx.policy));
            }
            Place::SheetCell { sheet, cell } => {
                d.sheet = Some(mask_text(sheet, cx.det, cx.policy));
                d.cell = Some(mask_text(cell, cx.det, cx.policy));
            }
            Place::SlideParagraph { slide, paragraph } => {
                d.slide = Some(*slide);
                d.paragraph = Some(*paragraph);
            }
            Place::Markup => {}
            Place::SharedString(n) => {
                d.shared_string = Some(*n);
                // Where a person sees it: the first cell that shows it.
                let cells = self.string_cells.get_or_init(self.read_string_cells);
                if let Some((sheet, cell)) = cells.get(n) {
                    d.sheet = sheet.as_ref().map(|s| mask_text(s, cx.det, cx.policy));
                    d.cell = Some(mask_text(cell, cx.det, cx.policy));
                }
            }
        }
        d
    }
}

/// Scans one text-bearing part through its view; offsets in the findings
/// are view offsets (what the rebuild masks).
pub(super) fn scan_part<R: Read>(
    cx: &Cx,
    meter: &Meter,
    r: &mut R,
    part: &PartContext,
    route: &[Hop],
    name: &str,
    out: &mut Sink,
) -> Result<(), InputError> {
    let xml = hold_part(r, meter)?;
    let view = View::build(&xml, part.kind)?;
    let mut sc = StreamScanner::new(cx.det);
    let mut refused = None;
    let mut emit = |f: Finding| {
        if refused.is_some() {
            return;
        }
        let segment = view.segment_at(f.offset);
        let numeric = segment.is_some_and(|s| s.numeric);
        let found = MemberFinding {
            route: route.to_vec(),
            hit: Hit {
                at: Location {
                    member: Some(name.to_string()),
                    offset: f.offset,
                    doc: segment.map(|s| Box::new(part.place(cx, &s.place))),
                    ..Location::default()
                },
                finding: f,
                masked_as: if numeric {
                    MaskedAs::Number
                } else {
                    MaskedAs::Text
                },
                report_only: None,
                encoded: None,
            },
        };
        if let Err(e) = out(found) {
            refused = Some(e);
        }
    };
    sc.read_from(&mut Cursor::new(&view.text), &mut emit)
        .map_err(decode_error)?;
    match refused {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The part with its findings masked: the view masked by `masker`, then
/// written back into the part.
pub(super) fn masked_part(
    xml: &[u8],
    kind: PartKind,
    masker: &mut Masker,
) -> Result<Vec<u8>, InputError> {
    let view = View::build(xml, kind)?;
    let mut masked = view.text.clone();
    masker.apply(0, &mut masked)?;
    if !masker.done()? {
        return Err(InputError::Changed(
            "the Office part ended before a finding".into(),
        ));
    }
    view.write_back(xml, &masked)
}

/// Rebuilds one part into `w`.
pub(super) fn rebuild_part<R: Read>(
    cx: &Cx,
    meter: &Meter,
    r: &mut R,
    kind: PartKind,
    feed: &mut Feed,
    route: &[usize],
    w: &mut dyn Write,
) -> Result<(), InputError> {
    let xml = hold_part(r, meter)?;
    let mut masker = Masker::new(cx.policy, feed, route);
    let new = masked_part(&xml, kind, &mut masker)?;
    w.write_all(&new).map_err(InputError::io("write"))
}

/// Checks a rebuilt part: it must be the original with the feed's masks
/// written back, byte for byte (so it is as well-formed as the original,
/// and nothing but masked digits changed).
pub(super) fn verify_part(
    cx: &Cx,
    meter: &Meter,
    original: &mut dyn Read,
    rebuilt: &mut dyn Read,
    kind: PartKind,
    feed: &mut Feed,
    route: &[usize],
) -> Result<(), InputError> {
    let a = hold_part(original, meter)?;
    let b = hold_part(rebuilt, meter)?;
    let mut masker = Masker::new(cx.policy, feed, route);
    let expected = masked_part(&a, kind, &mut masker)?;
    if expected != b {
        return Err(InputError::Verification(
            "an Office part differs after rebuild from its masked original".into(),
        ));
    }
    Ok(())
}
