//! Scanning containers: decoded streams, zip members (nested), tar members;
//! CSV and JSON locations for structured members.
//!
//! Findings are handed to a [`Sink`] one at a time, in scan order, as they
//! are found: nothing here holds the findings of a whole archive, so the
//! run decides how many it keeps (see `run/rebuilt.rs`).

use std::cell::Cell;

use super::ahead;
use super::office;
use super::tar_scan::scan_tar;
use super::*;
use crate::format::office::SheetNames;

/// Where scanned findings go, one at a time, in scan order: zip members in
/// archive order, depth first, offsets ascending within each stream. An
/// error from the sink stops the scan and is returned by it.
pub type Sink<'s> = dyn FnMut(MemberFinding) -> Result<(), InputError> + 's;

/// Scans a top-level container file. `path` names it: a compressed
/// `events.ndjson.gz` holds JSON, which decides how bare numbers are masked.
/// The file is read with positioned reads, so a rebuild may read the same
/// open file at the same time.
pub fn scan(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    fmt: Format,
    path: &Path,
    out: &mut Sink,
) -> Result<(), InputError> {
    scan_top(cx, meter, file, fmt, path, out)
}

fn scan_top(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    fmt: Format,
    path: &Path,
    out: &mut Sink,
) -> Result<(), InputError> {
    let size = file.metadata().map_err(InputError::io("stat"))?.len();
    let inner = if fmt.is_compressed_stream() {
        path.with_extension("")
    } else {
        path.to_path_buf()
    };
    let cx = Cx {
        stream_name: Some(&inner),
        ..*cx
    };
    let r = RangeReader::new(file, 0, size);
    // The whole decoded stream.
    let blob = |out: &mut Sink| {
        if !fmt.is_compressed_stream() {
            return scan_blob(&cx, meter, r, size, fmt, &mut Vec::new(), None, out);
        }
        // Decoded on a helper thread ahead of the scan, where there are
        // workers for both.
        ahead::decoding(
            cx.workers,
            r,
            |r| decoder(fmt, r),
            |dec| scan_stream(&cx, meter, meter.limit(dec, size), &[], None, out),
        )
    };
    if !(fmt.is_compressed_stream() && is_structured(&inner)) {
        return blob(out);
    }
    // A compressed CSV or JSON stream (`events.ndjson.gz`, `Contact.csv.zst`):
    // its findings get rows or paths from a second decoding, opened at the
    // first finding. Findings in tar members (a `.csv.gz` that is a tar)
    // carry a member name and keep the member's own locations.
    let open = move || -> Result<Box<dyn Read + '_>, InputError> {
        let again = RangeReader::new(file, 0, size);
        Ok(Box::new(meter.limit(decoder(fmt, again)?, size)))
    };
    let mut loc = Locator::new(&cx, &inner, Box::new(open));
    let mut located = |mut m: MemberFinding| {
        if m.route.is_empty() && m.hit.at.member.is_none() {
            loc.locate(&mut m)?;
        }
        out(m)
    };
    blob(&mut located)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn scan_blob<R: Read + Seek + Clone>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    compressed: u64,
    fmt: Format,
    route: &mut Vec<Hop>,
    name: Option<&str>,
    out: &mut Sink,
) -> Result<(), InputError> {
    match fmt {
        Format::Zip => scan_zip(cx, meter, r, route, name, out),
        Format::Pdf => {
            office::scan_pdf(cx, meter, &mut meter.limit(r, compressed), route, name, out)
        }
        Format::Ole => {
            office::scan_ole(cx, meter, &mut meter.limit(r, compressed), route, name, out)
        }
        Format::Text
        | Format::Utf16(_)
        | Format::Binary
        | Format::Tar
        | Format::Parquet
        | Format::PgDump
        | Format::OfficeXml(_) => {
            scan_stream(cx, meter, meter.limit(r, compressed), route, name, out)
        }
        _ => {
            let dec = meter.limit(decoder(fmt, r)?, compressed);
            scan_stream(cx, meter, dec, route, name, out)
        }
    }
}

