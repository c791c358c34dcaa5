//! Compressed files and archives: gzip (multi-member), zstd, xz, bzip2 and
//! zip, nested
//! up to a depth. Scanning streams the decoded bytes through the detector;
//! scrubbing rebuilds the container into a writer, member by member, and
//! `verify` checks the result before anyone renames it over an original.
//!
//! Where a finding lives is a *route*: the zip member indices (and each
//! member's content format) from the outer file down to the decoded stream
//! that holds it. Offsets are in that decoded stream. Member names are
//! joined with `!` across levels (`inner.zip!Contact.csv`) and have any PAN
//! in them masked.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, Write};

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};
use zip::{ZipArchive, ZipWriter};

use super::budget::{BudgetExceeded, Meter};
use super::csv::{delimiter_for, object_name, CsvLocator};
use super::json::JsonLocator;
use super::syntax::declares_json;
use super::syntax::{is_bare_number, syntax_for, Syntax};
use super::{read_full, sniff, Format};
use crate::detect::{Detector, StreamScanner};
use crate::error::InputError;
use crate::location::{Hit, Location, MaskedAs};
use crate::manifest::mask_text;
use crate::mask::MaskPolicy;
use std::path::Path;

/// Read size for decoded streams.
const BLOCK: usize = 256 * 1024;

/// One step of a route: a zip member and the format of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    /// Index of the member in its archive.
    pub index: usize,
    /// Format of the member's (decompressed) content.
    pub format: Format,
}

/// A finding inside a container: the hit as reported (member name, offset
/// in the member, line, CSV or JSON location) and the route that leads to
/// the decoded stream holding it; `hit.finding` offsets are in that stream
/// (for tar members they differ from the member offset).
#[derive(Clone, Debug)]
pub struct MemberFinding {
    /// Zip members from the top down to the stream holding the finding.
    pub route: Vec<Hop>,
    /// The finding and its location.
    pub hit: Hit,
}

/// What scanning and rebuilding need.
pub struct Cx<'a> {
    /// The detector.
    pub det: &'a Detector,
    /// Masking policy (also for member names).
    pub policy: &'a MaskPolicy,
    /// Truncate in binary members too.
    pub scrub_binary: bool,
    /// Name of the top-level decoded stream (the file name without its
    /// compression extension), for syntax decisions; members use their own.
    pub stream_name: Option<&'a Path>,
}

/// Maps decoding errors: budget errors keep their meaning, anything else is
/// corrupt input. Messages come from the decoders and carry no content.
fn decode_error(e: io::Error) -> InputError {
    if let Some(b) = e.get_ref().and_then(|x| x.downcast_ref::<BudgetExceeded>()) {
        return InputError::Budget(b.0.clone());
    }
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            InputError::Corrupt(e.to_string())
        }
        _ => InputError::io("read")(e),
    }
}

fn zip_error(e: zip::result::ZipError) -> InputError {
    match e {
        zip::result::ZipError::Io(io) => decode_error(io),
        other => InputError::Corrupt(format!("zip: {other}")),
    }
}

/// A decoder for a compressed stream format.
fn decoder<'r, R: Read + 'r>(fmt: Format, r: R) -> Result<Box<dyn Read + 'r>, InputError> {
    Ok(match fmt {
        Format::Gzip => Box::new(MultiGzDecoder::new(BufReader::with_capacity(BLOCK, r))),
        Format::Zstd => Box::new(zstd::stream::read::Decoder::new(r).map_err(decode_error)?),
        Format::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(
            BufReader::with_capacity(BLOCK, r),
        )),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::with_capacity(
            BLOCK, r,
        ))),
        _ => Box::new(r),
    })
}

