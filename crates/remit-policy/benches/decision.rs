//! One scope-of-practice decision, including building the actor's Cedar entities from the staff profile already
//! loaded from the database (no JSON round trips). Criterion reports the mean; a second pass times 50,000 single
//! decisions and prints p50 and p99.
//!
//! A permit asked again with the same facts is answered from what the pack remembers; the rows "first asked" put
//! every question to Cedar, asking about 2,048 people in turn (more than a slice remembers).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use remit_policy::Question;

mod fixture;
use fixture::{Fixture, deny, fixture, permit, strangers, supervised};

/// The question `q` about each of `people` in turn, from the `i`th.
fn in_turn<'a>(q: &Question<'a>, people: &'a [remit_domain::staff::StaffProfile], i: &mut usize) -> Question<'a> {
    *i = (*i + 1) % people.len();
    let mut q = q.clone();
    q.actor = &people[*i];
    q
}

/// The cases measured: a name, the question, and whether it is asked about each stranger in turn.
fn cases(f: &Fixture) -> [(&'static str, Question<'_>, bool); 4] {
    [
        ("permit vitals.record", permit(f), false),
        ("permit vitals.record, first asked", permit(f), true),
        ("deny medicines.prescribe", deny(f), false),
        ("permit supervised vitals.record", supervised(f), false),
    ]
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let people = strangers(&f, 2_048);
    assert!(f.pack.decide(&permit(&f)).permitted());
    assert!(!f.pack.decide(&deny(&f)).permitted());
    assert!(f.pack.decide(&supervised(&f)).permitted());
    let mut g = c.benchmark_group("decision");
    for (name, q, first) in cases(&f) {
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let q = if first { in_turn(&q, &people, &mut i) } else { q.clone() };
                black_box(f.pack.decide(black_box(&q)))
            })
        });
    }
    g.finish();
}

fn percentiles() {
    let f = fixture();
    let people = strangers(&f, 2_048);
    for (name, q, first) in cases(&f) {
        let mut i = 0;
        for _ in 0..2_000 {
            let q = if first { in_turn(&q, &people, &mut i) } else { q.clone() };
            black_box(f.pack.decide(&q));
        }
        let mut samples: Vec<u128> = (0..50_000)
            .map(|_| {
                let q = if first { in_turn(&q, &people, &mut i) } else { q.clone() };
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
