//! Rebuilding a container with its findings masked: every masked byte is
//! checked against the scanned digit first; untouched zip members are
//! copied as they are.

use std::collections::VecDeque;

use super::encode::{Encoder, GzipHeader};
use super::*;

/// Applies masks to consecutive pieces of one decoded stream, checking that
/// every masked byte still holds the scanned digit. The findings are pulled
/// from the feed as the stream reaches them (they come in ascending
/// offsets); a span is held as the stream holds it, encoded as UTF-16 for
/// a finding in UTF-16 text.
pub(crate) struct Masker<'f, 'a> {
    policy: &'f MaskPolicy,
    feed: &'f mut Feed<'a>,
    /// Member indexes of the stream, from the top.
    route: Vec<usize>,
    /// Spans that start before the end of the last piece but were not yet
    /// wholly applied: `(offset, masked, scanned)`.
    pending: VecDeque<(u64, Vec<u8>, Vec<u8>)>,
}

impl<'f, 'a> Masker<'f, 'a> {
    /// A masker for the stream at `route` (member indexes from the top).
    pub(crate) fn new(policy: &'f MaskPolicy, feed: &'f mut Feed<'a>, route: &[usize]) -> Self {
        Masker {
            policy,
            feed,
            route: route.to_vec(),
            pending: VecDeque::new(),
        }
    }

    fn span(&self, m: &MemberFinding) -> (u64, Vec<u8>, Vec<u8>) {
        let f = &m.hit.finding;
        let masked = m.hit.masked(self.policy);
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
    }

    /// Masks `buf`, which holds stream bytes from offset `pos`.
    pub(crate) fn apply(&mut self, pos: u64, buf: &mut [u8]) -> Result<(), InputError> {
        let end = pos + buf.len() as u64;
        while let Some(m) = self.feed.pop_in(&self.route, end)? {
            let span = self.span(&m);
            if span.0 < pos && self.pending.is_empty() {
                // Findings come in ascending offsets; one behind the
                // stream's position was not scanned from these bytes.
                return Err(InputError::Changed(
                    "decoded bytes differ from the scan".into(),
                ));
            }
            self.pending.push_back(span);
        }
        while let Some((start, masked, orig)) = self.pending.front() {
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
            if span_end > end {
                break; // the rest is in the next piece
            }
            self.pending.pop_front();
        }
        Ok(())
    }

    /// Whether every finding of the stream was applied.
    pub(crate) fn done(&mut self) -> Result<bool, InputError> {
        Ok(self.pending.is_empty() && self.feed.pop_in(&self.route, u64::MAX)?.is_none())
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
    if !masker.done()? {
        return Err(InputError::Changed(
            "the stream ended before a finding".into(),
        ));
    }
    Ok(())
}

/// What a rebuilt compressed stream decodes to, as the rebuild wrote it:
/// the masked bytes' XXH3-128 and length. Verification decodes the rebuilt
/// file and checks it against this, instead of decoding the original a
/// second time beside it. The hash guards against our own encoder writing
/// other bytes than it was given (not against an adversary, who does not
/// choose what the encoder is fed), and runs at memory speed, so it costs
/// the rebuild nothing measurable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDigest {
    xxh3_128: u128,
    len: u64,
}

impl StreamDigest {
    /// The digest of `len` bytes whose XXH3-128 is `xxh3_128`.
    pub(super) fn new(xxh3_128: u128, len: u64) -> StreamDigest {
        StreamDigest { xxh3_128, len }
    }
}

/// A writer (or reader) that keeps the [`StreamDigest`] of what passes
/// through it.
pub(super) struct Digesting<W> {
    inner: W,
    hash: twox_hash::XxHash3_128,
    len: u64,
}

impl<W> Digesting<W> {
    pub(super) fn new(inner: W) -> Digesting<W> {
        Digesting {
            inner,
            hash: twox_hash::XxHash3_128::new(),
            len: 0,
        }
    }