/// An encoder for the stream formats rebuilt with their tool's default
/// level (zstd 3, xz 6, bzip2 9); gzip is handled apart for its header.
enum Encoder<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Xz(liblzma::write::XzEncoder<W>),
    Bzip2(bzip2::write::BzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    fn new(fmt: Format, w: W) -> Result<Encoder<W>, InputError> {
        Ok(match fmt {
            Format::Zstd => Encoder::Zstd(
                zstd::stream::write::Encoder::new(w, 3).map_err(InputError::io("zstd"))?,
            ),
            Format::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(w, 6)),
            Format::Bzip2 => {
                Encoder::Bzip2(bzip2::write::BzEncoder::new(w, bzip2::Compression::best()))
            }
            _ => return Err(InputError::Corrupt("not a stream format".into())),
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Zstd(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Bzip2(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Zstd(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Bzip2(e) => e.flush(),
        }
    }
}

/// Scans a top-level container file. `path` names it: a compressed
/// `events.ndjson.gz` holds JSON, which decides how bare numbers are masked.
pub fn scan(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    fmt: Format,
    path: &Path,
) -> Result<Vec<MemberFinding>, InputError> {
    let size = file.metadata().map_err(InputError::io("stat"))?.len();
    let mut out = Vec::new();
    let mut r = file;
    r.rewind().map_err(InputError::io("seek"))?;
    let inner = if fmt.is_compressed_stream() {
        path.with_extension("")
    } else {
        path.to_path_buf()
    };
    let cx = Cx {
        stream_name: Some(&inner),
        ..*cx
    };
    scan_blob(&cx, meter, r, size, fmt, &mut Vec::new(), None, &mut out)?;
    // A compressed CSV or JSON stream: decode it again for locations, only
    // when it has findings (`events.ndjson.gz`, `Contact.csv.zst`).
    let direct = out
        .iter()
        .all(|m| m.route.is_empty() && m.hit.at.member.is_none());
    if fmt.is_compressed_stream() && !out.is_empty() && direct {
        let mut r = file;
        r.rewind().map_err(InputError::io("seek"))?;
        let decoded = meter.limit(decoder(fmt, r)?, size);
        locate_structured(&cx, &inner, decoded, &mut out)?;
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn scan_blob<R: Read + Seek>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    compressed: u64,
    fmt: Format,
    route: &mut Vec<Hop>,
    name: Option<&str>,
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    match fmt {
        Format::Zip => scan_zip(cx, meter, r, route, name, out),
        Format::Text | Format::Utf16(_) | Format::Binary | Format::Tar | Format::Parquet => {
            scan_stream(cx, meter.limit(r, compressed), route, name, out)
        }
        _ => {
            let dec = meter.limit(decoder(fmt, r)?, compressed);
            scan_stream(cx, dec, route, name, out)
        }
    }
}

/// Content left in place inside an archive: binary unless binary scrubbing
/// is on, and Parquet always (its pages are compressed and checksummed, so
/// masking raw bytes would corrupt it; a Parquet file is rebuilt only at
/// the top level, where it can be read by random access).
fn member_report_only(cx: &Cx, content: Format) -> Option<&'static str> {
    match content {
        Format::Binary if !cx.scrub_binary => {
            Some("binary member(s): report-only (use --scrub-binary)")
        }
        Format::Parquet => Some("Parquet member(s) inside an archive: report-only"),
        _ => None,
    }
}

/// Scans a decoded stream (text or binary by its first bytes; a tar is
/// opened and its members scanned one by one).
fn scan_stream<R: Read>(
    cx: &Cx,
    r: R,
    route: &[Hop],
    name: Option<&str>,
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    let mut br = BufReader::with_capacity(BLOCK, r);
    let head = br.fill_buf().map_err(decode_error)?;
    if super::is_tar(head) {
        return scan_tar(cx, br, route, name, out);
    }
    let report_only = member_report_only(cx, sniff(head));
    let syn = stream_syntax(cx, name, head);
    scan_data(cx, br, route, name, 0, report_only, syn, out)
}

/// The syntax of a decoded stream: by member name, else by the top-level
/// stream's name, else by content.
fn stream_syntax(cx: &Cx, name: Option<&str>, head: &[u8]) -> Syntax {
    let hint = match name {
        Some(n) => Path::new(n.rsplit('!').next().unwrap_or(n)).to_path_buf(),
        None => cx.stream_name.map(Path::to_path_buf).unwrap_or_default(),
    };
    syntax_for(&hint, head)
}

/// Scans one member's data; `shift` is where the data starts in the
/// decoded stream (non-zero for tar members), `report_only` forces findings
/// to be left in place.
#[allow(clippy::too_many_arguments)]
fn scan_data<R: Read>(
    cx: &Cx,
    mut r: R,
    route: &[Hop],
    name: Option<&str>,
    shift: u64,
    report_only: Option<&'static str>,
    syn: Syntax,
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    let mut sc = StreamScanner::new(cx.det).track_lines();
    let mut found = Vec::new();
    sc.read_from(&mut r, &mut |f| found.push(f))
        .map_err(decode_error)?;
    for mut f in found {
        let line_start = f.lines.line_start.unwrap_or(0);
        let line = f.lines.newlines_before + 1;
        let column = f.offset - line_start + 1;
        let member_offset = f.offset;
        f.offset += shift;
        let masked_as = if is_bare_number(&f, syn) {
            MaskedAs::Number
        } else {
            MaskedAs::Text
        };
        out.push(MemberFinding {
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
                report_only: report_only.is_some(),
                report_only_why: report_only,
            },
        });
    }
    Ok(())
}

/// Scans the regular-file members of a tar stream. Offsets in the findings
/// are in the tar stream (for masking); `member_offset` is in the member.
/// GNU sparse members are scanned but report-only: their data is not one
/// contiguous run of the archive.
fn scan_tar<R: Read>(
    cx: &Cx,
    r: R,
    route: &[Hop],
    prefix: Option<&str>,
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries().map_err(decode_error)? {
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
        let mut br = BufReader::with_capacity(BLOCK, &mut e);
        let head = br.fill_buf().map_err(decode_error)?;
        let report_only = if kind.is_gnu_sparse() {
            Some("sparse tar member(s): report-only")
        } else {
            member_report_only(cx, sniff(head))
        };
        let syn = stream_syntax(cx, Some(&full), head);
        let member_name = Path::new(full.rsplit('!').next().unwrap_or(&full)).to_path_buf();
        if is_structured(&member_name) && report_only.is_none() {
            // A CSV or JSON member gets its rows, fields or paths like the
            // same file outside the tar. A tar stream cannot be read twice,
            // so the member is held in memory (within the budget) and
            // scanned and located from there.
            let mut data = Vec::new();
            br.read_to_end(&mut data).map_err(decode_error)?;
            let first = out.len();
            scan_data(cx, &data[..], route, Some(&full), start, None, syn, out)?;
            if out.len() > first {
                locate_structured(cx, &member_name, &data[..], &mut out[first..])?;
            }
        } else {
            scan_data(cx, br, route, Some(&full), start, report_only, syn, out)?;
        }
    }
    Ok(())
}

/// CSV/TSV or JSON by name: findings in it get structured locations.
fn is_structured(name: &Path) -> bool {
    delimiter_for(name).is_some() || declares_json(name)
}

/// Scans an uncompressed tar file: every member, offsets in the file (it is
/// masked in place: member data is stored raw, headers are never touched).
pub fn scan_tar_file(
    cx: &Cx,
    meter: &Meter,
    file: &File,
) -> Result<Vec<MemberFinding>, InputError> {
    let size = file.metadata().map_err(InputError::io("stat"))?.len();
    let mut r = file;
    r.rewind().map_err(InputError::io("seek"))?;
    let mut out = Vec::new();
    scan_tar(
        cx,
        BufReader::with_capacity(BLOCK, meter.limit(r, size.max(1))),
        &[],
        None,
        &mut out,
    )?;
    Ok(out)
}

fn scan_zip<R: Read + Seek>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    route: &mut Vec<Hop>,
    prefix: Option<&str>,
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    let depth = route.len() + 1;
    if depth > meter.budget().max_depth {
        return Err(InputError::Budget(format!(
            "archives nested deeper than {}",
            meter.budget().max_depth
        )));
    }
    let mut ar = ZipArchive::new(r).map_err(zip_error)?;
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
        let first_new = out.len();
        let res = {
            let mut br = BufReader::with_capacity(BLOCK, meter.limit(entry, compressed));
            let fmt = sniff(br.fill_buf().map_err(decode_error)?);
            route.push(Hop {
                index: i,
                format: fmt,
            });
            match fmt {
                Format::Zip => {
                    // The zip reader needs to seek: hold the member in memory
                    // (bounded by the budget).
                    let mut bytes = Vec::new();
                    br.read_to_end(&mut bytes).map_err(decode_error)?;
                    let len = bytes.len() as u64;
                    scan_blob(
                        cx,
                        meter,
                        Cursor::new(bytes),
                        len,
                        Format::Zip,
                        route,
                        Some(&name),
                        out,
                    )
                }
                Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 => {
                    if route.len() >= meter.budget().max_depth {
                        Err(InputError::Budget(format!(
                            "archives nested deeper than {}",
                            meter.budget().max_depth
                        )))
                    } else {
                        let dec = meter.limit(decoder(fmt, br)?, compressed);
                        scan_stream(cx, dec, route, Some(&name), out)
                    }
                }
                Format::Text
                | Format::Utf16(_)
                | Format::Binary
                | Format::Tar
                | Format::Parquet => scan_stream(cx, br, route, Some(&name), out),
            }
        };
        route.pop();
        res?;
        locate_member(cx, meter, &mut ar, i, &raw_name, &mut out[first_new..])?;
    }
    Ok(())
}

