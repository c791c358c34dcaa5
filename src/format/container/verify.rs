//! Verifying a rebuilt container before it replaces anything.

use super::*;

/// Checks a rebuilt container: it decodes fully, holds exactly the findings
/// that were meant to stay (report-only or allowed; same members, same
/// offsets) and none of those to mask, and (for gzip, zstd, xz, bzip2 and
/// the top-level members of a zip) decodes to exactly the original bytes
/// with the masks applied. A failure here is a verification failure, not a
/// change of the original. The feed hands out the original's findings in
/// scan order; neither side's findings are held.
///
/// For a compressed stream, `written` is the digest of the masked bytes
/// the rebuild compressed (it read the original and checked every masked
/// byte against the scan as it went): the rebuilt file must decode to
/// exactly those, so the original is not decoded again.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    cx: &Cx,
    meter: &Meter,
    original: &File,
    rebuilt: &File,
    fmt: Format,
    feed: &mut Feed,
    path: &Path,
    written: Option<StreamDigest>,
) -> Result<(), InputError> {
    if fmt.is_compressed_stream() {
        // One decoding of the rebuilt stream is both re-scanned and
        // checked against the digest of what the rebuild compressed.
        let size = rebuilt.metadata().map_err(InputError::io("stat"))?.len();
        let r = RangeReader::new(rebuilt, 0, size);
        return judge_rescan(rescan(cx, meter, r, size, fmt, path), feed, written);
    }
    // The two checks run side by side where the pool has a second
    // worker; the comparison reads the rebuilt file by position, so the
    // two readings do not move each other's offset.
    let mut left = Places::default();
    let (scanned, compared) = rayon::join(
        || {
            scan(cx, meter, rebuilt, fmt, path, &mut |m| {
                left.add(&m);
                Ok(())
            })
        },
        || compare(cx, meter, original, rebuilt, fmt, feed),
    );
    scanned.map_err(|e| InputError::Verification(format!("rebuilt file does not decode: {e}")))?;
    compared?;
    judge_places(&left, feed)
}

/// What a re-scan of a rebuilt compressed stream found: the digest of all
/// it decodes to, and the places of the findings left in it.
pub struct Rescan {
    digest: StreamDigest,
    left: Places,
}

/// Re-scans a rebuilt compressed stream read from `r` (`size` compressed
/// bytes: the meter's ratio), for [`judge_rescan`]: one decoding is both
/// scanned and hashed. The reader may follow a file still being written,
/// so the findings get their places only (no CSV rows or JSON paths, which
/// a second reading would give; the check compares places).
pub fn rescan<'r, R: Read + Send + 'r>(
    cx: &Cx,
    meter: &Meter,
    r: R,
    size: u64,
    fmt: Format,
    path: &Path,
) -> Result<Rescan, InputError> {
    debug_assert!(fmt.is_compressed_stream());
    let inner = path.with_extension("");
    let cx = Cx {
        stream_name: Some(&inner),
        ..*cx
    };
    let mut left = Places::default();
    let digest = super::ahead::decoding(
        cx.workers,
        r,
        |r| decoder(fmt, r),
        |dec| {
            let mut dec = Digesting::new(meter.limit(dec, size));
            let mut add = |m: MemberFinding| {
                left.add(&m);
                Ok(())
            };
            scan::scan_stream(&cx, meter, &mut dec, &[], None, &mut add)?;
            // Read to the end, past a tar's end marker.
            io::copy(&mut dec, &mut io::sink()).map_err(decode_error)?;
            Ok(dec.into_parts().1)
        },
    )?;
    Ok(Rescan { digest, left })
}

/// [`verify`] of a compressed stream, given its re-scan: it decoded, to
/// exactly the `written` digest, and holds exactly the findings of `feed`
/// meant to stay.
pub fn judge_rescan(
    rescan: Result<Rescan, InputError>,
    feed: &mut Feed,
    written: Option<StreamDigest>,
) -> Result<(), InputError> {
    let digest = written.ok_or_else(|| {
        InputError::Verification("no digest of the rebuilt stream to check".into())
    })?;
    let rescan = rescan
        .map_err(|e| InputError::Verification(format!("rebuilt file does not decode: {e}")))?;
    if rescan.digest != digest {
        return Err(InputError::Verification(
            "the rebuilt stream does not decode to the masked bytes that were compressed".into(),
        ));
    }
    // The original's findings pass by (those meant to stay counted).
    while feed.peek()?.is_some() {
        feed.pop();
    }
    judge_places(&rescan.left, feed)
}

