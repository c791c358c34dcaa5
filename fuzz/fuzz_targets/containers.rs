//! Container adapters (gzip, zstd, zip) must never panic or hang on any
//! input: errors only.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use panscrub::detect::Detector;
use panscrub::format::budget::{Budget, Meter};
use panscrub::format::{container, sniff};
use panscrub::mask::MaskPolicy;

fuzz_target!(|data: &[u8]| {
    let fmt = sniff(data);
    if !fmt.is_container() {
        return;
    }
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(data).unwrap();
    let det = Detector::default();
    let policy = MaskPolicy::default();
    let cx = container::Cx {
        det: &det,
        policy: &policy,
        scrub_binary: false,
        stream_name: None,
        max_held: 64 << 20,
        not_inspected: None,
        workers: 1,
    };
    let budget = Budget { max_expanded: 64 << 20, max_ratio: 1000, max_depth: 3, max_held: 64 << 20 };
    let _ = container::scan(&cx, &Meter::new(budget), &f, fmt, std::path::Path::new("fuzz.bin"), &mut |_| Ok(()));
});