    pub(super) fn into_parts(self) -> (W, StreamDigest) {
        let xxh3_128 = self.hash.finish_128();
        (
            self.inner,
            StreamDigest {
                xxh3_128,
                len: self.len,
            },
        )
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.write(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.write(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Rebuilds a container with the feed's findings to mask masked into `w`.
/// For a compressed stream (gzip, zstd, xz, bzip2, lz4), also gives the
/// digest of the masked bytes it compressed, for [`super::verify`].
pub fn rebuild<W: Write + Seek>(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    fmt: Format,
    feed: &mut Feed,
    w: W,
) -> Result<Option<StreamDigest>, InputError> {
    let mut r = file;
    r.rewind().map_err(InputError::io("seek"))?;
    let mut digest = None;
    match fmt {
        Format::Zip => {
            rebuild_zip(cx, meter, r, feed, &mut Vec::new(), w)?;
        }
        Format::Text
        | Format::Utf16(_)
        | Format::Binary
        | Format::Tar
        | Format::Parquet
        | Format::PgDump
        | Format::Pdf
        | Format::Ole
        | Format::OfficeXml(_) => return Err(InputError::Corrupt("not a container".into())),
        stream => {
            digest = Some(rebuild_stream(cx, meter, r, stream, feed, &[], w)?.1);
        }
    };
    feed.finish()?;
    Ok(digest)
}

/// Rebuilds a compressed stream (gzip, zstd, xz, bzip2, lz4) as it decodes:
/// nothing is held, so a stream inside a zip goes straight into the new zip.
/// Gives back the writer and the digest of the masked bytes compressed.
fn rebuild_stream<R: Read, W: Write>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    fmt: Format,
    feed: &mut Feed,
    route: &[usize],
    w: W,
) -> Result<(W, StreamDigest), InputError> {
    match fmt {
        Format::Gzip => {
            let mut dec = MultiGzDecoder::new(BufReader::with_capacity(BLOCK, r));
            // Keep the first member's name and time (the rebuilt file is one
            // member: same decoded bytes, a single stream).
            let (name, mtime) = match dec.header() {
                Some(h) => (h.filename().map(|n| n.to_vec()), h.mtime()),
                None => (None, 0),
            };
            let header = GzipHeader {
                name: name.map(|n| {
                    mask_text(&String::from_utf8_lossy(&n), cx.det, cx.policy).into_bytes()
                }),
                mtime,
            };
            let enc = Encoder::gzip(header, w).map_err(InputError::io("write"))?;
            let mut enc = Digesting::new(enc);
            mask_stream(cx, meter, &mut dec, &mut enc, feed, route)?;
            let (enc, digest) = enc.into_parts();
            Ok((enc.finish().map_err(InputError::io("write"))?, digest))
        }
        stream => {
            let mut dec = decoder(stream, r)?;
            let mut enc = Digesting::new(Encoder::new(stream, w)?);
            mask_stream(cx, meter, &mut dec, &mut enc, feed, route)?;
            let (enc, digest) = enc.into_parts();
            Ok((enc.finish().map_err(InputError::io("write"))?, digest))
        }
    }
}

/// Decodes a whole stream into `enc` with its findings masked (the decoded
/// size is bounded by the run's budget, not by the compressed size).
fn mask_stream(
    cx: &Cx,
    meter: &Meter,
    dec: &mut dyn Read,
    enc: &mut dyn Write,
    feed: &mut Feed,
    route: &[usize],
) -> Result<(), InputError> {
    let mut masker = Masker::new(cx.policy, feed, route);
    mask_copy(&mut meter.limit(dec, u64::MAX / 4096), enc, &mut masker)
}

/// Rebuilds the zip at `route` (member indexes from the top): members with
/// findings to mask are rewritten, the others copied as they are.
pub(super) fn rebuild_zip<R: Read + Seek, W: Write + Seek>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    feed: &mut Feed,
    route: &mut Vec<usize>,
    w: W,
) -> Result<W, InputError> {
    let mut ar = ZipArchive::new(r).map_err(zip_error)?;
    let mut zw = ZipWriter::new(w);
    zw.set_raw_comment(ar.comment().to_vec().into_boxed_slice())
        .map_err(zip_error)?;
    let depth = route.len();
    for i in 0..ar.len() {
        if !feed.has_in_member(route, i)? {
            // Untouched members are copied as they are: no recompression.
            let raw = ar.by_index_raw(i).map_err(zip_error)?;
            zw.raw_copy_file(raw).map_err(zip_error)?;
            continue;
        }
        let member_fmt = feed.peek()?.expect("a finding in this member").route[depth].format;
        let entry = ar.by_index(i).map_err(zip_error)?;
        let name = entry.name().map_err(zip_error)?.into_owned();
        let compressed = entry.compressed_size();
        let options = changed_member_options(&entry);
        let mut content = meter.limit(entry, compressed);
        route.push(i);
        let res = (|| match member_fmt {
            Format::OfficeXml(kind) => {
                zw.start_file(name, options).map_err(zip_error)?;
                super::office::rebuild_part(cx, meter, &mut content, kind, feed, route, &mut zw)
            }
            Format::Text
            | Format::Utf16(_)
            | Format::Binary
            | Format::Tar
            | Format::Parquet
            | Format::PgDump
            | Format::Pdf
            | Format::Ole => {
                zw.start_file(name, options).map_err(zip_error)?;
                let mut masker = Masker::new(cx.policy, feed, route);
                mask_copy(&mut content, &mut zw, &mut masker)
            }
            Format::Zip => {
                // The zip reader seeks: the member is held (up to
                // --max-held), and so is its rebuilt form.
                let bytes = hold_nested_zip(&mut content, meter)?;
                let rebuilt = rebuild_zip(
                    cx,
                    meter,
                    Cursor::new(bytes),
                    feed,
                    route,
                    Cursor::new(Vec::new()),
                )?;
                zw.start_file(name, options).map_err(zip_error)?;
                zw.write_all(rebuilt.get_ref())
                    .map_err(InputError::io("write"))
            }
            stream => {
                zw.start_file(name, options).map_err(zip_error)?;
                rebuild_stream(cx, meter, &mut content, stream, feed, route, &mut zw).map(|_| ())
            }
        })();
        route.pop();
        res?;
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