/// Adds CSV locations to the findings of a CSV member (by name), reading
/// the member a second time: only members with findings pay for it.
fn locate_member<R: Read + Seek>(
    cx: &Cx,
    meter: &Meter,
    ar: &mut ZipArchive<R>,
    index: usize,
    name: &str,
    found: &mut [MemberFinding],
) -> Result<(), InputError> {
    let path = std::path::Path::new(name);
    if !is_structured(path)
        || found.is_empty()
        || found.iter().any(|m| {
            m.route.last().is_none_or(|h| {
                !matches!(
                    h.format,
                    Format::Text | Format::Binary | Format::Tar | Format::Parquet
                )
            })
        })
    {
        return Ok(());
    }
    let entry = ar.by_index(index).map_err(zip_error)?;
    let compressed = entry.compressed_size();
    locate_structured(cx, path, meter.limit(entry, compressed), found)
}

/// CSV locations or JSON paths for the findings of one decoded stream
/// named `name` (read again from the start by `r`).
fn locate_structured<R: Read>(
    cx: &Cx,
    name: &Path,
    r: R,
    found: &mut [MemberFinding],
) -> Result<(), InputError> {
    if let Some(delim) = delimiter_for(name) {
        let mut loc = CsvLocator::new(r, delim);
        let object = object_name(name);
        for m in found.iter_mut() {
            m.hit.at.csv = loc
                .locate(m.hit.at.offset)
                .map_err(decode_error)?
                .map(|l| l.into_cell(object.clone(), cx.det, cx.policy));
        }
    } else if declares_json(name) {
        let mut loc = JsonLocator::new(r);
        for m in found.iter_mut() {
            let p = loc.locate(m.hit.at.offset).map_err(decode_error)?;
            m.hit.at.json_path = Some(mask_text(&p, cx.det, cx.policy));
        }
    }
    Ok(())
}