/// Content left in place inside an archive: binary unless binary scrubbing
/// is on, and Parquet always (its pages are compressed and checksummed, so
/// masking raw bytes would corrupt it; a Parquet file is rebuilt only at
/// the top level, where it can be read by random access).
pub(super) fn member_report_only(cx: &Cx, content: Format) -> Option<&'static str> {
    match content {
        Format::Binary if !cx.scrub_binary => {
            Some("binary member(s): report-only (use --scrub-binary)")
        }
        Format::Parquet => Some("Parquet member(s) inside an archive: report-only"),
        Format::PgDump => Some("pg_dump archive(s) inside an archive: report-only"),
        _ => None,
    }
}

/// Scans a decoded stream (text or binary by its first bytes; a tar is
/// opened and its members scanned one by one).
pub(super) fn scan_stream<R: Read>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    route: &[Hop],
    name: Option<&str>,
    out: &mut Sink,
) -> Result<(), InputError> {
    let mut br = BufReader::with_capacity(BLOCK, r);
    let head = br.fill_buf().map_err(decode_error)?;
    if crate::format::is_tar(head) {
        return scan_tar(cx, meter, br, route, name, out);
    }
    if !route.is_empty() {
        cx.note_picture(name, head);
    }
    let report_only = member_report_only(cx, sniff(head));
    let syn = stream_syntax(cx, name, head);
    scan_data(cx, br, route, name, 0, report_only, syn, out)
}

/// The syntax of a decoded stream: by member name, else by the top-level
/// stream's name, else by content.
pub(super) fn stream_syntax(cx: &Cx, name: Option<&str>, head: &[u8]) -> Syntax {
    let hint = match name {
        Some(n) => Path::new(n.rsplit('!').next().unwrap_or(n)).to_path_buf(),
        None => cx.stream_name.map(Path::to_path_buf).unwrap_or_default(),
    };
    syntax_for(&hint, head)
}

/// Scans one member's data; `shift` is where the data starts in the
/// decoded stream (non-zero for tar members), `report_only` forces findings
/// to be left in place. `r` is buffered already (the callers sniffed its
/// head through that buffer), so it is not wrapped again.
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_data<R: BufRead>(
    cx: &Cx,
    mut r: R,
    route: &[Hop],
    name: Option<&str>,
    shift: u64,
    report_only: Option<&'static str>,
    syn: Syntax,
    out: &mut Sink,
) -> Result<(), InputError> {
    let mut sc = StreamScanner::new(cx.det).track_lines();
    // UTF-16 text (a Salesforce export taken in UTF-16) is scanned through
    // its one-byte view, as a plain UTF-16 file is.
    let encoded = match sniff(r.fill_buf().map_err(decode_error)?) {
        Format::Utf16(endian) => Some(endian),
        _ => None,
    };
    // The scanner's callback cannot fail: a sink error is kept and halts
    // the reader, so a refused finding stops the scan at once.
    let halted = Cell::new(false);
    let mut refused = None;
    let mut emit = |mut f: Finding| {
        if refused.is_some() {
            return;
        }
        let line_start = f.lines.line_start.unwrap_or(0);
        let line = f.lines.newlines_before + 1;
        let mut column = f.offset - line_start + 1;
        let mut member_offset = f.offset;
        if encoded.is_some() {
            // Code units of the view, reported and masked in bytes.
            member_offset = utf16::to_bytes(f.offset, false);
            column = utf16::to_bytes(column, true);
        }
        f.offset = member_offset + shift;
        let masked_as = if is_bare_number(&f, syn) {
            MaskedAs::Number
        } else {
            MaskedAs::Text
        };
        let found = MemberFinding {
            route: route.to_vec(),
            hit: Hit {
                finding: f,
                at: Location {
                    member: name.map(str::to_string),
                    offset: member_offset,
                    line: Some(line),
                    column: Some(column),
                    ..Location::default()
                },
                masked_as,
                report_only,
                encoded,
            },
        };
        if let Err(e) = out(found) {
            refused = Some(e);
            halted.set(true);
        }
    };
    let mut r = Halt {
        inner: r,
        halted: &halted,
    };
    let read = match encoded {
        Some(endian) => sc.read_from(&mut utf16::Narrow::new(&mut r, endian), &mut emit),
        None => sc.read_from(&mut r, &mut emit),
    };
    match refused {
        Some(e) => Err(e),
        None => read.map(|_| ()).map_err(decode_error),
    }
}

