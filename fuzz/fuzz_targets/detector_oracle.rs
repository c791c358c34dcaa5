//! The PAN rules must agree with the naive oracle on any input, and the
//! full detector (verification codes, track data) must give the same
//! findings whole and streamed in small chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panscrub::detect::{oracle, Detector, DetectorBuilder, Finding, StreamScanner};

fn spans(det: &Detector, data: &[u8]) -> Vec<(usize, usize)> {
    det.find_iter(data)
        .iter()
        .map(|f| (f.offset as usize, f.end() as usize))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let pans = DetectorBuilder::new().pan_only(true).build();
    assert_eq!(spans(&pans, data), oracle::find_all(data));
    let det = Detector::default();
    let whole = spans(&det, data);
    let chunk = (data.first().copied().unwrap_or(7) as usize % 31) + 1;
    let mut streamed = Vec::new();
    let mut s = StreamScanner::with_block(&det, 64);
    let mut sink = |f: Finding| streamed.push((f.offset as usize, f.end() as usize));
    for c in data.chunks(chunk) {
        s.feed(c, &mut sink);
    }
    s.finish(&mut sink);
    assert_eq!(streamed, whole);
});
