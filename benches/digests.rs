//! The before/after digests of an in-place scrub: two sha2 hashers one
//! after the other against `Sha256Pair` (both streams in lockstep), on
//! 16 MiB that differ every ~10 KB as a scrubbed log does.
//! `cargo bench --bench digests`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use panscrub::remediate::sha256x2::Sha256Pair;
use sha2::{Digest, Sha256};

fn bench_digests(c: &mut Criterion) {
    let before: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let mut after = before.clone();
    for at in (0..after.len() - 16).step_by(10_000) {
        after[at + 6..at + 12].fill(b'*');
    }
    let mut g = c.benchmark_group("before+after digests");
    g.throughput(Throughput::Bytes(before.len() as u64));
    g.sample_size(10);
    g.bench_function("sha2 twice", |b| {
        b.iter(|| {
            let mut x = Sha256::new();
            let mut y = Sha256::new();
            for (p, q) in before.chunks(1 << 20).zip(after.chunks(1 << 20)) {
                x.update(p);
                y.update(q);
            }
            (x.finalize(), y.finalize())
        })
    });
    g.bench_function("Sha256Pair", |b| {
        b.iter(|| {
            let mut pair = Sha256Pair::new();
            pair.fork();
            for (p, q) in before.chunks(1 << 20).zip(after.chunks(1 << 20)) {
                pair.update(p, q);
            }
            pair.finish()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_digests);
criterion_main!(benches);
