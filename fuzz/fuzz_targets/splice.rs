//! The deflate splice on any input: the fuzz bytes are compressed by
//! flate2 (level and the splice's thread count from the first byte) and, raw, taken as a gzip file
//! themselves. Every finding the scan reports is masked by the splice;
//! whatever the splice writes must decode (flate2) to bytes of the same
//! length that hold no card number any more and differ from the input
//! only in digits; anything else must be a refusal or an error, never a
//! panic.
#![no_main]

use std::io::{Read, Write};

use libfuzzer_sys::fuzz_target;
use panscrub::detect::Detector;
use panscrub::format::budget::{Budget, Meter};
use panscrub::format::{container, Format};
use panscrub::location::Hit;
use panscrub::mask::MaskPolicy;

fn splice_checked(gz: &[u8], plain: Option<&[u8]>, workers: usize) {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(gz).unwrap();
    let det = Detector::default();
    let policy = MaskPolicy::default();
    let cx = container::Cx {
        det: &det,
        policy: &policy,
        scrub_binary: false,
        stream_name: None,
        max_held: 64 << 20,
        not_inspected: None,
        workers,
    };
    let budget = Budget { max_expanded: 64 << 20, max_ratio: 1000, max_depth: 3, max_held: 64 << 20 };
    let mut found = Vec::new();
    let path = std::path::Path::new("fuzz.gz");
    if container::scan(&cx, &Meter::new(budget), &f, Format::Gzip, path, &mut |m| {
        found.push(m);
        Ok(())
    })
    .is_err()
    {
        return;
    }
    let all = |_: &Hit| true;
    let mut feed = container::held(&found, &all);
    let Ok((out, _)) = container::splice_gzip(&cx, &Meter::new(budget), &f, &mut feed, Vec::new()) else {
        return;
    };
    let mut decoded = Vec::new();
    flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut decoded).expect("spliced output decodes");
    let mut original = Vec::new();
    flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut original).unwrap();
    if let Some(plain) = plain {
        assert_eq!(original, plain);
    }
    assert_eq!(decoded.len(), original.len());
    for (a, b) in original.iter().zip(&decoded) {
        assert!(a == b || a.is_ascii_digit(), "a non-digit changed");
    }
    let mut left = 0;
    let mut f2 = tempfile::tempfile().unwrap();
    f2.write_all(&out).unwrap();
    container::scan(&cx, &Meter::new(budget), &f2, Format::Gzip, path, &mut |_| {
        left += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(left, 0, "a finding survived the splice");
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let level = (data[0] % 10) as u32;
    // One splice thread (the window lent to the writer) or two.
    let workers = 1 + (data[0] / 10 % 2) as usize;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(&data[1..]).unwrap();
    splice_checked(&e.finish().unwrap(), Some(&data[1..]), workers);
    splice_checked(data, None, workers);
});
