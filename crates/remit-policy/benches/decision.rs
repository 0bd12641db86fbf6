//! One scope-of-practice decision, including building the actor's Cedar entities from the staff profile already
//! loaded from the database (no JSON round trips). Criterion reports the mean; a second pass times 50,000 single
//! decisions and prints p50 and p99.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};

mod fixture;
use fixture::{deny, fixture, permit, supervised};

fn bench(c: &mut Criterion) {
    let f = fixture();
    assert!(f.pack.decide(&permit(&f)).permitted());
    assert!(!f.pack.decide(&deny(&f)).permitted());
    assert!(f.pack.decide(&supervised(&f)).permitted());
    let mut g = c.benchmark_group("decision");
    g.bench_function("permit vitals.record", |b| {
        b.iter(|| black_box(f.pack.decide(black_box(&permit(&f)))))
    });
    g.bench_function("deny medicines.prescribe", |b| {
        b.iter(|| black_box(f.pack.decide(black_box(&deny(&f)))))
    });
    g.bench_function("permit supervised vitals.record", |b| {
        b.iter(|| black_box(f.pack.decide(black_box(&supervised(&f)))))
    });
    g.finish();
}

fn percentiles() {
    let f = fixture();
    for (name, q) in [
        ("permit vitals.record", permit(&f)),
        ("deny medicines.prescribe", deny(&f)),
        ("permit supervised vitals.record", supervised(&f)),
    ] {
        for _ in 0..2_000 {
            black_box(f.pack.decide(&q));
        }
        let mut samples: Vec<u128> = (0..50_000)
            .map(|_| {
                let t = Instant::now();
                black_box(f.pack.decide(black_box(&q)));
                t.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)] as f64 / 1000.0;
        println!(
            "decision/{name}: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (50,000 decisions)",
            at(0.50),
            at(0.99),
            at(1.0)
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    percentiles();
}
