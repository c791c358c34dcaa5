//! Tar streams: a `.tar` file (masked in place, so offsets are in the
//! file), or a tar found inside gzip/zstd/xz/bzip2/zip. Regular members are
//! scanned as text or structured data like the same file outside the tar;
//! a member that is a document or an archive is read as what it is, its
//! findings report-only.

use super::office;
use super::scan::{
    is_structured, member_report_only, scan_blob, scan_data, scan_stream, stream_syntax, Locator,
    Sink,
};
use super::*;

/// Scans an uncompressed tar file: every member, offsets in the file (it is
/// masked in place: member data is stored raw, headers are never touched).
pub fn scan_tar_file(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    out: &mut Sink,
) -> Result<(), InputError> {
    let size = file.metadata().map_err(InputError::io("stat"))?.len();
    let r = RangeReader::new(file, 0, size);
    scan_tar(
        cx,
        meter,
        BufReader::with_capacity(BLOCK, meter.limit(r, size.max(1))),
        &[],
        None,
        out,
    )
}

/// Scans the regular-file members of a tar stream. Offsets in the findings
/// are in the tar stream (for masking); `member_offset` is in the member.
/// GNU sparse members are scanned but report-only: their data is not one
/// contiguous run of the archive.
pub(super) fn scan_tar<R: Read>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    route: &[Hop],
    prefix: Option<&str>,
    out: &mut Sink,
) -> Result<(), InputError> {
    let mut ar = tar::Archive::new(r);
    for (ordinal, entry) in ar.entries().map_err(decode_error)?.enumerate() {
        let mut e = entry.map_err(decode_error)?;
        let kind = e.header().entry_type();
        if !(kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse()) {
            continue;
        }
        let name = mask_text(&String::from_utf8_lossy(&e.path_bytes()), cx.det, cx.policy);
        let full = match prefix {
            Some(p) => format!("{p}!{name}"),
            None => name,
        };
        let start = e.raw_file_position();
        let stored = e.header().size().unwrap_or(0);
        let mut br = BufReader::with_capacity(BLOCK, &mut e);
        let head = br.fill_buf().map_err(decode_error)?;
        cx.note_picture(Some(&full), head);
        let content = sniff(head);
        if !kind.is_gnu_sparse() && read_nested(content) {
            let hop = Hop {
                index: ordinal,
                format: content,
            };
            scan_nested_in_tar(cx, meter, hop, br, stored, route, &full, out)?;
            continue;
        }
        let report_only = if kind.is_gnu_sparse() {
            Some("sparse tar member(s): report-only")
        } else {
            member_report_only(cx, content)
        };
        let syn = stream_syntax(cx, Some(&full), head);
        let member_name = Path::new(full.rsplit('!').next().unwrap_or(&full)).to_path_buf();
        if is_structured(&member_name) && report_only.is_none() {
            // A CSV or JSON member gets its rows, fields or paths like the
            // same file outside the tar. A tar stream cannot be read twice,
            // so the member is held in memory (up to --max-held) and
            // scanned and located from there; a larger one is scanned as it
            // streams, without row locations.
            match hold(&mut br, cx.max_held)? {
                Ok(data) => {
                    let again = &data[..];
                    let open =
                        move || -> Result<Box<dyn Read + '_>, InputError> { Ok(Box::new(again)) };
                    let mut loc = Locator::new(cx, &member_name, Box::new(open));
                    let mut located = |mut m: MemberFinding| {
                        loc.locate(&mut m)?;
                        out(m)
                    };
                    scan_data(
                        cx,
                        &data[..],
                        route,
                        Some(&full),
                        start,
                        None,
                        syn,
                        &mut located,
                    )?;
                }
                Err(head) => {
                    let whole = Cursor::new(head).chain(br);
                    scan_data(cx, whole, route, Some(&full), start, None, syn, out)?;
                }
            }
        } else {
            scan_data(cx, br, route, Some(&full), start, report_only, syn, out)?;
        }
    }
    Ok(())
}

/// Why findings inside a document or archive that is a tar member are
/// left in place.
pub const NESTED_IN_TAR: &str = "document or archive inside a tar (zip, Office, PDF, compressed file): report-only (extract it and scrub the extracted file)";

/// Whether a tar member of this content is read as what it is: a zip (an
/// Office document, an export), a compressed file, a PDF, a legacy Office
/// document. Read raw, their text is invisible (compressed, or UTF-16 and
/// doubles); masked raw, they would be corrupted.
fn read_nested(content: Format) -> bool {
    matches!(
        content,
        Format::Zip
            | Format::Gzip
            | Format::Zstd
            | Format::Xz
            | Format::Bzip2
            | Format::Lz4
            | Format::Pdf
            | Format::Ole
    )
}

/// Reads a tar member that is a document or an archive as it would be read
/// on its own (its members, pages, cells); every finding is report-only,
/// since a tar is masked in place, byte for byte, and these bytes are not
/// the text. `hop` is the member (its place in the tar, its content), which
/// counts towards the nesting depth; `size` is its stored size (for the
/// expansion ratio).
#[allow(clippy::too_many_arguments)]
fn scan_nested_in_tar<R: BufRead>(
    cx: &Cx,
    meter: &Meter,
    hop: Hop,
    mut r: R,
    size: u64,
    route: &[Hop],
    name: &str,
    out: &mut Sink,
) -> Result<(), InputError> {
    if route.len() >= meter.budget().max_depth {
        return Err(InputError::Budget(format!(
            "archives nested deeper than {}",
            meter.budget().max_depth
        )));
    }
    let content = hop.format;
    let mut report = |mut m: MemberFinding| {
        m.hit.report_only.get_or_insert(NESTED_IN_TAR);
        out(m)
    };
    let mut route = route.to_vec();
    route.push(hop);
    match content {
        Format::Zip => {
            let bytes = Held::new(hold_nested_zip(&mut r, meter)?);
            let len = bytes.len();
            let zip = Cursor::new(bytes);
            scan_blob(
                cx,
                meter,
                zip,
                len,
                content,
                &mut route,
                Some(name),
                &mut report,
            )
        }
        Format::Pdf => office::scan_pdf(cx, meter, &mut r, &route, Some(name), &mut report),
        Format::Ole => office::scan_ole(cx, meter, &mut r, &route, Some(name), &mut report),
        _ => {
            let dec = meter.limit(decoder(content, r)?, size.max(1));
            scan_stream(cx, meter, dec, &route, Some(name), &mut report)
        }
    }
}