/// The findings left in a rebuilt file (`left`) against those of `feed`
/// meant to stay.
fn judge_places(left: &Places, feed: &mut Feed) -> Result<(), InputError> {
    feed.finish()?;
    if *left != feed.kept {
        return Err(InputError::Verification(format!(
            "the rebuilt file holds {} finding(s) where {} were to stay: some that were to be masked remain, or kept ones are missing",
            left.count, feed.kept.count
        )));
    }
    Ok(())
}

/// Reads a file by position (`pread`), leaving the file's own offset to
/// whoever else reads it at the same time.
struct At<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for At<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let len = self.file.metadata()?.len();
        let pos = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => len.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// Compares the decoded bytes of the original, masked, with the rebuilt
/// file's.
fn compare(
    cx: &Cx,
    meter: &Meter,
    original: &File,
    rebuilt: &File,
    fmt: Format,
    feed: &mut Feed,
) -> Result<(), InputError> {
    let mut o = original;
    o.rewind().map_err(InputError::io("seek"))?;
    let n = At {
        file: rebuilt,
        pos: 0,
    };
    match fmt {
        // Checked against the digest of what the rebuild compressed.
        Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 | Format::Lz4 => Err(
            InputError::Verification("a compressed stream is checked by its digest".into()),
        ),
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
                if !feed.has_in_member(&[], i)? {
                    // Copied raw, or nothing to mask: compared as decoded.
                    let mut none = Feed::new(Box::new(|| Ok(None)), &|_| true);
                    let mut masker = Masker::new(cx.policy, &mut none, &[i]);
                    let (ca, cb) = (a.compressed_size(), b.compressed_size());
                    let (mut a, mut b) = (meter.limit(a, ca), meter.limit(b, cb));
                    compare_streams(&mut a, &mut b, &mut masker)?;
                    continue;
                }
                let hop = feed.peek()?.expect("a finding in this member").route[0];
                if feed.peek()?.is_some_and(|m| m.route.len() > 1) {
                    // A re-encoded nested archive: its findings are checked
                    // by the re-scan above; here they are only passed.
                    while feed.has_in_member(&[], i)? {
                        feed.pop();
                    }
                    continue;
                }
                let (ca, cb) = (a.compressed_size(), b.compressed_size());
                let (mut a, mut b) = (meter.limit(a, ca), meter.limit(b, cb));
                if let Format::OfficeXml(kind) = hop.format {
                    super::office::verify_part(cx, meter, &mut a, &mut b, kind, feed, &[i])?;
                    continue;
                }
                let mut masker = Masker::new(cx.policy, feed, &[i]);
                // A gzip (zstd, …) member with findings was recompressed:
                // its decoded bytes are what must match.
                if hop.format.is_compressed_stream() {
                    compare_streams(
                        &mut meter.limit(decoder(hop.format, a)?, u64::MAX / 4096),
                        &mut meter.limit(decoder(hop.format, b)?, u64::MAX / 4096),
                        &mut masker,
                    )?
                } else {
                    compare_streams(&mut { a }, &mut { b }, &mut masker)?
                }
            }
            Ok(())
        }
        Format::Text
        | Format::Utf16(_)
        | Format::Binary
        | Format::Tar
        | Format::Parquet
        | Format::PgDump
        | Format::Pdf
        | Format::Ole
        | Format::OfficeXml(_) => Ok(()),
    }
}

/// Reads both streams to the end; `b` must equal `a` with masks applied.
pub(crate) fn compare_streams(
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::format::budget::Budget;

    fn digest_of(bytes: &[u8]) -> StreamDigest {
        let mut d = Digesting::new(bytes);
        io::copy(&mut d, &mut io::sink()).unwrap();
        d.into_parts().1
    }

    #[test]
    fn a_stream_that_decodes_to_other_bytes_than_were_compressed_fails() {
        let masked = b"card 411111******1111\n";
        let mut f = tempfile::tempfile().unwrap();
        let mut e = flate2::write::GzEncoder::new(&mut f, flate2::Compression::default());
        e.write_all(masked).unwrap();
        e.finish().unwrap();
        let decide = |_: &Hit| true;
        let meter = Meter::new(Budget::default());
        let (det, policy) = (Detector::default(), MaskPolicy::default());
        let cx = Cx {
            det: &det,
            policy: &policy,
            scrub_binary: false,
            stream_name: None,
            max_held: 1 << 20,
            not_inspected: None,
            workers: 1,
        };
        let path = Path::new("card.log.gz");
        let check = |written| {
            let mut feed = held(&[], &decide);
            verify(
                &cx,
                &meter,
                &f,
                &f,
                Format::Gzip,
                &mut feed,
                path,
                Some(written),
            )
        };
        check(digest_of(masked)).unwrap();
        // What the rebuild would have compressed had it missed the mask.
        let e = check(digest_of(b"card 4111111111111111\n"));
        assert!(matches!(e, Err(InputError::Verification(_))), "{e:?}");
    }
}
