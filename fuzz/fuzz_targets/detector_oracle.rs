//! The PAN rules must agree with the naive oracle on any input, and the
//! full detector (verification codes, track data) must give the same
//! findings whole, streamed in small chunks, and cut in two pieces scanned
//! apart and merged as the parallel file scanner does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panscrub::detect::{
    oracle, piece_needs_rescan, Detector, DetectorBuilder, Finding, StreamScanner,
    LEFT_CONTEXT, RIGHT_CONTEXT,
};

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
    let cut = data.get(1).map_or(0, |&b| b as usize * data.len() / 256);
    assert_eq!(in_two_pieces(&det, data, cut), whole);
});

/// Pieces `[0, cut)` and `[cut, len)`, each with its context, merged: starts
/// covered by the first piece's last region dropped, the second piece scanned
/// again when it must be.
fn in_two_pieces(det: &Detector, data: &[u8], cut: usize) -> Vec<(usize, usize)> {
    let n = data.len();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (start, end) in [(0, cut), (cut, n)] {
        let ctx = start.saturating_sub(LEFT_CONTEXT);
        let stop = (end + RIGHT_CONTEXT).min(n);
        let scan = |after: u64| {
            let mut found = Vec::new();
            let mut s = StreamScanner::for_piece(det, 64, ctx as u64, start as u64, end as u64)
                .after_region(after);
            s.read_from(&mut &data[ctx..stop], &mut |f| found.push(f))
                .unwrap();
            found
        };
        let last_end = out.last().map_or(0, |l| l.1 as u64);
        let mut found = scan(0);
        if piece_needs_rescan(&found, last_end) {
            found = scan(last_end);
        }
        out.extend(
            found
                .iter()
                .filter(|f| f.offset >= last_end)
                .map(|f| (f.offset as usize, f.end() as usize)),
        );
    }
    out
}
