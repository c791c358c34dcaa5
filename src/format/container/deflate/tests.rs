//! The splice against zlib-rs: gzip written by flate2 at every level (and
//! with stored blocks, several members, names), spliced with masks at
//! chosen or random places, must decode with flate2 to exactly the masked
//! bytes, and anything our decoder refuses must come back as
//! `Unsupported`, never as a wrong file or a panic.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use proptest::prelude::*;

use super::splice::splice;
use super::{SpliceError, SpliceStats};
use crate::error::InputError;

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(gz).read_to_end(&mut out).unwrap();
    out
}

/// Masks `ranges` (offsets in the decoded stream) with `*`.
fn masked(data: &[u8], ranges: &[(usize, usize)]) -> Vec<u8> {
    let mut m = data.to_vec();
    for &(a, b) in ranges {
        m[a..b].fill(b'*');
    }
    m
}

fn run(gz: &[u8], ranges: &[(usize, usize)]) -> Result<(Vec<u8>, SpliceStats), SpliceError> {
    run_on(gz, ranges, 1 + (gz.len() % 2))
}

/// [`run`] with the writer on a thread of its own when `threads` > 1.
fn run_on(
    gz: &[u8],
    ranges: &[(usize, usize)],
    threads: usize,
) -> Result<(Vec<u8>, SpliceStats), SpliceError> {
    let mut mask = |pos: u64, buf: &mut [u8]| -> Result<(), InputError> {
        let (lo, hi) = (pos as usize, pos as usize + buf.len());
        for &(a, b) in ranges {
            let (a, b) = (a.max(lo), b.min(hi));
            if a < b {
                buf[a - lo..b - lo].fill(b'*');
            }
        }
        Ok(())
    };
    let no_name = |_: &[u8]| None;
    splice(
        gz,
        Vec::new(),
        &mut mask,
        &no_name,
        &mut |_| Ok(()),
        threads,
    )
}

/// Log-like text, with a card number (one of a few, Luhn-valid) in one
/// line in 40 and repeats at every distance, so that matches cross the
/// masked digits. Gives the text and the ranges to mask.
fn log_lines(n: usize) -> (Vec<u8>, Vec<(usize, usize)>) {
    const PANS: [&[u8]; 4] = [
        b"4111111111111111",
        b"5555555555554444",
        b"4012888888881881",
        b"378282246310005",
    ];
    let mut data = Vec::new();
    let mut pans = Vec::new();
    let mut seed = 0x2545_f491_u32;
    for i in 0..n {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let line = format!(
            "2026-12-04T10:{:02}:{:02}.{:03} host-{} app[{}]: GET /api/v2/orders/{} 200 {}ms",
            i % 60,
            (i * 7) % 60,
            seed % 1000,
            i % 5,
            1000 + i % 37,
            seed >> 12,
            seed % 250
        );
        data.extend_from_slice(line.as_bytes());
        if i % 40 == 7 {
            data.extend_from_slice(b" card=");
            let at = data.len();
            let pan = PANS[(seed >> 7) as usize % PANS.len()];
            data.extend_from_slice(pan);
            pans.push((at + 6, at + pan.len() - 4));
        }
        data.push(b'\n');
    }
    (data, pans)
}

#[test]
fn every_level_splices_to_exactly_the_masked_bytes() {
    let (data, pans) = log_lines(60_000);
    let want = masked(&data, &pans);
    for level in 0..=9 {
        let gz = gzip(&data, level);
        let (out, stats) = run(&gz, &pans).unwrap();
        assert_eq!(gunzip(&out), want, "level {level}");
        if level > 0 {
            assert!(stats.reencoded > 0);
            // Reusing the parse costs little: within 1% (+ a few bytes).
            assert!(
                out.len() <= gz.len() + gz.len() / 100 + 64,
                "level {level}: {} -> {}",
                gz.len(),
                out.len()
            );
        }
    }
}

/// One thread (the masked window lent to the writer) and two (the writer
/// on its own thread, handed copies): over several MiB, so that the
/// window is moved to the front more than once, both give the same bytes.
#[test]
fn one_thread_and_two_write_the_same_bytes() {
    let (data, pans) = log_lines(60_000);
    assert!(data.len() > 4 * super::splice::SLIDE_AT);
    let gz = gzip(&data, 6);
    let mut outs = Vec::new();
    for threads in [1, 2] {
        let (out, _) = run_on(&gz, &pans, threads).unwrap();
        assert_eq!(gunzip(&out), masked(&data, &pans), "{threads} thread(s)");
        outs.push(out);
    }
    assert!(outs[0] == outs[1]);
}

