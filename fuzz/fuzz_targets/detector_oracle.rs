//! The detector must agree with the naive oracle on any input, whole and
//! streamed in small chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panscrub::detect::{oracle, Detector, Finding, StreamScanner};

fuzz_target!(|data: &[u8]| {
    let det = Detector::default();
    let fast: Vec<(usize, usize)> = det
        .find_iter(data)
        .iter()
        .map(|f| (f.offset as usize, f.end() as usize))
        .collect();
    assert_eq!(fast, oracle::find_all(data));
    let chunk = (data.first().copied().unwrap_or(7) as usize % 31) + 1;
    let mut streamed = Vec::new();
    let mut s = StreamScanner::with_block(&det, 64);
    let mut sink = |f: Finding| streamed.push((f.offset as usize, f.end() as usize));
    for c in data.chunks(chunk) {
        s.feed(c, &mut sink);
    }
    s.finish(&mut sink);
    assert_eq!(streamed, fast);
});