/// Applies masks to consecutive pieces of one decoded stream, checking that
/// every masked byte still holds the scanned digit.
struct Masker<'a> {
    spans: Vec<(u64, crate::mask::Masked, &'a [u8])>,
    next: usize,
}

impl<'a> Masker<'a> {
    fn new(policy: &MaskPolicy, findings: &[&'a MemberFinding]) -> Masker<'a> {
        let mut spans: Vec<_> = findings
            .iter()
            .map(|m| {
                let f = &m.hit.finding;
                (f.offset, m.hit.masked(policy), f.span_bytes())
            })
            .collect();
        spans.sort_by_key(|s| s.0);
        Masker { spans, next: 0 }
    }

    /// Masks `buf`, which holds stream bytes from offset `pos`.
    fn apply(&mut self, pos: u64, buf: &mut [u8]) -> Result<(), InputError> {
        let end = pos + buf.len() as u64;
        let mut k = self.next;
        while k < self.spans.len() && self.spans[k].0 < end {
            let (start, masked, orig) = &self.spans[k];
            let span_end = start + masked.as_bytes().len() as u64;
            let lo = (*start).max(pos);
            let hi = span_end.min(end);
            for o in lo..hi {
                let b = &mut buf[(o - pos) as usize];
                let i = (o - start) as usize;
                if *b != orig[i] {
                    return Err(InputError::Changed(
                        "decoded bytes differ from the scan".into(),
                    ));
                }
                *b = masked.as_bytes()[i];
            }
            if span_end <= end {
                k += 1;
                self.next = k;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.next == self.spans.len()
    }
}

/// Copies `r` to `w`, masking on the way.
fn mask_copy(r: &mut dyn Read, w: &mut dyn Write, masker: &mut Masker) -> Result<(), InputError> {
    let mut buf = vec![0u8; BLOCK];
    let mut pos = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(decode_error(e)),
        };
        masker.apply(pos, &mut buf[..n])?;
        w.write_all(&buf[..n]).map_err(InputError::io("write"))?;
        pos += n as u64;
    }
    if !masker.done() {
        return Err(InputError::Changed(
            "the stream ended before a finding".into(),
        ));
    }
    Ok(())
}

/// Rebuilds a container with the given findings masked (report-only
/// findings must not be passed) into `w`.
pub fn rebuild<W: Write + Seek>(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    fmt: Format,
    findings: &[&MemberFinding],
    w: W,
) -> Result<(), InputError> {
    let mut r = file;
    r.rewind().map_err(InputError::io("seek"))?;
    rebuild_blob(cx, meter, r, fmt, findings, 0, w)?;
    Ok(())
}

fn rebuild_blob<R: Read + Seek, W: Write + Seek>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    fmt: Format,
    findings: &[&MemberFinding],
    depth: usize,
    w: W,
) -> Result<W, InputError> {
    match fmt {
        Format::Gzip => {
            let mut dec = MultiGzDecoder::new(BufReader::with_capacity(BLOCK, r));
            // Keep the first member's name and time (the rebuilt file is one
            // member: same decoded bytes, a single stream).
            let (name, mtime) = match dec.header() {
                Some(h) => (h.filename().map(|n| n.to_vec()), h.mtime()),
                None => (None, 0),
            };
            let mut b = GzBuilder::new().mtime(mtime);
            if let Some(n) = name {
                b = b.filename(mask_text(&String::from_utf8_lossy(&n), cx.det, cx.policy));
            }
            let mut enc = b.write(w, Compression::new(6));
            let mut masker = Masker::new(cx.policy, findings);
            mask_copy(
                &mut meter.limit(&mut dec, u64::MAX / 4096),
                &mut enc,
                &mut masker,
            )?;
            enc.finish().map_err(InputError::io("write"))
        }
        Format::Zip => rebuild_zip(cx, meter, r, findings, depth, w),
        Format::Text | Format::Utf16(_) | Format::Binary | Format::Tar | Format::Parquet => {
            Err(InputError::Corrupt("not a container".into()))
        }
        stream => {
            let mut dec = decoder(stream, r)?;
            let mut enc = Encoder::new(stream, w)?;
            let mut masker = Masker::new(cx.policy, findings);
            mask_copy(
                &mut meter.limit(&mut dec, u64::MAX / 4096),
                &mut enc,
                &mut masker,
            )?;
            enc.finish().map_err(InputError::io("write"))
        }
    }
}

fn rebuild_zip<R: Read + Seek, W: Write + Seek>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    findings: &[&MemberFinding],
    depth: usize,
    w: W,
) -> Result<W, InputError> {
    let mut ar = ZipArchive::new(r).map_err(zip_error)?;
    let mut zw = ZipWriter::new(w);
    zw.set_raw_comment(ar.comment().to_vec().into_boxed_slice())
        .map_err(zip_error)?;
    for i in 0..ar.len() {
        let sub: Vec<&MemberFinding> = findings
            .iter()
            .copied()
            .filter(|m| m.route.get(depth).is_some_and(|h| h.index == i))
            .collect();
        if sub.is_empty() {
            // Untouched members are copied as they are: no recompression.
            let raw = ar.by_index_raw(i).map_err(zip_error)?;
            zw.raw_copy_file(raw).map_err(zip_error)?;
            continue;
        }
        let member_fmt = sub[0].route[depth].format;
        let entry = ar.by_index(i).map_err(zip_error)?;
        let name = entry.name().map_err(zip_error)?.into_owned();
        let compressed = entry.compressed_size();
        let options = changed_member_options(&entry);
        let mut content = meter.limit(entry, compressed);
        match member_fmt {
            Format::Text | Format::Utf16(_) | Format::Binary | Format::Tar | Format::Parquet => {
                zw.start_file(name, options).map_err(zip_error)?;
                let mut masker = Masker::new(cx.policy, &sub);
                mask_copy(&mut content, &mut zw, &mut masker)?;
            }
            nested => {
                let mut bytes = Vec::new();
                content.read_to_end(&mut bytes).map_err(decode_error)?;
                let rebuilt = rebuild_blob(
                    cx,
                    meter,
                    Cursor::new(bytes),
                    nested,
                    &sub,
                    depth + 1,
                    Cursor::new(Vec::new()),
                )?;
                zw.start_file(name, options).map_err(zip_error)?;
                zw.write_all(rebuilt.get_ref())
                    .map_err(InputError::io("write"))?;
            }
        }
    }
    zw.finish().map_err(zip_error)
}

