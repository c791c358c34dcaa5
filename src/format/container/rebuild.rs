//! Rebuilding a container with its findings masked: every masked byte is
//! checked against the scanned digit first; untouched zip members are
//! copied as they are.

use super::*;

/// Applies masks to consecutive pieces of one decoded stream, checking that
/// every masked byte still holds the scanned digit.
/// Spans are held as the stream holds them: `(offset, masked, scanned)`,
/// encoded as UTF-16 for a finding in UTF-16 text.
pub(crate) struct Masker {
    spans: Vec<(u64, Vec<u8>, Vec<u8>)>,
    next: usize,
}

impl Masker {
    pub(crate) fn new(policy: &MaskPolicy, findings: &[&MemberFinding]) -> Masker {
        let mut spans: Vec<_> = findings
            .iter()
            .map(|m| {
                let f = &m.hit.finding;
                let masked = m.hit.masked(policy);
                let (mut new, mut old) = (Vec::new(), Vec::new());
                match m.hit.encoded {
                    Some(endian) => {
                        endian.encode_into(masked.as_bytes(), &mut new);
                        endian.encode_into(f.span_bytes(), &mut old);
                    }
                    None => {
                        new.extend_from_slice(masked.as_bytes());
                        old.extend_from_slice(f.span_bytes());
                    }
                }
                (f.offset, new, old)
            })
            .collect();
        spans.sort_by_key(|s| s.0);
        Masker { spans, next: 0 }
    }

    /// Masks `buf`, which holds stream bytes from offset `pos`.
    pub(crate) fn apply(&mut self, pos: u64, buf: &mut [u8]) -> Result<(), InputError> {
        let end = pos + buf.len() as u64;
        let mut k = self.next;
        while k < self.spans.len() && self.spans[k].0 < end {
            let (start, masked, orig) = &self.spans[k];
            let span_end = start + masked.len() as u64;
            let lo = (*start).max(pos);
            let hi = span_end.min(end);
            let here = &mut buf[(lo - pos) as usize..(hi - pos) as usize];
            let part = (lo - start) as usize..(hi - start) as usize;
            let (expected, replacement) = (&orig[part.clone()], &masked[part]);
            if !crate::remediate::check_then_mask(here, expected, replacement) {
                return Err(InputError::Changed(
                    "decoded bytes differ from the scan".into(),
                ));
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

    pub(crate) fn done(&self) -> bool {
        self.next == self.spans.len()
    }
}

/// Copies `r` to `w`, masking on the way.
pub(crate) fn mask_copy(
    r: &mut dyn Read,
    w: &mut dyn Write,
    masker: &mut Masker,
) -> Result<(), InputError> {
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

pub(super) fn rebuild_blob<R: Read + Seek, W: Write + Seek>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    fmt: Format,
    findings: &[&MemberFinding],
    depth: usize,
    w: W,
) -> Result<W, InputError> {
    match fmt {
        Format::Zip => rebuild_zip(cx, meter, r, findings, depth, w),
        Format::Text
        | Format::Utf16(_)
        | Format::Binary
        | Format::Tar
        | Format::Parquet
        | Format::PgDump => Err(InputError::Corrupt("not a container".into())),
        stream => rebuild_stream(cx, meter, r, stream, findings, w),
    }
}

/// Rebuilds a compressed stream (gzip, zstd, xz, bzip2, lz4) as it decodes:
/// nothing is held, so a stream inside a zip goes straight into the new zip.
fn rebuild_stream<R: Read, W: Write>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    fmt: Format,
    findings: &[&MemberFinding],
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
            mask_stream(cx, meter, &mut dec, &mut enc, findings)?;
            enc.finish().map_err(InputError::io("write"))
        }
        stream => {
            let mut dec = decoder(stream, r)?;
            let mut enc = Encoder::new(stream, w)?;
            mask_stream(cx, meter, &mut dec, &mut enc, findings)?;
            enc.finish().map_err(InputError::io("write"))
        }
    }
}

/// Decodes a whole stream into `enc` with `findings` masked (the decoded
/// size is bounded by the run's budget, not by the compressed size).
fn mask_stream(
    cx: &Cx,
    meter: &Meter,
    dec: &mut dyn Read,
    enc: &mut dyn Write,
    findings: &[&MemberFinding],
) -> Result<(), InputError> {
    let mut masker = Masker::new(cx.policy, findings);
    mask_copy(&mut meter.limit(dec, u64::MAX / 4096), enc, &mut masker)
}

pub(super) fn rebuild_zip<R: Read + Seek, W: Write + Seek>(
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
            Format::Text
            | Format::Utf16(_)
            | Format::Binary
            | Format::Tar
            | Format::Parquet
            | Format::PgDump => {
                zw.start_file(name, options).map_err(zip_error)?;
                let mut masker = Masker::new(cx.policy, &sub);
                mask_copy(&mut content, &mut zw, &mut masker)?;
            }
            Format::Zip => {
                // The zip reader seeks: the member is held (up to
                // --max-held), and so is its rebuilt form.
                let bytes = hold_nested_zip(&mut content, meter)?;
                let rebuilt = rebuild_zip(
                    cx,
                    meter,
                    Cursor::new(bytes),
                    &sub,
                    depth + 1,
                    Cursor::new(Vec::new()),
                )?;
                zw.start_file(name, options).map_err(zip_error)?;
                zw.write_all(rebuilt.get_ref())
                    .map_err(InputError::io("write"))?;
            }
            stream => {
                zw.start_file(name, options).map_err(zip_error)?;
                rebuild_stream(cx, meter, &mut content, stream, &sub, &mut zw)?;
            }
        }
    }
    zw.finish().map_err(zip_error)
}

/// Options for a recompressed member: its method, DOS time, unix mode,
/// comment and its extra fields (UT timestamps, ux uid/gid, …) as they were; the zip64
/// field is left to the writer, which sizes it for the new data.
pub(super) fn changed_member_options<R: Read>(
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
