//! The splice against zlib-rs: gzip written by flate2 at every level (and
//! with stored blocks, several members, names), spliced with masks at
//! chosen or random places, must decode with flate2 to exactly the masked
//! bytes, and anything our decoder refuses must come back as
//! `Unsupported`, never as a wrong file or a panic.

use std::io::{Read, Write};

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
        1 + (gz.len() % 2),
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