/// Options for a recompressed member: its method, DOS time, unix mode,
/// comment and its extra fields (UT timestamps, ux uid/gid, …) as they were; the zip64
/// field is left to the writer, which sizes it for the new data.
fn changed_member_options<R: Read>(
    entry: &zip::read::ZipFile<'_, R>,
) -> zip::write::FullFileOptions<'static, 'static> {
    let mut options = zip::write::FullFileOptions::default()
        .compression_method(entry.compression())
        .large_file(entry.size() > u32::MAX as u64);
    if let Some(t) = entry.last_modified() {
        options = options.last_modified_time(t);
    }
    if let Some(mode) = entry.unix_mode() {
        options = options.unix_permissions(mode);
    }
    if !entry.comment().is_empty() {
        options = options.with_file_comment(entry.comment());
    }
    let extra_data = entry.extra_data().unwrap_or_default();
    let mut extra = &extra_data[..];
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = u16::from_le_bytes([extra[2], extra[3]]) as usize;
        if extra.len() < 4 + len {
            break;
        }
        if id != 0x0001 {
            // A field the writer refuses is dropped, not fatal.
            let _ = options.add_extra_field(id, &extra[4..4 + len], false);
        }
        extra = &extra[4 + len..];
    }
    options
}

/// Checks a rebuilt container: it decodes fully, holds exactly the findings
/// that were meant to stay (`kept`: report-only or allowed; same members,
/// same offsets) and none of `masked`, and (for gzip, zstd, xz, bzip2 and
/// the top-level members of a zip) decodes to exactly the original bytes
/// with the masks applied. A failure here is a verification failure, not a
/// change of the original.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    cx: &Cx,
    meter: &Meter,
    original: &File,
    rebuilt: &File,
    fmt: Format,
    masked: &[&MemberFinding],
    kept: &[&MemberFinding],
    path: &Path,
) -> Result<(), InputError> {
    let after = scan(cx, meter, rebuilt, fmt, path)
        .map_err(|e| InputError::Verification(format!("rebuilt file does not decode: {e}")))?;
    let place = |m: &MemberFinding| (m.hit.at.member.clone(), m.hit.at.offset);
    let mut left: Vec<_> = after.iter().map(place).collect();
    let mut want: Vec<_> = kept.iter().map(|m| place(m)).collect();
    left.sort();
    want.sort();
    if left != want {
        let extra = left.iter().filter(|p| !want.contains(p)).count();
        return Err(InputError::Verification(format!(
            "{extra} finding(s) in the rebuilt file that were to be masked, or kept ones missing"
        )));
    }
    let to_mask = masked;
    let mut o = original;
    let mut n = rebuilt;
    o.rewind().map_err(InputError::io("seek"))?;
    n.rewind().map_err(InputError::io("seek"))?;
    match fmt {
        Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 => {
            let mut masker = Masker::new(cx.policy, to_mask);
            let mut a = meter.limit(decoder(fmt, o)?, u64::MAX / 4096);
            let mut b = meter.limit(decoder(fmt, n)?, u64::MAX / 4096);
            compare_streams(&mut a, &mut b, &mut masker)
        }
        Format::Zip => {
            let mut za = ZipArchive::new(o).map_err(zip_error)?;
            let mut zb = ZipArchive::new(n).map_err(zip_error)?;
            if za.len() != zb.len() {
                return Err(InputError::Verification(
                    "member count differs after rebuild".into(),
                ));
            }
            for i in 0..za.len() {
                let a = za.by_index(i).map_err(zip_error)?;
                let b = zb.by_index(i).map_err(zip_error)?;
                if a.name_raw() != b.name_raw() || a.is_dir() != b.is_dir() {
                    return Err(InputError::Verification(
                        "member names differ after rebuild".into(),
                    ));
                }
                let sub: Vec<&MemberFinding> = to_mask
                    .iter()
                    .copied()
                    .filter(|m| m.route.len() == 1 && m.route[0].index == i)
                    .collect();
                let nested = to_mask
                    .iter()
                    .any(|m| m.route.len() > 1 && m.route[0].index == i);
                if nested {
                    continue; // re-encoded nested archive: checked by the re-scan
                }
                let mut masker = Masker::new(cx.policy, &sub);
                let (ca, cb) = (a.compressed_size(), b.compressed_size());
                compare_streams(
                    &mut meter.limit(a, ca),
                    &mut meter.limit(b, cb),
                    &mut masker,
                )?;
            }
            Ok(())
        }
        Format::Text | Format::Utf16(_) | Format::Binary | Format::Tar | Format::Parquet => Ok(()),
    }
}

/// Reads both streams to the end; `b` must equal `a` with masks applied.
fn compare_streams(
    a: &mut dyn Read,
    b: &mut dyn Read,
    masker: &mut Masker,
) -> Result<(), InputError> {
    let mut ba = vec![0u8; BLOCK];
    let mut bb = vec![0u8; BLOCK];
    let mut pos = 0u64;
    loop {
        let n = read_full(a, &mut ba).map_err(decode_error)?;
        let m = read_full(b, &mut bb).map_err(decode_error)?;
        if n != m {
            return Err(InputError::Verification(
                "decoded length differs after rebuild".into(),
            ));
        }
        if n == 0 {
            return Ok(());
        }
        masker.apply(pos, &mut ba[..n])?;
        if ba[..n] != bb[..n] {
            return Err(InputError::Verification(
                "decoded bytes differ after rebuild".into(),
            ));
        }
        pos += n as u64;
    }
}
