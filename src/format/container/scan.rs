//! Scanning containers: decoded streams, zip members (nested), tar members;
//! CSV and JSON locations for structured members.

use super::*;

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
pub(super) fn scan_blob<R: Read + Seek>(
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
        Format::Text
        | Format::Utf16(_)
        | Format::Binary
        | Format::Tar
        | Format::Parquet
        | Format::PgDump => scan_stream(cx, meter.limit(r, compressed), route, name, out),
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
    r: R,
    route: &[Hop],
    name: Option<&str>,
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    let mut br = BufReader::with_capacity(BLOCK, r);
    let head = br.fill_buf().map_err(decode_error)?;
    if crate::format::is_tar(head) {
        return scan_tar(cx, br, route, name, out);
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
    out: &mut Vec<MemberFinding>,
) -> Result<(), InputError> {
    let mut sc = StreamScanner::new(cx.det).track_lines();
    let mut found = Vec::new();
    // UTF-16 text (a Salesforce export taken in UTF-16) is scanned through
    // its one-byte view, as a plain UTF-16 file is.
    let encoded = match sniff(r.fill_buf().map_err(decode_error)?) {
        Format::Utf16(endian) => Some(endian),
        _ => None,
    };
    match encoded {
        Some(endian) => sc.read_from(&mut utf16::Narrow::new(r, endian), &mut |f| found.push(f)),
        None => sc.read_from(&mut r, &mut |f| found.push(f)),
    }
    .map_err(decode_error)?;
    for mut f in found {
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
                report_only,
                encoded,
            },
        });
    }
    Ok(())
}

/// Scans the regular-file members of a tar stream. Offsets in the findings
/// are in the tar stream (for masking); `member_offset` is in the member.
/// GNU sparse members are scanned but report-only: their data is not one
/// contiguous run of the archive.
pub(super) fn scan_tar<R: Read>(
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
            // so the member is held in memory (up to --max-held) and
            // scanned and located from there; a larger one is scanned as it
            // streams, without row locations.
            match hold(&mut br, cx.max_held)? {
                Ok(data) => {
                    let first = out.len();
                    scan_data(cx, &data[..], route, Some(&full), start, None, syn, out)?;
                    if out.len() > first {
                        locate_structured(cx, &member_name, &data[..], &mut out[first..])?;
                    }
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

/// CSV/TSV or JSON by name: findings in it get structured locations.
pub(super) fn is_structured(name: &Path) -> bool {
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

pub(super) fn scan_zip<R: Read + Seek>(
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
                    // (up to --max-held).
                    let bytes = hold_nested_zip(&mut br, meter)?;
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
                Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 | Format::Lz4 => {
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
                | Format::Parquet
                | Format::PgDump => scan_stream(cx, br, route, Some(&name), out),
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
pub(super) fn locate_member<R: Read + Seek>(
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
        || found
            .iter()
            .any(|m| m.route.last().is_none_or(|h| h.format.is_container()))
    {
        return Ok(());
    }
    let entry = ar.by_index(index).map_err(zip_error)?;
    let compressed = entry.compressed_size();
    locate_structured(cx, path, meter.limit(entry, compressed), found)
}

/// CSV locations or JSON paths for the findings of one decoded stream
/// named `name` (read again from the start by `r`).
pub(super) fn locate_structured<R: Read>(
    cx: &Cx,
    name: &Path,
    r: R,
    found: &mut [MemberFinding],
) -> Result<(), InputError> {
    // One stream, one encoding: a UTF-16 one is located through its
    // one-byte view, in code units.
    let encoded = found.first().and_then(|m| m.hit.encoded);
    let r: Box<dyn Read + '_> = match encoded {
        Some(endian) => Box::new(utf16::Narrow::new(r, endian)),
        None => Box::new(r),
    };
    let at = |m: &MemberFinding| match encoded {
        Some(_) => m.hit.at.offset / 2,
        None => m.hit.at.offset,
    };
    if let Some(delim) = delimiter_for(name) {
        let mut loc = CsvLocator::new(r, delim);
        let object = object_name(name);
        for m in found.iter_mut() {
            m.hit.at.csv = loc
                .locate(at(m))
                .map_err(decode_error)?
                .map(|l| l.into_cell(object.clone(), cx.det, cx.policy));
        }
    } else if declares_json(name) {
        let mut loc = JsonLocator::new(r);
        for m in found.iter_mut() {
            let p = loc.locate(at(m)).map_err(decode_error)?;
            m.hit.at.json_path = Some(mask_text(&p, cx.det, cx.policy));
        }
    }
    Ok(())
}