#[test]
fn untouched_blocks_are_copied_and_the_file_kept_byte_for_byte() {
    let (data, _) = log_lines(60_000);
    let gz = gzip(&data, 6);
    let (out, stats) = run(&gz, &[]).unwrap();
    assert_eq!(out, gz);
    assert_eq!(stats.reencoded, 0);
    assert!(stats.copied > 1);
}

#[test]
fn a_mask_late_in_the_file_leaves_earlier_blocks_copied() {
    let (data, pans) = log_lines(60_000);
    let last = *pans.last().unwrap();
    let gz = gzip(&data, 6);
    let (out, stats) = run(&gz, &[last]).unwrap();
    assert_eq!(gunzip(&out), masked(&data, &[last]));
    assert!(stats.copied > 0 && stats.reencoded >= 1, "{stats:?}");
}

#[test]
fn members_names_and_header_crcs_are_kept() {
    let (data, pans) = log_lines(3_000);
    let half = data.len() / 2;
    let mut gz = Vec::new();
    let mut e = GzBuilder::new()
        .filename("first.log")
        .comment("rotated")
        .mtime(1_700_000_000)
        .write(Vec::new(), Compression::best());
    e.write_all(&data[..half]).unwrap();
    gz.extend(e.finish().unwrap());
    gz.extend(gzip(&data[half..], 1));
    let (out, _) = run(&gz, &pans).unwrap();
    assert_eq!(gunzip(&out), masked(&data, &pans));
    // The first member's header is the original's, byte for byte.
    let head = b"\x1f\x8b\x08\x18";
    assert_eq!(&out[..4], head);
    assert!(out.windows(9).any(|w| w == b"first.log"));
    assert!(out.windows(7).any(|w| w == b"rotated"));
}

#[test]
fn a_name_holding_a_card_number_is_masked() {
    let mut e = GzBuilder::new()
        .filename("export-4111111111111111.csv")
        .write(Vec::new(), Compression::default());
    e.write_all(b"nothing here\n").unwrap();
    let gz = e.finish().unwrap();
    let mut mask = |_: u64, _: &mut [u8]| Ok(());
    let name = |n: &[u8]| {
        let s = String::from_utf8_lossy(n).replace("4111111111111111", "411111******1111");
        Some(s.into_bytes())
    };
    let (out, _) = splice(&gz[..], Vec::new(), &mut mask, &name, &mut |_| Ok(()), 1).unwrap();
    assert!(out.windows(16).any(|w| w == b"411111******1111"));
    assert!(!out.windows(16).any(|w| w == b"4111111111111111"));
    assert_eq!(gunzip(&out), b"nothing here\n");
}

#[test]
fn refused_streams_come_back_unsupported() {
    let (data, pans) = log_lines(2_000);
    let gz = gzip(&data, 6);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", gz[..gz.len() / 2].to_vec()),
        ("no trailer", gz[..gz.len() - 8].to_vec()),
        ("garbage after", [&gz[..], b"junk"].concat()),
        ("bad crc", {
            let mut g = gz.clone();
            let n = g.len();
            g[n - 8] ^= 1;
            g
        }),
        ("extra field", {
            let mut e = GzBuilder::new()
                .extra(b"BC\x02\x00\x00\x00".to_vec())
                .write(Vec::new(), Compression::default());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }),
    ];
    for (what, bytes) in cases {
        match run(&bytes, &pans) {
            Err(SpliceError::Unsupported(_)) => {}
            other => panic!("{what}: {:?}", other.map(|o| o.1)),
        }
    }
}

/// A raw deflate stream as a gzip member, with the CRC-32 and size of
/// `content` (zeros when there is none).
fn wrap(stream: &[u8], content: Option<&[u8]>) -> Vec<u8> {
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend_from_slice(stream);
    let (crc, size) = content.map_or((0, 0), |c| {
        let mut crc = flate2::Crc::new();
        crc.update(c);
        (crc.sum(), c.len() as u32)
    });
    gz.extend_from_slice(&crc.to_le_bytes());
    gz.extend_from_slice(&size.to_le_bytes());
    gz
}

/// What flate2 decodes `stream` to, in full.
fn inflated(stream: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut d = flate2::read::DeflateDecoder::new(stream);
    d.read_to_end(&mut out).ok().map(|_| out)
}

