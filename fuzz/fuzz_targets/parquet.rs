//! The Parquet adapter must never hang on any input, and whatever it
//! accepts it must be able to rebuild and verify: scan, then (when the scan
//! succeeds) rebuild into a temp file and verify it. Errors are fine.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use panscrub::detect::Detector;
use panscrub::format::budget::{Budget, Meter};
use panscrub::format::parquet;
use panscrub::mask::MaskPolicy;

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(data).unwrap();
    let det = Detector::default();
    let policy = MaskPolicy::default();
    let run_policy = panscrub::policy::Policy::default();
    let allow = run_policy.for_input(std::path::Path::new("fuzz.parquet"));
    let cx = parquet::Cx { det: &det, policy: &policy, allow };
    let budget = Budget { max_expanded: 64 << 20, max_ratio: 1000, max_depth: 3, max_held: 64 << 20 };
    let meter = || Meter::new(budget);
    let Ok(found) = parquet::scan(&cx, &meter(), &f) else {
        return;
    };
    if found.is_empty() {
        return;
    }
    let mut out = tempfile::tempfile().unwrap();
    if parquet::rebuild(&cx, &meter(), &f, &mut out).is_ok() {
        parquet::verify(&cx, &meter(), &f, &out).expect("a rebuilt file verifies");
    }
});
