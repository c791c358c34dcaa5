//! Verifying a rebuilt `pg_dump` archive before it replaces anything:
//! header and TOC identical but for the data offsets, each offset pointing
//! at its own block, untouched blocks byte for byte, re-encoded ones
//! decoding to the original with exactly the masks applied, and a new scan
//! finding only what was meant to stay.

use super::*;
use crate::format::container::Places;

/// Whether two byte ranges hold the same bytes.
fn same_bytes(a: &File, ra: (u64, u64), b: &File, rb: (u64, u64)) -> Result<bool, InputError> {
    if ra.1 - ra.0 != rb.1 - rb.0 {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    let mut done = 0u64;
    while ra.0 + done < ra.1 {
        let n = (ra.1 - ra.0 - done).min(BLOCK as u64) as usize;
        a.read_exact_at(&mut x[..n], ra.0 + done).map_err(corrupt)?;
        b.read_exact_at(&mut y[..n], rb.0 + done).map_err(corrupt)?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
        done += n as u64;
    }
    Ok(true)
}

/// Checks a rebuilt archive against the original (see the module header).
pub fn verify(
    cx: &Cx,
    meter: &Meter,
    original: &File,
    rebuilt: &File,
    feed: &mut Feed,
) -> Result<(), InputError> {
    let fail = |why: &str| InputError::Verification(format!("pg_dump archive: {why}"));
    let a = read_toc(original)?;
    let b = read_toc(rebuilt).map_err(|e| fail(&format!("rebuilt archive unreadable: {e}")))?;
    if a.data_start != b.data_start || a.entries.len() != b.entries.len() {
        return Err(fail("table of contents differs after rebuild"));
    }
    // Header and TOC: byte for byte, but for the offsets' own bytes.
    let len = a.data_start as usize;
    let (mut ha, mut hb) = (vec![0u8; len], vec![0u8; len]);
    original.read_exact_at(&mut ha, 0).map_err(corrupt)?;
    rebuilt.read_exact_at(&mut hb, 0).map_err(corrupt)?;
    for e in &a.entries {
        let at = (e.offset_at + 1) as usize;
        ha[at..at + a.off_size].fill(0);
        hb[at..at + a.off_size].fill(0);
    }
    if ha != hb {
        return Err(fail("header or table of contents differs after rebuild"));
    }
    let blocks_a = blocks(original, &a)?;
    let blocks_b =
        blocks(rebuilt, &b).map_err(|e| fail(&format!("rebuilt archive does not decode: {e}")))?;
    if blocks_a.len() != blocks_b.len()
        || blocks_a
            .iter()
            .zip(&blocks_b)
            .any(|(x, y)| (x.kind, x.dump_id) != (y.kind, y.dump_id))
    {
        return Err(fail("data blocks differ after rebuild"));
    }
    // Each offset points at its own block.
    let starts: HashMap<u64, i64> = blocks_b.iter().map(|k| (k.start, k.dump_id)).collect();
    for e in b.entries.iter().filter(|e| e.offset_flag == OFFSET_SET) {
        if starts.get(&e.data_pos) != Some(&e.dump_id) {
            return Err(fail("a TOC offset does not point at its data block"));
        }
    }
    // Blocks without masks are copies; the others decode to the original
    // with exactly the masks applied.
    let (size_a, size_b) = (
        original.metadata().map_err(InputError::io("stat"))?.len(),
        rebuilt.metadata().map_err(InputError::io("stat"))?.len(),
    );
    for (i, (x, y)) in blocks_a.iter().zip(&blocks_b).enumerate() {
        if !feed.has_in_member(&[], i)? {
            let end_a = blocks_a.get(i + 1).map_or(size_a, |k| k.start);
            let end_b = blocks_b.get(i + 1).map_or(size_b, |k| k.start);
            if !same_bytes(original, (x.start, end_a), rebuilt, (y.start, end_b))? {
                return Err(fail("a data block without findings changed"));
            }
            continue;
        }
        let mut masker = Masker::new(cx.policy, feed, &[i]);
        let (mut ra, mut rb) = (data_reader(original, &a, x)?, data_reader(rebuilt, &b, y)?);
        let mut da = decoded(Chunks::new(&mut ra), a.compression)?;
        let mut db = decoded(Chunks::new(&mut rb), b.compression)?;
        compare_streams(&mut da, &mut db, &mut masker)?;
    }
    feed.finish()?;
    // A new scan finds exactly what was meant to stay.
    let mut left = Places::default();
    scan(cx, meter, rebuilt, &mut |m| {
        left.add(&m);
        Ok(())
    })?;
    if left != feed.kept {
        return Err(fail("findings that were to be masked remain"));
    }
    Ok(())
}