/// A reader that fails once `halted` is set: how a sink's error stops the
/// scanner mid-stream.
struct Halt<'h, R> {
    inner: R,
    halted: &'h Cell<bool>,
}

impl<R: Read> Read for Halt<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.halted.get() {
            return Err(io::Error::other("scan stopped"));
        }
        self.inner.read(buf)
    }
}

/// CSV/TSV or JSON by name: findings in it get structured locations.
pub(super) fn is_structured(name: &Path) -> bool {
    delimiter_for(name).is_some() || declares_json(name)
}

pub(super) fn scan_zip<R: Read + Seek + Clone>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    route: &mut Vec<Hop>,
    prefix: Option<&str>,
    out: &mut Sink,
) -> Result<(), InputError> {
    let depth = route.len() + 1;
    if depth > meter.budget().max_depth {
        return Err(InputError::Budget(format!(
            "archives nested deeper than {}",
            meter.budget().max_depth
        )));
    }
    let mut ar = ZipArchive::new(r).map_err(zip_error)?;
    // A second view of the archive, for the locator's second reading of a
    // CSV or JSON member (the readers are positioned: they never disturb
    // each other).
    let mut twin = ar.clone();
    // An Office document (a package): its text parts are read as a person
    // reads them, cells located by sheet name.
    let package = crate::format::office::package(ar.file_names().flatten());
    let sheets = if package == Some(crate::format::office::Package::Ooxml) {
        SheetNames::read(&mut twin, meter.budget().max_held)
    } else {
        SheetNames::default()
    };
    let string_cells = std::cell::OnceCell::new();
    let third = ar.clone();
    let read_string_cells = || {
        crate::format::office::string_cells(&mut third.clone(), meter.budget().max_held, &sheets)
    };
    for i in 0..ar.len() {
        let entry = ar.by_index(i).map_err(zip_error)?;
        if entry.is_dir() {
            continue;
        }
        let raw_name = entry.name().map_err(zip_error)?.into_owned();
        let entry_name = mask_text(&raw_name, cx.det, cx.policy);
        let name = match prefix {
            Some(p) => format!("{p}!{entry_name}"),
            None => entry_name,
        };
        let compressed = entry.compressed_size();
        let mut br = BufReader::with_capacity(BLOCK, meter.limit(entry, compressed));
        let fmt = sniff(br.fill_buf().map_err(decode_error)?);
        let fmt = match fmt {
            Format::Text => package
                .and_then(|p| crate::format::office::part_kind(p, &raw_name))
                .map_or(fmt, Format::OfficeXml),
            _ => fmt,
        };
        route.push(Hop {
            index: i,
            format: fmt,
        });
        // CSV and JSON members (by name) get rows or paths; members that
        // are archives themselves get their members' own.
        let structured = Path::new(&raw_name);
        let mut loc = (is_structured(structured) && !fmt.is_container()).then(|| {
            let twin = &mut twin;
            let open = move || -> Result<Box<dyn Read + '_>, InputError> {
                let twin = twin; // moved in: the member borrows it
                let again = twin.by_index(i).map_err(zip_error)?;
                Ok(Box::new(meter.limit(again, compressed)))
            };
            Locator::new(cx, structured, Box::new(open))
        });
        let mut located = |mut m: MemberFinding| {
            if let Some(loc) = loc.as_mut() {
                loc.locate(&mut m)?;
            }
            out(m)
        };
        let res = match fmt {
            Format::Zip => {
                // The zip reader needs to seek: hold the member in memory
                // (up to --max-held).
                let bytes = Held::new(hold_nested_zip(&mut br, meter)?);
                let len = bytes.len();
                scan_blob(
                    cx,
                    meter,
                    Cursor::new(bytes),
                    len,
                    Format::Zip,
                    route,
                    Some(&name),
                    &mut located,
                )
            }
            Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 | Format::Lz4 => {
                if route.len() >= meter.budget().max_depth {
                    Err(InputError::Budget(format!(
                        "archives nested deeper than {}",
                        meter.budget().max_depth
                    )))
                } else {
                    let dec = meter.limit(decoder(fmt, br)?, compressed);
                    scan_stream(cx, meter, dec, route, Some(&name), &mut located)
                }
            }
            Format::Pdf => office::scan_pdf(cx, meter, &mut br, route, Some(&name), &mut located),
            Format::Ole => office::scan_ole(cx, meter, &mut br, route, Some(&name), &mut located),
            Format::OfficeXml(kind) => {
                let part = office::PartContext {
                    kind,
                    part: &raw_name,
                    sheets: &sheets,
                    string_cells: &string_cells,
                    read_string_cells: &read_string_cells,
                };
                office::scan_part(cx, meter, &mut br, &part, route, &name, &mut located)
            }
            Format::Text
            | Format::Utf16(_)
            | Format::Binary
            | Format::Tar
            | Format::Parquet
            | Format::PgDump => scan_stream(cx, meter, br, route, Some(&name), &mut located),
        };
        route.pop();
        res?;
    }
    Ok(())
}

