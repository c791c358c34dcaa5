//! Verifying a rebuilt container before it replaces anything.

use super::*;

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
        Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 | Format::Lz4 => {
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
                let (a, b) = (meter.limit(a, ca), meter.limit(b, cb));
                // A gzip (zstd, …) member with findings was recompressed:
                // its decoded bytes are what must match.
                match sub.first().map(|m| m.route[0].format) {
                    Some(f) if f.is_compressed_stream() => compare_streams(
                        &mut meter.limit(decoder(f, a)?, u64::MAX / 4096),
                        &mut meter.limit(decoder(f, b)?, u64::MAX / 4096),
                        &mut masker,
                    )?,
                    _ => compare_streams(&mut { a }, &mut { b }, &mut masker)?,
                }
            }
            Ok(())
        }
        Format::Text
        | Format::Utf16(_)
        | Format::Binary
        | Format::Tar
        | Format::Parquet
        | Format::PgDump => Ok(()),
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