/// A raw stream and what flate2 decodes it to. Go's block writers stop
/// without a final block, flushed to a byte: an empty final fixed block
/// (bits 1, then 1 0, then seven 0s for end-of-block) is written where the
/// padding starts, trying each padding length until flate2 decodes it.
fn completed(stream: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if let Some(content) = inflated(stream) {
        return Some((stream.to_vec(), content));
    }
    (0..8).find_map(|pad| {
        let start = (stream.len() * 8).checked_sub(pad)?;
        let mut s = stream.to_vec();
        s.resize(stream.len() + 2, 0);
        for bit in start..s.len() * 8 {
            s[bit / 8] &= !(1 << (bit % 8));
        }
        s[start / 8] |= 1 << (start % 8);
        s[(start + 1) / 8] |= 1 << ((start + 1) % 8);
        // The member's trailer follows the byte the final block ends in.
        s.truncate((start + 10).div_ceil(8));
        inflated(&s).map(|content| (s, content))
    })
}

/// Deflate written by other encoders (`tests/fixtures/deflate/`, see its
/// README): Go's Huffman-only, dynamic and fixed block writers (completed
/// with a final block), a gzip member cut short, flate2's own test files.
/// Each that flate2 decodes splices, with no mask, a mask every 101 bytes
/// and one long masked range, to exactly the masked content; each that
/// flate2 refuses is refused.
#[test]
fn external_streams_splice_exactly_or_are_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deflate");
    let mut files: Vec<PathBuf> = ["go", "flate2"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with("LICENSE") && !name.ends_with(".txt")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 40, "fixtures missing: {}", files.len());
    let (mut spliced, mut refused) = (0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        let bytes = std::fs::read(path).unwrap();
        let mut decoded = Vec::new();
        let (gz, content) = if name.ends_with(".gz") {
            let ok = MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut decoded)
                .is_ok();
            (bytes.clone(), ok.then_some(decoded))
        } else {
            match completed(&bytes) {
                Some((stream, content)) => (wrap(&stream, Some(&content)), Some(content)),
                None => (wrap(&bytes, None), None),
            }
        };
        let len = content.as_ref().map_or(4 * bytes.len(), Vec::len);
        let patterns = [
            vec![],
            (0..len)
                .step_by(101)
                .map(|a| (a, (a + 7).min(len)))
                .collect(),
            vec![(len / 3, len / 3 + len / 4)],
        ];
        for ranges in patterns {
            match run(&gz, &ranges) {
                Ok((out, _)) => {
                    let want = content
                        .as_ref()
                        .unwrap_or_else(|| panic!("{name}: spliced what flate2 refuses"));
                    assert_eq!(gunzip(&out), masked(want, &ranges), "{name}");
                    spliced += 1;
                }
                // Every stream these encoders wrote is one our decoder
                // reads: only what flate2 refuses too may be refused.
                Err(SpliceError::Unsupported(why)) => {
                    assert!(content.is_none(), "{name}: refused ({why})");
                    refused += 1
                }
                Err(SpliceError::Failed(e)) => panic!("{name}: {e}"),
            }
        }
    }
    eprintln!("external streams: {spliced} spliced, {refused} refused");
    assert!(spliced >= 130, "only {spliced} spliced ({refused} refused)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_any_masks_any_level(
        words in proptest::collection::vec(prop_oneof![
            Just(&b"4111111111111111"[..]), Just(&b" ok "[..]), Just(&b"\n"[..]),
            Just(&b"aaaaaaaaaaaa"[..]), Just(&b"5555555555554444"[..]), Just(&b"0123"[..]),
        ], 1..3000),
        cuts in proptest::collection::vec((0.0f64..1.0, 1usize..20), 0..40),
        level in 0u32..=9,
    ) {
        let data: Vec<u8> = words.concat();
        let mut ranges: Vec<(usize, usize)> = cuts
            .iter()
            .map(|&(f, len)| {
                let a = (f * data.len() as f64) as usize;
                (a, (a + len).min(data.len()))
            })
            .collect();
        ranges.sort();
        let gz = gzip(&data, level);
        let (out, _) = run(&gz, &ranges).unwrap();
        prop_assert_eq!(gunzip(&out), masked(&data, &ranges));
    }

    #[test]
    fn damaged_streams_never_panic(
        flips in proptest::collection::vec((0.0f64..1.0, 0u8..8), 1..4),
    ) {
        let (data, pans) = log_lines(500);
        let mut gz = gzip(&data, 6);
        let n = gz.len();
        for (f, bit) in flips {
            let i = 10 + (f * (n - 18) as f64) as usize;
            gz[i] ^= 1 << bit;
        }
        // Either refused, or (a flip that kept the stream valid and its
        // CRC right is all but impossible) a file that decodes.
        if let Ok((out, _)) = run(&gz, &pans) {
            let mut d = Vec::new();
            prop_assert!(MultiGzDecoder::new(&out[..]).read_to_end(&mut d).is_ok());
        }
    }
}