/// CSV locations or JSON paths for the findings of one decoded stream,
/// from a second reading of it that follows the scan: opened at the first
/// finding (a stream without findings is read once) and moved forward to
/// each finding's offset, so no finding waits in memory for its location.
pub(super) struct Locator<'a> {
    name: &'a Path,
    det: &'a Detector,
    policy: &'a MaskPolicy,
    open: Option<Opener<'a>>,
    how: Option<Locating<'a>>,
    /// The byte order of a UTF-16 stream, located through its one-byte
    /// view (in code units).
    encoded: Option<utf16::Endian>,
}

/// Opens the second reading of a stream, from its start.
type Opener<'a> = Box<dyn FnOnce() -> Result<Box<dyn Read + 'a>, InputError> + 'a>;

enum Locating<'a> {
    Csv(CsvLocator<Box<dyn Read + 'a>>, Option<String>),
    Json(JsonLocator<Box<dyn Read + 'a>>),
    Neither,
}

impl<'a> Locator<'a> {
    /// A locator for the stream named `name`, read again through `open`.
    pub(super) fn new(cx: &Cx<'a>, name: &'a Path, open: Opener<'a>) -> Locator<'a> {
        Locator {
            name,
            det: cx.det,
            policy: cx.policy,
            open: Some(open),
            how: None,
            encoded: None,
        }
    }

    /// Sets the location of `m` (findings come in ascending offsets).
    pub(super) fn locate(&mut self, m: &mut MemberFinding) -> Result<(), InputError> {
        if self.how.is_none() {
            let Some(open) = self.open.take() else {
                return Ok(());
            };
            // One stream, one encoding: the first finding's.
            self.encoded = m.hit.encoded;
            let r = open()?;
            let r: Box<dyn Read + 'a> = match self.encoded {
                Some(endian) => Box::new(utf16::Narrow::new(r, endian)),
                None => r,
            };
            self.how = Some(if let Some(delim) = delimiter_for(self.name) {
                Locating::Csv(CsvLocator::new(r, delim), object_name(self.name))
            } else if declares_json(self.name) {
                Locating::Json(JsonLocator::new(r))
            } else {
                Locating::Neither
            });
        }
        let at = match self.encoded {
            Some(_) => m.hit.at.offset / 2,
            None => m.hit.at.offset,
        };
        match self.how.as_mut() {
            Some(Locating::Csv(loc, object)) => {
                m.hit.at.csv = loc
                    .locate(at)
                    .map_err(decode_error)?
                    .map(|l| Box::new(l.into_cell(object.clone(), self.det, self.policy)));
            }
            Some(Locating::Json(loc)) => {
                let p = loc.locate(at).map_err(decode_error)?;
                m.hit.at.json_path = Some(mask_text(&p, self.det, self.policy));
            }
            Some(Locating::Neither) | None => {}
        }
        Ok(())
    }
}
