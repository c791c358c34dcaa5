//! The CSV and JSON locators and the bare-number test must never panic on
//! any input, at any offsets (they run on every file with findings).
#![no_main]

use libfuzzer_sys::fuzz_target;
use panscrub::detect::Detector;
use panscrub::format::csv::CsvLocator;
use panscrub::format::json::JsonLocator;
use panscrub::format::syntax::{is_bare_number, Syntax};

fuzz_target!(|data: &[u8]| {
    let det = Detector::default();
    let findings = det.find_iter(data);
    let offsets: Vec<u64> = findings.iter().map(|f| f.offset).collect();
    let mut csv = CsvLocator::new(data, b',');
    let _ = csv.locate_all(&offsets);
    let mut csv = CsvLocator::new(data, b'\t');
    for &o in &offsets {
        let _ = csv.locate(o);
    }
    let mut json = JsonLocator::new(data);
    for &o in &offsets {
        let _ = json.locate(o);
    }
    for f in &findings {
        let _ = is_bare_number(f, Syntax::Json);
        let _ = is_bare_number(f, Syntax::Sql);
    }
});
